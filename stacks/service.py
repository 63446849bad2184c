"""The stateless Hydra service."""

from __future__ import annotations

import aws_cdk as cdk
from constructs import Construct

from hydra_constructs.hydra_service import HydraService
from hydra_constructs.migrations import HydraMigrations
from hydra_constructs.network import Network
from hydra_on_aws.config.settings import HydraConfig

from .ingress import IngressStack
from .stateful import StatefulStack


class ServiceStack(cdk.Stack):
    """Hydra on ECS Fargate, registered with the NLBs' target groups, and its migrations.

    Redeploying or destroying this stack never touches the database or secrets.
    """

    def __init__(self, scope: Construct, construct_id: str, *, config: HydraConfig, stateful: StatefulStack,
                 ingress: IngressStack, **kwargs) -> None:
        super().__init__(scope, construct_id, description=f"Ory Hydra {config.env_name}: ECS Fargate service",
                         **kwargs)
        lbs = ingress.load_balancers
        self.hydra = HydraService(
            self, "Hydra", config=config, vpc=stateful.network.vpc,
            subnets=stateful.network.subnets(Network.PRIVATE),
            hydra_tasks_sg=lbs.hydra_tasks_sg,
            public_target_group=lbs.public_target_group, admin_target_group=lbs.admin_target_group,
            introspection_target_group=ingress.introspection_door.target_group if ingress.introspection_door else None,
            dsn_secret=stateful.secrets.dsn_secret, system_secret=stateful.secrets.system_secret,
            migration_dsn_secret=stateful.secrets.migration_dsn_secret, public_url=ingress.public_api.public_url)
        stateful.database.allow_from(self.hydra.commands_sg, "Hydra commands (migrations, janitor)")
        self.migrations = HydraMigrations(self, "Migrations", config=config, hydra=self.hydra,
                                          subnets=stateful.network.subnets(Network.PRIVATE),
                                          db_cluster=stateful.database.cluster)

        cdk.CfnOutput(self, "ClusterName", value=self.hydra.cluster.cluster_name)
        cdk.CfnOutput(self, "ServiceName", value=self.hydra.service.service_name)
        cdk.CfnOutput(self, "LogGroupName", value=self.hydra.log_group.log_group_name,
                      description="Hydra's JSON logs")
