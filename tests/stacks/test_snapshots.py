"""Snapshots: every stack in dev and prod, asset hashes masked, deterministic across runs.

Update on purpose only: `make snapshot-update` (pytest --snapshot-update), then
read the diff of tests/__snapshots__ as a reviewer would.
"""

from __future__ import annotations

import json
import re

import pytest
from syrupy.extensions.json import JSONSnapshotExtension

from app import build_app

from tests.conftest import PARTS, context_for, synthesize

ASSET_HASH = re.compile(r"\b[0-9a-f]{64}\b")


def masked(template: dict) -> dict:
    return json.loads(ASSET_HASH.sub("<asset-hash>", json.dumps(template, sort_keys=True)))


@pytest.fixture
def snapshot_json(snapshot):
    return snapshot.use_extension(JSONSnapshotExtension)


@pytest.mark.parametrize("env", ["dev", "prod"])
@pytest.mark.parametrize("part", PARTS)
def test_stack_matches_its_reviewed_snapshot(env, part, snapshot_json):
    assert masked(synthesize(env).templates[part]) == snapshot_json


def test_masking_hides_only_asset_hashes(dev):
    template = masked(dev.templates["Stateful"])
    composer = next(r for r in template["Resources"].values()
                    if r["Type"] == "AWS::Lambda::Function"
                    and r["Properties"].get("Handler") == "hydra_functions.dsn_composer.on_event")
    assert composer["Properties"]["Code"]["S3Key"] == "<asset-hash>.zip"
    assert "DatabaseCluster5B53A178" in template["Resources"], "logical ids are not masked"


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_synthesis_is_deterministic(env):
    first = synthesize(env).templates
    second = build_app(context_for(env)).synth()
    for part in PARTS:
        again = second.get_stack_by_name(f"Hydra-{env}-{part}").template
        assert masked(again) == masked(first[part]), f"{env} {part} differs between two syntheses"
