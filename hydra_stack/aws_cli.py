"""One-line explanations for the command-line tools that talk to AWS: never a traceback."""

from __future__ import annotations

import sys
from typing import Callable

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError


def run(action: Callable[[], int], *, prefix: str, expected: tuple[type[Exception], ...] = ()) -> int:
    """Run ``action``; expected failures and AWS errors become ``<prefix>: <reason>`` and exit code 2."""
    try:
        return action()
    except expected as error:
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
