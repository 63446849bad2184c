"""`hydra janitor` on a schedule, never two at once, alarmed when it fails."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, aws_ec2 as ec2, aws_ecs as ecs, aws_logs as logs
from aws_cdk import aws_scheduler as scheduler, aws_scheduler_targets as scheduler_targets
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_stepfunctions as sfn, aws_stepfunctions_tasks as tasks
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

        list_running = tasks.CallAwsService(
            self, "ListRunningJanitors", service="ecs", action="listTasks",
            parameters={"Cluster": cluster.cluster_arn, "Family": self.family, "DesiredStatus": "RUNNING"},
            iam_resources=["*"], iam_action="ecs:ListTasks",
            result_selector={"running.$": "States.ArrayLength($.TaskArns)"}, result_path="$.janitors")
        run = tasks.EcsRunTask(
            self, "RunJanitor", integration_pattern=sfn.IntegrationPattern.RUN_JOB, cluster=cluster,
            task_definition=self.task_definition,
            launch_target=tasks.EcsFargateLaunchTarget(platform_version=ecs.FargatePlatformVersion.LATEST),
            subnets=subnets, security_groups=[security_group], assign_public_ip=False,
            result_selector={"exitCode.$": "$.Containers[0].ExitCode"}, result_path="$.janitor")
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
        self.schedule = scheduler.Schedule(
            self, "Schedule", schedule=scheduler.ScheduleExpression.expression(config.janitor_schedule),
            target=scheduler_targets.StepFunctionsStartExecution(self.state_machine),
            description=f"Hydra {config.env_name}: hydra janitor")
        acknowledge(self.state_machine, "AwsSolutions-IAM5",
                    "ecs:ListTasks and the CloudWatch Logs delivery actions have no resource-level "
                    "permissions; runTask.sync also needs the EventBridge rule Step Functions manages for it.",
                    "Resource::*",
                    "Resource::" + nag_arn("events", "rule/StepFunctionsGetEventsForECSTaskRule"))
