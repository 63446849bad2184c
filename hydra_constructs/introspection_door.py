"""The introspection door: one path of the admin API, for resource servers that must see revocations."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import Duration, Validations, aws_ec2 as ec2, aws_elasticloadbalancingv2 as elbv2
from constructs import Construct

from hydra_on_aws.config.settings import ADMIN_TARGET_GROUP_PORT, HydraConfig

# The one admin path the door forwards, and the one method. ALB path patterns are case-sensitive and
# this one has no wildcard: /admin/oauth2/introspect/../clients or /admin/oauth2/introspect2 are not it.
INTROSPECTION_PATH = "/admin/oauth2/introspect"
INTROSPECTION_METHOD = "POST"
DOOR_PORT = 80


class IntrospectionDoor(Construct):
    """An internal ALB in front of Hydra's admin port that serves ``POST /admin/oauth2/introspect`` only.

    A resource server that validates tokens with introspection (``Introspection`` in
    hydra_on_aws.tokens.validator) needs Hydra's introspection endpoint, which lives on the admin
    port with every other unauthenticated admin call (creating clients, accepting logins). The admin
    NLB forwards TCP and cannot tell them apart; this door can:

    - one listener rule forwards ``POST`` on exactly :data:`INTROSPECTION_PATH` to the admin port;
      the listener's default answers 404, so any other path or method never reaches Hydra;
    - internal, in the private subnets, with its own security group that this construct opens only
      to the security groups passed to :meth:`grant_introspection` (no CIDR);
    - the tasks accept the admin port from the door's security group; its egress is that port only.

    The admin-API guard checks what it forwards (``introspection-door``), that it is internal and not
    behind API Gateway, and that whatever its security group admits is inside the VPC, as for every
    load balancer reaching the admin port; see the README's "Who can reach what".
    """

    def __init__(self, scope: Construct, construct_id: str, *, config: HydraConfig, vpc: ec2.IVpc,
                 subnets: ec2.SubnetSelection, hydra_tasks_sg: ec2.ISecurityGroup) -> None:
        super().__init__(scope, construct_id)
        self.admin_port = config.hydra_admin_port
        self.security_group = ec2.SecurityGroup(
            self, "SecurityGroup", vpc=vpc, allow_all_outbound=False,
            description="Introspection door: HTTP from security groups granted introspection only")
        self.load_balancer = elbv2.ApplicationLoadBalancer(
            self, "Alb", vpc=vpc, vpc_subnets=subnets, internet_facing=False,
            # No deletion protection (unlike the NLBs): it holds nothing, the next deploy recreates it, and
            # turning the door off must be able to delete it (README: Routine changes).
            security_group=self.security_group, deletion_protection=False,
            drop_invalid_header_fields=True, desync_mitigation_mode=elbv2.DesyncMitigationMode.STRICTEST,
            idle_timeout=Duration.seconds(30))
        self.target_group = elbv2.ApplicationTargetGroup(
            self, "AdminTargets", vpc=vpc, port=ADMIN_TARGET_GROUP_PORT, protocol=elbv2.ApplicationProtocol.HTTP,
            target_type=elbv2.TargetType.IP, deregistration_delay=Duration.seconds(30),
            health_check=elbv2.HealthCheck(path="/health/alive", interval=Duration.seconds(10),
                                           healthy_threshold_count=2, unhealthy_threshold_count=3,
                                           timeout=Duration.seconds(5)))
        self.listener = self.load_balancer.add_listener(
            "Http", port=DOOR_PORT, protocol=elbv2.ApplicationProtocol.HTTP, open=False,
            default_action=elbv2.ListenerAction.fixed_response(
                404, content_type="application/json", message_body='{"error":"not_found"}'))
        self.listener.add_action(
            "Introspect", priority=10, action=elbv2.ListenerAction.forward([self.target_group]),
            conditions=[elbv2.ListenerCondition.path_patterns([INTROSPECTION_PATH]),
                        elbv2.ListenerCondition.http_request_methods([INTROSPECTION_METHOD])])
        self.security_group.connections.allow_to(
            hydra_tasks_sg, ec2.Port.tcp(self.admin_port), "Introspection door to Hydra's admin port")
        self.url = f"http://{self.load_balancer.load_balancer_dns_name}{INTROSPECTION_PATH}"
        Validations.of(self.load_balancer).acknowledge(cdk.Acknowledgment(id="AwsSolutions-ELB2", reason=(
            "Plain HTTP inside the VPC from granted security groups only, one path; introspection bodies "
            "(tokens) are never logged, and VPC flow logs cover the traffic.")))

    def grant_introspection(self, peer: ec2.IConnectable, description: str) -> None:
        """Let ``peer``'s security groups call ``POST /admin/oauth2/introspect`` through the door (and
        nothing else of the admin API). The rules land in ``peer``'s stack when it differs."""
        peer.connections.allow_to(self.security_group, ec2.Port.tcp(DOOR_PORT), description)
