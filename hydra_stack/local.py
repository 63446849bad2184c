"""Moved to ``hydra_on_aws.local.stack``; `python -m hydra_stack.local` keeps working."""

import sys

from hydra_on_aws.local.stack import main

if __name__ == "__main__":
    sys.exit(main())
