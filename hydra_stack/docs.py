"""Moved to ``devtools.docs``; `python -m hydra_stack.docs` keeps working."""

import sys

from devtools.docs import main

if __name__ == "__main__":
    sys.exit(main())
