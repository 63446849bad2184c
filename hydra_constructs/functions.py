"""Lambda functions built from ``functions/``: our code plus pinned pure-Python wheels, bundled locally.

The asset is ``functions/hydra_functions`` with the packages of ``functions/requirements.txt``
installed beside it by pip from the wheels `make install` downloaded into ``.cache/wheels``
(``--no-index --require-hashes``): no network and no Docker at synthesis. Its hash is the
fingerprint of exactly what goes in (the code, the CA bundle and the pinned requirements), so
the templates, and the snapshots, change whenever any of them does.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Sequence

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import CustomResource, Duration, RemovalPolicy, aws_ec2 as ec2, aws_lambda as lambda_, aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import custom_resources as cr
from constructs import Construct, IConstruct

from ._util import LAMBDA_BASIC_EXECUTION, LAMBDA_VPC_ACCESS, acknowledge, kept_in_production, nag_ref, retention

ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS_DIR = ROOT / "functions"
PACKAGE_DIR = FUNCTIONS_DIR / "hydra_functions"
REQUIREMENTS = FUNCTIONS_DIR / "requirements.txt"
WHEELS = ROOT / ".cache" / "wheels"
BUNDLES = ROOT / ".cache" / "lambda-bundles"
RUNTIME = lambda_.Runtime.PYTHON_3_14


class BundlingFailed(RuntimeError):
    """The functions' asset could not be built; the message says what to run."""


def _inputs() -> list[Path]:
    """What the asset is made of: the package's files (no caches) and the pinned requirements."""
    files = [p for p in PACKAGE_DIR.rglob("*") if p.is_file() and "__pycache__" not in p.parts
             and p.suffix != ".pyc"]
    return sorted(files) + [REQUIREMENTS]


def asset_fingerprint() -> str:
    """sha256 over the relative paths and bytes of :func:`_inputs`: the asset's hash."""
    digest = hashlib.sha256()
    for path in _inputs():
        digest.update(str(path.relative_to(FUNCTIONS_DIR)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def bundle(fingerprint: str | None = None) -> Path:
    """The asset's folder, built once per fingerprint into .cache/lambda-bundles (reused by every
    synthesis and every function)."""
    fingerprint = fingerprint or asset_fingerprint()
    target = BUNDLES / fingerprint
    if target.exists():
        return target
    if not WHEELS.is_dir():
        raise BundlingFailed(f"no wheels in {WHEELS}: run `make install` (it downloads the pinned wheels of "
                             f"{REQUIREMENTS.relative_to(ROOT)} once)")
    BUNDLES.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".bundle-", dir=BUNDLES))
    try:
        shutil.copytree(PACKAGE_DIR, staging / PACKAGE_DIR.name,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        result = subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-index",
             "--find-links", str(WHEELS), "--require-hashes", "-r", str(REQUIREMENTS), "--target", str(staging),
             "--no-compile", "--no-deps", "--only-binary=:all:", "--platform", "any",
             "--python-version", RUNTIME.name.removeprefix("python"), "--implementation", "py"],
            capture_output=True, text=True)
        if result.returncode != 0:
            raise BundlingFailed(f"pip could not install {REQUIREMENTS.relative_to(ROOT)} from {WHEELS} "
                                 f"(run `make install`): {result.stderr.strip()[-1500:]}")
        try:
            staging.rename(target)
        except OSError:  # built meanwhile by another synthesis
            if not target.exists():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


@jsii.implements(ILocalBundling)
class _LocalBundling:
    def __init__(self, fingerprint: str) -> None:
        self._fingerprint = fingerprint

    def try_bundle(self, output_dir: str, *args, **kwargs) -> bool:
        shutil.copytree(bundle(self._fingerprint), output_dir, dirs_exist_ok=True)
        return True


def functions_code() -> lambda_.Code:
    """The one asset every function shares, bundled on this machine (never in Docker)."""
    fingerprint = asset_fingerprint()
    return lambda_.Code.from_asset(
        str(FUNCTIONS_DIR), asset_hash_type=AssetHashType.CUSTOM, asset_hash=fingerprint,
        bundling=BundlingOptions(
            # Required by the API, never pulled: local bundling always succeeds or raises.
            image=DockerImage.from_registry("local-bundling-only"), local=_LocalBundling(fingerprint)))


