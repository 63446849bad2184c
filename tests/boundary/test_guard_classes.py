"""The guard, class by class, on deep copies of the rendered dev templates (no synthesis).

Where the construct tree is not the point, each case edits or adds resources in a copy of the dev
templates and asks the guard's front-end and rules. The classes (issue 11):

1. a field the guard cannot resolve fails closed;
2. whatever admits traffic from outside the VPC makes the security groups it carries outside;
3. the admin port is what Hydra listens on (task definitions), not only what the configuration says;
4. more front doors: VPC Lattice, Verified Access, Global Accelerator, tasks run by schedules and
   state machines;
5. no false positives: what provably cannot reach the admin port passes, and references to this
   app's own Cloud Map services that Hydra's admin port registers into are followed.

The real-app injections of the same classes are in ``test_guard.py``.
"""

from __future__ import annotations

import json
from typing import Callable

import pytest

from tests.support.template_copies import FOREIGN_ACCOUNT, Copy

TASKS_SG = "LoadBalancers/HydraTasksSecurityGroup/Resource"
ADMIN_SG = "LoadBalancers/AdminNlbSecurityGroup/Resource"
BASTION_SG = "Bastion/SecurityGroup/Resource"
ADMIN_NLB = "LoadBalancers/AdminNlb/Resource"
PUBLIC_NLB = "LoadBalancers/PublicNlb/Resource"
ADMIN_TG = "LoadBalancers/AdminTargets/Resource"
VPC = "Network/Vpc/Resource"
PRIVATE = "Network/Vpc/privateSubnet1/Subnet"
PUBLIC = "Network/Vpc/publicSubnet1/Subnet"
HYDRA_TD = "Hydra/TaskDefinition/Resource"
HYDRA_SERVICE = "Hydra/Service/Service"
CLUSTER = "Hydra/Cluster/Resource"
FOREIGN = f"arn:aws:elasticloadbalancing:eu-west-1:{FOREIGN_ACCOUNT}"

CASES: dict[str, Callable[[Copy], tuple[str, str] | None]] = {}


def case(name: str):
    """Register a case: it edits the copy and returns the (rule, path fragment) the guard must report,
    or None when the change must pass."""
    def register(fn):
        CASES[name] = fn
        return fn
    return register


@pytest.fixture
def copy_of_dev(dev) -> Copy:
    return Copy(dev)


def run(copy_of_dev: Copy, name: str) -> None:
    expected = CASES[name](copy_of_dev)
    violations = copy_of_dev.violations()
    messages = [v.message() for v in violations]
    if expected is None:
        assert messages == [], f"{name} must pass"
    else:
        rule, fragment = expected
        assert [m for m in messages if m.startswith(f"[{rule}] ") and fragment in m], \
            f"{name}: no [{rule}] naming {fragment!r} in {messages}"


# ------------------------------------------------------------- helpers ---

def vpc_of(c: Copy, into: str) -> dict:
    return c.ref(into, "Stateful", VPC)


def group(c: Copy, part: str, name: str) -> dict:
    """A new security group of this app in the VPC serving the admin port."""
    c.add(part, name, "AWS::EC2::SecurityGroup", {"GroupDescription": name, "VpcId": vpc_of(c, part)})
    return {"Fn::GetAtt": [name, "GroupId"]}


def grant(c: Copy, part: str, source: dict, name: str = "Grant") -> str:
    """Grant ``source`` the admin port on the admin NLB, as grant_admin_access() does."""
    return c.add(part, name, "AWS::EC2::SecurityGroupIngress", {
        "GroupId": c.ref(part, "Ingress", ADMIN_SG, "GroupId"), "IpProtocol": "tcp", "FromPort": 4445,
        "ToPort": 4445, "SourceSecurityGroupId": source})


def internet_facing_nlb(c: Copy, name: str, port, target_group: dict, **listener) -> str:
    c.add("Ingress", name, "AWS::ElasticLoadBalancingV2::LoadBalancer",
          {"Scheme": "internet-facing", "Type": "network", "SecurityGroups": [group(c, "Ingress", f"{name}Sg")]})
    c.add("Ingress", f"{name}Listener", "AWS::ElasticLoadBalancingV2::Listener", {
        "LoadBalancerArn": {"Ref": name}, "Port": port, "Protocol": "TCP",
        "DefaultActions": [{"Type": "forward", "TargetGroupArn": target_group}], **listener})
    return f"{c.prefix}-Ingress/{name}"


def target_group(c: Copy, name: str, port, **extra) -> dict:
    c.add("Ingress", name, "AWS::ElasticLoadBalancingV2::TargetGroup",
          {"Port": port, "Protocol": "TCP", "TargetType": "ip", "VpcId": vpc_of(c, "Ingress"), **extra})
    return {"Ref": name}


def hydra_container(c: Copy) -> dict:
    return c.props("Service", HYDRA_TD)["ContainerDefinitions"][0]


def set_env(container: dict, name: str, value) -> None:
    container["Environment"] = [e for e in container["Environment"] if e["Name"] != name]
    if value is not None:
        container["Environment"].append({"Name": name, "Value": value})


def task_definition(c: Copy, part: str, name: str, image: str, port: int, **container) -> dict:
    c.add(part, name, "AWS::ECS::TaskDefinition", {
        "NetworkMode": "awsvpc", "RequiresCompatibilities": ["FARGATE"], "Cpu": "256", "Memory": "512",
        "ContainerDefinitions": [{"Name": "app", "Image": image, "Essential": True,
                                  "PortMappings": [{"ContainerPort": port, "Protocol": "tcp"}], **container}]})
    return {"Ref": name}


def service(c: Copy, name: str, task: dict, *, public_ip: str = "DISABLED", subnets=None, groups=None,
            **extra) -> str:
    return c.add("Service", name, "AWS::ECS::Service", {
        "Cluster": {"Ref": c.lid("Service", CLUSTER)}, "LaunchType": "FARGATE", "TaskDefinition": task,
        "NetworkConfiguration": {"AwsvpcConfiguration": {
            "AssignPublicIp": public_ip, "Subnets": subnets or [c.ref("Service", "Stateful", PRIVATE)],
            "SecurityGroups": groups or [{"Fn::GetAtt": [c.lid("Service", "Hydra/CommandsSecurityGroup/Resource"),
                                                         "GroupId"]}]}}, **extra})


def run_task(c: Copy, part: str, task: dict, public: str = "ENABLED", groups=None) -> dict:
    """An awsvpc run-task request (EventBridge / Scheduler casing)."""
    return {"TaskDefinitionArn": task, "LaunchType": "FARGATE", "NetworkConfiguration": {"AwsVpcConfiguration": {
        "AssignPublicIp": public, "Subnets": [c.ref(part, "Stateful", PRIVATE)],
        "SecurityGroups": groups or [c.ref(part, "Service", "Hydra/CommandsSecurityGroup/Resource", "GroupId")]}}}


def hydra_task(c: Copy, part: str) -> dict:
    return c.ref(part, "Service", HYDRA_TD)


# ------------------------------------------------ 1. unresolved fields ---

