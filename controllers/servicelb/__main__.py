"""``python -m controllers.servicelb``."""

from controllers.servicelb.app import main

raise SystemExit(main())
