"""Every Lambda runtime the templates would deploy, against Lambda's deprecation dates.

A runtime is read from each ``AWS::Lambda::Function`` and ``AWS::Serverless::Function``, and from
what transforms and applications deploy out of sight: a hosted rotation
(``AWS::SecretsManager-2024-09-16`` with ``HostedRotationLambda``) deploys a function whose
runtime the template never names (:data:`HIDDEN`, with its source). A Serverless Application
Repository application is opaque: its runtimes are unknown, which fails the check.

The dates are cfn-lint's table of Lambda's runtime lifecycle (``LmbdRuntimeLifecycle.json``: the
day each runtime is deprecated, blocked for create and blocked for update), the one its own rules
use. A runtime fails when it could not be created within :data:`HORIZON_DAYS` days of the
reference date (``HYDRA_RUNTIME_REFERENCE_DATE``, default today), so a red run can be reproduced.
"""

from __future__ import annotations

import datetime
import json
import os
from dataclasses import dataclass
from importlib import resources as package_data

HORIZON_DAYS = 180
# What transforms deploy without naming it in the template, with where we know it from.
HIDDEN = {
    ("AWS::SecretsManager-2024-09-16", "HostedRotationLambda"): (
        "python3.10",
        "aws-cdk-lib 2.275 CfnRotationSchedule.HostedRotationLambdaProperty.runtime: 'By default, "
        "CloudFormation deploys Python 3.10 binaries for the rotation function'; aws/aws-cdk#37462"),
}


@dataclass(frozen=True)
class Deployed:
    where: str
    runtime: str | None   # None: cannot be known (an application from the Serverless Application Repository)
    source: str = "the template"


def lifecycle() -> dict[str, dict[str, str]]:
    """cfn-lint's table: runtime -> {deprecated, create-block, update-block, successor}."""
    return json.loads(package_data.files("cfnlint.data.AdditionalSpecs").joinpath(
        "LmbdRuntimeLifecycle.json").read_text())


def reference_date() -> datetime.date:
    given = os.environ.get("HYDRA_RUNTIME_REFERENCE_DATE")
    return datetime.date.fromisoformat(given) if given else datetime.date.today()


def deployed_runtimes(templates: dict[str, dict]) -> list[Deployed]:
    found = []
    for stack, template in templates.items():
        transforms = template.get("Transform") or []
        transforms = [transforms] if isinstance(transforms, str) else transforms
        for logical_id, resource in (template.get("Resources") or {}).items():
            kind, properties = resource.get("Type"), resource.get("Properties") or {}
            where = (resource.get("Metadata") or {}).get("aws:cdk:path") or f"{stack}/{logical_id}"
            if kind in ("AWS::Lambda::Function", "AWS::Serverless::Function"):
                if properties.get("PackageType") == "Image":
                    continue  # the image brings its own runtime
                runtime = properties.get("Runtime") or \
                    ((template.get("Globals") or {}).get("Function") or {}).get("Runtime")
                found.append(Deployed(where, runtime if isinstance(runtime, str) else None))
            elif kind == "AWS::Serverless::Application":
                found.append(Deployed(where, None, "a Serverless Application Repository application"))
            elif kind == "AWS::SecretsManager::RotationSchedule" and "HostedRotationLambda" in properties:
                for transform in transforms:
                    hidden = HIDDEN.get((transform, "HostedRotationLambda"))
                    if hidden:
                        runtime = properties["HostedRotationLambda"].get("Runtime") or hidden[0]
                        found.append(Deployed(f"{where} (hosted rotation)", runtime, hidden[1]))
    return found


def problems(deployed: list[Deployed], on: datetime.date | None = None) -> list[str]:
    on = on or reference_date()
    horizon = on + datetime.timedelta(days=HORIZON_DAYS)
    table = lifecycle()
    found = []
    for item in deployed:
        if item.runtime is None:
            found.append(f"{item.where}: its runtime cannot be known ({item.source})")
            continue
        dates = table.get(item.runtime)
        if dates is None:
            if item.runtime.startswith(("python", "nodejs", "java", "dotnet", "ruby", "provided", "go")):
                found.append(f"{item.where}: {item.runtime} is not in Lambda's runtime table")
            continue
        blocked = datetime.date.fromisoformat(dates["create-block"])
        if blocked <= horizon:
            found.append(f"{item.where}: {item.runtime} ({item.source}) cannot be created from {blocked} "
                         f"(deprecated {dates['deprecated']}, updates blocked from {dates['update-block']}); "
                         f"successor {dates.get('successor')}")
    return found
