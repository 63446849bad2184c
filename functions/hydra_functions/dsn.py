"""Hydra's DSN: composed from database credentials, parsed back for checks.

Hydra parses the DSN with Go's net/url, which rejects some characters that a
generated password may hold (``^``, ``%``, ``#``, ``/``, ``@`` ...). Every
component that a password or user name can occupy is therefore
percent-encoded with nothing left "safe": what remains is ``[A-Za-z0-9-._~]``
plus ``%XX`` escapes, which every URL parser reads back to the same bytes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, unquote, urlsplit

_HOST = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})$")


@dataclass(frozen=True)
class DsnParts:
    username: str
    password: str
    host: str
    port: int
    dbname: str
    params: tuple[tuple[str, str], ...]

    def param(self, name: str) -> str | None:
        return dict(self.params).get(name)


def compose_dsn(*, username: str, password: str, host: str, port: int | str, dbname: str,
                max_conns: int, sslmode: str = "require") -> str:
    """``postgres://USER:PASS@HOST:PORT/DB?sslmode=require&max_conns=N``.

    Correct for any user name and password: both are percent-encoded as UTF-8
    with no character exempt.
    """
    if not _HOST.match(host or ""):
        raise ValueError(f"database host {host!r} is not a DNS name or IPv4 address")
    port = int(port)
    if not 0 < port < 65536:
        raise ValueError(f"database port {port} is out of range")
    if int(max_conns) < 1:
        raise ValueError(f"max_conns {max_conns} must be at least 1")
    if not username or not dbname:
        raise ValueError("database user name and database name must not be empty")
    return (f"postgres://{quote(username, safe='')}:{quote(password, safe='')}@{host}:{port}/"
            f"{quote(dbname, safe='')}?sslmode={quote(sslmode, safe='')}&max_conns={int(max_conns)}")


def parse_dsn(dsn: str) -> DsnParts:
    """Read a DSN made by :func:`compose_dsn` (or any postgres:// URL) back."""
    parts = urlsplit(dsn)
    if parts.scheme not in ("postgres", "postgresql"):
        raise ValueError("not a postgres:// DSN")
    netloc = parts.netloc
    userinfo, _, hostport = netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    host, _, port = hostport.partition(":")
    return DsnParts(
        username=unquote(user, errors="strict"),
        password=unquote(password, errors="strict"),
        host=host,
        port=int(port or 5432),
        dbname=unquote(parts.path.lstrip("/"), errors="strict"),
        params=tuple(parse_qsl(parts.query, keep_blank_values=True)),
    )


def dsn_from_secret(secret: dict, *, max_conns: int) -> str:
    """Compose the DSN from an RDS credentials secret (username, password, host, port, dbname)."""
    missing = [k for k in ("username", "password", "host") if not secret.get(k)]
    if missing:
        raise ValueError("database secret lacks " + ", ".join(missing))
    return compose_dsn(username=secret["username"], password=secret["password"], host=secret["host"],
                       port=secret.get("port") or 5432, dbname=secret.get("dbname") or "postgres",
                       max_conns=max_conns)
