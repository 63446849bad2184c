"""Moved to ``hydra_on_aws.ops.system_secret``; `python -m hydra_stack.system_secret` keeps working."""

import sys

from hydra_on_aws.ops.system_secret import main

if __name__ == "__main__":
    sys.exit(main())
