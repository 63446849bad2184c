"""The live check: the guard's rules, applied to what is actually deployed.

    python -m hydra_on_aws.boundary.verify --env prod [--region eu-west-1] [--probe]

It reads the account with boto3: the stacks' outputs, then everything in the
environment's VPC (found by the `project=hydra` and `hydra:environment` tags
the app puts on every resource) - all security groups and rules, load
balancers with listeners and target groups, API Gateway VPC links and
integrations (REST and HTTP APIs), endpoint services, CloudFront VPC origins,
Client VPN and Verified Access endpoints, ECS services, running tasks and the
tasks EventBridge rules, schedules and state machines start, with their task
definitions (Hydra's admin ports come from them) and Cloud Map registrations,
instances, and every network interface with a public address. Untagged
additions in the VPC are checked too: drift is what this is for. It prints a pass/fail line per
rule and exits 1 on any violation (2 when it cannot run).
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import ssl
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Callable

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from hydra_on_aws.ops.aws_cli import run, stack_outputs
from hydra_on_aws.config.settings import ConfigError, cdk_json_context, load_config
from hydra_on_aws.boundary.trust_boundary import (
    RULES, Analysis, Cidr, ContainerSpec, EdgeDoor, EndpointService, Foreign, Group, IngressRule, Integration,
    Listener, LoadBalancer, Network, Opaque, PortMapping, Registry, Route, SecurityGroupInfo, TargetGroup,
    TaskServing, Violation, VpcLink, VpcOrigin, Workload, find_run_tasks, parse_json_document, parse_uri,
    route_from, task_serving,
)

LIVE_RULES = {
    "task-secrets": "DSN and SECRETS_SYSTEM reach Hydra only as ECS secrets, never as plain environment",
    "issuer": "URLS_SELF_ISSUER and URLS_SELF_PUBLIC equal the published HYDRA_PUBLIC_API",
    "probe-discovery": "The public discovery document names the configured issuer",
    "probe-admin-paths": "Admin paths answer 404 (or 403) on the public URL",
}
SECRET_NAMES = ("DSN", "SECRETS_SYSTEM")
ADMIN_PROBE_PATHS = ("admin/clients", "admin/keys/hydra.openid.id-token", "admin/oauth2/introspect")


class CannotVerify(Exception):
    """The check could not run; the message is the one line to show."""


@dataclass
class Deployment:
    """What the live check found, beyond the network model."""
    region: str
    outputs: dict[str, str] = field(default_factory=dict)
    task_definitions: list[dict] = field(default_factory=list)   # of the services that serve the admin port


def _name(tags: list[dict] | None, default: str) -> str:
    for tag in tags or []:
        if tag.get("Key") == "Name":
            return f"{default} ({tag['Value']})"
    return default


def _pages(client: Any, operation: str, key: str, **kwargs: Any) -> list[dict]:
    if client.can_paginate(operation):
        return [item for page in client.get_paginator(operation).paginate(**kwargs) for item in page.get(key, [])]
    return getattr(client, operation)(**kwargs).get(key, [])


def _optional(read: Callable[[], list[dict]]) -> list[dict]:
    """What an API this account or endpoint may not offer returns (nothing when it does not)."""
    try:
        return read()
    except (ClientError, BotoCoreError, AttributeError, NotImplementedError):
        return []


def container_spec(c: dict) -> ContainerSpec:
    """A container definition as ECS describes it."""
    return ContainerSpec(
        name=c.get("name", "?"), image=c.get("image"), command=list(c.get("command") or []),
        entry_point=list(c.get("entryPoint") or []),
        environment={e["name"]: e.get("value") for e in c.get("environment", [])},
        secrets={s["name"] for s in c.get("secrets", [])}, environment_files=bool(c.get("environmentFiles")),
        port_mappings=[PortMapping(m.get("containerPort"), m.get("hostPort"), m.get("name"))
                       for m in c.get("portMappings", [])])


@dataclass
class _Tasks:
    """ECS task definitions and what runs them: services, scheduled and one-off tasks."""
    definitions: dict[str, dict] = field(default_factory=dict)      # ARN -> task definition
    registered_admin: set[str] = field(default_factory=set)         # ARNs registered with an admin target group


class AccountReader:
    """Builds the trust-boundary model from an AWS account."""

    def __init__(self, session: boto3.Session, env: str, admin_port: int = 4445, public_port: int = 4444,
                 allowed_cidrs: list[str] | None = None) -> None:
        self.session = session
        self.env = env
        self.admin_port, self.public_port = admin_port, public_port
        self.allowed_cidrs = allowed_cidrs or []
        self.tasks = _Tasks()

    def client(self, service: str) -> Any:
        return self.session.client(service)

    # -- discovery
    def outputs(self) -> dict[str, str]:
        return stack_outputs(self.session, *(f"Hydra-{self.env}-{part}" for part in ("Stateful", "Ingress", "Service")))

    def vpc_id(self) -> str:
        vpcs = self.client("ec2").describe_vpcs(Filters=[
            {"Name": "tag:project", "Values": ["hydra"]},
            {"Name": "tag:hydra:environment", "Values": [self.env]}])["Vpcs"]
        if len(vpcs) != 1:
            raise CannotVerify(f"expected one VPC tagged project=hydra, hydra:environment={self.env}; "
                               f"found {len(vpcs)}")
        return vpcs[0]["VpcId"]

    # -- the model
    def read(self) -> tuple[Network, Deployment]:
        deployment = Deployment(self.session.region_name or "")
        deployment.outputs = self.outputs()
        vpc_id = self.vpc_id()
        ec2 = self.client("ec2")
        [vpc] = ec2.describe_vpcs(VpcIds=[vpc_id])["Vpcs"]
        cidrs = [ipaddress.ip_network(a["CidrBlock"]) for a in vpc.get("CidrBlockAssociationSet", [])
                 if a.get("CidrBlockState", {}).get("State", "associated") == "associated"] or \
            [ipaddress.ip_network(vpc["CidrBlock"])]
        cidrs += [ipaddress.ip_network(a["Ipv6CidrBlock"]) for a in vpc.get("Ipv6CidrBlockAssociationSet", [])]
        net = Network(admin_port=self.admin_port, public_port=self.public_port, vpc_cidrs=cidrs,
                      allowed_cidrs=[ipaddress.ip_network(c) for c in self.allowed_cidrs], home_vpcs={vpc_id})
        vpc_filter = [{"Name": "vpc-id", "Values": [vpc_id]}]
        subnets = {s["SubnetId"]: s for s in _pages(ec2, "describe_subnets", "Subnets", Filters=vpc_filter)}
        public_subnets = self._public_subnets(ec2, vpc_filter, subnets)
        self._security_groups(ec2, vpc_filter, net, vpc_id)
        lbs = self._load_balancers(vpc_id, net)
        runners = self._runners(ec2, net, set(subnets), public_subnets)
        self._admin_ports(net, runners)
        self._workloads(ec2, vpc_filter, net, runners, public_subnets, deployment)
        self._api_gateway(net, lbs, set(subnets), runners)
        self._endpoint_services(ec2, net)
        self._vpc_origins(net)
        self._edges(ec2, net, vpc_id)
        return net, deployment

    @staticmethod
    def _public_subnets(ec2: Any, vpc_filter: list, subnets: dict) -> set[str]:
        public = {sid for sid, s in subnets.items() if s.get("MapPublicIpOnLaunch")}
        main_is_public = False
        associated = set()
        for table in _pages(ec2, "describe_route_tables", "RouteTables", Filters=vpc_filter):
            to_igw = any(str(r.get("GatewayId", "")).startswith("igw-") for r in table.get("Routes", []))
            for assoc in table.get("Associations", []):
                if assoc.get("Main"):
                    main_is_public = main_is_public or to_igw
                elif assoc.get("SubnetId"):
                    associated.add(assoc["SubnetId"])
                    if to_igw:
                        public.add(assoc["SubnetId"])
        if main_is_public:
            public |= set(subnets) - associated
        return public

    @staticmethod
    def _security_groups(ec2: Any, vpc_filter: list, net: Network, vpc_id: str) -> None:
        groups = _pages(ec2, "describe_security_groups", "SecurityGroups", Filters=vpc_filter)
        owner = {g["OwnerId"] for g in groups}
        for g in groups:
            net.groups[g["GroupId"]] = SecurityGroupInfo(g["GroupId"], f"{g['GroupId']} ({g.get('GroupName', '')})",
                                                         g.get("VpcId", vpc_id))
        for g in groups:
            for perm in g.get("IpPermissions", []):
                protocol = str(perm.get("IpProtocol", "-1")).lower()
                low, high = perm.get("FromPort", -1), perm.get("ToPort", -1)
                path = net.groups[g["GroupId"]].path
                sources: list[Any] = []
                sources += [Cidr(ipaddress.ip_network(r["CidrIp"], strict=False)) for r in perm.get("IpRanges", [])]
                sources += [Cidr(ipaddress.ip_network(r["CidrIpv6"], strict=False))
                            for r in perm.get("Ipv6Ranges", [])]
                sources += [Opaque(f"the prefix list {p['PrefixListId']}") for p in perm.get("PrefixListIds", [])]
                for pair in perm.get("UserIdGroupPairs", []):
                    if pair.get("UserId") and pair["UserId"] not in owner:
                        sources.append(Opaque(f"{pair.get('GroupId')} of account {pair['UserId']}"))
                    elif pair.get("VpcPeeringConnectionId"):
                        sources.append(Opaque(f"{pair.get('GroupId')} across {pair['VpcPeeringConnectionId']}"))
                    else:
                        sources.append(Group(pair["GroupId"]))
                for source in sources:
                    net.rules.append(IngressRule(g["GroupId"], protocol, low, high, source, path))
        # A group associated with another VPC is used there too.
        for association in _optional(lambda: _pages(ec2, "describe_security_group_vpc_associations",
                                                    "SecurityGroupVpcAssociations")):
            group, other = association.get("GroupId"), association.get("VpcId")
            if group in net.groups and other and other != vpc_id and association.get("State", "associated") in (
                    "associated", "associating"):
                net.entry_groups.setdefault(group, f"it is associated with another VPC ({other})")

    def _load_balancers(self, vpc_id: str, net: Network) -> dict[str, str]:
        """Returns DNS name -> load balancer ARN for this VPC's load balancers."""
        elbv2 = self.client("elbv2")
        dns: dict[str, str] = {}
        for lb in _pages(elbv2, "describe_load_balancers", "LoadBalancers"):
            if lb.get("VpcId") != vpc_id:
                continue
            arn = lb["LoadBalancerArn"]
            net.load_balancers[arn] = LoadBalancer(
                id=arn, path=f"{lb.get('LoadBalancerName', arn)} ({lb.get('Type')}, {lb.get('Scheme')})",
                kind=lb.get("Type", "application"), internet_facing=lb.get("Scheme") == "internet-facing",
                groups=list(lb.get("SecurityGroups", [])),
                privatelink_enforced=lb.get("EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic", "on") != "off",
                dns_name=lb.get("DNSName"))
            dns[lb.get("DNSName", "").lower()] = arn
        for arn in list(net.load_balancers):
            name = net.load_balancers[arn].path.split(" (")[0]
            for tg in _pages(elbv2, "describe_target_groups", "TargetGroups", LoadBalancerArn=arn):
                if tg["TargetGroupArn"] not in net.target_groups:
                    targets = [d.get("Target", {}) for d in elbv2.describe_target_health(
                        TargetGroupArn=tg["TargetGroupArn"]).get("TargetHealthDescriptions", [])]
                    kind = str(tg.get("TargetType", "instance")).lower()
                    net.target_groups[tg["TargetGroupArn"]] = TargetGroup(
                        tg["TargetGroupArn"], tg.get("TargetGroupName", tg["TargetGroupArn"]), tg.get("Port"),
                        {t["Port"] for t in targets if "Port" in t},
                        forwards_to=[t["Id"] if t.get("Id") in net.load_balancers else Foreign(
                            f"the load balancer {t.get('Id')}") for t in targets] if kind == "alb" else [],
                        lambda_targets=kind == "lambda")
            for listener in _pages(elbv2, "describe_listeners", "Listeners", LoadBalancerArn=arn):
                label = f"listener {listener.get('Port')} of {name}"
                groups = self._action_groups(listener.get("DefaultActions", []), net)
                routes = [Route(f"{label} (default action)", list(groups))]
                for rule in _pages(elbv2, "describe_rules", "Rules", ListenerArn=listener["ListenerArn"]):
                    rule_groups = self._action_groups(rule.get("Actions", []), net)
                    groups += rule_groups
                    if not rule.get("IsDefault"):
                        routes.append(route_from(f"rule {rule.get('Priority')} of {label}", rule_groups,
                                                 rule.get("Conditions", []), rule.get("Transforms"),
                                                 lambda value: value if isinstance(value, str) else None))
                net.load_balancers[arn].listeners.append(Listener(
                    listener["ListenerArn"], label, listener.get("Port"), groups, protocol=listener.get("Protocol"),
                    routes=routes))
        for lb in _pages(self.client("elb"), "describe_load_balancers", "LoadBalancerDescriptions"):
            if lb.get("VPCId") != vpc_id:
                continue
            name = lb["LoadBalancerName"]
            classic = LoadBalancer(id=f"classic:{name}", path=f"{name} (classic, {lb.get('Scheme')})", kind="classic",
                                   internet_facing=lb.get("Scheme") == "internet-facing",
                                   groups=list(lb.get("SecurityGroups", [])), dns_name=lb.get("DNSName"))
            for i, description in enumerate(lb.get("ListenerDescriptions", [])):
                listener = description.get("Listener", {})
                tg_id = f"classic:{name}#listener{i}"
                net.target_groups[tg_id] = TargetGroup(tg_id, classic.path, listener.get("InstancePort"))
                classic.listeners.append(Listener(tg_id, f"listener {listener.get('LoadBalancerPort')} of {name}",
                                                  listener.get("LoadBalancerPort"), [tg_id], protocol="TCP"))
            net.load_balancers[classic.id] = classic
            dns[lb.get("DNSName", "").lower()] = classic.id
        return dns

    def _action_groups(self, actions: list[dict], net: Network) -> list[Any]:
        found: list[Any] = []
        arns = []
        for action in actions:
            if action.get("TargetGroupArn"):
                arns.append(action["TargetGroupArn"])
            for tg in (action.get("ForwardConfig") or {}).get("TargetGroups", []):
                arns.append(tg["TargetGroupArn"])
        for arn in arns:
            if arn not in net.target_groups:
                # a target group no load balancer of this VPC lists first: read it, or it is someone else's
                described = _optional(lambda: self.client("elbv2").describe_target_groups(
                    TargetGroupArns=[arn]).get("TargetGroups", []))
                if described:
                    tg = described[0]
                    net.target_groups[arn] = TargetGroup(arn, tg.get("TargetGroupName", arn), tg.get("Port"),
                                                         lambda_targets=str(tg.get("TargetType")).lower() == "lambda")
            found.append(arn if arn in net.target_groups else Foreign(f"the target group {arn}"))
        return found

    # -- ECS: what runs Hydra, on which ports
    def _task_definition(self, ecs: Any, arn: str) -> dict | None:
        if arn not in self.tasks.definitions:
            try:
                self.tasks.definitions[arn] = ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]
            except ClientError:
                return None
        return self.tasks.definitions[arn]

    def _runners(self, ec2: Any, net: Network, subnets: set[str], public: set[str]) -> list[dict]:
        """Everything in this VPC that runs ECS tasks: services, running tasks, schedules, state machines."""
        ecs = self.client("ecs")
        runners: list[dict] = []
        for cluster in _pages(ecs, "list_clusters", "clusterArns"):
            arns = _pages(ecs, "list_services", "serviceArns", cluster=cluster)
            for i in range(0, len(arns), 10):
                for svc in ecs.describe_services(cluster=cluster, services=arns[i:i + 10]).get("services", []):
                    vpc = (svc.get("networkConfiguration") or {}).get("awsvpcConfiguration") or {}
                    if not set(vpc.get("subnets", [])) & subnets:
                        continue
                    runners.append({
                        "path": f"ECS service {svc.get('serviceName')}", "kind": "ECS service",
                        "task": svc["taskDefinition"], "groups": list(vpc.get("securityGroups", [])),
                        "public_ip": vpc.get("assignPublicIp") == "ENABLED",
                        "public_subnet": bool(set(vpc.get("subnets", [])) & public),
                        "registrations": [(lb.get("targetGroupArn"), lb.get("containerName"), lb.get("containerPort"))
                                          for lb in svc.get("loadBalancers", [])],
                        "registries": [(r.get("registryArn"), r.get("containerPort", r.get("port")))
                                       for r in svc.get("serviceRegistries", [])]})
            running = _pages(ecs, "list_tasks", "taskArns", cluster=cluster, desiredStatus="RUNNING")
            for i in range(0, len(running), 100):
                for task in ecs.describe_tasks(cluster=cluster, tasks=running[i:i + 100]).get("tasks", []):
                    runners += self._running_task(ec2, task, subnets, public)
        events = self.client("events")
        for rule in _optional(lambda: _pages(events, "list_rules", "Rules")):
            for target in _optional(lambda: _pages(events, "list_targets_by_rule", "Targets", Rule=rule["Name"])):
                runners += self._run_requests(target, f"EventBridge rule {rule['Name']}", subnets, public)
        scheduler = self.client("scheduler")
        for schedule in _optional(lambda: _pages(scheduler, "list_schedules", "Schedules")):
            detail = _optional(lambda: [scheduler.get_schedule(Name=schedule["Name"],
                                                               GroupName=schedule.get("GroupName", "default"))])
            for found in detail:
                runners += self._run_requests(found.get("Target", {}), f"schedule {schedule['Name']}", subnets,
                                              public)
        sfn = self.client("stepfunctions")
        for machine in _optional(lambda: _pages(sfn, "list_state_machines", "stateMachines")):
            for found in _optional(lambda: [sfn.describe_state_machine(stateMachineArn=machine["stateMachineArn"])]):
                document = parse_json_document(found.get("definition", ""))
                runners += self._run_requests(document, f"state machine {machine.get('name')}", subnets, public)
        return runners

    def _running_task(self, ec2: Any, task: dict, subnets: set[str], public: set[str]) -> list[dict]:
        """A running task in this VPC (a service's, or a one-off), with the address its interface has."""
        details = {d.get("name"): d.get("value") for a in task.get("attachments", [])
                   if a.get("type") == "ElasticNetworkInterface" for d in a.get("details", [])}
        eni_id = details.get("networkInterfaceId")
        if not eni_id or details.get("subnetId") not in subnets:
            return []
        interfaces = _optional(lambda: ec2.describe_network_interfaces(NetworkInterfaceIds=[eni_id]).get(
            "NetworkInterfaces", []))
        eni = interfaces[0] if interfaces else {}
        return [{"path": f"ECS task {task['taskArn'].rsplit('/', 1)[-1]} ({task.get('group', '')})",
                 "kind": "ECS task", "task": task["taskDefinitionArn"],
                 "groups": [g["GroupId"] for g in eni.get("Groups", [])],
                 "public_ip": bool((eni.get("Association") or {}).get("PublicIp")),
                 "public_subnet": details.get("subnetId") in public, "registrations": [], "registries": []}]

    def _run_requests(self, document: Any, where: str, subnets: set[str], public: set[str]) -> list[dict]:
        """Tasks a schedule, rule or state machine starts in this VPC."""
        found = []
        for request in find_run_tasks(document):
            named = [s for s in request.subnets or [] if isinstance(s, str)]
            if named and not set(named) & subnets:
                continue   # another VPC's
            known = lambda v: isinstance(v, str) and not v.startswith("$")   # noqa: E731 ('$...': a JSONPath)
            if isinstance(request.security_groups, list):
                groups = [g if known(g) else Opaque(f"the group {g!r}") for g in request.security_groups]
            elif request.security_groups is not None or request.dynamic:
                groups = [Opaque("a group list computed at run time")]
            else:
                groups = []
            assign = request.assign_public_ip   # RunTask's default: DISABLED
            found.append({
                "path": f"ECS task started by {where}", "kind": "ECS task",
                "task": request.task_definition if known(request.task_definition) else None, "groups": groups,
                "public_ip": (assign is not None and assign != "DISABLED") or bool(request.dynamic),
                "public_why": request.dynamic, "registrations": [], "registries": [],
                "public_subnet": not named or bool(set(named) & public) or len(named) < len(request.subnets or [])})
        return found

    def _admin_ports(self, net: Network, runners: list[dict]) -> None:
        """Hydra's admin ports, from every container that runs it, until they settle."""
        ecs = self.client("ecs")
        for runner in runners:
            if runner["task"]:
                self._task_definition(ecs, runner["task"])
            for arn, _, port in runner["registrations"]:
                if arn in net.target_groups and port is not None:
                    net.target_groups[arn].target_ports.add(port)
        while True:
            before = set(net.admin_ports), net.every_admin
            admin_tgs = {tg_id for tg_id, tg in net.target_groups.items() if tg.reaches(net.is_admin)}
            for lb in net.load_balancers.values():
                for listener in lb.listeners:
                    if net.is_admin(listener.port):
                        admin_tgs |= {tg for tg in listener.target_groups if isinstance(tg, str)}
            for runner in runners:
                if any(arn in admin_tgs for arn, _, _ in runner["registrations"]) and runner["task"]:
                    self.tasks.registered_admin.add(runner["task"])
            for arn, taskdef in self.tasks.definitions.items():
                serving = self._serving(arn, runners)
                for port, why in serving.admin.items():
                    net.add_admin_port(port, why)
                if serving.every:
                    net.every_admin = net.every_admin or serving.every
            if (set(net.admin_ports), net.every_admin) == before:
                return

    def _serving(self, arn: str, runners: list[dict] | None = None) -> TaskServing:
        taskdef = self.tasks.definitions[arn]
        registered: dict[str | None, set[int]] = {}
        for runner in runners or []:
            if runner["task"] == arn:
                for _, name, port in runner["registrations"]:
                    if port is not None:
                        registered.setdefault(name, set()).add(port)
        return task_serving([container_spec(c) for c in taskdef.get("containerDefinitions", [])],
                            taskdef.get("family", arn), arn in self.tasks.registered_admin, registered)

    def _task_ports(self, arn: str | None) -> tuple[set[int], str]:
        taskdef = self.tasks.definitions.get(arn) if arn else None
        if taskdef is None:
            return set(), f"its task definition {arn or '(computed at run time)'} cannot be read"
        serving = self._serving(arn)
        return serving.ports | set(serving.admin), serving.unknown

    def _workloads(self, ec2: Any, vpc_filter: list, net: Network, runners: list[dict], public: set[str],
                   deployment: Deployment) -> None:
        analysis_admin = net.is_admin
        for runner in runners:
            ports, every = self._task_ports(runner["task"])
            ports |= {p for _, _, p in runner["registrations"] if p is not None}
            workload = Workload(path=runner["path"], kind=runner["kind"], groups=runner["groups"],
                                public_ip=runner["public_ip"], public_subnet=runner["public_subnet"], ports=ports,
                                every_port=every, public_why=runner.get("public_why", ""))
            net.workloads.append(workload)
            serves = bool(every) or any(analysis_admin(p) for p in ports)
            taskdef = self.tasks.definitions.get(runner["task"]) if runner["task"] else None
            if serves and runner["kind"] == "ECS service" and taskdef is not None and \
                    taskdef not in deployment.task_definitions:
                deployment.task_definitions.append(taskdef)
        for reservation in _pages(ec2, "describe_instances", "Reservations", Filters=vpc_filter):
            for inst in reservation.get("Instances", []):
                if inst.get("State", {}).get("Name") == "terminated":
                    continue
                net.workloads.append(Workload(
                    path=_name(inst.get("Tags"), f"instance {inst['InstanceId']}"), kind="EC2 instance",
                    groups=[g["GroupId"] for g in inst.get("SecurityGroups", [])],
                    public_ip=bool(inst.get("PublicIpAddress")), public_subnet=inst.get("SubnetId") in public,
                    forwards=inst.get("SourceDestCheck") is False))
        # Every interface with a public address (an instance, however launched, an elastic IP, a task's)
        # makes its groups outside.
        for eni in _pages(ec2, "describe_network_interfaces", "NetworkInterfaces", Filters=vpc_filter):
            public_ip = bool((eni.get("Association") or {}).get("PublicIp"))
            ipv6 = bool(eni.get("Ipv6Addresses")) and eni.get("SubnetId") in public
            if public_ip or ipv6:
                net.workloads.append(Workload(
                    path=f"network interface {eni['NetworkInterfaceId']} ({eni.get('Description', '')})",
                    kind="network interface", groups=[g["GroupId"] for g in eni.get("Groups", [])],
                    public_ip=True, public_subnet=ipv6,
                    public_why=f"the public address {(eni.get('Association') or {}).get('PublicIp') or 'IPv6'}"))
        for runner in runners:
            for arn, port in runner["registries"]:
                registry = net.registries.setdefault(arn, Registry(arn, f"Cloud Map service {arn}"))
                registry.workloads.append(runner["path"])
                if port is None:
                    ports, every = self._task_ports(runner["task"])
                    registry.ports |= ports
                    registry.every = registry.every or every
                else:
                    registry.ports.add(port)

    # -- API Gateway
    def _api_gateway(self, net: Network, lbs: dict[str, str], subnets: set[str], runners: list[dict]) -> None:
        apigw = self.client("apigateway")
        for link in _pages(apigw, "get_vpc_links", "items"):
            targets = [t for t in link.get("targetArns", []) if t in net.load_balancers]
            if targets:
                net.vpc_links[link["id"]] = VpcLink(link["id"], f"VPC link {link['id']} ({link.get('name', '')})",
                                                    1, targets)
        for api in _pages(apigw, "get_rest_apis", "items"):
            for resource in _pages(apigw, "get_resources", "items", restApiId=api["id"]):
                for method in resource.get("resourceMethods", {}) or {}:
                    try:
                        integration = apigw.get_integration(restApiId=api["id"], resourceId=resource["id"],
                                                            httpMethod=method)
                    except ClientError:
                        continue
                    if str(integration.get("type", "")).upper() not in ("HTTP", "HTTP_PROXY"):
                        continue
                    if integration.get("connectionType") == "VPC_LINK" and \
                            integration.get("connectionId") not in net.vpc_links:
                        continue  # a VPC link into some other VPC cannot reach this one
                    path = f"REST API {api.get('name', api['id'])} {method} {resource.get('path', '')}"
                    net.integrations.append(self._integration(
                        path, integration.get("uri", ""), integration.get("connectionId")
                        if integration.get("connectionType") == "VPC_LINK" else None,
                        integration.get("integrationTarget"), net, lbs))
        apigwv2 = self.client("apigatewayv2")
        for link in _pages(apigwv2, "get_vpc_links", "Items"):
            if set(link.get("SubnetIds", [])) & subnets:
                net.vpc_links[link["VpcLinkId"]] = VpcLink(link["VpcLinkId"], f"VPC link V2 {link['VpcLinkId']}", 2,
                                                           groups=list(link.get("SecurityGroupIds", [])))
        for api in _pages(apigwv2, "get_apis", "Items"):
            for integration in _pages(apigwv2, "get_integrations", "Items", ApiId=api["ApiId"]):
                if str(integration.get("IntegrationType", "")).upper() not in ("HTTP", "HTTP_PROXY"):
                    continue
                uri = integration.get("IntegrationUri", "")
                path = f"HTTP API {api.get('Name', api['ApiId'])} integration {integration.get('IntegrationId')}"
                connection = integration.get("ConnectionId") if integration.get("ConnectionType") == "VPC_LINK" else None
                if connection is not None and connection not in net.vpc_links:
                    continue  # a VPC link into some other VPC cannot reach this one
                # An HTTP API names its load balancer, listener or Cloud Map service by ARN in the URI.
                net.integrations.append(self._integration(path, uri, connection,
                                                          uri if uri.startswith("arn:") else None, net, lbs))

    def _integration(self, path: str, uri: str, connection: str | None, target: str | None,
                     net: Network, lbs: dict[str, str]) -> Integration:
        # Callers skip integrations whose VPC link is not in this VPC.
        entry = Integration(path=path, uri=uri, vpc_link=connection)
        if target:
            if ":servicediscovery:" in target:
                entry.target_registry = target if target in net.registries else Foreign(f"the Cloud Map service "
                                                                                        f"{target}")
            elif ":listener/" in target:
                entry.target_listener = target if any(
                    listener.id == target for lb in net.load_balancers.values() for listener in lb.listeners) \
                    else Foreign(f"the listener {target}")
            else:
                entry.target_lb = target if target in net.load_balancers else Foreign(f"the target {target}")
            return entry
        host, entry.port = parse_uri(uri)
        if host and host.lower() in lbs:
            entry.host_lb = lbs[host.lower()]
        else:
            entry.foreign_host = True
        return entry

    def _endpoint_services(self, ec2: Any, net: Network) -> None:
        for service in _pages(ec2, "describe_vpc_endpoint_service_configurations", "ServiceConfigurations"):
            arns = service.get("NetworkLoadBalancerArns", []) + service.get("GatewayLoadBalancerArns", [])
            ours = [a for a in arns if a in net.load_balancers]
            if ours:
                net.endpoint_services.append(EndpointService(f"endpoint service {service.get('ServiceId')}", ours))

    def _vpc_origins(self, net: Network) -> None:
        cloudfront = self.session.client("cloudfront")
        try:
            origins = cloudfront.list_vpc_origins().get("VpcOriginList", {}).get("Items", [])
        except (ClientError, BotoCoreError, AttributeError, NotImplementedError):
            return  # not offered in this partition or by this endpoint
        for origin in origins:
            arn = origin.get("OriginEndpointArn", "")
            if arn in net.load_balancers:
                detail = cloudfront.get_vpc_origin(Id=origin["Id"])["VpcOrigin"]["VpcOriginEndpointConfig"]
                net.vpc_origins.append(VpcOrigin(f"CloudFront VPC origin {origin['Id']}", arn,
                                                 {detail.get("HTTPPort", 80), detail.get("HTTPSPort", 443)}))

    def _edges(self, ec2: Any, net: Network, vpc_id: str) -> None:
        """Client VPN and Verified Access endpoints: their groups carry traffic from outside the VPC."""
        for endpoint in _optional(lambda: _pages(ec2, "describe_client_vpn_endpoints", "ClientVpnEndpoints")):
            if endpoint.get("VpcId") == vpc_id:
                for g in endpoint.get("SecurityGroupIds", []):
                    net.entry_groups.setdefault(g, f"Client VPN users arrive through it "
                                                   f"({endpoint.get('ClientVpnEndpointId')})")
        for endpoint in _optional(lambda: _pages(ec2, "describe_verified_access_endpoints",
                                                 "VerifiedAccessEndpoints")):
            path = f"Verified Access endpoint {endpoint.get('VerifiedAccessEndpointId')}"
            ours = [g for g in endpoint.get("SecurityGroupIds", []) if g in net.groups]
            for g in ours:
                net.entry_groups.setdefault(g, f"Verified Access users arrive through it ({path})")
            for key, kind, target_key in (("LoadBalancerOptions", "load balancer", "LoadBalancerArn"),
                                          ("NetworkInterfaceOptions", "network interface", "NetworkInterfaceId")):
                options = endpoint.get(key)
                if not options:
                    continue
                ranges = [(r["FromPort"], r["ToPort"]) for r in options.get("PortRanges", [])]
                if options.get("Port") is not None:
                    ranges.append((options["Port"], options["Port"]))
                target = options.get(target_key)
                if kind == "load balancer" and target not in net.load_balancers:
                    target = Foreign(f"the load balancer {target}")
                if kind == "network interface" and not ours:
                    continue   # an interface in another VPC
                net.edge_doors.append(EdgeDoor("verified-access", path, target, kind, ranges or None))


