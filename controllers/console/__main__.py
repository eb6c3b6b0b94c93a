"""``python -m controllers.console``."""

from controllers.console.app import main

raise SystemExit(main())
