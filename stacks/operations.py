"""Day-2 operations: signing keys, janitor, rotation follow-up, alarms and dashboard."""

from __future__ import annotations

import aws_cdk as cdk
from constructs import Construct

from hydra_constructs.declared_clients import DeclaredClients
from hydra_constructs.janitor import Janitor
from hydra_constructs.monitoring import Monitoring, Signals
from hydra_constructs.network import Network
from hydra_constructs.rotation_follower import RotationFollower
from hydra_constructs.signing_keys import SigningKeys
from hydra_on_aws.config.settings import HydraConfig

from .ingress import IngressStack
from .service import ServiceStack
from .stateful import StatefulStack


class OperationsStack(cdk.Stack):
    """Everything that keeps a running Hydra healthy, and its declared clients; deployed after the service."""

    def __init__(self, scope: Construct, construct_id: str, *, config: HydraConfig, stateful: StatefulStack,
                 ingress: IngressStack, service: ServiceStack, clients: list[dict], **kwargs) -> None:
        super().__init__(scope, construct_id,
                         description=f"Ory Hydra {config.env_name}: keys, janitor, rotation follow-up, alarms",
                         **kwargs)
        vpc, private = stateful.network.vpc, stateful.network.subnets(Network.PRIVATE)
        hydra, lbs, secrets = service.hydra, ingress.load_balancers, stateful.secrets

        self.signing_keys = SigningKeys(self, "SigningKeys", config=config, vpc=vpc, subnets=private,
                                        admin_endpoint=lbs.admin_endpoint)
        ingress.grant_admin_access(self.signing_keys.function, "signing key ensurer")

        self.clients = DeclaredClients(self, "DeclaredClients", config=config, vpc=vpc, subnets=private,
                                       admin_endpoint=lbs.admin_endpoint, clients=clients)
        ingress.grant_admin_access(self.clients.function, "declared OAuth2 clients")
        # Clients are applied once the key sets exist.
        self.clients.clients.node.add_dependency(self.signing_keys.keys)

        self.janitor = Janitor(self, "Janitor", config=config, cluster=hydra.cluster, image=hydra.image,
                               subnets=private, security_group=hydra.commands_sg, dsn_secret=secrets.dsn_secret,
                               log_group=hydra.log_group)

        self.rotation_follower = RotationFollower(
            self, "RotationFollower", config=config, vpc=vpc, subnets=private, database=stateful.database,
            dsn_sources=secrets.dsn_sources,
            service=hydra.service)

        self.monitoring = Monitoring(self, "Monitoring", config=config, signals=Signals(
            api_name=ingress.public_api.rest_api.rest_api_name,
            api_stage=config.api_stage_name,
            load_balancers=(
                ("Public", lbs.public_nlb.load_balancer_full_name, lbs.public_target_group.target_group_full_name),
                ("Admin", lbs.admin_nlb.load_balancer_full_name, lbs.admin_target_group.target_group_full_name)),
            cluster_name=hydra.cluster.cluster_name, service_name=hydra.service.service_name,
            db_cluster_identifier=stateful.database.cluster.cluster_identifier,
            ecs_cluster_arn=hydra.cluster.cluster_arn,
            janitor_family=self.janitor.family, migrate_family=hydra.migrate_task_definition.family,
            rotation_follower_function=self.rotation_follower.follower.function.function_name,
            rotation_dead_letter_queue=self.rotation_follower.dead_letters.queue_name,
            rotation_function=stateful.roles.rotator.function.function_name))

        cdk.CfnOutput(self, "AlarmTopicArn", value=self.monitoring.topic.topic_arn,
                      description="Subscribe on-call tooling to this topic")
        cdk.CfnOutput(self, "DashboardName", value=self.monitoring.dashboard.dashboard_name)
        cdk.CfnOutput(self, "JanitorStateMachineArn", value=self.janitor.state_machine.state_machine_arn,
                      description="Start an execution to run the janitor now (it skips if one is running)")
