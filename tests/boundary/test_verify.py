"""The live check, against the account the synthesized dev templates describe, built in moto.

``tests/support/derived_account.py`` creates, through moto's normal APIs, every resource of the dev
templates that the live check reads, with the rendered property values; the compliant account must
pass. Each test then tampers with it the way an adversary would, class by class (issue 11): a
value the check cannot pin down, something publicly addressed carrying a granted group, Hydra's
ports moved by its environment, more front doors, and what must pass (other apps' resources).
Where moto does not offer an API the check reads (Client VPN, Verified Access) or drops a field it
needs (a REST integration's connectionId), the rule runs on recorded API responses with botocore's
Stubber instead (said at each test).
"""

from __future__ import annotations

import http.server
import json
import ssl
import threading
from typing import Any

import boto3
import botocore.loaders
import botocore.session
import pytest
from botocore.stub import Stubber

from hydra_on_aws.boundary import verify as live
from hydra_on_aws.boundary.trust_boundary import Analysis
from hydra_on_aws.local.tls import LocalCA
from hydra_on_aws.boundary.verify import AccountReader, Report, main, verify

from tests.conftest import MOTO_REGION as REGION
from tests.support.derived_account import Derived, derive, derived
from tests.support.template_copies import FOREIGN_ACCOUNT

ENV = "dev"


_LOADER = botocore.loaders.create_loader()   # service models parsed once for the module, not per session


class _Session(boto3.Session):
    """One client per service for the test: deriving an account and tampering with it asks for
    hundreds, and building each anew would dominate the test's cost."""

    def client(self, service_name, *args, **kwargs):
        if args or kwargs:
            return super().client(service_name, *args, **kwargs)
        clients = self.__dict__.setdefault("_clients", {})
        if service_name not in clients:
            clients[service_name] = super().client(service_name)
        return clients[service_name]


@pytest.fixture
def aws(moto_session):
    """moto's session (the conftest fixture), on a loader shared across tests: parsing the service
    models again for every test would dominate its cost."""
    core = botocore.session.get_session()
    core.register_component("data_loader", _LOADER)
    return _Session(botocore_session=core, region_name=moto_session.region_name)


@pytest.fixture
def account(aws, dev) -> Derived:
    return derived(aws, dev)


def failed_rules(report: Report) -> set[str]:
    return {v.rule for v in report.network_violations} | {f[0] for f in report.live_findings}


def findings(report: Report) -> list[str]:
    return [f"[{v.rule}] {v.path}: {v.detail}" for v in report.network_violations] + \
        [f"[{r}] {p}: {d}" for r, p, d in report.live_findings]


# ------------------------------------------------------------- helpers ---

def private_subnets(account: Derived) -> list[str]:
    return [account.id("privateSubnet1/Subnet"), account.id("privateSubnet2/Subnet")]


def new_group(account: Derived, name: str, vpc: str | None = None) -> str:
    return account.session.client("ec2").create_security_group(
        GroupName=name, Description=name, VpcId=vpc or account.id("Network/Vpc/Resource"))["GroupId"]


def grant(account: Derived, source: str) -> None:
    """What IngressStack.grant_admin_access() does, done by hand in the console."""
    account.session.client("ec2").authorize_security_group_ingress(
        GroupId=account.id("AdminNlbSecurityGroup/Resource"), IpPermissions=[{
            "IpProtocol": "tcp", "FromPort": 4445, "ToPort": 4445, "UserIdGroupPairs": [{"GroupId": source}]}])


def hydra_task_definition(account: Derived) -> dict:
    ecs = account.session.client("ecs")
    return ecs.describe_task_definition(taskDefinition=account.id("Hydra/TaskDefinition/Resource"))["taskDefinition"]


def redeploy_hydra(account: Derived, environment: dict[str, str | None] | None = None,
                   secrets: dict[str, str] | None = None) -> str:
    """A new revision of Hydra's task definition with ``environment`` changed, and the service on it."""
    ecs = account.session.client("ecs")
    taskdef = hydra_task_definition(account)
    [container] = taskdef["containerDefinitions"]
    env = {e["name"]: e["value"] for e in container.get("environment", [])}
    env.update(environment or {})
    container["environment"] = [{"name": k, "value": v} for k, v in env.items() if v is not None]
    container["secrets"] = container.get("secrets", []) + [{"name": k, "valueFrom": v}
                                                           for k, v in (secrets or {}).items()]
    arn = ecs.register_task_definition(
        family=taskdef["family"], networkMode=taskdef["networkMode"], cpu=taskdef["cpu"], memory=taskdef["memory"],
        requiresCompatibilities=taskdef["requiresCompatibilities"], executionRoleArn=taskdef["executionRoleArn"],
        taskRoleArn=taskdef["taskRoleArn"], containerDefinitions=[container])["taskDefinition"]["taskDefinitionArn"]
    ecs.update_service(cluster=account.id("Hydra/Cluster/Resource"), service="hydra", taskDefinition=arn)
    return arn


