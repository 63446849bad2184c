"""The trust boundary: who can reach which port, and the rules that keep the admin API inside.

One analysis serves three callers:

- the synthesis guard (:mod:`hydra_on_aws.boundary.guard`), on the templates of every synthesis;
- the exposure report (:mod:`hydra_on_aws.boundary.exposure`), on the same templates;
- the live check (:mod:`hydra_on_aws.boundary.verify`), on what boto3 reads from an account.

Each caller translates what it sees into a :class:`Network`; the rules below
only ever look at that model. Whatever a front-end cannot pin down arrives
as :class:`Opaque` and counts as the worst case: outside, covering the admin
port, reaching it. A literal reference to something the front-end does not
define (another app's load balancer ARN) arrives as :class:`Foreign`: it can
only reach Hydra through security-group rules, which ``admin-port-ingress``
judges.

*The admin ports* are the ports Hydra's admin API listens on: the configured
one, and what each container that runs Hydra says (``SERVE_ADMIN_PORT``, 4445
when absent, a port mapping named ``admin``); an unresolvable
``SERVE_ADMIN_PORT`` makes every port of that container an admin port (every
port at all when its ports cannot be resolved either).

*Inside* means: within the ranges of the VPC the admin port is served in,
within a configured allow-listed range, or a security group of this app in that
VPC that nothing outside can send through. A group is *outside* when it
belongs to another VPC (or its VPC cannot be resolved, or it is associated
with another VPC), or to something the internet or another network sends
traffic through: an internet-facing (or Global Accelerator, Verified Access,
PrivateLink, CloudFront, VPC Lattice, VPC-linked) load balancer, an API
Gateway VPC link, a Client VPN or Verified Access endpoint, a VPC Lattice
resource gateway, publicly addressed compute however launched (instance,
launch template, Auto Scaling group, fleet, network interface, ECS service,
task set or task), or a load balancer or forwarding instance whose own rules
admit an outside source. When something publicly reachable carries a group
the front-end cannot identify, every group counts as outside. Other RFC 1918
ranges are outside: peered VPCs, VPNs and Transit Gateways use them too.
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Union

Network4or6 = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]
PortRanges = list[tuple[int, int]]   # inclusive ranges; None where used: every port (unknown)

HYDRA_ADMIN_DEFAULT = 4445   # Hydra's own defaults, used when SERVE_ADMIN_PORT / SERVE_PUBLIC_PORT are absent
HYDRA_PUBLIC_DEFAULT = 4444


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
    """A value the front-end could not resolve: treated as the worst case."""
    why: str

    def __str__(self) -> str:
        return f"<{self.why}>"


@dataclass(frozen=True)
class Foreign:
    """A literal reference to something this app does not define (another app's ARN).

    It cannot be one of this app's load balancers, target groups or registries, so it
    reaches Hydra only through security-group rules, which ``admin-port-ingress`` judges."""
    what: str

    def __str__(self) -> str:
        return f"{self.what} (not this app's)"


Source = Union[Cidr, Group, Opaque]
Ref = Union[str, Opaque, Foreign]      # an id of this model, an unresolvable value, or someone else's


@dataclass(frozen=True)
class IngressRule:
    group: str | Opaque           # the security group the rule opens
    protocol: str | Opaque        # 'tcp', 'udp', '-1' ...; Opaque: unresolved (any)
    from_port: int | None         # -1: every port; None: unresolved (any)
    to_port: int | None
    source: Source
    path: str                     # where it is defined (construct path or AWS id)

    @property
    def carries_tcp(self) -> bool:
        return isinstance(self.protocol, Opaque) or self.protocol in ("-1", "all", "tcp", "6")

    def _span(self) -> tuple[int, int]:
        """The port range, every port when a bound is unknown or -1."""
        if isinstance(self.protocol, Opaque) or self.protocol in ("-1", "all"):
            return 0, 65535
        if self.from_port is None or self.to_port is None or self.from_port == -1 or self.to_port == -1:
            return 0, 65535
        return self.from_port, self.to_port

    def covers(self, port: int) -> bool:
        if not self.carries_tcp:
            return False
        low, high = self._span()
        return low <= port <= high

    def covers_any(self, want: Callable[[int | None], bool], ports: Iterable[int] | None) -> bool:
        """Whether the rule admits TCP on a port ``want`` accepts (``ports``: the candidates; None: every
        port is one)."""
        if not self.carries_tcp:
            return False
        if ports is None:
            return True
        low, high = self._span()
        if (low, high) == (0, 65535) and want(None):
            return True
        return any(low <= p <= high for p in ports if want(p))

    def ports(self) -> str:
        if isinstance(self.protocol, Opaque):
            protocol = f"an unresolvable protocol ({self.protocol.why})"
        elif self.protocol in ("-1", "all"):
            return "all traffic"
        else:
            protocol = self.protocol
        if self.from_port is None or self.to_port is None:
            return f"{protocol}, unresolvable ports (every port)"
        if self.from_port == -1 or self.to_port == -1:
            return f"{protocol} (every port)"
        span = str(self.from_port) if self.from_port == self.to_port else f"{self.from_port}-{self.to_port}"
        return f"{protocol} {span}"


@dataclass
class SecurityGroupInfo:
    id: str
    path: str
    vpc: str | Opaque | None = None   # the VPC it belongs to (None: the front-end does not say)


@dataclass
class TargetGroup:
    id: str
    path: str
    port: int | None              # None: unknown, assume any
    target_ports: set[int] = field(default_factory=set)
    forwards_to: list[Ref] = field(default_factory=list)  # load balancers behind an 'alb' target group
    lambda_targets: bool = False  # a Lambda target group reaches no port at all
    unknown_ports: str = ""       # why a registered port is unknown (then: every port)

    def reaches(self, want: Callable[[int | None], bool]) -> bool:
        if self.lambda_targets:
            return False
        return bool(self.unknown_ports) or want(self.port) or any(want(p) for p in self.target_ports)


INTROSPECTION_PATH = "/admin/oauth2/introspect"   # the one admin path a request-routing load balancer may forward
INTROSPECTION_METHOD = "POST"


@dataclass
class Route:
    """One way an application listener forwards: its default action, or a listener rule.

    ``path_conditions`` and ``method_conditions`` hold the values of each such condition of the
    rule (conditions are ANDed, the values of one condition ORed); a default action has none.
    ``unresolved`` says why a condition cannot be read (then: any request)."""
    path: str
    target_groups: list[Ref]
    path_conditions: list[tuple[str, ...]] = field(default_factory=list)
    method_conditions: list[tuple[str, ...]] = field(default_factory=list)
    rewrites: bool = False
    unresolved: str = ""

    def problem(self) -> str:
        """Why this route lets more than ``POST /admin/oauth2/introspect`` through ('' when it does not)."""
        if self.unresolved:
            return f"a rule whose {self.unresolved}"
        if self.rewrites:
            return "a rule that rewrites the request (the path Hydra sees is not the one matched)"
        if (INTROSPECTION_PATH,) not in self.path_conditions:
            seen = sorted({v for values in self.path_conditions for v in values})
            return f"paths {', '.join(seen)}" if seen else "every path"
        if (INTROSPECTION_METHOD,) not in self.method_conditions:
            seen = sorted({v for values in self.method_conditions for v in values})
            return f"{INTROSPECTION_PATH} with methods {', '.join(seen)}" if seen else \
                f"{INTROSPECTION_PATH} with every method"
        return ""


def route_from(path: str, target_groups: list[Ref], conditions: Any, transforms: Any,
               text: Callable[[Any], str | None]) -> Route:
    """A :class:`Route` from an ELBv2 rule's ``Conditions`` and ``Transforms``, as CloudFormation and
    ``describe_rules`` both write them; ``text`` resolves one value (None: unresolvable)."""
    route = Route(path, target_groups, rewrites=bool(transforms))
    if conditions is None:
        return route
    if not isinstance(conditions, list):
        route.unresolved = "conditions cannot be resolved"
        return route
    for condition in conditions:
        field_name = text(condition.get("Field")) if isinstance(condition, dict) else None
        if field_name is None:
            route.unresolved = "conditions cannot be resolved"
            return route
        config = {"path-pattern": "PathPatternConfig", "http-request-method": "HttpRequestMethodConfig"}.get(field_name)
        if config is None:
            continue  # host, header, query string, source IP: they only narrow what else matches
        block = condition.get(config)
        if block is not None and not isinstance(block, dict):
            route.unresolved = f"{field_name} values cannot be resolved"
            return route
        # The legacy Values and the config block's Values together: a rule carrying both must not pass
        # on the exact one alone.
        lists = [v for v in ((block or {}).get("Values"), condition.get("Values")) if v is not None]
        if (block or {}).get("RegexValues"):
            lists.append(["(a regular expression)"])
        if not lists or any(not isinstance(v, list) or any(text(x) is None for x in v) for v in lists):
            route.unresolved = f"{field_name} values cannot be resolved"
            return route
        values = [x for v in lists for x in v]
        (route.path_conditions if field_name == "path-pattern" else route.method_conditions).append(
            tuple(text(v) for v in values))
    return route


@dataclass
class Listener:
    id: str
    path: str
    port: int | None
    target_groups: list[Ref] = field(default_factory=list)
    protocol: str | None = None   # 'TCP', 'UDP', 'TCP_UDP', 'HTTP'...; None: unknown (any)
    routes: list[Route] = field(default_factory=list)  # an application listener's default action and rules

    def admits(self, rule: IngressRule) -> bool:
        """Whether traffic ``rule`` lets in can arrive on this listener."""
        protocol = rule.protocol
        if isinstance(protocol, Opaque) or protocol in ("-1", "all"):
            matches = True
        elif protocol in ("tcp", "6"):
            matches = (self.protocol or "TCP").upper() != "UDP"
        elif protocol in ("udp", "17"):
            matches = (self.protocol or "UDP").upper() in ("UDP", "TCP_UDP")
        else:
            matches = False
        low, high = rule._span()
        return matches and (self.port is None or low <= self.port <= high)


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
    target_lbs: list[Ref] = field(default_factory=list)
    groups: list[str | Opaque] = field(default_factory=list)


@dataclass
class Integration:
    path: str
    vpc_link: Ref | None = None
    host_lb: Ref | None = None              # the load balancer the URI names
    port: int | None = None                 # the port the URI names (None: unknown)
    target_lb: Ref | None = None            # REST IntegrationTarget (VPC link V2)
    target_listener: Ref | None = None      # HTTP API private integration
    target_registry: Ref | None = None      # HTTP API private integration to a Cloud Map service
    uri: str = ""
    foreign_host: bool = False              # the URI names a literal host that is none of this app's


@dataclass
class EndpointService:
    path: str
    lbs: list[Ref]


@dataclass
class VpcOrigin:
    path: str
    target: Ref                   # a load balancer (or instance) id
    ports: set[int] | None = field(default_factory=set)   # None: unknown


@dataclass
class LatticeDoor:
    """A VPC Lattice resource configuration or target group: consumers in other VPCs or accounts come in."""
    path: str
    target_lb: Ref | None = None
    ports: set[int] | None = None  # None: every port (or unknown)
    what: str = ""                 # what it shares, when not a load balancer (an ECS service's port...)


@dataclass
class EdgeDoor:
    """A Verified Access endpoint or a Global Accelerator endpoint: clients outside the VPC come in."""
    rule: str                     # 'verified-access' | 'global-accelerator'
    path: str
    target: Ref | None            # a load balancer id, or what else it names
    target_kind: str              # 'load balancer', 'network interface', 'instance', 'address', 'range'
    ports: PortRanges | None      # the ports it sends to (None: unknown, every port)


@dataclass
class Registry:
    """A Cloud Map service (or a namespace's Service Connect name) and what workloads register into it."""
    id: str
    path: str
    ports: set[int] = field(default_factory=set)
    every: str = ""               # why every port of a registered workload counts
    workloads: list[str] = field(default_factory=list)


@dataclass
class Workload:
    path: str
    kind: str                     # 'ECS service' | 'ECS task' | 'EC2 instance' | 'database' ...
    groups: list[str | Opaque]
    public_ip: bool
    public_subnet: bool
    ports: set[int] = field(default_factory=set)
    forwards: bool = False        # a NAT or router instance (source/dest check off)
    every_port: str = ""          # why it may serve any port (an unknown task definition...)
    public_why: str = ""          # how it gets its public address, when not the obvious


@dataclass
class Network:
    """Everything the rules need, as the front-end found it."""
    admin_port: int               # the configured admin port (always an admin port)
    public_port: int
    vpc_cidrs: list[Network4or6]
    allowed_cidrs: list[Network4or6] = field(default_factory=list)
    admin_ports: set[int] = field(default_factory=set)      # every port Hydra's admin API listens on
    admin_why: dict[int, str] = field(default_factory=dict)  # port -> where it comes from
    every_admin: str = ""         # why every port may be the admin port (empty: the set above is all)
    home_vpcs: set[str] | None = None   # the VPCs serving the admin port (None: not tracked)
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
    edge_doors: list[EdgeDoor] = field(default_factory=list)
    registries: dict[str, Registry] = field(default_factory=dict)
    entry_groups: dict[str, str] = field(default_factory=dict)  # group id -> who arrives through it

    def __post_init__(self) -> None:
        self.admin_ports.add(self.admin_port)
        self.admin_why.setdefault(self.admin_port, "hydra_admin_port")

    def add_admin_port(self, port: int, why: str) -> None:
        self.admin_ports.add(port)
        self.admin_why.setdefault(port, why)

    def is_admin(self, port: int | None) -> bool:
        """Whether ``port`` may be Hydra's admin port (None: an unknown port, which may)."""
        return port is None or bool(self.every_admin) or port in self.admin_ports

    def admin_text(self) -> str:
        if self.every_admin:
            return f"every port ({self.every_admin})"
        ports = sorted(self.admin_ports)
        return f"port {ports[0]}" if len(ports) == 1 else f"admin ports {', '.join(map(str, ports))}"

    def port_text(self, port: int | None) -> str:
        """``port N``, with why N is an admin port when it is not the configured one."""
        if port is None:
            return self.admin_text()
        if port != self.admin_port and port in self.admin_why:
            return f"port {port} (Hydra's admin API: {self.admin_why[port]})"
        if port != self.admin_port and self.every_admin:
            return f"port {port} (every port may be Hydra's admin port: {self.every_admin})"
        return f"port {port}"


# ------------------------------------------------------- Hydra containers ---

@dataclass(frozen=True)
class PortMapping:
    container_port: int | None    # None: unresolved
    host_port: int | None = None
    name: str | None = None


@dataclass
class ContainerSpec:
    """A container definition as a front-end read it (None: unresolved)."""
    name: str
    image: str | None
    command: list[str] | None = field(default_factory=list)
    entry_point: list[str] | None = field(default_factory=list)
    environment: dict[str, str | None] = field(default_factory=dict)
    secrets: set[str] = field(default_factory=set)
    environment_files: bool = False
    port_mappings: list[PortMapping] | None = field(default_factory=list)


# Hydra subcommands that serve nothing (with Hydra's own entry point)
NOT_SERVING = {"migrate", "janitor", "version", "help", "completion", "create", "get", "list", "update",
               "delete", "import", "introspect", "revoke"}


@dataclass
class HydraServing:
    """What a container that runs Hydra's server listens on."""
    admin_ports: set[int]
    every_port: str = ""          # SERVE_ADMIN_PORT unresolvable: every port of the container is admin
    why: dict[int, str] = field(default_factory=dict)


ORY_VARIABLES = ("SERVE_ADMIN_PORT", "SERVE_PUBLIC_PORT", "SERVE_ADMIN_HOST", "URLS_SELF_ISSUER", "SECRETS_SYSTEM")


def hydra_serving(c: ContainerSpec, where: str, registered_admin: bool = False) -> HydraServing | None:
    """The admin ports of ``c`` if it may run Hydra's server (None when it provably does not).

    A container runs Hydra when its command or entry point serves (``serve all``, ``serve admin``), its
    image is Hydra's, it is configured like Hydra (``SERVE_ADMIN_PORT``, ``URLS_SELF_ISSUER``...), its
    service registers it with a target group that reaches the admin port, or what decides this cannot
    be resolved."""
    words = " ".join((c.entry_point or []) + (c.command or [])) if None not in (c.command, c.entry_point) else None
    hydra_entry = c.entry_point is not None and (not c.entry_point or c.entry_point == ["hydra"])
    serves = words is not None and re.search(r"\bserve\s+(all|admin)\b", words)
    configured_like_hydra = any(name in c.environment or name in c.secrets for name in ORY_VARIABLES)
    if not serves and not registered_admin:
        if hydra_entry and c.command and c.command[0] in NOT_SERVING:
            return None   # `hydra migrate ...`, `hydra janitor ...`: no server at all
        if words is not None and re.search(r"\bserve\s+public\b", words):
            return None   # the public API only
        known = c.image is not None and c.command is not None and c.entry_point is not None
        if known and "hydra" not in c.image.lower() and not configured_like_hydra:
            return None
    label = f"{where} container {c.name}"
    serving = HydraServing(set())
    for mapping in c.port_mappings or []:
        if mapping.name is not None and mapping.name.lower() == "admin" and mapping.container_port is not None:
            serving.admin_ports.add(mapping.container_port)
            serving.why.setdefault(mapping.container_port, f"the port named admin of {label}")
    configured = words is not None and (re.search(r"(^|\s)--config(\s|=|$)", words) or
                                        re.search(r"\bserve\b.*\s-c(\s|=|$)", words))
    value = c.environment.get("SERVE_ADMIN_PORT")
    if value is not None and value.strip().isdigit():
        serving.admin_ports.add(int(value))
        serving.why.setdefault(int(value), f"SERVE_ADMIN_PORT of {label}")
    elif "SERVE_ADMIN_PORT" in c.environment:
        serving.every_port = f"SERVE_ADMIN_PORT of {label} cannot be resolved"
    elif "SERVE_ADMIN_PORT" in c.secrets:
        serving.every_port = f"SERVE_ADMIN_PORT of {label} is a secret"
    elif c.environment_files:
        serving.every_port = f"{label} reads environment files, which may set SERVE_ADMIN_PORT"
    elif configured:
        serving.every_port = f"{label} reads a configuration file, which may set serve.admin.port"
    else:
        serving.admin_ports.add(HYDRA_ADMIN_DEFAULT)
        serving.why.setdefault(HYDRA_ADMIN_DEFAULT, f"Hydra's default admin port, {label} sets no SERVE_ADMIN_PORT")
    return serving


def container_ports(c: ContainerSpec) -> tuple[set[int], str]:
    """Every port ``c`` maps (container and host ports), and why that is not all of them ('' when it is)."""
    ports: set[int] = set()
    if c.port_mappings is None:
        return ports, f"the port mappings of container {c.name} cannot be resolved"
    why = ""
    for m in c.port_mappings:
        if m.container_port is None:
            why = f"a port mapping of container {c.name} cannot be resolved"
            continue
        ports.add(m.container_port)
        if m.host_port not in (None, 0):
            ports.add(m.host_port)
    return ports, why


def public_port(c: ContainerSpec) -> int | None:
    """The port Hydra's public API listens on in ``c`` (None: unresolvable)."""
    public = c.environment.get("SERVE_PUBLIC_PORT", str(HYDRA_PUBLIC_DEFAULT))
    if "SERVE_PUBLIC_PORT" in c.secrets or (public is not None and not public.strip().isdigit()) or public is None:
        return None
    return int(public)


def serving_ports(c: ContainerSpec, serving: HydraServing) -> set[int]:
    """Every port a Hydra container listens on that a front-end knows of (its public port too)."""
    ports, _ = container_ports(c)
    public = public_port(c)
    if public is not None:
        ports.add(public)
    return ports | serving.admin_ports


@dataclass
class TaskServing:
    """What a task definition's containers listen on, and which of those ports are Hydra's admin API."""
    ports: set[int] = field(default_factory=set)       # every port known to be listened on
    admin: dict[int, str] = field(default_factory=dict)  # admin port -> why
    every: str = ""               # why every port may be the admin port (an admin port that cannot be placed)
    unknown: str = ""             # why the task may listen on ports not in ``ports``
    hydra: bool = False           # a container of it may run Hydra's server


def task_serving(containers: list[ContainerSpec], where: str, registered_admin: bool = False,
                 registered: dict[str | None, set[int]] | None = None) -> TaskServing:
    """Ports and admin ports of a task definition's containers (``registered``: container name -> ports its
    services register with load balancers; None as a name: any container).

    Containers of one task share localhost (awsvpc): a port of another container in a task that runs Hydra
    may forward to Hydra's admin API, so it counts as an admin port too."""
    registered = registered or {}
    result = TaskServing()
    servers = []
    for c in containers:
        mapped, unresolved = container_ports(c)
        result.ports |= mapped
        result.unknown = result.unknown or unresolved
        serving = hydra_serving(c, where, registered_admin)
        if serving is not None:
            servers.append((c, serving))
            result.ports |= serving_ports(c, serving)
    result.hydra = bool(servers)
    for c, serving in servers:
        for port in sorted(serving.admin_ports):
            result.admin.setdefault(port, serving.why.get(port, f"{where} container {c.name}"))
        if serving.every_port:
            own = registered.get(c.name, set()) | registered.get(None, set())
            _, unresolved = container_ports(c)
            if unresolved or not (c.port_mappings or own):
                result.every = result.every or f"{serving.every_port}, and its ports are unknown"
            for port in sorted(serving_ports(c, serving) | own):
                result.admin.setdefault(port, serving.every_port)
    if servers:
        # What else a task running Hydra listens on may lead to its admin API: containers share localhost.
        for c in containers:
            mapped, unresolved = container_ports(c)
            server = next((serving for other, serving in servers if other is c), None)
            own = {public_port(c)} if server is not None else set()
            why = f"{where} container {c.name} listens on it in a task that runs Hydra (containers share localhost)"
            for port in sorted(mapped - own - {None}):
                result.admin.setdefault(port, why)
            if unresolved:
                result.every = result.every or f"{where} container {c.name}, in a task that runs Hydra, listens on " \
                                               f"ports that cannot be resolved"
    if result.every:
        result.unknown = result.unknown or result.every
    return result


# ------------------------------------------------- ECS tasks run by others ---

@dataclass
class RunTask:
    """An ECS task that something starts (a schedule, a state machine...), with its network."""
    task_definition: Any
    assign_public_ip: Any
    security_groups: Any
    subnets: Any
    dynamic: str = ""             # why a value is only known at run time


_DYNAMIC = object()


def _key(d: dict, *names: str) -> Any:
    """d[name] for the first of ``names`` present in any case; _DYNAMIC for a run-time 'name.$' key."""
    lowered = {str(k).lower(): k for k in d}
    for name in names:
        if name in lowered:
            return d[lowered[name]]
        if name + ".$" in lowered:
            return _DYNAMIC
    return None


def find_run_tasks(document: Any, is_leaf: Callable[[Any], bool] = lambda v: False) -> list[RunTask]:
    """Every ECS run-task request with an awsvpc network in ``document`` (template properties, a state
    machine definition, an SDK call's parameters), in any of the casings AWS uses."""
    found: list[RunTask] = []

    def walk(node: Any) -> None:
        if is_leaf(node):
            return
        if isinstance(node, list):
            for item in node:
                walk(item)
            return
        if not isinstance(node, dict):
            return
        network = _key(node, "networkconfiguration")
        if network is not None:
            dynamic = ""
            vpc = _key(network, "awsvpcconfiguration") if isinstance(network, dict) and not is_leaf(network) \
                else _DYNAMIC
            if network is _DYNAMIC or vpc is _DYNAMIC or is_leaf(vpc):
                dynamic, vpc = "its network configuration cannot be resolved", {}
            if isinstance(vpc, dict) and not is_leaf(vpc):
                values = [_key(vpc, "assignpublicip"), _key(vpc, "securitygroups"), _key(vpc, "subnets")]
                task_definition = _key(node, "taskdefinition", "taskdefinitionarn")
                if any(v is _DYNAMIC for v in [*values, task_definition]):
                    dynamic = dynamic or "a value of it is computed at run time"
                values = [None if v is _DYNAMIC else v for v in values]
                found.append(RunTask(None if task_definition is _DYNAMIC else task_definition, *values,
                                     dynamic=dynamic))
            elif vpc is not None:
                found.append(RunTask(None, None, None, None, dynamic or "its network configuration is not readable"))
        for key, value in node.items():
            walk(value)
    walk(document)
    return found


def parse_json_document(text: str) -> Any:
    """A JSON document (a state machine definition, an SDK call); None when it is not one."""
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return None


# ------------------------------------------------------------- violations ---

RULES = {
    "admin-port-ingress": "A security group rule opens the admin port to a source that is not provably inside the VPC",
    "internet-facing-lb": "An internet-facing load balancer reaches the admin port",
    "vpc-linked-lb": "A load balancer behind an API Gateway VPC link reaches the admin port",
    "api-integration": "An API Gateway integration reaches the admin port or the admin load balancer",
    "privatelink": "A PrivateLink endpoint service, CloudFront VPC origin or VPC Lattice share fronts the admin port",
    "verified-access": "A Verified Access endpoint reaches the admin port",
    "global-accelerator": "A Global Accelerator endpoint group reaches the admin port",
    "hydra-public": "Something serving the admin port has a public IP or sits in public subnets",
    "opaque-group": "Something that serves or forwards the admin port carries a security group this app cannot see",
    "introspection-door": ("A load balancer that routes requests forwards more of the admin API than "
                           f"{INTROSPECTION_METHOD} {INTROSPECTION_PATH} (the introspection door)"),
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
    "verified-access": "point the endpoint at a load balancer and port that do not reach the admin port",
    "global-accelerator": "point the accelerator at a load balancer and port that do not reach the admin port",
    "hydra-public": "run Hydra (services and one-off tasks) in the private subnets with assign_public_ip=False",
    "opaque-group": ("attach only security groups this app defines, and grant access to the admin port with "
                     "IngressStack.grant_admin_access()"),
    "introspection-door": (f"forward to the admin port only in a listener rule with the conditions path-pattern "
                           f"[{INTROSPECTION_PATH}] and http-request-method [{INTROSPECTION_METHOD}] and no "
                           "transform, with a fixed response as the default action (the IntrospectionDoor "
                           "construct); for the whole admin API use the admin NLB and grant_admin_access()"),
}


@dataclass(frozen=True)
class Violation:
    rule: str
    path: str
    detail: str

    def message(self) -> str:
        return f"[{self.rule}] {self.path}: {self.detail}. {RULES[self.rule]}. Fix: {FIXES[self.rule]}."


def in_ranges(port: int | None, ranges: PortRanges | None) -> bool:
    return ranges is None or port is None or any(low <= port <= high for low, high in ranges)


def ranges_text(ranges: PortRanges | None) -> str:
    if ranges is None:
        return "every port (unresolvable)"
    spans = [str(a) if a == b else f"{a}-{b}" for a, b in ranges]
    return f"port{'s' * (len(spans) > 1 or ranges[0][0] != ranges[0][1])} {', '.join(spans)}"


# --------------------------------------------------------------- analysis ---

Want = Callable[[Union[int, None]], bool]


def _want(ports: int | Iterable[int] | None | Callable) -> Want:
    if callable(ports):
        return ports
    if ports is None:
        return lambda p: True
    wanted = {ports} if isinstance(ports, int) else set(ports)
    return lambda p: p is None or p in wanted


class Analysis:
    """Reachability over a :class:`Network`."""

    def __init__(self, net: Network) -> None:
        self.net = net
        self.admin: Want = net.is_admin
        self.admin_lbs = {lb_id for lb_id, lb in net.load_balancers.items() if self.lb_reaches(lb, self.admin)}
        self.vpc_linked_lbs = self._vpc_linked_lbs()
        self.fronted = self._fronted_lbs()
        self.outside_groups = self._outside_groups()

    # -- helpers
    def _candidate_ports(self) -> set[int] | None:
        """The ports an admin-port rule must cover one of (None: any port will do)."""
        return None if self.net.every_admin else set(self.net.admin_ports)

    def _target_group(self, tg: Ref) -> TargetGroup | None:
        return self.net.target_groups.get(tg) if isinstance(tg, str) else None

    def listener_reaches(self, listener: Listener, port: int | Iterable[int] | None | Callable,
                         _seen: frozenset[str] = frozenset()) -> bool:
        want = _want(port)
        if want(listener.port):
            return True
        for tg_id in listener.target_groups:
            if isinstance(tg_id, Foreign):
                continue   # another app's target group: only security-group rules lead to Hydra
            tg = self._target_group(tg_id)
            if tg is None or tg.reaches(want):  # unknown target group: fail closed
                return True
            for behind in tg.forwards_to:  # an NLB in front of an ALB reaches what the ALB reaches
                if isinstance(behind, Foreign):
                    continue
                if not isinstance(behind, str) or behind not in self.net.load_balancers:
                    return True
                if behind not in _seen and self.lb_reaches(self.net.load_balancers[behind], want, _seen | {behind}):
                    return True
        return False

    def lb_reaches(self, lb: LoadBalancer, port: int | Iterable[int] | None | Callable,
                   _seen: frozenset[str] = frozenset()) -> bool:
        want = _want(port)
        return any(self.listener_reaches(listener, want, _seen | {lb.id}) for listener in lb.listeners)

    def lb_reaches_on(self, lb: LoadBalancer, ports: PortRanges | None, want: Want) -> bool:
        """Whether traffic sent to ``lb`` on ``ports`` (None: any) reaches a port ``want`` accepts."""
        return any(in_ranges(listener.port, ports) and self.listener_reaches(listener, want)
                   for listener in lb.listeners)

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

    def _listener(self, listener_id: Ref | None) -> Listener | None:
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
        for door in self.net.edge_doors:
            if isinstance(door.target, str) and door.target in self.net.load_balancers:
                what = "Verified Access endpoint" if door.rule == "verified-access" else \
                    "Global Accelerator endpoint group"
                reasons.setdefault(door.target, f"{what} {door.path}")
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
        net = self.net
        outside: dict[str, str] = {}
        if net.home_vpcs is not None:
            for g, info in net.groups.items():
                if isinstance(info.vpc, Opaque):
                    outside[g] = f"its VPC cannot be resolved ({info.vpc.why})"
                elif info.vpc is None:
                    outside[g] = "it names no VPC (the default VPC)"
                elif info.vpc not in net.home_vpcs:
                    outside[g] = f"it belongs to another VPC ({info.vpc}) than the one serving the admin port"
        for lb_id, why in self.fronted.items():
            for g in net.load_balancers[lb_id].groups:
                if isinstance(g, str):
                    outside.setdefault(g, f"it is attached to {net.load_balancers[lb_id].path} ({why})")
        for link in net.vpc_links.values():
            for g in link.groups:
                if isinstance(g, str):
                    outside.setdefault(g, f"API Gateway sends through it ({link.path})")
        for g, who in net.entry_groups.items():
            outside.setdefault(g, who)
        unidentified: list[str] = []   # something outside sends through a group we cannot identify
        for w in net.workloads:
            if w.public_ip or w.public_subnet:
                how = w.public_why or ("publicly addressed" if w.public_ip else "in public subnets")
                for g in w.groups:
                    if isinstance(g, str):
                        outside.setdefault(g, f"it is attached to {w.path} ({how})")
                    else:
                        unidentified.append(f"{w.path} ({how}) carries a security group the guard cannot "
                                            f"identify ({g.why}), which may be this one")
        for link in net.vpc_links.values():
            unidentified += [f"API Gateway sends through {link.path}, which carries a security group the guard "
                             f"cannot identify ({g.why}), which may be this one" for g in link.groups
                             if isinstance(g, Opaque)]
        for lb_id, why in self.fronted.items():
            lb = net.load_balancers[lb_id]
            if lb.kind != "unknown":   # a load balancer this app does not define has no groups of ours
                unidentified += [f"{lb.path} ({why}) carries a security group the guard cannot identify ({g.why}), "
                                 f"which may be this one" for g in lb.groups if isinstance(g, Opaque)]
        # Forwarders (load balancers, NAT/router instances) carry whatever their own rules
        # admit (a load balancer with listeners: on a listener): follow the chain until nothing changes.
        forwarder_groups: dict[str, str] = {}
        listeners_of: dict[str, list[Listener] | None] = {}   # None: forwards whatever it admits
        for lb in net.load_balancers.values():
            for g in lb.groups:
                if isinstance(g, str):
                    forwarder_groups[g] = lb.path
                    known = listeners_of.get(g, [])
                    listeners_of[g] = None if known is None or not lb.listeners else known + lb.listeners
        for w in net.workloads:
            if w.forwards:
                for g in w.groups:
                    if isinstance(g, str):
                        forwarder_groups[g] = w.path
                        listeners_of[g] = None
        changed = True
        while changed:
            changed = False
            for rule in net.rules:
                if not isinstance(rule.group, str) or rule.group in outside or rule.group not in forwarder_groups:
                    continue
                listeners = listeners_of[rule.group]
                if listeners is not None and not any(listener.admits(rule) for listener in listeners):
                    continue   # nothing it forwards arrives this way
                if not self._inside(rule.source, outside):
                    outside[rule.group] = (f"{forwarder_groups[rule.group]} forwards traffic it admits from "
                                           f"{self.describe_source(rule.source, outside)}")
                    changed = True
        if unidentified:   # any group of this app may be the one that cannot be identified
            for g in net.groups:
                outside.setdefault(g, unidentified[0])
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

    def serves_admin(self, w: Workload) -> bool:
        return bool(w.every_port) or any(self.admin(p) for p in w.ports)

    def _ordered_admin_ports(self) -> list[int]:
        """The admin ports, the configured one first (messages name the first one reached)."""
        return [self.net.admin_port] + sorted(self.net.admin_ports - {self.net.admin_port})

    def _served_admin_port(self, w: Workload) -> str:
        for port in self._ordered_admin_ports():
            if port in w.ports:
                return self.net.port_text(port)
        for port in sorted(w.ports):
            if self.admin(port):
                return self.net.port_text(port)
        return f"any port ({w.every_port})" if w.every_port else self.net.admin_text()

    def _admin_port_reached(self, reaches: Callable[[Want], bool]) -> str:
        """Which admin port ``reaches`` reaches, for messages."""
        for port in self._ordered_admin_ports():
            if reaches(_want(port)):
                return self.net.port_text(port)
        return self.net.admin_text()

    def _lb_admin_port(self, lb_id: Ref | None) -> str:
        lb = self.net.load_balancers.get(lb_id) if isinstance(lb_id, str) else None
        if lb is None:
            return self.net.port_text(self.net.admin_port)
        return self._admin_port_reached(lambda want: self.lb_reaches(lb, want))

    # -- the rules
    def violations(self) -> list[Violation]:
        net = self.net
        found: list[Violation] = []
        candidates = self._candidate_ports()
        for rule in net.rules:
            if rule.covers_any(self.admin, candidates) and not self.inside(rule.source):
                target = net.groups[rule.group].path if isinstance(rule.group, str) and rule.group in net.groups \
                    else str(rule.group)
                found.append(Violation("admin-port-ingress", rule.path,
                                       f"{rule.ports()} into {target} from {self.describe_source(rule.source)}"
                                       + self._rule_port_note(rule)))
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
                if isinstance(lb_id, Foreign):
                    continue
                if not isinstance(lb_id, str) or lb_id in self.admin_lbs:
                    found.append(Violation("privatelink", service.path,
                                           f"the endpoint service fronts {self._lb_name(lb_id)}, which reaches "
                                           f"{self._lb_admin_port(lb_id)}"))
        for origin in net.vpc_origins:
            if isinstance(origin.target, Foreign):
                continue
            if (not isinstance(origin.target, str) or origin.target in self.admin_lbs or origin.ports is None
                    or any(self.admin(p) for p in origin.ports)):
                ports = "unresolvable" if origin.ports is None else (sorted(origin.ports) or "default")
                found.append(Violation("privatelink", origin.path,
                                       f"the CloudFront VPC origin targets {self._lb_name(origin.target)} "
                                       f"(ports {ports})"))
        for door in net.lattice_doors:
            target = door.target_lb
            if isinstance(target, Foreign):
                continue
            if (door.ports is None or any(self.admin(p) for p in door.ports) or isinstance(target, Opaque)
                    or (isinstance(target, str) and target in self.admin_lbs)):
                shared = door.what or (self._lb_name(target) if target is not None else "a resource")
                ports = "every port" if door.ports is None else f"ports {sorted(door.ports)}"
                reached = self._lb_admin_port(target) if isinstance(target, str) and target in self.admin_lbs else \
                    self._admin_port_reached(lambda want: door.ports is None or any(want(p) for p in door.ports))
                found.append(Violation("privatelink", door.path,
                                       f"VPC Lattice shares {shared} on {ports}, which reaches {reached}"))
        for door in net.edge_doors:
            why = self._edge_reaches_admin(door)
            if why:
                found.append(Violation(door.rule, door.path, why))
        for w in net.workloads:
            if not self.serves_admin(w):
                continue
            if w.public_ip or w.public_subnet:
                where = "has a public IP" if w.public_ip else "runs in public subnets"
                how = f" ({w.public_why})" if w.public_why else ""
                found.append(Violation("hydra-public", w.path,
                                       f"the {w.kind} serving {self._served_admin_port(w)} {where}{how}"))
            for g in w.groups:
                if isinstance(g, Opaque):
                    found.append(Violation("opaque-group", w.path,
                                           f"the {w.kind} serving {self._served_admin_port(w)} carries {g.why}"))
        for lb_id in sorted(self.admin_lbs):
            lb = net.load_balancers[lb_id]
            for listener in lb.listeners if lb.kind not in ("network", "gateway", "classic") else []:
                for route in listener.routes:
                    why = route.problem()
                    if why and self._route_reaches_admin(route):
                        found.append(Violation("introspection-door", route.path,
                                               f"forwards {why} to Hydra's admin API on "
                                               f"{self._admin_port_reached(self._route_wants(route))}"))
        for lb_id in sorted(self.admin_lbs):
            for g in net.load_balancers[lb_id].groups:
                if isinstance(g, Opaque):
                    found.append(Violation("opaque-group", net.load_balancers[lb_id].path,
                                           f"the load balancer reaching {self._lb_admin_port(lb_id)} carries {g.why}"))
        return sorted(set(found), key=lambda v: (v.rule, v.path, v.detail))

    def _route_reaches_admin(self, route: Route) -> bool:
        return self.listener_reaches(Listener(route.path, route.path, -1, route.target_groups), self.admin)

    def _route_wants(self, route: Route) -> Callable[[Want], bool]:
        return lambda want: self.listener_reaches(Listener(route.path, route.path, -1, route.target_groups), want)

    def _rule_port_note(self, rule: IngressRule) -> str:
        """Why the rule's ports are the admin port, when that is not the configured one."""
        low, high = rule._span()
        if low <= self.net.admin_port <= high:
            return ""
        for port in sorted(self.net.admin_ports):
            if low <= port <= high:
                return f" (port {port} is Hydra's admin API: {self.net.admin_why.get(port, '')})"
        return f" (every port may be Hydra's admin port: {self.net.every_admin})" if self.net.every_admin else ""

    def _edge_reaches_admin(self, door: EdgeDoor) -> str | None:
        target, ports = door.target, door.ports
        if isinstance(target, Foreign):
            return None
        if isinstance(target, str) and target in self.net.load_balancers:
            lb = self.net.load_balancers[target]
            if self.lb_reaches_on(lb, ports, self.admin):
                return (f"it sends {ranges_text(ports)} to {lb.path}, which reaches "
                        f"{self._admin_port_reached(lambda w: self.lb_reaches_on(lb, ports, w))}")
            return None
        if isinstance(target, Opaque):
            return f"its {door.target_kind} cannot be resolved ({target.why})"
        if ports is None or any(in_ranges(p, ports) for p in self.net.admin_ports) or self.net.every_admin:
            name = target if isinstance(target, str) else f"a {door.target_kind}"
            return f"it sends {ranges_text(ports)} to {name}, which may serve {self.net.admin_text()}"
        return None

    def _lb_name(self, lb_id: Ref | None) -> str:
        if isinstance(lb_id, str) and lb_id in self.net.load_balancers:
            return self.net.load_balancers[lb_id].path
        return str(lb_id)

    def _reach_detail(self, lb: LoadBalancer) -> str:
        for listener in lb.listeners:
            if self.listener_reaches(listener, self.admin):
                if listener.port is not None and self.admin(listener.port):
                    return f"its listener {listener.path} listens on {self.net.port_text(listener.port)}"
                if listener.port is None:
                    return f"its listener {listener.path}, on an unresolvable port, reaches " \
                           f"{self._admin_port_reached(lambda want: self.listener_reaches(listener, want))}"
                port = self._admin_port_reached(lambda want: self.listener_reaches(listener, want))
                return f"its listener {listener.path} on port {listener.port} forwards to {port}"
        return f"it reaches {self._lb_admin_port(lb.id)}"

    def registry_reaches_admin(self, registry: Registry) -> bool:
        return bool(registry.every) or any(self.admin(p) for p in registry.ports)

    def _integration_reaches_admin(self, i: Integration) -> str | None:
        net = self.net
        if isinstance(i.vpc_link, Opaque):
            return f"its VPC link cannot be resolved ({i.vpc_link.why})"
        private = i.vpc_link is not None and not isinstance(i.vpc_link, Foreign)
        if i.port is not None and self.admin(i.port) and (private or not i.foreign_host):
            return f"its URI {i.uri!r} names {net.port_text(i.port)}"
        for name, lb_id in (("URI host", i.host_lb), ("integration target", i.target_lb)):
            if isinstance(lb_id, Opaque):
                return f"its {name} cannot be resolved ({lb_id.why})"
            if isinstance(lb_id, str) and lb_id in self.admin_lbs:
                return f"its {name} is {self._lb_name(lb_id)}, which reaches {self._lb_admin_port(lb_id)}"
        if isinstance(i.target_listener, Opaque):
            return f"its target listener cannot be resolved ({i.target_listener.why})"
        if isinstance(i.target_listener, str):
            listener = self._listener(i.target_listener)
            if listener is None:
                return f"it targets the listener {i.target_listener}, which this app does not define"
            if self.listener_reaches(listener, self.admin):
                reached = self._admin_port_reached(lambda want: self.listener_reaches(listener, want))
                return f"it targets the listener {listener.path}, which reaches {reached}"
        if isinstance(i.target_registry, Opaque):
            return f"its Cloud Map service cannot be resolved ({i.target_registry.why})"
        if isinstance(i.target_registry, str):
            registry = net.registries.get(i.target_registry)
            if registry is None or self.registry_reaches_admin(registry):
                who = ", ".join(registry.workloads) if registry and registry.workloads else "a workload"
                reached = f"any port ({registry.every})" if registry and registry.every else \
                    self._admin_port_reached(lambda want: registry is None or any(want(p) for p in registry.ports))
                return (f"it targets the Cloud Map service {registry.path if registry else i.target_registry}, "
                        f"into which {who} registers {reached}")
        link = net.vpc_links.get(i.vpc_link) if isinstance(i.vpc_link, str) else None
        if link is not None and link.version == 1:
            # A V1 link reaches every listener of its NLB; the URI's port picks one.
            for lb_id in link.target_lbs:
                if isinstance(lb_id, Foreign):
                    continue
                lb = net.load_balancers.get(lb_id) if isinstance(lb_id, str) else None
                if lb is None:
                    return f"its VPC link {link.path} targets an unresolvable load balancer"
                if i.port is None and self.lb_reaches(lb, self.admin):
                    return f"its URI port is unknown and its VPC link reaches {lb.path}, which serves " \
                           f"{self._lb_admin_port(lb.id)}"
                for listener in lb.listeners:
                    if (listener.port is None or listener.port == i.port) and \
                            self.listener_reaches(listener, self.admin):
                        reached = self._admin_port_reached(lambda want: self.listener_reaches(listener, want))
                        return f"its VPC link's listener {listener.path} forwards to {reached}"
        return None

    # -- who can reach what (the exposure report)
    def internet_paths_to(self, port: int | None = None) -> list[str]:
        """Every way traffic from outside the VPC could arrive on ``port`` (None: the admin ports)."""
        want = self.admin if port is None else _want(port)
        candidates = self._candidate_ports() if port is None else {port}
        paths = []
        for lb_id, why in self.fronted.items():
            lb = self.net.load_balancers[lb_id]
            if self.lb_reaches(lb, want):
                paths.append(f"{why} -> {lb.path}")
        for rule in self.net.rules:
            if rule.covers_any(want, candidates) and not self.inside(rule.source):
                paths.append(f"{self.describe_source(rule.source)} -> {rule.path}")
        for w in self.net.workloads:
            if (w.every_port or any(want(p) for p in w.ports)) and (w.public_ip or w.public_subnet):
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
