"""``python -m napari_segsuite.cli``: the ``napari-segsuite`` command."""

import sys

from . import main

sys.exit(main())
