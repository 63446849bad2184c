"""The trust boundary: who can reach which port, and the rules that keep the admin API inside.

One analysis serves three callers:

- the synthesis guard (:mod:`hydra_on_aws.boundary.guard`), on the templates of every synthesis;
- the exposure report (:mod:`hydra_on_aws.boundary.exposure`), on the same templates;
- the live check (:mod:`hydra_on_aws.boundary.verify`), on what boto3 reads from an account.

Each caller translates what it sees into a :class:`Network`; the rules below
only ever look at that model. Whatever a front-end cannot pin down arrives
as :class:`Opaque` and counts as outside: the analysis fails closed.

"Inside" means: within the VPC's CIDR, within a configured allow-listed
range, or a security group of this app that nothing outside can send
through. A group is *outside* when it belongs to something the internet (or
another network) can send traffic through: an internet-facing load
balancer, a load balancer behind an API Gateway VPC link, a PrivateLink
endpoint service or a CloudFront VPC origin, a publicly addressed workload,
or a load balancer whose own rules admit an outside source. Other RFC 1918
ranges are outside: peered VPCs, VPNs and Transit Gateways use them too.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Union

Network4or6 = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]


# ------------------------------------------------------------------ model ---

@dataclass(frozen=True)
class Cidr:
    network: Network4or6

    def __str__(self) -> str:
        return str(self.network)


@dataclass(frozen=True)
class Group:
    id: str

    def __str__(self) -> str:
        return self.id


@dataclass(frozen=True)
class Opaque:
    """A value the front-end could not resolve: treated as outside."""
    why: str

    def __str__(self) -> str:
        return f"<{self.why}>"


Source = Union[Cidr, Group, Opaque]


@dataclass(frozen=True)
class IngressRule:
    group: str | Opaque          # the security group the rule opens
    protocol: str                 # 'tcp', 'udp', '-1' ...
    from_port: int                # -1: every port
    to_port: int
    source: Source
    path: str                     # where it is defined (construct path or AWS id)

    def covers(self, port: int) -> bool:
        if self.protocol in ("-1", "all"):
            return True
        if self.protocol not in ("tcp", "6"):
            return False
        return self.from_port == -1 or self.from_port <= port <= self.to_port

    def ports(self) -> str:
        if self.protocol in ("-1", "all"):
            return "all traffic"
        if self.from_port == -1:
            return f"{self.protocol} (every port)"
        span = str(self.from_port) if self.from_port == self.to_port else f"{self.from_port}-{self.to_port}"
        return f"{self.protocol} {span}"


@dataclass
class SecurityGroupInfo:
    id: str
    path: str


@dataclass
class TargetGroup:
    id: str
    path: str
    port: int | None              # None: unknown, assume any
    target_ports: set[int] = field(default_factory=set)
    forwards_to: list[str | Opaque] = field(default_factory=list)  # load balancers behind an 'alb' target group
    lambda_targets: bool = False  # a Lambda target group reaches no port at all

    def reaches(self, port: int) -> bool:
        if self.lambda_targets:
            return False
        return self.port is None or self.port == port or port in self.target_ports


@dataclass
class Listener:
    id: str
    path: str
    port: int | None
    target_groups: list[str | Opaque] = field(default_factory=list)


@dataclass
class LoadBalancer:
    id: str
    path: str
    kind: str                     # 'network' | 'application' | 'gateway' | 'classic'
    internet_facing: bool
    groups: list[str | Opaque]
    privatelink_enforced: bool = True
    listeners: list[Listener] = field(default_factory=list)
    dns_name: str | None = None


@dataclass
class VpcLink:
    id: str
    path: str
    version: int                  # 1: REST API, NLB targets; 2: ENIs with security groups
    target_lbs: list[str | Opaque] = field(default_factory=list)
    groups: list[str | Opaque] = field(default_factory=list)


@dataclass
class Integration:
    path: str
    vpc_link: str | Opaque | None = None
    host_lb: str | Opaque | None = None     # the load balancer the URI names
    port: int | None = None                 # the port the URI names (None: unknown)
    target_lb: str | Opaque | None = None   # REST IntegrationTarget (VPC link V2)
    target_listener: str | Opaque | None = None  # HTTP API private integration
    uri: str = ""


@dataclass
class EndpointService:
    path: str
    lbs: list[str | Opaque]


@dataclass
class VpcOrigin:
    path: str
    target: str | Opaque          # a load balancer (or instance) id
    ports: set[int] = field(default_factory=set)


@dataclass
class LatticeDoor:
    """A VPC Lattice resource configuration or target group: consumers in other VPCs or accounts come in."""
    path: str
    target_lb: str | Opaque | None = None
    ports: set[int] | None = None  # None: every port (or unknown)


@dataclass
class Workload:
    path: str
    kind: str                     # 'ecs-service' | 'instance'
    groups: list[str | Opaque]
    public_ip: bool
    public_subnet: bool
    ports: set[int] = field(default_factory=set)
    forwards: bool = False        # a NAT or router instance (source/dest check off)


@dataclass
class Network:
    """Everything the rules need, as the front-end found it."""
    admin_port: int
    public_port: int
    vpc_cidrs: list[Network4or6]
    allowed_cidrs: list[Network4or6] = field(default_factory=list)
    groups: dict[str, SecurityGroupInfo] = field(default_factory=dict)
    rules: list[IngressRule] = field(default_factory=list)
    load_balancers: dict[str, LoadBalancer] = field(default_factory=dict)
    target_groups: dict[str, TargetGroup] = field(default_factory=dict)
    vpc_links: dict[str, VpcLink] = field(default_factory=dict)
    integrations: list[Integration] = field(default_factory=list)
    endpoint_services: list[EndpointService] = field(default_factory=list)
    vpc_origins: list[VpcOrigin] = field(default_factory=list)
    workloads: list[Workload] = field(default_factory=list)
    lattice_doors: list[LatticeDoor] = field(default_factory=list)
    lattice_gateway_groups: dict[str, str] = field(default_factory=dict)  # group id -> resource gateway path


# ------------------------------------------------------------- violations ---

RULES = {
    "admin-port-ingress": "A security group rule opens the admin port to a source that is not provably inside the VPC",
    "internet-facing-lb": "An internet-facing load balancer reaches the admin port",
    "vpc-linked-lb": "A load balancer behind an API Gateway VPC link reaches the admin port",
    "api-integration": "An API Gateway integration reaches the admin port or the admin load balancer",
    "privatelink": "A PrivateLink endpoint service, CloudFront VPC origin or VPC Lattice share fronts the admin port",
    "hydra-public": "Hydra tasks have a public IP or sit in public subnets",
    "opaque-group": "Something that serves or forwards the admin port carries a security group this app cannot see",
}

FIXES = {
    "admin-port-ingress": ("allow the admin port only from security groups granted with "
                           "IngressStack.grant_admin_access(), or list a trusted private range in "
                           "admin_allowed_cidrs"),
    "internet-facing-lb": "make the load balancer internal, or point it at the public port only",
    "vpc-linked-lb": ("give the VPC link's load balancer no listener or target group on the admin port; "
                      "the admin API has its own NLB that no VPC link may target"),
    "api-integration": "integrate with the public NLB on the public port only",
    "privatelink": "expose the public NLB's public port only, never the admin NLB",
    "hydra-public": "run the Hydra service in the private subnets with assign_public_ip=False",
    "opaque-group": ("attach only security groups this app defines, and grant access to the admin port with "
                     "IngressStack.grant_admin_access()"),
}


@dataclass(frozen=True)
class Violation:
    rule: str
    path: str
    detail: str

    def message(self) -> str:
        return f"[{self.rule}] {self.path}: {self.detail}. {RULES[self.rule]}. Fix: {FIXES[self.rule]}."


# --------------------------------------------------------------- analysis ---

class Analysis:
    """Reachability over a :class:`Network`."""

    def __init__(self, net: Network) -> None:
        self.net = net
        self.admin_lbs = {lb_id for lb_id, lb in net.load_balancers.items()
                          if self.lb_reaches(lb, net.admin_port)}
        self.vpc_linked_lbs = self._vpc_linked_lbs()
        self.fronted = self._fronted_lbs()
        self.outside_groups = self._outside_groups()

    # -- helpers
    def _target_group(self, tg: str | Opaque) -> TargetGroup | None:
        return self.net.target_groups.get(tg) if isinstance(tg, str) else None

    def listener_reaches(self, listener: Listener, port: int, _seen: frozenset[str] = frozenset()) -> bool:
        if listener.port is None or listener.port == port:
            return True
        for tg_id in listener.target_groups:
            tg = self._target_group(tg_id)
            if tg is None or tg.reaches(port):  # unknown target group: fail closed
                return True
            for behind in tg.forwards_to:  # an NLB in front of an ALB reaches what the ALB reaches
                if not isinstance(behind, str) or behind not in self.net.load_balancers:
                    return True
                if behind not in _seen and self.lb_reaches(self.net.load_balancers[behind], port, _seen | {behind}):
                    return True
        return False

    def lb_reaches(self, lb: LoadBalancer, port: int, _seen: frozenset[str] = frozenset()) -> bool:
        return any(self.listener_reaches(listener, port, _seen | {lb.id}) for listener in lb.listeners)

    def _vpc_linked_lbs(self) -> dict[str, str]:
        """Load balancer id -> the VPC link or integration that makes API Gateway reach it."""
        linked: dict[str, str] = {}
        for link in self.net.vpc_links.values():
            for lb in link.target_lbs:
                if isinstance(lb, str):
                    linked.setdefault(lb, link.path)
        for integration in self.net.integrations:
            if isinstance(integration.target_lb, str):
                linked.setdefault(integration.target_lb, integration.path)
            listener = self._listener(integration.target_listener)
            if listener is not None:
                lb_id = self._lb_of_listener(listener)
                if lb_id:
                    linked.setdefault(lb_id, integration.path)
        return linked

    def _listener(self, listener_id: str | Opaque | None) -> Listener | None:
        if not isinstance(listener_id, str):
            return None
        for lb in self.net.load_balancers.values():
            for listener in lb.listeners:
                if listener.id == listener_id:
                    return listener
        return None

    def _lb_of_listener(self, listener: Listener) -> str | None:
        for lb_id, lb in self.net.load_balancers.items():
            if listener in lb.listeners:
                return lb_id
        return None

    def _fronted_lbs(self) -> dict[str, str]:
        """Load balancers something outside sends traffic through, with the reason."""
        reasons: dict[str, str] = {}
        for lb_id, lb in self.net.load_balancers.items():
            if lb.internet_facing:
                reasons[lb_id] = "internet-facing"
        for lb_id, via in self.vpc_linked_lbs.items():
            reasons.setdefault(lb_id, f"API Gateway through {via}")
        for service in self.net.endpoint_services:
            for lb_id in service.lbs:
                if isinstance(lb_id, str):
                    reasons.setdefault(lb_id, f"PrivateLink endpoint service {service.path}")
        for origin in self.net.vpc_origins:
            if isinstance(origin.target, str) and origin.target in self.net.load_balancers:
                reasons.setdefault(origin.target, f"CloudFront VPC origin {origin.path}")
        for door in self.net.lattice_doors:
            if isinstance(door.target_lb, str) and door.target_lb in self.net.load_balancers:
                reasons.setdefault(door.target_lb, f"VPC Lattice {door.path}")
        # A fronted load balancer passes its traffic on to the load balancers behind it.
        changed = True
        while changed:
            changed = False
            for lb_id in list(reasons):
                for listener in self.net.load_balancers[lb_id].listeners:
                    for tg_id in listener.target_groups:
                        tg = self._target_group(tg_id)
                        for behind in tg.forwards_to if tg else []:
                            if isinstance(behind, str) and behind in self.net.load_balancers and behind not in reasons:
                                reasons[behind] = f"{self.net.load_balancers[lb_id].path} forwards to it"
                                changed = True
        return reasons

    def _outside_groups(self) -> dict[str, str]:
        """Security group id -> why traffic from it may have come from outside."""
        outside: dict[str, str] = {}
        for lb_id, why in self.fronted.items():
            for g in self.net.load_balancers[lb_id].groups:
                if isinstance(g, str):
                    outside.setdefault(g, f"it is attached to {self.net.load_balancers[lb_id].path} ({why})")
        for link in self.net.vpc_links.values():
            for g in link.groups:
                if isinstance(g, str):
                    outside.setdefault(g, f"API Gateway sends through it ({link.path})")
        for g, gateway in self.net.lattice_gateway_groups.items():
            outside.setdefault(g, f"VPC Lattice consumers arrive through it ({gateway})")
        for w in self.net.workloads:
            if w.public_ip or w.public_subnet:
                for g in w.groups:
                    if isinstance(g, str):
                        outside.setdefault(g, f"it is attached to the publicly addressed {w.path}")
        # Forwarders (load balancers, NAT/router instances) carry whatever their
        # own rules admit: follow the chain until nothing changes.
        forwarder_groups: dict[str, str] = {}
        for lb in self.net.load_balancers.values():
            for g in lb.groups:
                if isinstance(g, str):
                    forwarder_groups[g] = lb.path
        for w in self.net.workloads:
            if w.forwards:
                for g in w.groups:
                    if isinstance(g, str):
                        forwarder_groups[g] = w.path
        changed = True
        while changed:
            changed = False
            for rule in self.net.rules:
                if not isinstance(rule.group, str) or rule.group in outside or rule.group not in forwarder_groups:
                    continue
                if not self._inside(rule.source, outside):
                    outside[rule.group] = (f"{forwarder_groups[rule.group]} forwards traffic it admits from "
                                           f"{self.describe_source(rule.source, outside)}")
                    changed = True
        return outside

    def _inside(self, source: Source, outside: dict[str, str]) -> bool:
        if isinstance(source, Cidr):
            return any(source.network.version == r.version and source.network.subnet_of(r)
                       for r in (*self.net.vpc_cidrs, *self.net.allowed_cidrs))
        if isinstance(source, Group):
            return source.id in self.net.groups and source.id not in outside
        return False

    def inside(self, source: Source) -> bool:
        return self._inside(source, self.outside_groups)

    def describe_source(self, source: Source, outside: dict[str, str] | None = None) -> str:
        outside = self.outside_groups if outside is None else outside
        if isinstance(source, Cidr):
            net = source.network
            if any(net.version == r.version and net.subnet_of(r) for r in self.net.vpc_cidrs):
                return f"{net} (inside the VPC)"
            if any(net.version == r.version and net.subnet_of(r) for r in self.net.allowed_cidrs):
                return f"{net} (admin_allowed_cidrs)"
            if net.prefixlen == 0:
                return f"{net} (anywhere)"
            return f"{net} (outside the VPC)"
        if isinstance(source, Group):
            info = self.net.groups.get(source.id)
            name = info.path if info else f"{source.id} (not a security group of this app)"
            if source.id in outside:
                return f"security group {name}, outside because {outside[source.id]}"
            return f"security group {name}"
        return f"an unresolvable source: {source.why}"

    # -- the rules
    def violations(self) -> list[Violation]:
        net, admin = self.net, self.net.admin_port
        found: list[Violation] = []
        for rule in net.rules:
            if rule.covers(admin) and not self.inside(rule.source):
                target = net.groups[rule.group].path if isinstance(rule.group, str) and rule.group in net.groups \
                    else str(rule.group)
                found.append(Violation("admin-port-ingress", rule.path,
                                       f"{rule.ports()} into {target} from {self.describe_source(rule.source)}"))
        for lb_id in sorted(self.admin_lbs):
            lb = net.load_balancers[lb_id]
            if lb.internet_facing:
                found.append(Violation("internet-facing-lb", lb.path, self._reach_detail(lb)))
            if lb_id in self.vpc_linked_lbs:
                found.append(Violation("vpc-linked-lb", lb.path,
                                       f"{self._reach_detail(lb)}; API Gateway reaches it through "
                                       f"{self.vpc_linked_lbs[lb_id]}"))
        for integration in net.integrations:
            why = self._integration_reaches_admin(integration)
            if why:
                found.append(Violation("api-integration", integration.path, why))
        for service in net.endpoint_services:
            for lb_id in service.lbs:
                if not isinstance(lb_id, str) or lb_id in self.admin_lbs:
                    found.append(Violation("privatelink", service.path,
                                           f"the endpoint service fronts {self._lb_name(lb_id)}, which reaches "
                                           f"port {admin}"))
        for origin in net.vpc_origins:
            if (not isinstance(origin.target, str) or origin.target in self.admin_lbs or admin in origin.ports):
                found.append(Violation("privatelink", origin.path,
                                       f"the CloudFront VPC origin targets {self._lb_name(origin.target)} "
                                       f"(ports {sorted(origin.ports) or 'default'})"))
        for door in net.lattice_doors:
            target = door.target_lb
            if (door.ports is None or admin in door.ports or isinstance(target, Opaque)
                    or (isinstance(target, str) and target in self.admin_lbs)):
                shared = self._lb_name(target) if target is not None else "a resource"
                ports = "every port" if door.ports is None else f"ports {sorted(door.ports)}"
                found.append(Violation("privatelink", door.path,
                                       f"VPC Lattice shares {shared} on {ports}, which reaches port {admin}"))
        for w in net.workloads:
            if admin in w.ports and (w.public_ip or w.public_subnet):
                where = "has a public IP" if w.public_ip else "runs in public subnets"
                found.append(Violation("hydra-public", w.path, f"the {w.kind} serving port {admin} {where}"))
            if admin in w.ports:
                for g in w.groups:
                    if isinstance(g, Opaque):
                        found.append(Violation("opaque-group", w.path,
                                               f"the {w.kind} serving port {admin} carries {g.why}"))
        for lb_id in sorted(self.admin_lbs):
            for g in net.load_balancers[lb_id].groups:
                if isinstance(g, Opaque):
                    found.append(Violation("opaque-group", net.load_balancers[lb_id].path,
                                           f"the load balancer reaching port {admin} carries {g.why}"))
        return sorted(set(found), key=lambda v: (v.rule, v.path, v.detail))

    def _lb_name(self, lb_id: str | Opaque) -> str:
        if isinstance(lb_id, str) and lb_id in self.net.load_balancers:
            return self.net.load_balancers[lb_id].path
        return str(lb_id)

    def _reach_detail(self, lb: LoadBalancer) -> str:
        admin = self.net.admin_port
        for listener in lb.listeners:
            if self.listener_reaches(listener, admin):
                if listener.port == admin:
                    return f"its listener {listener.path} listens on port {admin}"
                return f"its listener {listener.path} on port {listener.port} forwards to port {admin}"
        return f"it reaches port {admin}"

    def _integration_reaches_admin(self, i: Integration) -> str | None:
        admin = self.net.admin_port
        if i.port == admin:
            return f"its URI {i.uri!r} names port {admin}"
        for name, lb_id in (("URI host", i.host_lb), ("integration target", i.target_lb)):
            if isinstance(lb_id, Opaque):
                return f"its {name} cannot be resolved ({lb_id.why})"
            if lb_id in self.admin_lbs:
                return f"its {name} is {self._lb_name(lb_id)}, which reaches port {admin}"
        if i.target_listener is not None:
            listener = self._listener(i.target_listener)
            if listener is None or self.listener_reaches(listener, admin):
                return f"it targets the listener {i.target_listener}, which reaches port {admin}"
        link = self.net.vpc_links.get(i.vpc_link) if isinstance(i.vpc_link, str) else None
        if isinstance(i.vpc_link, Opaque):
            return f"its VPC link cannot be resolved ({i.vpc_link.why})"
        if link is not None and link.version == 1:
            # A V1 link reaches every listener of its NLB; the URI's port picks one.
            for lb_id in link.target_lbs:
                lb = self.net.load_balancers.get(lb_id) if isinstance(lb_id, str) else None
                if lb is None:
                    return f"its VPC link {link.path} targets an unresolvable load balancer"
                if i.port is None and self.lb_reaches(lb, admin):
                    return f"its URI port is unknown and its VPC link reaches {lb.path}, which serves port {admin}"
                for listener in lb.listeners:
                    if listener.port == i.port and self.listener_reaches(listener, admin):
                        return f"its VPC link's listener {listener.path} forwards to port {admin}"
        return None

    # -- who can reach what (the exposure report)
    def internet_paths_to(self, port: int) -> list[str]:
        """Every way traffic from outside the VPC could arrive on ``port`` (empty: none)."""
        paths = []
        for lb_id, why in self.fronted.items():
            lb = self.net.load_balancers[lb_id]
            if self.lb_reaches(lb, port):
                paths.append(f"{why} -> {lb.path}")
        for rule in self.net.rules:
            if rule.covers(port) and not self.inside(rule.source):
                paths.append(f"{self.describe_source(rule.source)} -> {rule.path}")
        for w in self.net.workloads:
            if port in w.ports and (w.public_ip or w.public_subnet):
                paths.append(f"public address -> {w.path}")
        return sorted(set(paths))


def check(net: Network) -> list[Violation]:
    return Analysis(net).violations()


# ------------------------------------------------- template front-end ---

def parse_uri(text: str) -> tuple[str | None, int | None]:
    """(host, port) of an http(s) URI; the port is the scheme's default when absent and
    None when it is not a number (computed, unknown)."""
    match = re.match(r"^(https?)://([^/?#]*)", text)
    if not match:
        return None, None
    scheme, authority = match.groups()
    host, colon, port = authority.rpartition(":") if ":" in authority else (authority, "", "")
    if not colon:
        return host, 443 if scheme == "https" else 80
    return host, int(port) if port.isdigit() else None
