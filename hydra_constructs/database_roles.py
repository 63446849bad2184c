"""Hydra's database users, their secrets and their rotation."""

from __future__ import annotations

import hashlib

from aws_cdk import Duration, aws_ec2 as ec2, aws_rds as rds
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from hydra_on_aws.config.settings import HydraConfig

from ._util import acknowledge, kept_in_production
from .database import DATABASE_NAME, Database
from .functions import FUNCTIONS_DIR, CustomResourceProvider, HydraFunction

ROLES_CODE = FUNCTIONS_DIR / "hydra_functions" / "db_roles.py"
OWNER_USER = "hydra_owner"
RUNTIME_USER = "hydra"


class DatabaseRoles(Construct):
    """The migration owner and the runtime user, created in the database and rotated.

    Provides ``owner_secret`` (``hydra_owner``: owns every object; migrations
    only; single-user rotation) and ``runtime_secret`` (``hydra``: rows only;
    alternating-users rotation, so the previous password stays valid while
    tasks pick up the new one). A custom resource logs in as the master user
    and creates the roles and grants (``hydra_functions.db_roles``); it reruns
    whenever that code changes. The master credentials rotate single-user.

    Rotation is this repository's function (``hydra_functions.rotation``, on
    the project's Python runtime), not a hosted rotation: the transform behind
    hosted rotations deploys python3.10, which Lambda stops creating on
    2027-02-01. One function rotates all three secrets, single-user or
    alternating users as each secret says, reaching the database through the
    named ``rotation_security_group`` and Secrets Manager through the NAT.
    """

    def __init__(self, scope: Construct, construct_id: str, *, config: HydraConfig, vpc: ec2.IVpc,
                 subnets: ec2.SubnetSelection, database: Database) -> None:
        super().__init__(scope, construct_id)
        cluster = database.cluster
        owner = rds.DatabaseSecret(self, "OwnerSecret", username=OWNER_USER, dbname=DATABASE_NAME)
        # masterarn in the secret lets the alternating-users rotation log in as the master to create the clone.
        runtime = rds.DatabaseSecret(self, "RuntimeSecret", username=RUNTIME_USER, dbname=DATABASE_NAME,
                                     master_secret=database.secret)
        for secret in (owner, runtime):
            # Like the data they open: kept when a production stack is deleted.
            secret.apply_removal_policy(kept_in_production(config.production))
        self.owner_secret = owner.attach(cluster)
        self.runtime_secret = runtime.attach(cluster)

        self.bootstrap = HydraFunction(
            self, "Bootstrap", handler="hydra_functions.db_roles.on_event",
            description="Creates the Hydra owner and runtime roles and their privileges as the master user",
            environment={"DB_TLS": config.db_server_verification},
            vpc=vpc, subnets=subnets, log_retention_days=config.log_retention_days, production=config.production)
        database.allow_from(self.bootstrap, "Role bootstrap logs in as the master user")
        for secret in (database.secret, self.owner_secret, self.runtime_secret):
            secret.grant_read(self.bootstrap.function)
        provider = CustomResourceProvider(self, "Provider", on_event=self.bootstrap.function,
                                          log_retention_days=config.log_retention_days)
        self.roles = provider.resource(
            self, "Roles", resource_type="Custom::HydraDatabaseRoles", after=[database.security_group],
            properties={"MasterSecretArn": database.secret.secret_arn,
                        "OwnerSecretArn": self.owner_secret.secret_arn,
                        "RuntimeSecretArn": self.runtime_secret.secret_arn,
                        "Database": DATABASE_NAME,
                        # A changed bootstrap reruns on the next deploy.
                        "CodeFingerprint": hashlib.sha256(ROLES_CODE.read_bytes()).hexdigest()[:16]})
        self.roles.node.add_dependency(cluster)

        self.rotation_security_group = ec2.SecurityGroup(
            self, "RotationSecurityGroup", vpc=vpc, allow_all_outbound=False,
            description="Secrets Manager rotation functions - no inbound, HTTPS to Secrets Manager")
        self.rotation_security_group.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "Secrets Manager API")
        database.allow_from(self.rotation_security_group, "Secret rotation functions")

        self.rotator = HydraFunction(
            self, "Rotation", handler="hydra_functions.rotation.on_rotation",
            description="Rotates Hydra's database credentials: master and owner single-user, runtime alternating",
            environment={"DB_TLS": config.db_server_verification},
            vpc=vpc, subnets=subnets, security_group=self.rotation_security_group,
            log_retention_days=config.log_retention_days, production=config.production,
            timeout=Duration.minutes(2))
        # The alternating-users rotation logs in as the master to set the clone's password.
        database.secret.grant_read(self.rotator.function)
        every = Duration.days(config.db_rotation_days)
        # Declared here rather than with secret.add_rotation_schedule(): under the
        # cluster they would join its dependencies, and the roles depend on the cluster.
        self.rotations = [
            secretsmanager.RotationSchedule(
                self, construct_id, secret=secret, rotation_lambda=self.rotator.function,
                automatically_after=every, rotate_immediately_on_update=False)
            for construct_id, secret in (("MasterRotation", database.secret),
                                         ("OwnerRotation", self.owner_secret),
                                         ("RuntimeRotation", self.runtime_secret))]
        for rotation in self.rotations:
            # A rotation logs in as the user it rotates: the roles must exist first.
            rotation.node.add_dependency(self.roles)
        acknowledge(self.rotator.function, "AwsSolutions-IAM5",
                    "secretsmanager:GetRandomPassword has no resource-level permissions; every other action of "
                    "the rotation function is limited to the three secrets it rotates.", "Resource::*")
