"""Make sure Hydra's signing key sets exist, once, before traffic races to create them.

On a fresh database Hydra creates a key set on first use, and its lock only
holds inside one process: several new tasks can each create one. This custom
resource runs after the service is up, inside the VPC with admin access, and
creates a set only when the admin API says it does not exist (404).
The response to a create holds the private key: it is never logged or returned.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from typing import Any, Callable

LOG = logging.getLogger()
LOG.setLevel(logging.INFO)
RETRYABLE = {502, 503, 504}


class KeySetError(RuntimeError):
    pass


REQUEST_TIMEOUT = 5.0


def _request(method: str, url: str, body: dict | None = None, timeout: float = REQUEST_TIMEOUT) -> int:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json", "Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()  # a created set's private key: read and dropped
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def ensure_key_sets(admin_url: str, key_sets: list[str], algorithm: str = "RS256", *, attempts: int = 10,
                    delay: float = 5.0, budget: float = 200.0, request: Callable[..., int] = _request,
                    clock: Callable[[], float] = time.monotonic) -> dict[str, str]:
    """GET each set; POST it only on 404. Returns {set: 'exists' | 'created'}.

    Retries while the admin API comes up, but never starts an attempt that
    could end after ``budget`` seconds in all: well inside the function's
    five-minute timeout, so a dead admin API fails the deploy with this
    error rather than a Lambda timeout.
    """
    base = admin_url.rstrip("/")
    deadline = clock() + budget
    result: dict[str, str] = {}
    for key_set in key_sets:
        url = f"{base}/admin/keys/{key_set}"
        for attempt in range(1, attempts + 1):
            try:
                status = request("GET", url)
                if status == 200:
                    result[key_set] = "exists"
                elif status == 404:
                    created = request("POST", url, {"alg": algorithm, "use": "sig"})
                    if created not in (200, 201):
                        raise KeySetError(f"creating {key_set} answered HTTP {created}")
                    result[key_set] = "created"
                elif status in RETRYABLE:
                    raise ConnectionError(f"HTTP {status}")
                else:
                    raise KeySetError(f"GET {key_set} answered HTTP {status}")
                break
            except (ConnectionError, OSError) as error:  # the admin API is still coming up
                if attempt == attempts or clock() + delay + REQUEST_TIMEOUT > deadline:
                    raise KeySetError(f"the admin API at {base} did not answer for {key_set}: {error}") from None
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