# ------------------------------------------------------------- live rules ---

def task_rules(deployment: Deployment) -> list[tuple[str, str, str]]:
    """Findings of the live-only rules, as (rule, path, detail)."""
    found: list[tuple[str, str, str]] = []
    issuer = deployment.outputs.get("HydraPublicApi")
    if not deployment.task_definitions:
        found.append(("task-secrets", "ECS", "no ECS service in the VPC serves the admin port: is Hydra deployed?"))
    for taskdef in deployment.task_definitions:
        family = taskdef.get("family", taskdef.get("taskDefinitionArn", "task definition"))
        for container in taskdef.get("containerDefinitions", []):
            env = {e["name"]: e.get("value", "") for e in container.get("environment", [])}
            secrets = {s["name"] for s in container.get("secrets", [])}
            where = f"{family}/{container.get('name')}"
            for name in SECRET_NAMES:
                if name in env:
                    found.append(("task-secrets", where, f"{name} is a plain environment variable"))
                elif name not in secrets and (set(SECRET_NAMES) & (secrets | set(env))):
                    found.append(("task-secrets", where, f"{name} is not injected as an ECS secret"))
            for name, value in env.items():
                if "postgres://" in value or "postgresql://" in value:
                    found.append(("task-secrets", where, f"{name} holds a connection string"))
            if "URLS_SELF_ISSUER" in env or "URLS_SELF_PUBLIC" in env:
                for key in ("URLS_SELF_ISSUER", "URLS_SELF_PUBLIC"):
                    if issuer is not None and env.get(key) != issuer:
                        found.append(("issuer", where, f"{key}={env.get(key)!r} but HydraPublicApi={issuer!r}"))
    return found


