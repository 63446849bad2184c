"""Moved to ``hydra_on_aws.ops.clients``; `python -m hydra_stack.clients` keeps working."""

import sys

from hydra_on_aws.ops.clients import main

if __name__ == "__main__":
    sys.exit(main())
