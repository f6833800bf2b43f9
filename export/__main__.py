"""``python -m export FORMAT MODEL OUTDIR``: see :mod:`export.cli`."""

import sys

from export.cli import main

sys.exit(main())
