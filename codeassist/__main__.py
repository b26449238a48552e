"""``python -m codeassist``: the same command line as the ``codeassist`` script."""

import sys

from codeassist.cli import main

sys.exit(main())
