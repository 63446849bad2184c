"""Scanners: cdk-nag AwsSolutions with zero unacknowledged findings, cfn-lint with zero errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from aws_cdk import aws_s3 as s3
from cdk_nag import AwsSolutionsChecks

from app import build_app

from tests.conftest import PARTS, ROOT, context_for

# cfn-lint findings CDK itself produces and we accept, with the reason.
ACCEPTED_CFN_LINT = {
    "W3005": "CDK adds DependsOn next to Ref/GetAtt for ordering it needs; redundant, harmless",
}


def nag_report(stack) -> list[str]:
    report = AwsSolutionsChecks().validate_scope(stack)
    return [f"{v.rule_name} at {[r.construct_path for r in v.violating_resources]}" for v in report.violations]


@pytest.mark.parametrize("part", PARTS)
def test_cdk_nag_finds_nothing_unacknowledged(synth, part):
    assert nag_report(synth.stack(part)) == []


def test_cdk_nag_reports_a_finding_nobody_acknowledged():
    """The check above can fail: an unencrypted, unlogged bucket in the real app is reported."""
    app = build_app(context_for("dev"))
    stack = app.node.find_child("Hydra-dev-Ingress")
    s3.Bucket(stack, "CarelessBucket", enforce_ssl=False)
    findings = nag_report(stack)
    assert any(f.startswith("AwsSolutions-S1 ") and "CarelessBucket" in f for f in findings), findings
    assert any(f.startswith("AwsSolutions-S10 ") for f in findings), findings


def acknowledgments(stack) -> dict[str, dict[str, str]]:
    """Construct path -> {rule id: reason}, as CDK records Validations.acknowledge() (our own acks
    carry the 'Annotation::' namespace, which is dropped here)."""
    found: dict[str, dict[str, str]] = {}
    for construct in stack.node.find_all():
        for entry in construct.node.metadata:
            if entry.type == "aws:cdk:acknowledged-rules" and entry.data:
                found.setdefault(construct.node.path, {}).update(
                    {rule.removeprefix("Annotation::"): reason for rule, reason in entry.data.items()})
    return found


def test_every_acknowledgment_gives_a_specific_reason(synth):
    ours = 0
    for part in PARTS:
        for path, rules in acknowledgments(synth.stack(part)).items():
            for rule, reason in rules.items():
                if not rule.startswith(("AwsSolutions-", "AwsSolutions::")):
                    continue  # CDK's own acknowledgments of its built-in template checks
                assert len(reason) >= 60, f"{path} {rule}: say why, for this system: {reason!r}"
                ours += 1
    assert ours >= 20, "the acknowledgments were not found: is the metadata format still the same?"


def cfn_lint(paths: list[Path]) -> list[dict]:
    cfn_lint_bin = Path(sys.executable).parent / "cfn-lint"
    result = subprocess.run([str(cfn_lint_bin), "--format", "json", *map(str, paths)],
                            capture_output=True, text=True, cwd=ROOT)
    # Exit codes are a bit mask of error (2), warning (4) and informational (8) findings.
    assert result.returncode < 16, result.stderr
    return json.loads(result.stdout or "[]")


@pytest.mark.scanner
def test_cfn_lint_finds_no_errors(tmp_path, dev, prod, dev_domain):
    paths = []
    for name, synth in (("dev", dev), ("prod", prod), ("dev-domain", dev_domain)):
        for part, template in synth.templates.items():
            path = tmp_path / f"{name}-{part}.template.json"
            path.write_text(json.dumps(template))
            paths.append(path)
    findings = cfn_lint(paths)
    unexpected = [f"{f['Rule']['Id']} {Path(f['Filename']).name}: {f['Message']}"
                  for f in findings if f["Rule"]["Id"] not in ACCEPTED_CFN_LINT]
    assert unexpected == []


@pytest.mark.scanner
def test_cfn_lint_would_catch_a_broken_template(tmp_path):
    broken = {"Resources": {"Sg": {"Type": "AWS::EC2::SecurityGroup",
                                   "Properties": {"GroupDescription": "it's", "VpcId": "vpc-1",
                                                  "SecurityGroupIngress": [{"IpProtocol": "tcp",
                                                                            "FromPort": "x"}]}}}}
    path = tmp_path / "broken.template.json"
    path.write_text(json.dumps(broken))
    assert [f for f in cfn_lint([path]) if f["Level"] == "Error"]


# ------------------------------------- Lambda code: stdlib, boto3, the pins ---

LAMBDA_RUNTIME_PACKAGES = {"boto3", "botocore"}  # what the Lambda Python runtime provides besides the stdlib


def pinned_requirements() -> dict[str, str]:
    """functions/requirements.txt: distribution name -> version."""
    pins = {}
    for line in (ROOT / "functions" / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, rest = line.partition("==")
            pins[name.strip().lower()] = rest.split()[0]
    return pins


def bundled_modules() -> set[str]:
    """Top-level modules in the functions' asset besides our package: what the pins bring."""
    from hydra_constructs.functions import bundle
    return {p.name.removesuffix(".py") for p in bundle().iterdir()
            if not p.name.endswith(".dist-info") and p.name != "hydra_functions"}


def third_party_imports(source: str, allowed: set[str]) -> set[str]:
    """Top-level modules a Python source imports that are neither the stdlib nor ``allowed``."""
    import ast
    import sys
    found = set()
    for node in ast.walk(ast.parse(source)):
        names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                 else [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module else [])
        for name in names:
            top = name.split(".")[0]
            if top not in sys.stdlib_module_names and top not in allowed | {"hydra_functions"}:
                found.add(top)
    return found


def test_lambda_code_needs_nothing_but_the_stdlib_boto3_and_the_bundled_pins():
    # A third-party import neither the runtime nor the bundle provides would fail in AWS only.
    allowed = LAMBDA_RUNTIME_PACKAGES | bundled_modules()
    assert {"pg8000", "scramp"} <= allowed
    sources = sorted((ROOT / "functions").rglob("*.py"))
    assert sources
    assert {str(p.relative_to(ROOT)): third_party_imports(p.read_text(), allowed) for p in sources} == {
        str(p.relative_to(ROOT)): set() for p in sources}
    assert third_party_imports("import json, boto3, pg8000\nfrom requests import get\nimport jwt.algorithms",
                               allowed) == {"requests", "jwt"}


def test_the_tests_run_the_versions_the_functions_bundle():
    from importlib.metadata import version
    for name, pinned in pinned_requirements().items():
        assert version(name) == pinned, f"{name}: requirements-dev.txt and functions/requirements.txt disagree"
