"""``python -m koppel.sandbox.somtoday --help``"""

import sys

from .server import main

sys.exit(main())