@case("rule protocol from a parameter")
def _(c):
    return "admin-port-ingress", c.add("Ingress", "ParamProtocol", "AWS::EC2::SecurityGroupIngress", {
        "GroupId": c.ref("Ingress", "Ingress", TASKS_SG, "GroupId"), "CidrIp": "0.0.0.0/0", "FromPort": 4445,
        "ToPort": 4445, "IpProtocol": c.parameter("Ingress", "Protocol", "tcp")})


@case("rule upper port chosen by a condition")
def _(c):
    return "admin-port-ingress", c.add("Ingress", "IfPort", "AWS::EC2::SecurityGroupIngress", {
        "GroupId": c.ref("Ingress", "Ingress", TASKS_SG, "GroupId"), "CidrIp": "0.0.0.0/0", "IpProtocol": "tcp",
        "FromPort": 4400, "ToPort": c.conditional("Ingress", 4500, 4400)})


@case("inline rule list chosen by a condition")
def _(c):
    c.props("Ingress", TASKS_SG)["SecurityGroupIngress"] = c.conditional(
        "Ingress", [{"IpProtocol": "tcp", "FromPort": 4445, "ToPort": 4445, "CidrIp": "0.0.0.0/0"}],
        {"Ref": "AWS::NoValue"})
    return "admin-port-ingress", f"{c.prefix}-Ingress/{TASKS_SG}"


@case("inline rule chosen by a condition")
def _(c):
    c.props("Ingress", ADMIN_SG)["SecurityGroupIngress"] = [c.conditional(
        "Ingress", {"IpProtocol": "tcp", "FromPort": 4445, "ToPort": 4445, "CidrIp": "0.0.0.0/0"},
        {"Ref": "AWS::NoValue"})]
    return "admin-port-ingress", f"{c.prefix}-Ingress/{ADMIN_SG}"


@case("internet-facing listener on a parameter port")
def _(c):
    path = internet_facing_nlb(c, "ParamNlb", c.parameter("Ingress", "ListenerPort", "443"),
                               target_group(c, "ParamNlbTargets", 8080))
    return "internet-facing-lb", path


@case("internet-facing target group on a parameter port")
def _(c):
    return "internet-facing-lb", internet_facing_nlb(
        c, "TgPortNlb", 443, target_group(c, "TgPortTargets", c.parameter("Ingress", "TgPort", "8080")))


@case("internet-facing target group with a target on a computed port")
def _(c):
    tg = target_group(c, "TargetPortTargets", 8080, Targets=[
        {"Id": "10.40.16.10", "Port": c.foreign_import("SomeoneElse:Port")}])
    return "internet-facing-lb", internet_facing_nlb(c, "TargetPortNlb", 443, tg)


@case("internet-facing listener whose actions are chosen by a condition")
def _(c):
    path = internet_facing_nlb(c, "IfActionsNlb", 443, target_group(c, "IfActionsTargets", 8080))
    c.stack("Ingress")["Resources"]["IfActionsNlbListener"]["Properties"]["DefaultActions"] = c.conditional(
        "Ingress", [{"Type": "forward", "TargetGroupArn": {"Ref": c.lid("Ingress", ADMIN_TG)}}],
        [{"Type": "forward", "TargetGroupArn": {"Ref": "IfActionsTargets"}}])
    return "internet-facing-lb", path


@case("target group whose type is chosen by a condition forwards to an ALB reaching the admin port")
def _(c):
    c.add("Ingress", "InnerAlb", "AWS::ElasticLoadBalancingV2::LoadBalancer",
          {"Scheme": "internal", "Type": "application", "SecurityGroups": [group(c, "Ingress", "InnerAlbSg")]})
    c.add("Ingress", "InnerAlbListener", "AWS::ElasticLoadBalancingV2::Listener", {
        "LoadBalancerArn": {"Ref": "InnerAlb"}, "Port": 80, "Protocol": "HTTP",
        "DefaultActions": [{"Type": "forward", "TargetGroupArn": {"Ref": c.lid("Ingress", ADMIN_TG)}}]})
    tg = target_group(c, "MaybeAlbTargets", 80, TargetType=c.conditional("Ingress", "alb", "ip"),
                      Targets=[{"Id": {"Ref": "InnerAlb"}, "Port": 80}])
    return "internet-facing-lb", internet_facing_nlb(c, "EdgeNlb", 80, tg)


@case("a service registers a computed container port with an internet-facing target group")
def _(c):
    tg = target_group(c, "ComputedPortTargets", 8080)
    path = internet_facing_nlb(c, "ComputedPortNlb", 443, tg)
    c.props("Service", HYDRA_SERVICE)["LoadBalancers"].append({
        "ContainerName": "hydra", "ContainerPort": c.parameter("Service", "ContainerPort", "4444"),
        "TargetGroupArn": c.ref("Service", "Ingress", "ComputedPortTargets")})
    return "internet-facing-lb", path


@case("Hydra's AssignPublicIp chosen by a condition")
def _(c):
    vpc = c.props("Service", HYDRA_SERVICE)["NetworkConfiguration"]["AwsvpcConfiguration"]
    vpc["AssignPublicIp"] = c.conditional("Service", "ENABLED", "DISABLED")
    return "hydra-public", f"{c.prefix}-Service/{HYDRA_SERVICE}"


@case("Hydra's subnets from a parameter")
def _(c):
    vpc = c.props("Service", HYDRA_SERVICE)["NetworkConfiguration"]["AwsvpcConfiguration"]
    vpc["Subnets"] = [c.parameter("Service", "Subnet", "subnet-0123456789abcdef0")]
    return "hydra-public", f"{c.prefix}-Service/{HYDRA_SERVICE}"


@case("Hydra's subnet hands out public addresses by a condition")
def _(c):
    c.props("Stateful", PRIVATE)["MapPublicIpOnLaunch"] = c.conditional("Stateful", True, False)
    return "hydra-public", f"{c.prefix}-Service/{HYDRA_SERVICE}"


@case("an instance whose public address comes from a parameter carries a granted group")
def _(c):
    sg = group(c, "Ingress", "ToolSg")
    c.add("Ingress", "Tool", "AWS::EC2::Instance", {"ImageId": "ami-12c6146b", "InstanceType": "t4g.nano",
          "NetworkInterfaces": [{"DeviceIndex": "0", "SubnetId": c.ref("Ingress", "Stateful", PRIVATE),
                                 "GroupSet": [sg],
                                 "AssociatePublicIpAddress": c.parameter("Ingress", "Public", "false")}]})
    grant(c, "Ingress", sg, "GrantTool")
    return "admin-port-ingress", "ToolSg, outside because it is attached to"


@case("an elastic IP associated with an unresolvable interface")
def _(c):
    c.add("Ingress", "Address", "AWS::EC2::EIP", {"Domain": "vpc"})
    c.add("Ingress", "Association", "AWS::EC2::EIPAssociation", {
        "AllocationId": {"Fn::GetAtt": ["Address", "AllocationId"]},
        "NetworkInterfaceId": c.parameter("Ingress", "Interface", "eni-0123456789abcdef0")})
    return "admin-port-ingress", "Bastion/SecurityGroup/Resource, outside because it is attached to"


