"""``python -m sim`` runs the ``fbsim`` command line."""

from sim.cli import entry

entry()
