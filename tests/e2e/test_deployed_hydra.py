"""The Hydra that deploys: its build, its first migration on the stack's own roles, its upgrade.

Everything runs the real binaries (`make hydra`: the deployed version from its pinned source; the
previous version from the Go module proxy) against a real PostgreSQL 16, with the roles the
project's own role code creates, the DSNs its own composer writes, and the synthesized dev task
definition's environment.
"""

from __future__ import annotations

import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from authlib.integrations.base_client.errors import OAuthError

from hydra_functions import db_roles
from hydra_functions.clients import AdminApi, apply, normalize, validate_client
from hydra_functions.dsn import parse_dsn
from hydra_functions.signing_keys import KEY_SETS, ensure_key_sets
from hydra_constructs.hydra_service import command_environment
from hydra_constructs.janitor import janitor_command
from hydra_on_aws.config.clients import load_clients
from hydra_on_aws.config.hydra import HYDRA_COMMIT, HYDRA_VERSION, PREVIOUS_VERSION
from hydra_on_aws.local.stack import HYDRA_BINARY, PREVIOUS_HYDRA_BINARY, LocalStack, LocalStackError, task_environment

from tests.conftest import synthesize
from tests.e2e.flow import ALICE, API, CALLBACK, discovery, oauth_client, start, trusting, validator, walk

pytestmark = pytest.mark.e2e
MIGRATIONS_V26 = 224      # what v26.2.0 applies to a fresh PostgreSQL
MIGRATIONS_PREVIOUS = 212  # what v2.3.0 applies


def count_migrations(stack: LocalStack) -> int:
    [[[count]]] = stack.postgres.execute("SELECT count(*) FROM schema_migration", database="hydra")
    return count


def served_version(stack: LocalStack) -> str:
    """What the running Hydra says it is (v2.3.0 answers on /version, v26 on /admin/version)."""
    for path in ("/admin/version", "/version"):
        response = requests.get(stack.admin_url + path, timeout=5)
        if response.ok:
            return response.json()["version"]
    raise AssertionError("the admin API names no version")


def test_make_hydra_built_the_deployed_version_from_its_source():
    out = subprocess.run([str(HYDRA_BINARY), "version"], capture_output=True, text=True, timeout=30).stdout
    assert f"Version:    {HYDRA_VERSION}" in out and f"Git Hash:   {HYDRA_COMMIT}" in out


# ------------------------------------------------- the first migration ---

@pytest.fixture(scope="module")
def fresh():
    """The deployed version on a fresh database, migrated and serving as in AWS."""
    stack = LocalStack(users=[ALICE], synthesized=task_environment(synthesize("dev").templates["Service"]))
    stack.start()
    yield stack
    stack.stop()


def test_the_first_migration_applies_every_migration_as_the_owner(fresh):
    assert count_migrations(fresh) == MIGRATIONS_V26
    status = fresh.hydra("migrate", "sql", "status", "-e", dsn=fresh.owner_dsn).stdout
    assert "Pending" not in status


def test_the_owner_and_the_runtime_role_keep_their_narrow_rights(fresh):
    [rows] = fresh.postgres.execute(
        "SELECT has_database_privilege('hydra_owner', 'hydra', 'CREATE'),"
        "       has_database_privilege('hydra', 'hydra', 'CREATE'),"
        "       has_schema_privilege('hydra', 'public', 'CREATE'),"
        "       has_table_privilege('hydra', 'public.hydra_client', 'SELECT, INSERT, UPDATE, DELETE'),"
        "       (SELECT rolsuper OR rolcreaterole OR rolcreatedb FROM pg_roles WHERE rolname = 'hydra_owner'),"
        "       (SELECT extowner::regrole::text FROM pg_extension WHERE extname = 'uuid-ossp')", database="hydra")
    assert rows == [[False, False, False, True, False, "hydra_admin"]], \
        "no CREATE on the database for either role, rows only for the runtime role, the extension the master's"


def test_the_runtime_role_serves_and_the_janitor_runs_as_it(fresh):
    assert parse_dsn(fresh.env["DSN"]).username == "hydra", "hydra serve all logs in as the runtime role"
    assert requests.get(f"{fresh.admin_url}/health/ready", timeout=5).json() == {"status": "ok"}
    config = synthesize("dev").config
    result = fresh.hydra(*janitor_command(config), dsn=fresh.dsn, env=command_environment(config))
    assert result.returncode == 0