@case("a CloudFront VPC origin on a parameter port")
def _(c):
    c.add("Ingress", "Origin", "AWS::CloudFront::VpcOrigin", {"VpcOriginEndpointConfig": {
        "Arn": {"Ref": c.lid("Ingress", PUBLIC_NLB)}, "Name": "public", "HTTPPort": 4444,
        "HTTPSPort": c.parameter("Ingress", "OriginPort", "443"), "OriginProtocolPolicy": "https-only"}})
    return "privatelink", f"{c.prefix}-Ingress/Origin"


@case("a REST integration whose type is chosen by a condition")
def _(c):
    c.add("Ingress", "IfMethod", "AWS::ApiGateway::Method", {
        "HttpMethod": "GET", "ResourceId": "abc", "RestApiId": {"Ref": c.lid("Ingress", "PublicApi/RestApi/Resource")},
        "AuthorizationType": "NONE", "Integration": {
            "Type": c.conditional("Ingress", "HTTP_PROXY", "MOCK"), "IntegrationHttpMethod": "GET",
            "Uri": {"Fn::Join": ["", ["http://", {"Fn::GetAtt": [c.lid("Ingress", ADMIN_NLB), "DNSName"]},
                                      ":4445/"]]}}})
    return "api-integration", f"{c.prefix}-Ingress/IfMethod"


@case("an HTTP API integration whose VPC link is a parameter")
def _(c):
    c.add("Ingress", "ParamLinkIntegration", "AWS::ApiGatewayV2::Integration", {
        "ApiId": "abc", "IntegrationType": "HTTP_PROXY", "IntegrationMethod": "ANY",
        "ConnectionType": c.conditional("Ingress", "VPC_LINK", "INTERNET"),
        "ConnectionId": c.parameter("Ingress", "Link", "vl-1"), "PayloadFormatVersion": "1.0",
        "IntegrationUri": f"{FOREIGN}:listener/net/edge/0123456789abcdef/0123456789abcdef"})
    return "api-integration", f"{c.prefix}-Ingress/ParamLinkIntegration"


@case("Hydra tasks run by a state machine with AssignPublicIp computed at run time")
def _(c):
    definition = {"StartAt": "Run", "States": {"Run": {
        "Type": "Task", "Resource": "arn:aws:states:::ecs:runTask.sync", "End": True,
        "Parameters": {"Cluster": "hydra", "TaskDefinition": "__td__", "LaunchType": "FARGATE",
                       "NetworkConfiguration": {"AwsvpcConfiguration": {
                           "Subnets": ["__subnet__"], "SecurityGroups": ["__sg__"], "AssignPublicIp.$": "$.public"}}}}}}
    text = json.dumps(definition).split('"__')
    parts: list = [text[0]]
    refs = {"td__": hydra_task(c, "Operations"), "subnet__": c.ref("Operations", "Stateful", PRIVATE),
            "sg__": c.ref("Operations", "Service", "Hydra/CommandsSecurityGroup/Resource", "GroupId")}
    for piece in text[1:]:
        name, rest = piece.split('"', 1)
        parts += ['"', refs[name], '"' + rest]
    return "hydra-public", c.add("Operations", "DynamicMachine", "AWS::StepFunctions::StateMachine", {
        "RoleArn": "arn:aws:iam::123456789012:role/x", "DefinitionString": {"Fn::Join": ["", parts]}})


# ------------------------------------------------- 2. entry points ---

@case("a Client VPN endpoint's group granted the admin port")
def _(c):
    sg = group(c, "Ingress", "VpnSg")
    c.add("Ingress", "Vpn", "AWS::EC2::ClientVpnEndpoint", {
        "ClientCidrBlock": "10.200.0.0/22", "ServerCertificateArn": "arn:aws:acm:eu-west-1:1:certificate/x",
        "AuthenticationOptions": [], "ConnectionLogOptions": {"Enabled": False}, "VpcId": vpc_of(c, "Ingress"),
        "SecurityGroupIds": [sg]})
    grant(c, "Ingress", sg)
    return "admin-port-ingress", "VpnSg, outside because Client VPN users arrive through it"


@case("a Verified Access endpoint's group granted the admin port")
def _(c):
    sg = group(c, "Ingress", "VerifiedSg")
    c.add("Ingress", "Verified", "AWS::EC2::VerifiedAccessEndpoint", {
        "EndpointType": "network-interface", "AttachmentType": "vpc", "SecurityGroupIds": [sg],
        "VerifiedAccessGroupId": "vagr-0123456789abcdef0", "ApplicationDomain": "app.example.com",
        "DomainCertificateArn": "arn:aws:acm:eu-west-1:1:certificate/x", "EndpointDomainPrefix": "app",
        "NetworkInterfaceOptions": {"NetworkInterfaceId": "eni-0123456789abcdef0", "Port": 443,
                                    "Protocol": "https"}})
    grant(c, "Ingress", sg)
    return "admin-port-ingress", "VerifiedSg, outside because Verified Access users arrive through it"


@case("a launch template with public addresses carries a granted group")
def _(c):
    sg = group(c, "Ingress", "FleetSg")
    c.add("Ingress", "FleetTemplate", "AWS::EC2::LaunchTemplate", {"LaunchTemplateData": {
        "NetworkInterfaces": [{"DeviceIndex": 0, "AssociatePublicIpAddress": True, "Groups": [sg]}]}})
    grant(c, "Ingress", sg)
    return "admin-port-ingress", "FleetSg, outside because it is attached to"


@case("an Auto Scaling group in public subnets carries a granted group")
def _(c):
    sg = group(c, "Ingress", "WorkersSg")
    c.add("Ingress", "WorkersTemplate", "AWS::EC2::LaunchTemplate", {"LaunchTemplateData": {
        "ImageId": "ami-12c6146b", "SecurityGroupIds": [sg]}})
    c.add("Ingress", "Workers", "AWS::AutoScaling::AutoScalingGroup", {
        "MinSize": "1", "MaxSize": "1", "VPCZoneIdentifier": [c.ref("Ingress", "Stateful", PUBLIC)],
        "LaunchTemplate": {"LaunchTemplateId": {"Ref": "WorkersTemplate"},
                           "Version": {"Fn::GetAtt": ["WorkersTemplate", "LatestVersionNumber"]}}})
    grant(c, "Ingress", sg)
    return "admin-port-ingress", "WorkersSg, outside because it is attached to"


@case("a network interface with an elastic IP carries a granted group")
def _(c):
    sg = group(c, "Ingress", "EniSg")
    c.add("Ingress", "Eni", "AWS::EC2::NetworkInterface", {"SubnetId": c.ref("Ingress", "Stateful", PRIVATE),
                                                           "GroupSet": [sg]})
    c.add("Ingress", "EniAddress", "AWS::EC2::EIP", {"Domain": "vpc"})
    c.add("Ingress", "EniAssociation", "AWS::EC2::EIPAssociation", {
        "AllocationId": {"Fn::GetAtt": ["EniAddress", "AllocationId"]}, "NetworkInterfaceId": {"Ref": "Eni"}})
    grant(c, "Ingress", sg)
    return "admin-port-ingress", "EniSg, outside because it is attached to"


