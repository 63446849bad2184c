"""The guard: every way of exposing the admin port, injected into the real app, stops synthesis."""

from __future__ import annotations

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

    def __init__(self, env: str = "dev", nag: bool = True, **overrides) -> None:
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


# ------------------------------------------------------ security groups ---

def test_inline_ipv4_rule_on_the_tasks():
    real = Real()
    real.lbs.hydra_tasks_sg.add_ingress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(4445), "debugging")
    message = real.synth_error()
    assert ("[admin-port-ingress] Hydra-dev-Ingress/LoadBalancers/HydraTasksSecurityGroup/Resource: tcp 4445 into "
            "Hydra-dev-Ingress/LoadBalancers/HydraTasksSecurityGroup/Resource from 0.0.0.0/0 (anywhere)") in message
    assert "Fix: allow the admin port only from security groups granted with IngressStack.grant_admin_access()" \
        in message


def test_separate_ipv6_rule_with_a_port_range_covering_the_admin_port():
    real = Real()
    ec2.CfnSecurityGroupIngress(real.ingress, "WideOpenV6", group_id=real.lbs.admin_nlb_sg.security_group_id,
                                ip_protocol="tcp", from_port=4000, to_port=5000, cidr_ipv6="::/0")
    assert "[admin-port-ingress] Hydra-dev-Ingress/WideOpenV6: tcp 4000-5000 into " \
           "Hydra-dev-Ingress/LoadBalancers/AdminNlbSecurityGroup/Resource from ::/0 (anywhere)" in real.synth_error()


def test_all_traffic_from_another_private_range_is_outside():
    """10.99.0.0/16 is RFC 1918 but not this VPC: peerings, VPNs and TGWs use such ranges."""
    real = Real()
    ec2.CfnSecurityGroupIngress(real.ingress, "PeeredVpc", group_id=real.lbs.hydra_tasks_sg.security_group_id,
                                ip_protocol="-1", cidr_ip="10.99.0.0/16")
    assert "[admin-port-ingress] Hydra-dev-Ingress/PeeredVpc: all traffic into " \
           "Hydra-dev-Ingress/LoadBalancers/HydraTasksSecurityGroup/Resource from 10.99.0.0/16 (outside the VPC)" \
        in real.synth_error()


@pytest.mark.parametrize("source, why", [
    ({"source_prefix_list_id": "pl-0123456789abcdef0"}, "a prefix list"),
    ({"cidr_ip": "PARAMETER"}, "the parameter TrustedRange"),
    ({"source_security_group_id": cdk.Fn.import_value("SomeoneElse:SecurityGroupId")},
     "which no stack of this app exports"),
])
def test_unresolvable_sources_fail_closed(source, why):
    real = Real()
    if source.get("cidr_ip") == "PARAMETER":
        source = {"cidr_ip": cdk.CfnParameter(real.ingress, "TrustedRange").value_as_string}
    ec2.CfnSecurityGroupIngress(real.ingress, "Opaque", group_id=real.lbs.admin_nlb_sg.security_group_id,
                                ip_protocol="tcp", from_port=4445, to_port=4445, **source)
    message = real.synth_error()
    assert "[admin-port-ingress] Hydra-dev-Ingress/Opaque: tcp 4445" in message
    assert "an unresolvable source: " in message and why in message


def test_a_group_behind_an_internet_facing_load_balancer_is_outside():
    real = Real()
    alb_sg = ec2.SecurityGroup(real.ingress, "AlbSg", vpc=real.vpc)
    elbv2.ApplicationLoadBalancer(real.ingress, "PublicAlb", vpc=real.vpc, internet_facing=True,
                                  security_group=alb_sg)
    real.ingress.grant_admin_access(alb_sg, "the ALB in front of the login app")
    message = real.synth_error()
    assert "[admin-port-ingress]" in message
    assert "from security group Hydra-dev-Ingress/AlbSg/Resource, outside because it is attached to " \
           "Hydra-dev-Ingress/PublicAlb/Resource (internet-facing)" in message