def test_client_credentials_beyond_the_pool_stall_until_callers_give_up(fresh):
    """ory/hydra#3863, in the version we deploy: a client_credentials request takes the signing-key lock
    outside its transaction and then waits for a pool connection, while the requests holding every
    connection wait for that lock. Within the pool (5 here) all is well; beyond it the task stalls until
    the callers give up, then recovers. The settings rule `api_throttle_burst_limit <= hydra_min_tasks x
    hydra_max_conns` stands on this; when an upgrade fixes it, this test fails and the rule can go."""
    secrets: dict[str, str] = {}
    apply(AdminApi(fresh.admin_url), [validate_client({
        "client_id": "stall-probe", "grant_types": ["client_credentials"], "scope": "reports",
        "token_endpoint_auth_method": "client_secret_basic"})], on_secret=secrets.__setitem__)
    pool = int(parse_dsn(fresh.dsn).param("max_conns"))

    def token(_: int) -> str:
        try:
            answer = requests.post(f"http://127.0.0.1:{fresh.public_port}/oauth2/token", timeout=4,
                                   data={"grant_type": "client_credentials", "scope": "reports"},
                                   auth=("stall-probe", secrets["stall-probe"]))
            return str(answer.status_code)
        except requests.exceptions.Timeout:
            return "timeout"

    def burst(in_flight: int, rounds: int) -> list[str]:
        with ThreadPoolExecutor(in_flight) as threads:
            return list(threads.map(token, range(in_flight * rounds)))

    assert set(burst(pool, 4)) == {"200"}, "as many in flight as the pool: every request answered"
    assert "timeout" in burst(3 * pool, 1), "three times the pool at once: the task stalls"
    assert token(0) == "200", "once the callers gave up, the task serves again"


def test_without_the_extension_step_the_first_migration_fails_on_the_owners_rights(monkeypatch):
    """What every first deploy of v25+ hit before the role code created the extension (SQLSTATE 42501)."""
    monkeypatch.setattr(db_roles, "EXTENSIONS", ())
    stack = LocalStack(synthesized=task_environment(synthesize("dev").templates["Service"]))
    with pytest.raises(LocalStackError) as excinfo:
        stack.start()
    assert "permission denied to create extension" in str(excinfo.value) and "uuid-ossp" in str(excinfo.value)
    assert not stack.base_dir.exists()


# ---------------------------------------------------- the upgrade rehearsal ---

