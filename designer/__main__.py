"""`python -m designer ...`: the command line (designer/cli/, one module per command)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
