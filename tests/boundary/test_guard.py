"""The guard: every way of exposing the admin port, injected into the real app, stops synthesis.

Each test names one way in and injects it into the real app, built by its own builder, through
constructs or escape hatches. The injections of a module share one app and one synthesis: the
guard reports every violation it finds, and each test looks for its own, by construct path.
Legitimate neighbours share another app, which must synthesize.
"""

from __future__ import annotations

from typing import Callable

import aws_cdk as cdk
import pytest
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_elasticloadbalancingv2_targets as elbv2_targets

from app import build_app
from hydra_on_aws.boundary.trust_boundary import Analysis, check

from tests.conftest import context_for


class Real:
    """The real app, built by its own builder, with handles on what the injections need."""

    def __init__(self, env: str = "dev", nag: bool = False, **overrides) -> None:
        self.app = build_app({**context_for(env, **overrides), "hydra:nag": nag})
        self.stateful = self.app.node.find_child(f"Hydra-{env}-Stateful")
        self.ingress = self.app.node.find_child(f"Hydra-{env}-Ingress")
        self.service_stack = self.app.node.find_child(f"Hydra-{env}-Service")
        self.vpc = self.stateful.network.vpc
        self.lbs = self.ingress.load_balancers

    def synth_error(self) -> str:
        with pytest.raises(RuntimeError) as excinfo:
            self.app.synth()
        message = str(excinfo.value)
        assert message.startswith("ValidationFailedWithErrors: Validation failed with the following errors:")
        assert "[AdminApiGuard] [" in message
        return message


INJECTIONS: list[Callable[[Real], None]] = []


def injected(*injections: Callable[[Real], None]):
    """Register ``injections`` for the module's violating app; the decorated test reads its message."""
    def register(test):
        INJECTIONS.extend(injections)
        return test
    return register


@pytest.fixture(scope="module")
def violations() -> str:
    """The guard's message for the real app with every registered injection (cdk-nag off: the guard is
    what is tested, and toy resources would only add nag findings), introspection door included."""
    real = Real(introspection_door=True)
    for inject in INJECTIONS:
        inject(real)
    return real.synth_error()


def guard_messages(synth) -> list[str]:
    return [v.message() for v in check(synth.network)]


# ------------------------------------------------ the unmodified app passes ---

def test_unmodified_app_passes_in_every_environment(dev, prod, dev_domain):
    for synth in (dev, prod, dev_domain):
        assert guard_messages(synth) == []


def test_admin_port_has_no_internet_path_and_the_public_port_only_api_gateway(synth):
    analysis = Analysis(synth.network)
    assert analysis.internet_paths_to(4445) == []
    paths = analysis.internet_paths_to(4444)
    assert paths and all("PublicApi/VpcLink" in p for p in paths)


# ---------------------------------------------------- the introspection door ---

def _door_rule_for_another_admin_path(real: Real) -> None:
    door = real.ingress.introspection_door
    door.listener.add_action("Clients", priority=20, action=elbv2.ListenerAction.forward([door.target_group]),
                             conditions=[elbv2.ListenerCondition.path_patterns(["/admin/clients"]),
                                         elbv2.ListenerCondition.http_request_methods(["POST"])])


@injected(_door_rule_for_another_admin_path)
def test_another_admin_path_through_the_introspection_door_fails_synthesis(violations):
    assert ("[introspection-door] Hydra-dev-Ingress/IntrospectionDoor/Alb/Http/ClientsRule/Resource: forwards "
            "paths /admin/clients to Hydra's admin API on port 4445") in violations


# ------------------------------------------------------ security groups ---

def _inline_ipv4(real: Real) -> None:
    real.lbs.hydra_tasks_sg.add_ingress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(4445), "debugging")


@injected(_inline_ipv4)
def test_inline_ipv4_rule_on_the_tasks(violations):
    assert ("[admin-port-ingress] Hydra-dev-Ingress/LoadBalancers/HydraTasksSecurityGroup/Resource: tcp 4445 into "
            "Hydra-dev-Ingress/LoadBalancers/HydraTasksSecurityGroup/Resource from 0.0.0.0/0 (anywhere)") in violations
    assert "Fix: allow the admin port only from security groups granted with IngressStack.grant_admin_access()" \
        in violations


def _wide_ipv6(real: Real) -> None:
    ec2.CfnSecurityGroupIngress(real.ingress, "WideOpenV6", group_id=real.lbs.admin_nlb_sg.security_group_id,
                                ip_protocol="tcp", from_port=4000, to_port=5000, cidr_ipv6="::/0")


@injected(_wide_ipv6)
def test_separate_ipv6_rule_with_a_port_range_covering_the_admin_port(violations):
    assert "[admin-port-ingress] Hydra-dev-Ingress/WideOpenV6: tcp 4000-5000 into " \
           "Hydra-dev-Ingress/LoadBalancers/AdminNlbSecurityGroup/Resource from ::/0 (anywhere)" in violations


