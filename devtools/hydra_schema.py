"""Hydra's own configuration schema, for checking the environment the stacks give Hydra.

The schema is read from the deployed version's source archive (the one `make hydra` verifies and
builds: ``.schema/config.schema.json`` and the ory/x schemas it refers to, ``oryx/``), not copied
into this repository. An environment is turned into the configuration Hydra would read, as Hydra
reads it: a variable names a path of the schema (``TTL_ACCESS_TOKEN`` is ``ttl.access_token``,
underscores inside names included), integers and booleans are parsed, lists are JSON or CSV.
A variable that names no path is an error here: Hydra would ignore it silently.
"""

from __future__ import annotations

import io
import json
import tarfile
from functools import lru_cache
from typing import Any

from jsonschema import Draft7Validator
from referencing import Registry, Resource

from devtools.build_hydra import source_archive, verified_tar
from hydra_on_aws.config.hydra import SOURCE_PREFIX

ROOT_SCHEMA = f"{SOURCE_PREFIX}/.schema/config.schema.json"
# The ids the root schema refers to, and where the source tree keeps them.
REFERENCED = {
    "ory://serve-config": f"{SOURCE_PREFIX}/oryx/configx/serve.schema.json",
    "ory://cors-config": f"{SOURCE_PREFIX}/oryx/configx/cors.schema.json",
    "ory://tls-config": f"{SOURCE_PREFIX}/oryx/configx/tls.schema.json",
}
OTEL = f"{SOURCE_PREFIX}/oryx/otelx/config.schema.json"
# Stand-ins for values only known once deployed (tokens in the template), by the form the path wants.
PLACEHOLDERS = {"uri": "https://placeholder.example.com/stage/", "string": "placeholder"}


@lru_cache(maxsize=1)
def _schemas() -> tuple[dict, Registry]:
    data = verified_tar(source_archive())
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        def load(name: str) -> dict:
            return json.load(tar.extractfile(name))
        root = load(ROOT_SCHEMA)
        resources = [(uri, load(path)) for uri, path in REFERENCED.items()]
        otel = load(OTEL)
    refs = {r for r in json.dumps(root).split('"$ref": "')[1:]}
    otel_id = next(r.split('"')[0] for r in refs if "otelx" in r)
    registry = Registry().with_resources(
        [(uri, Resource.from_contents(body, default_specification=_DRAFT7)) for uri, body in resources]
        + [(otel_id, Resource.from_contents(otel, default_specification=_DRAFT7)),
           (root["$id"], Resource.from_contents(root, default_specification=_DRAFT7))])
    return root, registry


def _draft7():
    from referencing.jsonschema import DRAFT7
    return DRAFT7


_DRAFT7 = _draft7()


def _resolve(node: dict, resolver) -> tuple[dict, Any]:
    """``node`` with $ref and allOf folded in (enough to find properties and types), and the resolver of
    the document it now stands in."""
    merged = dict(node)
    while "$ref" in merged:
        found = resolver.lookup(merged.pop("$ref"))
        resolver = found.resolver
        merged = {**found.contents, **merged}
    for part in merged.pop("allOf", []):
        resolved, _ = _resolve(part, resolver)
        merged["properties"] = {**resolved.get("properties", {}), **merged.get("properties", {})}
        for key in ("type", "format", "enum", "pattern"):
            if key in resolved and key not in merged:
                merged[key] = resolved[key]
    return merged, resolver


def paths() -> dict[str, tuple[tuple[str, ...], dict]]:
    """Every leaf the schema defines: environment variable name -> (path, its schema)."""
    root, registry = _schemas()
    found: dict[str, tuple[tuple[str, ...], dict]] = {}

    def walk(node: dict, resolver, path: tuple[str, ...]) -> None:
        node, resolver = _resolve(node, resolver)
        properties = node.get("properties")
        if properties and node.get("type", "object") == "object":
            for name, child in properties.items():
                walk(child, resolver, path + (name,))
        elif path:
            found["_".join(path).upper().replace("-", "_")] = (path, node)
    walk(root, registry.resolver(root["$id"]), ())
    return found


def _value(raw: str, schema: dict) -> Any:
    kind = schema.get("type")
    kinds = kind if isinstance(kind, list) else [kind]
    if "integer" in kinds or "number" in kinds:
        try:
            return int(raw)
        except ValueError:
            return raw  # the schema says what is wrong
    if "boolean" in kinds:
        return {"true": True, "false": False}.get(raw, raw)  # Hydra reads anything else as false
    if "array" in kinds:
        try:
            parsed = json.loads(raw)
            if isinstance(parsed, list):
                return parsed
        except ValueError:
            pass
        return raw.split(",")
    return raw


def problems(environment: dict[str, Any]) -> list[str]:
    """What Hydra's schema finds wrong with ``environment`` (values that are not text are deployment
    tokens, replaced by a stand-in of the form the path wants)."""
    root, registry = _schemas()
    known = paths()
    config: dict = {}
    found = []
    for name, raw in sorted(environment.items()):
        if name not in known:
            found.append(f"{name}: Hydra has no such setting (it would ignore it)")
            continue
        path, schema = known[name]
        if not isinstance(raw, str):
            raw = PLACEHOLDERS["uri"] if schema.get("format") == "uri" else PLACEHOLDERS["string"]
        target = config
        for part in path[:-1]:
            target = target.setdefault(part, {})
        target[path[-1]] = _value(raw, schema)
    validator = Draft7Validator(root, registry=registry, format_checker=Draft7Validator.FORMAT_CHECKER)
    for error in sorted(validator.iter_errors(config), key=lambda e: list(e.absolute_path)):
        where = "_".join(str(p) for p in error.absolute_path).upper() or "(config)"
        found.append(f"{where}: {error.message}")
    return found
