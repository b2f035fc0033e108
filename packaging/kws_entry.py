"""The script PyInstaller freezes: the same `main()` as the `kws-app` console script.

A separate file (not `kws_app/__main__.py`) so the frozen program's name and entry stay under
packaging's control and `kws_app` is analysed as an ordinary package.
"""

import sys

from kws_app.cli import main

if __name__ == "__main__":
    sys.exit(main())