def _peered(real: Real) -> None:
    ec2.CfnSecurityGroupIngress(real.ingress, "PeeredVpc", group_id=real.lbs.hydra_tasks_sg.security_group_id,
                                ip_protocol="-1", cidr_ip="10.99.0.0/16")


@injected(_peered)
def test_all_traffic_from_another_private_range_is_outside(violations):
    """10.99.0.0/16 is RFC 1918 but not this VPC: peerings, VPNs and TGWs use such ranges."""
    assert "[admin-port-ingress] Hydra-dev-Ingress/PeeredVpc: all traffic into " \
           "Hydra-dev-Ingress/LoadBalancers/HydraTasksSecurityGroup/Resource from 10.99.0.0/16 (outside the VPC)" \
        in violations


OPAQUE_SOURCES = {
    "OpaquePrefixList": (lambda real: {"source_prefix_list_id": "pl-0123456789abcdef0"}, "a prefix list"),
    "OpaqueParameter": (lambda real: {"cidr_ip": cdk.CfnParameter(real.ingress, "TrustedRange").value_as_string},
                        "the parameter TrustedRange"),
    "OpaqueImport": (lambda real: {"source_security_group_id": cdk.Fn.import_value("SomeoneElse:SecurityGroupId")},
                     "which no stack of this app exports"),
}


def _opaque_sources(real: Real) -> None:
    for name, (source, _) in OPAQUE_SOURCES.items():
        ec2.CfnSecurityGroupIngress(real.ingress, name, group_id=real.lbs.admin_nlb_sg.security_group_id,
                                    ip_protocol="tcp", from_port=4445, to_port=4445, **source(real))


@injected(_opaque_sources)
@pytest.mark.parametrize("name", sorted(OPAQUE_SOURCES))
def test_unresolvable_sources_fail_closed(violations, name):
    [line] = [line for line in violations.splitlines() if f"[admin-port-ingress] Hydra-dev-Ingress/{name}: " in line]
    assert "tcp 4445" in line and "an unresolvable source: " in line and OPAQUE_SOURCES[name][1] in line


def _behind_public_alb(real: Real) -> None:
    alb_sg = ec2.SecurityGroup(real.ingress, "AlbSg", vpc=real.vpc)
    elbv2.ApplicationLoadBalancer(real.ingress, "PublicAlb", vpc=real.vpc, internet_facing=True,
                                  security_group=alb_sg)
    real.ingress.grant_admin_access(alb_sg, "the ALB in front of the login app")


@injected(_behind_public_alb)
def test_a_group_behind_an_internet_facing_load_balancer_is_outside(violations):
    assert "from security group Hydra-dev-Ingress/AlbSg/Resource, outside because it is attached to " \
           "Hydra-dev-Ingress/PublicAlb/Resource (internet-facing)" in violations


def _relay(real: Real) -> None:
    """Internet -> internet-facing ALB -> internal NLB (admits the ALB) -> granted admin access."""
    alb_sg = ec2.SecurityGroup(real.ingress, "RelayAlbSg", vpc=real.vpc)
    elbv2.ApplicationLoadBalancer(real.ingress, "RelayAlb", vpc=real.vpc, internet_facing=True,
                                  security_group=alb_sg)
    relay_sg = ec2.SecurityGroup(real.ingress, "RelaySg", vpc=real.vpc)
    elbv2.NetworkLoadBalancer(real.ingress, "RelayNlb", vpc=real.vpc, security_groups=[relay_sg])
    relay_sg.add_ingress_rule(alb_sg, ec2.Port.tcp(443))
    real.ingress.grant_admin_access(relay_sg, "relay")


@injected(_relay)
def test_the_chain_is_followed_through_an_internal_load_balancer(violations):
    assert "from security group Hydra-dev-Ingress/RelaySg/Resource, outside because " \
           "Hydra-dev-Ingress/RelayNlb/Resource forwards traffic it admits from security group " \
           "Hydra-dev-Ingress/RelayAlbSg/Resource" in violations


# ------------------------------------------------------- load balancers ---

def exposed_nlb(real: Real, name: str) -> elbv2.NetworkLoadBalancer:
    return elbv2.NetworkLoadBalancer(real.ingress, name, vpc=real.vpc, internet_facing=True,
                                     security_groups=[ec2.SecurityGroup(real.ingress, f"{name}Sg", vpc=real.vpc)])


@injected(lambda real: exposed_nlb(real, "ExposedNlb").add_listener(
    "Admin", port=4445, default_target_groups=[real.lbs.admin_target_group]))
def test_internet_facing_listener_on_the_admin_port(violations):
    assert "[internet-facing-lb] Hydra-dev-Ingress/ExposedNlb/Resource: its listener " \
           "Hydra-dev-Ingress/ExposedNlb/Admin/Resource listens on port 4445" in violations


@injected(lambda real: exposed_nlb(real, "TlsNlb").add_listener(
    "Tls", port=443, default_target_groups=[real.lbs.admin_target_group]))
def test_internet_facing_listener_forwarding_to_the_admin_target_group(violations):
    assert "[internet-facing-lb] Hydra-dev-Ingress/TlsNlb/Resource: its listener " \
           "Hydra-dev-Ingress/TlsNlb/Tls/Resource on port 443 forwards to port 4445" in violations


