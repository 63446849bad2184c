"""Database roles for Hydra: a fixed owner for migrations, a runtime user for everything else.

Runs as a CloudFormation custom resource, logged in as the cluster's master
user. Idempotent: every deploy may run it again.

- ``owner`` (hydra_owner) owns schema ``public`` and every object in it. The
  migration task logs in as this role, so all objects have one owner and a
  later migration can always alter them. Its password is single-user rotated.
- Extensions Hydra's migrations create (``uuid-ossp`` since v25) are created here, as the
  master: the owner has no CREATE on the database, so its ``CREATE EXTENSION IF NOT EXISTS``
  finds the extension there and does nothing (without it the very first migration fails with
  SQLSTATE 42501).
- ``runtime`` (hydra) may read and write rows, never change the schema. Its
  password rotates with the alternating-users strategy: the rotation creates
  ``hydra_clone`` as a member of ``hydra``, so the clone inherits exactly these
  privileges and never owns anything.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import boto3

from . import postgres
from .postgres import password_clause, quote_ident as ident, quote_literal as literal

LOG = logging.getLogger()
LOG.setLevel(logging.INFO)
CLONE_SUFFIX = "_clone"  # the alternating-users partner (hydra_functions.rotation)
# What Hydra's PostgreSQL migrations create with CREATE EXTENSION IF NOT EXISTS (v25 and later).
EXTENSIONS = ("uuid-ossp",)


def role_exists(conn: postgres.Connection, role: str) -> bool:
    return bool(conn.run(f"SELECT 1 FROM pg_roles WHERE rolname = {literal(role)}"))


def ensure_clone(conn: postgres.Connection, base: str, clone: str, password_sql: str) -> None:
    """The alternating-users partner of ``base``: a login role that is a member of ``base`` (so it has
    exactly ``base``'s rights, and owns nothing), with the password ``password_sql`` sets."""
    verb = "ALTER" if role_exists(conn, clone) else "CREATE"
    conn.run(f"{verb} ROLE {ident(clone)} WITH LOGIN {password_sql}")
    conn.run(f"GRANT {ident(base)} TO {ident(clone)}")


def privilege_statements(*, database: str, owner: str, runtime: str) -> list[str]:
    """Grants that hold whatever the current set of tables is (safe to repeat)."""
    o, r = ident(owner), ident(runtime)
    return [
        f"GRANT {o} TO CURRENT_USER",  # lets the master hand objects over and set default privileges
        f"ALTER SCHEMA public OWNER TO {o}",
        "REVOKE CREATE ON SCHEMA public FROM PUBLIC",
        f"GRANT CONNECT, TEMPORARY ON DATABASE {ident(database)} TO {o}",
        f"GRANT CONNECT ON DATABASE {ident(database)} TO {r}",
        f"GRANT USAGE ON SCHEMA public TO {r}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {r}",
        f"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {r}",
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {o} IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {r}",
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {o} IN SCHEMA public GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO {r}",
    ]


def ensure_roles(conn: postgres.Connection, *, database: str, owner: str, owner_password: str, runtime: str,
                 runtime_password: str) -> dict[str, str]:
    """Create or align the roles and privileges; returns what it did, without passwords."""
    done: dict[str, str] = {}
    if role_exists(conn, owner):
        # Single-user rotation: the owner secret's current password is the truth.
        conn.run(f"ALTER ROLE {ident(owner)} WITH LOGIN {password_clause(owner_password)}")
        done[owner] = "password aligned"
    else:
        conn.run(f"CREATE ROLE {ident(owner)} WITH LOGIN {password_clause(owner_password)}")
        done[owner] = "created"
    if role_exists(conn, runtime):
        done[runtime] = "exists (its password belongs to the rotation)"
    else:
        conn.run(f"CREATE ROLE {ident(runtime)} WITH LOGIN {password_clause(runtime_password)}")
        done[runtime] = "created"
    for extension in EXTENSIONS:
        conn.run(f"CREATE EXTENSION IF NOT EXISTS {ident(extension)} SCHEMA public")
    done["extensions"] = ",".join(EXTENSIONS)
    for statement in privilege_statements(database=database, owner=owner, runtime=runtime):
        conn.run(statement)
    # Objects someone else created (say, migrations run as the master before
    # this existed) move to the owner, or later migrations could not alter them.
    foreign = conn.run(
        "SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        f"WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'S', 'v', 'm') "
        f"AND pg_get_userbyid(c.relowner) <> {literal(owner)}")
    for name, kind in foreign:
        what = {"S": "SEQUENCE", "v": "VIEW", "m": "MATERIALIZED VIEW"}.get(kind, "TABLE")
        conn.run(f"ALTER {what} public.{ident(name)} OWNER TO {ident(owner)}")
    if foreign:
        done["handed over to the owner"] = str(len(foreign))
    clone = runtime + CLONE_SUFFIX
    if role_exists(conn, clone):
        conn.run(f"GRANT {ident(runtime)} TO {ident(clone)}")
        done[clone] = "member of the runtime role"
    return done


def _secret(secrets: Any, arn: str) -> dict:
    return json.loads(secrets.get_secret_value(SecretId=arn)["SecretString"])


def on_event(event: dict, _context: Any = None, *, secrets: Any = None) -> dict:
    """Custom resource handler (provider framework)."""
    props = event["ResourceProperties"]
    physical_id = event.get("PhysicalResourceId") or "hydra-database-roles"
    if event["RequestType"] == "Delete":
        return {"PhysicalResourceId": physical_id}  # roles outlive the stack, like the data they guard
    secrets = secrets or boto3.client("secretsmanager")
    master, owner, runtime = (_secret(secrets, props[k]) for k in
                              ("MasterSecretArn", "OwnerSecretArn", "RuntimeSecretArn"))
    runtime_user = runtime["username"].removesuffix(CLONE_SUFFIX)
    with postgres.connect(host=master["host"], port=int(master.get("port", 5432)), user=master["username"],
                          password=master["password"], database=props["Database"]) as conn:
        done = ensure_roles(conn, database=props["Database"], owner=owner["username"],
                            owner_password=owner["password"], runtime=runtime_user,
                            runtime_password=runtime["password"])
    LOG.info("database roles: %s", json.dumps(done, sort_keys=True))
    return {"PhysicalResourceId": physical_id, "Data": {"Roles": ",".join(sorted(done))}}

