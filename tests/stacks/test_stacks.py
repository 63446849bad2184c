"""Stacks: stateful apart from stateless, dependencies one way, outputs for the login app."""

from __future__ import annotations

import json

import constructs
import pytest

from tests.support.cfn import by_path
from tests.conftest import synthesize


def imports_of(template: dict) -> set[str]:
    """The producer stacks of every Fn::ImportValue in a template."""
    found: set[str] = set()

    def walk(node):
        if isinstance(node, dict):
            if "Fn::ImportValue" in node:
                found.add(node["Fn::ImportValue"].split(":")[0])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
    walk(template)
    return found


def test_stacks_depend_stateful_then_ingress_then_service(synth):
    assert imports_of(synth.templates["Stateful"]) == set()
    assert imports_of(synth.templates["Ingress"]) == {synth.stack_name("Stateful")}
    assert imports_of(synth.templates["Service"]) == {synth.stack_name("Stateful"), synth.stack_name("Ingress")}
    deps = {d.node.id for d in synth.stack("Service").dependencies}
    assert deps == {synth.stack_name("Stateful"), synth.stack_name("Ingress")}
    # Operations (migrated schema's key sets, clients, janitor, alarms) deploys after the service is up.
    everything_before = {synth.stack_name(p) for p in ("Stateful", "Ingress", "Service")}
    assert imports_of(synth.templates["Operations"]) == everything_before
    assert {d.node.id for d in synth.stack("Operations").dependencies} == everything_before


def test_stateless_stacks_hold_no_database_or_secret(synth):
    for part in ("Ingress", "Service"):
        types = {r["Type"] for r in synth.templates[part]["Resources"].values()}
        assert not types & {"AWS::RDS::DBCluster", "AWS::RDS::DBInstance", "AWS::SecretsManager::Secret",
                            "AWS::EC2::VPC"}, part


def test_prod_stateful_stack_has_termination_protection(prod, dev):
    assert prod.stack("Stateful").termination_protection is True
    assert dev.stack("Stateful").termination_protection is False


def test_stateful_logical_ids_are_stable(synth):
    """Renaming these would make CloudFormation replace the database, the secrets or the VPC."""
    template = synth.templates["Stateful"]
    env = synth.config.env_name
    assert by_path(template, "Network/Vpc/Resource")[0] == "NetworkVpc7FB7348F"
    assert by_path(template, "Database/Cluster/Resource")[0] == "DatabaseCluster5B53A178"
    assert by_path(template, "Database/Cluster/Writer/Resource")[0] == "DatabaseClusterWriterD43085C6"
    assert by_path(template, "Database/Cluster/Secret/Resource")[0].startswith(
        f"Hydra{env}StatefulDatabaseClusterSecret")
    assert by_path(template, "Secrets/SystemSecret/Resource")[0] == "SecretsSystemSecret5A24F02C"
    assert by_path(template, "Secrets/DsnSecret/Resource")[0] == "SecretsDsnSecretE1BFF767"


def test_outputs_wire_the_login_app(synth):
    outputs = synth.templates["Ingress"]["Outputs"]
    for name in ("HydraPublicApi", "HydraAdminApi", "JwksUrl", "BastionInstanceId", "AdminPortForwardCommand"):
        assert name in outputs
    admin = json.dumps(outputs["HydraAdminApi"]["Value"])
    assert admin.startswith('{"Fn::Join": ["", ["http://", {"Fn::GetAtt": ["LoadBalancersAdminNlb')
    assert admin.endswith(':4445"]]}')
    jwks = outputs["JwksUrl"]["Value"]["Fn::Join"][1]
    public = outputs["HydraPublicApi"]["Value"]["Fn::Join"][1]
    assert jwks[:-1] == public[:-1] and jwks[-1] == public[-1] + ".well-known/jwks.json"


def test_stack_outputs_never_carry_secret_values(synth):
    for part, template in synth.templates.items():
        for name, output in (template.get("Outputs") or {}).items():
            rendered = json.dumps(output["Value"])
            assert "SecretString" not in rendered and "resolve:secretsmanager" not in rendered, (part, name)


def test_constructs_resolves_to_the_installed_library():
    """Our constructs live in hydra_constructs/: a local `constructs` package would shadow the library."""
    assert "site-packages" in constructs.__file__


