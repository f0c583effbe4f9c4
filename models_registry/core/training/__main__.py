"""`python -m models_registry.core.training` → the training CLI (see cli.py)."""

import sys

from .cli import main

sys.exit(main())
