"""``python -m deeplabelprop`` (and ``torchrun -m deeplabelprop``): the command line."""

import sys

from .cli import main

sys.exit(main())