TARGET_PORTS = {"TgPortAlb": (4445, None), "TargetPortAlb": (80, 4445)}


def _alb_targets(real: Real) -> None:
    for name, (tg_port, target_port) in TARGET_PORTS.items():
        alb = elbv2.ApplicationLoadBalancer(real.ingress, name, vpc=real.vpc, internet_facing=True)
        listener = alb.add_listener("Http", port=80, open=False)
        listener.add_targets("Tasks", port=tg_port, protocol=elbv2.ApplicationProtocol.HTTP,
                             targets=[elbv2_targets.IpTarget("10.40.16.10", port=target_port)])


@injected(_alb_targets)
@pytest.mark.parametrize("name", sorted(TARGET_PORTS))
def test_internet_facing_target_group_whose_port_or_targets_are_the_admin_port(violations, name):
    assert f"[internet-facing-lb] Hydra-dev-Ingress/{name}/Resource: its listener Hydra-dev-Ingress/{name}/Http/" \
           "Resource on port 80 forwards to port 4445" in violations


@injected(lambda real: real.lbs.public_nlb.add_listener("AdminToo", port=4445,
                                                        default_target_groups=[real.lbs.admin_target_group]))
def test_a_vpc_linked_nlb_may_not_reach_the_admin_port(violations):
    assert "[vpc-linked-lb] Hydra-dev-Ingress/LoadBalancers/PublicNlb/Resource: its listener " \
           "Hydra-dev-Ingress/LoadBalancers/PublicNlb/AdminToo/Resource listens on port 4445; API Gateway reaches " \
           "it through Hydra-dev-Ingress/PublicApi/VpcLink/Resource" in violations


def _nlb_in_front_of_alb(real: Real) -> None:
    """Internet -> NLB -> 'alb' target group -> internal ALB -> tasks:4445 (the ALB admits the VPC range)."""
    alb_sg = ec2.SecurityGroup(real.ingress, "InnerAlbSg", vpc=real.vpc, allow_all_outbound=False)
    alb_sg.add_ingress_rule(ec2.Peer.ipv4(real.vpc.vpc_cidr_block), ec2.Port.tcp(80))
    alb = elbv2.ApplicationLoadBalancer(real.ingress, "InnerAlb", vpc=real.vpc, security_group=alb_sg)
    inner = alb.add_listener("Http", port=80, open=False)
    inner.add_targets("Admin", port=4445, protocol=elbv2.ApplicationProtocol.HTTP,
                      targets=[elbv2_targets.IpTarget("10.40.16.10")])
    edge = exposed_nlb(real, "EdgeNlb")
    edge.add_listener("Edge", port=80).add_targets("ToAlb", port=80, targets=[elbv2_targets.AlbListenerTarget(inner)])


@injected(_nlb_in_front_of_alb)
def test_an_internet_nlb_in_front_of_an_internal_alb_is_followed(violations):
    assert "[internet-facing-lb] Hydra-dev-Ingress/EdgeNlb/Resource: its listener Hydra-dev-Ingress/EdgeNlb/Edge/" \
           "Resource on port 80 forwards to port 4445" in violations


def _foreign_listener(real: Real) -> None:
    shared = elbv2.NetworkLoadBalancer.from_network_load_balancer_attributes(
        real.ingress, "SharedNlb", vpc=real.vpc,
        load_balancer_arn="arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/net/edge/0123456789abcdef")
    shared.add_listener("Admin", port=8445).add_targets("Hydra", port=4445, targets=[
        elbv2_targets.IpTarget("10.40.16.10")])


@injected(_foreign_listener)
def test_a_listener_on_a_load_balancer_this_app_does_not_define_fails_closed(violations):
    assert "[internet-facing-lb] Hydra-dev-Ingress/SharedNlb/Admin/Resource (on a load balancer this app does " \
           "not define" in violations


@injected(lambda real: real.service_stack.hydra.service.node.default_child.add_property_override(
    "NetworkConfiguration.AwsvpcConfiguration.SecurityGroups",
    [real.lbs.hydra_tasks_sg.security_group_id, "sg-0123456789abcdef0"]))
def test_a_security_group_the_app_cannot_see_on_the_tasks_fails_closed(violations):
    assert "[opaque-group] Hydra-dev-Service/Hydra/Service/Service: the ECS service serving port 4445 carries the " \
           "literal group id 'sg-0123456789abcdef0'" in violations


def _lattice(real: Real) -> None:
    from aws_cdk import aws_vpclattice as lattice
    gateway_sg = ec2.SecurityGroup(real.ingress, "GatewaySg", vpc=real.vpc, allow_all_outbound=False)
    real.ingress.grant_admin_access(gateway_sg, "another team's VPC through Lattice")
    gateway = lattice.CfnResourceGateway(
        real.ingress, "Gateway", name="hydra-admin", vpc_identifier=real.vpc.vpc_id,
        subnet_ids=real.vpc.select_subnets(subnet_group_name="private").subnet_ids,
        security_group_ids=[gateway_sg.security_group_id])
    lattice.CfnResourceConfiguration(
        real.ingress, "AdminShare", name="hydra-admin", resource_gateway_id=gateway.attr_id,
        resource_configuration_type="SINGLE", port_ranges=["4445"], protocol_type="TCP",
        resource_configuration_definition=lattice.CfnResourceConfiguration.ResourceConfigurationDefinitionProperty(
            dns_resource=lattice.CfnResourceConfiguration.DnsResourceProperty(
                domain_name=real.lbs.admin_nlb.load_balancer_dns_name, ip_address_type="IPV4")))