@case("an instance with an elastic IP carries a granted group")
def _(c):
    sg = group(c, "Ingress", "JumpSg")
    c.add("Ingress", "Jump", "AWS::EC2::Instance", {"ImageId": "ami-12c6146b", "InstanceType": "t4g.nano",
          "SubnetId": c.ref("Ingress", "Stateful", PRIVATE), "SecurityGroupIds": [sg]})
    c.add("Ingress", "JumpAddress", "AWS::EC2::EIP", {"Domain": "vpc", "InstanceId": {"Ref": "Jump"}})
    grant(c, "Ingress", sg)
    return "admin-port-ingress", "JumpSg, outside because it is attached to"


def nginx(c: Copy, part: str) -> dict:
    return task_definition(c, part, "Nginx", "public.ecr.aws/nginx/nginx:1.27", 8080)


@case("an EventBridge rule runs a task with a public IP carrying a granted group")
def _(c):
    sg = group(c, "Operations", "CronSg")
    c.add("Operations", "Cron", "AWS::Events::Rule", {"ScheduleExpression": "rate(1 hour)", "Targets": [{
        "Id": "t", "Arn": "arn:aws:ecs:eu-west-1:123456789012:cluster/x", "RoleArn": "arn:aws:iam::1:role/x",
        "EcsParameters": run_task(c, "Operations", nginx(c, "Operations"), groups=[sg])}]})
    grant(c, "Operations", sg)
    return "admin-port-ingress", "CronSg, outside because it is attached to"


@case("a schedule runs a task with a public IP carrying a granted group")
def _(c):
    sg = group(c, "Operations", "ScheduleSg")
    task = run_task(c, "Operations", nginx(c, "Operations"), groups=[sg])
    task["NetworkConfiguration"] = {"AwsvpcConfiguration": task["NetworkConfiguration"]["AwsVpcConfiguration"]}
    c.add("Operations", "Nightly", "AWS::Scheduler::Schedule", {
        "ScheduleExpression": "rate(1 day)", "FlexibleTimeWindow": {"Mode": "OFF"},
        "Target": {"Arn": "arn:aws:ecs:eu-west-1:123456789012:cluster/x", "RoleArn": "arn:aws:iam::1:role/x",
                   "EcsParameters": task}})
    grant(c, "Operations", sg)
    return "admin-port-ingress", "ScheduleSg, outside because it is attached to"


@case("a pipe runs a task with a public IP carrying a granted group")
def _(c):
    sg = group(c, "Operations", "PipeSg")
    task = run_task(c, "Operations", nginx(c, "Operations"), groups=[sg])
    task["NetworkConfiguration"] = {"AwsvpcConfiguration": task["NetworkConfiguration"]["AwsVpcConfiguration"]}
    c.add("Operations", "Pipe", "AWS::Pipes::Pipe", {"RoleArn": "arn:aws:iam::1:role/x", "Source": "arn:sqs",
          "Target": "arn:aws:ecs:eu-west-1:123456789012:cluster/x", "TargetParameters": {"EcsTaskParameters": task}})
    grant(c, "Operations", sg)
    return "admin-port-ingress", "PipeSg, outside because it is attached to"


@case("a state machine runs a task with a public IP carrying a granted group")
def _(c):
    sg = group(c, "Operations", "MachineSg")
    nginx(c, "Operations")
    c.add("Operations", "Machine", "AWS::StepFunctions::StateMachine", {
        "RoleArn": "arn:aws:iam::1:role/x",
        "DefinitionString": {"Fn::Join": ["", [
            '{"StartAt":"Run","States":{"Run":{"Type":"Task","End":true,'
            '"Resource":"arn:', {"Ref": "AWS::Partition"}, ':states:::ecs:runTask.sync","Parameters":{'
            '"TaskDefinition":"', {"Ref": "Nginx"}, '","NetworkConfiguration":{"AwsvpcConfiguration":{'
            '"Subnets":["', c.ref("Operations", "Stateful", PRIVATE), '"],"SecurityGroups":["',
            {"Fn::GetAtt": ["MachineSg", "GroupId"]}, '"],"AssignPublicIp":"ENABLED"}}}}}}']]}})
    grant(c, "Operations", sg)
    return "admin-port-ingress", "MachineSg, outside because it is attached to"


@case("a group of another VPC of this app granted the admin port")
def _(c):
    c.add("Stateful", "PeerVpc", "AWS::EC2::VPC", {"CidrBlock": "10.99.0.0/16"})
    c.add("Stateful", "PeerSg", "AWS::EC2::SecurityGroup", {"GroupDescription": "peer", "VpcId": {"Ref": "PeerVpc"}})
    grant(c, "Stateful", {"Fn::GetAtt": ["PeerSg", "GroupId"]})
    return "admin-port-ingress", "PeerSg, outside because it belongs to another VPC"


@case("a group whose VPC is a parameter granted the admin port")
def _(c):
    c.add("Ingress", "SomewhereSg", "AWS::EC2::SecurityGroup",
          {"GroupDescription": "?", "VpcId": c.parameter("Ingress", "Vpc", "vpc-0123456789abcdef0")})
    grant(c, "Ingress", {"Fn::GetAtt": ["SomewhereSg", "GroupId"]})
    return "admin-port-ingress", "SomewhereSg, outside because its VPC cannot be resolved"


@case("a granted group associated with another VPC")
def _(c):
    c.add("Ingress", "BastionElsewhere", "AWS::EC2::SecurityGroupVpcAssociation", {
        "GroupId": {"Fn::GetAtt": [c.lid("Ingress", BASTION_SG), "GroupId"]}, "VpcId": "vpc-0123456789abcdef0"})
    return "admin-port-ingress", "Bastion/SecurityGroup/Resource, outside because Hydra-dev-Ingress/" \
                                 "BastionElsewhere associates it with another VPC"


@case("an ECS task set with a public IP carries a granted group")
def _(c):
    sg = group(c, "Service", "SetSg")
    c.add("Service", "Set", "AWS::ECS::TaskSet", {
        "Cluster": {"Ref": c.lid("Service", CLUSTER)}, "Service": "other", "TaskDefinition": nginx(c, "Service"),
        "LaunchType": "FARGATE", "NetworkConfiguration": {"AwsVpcConfiguration": {
            "AssignPublicIp": "ENABLED", "Subnets": [c.ref("Service", "Stateful", PRIVATE)], "SecurityGroups": [sg]}}})
    grant(c, "Service", sg)
    return "admin-port-ingress", "SetSg, outside because it is attached to"


@case("a public instance carries a group the guard cannot identify (the bastion's, by its id)")
def _(c):
    c.add("Ingress", "Box", "AWS::EC2::Instance", {"ImageId": "ami-12c6146b", "InstanceType": "t4g.nano",
          "NetworkInterfaces": [{"DeviceIndex": "0", "SubnetId": c.ref("Ingress", "Stateful", PUBLIC),
                                 "AssociatePublicIpAddress": True, "GroupSet": ["sg-0123456789abcdef0"]}]})
    return "admin-port-ingress", "Bastion/SecurityGroup/Resource, outside because Hydra-dev-Ingress/Box (publicly " \
                                 "addressed) carries a security group the guard cannot identify"


