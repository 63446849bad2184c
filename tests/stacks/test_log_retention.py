"""Every log group the app causes to exist keeps its logs for the environment's retention, no longer.

Log groups the templates create carry RetentionInDays. Groups that services create by themselves
(a function's own, API Gateway's execution logs, RDS exports, Container Insights) get theirs
through CDK's log-retention function (Custom::LogRetention), which creates the group if needed.
"""

from __future__ import annotations

import json

from tests.support.cfn import props, resources


def retained(synth) -> dict[str, int]:
    """Rendered log group name expressions -> retention, across every stack."""
    found = {}
    for template in synth.templates.values():
        for r in resources(template, "Custom::LogRetention").values():
            found[json.dumps(props(r)["LogGroupName"], sort_keys=True)] = int(props(r)["RetentionInDays"])
    return found


def test_every_log_group_resource_has_the_environments_retention(synth):
    for template in synth.templates.values():
        for logical_id, group in resources(template, "AWS::Logs::LogGroup").items():
            assert props(group).get("RetentionInDays") == synth.config.log_retention_days, logical_id


def test_every_function_logs_to_a_group_with_retention(synth):
    names = retained(synth)
    for template in synth.templates.values():
        groups = resources(template, "AWS::Logs::LogGroup")
        for logical_id, function in resources(template, "AWS::Lambda::Function").items():
            configured = (props(function).get("LoggingConfig") or {}).get("LogGroup")
            if configured is not None:
                assert configured["Ref"] in groups, logical_id
                continue
            if logical_id.startswith("LogRetention"):
                continue  # CDK's log-retention function sets its own group's retention itself
            own = json.dumps({"Fn::Join": ["", ["/aws/lambda/", {"Ref": logical_id}]]}, sort_keys=True)
            assert names.get(own) == synth.config.log_retention_days, f"{logical_id}'s own log group"


def test_service_created_log_groups_get_the_retention_too(synth):
    names = set(retained(synth))
    expected = ("API-Gateway-Execution-Logs_", "/aws/rds/cluster/", "/aws/ecs/containerinsights/")
    for prefix in expected:
        assert any(prefix in name for name in names), prefix
    assert set(retained(synth).values()) == {synth.config.log_retention_days}
