"""The synthesis guard: no app in which the admin port is reachable from outside synthesizes.

It is a node validation on the app, so ``app.synth()`` raises (and `cdk synth`
exits non-zero) whenever :func:`hydra_on_aws.boundary.trust_boundary.check` finds a
violation; error annotations alone would not stop ``app.synth()`` or
``Template.from_stack``. It analyses the real templates: each stack's template
is rendered the way synthesis renders it (escape-hatch overrides included),
after CDK has resolved cross-stack references.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import aws_cdk as cdk
import jsii
from aws_cdk import cx_api
from constructs import Construct, IValidation

from hydra_on_aws.config.settings import HydraConfig
from hydra_on_aws.boundary.from_templates import network_from_templates
from hydra_on_aws.boundary.templates import AppTemplates
from hydra_on_aws.boundary.trust_boundary import Network, check

GUARD_ID = "AdminApiGuard"


@jsii.implements(cdk.ISynthesisSession)
class _Session:
    def __init__(self, outdir: str) -> None:
        self._outdir = outdir
        self._assembly = cx_api.CloudAssemblyBuilder(outdir)

    @property
    def outdir(self) -> str:
        return self._outdir

    @property
    def assembly(self) -> cx_api.CloudAssemblyBuilder:
        return self._assembly

    @property
    def validate_on_synth(self) -> bool:
        return False


def _render(stacks: list[cdk.Stack]) -> dict[str, dict]:
    with tempfile.TemporaryDirectory(prefix="hydra-guard-") as outdir:
        session = _Session(outdir)
        templates = {}
        for stack in stacks:
            stack.synthesizer._synthesize_template(session)
            templates[stack.stack_name] = json.loads((Path(outdir) / stack.template_file).read_text())
    return templates


def render_templates(app: Construct) -> dict[str, dict]:
    """Every stack's template, by stack name, exactly as synthesis writes it.

    The app's children are its stacks as this app is built, found without a jsii call per
    construct; a stage, or a nested stack in any template, takes the full walk, which finds every
    stack at any depth (nested stacks included)."""
    children = app.node.children
    templates = _render([c for c in children if cdk.Stack.is_stack(c)])
    nested = any(r.get("Type") == "AWS::CloudFormation::Stack"
                 for t in templates.values() for r in (t.get("Resources") or {}).values())
    if nested or any(cdk.Stage.is_stage(c) for c in children):
        templates = _render([c for c in app.node.find_all() if cdk.Stack.is_stack(c)])
    return templates


def app_network(app: Construct, config: HydraConfig) -> Network:
    return network_from_templates(AppTemplates(render_templates(app)), config)


@jsii.implements(IValidation)
class _AdminApiValidation:
    def __init__(self, app: Construct, config: HydraConfig) -> None:
        self._app = app
        self._config = config

    def validate(self) -> list[str]:
        return [v.message() for v in check(app_network(self._app, self._config))]


def install_guard(app: cdk.App, config: HydraConfig) -> Construct:
    """Attach the guard to ``app``; its errors read ``[AdminApiGuard] [rule] <construct path>: ...``."""
    holder = Construct(app, GUARD_ID)
    holder.node.add_validation(_AdminApiValidation(app, config))
    return holder
