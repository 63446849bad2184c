"""One-line explanations for the command-line tools that talk to AWS: never a traceback."""

from __future__ import annotations

import sys
from typing import Any, Callable

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError


class StackMissing(Exception):
    """A stack the tool reads is not deployed in this region."""


def stack_outputs(session: Any, *stack_names: str) -> dict[str, str]:
    """The outputs of ``stack_names``, merged; :class:`StackMissing` names the first one not deployed."""
    cfn = session.client("cloudformation")
    found: dict[str, str] = {}
    for name in stack_names:
        try:
            [stack] = cfn.describe_stacks(StackName=name)["Stacks"]
        except ClientError as error:
            if "does not exist" in str(error):
                raise StackMissing(f"stack {name} does not exist in {session.region_name}: deploy it first, or "
                                   "pass --region") from None
            raise
        found.update({o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])})
    return found


def run(action: Callable[[], int], *, prefix: str, expected: tuple[type[Exception], ...] = ()) -> int:
    """Run ``action``; expected failures and AWS errors become ``<prefix>: <reason>`` and exit code 2."""
    try:
        return action()
    except (*expected, StackMissing) as error:
        reason = str(error)
    except NoCredentialsError:
        reason = "no AWS credentials found (configure a profile or AWS_* variables, or pass --profile)"
    except NoRegionError:
        reason = "no AWS region: pass --region or set AWS_REGION"
    except ClientError as error:
        details = error.response.get("Error", {})
        reason = f"AWS refused {error.operation_name} ({details.get('Code', '')}): {details.get('Message', '')}"
    except BotoCoreError as error:
        reason = str(error)
    print(f"{prefix}: {reason}", file=sys.stderr)
    return 2
