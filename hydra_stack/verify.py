"""Moved to ``hydra_on_aws.boundary.verify``; `python -m hydra_stack.verify` keeps working."""

import sys

from hydra_on_aws.boundary.verify import main

if __name__ == "__main__":
    sys.exit(main())