@injected(_lattice)
def test_vpc_lattice_sharing_the_admin_api_fails(violations):
    assert "[privatelink] Hydra-dev-Ingress/AdminShare: VPC Lattice shares Hydra-dev-Ingress/LoadBalancers/AdminNlb/" \
           "Resource on ports [4445]" in violations
    assert "outside because VPC Lattice consumers arrive through it (Hydra-dev-Ingress/Gateway)" in violations


# ---------------------------------------------------------- API Gateway ---

def _backdoor(real: Real) -> None:
    api = real.ingress.public_api
    api.rest_api.root.add_resource("backdoor").add_method("ANY", apigw.Integration(
        type=apigw.IntegrationType.HTTP_PROXY, integration_http_method="ANY",
        uri=f"http://{real.lbs.public_nlb.load_balancer_dns_name}:4445/admin/clients",
        options=apigw.IntegrationOptions(connection_type=apigw.ConnectionType.VPC_LINK, vpc_link=api.vpc_link)))


@injected(_backdoor)
def test_rest_integration_naming_the_admin_port(violations):
    assert "[api-integration] Hydra-dev-Ingress/PublicApi/RestApi/Default/backdoor/ANY/Resource: its URI " \
        in violations


def _admin_link(real: Real) -> None:
    api = real.ingress.public_api
    link = apigw.VpcLink(real.ingress, "AdminLink", targets=[real.lbs.admin_nlb])
    api.rest_api.root.add_resource("clients").add_method("ANY", apigw.Integration(
        type=apigw.IntegrationType.HTTP_PROXY, integration_http_method="ANY",
        uri=f"http://{real.lbs.admin_nlb.load_balancer_dns_name}:4445/admin/clients",
        options=apigw.IntegrationOptions(connection_type=apigw.ConnectionType.VPC_LINK, vpc_link=link)))


@injected(_admin_link)
def test_rest_vpc_link_to_the_admin_nlb(violations):
    assert "[vpc-linked-lb] Hydra-dev-Ingress/LoadBalancers/AdminNlb/Resource" in violations
    assert "API Gateway reaches it through Hydra-dev-Ingress/AdminLink/Resource" in violations
    assert "[api-integration] Hydra-dev-Ingress/PublicApi/RestApi/Default/clients/ANY/Resource" in violations


def _http_api_v2(real: Real) -> None:
    link_sg = ec2.SecurityGroup(real.ingress, "LinkSg", vpc=real.vpc)
    link = apigwv2.CfnVpcLink(real.ingress, "HttpLink", name="admin", security_group_ids=[link_sg.security_group_id],
                              subnet_ids=real.vpc.select_subnets(subnet_group_name="private").subnet_ids)
    http_api = apigwv2.CfnApi(real.ingress, "HttpApi", name="side-door", protocol_type="HTTP")
    apigwv2.CfnIntegration(real.ingress, "AdminIntegration", api_id=http_api.ref, integration_type="HTTP_PROXY",
                           integration_method="ANY", connection_type="VPC_LINK", connection_id=link.ref,
                           integration_uri=real.lbs.admin_listener.listener_arn, payload_format_version="1.0")


@injected(_http_api_v2)
def test_http_api_with_a_vpc_link_v2_to_the_admin_listener(violations):
    assert "[api-integration] Hydra-dev-Ingress/AdminIntegration: it targets the listener " in violations


def _integration_target_v2(real: Real) -> None:
    # REST APIs reach VPC link V2 through the method's IntegrationTarget (no CDK L2 yet: escape hatch).
    api = real.ingress.public_api
    method = api.rest_api.root.add_resource("v2door").add_method("ANY", apigw.Integration(
        type=apigw.IntegrationType.HTTP_PROXY, integration_http_method="ANY", uri="http://hydra.internal/",
        options=apigw.IntegrationOptions(connection_type=apigw.ConnectionType.VPC_LINK, vpc_link=api.vpc_link)))
    method.node.default_child.add_property_override("Integration.IntegrationTarget",
                                                    real.lbs.admin_nlb.load_balancer_arn)


@injected(_integration_target_v2)
def test_a_rest_integration_target_v2_at_the_admin_nlb(violations):
    [line] = [line for line in violations.splitlines()
              if "[api-integration] Hydra-dev-Ingress/PublicApi/RestApi/Default/v2door/ANY/Resource" in line]
    assert "Hydra-dev-Ingress/LoadBalancers/AdminNlb/Resource" in line


