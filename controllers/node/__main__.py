"""``python -m controllers.node``."""

from controllers.node.app import main

raise SystemExit(main())
