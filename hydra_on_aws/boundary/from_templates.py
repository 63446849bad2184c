"""Translate synthesized CloudFormation templates into the trust-boundary model.

Every reference to this app's own resources is resolved (also across stacks, through exports). A
literal reference to something else (another app's ARN) becomes
:class:`~hydra_on_aws.boundary.trust_boundary.Foreign`; anything that cannot be resolved (a
parameter, a condition, an import of an export no stack of this app has, a value computed at run
time) becomes :class:`~hydra_on_aws.boundary.trust_boundary.Opaque`, or the worst case of the field
it stands for: every port, every protocol, public, reaching.
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Callable

from hydra_on_aws.config.settings import HydraConfig
from hydra_on_aws.boundary.templates import AppTemplates, Resource, ResourceRef, Unresolved, is_intrinsic
from hydra_on_aws.boundary.trust_boundary import (
    Cidr, ContainerSpec, EdgeDoor, EndpointService, Foreign, Group, IngressRule, Integration,
    LatticeDoor, Listener, LoadBalancer, Network, Opaque, PortMapping, PortRanges, Registry, Route,
    SecurityGroupInfo, TargetGroup, TaskServing, VpcLink, VpcOrigin, Workload, find_run_tasks, parse_json_document,
    parse_uri, route_from, task_serving,
)

LB_V2 = "AWS::ElasticLoadBalancingV2::LoadBalancer"
LB_CLASSIC = "AWS::ElasticLoadBalancing::LoadBalancer"
TG_V2 = "AWS::ElasticLoadBalancingV2::TargetGroup"
LISTENER_V2 = "AWS::ElasticLoadBalancingV2::Listener"
TASK_DEFINITION = "AWS::ECS::TaskDefinition"
CLOUD_MAP_SERVICE = "AWS::ServiceDiscovery::Service"
NAMESPACES = ("AWS::ServiceDiscovery::HttpNamespace", "AWS::ServiceDiscovery::PrivateDnsNamespace",
              "AWS::ServiceDiscovery::PublicDnsNamespace")


def _id(ref: ResourceRef) -> str:
    return f"{ref.stack}/{ref.logical_id}"


@dataclass
class _Task:
    """A task definition of this app, read once."""
    id: str
    path: str
    containers: list[ContainerSpec]
    unreadable: str = ""                         # why its containers cannot be read (then: any port)
    registered_admin: bool = False               # a service registers it with a target group reaching the admin port


@dataclass
class _Registration:
    """A service's (or task set's) registration of a container port with a target group."""
    target_group: Any
    container: str | None
    port: int | None                             # None: unresolved


@dataclass
class _Runner:
    """Something that runs tasks: an ECS service, a task set, or a scheduled or one-off run."""
    resource: Resource
    kind: str
    task: _Task | Opaque | Foreign | None
    groups: list[str | Opaque]
    public_ip: bool
    public_subnet: bool
    registrations: list[_Registration] = field(default_factory=list)
    public_why: str = ""
    path: str = ""


class _Builder:
    def __init__(self, model: AppTemplates) -> None:
        self.m = model

    # -- resolution helpers
    def ref_of(self, stack: str, value: Any, *types: str) -> str | Opaque | Foreign:
        """The id of the resource of one of ``types`` that ``value`` names; a literal is someone else's."""
        resolved = self.m.resolve(stack, value)
        if isinstance(resolved, ResourceRef):
            resource = self.m.resource(resolved)
            if resource is not None and (not types or resource.type in types):
                return _id(resolved)
            return Opaque(f"{resolved.logical_id} is a {resource.type if resource else 'missing resource'}, "
                          f"not a {' or '.join(types)}")
        if isinstance(resolved, Unresolved):
            return Opaque(resolved.why)
        if isinstance(resolved, str) and resolved and "${" not in resolved.replace("${AWS::", ""):
            return Foreign(f"the literal {resolved!r}")
        return Opaque(f"the value {resolved!r}")

    def group(self, stack: str, value: Any) -> str | Opaque:
        resolved = self.m.security_group_of(self.m.resolve(stack, value))
        return _id(resolved) if isinstance(resolved, ResourceRef) and resolved.attribute is None else \
            Opaque(resolved.why if isinstance(resolved, Unresolved) else "the VPC's default security group")

    def groups(self, stack: str, values: Any) -> list[str | Opaque]:
        if values is None:
            return []
        if not isinstance(values, list):
            return [Opaque("a computed list of security groups")]
        return [self.group(stack, v) for v in values]

    def port(self, stack: str, value: Any) -> int | None:
        """A port number; None when it cannot be resolved."""
        resolved = self.m.resolve(stack, value)
        if isinstance(resolved, bool):
            return None
        try:
            return int(resolved)
        except (TypeError, ValueError):
            return None

    def text(self, stack: str, value: Any) -> str | None:
        return self.m.literal(stack, value)

    def is_literal(self, stack: str, value: Any, expected: str, default: str | None = None) -> bool:
        """Whether ``value`` (``default`` when absent) is literally ``expected`` (case-insensitive)."""
        if value is None:
            return default is not None and default.lower() == expected.lower()
        text = self.text(stack, value)
        return text is not None and text.lower() == expected.lower()

    def flag(self, stack: str, value: Any) -> bool | None:
        """A boolean property: None when it cannot be resolved."""
        resolved = self.m.resolve(stack, value)
        if isinstance(resolved, bool):
            return resolved
        if isinstance(resolved, str) and resolved.lower() in ("true", "false"):
            return resolved.lower() == "true"
        return None

    def render(self, stack: str, value: Any) -> tuple[str | None, dict[str, Any]]:
        """``value`` as text, each part that is not literal replaced by a placeholder (returned with the
        raw value it stands for); None when it is no string at all."""
        placeholders: dict[str, Any] = {}

        def part(p: Any) -> str:
            text = self.text(stack, p)
            if text is not None:
                return text
            key = f"__ref{len(placeholders)}__"
            placeholders[key] = p
            return key
        if isinstance(value, str):
            return value, placeholders
        if isinstance(value, dict) and "Fn::Join" in value:
            arg = value["Fn::Join"]
            if isinstance(arg, list) and len(arg) == 2 and isinstance(arg[0], str) and isinstance(arg[1], list):
                return arg[0].join(part(p) for p in arg[1]), placeholders
        if isinstance(value, dict) and "Fn::Sub" in value:
            arg = value["Fn::Sub"]
            text, variables = (arg, {}) if isinstance(arg, str) else ((arg + [{}])[:2] if isinstance(arg, list)
                                                                    else (None, {}))
            if isinstance(text, str) and isinstance(variables, dict):
                def sub(match: Any) -> str:
                    name = match.group(1)
                    if name.startswith("!"):
                        return "${" + name[1:] + "}"
                    if name in variables:
                        return part(variables[name])
                    if name.startswith("AWS::"):
                        return part({"Ref": name})
                    target, _, attribute = name.partition(".")
                    return part({"Fn::GetAtt": [target, attribute]} if attribute else {"Ref": target})
                return re.sub(r"\$\{([^}]*)\}", sub, text), placeholders
        resolved = self.text(stack, value)
        if resolved is not None:
            return resolved, placeholders
        return part(value), placeholders

    # -- the model
    def build(self, *, admin_port: int, public_port: int, allowed_cidrs: list[str]) -> Network:
        m = self.m
        net = Network(admin_port=admin_port, public_port=public_port, vpc_cidrs=[],
                      allowed_cidrs=[ipaddress.ip_network(c) for c in allowed_cidrs])
        for sg in m.resources("AWS::EC2::SecurityGroup"):
            net.groups[_id(sg.ref)] = SecurityGroupInfo(_id(sg.ref), sg.path, self._vpc_key(sg.stack,
                                                                                             sg.properties.get("VpcId")))
        for rule in m.ingress_rules():
            net.rules.append(IngressRule(
                group=_id(rule.group) if isinstance(rule.group, ResourceRef) else Opaque(rule.group.why),
                protocol=Opaque(rule.protocol.why) if isinstance(rule.protocol, Unresolved) else rule.protocol,
                from_port=None if isinstance(rule.from_port, Unresolved) else rule.from_port,
                to_port=None if isinstance(rule.to_port, Unresolved) else rule.to_port,
                source=self._source(rule.source), path=rule.origin.path))
        self._load_balancers(net)
        runners = self._runners()
        self._register(net, runners)
        self._admin_ports(net, runners)
        self._workloads(net, runners)
        self._api_gateway(net)
        for svc in m.resources("AWS::EC2::VPCEndpointService"):
            lbs = self._list(svc.stack, svc.properties.get("NetworkLoadBalancerArns")) + \
                self._list(svc.stack, svc.properties.get("GatewayLoadBalancerArns"))
            net.endpoint_services.append(EndpointService(svc.path, [
                self.ref_of(svc.stack, a, LB_V2) if not isinstance(a, Opaque) else a for a in lbs]))
        for origin in m.resources("AWS::CloudFront::VpcOrigin"):
            cfg = origin.properties.get("VpcOriginEndpointConfig") or {}
            ports: set[int] | None = set()
            for key, default in (("HTTPPort", 80), ("HTTPSPort", 443)):
                port = self.port(origin.stack, cfg.get(key, default)) if isinstance(cfg, dict) else None
                ports = None if ports is None or port is None else ports | {port}
            target = self.ref_of(origin.stack, cfg.get("Arn"), LB_V2, "AWS::EC2::Instance") \
                if isinstance(cfg, dict) else Opaque("a computed origin")
            net.vpc_origins.append(VpcOrigin(origin.path, target, ports))
        self._lattice(net, runners)
        self._edges(net)
        net.home_vpcs = self._home_vpcs(net, runners)
        net.vpc_cidrs = self._home_cidrs(net.home_vpcs)
        for association in m.resources("AWS::EC2::SecurityGroupVpcAssociation"):
            g = self.group(association.stack, association.properties.get("GroupId"))
            vpc = self._vpc_key(association.stack, association.properties.get("VpcId"))
            if isinstance(g, str) and not (isinstance(vpc, str) and vpc in net.home_vpcs):
                net.entry_groups.setdefault(g, f"{association.path} associates it with another VPC ({vpc})")
        return net

    def _list(self, stack: str, value: Any) -> list[Any]:
        """A list property: its items, or one Opaque item when the list is computed."""
        if value is None:
            return []
        if isinstance(value, list):
            return value
        return [Opaque(f"a computed list ({value!r:.60})")]

    def _vpc_key(self, stack: str, value: Any) -> str | Opaque | None:
        if value is None:
            return None
        resolved = self.m.resolve(stack, value)
        if isinstance(resolved, ResourceRef):
            resource = self.m.resource(resolved)
            if resource is not None and resource.type == "AWS::EC2::VPC":
                return _id(ResourceRef(resolved.stack, resolved.logical_id))
            return Opaque(f"{resolved.logical_id} is not a VPC")
        if isinstance(resolved, Unresolved):
            return Opaque(resolved.why)
        text = self.text(stack, value)
        return text if text and "${" not in text else Opaque(f"the VPC id {resolved!r}")

    def _home_vpcs(self, net: Network, runners: list[_Runner]) -> set[str]:
        """The VPCs of the groups of everything serving the admin port: only these are inside."""
        homes: set[str] = set()
        serving = {w.path for w in net.workloads if w.every_port or any(net.is_admin(p) for p in w.ports)}
        for runner in runners:
            if runner.path in serving:
                for g in runner.groups:
                    info = net.groups.get(g) if isinstance(g, str) else None
                    if info is not None and isinstance(info.vpc, str):
                        homes.add(info.vpc)
        return homes

    def _home_cidrs(self, homes: set[str]) -> list:
        """The ranges of the VPCs that serve the admin port (primary and secondary CIDRs).

        Only those are inside: another VPC, even one this app defines, reaches it through
        peering or a transit gateway. Nothing resolvable serving the admin port: nothing is inside.
        """
        m = self.m
        cidrs = []
        for r in m.resources("AWS::EC2::VPC"):
            cidr = self.text(r.stack, r.properties.get("CidrBlock"))
            if _id(r.ref) in homes and cidr:
                try:
                    cidrs.append(ipaddress.ip_network(cidr))
                except ValueError:
                    pass
        for block in m.resources("AWS::EC2::VPCCidrBlock"):
            cidr = self.text(block.stack, block.properties.get("CidrBlock"))
            if self._vpc_key(block.stack, block.properties.get("VpcId")) in homes and cidr:
                try:
                    cidrs.append(ipaddress.ip_network(cidr))
                except ValueError:
                    pass
        return cidrs

    @staticmethod
    def _source(source: Any):
        if isinstance(source, ResourceRef):
            return Group(_id(source)) if source.attribute is None else Group(f"{_id(source)}#{source.attribute}")
        if isinstance(source, Unresolved):
            return Opaque(source.why)
        return Cidr(source)

    # -- load balancers
    def _load_balancers(self, net: Network) -> None:
        m = self.m
        for lb in m.resources(LB_V2):
            p = lb.properties
            net.load_balancers[_id(lb.ref)] = LoadBalancer(
                id=_id(lb.ref), path=lb.path, kind=(self.text(lb.stack, p.get("Type", "application")) or
                                                    "unresolvable").lower(),
                internet_facing=not self.is_literal(lb.stack, p.get("Scheme"), "internal", "internet-facing"),
                groups=self.groups(lb.stack, p.get("SecurityGroups")),
                privatelink_enforced=self.is_literal(
                    lb.stack, p.get("EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic"), "on", "on"))
        for lb in m.resources(LB_CLASSIC):
            p = lb.properties
            balancer = LoadBalancer(id=_id(lb.ref), path=lb.path, kind="classic",
                                    internet_facing=not self.is_literal(lb.stack, p.get("Scheme"), "internal",
                                                                        "internet-facing"),
                                    groups=self.groups(lb.stack, p.get("SecurityGroups")))
            listeners = p.get("Listeners") or []
            for i, listener in enumerate(listeners if isinstance(listeners, list) else [None]):
                tg_id = f"{_id(lb.ref)}#listener{i}"
                listener = listener if isinstance(listener, dict) and not is_intrinsic(listener) else {}
                net.target_groups[tg_id] = TargetGroup(tg_id, lb.path, self.port(lb.stack, listener.get("InstancePort")))
                balancer.listeners.append(Listener(tg_id, lb.path, self.port(lb.stack, listener.get("LoadBalancerPort")),
                                                   [tg_id], protocol="TCP"))
            net.load_balancers[balancer.id] = balancer
        for tg in m.resources(TG_V2):
            p = tg.properties
            kind = (self.text(tg.stack, p.get("TargetType", "instance")) or "unresolvable").lower()
            entry = TargetGroup(_id(tg.ref), tg.path, self.port(tg.stack, p.get("Port")) if "Port" in p else None,
                                lambda_targets=kind == "lambda")
            targets = p.get("Targets") or []
            if not isinstance(targets, list):
                entry.unknown_ports = "its targets cannot be resolved"
                targets = [{"Id": Opaque("computed targets")}] if kind in ("alb", "unresolvable") else []
            for t in targets:
                if not isinstance(t, dict) or is_intrinsic(t):
                    entry.unknown_ports = "a target cannot be resolved"
                    if kind in ("alb", "unresolvable"):
                        entry.forwards_to.append(Opaque("a computed target"))
                    continue
                if "Port" in t:
                    port = self.port(tg.stack, t["Port"])
                    if port is None:
                        entry.unknown_ports = "a target's port cannot be resolved"
                    else:
                        entry.target_ports.add(port)
                if kind in ("alb", "unresolvable"):
                    target = t.get("Id")
                    entry.forwards_to.append(target if isinstance(target, Opaque) else
                                             self.ref_of(tg.stack, target, LB_V2))
            net.target_groups[entry.id] = entry
        listeners: dict[str, Listener] = {}
        for listener in m.resources(LISTENER_V2):
            p = listener.properties
            lb_id = self.ref_of(listener.stack, p.get("LoadBalancerArn"), LB_V2)
            entry = Listener(_id(listener.ref), listener.path, self.port(listener.stack, p.get("Port")),
                             self._action_target_groups(listener, p.get("DefaultActions")),
                             protocol=self.text(listener.stack, p.get("Protocol")) if "Protocol" in p else None)
            entry.routes.append(Route(f"{listener.path} (default action)", list(entry.target_groups)))
            listeners[entry.id] = entry
            if not isinstance(lb_id, str):
                lb_id = self._foreign_lb(net, listener, lb_id)
            net.load_balancers[lb_id].listeners.append(entry)
        for rule in m.resources("AWS::ElasticLoadBalancingV2::ListenerRule"):
            listener_id = self.ref_of(rule.stack, rule.properties.get("ListenerArn"), LISTENER_V2)
            groups = self._action_target_groups(rule, rule.properties.get("Actions"))
            if isinstance(listener_id, str) and listener_id in listeners:
                listeners[listener_id].target_groups += groups
                listeners[listener_id].routes.append(route_from(
                    rule.path, groups, rule.properties.get("Conditions"), rule.properties.get("Transforms"),
                    lambda value, stack=rule.stack: self.text(stack, value)))
            else:  # a rule on someone else's listener: any port, any exposure
                lb_id = self._foreign_lb(net, rule, listener_id if not isinstance(listener_id, str) else
                                         Opaque("a listener this app does not define"))
                net.load_balancers[lb_id].listeners.append(Listener(_id(rule.ref), rule.path, None, groups))

    @staticmethod
    def _foreign_lb(net: Network, owner: Resource, why: Opaque | Foreign) -> str:
        """A load balancer this app does not define, met through ``owner``: assumed internet-facing."""
        lb_id = f"{_id(owner.ref)}#load-balancer"
        reason = why.why if isinstance(why, Opaque) else str(why)
        net.load_balancers.setdefault(lb_id, LoadBalancer(
            id=lb_id, path=f"{owner.path} (on a load balancer this app does not define: {reason})",
            kind="unknown", internet_facing=True, groups=[Opaque(reason)]))
        return lb_id

    def _action_target_groups(self, owner: Resource, actions: Any) -> list[Any]:
        if actions is None:
            return []
        if not isinstance(actions, list):
            return [Opaque("computed actions")]
        found: list[Any] = []
        for action in actions:
            if not isinstance(action, dict) or is_intrinsic(action):
                found.append(Opaque("a computed action"))
                continue
            if "TargetGroupArn" in action:
                found.append(self.ref_of(owner.stack, action["TargetGroupArn"], TG_V2))
            forward = action.get("ForwardConfig")
            if forward is not None:
                groups = forward.get("TargetGroups") if isinstance(forward, dict) and not is_intrinsic(forward) \
                    else None
                if not isinstance(groups, list):
                    found.append(Opaque("a computed forward configuration"))
                    continue
                for tg in groups:
                    found.append(self.ref_of(owner.stack, tg.get("TargetGroupArn"), TG_V2)
                                 if isinstance(tg, dict) and not is_intrinsic(tg) else Opaque("a computed target group"))
        return found

    # -- task definitions and what runs them
    @cached_property
    def _tasks(self) -> dict[str, _Task]:
        tasks = {}
        for td in self.m.resources(TASK_DEFINITION):
            task = _Task(_id(td.ref), td.path, [])
            definitions = td.properties.get("ContainerDefinitions") or []
            if not isinstance(definitions, list):
                task.unreadable = "its container definitions cannot be resolved"
                definitions = []
            for i, c in enumerate(definitions):
                if not isinstance(c, dict) or is_intrinsic(c):
                    task.unreadable = "a container definition cannot be resolved"
                    continue
                task.containers.append(self._container(td.stack, c, i))
            tasks[task.id] = task
        return tasks

    @cached_property
    def _families(self) -> dict[str, str]:
        """A task definition family -> the task definition of this app that has it."""
        families = {}
        for td in self.m.resources(TASK_DEFINITION):
            family = self.text(td.stack, td.properties.get("Family"))
            if family:
                families[family] = _id(td.ref)
        return families

    def _container(self, stack: str, c: dict, index: int) -> ContainerSpec:
        def words(value: Any) -> list[str] | None:
            if value is None:
                return []
            if not isinstance(value, list):
                return None
            texts = [self.text(stack, v) for v in value]
            return None if None in texts else texts  # type: ignore[return-value]
        environment: dict[str, str | None] = {}
        entries = c.get("Environment") or []
        unknown_env = not isinstance(entries, list)
        for e in entries if isinstance(entries, list) else []:
            name = self.text(stack, e.get("Name")) if isinstance(e, dict) else None
            if name is None:
                unknown_env = True
                continue
            value = self.text(stack, e.get("Value"))
            environment[name] = value if value is None or "${" not in value else None
        secrets: set[str] = set()
        entries = c.get("Secrets") or []
        for e in entries if isinstance(entries, list) else []:
            name = self.text(stack, e.get("Name")) if isinstance(e, dict) else None
            if name is None:
                unknown_env = True
            else:
                secrets.add(name)
        if not isinstance(entries, list):
            unknown_env = True
        mappings: list[PortMapping] | None = []
        raw = c.get("PortMappings") or []
        if not isinstance(raw, list):
            mappings = None
        else:
            for pm in raw:
                if not isinstance(pm, dict) or is_intrinsic(pm):
                    mappings.append(PortMapping(None))
                    continue
                if "ContainerPortRange" in pm and "ContainerPort" not in pm:
                    span = self.text(stack, pm["ContainerPortRange"]) or ""
                    low, _, high = span.partition("-")
                    if low.isdigit() and (not high or high.isdigit()) and int(high or low) - int(low) < 1024:
                        mappings += [PortMapping(p) for p in range(int(low), int(high or low) + 1)]
                    else:
                        mappings.append(PortMapping(None))
                    continue
                host = self.port(stack, pm["HostPort"]) if "HostPort" in pm else None
                mappings.append(PortMapping(self.port(stack, pm.get("ContainerPort")), host,
                                            self.text(stack, pm["Name"]) if "Name" in pm else None))
        name = self.text(stack, c.get("Name")) or f"#{index}"
        spec = ContainerSpec(name=name, image=self.text(stack, c.get("Image")),
                             command=words(c.get("Command")), entry_point=words(c.get("EntryPoint")),
                             environment=environment, secrets=secrets,
                             environment_files=bool(c.get("EnvironmentFiles")) or unknown_env,
                             port_mappings=mappings)
        return spec

    def _task_of(self, stack: str, value: Any) -> _Task | Opaque | Foreign:
        resolved = self.m.resolve(stack, value)
        if isinstance(resolved, ResourceRef):
            task = self._tasks.get(_id(ResourceRef(resolved.stack, resolved.logical_id)))
            return task if task is not None else Opaque(f"{resolved.logical_id} is not a task definition")
        if isinstance(resolved, Unresolved):
            return Opaque(resolved.why)
        text = self.text(stack, value)
        if text and "${" not in text.replace("${AWS::", ""):
            family = re.sub(r"^.*task-definition/", "", text).split(":")[0]
            if family in self._families:
                return self._tasks[self._families[family]]   # this app's task definition, named by ARN
            return Foreign(f"the task definition {text!r}")
        return Opaque(f"the task definition {resolved!r}")

    def _awsvpc(self, stack: str, vpc: Any) -> tuple[list[str | Opaque], bool, bool, str]:
        """(groups, public IP, public subnets, why public) of an awsvpc configuration."""
        if not isinstance(vpc, dict) or is_intrinsic(vpc):
            return [Opaque("a computed network configuration")], True, True, "its network configuration " \
                                                                              "cannot be resolved"
        assign = vpc.get("AssignPublicIp", vpc.get("assignPublicIp"))
        public_ip = not self.is_literal(stack, assign, "DISABLED", "DISABLED")
        subnets = vpc.get("Subnets", vpc.get("subnets"))
        groups = vpc.get("SecurityGroups", vpc.get("securityGroups"))
        why = "" if assign is None or self.text(stack, assign) is not None else "AssignPublicIp cannot be resolved"
        return self.groups(stack, groups or []), public_ip, self._any_public_subnet(stack, subnets or []), why

    def _runners(self) -> list[_Runner]:
        m = self.m
        runners: list[_Runner] = []
        for svc in m.resources("AWS::ECS::Service", "AWS::ECS::TaskSet"):
            p = svc.properties
            network = p.get("NetworkConfiguration") or {}
            vpc = network.get("AwsvpcConfiguration", network.get("AwsVpcConfiguration", {})) \
                if isinstance(network, dict) and not is_intrinsic(network) else network
            if vpc or network:
                groups, public_ip, public_subnet, why = self._awsvpc(svc.stack, vpc)
            else:   # bridge or host networking: the tasks use the addresses of their container instances
                groups, public_ip, public_subnet = [], False, True
                why = "its tasks use the addresses of EC2 container instances, which the guard does not follow"
            task = self._task_of(svc.stack, p.get("TaskDefinition")) if "TaskDefinition" in p else \
                Opaque("no task definition (an external deployment controller)")
            runner = _Runner(svc, "ECS service" if svc.type == "AWS::ECS::Service" else "ECS task set", task,
                             groups, public_ip, public_subnet, public_why=why, path=svc.path)
            attachments = p.get("LoadBalancers") or []
            for attachment in attachments if isinstance(attachments, list) else [None]:
                if not isinstance(attachment, dict) or is_intrinsic(attachment):
                    runner.registrations.append(_Registration(Opaque("a computed load balancer attachment"), None,
                                                              None))
                    continue
                if "TargetGroupArn" not in attachment:
                    continue  # a classic load balancer: its listener names the instance port
                runner.registrations.append(_Registration(
                    self.ref_of(svc.stack, attachment.get("TargetGroupArn"), TG_V2),
                    self.text(svc.stack, attachment.get("ContainerName")),
                    self.port(svc.stack, attachment.get("ContainerPort"))))
            runners.append(runner)
        for rule in m.resources("AWS::Events::Rule"):
            runners += self._run_tasks(rule, rule.properties, "ECS task the rule starts")
        for schedule in m.resources("AWS::Scheduler::Schedule"):
            runners += self._run_tasks(schedule, schedule.properties, "ECS task the schedule starts")
        for pipe in m.resources("AWS::Pipes::Pipe"):
            runners += self._run_tasks(pipe, pipe.properties, "ECS task the pipe starts")
        for machine in m.resources("AWS::StepFunctions::StateMachine"):
            runners += self._state_machine(machine)
        for custom in m.resources():
            if custom.type.startswith("Custom::") or custom.type == "AWS::CloudFormation::CustomResource":
                runners += self._run_tasks(custom, custom.properties, "ECS task the custom resource starts")
                for key, value in custom.properties.items():
                    if key != "ServiceToken" and isinstance(value, (str, dict)):
                        runners += self._document_run_tasks(custom, value, {}, "ECS task the custom resource starts")
        return runners

    def _run_tasks(self, owner: Resource, properties: Any, kind: str,
                   value_of: Callable[[Any], Any] | None = None) -> list[_Runner]:
        """Runners for every ECS run-task request in ``properties`` (template values)."""
        value_of = value_of or (lambda v: v)
        runners: list[_Runner] = []
        for run in find_run_tasks(properties, is_leaf=lambda v: is_intrinsic(v) or isinstance(v, Opaque)):
            # a value only known at run time stands in as an intrinsic the model cannot resolve: the worst case
            unknown = {"Fn::If": [run.dynamic or "a value only known at run time"]}

            def given(value: Any, absent: Any) -> Any:
                if value is None:
                    return unknown if run.dynamic else absent
                return [value_of(v) for v in value] if isinstance(value, list) else value_of(value)
            vpc = {"AssignPublicIp": given(run.assign_public_ip, "DISABLED"),   # RunTask's default
                   "SecurityGroups": given(run.security_groups, []), "Subnets": given(run.subnets, None)}
            task = self._task_of(owner.stack, value_of(run.task_definition)) if run.task_definition is not None \
                else Opaque(run.dynamic or "no task definition")
            groups, public_ip, public_subnet, why = self._awsvpc(owner.stack, vpc)
            runners.append(_Runner(owner, kind, task, groups, public_ip, public_subnet,
                                   public_why=run.dynamic or why,
                                   path=owner.path if not runners else f"{owner.path} (run {len(runners) + 1})"))
        return runners

    def _document_run_tasks(self, owner: Resource, value: Any, substitutions: dict, kind: str) -> list[_Runner]:
        """Runners for the ECS run-task requests of a JSON document the template holds as text."""
        text, placeholders = self.render(owner.stack, value)
        if text is None:
            return []
        for name, raw in substitutions.items():   # DefinitionSubstitutions: ${name} in the definition
            key = f"__sub{len(placeholders)}__"
            placeholders[key] = raw
            text = text.replace("${" + name + "}", key)
        document = parse_json_document(text)
        if document is None:
            if "runtask" in text.lower():
                return [_Runner(owner, kind, Opaque("a definition that cannot be read"),
                                [Opaque("a definition that cannot be read")], True, True,
                                public_why="its definition cannot be read", path=owner.path)]
            return []

        def value_of(v: Any) -> Any:
            if isinstance(v, str):
                if v in placeholders:
                    return placeholders[v]
                if "__ref" in v or "__sub" in v or "${" in v:
                    return {"Fn::If": [f"a value computed from {v!r}"]}
                if v.startswith("{%"):
                    return {"Fn::If": ["a JSONata expression"]}
            return v
        return self._run_tasks(owner, document, kind, value_of)

    def _state_machine(self, machine: Resource) -> list[_Runner]:
        p = machine.properties
        substitutions = p.get("DefinitionSubstitutions") or {}
        if not isinstance(substitutions, dict):
            substitutions = {}
        kind = "ECS task the state machine runs"
        if "DefinitionString" in p:
            return self._document_run_tasks(machine, p["DefinitionString"], substitutions, kind)
        if "Definition" in p:
            return self._document_run_tasks(machine, json.dumps(p["Definition"]) if not is_intrinsic(
                p["Definition"]) else p["Definition"], substitutions, kind)
        if "DefinitionS3Location" in p:
            return [_Runner(machine, kind, Opaque("a definition in S3"), [Opaque("a definition in S3")], True, True,
                            public_why="its definition is in S3, which the guard cannot read", path=machine.path)]
        return []

    def _register(self, net: Network, runners: list[_Runner]) -> None:
        """Registered container ports into target groups."""
        for runner in runners:
            for reg in runner.registrations:
                tg = net.target_groups.get(reg.target_group) if isinstance(reg.target_group, str) else None
                if isinstance(reg.target_group, Opaque):
                    for every in net.target_groups.values():  # which one is unknown: any of them
                        every.unknown_ports = every.unknown_ports or f"{runner.path} registers with an " \
                                                                     f"unresolvable target group"
                if tg is None:
                    continue
                if reg.port is None:
                    tg.unknown_ports = f"{runner.path} registers an unresolvable container port"
                else:
                    tg.target_ports.add(reg.port)

    def _admin_ports(self, net: Network, runners: list[_Runner]) -> None:
        """Hydra's admin ports, from every container that runs it, until they settle."""
        while True:
            before = (set(net.admin_ports), net.every_admin)
            admin_tgs = self._admin_target_groups(net)
            for runner in runners:
                if isinstance(runner.task, _Task) and any(
                        isinstance(r.target_group, str) and r.target_group in admin_tgs for r in runner.registrations):
                    runner.task.registered_admin = True
            for task in self._tasks.values():
                self._task_admin_ports(net, task, [r for runner in runners if runner.task is task
                                                   for r in runner.registrations])
            for runner in runners:
                self._service_connect_ports(net, runner)
            for runner in runners:
                if isinstance(runner.task, Opaque):
                    # an unknown task definition may be Hydra with any settings: what it registers is admin
                    for reg in runner.registrations:
                        if reg.port is None:
                            net.every_admin = net.every_admin or f"{runner.path} registers an unresolvable port " \
                                                                 f"of an unknown task definition"
                        else:
                            net.add_admin_port(reg.port, f"{runner.path} registers it, and its task definition "
                                                         f"cannot be resolved ({runner.task.why})")
            if (set(net.admin_ports), net.every_admin) == before:
                return

    def _service_connect_ports(self, net: Network, runner: _Runner) -> None:
        """Service Connect's proxy listens on IngressPortOverride and forwards to the named port: when that port
        is an admin port (or cannot be resolved), so is the override."""
        connect = runner.resource.properties.get("ServiceConnectConfiguration")
        if connect is None or runner.resource.type != "AWS::ECS::Service":
            return
        stack = runner.resource.stack
        entries = connect.get("Services") if isinstance(connect, dict) else None
        for entry in entries if isinstance(entries, list) else ([None] if entries is not None or
                                                                 not isinstance(connect, dict) else []):
            if not isinstance(entry, dict) or "IngressPortOverride" not in entry:
                if not isinstance(entry, dict):
                    net.every_admin = net.every_admin or f"the Service Connect configuration of {runner.path} " \
                                                         f"cannot be resolved"
                continue
            ports = self._named_ports(runner.task, self.text(stack, entry.get("PortName")))
            override = self.port(stack, entry["IngressPortOverride"])
            if ports is not None and not any(net.is_admin(p) for p in ports):
                continue
            if override is None:
                net.every_admin = net.every_admin or f"{runner.path}'s Service Connect proxy listens on an " \
                                                     f"unresolvable port in front of the admin port"
            else:
                net.add_admin_port(override, f"{runner.path}'s Service Connect proxy forwards it to the admin port")

    def _admin_target_groups(self, net: Network) -> set[str]:
        found = {tg_id for tg_id, tg in net.target_groups.items()
                 if not tg.lambda_targets and (tg.unknown_ports or net.is_admin(tg.port) or
                                               any(net.is_admin(p) for p in tg.target_ports))}
        for lb in net.load_balancers.values():
            for listener in lb.listeners:
                if net.is_admin(listener.port):
                    found |= {tg for tg in listener.target_groups if isinstance(tg, str)}
        return found

    def _serving(self, task: _Task, registrations: list[_Registration] | None = None) -> TaskServing:
        registered: dict[str | None, set[int]] = {}
        for r in registrations or []:
            if r.port is not None:
                registered.setdefault(r.container, set()).add(r.port)
        return task_serving(task.containers, task.path, task.registered_admin, registered)

    def _task_admin_ports(self, net: Network, task: _Task, registrations: list[_Registration]) -> None:
        serving = self._serving(task, registrations)
        if task.unreadable and (task.registered_admin or serving.hydra):
            net.every_admin = net.every_admin or f"{task.path}: {task.unreadable}"
        for port, why in serving.admin.items():
            net.add_admin_port(port, why)
        if serving.every:
            net.every_admin = net.every_admin or serving.every

    def _task_ports(self, task: _Task | Opaque | Foreign | None) -> tuple[set[int], str]:
        """Every port the task's containers listen on, and why that is not all ('' when it is)."""
        if isinstance(task, Opaque):
            return set(), f"its task definition cannot be resolved ({task.why})"
        if not isinstance(task, _Task):
            return set(), ""
        serving = self._serving(task)
        return serving.ports | set(serving.admin), task.unreadable or serving.unknown

    # -- workloads
    def _workloads(self, net: Network, runners: list[_Runner]) -> None:
        m = self.m
        for runner in runners:
            ports, every = self._task_ports(runner.task)
            ports |= {r.port for r in runner.registrations if r.port is not None}
            net.workloads.append(Workload(path=runner.path, kind=runner.kind, groups=runner.groups,
                                          public_ip=runner.public_ip, public_subnet=runner.public_subnet,
                                          ports=ports, every_port=every, public_why=runner.public_why))
        for cluster in m.resources("AWS::RDS::DBCluster"):
            p = cluster.properties
            net.workloads.append(Workload(path=cluster.path, kind="database",
                                          groups=self.groups(cluster.stack, p.get("VpcSecurityGroupIds") or []),
                                          public_ip=False, public_subnet=False,
                                          ports={self.port(cluster.stack, p.get("Port", 5432)) or 5432}))
        addressed, everything = self._elastic_ips
        for inst in m.resources("AWS::EC2::Instance"):
            p = inst.properties
            template = self._launch_template_of(inst.stack, p.get("LaunchTemplate"))
            nics = p.get("NetworkInterfaces")
            if nics is None and template is not None:
                nics = template.get("NetworkInterfaces")
            nics = nics if isinstance(nics, list) else ([{"AssociatePublicIpAddress": Opaque("computed")}]
                                                        if nics is not None else [])
            primary = next((n for n in nics if isinstance(n, dict) and str(n.get("DeviceIndex", "0")) == "0"),
                           nics[0] if nics else {})
            primary = primary if isinstance(primary, dict) else {"AssociatePublicIpAddress": Opaque("computed")}
            subnets = [primary["SubnetId"]] if "SubnetId" in primary else ([p["SubnetId"]] if "SubnetId" in p else [])
            groups: list[str | Opaque] = []
            for nic in nics:
                if isinstance(nic, dict) and "NetworkInterfaceId" in nic:
                    groups += self._interface_groups(inst.stack, nic["NetworkInterfaceId"])
                groups += self.groups(inst.stack, nic.get("GroupSet", nic.get("Groups"))
                                      if isinstance(nic, dict) else Opaque("computed"))
            attached = self._attachments.get(_id(inst.ref), [])
            for _, attached_groups in attached:
                groups += attached_groups
            for key in ("SecurityGroupIds", "SecurityGroups"):
                if key in p:
                    groups += self.groups(inst.stack, p[key]) if key == "SecurityGroupIds" else \
                        [Opaque("a security group named by name")]
                elif template is not None and key in template:
                    groups += self.groups(inst.stack, template[key]) if key == "SecurityGroupIds" else \
                        [Opaque("a security group named by name")]
            assign = primary.get("AssociatePublicIpAddress")
            public_ip = bool(assign is not None and self.flag(inst.stack, assign) is not False)
            public_subnet = self._any_public_subnet(inst.stack, subnets)
            if public_subnet and assign is None:
                public_ip = True  # assume the subnet hands out addresses
            why = ""
            if _id(inst.ref) in addressed or everything:
                public_ip, why = True, addressed.get(_id(inst.ref), everything)
            for eni, _ in attached:
                if isinstance(eni, str) and eni in addressed:
                    public_ip, why = True, f"an attached interface has {addressed[eni]}"
            net.workloads.append(Workload(path=inst.path, kind="EC2 instance", groups=groups,
                                          public_ip=public_ip, public_subnet=public_subnet, public_why=why,
                                          forwards=self.flag(inst.stack, p.get("SourceDestCheck", True)) is not True))
        for _, attached_groups in self._attachments.get("*", []):
            net.workloads.append(Workload(path="an interface attachment", kind="network interface",
                                          groups=attached_groups, public_ip=True, public_subnet=False,
                                          public_why="attached to an instance the guard cannot resolve"))
        for eni in m.resources("AWS::EC2::NetworkInterface"):
            p = eni.properties
            public_subnet = self._any_public_subnet(eni.stack, [p.get("SubnetId")]) and bool(
                p.get("Ipv6AddressCount") or p.get("Ipv6Addresses") or p.get("Ipv6Prefixes"))
            if _id(eni.ref) in addressed or everything or public_subnet:
                net.workloads.append(Workload(path=eni.path, kind="network interface",
                                              groups=self.groups(eni.stack, p.get("GroupSet")),
                                              public_ip=True, public_subnet=public_subnet,
                                              public_why=addressed.get(_id(eni.ref), everything or
                                                                       "IPv6 addresses in a public subnet"),
                                              forwards=self.flag(eni.stack, p.get("SourceDestCheck", True)) is not True))
        for lt in m.resources("AWS::EC2::LaunchTemplate"):
            data = lt.properties.get("LaunchTemplateData")
            if not isinstance(data, dict) or is_intrinsic(data):
                net.workloads.append(Workload(path=lt.path, kind="launch template",
                                              groups=[Opaque("computed launch template data")], public_ip=True,
                                              public_subnet=False, public_why="its data cannot be resolved"))
                continue
            groups, public_ip, public_subnet = self._template_network(lt.stack, data)
            if public_ip or public_subnet:
                net.workloads.append(Workload(path=lt.path, kind="launch template", groups=groups,
                                              public_ip=public_ip, public_subnet=public_subnet,
                                              public_why="instances launched from it get a public address"))
        for asg in m.resources("AWS::AutoScaling::AutoScalingGroup"):
            self._auto_scaling_group(net, asg)
        for fleet in m.resources("AWS::EC2::EC2Fleet", "AWS::EC2::SpotFleet"):
            self._fleet(net, fleet)
        self._other_compute(net)

    def _other_compute(self, net: Network) -> None:
        """Anything else that places this app's security groups in public subnets (Batch, EMR, EKS node
        groups, notebooks...): its instances or tasks may get public addresses, so its groups are outside."""
        for resource in self.m.resources():
            if resource.type in MODELLED or resource.type.startswith(NO_PUBLIC_ADDRESS):
                continue
            for groups, subnets in _placements(resource.properties):
                found = [g for v in groups for g in self.groups(resource.stack, v if isinstance(v, list) else [v])]
                if found and self._any_public_subnet(resource.stack, subnets):
                    net.workloads.append(Workload(path=resource.path, kind=resource.type, groups=found,
                                                  public_ip=False, public_subnet=True,
                                                  public_why="it places them in public subnets"))

    def _fleet(self, net: Network, fleet: Resource) -> None:
        """An EC2 or Spot fleet: its launch templates (and specifications) with their subnet overrides."""
        p = fleet.properties
        config = p.get("SpotFleetRequestConfigData", p) if isinstance(p.get("SpotFleetRequestConfigData", p), dict) \
            else {"LaunchTemplateConfigs": None}
        launches: list[tuple[dict | None, Any]] = []
        configs = config.get("LaunchTemplateConfigs") or []
        for item in configs if isinstance(configs, list) else [None]:
            if not isinstance(item, dict):
                launches.append((None, None))
                continue
            data = self._launch_template_of(fleet.stack, item.get("LaunchTemplateSpecification"))
            overrides = item.get("Overrides") or [{}]
            for override in overrides if isinstance(overrides, list) else [{"SubnetId": {"Fn::If": ["computed"]}}]:
                subnet = override.get("SubnetId") if isinstance(override, dict) else {"Fn::If": ["computed"]}
                launches.append((data, [subnet] if subnet is not None else None))
        specifications = config.get("LaunchSpecifications") or []
        for spec in specifications if isinstance(specifications, list) else [None]:
            if not isinstance(spec, dict):
                launches.append((None, None))
                continue
            data = dict(spec)
            data["SecurityGroupIds"] = [g.get("GroupId") if isinstance(g, dict) else g
                                        for g in spec.get("SecurityGroups") or []]
            data.pop("SecurityGroups", None)
            subnets = spec.get("SubnetId")
            launches.append((data, [s.strip() for s in subnets.split(",")] if isinstance(subnets, str) else
                             ([subnets] if subnets is not None else None)))
        for data, subnets in launches:
            if data is None:
                groups, public_ip, public_subnet = [Opaque("a launch this fleet computes")], True, True
            else:
                groups, public_ip, public_subnet = self._template_network(fleet.stack, data, subnets)
            if public_ip or public_subnet:
                net.workloads.append(Workload(path=fleet.path, kind="EC2 fleet", groups=groups, public_ip=public_ip,
                                              public_subnet=public_subnet,
                                              public_why="its instances get a public address" if public_ip else ""))

    def _template_network(self, stack: str, data: dict, subnets: Any = None) -> tuple[list, bool, bool]:
        """(groups, public IP, public subnets) of launch template data or a launch configuration."""
        groups: list[str | Opaque] = []
        nics = data.get("NetworkInterfaces")
        nics = nics if isinstance(nics, list) else ([] if nics is None else [{"AssociatePublicIpAddress": {
            "Fn::If": ["computed"]}, "Groups": {"Fn::If": ["computed"]}}])
        public_ip = False
        assigned = False
        for nic in nics:
            if not isinstance(nic, dict) or is_intrinsic(nic):
                groups.append(Opaque("a computed network interface"))
                public_ip = True
                continue
            groups += self.groups(stack, nic.get("Groups"))
            if "AssociatePublicIpAddress" in nic:
                assigned = True
                public_ip = public_ip or self.flag(stack, nic["AssociatePublicIpAddress"]) is not False
            if "SubnetId" in nic:
                subnets = [nic["SubnetId"]]
        if "AssociatePublicIpAddress" in data:   # a launch configuration
            assigned = True
            public_ip = public_ip or self.flag(stack, data["AssociatePublicIpAddress"]) is not False
        groups += self.groups(stack, data.get("SecurityGroupIds"))
        if data.get("SecurityGroups") is not None:   # launch template data names groups by name (default VPC)
            groups.append(Opaque("a security group named by name"))
        public_subnet = subnets is not None and self._any_public_subnet(stack, subnets)
        if public_subnet and not assigned:
            public_ip = True
        return groups, public_ip, public_subnet

    def _launch_template_of(self, stack: str, spec: Any) -> dict | None:
        """The LaunchTemplateData of the launch template ``spec`` names (by id or name)."""
        if not isinstance(spec, dict) or is_intrinsic(spec):
            return None if spec is None else {"NetworkInterfaces": {"Fn::If": ["a computed launch template"]}}
        for key in ("LaunchTemplateId", "LaunchTemplateName"):
            if key in spec:
                resolved = self.m.resolve(stack, spec[key])
                if isinstance(resolved, ResourceRef):
                    lt = self.m.resource(resolved)
                    if lt is not None and lt.type == "AWS::EC2::LaunchTemplate":
                        data = lt.properties.get("LaunchTemplateData")
                        return data if isinstance(data, dict) else {"NetworkInterfaces": {"Fn::If": ["computed"]}}
                name = self.text(stack, spec[key])
                for lt in self.m.resources("AWS::EC2::LaunchTemplate"):
                    if name is not None and self.text(lt.stack, lt.properties.get("LaunchTemplateName")) == name:
                        data = lt.properties.get("LaunchTemplateData")
                        return data if isinstance(data, dict) else {"NetworkInterfaces": {"Fn::If": ["computed"]}}
                if name is None:
                    return {"NetworkInterfaces": {"Fn::If": ["a launch template that cannot be resolved"]}}
        return None

    def _auto_scaling_group(self, net: Network, asg: Resource) -> None:
        p = asg.properties
        subnets = p.get("VPCZoneIdentifier")
        data: dict | None = None
        if "LaunchConfigurationName" in p:
            resolved = self.m.resolve(asg.stack, p["LaunchConfigurationName"])
            lc = self.m.resource(resolved) if isinstance(resolved, ResourceRef) else None
            data = dict(lc.properties) if lc is not None else None
            if data is not None:
                data["SecurityGroupIds"], data["SecurityGroups"] = data.pop("SecurityGroups", None), None
        else:
            spec = p.get("LaunchTemplate")
            mixed = p.get("MixedInstancesPolicy")
            if spec is None and isinstance(mixed, dict):
                spec = ((mixed.get("LaunchTemplate") or {}).get("LaunchTemplateSpecification")
                        if isinstance(mixed.get("LaunchTemplate"), dict) else {"LaunchTemplateId": {"Fn::If": ["x"]}})
            data = self._launch_template_of(asg.stack, spec)
        if data is None:
            groups, public_ip, public_subnet = [Opaque("a launch configuration this app cannot see")], True, \
                self._any_public_subnet(asg.stack, subnets)
        else:
            groups, public_ip, public_subnet = self._template_network(asg.stack, data, subnets)
        if public_ip or public_subnet:
            net.workloads.append(Workload(path=asg.path, kind="Auto Scaling group", groups=groups,
                                          public_ip=public_ip, public_subnet=public_subnet,
                                          public_why="its instances get a public address" if public_ip else ""))

    def _interface_groups(self, stack: str, value: Any) -> list[str | Opaque]:
        """The groups of the network interface ``value`` names."""
        resolved = self.m.resolve(stack, value)
        eni = self.m.resource(resolved) if isinstance(resolved, ResourceRef) else None
        if eni is None or eni.type != "AWS::EC2::NetworkInterface":
            return [Opaque(f"the groups of the interface {value!r}")]
        return self.groups(eni.stack, eni.properties.get("GroupSet"))

    @cached_property
    def _attachments(self) -> dict[str, list[tuple[Any, list[str | Opaque]]]]:
        """Instance id -> (interface id, its groups) of the interfaces attached to it ('*': an instance that
        cannot be resolved)."""
        found: dict[str, list[tuple[Any, list[str | Opaque]]]] = {}
        for attachment in self.m.resources("AWS::EC2::NetworkInterfaceAttachment"):
            p = attachment.properties
            instance = self.ref_of(attachment.stack, p.get("InstanceId"), "AWS::EC2::Instance")
            eni = self.ref_of(attachment.stack, p.get("NetworkInterfaceId"), "AWS::EC2::NetworkInterface")
            found.setdefault(instance if isinstance(instance, str) else "*", []).append(
                (eni, self._interface_groups(attachment.stack, p.get("NetworkInterfaceId"))))
        return found

    @cached_property
    def _elastic_ips(self) -> tuple[dict[str, str], str]:
        """(instance or network interface id -> the address that makes it public, a reason when an address
        goes to something unresolvable: then every instance and interface counts as public)."""
        addressed: dict[str, str] = {}
        everything = ""
        for eip in self.m.resources("AWS::EC2::EIP", "AWS::EC2::EIPAssociation"):
            for key in ("InstanceId", "NetworkInterfaceId"):
                if key not in eip.properties:
                    continue
                target = self.ref_of(eip.stack, eip.properties[key], "AWS::EC2::Instance",
                                     "AWS::EC2::NetworkInterface")
                if isinstance(target, str):
                    addressed.setdefault(target, f"the elastic IP {eip.path}")
                elif isinstance(target, Opaque):
                    everything = everything or f"the elastic IP {eip.path} goes to something unresolvable " \
                                               f"({target.why})"
        for group in self.m.resources("AWS::GlobalAccelerator::EndpointGroup"):
            configs = group.properties.get("EndpointConfigurations") or []
            for config in configs if isinstance(configs, list) else []:
                if isinstance(config, dict):
                    target = self.ref_of(group.stack, config.get("EndpointId"), "AWS::EC2::Instance",
                                         "AWS::EC2::NetworkInterface")
                    if isinstance(target, str):
                        addressed.setdefault(target, f"the Global Accelerator endpoint group {group.path}")
        return addressed, everything

    def _any_public_subnet(self, stack: str, subnets: Any) -> bool:
        if not isinstance(subnets, list) or not subnets:
            return True  # unknown placement: fail closed
        return any(self._public_subnet(stack, s) for s in subnets)

    def _public_subnet(self, stack: str, value: Any) -> bool:
        resolved = self.m.resolve(stack, value)
        if not isinstance(resolved, ResourceRef):
            return True
        subnet = self.m.resource(resolved)
        if subnet is None or subnet.type != "AWS::EC2::Subnet":
            return True
        if self.flag(subnet.stack, subnet.properties.get("MapPublicIpOnLaunch", False)) is not False:
            return True
        if None in self._internet_route_tables or self._unassociated_internet:
            return True   # a route to the internet from a table we cannot place
        return bool(self._route_tables_of.get(resolved.key, set()) & self._internet_route_tables)

    @cached_property
    def _route_tables_of(self) -> dict[Any, set]:
        """Subnet -> its route tables (keys; None where unresolvable)."""
        found: dict[Any, set] = {}
        for a in self.m.resources("AWS::EC2::SubnetRouteTableAssociation"):
            found.setdefault(self._key(a.stack, a.properties.get("SubnetId")), set()).add(
                self._key(a.stack, a.properties.get("RouteTableId")))
        return found

    @cached_property
    def _unassociated_internet(self) -> bool:
        """Whether an association with an unresolvable subnet puts some subnet behind an internet route."""
        return bool(self._route_tables_of.get(None, set()) & (self._internet_route_tables | {None}))

    @cached_property
    def _internet_route_tables(self) -> set:
        """Route tables with a route to an internet gateway, or to a gateway that cannot be resolved."""
        found = set()
        for route in self.m.resources("AWS::EC2::Route"):
            gateway_key = next((k for k in ("GatewayId", "CarrierGatewayId") if k in route.properties), None)
            if gateway_key is None:
                continue
            gateway = self.m.resolve(route.stack, route.properties[gateway_key])
            if not isinstance(gateway, ResourceRef) or (
                    (g := self.m.resource(gateway)) is not None and g.type in ("AWS::EC2::InternetGateway",
                                                                              "AWS::EC2::CarrierGateway")):
                found.add(self._key(route.stack, route.properties.get("RouteTableId")))
        return found

    def _key(self, stack: str, value: Any) -> tuple[str, str] | None:
        resolved = self.m.resolve(stack, value)
        return resolved.key if isinstance(resolved, ResourceRef) else None

    # -- API Gateway
    def _api_gateway(self, net: Network) -> None:
        m = self.m
        for link in m.resources("AWS::ApiGateway::VpcLink"):
            targets = self._list(link.stack, link.properties.get("TargetArns"))
            net.vpc_links[_id(link.ref)] = VpcLink(_id(link.ref), link.path, 1, [
                t if isinstance(t, Opaque) else self.ref_of(link.stack, t, LB_V2) for t in targets])
        for link in m.resources("AWS::ApiGatewayV2::VpcLink"):
            net.vpc_links[_id(link.ref)] = VpcLink(_id(link.ref), link.path, 2,
                                                   groups=self.groups(link.stack, link.properties.get("SecurityGroupIds")))
        for method in m.resources("AWS::ApiGateway::Method"):
            integration = method.properties.get("Integration")
            if integration is None:
                continue
            if not isinstance(integration, dict) or is_intrinsic(integration):
                net.integrations.append(Integration(path=method.path, host_lb=Opaque("a computed integration")))
                continue
            net.integrations += self._rest_integration(method, integration, "Type", "Uri", "ConnectionType",
                                                       "ConnectionId", "IntegrationTarget")
        for integration in m.resources("AWS::ApiGatewayV2::Integration"):
            net.integrations += self._rest_integration(integration, integration.properties, "IntegrationType",
                                                       "IntegrationUri", "ConnectionType", "ConnectionId", None)
        for api in m.resources("AWS::ApiGateway::RestApi", "AWS::ApiGatewayV2::Api"):
            p = api.properties
            if "BodyS3Location" in p:
                net.integrations.append(Integration(path=api.path, host_lb=Opaque(
                    "an API definition in S3, which the guard cannot read")))
            if "Target" in p:   # an HTTP API's quick create
                net.integrations.append(self._integration(api, p["Target"], None, None))
            for found in _openapi_integrations(p.get("Body")):
                net.integrations += self._rest_integration(api, found, "type", "uri", "connectionType",
                                                           "connectionId", "integrationTarget")

    def _rest_integration(self, owner: Resource, p: dict, type_key: str, uri_key: str, connection_type_key: str,
                          connection_key: str, target_key: str | None) -> list[Integration]:
        kind = self.text(owner.stack, p.get(type_key))
        if kind is not None and kind.upper() not in ("HTTP", "HTTP_PROXY"):
            return []
        connection: Any = None
        if connection_type_key in p and not self.is_literal(owner.stack, p[connection_type_key], "INTERNET"):
            connection = p.get(connection_key, Opaque("a VPC link connection without an id"))
        target = p.get(target_key) if target_key else None
        return [self._integration(owner, p.get(uri_key), connection, target)]

    def _integration(self, owner: Resource, uri: Any, connection: Any, target: Any) -> Integration:
        entry = Integration(path=owner.path)
        link_types = ("AWS::ApiGateway::VpcLink", "AWS::ApiGatewayV2::VpcLink")
        if connection is not None:
            entry.vpc_link = connection if isinstance(connection, Opaque) else \
                self.ref_of(owner.stack, connection, *link_types)
        if target is not None:
            entry.target_lb, entry.target_listener, entry.target_registry = self._private_target(owner.stack, target)
        if isinstance(uri, dict) and not ("Fn::Join" in uri or "Fn::Sub" in uri):
            resolved = self.m.resolve(owner.stack, uri)
            if not isinstance(resolved, (str, int)):
                # HTTP API private integrations name a listener, load balancer or Cloud Map service.
                entry.target_lb, entry.target_listener, entry.target_registry = self._private_target(owner.stack, uri)
                entry.uri = resolved.logical_id if isinstance(resolved, ResourceRef) else str(resolved)
                return entry
        text, placeholders = self.render(owner.stack, uri) if uri is not None else ("", {})
        text = text or ""
        entry.uri = text
        for key, raw in placeholders.items():   # readable in messages: ${AdminNlb.DNSName}
            resolved = self.m.resolve(owner.stack, raw)
            name = ".".join(filter(None, (resolved.logical_id, resolved.attribute))) \
                if isinstance(resolved, ResourceRef) else "?"
            entry.uri = entry.uri.replace(key, "${" + name + "}")
        if text.startswith("arn:"):
            # an HTTP API private integration by ARN: someone else's unless a part of it is unresolvable
            entry.target_listener = Foreign(f"the ARN {text!r}") if not placeholders else \
                Opaque(f"the ARN {text!r}, a part of which cannot be resolved")
            return entry
        host, entry.port = parse_uri(text)
        if host is None:
            entry.host_lb = Opaque(f"the URI {text!r}")
            return entry
        named = [key for key in placeholders if key in host]
        for key in named:
            resolved = self.m.resolve(owner.stack, placeholders[key])
            if isinstance(resolved, ResourceRef) and resolved.attribute == "DNSName":
                entry.host_lb = _id(ResourceRef(resolved.stack, resolved.logical_id))
            elif not isinstance(entry.host_lb, str):
                entry.host_lb = Opaque(getattr(resolved, "why", f"the host part {placeholders[key]!r}"))
        if not named:
            entry.foreign_host = True
        return entry

    def _private_target(self, stack: str, value: Any) -> tuple[Any, Any, Any]:
        """(load balancer, listener, Cloud Map service) an integration targets: one of them set."""
        resolved = self.m.resolve(stack, value)
        if isinstance(resolved, ResourceRef):
            resource = self.m.resource(resolved)
            key = _id(ResourceRef(resolved.stack, resolved.logical_id))
            if resource and resource.type == LB_V2:
                return key, None, None
            if resource and resource.type == LISTENER_V2:
                return None, key, None
            if resource and resource.type == CLOUD_MAP_SERVICE:
                return None, None, key
            return Opaque(f"{resolved.logical_id} is a {resource.type if resource else 'missing resource'}"), None, \
                None
        text = self.text(stack, value)
        if text is not None and "${" not in text.replace("${AWS::", ""):
            return None, Foreign(f"the ARN {text!r}"), None   # someone else's: only security groups lead to Hydra
        return Opaque(getattr(resolved, "why", f"the target {value!r}")), None, None

    # -- VPC Lattice, Cloud Map
    def _lattice(self, net: Network, runners: list[_Runner]) -> None:
        m = self.m
        for gateway in m.resources("AWS::VpcLattice::ResourceGateway"):
            for g in self.groups(gateway.stack, gateway.properties.get("SecurityGroupIds")):
                if isinstance(g, str):
                    net.entry_groups.setdefault(g, f"VPC Lattice consumers arrive through it ({gateway.path})")
        for config in m.resources("AWS::VpcLattice::ResourceConfiguration"):
            p = config.properties
            definition = p.get("ResourceConfigurationDefinition") or {}
            target: Any = None
            if not isinstance(definition, dict) or is_intrinsic(definition):
                target = Opaque("a computed resource definition")
            elif "ArnResource" in definition:
                arn = definition["ArnResource"]
                arn = arn.get("Arn") if isinstance(arn, dict) and "Arn" in arn else arn
                target = self.ref_of(config.stack, arn, LB_V2)
            elif "DnsResource" in definition:
                dns = definition["DnsResource"]
                resolved = self.m.resolve(config.stack, dns.get("DomainName") if isinstance(dns, dict) else dns)
                if isinstance(resolved, ResourceRef) and resolved.attribute == "DNSName":
                    target = _id(ResourceRef(resolved.stack, resolved.logical_id))
                elif isinstance(resolved, Unresolved):
                    target = Opaque(resolved.why)
            net.lattice_doors.append(LatticeDoor(config.path, target, self._port_ranges(config.stack,
                                                                                        p.get("PortRanges"))))
        for tg in m.resources("AWS::VpcLattice::TargetGroup"):
            p = tg.properties
            kind = (self.text(tg.stack, p.get("Type")) or "unresolvable").upper()
            if kind == "LAMBDA":
                continue
            config = p.get("Config") or {}
            ports: set[int | None] = {self.port(tg.stack, config.get("Port"))} if isinstance(config, dict) and \
                "Port" in config else set()
            targets = p.get("Targets") or []
            if not isinstance(targets, list):
                targets, ports = [], {None}
            ports |= {self.port(tg.stack, t.get("Port")) if isinstance(t, dict) else None
                      for t in targets if not isinstance(t, dict) or "Port" in t}
            target = None
            if kind in ("ALB", "UNRESOLVABLE"):
                found = [self.ref_of(tg.stack, t.get("Id"), LB_V2) if isinstance(t, dict) else Opaque("computed")
                         for t in targets]
                target = next((t for t in found if not isinstance(t, Foreign)), found[0] if found else None)
            net.lattice_doors.append(LatticeDoor(tg.path, target, None if None in ports or not ports and
                                                 kind != "ALB" else {p for p in ports if p is not None}))
        for runner in runners:
            configurations = runner.resource.properties.get("VpcLatticeConfigurations") \
                if runner.resource.type == "AWS::ECS::Service" else None
            if configurations is None:
                continue
            for configuration in configurations if isinstance(configurations, list) else [None]:
                name = self.text(runner.resource.stack, configuration.get("PortName")) \
                    if isinstance(configuration, dict) else None
                ports = self._named_ports(runner.task, name)
                lattice_tg = self.ref_of(runner.resource.stack, configuration.get("TargetGroupArn"),
                                         "AWS::VpcLattice::TargetGroup") if isinstance(configuration, dict) else \
                    Opaque("a computed configuration")
                shared = lattice_tg if isinstance(lattice_tg, str) else str(lattice_tg)
                net.lattice_doors.append(LatticeDoor(
                    runner.path, None, ports,
                    what=f"the port named {name or '(unresolvable)'} of its tasks, through the target group "
                         f"{shared},"))
        self._registries(net, runners)

    def _named_ports(self, task: Any, name: str | None) -> set[int] | None:
        """The container ports of the port mappings named ``name`` (None: unknown)."""
        if name is None or not isinstance(task, _Task) or task.unreadable:
            return None
        ports = {pm.container_port for c in task.containers for pm in (c.port_mappings or [])
                 if pm.name == name}
        if not ports or None in ports or any(c.port_mappings is None for c in task.containers):
            return None
        return {p for p in ports if p is not None}

    def _registries(self, net: Network, runners: list[_Runner]) -> None:
        m = self.m
        namespace_names: dict[str, str] = {}
        for ns in m.resources(*NAMESPACES):
            name = self.text(ns.stack, ns.properties.get("Name"))
            if name:
                namespace_names[name] = _id(ns.ref)
        services: dict[str, tuple[Any, str | None]] = {}
        for svc in m.resources(CLOUD_MAP_SERVICE):
            net.registries[_id(svc.ref)] = Registry(_id(svc.ref), svc.path)
            services[_id(svc.ref)] = (self._namespace(svc.stack, svc.properties.get("NamespaceId"), namespace_names),
                                      self.text(svc.stack, svc.properties.get("Name")))
        for runner in runners:
            p = runner.resource.properties
            workload_ports, every = self._task_ports(runner.task)
            registries = p.get("ServiceRegistries") or []
            for registry in registries if isinstance(registries, list) else [None]:
                if not isinstance(registry, dict):
                    continue
                target = self.ref_of(runner.resource.stack, registry.get("RegistryArn"), CLOUD_MAP_SERVICE)
                if isinstance(target, str) and target in net.registries:
                    port_value = registry.get("ContainerPort", registry.get("Port"))
                    ports = {self.port(runner.resource.stack, port_value)} if port_value is not None else None
                    self._record(net.registries[target], runner.path, ports, workload_ports, every)
            connect = p.get("ServiceConnectConfiguration")
            if not isinstance(connect, dict) or self.flag(runner.resource.stack, connect.get("Enabled", True)) is False:
                continue
            namespace = self._namespace(runner.resource.stack, connect.get("Namespace"), namespace_names)
            entries = connect.get("Services") or []
            for entry in entries if isinstance(entries, list) else [None]:
                name = self.text(runner.resource.stack, entry.get("PortName")) if isinstance(entry, dict) else None
                discovery = self.text(runner.resource.stack, entry.get("DiscoveryName", entry.get("PortName"))) \
                    if isinstance(entry, dict) else None
                ports = self._named_ports(runner.task, name)
                for service_id, (service_namespace, service_name) in services.items():
                    same_namespace = namespace is None or service_namespace is None or namespace == service_namespace
                    same_name = discovery is None or service_name is None or discovery == service_name
                    if same_namespace and same_name:
                        self._record(net.registries[service_id], runner.path, ports, workload_ports, every)

    def _namespace(self, stack: str, value: Any, names: dict[str, str]) -> str | None:
        """A namespace id (None: unresolvable, which matches any)."""
        resolved = self.m.resolve(stack, value)
        if isinstance(resolved, ResourceRef):
            return _id(ResourceRef(resolved.stack, resolved.logical_id))
        text = self.text(stack, value)
        if text is not None:
            return names.get(text, text)
        return None

    @staticmethod
    def _record(registry: Registry, who: str, ports: set[int | None] | None, workload_ports: set[int],
                every: str) -> None:
        registry.workloads.append(who)
        if ports is None:
            registry.ports |= workload_ports    # no port: clients reach every port of the task
            registry.every = registry.every or every
        elif None in ports:
            registry.every = registry.every or f"{who} registers a port that cannot be resolved"
        else:
            registry.ports |= {p for p in ports if p is not None}

    def _port_ranges(self, stack: str, ranges: Any) -> set[int] | None:
        """Lattice port ranges ('443', '4000-5000'); None when any is unknown (every port)."""
        if not isinstance(ranges, list) or not ranges:
            return None
        ports: set[int] = set()
        for item in ranges:
            value = self.text(stack, item)
            if value is None:
                return None
            low, _, high = value.partition("-")
            if not low.isdigit() or (high and not high.isdigit()):
                return None
            ports |= set(range(int(low), int(high or low) + 1))
        return ports

    # -- Verified Access, Global Accelerator, Client VPN
    def _ranges(self, stack: str, port: Any, ranges: Any) -> PortRanges | None:
        found: PortRanges = []
        if port is not None:
            value = self.port(stack, port)
            if value is None:
                return None
            found.append((value, value))
        if ranges is not None:
            if not isinstance(ranges, list):
                return None
            for r in ranges:
                low = self.port(stack, r.get("FromPort")) if isinstance(r, dict) else None
                high = self.port(stack, r.get("ToPort")) if isinstance(r, dict) else None
                if low is None or high is None:
                    return None
                found.append((low, high))
        return found or None

    def _edges(self, net: Network) -> None:
        m = self.m
        for endpoint in m.resources("AWS::EC2::VerifiedAccessEndpoint"):
            p = endpoint.properties
            for g in self.groups(endpoint.stack, p.get("SecurityGroupIds")):
                if isinstance(g, str):
                    net.entry_groups.setdefault(g, f"Verified Access users arrive through it ({endpoint.path})")
            for key, kind, target_key, types in (
                    ("LoadBalancerOptions", "load balancer", "LoadBalancerArn", (LB_V2,)),
                    ("NetworkInterfaceOptions", "network interface", "NetworkInterfaceId",
                     ("AWS::EC2::NetworkInterface",)),
                    ("CidrOptions", "range", "Cidr", ())):
                if key not in p:
                    continue
                options = p[key]
                if not isinstance(options, dict) or is_intrinsic(options):
                    net.edge_doors.append(EdgeDoor("verified-access", endpoint.path, Opaque(f"computed {key}"),
                                                   kind, None))
                    continue
                ports = self._ranges(endpoint.stack, options.get("Port"), options.get("PortRanges"))
                if kind == "range":
                    cidr = self.text(endpoint.stack, options.get(target_key))
                    target: Any = cidr if cidr is not None else Opaque("an unresolvable range")
                else:
                    target = self.ref_of(endpoint.stack, options.get(target_key), *types)
                    if isinstance(target, str) and kind != "load balancer":
                        resource = m.resource(ResourceRef(*target.split("/", 1)))
                        target = resource.path if resource else target
                    elif isinstance(target, Foreign) and kind != "load balancer":
                        target = target.what   # a task's or an instance's interface exists only at run time
                net.edge_doors.append(EdgeDoor("verified-access", endpoint.path, target, kind, ports))
        for endpoint in m.resources("AWS::EC2::ClientVpnEndpoint"):
            for g in self.groups(endpoint.stack, endpoint.properties.get("SecurityGroupIds")):
                if isinstance(g, str):
                    net.entry_groups.setdefault(g, f"Client VPN users arrive through it ({endpoint.path})")
        listeners: dict[str, PortRanges | None] = {}
        for listener in m.resources("AWS::GlobalAccelerator::Listener"):
            ranges = listener.properties.get("PortRanges")
            listeners[_id(listener.ref)] = self._ranges(listener.stack, None, ranges) if ranges is not None else None
        for group in m.resources("AWS::GlobalAccelerator::EndpointGroup"):
            p = group.properties
            listener_id = self.ref_of(group.stack, p.get("ListenerArn"), "AWS::GlobalAccelerator::Listener")
            ports = listeners.get(listener_id) if isinstance(listener_id, str) else None
            overrides = p.get("PortOverrides")
            if ports is not None and overrides is not None:
                if not isinstance(overrides, list):
                    ports = None
                else:
                    for override in overrides:
                        port = self.port(group.stack, override.get("EndpointPort")) if isinstance(override, dict) \
                            else None
                        if port is None:
                            ports = None
                            break
                        ports = ports + [(port, port)]
            configs = p.get("EndpointConfigurations") or []
            for config in configs if isinstance(configs, list) else [None]:
                value = config.get("EndpointId") if isinstance(config, dict) else None
                target = self.ref_of(group.stack, value, LB_V2, "AWS::EC2::Instance", "AWS::EC2::EIP",
                                     "AWS::EC2::NetworkInterface") if value is not None else \
                    Opaque("a computed endpoint")
                kind = "load balancer"
                if isinstance(target, str) and target not in net.load_balancers:
                    resource = m.resource(ResourceRef(*target.split("/", 1)))
                    kind = {"AWS::EC2::Instance": "instance", "AWS::EC2::EIP": "address"}.get(
                        resource.type if resource else "", "network interface")
                    target = resource.path if resource else target
                elif isinstance(target, Foreign) and not str(self.text(group.stack, value)).startswith("arn:"):
                    # an instance id or an address: instances of this app's Auto Scaling groups exist only at
                    # run time, so only the ports can tell
                    kind, target = "instance or address", target.what
                net.edge_doors.append(EdgeDoor("global-accelerator", group.path, target, kind, ports))


