"""Moved to ``hydra_on_aws.tokens.resource_server``; `python -m hydra_stack.resource_server` keeps working."""

import sys

from hydra_on_aws.tokens.resource_server import main

if __name__ == "__main__":
    sys.exit(main())
