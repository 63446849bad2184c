"""Moved to ``devtools.bench``; `python -m hydra_stack.bench` keeps working."""

import sys

from devtools.bench import main

if __name__ == "__main__":
    sys.exit(main())
