"""The .envrc generator, against stack outputs in moto."""

from __future__ import annotations

import pytest

from hydra_on_aws.ops import envrc
from hydra_on_aws.config.clients import load_clients

from tests.conftest import MOTO_REGION as REGION, stack_with_outputs
ISSUER = "https://abc123.execute-api.eu-west-1.amazonaws.com/dev/"
FORWARD = ("aws ssm start-session --region eu-west-1 --target i-0123456789abcdef0 --document-name "
           "AWS-StartPortForwardingSessionToRemoteHost --parameters '{\"host\":[\"internal-admin.elb.amazonaws.com\"],"
           "\"portNumber\":[\"4445\"],\"localPortNumber\":[\"4445\"]}'")


@pytest.fixture
def session(moto_session):
    return moto_session


def deploy_outputs(session) -> None:
    outputs = {"HydraPublicApi": ISSUER, "HydraAdminApi": "http://internal-admin.elb.amazonaws.com:4445",
               "AdminPortForwardCommand": FORWARD, "JwksUrl": ISSUER + ".well-known/jwks.json"}
    stack_with_outputs(session, "Hydra-dev-Ingress", outputs)


def test_exports_the_four_variables_and_the_port_forward(session):
    deploy_outputs(session)
    text = envrc.envrc(session, "dev", load_clients("dev"))
    exports = dict(line.removeprefix("export ").split("=", 1) for line in text.splitlines()
                   if line.startswith("export "))
    assert exports == {"HYDRA_CLIENT_ID": "my-frontend-app", "HYDRA_PUBLIC_API": ISSUER,
                       "HYDRA_CLIENT_REDIRECT_URI": "http://localhost:8000/oauth/callback",
                       "HYDRA_ADMIN_API": "http://localhost:4445"}
    assert text.splitlines()[-1] == f"# {FORWARD}"
    assert "internal-admin.elb.amazonaws.com:4445" not in exports["HYDRA_ADMIN_API"], "a laptop cannot reach it"
    assert "secret" not in text.lower().replace("(no secrets)", "")


def test_a_missing_stack_gives_one_line(session, capsys):
    assert envrc.main(["--env", "dev", "--region", REGION]) == 2
    assert capsys.readouterr().err == (f"cannot write the .envrc: stack Hydra-dev-Ingress does not exist in "
                                       f"{REGION}: deploy it first, or pass --region\n")


def test_an_unknown_client_is_named(session, capsys):
    deploy_outputs(session)
    assert envrc.main(["--env", "dev", "--region", REGION, "--client-id", "nobody"]) == 2
    assert "client 'nobody' is not declared" in capsys.readouterr().err
