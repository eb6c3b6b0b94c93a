"""``python -m controllers.scheduler``."""

from controllers.scheduler.app import main

raise SystemExit(main())