def _vpc_link_v2_group(real: Real) -> None:
    # The link's own group carries API Gateway's traffic: granting it is granting the internet.
    link_sg = ec2.SecurityGroup(real.ingress, "PublicLinkSg", vpc=real.vpc)
    apigwv2.CfnVpcLink(real.ingress, "PublicHttpLink", name="public",
                       security_group_ids=[link_sg.security_group_id],
                       subnet_ids=real.vpc.select_subnets(subnet_group_name="private").subnet_ids)
    real.ingress.grant_admin_access(link_sg, "looks internal")


@injected(_vpc_link_v2_group)
def test_a_vpc_link_v2_group_granted_the_admin_port_is_outside(violations):
    assert ("from security group Hydra-dev-Ingress/PublicLinkSg/Resource, outside because API Gateway sends through "
            "it (Hydra-dev-Ingress/PublicHttpLink)") in violations


# ------------------------------------------------- sources it must resolve ---

def _peer_vpc(real: Real) -> None:
    other = ec2.CfnVPC(real.stateful, "PeerVpc", cidr_block="10.99.0.0/16")
    ec2.CfnSecurityGroupIngress(real.ingress, "FromPeerVpc", group_id=real.lbs.admin_nlb_sg.security_group_id,
                                ip_protocol="tcp", from_port=4445, to_port=4445, cidr_ip=other.attr_cidr_block)


@injected(_peer_vpc)
def test_another_vpcs_cidr_by_reference_is_outside(violations):
    assert "[admin-port-ingress] Hydra-dev-Ingress/FromPeerVpc: tcp 4445 into " \
           "Hydra-dev-Ingress/LoadBalancers/AdminNlbSecurityGroup/Resource from 10.99.0.0/16 (outside the VPC)" \
        in violations


# ---------------------------------------------------- other doors in ---

@injected(lambda real: ec2.VpcEndpointService(real.ingress, "ShareAdmin",
                                              vpc_endpoint_service_load_balancers=[real.lbs.admin_nlb]))
def test_privatelink_endpoint_service_on_the_admin_nlb(violations):
    assert "[privatelink] Hydra-dev-Ingress/ShareAdmin/ShareAdmin: the endpoint service fronts " \
           "Hydra-dev-Ingress/LoadBalancers/AdminNlb/Resource, which reaches port 4445" in violations


@injected(lambda real: cloudfront.CfnVpcOrigin(real.ingress, "AdminOrigin", vpc_origin_endpoint_config={
    "arn": real.lbs.admin_nlb.load_balancer_arn, "name": "admin", "httpPort": 4445,
    "originProtocolPolicy": "http-only"}))
def test_cloudfront_vpc_origin_on_the_admin_nlb(violations):
    assert "[privatelink] Hydra-dev-Ingress/AdminOrigin: the CloudFront VPC origin targets " \
           "Hydra-dev-Ingress/LoadBalancers/AdminNlb/Resource" in violations


@injected(lambda real: real.service_stack.hydra.service.node.default_child.add_property_override(
    "NetworkConfiguration.AwsvpcConfiguration.AssignPublicIp", "ENABLED"))
def test_hydra_tasks_with_a_public_ip(violations):
    assert "[hydra-public] Hydra-dev-Service/Hydra/Service/Service: the ECS service serving port 4445 has a " \
           "public IP" in violations


def _nested_stack(real: Real) -> None:
    nested = cdk.NestedStack(real.ingress, "Extras")
    ec2.CfnSecurityGroupIngress(nested, "NestedHole", group_id=real.lbs.admin_nlb_sg.security_group_id,
                                ip_protocol="tcp", from_port=4445, to_port=4445, cidr_ip="0.0.0.0/0")


@injected(_nested_stack)
def test_a_rule_inside_a_nested_stack_is_seen(violations):
    [line] = [line for line in violations.splitlines() if "/Extras/NestedHole" in line]
    assert "[admin-port-ingress]" in line
    assert "from 0.0.0.0/0 (anywhere)" in line


# ------------------------- issue 11, class 1: unresolved fields fail closed ---

def _protocol_from_a_parameter(real: Real) -> None:
    protocol = cdk.CfnParameter(real.ingress, "DebugProtocol", default="tcp").value_as_string
    ec2.CfnSecurityGroupIngress(real.ingress, "DebugRule", group_id=real.lbs.hydra_tasks_sg.security_group_id,
                                ip_protocol=protocol, from_port=4445, to_port=4445, cidr_ip="0.0.0.0/0")


@injected(_protocol_from_a_parameter)
def test_a_rule_whose_protocol_is_a_parameter_covers_the_admin_port(violations):
    [line] = [line for line in violations.splitlines() if "[admin-port-ingress] Hydra-dev-Ingress/DebugRule:" in line]
    assert "an unresolvable protocol (the parameter DebugProtocol)" in line and "from 0.0.0.0/0 (anywhere)" in line


def _listener_port_from_a_parameter(real: Real) -> None:
    port = cdk.CfnParameter(real.ingress, "EdgePort", type="Number", default=443).value_as_number
    edge = exposed_nlb(real, "ParamPortNlb")
    edge.add_listener("Edge", port=port).add_targets("Status", port=8080, targets=[
        elbv2_targets.IpTarget("10.40.16.20")])


