"""A real PostgreSQL for the session: TLS only and SCRAM, like Aurora with rds.force_ssl."""

from __future__ import annotations

import pytest

from hydra_stack.local_postgres import LocalPostgres, PostgresUnavailable


@pytest.fixture(scope="session")
def postgres():
    # Its own directory under /tmp: pytest's tmp dirs are private to root, and
    # the server runs as the postgres user when the tests run as root.
    server = LocalPostgres()
    try:
        server.start()
    except PostgresUnavailable as error:
        server.cleanup()
        pytest.fail(f"PostgreSQL could not be started, so the database tests cannot run: {error}")
    yield server
    server.cleanup()
