"""Owner and runtime roles on a real PostgreSQL, through an alternating-users rotation."""

from __future__ import annotations

import pytest

from hydra_functions import db_roles, postgres as pg8000_client
from hydra_functions.postgres import password_clause, quote_ident, sqlstate

pytestmark = pytest.mark.postgres

MASTER, OWNER, RUNTIME, DB = "roles_admin", "roles_owner", "roles_hydra", "roles_db"
PASSWORDS = {MASTER: "m@ster:pw/1", OWNER: "own^er#pw%2", RUNTIME: "run time'pw\\3"}


def login(pg, user: str, password: str | None = None) -> pg8000_client.Connection:
    return pg.connect(DB, user=user, password=password or PASSWORDS[user])


@pytest.fixture(scope="module")
def roles(postgres):
    # Like RDS: the master is no superuser, may create roles, and owns the database.
    postgres.execute(f"CREATE ROLE {MASTER} LOGIN CREATEROLE {password_clause(PASSWORDS[MASTER])}",
                     f"CREATE DATABASE {DB} OWNER {MASTER}")
    with login(postgres, MASTER) as conn:
        conn.run("CREATE TABLE legacy (id int)")  # e.g. migrations once run as the master
        done = db_roles.ensure_roles(conn, database=DB, owner=OWNER, owner_password=PASSWORDS[OWNER],
                                     runtime=RUNTIME, runtime_password=PASSWORDS[RUNTIME])
    assert done[OWNER] == "created" and done[RUNTIME] == "created"
    assert done["handed over to the owner"] == "1"
    return postgres


def test_migrations_as_the_owner_and_rows_as_the_runtime_user(roles):
    with login(roles, OWNER) as owner:
        owner.run("CREATE TABLE hydra_client (id serial PRIMARY KEY, name text)")
    with login(roles, RUNTIME) as runtime:
        runtime.run("INSERT INTO hydra_client (name) VALUES ('my-frontend-app')")
        runtime.run("UPDATE hydra_client SET name = 'renamed'")
        assert runtime.run("SELECT name FROM hydra_client") == [["renamed"]]
        runtime.run("DELETE FROM hydra_client")
        for ddl in ("CREATE TABLE sneaky (id int)", "ALTER TABLE hydra_client ADD COLUMN x int",
                    "DROP TABLE hydra_client"):
            with pytest.raises(pg8000_client.PgError) as excinfo:
                runtime.run(ddl)
            assert sqlstate(excinfo.value) == "42501", ddl  # insufficient_privilege


def test_the_clone_of_an_alternating_users_rotation_inherits_rows_not_schema(roles):
    clone = RUNTIME + db_roles.CLONE_SUFFIX
    # What the AWS multi-user rotation function runs, as the master user.
    with login(roles, MASTER) as master:
        master.run(f"CREATE ROLE {quote_ident(clone)} WITH LOGIN {password_clause('cl0ne:pw')}")
        master.run(f"GRANT {quote_ident(RUNTIME)} TO {quote_ident(clone)}")
    with login(roles, OWNER) as owner:  # a later migration, after the rotation
        owner.run("CREATE TABLE hydra_jwk (sid text, kid text)")
        owner.run("ALTER TABLE hydra_jwk ADD COLUMN created_at timestamp DEFAULT now()")
    for user, password in ((RUNTIME, None), (clone, "cl0ne:pw")):
        with login(roles, user, password) as conn:
            conn.run("INSERT INTO hydra_jwk (sid, kid) VALUES ('hydra.openid.id-token', 'k1')")
            assert conn.run("SELECT count(*) FROM hydra_jwk")[0][0] in (1, 2)
            with pytest.raises(pg8000_client.PgError):
                conn.run("CREATE TABLE owned_by_clone (id int)")
    with login(roles, MASTER) as master:
        owners = master.run("SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'")
    assert owners == [[OWNER]], "every object has the one owner migrations log in as"


def test_running_again_changes_nothing_the_rotation_owns(roles):
    with login(roles, MASTER) as conn:
        done = db_roles.ensure_roles(conn, database=DB, owner=OWNER, owner_password=PASSWORDS[OWNER],
                                     runtime=RUNTIME, runtime_password="a different generated password")
    assert done[RUNTIME].startswith("exists")
    with login(roles, RUNTIME) as conn:  # the original password still works
        assert conn.run("SELECT current_user") == [[RUNTIME]]


def test_the_owner_password_follows_its_single_user_rotation(roles):
    with login(roles, MASTER) as conn:
        db_roles.ensure_roles(conn, database=DB, owner=OWNER, owner_password="rotated:own3r",
                              runtime=RUNTIME, runtime_password=PASSWORDS[RUNTIME])
    with login(roles, OWNER, "rotated:own3r") as conn:
        assert conn.run("SELECT current_user") == [[OWNER]]
    with login(roles, MASTER) as conn:  # put it back for the other tests
        db_roles.ensure_roles(conn, database=DB, owner=OWNER, owner_password=PASSWORDS[OWNER],
                              runtime=RUNTIME, runtime_password=PASSWORDS[RUNTIME])