@injected(_listener_port_from_a_parameter)
def test_an_internet_facing_listener_on_a_parameter_port_fails_closed(violations):
    assert "[internet-facing-lb] Hydra-dev-Ingress/ParamPortNlb/Resource: its listener " \
           "Hydra-dev-Ingress/ParamPortNlb/Edge/Resource, on an unresolvable port, reaches port 4445" in violations


# ---------------- issue 11, class 2: what admits outside traffic makes its groups outside ---

def _client_vpn(real: Real) -> None:
    vpn_sg = ec2.SecurityGroup(real.ingress, "VpnSg", vpc=real.vpc)
    ec2.CfnClientVpnEndpoint(
        real.ingress, "Vpn", client_cidr_block="10.200.0.0/22", vpc_id=real.vpc.vpc_id,
        server_certificate_arn="arn:aws:acm:eu-west-1:123456789012:certificate/0b1f2c3d",
        authentication_options=[{"type": "certificate-authentication", "mutualAuthentication": {
            "clientRootCertificateChainArn": "arn:aws:acm:eu-west-1:123456789012:certificate/0b1f2c3d"}}],
        connection_log_options={"enabled": False}, security_group_ids=[vpn_sg.security_group_id])
    real.ingress.grant_admin_access(vpn_sg, "operators on the VPN")


@injected(_client_vpn)
def test_a_client_vpn_endpoints_group_is_outside(violations):
    assert "from security group Hydra-dev-Ingress/VpnSg/Resource, outside because Client VPN users arrive " \
           "through it (Hydra-dev-Ingress/Vpn)" in violations


def _public_launch_template(real: Real) -> None:
    fleet_sg = ec2.SecurityGroup(real.ingress, "FleetSg", vpc=real.vpc)
    ec2.LaunchTemplate(real.ingress, "Fleet", associate_public_ip_address=True, security_group=fleet_sg,
                       machine_image=ec2.MachineImage.generic_linux({"eu-west-1": "ami-12c6146b"}))
    real.ingress.grant_admin_access(fleet_sg, "a worker fleet")


@injected(_public_launch_template)
def test_a_launch_template_with_public_addresses_makes_its_group_outside(violations):
    assert "from security group Hydra-dev-Ingress/FleetSg/Resource, outside because it is attached to " \
           "Hydra-dev-Ingress/Fleet/Resource (instances launched from it get a public address)" in violations


def _scheduled_public_task(real: Real) -> None:
    from aws_cdk import aws_ecs as ecs, aws_events as events, aws_events_targets as targets
    ops = real.app.node.find_child("Hydra-dev-Operations")
    task = ecs.FargateTaskDefinition(ops, "ReportTask", cpu=256, memory_limit_mib=512)
    task.add_container("report", image=ecs.ContainerImage.from_registry("public.ecr.aws/docker/library/busybox:1"),
                       command=["true"])
    report_sg = ec2.SecurityGroup(ops, "ReportSg", vpc=real.vpc)
    events.Rule(ops, "Report", schedule=events.Schedule.rate(cdk.Duration.hours(1)), targets=[targets.EcsTask(
        cluster=real.service_stack.hydra.cluster, task_definition=task, assign_public_ip=True,
        security_groups=[report_sg], subnet_selection=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC))])
    real.ingress.grant_admin_access(report_sg, "a report job")


@injected(_scheduled_public_task)
def test_a_scheduled_task_with_a_public_ip_makes_its_group_outside(violations):
    assert "from security group Hydra-dev-Operations/ReportSg/Resource, outside because it is attached to " \
           "Hydra-dev-Operations/Report/Resource" in violations


def _group_of_another_vpc(real: Real) -> None:
    other = ec2.CfnVPC(real.stateful, "SideVpc", cidr_block="10.98.0.0/16")
    side_sg = ec2.CfnSecurityGroup(real.stateful, "SideSg", group_description="a peered VPC's", vpc_id=other.ref)
    ec2.CfnSecurityGroupIngress(real.ingress, "FromSideVpc", group_id=real.lbs.admin_nlb_sg.security_group_id,
                                ip_protocol="tcp", from_port=4445, to_port=4445,
                                source_security_group_id=side_sg.attr_group_id)


@injected(_group_of_another_vpc)
def test_a_group_of_another_vpc_is_outside(violations):
    [line] = [line for line in violations.splitlines() if "[admin-port-ingress] Hydra-dev-Ingress/FromSideVpc:" in line]
    assert "from security group Hydra-dev-Stateful/SideSg, outside because it belongs to another VPC " \
           "(Hydra-dev-Stateful/SideVpc) than the one serving the admin port" in line


# ---------------- issue 11, class 3: the port Hydra's admin API listens on ---

