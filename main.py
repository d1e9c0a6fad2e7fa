"""Entry point for `python main.py` and the PyInstaller executable."""

import sys

from flamenco_gui.cli import main

if __name__ == "__main__":
    sys.exit(main())
