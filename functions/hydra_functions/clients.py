"""Declarative OAuth2 clients: validate a client file, then make Hydra's admin API match it.

Shared by the command line (``python -m hydra_on_aws.ops.clients``) and the custom
resource that applies the environment's clients on every deploy. Standard
library only (plus boto3 in AWS, for confidential clients' secrets).
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Callable

LOG = logging.getLogger()
LOG.setLevel(logging.INFO)

LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")
PUBLIC = "none"
AUTH_METHODS = (PUBLIC, "client_secret_basic", "client_secret_post")
GRANTS = ("authorization_code", "refresh_token", "client_credentials")

# Every field a client file may set, with the value Hydra stores when it is left out.
FIELDS: dict[str, Any] = {
    "client_id": None,
    "client_name": "",
    "grant_types": [],
    "response_types": [],
    "scope": "",
    "audience": [],
    "redirect_uris": [],
    "post_logout_redirect_uris": [],
    "allowed_cors_origins": [],
    "token_endpoint_auth_method": "client_secret_basic",
    "skip_consent": False,
    "metadata": {},
}
UNORDERED = {"grant_types", "response_types", "audience", "redirect_uris", "post_logout_redirect_uris",
             "allowed_cors_origins"}


class ClientError(ValueError):
    """A client declaration is wrong: names the client, the field, what it got and what it wants."""

    def __init__(self, source: str, client: str, field_name: str, value: Any, expected: str) -> None:
        self.client, self.field = client, field_name
        super().__init__(f"{source}: client {client!r}, field {field_name!r}: got {value!r}; expected {expected}")


def _url_problem(url: Any) -> str | None:
    if not isinstance(url, str):
        return "a URL string"
    if "*" in url:
        return "an exact URI (no wildcards: Hydra compares redirect URIs exactly)"
    parts = urllib.parse.urlsplit(url)
    if parts.fragment or url.endswith("#"):
        return "a URI without a fragment"
    if not parts.hostname:
        return "an absolute URI with a host"
    if parts.scheme == "https":
        return None
    if parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS:
        return None
    return "an https:// URI (http:// only for loopback: localhost, 127.0.0.1, [::1])"


def validate_client(raw: Any, source: str = "clients") -> dict[str, Any]:
    """One declared client, checked and completed with Hydra's defaults."""
    if not isinstance(raw, dict):
        raise ClientError(source, "?", "(client)", raw, "an object")
    client_id = raw.get("client_id")
    name = client_id if isinstance(client_id, str) else "?"

    def fail(field_name: str, expected: str) -> None:
        raise ClientError(source, name, field_name, raw.get(field_name), expected)

    for key in raw:
        if key not in FIELDS:
            fail(key, "no such field; known fields: " + ", ".join(FIELDS))
    if not isinstance(client_id, str) or not re.match(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,63}$", client_id):
        fail("client_id", "2-64 letters, digits, '.', '_' or '-'")
    client = {**{k: v for k, v in FIELDS.items() if k != "client_id"}, **raw}
    for key in UNORDERED:
        if not isinstance(client[key], list) or not all(isinstance(v, str) for v in client[key]):
            fail(key, "a list of strings")
    if not isinstance(client["scope"], str):
        fail("scope", "a space-separated string of scopes")
    if not isinstance(client["skip_consent"], bool):
        fail("skip_consent", "true or false")
    if client["token_endpoint_auth_method"] not in AUTH_METHODS:
        fail("token_endpoint_auth_method", "one of " + ", ".join(AUTH_METHODS))
    grants = client["grant_types"]
    if not grants or any(g not in GRANTS for g in grants):
        fail("grant_types", "a non-empty list of " + ", ".join(GRANTS))
    public = client["token_endpoint_auth_method"] == PUBLIC
    if "authorization_code" in grants:
        if client["response_types"] != ["code"]:
            fail("response_types", "['code'] only (an id_token or token response type is an implicit flow, "
                                   "which bypasses PKCE)")
        if not client["redirect_uris"]:
            fail("redirect_uris", "at least one redirect URI for the authorization code grant")
    elif client["response_types"]:
        fail("response_types", "[] for a client without the authorization code grant")
    if public and (set(grants) - {"authorization_code", "refresh_token"} or "authorization_code" not in grants):
        fail("grant_types", "authorization_code (and refresh_token) only for a public client "
                            "(token_endpoint_auth_method none): it cannot keep a secret")
    if "refresh_token" in grants and "authorization_code" not in grants:
        fail("grant_types", "refresh_token only together with authorization_code")
    if "offline_access" in client["scope"].split() and "refresh_token" not in grants:
        fail("grant_types", "refresh_token in grant_types, because scope asks for offline_access")
    if public and client["skip_consent"] and any(
            urllib.parse.urlsplit(u).hostname in LOOPBACK_HOSTS for u in client["redirect_uris"]
            if isinstance(u, str)):
        fail("skip_consent", "false for a public client with a loopback redirect URI: any local program could "
                             "otherwise obtain tokens without the user ever seeing a consent screen (RFC 8252, 8.6)")
    for key in ("redirect_uris", "post_logout_redirect_uris"):
        for uri in client[key]:
            problem = _url_problem(uri)
            if problem:
                raise ClientError(source, name, key, uri, problem)
    for origin in client["allowed_cors_origins"]:
        problem = _url_problem(origin)
        if problem or urllib.parse.urlsplit(origin).path not in ("", "/"):
            raise ClientError(source, name, "allowed_cors_origins", origin, problem or "an origin without a path")
    if not isinstance(client["metadata"], dict):
        fail("metadata", "an object")
    return client