@case("a second interface attached to a public instance carries a granted group")
def _(c):
    sg = group(c, "Ingress", "SecondSg")
    c.add("Ingress", "Second", "AWS::EC2::NetworkInterface",
          {"SubnetId": c.ref("Ingress", "Stateful", PRIVATE), "GroupSet": [sg]})
    c.add("Ingress", "Box", "AWS::EC2::Instance", {"ImageId": "ami-12c6146b", "InstanceType": "t4g.nano",
          "NetworkInterfaces": [{"DeviceIndex": "0", "SubnetId": c.ref("Ingress", "Stateful", PUBLIC),
                                 "AssociatePublicIpAddress": True, "GroupSet": [group(c, "Ingress", "BoxSg")]}]})
    c.add("Ingress", "Attach", "AWS::EC2::NetworkInterfaceAttachment",
          {"InstanceId": {"Ref": "Box"}, "NetworkInterfaceId": {"Ref": "Second"}, "DeviceIndex": "1"})
    grant(c, "Ingress", sg)
    return "admin-port-ingress", "SecondSg, outside because it is attached to Hydra-dev-Ingress/Box"


@case("an EC2 fleet launching into public subnets carries a granted group")
def _(c):
    sg = group(c, "Ingress", "FleetSg")
    c.add("Ingress", "Template", "AWS::EC2::LaunchTemplate", {"LaunchTemplateData": {"SecurityGroupIds": [sg]}})
    c.add("Ingress", "Fleet", "AWS::EC2::EC2Fleet", {
        "TargetCapacitySpecification": {"TotalTargetCapacity": 1},
        "LaunchTemplateConfigs": [{"LaunchTemplateSpecification": {"LaunchTemplateId": {"Ref": "Template"},
                                                                   "Version": "1"},
                                   "Overrides": [{"SubnetId": c.ref("Ingress", "Stateful", PUBLIC)}]}]})
    grant(c, "Ingress", sg)
    return "admin-port-ingress", "FleetSg, outside because it is attached to Hydra-dev-Ingress/Fleet"


@case("a Batch compute environment in public subnets carries a granted group")
def _(c):
    sg = group(c, "Ingress", "BatchSg")
    c.add("Ingress", "Batch", "AWS::Batch::ComputeEnvironment", {"Type": "MANAGED", "ComputeResources": {
        "Type": "FARGATE", "MaxvCpus": 4, "Subnets": [c.ref("Ingress", "Stateful", PUBLIC)],
        "SecurityGroupIds": [sg]}})
    grant(c, "Ingress", sg)
    return "admin-port-ingress", "BatchSg, outside because it is attached to Hydra-dev-Ingress/Batch (it places " \
                                 "them in public subnets)"


# ----------------------------------- 3. the port Hydra's admin API listens on ---

@case("the environment swaps Hydra's ports: the public path reaches the admin API")
def _(c):
    container = hydra_container(c)
    set_env(container, "SERVE_ADMIN_PORT", "4444")
    set_env(container, "SERVE_PUBLIC_PORT", "4445")
    return "vpc-linked-lb", f"{c.prefix}-Ingress/{PUBLIC_NLB}: its listener"


@case("SERVE_ADMIN_PORT from a secret: every port of the container is admin")
def _(c):
    container = hydra_container(c)
    set_env(container, "SERVE_ADMIN_PORT", None)
    container["Secrets"].append({"Name": "SERVE_ADMIN_PORT", "ValueFrom": "arn:aws:ssm:eu-west-1:1:parameter/p"})
    return "vpc-linked-lb", f"{c.prefix}-Ingress/{PUBLIC_NLB}"


@case("SERVE_ADMIN_PORT from a parameter")
def _(c):
    set_env(hydra_container(c), "SERVE_ADMIN_PORT", c.parameter("Service", "AdminPort", "4445"))
    return "vpc-linked-lb", f"{c.prefix}-Ingress/{PUBLIC_NLB}"


@case("SERVE_ADMIN_PORT possibly in an environment file")
def _(c):
    container = hydra_container(c)
    set_env(container, "SERVE_ADMIN_PORT", None)
    container["EnvironmentFiles"] = [{"Type": "s3", "Value": "arn:aws:s3:::bucket/hydra.env"}]
    return "vpc-linked-lb", f"{c.prefix}-Ingress/{PUBLIC_NLB}"


@case("SERVE_ADMIN_PORT possibly in a configuration file")
def _(c):
    container = hydra_container(c)
    set_env(container, "SERVE_ADMIN_PORT", None)
    container["Command"] = ["serve", "all", "--config", "/etc/hydra/hydra.yml"]
    return "vpc-linked-lb", f"{c.prefix}-Ingress/{PUBLIC_NLB}"


@case("a mirrored image serving all on another admin port behind an internet-facing NLB")
def _(c):
    task = task_definition(c, "Service", "Mirror", "123456789012.dkr.ecr.eu-west-1.amazonaws.com/idp:26", 9000,
                           Command=["serve", "all"], Environment=[{"Name": "SERVE_ADMIN_PORT", "Value": "9000"},
                                                                  {"Name": "SERVE_PUBLIC_PORT", "Value": "9001"}])
    path = internet_facing_nlb(c, "MirrorNlb", 443, target_group(c, "MirrorTargets", 9000))
    service(c, "MirrorService", task, LoadBalancers=[{"ContainerName": "app", "ContainerPort": 9000,
                                                      "TargetGroupArn": c.ref("Service", "Ingress", "MirrorTargets")}])
    return "internet-facing-lb", f"{path}: its listener {path}Listener on port 443 forwards to port 9000 " \
                                 f"(Hydra's admin API: SERVE_ADMIN_PORT of {c.prefix}-Service/Mirror container app)"


@case("a Hydra container's port named admin behind an internet-facing NLB")
def _(c):
    task = task_definition(c, "Service", "Named", "oryd/hydra:v26.2.0", 8445, Command=["serve", "all"],
                           Environment=[{"Name": "SERVE_PUBLIC_PORT", "Value": "8444"}])
    c.props("Service", "Named")["ContainerDefinitions"][0]["PortMappings"][0]["Name"] = "admin"
    path = internet_facing_nlb(c, "NamedNlb", 443, target_group(c, "NamedTargets", 8445))
    service(c, "NamedService", task, LoadBalancers=[{"ContainerName": "app", "ContainerPort": 8445,
                                                     "TargetGroupArn": c.ref("Service", "Ingress", "NamedTargets")}])
    return "internet-facing-lb", f"{path}Listener on port 443 forwards to port 8445 (Hydra's admin API: the port " \
                                 "named admin of"


@case("any container of a service registered with the admin target group runs Hydra")
def _(c):
    task = task_definition(c, "Service", "Sidecar", "registry.example.com/idp:1", 7445,
                           Environment=[{"Name": "SERVE_ADMIN_PORT", "Value": "7445"},
                                        {"Name": "SERVE_PUBLIC_PORT", "Value": "7444"}])
    path = internet_facing_nlb(c, "SidecarNlb", 443, target_group(c, "SidecarTargets", 7445))
    service(c, "SidecarService", task, LoadBalancers=[
        {"ContainerName": "app", "ContainerPort": 7445, "TargetGroupArn": c.ref("Service", "Ingress", ADMIN_TG)},
        {"ContainerName": "app", "ContainerPort": 7445, "TargetGroupArn": c.ref("Service", "Ingress",
                                                                                "SidecarTargets")}])
    return "internet-facing-lb", f"{path}: its listener"


