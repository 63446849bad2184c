"""The first layout's commands keep working: each `hydra_stack.<name>` forwards to where the code lives."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

from tests.conftest import ROOT

MOVED = {
    "verify": "hydra_on_aws.boundary.verify",
    "exposure": "hydra_on_aws.boundary.exposure",
    "clients": "hydra_on_aws.ops.clients",
    "envrc": "hydra_on_aws.ops.envrc",
    "system_secret": "hydra_on_aws.ops.system_secret",
    "local": "hydra_on_aws.local.stack",
    "login_app": "hydra_on_aws.local.login_app",
    "resource_server": "hydra_on_aws.tokens.resource_server",
    "bench": "devtools.bench",
    "docs": "devtools.docs",
}


@pytest.mark.parametrize("old, new", sorted(MOVED.items()))
def test_each_old_command_runs_the_moved_main(old, new):
    assert importlib.import_module(f"hydra_stack.{old}").main is importlib.import_module(new).main


def test_python_dash_m_on_an_old_name_still_runs_the_command():
    result = subprocess.run([sys.executable, "-m", "hydra_stack.clients", "validate", "--env", "dev"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("clients/dev.json: ")


def test_resource_servers_importing_the_old_token_module_get_the_same_validator():
    from hydra_on_aws.tokens.validator import InvalidToken, TokenValidator
    from hydra_stack.tokens import InvalidToken as OldInvalidToken, TokenValidator as OldTokenValidator
    assert (OldTokenValidator, OldInvalidToken) == (TokenValidator, InvalidToken)
