"""The Amazon RDS CA bundle beside this code (``rds-ca-bundle.pem``, made by `python -m devtools.rds_ca`)."""

from __future__ import annotations

import re
from pathlib import Path

RDS_CA_BUNDLE = Path(__file__).resolve().parent / "rds-ca-bundle.pem"


def bundle_regions(bundle: Path = RDS_CA_BUNDLE) -> set[str]:
    """The regions the bundle has a root for (from its 'Amazon RDS <region> Root CA' names)."""
    return set(re.findall(r"^# Amazon RDS ([a-z]{2}(?:-[a-z]+)+-\d) Root CA", bundle.read_text(), re.M))
