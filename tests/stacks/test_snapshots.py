"""Snapshots: every stack in dev and prod, deterministic across runs and machines.

Nothing is masked: an asset's hash is the fingerprint of its content (file names and bytes, not
paths, times or modes), so a change to Lambda code shows in the snapshot diff. Update on purpose
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
from hydra_constructs.functions import FUNCTIONS_DIR, FUNCTIONS_EXCLUDE

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


def test_a_change_to_lambda_code_changes_the_templates(dev, tmp_path):
    fingerprint = cdk.FileSystem.fingerprint(str(FUNCTIONS_DIR), exclude=list(FUNCTIONS_EXCLUDE))
    composer = next(r for r in dev.templates["Stateful"]["Resources"].values()
                    if r["Type"] == "AWS::Lambda::Function"
                    and r["Properties"].get("Handler") == "hydra_functions.dsn_composer.on_event")
    assert composer["Properties"]["Code"]["S3Key"] == f"{fingerprint}.zip"
    copy = tmp_path / "functions"
    shutil.copytree(FUNCTIONS_DIR, copy, ignore=shutil.ignore_patterns(*FUNCTIONS_EXCLUDE))
    module = copy / "hydra_functions" / "dsn.py"
    module.write_text(module.read_text() + "\n# one more line\n")
    assert cdk.FileSystem.fingerprint(str(copy), exclude=list(FUNCTIONS_EXCLUDE)) != fingerprint


@pytest.mark.synth_heavy
@pytest.mark.parametrize("env", ["dev", "prod"])
def test_synthesis_is_deterministic(env):
    first = synthesize(env).templates
    second = build_app(context_for(env)).synth()
    for part in PARTS:
        again = second.get_stack_by_name(f"Hydra-{env}-{part}").template
        assert canonical(again) == canonical(first[part]), f"{env} {part} differs between two syntheses"
