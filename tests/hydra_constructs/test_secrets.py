"""Secrets: generated, never in a template or a plain env var, reaching Hydra only as ECS secrets."""

from __future__ import annotations

import json
import re

import pytest

from tests.support.cfn import by_path, env_of, props, resources


def test_system_secret_is_long_and_cannot_be_split_by_csv_parsing(synth):
    _, secret = by_path(synth.templates["Stateful"], "Secrets/SystemSecret/Resource")
    generator = props(secret)["GenerateSecretString"]
    assert generator["PasswordLength"] >= 32
    # Hydra reads list settings as CSV unless they are JSON: no ',' or '"' may appear.
    assert generator["ExcludePunctuation"] is True and generator["IncludeSpace"] is False
    assert "SecretStringTemplate" not in generator


def test_production_secrets_outlive_the_stack(prod, dev):
    # The retained database is useless without its logins and SECRETS_SYSTEM (which encrypts what it holds).
    for path in ("Secrets/SystemSecret/Resource", "Database/Cluster/Secret/Resource",
                 "Roles/OwnerSecret/Resource", "Roles/RuntimeSecret/Resource"):
        assert by_path(prod.templates["Stateful"], path)[1]["DeletionPolicy"] == "Retain"
        assert by_path(dev.templates["Stateful"], path)[1]["DeletionPolicy"] == "Delete"


@pytest.mark.parametrize("dsn, credentials, pool", [
    ("Secrets/Dsn", "Roles/RuntimeSecret/Attachment", None),        # the service and the janitor
    ("Secrets/MigrationDsn", "Roles/OwnerSecret/Attachment", "4"),  # the migration task only
])
def test_dsns_are_composed_from_host_bearing_credentials_by_the_composer(synth, dsn, credentials, pool):
    template = synth.templates["Stateful"]
    resource_id, resource = by_path(template, f"{dsn}/Default")
    p = props(resource)
    attachment_id, _ = by_path(template, f"{credentials}/Resource")
    target_id, _ = by_path(template, f"{dsn}Secret/Resource")
    assert p["SourceSecretArn"] == {"Ref": attachment_id}, "the DSN must be built from host-bearing credentials"
    assert p["TargetSecretArn"] == {"Ref": target_id}
    assert p["MaxConns"] == (pool or str(synth.config.hydra_max_conns))
    assert p["VerifyLogin"] == "true"
    writer_id, _ = by_path(template, "Database/Cluster/Writer/Resource")
    roles_id, _ = by_path(template, "Roles/Roles/Default")
    assert {writer_id, roles_id} <= set(resource["DependsOn"]), "the login proof needs the writer and the role"


def test_composer_runs_inside_the_vpc_with_only_the_access_it_needs(synth):
    template = synth.templates["Stateful"]
    fn_id, fn = by_path(template, "Secrets/DsnComposer/Function/Resource")
    assert props(fn)["Handler"] == "hydra_functions.dsn_composer.on_event"
    assert props(fn)["VpcConfig"]["SubnetIds"], "the composer must run in the VPC to log in"
    policy = next(p for p in resources(template, "AWS::IAM::Policy").values()
                  if props(fn)["Role"]["Fn::GetAtt"][0] in [r["Ref"] for r in props(p)["Roles"]])
    actions = {a for s in props(policy)["PolicyDocument"]["Statement"]
               for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert actions <= {"secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret",
                       "secretsmanager:PutSecretValue"}


def test_container_gets_secrets_only_as_ecs_secrets(synth):
    _, taskdef = by_path(synth.templates["Service"], "Hydra/TaskDefinition/Resource")
    [container] = props(taskdef)["ContainerDefinitions"]
    model = synth.model
    secrets = {s["Name"]: model.resolve(synth.stack_name("Service"), s["ValueFrom"]) for s in container["Secrets"]}
    assert set(secrets) == {"DSN", "SECRETS_SYSTEM"}
    paths = {name: model.resource(ref).path for name, ref in secrets.items()}
    assert paths["DSN"].endswith("Secrets/DsnSecret/Resource")
    assert paths["SECRETS_SYSTEM"].endswith("Secrets/SystemSecret/Resource")
    env = env_of(container)
    assert not {"DSN", "SECRETS_SYSTEM", "SECRETS_COOKIE", "DATABASE_URL"} & set(env)


def test_no_template_holds_a_secret_value(synth):
    for part, template in synth.templates.items():
        for lid, res in template["Resources"].items():
            if res["Type"] == "AWS::SecretsManager::Secret":
                assert "SecretString" not in props(res), f"{part}/{lid} embeds a secret value"
        text = json.dumps(template)
        assert not re.search(r"postgres(ql)?://", text), f"{part} contains a connection string"
        assert "SecretString:password" not in text.replace(
            ":SecretString:password::}}", ""), f"{part} dereferences a password outside a dynamic reference"
        for output in (template.get("Outputs") or {}).values():
            assert "resolve:secretsmanager" not in json.dumps(output["Value"])


def dynamic_references(node, path=()):
    """Every place a template reads a Secrets Manager value at deploy time, as a path of keys."""
    if isinstance(node, str):
        if "{{resolve:secretsmanager" in node:
            yield path
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from dynamic_references(value, path + (key,))
    elif isinstance(node, list):
        for value in node:
            yield from dynamic_references(value, path)


def test_secret_values_are_resolved_only_into_the_database_masters_credentials(synth):
    # A dynamic reference anywhere else (an env var, a tag, a parameter) puts the value into the
    # resource's configuration, readable by anyone who can describe it.
    found = {(part, res["Type"], p[:2]) for part, template in synth.templates.items()
             for res in template["Resources"].values() for p in dynamic_references(res)}
    assert found <= {("Stateful", "AWS::RDS::DBCluster", ("Properties", "MasterUsername")),
                     ("Stateful", "AWS::RDS::DBCluster", ("Properties", "MasterUserPassword"))}, found
    assert ("Stateful", "AWS::RDS::DBCluster", ("Properties", "MasterUserPassword")) in found


def test_the_reference_scanner_sees_a_secret_in_an_environment_variable():
    leaked = {"Type": "AWS::Lambda::Function", "Properties": {"Environment": {"Variables": {"PASSWORD": {
        "Fn::Join": ["", ["{{resolve:secretsmanager:", {"Ref": "S"}, ":SecretString:password::}}"]]}}}}}
    assert list(dynamic_references(leaked)) == [("Properties", "Environment", "Variables", "PASSWORD", "Fn::Join")]
