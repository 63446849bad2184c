"""Moved to ``hydra_on_aws.local.login_app``; `python -m hydra_stack.login_app` keeps working."""

import sys

from hydra_on_aws.local.login_app import main

if __name__ == "__main__":
    sys.exit(main())
