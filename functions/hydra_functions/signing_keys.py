"""Make sure Hydra's signing key sets exist, once, before traffic races to create them.

On a fresh database Hydra creates a key set on first use, and its lock only
holds inside one process: several new tasks can each create one. This custom
resource runs after the service is up, inside the VPC with admin access, and
creates a set only when the admin API says it does not exist (404).
The response to a create holds the private key: it is never logged or returned.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable

from .clients import AdminApi, AdminError

LOG = logging.getLogger()
LOG.setLevel(logging.INFO)
RETRYABLE = {502, 503, 504}
# Hydra's two signing key sets: ID tokens, and (STRATEGIES_ACCESS_TOKEN=jwt) access tokens.
KEY_SETS = ("hydra.openid.id-token", "hydra.jwt.access-token")


class KeySetError(RuntimeError):
    pass


REQUEST_TIMEOUT = 5.0


def ensure_key_sets(admin_url: str, key_sets: list[str], algorithm: str = "RS256", *, attempts: int = 10,
                    delay: float = 5.0, budget: float = 200.0, admin: AdminApi | None = None,
                    clock: Callable[[], float] = time.monotonic) -> dict[str, str]:
    """GET each set; POST it only on 404. Returns {set: 'exists' | 'created'}.

    Retries while the admin API comes up, but never starts an attempt that
    could end after ``budget`` seconds in all: well inside the function's
    five-minute timeout, so a dead admin API fails the deploy with this
    error rather than a Lambda timeout.
    """
    admin = admin or AdminApi(admin_url, timeout=REQUEST_TIMEOUT)
    deadline = clock() + budget
    result: dict[str, str] = {}
    for key_set in key_sets:
        path = f"/admin/keys/{key_set}"
        for attempt in range(1, attempts + 1):
            try:
                status = admin.request("GET", path)[0]
                if status == 200:
                    result[key_set] = "exists"
                elif status == 404:
                    # The answer holds the new private key: only its status is kept.
                    created = admin.request("POST", path, {"alg": algorithm, "use": "sig"})[0]
                    if created not in (200, 201):
                        raise KeySetError(f"creating {key_set} answered HTTP {created}")
                    result[key_set] = "created"
                elif status in RETRYABLE:
                    raise ConnectionError(f"HTTP {status}")
                else:
                    raise KeySetError(f"GET {key_set} answered HTTP {status}")
                break
            except (AdminError, ConnectionError) as error:  # the admin API is still coming up
                if attempt == attempts or clock() + delay + REQUEST_TIMEOUT > deadline:
                    raise KeySetError(f"the admin API at {admin_url} did not answer for {key_set}: {error}") from None
                LOG.info("admin API not ready (%s), retrying", error)
                time.sleep(delay)
        LOG.info("key set %s: %s", key_set, result[key_set])
    return result


def on_event(event: dict, _context: Any = None) -> dict:
    props = event["ResourceProperties"]
    physical_id = event.get("PhysicalResourceId") or "hydra-signing-keys"
    if event["RequestType"] == "Delete":
        return {"PhysicalResourceId": physical_id}  # keys live in the database, with the tokens they signed
    result = ensure_key_sets(props["AdminUrl"], props["KeySets"], props.get("Algorithm", "RS256"))
    return {"PhysicalResourceId": physical_id,
            "Data": {"Created": ",".join(k for k, v in result.items() if v == "created")}}
