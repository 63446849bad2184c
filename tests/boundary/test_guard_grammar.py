"""Property: every security-group rule a small grammar generates is judged right, violations included.

Each example injects one generated rule into a deep copy of the rendered dev templates (no
synthesis) and runs the guard's front-end and rules. The grammar covers who the source is, the
protocol, the port range, where the rule sits and how each value is written (a literal, a
parameter, a mapping lookup, a condition, an import of an export nobody has). An oracle, written
here from the grammar alone, says whether the rule lets something outside the VPC reach the admin
port; the guard must say the same: a violation naming the injected rule, or no violation at all.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from tests.support.template_copies import Copy

ADMIN = 4445
# source kind -> (inside the VPC?, how it is written)
SOURCES = {
    "anywhere-v4": False, "anywhere-v6": False, "another-private-range": False, "the-vpc-range": True,
    "a-vpc-subrange": True, "a-group-inside": True, "a-group-behind-an-internet-facing-alb": False,
    "a-prefix-list": False, "a-parameter": False,
}
PROTOCOLS = ["tcp", "6", "-1", "udp"]
PORT_RANGES = [(4445, 4445), (4000, 5000), (0, 65535), (80, 80), (4446, 4446), (4446, 5000), (1, 4444)]
# how a value is written: resolvable by the guard, or not
ENCODINGS = {"literal": True, "mapping": True, "parameter": False, "condition": False, "foreign-import": False}
GROUPS = {"tasks": "LoadBalancers/HydraTasksSecurityGroup/Resource",
          "admin-nlb": "LoadBalancers/AdminNlbSecurityGroup/Resource"}


@dataclass(frozen=True)
class Generated:
    source: str
    source_encoding: str
    protocol: str
    protocol_encoding: str
    ports: tuple[int, int]
    port_encodings: tuple[str, str]
    placement: str            # 'inline' | 'separate'
    group: str                # key of GROUPS

    def violates(self) -> bool:
        """The oracle: can this rule let something outside the VPC in on the admin port?"""
        known_protocol = ENCODINGS[self.protocol_encoding]
        tcp = not known_protocol or self.protocol in ("tcp", "6", "-1")
        every_port = not known_protocol or self.protocol == "-1"
        low, high = self.ports
        covers = every_port or not all(ENCODINGS[e] for e in self.port_encodings) or low <= ADMIN <= high
        inside = SOURCES[self.source] and ENCODINGS[self.source_encoding]
        return tcp and covers and not inside


@st.composite
def generated_rules(draw) -> Generated:
    source = draw(st.sampled_from(sorted(SOURCES)))
    if source in ("a-prefix-list", "a-parameter"):
        source_encoding = "literal"            # unresolvable by nature
    elif source.startswith("a-group"):
        source_encoding = draw(st.sampled_from(["literal", "parameter", "condition", "foreign-import"]))
    else:
        source_encoding = draw(st.sampled_from(sorted(ENCODINGS)))
    return Generated(
        source=source, source_encoding=source_encoding,
        protocol=draw(st.sampled_from(PROTOCOLS)), protocol_encoding=draw(st.sampled_from(sorted(ENCODINGS))),
        ports=draw(st.sampled_from(PORT_RANGES)),
        port_encodings=(draw(st.sampled_from(sorted(ENCODINGS))), draw(st.sampled_from(sorted(ENCODINGS)))),
        placement=draw(st.sampled_from(["inline", "separate"])), group=draw(st.sampled_from(sorted(GROUPS))))


def inject(dev, rule: Generated) -> tuple[Copy, str]:
    """The dev templates with ``rule``; returns the copy and the path the guard must name."""
    c = Copy(dev, parts=("Ingress",))
    part = "Ingress"
    vpc_cidr = ipaddress.ip_network(dev.config.vpc_cidr)
    inside_cidr = str(next(vpc_cidr.subnets(new_prefix=24)))

    def encode(field: str, value, encoding: str, otherwise):
        if encoding == "literal":
            return value
        if encoding == "mapping":
            return c.mapped(part, value)
        if encoding == "parameter":
            return c.parameter(part, f"Injected{field}", str(value))
        if encoding == "condition":
            return c.conditional(part, value, otherwise)
        return c.foreign_import(f"SomeoneElse:{field}")
    bastion = c.ref(part, part, "Bastion/SecurityGroup/Resource", "GroupId")
    entry: dict = {"IpProtocol": encode("Protocol", rule.protocol, rule.protocol_encoding, "udp")}
    if rule.protocol != "-1" or rule.ports != (0, 65535):
        entry["FromPort"] = encode("FromPort", rule.ports[0], rule.port_encodings[0], 80)
        entry["ToPort"] = encode("ToPort", rule.ports[1], rule.port_encodings[1], 80)
    if rule.source == "anywhere-v6":
        entry["CidrIpv6"] = encode("Source", "::/0", rule.source_encoding, "fd00::/8")
    elif rule.source in ("anywhere-v4", "another-private-range", "the-vpc-range", "a-vpc-subrange"):
        cidr = {"anywhere-v4": "0.0.0.0/0", "another-private-range": "10.99.0.0/16",
                "the-vpc-range": str(vpc_cidr), "a-vpc-subrange": inside_cidr}[rule.source]
        entry["CidrIp"] = encode("Source", cidr, rule.source_encoding, inside_cidr)
    elif rule.source == "a-group-inside":
        entry["SourceSecurityGroupId"] = encode("Source", bastion, rule.source_encoding, bastion)
    elif rule.source == "a-group-behind-an-internet-facing-alb":
        tasks_group = c.props(part, GROUPS["tasks"])
        c.add(part, "InjectedAlbSg", "AWS::EC2::SecurityGroup",
              {"GroupDescription": "an ALB's", "VpcId": tasks_group["VpcId"]})
        c.add(part, "InjectedAlb", "AWS::ElasticLoadBalancingV2::LoadBalancer",
              {"Scheme": "internet-facing", "Type": "application",
               "SecurityGroups": [{"Fn::GetAtt": ["InjectedAlbSg", "GroupId"]}]})
        entry["SourceSecurityGroupId"] = encode("Source", {"Fn::GetAtt": ["InjectedAlbSg", "GroupId"]},
                                                rule.source_encoding, bastion)
    elif rule.source == "a-prefix-list":
        entry["SourcePrefixListId"] = "pl-0123456789abcdef0"
    else:
        entry["CidrIp"] = c.parameter(part, "InjectedTrustedRange", "10.40.0.0/16")
    group_path = GROUPS[rule.group]
    if rule.placement == "inline":
        c.props(part, group_path).setdefault("SecurityGroupIngress", []).append(entry)
        return c, f"{c.prefix}-{part}/{group_path}"
    return c, c.add(part, "InjectedRule", "AWS::EC2::SecurityGroupIngress",
                    {**entry, "GroupId": c.ref(part, part, group_path, "GroupId")})


class Rendered:
    """The dev fixture, with a short repr for hypothesis's reports."""

    def __init__(self, synth) -> None:
        self.synth = synth

    def __repr__(self) -> str:
        return "<the rendered dev templates>"


