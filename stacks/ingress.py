"""Every way in: the load balancers, the public API, the bastion."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from constructs import Construct

from hydra_constructs.bastion import Bastion
from hydra_constructs.introspection_door import IntrospectionDoor
from hydra_constructs.load_balancers import HydraLoadBalancers
from hydra_constructs.network import Network
from hydra_constructs.public_api import PublicApi
from hydra_on_aws.config.settings import HydraConfig

from .stateful import StatefulStack


class IngressStack(cdk.Stack):
    """Internal NLBs, the API Gateway in front of the public one, and the SSM bastion.

    The service stack depends on this one: without a custom domain the issuer
    is the API's execute-api URL, and the API needs the NLB, so the NLBs, the
    VPC link and the API must exist before the tasks are configured.
    """

    def __init__(self, scope: Construct, construct_id: str, *, config: HydraConfig, stateful: StatefulStack,
                 **kwargs) -> None:
        super().__init__(scope, construct_id,
                         description=f"Ory Hydra {config.env_name}: load balancers, public API, bastion", **kwargs)
        network = stateful.network
        private = network.subnets(Network.PRIVATE)

        self.load_balancers = HydraLoadBalancers(self, "LoadBalancers", config=config, vpc=network.vpc,
                                                 subnets=private)
        stateful.database.allow_from(self.load_balancers.hydra_tasks_sg, "Hydra tasks")

        self.public_api = PublicApi(self, "PublicApi", config=config, public_nlb=self.load_balancers.public_nlb,
                                    public_port=config.hydra_public_port)

        self.introspection_door = None
        if config.introspection_door:
            self.introspection_door = IntrospectionDoor(
                self, "IntrospectionDoor", config=config, vpc=network.vpc, subnets=private,
                hydra_tasks_sg=self.load_balancers.hydra_tasks_sg)
            cdk.CfnOutput(self, "IntrospectionUrl", value=self.introspection_door.url,
                          description="Hydra's introspection endpoint (only it), for security groups granted "
                                      "introspection: HYDRA_INTROSPECTION_URL of a resource server")

        self.bastion = Bastion(self, "Bastion", config=config, vpc=network.vpc, subnets=private)
        self.grant_admin_access(self.bastion.security_group, "SSM bastion (port forwarding)")

        admin_host = self.load_balancers.admin_nlb.load_balancer_dns_name
        cdk.CfnOutput(self, "HydraPublicApi", value=self.public_api.public_url,
                      description="HYDRA_PUBLIC_API: Hydra's public URL and issuer (the iss claim)")
        cdk.CfnOutput(self, "JwksUrl", value=self.public_api.jwks_url,
                      description="Public JWKS: resource servers verify access tokens against it")
        cdk.CfnOutput(self, "HydraAdminApi", value=self.load_balancers.admin_endpoint,
                      description="HYDRA_ADMIN_API: reachable only inside the VPC from granted security groups")
        cdk.CfnOutput(self, "BastionInstanceId", value=self.bastion.instance.instance_id,
                      description="SSM-only bastion for port forwarding to the admin API")
        cdk.CfnOutput(self, "AdminPortForwardCommand",
                      value=self.bastion.port_forward_command(host=admin_host, port=config.hydra_admin_port),
                      description="Run this, then use http://localhost:%d as HYDRA_ADMIN_API" % config.hydra_admin_port)

    def grant_admin_access(self, peer: ec2.IConnectable, description: str) -> None:
        """Let ``peer`` (for example the login/consent app's security group) call the admin API."""
        self.load_balancers.grant_admin_access(peer, description)

    def grant_introspection(self, peer: ec2.IConnectable, description: str) -> None:
        """Let ``peer`` (a resource server's security group) call ``POST /admin/oauth2/introspect`` through
        the introspection door, and nothing else of the admin API."""
        if self.introspection_door is None:
            raise ValueError(f"grant_introspection({description!r}): the introspection door is off in this "
                             "environment; set introspection_door to true in its settings")
        self.introspection_door.grant_introspection(peer, description)
