"""The SECRETS_SYSTEM rotation procedure, against moto and a fake admin API."""

from __future__ import annotations

import pytest

from hydra_on_aws.ops import system_secret
from hydra_on_aws.config.settings import cdk_json_context, load_config
from hydra_on_aws.ops.system_secret import StepRefused, SystemSecretRotation

from tests.conftest import MOTO_REGION as REGION, hydra_service, stack_with_outputs
ORIGINAL = "A" * 20 + "originalsecret" + "1" * 30


class FakeAdmin:
    """Key sets as Hydra's admin API keeps them: POST appends a key, DELETE removes one."""

    def __init__(self) -> None:
        self.sets = {"hydra.openid.id-token": ["old-id"], "hydra.jwt.access-token": ["old-at"]}
        self.created = 0

    def request(self, method: str, path: str, body: dict | None = None):
        key_set, _, kid = path.removeprefix("/admin/keys/").partition("/")
        if method == "GET":
            return 200, {"keys": [{"kid": k} for k in self.sets[key_set]]}, {}
        if method == "POST":
            self.created += 1
            self.sets[key_set].append(f"new-{self.created}")
            return 201, {"keys": [{"kid": f"new-{self.created}", "d": "private"}]}, {}
        if method == "DELETE":
            self.sets[key_set].remove(kid)
            return 204, None, {}
        raise AssertionError(method)


@pytest.fixture
def account(moto_session):
    session = moto_session
    arn = session.client("secretsmanager").create_secret(Name="system", SecretString=ORIGINAL)["ARN"]
    hydra_service(session)
    stack_with_outputs(session, "Hydra-prod-Stateful", {"SystemSecretArn": arn})
    stack_with_outputs(session, "Hydra-prod-Service", {"ClusterName": "hydra", "ServiceName": "hydra"})
    yield session, arn


def rotation(session, admin, clock, lines) -> SystemSecretRotation:
    config = load_config({**cdk_json_context(), "env": "prod"})
    return SystemSecretRotation(session, config, admin_url="http://localhost:4445", admin=admin,
                                clock=lambda: clock[0], out=lines.append)


def test_the_whole_procedure_keeps_every_task_able_to_decrypt(account):
    session, arn = account
    sm = session.client("secretsmanager")
    admin, clock, lines = FakeAdmin(), [1_000_000], []
    r = rotation(session, admin, clock, lines)

    r.append()
    first, second = sm.get_secret_value(SecretId=arn)["SecretString"].split(",")
    assert first == ORIGINAL and len(second) == 64 and second.isalnum(), "old first: it still encrypts"
    r.promote()
    assert sm.get_secret_value(SecretId=arn)["SecretString"] == f"{second},{ORIGINAL}", "new first, old decrypts"
    r.rekey()
    assert admin.sets == {"hydra.openid.id-token": ["old-id", "new-1"], "hydra.jwt.access-token": ["old-at", "new-2"]}
    clock[0] += 31 * 24 * 3600  # past the refresh-token lifetime
    r.drop()
    assert sm.get_secret_value(SecretId=arn)["SecretString"] == second
    assert admin.sets == {"hydra.openid.id-token": ["new-1"], "hydra.jwt.access-token": ["new-2"]}
    assert sum("Forced a new deployment of hydra" in line for line in lines) == 3  # append, promote, drop
    assert not any(ORIGINAL in line or second in line for line in lines), "values are never printed"


def test_steps_refuse_to_run_out_of_order(account):
    session, _ = account
    r = rotation(session, FakeAdmin(), [1_000_000], [])
    with pytest.raises(StepRefused, match="needs the rotation to be at 'appended', it is at 'not started'"):
        r.promote()
    r.append()
    with pytest.raises(StepRefused, match="at 'not started', it is at 'appended'"):
        r.append()
    with pytest.raises(StepRefused, match="needs the rotation to be at 'rekeyed'"):
        r.drop()


def test_drop_waits_for_tokens_signed_with_the_old_keys(account):
    session, arn = account
    admin, clock, lines = FakeAdmin(), [1_000_000], []
    r = rotation(session, admin, clock, lines)
    r.append(), r.promote(), r.rekey()
    clock[0] += 60
    with pytest.raises(StepRefused, match="tokens signed with the old keys may still be valid for 20 minutes"):
        r.drop()
    clock[0] += 3600
    with pytest.raises(StepRefused, match="refresh tokens minted under the old secret stay valid for up to 720h"):
        r.drop()
    r.drop(accept_refresh_token_loss=True)
    assert "," not in session.client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"]


def test_the_command_line_explains_a_refusal_in_one_line(account, capsys, monkeypatch):
    monkeypatch.setattr(system_secret, "AdminApi", lambda url, timeout: FakeAdmin())
    assert system_secret.main(["promote", "--env", "prod", "--region", REGION, "--no-redeploy"]) == 2
    assert capsys.readouterr().err.startswith("refused: this step needs the rotation to be at 'appended'")
    assert system_secret.main(["status", "--env", "prod", "--region", REGION]) == 0
    assert "rotation step: not started; next: append" in capsys.readouterr().out
