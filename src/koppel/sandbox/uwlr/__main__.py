"""``python -m koppel.sandbox.uwlr --help``"""

import sys

from .server import main

sys.exit(main())
