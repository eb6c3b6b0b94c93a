"""``python -m controllers.dns``."""

from controllers.dns.app import main

raise SystemExit(main())
