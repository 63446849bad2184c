"""No function the app deploys runs on a runtime Lambda stops creating within 180 days."""

from __future__ import annotations

import datetime

import pytest

from devtools import lambda_runtimes as rt


def test_every_runtime_the_templates_deploy_can_still_be_created_in_180_days(synth):
    deployed = rt.deployed_runtimes(synth.model.templates)
    assert {d.runtime for d in deployed} >= {"python3.14"}
    assert rt.problems(deployed) == [], f"reference date {rt.reference_date()}"


HOSTED = {"Transform": ["AWS::SecretsManager-2024-09-16"], "Resources": {"Rotation": {
    "Type": "AWS::SecretsManager::RotationSchedule",
    "Properties": {"SecretId": "s", "HostedRotationLambda": {"RotationType": "PostgreSQLMultiUser"}}}}}


def test_a_hosted_rotation_is_seen_with_the_runtime_its_transform_deploys():
    [found] = rt.deployed_runtimes({"Old-Stateful": HOSTED})
    assert found.runtime == "python3.10" and "aws/aws-cdk#37462" in found.source
    [problem] = rt.problems([found], on=datetime.date(2026, 12, 1))
    assert "python3.10" in problem and "cannot be created from 2027-02-01" in problem
    assert rt.problems([found], on=datetime.date(2026, 7, 1)) == [], "more than 180 days before the block"


def test_the_reference_date_is_an_input(monkeypatch):
    monkeypatch.setenv("HYDRA_RUNTIME_REFERENCE_DATE", "2029-03-01")
    assert rt.reference_date() == datetime.date(2029, 3, 1)
    assert rt.problems([rt.Deployed("f", "python3.14")]) != [], "python3.14 is blocked from 2029-07-31"


@pytest.mark.parametrize("resource, expected", [
    ({"Type": "AWS::Serverless::Application", "Properties": {"Location": {"ApplicationId": "arn:x"}}},
     "cannot be known"),
    ({"Type": "AWS::Lambda::Function", "Properties": {"Runtime": "nodejs18.x"}}, "nodejs18.x"),
    ({"Type": "AWS::Lambda::Function", "Properties": {"Runtime": "python3.99"}}, "not in Lambda's runtime table"),
])
def test_unknown_and_old_runtimes_fail(resource, expected):
    [problem] = rt.problems(rt.deployed_runtimes({"S": {"Resources": {"F": resource}}}),
                            on=datetime.date(2026, 12, 1))
    assert expected in problem
