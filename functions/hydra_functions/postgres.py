"""Logging in to PostgreSQL from the functions: pg8000 (pure Python), with the server verified.

pg8000 and scramp are pinned in ``functions/requirements.txt`` and bundled with the functions at
synthesis (no Docker). Connections verify the server's certificate and host name
(``verify-full``) against the Amazon RDS CA bundle that is bundled beside this code
(:data:`RDS_CA_BUNDLE`; ``DB_CA_BUNDLE`` names another one, as the local tests do with their own
CA). ``tls="require"`` encrypts without verifying, for the callers that must behave exactly like
Hydra's own DSN (``sslmode=require``).

Passwords reach PostgreSQL only as SCRAM verifiers (:func:`password_clause`): no statement log
can hold one.
"""

from __future__ import annotations

import base64
import os
import ssl

import pg8000.native
from pg8000.exceptions import DatabaseError, InterfaceError
from scramp import ScramException, ScramMechanism

from .rds_ca import RDS_CA_BUNDLE, bundle_regions

SCRAM_ITERATIONS = 4096  # PostgreSQL's default scram_iterations

Connection = pg8000.native.Connection
quote_ident = pg8000.native.identifier
quote_literal = pg8000.native.literal
PgError = (DatabaseError, InterfaceError)


def sqlstate(error: BaseException) -> str | None:
    """The SQLSTATE of a server error (``28P01``, ``42501`` ...), else None."""
    details = error.args[0] if isinstance(error, DatabaseError) and error.args else None
    return details.get("C") if isinstance(details, dict) else None


def tls_context(tls: str | None = None, cafile: str | None = None) -> ssl.SSLContext:
    """``verify-full``: the server's chain and host name checked against the CA bundle; ``require``:
    encrypted, unverified (what Hydra's ``sslmode=require`` does). The default is ``DB_TLS``, else
    verify-full."""
    tls = tls or os.environ.get("DB_TLS") or "verify-full"
    if tls == "require":
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    if tls != "verify-full":
        raise ValueError(f"tls must be 'verify-full' or 'require', not {tls!r}")
    cafile = cafile or os.environ.get("DB_CA_BUNDLE")
    region = os.environ.get("AWS_REGION")
    if cafile is None and region and region not in bundle_regions():
        raise RuntimeError(f"the bundled RDS CA bundle has no certificate authority for {region}: set "
                           "db_server_verification to 'require' for this environment (or update the bundle)")
    return ssl.create_default_context(cafile=cafile or str(RDS_CA_BUNDLE))


def connect(*, host: str, port: int, user: str, password: str, database: str, tls: str | None = None,
            cafile: str | None = None, timeout: float = 10.0) -> Connection:
    """A connection over TLS; close it (or use ``with``) when done."""
    return pg8000.native.Connection(user=user, password=password, host=host, port=int(port), database=database,
                                    ssl_context=tls_context(tls, cafile), timeout=timeout)


def scram_sha_256_verifier(password: str) -> str:
    """The SCRAM-SHA-256 verifier PostgreSQL stores for ``password``, computed here (scramp)."""
    try:
        salt, stored_key, server_key, iterations = ScramMechanism("SCRAM-SHA-256").make_auth_info(
            password, iteration_count=SCRAM_ITERATIONS)
    except ScramException as error:
        # SASLprep refuses control characters and malformed bidirectional text; Secrets Manager
        # never generates them, and pg8000 could not log in with such a password anyway.
        raise ValueError(f"a password SASLprep refuses ({error}): use printable characters") from None
    b64 = lambda raw: base64.b64encode(raw).decode()  # noqa: E731
    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


def password_clause(password: str) -> str:
    """PASSWORD '<SCRAM verifier>': the plaintext never reaches the server or its logs."""
    return f"PASSWORD {quote_literal(scram_sha_256_verifier(password))}"
