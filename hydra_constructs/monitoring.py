"""Alarms to an SNS topic and a dashboard with the same signals."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration, aws_cloudwatch as cw, aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_events as events, aws_events_targets as events_targets, aws_iam as iam, aws_kms as kms
from aws_cdk import aws_sns as sns, aws_sns_subscriptions as subscriptions
from constructs import Construct

from hydra_on_aws.config.settings import HydraConfig
from hydra_on_aws.config.connections import aurora_postgres_max_connections

from ._util import kept_in_production

ACU_MEMORY_BYTES = 2 * 1024 ** 3  # one Aurora capacity unit is about 2 GiB of memory


@dataclass(frozen=True)
class Signals:
    """The names Monitoring needs, resolved by the stack (tokens are fine)."""
    api_name: str
    api_stage: str
    load_balancers: tuple[tuple[str, str, str], ...]   # (label, load balancer full name, target group full name)
    cluster_name: str
    service_name: str
    db_cluster_identifier: str
    ecs_cluster_arn: str
    janitor_family: str
    migrate_family: str
    rotation_follower_function: str
    rotation_dead_letter_queue: str
    rotation_function: str


class Monitoring(Construct):
    """An encrypted SNS topic (e-mail from ``alarm_email``), the alarms and a dashboard.

    Alarms: API Gateway 5xx rate, unhealthy NLB targets, running tasks below
    desired, failed migration and janitor tasks (from ECS task state change
    events, not the scheduler's own metrics), a failed rotation step, a
    failed or undelivered DSN follow-up (event or hourly reconciliation),
    Aurora CPU, connections (against the max_connections this configuration
    gets) and free memory.
    Provides ``topic``, ``alarms`` (by name) and ``dashboard``.
    """

    def __init__(self, scope: Construct, construct_id: str, *, config: HydraConfig, signals: Signals) -> None:
        super().__init__(scope, construct_id)
        key = kms.Key(self, "TopicKey", enable_key_rotation=True,
                      description=f"Hydra {config.env_name}: encrypts the alarm topic",
                      removal_policy=kept_in_production(config.production))
        for service in ("cloudwatch.amazonaws.com", "events.amazonaws.com"):
            key.add_to_resource_policy(iam.PolicyStatement(
                principals=[iam.ServicePrincipal(service)], actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"]))
        self.topic = sns.Topic(self, "Topic", display_name=f"Hydra {config.env_name} alarms", master_key=key,
                               enforce_ssl=True)
        if config.alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(config.alarm_email))
        action = cw_actions.SnsAction(self.topic)
        self.alarms: dict[str, cw.Alarm] = {}

        def alarm(name: str, metric: cw.IMetric, threshold: float, description: str, *, periods: int = 3,
                  comparison: cw.ComparisonOperator = cw.ComparisonOperator.GREATER_THAN_THRESHOLD) -> None:
            created = cw.Alarm(self, name, metric=metric, threshold=threshold, evaluation_periods=periods,
                               datapoints_to_alarm=periods, comparison_operator=comparison,
                               treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
                               alarm_description=f"Hydra {config.env_name}: {description}")
            created.add_alarm_action(action)
            created.add_ok_action(action)
            self.alarms[name] = created

        five = Duration.minutes(5)
        api_dims = {"ApiName": signals.api_name, "Stage": signals.api_stage}
        api_5xx = cw.Metric(namespace="AWS/ApiGateway", metric_name="5XXError", dimensions_map=api_dims,
                            statistic="Average", period=five, label="5xx rate")
        alarm("ApiGateway5xxRate", api_5xx, 0.05, "more than 5% of public API requests end in 5xx", periods=2)

        unhealthy_metrics = []
        for label, lb, tg in signals.load_balancers:
            metric = cw.Metric(namespace="AWS/NetworkELB", metric_name="UnHealthyHostCount",
                               dimensions_map={"LoadBalancer": lb, "TargetGroup": tg}, statistic="Maximum",
                               period=Duration.minutes(1), label=f"unhealthy {label} targets")
            unhealthy_metrics.append(metric)
            alarm(f"{label}UnhealthyTargets", metric, 0, f"{label} NLB has unhealthy Hydra targets", periods=3)

        service_dims = {"ClusterName": signals.cluster_name, "ServiceName": signals.service_name}
        running = cw.Metric(namespace="ECS/ContainerInsights", metric_name="RunningTaskCount",
                            dimensions_map=service_dims, statistic="Average", period=Duration.minutes(1))
        desired = cw.Metric(namespace="ECS/ContainerInsights", metric_name="DesiredTaskCount",
                            dimensions_map=service_dims, statistic="Average", period=Duration.minutes(1))
        missing = cw.MathExpression(expression="desired - running", using_metrics={"desired": desired,
                                                                                    "running": running},
                                    label="tasks missing", period=Duration.minutes(1))
        alarm("RunningTasksBelowDesired", missing, 0, "fewer Hydra tasks run than desired", periods=5)

        self.task_failure_rules = {}
        for label, family in (("Migration", signals.migrate_family), ("Janitor", signals.janitor_family)):
            rule = events.Rule(
                self, f"{label}TaskFailed", description=f"a {label.lower()} task stopped unsuccessfully",
                event_pattern=events.EventPattern(
                    source=["aws.ecs"], detail_type=["ECS Task State Change"],
                    detail={"clusterArn": [signals.ecs_cluster_arn], "group": [f"family:{family}"],
                            "lastStatus": ["STOPPED"],
                            "$or": [{"containers": {"exitCode": [{"anything-but": 0}]}},
                                    {"stopCode": ["TaskFailedToStart"]}]}),
                targets=[events_targets.SnsTopic(self.topic)])
            self.task_failure_rules[label] = rule
            triggered = cw.Metric(namespace="AWS/Events", metric_name="TriggeredRules",
                                  dimensions_map={"RuleName": rule.rule_name}, statistic="Sum", period=five,
                                  label=f"failed {label.lower()} tasks")
            alarm(f"{label}Failed", triggered, 0, f"a {label.lower()} task failed (non-zero exit or never started)",
                  periods=1)

        follower_errors = cw.Metric(namespace="AWS/Lambda", metric_name="Errors", statistic="Sum", period=five,
                                    dimensions_map={"FunctionName": signals.rotation_follower_function})
        alarm("RotationFollowUpFailed", follower_errors, 0,
              "re-deriving a DSN after a rotation, or the hourly reconciliation of the DSNs, failed: fix it "
              "before the next rotation", periods=1)
        rotation_errors = cw.Metric(namespace="AWS/Lambda", metric_name="Errors", statistic="Sum", period=five,
                                    dimensions_map={"FunctionName": signals.rotation_function})
        alarm("RotationFailed", rotation_errors, 0,
              "a step of a database credentials rotation failed: its log says why; Secrets Manager retries it",
              periods=1)
        dead_letters = cw.Metric(namespace="AWS/SQS", metric_name="ApproximateNumberOfMessagesVisible",
                                 dimensions_map={"QueueName": signals.rotation_dead_letter_queue},
                                 statistic="Maximum", period=five)
        alarm("RotationFollowUpUndelivered", dead_letters, 0,
              "a rotation event never reached the follow-up: re-derive the DSN by hand", periods=1)

        db_dims = {"DBClusterIdentifier": signals.db_cluster_identifier}
        cpu = cw.Metric(namespace="AWS/RDS", metric_name="CPUUtilization", dimensions_map=db_dims,
                        statistic="Average", period=five)
        alarm("DatabaseCpu", cpu, 80, "Aurora CPU above 80%")
        max_connections = aurora_postgres_max_connections(config.db_min_capacity, config.db_max_capacity)
        connections = cw.Metric(namespace="AWS/RDS", metric_name="DatabaseConnections", dimensions_map=db_dims,
                                statistic="Maximum", period=five)
        alarm("DatabaseConnections", connections, int(max_connections * 0.8),
              f"Aurora connections above 80% of max_connections ({max_connections})")
        memory = cw.Metric(namespace="AWS/RDS", metric_name="FreeableMemory", dimensions_map=db_dims,
                           statistic="Minimum", period=five)
        alarm("DatabaseFreeableMemory", memory, int(config.db_max_capacity * ACU_MEMORY_BYTES * 0.1),
              "Aurora freeable memory below 10% of its maximum capacity",
              comparison=cw.ComparisonOperator.LESS_THAN_THRESHOLD)

        self.dashboard = cw.Dashboard(self, "Dashboard", dashboard_name=f"hydra-{config.env_name}")
        self.dashboard.add_widgets(
            cw.GraphWidget(title="Public API 5xx rate", left=[api_5xx], width=8),
            cw.GraphWidget(title="Unhealthy NLB targets", left=unhealthy_metrics, width=8),
            cw.GraphWidget(title="Hydra tasks (running vs desired)", left=[running, desired], width=8))
        self.dashboard.add_widgets(
            cw.GraphWidget(title="Aurora CPU %", left=[cpu], width=8),
            cw.GraphWidget(title="Aurora connections", left=[connections], width=8),
            cw.GraphWidget(title="Aurora freeable memory", left=[memory], width=8))
        self.dashboard.add_widgets(
            cw.AlarmStatusWidget(title="Alarms", alarms=list(self.alarms.values()), width=24))
