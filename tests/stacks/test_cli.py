"""The real CDK CLI synthesizes offline, with no AWS account or credentials."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.cli
CDK = ROOT / "node_modules" / ".bin" / "cdk"


def cdk(*args: str, tmp_path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") or k == "AWS_CA_BUNDLE"}
    env.update(AWS_EC2_METADATA_DISABLED="true", HOME=str(tmp_path),  # no ~/.aws, no cached credentials
               AWS_CONFIG_FILE=str(tmp_path / "none"), AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"))
    return subprocess.run([str(CDK), *args, "--no-notices", "-o", str(tmp_path / "out")], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def test_cdk_synth_works_without_credentials(tmp_path):
    # One smoke test per path through the CLI (success, bad setting, guard): the in-process
    # syntheses cover every environment.
    env_name = "prod"
    result = cdk("synth", "--quiet", "-c", f"env={env_name}", tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    stacks = sorted(k for k, v in manifest["artifacts"].items() if v["type"] == "aws:cloudformation:stack")
    assert stacks == [f"Hydra-{env_name}-{p}" for p in ("Ingress", "Operations", "Service", "Stateful")]
    for name in stacks:
        assert manifest["artifacts"][name]["environment"] == "aws://unknown-account/unknown-region"


def test_cdk_synth_stops_on_a_bad_setting(tmp_path):
    result = cdk("synth", "--quiet", "-c", "env=staging", tmp_path=tmp_path)
    assert result.returncode != 0
    assert "configuration error: env: got 'staging'; expected one of dev, prod" in result.stderr


def test_cdk_synth_exits_non_zero_when_the_admin_port_is_exposed(tmp_path):
    import sys
    result = cdk("synth", "--quiet", "--app", f"{sys.executable} tests/support/exposed_app.py", tmp_path=tmp_path)
    assert result.returncode != 0
    assert "[AdminApiGuard] [admin-port-ingress] Hydra-dev-Ingress/LoadBalancers/HydraTasksSecurityGroup/Resource: " \
           "tcp 4445 into" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out" / "Hydra-dev-Ingress.template.json").exists()
