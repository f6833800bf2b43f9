"""``python -m tga_keras.cli.main``: the ``tga`` command."""

import sys

from tga_keras.cli.main import main

sys.exit(main())
