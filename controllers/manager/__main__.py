"""``python -m controllers.manager``."""

import sys

from controllers.manager.app import main

sys.exit(main())
