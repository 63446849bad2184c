"""The pull-request workflow cannot run here: it is kept correct by actionlint and by these checks."""

from __future__ import annotations

import subprocess

import pytest
import yaml

from tests.conftest import ROOT

WORKFLOW = ROOT / ".github" / "workflows" / "pull-request.yml"
ACTIONLINT = ROOT / ".cache" / "bin" / "actionlint"


def actionlint(path) -> subprocess.CompletedProcess:
    if not ACTIONLINT.exists():
        pytest.fail("actionlint is missing: `make install` builds it from tools/actionlint (needs Go)")
    return subprocess.run([str(ACTIONLINT), "-no-color", str(path)], capture_output=True, text=True, cwd=ROOT)


def test_actionlint_finds_nothing():
    result = actionlint(WORKFLOW)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_catches_a_broken_workflow(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text(WORKFLOW.read_text().replace("if: env.FROM_FORK == 'false'",
                                                   "if: steps.nowhere.outputs.ok == 'true'"))
    result = actionlint(broken)
    assert result.returncode != 0 and "nowhere" in result.stdout


def steps() -> list[dict]:
    return yaml.safe_load(WORKFLOW.read_text())["jobs"]["review"]["steps"]


def test_runs_the_readme_test_command_and_synthesizes_and_lints_every_environment():
    runs = "\n".join(s.get("run", "") for s in steps())
    assert "make test" in runs
    assert 'make synth ENV="$env"' in runs and '["hydra:environments"]' in runs
    assert "make exposure > exposure.md" in runs


def test_steps_that_cannot_run_skip_with_a_reason():
    by_name = {s["name"]: s for s in steps() if "name" in s}
    diff = by_name["cdk diff summary"]["run"]
    assert "cdk diff skipped: it needs AWS credentials" in diff and "exit 0" in diff
    assert by_name["AWS credentials for cdk diff"]["if"] == "env.DIFF_ROLE_ARN != '' && env.FROM_FORK == 'false'"
    assert by_name["Post the review comment"]["if"] == "env.FROM_FORK == 'false'"
    assert "read-only" in by_name["Report in the job summary (forks cannot comment)"]["run"]