# Types whose placement the guard models itself, and types that never get a public address (or send nothing).
MODELLED = {"AWS::ECS::Service", "AWS::ECS::TaskSet", "AWS::EC2::Instance", "AWS::EC2::NetworkInterface",
            "AWS::EC2::LaunchTemplate", "AWS::AutoScaling::AutoScalingGroup", "AWS::AutoScaling::LaunchConfiguration",
            "AWS::EC2::EC2Fleet", "AWS::EC2::SpotFleet", LB_V2, LB_CLASSIC, "AWS::ApiGatewayV2::VpcLink",
            "AWS::EC2::ClientVpnEndpoint", "AWS::EC2::VerifiedAccessEndpoint", "AWS::VpcLattice::ResourceGateway",
            "AWS::EC2::SecurityGroup", "AWS::EC2::SecurityGroupIngress", "AWS::EC2::SecurityGroupEgress",
            "AWS::EC2::NetworkInterfaceAttachment"}
NO_PUBLIC_ADDRESS = ("AWS::Lambda::", "AWS::EC2::VPCEndpoint", "AWS::RDS::", "AWS::ElastiCache::", "AWS::DocDB::",
                     "AWS::Neptune::", "AWS::Redshift::", "AWS::MemoryDB::", "AWS::EFS::", "AWS::FSx::",
                     "AWS::DAX::", "AWS::Route53Resolver::", "AWS::StepFunctions::", "AWS::Events::",
                     "AWS::Scheduler::", "AWS::Pipes::", "Custom::", "AWS::CloudFormation::")
