"""``python -m kubemu``: the same as the ``kubemu`` console script."""

import sys

from kubemu.cli import main

sys.exit(main())
