"""No false positives: the real app with other services beside it synthesizes.

One more real app (one synthesis for the module), built by the app's own builder, with what other
teams legitimately add next to Hydra: a shop service on 8080 behind an internet-facing ALB, an HTTP
API to another app's Cloud Map service and to another app's ALB listener, an HTTP API to this app's
Cloud Map service that only the shop registers into, a Global Accelerator and a Verified Access
endpoint in front of the shop, a Client VPN whose group is granted the shop only, a public launch
template and a state machine running the shop's task with a public IP. None of it can reach the
admin port, so the guard must stay silent.
"""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_globalaccelerator as ga
from aws_cdk import aws_globalaccelerator_endpoints as ga_endpoints
from aws_cdk import aws_servicediscovery as servicediscovery
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks

from app import build_app
from hydra_on_aws.boundary.trust_boundary import Analysis, Foreign, check

from tests.conftest import _synthesized, context_for
from tests.support.template_copies import FOREIGN_ACCOUNT

FOREIGN_CLOUD_MAP = f"arn:aws:servicediscovery:eu-west-1:{FOREIGN_ACCOUNT}:service/srv-0123456789abcdef"
FOREIGN_LISTENER = (f"arn:aws:elasticloadbalancing:eu-west-1:{FOREIGN_ACCOUNT}:listener/app/shop/"
                    "0123456789abcdef/0123456789abcdef")


@pytest.fixture(scope="module")
def neighbours():
    context = {**context_for("dev"), "hydra:nag": False}
    app = build_app(context)
    stateful, service = app.node.find_child("Hydra-dev-Stateful"), app.node.find_child("Hydra-dev-Service")
    vpc, cluster = stateful.network.vpc, service.hydra.cluster
    shop = cdk.Stack(app, "Shop")

    # A shop on 8080 behind an internet-facing ALB, registered in this app's Cloud Map namespace.
    namespace = servicediscovery.PrivateDnsNamespace(shop, "Namespace", name="shop.internal", vpc=vpc)
    task = ecs.FargateTaskDefinition(shop, "Task", cpu=256, memory_limit_mib=512)
    task.add_container("web", image=ecs.ContainerImage.from_registry("public.ecr.aws/nginx/nginx:1.27"),
                       port_mappings=[ecs.PortMapping(container_port=8080, name="http")])
    web = ecs.FargateService(shop, "Service", cluster=cluster, task_definition=task,
                             vpc_subnets=ec2.SubnetSelection(subnet_group_name="private"),
                             cloud_map_options=ecs.CloudMapOptions(cloud_map_namespace=namespace, name="web",
                                                                   dns_record_type=servicediscovery.DnsRecordType.SRV,
                                                                   container_port=8080))
    alb = elbv2.ApplicationLoadBalancer(shop, "Alb", vpc=vpc, internet_facing=True)
    alb.add_listener("Http", port=80).add_targets("Web", port=8080, protocol=elbv2.ApplicationProtocol.HTTP,
                                                   targets=[web])

    # HTTP APIs: to another app's Cloud Map service and ALB listener, and to this app's shop registry.
    link_sg = ec2.SecurityGroup(shop, "LinkSg", vpc=vpc)
    link = apigwv2.CfnVpcLink(shop, "Link", name="shop", security_group_ids=[link_sg.security_group_id],
                              subnet_ids=vpc.select_subnets(subnet_group_name="private").subnet_ids)
    api = apigwv2.CfnApi(shop, "Api", name="shop", protocol_type="HTTP")
    for name, uri in (("Billing", FOREIGN_CLOUD_MAP), ("Partner", FOREIGN_LISTENER),
                      ("Web", web.cloud_map_service.service_arn)):
        apigwv2.CfnIntegration(shop, name, api_id=api.ref, integration_type="HTTP_PROXY", integration_method="ANY",
                               connection_type="VPC_LINK", connection_id=link.ref, integration_uri=uri,
                               payload_format_version="1.0")

    # Edge services in front of the shop only.
    ga.Accelerator(shop, "Accelerator").add_listener("Http", port_ranges=[ga.PortRange(from_port=80)]) \
        .add_endpoint_group("Shop", endpoints=[ga_endpoints.ApplicationLoadBalancerEndpoint(alb)])
    verified_sg = ec2.SecurityGroup(shop, "VerifiedSg", vpc=vpc)
    ec2.CfnVerifiedAccessEndpoint(
        shop, "Verified", attachment_type="vpc", endpoint_type="load-balancer", verified_access_group_id="vagr-1",
        application_domain="shop.example.com", domain_certificate_arn="arn:aws:acm:eu-west-1:1:certificate/x",
        endpoint_domain_prefix="shop", security_group_ids=[verified_sg.security_group_id],
        load_balancer_options={"loadBalancerArn": alb.load_balancer_arn, "port": 80, "protocol": "http",
                               "subnetIds": vpc.select_subnets(subnet_group_name="private").subnet_ids})
    vpn_sg = ec2.SecurityGroup(shop, "VpnSg", vpc=vpc)
    ec2.CfnClientVpnEndpoint(
        shop, "Vpn", client_cidr_block="10.200.0.0/22", vpc_id=vpc.vpc_id, security_group_ids=[vpn_sg.security_group_id],
        server_certificate_arn="arn:aws:acm:eu-west-1:123456789012:certificate/0b1f2c3d",
        authentication_options=[{"type": "certificate-authentication", "mutualAuthentication": {
            "clientRootCertificateChainArn": "arn:aws:acm:eu-west-1:123456789012:certificate/0b1f2c3d"}}],
        connection_log_options={"enabled": False})
    for peer in (vpn_sg, verified_sg):
        alb.connections.allow_from(peer, ec2.Port.tcp(80))

    # Publicly addressed compute whose groups are granted nothing of Hydra's.
    ec2.LaunchTemplate(shop, "Fleet", associate_public_ip_address=True,
                       security_group=ec2.SecurityGroup(shop, "FleetSg", vpc=vpc),
                       machine_image=ec2.MachineImage.generic_linux({"eu-west-1": "ami-12c6146b"}))
    run = tasks.EcsRunTask(shop, "RunWeb", cluster=cluster, task_definition=task, assign_public_ip=True,
                           launch_target=tasks.EcsFargateLaunchTarget(
                               platform_version=ecs.FargatePlatformVersion.LATEST),
                           subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC),
                           integration_pattern=sfn.IntegrationPattern.RUN_JOB)
    sfn.StateMachine(shop, "Warmup", definition_body=sfn.DefinitionBody.from_chainable(run))
    return _synthesized(app, context)   # the guard raises here on any finding


