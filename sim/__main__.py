"""``python -m sim`` runs the ``fbsim`` command line."""

import sys

from sim.cli import main

sys.exit(main())
