"""Rotations while Hydra serves: no token request fails.

The deployed Hydra runs with the runtime DSN the stack composes; the rotation function rotates the
runtime credentials (alternating users) twice, against the stack's real PostgreSQL and moto's
Secrets Manager, while a client keeps asking for tokens. Between rotations, the reconciler
recomposes the DSN and Hydra restarts with it, as the forced redeploy does in AWS (there, old
tasks serve until new ones are healthy, so the restart's own pause is not counted here).
"""

from __future__ import annotations

import json
import threading
import time

import pytest
import requests

from hydra_functions import dsn_composer, rotation
from hydra_functions.dsn import parse_dsn
from hydra_on_aws.local.stack import LocalStack, task_environment

from tests.conftest import synthesize
from tests.e2e.flow import discovery, trusting
from tests.functions.test_rotation import begin, current, step

pytestmark = pytest.mark.e2e
CLIENT, SECRET = "rotation-watcher", "a-long-enough-client-secret-for-hydra"


class TokenLoad(threading.Thread):
    """Asks for client_credentials tokens back to back; remembers every failure."""

    def __init__(self, stack: LocalStack) -> None:
        super().__init__(daemon=True)
        self.session = trusting(requests.Session(), stack)
        self.endpoint = discovery(stack)["token_endpoint"]
        self.running = threading.Event()
        self.stopped = threading.Event()
        self.ok, self.failures = 0, []

    def run(self) -> None:
        while not self.stopped.is_set():
            if not self.running.wait(0.1):
                continue
            try:
                response = self.session.post(self.endpoint, timeout=10, data={
                    "grant_type": "client_credentials", "client_id": CLIENT, "client_secret": SECRET})
                if response.status_code == 200 and "access_token" in response.json():
                    self.ok += 1
                else:
                    self.failures.append(f"{response.status_code} {response.text[:200]}")
            except requests.RequestException as error:
                self.failures.append(repr(error))


@pytest.fixture
def serving(moto_session, monkeypatch):
    stack = LocalStack(synthesized=task_environment(synthesize("dev").templates["Service"])).start()
    try:
        monkeypatch.setenv("DB_CA_BUNDLE", str(stack.postgres.ca.cert_path))
        requests.post(f"{stack.admin_url}/admin/clients", timeout=10, json={
            "client_id": CLIENT, "client_secret": SECRET, "grant_types": ["client_credentials"],
            "token_endpoint_auth_method": "client_secret_post"}).raise_for_status()
        secrets = moto_session.client("secretsmanager")
        where = {"host": stack.postgres.host, "port": stack.postgres.port, "dbname": "hydra", "engine": "postgres"}
        master = secrets.create_secret(Name="master", SecretString=json.dumps(
            {"username": "hydra_admin", "password": stack.master_password, **where}))["ARN"]
        runtime = secrets.create_secret(Name="runtime", SecretString=json.dumps(
            {"username": "hydra", "password": stack.runtime_password, "masterarn": master, **where}))["ARN"]
        dsn = secrets.create_secret(Name="dsn", SecretString=stack.dsn)["ARN"]
        monkeypatch.setenv("DSN_TARGETS", json.dumps([{"source": runtime, "target": dsn, "maxConns": 5,
                                                       "redeploy": False}]))
        yield stack, secrets, runtime, dsn
    finally:
        stack.stop()


def test_two_rotations_while_hydra_serves_lose_no_token_request(serving):
    stack, secrets, runtime, dsn = serving
    load = TokenLoad(stack)
    load.start()
    users = []
    try:
        for _ in range(2):
            load.running.set()
            time.sleep(1)
            token = begin(secrets, runtime)
            for name in rotation.STEPS:
                step(secrets, runtime, token, name)
                time.sleep(0.5)  # requests keep flowing between the steps
            time.sleep(1)
            served_before = load.ok
            assert dsn_composer.reconcile(secrets=secrets)["repaired"] == [dsn]
            new_dsn = secrets.get_secret_value(SecretId=dsn)["SecretString"]
            users.append(parse_dsn(new_dsn).username)
            load.running.clear()  # AWS rolls tasks over; here Hydra restarts in place
            time.sleep(0.5)
            stack.restart_hydra(DSN=new_dsn)
            assert load.ok > served_before, "tokens were issued during the rotation"
        load.running.set()
        time.sleep(1)
    finally:
        load.stopped.set()
        load.join(timeout=15)
    assert load.failures == []
    assert users == ["hydra_clone", "hydra"], "the DSN alternated both ways"
    assert current(secrets, runtime)["username"] == "hydra"
    assert load.ok > 20