def test_the_chain_is_followed_through_an_internal_load_balancer():
    """Internet -> internet-facing ALB -> internal NLB (admits the ALB) -> granted admin access."""
    real = Real()
    alb_sg = ec2.SecurityGroup(real.ingress, "AlbSg", vpc=real.vpc)
    elbv2.ApplicationLoadBalancer(real.ingress, "PublicAlb", vpc=real.vpc, internet_facing=True,
                                  security_group=alb_sg)
    relay_sg = ec2.SecurityGroup(real.ingress, "RelaySg", vpc=real.vpc)
    elbv2.NetworkLoadBalancer(real.ingress, "RelayNlb", vpc=real.vpc, security_groups=[relay_sg])
    relay_sg.add_ingress_rule(alb_sg, ec2.Port.tcp(443))
    real.ingress.grant_admin_access(relay_sg, "relay")
    assert "from security group Hydra-dev-Ingress/RelaySg/Resource, outside because " \
           "Hydra-dev-Ingress/RelayNlb/Resource forwards traffic it admits from security group " \
           "Hydra-dev-Ingress/AlbSg/Resource" in real.synth_error()


# ------------------------------------------------------- load balancers ---

def exposed_nlb(real: Real) -> elbv2.NetworkLoadBalancer:
    return elbv2.NetworkLoadBalancer(real.ingress, "ExposedNlb", vpc=real.vpc, internet_facing=True,
                                     security_groups=[ec2.SecurityGroup(real.ingress, "ExposedSg", vpc=real.vpc)])


def test_internet_facing_listener_on_the_admin_port():
    real = Real()
    exposed_nlb(real).add_listener("Admin", port=4445, default_target_groups=[real.lbs.admin_target_group])
    assert "[internet-facing-lb] Hydra-dev-Ingress/ExposedNlb/Resource: its listener " \
           "Hydra-dev-Ingress/ExposedNlb/Admin/Resource listens on port 4445" in real.synth_error()


def test_internet_facing_listener_forwarding_to_the_admin_target_group():
    real = Real()
    exposed_nlb(real).add_listener("Tls", port=443, default_target_groups=[real.lbs.admin_target_group])
    assert "[internet-facing-lb] Hydra-dev-Ingress/ExposedNlb/Resource: its listener " \
           "Hydra-dev-Ingress/ExposedNlb/Tls/Resource on port 443 forwards to port 4445" in real.synth_error()


@pytest.mark.parametrize("tg_port, target_port", [(4445, None), (80, 4445)])
def test_internet_facing_target_group_whose_port_or_targets_are_the_admin_port(tg_port, target_port):
    real = Real()
    alb = elbv2.ApplicationLoadBalancer(real.ingress, "Alb", vpc=real.vpc, internet_facing=True)
    listener = alb.add_listener("Http", port=80, open=False)
    listener.add_targets("Tasks", port=tg_port, protocol=elbv2.ApplicationProtocol.HTTP,
                         targets=[elbv2_targets.IpTarget("10.40.16.10", port=target_port)])
    assert "[internet-facing-lb] Hydra-dev-Ingress/Alb/Resource: its listener Hydra-dev-Ingress/Alb/Http/Resource " \
           "on port 80 forwards to port 4445" in real.synth_error()


def test_a_vpc_linked_nlb_may_not_reach_the_admin_port():
    real = Real()
    real.lbs.public_nlb.add_listener("AdminToo", port=4445, default_target_groups=[real.lbs.admin_target_group])
    assert "[vpc-linked-lb] Hydra-dev-Ingress/LoadBalancers/PublicNlb/Resource: its listener " \
           "Hydra-dev-Ingress/LoadBalancers/PublicNlb/AdminToo/Resource listens on port 4445; API Gateway reaches " \
           "it through Hydra-dev-Ingress/PublicApi/VpcLink/Resource" in real.synth_error()


