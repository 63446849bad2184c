"""Declarative clients: every rule names the client and the field; synthesis refuses a bad file."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys

import pytest

from hydra_functions.clients import (AdminError, ClientError, apply, normalize, on_event, plan, secret_name,
                                      store_secret, validate_client, validate_clients)
from hydra_on_aws.config.clients import load_clients

from tests.support.cfn import by_path, props
from tests.conftest import ROOT

GUIDE = {  # the architecture guide's client, as published
    "client_id": "my-frontend-app",
    "grant_types": ["authorization_code", "refresh_token"],
    "response_types": ["code", "id_token"],
    "scope": "openid offline_access profile email",
    "skip_consent": True,
    "redirect_uris": ["https://your-app-domain/oauth/callback", "http://localhost:8000/oauth/callback"],
    "token_endpoint_auth_method": "none",
}
FIXED = {**GUIDE, "response_types": ["code"], "skip_consent": False}  # the guide's client, made acceptable


def error(client: dict) -> ClientError:
    with pytest.raises(ClientError) as excinfo:
        validate_client(client, "clients/dev.json")
    return excinfo.value


def test_the_guides_example_is_refused_for_its_implicit_response_type():
    e = error(GUIDE)
    assert (e.client, e.field) == ("my-frontend-app", "response_types")
    assert "implicit flow, which bypasses PKCE" in str(e)
    assert str(e).startswith("clients/dev.json: client 'my-frontend-app', field 'response_types': got ['code', "
                             "'id_token']")
    # Fixing that surfaces the guide's second problem: a public loopback client that skips consent.
    assert error({**GUIDE, "response_types": ["code"]}).field == "skip_consent"
    fixed = validate_client(FIXED)
    assert fixed["audience"] == [] and fixed["skip_consent"] is False


def test_only_clients_that_cannot_be_impersonated_locally_may_skip_consent():
    e = error({**FIXED, "skip_consent": True})
    assert e.field == "skip_consent" and "RFC 8252" in str(e) and "got True" in str(e)
    for uri in ("http://127.0.0.1:9000/cb", "http://[::1]:8000/cb"):
        assert error({**FIXED, "skip_consent": True, "redirect_uris": [uri]}).field == "skip_consent"
    # A public client whose every redirect URI is its own https origin may skip (a first-party SPA) ...
    assert validate_client({**FIXED, "skip_consent": True,
                            "redirect_uris": ["https://app.example.com/cb"]})["skip_consent"] is True
    # ... and so may a confidential client: a local impostor has no secret to redeem the code with.
    assert validate_client({**FIXED, "skip_consent": True, "token_endpoint_auth_method": "client_secret_basic"}
                           )["skip_consent"] is True


@pytest.mark.parametrize("change, field_name, expected", [
    ({"redirect_uris": ["https://app.example.com/*"]}, "redirect_uris", "no wildcards"),
    ({"redirect_uris": ["https://app.example.com/cb#frag"]}, "redirect_uris", "without a fragment"),
    ({"redirect_uris": ["http://app.example.com/cb"]}, "redirect_uris", "http:// only for loopback"),
    ({"redirect_uris": ["/oauth/callback"]}, "redirect_uris", "absolute URI"),
    ({"grant_types": ["authorization_code", "client_credentials"]}, "grant_types", "public client"),
    ({"grant_types": ["authorization_code"]}, "grant_types", "offline_access"),
    ({"response_types": ["token"]}, "response_types", "implicit flow"),
    ({"client_secret": "in-a-file"}, "client_secret", "no such field"),
    ({"client_id": "a b"}, "client_id", "letters, digits"),
    ({"token_endpoint_auth_method": "private_key_jwt"}, "token_endpoint_auth_method", "one of none"),
    ({"skip_consent": "yes"}, "skip_consent", "true or false"),
])
def test_each_rule_names_the_client_and_the_field(change, field_name, expected):
    e = error({**FIXED, **change})
    assert e.field == field_name and expected in str(e)


def test_loopback_redirects_are_allowed_over_http():
    for uri in ("http://localhost:8000/cb", "http://127.0.0.1:9000/cb", "http://[::1]:8000/cb"):
        validate_client({**FIXED, "redirect_uris": [uri]})


def test_duplicate_ids_and_malformed_files_are_refused():
    client = FIXED
    with pytest.raises(ClientError, match="a unique client id"):
        validate_clients({"clients": [client, client]})
    with pytest.raises(ClientError, match="one key, 'clients'"):
        validate_clients({"clients": [], "extra": 1})


def test_the_environment_files_are_valid_and_their_public_clients_use_code_only():
    for env in ("dev", "prod"):
        for client in load_clients(env):
            assert client["response_types"] == ["code"] and client["audience"], env


def test_plans_compare_only_declared_fields_in_any_order():
    [declared] = load_clients("dev")
    stored = {**copy.deepcopy(declared), "redirect_uris": list(reversed(declared["redirect_uris"])),
              "scope": "email profile offline_access openid", "created_at": "2026-11-26T00:00:00Z",
              "client_secret_expires_at": 0}
    assert plan([declared], {declared["client_id"]: stored}, prune=False).lines() == ["no changes"]
    assert normalize(stored) == normalize(declared)


def test_the_deployed_stack_applies_the_same_clients_inside_the_vpc(dev):
    template, model, stack = dev.templates["Operations"], dev.model, dev.stack_name("Operations")
    p = props(by_path(template, "DeclaredClients/Clients/Default")[1])
    assert json.loads(p["Clients"]) == load_clients("dev")
    assert (p["Environment"], p["Prune"]) == ("dev", "false")
    fn = model.resource(model.resolve(stack, model.resource(model.resolve(stack, p["ServiceToken"])).properties[
        "Environment"]["Variables"]["USER_ON_EVENT_FUNCTION_ARN"]))
    assert fn.properties["Handler"] == "hydra_functions.clients.on_event" and fn.properties["VpcConfig"]
    admin_sg = next(r for r in model.resources("AWS::EC2::SecurityGroup")
                    if r.path.endswith("LoadBalancers/AdminNlbSecurityGroup/Resource"))
    assert f"{stack}/DeclaredClients/Function/SecurityGroup/Resource" in {
        model.resource(r.source).path for r in model.rules_into(admin_sg.ref)}


def test_synthesis_stops_on_a_bad_clients_file(tmp_path, monkeypatch):
    bad = tmp_path / "clients"
    bad.mkdir()
    (bad / "dev.json").write_text(json.dumps({"clients": [GUIDE]}))
    script = ("import sys; import hydra_on_aws.config.clients as c; from pathlib import Path; "
              f"c.CLIENTS_DIR = Path({str(bad)!r}); import app; sys.exit(app.main())")
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120,
                            env={**os.environ, "CDK_OUTDIR": str(tmp_path / "out")})
    assert result.returncode == 2
    assert ("configuration error: clients/dev.json: client 'my-frontend-app', field 'response_types'"
            in result.stderr)


# ------------------------------------------------- confidential secrets ---

class RecordingAdmin:
    """Hydra's admin API as far as ``apply`` uses it; every call is recorded, POST can be made to fail."""

    def __init__(self, events: list, post_status: int = 201) -> None:
        self.events, self.post_status = events, post_status

    def clients(self) -> dict:
        return {}

    def request(self, method: str, path: str, body=None):
        self.events.append((method, path, body))
        return self.post_status, {"error": "boom"} if self.post_status >= 400 else body, {}


