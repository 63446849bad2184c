"""Translate synthesized CloudFormation templates into the trust-boundary model.

Every reference to this app's own resources is resolved (also across stacks,
through exports); anything else becomes :class:`~hydra_on_aws.boundary.trust_boundary.Opaque`.
"""

from __future__ import annotations

import ipaddress
from functools import cached_property
from typing import Any

from hydra_on_aws.config.settings import HydraConfig
from hydra_on_aws.boundary.templates import AppTemplates, Resource, ResourceRef, Unresolved
from hydra_on_aws.boundary.trust_boundary import (
    Cidr, EndpointService, Group, IngressRule, Integration, LatticeDoor, Listener, LoadBalancer, Network, Opaque,
    SecurityGroupInfo, TargetGroup, VpcLink, VpcOrigin, Workload, parse_uri,
)

LB_V2 = "AWS::ElasticLoadBalancingV2::LoadBalancer"
LB_CLASSIC = "AWS::ElasticLoadBalancing::LoadBalancer"


def _id(ref: ResourceRef) -> str:
    return f"{ref.stack}/{ref.logical_id}"


class _Builder:
    def __init__(self, model: AppTemplates) -> None:
        self.m = model

    # -- resolution helpers
    def ref_of(self, stack: str, value: Any, *types: str) -> str | Opaque:
        """The id of the resource of one of ``types`` that ``value`` names."""
        resolved = self.m.resolve(stack, value)
        if isinstance(resolved, ResourceRef):
            resource = self.m.resource(resolved)
            if resource is not None and (not types or resource.type in types):
                return _id(resolved)
            return Opaque(f"{resolved.logical_id} is a {resource.type if resource else 'missing resource'}, "
                          f"not a {' or '.join(types)}")
        if isinstance(resolved, Unresolved):
            return Opaque(resolved.why)
        return Opaque(f"the literal {resolved!r}")

    def group(self, stack: str, value: Any) -> str | Opaque:
        resolved = self.m.security_group_of(self.m.resolve(stack, value))
        return _id(resolved) if isinstance(resolved, ResourceRef) and resolved.attribute is None else \
            Opaque(resolved.why if isinstance(resolved, Unresolved) else "the VPC's default security group")

    def groups(self, stack: str, values: Any) -> list[str | Opaque]:
        if not isinstance(values, list):
            return [Opaque("a computed list of security groups")] if values else []
        return [self.group(stack, v) for v in values]

    def port(self, stack: str, value: Any) -> int | None:
        resolved = self.m.resolve(stack, value)
        try:
            return int(resolved)
        except (TypeError, ValueError):
            return None

    def render_uri(self, stack: str, value: Any) -> tuple[str, dict[str, str | Opaque]]:
        """The URI as text, with load balancer DNS names replaced by placeholders."""
        placeholders: dict[str, str | Opaque] = {}

        def part(p: Any) -> str:
            if isinstance(p, str):
                return p
            resolved = self.m.resolve(stack, p)
            key = f"__ref{len(placeholders)}__"
            if isinstance(resolved, ResourceRef) and resolved.attribute == "DNSName":
                placeholders[key] = _id(ResourceRef(resolved.stack, resolved.logical_id))
            elif isinstance(resolved, (str, int)):
                return str(resolved)
            else:
                placeholders[key] = Opaque(getattr(resolved, "why", f"the value {p!r}"))
            return key
        if isinstance(value, dict) and "Fn::Join" in value:
            separator, parts = value["Fn::Join"]
            return separator.join(part(p) for p in parts), placeholders
        return part(value), placeholders

    # -- the model
    def build(self, *, admin_port: int, public_port: int, allowed_cidrs: list[str]) -> Network:
        m = self.m
        net = Network(admin_port=admin_port, public_port=public_port, vpc_cidrs=[],
                      allowed_cidrs=[ipaddress.ip_network(c) for c in allowed_cidrs])
        for sg in m.resources("AWS::EC2::SecurityGroup"):
            net.groups[_id(sg.ref)] = SecurityGroupInfo(_id(sg.ref), sg.path)
        for rule in m.ingress_rules():
            net.rules.append(IngressRule(
                group=_id(rule.group) if isinstance(rule.group, ResourceRef) else Opaque(rule.group.why),
                protocol=rule.protocol, from_port=rule.from_port, to_port=rule.to_port,
                source=self._source(rule.source), path=rule.origin.path))
        self._load_balancers(net)
        self._api_gateway(net)
        for svc in m.resources("AWS::EC2::VPCEndpointService"):
            lbs = (svc.properties.get("NetworkLoadBalancerArns") or []) + (svc.properties.get("GatewayLoadBalancerArns") or [])
            net.endpoint_services.append(EndpointService(svc.path, [self.ref_of(svc.stack, a, LB_V2) for a in lbs]))
        for origin in m.resources("AWS::CloudFront::VpcOrigin"):
            cfg = origin.properties.get("VpcOriginEndpointConfig") or {}
            ports = {p for p in (self.port(origin.stack, cfg.get("HTTPPort", 80)),
                                 self.port(origin.stack, cfg.get("HTTPSPort", 443))) if p is not None}
            net.vpc_origins.append(VpcOrigin(origin.path, self.ref_of(origin.stack, cfg.get("Arn"), LB_V2,
                                                                      "AWS::EC2::Instance"), ports))
        self._lattice(net)
        self._workloads(net)
        net.vpc_cidrs = self._home_cidrs(net)
        return net

    def _home_cidrs(self, net: Network) -> list:
        """The ranges of the VPC that serves the admin port (primary and secondary CIDRs).

        Only that VPC is inside: another VPC, even one this app defines, reaches it through
        peering or a transit gateway. Nothing resolvable serving the admin port: nothing is inside.
        """
        m = self.m
        homes: set[str] = set()
        for workload in net.workloads:
            if net.admin_port not in workload.ports:
                continue
            for g in workload.groups:
                group = m.resource(ResourceRef(*g.split("/", 1))) if isinstance(g, str) else None
                vpc = m.resolve(group.stack, group.properties.get("VpcId")) if group else None
                if isinstance(vpc, ResourceRef) and (r := m.resource(vpc)) is not None and r.type == "AWS::EC2::VPC":
                    homes.add(_id(ResourceRef(vpc.stack, vpc.logical_id)))
        cidrs = [ipaddress.ip_network(r.properties["CidrBlock"]) for r in m.resources("AWS::EC2::VPC")
                 if _id(r.ref) in homes and isinstance(r.properties.get("CidrBlock"), str)]
        for block in m.resources("AWS::EC2::VPCCidrBlock"):
            vpc = m.resolve(block.stack, block.properties.get("VpcId"))
            if (isinstance(vpc, ResourceRef) and _id(ResourceRef(vpc.stack, vpc.logical_id)) in homes
                    and isinstance(block.properties.get("CidrBlock"), str)):
                cidrs.append(ipaddress.ip_network(block.properties["CidrBlock"]))
        return cidrs

    def _lattice(self, net: Network) -> None:
        m = self.m
        for gateway in m.resources("AWS::VpcLattice::ResourceGateway"):
            for g in self.groups(gateway.stack, gateway.properties.get("SecurityGroupIds") or []):
                if isinstance(g, str):
                    net.lattice_gateway_groups[g] = gateway.path
        for config in m.resources("AWS::VpcLattice::ResourceConfiguration"):
            p = config.properties
            definition = p.get("ResourceConfigurationDefinition") or {}
            target: str | Opaque | None = None
            if "ArnResource" in definition:
                target = self.ref_of(config.stack, definition["ArnResource"], LB_V2)
            elif "DnsResource" in definition:
                resolved = self.m.resolve(config.stack, (definition["DnsResource"] or {}).get("DomainName"))
                if isinstance(resolved, ResourceRef) and resolved.attribute == "DNSName":
                    target = _id(ResourceRef(resolved.stack, resolved.logical_id))
            net.lattice_doors.append(LatticeDoor(config.path, target, self._port_ranges(config.stack,
                                                                                        p.get("PortRanges"))))
        for tg in m.resources("AWS::VpcLattice::TargetGroup"):
            p = tg.properties
            ports = {self.port(tg.stack, (p.get("Config") or {}).get("Port"))}
            ports |= {self.port(tg.stack, t.get("Port")) for t in p.get("Targets") or [] if "Port" in t}
            target = None
            if str(p.get("Type", "")).upper() == "ALB":
                targets = [self.ref_of(tg.stack, t.get("Id"), LB_V2) for t in p.get("Targets") or []]
                target = targets[0] if targets else None
            elif str(p.get("Type", "")).upper() == "LAMBDA":
                continue
            net.lattice_doors.append(LatticeDoor(tg.path, target, None if None in ports else ports))

    def _port_ranges(self, stack: str, ranges: Any) -> set[int] | None:
        """Lattice port ranges ('443', '4000-5000'); None when any is unknown (every port)."""
        if not isinstance(ranges, list) or not ranges:
            return None
        ports: set[int] = set()
        for item in ranges:
            value = self.m.resolve(stack, item)
            if not isinstance(value, (str, int)):
                return None
            low, _, high = str(value).partition("-")
            if not low.isdigit() or (high and not high.isdigit()):
                return None
            ports |= set(range(int(low), int(high or low) + 1))
        return ports

    @staticmethod
    def _source(source: Any):
        if isinstance(source, ResourceRef):
            return Group(_id(source)) if source.attribute is None else Group(f"{_id(source)}#{source.attribute}")
        if isinstance(source, Unresolved):
            return Opaque(source.why)
        return Cidr(source)

    def _load_balancers(self, net: Network) -> None:
        m = self.m
        for lb in m.resources(LB_V2):
            p = lb.properties
            net.load_balancers[_id(lb.ref)] = LoadBalancer(
                id=_id(lb.ref), path=lb.path, kind=p.get("Type", "application"),
                internet_facing=p.get("Scheme", "internet-facing") != "internal",
                groups=self.groups(lb.stack, p.get("SecurityGroups") or []),
                privatelink_enforced=p.get("EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic", "on") != "off")
        for lb in m.resources(LB_CLASSIC):
            p = lb.properties
            balancer = LoadBalancer(id=_id(lb.ref), path=lb.path, kind="classic",
                                    internet_facing=p.get("Scheme", "internet-facing") != "internal",
                                    groups=self.groups(lb.stack, p.get("SecurityGroups") or []))
            for i, listener in enumerate(p.get("Listeners") or []):
                tg_id = f"{_id(lb.ref)}#listener{i}"
                net.target_groups[tg_id] = TargetGroup(tg_id, lb.path, self.port(lb.stack, listener.get("InstancePort")))
                balancer.listeners.append(Listener(tg_id, lb.path, self.port(lb.stack, listener.get("LoadBalancerPort")),
                                                   [tg_id]))
            net.load_balancers[balancer.id] = balancer
        for tg in m.resources("AWS::ElasticLoadBalancingV2::TargetGroup"):
            p = tg.properties
            target_ports = {self.port(tg.stack, t.get("Port")) for t in p.get("Targets") or [] if "Port" in t}
            kind = str(p.get("TargetType", "instance")).lower()
            net.target_groups[_id(tg.ref)] = TargetGroup(
                _id(tg.ref), tg.path, self.port(tg.stack, p.get("Port")) if "Port" in p else None,
                {x for x in target_ports if x is not None},
                forwards_to=[self.ref_of(tg.stack, t.get("Id"), LB_V2) for t in p.get("Targets") or []]
                if kind == "alb" else [],
                lambda_targets=kind == "lambda")
        for svc in m.resources("AWS::ECS::Service"):
            for attachment in svc.properties.get("LoadBalancers") or []:
                tg_id = self.ref_of(svc.stack, attachment.get("TargetGroupArn"),
                                    "AWS::ElasticLoadBalancingV2::TargetGroup")
                port = self.port(svc.stack, attachment.get("ContainerPort"))
                if isinstance(tg_id, str) and port is not None:
                    net.target_groups[tg_id].target_ports.add(port)
        listeners: dict[str, Listener] = {}
        for listener in m.resources("AWS::ElasticLoadBalancingV2::Listener"):
            p = listener.properties
            lb_id = self.ref_of(listener.stack, p.get("LoadBalancerArn"), LB_V2)
            entry = Listener(_id(listener.ref), listener.path, self.port(listener.stack, p.get("Port")),
                             self._action_target_groups(listener, p.get("DefaultActions") or []))
            listeners[entry.id] = entry
            if isinstance(lb_id, Opaque):
                lb_id = self._foreign_lb(net, listener, lb_id)
            net.load_balancers[lb_id].listeners.append(entry)
        for rule in m.resources("AWS::ElasticLoadBalancingV2::ListenerRule"):
            listener_id = self.ref_of(rule.stack, rule.properties.get("ListenerArn"),
                                      "AWS::ElasticLoadBalancingV2::Listener")
            groups = self._action_target_groups(rule, rule.properties.get("Actions") or [])
            if isinstance(listener_id, str) and listener_id in listeners:
                listeners[listener_id].target_groups += groups
            else:  # a rule on someone else's listener: any port, any exposure
                lb_id = self._foreign_lb(net, rule, listener_id if isinstance(listener_id, Opaque) else
                                         Opaque("a listener this app does not define"))
                net.load_balancers[lb_id].listeners.append(Listener(_id(rule.ref), rule.path, None, groups))

    @staticmethod
    def _foreign_lb(net: Network, owner: Resource, why: Opaque) -> str:
        """A load balancer this app does not define, met through ``owner``: assumed internet-facing."""
        lb_id = f"{_id(owner.ref)}#load-balancer"
        net.load_balancers.setdefault(lb_id, LoadBalancer(
            id=lb_id, path=f"{owner.path} (on a load balancer this app does not define: {why.why})",
            kind="unknown", internet_facing=True, groups=[why]))
        return lb_id

    def _action_target_groups(self, owner: Resource, actions: list) -> list[str | Opaque]:
        found: list[str | Opaque] = []
        tg_type = "AWS::ElasticLoadBalancingV2::TargetGroup"
        for action in actions:
            if "TargetGroupArn" in action:
                found.append(self.ref_of(owner.stack, action["TargetGroupArn"], tg_type))
            for tg in ((action.get("ForwardConfig") or {}).get("TargetGroups") or []):
                found.append(self.ref_of(owner.stack, tg.get("TargetGroupArn"), tg_type))
        return found

    def _api_gateway(self, net: Network) -> None:
        m = self.m
        for link in m.resources("AWS::ApiGateway::VpcLink"):
            net.vpc_links[_id(link.ref)] = VpcLink(
                _id(link.ref), link.path, 1, [self.ref_of(link.stack, t, LB_V2) for t in link.properties.get("TargetArns") or []])
        for link in m.resources("AWS::ApiGatewayV2::VpcLink"):
            net.vpc_links[_id(link.ref)] = VpcLink(_id(link.ref), link.path, 2,
                                                   groups=self.groups(link.stack, link.properties.get("SecurityGroupIds") or []))
        link_types = ("AWS::ApiGateway::VpcLink", "AWS::ApiGatewayV2::VpcLink")
        for method in m.resources("AWS::ApiGateway::Method"):
            integration = method.properties.get("Integration") or {}
            if integration.get("Type", "").upper() not in ("HTTP", "HTTP_PROXY"):
                continue
            net.integrations.append(self._integration(
                method, integration.get("Uri"),
                integration.get("ConnectionId") if integration.get("ConnectionType") == "VPC_LINK" else None,
                integration.get("IntegrationTarget"), link_types))
        for integration in m.resources("AWS::ApiGatewayV2::Integration"):
            p = integration.properties
            if p.get("IntegrationType", "").upper() not in ("HTTP", "HTTP_PROXY"):
                continue
            net.integrations.append(self._integration(
                integration, p.get("IntegrationUri"),
                p.get("ConnectionId") if p.get("ConnectionType") == "VPC_LINK" else None, None, link_types))

    def _integration(self, owner: Resource, uri: Any, connection: Any, target: Any,
                     link_types: tuple[str, ...]) -> Integration:
        entry = Integration(path=owner.path)
        if connection is not None:
            entry.vpc_link = self.ref_of(owner.stack, connection, *link_types)
        if target is not None:
            entry.target_lb, entry.target_listener = self._lb_or_listener(owner.stack, target)
        resolved = self.m.resolve(owner.stack, uri) if isinstance(uri, dict) and "Fn::Join" not in uri else None
        if isinstance(resolved, ResourceRef):
            # HTTP API private integrations name a listener (or load balancer) ARN.
            entry.target_lb, entry.target_listener = self._lb_or_listener(owner.stack, uri)
            entry.uri = resolved.logical_id
            return entry
        text, placeholders = self.render_uri(owner.stack, uri)
        entry.uri = text
        host, entry.port = parse_uri(text)
        if host is None:
            entry.host_lb = Opaque(f"the URI {text!r}")
            return entry
        for key, ref in placeholders.items():
            if key in host:
                entry.host_lb = ref
        return entry

    def _lb_or_listener(self, stack: str, value: Any) -> tuple[str | Opaque | None, str | Opaque | None]:
        resolved = self.m.resolve(stack, value)
        if isinstance(resolved, ResourceRef):
            resource = self.m.resource(resolved)
            if resource and resource.type == LB_V2:
                return _id(resolved), None
            if resource and resource.type == "AWS::ElasticLoadBalancingV2::Listener":
                return None, _id(resolved)
        return Opaque(getattr(resolved, "why", f"the target {value!r}")), None

    def _workloads(self, net: Network) -> None:
        m = self.m
        for svc in m.resources("AWS::ECS::Service"):
            p = svc.properties
            vpc = ((p.get("NetworkConfiguration") or {}).get("AwsvpcConfiguration") or {})
            ports: set[int] = set()
            taskdef = self.m.resolve(svc.stack, p.get("TaskDefinition"))
            if isinstance(taskdef, ResourceRef) and (td := m.resource(taskdef)) is not None:
                for container in td.properties.get("ContainerDefinitions") or []:
                    for mapping in container.get("PortMappings") or []:
                        port = self.port(td.stack, mapping.get("ContainerPort"))
                        if port is not None:
                            ports.add(port)
            else:
                ports = {net.admin_port}  # an unknown task definition may serve anything
            for attachment in p.get("LoadBalancers") or []:
                port = self.port(svc.stack, attachment.get("ContainerPort"))
                if port is not None:
                    ports.add(port)
            net.workloads.append(Workload(
                path=svc.path, kind="ECS service", groups=self.groups(svc.stack, vpc.get("SecurityGroups") or []),
                public_ip=vpc.get("AssignPublicIp", "DISABLED") == "ENABLED",
                public_subnet=self._any_public_subnet(svc.stack, vpc.get("Subnets") or []), ports=ports))
        for cluster in m.resources("AWS::RDS::DBCluster"):
            p = cluster.properties
            net.workloads.append(Workload(path=cluster.path, kind="database",
                                          groups=self.groups(cluster.stack, p.get("VpcSecurityGroupIds") or []),
                                          public_ip=False, public_subnet=False,
                                          ports={self.port(cluster.stack, p.get("Port", 5432)) or 5432}))
        for inst in m.resources("AWS::EC2::Instance"):
            p = inst.properties
            nics = p.get("NetworkInterfaces") or []
            primary = nics[0] if nics else {}
            subnets = [primary["SubnetId"]] if "SubnetId" in primary else ([p["SubnetId"]] if "SubnetId" in p else [])
            groups = primary.get("GroupSet") or p.get("SecurityGroupIds") or []
            public_ip = primary.get("AssociatePublicIpAddress") is True
            public_subnet = self._any_public_subnet(inst.stack, subnets)
            if public_subnet and "AssociatePublicIpAddress" not in primary:
                public_ip = True  # assume the subnet hands out addresses
            net.workloads.append(Workload(path=inst.path, kind="EC2 instance", groups=self.groups(inst.stack, groups),
                                          public_ip=public_ip, public_subnet=public_subnet,
                                          forwards=p.get("SourceDestCheck") is False))

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
        if subnet.properties.get("MapPublicIpOnLaunch") is True:
            return True
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
    def _internet_route_tables(self) -> set:
        """Route tables with a route to an internet gateway, or to a gateway that cannot be resolved."""
        found = set()
        for route in self.m.resources("AWS::EC2::Route"):
            if "GatewayId" not in route.properties:
                continue
            gateway = self.m.resolve(route.stack, route.properties["GatewayId"])
            if not isinstance(gateway, ResourceRef) or (
                    (g := self.m.resource(gateway)) is not None and g.type == "AWS::EC2::InternetGateway"):
                found.add(self._key(route.stack, route.properties.get("RouteTableId")))
        return found

    def _key(self, stack: str, value: Any) -> tuple[str, str] | None:
        resolved = self.m.resolve(stack, value)
        return resolved.key if isinstance(resolved, ResourceRef) else None


def network_from_templates(model: AppTemplates, config: HydraConfig) -> Network:
    """The network the templates describe, with the configuration's ports and trusted ranges."""
    return _Builder(model).build(admin_port=config.hydra_admin_port, public_port=config.hydra_public_port,
                                 allowed_cidrs=list(config.admin_allowed_cidrs))
