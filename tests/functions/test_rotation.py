"""The rotation function against a real PostgreSQL and moto's Secrets Manager, step by step.

Secrets Manager drives a rotation: it adds a version labelled AWSPENDING under a new token, then
invokes the function once per step. moto's `rotate_secret` would invoke it through moto's Lambda
(Docker), so :func:`begin` does Secrets Manager's part on moto's backend and the test calls the
handler for each step, as Secrets Manager would.
"""

from __future__ import annotations

import itertools
import json
import uuid

import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.secretsmanager.models import secretsmanager_backends

from hydra_functions import db_roles, dsn_composer, postgres as pg8000_client, rotation
from hydra_functions.dsn import parse_dsn
from hydra_functions.postgres import password_clause

from tests.conftest import MOTO_REGION, hydra_service

pytestmark = pytest.mark.postgres
MASTER_PASSWORD, OWNER_PASSWORD, RUNTIME_PASSWORD = "m@ster:pw/1", "own^er#pw%2", "run time'pw\\3"


def begin(secrets, arn: str, token: str | None = None) -> str:
    """What RotateSecret does before it calls the function: a version with no value, labelled AWSPENDING."""
    token = token or str(uuid.uuid4())
    name = secrets.describe_secret(SecretId=arn)["Name"]
    secret = secretsmanager_backends[DEFAULT_ACCOUNT_ID][MOTO_REGION].secrets[name]
    secret.remove_version_stages_from_old_versions(["AWSPENDING"])
    secret.versions.setdefault(token, {"createdate": 0, "version_id": token, "version_stages": []})
    secret.versions[token]["version_stages"] = sorted({*secret.versions[token]["version_stages"], "AWSPENDING"})
    return token


def step(secrets, arn: str, token: str, name: str) -> None:
    rotation.on_rotation({"SecretId": arn, "ClientRequestToken": token, "Step": name}, secrets=secrets)


def rotate(secrets, arn: str, *, token: str | None = None, steps=rotation.STEPS) -> str:
    token = begin(secrets, arn, token)
    for name in steps:
        step(secrets, arn, token, name)
    return token


def current(secrets, arn: str, stage: str = "AWSCURRENT") -> dict:
    return json.loads(secrets.get_secret_value(SecretId=arn, VersionStage=stage)["SecretString"])


def logs_in(credentials: dict) -> bool:
    try:
        with pg8000_client.connect(host=credentials["host"], port=credentials["port"],
                                   user=credentials["username"], password=credentials["password"],
                                   database=credentials["dbname"]) as conn:
            conn.run("SELECT 1")
        return True
    except pg8000_client.PgError:
        return False


_clusters = itertools.count()


@pytest.fixture
def cluster(postgres, moto_session):
    """A database like the stack's: a master that is no superuser, the owner and runtime roles made by
    the project's role code, and their secrets in Secrets Manager (the runtime's names its master)."""
    suffix = f"rot{next(_clusters)}"
    master, owner, runtime, db = (f"m_{suffix}", f"o_{suffix}", f"r_{suffix}", f"d_{suffix}")
    postgres.execute(f"CREATE ROLE {master} LOGIN CREATEROLE {password_clause(MASTER_PASSWORD)}",
                     f"CREATE DATABASE {db} OWNER {master}")
    with postgres.connect(db, user=master, password=MASTER_PASSWORD) as conn:
        db_roles.ensure_roles(conn, database=db, owner=owner, owner_password=OWNER_PASSWORD, runtime=runtime,
                              runtime_password=RUNTIME_PASSWORD)
    secrets = moto_session.client("secretsmanager")
    where = {"host": postgres.host, "port": postgres.port, "dbname": db, "engine": "postgres"}
    arns = {"master": secrets.create_secret(Name=f"master-{suffix}", SecretString=json.dumps(
        {"username": master, "password": MASTER_PASSWORD, **where}))["ARN"]}
    arns["owner"] = secrets.create_secret(Name=f"owner-{suffix}", SecretString=json.dumps(
        {"username": owner, "password": OWNER_PASSWORD, **where}))["ARN"]
    arns["runtime"] = secrets.create_secret(Name=f"runtime-{suffix}", SecretString=json.dumps(
        {"username": runtime, "password": RUNTIME_PASSWORD, "masterarn": arns["master"], **where}))["ARN"]
    return secrets, arns, {"master": master, "owner": owner, "runtime": runtime, "db": db}


