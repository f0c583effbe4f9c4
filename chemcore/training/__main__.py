"""`python -m chemcore.training` → the training CLI (see cli.py)."""

import sys

from .cli import main

sys.exit(main())
