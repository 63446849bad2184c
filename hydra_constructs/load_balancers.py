"""The two internal NLBs in front of Hydra and the security groups between them."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import Duration, Validations, aws_ec2 as ec2, aws_elasticloadbalancingv2 as elbv2
from constructs import Construct

from hydra_on_aws.config.settings import ADMIN_TARGET_GROUP_PORT, PUBLIC_TARGET_GROUP_PORT, HydraConfig


class HydraLoadBalancers(Construct):
    """A public-traffic NLB and a separate admin NLB, both internal.

    Provides ``public_nlb`` (listener on the public port, the only NLB a VPC
    link may point at), ``admin_nlb`` (listener on the admin port),
    their target groups, ``hydra_tasks_sg`` (the tasks' security group) and
    :meth:`grant_admin_access`.

    Invariants (the trust boundary, enforced by security groups that
    reference each other, never by CIDRs):

    - tasks accept the public port only from ``public_nlb_sg`` and the admin
      port only from ``admin_nlb_sg``;
    - ``public_nlb_sg`` has no inbound rule at all: the only way in is the
      API Gateway VPC link, whose PrivateLink traffic bypasses inbound rules
      (``EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic=off``, required
      for a REST API VPC link). Nothing inside the VPC reaches the public port
      directly;
    - ``admin_nlb_sg`` accepts the admin port only from security groups passed
      to :meth:`grant_admin_access` (the bastion, the login app) and from the
      configured ``admin_allowed_cidrs``; PrivateLink inbound enforcement stays
      on, so even a VPC link pointed at it would be refused.

    Health checks use ``/health/alive``: ``/health/ready`` fails whenever the
    database is unreachable, and a failover must not make ECS replace every task.
    """

    def __init__(self, scope: Construct, construct_id: str, *, config: HydraConfig, vpc: ec2.IVpc,
                 subnets: ec2.SubnetSelection) -> None:
        super().__init__(scope, construct_id)
        self.public_port = config.hydra_public_port
        self.admin_port = config.hydra_admin_port

        self.hydra_tasks_sg = ec2.SecurityGroup(
            self, "HydraTasksSecurityGroup", vpc=vpc, allow_all_outbound=False,
            description="Hydra tasks: public port from the public NLB, admin port from the admin NLB")
        self.hydra_tasks_sg.add_egress_rule(
            ec2.Peer.any_ipv4(), ec2.Port.tcp(443),
            "Image pulls, Secrets Manager, CloudWatch Logs and clients' jwks_uri over HTTPS")

        self.public_nlb_sg = ec2.SecurityGroup(
            self, "PublicNlbSecurityGroup", vpc=vpc, allow_all_outbound=False,
            description="Public-traffic NLB: reached only through the API Gateway VPC link (PrivateLink)")
        self.admin_nlb_sg = ec2.SecurityGroup(
            self, "AdminNlbSecurityGroup", vpc=vpc, allow_all_outbound=False,
            description="Admin NLB: admin port from explicitly granted security groups only")

        self.public_nlb = elbv2.NetworkLoadBalancer(
            self, "PublicNlb", vpc=vpc, vpc_subnets=subnets, internet_facing=False,
            security_groups=[self.public_nlb_sg], cross_zone_enabled=True,
            deletion_protection=config.production,
            # A REST API VPC link (V1) carries no security group: its traffic
            # arrives over PrivateLink and must not be judged by inbound rules.
            enforce_security_group_inbound_rules_on_private_link_traffic=False,
        )
        self.admin_nlb = elbv2.NetworkLoadBalancer(
            self, "AdminNlb", vpc=vpc, vpc_subnets=subnets, internet_facing=False,
            security_groups=[self.admin_nlb_sg], cross_zone_enabled=True,
            deletion_protection=config.production,
            enforce_security_group_inbound_rules_on_private_link_traffic=True,
        )

        self.public_target_group = self._target_group("PublicTargets", vpc, PUBLIC_TARGET_GROUP_PORT)
        self.admin_target_group = self._target_group("AdminTargets", vpc, ADMIN_TARGET_GROUP_PORT)
        self.public_listener = self.public_nlb.add_listener(
            "PublicListener", port=self.public_port, protocol=elbv2.Protocol.TCP,
            default_target_groups=[self.public_target_group])
        self.admin_listener = self.admin_nlb.add_listener(
            "AdminListener", port=self.admin_port, protocol=elbv2.Protocol.TCP,
            default_target_groups=[self.admin_target_group])

        self.public_nlb_sg.connections.allow_to(
            self.hydra_tasks_sg, ec2.Port.tcp(self.public_port), "Public NLB to Hydra's public port")
        self.admin_nlb_sg.connections.allow_to(
            self.hydra_tasks_sg, ec2.Port.tcp(self.admin_port), "Admin NLB to Hydra's admin port")
        for cidr in config.admin_allowed_cidrs:
            self.admin_nlb_sg.add_ingress_rule(
                ec2.Peer.ipv4(cidr) if ":" not in cidr else ec2.Peer.ipv6(cidr),
                ec2.Port.tcp(self.admin_port), "admin_allowed_cidrs (configuration)")

        self.admin_endpoint = f"http://{self.admin_nlb.load_balancer_dns_name}:{self.admin_port}"

        for nlb in (self.public_nlb, self.admin_nlb):
            Validations.of(nlb).acknowledge(cdk.Acknowledgment(id="AwsSolutions-ELB2", reason=(
                "NLB access logs record only TLS listeners; these listeners are plain TCP inside the VPC "
                "(TLS ends at API Gateway). VPC flow logs cover the traffic.")))

    def _target_group(self, construct_id: str, vpc: ec2.IVpc, port: int) -> elbv2.NetworkTargetGroup:
        return elbv2.NetworkTargetGroup(
            self, construct_id, vpc=vpc, port=port, protocol=elbv2.Protocol.TCP,
            target_type=elbv2.TargetType.IP,
            # Targets see the NLB's address, so the tasks' rules can name the
            # NLB's security group instead of client CIDRs.
            preserve_client_ip=False,
            deregistration_delay=Duration.seconds(30),
            health_check=elbv2.HealthCheck(
                protocol=elbv2.Protocol.HTTP, path="/health/alive", port="traffic-port",
                interval=Duration.seconds(10), healthy_threshold_count=2, unhealthy_threshold_count=3,
                timeout=Duration.seconds(5)),
        )

    def grant_admin_access(self, peer: ec2.IConnectable, description: str) -> None:
        """Let ``peer``'s security groups reach the admin API (the admin port on ``admin_nlb``).

        Use this for the login/consent app and operators' tools; the rules
        land in ``peer``'s stack when it differs, so granting never makes this
        stack depend on the grantee.
        """
        peer.connections.allow_to(self.admin_nlb_sg, ec2.Port.tcp(self.admin_port), description)
