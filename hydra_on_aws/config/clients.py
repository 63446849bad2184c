"""The OAuth2 clients an environment declares: ``clients/<env>.json``, read and validated."""

from __future__ import annotations

import json
from pathlib import Path

from hydra_functions.clients import ClientError, validate_clients

CLIENTS_DIR = Path(__file__).resolve().parents[2] / "clients"


def clients_file(env: str) -> Path:
    return CLIENTS_DIR / f"{env}.json"


def load_clients(env: str) -> list[dict]:
    """The environment's declared clients, validated; an absent file declares none."""
    path = clients_file(env)
    if not path.exists():
        return []
    try:
        document = json.loads(path.read_text())
    except ValueError as error:
        raise ClientError(f"clients/{env}.json", "-", "(file)", str(error), "valid JSON") from None
    return validate_clients(document, source=f"clients/{env}.json")
