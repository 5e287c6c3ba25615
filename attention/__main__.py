"""`python -m attention export ...` and `python -m attention models`; see attention/cli.py or --help."""

import sys

from .cli import main

sys.exit(main())
