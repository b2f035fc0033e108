import sys

from kws_app.cli import main

sys.exit(main())
