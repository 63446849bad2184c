"""The account the synthesized templates describe, built in moto through its normal APIs.

moto cannot deploy our templates, so :func:`derive` translates them: every resource the live check
reads (the VPC, subnets, route tables and routes, security groups and their ingress rules,
instances, load balancers with target groups and listeners, the ECS cluster, task definitions and
service, the REST API with its VPC link, resources, methods and integrations, the state machines
and the schedule) is created with the property values the templates render, in dependency order,
and the stacks publish the templates' outputs. Intrinsics resolve against what moto created
(``Ref``, ``Fn::GetAtt``, this app's exports, ``Fn::Join``, ``Fn::Sub``, ``Fn::Select``...). What
the live check does not read (IAM, Lambda, the database, logs, alarms...) stands in as a made-up
id or ARN where something else names it. Egress rules are left out: the check reads ingress only.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field, replace
from typing import Any

from moto.backends import get_backend

from tests.conftest import stack_with_outputs

ACCOUNT = "123456789012"
AMI = "ami-12c6146b"          # stands in for the SSM parameter of the latest AL2023 (moto does not check image ids)


@dataclass
class Derived:
    """What :func:`derive` created: physical ids by construct path (without the stack prefix's
    ``/Resource``), the environment and its issuer."""
    session: Any
    env: str
    physical: dict[str, dict[str, Any]] = field(default_factory=dict)   # path -> attributes ("Ref", ...)
    issuer: str = ""

    def id(self, path_suffix: str, attribute: str = "Ref") -> Any:
        hits = [attrs for path, attrs in self.physical.items() if path.endswith(path_suffix)]
        assert len(hits) == 1, f"expected one resource at */{path_suffix}, found {len(hits)}"
        return hits[0][attribute]


def _camel(value: Any, keep: bool = False) -> Any:
    """CloudFormation's PascalCase keys in ECS's camelCase; the keys of string maps stay."""
    if isinstance(value, list):
        return [_camel(v) for v in value]
    if isinstance(value, dict):
        return {k if keep else k[:1].lower() + k[1:]: _camel(v, keep=k in ("DockerLabels", "Options"))
                for k, v in value.items()}
    return value


class _Translator:
    def __init__(self, session: Any, templates: dict[str, dict], region: str) -> None:
        self.session, self.templates, self.region = session, templates, region
        self.attrs: dict[tuple[str, str], dict[str, Any]] = {}
        self.exports = {o["Export"]["Name"]: (stack, o["Value"]) for stack, t in templates.items()
                        for o in (t.get("Outputs") or {}).values() if "Export" in o}
        self.ec2, self.elbv2, self.ecs = session.client("ec2"), session.client("elbv2"), session.client("ecs")
        self.apigw = session.client("apigateway")

    # -- values
    def attr(self, stack: str, lid: str, attribute: str) -> Any:
        found = self.attrs.get((stack, lid), {})
        if attribute in found:
            return found[attribute]
        resource_type = self.templates[stack]["Resources"][lid]["Type"]
        _, service, kind = resource_type.lower().split("::")
        if attribute == "Ref" and not resource_type.startswith(("AWS::SecretsManager", "AWS::SNS")):
            return lid
        if service == "iam":
            return f"arn:aws:iam::{ACCOUNT}:{kind}/{lid}"
        return f"arn:aws:{service}:{self.region}:{ACCOUNT}:{kind}/{lid}" + ("" if attribute in ("Ref", "Arn")
                                                                               else f"/{attribute}")

    def value(self, stack: str, v: Any) -> Any:
        if isinstance(v, list):
            return [self.value(stack, x) for x in v]
        if not isinstance(v, dict):
            return v
        if len(v) != 1 or not (next(iter(v)) == "Ref" or next(iter(v)).startswith("Fn::")):
            return {k: self.value(stack, x) for k, x in v.items()}
        (fn, arg), = v.items()
        template = self.templates[stack]
        if fn == "Ref":
            pseudo = {"AWS::Region": self.region, "AWS::AccountId": ACCOUNT, "AWS::Partition": "aws",
                      "AWS::URLSuffix": "amazonaws.com", "AWS::StackName": stack, "AWS::NoValue": None}
            if arg in pseudo:
                return pseudo[arg]
            if arg in (template.get("Parameters") or {}):
                return AMI if "ami" in arg.lower() else template["Parameters"][arg].get("Default")
            return self.attr(stack, arg, "Ref")
        if fn == "Fn::GetAtt":
            lid, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
            return self.attr(stack, lid, attribute)
        if fn == "Fn::ImportValue":
            producer, expression = self.exports[self.value(stack, arg)]
            return self.value(producer, expression)
        if fn == "Fn::Join":
            return arg[0].join(str(self.value(stack, p)) for p in arg[1])
        if fn == "Fn::Select":
            return self.value(stack, arg[1])[int(self.value(stack, arg[0]))]
        if fn == "Fn::GetAZs":
            return [f"{self.region}{z}" for z in "abc"]
        if fn == "Fn::Base64":
            return self.value(stack, arg)
        if fn == "Fn::Sub":
            text, variables = (arg, {}) if isinstance(arg, str) else arg
            return re.sub(r"\$\{([^}]*)\}", lambda m: str(
                self.value(stack, variables[m.group(1)]) if m.group(1) in variables else
                self.value(stack, {"Ref": m.group(1)} if "." not in m.group(1) else
                           {"Fn::GetAtt": m.group(1).split(".", 1)})), text)
        raise NotImplementedError(fn)

    def resources(self, *types: str):
        for stack, template in self.templates.items():
            for lid, raw in template["Resources"].items():
                if raw["Type"] in types:
                    yield stack, lid, raw.get("Properties") or {}, (raw.get("Metadata") or {}).get("aws:cdk:path", lid)

    def tags(self, stack: str, props: dict) -> list[dict]:
        return [{"Key": t["Key"], "Value": str(self.value(stack, t["Value"]))} for t in props.get("Tags") or []]

    # -- resources, in dependency order
    def run(self) -> None:
        for step in (self.network, self.security_groups, self.instances, self.routes, self.load_balancers,
                     self.rest_api, self.ecs_resources, self.state_machines):
            step()

    def network(self) -> None:
        for stack, lid, p, _ in self.resources("AWS::EC2::VPC"):
            vpc = self.ec2.create_vpc(CidrBlock=p["CidrBlock"], TagSpecifications=[
                {"ResourceType": "vpc", "Tags": self.tags(stack, p)}])["Vpc"]
            self.attrs[(stack, lid)] = {"Ref": vpc["VpcId"], "CidrBlock": vpc["CidrBlock"],
                                        "DefaultSecurityGroup": self.ec2.describe_security_groups(Filters=[
                                            {"Name": "vpc-id", "Values": [vpc["VpcId"]]},
                                            {"Name": "group-name", "Values": ["default"]}])["SecurityGroups"][0][
                                            "GroupId"]}
        for stack, lid, p, _ in self.resources("AWS::EC2::InternetGateway"):
            self.attrs[(stack, lid)] = {"Ref": self.ec2.create_internet_gateway()["InternetGateway"][
                "InternetGatewayId"]}
        for stack, lid, p, _ in self.resources("AWS::EC2::VPCGatewayAttachment"):
            self.ec2.attach_internet_gateway(InternetGatewayId=self.value(stack, p["InternetGatewayId"]),
                                             VpcId=self.value(stack, p["VpcId"]))
        for stack, lid, p, _ in self.resources("AWS::EC2::Subnet"):
            subnet = self.ec2.create_subnet(VpcId=self.value(stack, p["VpcId"]), CidrBlock=p["CidrBlock"],
                                            AvailabilityZone=self.value(stack, p["AvailabilityZone"]))["Subnet"]
            if p.get("MapPublicIpOnLaunch"):
                self.ec2.modify_subnet_attribute(SubnetId=subnet["SubnetId"], MapPublicIpOnLaunch={"Value": True})
            self.attrs[(stack, lid)] = {"Ref": subnet["SubnetId"]}
        for stack, lid, p, _ in self.resources("AWS::EC2::RouteTable"):
            self.attrs[(stack, lid)] = {"Ref": self.ec2.create_route_table(VpcId=self.value(stack, p["VpcId"]))[
                "RouteTable"]["RouteTableId"]}
        for stack, lid, p, _ in self.resources("AWS::EC2::SubnetRouteTableAssociation"):
            self.ec2.associate_route_table(RouteTableId=self.value(stack, p["RouteTableId"]),
                                           SubnetId=self.value(stack, p["SubnetId"]))

    def security_groups(self) -> None:
        for stack, lid, p, _ in self.resources("AWS::EC2::SecurityGroup"):
            group = self.ec2.create_security_group(GroupName=lid, Description=p["GroupDescription"][:255],
                                                   VpcId=self.value(stack, p["VpcId"]))["GroupId"]
            self.attrs[(stack, lid)] = {"Ref": group, "GroupId": group}
        for stack, lid, p, _ in self.resources("AWS::EC2::SecurityGroup"):
            for rule in p.get("SecurityGroupIngress") or []:
                self.authorize(stack, self.attrs[(stack, lid)]["GroupId"], rule)
        for stack, lid, p, _ in self.resources("AWS::EC2::SecurityGroupIngress"):
            self.authorize(stack, self.value(stack, p["GroupId"]), p)

    def authorize(self, stack: str, group: str, rule: dict) -> None:
        permission: dict[str, Any] = {"IpProtocol": str(self.value(stack, rule["IpProtocol"]))}
        if permission["IpProtocol"] != "-1":
            permission.update(FromPort=int(self.value(stack, rule["FromPort"])),
                              ToPort=int(self.value(stack, rule["ToPort"])))
        description = {"Description": rule["Description"]} if "Description" in rule else {}
        if "CidrIp" in rule:
            permission["IpRanges"] = [{"CidrIp": self.value(stack, rule["CidrIp"]), **description}]
        elif "CidrIpv6" in rule:
            permission["Ipv6Ranges"] = [{"CidrIpv6": self.value(stack, rule["CidrIpv6"]), **description}]
        elif "SourceSecurityGroupId" in rule:
            permission["UserIdGroupPairs"] = [{"GroupId": self.value(stack, rule["SourceSecurityGroupId"]),
                                               **description}]
        elif "SourcePrefixListId" in rule:
            permission["PrefixListIds"] = [{"PrefixListId": self.value(stack, rule["SourcePrefixListId"])}]
        self.ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[permission])

    def instances(self) -> None:
        for stack, lid, p, path in self.resources("AWS::EC2::Instance"):
            interfaces = [{"DeviceIndex": int(n.get("DeviceIndex", 0)), "SubnetId": self.value(stack, n["SubnetId"]),
                           "Groups": self.value(stack, n.get("GroupSet", [])),
                           "AssociatePublicIpAddress": bool(n.get("AssociatePublicIpAddress", False))}
                          for n in p.get("NetworkInterfaces", [])]
            [instance] = self.ec2.run_instances(
                ImageId=self.value(stack, p["ImageId"]), InstanceType=p["InstanceType"], MinCount=1, MaxCount=1,
                NetworkInterfaces=interfaces, TagSpecifications=[{"ResourceType": "instance",
                                                                  "Tags": self.tags(stack, p)}])["Instances"]
            if p.get("SourceDestCheck") is False:
                self.ec2.modify_instance_attribute(InstanceId=instance["InstanceId"],
                                                   SourceDestCheck={"Value": False})
            self.attrs[(stack, lid)] = {"Ref": instance["InstanceId"]}

    def routes(self) -> None:
        for stack, lid, p, _ in self.resources("AWS::EC2::Route"):
            target = {k: self.value(stack, p[k]) for k in ("GatewayId", "InstanceId", "NatGatewayId") if k in p}
            self.ec2.create_route(RouteTableId=self.value(stack, p["RouteTableId"]),
                                  DestinationCidrBlock=p["DestinationCidrBlock"], **target)

    def load_balancers(self) -> None:
        for stack, lid, p, _ in self.resources("AWS::ElasticLoadBalancingV2::LoadBalancer"):
            [lb] = self.elbv2.create_load_balancer(
                Name=lid[:32], Subnets=self.value(stack, p["Subnets"]), Scheme=p.get("Scheme", "internet-facing"),
                Type=p.get("Type", "application"), SecurityGroups=self.value(stack, p.get("SecurityGroups", [])),
                Tags=self.tags(stack, p))["LoadBalancers"]
            self.attrs[(stack, lid)] = {"Ref": lb["LoadBalancerArn"], "DNSName": lb["DNSName"],
                                        "LoadBalancerFullName": lb["LoadBalancerArn"].split(":loadbalancer/")[1]}
        for stack, lid, p, _ in self.resources("AWS::ElasticLoadBalancingV2::TargetGroup"):
            [tg] = self.elbv2.create_target_group(
                Name=lid[:32], Protocol=p["Protocol"], Port=p["Port"], VpcId=self.value(stack, p["VpcId"]),
                TargetType=p.get("TargetType", "instance"), HealthCheckPath=p.get("HealthCheckPath", "/"),
                HealthCheckProtocol=p.get("HealthCheckProtocol", p["Protocol"]))["TargetGroups"]
            self.attrs[(stack, lid)] = {"Ref": tg["TargetGroupArn"],
                                        "TargetGroupFullName": tg["TargetGroupArn"].split(":")[-1]}
        for stack, lid, p, _ in self.resources("AWS::ElasticLoadBalancingV2::Listener"):
            [listener] = self.elbv2.create_listener(
                LoadBalancerArn=self.value(stack, p["LoadBalancerArn"]), Protocol=p["Protocol"], Port=p["Port"],
                DefaultActions=[{"Type": a["Type"], "TargetGroupArn": self.value(stack, a["TargetGroupArn"])}
                                for a in p["DefaultActions"]])["Listeners"]
            self.attrs[(stack, lid)] = {"Ref": listener["ListenerArn"]}

    def ecs_resources(self) -> None:
        for stack, lid, p, _ in self.resources("AWS::ECS::Cluster"):
            cluster = self.ecs.create_cluster(clusterName=p.get("ClusterName", lid))["cluster"]
            self.attrs[(stack, lid)] = {"Ref": cluster["clusterName"], "Arn": cluster["clusterArn"]}
        for stack, lid, p, _ in self.resources("AWS::ECS::TaskDefinition"):
            taskdef = self.ecs.register_task_definition(
                family=p.get("Family", lid), networkMode=p.get("NetworkMode", "awsvpc"),
                requiresCompatibilities=p.get("RequiresCompatibilities", ["FARGATE"]), cpu=p["Cpu"],
                memory=p["Memory"], executionRoleArn=self.value(stack, p["ExecutionRoleArn"]),
                taskRoleArn=self.value(stack, p["TaskRoleArn"]),
                containerDefinitions=_camel(self.value(stack, p["ContainerDefinitions"])))["taskDefinition"]
            self.attrs[(stack, lid)] = {"Ref": taskdef["taskDefinitionArn"]}
        for stack, lid, p, path in self.resources("AWS::ECS::Service"):
            name = path.split("/")[-3].lower() if path.count("/") >= 3 else lid
            service = self.ecs.create_service(
                cluster=self.value(stack, p["Cluster"]), serviceName=name,
                taskDefinition=self.value(stack, p["TaskDefinition"]), desiredCount=p.get("DesiredCount", 1),
                launchType=p.get("LaunchType", "FARGATE"),
                networkConfiguration=_camel(self.value(stack, p["NetworkConfiguration"])),
                loadBalancers=_camel(self.value(stack, p.get("LoadBalancers", []))))["service"]
            self.attrs[(stack, lid)] = {"Ref": service["serviceArn"], "Name": service["serviceName"]}

    def rest_api(self) -> None:
        for stack, lid, p, _ in self.resources("AWS::ApiGateway::RestApi"):
            api = self.apigw.create_rest_api(name=p["Name"], endpointConfiguration={
                "types": p.get("EndpointConfiguration", {}).get("Types", ["REGIONAL"])})["id"]
            root = self.apigw.get_resources(restApiId=api)["items"][0]["id"]
            self.attrs[(stack, lid)] = {"Ref": api, "RootResourceId": root}
        for stack, lid, p, _ in self.resources("AWS::ApiGateway::VpcLink"):
            self.attrs[(stack, lid)] = {"Ref": self.apigw.create_vpc_link(
                name=p["Name"], targetArns=self.value(stack, p["TargetArns"]))["id"]}
        for stack, lid, p, _ in self.resources("AWS::ApiGateway::Stage"):
            self.attrs[(stack, lid)] = {"Ref": p["StageName"]}
        pending = list(self.resources("AWS::ApiGateway::Resource"))
        while pending:   # parents first
            stack, lid, p, path = pending.pop(0)
            parent = p["ParentId"]
            if "Ref" in parent and (stack, parent["Ref"]) not in self.attrs:
                pending.append((stack, lid, p, path))
                continue
            self.attrs[(stack, lid)] = {"Ref": self.apigw.create_resource(
                restApiId=self.value(stack, p["RestApiId"]), parentId=self.value(stack, parent),
                pathPart=p["PathPart"])["id"]}
        for stack, lid, p, _ in self.resources("AWS::ApiGateway::Method"):
            api, resource = self.value(stack, p["RestApiId"]), self.value(stack, p["ResourceId"])
            self.apigw.put_method(restApiId=api, resourceId=resource, httpMethod=p["HttpMethod"],
                                  authorizationType=p["AuthorizationType"])
            integration = p.get("Integration") or {}
            options = {"type": integration["Type"]}
            if integration["Type"] != "MOCK":
                options.update(integrationHttpMethod=integration["IntegrationHttpMethod"],
                               uri=self.value(stack, integration["Uri"]))
            if integration.get("ConnectionType") == "VPC_LINK":
                options.update(connectionType="VPC_LINK", connectionId=self.value(stack, integration["ConnectionId"]))
            self.apigw.put_integration(restApiId=api, resourceId=resource, httpMethod=p["HttpMethod"], **options)

    def state_machines(self) -> None:
        sfn, scheduler = self.session.client("stepfunctions"), self.session.client("scheduler")
        for stack, lid, p, _ in self.resources("AWS::StepFunctions::StateMachine"):
            definition = self.value(stack, p["DefinitionString"])
            json.loads(definition)
            arn = sfn.create_state_machine(name=lid[:80], definition=definition,
                                           roleArn=self.value(stack, p["RoleArn"]))["stateMachineArn"]
            self.attrs[(stack, lid)] = {"Ref": arn, "Arn": arn}
        for stack, lid, p, _ in self.resources("AWS::Scheduler::Schedule"):
            target = self.value(stack, p["Target"])
            scheduler.create_schedule(Name=lid[:64], ScheduleExpression=p["ScheduleExpression"],
                                      FlexibleTimeWindow=p["FlexibleTimeWindow"],
                                      Target={"Arn": target["Arn"], "RoleArn": target["RoleArn"]})

    def stacks(self, issuer: str | None) -> str:
        published = ""
        for stack, template in self.templates.items():
            outputs = {name: str(self.value(stack, o["Value"])) for name, o in (template.get("Outputs") or {}).items()
                       if "Export" not in o}
            if issuer is not None and "HydraPublicApi" in outputs:
                outputs["HydraPublicApi"] = issuer
            published = outputs.get("HydraPublicApi", published)
            tags = [{"Key": "project", "Value": "hydra"},
                    {"Key": "hydra:environment", "Value": stack.split("-")[1]}]
            stack_with_outputs(self.session, stack, outputs, tags)
        return published


def derive(session: Any, synth: Any, *, issuer: str | None = None) -> Derived:
    """Build ``synth``'s account in moto; ``issuer`` replaces the published issuer (and the task's)."""
    templates = {synth.stack_name(part): template for part, template in synth.templates.items()}
    if issuer is not None:
        templates = json.loads(json.dumps(templates))
        for template in templates.values():
            for resource in template["Resources"].values():
                if resource["Type"] == "AWS::ECS::TaskDefinition":
                    for container in resource["Properties"]["ContainerDefinitions"]:
                        for variable in container.get("Environment", []):
                            if variable["Name"] in ("URLS_SELF_ISSUER", "URLS_SELF_PUBLIC"):
                                variable["Value"] = issuer
    translator = _Translator(session, templates, session.region_name)
    translator.run()
    derived = Derived(session, synth.config.env_name)
    derived.issuer = translator.stacks(issuer)
    for (stack, lid), attrs in translator.attrs.items():
        path = (templates[stack]["Resources"][lid].get("Metadata") or {}).get("aws:cdk:path", f"{stack}/{lid}")
        derived.physical[path] = attrs
    return derived


# The services derive() writes to. SSM is left out: only the marker parameters of the output stacks
# live there (nothing reads them), and moto's SSM store cannot be deep-copied.
_SERVICES = ("ec2", "elbv2", "ecs", "apigateway", "cloudformation", "stepfunctions", "scheduler")
_SNAPSHOTS: dict[int, tuple[Derived, dict[str, Any]]] = {}


def derived(session: Any, synth: Any) -> Derived:
    """:func:`derive`, once per synthesized configuration and test session: moto's state right after
    the first derivation is kept as a deep copy, and later calls (each inside a fresh ``mock_aws``)
    put a new copy of it back instead of creating every resource again through the API. A test's
    tampering changes only its own copy."""
    if id(synth) not in _SNAPSHOTS:
        account = derive(session, synth)
        _SNAPSHOTS[id(synth)] = (account, copy.deepcopy(
            {name: get_backend(name)[ACCOUNT] for name in _SERVICES if ACCOUNT in get_backend(name)}))
        return account
    account, saved = _SNAPSHOTS[id(synth)]
    for name, backends in copy.deepcopy(saved).items():
        get_backend(name)[ACCOUNT] = backends
    return replace(account, session=session, physical=copy.deepcopy(account.physical))
