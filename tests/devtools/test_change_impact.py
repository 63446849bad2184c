"""The deploy rehearsal's judge: the CloudFormation diff engine plus cascades, exports and names.

Each defect the review found is shown here on templates shaped like the old code's, and not on
the app as it is now.
"""

from __future__ import annotations

import copy

import pytest

from devtools.change_impact import DiffEngine, assess, name_properties, retained_fixed_names

from tests.support.cfn import by_path, props, resources


@pytest.fixture(scope="module")
def engine():
    engine = DiffEngine()
    yield engine
    engine.close()


def named(synth) -> dict[str, dict]:
    return {synth.stack_name(part): template for part, template in synth.templates.items()}


def test_the_same_templates_change_nothing(engine, dev):
    impact = assess(engine, named(dev), named(dev))
    assert impact.changes == [] and impact.problems == [] and impact.changed_exports == {}


def test_a_target_group_whose_port_moves_breaks_the_exports_other_stacks_import(engine, dev):
    """The old code's port change: the admin target group's Port followed hydra_admin_port."""
    after = copy.deepcopy(named(dev))
    logical_id, group = by_path(after["Hydra-dev-Ingress"], "LoadBalancers/AdminTargets/Resource")
    group["Properties"]["Port"] = 4446
    impact = assess(engine, named(dev), after)
    [replaced] = impact.actions("replaced")
    assert (replaced.logical_id, replaced.why) == (logical_id, "Port")
    assert any("cannot be updated as it is in use" in p and "Hydra-dev-Service" in p for p in impact.problems)
    assert any("Hydra-dev-Operations" in p for p in impact.problems), "the alarm's target group name too"


def test_the_target_groups_port_does_not_follow_hydras_port_any_more(dev, dev_certificate):
    ports = {props(g)["Port"] for g in resources(dev.templates["Ingress"],
                                                 "AWS::ElasticLoadBalancingV2::TargetGroup").values()}
    assert ports == {4444, 4445}


def test_a_replacement_cascades_through_references_to_create_only_properties(engine, dev):
    """A security group replaced (its description is create-only) replaces every rule whose GroupId
    names it, and changes the group id it exports to the stacks that import it."""
    after = copy.deepcopy(named(dev))
    group_id, group = by_path(after["Hydra-dev-Ingress"], "LoadBalancers/AdminNlbSecurityGroup/Resource")
    group["Properties"]["GroupDescription"] = "a new description"
    impact = assess(engine, named(dev), after)
    replaced = {c.logical_id: c.why for c in impact.actions("replaced") if c.stack == "Hydra-dev-Ingress"}
    assert replaced[group_id] == "GroupDescription"
    rules = [lid for lid, r in resources(after["Hydra-dev-Ingress"], "AWS::EC2::SecurityGroupIngress").items()
             if props(r)["GroupId"] == {"Fn::GetAtt": [group_id, "GroupId"]}]
    assert rules and all(replaced.get(rule) == "GroupId" for rule in rules), "the cascade reached the rules"
    operations = {c.logical_id for c in impact.actions("replaced") if c.stack == "Hydra-dev-Operations"}
    assert operations, "and crossed into the stack that imports the group id"
    assert any("cannot be updated as it is in use" in p for p in impact.problems)


def test_a_stateful_resource_replaced_is_a_problem(engine, dev):
    after = copy.deepcopy(named(dev))
    _, cluster = by_path(after["Hydra-dev-Stateful"], "Database/Cluster/Resource")
    cluster["Properties"]["StorageEncrypted"] = False
    assert any(p.startswith("the database cluster is replaced") and "StorageEncrypted" in p
               for p in assess(engine, named(dev), after).problems)


def test_a_fixed_name_replaced_under_the_same_name_is_a_problem(engine, dev):
    before = copy.deepcopy(named(dev))
    _, queue = by_path(before["Hydra-dev-Operations"], "RotationFollower/DeadLetters/Resource")
    queue["Properties"]["QueueName"] = "hydra-dev-dead-letters"
    after = copy.deepcopy(before)
    _, queue = by_path(after["Hydra-dev-Operations"], "RotationFollower/DeadLetters/Resource")
    queue["Properties"]["FifoQueue"] = True  # create-only: the queue is replaced
    problems = assess(engine, before, after).problems
    assert any("is replaced under its fixed name (QueueName)" in p for p in problems), problems
    queue["Properties"]["QueueName"] = "hydra-dev-dead-letters.fifo"
    assert not any("fixed name" in p for p in assess(engine, before, after).problems), "a new name: no clash"


def test_a_retained_log_group_with_a_fixed_name_blocks_the_next_stack_and_the_app_has_none(prod):
    old = copy.deepcopy(named(prod))
    _, waf_logs = by_path(old["Hydra-prod-Ingress"], "PublicApi/Firewall/Logs/Resource")
    waf_logs["Properties"]["LogGroupName"] = "aws-waf-logs-hydra-prod"  # the old code's name
    [finding] = retained_fixed_names(old)
    assert "PublicApi/Firewall/Logs" in finding and "retained on delete" in finding
    assert retained_fixed_names(named(prod)) == []
    _, current = by_path(prod.templates["Ingress"], "PublicApi/Firewall/Logs/Resource")
    assert "AWS::StackId" in str(props(current)["LogGroupName"]), "new with every instance of the stack"


def test_name_properties_come_from_the_resource_schemas():
    assert name_properties("AWS::Logs::LogGroup") == {"LogGroupName"}
    assert name_properties("AWS::Lambda::Function") == {"FunctionName"}
    assert "Name" in name_properties("AWS::SecretsManager::Secret")
    assert "DomainName" not in name_properties("AWS::CertificateManager::Certificate"), "certificates may share one"