@case("a service with an unresolvable task definition registers with an internet-facing target group")
def _(c):
    path = internet_facing_nlb(c, "UnknownNlb", 443, target_group(c, "UnknownTargets", 8080))
    service(c, "UnknownService", c.parameter("Service", "TaskDefinition", "arn:aws:ecs:::task-definition/x:1"),
            LoadBalancers=[{"ContainerName": "app", "ContainerPort": 8080,
                            "TargetGroupArn": c.ref("Service", "Ingress", "UnknownTargets")}])
    return "internet-facing-lb", f"{path}: its listener"


@case("Hydra's own task definition named by a literal ARN runs with a public IP")
def _(c):
    return "hydra-public", service(c, "ByArn", "arn:aws:ecs:eu-west-1:123456789012:task-definition/hydra-dev:7",
                                   public_ip="ENABLED")


@case("a sidecar in Hydra's task behind an internet-facing NLB reaches Hydra over localhost")
def _(c):
    c.props("Service", HYDRA_TD)["ContainerDefinitions"].append(
        {"Name": "proxy", "Image": "envoyproxy/envoy:v1.31", "PortMappings": [{"ContainerPort": 9901}]})
    path = internet_facing_nlb(c, "ProxyNlb", 443, target_group(c, "ProxyTargets", 9901))
    c.props("Service", HYDRA_SERVICE)["LoadBalancers"].append({
        "ContainerName": "proxy", "ContainerPort": 9901, "TargetGroupArn": c.ref("Service", "Ingress", "ProxyTargets")})
    return "internet-facing-lb", f"{path}Listener on port 443 forwards to port 9901 (Hydra's admin API: " \
                                 f"{c.prefix}-Service/{HYDRA_TD} container proxy listens on it in a task that runs Hydra"


@case("an image of any name configured like Hydra behind an internet-facing NLB")
def _(c):
    task = task_definition(c, "Service", "Idp", "registry.example.com/idp:1", 9000,
                           Environment=[{"Name": "SERVE_ADMIN_PORT", "Value": "9000"},
                                        {"Name": "SERVE_PUBLIC_PORT", "Value": "9001"}])
    path = internet_facing_nlb(c, "IdpNlb", 443, target_group(c, "IdpTargets", 9000))
    service(c, "IdpService", task, LoadBalancers=[{"ContainerName": "app", "ContainerPort": 9000,
                                                   "TargetGroupArn": c.ref("Service", "Ingress", "IdpTargets")}])
    return "internet-facing-lb", f"{path}: its listener"


@case("hydra serve all in a shell entry point, with a public IP")
def _(c):
    task = task_definition(c, "Service", "Shell", "registry.example.com/idp:1", 4445,
                           EntryPoint=["sh", "-c", "exec hydra serve all"])
    return "hydra-public", service(c, "ShellService", task, public_ip="ENABLED")


@case("Hydra on EC2 container instances (bridge networking)")
def _(c):
    task = task_definition(c, "Service", "Bridge", "oryd/hydra:v26.2.0", 4445, Command=["serve", "all"])
    c.props("Service", "Bridge")["NetworkMode"] = "bridge"
    return "hydra-public", c.add("Service", "BridgeService", "AWS::ECS::Service", {
        "Cluster": {"Ref": c.lid("Service", CLUSTER)}, "LaunchType": "EC2", "TaskDefinition": task})


@case("Service Connect's proxy forwards another port to Hydra's admin port")
def _(c):
    c.props("Service", HYDRA_SERVICE)["ServiceConnectConfiguration"] = {
        "Enabled": True, "Namespace": "hydra", "Services": [{"PortName": "admin", "IngressPortOverride": 8443}]}
    return "admin-port-ingress", c.add("Ingress", "ProxyPort", "AWS::EC2::SecurityGroupIngress", {
        "GroupId": c.ref("Ingress", "Ingress", TASKS_SG, "GroupId"), "IpProtocol": "tcp", "FromPort": 8443,
        "ToPort": 8443, "CidrIp": "10.99.0.0/16"})


# --------------------------------------------------- 4. front doors ---

@case("the Hydra service registers its admin port with a VPC Lattice target group")
def _(c):
    c.add("Service", "LatticeTargets", "AWS::VpcLattice::TargetGroup", {
        "Type": "IP", "Config": {"Port": 443, "Protocol": "HTTPS", "VpcIdentifier": vpc_of(c, "Service")}})
    c.props("Service", HYDRA_SERVICE)["VpcLatticeConfigurations"] = [{
        "TargetGroupArn": {"Fn::GetAtt": ["LatticeTargets", "Arn"]}, "PortName": "admin",
        "RoleArn": "arn:aws:iam::123456789012:role/ecs-infrastructure"}]
    return "privatelink", f"{c.prefix}-Service/{HYDRA_SERVICE}: VPC Lattice shares the port named admin"


@case("a Verified Access endpoint in front of the admin NLB")
def _(c):
    c.add("Ingress", "AdminVerified", "AWS::EC2::VerifiedAccessEndpoint", {
        "EndpointType": "load-balancer", "AttachmentType": "vpc", "VerifiedAccessGroupId": "vagr-1",
        "ApplicationDomain": "admin.example.com", "DomainCertificateArn": "arn:aws:acm:eu-west-1:1:certificate/x",
        "EndpointDomainPrefix": "admin", "LoadBalancerOptions": {
            "LoadBalancerArn": {"Ref": c.lid("Ingress", ADMIN_NLB)}, "Port": 4445, "Protocol": "http",
            "SubnetIds": [c.ref("Ingress", "Stateful", PRIVATE)]}})
    return "verified-access", f"{c.prefix}-Ingress/AdminVerified: it sends port 4445 to"


@case("a Verified Access endpoint on a network interface's admin port")
def _(c):
    c.add("Ingress", "EniVerified", "AWS::EC2::VerifiedAccessEndpoint", {
        "EndpointType": "network-interface", "AttachmentType": "vpc", "VerifiedAccessGroupId": "vagr-1",
        "ApplicationDomain": "admin.example.com", "DomainCertificateArn": "arn:aws:acm:eu-west-1:1:certificate/x",
        "EndpointDomainPrefix": "admin", "NetworkInterfaceOptions": {
            "NetworkInterfaceId": "eni-0123456789abcdef0", "PortRanges": [{"FromPort": 4000, "ToPort": 5000}]}})
    return "verified-access", f"{c.prefix}-Ingress/EniVerified: it sends ports 4000-5000"


def accelerator(c: Copy, endpoint: dict, port: int, overrides: list | None = None) -> str:
    c.add("Ingress", "Accelerator", "AWS::GlobalAccelerator::Accelerator", {"Name": "edge"})
    c.add("Ingress", "AcceleratorListener", "AWS::GlobalAccelerator::Listener", {
        "AcceleratorArn": {"Ref": "Accelerator"}, "Protocol": "TCP", "PortRanges": [{"FromPort": port,
                                                                                      "ToPort": port}]})
    return c.add("Ingress", "AcceleratorEndpoints", "AWS::GlobalAccelerator::EndpointGroup", {
        "ListenerArn": {"Ref": "AcceleratorListener"}, "EndpointGroupRegion": "eu-west-1",
        "EndpointConfigurations": [{"EndpointId": endpoint}],
        **({"PortOverrides": overrides} if overrides else {})})


