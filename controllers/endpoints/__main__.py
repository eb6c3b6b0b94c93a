"""``python -m controllers.endpoints``."""

from controllers.endpoints.app import main

raise SystemExit(main())
