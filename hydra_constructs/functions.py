"""Lambda functions built from ``functions/`` (stdlib + boto3, no bundling)."""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
from aws_cdk import Duration, RemovalPolicy, Validations, aws_ec2 as ec2, aws_lambda as lambda_, aws_logs as logs
from aws_cdk import custom_resources as cr
from constructs import Construct

from ._util import LAMBDA_BASIC_EXECUTION, LAMBDA_VPC_ACCESS, acknowledge, retention

FUNCTIONS_DIR = Path(__file__).resolve().parent.parent / "functions"
RUNTIME = lambda_.Runtime.PYTHON_3_14


def functions_code() -> lambda_.Code:
    """The one asset every function shares; its hash changes only with the code."""
    return lambda_.Code.from_asset(str(FUNCTIONS_DIR), exclude=["**/__pycache__", "**/*.pyc"])


class VpcFunction(Construct):
    """A Python function inside the VPC with a security group of its own.

    Provides ``function`` and ``security_group`` (no inbound rules; outbound
    443 only, plus whatever callers open with ``connections``). Invariant: the
    function's log group has the environment's retention.
    """

    def __init__(self, scope: Construct, construct_id: str, *, handler: str, description: str,
                 vpc: ec2.IVpc, subnets: ec2.SubnetSelection, log_retention_days: int,
                 timeout: Duration = Duration.minutes(5), environment: dict[str, str] | None = None,
                 production: bool = False) -> None:
        super().__init__(scope, construct_id)
        self.security_group = ec2.SecurityGroup(
            self, "SecurityGroup", vpc=vpc, allow_all_outbound=False,
            description=f"{description} - no inbound, HTTPS out to AWS APIs")
        self.security_group.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "AWS APIs over HTTPS")
        log_group = logs.LogGroup(
            self, "Logs", retention=retention(log_retention_days),
            removal_policy=RemovalPolicy.RETAIN if production else RemovalPolicy.DESTROY)
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
            vpc_subnets=subnets,
            security_groups=[self.security_group],
            log_group=log_group,
            environment=environment,
        )
        acknowledge(self.function, "AwsSolutions-IAM4",
                    "AWSLambdaBasicExecutionRole and AWSLambdaVPCAccessExecutionRole are what Lambda needs "
                    "to write this function's logs and attach its ENIs in the VPC.",
                    LAMBDA_BASIC_EXECUTION, LAMBDA_VPC_ACCESS)

    @property
    def connections(self) -> ec2.Connections:
        return self.security_group.connections


class CustomResourceProvider(Construct):
    """The CDK provider framework in front of one ``on_event`` function.

    Provides ``service_token``. The framework's own function runs outside the
    VPC: it only invokes ours and relays the answer to CloudFormation.
    """

    def __init__(self, scope: Construct, construct_id: str, *, on_event: lambda_.IFunction,
                 log_retention_days: int, is_complete: lambda_.IFunction | None = None,
                 query_interval: Duration | None = None, total_timeout: Duration | None = None) -> None:
        super().__init__(scope, construct_id)
        self.provider = cr.Provider(
            self, "Provider",
            on_event_handler=on_event,
            is_complete_handler=is_complete,
            query_interval=query_interval,
            total_timeout=total_timeout,
            log_group=logs.LogGroup(self, "Logs", retention=retention(log_retention_days),
                                    removal_policy=RemovalPolicy.DESTROY),
        )
        self.service_token = self.provider.service_token
        acknowledge(self.provider, "AwsSolutions-IAM4",
                    "The provider framework's function writes its logs with AWSLambdaBasicExecutionRole.",
                    LAMBDA_BASIC_EXECUTION)
        handler_id = cdk.Stack.of(self).get_logical_id(on_event.node.default_child)
        acknowledge(self.provider, "AwsSolutions-IAM5",
                    "The provider framework may invoke any version of its own handler function, nothing else.",
                    f"Resource::<{handler_id}.Arn>:*")
