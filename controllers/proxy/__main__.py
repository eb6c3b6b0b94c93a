"""``python -m controllers.proxy``."""

from controllers.proxy.app import main

raise SystemExit(main())
