"""Hydra's two secrets: the DSN and SECRETS_SYSTEM."""

from __future__ import annotations

from typing import NamedTuple

import aws_cdk as cdk
from aws_cdk import Validations, aws_ec2 as ec2, aws_iam as iam
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from hydra_on_aws.config.settings import HydraConfig

from hydra_on_aws.config.connections import MIGRATION_MAX_CONNS

from ._util import kept_in_production
from .database import Database
from .database_roles import DatabaseRoles
from .functions import CustomResourceProvider, HydraFunction

SYSTEM_SECRET_LENGTH = 64


class DsnSource(NamedTuple):
    """A DSN secret and the credentials it is composed from."""
    construct_id: str                 # of its composing custom resource; pinned by the snapshots
    target: secretsmanager.ISecret    # the DSN
    source: secretsmanager.ISecret    # host-bearing database credentials
    max_conns: int
    redeploy: bool                    # the service reads it: a new value needs new tasks


class HydraSecrets(Construct):
    """The secrets Hydra reads at start-up, both only ever injected as ECS secrets.

    Provides ``dsn_secret`` (the runtime user's DSN, for the service and the
    janitor), ``migration_dsn_secret`` (the owner's DSN, for the migration
    task only) and ``system_secret``.

    ``system_secret`` is 64 letters and digits: Hydra parses list settings as
    CSV unless they are JSON, so a generated ``,`` or ``"`` would silently
    split ``SECRETS_SYSTEM``; without punctuation it cannot.

    The DSN secrets are written by the DSN composer function from the
    database credentials (every user and password character percent-encoded,
    ``sslmode=require``, ``max_conns``), after it has logged in with the
    composed DSN; the rotation follower re-derives them after every rotation.
    No secret value ever appears in the template.
    """

    def __init__(self, scope: Construct, construct_id: str, *, config: HydraConfig, vpc: ec2.IVpc,
                 subnets: ec2.SubnetSelection, database: Database, roles: DatabaseRoles) -> None:
        super().__init__(scope, construct_id)

        self.system_secret = secretsmanager.Secret(
            self, "SystemSecret",
            description=f"Hydra {config.env_name}: SECRETS_SYSTEM (first entry encrypts, all decrypt)",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=SYSTEM_SECRET_LENGTH,
                exclude_punctuation=True,
                include_space=False,
                require_each_included_type=True,
            ),
            # Losing it makes every encrypted row (signing keys among them) unreadable.
            removal_policy=kept_in_production(config.production),
        )
        self.dsn_secret = secretsmanager.Secret(
            self, "DsnSecret",
            description=f"Hydra {config.env_name}: runtime DSN, derived from the runtime user's credentials",
        )
        self.migration_dsn_secret = secretsmanager.Secret(
            self, "MigrationDsnSecret",
            description=f"Hydra {config.env_name}: migration DSN, derived from the owner's credentials",
        )

        self.composer = HydraFunction(
            self, "DsnComposer",
            handler="hydra_functions.dsn_composer.on_event",
            description="Composes the Hydra DSN from the database secret and proves it by logging in",
            environment={"DB_TLS": config.db_server_verification},
            vpc=vpc, subnets=subnets, log_retention_days=config.log_retention_days,
            production=config.production)
        database.allow_from(self.composer, "DSN composer proves the DSN by logging in")
        provider = CustomResourceProvider(self, "DsnProvider", on_event=self.composer.function,
                                          log_retention_days=config.log_retention_days)

        self.dsn_sources = [
            DsnSource("Dsn", self.dsn_secret, roles.runtime_secret, config.hydra_max_conns, redeploy=True),
            DsnSource("MigrationDsn", self.migration_dsn_secret, roles.owner_secret, MIGRATION_MAX_CONNS,
                      redeploy=False),
        ]
        for construct_id, target, source, max_conns, _ in self.dsn_sources:
            source.grant_read(self.composer.function)
            target.grant_read(self.composer.function)
            # Only a new value: not grant_write's version-stage and metadata rights.
            self.composer.function.add_to_role_policy(iam.PolicyStatement(
                actions=["secretsmanager:PutSecretValue"], resources=[target.secret_arn]))
            dsn = provider.resource(
                self, construct_id, resource_type="Custom::HydraDsn", after=[database.security_group],
                properties={"SourceSecretArn": source.secret_arn, "TargetSecretArn": target.secret_arn,
                            "MaxConns": str(max_conns), "VerifyLogin": "true"})
            # The login proof needs the writer instance and the role.
            dsn.node.add_dependency(database.cluster, roles.roles)

        Validations.of(self.system_secret).acknowledge(cdk.Acknowledgment(id="AwsSolutions-SMG4", reason=(
            "SECRETS_SYSTEM is rotated by the scripted two-deploy procedure (append, then promote; drop only "
            "after the signing keys it encrypted are re-created): a scheduled rotation would lock tasks out "
            "of data encrypted with the old key.")))
        for secret in (self.dsn_secret, self.migration_dsn_secret):
            Validations.of(secret).acknowledge(cdk.Acknowledgment(id="AwsSolutions-SMG4", reason=(
                "The DSN is derived: it is re-derived from the database credentials on every rotation of "
                "those credentials, which are the secrets that rotate.")))
