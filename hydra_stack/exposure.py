"""Moved to ``hydra_on_aws.boundary.exposure``; `python -m hydra_stack.exposure` keeps working."""

import sys

from hydra_on_aws.boundary.exposure import main

if __name__ == "__main__":
    sys.exit(main())
