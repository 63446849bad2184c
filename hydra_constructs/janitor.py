"""`hydra janitor` on a schedule, never two at once, alarmed when it fails."""

from __future__ import annotations

from aws_cdk import Aws, Duration, RemovalPolicy, Stack, aws_ec2 as ec2, aws_ecs as ecs, aws_iam as iam, aws_logs as logs
from aws_cdk import aws_scheduler as scheduler, aws_scheduler_targets as scheduler_targets
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from hydra_on_aws.config.settings import HydraConfig

from ._util import acknowledge, nag_arn, retention
from .hydra_service import command_environment, fargate_task_definition, hardened_container

JANITOR_CONTAINER = "hydra-janitor"


def janitor_command(config: HydraConfig) -> list[str]:
    return ["janitor", "-e", "--tokens", "--requests", "--grants",
            "--keep-if-younger", config.janitor_keep_if_younger,
            "--limit", str(config.janitor_limit), "--batch-size", str(config.janitor_batch_size)]


class Janitor(Construct):
    """Deletes expired tokens, flows and grants on ``janitor_schedule``.

    Provides ``task_definition`` and ``state_machine``. EventBridge Scheduler
    alone would start a janitor even while the last one still runs, so the
    schedule starts a state machine that first lists running janitor tasks,
    skips when there is one, and otherwise runs one to completion
    (``runTask.sync``) and fails on a non-zero exit code. The janitor has the
    service's ``TTL_*`` settings: it judges expiry by its own configuration,
    and with Hydra's defaults it would delete refresh tokens still valid here.
    """

    def __init__(self, scope: Construct, construct_id: str, *, config: HydraConfig, cluster: ecs.ICluster,
                 image: ecs.ContainerImage, subnets: ec2.SubnetSelection, security_group: ec2.ISecurityGroup,
                 dsn_secret: secretsmanager.ISecret, log_group: logs.ILogGroup) -> None:
        super().__init__(scope, construct_id)
        self.family = f"hydra-{config.env_name}-janitor"
        self.task_definition = fargate_task_definition(self, "TaskDefinition", config=config, family=self.family,
                                                       cpu=256, memory=512)
        hardened_container(self.task_definition, JANITOR_CONTAINER, config=config, image=image,
                           command=janitor_command(config), environment=command_environment(config),
                           secrets={"DSN": ecs.Secret.from_secrets_manager(dsn_secret)},
                           log_group=log_group, stream_prefix="janitor")

        # Written as Task states with this construct's own policy: the service integrations CDK offers
        # grant ecs:StopTask, ecs:DescribeTasks and ecs:ListTasks on every task of the account.
        stack = Stack.of(self)
        in_cluster = {"ArnEquals": {"ecs:cluster": cluster.cluster_arn}}
        list_running = sfn.CustomState(self, "ListRunningJanitors", state_json={
            "Type": "Task", "Resource": f"arn:{Aws.PARTITION}:states:::aws-sdk:ecs:listTasks",
            "Parameters": {"Cluster": cluster.cluster_arn, "Family": self.family, "DesiredStatus": "RUNNING"},
            "ResultSelector": {"running.$": "States.ArrayLength($.TaskArns)"}, "ResultPath": "$.janitors"})
        run = sfn.CustomState(self, "RunJanitor", state_json={
            "Type": "Task", "Resource": f"arn:{Aws.PARTITION}:states:::ecs:runTask.sync",
            "Parameters": {
                "Cluster": cluster.cluster_arn, "TaskDefinition": self.task_definition.task_definition_arn,
                "LaunchType": "FARGATE", "PlatformVersion": "LATEST",
                "NetworkConfiguration": {"AwsvpcConfiguration": {
                    "Subnets": cluster.vpc.select_subnets(subnet_group_name=subnets.subnet_group_name).subnet_ids,
                    "SecurityGroups": [security_group.security_group_id], "AssignPublicIp": "DISABLED"}}},
            "ResultSelector": {"exitCode.$": "$.Containers[0].ExitCode"}, "ResultPath": "$.janitor"})
        self._statements = [
            # ECS names tasks by id: these are limited to Hydra's cluster by its condition key instead.
            iam.PolicyStatement(actions=["ecs:ListTasks", "ecs:DescribeTasks", "ecs:StopTask"], resources=["*"],
                                conditions=in_cluster),
            iam.PolicyStatement(actions=["ecs:RunTask"], resources=[self.task_definition.task_definition_arn],
                                conditions=in_cluster),
            iam.PolicyStatement(actions=["iam:PassRole"], resources=[
                self.task_definition.task_role.role_arn, self.task_definition.obtain_execution_role().role_arn]),
            # runTask.sync waits on the EventBridge rule Step Functions manages for it.
            iam.PolicyStatement(actions=["events:PutTargets", "events:PutRule", "events:DescribeRule"],
                                resources=[stack.format_arn(service="events", resource="rule",
                                                            resource_name="StepFunctionsGetEventsForECSTaskRule")]),
        ]
        outcome = (sfn.Choice(self, "JanitorExitCode")
                   .when(sfn.Condition.number_equals("$.janitor.exitCode", 0), sfn.Succeed(self, "Cleaned"))
                   .otherwise(sfn.Fail(self, "JanitorFailed", error="JanitorFailed",
                                       cause="hydra janitor exited with a non-zero code; see its logs")))
        definition = list_running.next(
            sfn.Choice(self, "AlreadyRunning")
            .when(sfn.Condition.number_greater_than("$.janitors.running", 0),
                  sfn.Succeed(self, "SkipWhileOneRuns", comment="the previous janitor is still working"))
            .otherwise(run.next(outcome)))
        machine_logs = logs.LogGroup(self, "StateMachineLogs", retention=retention(config.log_retention_days),
                                     removal_policy=RemovalPolicy.DESTROY)
        self.state_machine = sfn.StateMachine(
            self, "StateMachine", definition_body=sfn.DefinitionBody.from_chainable(definition),
            timeout=Duration.hours(6), tracing_enabled=True,
            logs=sfn.LogOptions(destination=machine_logs, level=sfn.LogLevel.ALL, include_execution_data=False))
        for statement in self._statements:
            self.state_machine.add_to_role_policy(statement)
        self.schedule = scheduler.Schedule(
            self, "Schedule", schedule=scheduler.ScheduleExpression.expression(config.janitor_schedule),
            target=scheduler_targets.StepFunctionsStartExecution(self.state_machine),
            description=f"Hydra {config.env_name}: hydra janitor")
        acknowledge(self.state_machine, "AwsSolutions-IAM5",
                    "ECS names tasks by id, so listing, describing and stopping tasks is limited to Hydra's "
                    "cluster by the ecs:cluster condition; the CloudWatch Logs delivery and X-Ray actions have "
                    "no resource-level permissions.",
                    "Resource::*")
