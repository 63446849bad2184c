"""Hydra's two secrets: the DSN and SECRETS_SYSTEM."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import CustomResource, RemovalPolicy, Validations, aws_ec2 as ec2, aws_iam as iam
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from hydra_stack.config import HydraConfig

from .database import Database
from .functions import CustomResourceProvider, VpcFunction

SYSTEM_SECRET_LENGTH = 64


class HydraSecrets(Construct):
    """The secrets Hydra reads at start-up, both only ever injected as ECS secrets.

    Provides ``dsn_secret`` and ``system_secret``.

    ``system_secret`` is 64 letters and digits: Hydra parses list settings as
    CSV unless they are JSON, so a generated ``,`` or ``"`` would silently
    split ``SECRETS_SYSTEM``; without punctuation it cannot.

    ``dsn_secret`` is written by the DSN composer function from the database
    credentials (password percent-encoded, ``sslmode=require``,
    ``max_conns``), after it has logged in with the composed DSN. No secret
    value ever appears in the template.
    """

    def __init__(self, scope: Construct, construct_id: str, *, config: HydraConfig, vpc: ec2.IVpc,
                 subnets: ec2.SubnetSelection, database: Database) -> None:
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
            removal_policy=RemovalPolicy.RETAIN if config.production else RemovalPolicy.DESTROY,
        )
        self.dsn_secret = secretsmanager.Secret(
            self, "DsnSecret",
            description=f"Hydra {config.env_name}: DSN composed from the database credentials by the DSN composer",
        )

        self.composer = VpcFunction(
            self, "DsnComposer",
            handler="hydra_functions.dsn_composer.on_event",
            description="Composes the Hydra DSN from the database secret and proves it by logging in",
            vpc=vpc, subnets=subnets, log_retention_days=config.log_retention_days,
            production=config.production)
        database.allow_from(self.composer, "DSN composer proves the DSN by logging in")
        database.secret.grant_read(self.composer.function)
        self.dsn_secret.grant_read(self.composer.function)
        # Only a new value: not grant_write's version-stage and metadata rights.
        self.composer.function.add_to_role_policy(iam.PolicyStatement(
            actions=["secretsmanager:PutSecretValue"], resources=[self.dsn_secret.secret_arn]))

        provider = CustomResourceProvider(self, "DsnProvider", on_event=self.composer.function,
                                          log_retention_days=config.log_retention_days)
        self.dsn = CustomResource(
            self, "Dsn",
            service_token=provider.service_token,
            resource_type="Custom::HydraDsn",
            properties={
                "SourceSecretArn": database.secret.secret_arn,
                "TargetSecretArn": self.dsn_secret.secret_arn,
                "MaxConns": str(config.hydra_max_conns),
                "VerifyLogin": "true",
            },
        )
        # The login proof needs the writer instance, not just the cluster.
        self.dsn.node.add_dependency(database.cluster)

        Validations.of(self.system_secret).acknowledge(cdk.Acknowledgment(id="AwsSolutions-SMG4", reason=(
            "SECRETS_SYSTEM cannot rotate on a schedule: rotation is a two-deploy procedure (append, "
            "then promote) so that every task can still decrypt data written with the old key.")))
        Validations.of(self.dsn_secret).acknowledge(cdk.Acknowledgment(id="AwsSolutions-SMG4", reason=(
            "The DSN is derived: the DSN composer re-derives it from the database credentials, which "
            "are the secret that rotates.")))
