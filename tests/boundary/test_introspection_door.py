"""The introspection door: an internal ALB that forwards POST /admin/oauth2/introspect, and nothing else
of the admin API, to Hydra's admin port (issue 13).

The door as built passes, with a resource server granted it; every way of letting more through it is a
case on a copy of those templates that the guard must report as ``introspection-door``. The real-app
injection (a listener rule for another admin path, synthesis fails) is in test_guard.py.
"""

from __future__ import annotations

from typing import Callable

import pytest

from hydra_constructs.introspection_door import INTROSPECTION_PATH
from hydra_on_aws.boundary.trust_boundary import INTROSPECTION_PATH as GUARDED_PATH, Analysis, check

from tests.support.template_copies import Copy

RULE = "IntrospectionDoor/Alb/Http/IntrospectRule/Resource"
LISTENER = "IntrospectionDoor/Alb/Http/Resource"
DOOR_TG = "IntrospectionDoor/AdminTargets/Resource"
DOOR_SG = "IntrospectionDoor/SecurityGroup/Resource"


def test_the_construct_and_the_guard_agree_on_the_path():
    assert INTROSPECTION_PATH == GUARDED_PATH == "/admin/oauth2/introspect"


def test_the_door_as_built_passes_and_reaches_the_admin_port(dev_with_neighbours):
    assert check(dev_with_neighbours.network) == []
    analysis = Analysis(dev_with_neighbours.network)
    doors = [lb for lb_id, lb in dev_with_neighbours.network.load_balancers.items()
             if lb.kind == "application" and lb_id in analysis.admin_lbs]
    assert [lb.path for lb in doors] == ["Hydra-dev-Ingress/IntrospectionDoor/Alb/Resource"]
    assert not doors[0].internet_facing
    assert analysis.internet_paths_to(4445) == []


def test_only_the_granted_resource_server_reaches_the_door(dev_with_neighbours):
    ingress = dev_with_neighbours.templates["Ingress"]
    [(door_sg, _)] = [(k, v) for k, v in ingress["Resources"].items()
                      if v["Metadata"].get("aws:cdk:path", "").endswith(DOOR_SG)]
    sources = []
    for template in [*dev_with_neighbours.templates.values(), *dev_with_neighbours.others.values()]:
        for resource in template["Resources"].values():
            props = resource.get("Properties", {})
            if resource["Type"] == "AWS::EC2::SecurityGroupIngress" and door_sg in str(props.get("GroupId")):
                sources.append((props.get("SourceSecurityGroupId"), props.get("FromPort"), props.get("ToPort")))
    assert len(sources) == 1 and "ApiSg" in str(sources[0][0]) and sources[0][1:] == (80, 80)
    assert "SecurityGroupIngress" not in ingress["Resources"][door_sg]["Properties"], "no inline rule: no CIDR"


CASES: dict[str, Callable[[Copy], None]] = {}


def case(name: str):
    def register(fn):
        CASES[name] = fn
        return fn
    return register


def conditions(copy: Copy) -> list:
    return copy.props("Ingress", RULE)["Conditions"]


def forward_to_door(copy: Copy) -> list:
    return [{"Type": "forward", "TargetGroupArn": copy.ref("Ingress", "Ingress", DOOR_TG)}]


@case("a wildcard path")
def _(copy):
    conditions(copy)[0]["PathPatternConfig"]["Values"] = ["/admin/*"]


@case("a second path beside the introspection path")
def _(copy):
    conditions(copy)[0]["PathPatternConfig"]["Values"].append("/admin/clients")


@case("a path differing in case")
def _(copy):
    conditions(copy)[0]["PathPatternConfig"]["Values"] = ["/admin/oauth2/Introspect"]


@case("a regular expression")
def _(copy):
    conditions(copy)[0]["PathPatternConfig"] = {"RegexValues": ["^/admin/.*$"]}


@case("no path condition")
def _(copy):
    del conditions(copy)[0]


@case("GET as well")
def _(copy):
    conditions(copy)[1]["HttpRequestMethodConfig"]["Values"] = ["POST", "GET"]


@case("no method condition")
def _(copy):
    del conditions(copy)[1]


@case("a condition that cannot be resolved")
def _(copy):
    conditions(copy)[0]["PathPatternConfig"]["Values"] = [copy.parameter("Ingress", "DoorPath", INTROSPECTION_PATH)]


@case("computed conditions")
def _(copy):
    copy.props("Ingress", RULE)["Conditions"] = copy.conditional("Ingress", conditions(copy), [])


@case("a URL rewrite")
def _(copy):
    copy.props("Ingress", RULE)["Transforms"] = [{"Type": "url-rewrite", "UrlRewriteConfig": {"Rewrites": [
        {"Regex": "^/admin/oauth2/introspect$", "Replace": "/admin/clients"}]}}]


@case("the default action forwards")
def _(copy):
    copy.props("Ingress", LISTENER)["DefaultActions"] = forward_to_door(copy)


@case("another rule for another admin path")
def _(copy):
    copy.add("Ingress", "ClientsRule", "AWS::ElasticLoadBalancingV2::ListenerRule", {
        "ListenerArn": copy.ref("Ingress", "Ingress", LISTENER), "Priority": 20, "Actions": forward_to_door(copy),
        "Conditions": [{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/admin/clients"]}}]})


@case("the legacy Values form with a wildcard")
def _(copy):
    conditions(copy)[0] = {"Field": "path-pattern", "Values": ["/admin/oauth2/*"]}


@case("the legacy Values beside the exact config block")
def _(copy):
    conditions(copy)[0]["Values"] = ["/admin/*"]


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_guard_refuses_more_than_the_introspection_path_through_the_door(dev_with_neighbours, name):
    copy = Copy(dev_with_neighbours, parts=("Ingress",))
    CASES[name](copy)
    messages = [v.message() for v in copy.violations()]
    door = [m for m in messages if m.startswith("[introspection-door] Hydra-dev-Ingress/")]
    assert door, f"{name}: the guard let it through; it said {messages}"
    assert "to Hydra's admin API on port 4445" in door[0]
    assert "Fix: forward to the admin port only in a listener rule" in door[0]


def test_narrowing_conditions_on_the_door_rule_still_pass(dev_with_neighbours):
    copy = Copy(dev_with_neighbours, parts=("Ingress",))
    conditions(copy).append({"Field": "host-header", "HostHeaderConfig": {"Values": ["introspect.internal"]}})
    conditions(copy).append({"Field": "path-pattern", "PathPatternConfig": {"Values": ["/admin/*"]}})  # ANDed
    assert copy.violations() == []


def test_a_rule_that_forwards_nothing_to_hydra_passes(dev_with_neighbours):
    copy = Copy(dev_with_neighbours, parts=("Ingress",))
    copy.add("Ingress", "Teapot", "AWS::ElasticLoadBalancingV2::ListenerRule", {
        "ListenerArn": copy.ref("Ingress", "Ingress", LISTENER), "Priority": 30,
        "Actions": [{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "418"}}],
        "Conditions": [{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/*"]}}]})
    assert copy.violations() == []
