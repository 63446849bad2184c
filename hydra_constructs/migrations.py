"""Hydra's schema migrations: one ECS task per deploy, driven by a custom resource."""

from __future__ import annotations

from aws_cdk import ArnFormat, Duration, Stack, aws_ec2 as ec2
from aws_cdk import aws_iam as iam, aws_rds as rds
from constructs import Construct

from hydra_on_aws.config.settings import HydraConfig

from ._util import acknowledge, nag_arn, nag_ref
from .functions import CustomResourceProvider, HydraFunction
from .hydra_service import MIGRATE_CONTAINER, HydraService


class HydraMigrations(Construct):
    """Runs `hydra migrate sql up -e --yes` as a one-off task before the service starts new tasks.

    Provides ``migration`` (the custom resource the service depends on). It
    reruns whenever the service's or the migration's task definition changes
    (image or configuration), never concurrently (CloudFormation updates one
    stack at a time, and each request starts at most one task), and fails the
    deploy with the task's exit code or ``stoppedReason`` and where its logs
    are. With ``snapshot_before_upgrade`` a cluster snapshot is taken first
    whenever the image changes.
    """

    def __init__(self, scope: Construct, construct_id: str, *, config: HydraConfig, hydra: HydraService,
                 subnets: ec2.SubnetSelection, db_cluster: rds.IDatabaseCluster) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        common = dict(description="Runs Hydra's migrations as an ECS task and reports its outcome",
                      log_retention_days=config.log_retention_days, production=config.production,
                      timeout=Duration.minutes(1))
        on_event = HydraFunction(self, "Start", handler="hydra_functions.migrations.on_event", **common)
        is_complete = HydraFunction(self, "Poll", handler="hydra_functions.migrations.is_complete", **common)

        migrate = hydra.migrate_task_definition
        family_arn = stack.format_arn(service="ecs", resource="task-definition",
                                      resource_name=f"{migrate.family}:*")
        cluster_tasks = stack.format_arn(service="ecs", resource="task",
                                         resource_name=f"{hydra.cluster.cluster_name}/*")
        statements = [
            iam.PolicyStatement(actions=["ecs:RunTask"], resources=[family_arn],
                                conditions={"ArnEquals": {"ecs:cluster": hydra.cluster.cluster_arn}}),
            iam.PolicyStatement(actions=["ecs:DescribeTasks", "ecs:StopTask"], resources=[cluster_tasks]),
            iam.PolicyStatement(actions=["ecs:ListTasks"], resources=["*"],
                                conditions={"ArnEquals": {"ecs:cluster": hydra.cluster.cluster_arn}}),
            iam.PolicyStatement(actions=["iam:PassRole"],
                                resources=[migrate.task_role.role_arn, migrate.obtain_execution_role().role_arn]),
        ]
        if config.snapshot_before_upgrade:
            snapshots = stack.format_arn(service="rds", resource="cluster-snapshot",
                                         resource_name="hydra-before-migrating-*", arn_format=ArnFormat.COLON_RESOURCE_NAME)
            statements += [
                iam.PolicyStatement(actions=["rds:CreateDBClusterSnapshot", "rds:AddTagsToResource"],
                                    resources=[db_cluster.cluster_arn, snapshots]),
                iam.PolicyStatement(actions=["rds:DescribeDBClusterSnapshots"],
                                    resources=[db_cluster.cluster_arn, snapshots]),
                # Only this runner's snapshots (by name): pruning never touches anyone else's.
                iam.PolicyStatement(actions=["rds:ListTagsForResource", "rds:DeleteDBClusterSnapshot"],
                                    resources=[snapshots]),
            ]
        for function in (on_event, is_complete):
            for statement in statements:
                function.function.add_to_role_policy(statement)
            acknowledge(function.function, "AwsSolutions-IAM5",
                        "ECS names tasks by id and task definitions by revision, and lists tasks without "
                        "resource-level permissions: the runner may start any revision of the migration family "
                        "and watch any task, in Hydra's cluster only (ecs:cluster condition).",
                        "Resource::" + nag_arn("ecs", f"task-definition/{migrate.family}:*"),
                        "Resource::" + nag_arn("ecs", f"task/{nag_ref(hydra.cluster.node.default_child)}/*"),
                        "Resource::*",
                        *(["Resource::" + nag_arn("rds", "cluster-snapshot:hydra-before-migrating-*")]
                          if config.snapshot_before_upgrade else []))
        provider = CustomResourceProvider(
            self, "Provider", on_event=on_event.function, is_complete=is_complete.function,
            log_retention_days=config.log_retention_days, query_interval=Duration.seconds(15),
            # Within CloudFormation's one-hour limit for a custom resource.
            total_timeout=Duration.minutes(55))
        # The task (not the functions) reaches the database, through rules under the commands group.
        self.migration = provider.resource(
            self, "Migration", resource_type="Custom::HydraMigration", after=[hydra.commands_sg],
            properties={
                "Cluster": hydra.cluster.cluster_arn,
                "TaskDefinition": migrate.task_definition_arn,
                "ServiceTaskDefinition": hydra.task_definition.task_definition_arn,
                "Subnets": hydra.cluster.vpc.select_subnets(
                    subnet_group_name=subnets.subnet_group_name).subnet_ids,
                "SecurityGroups": [hydra.commands_sg.security_group_id],
                "ContainerName": MIGRATE_CONTAINER,
                "LogGroup": hydra.log_group.log_group_name,
                "LogStreamPrefix": "migrate",
                "Image": config.hydra_image,
                "SnapshotOnVersionChange": str(config.snapshot_before_upgrade).lower(),
                "SnapshotsKept": str(config.upgrade_snapshots_kept),
                "DbClusterIdentifier": db_cluster.cluster_identifier,
                "TimeoutMinutes": str(config.migration_timeout_minutes),
            })
        # New tasks start only on a migrated schema.
        hydra.service.node.add_dependency(self.migration)

