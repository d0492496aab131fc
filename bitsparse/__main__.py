"""``python -m bitsparse``: the same as the ``bitsparse`` command (:func:`bitsparse.cli.main`)."""

import sys

from bitsparse.cli import main

sys.exit(main())
