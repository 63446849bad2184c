"""After every database credentials rotation, and every hour: re-derive the DSNs, then redeploy Hydra."""

from __future__ import annotations

from aws_cdk import Duration, Stack, aws_ec2 as ec2, aws_ecs as ecs, aws_events as events
from aws_cdk import aws_events_targets as targets, aws_iam as iam
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from hydra_on_aws.config.settings import HydraConfig

from ._util import acknowledge
from .database import Database
from .functions import HydraFunction
from .secrets import DsnSource


RECONCILE_EVERY = Duration.hours(1)


class RotationFollower(Construct):
    """A function on Secrets Manager's ``RotationSucceeded`` events.

    For the rotated secret it recomposes the DSN (same encoding and login
    proof as at creation) and, for the runtime DSN, forces a new deployment
    of the service so that new tasks read it (``DsnSource.redeploy``).
    Events are delivered best-effort, so the same function also runs every
    hour (:data:`RECONCILE_EVERY`) and repairs any DSN that no longer matches
    its credentials: a lost event is mended long before the next rotation
    could change the password the DSN still names.
    """

    def __init__(self, scope: Construct, construct_id: str, *, config: HydraConfig, vpc: ec2.IVpc,
                 subnets: ec2.SubnetSelection, database: Database,
                 dsn_sources: list[DsnSource],
                 service: ecs.FargateService) -> None:
        super().__init__(scope, construct_id)
        targets_json = Stack.of(self).to_json_string([
            {"source": d.source.secret_arn, "target": d.target.secret_arn, "maxConns": d.max_conns,
             "redeploy": d.redeploy} for d in dsn_sources])
        self.follower = HydraFunction(
            self, "Function", handler="hydra_functions.dsn_composer.on_rotation",
            description="Re-derives Hydra's DSNs after a credentials rotation and redeploys the service",
            vpc=vpc, subnets=subnets, log_retention_days=config.log_retention_days, production=config.production,
            environment={"DSN_TARGETS": targets_json, "DB_TLS": config.db_server_verification,
                         "CLUSTER": service.cluster.cluster_name,
                         "SERVICE": service.service_name})
        database.allow_from(self.follower, "Rotation follower proves the new DSN by logging in")
        for d in dsn_sources:
            d.source.grant_read(self.follower.function)
            d.target.grant_read(self.follower.function)
            self.follower.function.add_to_role_policy(iam.PolicyStatement(
                actions=["secretsmanager:PutSecretValue"], resources=[d.target.secret_arn]))
        self.follower.function.add_to_role_policy(iam.PolicyStatement(
            actions=["ecs:UpdateService"], resources=[service.service_arn]))
        # A follow-up that never ran leaves the DSN on the previous user, whose password the
        # next rotation changes: keep what could not be delivered, and alarm on it (Monitoring).
        self.dead_letters = sqs.Queue(self, "DeadLetters", encryption=sqs.QueueEncryption.SQS_MANAGED,
                                      enforce_ssl=True, retention_period=Duration.days(14))
        acknowledge(self.dead_letters, "AwsSolutions-SQS3",
                    "This queue is itself the dead-letter queue of the rotation follow-up; an alarm watches it.")
        self.schedule = events.Rule(
            self, "Reconcile", description="Compare every Hydra DSN with its credentials and repair it",
            schedule=events.Schedule.rate(RECONCILE_EVERY),
            targets=[targets.LambdaFunction(self.follower.function, retry_attempts=2,
                                            dead_letter_queue=self.dead_letters)])
        self.rule = events.Rule(
            self, "RotationSucceeded", description="Secrets Manager finished rotating a secret",
            event_pattern=events.EventPattern(
                source=["aws.secretsmanager"], detail_type=["AWS Service Event via CloudTrail"],
                detail={"eventSource": ["secretsmanager.amazonaws.com"], "eventName": ["RotationSucceeded"]}),
            targets=[targets.LambdaFunction(self.follower.function, retry_attempts=4,
                                            dead_letter_queue=self.dead_letters)])