class HydraFunction(Construct):
    """A Python function from ``functions/``; with a VPC, it gets a security group of its own.

    Provides ``function`` and, in a VPC, ``security_group`` (no inbound rules;
    outbound 443 only, plus whatever callers open through ``connections``).
    Invariant: the function's log group has the environment's retention.
    """

    def __init__(self, scope: Construct, construct_id: str, *, handler: str, description: str,
                 log_retention_days: int, vpc: ec2.IVpc | None = None, subnets: ec2.SubnetSelection | None = None,
                 timeout: Duration = Duration.minutes(5), environment: dict[str, str] | None = None,
                 production: bool = False, security_group: ec2.SecurityGroup | None = None) -> None:
        super().__init__(scope, construct_id)
        self.security_group: ec2.SecurityGroup | None = security_group
        if vpc is not None and security_group is None:
            self.security_group = ec2.SecurityGroup(
                self, "SecurityGroup", vpc=vpc, allow_all_outbound=False,
                # EC2 accepts only a restricted character set in group descriptions.
                description=re.sub(r"[^a-zA-Z0-9. _\-:/()#,@\[\]+=&;{}!$*]", "", description)
                + " - no inbound, HTTPS out to AWS APIs")
            self.security_group.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "AWS APIs over HTTPS")
        log_group = logs.LogGroup(
            self, "Logs", retention=retention(log_retention_days),
            removal_policy=kept_in_production(production))
        self.function = lambda_.Function(
            self, "Function",
            runtime=RUNTIME,
            architecture=lambda_.Architecture.ARM_64,
            code=functions_code(),
            handler=handler,
            description=description,
            timeout=timeout,
            memory_size=256,
            vpc=vpc,
            vpc_subnets=subnets if vpc is not None else None,
            security_groups=[self.security_group] if self.security_group else None,
            log_group=log_group,
            environment=environment,
        )
        policies = [LAMBDA_BASIC_EXECUTION] + ([LAMBDA_VPC_ACCESS] if vpc is not None else [])
        acknowledge(self.function, "AwsSolutions-IAM4",
                    "AWSLambdaBasicExecutionRole (and, in the VPC, AWSLambdaVPCAccessExecutionRole) are what "
                    "Lambda needs to write this function's logs and attach its ENIs.", *policies)

    @property
    def connections(self) -> ec2.Connections:
        if self.security_group is None:
            raise TypeError("a function outside the VPC has no security group to connect")
        return self.security_group.connections


class CustomResourceProvider(Construct):
    """The CDK provider framework in front of one ``on_event`` function.

    Provides ``service_token`` and :meth:`resource`. The framework's own
    function runs outside the VPC: it only invokes ours and relays the answer
    to CloudFormation.
    """

    def __init__(self, scope: Construct, construct_id: str, *, on_event: lambda_.IFunction,
                 log_retention_days: int, is_complete: lambda_.IFunction | None = None,
                 query_interval: Duration | None = None, total_timeout: Duration | None = None) -> None:
        super().__init__(scope, construct_id)
        log_group = logs.LogGroup(self, "Logs", retention=retention(log_retention_days),
                                  removal_policy=RemovalPolicy.DESTROY)
        self.provider = cr.Provider(
            self, "Provider",
            on_event_handler=on_event,
            is_complete_handler=is_complete,
            query_interval=query_interval,
            total_timeout=total_timeout,
            log_group=log_group,
            disable_waiter_state_machine_logging=False if is_complete else None,
            waiter_state_machine_log_options=cr.LogOptions(
                destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=False)
            if is_complete else None,
        )
        self.service_token = self.provider.service_token
        self._on_event = on_event
        acknowledge(self.provider, "AwsSolutions-IAM4",
                    "The provider framework's functions write their logs with AWSLambdaBasicExecutionRole.",
                    LAMBDA_BASIC_EXECUTION)
        invoked = [on_event] + ([is_complete] if is_complete else [])
        if is_complete:
            invoked += [self.provider.node.find_child(name) for name in ("framework-isComplete",
                                                                          "framework-onTimeout")]
        acknowledge(self.provider, "AwsSolutions-IAM5",
                    "The provider framework may invoke any version of its own functions, nothing else.",
                    *(f"Resource::{nag_ref(f.node.default_child, 'Arn')}:*" for f in invoked))
        if is_complete:
            acknowledge(self.provider.node.find_child("waiter-state-machine"), "AwsSolutions-IAM5",
                        "Step Functions logging needs the CloudWatch Logs delivery actions "
                        "(logs:CreateLogDelivery and friends), which have no resource-level permissions.",
                        "Resource::*")
            acknowledge(self.provider, "AwsSolutions-SF2",
                        "The provider framework's waiter only polls the is-complete function; its steps are "
                        "logged, and X-Ray tracing of a polling loop would add cost and no insight.")

    def resource(self, scope: Construct, construct_id: str, *, resource_type: str, properties: dict,
                 after: Sequence[IConstruct] = ()) -> CustomResource:
        """A custom resource this provider serves, created only once its network is open.

        A VPC function's traffic needs the rules under its security group (egress, and the
        ingress rules CDK places there for groups in other stacks) and those under the groups
        it reaches in the same stack, named in ``after``; CloudFormation would otherwise run
        the function as soon as the group itself exists.
        """
        resource = CustomResource(scope, construct_id, service_token=self.service_token,
                                  resource_type=resource_type, properties=properties)
        groups = (self._on_event.connections.security_groups
                  if isinstance(self._on_event, lambda_.Function) and self._on_event.is_bound_to_vpc else [])
        for dependency in (*groups, *after):
            resource.node.add_dependency(dependency)
        return resource