# ------------------------------------------------------------ each step ---

def test_each_step_of_an_alternating_users_rotation(cluster, postgres):
    secrets, arns, names = cluster
    arn, before = arns["runtime"], current(secrets, arns["runtime"])
    token = begin(secrets, arn)

    step(secrets, arn, token, "createSecret")
    pending = json.loads(secrets.get_secret_value(SecretId=arn, VersionId=token, VersionStage="AWSPENDING")
                         ["SecretString"])
    assert pending["username"] == names["runtime"] + "_clone" and pending["password"] != before["password"]
    assert len(pending["password"]) == rotation.PASSWORD_LENGTH
    assert not logs_in(pending), "nothing changed in the database yet"

    step(secrets, arn, token, "setSecret")
    assert logs_in(pending) and logs_in(before), "the clone is set up; the runtime user still works"
    [[member]] = postgres.execute(
        f"SELECT pg_has_role('{pending['username']}', '{names['runtime']}', 'MEMBER')", database=names["db"])[0]
    assert member is True, "the clone has exactly the runtime user's rights"

    step(secrets, arn, token, "testSecret")
    assert current(secrets, arn) == before, "labels move in finishSecret only"

    step(secrets, arn, token, "finishSecret")
    assert current(secrets, arn) == pending and current(secrets, arn, "AWSPREVIOUS") == before
    assert logs_in(before), "the previous user keeps working until the next rotation"


def test_the_owner_and_the_master_rotate_single_user(cluster):
    secrets, arns, names = cluster
    for who in ("owner", "master"):
        before = current(secrets, arns[who])
        rotate(secrets, arns[who])
        after = current(secrets, arns[who])
        assert after["username"] == before["username"] == names[who]
        assert logs_in(after) and not logs_in(before), who


def test_no_password_reaches_the_statement_log(cluster, postgres):
    secrets, arns, _ = cluster
    postgres.execute("ALTER SYSTEM SET log_statement = 'all'", "SELECT pg_reload_conf()")
    try:
        rotate(secrets, arns["runtime"])
        rotate(secrets, arns["owner"])
    finally:
        postgres.execute("ALTER SYSTEM RESET log_statement", "SELECT pg_reload_conf()")
    log = postgres.log.read_text()
    for arn in (arns["runtime"], arns["owner"]):
        assert current(secrets, arn)["password"] not in log
    assert "SCRAM-SHA-256$4096:" in log, "the verifier is what the server saw"


# ------------------------------------------------- interrupted and retried ---

@pytest.mark.parametrize("same_token", [True, False], ids=["same-token", "new-token"])
@pytest.mark.parametrize("stopped_after", rotation.STEPS[:3])
@pytest.mark.parametrize("who", ["runtime", "owner"])
def test_a_rotation_interrupted_after_a_step_and_retried_ends_consistent(cluster, who, stopped_after, same_token):
    secrets, arns, _ = cluster
    arn, before = arns[who], current(secrets, arns[who])
    token = begin(secrets, arn)
    for name in rotation.STEPS[:rotation.STEPS.index(stopped_after) + 1]:
        step(secrets, arn, token, name)
    # Secrets Manager retries the whole rotation: with the same token, or a new one after giving up.
    retry = rotate(secrets, arn, token=token if same_token else None)
    after = current(secrets, arn)
    assert logs_in(after), "AWSCURRENT logs in"
    assert after["password"] != before["password"]
    versions = secrets.describe_secret(SecretId=arn)["VersionIdsToStages"]
    assert "AWSCURRENT" in versions[retry]
    if who == "runtime":
        assert logs_in(current(secrets, arn, "AWSPREVIOUS")), "and the previous user still does"


