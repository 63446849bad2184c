"""Small helpers shared by the constructs."""

from __future__ import annotations

import re

import aws_cdk as cdk
from aws_cdk import Validations, aws_ec2 as ec2, aws_logs as logs
from constructs import IConstruct

from hydra_on_aws.config.settings import LOG_RETENTION_DAYS

_RETENTION_NAMES = (
    "ONE_DAY", "THREE_DAYS", "FIVE_DAYS", "ONE_WEEK", "TWO_WEEKS", "ONE_MONTH", "TWO_MONTHS",
    "THREE_MONTHS", "FOUR_MONTHS", "FIVE_MONTHS", "SIX_MONTHS", "ONE_YEAR", "THIRTEEN_MONTHS",
    "EIGHTEEN_MONTHS", "TWO_YEARS", "THREE_YEARS", "FIVE_YEARS", "SIX_YEARS", "SEVEN_YEARS",
    "EIGHT_YEARS", "NINE_YEARS", "TEN_YEARS",
)


def retention(days: int) -> logs.RetentionDays:
    """The RetentionDays member for a validated number of days."""
    return logs.RetentionDays[dict(zip(LOG_RETENTION_DAYS, _RETENTION_NAMES))[days]]


def retain_logs_of(scope: IConstruct, construct_id: str, log_group_name: str, days: int) -> logs.LogRetention:
    """Retention for a log group a service creates by itself (API Gateway's execution logs, a function
    CDK adds): CDK's log-retention function creates it if needed and sets the retention, where a
    LogGroup resource would fail with 'already exists' once the service had written to it."""
    created = logs.LogRetention(scope, construct_id, log_group_name=log_group_name, retention=retention(days))
    acknowledge_log_retention(scope)
    return created


def acknowledge_log_retention(scope: IConstruct) -> None:
    """cdk-nag's findings on CDK's log-retention singleton function of ``scope``'s stack, if it has one."""
    singleton = cdk.Stack.of(scope).node.try_find_child(LOG_RETENTION_SINGLETON_ID)
    if singleton is None:
        return
    acknowledge(singleton, "AwsSolutions-IAM4",
                "CDK's log-retention function writes its own logs with AWSLambdaBasicExecutionRole.",
                LAMBDA_BASIC_EXECUTION)
    acknowledge(singleton, "AwsSolutions-IAM5",
                "CDK's log-retention function must set retention on log groups services name at runtime.",
                "Resource::*")


def kept_in_production(production: bool) -> cdk.RemovalPolicy:
    """RETAIN in production (data, logs and secrets outlive a deleted stack), DESTROY elsewhere."""
    return cdk.RemovalPolicy.RETAIN if production else cdk.RemovalPolicy.DESTROY


def amazon_linux_cpu(instance_type: str) -> ec2.AmazonLinuxCpuType:
    """ARM for Graviton families (t4g, m7g, c6gn ...), x86 otherwise."""
    return (ec2.AmazonLinuxCpuType.ARM_64 if re.match(r"^[a-z]+\d+g", instance_type)
            else ec2.AmazonLinuxCpuType.X86_64)


MANAGED_POLICY = "Policy::arn:<AWS::Partition>:iam::aws:policy/"
LAMBDA_BASIC_EXECUTION = MANAGED_POLICY + "service-role/AWSLambdaBasicExecutionRole"
LAMBDA_VPC_ACCESS = MANAGED_POLICY + "service-role/AWSLambdaVPCAccessExecutionRole"
# CDK's singleton that sets retention on log groups it does not own (RDS exports).
LOG_RETENTION_SINGLETON_ID = "LogRetentionaae0aa3c5b4d4f87b02d85b201efdd8a"


def nag_arn(service: str, resource: str) -> str:
    """An ARN of this account and region as cdk-nag prints it in finding ids."""
    return f"arn:<AWS::Partition>:{service}:<AWS::Region>:<AWS::AccountId>:{resource}"


def nag_ref(element: IConstruct, attribute: str | None = None) -> str:
    """A reference to a resource of this stack as cdk-nag prints it: <LogicalId> or <LogicalId.Attr>."""
    logical_id = cdk.Stack.of(element).get_logical_id(element)
    return f"<{logical_id}.{attribute}>" if attribute else f"<{logical_id}>"


def acknowledge(scope: IConstruct, rule: str, reason: str, *findings: str) -> None:
    """Acknowledge a cdk-nag rule on ``scope`` and below.

    Rules reported per finding (IAM4's policy, IAM5's action or resource) are
    acknowledged one finding at a time, so a new finding still fails.
    """
    ids = [f"{rule}[{finding}]" for finding in findings] or [rule]
    Validations.of(scope).acknowledge(*(cdk.Acknowledgment(id=i, reason=reason) for i in ids))