def validate_clients(document: Any, source: str = "clients") -> list[dict[str, Any]]:
    if not isinstance(document, dict) or set(document) != {"clients"} or not isinstance(document["clients"], list):
        raise ClientError(source, "-", "(file)", document if not isinstance(document, dict) else sorted(document),
                          "an object with one key, 'clients', holding a list")
    clients = [validate_client(raw, source) for raw in document["clients"]]
    seen: set[str] = set()
    for client in clients:
        if client["client_id"] in seen:
            raise ClientError(source, client["client_id"], "client_id", client["client_id"], "a unique client id")
        seen.add(client["client_id"])
    return clients


# ------------------------------------------------------------------- admin API ---

class AdminError(RuntimeError):
    pass


@dataclass
class AdminApi:
    url: str
    timeout: float = 15.0

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any, dict]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url.rstrip("/") + path, data=data, method=method,
                                         headers={"Content-Type": "application/json", "Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                raw = response.read()
                return response.status, json.loads(raw) if raw else None, dict(response.headers)
        except urllib.error.HTTPError as error:
            raw = error.read()
            try:
                detail = json.loads(raw) if raw else None
            except ValueError:
                detail = raw.decode(errors="replace")
            return error.code, detail, dict(error.headers)
        except (urllib.error.URLError, OSError) as error:
            raise AdminError(f"the admin API at {self.url} cannot be reached: {error}") from None

    def clients(self, page_size: int = 500) -> dict[str, dict]:
        found: dict[str, dict] = {}
        path: str | None = f"/admin/clients?page_size={page_size}"
        while path:
            status, body, headers = self.request("GET", path)
            if status != 200:
                raise AdminError(f"listing clients answered HTTP {status}: {body}")
            for client in body or []:
                found[client["client_id"]] = client
            # Hydra always links a "next" page; a short page is the last one.
            match = re.search(r'<([^>]+)>;\s*rel="next"', headers.get("Link", ""))
            path = None
            if match and len(body or []) == page_size:
                path = "/admin/clients?" + urllib.parse.urlsplit(match.group(1)).query
        return found


def normalize(client: dict[str, Any]) -> dict[str, Any]:
    """The managed fields in a comparable form."""
    out = {}
    for key, default in FIELDS.items():
        value = client.get(key, default)
        if value is None:
            value = default
        if key in UNORDERED:
            value = sorted(value)
        elif key == "scope":
            value = " ".join(sorted(value.split()))
        out[key] = value
    return out


@dataclass
class Plan:
    create: list[dict] = field(default_factory=list)
    update: list[tuple[dict, list[str]]] = field(default_factory=list)
    delete: list[str] = field(default_factory=list)
    unmanaged: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        lines = [f"+ create {c['client_id']}" for c in self.create]
        lines += [f"~ update {c['client_id']}: {', '.join(fields)}" for c, fields in self.update]
        lines += [f"- delete {client_id}" for client_id in self.delete]
        lines += [f"  keep {client_id}: not in the file (--prune deletes it)" for client_id in self.unmanaged]
        return lines or ["no changes"]


def plan(desired: list[dict], current: dict[str, dict], *, prune: bool) -> Plan:
    result = Plan()
    wanted = {c["client_id"]: c for c in desired}
    for client_id, client in wanted.items():
        if client_id not in current:
            result.create.append(client)
            continue
        want, have = normalize(client), normalize(current[client_id])
        changed = [k for k in FIELDS if k != "client_id" and want[k] != have[k]]
        if changed:
            result.update.append((client, changed))
    for client_id in sorted(set(current) - set(wanted)):
        (result.delete if prune else result.unmanaged).append(client_id)
    return result


def apply(admin: AdminApi, desired: list[dict], *, prune: bool = False, dry_run: bool = False,
          on_secret: Callable[[str, str], None] | None = None) -> Plan:
    """Create, update (and with ``prune`` delete) clients until Hydra matches ``desired``.

    A confidential client's secret is generated here and handed to
    ``on_secret`` *before* Hydra learns it (Hydra keeps only a hash): if
    storing it fails, the client is not created and the next run tries again.
    It is never logged.
    """
    todo = plan(desired, admin.clients(), prune=prune)
    if dry_run:
        return todo
    for client in todo.create:
        body = dict(client)
        if client["token_endpoint_auth_method"] != PUBLIC:
            if on_secret is None:
                raise AdminError(f"{client['client_id']} is confidential: its secret needs somewhere to go")
            body["client_secret"] = secrets.token_urlsafe(48)
            on_secret(client["client_id"], body["client_secret"])
        status, answer, _ = admin.request("POST", "/admin/clients", body)
        if status not in (200, 201):
            raise AdminError(f"creating {client['client_id']} answered HTTP {status}: {answer}")
    for client, fields in todo.update:
        patch = [{"op": "replace", "path": f"/{k}", "value": client[k]} for k in fields]
        status, body, _ = admin.request("PATCH", f"/admin/clients/{urllib.parse.quote(client['client_id'])}",
                                        patch)
        if status != 200:
            raise AdminError(f"updating {client['client_id']} answered HTTP {status}: {body}")
    for client_id in todo.delete:
        status, body, _ = admin.request("DELETE", f"/admin/clients/{urllib.parse.quote(client_id)}")
        if status not in (204, 404):
            raise AdminError(f"deleting {client_id} answered HTTP {status}: {body}")
    return todo


# ------------------------------------------------------------ custom resource ---

def secret_name(env: str, client_id: str) -> str:
    return f"hydra/{env}/clients/{client_id}"


def store_secret(secrets: Any, env: str) -> Callable[[str, str], None]:
    def store(client_id: str, value: str) -> None:
        name = secret_name(env, client_id)
        try:
            secrets.create_secret(Name=name, SecretString=value,
                                  Description=f"OAuth2 client secret of {client_id} (Hydra {env})",
                                  Tags=[{"Key": "project", "Value": "hydra"}, {"Key": "hydra:environment", "Value": env}])
        except secrets.exceptions.ResourceExistsException:
            secrets.put_secret_value(SecretId=name, SecretString=value)
        LOG.info("stored the secret of %s in %s", client_id, name)
    return store


def on_event(event: dict, _context: Any = None, *, secrets: Any = None, admin: AdminApi | None = None) -> dict:
    """Custom resource: apply the environment's declared clients on every deploy that changes them."""
    props = event["ResourceProperties"]
    physical_id = event.get("PhysicalResourceId") or "hydra-clients"
    if event["RequestType"] == "Delete":
        return {"PhysicalResourceId": physical_id}  # clients outlive the stack, like the tokens they hold
    import boto3  # only in AWS: the command line never stores secrets there

    desired = validate_clients(json.loads(props["Clients"]), source=f"clients/{props['Environment']}.json")
    done = apply(admin or AdminApi(props["AdminUrl"]), desired, prune=props.get("Prune") == "true",
                 on_secret=store_secret(secrets or boto3.client("secretsmanager"), props["Environment"]))
    for line in done.lines():
        LOG.info("%s", line)
    return {"PhysicalResourceId": physical_id,
            "Data": {"Created": ",".join(c["client_id"] for c in done.create),
                     "Updated": ",".join(c["client_id"] for c, _ in done.update)}}