def _hydra_service(real: Real, name: str, image: str, environment: dict, port: int, **container):
    """Another service that runs Hydra (or may), with an internet-facing NLB in front of ``port``."""
    from aws_cdk import aws_ecs as ecs
    stack = real.service_stack
    task = ecs.FargateTaskDefinition(stack, f"{name}Task", cpu=256, memory_limit_mib=512)
    task.add_container("idp", image=ecs.ContainerImage.from_registry(image), environment=environment,
                       port_mappings=[ecs.PortMapping(container_port=port)], **container)
    svc = ecs.FargateService(stack, f"{name}Service", cluster=real.service_stack.hydra.cluster, task_definition=task,
                             vpc_subnets=ec2.SubnetSelection(subnet_group_name="private"))
    nlb = elbv2.NetworkLoadBalancer(stack, f"{name}Nlb", vpc=real.vpc, internet_facing=True,
                                    security_groups=[ec2.SecurityGroup(stack, f"{name}NlbSg", vpc=real.vpc)])
    nlb.add_listener("Tls", port=443).add_targets("Idp", port=port, targets=[svc])


@injected(lambda real: _hydra_service(
    real, "Mirror", "123456789012.dkr.ecr.eu-west-1.amazonaws.com/mirror/idp:26", command=["serve", "all"],
    environment={"SERVE_ADMIN_PORT": "9445", "SERVE_PUBLIC_PORT": "9444"}, port=9445))
def test_an_admin_port_moved_by_the_environment_of_a_mirrored_image_is_followed(violations):
    assert "[internet-facing-lb] Hydra-dev-Service/MirrorNlb/Resource: its listener " \
           "Hydra-dev-Service/MirrorNlb/Tls/Resource on port 443 forwards to port 9445 (Hydra's admin API: " \
           "SERVE_ADMIN_PORT of Hydra-dev-Service/MirrorTask/Resource container idp)" in violations


def _admin_port_from_a_secret(real: Real) -> None:
    from aws_cdk import aws_ecs as ecs, aws_ssm as ssm
    port = ssm.StringParameter.from_string_parameter_name(real.service_stack, "AdminPortParameter", "/hydra/admin")
    _hydra_service(real, "Secret", "oryd/hydra:v26.2.0", command=["serve", "all"],
                   environment={"SERVE_PUBLIC_PORT": "8080"}, port=8081,
                   secrets={"SERVE_ADMIN_PORT": ecs.Secret.from_ssm_parameter(port)})


@injected(_admin_port_from_a_secret)
def test_an_admin_port_from_a_secret_makes_every_port_of_the_container_admin(violations):
    assert "[internet-facing-lb] Hydra-dev-Service/SecretNlb/Resource: its listener " \
           "Hydra-dev-Service/SecretNlb/Tls/Resource on port 443 forwards to port 8081 (Hydra's admin API: " \
           "SERVE_ADMIN_PORT of Hydra-dev-Service/SecretTask/Resource container idp is a secret)" in violations


# ----------------------------------------- issue 11, class 4: more front doors ---

def _accelerator(real: Real) -> None:
    from aws_cdk import aws_globalaccelerator as ga, aws_globalaccelerator_endpoints as ga_endpoints
    listener = ga.Accelerator(real.ingress, "Accelerator").add_listener(
        "Tls", port_ranges=[ga.PortRange(from_port=443)])
    listener.add_endpoint_group("Admin", endpoints=[ga_endpoints.NetworkLoadBalancerEndpoint(real.lbs.admin_nlb)],
                                port_overrides=[ga.PortOverride(listener_port=443, endpoint_port=4445)])


@injected(_accelerator)
def test_a_global_accelerator_in_front_of_the_admin_nlb(violations):
    assert "[global-accelerator] Hydra-dev-Ingress/Accelerator/Tls/Admin/Resource: it sends ports 443, 4445 to " \
           "Hydra-dev-Ingress/LoadBalancers/AdminNlb/Resource, which reaches port 4445" in violations


def _state_machine_runs_hydra_publicly(real: Real) -> None:
    from aws_cdk import aws_ecs as ecs, aws_stepfunctions as sfn, aws_stepfunctions_tasks as tasks
    ops = real.app.node.find_child("Hydra-dev-Operations")
    hydra = real.service_stack.hydra
    run = tasks.EcsRunTask(ops, "RunHydra", cluster=hydra.cluster, task_definition=hydra.task_definition,
                           launch_target=tasks.EcsFargateLaunchTarget(
                               platform_version=ecs.FargatePlatformVersion.LATEST),
                           assign_public_ip=True, subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC),
                           integration_pattern=sfn.IntegrationPattern.RUN_JOB)
    sfn.StateMachine(ops, "Debugger", definition_body=sfn.DefinitionBody.from_chainable(run))


@injected(_state_machine_runs_hydra_publicly)
def test_hydra_run_by_a_state_machine_with_a_public_ip(violations):
    assert "[hydra-public] Hydra-dev-Operations/Debugger/Resource: the ECS task the state machine runs serving " \
           "port 4445 has a public IP" in violations


