"""`python -m hydra_on_aws.ops.clients apply --env dev`: make Hydra's clients match clients/<env>.json.

    python -m hydra_on_aws.ops.clients validate --env dev
    python -m hydra_on_aws.ops.clients apply --env dev [--admin-url URL] [--dry-run] [--prune]

The admin API defaults to $HYDRA_ADMIN_API, else http://localhost:4445 (the
bastion's port forward). Clients missing from the file are kept unless
--prune. A confidential client's secret is printed once, when it is created.
The deployed stack applies the same file on every deploy (see the
Operations stack) and keeps those secrets in Secrets Manager instead.
"""

from __future__ import annotations

import argparse
import os
import sys

from hydra_functions.clients import AdminApi, AdminError, ClientError, apply
from hydra_on_aws.config.clients import load_clients


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hydra_on_aws.ops.clients", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["validate", "apply"])
    parser.add_argument("--env", required=True)
    parser.add_argument("--admin-url", default=os.environ.get("HYDRA_ADMIN_API", "http://localhost:4445"))
    parser.add_argument("--dry-run", action="store_true", help="show the changes, change nothing")
    parser.add_argument("--prune", action="store_true", help="delete clients that the file does not declare")
    args = parser.parse_args(argv)
    try:
        desired = load_clients(args.env)
        if args.command == "validate":
            print(f"clients/{args.env}.json: {len(desired)} client(s), valid")
            return 0

        def show_secret(client_id: str, secret: str) -> None:
            print(f"client_secret for {client_id} (shown once; store it now): {secret}")
        result = apply(AdminApi(args.admin_url), desired, prune=args.prune, dry_run=args.dry_run,
                       on_secret=show_secret)
    except ClientError as error:
        print(f"invalid: {error}", file=sys.stderr)
        return 2
    except AdminError as error:
        print(f"failed: {error}", file=sys.stderr)
        return 1
    for line in result.lines():
        # A dry run says what it would do: "would create x" rather than "+ create x".
        print("would " + line[2:] if args.dry_run and line.startswith(("+ ", "~ ", "- ")) else line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