def test_an_internet_nlb_in_front_of_an_internal_alb_is_followed():
    """Internet -> NLB -> 'alb' target group -> internal ALB -> tasks:4445 (the ALB admits the VPC range)."""
    real = Real()
    alb_sg = ec2.SecurityGroup(real.ingress, "InnerAlbSg", vpc=real.vpc, allow_all_outbound=False)
    alb_sg.add_ingress_rule(ec2.Peer.ipv4(real.vpc.vpc_cidr_block), ec2.Port.tcp(80))
    alb = elbv2.ApplicationLoadBalancer(real.ingress, "InnerAlb", vpc=real.vpc, security_group=alb_sg)
    inner = alb.add_listener("Http", port=80, open=False)
    inner.add_targets("Admin", port=4445, protocol=elbv2.ApplicationProtocol.HTTP,
                      targets=[elbv2_targets.IpTarget("10.40.16.10")])
    edge = elbv2.NetworkLoadBalancer(real.ingress, "EdgeNlb", vpc=real.vpc, internet_facing=True,
                                     security_groups=[ec2.SecurityGroup(real.ingress, "EdgeSg", vpc=real.vpc)])
    edge.add_listener("Edge", port=80).add_targets("ToAlb", port=80, targets=[elbv2_targets.AlbListenerTarget(inner)])
    message = real.synth_error()
    assert "[internet-facing-lb] Hydra-dev-Ingress/EdgeNlb/Resource: its listener Hydra-dev-Ingress/EdgeNlb/Edge/" \
           "Resource on port 80 forwards to port 4445" in message


def test_a_listener_on_a_load_balancer_this_app_does_not_define_fails_closed():
    real = Real()
    shared = elbv2.NetworkLoadBalancer.from_network_load_balancer_attributes(
        real.ingress, "SharedNlb", vpc=real.vpc,
        load_balancer_arn="arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/net/edge/0123456789abcdef")
    shared.add_listener("Admin", port=8445).add_targets("Hydra", port=4445, targets=[
        elbv2_targets.IpTarget("10.40.16.10")])
    assert "[internet-facing-lb] Hydra-dev-Ingress/SharedNlb/Admin/Resource (on a load balancer this app does " \
           "not define" in real.synth_error()


def test_a_security_group_the_app_cannot_see_on_the_tasks_fails_closed():
    real = Real()
    real.service_stack.hydra.service.node.default_child.add_property_override(
        "NetworkConfiguration.AwsvpcConfiguration.SecurityGroups",
        [real.lbs.hydra_tasks_sg.security_group_id, "sg-0123456789abcdef0"])
    assert "[opaque-group] Hydra-dev-Service/Hydra/Service/Service: the ECS service serving port 4445 carries the " \
           "literal group id 'sg-0123456789abcdef0'" in real.synth_error()


def test_vpc_lattice_sharing_the_admin_api_fails():
    from aws_cdk import aws_vpclattice as lattice
    real = Real()
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
    message = real.synth_error()
    assert "[privatelink] Hydra-dev-Ingress/AdminShare: VPC Lattice shares Hydra-dev-Ingress/LoadBalancers/AdminNlb/" \
           "Resource on ports [4445]" in message
    assert "outside because VPC Lattice consumers arrive through it (Hydra-dev-Ingress/Gateway)" in message


# ---------------------------------------------------------- API Gateway ---

def test_rest_integration_naming_the_admin_port():
    real = Real()
    api = real.ingress.public_api
    api.rest_api.root.add_resource("backdoor").add_method("ANY", apigw.Integration(
        type=apigw.IntegrationType.HTTP_PROXY, integration_http_method="ANY",
        uri=f"http://{real.lbs.public_nlb.load_balancer_dns_name}:4445/admin/clients",
        options=apigw.IntegrationOptions(connection_type=apigw.ConnectionType.VPC_LINK, vpc_link=api.vpc_link)))
    assert "[api-integration] Hydra-dev-Ingress/PublicApi/RestApi/Default/backdoor/ANY/Resource: its URI " in \
        real.synth_error()


def test_rest_vpc_link_to_the_admin_nlb():
    real = Real()
    api = real.ingress.public_api
    link = apigw.VpcLink(real.ingress, "AdminLink", targets=[real.lbs.admin_nlb])
    api.rest_api.root.add_resource("clients").add_method("ANY", apigw.Integration(
        type=apigw.IntegrationType.HTTP_PROXY, integration_http_method="ANY",
        uri=f"http://{real.lbs.admin_nlb.load_balancer_dns_name}:4445/admin/clients",
        options=apigw.IntegrationOptions(connection_type=apigw.ConnectionType.VPC_LINK, vpc_link=link)))
    message = real.synth_error()
    assert "[vpc-linked-lb] Hydra-dev-Ingress/LoadBalancers/AdminNlb/Resource" in message
    assert "API Gateway reaches it through Hydra-dev-Ingress/AdminLink/Resource" in message
    assert "[api-integration] Hydra-dev-Ingress/PublicApi/RestApi/Default/clients/ANY/Resource" in message


