"""Launch ConvNet Designer: `python main.py [FILE]`."""

import sys

from designer.app import main

if __name__ == "__main__":
    sys.exit(main())
