"""Stateful resources: network, database, secrets. Never replaced by a refactor."""

from __future__ import annotations

import aws_cdk as cdk
from constructs import Construct

from hydra_constructs.database import Database
from hydra_constructs.database_roles import DatabaseRoles
from hydra_constructs.network import Network
from hydra_constructs.secrets import HydraSecrets
from hydra_on_aws.config.settings import HydraConfig


class StatefulStack(cdk.Stack):
    """VPC, Aurora, Hydra's database roles and secrets.

    Everything here keeps data or identity; its logical IDs are pinned by the
    snapshot tests, and production turns termination protection on. The other
    stacks can be destroyed and redeployed without touching it.
    """

    def __init__(self, scope: Construct, construct_id: str, *, config: HydraConfig, **kwargs) -> None:
        super().__init__(scope, construct_id, termination_protection=config.production,
                         description=f"Ory Hydra {config.env_name}: network, database and secrets", **kwargs)
        self.network = Network(self, "Network", config=config)
        self.database = Database(self, "Database", config=config, vpc=self.network.vpc,
                                 subnets=self.network.subnets(Network.ISOLATED))
        private = self.network.subnets(Network.PRIVATE)
        self.roles = DatabaseRoles(self, "Roles", config=config, vpc=self.network.vpc, subnets=private,
                                   database=self.database)
        self.secrets = HydraSecrets(self, "Secrets", config=config, vpc=self.network.vpc, subnets=private,
                                    database=self.database, roles=self.roles)

        cdk.CfnOutput(self, "DatabaseSecretArn", value=self.database.secret.secret_arn,
                      description="Master database credentials (Secrets Manager ARN, not the value)")
        cdk.CfnOutput(self, "DsnSecretArn", value=self.secrets.dsn_secret.secret_arn,
                      description="Hydra's runtime DSN (Secrets Manager ARN, not the value)")
        cdk.CfnOutput(self, "MigrationDsnSecretArn", value=self.secrets.migration_dsn_secret.secret_arn,
                      description="The migration owner's DSN (Secrets Manager ARN, not the value)")
        cdk.CfnOutput(self, "SystemSecretArn", value=self.secrets.system_secret.secret_arn,
                      description="Hydra's SECRETS_SYSTEM (Secrets Manager ARN, not the value)")
        cdk.CfnOutput(self, "DatabaseEndpoint", value=self.database.cluster.cluster_endpoint.hostname,
                      description="Aurora writer endpoint (reachable from named security groups only)")