def public_address_for(account: Derived, eni: str) -> str:
    ec2 = account.session.client("ec2")
    address = ec2.allocate_address(Domain="vpc")
    ec2.associate_address(AllocationId=address["AllocationId"], NetworkInterfaceId=eni)
    return address["PublicIp"]


def http_api(account: Derived, uri: str, name: str = "neighbours") -> None:
    """An HTTP API with a VPC link V2 into the app's private subnets, integrating ``uri``."""
    apigwv2 = account.session.client("apigatewayv2")
    link = apigwv2.create_vpc_link(Name=name, SubnetIds=private_subnets(account),
                                   SecurityGroupIds=[new_group(account, f"{name}-link")])["VpcLinkId"]
    api = apigwv2.create_api(Name="neighbours", ProtocolType="HTTP")["ApiId"]
    apigwv2.create_integration(ApiId=api, IntegrationType="HTTP_PROXY", IntegrationMethod="ANY",
                               ConnectionType="VPC_LINK", ConnectionId=link, IntegrationUri=uri,
                               PayloadFormatVersion="1.0")


class _Recorded:
    """A moto client with some operations answered by recorded responses (validated by botocore's Stubber):
    for APIs moto does not offer (Client VPN, Verified Access) or cannot run (Fargate tasks)."""

    def __init__(self, real: Any, service: str, responses: dict[str, list[dict]]) -> None:
        self.real, self.operations = real, set(responses)
        self.stubbed = boto3.client(service, region_name=REGION)
        self.stubber = Stubber(self.stubbed)
        for operation, answers in responses.items():
            for answer in answers:
                self.stubber.add_response(operation, answer)
        self.stubber.activate()

    def _for(self, operation: str) -> Any:
        return self.stubbed if operation in self.operations else self.real

    def can_paginate(self, operation: str) -> bool:
        return self._for(operation).can_paginate(operation)

    def get_paginator(self, operation: str) -> Any:
        return self._for(operation).get_paginator(operation)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._for(name), name)


ENDPOINTS = ("describe_client_vpn_endpoints", "describe_verified_access_endpoints")


def read_with(account: Derived, recorded: dict[str, dict[str, list[dict]]]) -> list[str]:
    """The check's findings with ``recorded`` answers (service -> operation -> responses, in call order)."""
    recorded = {"ec2": {op: [{}] for op in ENDPOINTS}} | recorded

    class Reader(AccountReader):
        def client(self, service: str) -> Any:
            real = super().client(service)
            return _Recorded(real, service, recorded[service]) if service in recorded else real
    net, _ = Reader(account.session, ENV).read()
    return [f"[{v.rule}] {v.path}: {v.detail}" for v in Analysis(net).violations()]


# ------------------------------------------------------------ compliant ---

def test_the_account_the_dev_templates_describe_passes(account):
    report = verify(account.session, ENV)
    assert failed_rules(report) == set(), report.render()
    text = report.render()
    assert text.startswith(f"Live check of Hydra {ENV} in {REGION}")
    assert "PASS  admin-port-ingress" in text and text.endswith("Result: PASS")


def test_the_check_read_what_the_templates_define(account):
    net, deployment = AccountReader(account.session, ENV).read()
    kinds = sorted((w.kind, w.path.split(" (")[0].split(" ")[0]) for w in net.workloads)
    assert ("ECS service", "ECS") in kinds and ("ECS task", "ECS") in kinds, "the service and the janitor's run"
    assert sorted(lb.kind for lb in net.load_balancers.values()) == ["network", "network"]
    assert [link.target_lbs for link in net.vpc_links.values()] == [[account.id("PublicNlb/Resource")]]
    assert net.admin_ports == {4445} and not net.every_admin
    assert [td["family"] for td in deployment.task_definitions] == ["hydra-dev"]
    janitor = [w for w in net.workloads if w.kind == "ECS task"]
    assert [w.public_ip for w in janitor] == [False], "the janitor's state machine runs it without a public IP"
    nat = [w for w in net.workloads if w.forwards]
    assert len(nat) == 1 and nat[0].public_ip, "the NAT instance: public, forwarding, admitting only the VPC"


