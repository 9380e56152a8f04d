"""``python -m koppel.sandbox.itslearning --help``"""

import sys

from .server import main

sys.exit(main())