def exports(synth) -> dict[str, str]:
    return {out["Export"]["Name"]: json.dumps(out["Value"], sort_keys=True)
            for template in synth.templates.values() for out in (template.get("Outputs") or {}).values()
            if "Export" in out}


@pytest.mark.synth_heavy
def test_routine_changes_move_no_cross_stack_export(dev):
    # An export another stack imports cannot change: a routine deploy that moved one (say, a
    # task definition ARN exported for a custom resource) would fail half-way (README, Deploying).
    changed = synthesize("dev", hydra_image="oryd/hydra:v26.3.0", hydra_cpu=512, hydra_memory=1024,
                         hydra_max_conns=30, ttl_access_token="5m", hydra_admin_port=4446, hydra_public_port=4450,
                         janitor_schedule="rate(2 hours)", db_max_capacity=4)
    assert exports(changed) == exports(dev)


def _logical_id(value) -> str | None:
    """The resource a Ref / Fn::GetAtt in the same template names."""
    if isinstance(value, dict):
        if "Ref" in value:
            return value["Ref"]
        if "Fn::GetAtt" in value:
            return value["Fn::GetAtt"][0]
    return None


def network_of_custom_resources(template: dict) -> dict[str, tuple[set[str], set[str]]]:
    """Custom resource -> (security group rules its traffic needs, its DependsOn): the rules under or
    into the groups of the function serving it and of the tasks it starts (its SecurityGroups)."""
    resources = template["Resources"]
    rules = {lid: r["Properties"] for lid, r in resources.items()
             if r["Type"] in ("AWS::EC2::SecurityGroupIngress", "AWS::EC2::SecurityGroupEgress")}
    found = {}
    for lid, resource in resources.items():
        if not resource["Type"].startswith("Custom::"):
            continue
        served_by = resources[_logical_id(resource["Properties"]["ServiceToken"])]
        # The provider framework relays to the function that does the work; CDK's own handlers do it themselves.
        user = ((served_by["Properties"].get("Environment") or {}).get("Variables") or {}).get(
            "USER_ON_EVENT_FUNCTION_ARN")
        handler = resources[_logical_id(user)] if user else served_by
        groups = {_logical_id(g) for g in (handler["Properties"].get("VpcConfig") or {}).get("SecurityGroupIds", [])}
        groups |= {_logical_id(g) for g in resource["Properties"].get("SecurityGroups", [])}
        needed = {rid for rid, p in rules.items()
                  if groups & {_logical_id(p.get(k)) for k in ("GroupId", "SourceSecurityGroupId",
                                                             "DestinationSecurityGroupId")}}
        found[lid] = (needed, set(resource.get("DependsOn", [])))
    return found


def test_custom_resources_run_only_once_their_network_rules_exist(synth):
    # Otherwise CloudFormation may invoke a VPC function (or start a task) while the rules that let
    # it reach the database or the admin API are still being created: a deploy that fails at random.
    checked = 0
    for part, template in synth.templates.items():
        for lid, (needed, depends_on) in network_of_custom_resources(template).items():
            assert needed <= depends_on, f"{part}/{lid} does not wait for {sorted(needed - depends_on)}"
            checked += bool(needed)
    assert checked >= 5, "roles, both DSNs, the migration, the key sets and the clients use the network"


def test_the_network_check_sees_a_custom_resource_that_does_not_wait():
    template = {"Resources": {
        "Sg": {"Type": "AWS::EC2::SecurityGroup", "Properties": {}},
        "Out": {"Type": "AWS::EC2::SecurityGroupEgress", "Properties": {"GroupId": {"Fn::GetAtt": ["Sg", "GroupId"]}}},
        "Fn": {"Type": "AWS::Lambda::Function", "Properties": {"VpcConfig": {
            "SecurityGroupIds": [{"Fn::GetAtt": ["Sg", "GroupId"]}]}}},
        "Framework": {"Type": "AWS::Lambda::Function", "Properties": {"Environment": {"Variables": {
            "USER_ON_EVENT_FUNCTION_ARN": {"Fn::GetAtt": ["Fn", "Arn"]}}}}},
        "Cr": {"Type": "Custom::X", "Properties": {"ServiceToken": {"Fn::GetAtt": ["Framework", "Arn"]}}}}}
    assert network_of_custom_resources(template) == {"Cr": ({"Out"}, set())}