SERVICE = {"client_id": "reporting-service", "grant_types": ["client_credentials"],
           "token_endpoint_auth_method": "client_secret_basic", "scope": "reports"}


def test_a_confidential_clients_secret_is_stored_before_hydra_learns_it():
    events: list = []
    apply(RecordingAdmin(events), [validate_client(SERVICE)], on_secret=lambda c, s: events.append(("stored", c, s)))
    (_, client_id, stored), (method, path, body) = events
    assert client_id == "reporting-service" and len(stored) >= 64
    assert (method, path) == ("POST", "/admin/clients") and body["client_secret"] == stored


def test_a_failed_create_leaves_the_stored_secret_for_the_next_run_to_replace(moto_session):
    secrets = moto_session.client("secretsmanager")
    store = store_secret(secrets, "dev")
    with pytest.raises(AdminError, match="creating reporting-service answered HTTP 500"):
        apply(RecordingAdmin([], post_status=500), [validate_client(SERVICE)], on_secret=store)
    first = secrets.get_secret_value(SecretId=secret_name("dev", "reporting-service"))["SecretString"]
    events: list = []
    apply(RecordingAdmin(events), [validate_client(SERVICE)], on_secret=store)
    second = secrets.get_secret_value(SecretId=secret_name("dev", "reporting-service"))["SecretString"]
    assert second != first and events[0][2]["client_secret"] == second, "Hydra and the secret store agree"


def test_a_confidential_client_without_a_place_for_its_secret_is_not_created():
    events: list = []
    with pytest.raises(AdminError, match="reporting-service is confidential"):
        apply(RecordingAdmin(events), [validate_client(SERVICE)])
    assert events == []


def test_the_deploy_time_handler_applies_the_file_and_stores_new_secrets(moto_session):
    secrets = moto_session.client("secretsmanager")
    events: list = []
    event = {"RequestType": "Create", "ResourceProperties": {
        "Clients": json.dumps({"clients": [FIXED, SERVICE]}), "Environment": "dev", "AdminUrl": "http://admin:4445",
        "Prune": "false"}}
    response = on_event(event, secrets=secrets, admin=RecordingAdmin(events))
    assert response == {"PhysicalResourceId": "hydra-clients",
                        "Data": {"Created": "my-frontend-app,reporting-service", "Updated": ""}}
    posted = {body["client_id"]: body for method, _, body in events if method == "POST"}
    assert "client_secret" not in posted["my-frontend-app"], "a public client has no secret"
    stored = secrets.get_secret_value(SecretId=secret_name("dev", "reporting-service"))["SecretString"]
    assert posted["reporting-service"]["client_secret"] == stored
    bad = {**event, "ResourceProperties": {**event["ResourceProperties"],
                                           "Clients": json.dumps({"clients": [GUIDE]})}}
    with pytest.raises(ClientError, match="clients/dev.json: client 'my-frontend-app'"):
        on_event(bad, secrets=secrets, admin=RecordingAdmin([]))


def test_deleting_the_stack_leaves_the_clients():
    events: list = []
    assert on_event({"RequestType": "Delete", "PhysicalResourceId": "hydra-clients", "ResourceProperties": {}},
                    admin=RecordingAdmin(events)) == {"PhysicalResourceId": "hydra-clients"}
    assert events == []