def probe(issuer: str, *, timeout: float = 10.0, context: ssl.SSLContext | None = None) -> list[tuple[str, str, str]]:
    """HTTPS checks against the public URL: the issuer it publishes, and admin paths refused."""
    found: list[tuple[str, str, str]] = []
    base = issuer if issuer.endswith("/") else issuer + "/"

    def get(url: str) -> tuple[int, bytes]:
        request = urllib.request.Request(url, headers={"User-Agent": "hydra-verify/1"})
        try:
            with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()
    try:
        status, body = get(base + ".well-known/openid-configuration")
        published = json.loads(body).get("issuer") if status == 200 else None
        if published != issuer:
            found.append(("probe-discovery", base, f"HTTP {status}, issuer {published!r}, expected {issuer!r}"))
        for path in ADMIN_PROBE_PATHS:
            status, _ = get(base + path)
            if status not in (403, 404):
                found.append(("probe-admin-paths", base + path, f"answered HTTP {status}"))
    except (urllib.error.URLError, OSError, ValueError) as error:
        found.append(("probe-discovery", base, f"unreachable: {error}"))
    return found


@dataclass
class Report:
    env: str
    region: str
    network_violations: list[Violation]
    live_findings: list[tuple[str, str, str]]
    probed: bool

    @property
    def failed(self) -> bool:
        return bool(self.network_violations or self.live_findings)

    def render(self) -> str:
        lines = [f"Live check of Hydra {self.env} in {self.region}"]
        rules = dict(RULES)
        rules.update({k: v for k, v in LIVE_RULES.items() if self.probed or not k.startswith("probe-")})
        for rule, text in rules.items():
            hits = [f"{v.path}: {v.detail}" for v in self.network_violations if v.rule == rule]
            hits += [f"{path}: {detail}" for r, path, detail in self.live_findings if r == rule]
            lines.append(f"  {'FAIL' if hits else 'PASS'}  {rule:<20} {text}")
            lines += [f"        - {hit}" for hit in hits]
        count = len(self.network_violations) + len(self.live_findings)
        lines.append(f"Result: {'FAIL' if self.failed else 'PASS'}"
                     + (f" ({count} finding{'s' * (count != 1)})" if count else ""))
        return "\n".join(lines)


