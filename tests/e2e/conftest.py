"""One deployed-shape local stack for the OAuth2 modules (the flow and the negative cases): Hydra
configured by the synthesized dev task definition, the dev clients applied with the project's tool."""

from __future__ import annotations

import pytest
import requests

from hydra_functions.clients import AdminApi, apply
from hydra_on_aws.config.clients import load_clients
from hydra_on_aws.local.postgres import PostgresUnavailable
from hydra_on_aws.local.stack import LocalStack, LocalStackError, task_environment

from tests.conftest import synthesize
from tests.e2e.flow import ALICE, BOB, MALLORY, trusting


@pytest.fixture(scope="session")
def stack():
    environment = task_environment(synthesize("dev").templates["Service"])
    local = LocalStack(users=[ALICE, BOB, MALLORY], synthesized=environment)
    try:
        local.start()
    except (LocalStackError, PostgresUnavailable) as error:
        local.stop()
        pytest.fail(f"the local Hydra stack could not be started: {error}")
    apply(AdminApi(local.admin_url), load_clients("dev"))
    yield local
    local.stop()


@pytest.fixture
def browser(stack):
    return trusting(requests.Session(), stack)



@pytest.fixture
def forgetful(stack):
    """For tests that tick "remember" as Bob or Mallory: Hydra forgets their logins and consents after
    the test, so the next test sees the pages again."""
    yield
    admin = AdminApi(stack.admin_url)
    for user in (BOB, MALLORY):
        admin.request("DELETE", f"/admin/oauth2/auth/sessions/login?subject={user.subject}")
        admin.request("DELETE", f"/admin/oauth2/auth/sessions/consent?subject={user.subject}&all=true")