# ------------------------------------------- tampered: the boundary holds ---

def test_a_rule_opening_the_admin_port_to_the_internet_fails(account):
    tasks = account.id("HydraTasksSecurityGroup/Resource")
    account.session.client("ec2").authorize_security_group_ingress(GroupId=tasks, IpPermissions=[{
        "IpProtocol": "tcp", "FromPort": 4445, "ToPort": 4445, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    report = verify(account.session, ENV)
    assert failed_rules(report) == {"admin-port-ingress"}
    assert f"{tasks} (LoadBalancersHydraTasksSecurityGroupE940BC43): tcp 4445 into {tasks} " \
           "(LoadBalancersHydraTasksSecurityGroupE940BC43) from 0.0.0.0/0 (anywhere)" in report.render()


def test_each_test_tampers_with_its_own_copy_of_the_derived_account(aws, dev):
    # derived() restores one kept state instead of deriving again: what a test changes (a rule, a
    # new interface) must reach neither the next test's account nor the kept copy, whether the
    # account it changed was derived afresh or restored.
    for _ in range(3):
        account = derived(aws, dev)
        tasks = account.id("HydraTasksSecurityGroup/Resource")
        ec2 = account.session.client("ec2")
        assert failed_rules(verify(account.session, ENV)) == set()
        assert ec2.describe_network_interfaces(Filters=[{"Name": "group-id", "Values": [tasks]}])[
            "NetworkInterfaces"] == []
        ec2.authorize_security_group_ingress(GroupId=tasks, IpPermissions=[{
            "IpProtocol": "tcp", "FromPort": 4445, "ToPort": 4445, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
        ec2.create_network_interface(SubnetId=account.id("privateSubnet1/Subnet"), Groups=[tasks])
        assert failed_rules(verify(account.session, ENV)) == {"admin-port-ingress"}


def test_an_internet_facing_load_balancer_forwarding_to_the_admin_port_fails(account):
    elbv2 = account.session.client("elbv2")
    exposed = elbv2.create_load_balancer(Name="shortcut", Subnets=[account.id("publicSubnet1/Subnet")],
                                         Scheme="internet-facing", Type="network")["LoadBalancers"][0]
    elbv2.create_listener(LoadBalancerArn=exposed["LoadBalancerArn"], Protocol="TCP", Port=443,
                          DefaultActions=[{"Type": "forward", "TargetGroupArn": account.id("AdminTargets/Resource")}])
    report = verify(account.session, ENV)
    assert "internet-facing-lb" in failed_rules(report)
    assert "shortcut (network, internet-facing): its listener listener 443 of shortcut on port 443 forwards to " \
           "port 4445" in report.render()


def test_an_integration_to_the_admin_nlb_fails(account):
    apigw = account.session.client("apigateway")
    api = account.id("PublicApi/RestApi/Resource")
    backdoor = apigw.create_resource(restApiId=api, parentId=account.id("PublicApi/RestApi/Resource",
                                                                        "RootResourceId"),
                                     pathPart="backdoor")["id"]
    apigw.put_method(restApiId=api, resourceId=backdoor, httpMethod="GET", authorizationType="NONE")
    apigw.put_integration(restApiId=api, resourceId=backdoor, httpMethod="GET", type="HTTP_PROXY",
                          integrationHttpMethod="GET",
                          uri=f"http://{account.id('AdminNlb/Resource', 'DNSName')}:4445/admin/clients")
    report = verify(account.session, ENV)
    assert failed_rules(report) == {"api-integration"}
    assert "REST API hydra-dev GET /backdoor: its URI " in report.render()


def test_a_vpc_link_integration_to_the_admin_nlb_fails_on_recorded_responses(account):
    """moto drops a REST integration's connectionId, so this rule runs on recorded API responses."""
    admin_arn = account.id("AdminNlb/Resource")
    stubbed = boto3.client("apigateway", region_name=REGION)
    stubber = Stubber(stubbed)
    stubber.add_response("get_vpc_links", {"items": [{"id": "vl-admin", "name": "oops", "targetArns": [admin_arn]}]})
    stubber.add_response("get_rest_apis", {"items": [{"id": "api1", "name": "hydra-dev"}]})
    stubber.add_response("get_resources", {"items": [{"id": "r1", "path": "/{proxy+}",
                                                      "resourceMethods": {"ANY": {}}}]})
    stubber.add_response("get_integration", {"type": "HTTP_PROXY", "connectionType": "VPC_LINK",
                                             "connectionId": "vl-admin", "uri": "http://whatever.internal:4444/"})

    class Reader(AccountReader):
        def client(self, service):
            return stubbed if service == "apigateway" else super().client(service)
    with stubber:
        net, _ = Reader(account.session, ENV).read()
    violations = {v.rule: v for v in live.Analysis(net).violations()}
    assert "API Gateway reaches it through VPC link vl-admin (oops)" in violations["vpc-linked-lb"].detail
    # ... which also puts the admin NLB's security group, and so the tasks' admin rule, outside.
    assert set(violations) == {"vpc-linked-lb", "admin-port-ingress"}


def test_plain_environment_secrets_fail(account):
    redeploy_hydra(account, {"DSN": "postgres://hydra:secret@db:5432/hydra"})
    report = verify(account.session, ENV)
    assert failed_rules(report) == {"task-secrets"}
    assert "hydra-dev/hydra: DSN is a plain environment variable" in report.render()


def test_an_issuer_other_than_the_published_one_fails(account):
    redeploy_hydra(account, {"URLS_SELF_ISSUER": account.issuer.rstrip("/")})
    report = verify(account.session, ENV)
    assert failed_rules(report) == {"issuer"}
    assert f"URLS_SELF_ISSUER={account.issuer.rstrip('/')!r} but HydraPublicApi={account.issuer!r}" \
        in report.render()


def test_a_classic_load_balancer_forwarding_to_the_admin_port_fails(account):
    account.session.client("elb").create_load_balancer(
        LoadBalancerName="legacy", Subnets=[account.id("publicSubnet1/Subnet")], Scheme="internet-facing",
        Listeners=[{"Protocol": "TCP", "LoadBalancerPort": 443, "InstanceProtocol": "TCP", "InstancePort": 4445}])
    report = verify(account.session, ENV)
    assert "internet-facing-lb" in failed_rules(report)
    assert "legacy (classic, internet-facing): its listener listener 443 of legacy on port 443 forwards to port " \
           "4445" in report.render()


# -------------------- class 1: what the check cannot pin down fails closed ---

def test_a_state_machine_choosing_the_public_ip_at_run_time_fails_closed(account):
    definition = {"StartAt": "Run", "States": {"Run": {
        "Type": "Task", "Resource": "arn:aws:states:::ecs:runTask.sync", "End": True, "Parameters": {
            "Cluster": account.id("Hydra/Cluster/Resource"), "TaskDefinition": account.id("Hydra/TaskDefinition/Resource"),
            "LaunchType": "FARGATE", "NetworkConfiguration": {"AwsvpcConfiguration": {
                "Subnets": private_subnets(account), "SecurityGroups": [account.id("CommandsSecurityGroup/Resource")],
                "AssignPublicIp.$": "$.public"}}}}}}
    account.session.client("stepfunctions").create_state_machine(
        name="debug", definition=json.dumps(definition), roleArn="arn:aws:iam::123456789012:role/debug")
    report = verify(account.session, ENV)
    assert failed_rules(report) == {"hydra-public"}
    assert "ECS task started by state machine debug: the ECS task serving port 4445 has a public IP (a value of " \
           "it is computed at run time)" in report.render()


def test_a_rule_by_protocol_number_from_another_private_range_fails(account):
    account.session.client("ec2").authorize_security_group_ingress(
        GroupId=account.id("AdminNlbSecurityGroup/Resource"), IpPermissions=[{
            "IpProtocol": "6", "FromPort": 4000, "ToPort": 5000, "IpRanges": [{"CidrIp": "10.99.0.0/16"}]}])
    assert failed_rules(verify(account.session, ENV)) == {"admin-port-ingress"}


# --------------- class 2: what admits outside traffic makes its groups outside ---

def test_an_interface_with_an_elastic_ip_carrying_a_granted_group_fails(account):
    group = new_group(account, "tool")
    eni = account.session.client("ec2").create_network_interface(
        SubnetId=private_subnets(account)[0], Groups=[group])["NetworkInterface"]["NetworkInterfaceId"]
    address = public_address_for(account, eni)
    grant(account, group)
    report = verify(account.session, ENV)
    assert failed_rules(report) == {"admin-port-ingress"}
    assert f"from security group {group} (tool), outside because it is attached to network interface {eni} () " \
           f"(the public address {address})" in report.render()


def test_an_instance_with_a_public_ip_carrying_a_granted_group_fails(account):
    group = new_group(account, "jump")
    account.session.client("ec2").run_instances(
        ImageId="ami-12c6146b", MinCount=1, MaxCount=1, NetworkInterfaces=[{
            "DeviceIndex": 0, "SubnetId": private_subnets(account)[0], "Groups": [group],
            "AssociatePublicIpAddress": True}])
    grant(account, group)
    assert failed_rules(verify(account.session, ENV)) == {"admin-port-ingress"}


def test_a_group_of_another_vpc_granted_the_admin_port_fails(account):
    ec2 = account.session.client("ec2")
    peer = ec2.create_vpc(CidrBlock="10.99.0.0/16")["Vpc"]["VpcId"]
    grant(account, new_group(account, "peer", vpc=peer))
    report = verify(account.session, ENV)
    assert failed_rules(report) == {"admin-port-ingress"}
    assert "(not a security group of this app)" in report.render()


def test_client_vpn_and_verified_access_groups_are_outside_on_recorded_responses(account):
    vpn, verified = new_group(account, "vpn"), new_group(account, "verified")
    grant(account, vpn)
    grant(account, verified)
    vpc = account.id("Network/Vpc/Resource")
    found = read_with(account, {"ec2": {
        "describe_client_vpn_endpoints": [{"ClientVpnEndpoints": [
            {"ClientVpnEndpointId": "cvpn-endpoint-0123456789abcdef0", "VpcId": vpc, "SecurityGroupIds": [vpn]}]}],
        "describe_verified_access_endpoints": [{"VerifiedAccessEndpoints": [
            {"VerifiedAccessEndpointId": "vae-0123456789abcdef0", "SecurityGroupIds": [verified],
             "NetworkInterfaceOptions": {"NetworkInterfaceId": "eni-0123456789abcdef0", "Port": 443}}]}]}})
    assert any(f"from security group {vpn} (vpn), outside because Client VPN users arrive through it "
               "(cvpn-endpoint-0123456789abcdef0)" in line for line in found), found
    assert any(f"from security group {verified} (verified), outside because Verified Access users arrive through it"
               in line for line in found), found


# --------------------- class 3: the port Hydra's admin API listens on ---

def test_swapped_ports_make_the_public_path_reach_the_admin_api(account):
    redeploy_hydra(account, {"SERVE_ADMIN_PORT": "4444", "SERVE_PUBLIC_PORT": "4445"})
    report = verify(account.session, ENV)
    assert "vpc-linked-lb" in failed_rules(report)
    assert "its listener listener 4444 of LoadBalancersPublicNlbDBE45E79 listens on port 4444 (Hydra's admin API: " \
           "SERVE_ADMIN_PORT of hydra-dev container hydra)" in report.render()


def test_an_admin_port_from_a_secret_makes_every_port_of_hydra_admin(account):
    redeploy_hydra(account, {"SERVE_ADMIN_PORT": None},
                   secrets={"SERVE_ADMIN_PORT": f"arn:aws:ssm:{REGION}:123456789012:parameter/admin"})
    report = verify(account.session, ENV)
    assert "vpc-linked-lb" in failed_rules(report)
    assert "SERVE_ADMIN_PORT of hydra-dev container hydra is a secret" in report.render()


# ------------------------------------------------- class 4: more front doors ---

def test_a_one_off_hydra_task_with_a_public_ip_fails_on_recorded_tasks(account):
    """moto cannot run a Fargate task, so the running task is a recorded answer; its interface, with the public
    address AWS gives it, is moto's."""
    ec2 = account.session.client("ec2")
    subnet = private_subnets(account)[0]
    eni = ec2.create_network_interface(SubnetId=subnet, Groups=[account.id("HydraTasksSecurityGroup/Resource")],
                                       Description="arn:aws:ecs:eu-west-1:123456789012:attachment/0b1f")[
        "NetworkInterface"]["NetworkInterfaceId"]
    public_address_for(account, eni)
    cluster = f"arn:aws:ecs:{REGION}:123456789012:cluster/{account.id('Hydra/Cluster/Resource')}"
    task = f"arn:aws:ecs:{REGION}:123456789012:task/{account.id('Hydra/Cluster/Resource')}/0b1f2c3d4e5f"
    found = read_with(account, {"ecs": {
        "list_clusters": [{"clusterArns": [cluster]}], "list_services": [{"serviceArns": []}],
        "list_tasks": [{"taskArns": [task]}],
        "describe_tasks": [{"tasks": [{"taskArn": task, "group": "family:hydra-dev",
                                       "taskDefinitionArn": account.id("Hydra/TaskDefinition/Resource"),
                                       "attachments": [{"type": "ElasticNetworkInterface", "details": [
                                           {"name": "subnetId", "value": subnet},
                                           {"name": "networkInterfaceId", "value": eni}]}]}]}]}})
    assert "[hydra-public] ECS task 0b1f2c3d4e5f (family:hydra-dev): the ECS task serving port 4445 has a public " \
           "IP" in found, found


def test_a_rule_running_hydra_with_a_public_ip_fails(account):
    events = account.session.client("events")
    events.put_rule(Name="debug", ScheduleExpression="rate(1 hour)")
    events.put_targets(Rule="debug", Targets=[{
        "Id": "hydra", "Arn": f"arn:aws:ecs:{REGION}:123456789012:cluster/{account.id('Hydra/Cluster/Resource')}",
        "RoleArn": "arn:aws:iam::123456789012:role/events", "EcsParameters": {
            "TaskDefinitionArn": account.id("Hydra/TaskDefinition/Resource"), "LaunchType": "FARGATE",
            "NetworkConfiguration": {"awsvpcConfiguration": {
                "Subnets": private_subnets(account), "SecurityGroups": [account.id("CommandsSecurityGroup/Resource")],
                "AssignPublicIp": "ENABLED"}}}}])
    report = verify(account.session, ENV)
    assert failed_rules(report) == {"hydra-public"}
    assert "ECS task started by EventBridge rule debug: the ECS task serving port 4445 has a public IP" \
        in report.render()


def test_a_verified_access_endpoint_in_front_of_the_admin_nlb_fails_on_recorded_responses(account):
    found = read_with(account, {"ec2": {
        "describe_client_vpn_endpoints": [{}],
        "describe_verified_access_endpoints": [{"VerifiedAccessEndpoints": [
            {"VerifiedAccessEndpointId": "vae-0123456789abcdef0", "SecurityGroupIds": [],
             "LoadBalancerOptions": {"LoadBalancerArn": account.id("AdminNlb/Resource"), "Port": 4445}}]}]}})
    assert any(line.startswith("[verified-access] Verified Access endpoint vae-0123456789abcdef0: it sends port 4445 "
                               "to LoadBalancersAdminNlbBAFD8C90") for line in found), found


# --------------------------------------------- class 5: no false positives ---

def test_http_apis_to_other_apps_cloud_map_services_and_listeners_pass(account):
    http_api(account, f"arn:aws:servicediscovery:{REGION}:{FOREIGN_ACCOUNT}:service/srv-0123456789abcdef")
    http_api(account, f"arn:aws:elasticloadbalancing:{REGION}:{FOREIGN_ACCOUNT}:listener/app/shop/0123/4567",
             name="partner")
    report = verify(account.session, ENV)
    assert failed_rules(report) == set(), report.render()


def test_an_internet_facing_alb_for_another_service_passes(account):
    session = account.session
    elbv2, ecs = session.client("elbv2"), session.client("ecs")
    alb_group, shop_group = new_group(account, "shop-alb"), new_group(account, "shop")
    session.client("ec2").authorize_security_group_ingress(GroupId=shop_group, IpPermissions=[{
        "IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080, "UserIdGroupPairs": [{"GroupId": alb_group}]}])
    alb = elbv2.create_load_balancer(Name="shop", Subnets=[account.id("publicSubnet1/Subnet"),
                                                           account.id("publicSubnet2/Subnet")],
                                     SecurityGroups=[alb_group], Scheme="internet-facing")["LoadBalancers"][0]
    tg = elbv2.create_target_group(Name="shop", Protocol="HTTP", Port=8080, VpcId=account.id("Network/Vpc/Resource"),
                                   TargetType="ip")["TargetGroups"][0]["TargetGroupArn"]
    elbv2.create_listener(LoadBalancerArn=alb["LoadBalancerArn"], Protocol="HTTP", Port=80,
                          DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])
    shop = ecs.register_task_definition(family="shop", networkMode="awsvpc", requiresCompatibilities=["FARGATE"],
                                        cpu="256", memory="512", containerDefinitions=[{
                                            "name": "web", "image": "public.ecr.aws/nginx/nginx:1.27",
                                            "portMappings": [{"containerPort": 8080}]}])["taskDefinition"]
    ecs.create_service(cluster=account.id("Hydra/Cluster/Resource"), serviceName="shop",
                       taskDefinition=shop["taskDefinitionArn"], desiredCount=1, launchType="FARGATE",
                       networkConfiguration={"awsvpcConfiguration": {"subnets": private_subnets(account),
                                                                     "securityGroups": [shop_group]}},
                       loadBalancers=[{"targetGroupArn": tg, "containerName": "web", "containerPort": 8080}])
    report = verify(account.session, ENV)
    assert failed_rules(report) == set(), report.render()


def test_an_http_api_to_the_cloud_map_service_hydras_admin_port_registers_into_fails(account):
    session = account.session
    cloud_map = session.client("servicediscovery")
    namespace = cloud_map.create_http_namespace(Name="hydra")["OperationId"]
    namespace_id = cloud_map.get_operation(OperationId=namespace)["Operation"]["Targets"]["NAMESPACE"]
    registry = cloud_map.create_service(Name="admin", NamespaceId=namespace_id)["Service"]["Arn"]
    session.client("ecs").create_service(
        cluster=account.id("Hydra/Cluster/Resource"), serviceName="hydra-registered", desiredCount=1,
        taskDefinition=account.id("Hydra/TaskDefinition/Resource"), launchType="FARGATE",
        networkConfiguration={"awsvpcConfiguration": {"subnets": private_subnets(account),
                                                      "securityGroups": [account.id("HydraTasksSecurityGroup/Resource")]}},
        serviceRegistries=[{"registryArn": registry, "containerName": "hydra", "containerPort": 4445}])
    http_api(account, registry)
    report = verify(account.session, ENV)
    assert failed_rules(report) == {"api-integration"}
    assert f"it targets the Cloud Map service Cloud Map service {registry}, into which ECS service hydra-registered " \
           "registers port 4445" in report.render()


def test_missing_stacks_give_one_line(aws, capsys):
    assert main(["--env", ENV, "--region", REGION]) == 2
    err = capsys.readouterr().err
    assert err == f"cannot verify: stack Hydra-{ENV}-Stateful does not exist in {REGION}: deploy it first, or pass " \
                  "--region\n"


def test_missing_credentials_give_one_line(monkeypatch, capsys, tmp_path):
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    assert main(["--env", ENV, "--region", REGION]) == 2
    assert capsys.readouterr().err.startswith("cannot verify: no AWS credentials found")


# ------------------------------------------------------------------ --probe ---

class FakeHydra(http.server.BaseHTTPRequestHandler):
    issuer = ""
    admin_status = 404

    def do_GET(self):  # noqa: N802
        if self.path.endswith("/.well-known/openid-configuration"):
            body, status = json.dumps({"issuer": self.issuer}).encode(), 200
        elif "/admin/" in self.path:
            body, status = b"{}", self.admin_status
        else:
            body, status = b"", 404
        self.send_response(status)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[str, str, str]:
    """A certificate for 127.0.0.1 from a local CA: (cert, key, CA cert) paths."""
    ca = LocalCA.create(tmp_path_factory.mktemp("tls"))
    cert, key = ca.issue("public", ["127.0.0.1"])
    return str(cert), str(key), str(ca.cert_path)


@pytest.fixture
def public_url(certificate):
    """Hydra's public side, over HTTPS like API Gateway."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeHydra)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(*certificate[:2])
    server.socket = tls.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    FakeHydra.issuer, FakeHydra.admin_status = None, 404
    yield f"https://127.0.0.1:{server.server_address[1]}/prod/"
    server.shutdown()


@pytest.fixture
def trusting(certificate) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=certificate[2])


@pytest.mark.parametrize("published, admin_status, failures", [
    (None, 404, []),
    (None, 403, []),
    ("https://elsewhere.example.com/", 404, ["probe-discovery"]),
    (None, 200, ["probe-admin-paths"] * 3),
])
def test_probe_checks_the_issuer_and_that_admin_paths_are_refused(public_url, trusting, published, admin_status,
                                                                  failures):
    FakeHydra.issuer = published or public_url
    FakeHydra.admin_status = admin_status
    assert [f[0] for f in live.probe(public_url, context=trusting)] == failures


def test_probe_verifies_the_certificate(public_url):
    FakeHydra.issuer = public_url
    [(rule, _, detail)] = live.probe(public_url, context=ssl.create_default_context())  # the system's CAs only
    assert rule == "probe-discovery" and "CERTIFICATE_VERIFY_FAILED" in detail


def test_the_probe_flag_runs_the_probe_against_the_published_url(aws, dev, public_url, certificate, monkeypatch,
                                                                capsys):
    derive(aws, dev, issuer=public_url)
    FakeHydra.issuer = public_url
    monkeypatch.setenv("SSL_CERT_FILE", certificate[2])  # the CLI uses the default trust store
    assert main(["--env", ENV, "--region", REGION]) == 0
    assert "probe-" not in capsys.readouterr().out, "no probe without --probe"
    assert main(["--env", ENV, "--region", REGION, "--probe"]) == 0
    assert "PASS  probe-discovery" in capsys.readouterr().out
    FakeHydra.admin_status = 200
    assert main(["--env", ENV, "--region", REGION, "--probe"]) == 1
    assert f"{public_url}admin/clients: answered HTTP 200" in capsys.readouterr().out


# ------------------------------------------------------ the introspection door ---

def introspection_door(account: Derived) -> tuple[Any, str]:
    """What the IntrospectionDoor construct builds, made by hand: an internal ALB whose one rule forwards
    POST /admin/oauth2/introspect to Hydra's admin port. Returns (the elbv2 client, the listener ARN)."""
    session = account.session
    elbv2, door_group = session.client("elbv2"), new_group(account, "door")
    session.client("ec2").authorize_security_group_ingress(
        GroupId=account.id("HydraTasksSecurityGroup/Resource"), IpPermissions=[{
            "IpProtocol": "tcp", "FromPort": 4445, "ToPort": 4445, "UserIdGroupPairs": [{"GroupId": door_group}]}])
    alb = elbv2.create_load_balancer(Name="door", Subnets=private_subnets(account), SecurityGroups=[door_group],
                                     Scheme="internal")["LoadBalancers"][0]
    tg = elbv2.create_target_group(Name="door-admin", Protocol="HTTP", Port=4445, TargetType="ip",
                                   VpcId=account.id("Network/Vpc/Resource"))["TargetGroups"][0]["TargetGroupArn"]
    elbv2.register_targets(TargetGroupArn=tg, Targets=[{"Id": "10.40.100.10", "Port": 4445}])
    listener = elbv2.create_listener(LoadBalancerArn=alb["LoadBalancerArn"], Protocol="HTTP", Port=80, DefaultActions=[
        {"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}])["Listeners"][0]["ListenerArn"]
    elbv2.create_rule(ListenerArn=listener, Priority=10, Actions=[{"Type": "forward", "TargetGroupArn": tg}],
                      Conditions=[
                          {"Field": "path-pattern", "PathPatternConfig": {"Values": ["/admin/oauth2/introspect"]}},
                          {"Field": "http-request-method", "HttpRequestMethodConfig": {"Values": ["POST"]}}])
    return elbv2, listener


def test_the_introspection_door_passes_and_another_admin_path_through_it_fails(account):
    elbv2, listener = introspection_door(account)
    assert failed_rules(verify(account.session, ENV)) == set()
    tg = elbv2.describe_target_groups(Names=["door-admin"])["TargetGroups"][0]["TargetGroupArn"]
    elbv2.create_rule(ListenerArn=listener, Priority=20, Actions=[{"Type": "forward", "TargetGroupArn": tg}],
                      Conditions=[{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/admin/*"]}}])
    report = verify(account.session, ENV)
    assert failed_rules(report) == {"introspection-door"}
    assert "rule 20 of listener 80 of door: forwards paths /admin/* to Hydra's admin API on port 4445" \
        in report.render()