@case("a Global Accelerator in front of the admin NLB")
def _(c):
    return "global-accelerator", accelerator(c, {"Ref": c.lid("Ingress", ADMIN_NLB)}, 443,
                                             [{"ListenerPort": 443, "EndpointPort": 4445}])


@case("a Global Accelerator sends the admin port to an instance")
def _(c):
    c.add("Ingress", "Box", "AWS::EC2::Instance", {"ImageId": "ami-12c6146b", "InstanceType": "t4g.nano",
          "SubnetId": c.ref("Ingress", "Stateful", PRIVATE)})
    return "global-accelerator", accelerator(c, {"Ref": "Box"}, 4445)


@case("a schedule runs Hydra's task definition with a public IP")
def _(c):
    task = run_task(c, "Operations", hydra_task(c, "Operations"))
    task["NetworkConfiguration"] = {"AwsvpcConfiguration": task["NetworkConfiguration"]["AwsVpcConfiguration"]}
    return "hydra-public", c.add("Operations", "HydraNightly", "AWS::Scheduler::Schedule", {
        "ScheduleExpression": "rate(1 day)", "FlexibleTimeWindow": {"Mode": "OFF"},
        "Target": {"Arn": "arn:aws:ecs:eu-west-1:123456789012:cluster/x", "RoleArn": "arn:aws:iam::1:role/x",
                   "EcsParameters": task}})


@case("an EventBridge rule runs Hydra's task definition with a public IP")
def _(c):
    return "hydra-public", c.add("Operations", "HydraCron", "AWS::Events::Rule", {
        "ScheduleExpression": "rate(1 hour)", "Targets": [{
            "Id": "t", "Arn": "arn:aws:ecs:eu-west-1:123456789012:cluster/x", "RoleArn": "arn:aws:iam::1:role/x",
            "EcsParameters": run_task(c, "Operations", hydra_task(c, "Operations"))}]})


@case("a custom resource runs Hydra's task definition once with a public IP")
def _(c):
    call = {"Fn::Join": ["", [
        '{"service":"ECS","action":"runTask","parameters":{"cluster":"hydra","taskDefinition":"',
        hydra_task(c, "Operations"), '","launchType":"FARGATE","networkConfiguration":{"awsvpcConfiguration":'
        '{"subnets":["', c.ref("Operations", "Stateful", PRIVATE), '"],"assignPublicIp":"ENABLED"}}}}']]}
    return "hydra-public", c.add("Operations", "RunOnce", "Custom::AWS", {"ServiceToken": "arn:aws:lambda:x",
                                                                         "Create": call})


@case("an OpenAPI body integrates the admin port through the VPC link")
def _(c):
    return "api-integration", c.add("Ingress", "Spec", "AWS::ApiGateway::RestApi", {"Name": "spec", "Body": {
        "openapi": "3.0.1", "paths": {"/admin": {"get": {"x-amazon-apigateway-integration": {
            "type": "http_proxy", "httpMethod": "GET", "connectionType": "VPC_LINK",
            "connectionId": {"Ref": c.lid("Ingress", "PublicApi/VpcLink/Resource")},
            "uri": {"Fn::Join": ["", ["http://", {"Fn::GetAtt": [c.lid("Ingress", PUBLIC_NLB), "DNSName"]},
                                      ":4445/admin"]]}}}}}}})


# ------------------------------------------------ 5. no false positives ---

def http_api(c: Copy, name: str, uri, *, link: bool = True) -> str:
    if link and "Link" not in c.stack("Ingress")["Resources"]:
        c.add("Ingress", "Link", "AWS::ApiGatewayV2::VpcLink", {
            "Name": "neighbours", "SubnetIds": [c.ref("Ingress", "Stateful", PRIVATE)],
            "SecurityGroupIds": [group(c, "Ingress", "LinkSg")]})
    c.add("Ingress", "Api", "AWS::ApiGatewayV2::Api", {"Name": "neighbours", "ProtocolType": "HTTP"})
    return c.add("Ingress", name, "AWS::ApiGatewayV2::Integration", {
        "ApiId": {"Ref": "Api"}, "IntegrationType": "HTTP_PROXY", "IntegrationMethod": "ANY",
        "IntegrationUri": uri, "PayloadFormatVersion": "1.0",
        **({"ConnectionType": "VPC_LINK", "ConnectionId": {"Ref": "Link"}} if link else {})})


@case("an HTTP API to another app's Cloud Map service passes")
def _(c):
    http_api(c, "ToBilling", f"arn:aws:servicediscovery:eu-west-1:{FOREIGN_ACCOUNT}:service/srv-0123456789abcdef")


@case("an HTTP API to another app's Cloud Map service, built from pseudo parameters, passes")
def _(c):
    http_api(c, "ToBillingSub", {"Fn::Sub": "arn:${AWS::Partition}:servicediscovery:${AWS::Region}:"
                                            "${AWS::AccountId}:service/srv-0123456789abcdef"})


@case("an HTTP API to another app's ALB listener passes")
def _(c):
    http_api(c, "ToShop", f"{FOREIGN}:listener/app/shop/0123456789abcdef/0123456789abcdef")


@case("a REST integration target on another app's NLB passes")
def _(c):
    method = c.props("Ingress", "PublicApi/RestApi/Default/{proxy+}/ANY/Resource")
    method["Integration"]["IntegrationTarget"] = f"{FOREIGN}:loadbalancer/net/shop/0123456789abcdef"


@case("an endpoint service on another app's NLB passes")
def _(c):
    c.add("Ingress", "Shared", "AWS::EC2::VPCEndpointService", {
        "NetworkLoadBalancerArns": [f"{FOREIGN}:loadbalancer/net/shop/0123456789abcdef"]})


@case("an internet-facing listener forwarding to another app's target group passes")
def _(c):
    internet_facing_nlb(c, "ShopNlb", 443, f"{FOREIGN}:targetgroup/shop/0123456789abcdef")


@case("an internet-facing ALB for another service on 8080 passes")
def _(c):
    task = task_definition(c, "Service", "Shop", "public.ecr.aws/nginx/nginx:1.27", 8080)
    alb_sg = group(c, "Ingress", "ShopAlbSg")
    c.add("Ingress", "ShopAlb", "AWS::ElasticLoadBalancingV2::LoadBalancer",
          {"Scheme": "internet-facing", "Type": "application", "SecurityGroups": [alb_sg]})
    tg = target_group(c, "ShopTargets", 8080, Protocol="HTTP")
    c.add("Ingress", "ShopListener", "AWS::ElasticLoadBalancingV2::Listener", {
        "LoadBalancerArn": {"Ref": "ShopAlb"}, "Port": 80, "Protocol": "HTTP",
        "DefaultActions": [{"Type": "forward", "TargetGroupArn": tg}]})
    shop_sg = group(c, "Service", "ShopSg")
    c.add("Service", "ShopFromAlb", "AWS::EC2::SecurityGroupIngress", {
        "GroupId": shop_sg, "IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080,
        "SourceSecurityGroupId": c.ref("Service", "Ingress", "ShopAlbSg", "GroupId")})
    service(c, "ShopService", task, groups=[shop_sg], LoadBalancers=[
        {"ContainerName": "app", "ContainerPort": 8080, "TargetGroupArn": c.ref("Service", "Ingress", "ShopTargets")}])


