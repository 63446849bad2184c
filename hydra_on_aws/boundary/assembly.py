"""Templates from a cloud assembly: what `cdk synth` wrote, or a fresh synthesis in a child process.

The analysis reads templates, never the app: :func:`synthesize` runs ``app.py`` the way the CDK
CLI does (context in ``CDK_CONTEXT_JSON``, output in ``CDK_OUTDIR``) and reads what it wrote.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


class SynthesisFailed(RuntimeError):
    """The app did not synthesize; the message is what it printed."""


def read_assembly(outdir: Path) -> dict[str, dict]:
    """Every stack's template in the cloud assembly at ``outdir``, by stack name."""
    manifest = json.loads((outdir / "manifest.json").read_text())
    templates = {}
    for artifact in manifest.get("artifacts", {}).values():
        if artifact.get("type") == "aws:cloudformation:stack":
            name = artifact.get("properties", {}).get("stackName") or artifact["displayName"]
            templates[name] = json.loads((outdir / artifact["properties"]["templateFile"]).read_text())
    return templates


def synthesize(context: dict, *, app: Path = ROOT / "app.py") -> dict[str, dict]:
    """Synthesize ``app`` with ``context`` in a child process; its templates by stack name."""
    with tempfile.TemporaryDirectory(prefix="hydra-assembly-") as outdir:
        result = subprocess.run([sys.executable, str(app)], cwd=app.parent, capture_output=True, text=True,
                                env={**os.environ, "CDK_OUTDIR": outdir, "CDK_CONTEXT_JSON": json.dumps(context)})
        if result.returncode != 0:
            raise SynthesisFailed((result.stderr or result.stdout).strip()[-4000:])
        return read_assembly(Path(outdir))