@pytest.fixture(scope="module")
def upgrade():
    """v2.3.0 migrated and serving, with state; then the deploy of v26.2.0 as AWS runs it; then
    CloudFormation's rollback, which runs the old image's migration again. What each step saw."""
    if not PREVIOUS_HYDRA_BINARY.exists():
        pytest.fail(f"no {PREVIOUS_HYDRA_BINARY}: `make test-tools` builds Hydra {PREVIOUS_VERSION}")
    stack = LocalStack(users=[ALICE], synthesized=task_environment(synthesize("dev").templates["Service"]),
                       hydra_binary=PREVIOUS_HYDRA_BINARY)
    stack.start()
    seen: dict = {"migrations before": count_migrations(stack)}
    try:
        admin = AdminApi(stack.admin_url)
        apply(admin, load_clients("dev"))
        ensure_key_sets(stack.admin_url, list(KEY_SETS))
        browser = trusting(requests.Session(), stack)
        client, uri, state, verifier, _ = start(stack, audience=API)
        callback = walk(browser, uri, stop_at=CALLBACK, remember=True)
        seen["tokens"] = client.fetch_token(discovery(stack)["token_endpoint"], authorization_response=callback,
                                            state=state, code_verifier=verifier)
        pages_before: list[str] = []
        _, uri, *_ = start(stack, audience=API)
        walk(browser, uri, stop_at=CALLBACK, seen=pages_before)
        seen["pages before upgrade"] = pages_before
        seen["clients before"] = {c: normalize(v) for c, v in admin.clients().items()}
        seen["version before"] = served_version(stack)

        seen["migrate"] = stack.deploy(HYDRA_BINARY)
        seen["version after"] = served_version(stack)
        seen["migrations after"] = count_migrations(stack)
        seen["clients after"] = {c: normalize(v) for c, v in admin.clients().items()}
        seen["old access token"] = validator(stack).validate(seen["tokens"]["access_token"])
        endpoint = discovery(stack)["token_endpoint"]
        seen["refreshed"] = oauth_client(stack).refresh_token(endpoint, refresh_token=seen["tokens"]["refresh_token"])
        try:
            oauth_client(stack).refresh_token(endpoint, refresh_token=seen["tokens"]["refresh_token"])
            seen["second refresh"] = "accepted"
        except OAuthError as error:
            seen["second refresh"] = error.error
        pages: list[str] = []
        client, uri, state, verifier, _ = start(stack, audience=API)
        callback = walk(browser, uri, stop_at=CALLBACK, seen=pages)
        seen["pages after upgrade"] = pages
        seen["tokens after upgrade"] = client.fetch_token(endpoint, authorization_response=callback, state=state,
                                                          code_verifier=verifier)

        # CloudFormation's rollback updates the migration resource back: the old image migrates again.
        seen["rollback migrate"] = stack.hydra("migrate", "sql", "up", "-e", "--yes", dsn=stack.owner_dsn,
                                               binary=PREVIOUS_HYDRA_BINARY)
        seen["migrations after rollback"] = count_migrations(stack)
        # ... and the old tasks come back, on the new schema.
        stack.hydra_binary = PREVIOUS_HYDRA_BINARY
        stack.restart_hydra()
        seen["version after rollback"] = served_version(stack)
        try:  # a refresh token the new version issued (the reuse attempt above revoked that grant's chain)
            seen["refresh after rollback"] = oauth_client(stack).refresh_token(
                endpoint, refresh_token=seen["tokens after upgrade"]["refresh_token"])
        except OAuthError as error:
            seen["refresh after rollback"] = error.error
        pages = []
        _, uri, *_ = start(stack, audience=API)
        walk(browser, uri, stop_at=CALLBACK, seen=pages)
        seen["pages after rollback"] = pages
        yield seen
    finally:
        stack.stop()


def test_the_previous_version_migrates_and_serves(upgrade):
    assert upgrade["migrations before"] == MIGRATIONS_PREVIOUS
    assert upgrade["version before"] == PREVIOUS_VERSION


def test_the_deploy_migrates_as_the_migration_task_does_and_the_new_version_serves(upgrade):
    assert "Successfully applied" in upgrade["migrate"].stdout + upgrade["migrate"].stderr
    assert upgrade["migrations after"] == MIGRATIONS_V26
    assert upgrade["version after"] == HYDRA_VERSION


def test_clients_survive_the_upgrade(upgrade):
    assert upgrade["clients after"] == upgrade["clients before"] and upgrade["clients before"]


def test_old_access_tokens_still_verify_against_the_new_jwks(upgrade):
    assert upgrade["old access token"]["sub"] == ALICE.subject


def test_an_old_refresh_token_redeems_once(upgrade):
    assert upgrade["refreshed"]["access_token"] and upgrade["refreshed"]["refresh_token"]
    assert upgrade["second refresh"] == "invalid_grant", "refresh tokens stay single-use across the upgrade"


def test_remembered_login_and_consent_survive_the_upgrade(upgrade):
    assert upgrade["pages before upgrade"] == [], "remembered by the previous version"
    assert upgrade["pages after upgrade"] == [], "Hydra skipped both: the remembered session and consent"


def test_the_rollback_migration_of_the_old_image_changes_nothing_and_succeeds(upgrade):
    """CloudFormation's rollback re-runs the old image's `migrate sql up` on the new schema: it must not
    fail (UPDATE_ROLLBACK_FAILED) and must not touch the newer migrations."""
    assert upgrade["rollback migrate"].returncode == 0
    assert upgrade["migrations after rollback"] == MIGRATIONS_V26


def test_after_a_rollback_the_previous_version_serves_on_the_new_schema(upgrade):
    """The rollback restores the old task definition, not the old schema: the old image serves on it."""
    assert upgrade["version after rollback"] == PREVIOUS_VERSION
    assert "access_token" in upgrade["refresh after rollback"], upgrade["refresh after rollback"]
    assert upgrade["pages after rollback"] == []
