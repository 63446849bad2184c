"""Moved to ``hydra_on_aws.ops.envrc``; `python -m hydra_stack.envrc` keeps working."""

import sys

from hydra_on_aws.ops.envrc import main

if __name__ == "__main__":
    sys.exit(main())