def test_a_retried_finish_is_a_no_op(cluster):
    secrets, arns, _ = cluster
    token = rotate(secrets, arns["runtime"])
    stages = secrets.describe_secret(SecretId=arns["runtime"])["VersionIdsToStages"]
    step(secrets, arns["runtime"], token, "finishSecret")
    assert secrets.describe_secret(SecretId=arns["runtime"])["VersionIdsToStages"] == stages


def test_a_step_for_a_version_that_is_not_pending_is_refused(cluster):
    secrets, arns, _ = cluster
    with pytest.raises(rotation.RotationError, match="does not exist"):
        step(secrets, arns["runtime"], str(uuid.uuid4()), "setSecret")


def test_a_secret_that_disagrees_with_the_database_fails_with_what_to_do(cluster, postgres):
    secrets, arns, names = cluster
    # Someone changed the owner's password by hand: no version of the secret holds it.
    postgres.execute(f"ALTER ROLE {names['owner']} {password_clause('changed by hand')}")
    with pytest.raises(rotation.RotationError, match=f"cannot log in as {names['owner']} with any password"):
        rotate(secrets, arns["owner"])
    assert current(secrets, arns["owner"])["password"] == OWNER_PASSWORD, "AWSCURRENT did not move"


# ----------------------------------------------------- the alternation ---

def test_two_rotations_alternate_both_ways(cluster):
    secrets, arns, names = cluster
    users = []
    for _ in range(3):
        rotate(secrets, arns["runtime"])
        now, previous = current(secrets, arns["runtime"]), current(secrets, arns["runtime"], "AWSPREVIOUS")
        users.append(now["username"])
        assert logs_in(now) and logs_in(previous) and now["username"] != previous["username"]
    assert users == [names["runtime"] + "_clone", names["runtime"], names["runtime"] + "_clone"]


# ------------------------------------------------------- the reconciler ---

def test_a_lost_rotation_event_is_repaired_by_the_reconciler(cluster, moto_session, monkeypatch):
    secrets, arns, _ = cluster
    dsn = secrets.create_secret(Name="dsn", SecretString="placeholder")["ARN"]
    monkeypatch.setenv("DSN_TARGETS", json.dumps([{"source": arns["runtime"], "target": dsn, "maxConns": 5,
                                                   "redeploy": True}]))
    monkeypatch.setenv("CLUSTER", "hydra")
    monkeypatch.setenv("SERVICE", "hydra")
    hydra_service(moto_session)
    redeploys = []

    class RecordingEcs:  # moto keeps no deployment for forceNewDeployment
        def update_service(self, **kwargs):
            redeploys.append(kwargs)
            return moto_session.client("ecs").update_service(**kwargs)
    ecs = RecordingEcs()
    schedule = {"detail-type": "Scheduled Event", "source": "aws.events"}
    assert dsn_composer.on_rotation(schedule, secrets=secrets, ecs=ecs)["repaired"] == [dsn]
    redeploys.clear()

    rotate(secrets, arns["runtime"])  # ... and RotationSucceeded never arrives
    stale = parse_dsn(secrets.get_secret_value(SecretId=dsn)["SecretString"])
    assert stale.username != current(secrets, arns["runtime"])["username"]

    assert dsn_composer.on_rotation(schedule, secrets=secrets, ecs=ecs)["repaired"] == [dsn]
    repaired = parse_dsn(secrets.get_secret_value(SecretId=dsn)["SecretString"])
    now = current(secrets, arns["runtime"])
    assert (repaired.username, repaired.password) == (now["username"], now["password"])
    assert redeploys == [{"cluster": "hydra", "service": "hydra", "forceNewDeployment": True}], \
        "new tasks are started with the repaired DSN"
    assert dsn_composer.on_rotation(schedule, secrets=secrets, ecs=ecs)["repaired"] == [], "then nothing to do"