def test_the_app_with_other_services_beside_it_synthesizes(neighbours):
    assert [v.message() for v in check(neighbours.network)] == []
    assert "Shop" in neighbours.others


def test_the_shop_alb_is_internet_facing_but_reaches_no_admin_port(neighbours):
    analysis = Analysis(neighbours.network)
    [alb] = [lb for lb in neighbours.network.load_balancers.values() if lb.path == "Shop/Alb/Resource"]
    assert alb.internet_facing and not analysis.lb_reaches(alb, analysis.admin)
    assert analysis.internet_paths_to() == []


def test_literal_arns_of_other_apps_are_foreign_and_this_apps_registry_is_followed(neighbours):
    by_path = {i.path: i for i in neighbours.network.integrations}
    assert isinstance(by_path["Shop/Billing"].target_listener, Foreign)
    assert isinstance(by_path["Shop/Partner"].target_listener, Foreign)
    registry = neighbours.network.registries[by_path["Shop/Web"].target_registry]
    assert registry.ports == {8080} and registry.workloads == ["Shop/Service/Service"]


def test_publicly_addressed_neighbours_make_only_their_own_groups_outside(neighbours):
    analysis = Analysis(neighbours.network)
    outside = {neighbours.network.groups[g].path for g in analysis.outside_groups}
    assert {"Shop/VpnSg/Resource", "Shop/VerifiedSg/Resource", "Shop/FleetSg/Resource",
            "Shop/LinkSg/Resource"} <= outside
    assert not any("Bastion" in path or "Operations" in path for path in outside)
