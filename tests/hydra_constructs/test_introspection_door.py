"""The introspection door construct: what CloudFormation creates when `introspection_door` is on, and
that it is off (and costs nothing) by default. Its trust-boundary rule is in tests/boundary."""

from __future__ import annotations

import pytest

from tests.support.cfn import by_path, props, resources

DOOR = "IntrospectionDoor"


def door(synth) -> dict:
    template = synth.templates["Ingress"]
    return {name: props(by_path(template, f"{DOOR}/{name}")[1])
            for name in ("Alb/Resource", "Alb/Http/Resource", "Alb/Http/IntrospectRule/Resource",
                         "AdminTargets/Resource", "SecurityGroup/Resource")}


def test_off_by_default_in_every_environment(synth):
    ingress = synth.templates["Ingress"]
    assert not [k for k, r in ingress["Resources"].items() if DOOR in r.get("Metadata", {}).get("aws:cdk:path", "")]
    assert "IntrospectionUrl" not in ingress.get("Outputs", {})
    with pytest.raises(ValueError, match="introspection door is off in this environment; set introspection_door"):
        synth.app.node.find_child(synth.stack_name("Ingress")).grant_introspection(None, "an API")


def test_an_internal_alb_answering_404_except_post_on_the_introspection_path(dev_with_neighbours):
    d = door(dev_with_neighbours)
    alb = d["Alb/Resource"]
    assert alb["Scheme"] == "internal" and alb["Type"] == "application"
    attributes = {a["Key"]: a["Value"] for a in alb["LoadBalancerAttributes"]}
    assert attributes["routing.http.drop_invalid_header_fields.enabled"] == "true"
    assert attributes["routing.http.desync_mitigation_mode"] == "strictest"
    [default] = d["Alb/Http/Resource"]["DefaultActions"]
    assert default["Type"] == "fixed-response" and default["FixedResponseConfig"]["StatusCode"] == "404"
    rule = d["Alb/Http/IntrospectRule/Resource"]
    assert rule["Conditions"] == [
        {"Field": "path-pattern", "PathPatternConfig": {"Values": ["/admin/oauth2/introspect"]}},
        {"Field": "http-request-method", "HttpRequestMethodConfig": {"Values": ["POST"]}}]
    assert [a["Type"] for a in rule["Actions"]] == ["forward"] and "Transforms" not in rule


def test_the_target_group_is_hydras_admin_port_checked_on_health_alive(dev_with_neighbours):
    tg = door(dev_with_neighbours)["AdminTargets/Resource"]
    assert (tg["Port"], tg["Protocol"], tg["TargetType"], tg["HealthCheckPath"]) == (4445, "HTTP", "ip",
                                                                                     "/health/alive")
    service = next(iter(resources(dev_with_neighbours.templates["Service"], "AWS::ECS::Service").values()))
    registered = [(lb["ContainerName"], lb["ContainerPort"]) for lb in props(service)["LoadBalancers"]]
    assert registered == [("hydra", 4444), ("hydra", 4445), ("hydra", 4445)], "public, admin NLB, door"
    assert "IntrospectionDoorAdminTargets" in str(props(service)["LoadBalancers"][2]["TargetGroupArn"])


def test_the_url_output_names_the_path(dev_with_neighbours):
    output = dev_with_neighbours.templates["Ingress"]["Outputs"]["IntrospectionUrl"]
    assert output["Value"]["Fn::Join"][1][-1] == "/admin/oauth2/introspect"


def test_no_deletion_protection_even_in_production(dev_with_neighbours):
    # It holds nothing and the next deploy recreates it; with protection, turning it off could not delete it.
    # Constructed, not synthesized: the property is the construct's own, whatever the environment.
    import inspect
    from hydra_constructs import introspection_door
    assert "deletion_protection=False" in inspect.getsource(introspection_door.IntrospectionDoor)
    attributes = {a["Key"]: a["Value"] for a in door(dev_with_neighbours)["Alb/Resource"]["LoadBalancerAttributes"]}
    assert attributes["deletion_protection.enabled"] == "false"