GROUP_KEYS = {"securitygroups", "securitygroupids", "vpcsecuritygroupids", "groupset", "groups",
              "additionalmastersecuritygroups", "additionalslavesecuritygroups", "emrmanagedmastersecuritygroup",
              "emrmanagedslavesecuritygroup"}
SUBNET_KEYS = {"subnetid", "subnetids", "subnets", "vpczoneidentifier", "ec2subnetid", "ec2subnetids"}


def _placements(properties: Any) -> list[tuple[list[Any], list[Any]]]:
    """(group values, subnet values) of every object in ``properties`` that names both."""
    found: list[tuple[list[Any], list[Any]]] = []

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, dict) and not is_intrinsic(node):
            keys = {str(k).lower(): k for k in node}
            groups = [node[keys[k]] for k in GROUP_KEYS if k in keys]
            subnets: list[Any] = []
            for k in SUBNET_KEYS & set(keys):
                value = node[keys[k]]
                subnets += value if isinstance(value, list) else [value]
            if groups and subnets:
                found.append((groups, subnets))
            for value in node.values():
                walk(value)
    walk(properties)
    return found


def _openapi_integrations(body: Any) -> list[dict]:
    """Every ``x-amazon-apigateway-integration`` of an OpenAPI body held in the template."""
    found: list[dict] = []

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, dict) and not is_intrinsic(node):
            for key, value in node.items():
                if key == "x-amazon-apigateway-integration":
                    found.append(value if isinstance(value, dict) and not is_intrinsic(value) else
                                 {"type": "HTTP", "uri": {"Fn::If": ["a computed integration"]}})
                else:
                    walk(value)
    walk(body)
    return found


def network_from_templates(model: AppTemplates, config: HydraConfig) -> Network:
    """The network the templates describe, with the configuration's ports and trusted ranges."""
    return _Builder(model).build(admin_port=config.hydra_admin_port, public_port=config.hydra_public_port,
                                 allowed_cidrs=list(config.admin_allowed_cidrs))
