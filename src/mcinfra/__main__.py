"""``python -m mcinfra``: the same command line as the ``mcinfra`` executable."""

import sys

from mcinfra.cli import command

sys.exit(command())
