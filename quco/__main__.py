"""``python -m quco`` is the ``quco`` command."""

import sys

from quco.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
