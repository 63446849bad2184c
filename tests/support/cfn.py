"""Helpers to read synthesized templates in assertions."""

from __future__ import annotations

from typing import Any


def resources(template: dict, type_: str) -> dict[str, dict]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == type_}


def only(template: dict, type_: str) -> tuple[str, dict]:
    found = resources(template, type_)
    assert len(found) == 1, f"expected exactly one {type_}, found {sorted(found)}"
    return next(iter(found.items()))


def props(resource: dict) -> dict[str, Any]:
    return resource.get("Properties", {})


def by_path(template: dict, path_suffix: str) -> tuple[str, dict]:
    """The resource whose construct path ends with ``path_suffix``."""
    hits = [(k, v) for k, v in template["Resources"].items()
            if (v.get("Metadata") or {}).get("aws:cdk:path", "").endswith(path_suffix)]
    assert len(hits) == 1, f"expected one resource at */{path_suffix}, found {[h[0] for h in hits]}"
    return hits[0]


def env_of(container: dict) -> dict[str, Any]:
    return {e["Name"]: e["Value"] for e in container.get("Environment", [])}