@case("a Cloud Map service of this app that another service registers 8080 into passes")
def _(c):
    c.add("Service", "Namespace", "AWS::ServiceDiscovery::HttpNamespace", {"Name": "neighbours"})
    c.add("Service", "ShopRegistry", "AWS::ServiceDiscovery::Service", {"Name": "shop",
                                                                       "NamespaceId": {"Ref": "Namespace"}})
    service(c, "ShopService", task_definition(c, "Service", "Shop", "public.ecr.aws/nginx/nginx:1.27", 8080),
            ServiceRegistries=[{"RegistryArn": {"Fn::GetAtt": ["ShopRegistry", "Arn"]}, "ContainerName": "app",
                                "ContainerPort": 8080}])
    http_api(c, "ToShopRegistry", c.ref("Ingress", "Service", "ShopRegistry", "Arn"))


@case("a Verified Access endpoint and a Global Accelerator in front of the public NLB's public port pass")
def _(c):
    c.add("Ingress", "PublicVerified", "AWS::EC2::VerifiedAccessEndpoint", {
        "EndpointType": "load-balancer", "AttachmentType": "vpc", "VerifiedAccessGroupId": "vagr-1",
        "ApplicationDomain": "auth.example.com", "DomainCertificateArn": "arn:aws:acm:eu-west-1:1:certificate/x",
        "EndpointDomainPrefix": "auth", "LoadBalancerOptions": {
            "LoadBalancerArn": {"Ref": c.lid("Ingress", PUBLIC_NLB)}, "Port": 4444, "Protocol": "http"}})
    accelerator(c, {"Ref": c.lid("Ingress", PUBLIC_NLB)}, 443, [{"ListenerPort": 443, "EndpointPort": 4444}])


@case("Hydra's public port registered with a VPC Lattice target group passes")
def _(c):
    c.add("Service", "LatticeTargets", "AWS::VpcLattice::TargetGroup", {
        "Type": "IP", "Config": {"Port": 443, "Protocol": "HTTPS", "VpcIdentifier": vpc_of(c, "Service")}})
    c.props("Service", HYDRA_SERVICE)["VpcLatticeConfigurations"] = [{
        "TargetGroupArn": {"Fn::GetAtt": ["LatticeTargets", "Arn"]}, "PortName": "public",
        "RoleArn": "arn:aws:iam::123456789012:role/ecs-infrastructure"}]


@case("another app's task definition with a public IP passes")
def _(c):
    service(c, "Foreign", f"arn:aws:ecs:eu-west-1:{FOREIGN_ACCOUNT}:task-definition/shop:3", public_ip="ENABLED",
            groups=[group(c, "Service", "ForeignSg")])


@case("a state machine running Hydra's migration with a public IP passes")
def _(c):
    c.add("Operations", "Migrate", "AWS::Scheduler::Schedule", {
        "ScheduleExpression": "rate(1 day)", "FlexibleTimeWindow": {"Mode": "OFF"},
        "Target": {"Arn": "arn:aws:ecs:eu-west-1:123456789012:cluster/x", "RoleArn": "arn:aws:iam::1:role/x",
                   "EcsParameters": run_task(c, "Operations", c.ref("Operations", "Service",
                                                                    "Hydra/MigrateTaskDefinition/Resource"))}})


@case("a sidecar without ports and a migration container beside Hydra pass")
def _(c):
    c.props("Service", HYDRA_TD)["ContainerDefinitions"].append(
        {"Name": "log-router", "Image": "public.ecr.aws/aws-observability/aws-for-fluent-bit:stable"})


@case("an HTTP API whose integration URI is a parameter fails")
def _(c):
    return "api-integration", http_api(c, "ToParam", c.parameter("Ingress", "Target", "arn:x"))


@case("an HTTP API whose integration URI is an import of an unknown export fails")
def _(c):
    return "api-integration", http_api(c, "ToImport", c.foreign_import("Shop:ListenerArn"))


@case("an HTTP API whose integration URI is chosen by a condition fails")
def _(c):
    return "api-integration", http_api(c, "ToIf", c.conditional(
        "Ingress", f"{FOREIGN}:listener/app/shop/1/2", {"Ref": c.lid("Ingress", "LoadBalancers/AdminNlb/AdminListener"
                                                                                "/Resource")}))


@case("an HTTP API to a Cloud Map service Hydra registers its admin port into fails")
def _(c):
    c.add("Service", "Namespace", "AWS::ServiceDiscovery::HttpNamespace", {"Name": "hydra"})
    c.add("Service", "AdminRegistry", "AWS::ServiceDiscovery::Service", {"Name": "admin",
                                                                        "NamespaceId": {"Ref": "Namespace"}})
    c.props("Service", HYDRA_SERVICE)["ServiceRegistries"] = [{
        "RegistryArn": {"Fn::GetAtt": ["AdminRegistry", "Arn"]}, "ContainerName": "hydra", "ContainerPort": 4445}]
    return "api-integration", http_api(c, "ToAdminRegistry", c.ref("Ingress", "Service", "AdminRegistry", "Arn"))


@case("an HTTP API to a Cloud Map service Hydra's admin port joins through Service Connect fails")
def _(c):
    c.add("Service", "Namespace", "AWS::ServiceDiscovery::HttpNamespace", {"Name": "hydra"})
    c.add("Service", "ConnectRegistry", "AWS::ServiceDiscovery::Service", {"Name": "hydra-admin",
                                                                          "NamespaceId": {"Ref": "Namespace"}})
    c.props("Service", HYDRA_SERVICE)["ServiceConnectConfiguration"] = {
        "Enabled": True, "Namespace": "hydra",
        "Services": [{"PortName": "admin", "DiscoveryName": "hydra-admin"}]}
    return "api-integration", http_api(c, "ToConnect", c.ref("Ingress", "Service", "ConnectRegistry", "Arn"))


@case("a listener rule on another app's listener forwarding to the admin target group still fails")
def _(c):
    return "internet-facing-lb", c.add("Ingress", "ForeignRule", "AWS::ElasticLoadBalancingV2::ListenerRule", {
        "ListenerArn": f"{FOREIGN}:listener/app/shop/1/2", "Priority": 10,
        "Conditions": [{"Field": "path-pattern", "Values": ["/admin/*"]}],
        "Actions": [{"Type": "forward", "TargetGroupArn": {"Ref": c.lid("Ingress", ADMIN_TG)}}]})


@pytest.mark.parametrize("name", list(CASES))
def test_case(copy_of_dev, name):
    run(copy_of_dev, name)


def test_the_unmodified_copy_passes(copy_of_dev):
    assert copy_of_dev.violations() == []