@pytest.fixture(scope="module")
def rendered(dev) -> Rendered:
    return Rendered(dev)


@given(generated_rules())
@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_every_generated_rule_is_judged_as_the_oracle_says(rendered, rule):
    c, path = inject(rendered.synth, rule)
    violations = c.violations()
    if rule.violates():
        assert [v for v in violations if v.rule == "admin-port-ingress" and v.path == path], \
            f"{rule} lets the outside in, but the guard found {[v.message() for v in violations]}"
    else:
        assert violations == [], f"{rule} is benign, but the guard found {[v.message() for v in violations]}"


def test_the_grammar_generates_both_violations_and_benign_rules():
    """The oracle is not constant: both answers occur among simple cases."""
    benign = Generated("the-vpc-range", "mapping", "tcp", "literal", (4445, 4445), ("literal", "literal"),
                       "separate", "admin-nlb")
    assert not benign.violates()
    assert Generated("the-vpc-range", "condition", "tcp", "literal", (4445, 4445), ("literal", "literal"),
                     "separate", "admin-nlb").violates()
    assert Generated("anywhere-v4", "literal", "udp", "parameter", (80, 80), ("literal", "literal"),
                     "inline", "tasks").violates()
    assert not Generated("anywhere-v4", "literal", "udp", "literal", (4445, 4445), ("literal", "literal"),
                         "inline", "tasks").violates()
