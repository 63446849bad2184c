"""One Hydra version everywhere: the image the stacks deploy, the binary the tests run, the pins."""

from __future__ import annotations

import re

from hydra_on_aws.config import hydra
from hydra_on_aws.config.settings import settings_fields

from tests.conftest import ROOT


def test_the_default_image_is_the_pinned_version(dev, prod):
    [image] = [f.default for f in settings_fields() if f.name == "hydra_image"]
    assert image == f"oryd/hydra:{hydra.HYDRA_VERSION}" == hydra.DEFAULT_IMAGE
    for synth in (dev, prod):
        assert synth.config.hydra_image == hydra.DEFAULT_IMAGE, "cdk.json must not pin another version"
        images = {c["Image"] for t in synth.templates.values() for r in t["Resources"].values()
                  if r["Type"] == "AWS::ECS::TaskDefinition" for c in r["Properties"]["ContainerDefinitions"]}
        assert images == {hydra.DEFAULT_IMAGE}


def test_the_source_pin_is_the_tag_of_that_version():
    assert hydra.SOURCE_URL.endswith(f"/refs/tags/{hydra.HYDRA_VERSION}.tar.gz")
    assert hydra.SOURCE_PREFIX == f"hydra-{hydra.HYDRA_VERSION[1:]}"
    assert re.fullmatch(r"[0-9a-f]{40}", hydra.HYDRA_COMMIT) and re.fullmatch(r"[0-9a-f]{64}", hydra.SOURCE_TAR_SHA256)


def test_the_previous_version_is_what_tools_hydra_pins():
    go_mod = (ROOT / "tools" / "hydra" / "go.mod").read_text()
    assert f"github.com/ory/hydra/v2 {hydra.PREVIOUS_VERSION} " in go_mod
    assert hydra.PREVIOUS_VERSION != hydra.HYDRA_VERSION
