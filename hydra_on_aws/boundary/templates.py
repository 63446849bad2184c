"""A read-only model of the app's synthesized CloudFormation templates.

It resolves what one stack says about another (``Fn::ImportValue`` of this
app's own exports, ``Fn::GetStackOutput``, ``Ref``/``Fn::GetAtt``), so that
rules about security groups and load balancers can follow references across
stacks. Anything it cannot resolve comes back as :class:`Unresolved`, and the
callers treat that as the worst case.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping


@dataclass(frozen=True)
class ResourceRef:
    """A resource of this app (``attribute`` None for ``Ref``)."""
    stack: str
    logical_id: str
    attribute: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.stack, self.logical_id)


@dataclass(frozen=True)
class Unresolved:
    """A value the model cannot pin down (a parameter, a foreign import, a lookup...)."""
    why: str


@dataclass(frozen=True)
class Resource:
    stack: str
    logical_id: str
    type: str
    properties: Mapping[str, Any]
    raw: Mapping[str, Any]

    @property
    def ref(self) -> ResourceRef:
        return ResourceRef(self.stack, self.logical_id)

    @property
    def path(self) -> str:
        """The construct path CDK records in metadata, else stack/logical id."""
        return (self.raw.get("Metadata") or {}).get("aws:cdk:path") or f"{self.stack}/{self.logical_id}"


@dataclass(frozen=True)
class Rule:
    """One security group ingress rule, normalized (Unresolved where the template does not pin a field)."""
    group: ResourceRef | Unresolved
    protocol: str | Unresolved
    from_port: int | Unresolved
    to_port: int | Unresolved
    source: ResourceRef | ipaddress.IPv4Network | ipaddress.IPv6Network | Unresolved
    origin: Resource
    description: str = ""


PSEUDO_PARAMETERS = ("AWS::AccountId", "AWS::Partition", "AWS::Region", "AWS::URLSuffix", "AWS::StackName",
                     "AWS::StackId")


def is_intrinsic(value: Any) -> bool:
    """Whether ``value`` is a CloudFormation intrinsic function (``Ref``, ``Fn::...``)."""
    if not isinstance(value, dict) or len(value) != 1:
        return False
    name = str(next(iter(value)))
    return name in ("Ref", "Condition") or name.startswith("Fn::")


@dataclass
class AppTemplates:
    """Every template of one synthesized app, keyed by stack (artifact) name."""
    templates: Mapping[str, Mapping[str, Any]]
    _exports: dict[str, tuple[str, Any]] = field(default_factory=dict, init=False)
    _outputs: dict[tuple[str, str], Any] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        for stack, template in self.templates.items():
            for name, output in (template.get("Outputs") or {}).items():
                self._outputs[(stack, name)] = output.get("Value")
                export = (output.get("Export") or {}).get("Name")
                if isinstance(export, str):
                    self._exports[export] = (stack, output.get("Value"))

    # -- resources
    def resources(self, *types: str) -> Iterator[Resource]:
        for stack, template in self.templates.items():
            for logical_id, raw in (template.get("Resources") or {}).items():
                if not types or raw.get("Type") in types:
                    yield Resource(stack, logical_id, raw.get("Type", ""), raw.get("Properties") or {}, raw)

    def resource(self, ref: ResourceRef) -> Resource | None:
        raw = (self.templates.get(ref.stack, {}).get("Resources") or {}).get(ref.logical_id)
        if raw is None:
            return None
        return Resource(ref.stack, ref.logical_id, raw.get("Type", ""), raw.get("Properties") or {}, raw)

    # -- values
    def resolve(self, stack: str, value: Any) -> Any:
        """Follow references to this app's resources; literals come back as they are.

        Joins, substitutions, selections and mapping lookups of literals are computed; pseudo
        parameters stay in the text as ``${AWS::Region}`` (an ARN built from them is still a literal
        ARN); anything else (parameters, conditions, foreign imports) is :class:`Unresolved`."""
        if isinstance(value, (str, int, float, bool)) or value is None:
            return value
        if isinstance(value, list):
            return Unresolved("a list where one value was expected")
        if not isinstance(value, dict) or len(value) != 1:
            return Unresolved(f"an unrecognized value {value!r}")
        (fn, arg), = value.items()
        template = self.templates.get(stack, {})
        if fn == "Ref":
            if arg in PSEUDO_PARAMETERS:
                return "${" + arg + "}"
            if isinstance(arg, str) and arg.startswith("AWS::"):
                return Unresolved(f"the pseudo parameter {arg}")
            if arg in (template.get("Parameters") or {}):
                return Unresolved(f"the parameter {arg}")
            if arg in (template.get("Resources") or {}):
                return ResourceRef(stack, arg)
            return Unresolved(f"Ref to unknown {arg}")
        if fn == "Fn::GetAtt":
            if isinstance(arg, str):
                arg = arg.split(".", 1)
            if not isinstance(arg, list) or len(arg) != 2 or not isinstance(arg[1], str):
                return Unresolved(f"the attribute {arg!r}")
            logical_id, attribute = arg
            if logical_id in (template.get("Resources") or {}):
                return ResourceRef(stack, logical_id, attribute)
            return Unresolved(f"GetAtt of unknown {logical_id}")
        if fn == "Fn::ImportValue":
            name = self.resolve(stack, arg) if isinstance(arg, dict) else arg
            if not isinstance(name, str) or name not in self._exports:
                return Unresolved(f"an import of {arg!r}, which no stack of this app exports")
            producer, expr = self._exports[name]
            return self.resolve(producer, expr)
        if fn == "Fn::GetStackOutput":
            producer, name = (arg or {}).get("StackName"), (arg or {}).get("OutputName")
            if (producer, name) not in self._outputs:
                return Unresolved(f"the output {name!r} of stack {producer!r}, which this app does not have")
            return self.resolve(producer, self._outputs[(producer, name)])
        if fn == "Fn::If":
            condition = arg[0] if isinstance(arg, list) and arg else arg
            return Unresolved(f"a value chosen by the condition {condition} (Fn::If)")
        if fn == "Fn::FindInMap":
            return self._find_in_map(stack, arg)
        if fn == "Fn::Join":
            return self._join(stack, arg)
        if fn == "Fn::Sub":
            return self._sub(stack, arg)
        if fn == "Fn::Select":
            if isinstance(arg, list) and len(arg) == 2 and isinstance(arg[1], list):
                index = self.resolve(stack, arg[0])
                try:
                    return self.resolve(stack, arg[1][int(index)])
                except (TypeError, ValueError, IndexError):
                    pass
            return Unresolved(f"a selection {arg!r}")
        return Unresolved(f"the intrinsic {fn}")

    def literal(self, stack: str, value: Any) -> str | None:
        """``value`` as a literal string or number (pseudo parameters kept as text), else None."""
        resolved = self.resolve(stack, value)
        if isinstance(resolved, bool) or not isinstance(resolved, (str, int, float)):
            return None
        return str(resolved)

    def _join(self, stack: str, arg: Any) -> Any:
        if not (isinstance(arg, list) and len(arg) == 2 and isinstance(arg[0], str) and isinstance(arg[1], list)):
            return Unresolved(f"a join {arg!r}")
        parts = []
        for part in arg[1]:
            text = self.literal(stack, part)
            if text is None:
                resolved = self.resolve(stack, part)
                return resolved if isinstance(resolved, Unresolved) else Unresolved(f"a join of {part!r}")
            parts.append(text)
        return arg[0].join(parts)

    def _sub(self, stack: str, arg: Any) -> Any:
        text, variables = (arg, {}) if isinstance(arg, str) else (arg + [{}])[:2] if isinstance(arg, list) else (None, {})
        if not isinstance(text, str) or not isinstance(variables, dict):
            return Unresolved(f"a substitution {arg!r}")

        failed: list[str] = []

        def replace(match: Any) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                value = self.literal(stack, variables[name])
                if value is not None:
                    return value
            elif name in PSEUDO_PARAMETERS:
                return "${" + name + "}"
            failed.append(name)
            return ""
        result = re.sub(r"\$\{([^}]*)\}", replace, text)
        return Unresolved(f"a substitution of {failed[0]}") if failed else result

    def _find_in_map(self, stack: str, arg: Any) -> Any:
        if not isinstance(arg, list) or len(arg) < 3:
            return Unresolved(f"a mapping lookup {arg!r}")
        keys = [self.literal(stack, k) for k in arg[:3]]
        mapping = (self.templates.get(stack, {}).get("Mappings") or {}).get(keys[0]) if keys[0] else None
        if None in keys or not isinstance(mapping, dict):
            return Unresolved(f"the mapping lookup {arg!r}")
        value = (mapping.get(keys[1]) or {}).get(keys[2]) if isinstance(mapping.get(keys[1]), dict) else None
        if value is None:
            return Unresolved(f"the mapping lookup {arg!r}, which the mapping does not hold")
        return self.resolve(stack, value)

    def output(self, stack: str, name: str) -> Any:
        return self._outputs.get((stack, name))

    # -- security groups
    def security_group_of(self, ref: Any) -> ResourceRef | Unresolved:
        """Normalize a resolved group id to the security group resource it names."""
        if isinstance(ref, ResourceRef):
            resource = self.resource(ref)
            if resource and resource.type == "AWS::EC2::SecurityGroup" and ref.attribute in (None, "GroupId"):
                return ResourceRef(ref.stack, ref.logical_id)
            if resource and resource.type == "AWS::EC2::VPC" and ref.attribute == "DefaultSecurityGroup":
                return ResourceRef(ref.stack, ref.logical_id, "DefaultSecurityGroup")
            return Unresolved(f"{ref.logical_id}.{ref.attribute} is not a security group of this app")
        if isinstance(ref, Unresolved):
            return ref
        return Unresolved(f"the literal group id {ref!r}")

    def ingress_rules(self) -> list[Rule]:
        """Every ingress rule of the app: inline ones and separate SecurityGroupIngress resources.

        A rule list or rule the template does not pin down (a condition, a computed list) becomes one
        rule whose every field is unresolved."""
        rules: list[Rule] = []
        for sg in self.resources("AWS::EC2::SecurityGroup"):
            entries = sg.properties.get("SecurityGroupIngress") or []
            if not isinstance(entries, list):
                entries = [entries]
            for entry in entries:
                rules.append(self._rule(sg, sg.ref, entry))
        for ingress in self.resources("AWS::EC2::SecurityGroupIngress"):
            group: Any
            if "GroupId" in ingress.properties:
                group = self.security_group_of(self.resolve(ingress.stack, ingress.properties.get("GroupId")))
            else:
                group = Unresolved("a group named by GroupName (the default VPC)")
            rules.append(self._rule(ingress, group, ingress.properties))
        return rules

    def rules_into(self, group: ResourceRef) -> list[Rule]:
        return [r for r in self.ingress_rules() if isinstance(r.group, ResourceRef) and r.group.key == group.key]

    def _rule(self, origin: Resource, group: ResourceRef | Unresolved, entry: Any) -> Rule:
        stack = origin.stack
        if not isinstance(entry, Mapping) or is_intrinsic(entry):
            why = Unresolved(f"a rule the template does not pin down ({entry!r:.80})")
            return Rule(group=group, protocol=why, from_port=why, to_port=why, source=why, origin=origin)
        protocol: Any = self.resolve(stack, entry.get("IpProtocol", "-1"))
        if isinstance(protocol, (str, int)) and not isinstance(protocol, bool) and "${" not in str(protocol):
            protocol = str(protocol).lower()
        elif not isinstance(protocol, Unresolved):
            protocol = Unresolved(f"the protocol {protocol!r}")

        def port(key: str) -> int | Unresolved:
            if key not in entry:
                return -1  # absent: every port (the protocol decides)
            value = self.resolve(stack, entry[key])
            try:
                if isinstance(value, bool):
                    raise TypeError
                return int(value)
            except (TypeError, ValueError):
                return value if isinstance(value, Unresolved) else Unresolved(f"the port {value!r}")
        source: Any
        if "CidrIp" in entry:
            source = self._network(stack, entry["CidrIp"])
        elif "CidrIpv6" in entry:
            source = self._network(stack, entry["CidrIpv6"])
        elif "SourceSecurityGroupId" in entry:
            if "SourceSecurityGroupOwnerId" in entry:
                source = Unresolved("a security group of another account")
            else:
                source = self.security_group_of(self.resolve(stack, entry["SourceSecurityGroupId"]))
        elif "SourcePrefixListId" in entry:
            source = Unresolved("a prefix list")
        elif "SourceSecurityGroupName" in entry:
            source = Unresolved("a security group named by name (EC2-Classic or default VPC)")
        else:
            source = Unresolved("a rule without a source")
        return Rule(group=group, protocol=protocol, from_port=port("FromPort"), to_port=port("ToPort"),
                    source=source, origin=origin, description=str(entry.get("Description", "")))

    def _network(self, stack: str, value: Any) -> Any:
        resolved = self.resolve(stack, value)
        if isinstance(resolved, str):
            try:
                return ipaddress.ip_network(resolved, strict=False)
            except ValueError:
                return Unresolved(f"the malformed CIDR {resolved!r}")
        if isinstance(resolved, ResourceRef):
            resource = self.resource(resolved)
            if resource and resource.type == "AWS::EC2::VPC" and resolved.attribute == "CidrBlock":
                cidr = resource.properties.get("CidrBlock")
                if isinstance(cidr, str):
                    return ipaddress.ip_network(cidr, strict=False)
        return resolved if isinstance(resolved, Unresolved) else Unresolved(f"the CIDR value {resolved!r}")

    # -- attachments
    def groups_attached(self, resource: Resource) -> list[ResourceRef | Unresolved]:
        """Security groups named by a load balancer, service, function, instance or endpoint."""
        props = resource.properties
        raw: list[Any] = []
        if resource.type in ("AWS::ElasticLoadBalancingV2::LoadBalancer", "AWS::EC2::Instance",
                             "AWS::EC2::VPCEndpoint"):
            raw = props.get("SecurityGroups") or props.get("SecurityGroupIds") or []
        elif resource.type == "AWS::ECS::Service":
            raw = ((props.get("NetworkConfiguration") or {}).get("AwsvpcConfiguration") or {}).get(
                "SecurityGroups") or []
        elif resource.type == "AWS::Lambda::Function":
            raw = (props.get("VpcConfig") or {}).get("SecurityGroupIds") or []
        elif resource.type == "AWS::RDS::DBCluster":
            raw = props.get("VpcSecurityGroupIds") or []
        if not isinstance(raw, list):
            return [Unresolved("a computed list of security groups")]
        return [self.security_group_of(self.resolve(resource.stack, g)) for g in raw]