def test_http_api_with_a_vpc_link_v2_to_the_admin_listener():
    real = Real()
    link_sg = ec2.SecurityGroup(real.ingress, "LinkSg", vpc=real.vpc)
    link = apigwv2.CfnVpcLink(real.ingress, "HttpLink", name="admin", security_group_ids=[link_sg.security_group_id],
                              subnet_ids=real.vpc.select_subnets(subnet_group_name="private").subnet_ids)
    http_api = apigwv2.CfnApi(real.ingress, "HttpApi", name="side-door", protocol_type="HTTP")
    apigwv2.CfnIntegration(real.ingress, "AdminIntegration", api_id=http_api.ref, integration_type="HTTP_PROXY",
                           integration_method="ANY", connection_type="VPC_LINK", connection_id=link.ref,
                           integration_uri=real.lbs.admin_listener.listener_arn, payload_format_version="1.0")
    message = real.synth_error()
    assert "[api-integration] Hydra-dev-Ingress/AdminIntegration: it targets the listener " in message
    assert "[vpc-linked-lb] Hydra-dev-Ingress/LoadBalancers/AdminNlb/Resource" in message


def test_a_rest_integration_target_v2_at_the_admin_nlb():
    # REST APIs reach VPC link V2 through the method's IntegrationTarget (no CDK L2 yet: escape hatch).
    real = Real(nag=False)
    api = real.ingress.public_api
    method = api.rest_api.root.add_resource("v2door").add_method("ANY", apigw.Integration(
        type=apigw.IntegrationType.HTTP_PROXY, integration_http_method="ANY", uri="http://hydra.internal/",
        options=apigw.IntegrationOptions(connection_type=apigw.ConnectionType.VPC_LINK, vpc_link=api.vpc_link)))
    method.node.default_child.add_property_override("Integration.IntegrationTarget",
                                                    real.lbs.admin_nlb.load_balancer_arn)
    message = real.synth_error()
    assert "[api-integration] Hydra-dev-Ingress/PublicApi/RestApi/Default/v2door/ANY/Resource" in message
    assert "Hydra-dev-Ingress/LoadBalancers/AdminNlb/Resource" in message


def test_a_vpc_link_v2_group_granted_the_admin_port_is_outside():
    # The link's own group carries API Gateway's traffic: granting it is granting the internet.
    real = Real(nag=False)
    link_sg = ec2.SecurityGroup(real.ingress, "LinkSg", vpc=real.vpc)
    apigwv2.CfnVpcLink(real.ingress, "HttpLink", name="public", security_group_ids=[link_sg.security_group_id],
                       subnet_ids=real.vpc.select_subnets(subnet_group_name="private").subnet_ids)
    real.ingress.grant_admin_access(link_sg, "looks internal")
    message = real.synth_error()
    assert "[admin-port-ingress]" in message
    assert ("from security group Hydra-dev-Ingress/LinkSg/Resource, outside because API Gateway sends through "
            "it (Hydra-dev-Ingress/HttpLink)") in message


# ------------------------------------------------- sources it must resolve ---

def test_the_vpcs_own_cidr_by_reference_is_inside():
    # Peer.ipv4(vpc.vpc_cidr_block) is Fn::GetAtt on the VPC, exported across stacks: resolved, not feared.
    real = Real(nag=False)
    real.lbs.admin_nlb_sg.add_ingress_rule(ec2.Peer.ipv4(real.vpc.vpc_cidr_block), ec2.Port.tcp(4445), "the VPC")
    real.app.synth()


def test_another_vpcs_cidr_by_reference_is_outside():
    real = Real(nag=False)
    other = ec2.CfnVPC(real.stateful, "PeerVpc", cidr_block="10.99.0.0/16")
    real.lbs.admin_nlb_sg.add_ingress_rule(ec2.Peer.ipv4(other.attr_cidr_block), ec2.Port.tcp(4445), "peer")
    assert "from 10.99.0.0/16 (outside the VPC)" in real.synth_error()


