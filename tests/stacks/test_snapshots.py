"""Snapshots: every stack in dev and prod, deterministic across runs and machines.

Nothing is masked: the functions' asset hash is the fingerprint of what goes into it (file names
and bytes of the code, the CA bundle and the pinned requirements; not paths, times or modes), so a
change to Lambda code or its bundled dependencies shows in the snapshot diff. Update on purpose
only: `make snapshot-update` (pytest --snapshot-update), then read the diff of
tests/stacks/__snapshots__ as a reviewer would.
"""

from __future__ import annotations

import json
import shutil

import aws_cdk as cdk
import pytest
from syrupy.extensions.json import JSONSnapshotExtension

from app import build_app
from hydra_constructs import functions
from hydra_constructs.functions import HydraFunction

from tests.conftest import PARTS, context_for, synthesize


def canonical(template: dict) -> dict:
    return json.loads(json.dumps(template, sort_keys=True))


@pytest.fixture
def snapshot_json(snapshot):
    return snapshot.use_extension(JSONSnapshotExtension)


@pytest.mark.parametrize("env", ["dev", "prod"])
@pytest.mark.parametrize("part", PARTS)
def test_stack_matches_its_reviewed_snapshot(env, part, snapshot_json):
    assert canonical(synthesize(env).templates[part]) == snapshot_json


def _function_s3_key() -> str:
    """The S3 key of one HydraFunction's code, in a stack of its own."""
    app = cdk.App()
    stack = cdk.Stack(app, "One")
    HydraFunction(stack, "Fn", handler="hydra_functions.dsn.compose_dsn", description="x", log_retention_days=1)
    [function] = [r for r in app.synth().get_stack_by_name("One").template["Resources"].values()
                  if r["Type"] == "AWS::Lambda::Function"]
    return function["Properties"]["Code"]["S3Key"]


def test_the_code_s3_key_follows_the_asset_fingerprint(dev, monkeypatch):
    ours = {r["Properties"]["Code"]["S3Key"] for t in dev.templates.values() for r in t["Resources"].values()
            if r["Type"] == "AWS::Lambda::Function" and r["Properties"].get("Handler", "").startswith("hydra_")}
    assert ours == {_function_s3_key()}, "every function shares the one asset"
    monkeypatch.setattr(functions, "asset_fingerprint", lambda: "0" * 64)
    monkeypatch.setattr(functions, "bundle", lambda fingerprint=None: functions.PACKAGE_DIR)
    assert _function_s3_key() not in ours


@pytest.mark.parametrize("changed", ["hydra_functions/dsn.py", "hydra_functions/rds-ca-bundle.pem",
                                     "requirements.txt"])
def test_the_fingerprint_covers_code_ca_bundle_and_pinned_requirements(tmp_path, monkeypatch, changed):
    before = functions.asset_fingerprint()
    copy = tmp_path / "functions"
    shutil.copytree(functions.FUNCTIONS_DIR, copy, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    monkeypatch.setattr(functions, "FUNCTIONS_DIR", copy)
    monkeypatch.setattr(functions, "PACKAGE_DIR", copy / "hydra_functions")
    monkeypatch.setattr(functions, "REQUIREMENTS", copy / "requirements.txt")
    assert functions.asset_fingerprint() == before, "the same content gives the same fingerprint anywhere"
    (copy / changed).write_text((copy / changed).read_text() + "\n# one more line\n")
    assert functions.asset_fingerprint() != before


@pytest.mark.synth_heavy
@pytest.mark.parametrize("env", ["dev", "prod"])
def test_synthesis_is_deterministic(env):
    first = synthesize(env).templates
    second = build_app(context_for(env)).synth()
    for part in PARTS:
        again = second.get_stack_by_name(f"Hydra-{env}-{part}").template
        assert canonical(again) == canonical(first[part]), f"{env} {part} differs between two syntheses"