def verify(session: boto3.Session, env: str, *, admin_port: int = 4445, public_port: int = 4444,
           allowed_cidrs: list[str] | None = None, do_probe: bool = False,
           ssl_context: ssl.SSLContext | None = None) -> Report:
    net, deployment = AccountReader(session, env, admin_port, public_port, allowed_cidrs).read()
    findings = task_rules(deployment)
    if do_probe:
        issuer = deployment.outputs.get("HydraPublicApi")
        if not issuer:
            findings.append(("probe-discovery", f"Hydra-{env}-Ingress", "the stack has no HydraPublicApi output"))
        else:
            findings += probe(issuer, context=ssl_context)
    return Report(env, deployment.region, Analysis(net).violations(), findings, do_probe)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hydra_on_aws.boundary.verify", description=__doc__.splitlines()[0])
    parser.add_argument("--env", required=True, help="environment name, as in cdk.json (dev, prod...)")
    parser.add_argument("--region", help="AWS region (default: the profile's)")
    parser.add_argument("--profile", help="AWS profile")
    parser.add_argument("--probe", action="store_true", help="also check the public URL over HTTPS")
    args = parser.parse_args(argv)

    def check() -> int:
        config = load_config({**cdk_json_context(), "env": args.env})
        session = boto3.Session(profile_name=args.profile, region_name=args.region or config.region)
        if session.region_name is None:
            raise CannotVerify("no AWS region: pass --region, set AWS_REGION, or pin `region` in cdk.json")
        report = verify(session, args.env, admin_port=config.hydra_admin_port, public_port=config.hydra_public_port,
                        allowed_cidrs=list(config.admin_allowed_cidrs), do_probe=args.probe)
        print(report.render())
        return 1 if report.failed else 0
    return run(check, prefix="cannot verify", expected=(CannotVerify, ConfigError))


if __name__ == "__main__":
    sys.exit(main())