def test_the_rules_follow_the_configured_admin_port():
    real = Real(nag=False, hydra_admin_port=4446)
    real.lbs.hydra_tasks_sg.add_ingress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(4446), "debugging")
    assert "[admin-port-ingress] Hydra-dev-Ingress/LoadBalancers/HydraTasksSecurityGroup/Resource: tcp 4446 " \
        in real.synth_error()
    moved = Real(nag=False, hydra_admin_port=4446)
    moved.lbs.hydra_tasks_sg.add_ingress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(4445), "nothing listens here")
    moved.app.synth()  # 4445 is nothing now


# ---------------------------------------------------- other doors in ---

def test_privatelink_endpoint_service_on_the_admin_nlb():
    real = Real()
    ec2.VpcEndpointService(real.ingress, "ShareAdmin", vpc_endpoint_service_load_balancers=[real.lbs.admin_nlb])
    assert "[privatelink] Hydra-dev-Ingress/ShareAdmin/ShareAdmin: the endpoint service fronts " \
           "Hydra-dev-Ingress/LoadBalancers/AdminNlb/Resource, which reaches port 4445" in real.synth_error()


def test_cloudfront_vpc_origin_on_the_admin_nlb():
    real = Real()
    cloudfront.CfnVpcOrigin(real.ingress, "AdminOrigin", vpc_origin_endpoint_config={
        "arn": real.lbs.admin_nlb.load_balancer_arn, "name": "admin", "httpPort": 4445,
        "originProtocolPolicy": "http-only"})
    assert "[privatelink] Hydra-dev-Ingress/AdminOrigin: the CloudFront VPC origin targets " \
           "Hydra-dev-Ingress/LoadBalancers/AdminNlb/Resource" in real.synth_error()


def test_hydra_tasks_with_a_public_ip():
    real = Real()
    service = real.service_stack.hydra.service.node.default_child
    service.add_property_override("NetworkConfiguration.AwsvpcConfiguration.AssignPublicIp", "ENABLED")
    assert "[hydra-public] Hydra-dev-Service/Hydra/Service/Service: the ECS service serving port 4445 has a " \
           "public IP" in real.synth_error()


def test_hydra_tasks_in_public_subnets():
    real = Real()
    service = real.service_stack.hydra.service.node.default_child
    service.add_property_override("NetworkConfiguration.AwsvpcConfiguration.Subnets",
                                  real.vpc.select_subnets(subnet_type=ec2.SubnetType.PUBLIC).subnet_ids)
    assert "[hydra-public] Hydra-dev-Service/Hydra/Service/Service: the ECS service serving port 4445 runs in " \
           "public subnets" in real.synth_error()


# ------------------------------------------------ legitimate additions ---

def test_an_unrelated_internet_facing_alb_with_a_lambda_target_passes():
    from aws_cdk import aws_lambda as lambda_
    real = Real(nag=False)  # cdk-nag would object to this toy ALB; the guard is what is tested
    status = lambda_.Function(real.ingress, "Status", runtime=lambda_.Runtime.PYTHON_3_14, handler="index.handler",
                              code=lambda_.Code.from_inline("def handler(event, context): return {}"))
    alb = elbv2.ApplicationLoadBalancer(real.ingress, "StatusAlb", vpc=real.vpc, internet_facing=True)
    alb.add_listener("Http", port=80, open=False).add_targets("Fn", targets=[elbv2_targets.LambdaTarget(status)])
    real.app.synth()  # no exception: a Lambda target group reaches no port


def test_granting_another_stacks_group_and_private_ranges_passes():
    real = Real(admin_allowed_cidrs=["10.50.0.0/24", "10.40.64.0/20"])
    login = cdk.Stack(real.app, "LoginApp")
    login_sg = ec2.SecurityGroup(login, "LoginAppSg", vpc=real.vpc)
    real.ingress.grant_admin_access(login_sg, "login/consent app")
    tooling_sg = ec2.SecurityGroup(real.ingress, "OpsTooling", vpc=real.vpc)
    real.ingress.grant_admin_access(tooling_sg, "operations tooling")
    real.app.synth()  # no exception