def _lattice_registration(real: Real) -> None:
    from aws_cdk import aws_vpclattice as lattice
    targets = lattice.CfnTargetGroup(real.service_stack, "LatticeTargets", type="IP", config={
        "port": 443, "protocol": "HTTPS", "vpcIdentifier": real.vpc.vpc_id})
    real.service_stack.hydra.service.node.default_child.add_property_override("VpcLatticeConfigurations", [{
        "TargetGroupArn": targets.attr_arn, "PortName": "admin",
        "RoleArn": "arn:aws:iam::123456789012:role/ecsInfrastructureRole"}])


@injected(_lattice_registration)
def test_the_service_registering_its_admin_port_with_vpc_lattice(violations):
    assert "[privatelink] Hydra-dev-Service/Hydra/Service/Service: VPC Lattice shares the port named admin of its " \
           "tasks, through the target group Hydra-dev-Service/LatticeTargets, on ports [4445]" in violations


# ------------------------ issue 11, class 5: what the admin port registers into is followed ---

def _cloud_map_admin(real: Real) -> None:
    from aws_cdk import aws_servicediscovery as servicediscovery
    stack = real.service_stack
    namespace = servicediscovery.HttpNamespace(stack, "Namespace", name="hydra-dev")
    registry = namespace.create_service("AdminRegistry", name="admin")
    real.service_stack.hydra.service.node.default_child.add_property_override("ServiceRegistries", [{
        "RegistryArn": registry.service_arn, "ContainerName": "hydra", "ContainerPort": 4445}])
    link_sg = ec2.SecurityGroup(stack, "MapLinkSg", vpc=real.vpc)
    link = apigwv2.CfnVpcLink(stack, "MapLink", name="map", security_group_ids=[link_sg.security_group_id],
                              subnet_ids=real.vpc.select_subnets(subnet_group_name="private").subnet_ids)
    api = apigwv2.CfnApi(stack, "MapApi", name="map", protocol_type="HTTP")
    apigwv2.CfnIntegration(stack, "ToAdminRegistry", api_id=api.ref, integration_type="HTTP_PROXY",
                           integration_method="ANY", connection_type="VPC_LINK", connection_id=link.ref,
                           integration_uri=registry.service_arn, payload_format_version="1.0")


@injected(_cloud_map_admin)
def test_an_http_api_to_the_cloud_map_service_hydras_admin_port_registers_into(violations):
    assert "[api-integration] Hydra-dev-Service/ToAdminRegistry: it targets the Cloud Map service " \
           "Hydra-dev-Service/Namespace/AdminRegistry/Resource, into which Hydra-dev-Service/Hydra/Service/Service " \
           "registers port 4445" in violations


# ------------------------------------------------ a moved admin port ---

def test_the_rules_follow_the_configured_admin_port():
    real = Real(hydra_admin_port=4446)
    real.lbs.hydra_tasks_sg.add_ingress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(4446), "debugging")
    real.lbs.admin_nlb_sg.add_ingress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(4445), "nothing listens here")
    message = real.synth_error()
    assert "[admin-port-ingress] Hydra-dev-Ingress/LoadBalancers/HydraTasksSecurityGroup/Resource: tcp 4446 " \
        in message
    assert "tcp 4445 into" not in message, "4445 is nothing now"


# ------------------------------------------------ legitimate additions ---

def test_the_app_with_its_legitimate_neighbours_synthesizes(dev_with_neighbours):
    # The fixture synthesized it: the guard raised nothing. Its own analysis agrees.
    assert guard_messages(dev_with_neighbours) == []
    assert "LoginApp" in dev_with_neighbours.others


def _rules_from(synth, path_part: str):
    analysis = Analysis(synth.network)
    found = [r for r in synth.network.rules if path_part in r.path]
    assert found, path_part
    return analysis, found


def test_the_vpcs_own_cidr_by_reference_is_inside(dev_with_neighbours):
    # Peer.ipv4(vpc.vpc_cidr_block) is Fn::GetAtt on the VPC, exported across stacks: resolved, not feared.
    analysis, rules = _rules_from(dev_with_neighbours, "Hydra-dev-Ingress/FromTheVpc")
    assert all(rule.covers(4445) and analysis.inside(rule.source) for rule in rules)


def test_an_unrelated_internet_facing_alb_with_a_lambda_target_passes(dev_with_neighbours):
    analysis = Analysis(dev_with_neighbours.network)
    [alb] = [lb for lb in dev_with_neighbours.network.load_balancers.values() if lb.path.endswith("StatusAlb/Resource")]
    assert alb.internet_facing and not analysis.lb_reaches(alb, 4445)


def test_granting_another_stacks_group_and_private_ranges_passes(dev_with_neighbours):
    analysis, rules = _rules_from(dev_with_neighbours, "LoginApp/LoginAppSg/")
    assert [r.covers(4445) and analysis.inside(r.source) for r in rules] == [True]
    tooling = [r for r in dev_with_neighbours.network.rules if "OpsTooling" in str(r.source)]
    assert [r.covers(4445) and analysis.inside(r.source) for r in tooling] == [True]
    granted = {str(r.source) for r in dev_with_neighbours.network.rules if r.covers(4445)}
    assert {"10.50.0.0/24", "10.40.64.0/20"} <= granted
