"""Day-2 operations at synthesis: rotation wiring, migrations, signing keys, janitor, alarms, dashboard."""

from __future__ import annotations

import json
import re

import pytest

from hydra_constructs.janitor import janitor_command
from hydra_on_aws.config.connections import aurora_postgres_max_connections, budget

from tests.support.cfn import by_path, env_of, only, props, resources
from tests.hydra_constructs.test_network import subnets_by_tier
from tests.stacks.test_scanners import acknowledgments


def render(value, model, stack) -> str:
    """A Fn::Join'ed string with each reference shown as <path of the resource>."""
    if isinstance(value, str):
        return value
    if isinstance(value.get("Ref"), str) and value["Ref"].startswith("AWS::"):
        return f"<{value['Ref']}>"
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(render(p, model, stack) for p in parts)
    resolved = model.resolve(stack, value)
    resource = model.resource(resolved) if hasattr(resolved, "logical_id") else None
    return f"<{resource.path if resource else resolved}>"


# ----------------------------------------------------------------- rotation ---

def schedules(synth) -> dict[str, dict]:
    template = synth.templates["Stateful"]
    return {name: props(by_path(template, f"Roles/{name}/Resource")[1])
            for name in ("MasterRotation", "OwnerRotation", "RuntimeRotation")}


def test_one_function_of_this_repository_rotates_the_three_database_secrets(synth):
    template, model, stack = synth.templates["Stateful"], synth.model, synth.stack_name("Stateful")
    assert "Transform" not in template, "no hosted rotation (its transform deploys python3.10)"
    rotation = schedules(synth)
    secret_of = {name: model.resource(model.resolve(stack, p["SecretId"])).path for name, p in rotation.items()}
    assert secret_of == {"MasterRotation": f"{stack}/Database/Cluster/Secret/Attachment/Resource",
                         "OwnerRotation": f"{stack}/Roles/OwnerSecret/Attachment/Resource",
                         "RuntimeRotation": f"{stack}/Roles/RuntimeSecret/Attachment/Resource"}
    functions = {model.resource(model.resolve(stack, p["RotationLambdaARN"])).path for p in rotation.values()}
    assert functions == {f"{stack}/Roles/Rotation/Function/Resource"}
    _, function = by_path(template, "Roles/Rotation/Function/Resource")
    assert props(function)["Handler"] == "hydra_functions.rotation.on_rotation"
    assert props(function)["Runtime"] == "python3.14"
    for p in rotation.values():
        assert p["RotationRules"] == {"ScheduleExpression": f"rate({synth.config.db_rotation_days} days)"}
        assert p["RotateImmediatelyOnUpdate"] is False
    groups = [model.resource(model.resolve(stack, g)).path for g in props(function)["VpcConfig"]["SecurityGroupIds"]]
    assert groups == [f"{stack}/Roles/RotationSecurityGroup/Resource"]
    # Private subnets (egress through the NAT), never isolated ones: the function must reach Secrets Manager.
    subnets = {model.resolve(stack, s).logical_id for s in props(function)["VpcConfig"]["SubnetIds"]}
    assert subnets == set(subnets_by_tier(template)["private"])
    _, group = by_path(template, "Roles/RotationSecurityGroup/Resource")
    egress = {(r["IpProtocol"], r["FromPort"], r.get("CidrIp")) for r in props(group)["SecurityGroupEgress"]}
    assert egress == {("tcp", 443, "0.0.0.0/0")}, "only HTTPS out (the Secrets Manager API), plus the database"
    to_db = [props(r) for r in resources(template, "AWS::EC2::SecurityGroupEgress").values()
             if props(r)["GroupId"]["Fn::GetAtt"][0] == by_path(template, "Roles/RotationSecurityGroup/Resource")[0]]
    assert [(r["FromPort"], model.resource(model.resolve(stack, r["DestinationSecurityGroupId"])).path)
            for r in to_db] == [(5432, f"{stack}/Database/SecurityGroup/Resource")]
    # The runtime secret names its master: the function rotates it with alternating users.
    runtime_template = json.loads(props(by_path(template, "Roles/RuntimeSecret/Resource")[1])
                                  ["GenerateSecretString"]["SecretStringTemplate"]["Fn::Join"][1][0] + '"}')
    assert runtime_template["username"] == "hydra"
    assert "masterarn" in json.dumps(props(by_path(template, "Roles/RuntimeSecret/Resource")[1]))


def test_the_rotation_function_may_touch_only_the_secrets_it_rotates(synth):
    template, model, stack = synth.templates["Stateful"], synth.model, synth.stack_name("Stateful")
    [policy] = [props(p) for p in resources(template, "AWS::IAM::Policy").values()
                if "RotationFunctionServiceRole" in json.dumps(props(p)["Roles"])]
    writes = [st for st in policy["PolicyDocument"]["Statement"] if "secretsmanager:PutSecretValue" in st["Action"]]
    [write] = writes
    assert {model.resource(model.resolve(stack, r)).path for r in write["Resource"]} == {
        f"{stack}/Database/Cluster/Secret/Attachment/Resource", f"{stack}/Roles/OwnerSecret/Attachment/Resource",
        f"{stack}/Roles/RuntimeSecret/Attachment/Resource"}
    assert "secretsmanager:UpdateSecretVersionStage" in write["Action"]
    wildcard = [st for st in policy["PolicyDocument"]["Statement"] if st["Resource"] == "*"]
    assert [st["Action"] for st in wildcard] == ["secretsmanager:GetRandomPassword"]


def test_rotations_wait_for_the_roles_they_rotate(synth):
    template = synth.templates["Stateful"]
    roles_id, _ = by_path(template, "Roles/Roles/Default")
    for name in ("MasterRotation", "OwnerRotation", "RuntimeRotation"):
        assert roles_id in by_path(template, f"Roles/{name}/Resource")[1]["DependsOn"]


def test_only_derived_and_procedurally_rotated_secrets_skip_scheduled_rotation(synth):
    acks = acknowledgments(synth.stack("Stateful"))
    smg4 = {path.split("/", 1)[1]: rules["AwsSolutions-SMG4"] for path, rules in acks.items()
            if "AwsSolutions-SMG4" in rules}
    assert set(smg4) == {"Secrets/SystemSecret", "Secrets/DsnSecret", "Secrets/MigrationDsnSecret"}
    assert "re-derived from the database credentials on every rotation" in smg4["Secrets/DsnSecret"]
    assert "rotated by the scripted two-deploy procedure" in smg4["Secrets/SystemSecret"]


def test_every_rotation_redrives_the_dsns_and_redeploys(synth):
    template, model, stack = synth.templates["Operations"], synth.model, synth.stack_name("Operations")
    _, rule = by_path(template, "RotationFollower/RotationSucceeded/Resource")
    assert props(rule)["EventPattern"] == {
        "source": ["aws.secretsmanager"], "detail-type": ["AWS Service Event via CloudTrail"],
        "detail": {"eventSource": ["secretsmanager.amazonaws.com"], "eventName": ["RotationSucceeded"]}}
    [target] = props(rule)["Targets"]
    function = model.resource(model.resolve(stack, target["Arn"]))
    assert function.properties["Handler"] == "hydra_functions.dsn_composer.on_rotation"
    dsn_targets = render(function.properties["Environment"]["Variables"]["DSN_TARGETS"], model, stack)
    assert re.search(r'"source":"<[^>]*Roles/RuntimeSecret/Attachment/Resource>","target":"<[^>]*Secrets/DsnSecret/'
                     r'Resource>","maxConns":\d+,"redeploy":true', dsn_targets), dsn_targets
    assert re.search(r'"source":"<[^>]*Roles/OwnerSecret/Attachment/Resource>","target":"<[^>]*Secrets/'
                     r'MigrationDsnSecret/Resource>","maxConns":4,"redeploy":false', dsn_targets), dsn_targets
    statements = [s for p in resources(template, "AWS::IAM::Policy").values()
                  for s in props(p)["PolicyDocument"]["Statement"] if s["Action"] == "ecs:UpdateService"]
    assert [render(s["Resource"], model, stack) for s in statements] == [f"<{synth.stack_name('Service')}/Hydra/Service/Service>"]


def test_a_rotation_follow_up_that_fails_or_never_arrives_raises_an_alarm(synth):
    template, model, stack = synth.templates["Operations"], synth.model, synth.stack_name("Operations")
    _, rule = by_path(template, "RotationFollower/RotationSucceeded/Resource")
    [target] = props(rule)["Targets"]
    queue = model.resource(model.resolve(stack, target["DeadLetterConfig"]["Arn"]))
    assert queue.path.endswith("RotationFollower/DeadLetters/Resource")
    assert queue.properties["SqsManagedSseEnabled"] is True
    function = render(target["Arn"], model, stack)
    watched = {(name, render(d["Value"], model, stack)) for p in alarms(synth).values()
               for _, name, dims in alarm_metrics(p) for d in dims}
    assert ("Errors", function) in watched, "a failing follow-up must page someone"
    assert ("ApproximateNumberOfMessagesVisible", f"<{queue.path}>") in watched, "an undelivered one too"


# --------------------------------------------------------------- migrations ---

def test_migrations_run_once_per_deploy_before_the_service(synth):
    template, model, stack = synth.templates["Service"], synth.model, synth.stack_name("Service")
    migration_id, migration = by_path(template, "Migrations/Migration/Default")
    p = props(migration)
    migrate = model.resource(model.resolve(stack, p["TaskDefinition"]))
    assert migrate.path.endswith("Hydra/MigrateTaskDefinition/Resource")
    [container] = migrate.properties["ContainerDefinitions"]
    assert container["Command"] == ["migrate", "sql", "up", "-e", "--yes"]
    assert [model.resource(model.resolve(stack, s["ValueFrom"])).path for s in container["Secrets"]] == [
        f"{synth.stack_name('Stateful')}/Secrets/MigrationDsnSecret/Resource"]
    assert model.resource(model.resolve(stack, p["ServiceTaskDefinition"])).path.endswith(
        "Hydra/TaskDefinition/Resource"), "a new image or configuration reruns the migration"
    assert [model.resource(model.resolve(stack, g)).path for g in p["SecurityGroups"]] == [
        f"{stack}/Hydra/CommandsSecurityGroup/Resource"]
    assert {model.resolve(stack, s).logical_id for s in p["Subnets"]} == set(
        subnets_by_tier(synth.templates["Stateful"])["private"])
    _, service = by_path(template, "Hydra/Service/Service")
    assert migration_id in service["DependsOn"], "new tasks start only on a migrated schema"
    into_db = {lid for lid, r in resources(template, "AWS::EC2::SecurityGroupIngress").items()
               if r["Metadata"]["aws:cdk:path"].startswith(f"{stack}/Hydra/CommandsSecurityGroup/")
               and props(r)["FromPort"] == 5432}
    assert into_db and into_db <= set(migration["DependsOn"]), "the task must find its way to the database open"
    provider = model.resource(model.resolve(stack, p["ServiceToken"]))
    poll = model.resource(model.resolve(stack, provider.properties["Environment"]["Variables"][
        "USER_IS_COMPLETE_FUNCTION_ARN"]))
    assert poll.properties["Handler"] == "hydra_functions.migrations.is_complete", "the deploy waits for the task"


def test_prod_snapshots_the_cluster_when_hydra_changes_version(prod, dev):
    for synth, expected in ((prod, "true"), (dev, "false")):
        template = synth.templates["Service"]
        p = props(by_path(template, "Migrations/Migration/Default")[1])
        assert p["SnapshotOnVersionChange"] == expected
        actions = {a for pol in resources(template, "AWS::IAM::Policy").values()
                   for s in props(pol)["PolicyDocument"]["Statement"]
                   for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
        assert ("rds:CreateDBClusterSnapshot" in actions) is (expected == "true")
    assert props(by_path(prod.templates["Service"], "Migrations/Migration/Default")[1])["DbClusterIdentifier"]


# ------------------------------------------------------------ signing keys ---

def test_signing_keys_are_ensured_inside_the_vpc_with_admin_access(synth):
    template, model, stack = synth.templates["Operations"], synth.model, synth.stack_name("Operations")
    p = props(by_path(template, "SigningKeys/KeySets/Default")[1])
    assert p["KeySets"] == ["hydra.openid.id-token", "hydra.jwt.access-token"]
    assert render(p["AdminUrl"], model, stack).endswith("LoadBalancers/AdminNlb/Resource>:4445")
    # Re-ensured whenever a setting moves, without a cross-stack export of the task definition
    # (that export would change on every image bump and block the Service stack's update).
    assert p["ConfigurationFingerprint"] == synth.config.fingerprint
    assert "ServiceTaskDefinition" not in p
    assert synth.config.model_copy(update={"hydra_image": synth.config.hydra_image + "-next"}).fingerprint \
        != synth.config.fingerprint
    _, keys = by_path(template, "SigningKeys/KeySets/Default")
    grants = {lid for lid, r in resources(template, "AWS::EC2::SecurityGroupIngress").items()
              if "AdminNlbSecurityGroup" in r["Metadata"]["aws:cdk:path"] and "SigningKeys" in lid}
    assert grants and grants <= set(keys.get("DependsOn", [])), \
        "the key ensurer must wait for its ingress grant into the admin NLB before calling the admin API"
    admin_sg = next(r for r in model.resources("AWS::EC2::SecurityGroup")
                    if r.path.endswith("LoadBalancers/AdminNlbSecurityGroup/Resource"))
    granted = {model.resource(r.source).path for r in model.rules_into(admin_sg.ref)}
    assert f"{stack}/SigningKeys/Function/SecurityGroup/Resource" in granted


# ------------------------------------------------------------------ janitor ---

def state_machine_definition(synth) -> dict:
    template, model, stack = synth.templates["Operations"], synth.model, synth.stack_name("Operations")
    _, machine = by_path(template, "Janitor/StateMachine/Resource")
    return json.loads(render(props(machine)["DefinitionString"], model, stack))


def test_janitor_runs_with_the_services_ttls(synth):
    model = synth.model
    janitor = next(r for r in model.resources("AWS::ECS::TaskDefinition") if r.path.endswith("Janitor/TaskDefinition/Resource"))
    [container] = janitor.properties["ContainerDefinitions"]
    assert container["Command"] == janitor_command(synth.config)
    assert container["Command"][:5] == ["janitor", "-e", "--tokens", "--requests", "--grants"]
    assert container["Command"][5:] == ["--keep-if-younger", "24h", "--limit", "100000", "--batch-size", "1000"]
    service_env = env_of(props(by_path(synth.templates["Service"], "Hydra/TaskDefinition/Resource")[1])
                         ["ContainerDefinitions"][0])
    ttls = {k: v for k, v in service_env.items() if k.startswith("TTL_")}
    assert {k: v for k, v in env_of(container).items() if k.startswith("TTL_")} == ttls and len(ttls) == 5
    assert [model.resource(model.resolve(synth.stack_name("Operations"), s["ValueFrom"])).path
            for s in container["Secrets"]] == [f"{synth.stack_name('Stateful')}/Secrets/DsnSecret/Resource"]


def test_janitor_schedule_starts_a_state_machine_that_never_overlaps(synth):
    template, model, stack = synth.templates["Operations"], synth.model, synth.stack_name("Operations")
    _, schedule = by_path(template, "Janitor/Schedule/Resource")
    assert props(schedule)["ScheduleExpression"] == synth.config.janitor_schedule
    assert model.resource(model.resolve(stack, props(schedule)["Target"]["Arn"])).path.endswith(
        "Janitor/StateMachine/Resource")
    definition = state_machine_definition(synth)
    states = definition["States"]
    first = states[definition["StartAt"]]
    assert first["Resource"] == "arn:<AWS::Partition>:states:::aws-sdk:ecs:listTasks"
    assert first["Parameters"]["Family"] == f"hydra-{synth.config.env_name}-janitor"
    assert first["Parameters"]["DesiredStatus"] == "RUNNING"
    gate = states[first["Next"]]
    assert gate["Type"] == "Choice"
    [skip_when] = gate["Choices"]
    assert skip_when["NumericGreaterThan"] == 0 and states[skip_when["Next"]]["Type"] == "Succeed"
    run = states[gate["Default"]]
    assert run["Resource"].endswith(":states:::ecs:runTask.sync")
    outcome = states[run["Next"]]
    assert states[outcome["Default"]]["Type"] == "Fail"


# --------------------------------------------------------- health and alarms ---

def test_container_health_check_uses_wget_spider_only_where_busybox_exists(dev, dev_certificate):
    c = props(by_path(dev.templates["Service"], "Hydra/TaskDefinition/Resource")[1])["ContainerDefinitions"][0]
    assert c["HealthCheck"]["Command"] == ["CMD", "wget", "-q", "--spider", "http://127.0.0.1:4444/health/alive"]
    assert "distroless" in dev_certificate.config.hydra_image and not dev_certificate.config.hydra_health_check
    off = dev_certificate
    c = props(by_path(off.templates["Service"], "Hydra/TaskDefinition/Resource")[1])["ContainerDefinitions"][0]
    assert "HealthCheck" not in c


def alarms(synth) -> dict[str, dict]:
    template = synth.templates["Operations"]
    return {lid: props(a) for lid, a in resources(template, "AWS::CloudWatch::Alarm").items()}


def alarm_metrics(p: dict) -> list[tuple[str, str, list]]:
    """(namespace, metric, dimensions) of an alarm, single-metric or metric-math form."""
    if "MetricName" in p:
        return [(p["Namespace"], p["MetricName"], p.get("Dimensions", []))]
    return [(m["MetricStat"]["Metric"]["Namespace"], m["MetricStat"]["Metric"]["MetricName"],
             m["MetricStat"]["Metric"].get("Dimensions", [])) for m in p["Metrics"] if "MetricStat" in m]


def test_alarms_cover_every_signal_and_notify_the_topic(synth):
    template, model, stack = synth.templates["Operations"], synth.model, synth.stack_name("Operations")
    topic_id, _ = only(template, "AWS::SNS::Topic")
    signals = set()
    for p in alarms(synth).values():
        assert p["AlarmActions"] == [{"Ref": topic_id}] and p["OKActions"] == [{"Ref": topic_id}]
        signals.add(tuple(sorted((ns, name) for ns, name, _ in alarm_metrics(p))))
    assert signals == {(("AWS/ApiGateway", "5XXError"),), (("AWS/NetworkELB", "UnHealthyHostCount"),),
                       (("ECS/ContainerInsights", "DesiredTaskCount"), ("ECS/ContainerInsights", "RunningTaskCount")),
                       (("AWS/Events", "TriggeredRules"),), (("AWS/RDS", "CPUUtilization"),),
                       (("AWS/RDS", "DatabaseConnections"),), (("AWS/RDS", "FreeableMemory"),),
                       (("AWS/Lambda", "Errors"),), (("AWS/SQS", "ApproximateNumberOfMessagesVisible"),)}
    target_groups = {render(d["Value"], model, stack) for p in alarms(synth).values()
                     for ns, name, dims in alarm_metrics(p) if name == "UnHealthyHostCount"
                     for d in dims if d["Name"] == "TargetGroup"}
    assert {t.split("/")[-2] for t in target_groups} == {"PublicTargets", "AdminTargets"}


def test_database_connection_alarm_uses_this_configurations_max_connections(synth):
    c = synth.config
    [p] = [p for p in alarms(synth).values() if alarm_metrics(p)[0][1] == "DatabaseConnections"]
    assert p["Threshold"] == int(aurora_postgres_max_connections(c.db_min_capacity, c.db_max_capacity) * 0.8)


def test_failed_migration_and_janitor_tasks_raise_alarms_from_ecs_events(synth):
    template = synth.templates["Operations"]
    for label, family in (("Migration", "migrate"), ("Janitor", "janitor")):
        rule_id, rule = by_path(template, f"Monitoring/{label}TaskFailed/Resource")
        pattern = props(rule)["EventPattern"]
        assert pattern["detail-type"] == ["ECS Task State Change"]
        assert pattern["detail"]["group"] == [f"family:hydra-{synth.config.env_name}-{family}"]
        assert pattern["detail"]["lastStatus"] == ["STOPPED"]
        assert pattern["detail"]["$or"] == [{"containers": {"exitCode": [{"anything-but": 0}]}},
                                            {"stopCode": ["TaskFailedToStart"]}]
        [alarm] = [p for p in alarms(synth).values() if alarm_metrics(p)[0][1] == "TriggeredRules"
                   and alarm_metrics(p)[0][2] == [{"Name": "RuleName", "Value": {"Ref": rule_id}}]]
        assert alarm["Threshold"] == 0 and alarm["ComparisonOperator"] == "GreaterThanThreshold"


def test_dashboard_shows_the_same_signals(synth):
    template, model, stack = synth.templates["Operations"], synth.model, synth.stack_name("Operations")
    _, dashboard = only(template, "AWS::CloudWatch::Dashboard")
    body = render(props(dashboard)["DashboardBody"], model, stack)
    for metric in ("5XXError", "UnHealthyHostCount", "RunningTaskCount", "DesiredTaskCount", "CPUUtilization",
                   "DatabaseConnections", "FreeableMemory"):
        assert f'"{metric}"' in body, metric
    assert body.count('"alarms"') == 1


def test_the_topic_is_encrypted_and_mails_the_configured_address(dev_certificate):
    template = dev_certificate.templates["Operations"]
    _, topic = only(template, "AWS::SNS::Topic")
    assert "KmsMasterKeyId" in props(topic)
    _, subscription = only(template, "AWS::SNS::Subscription")
    assert (props(subscription)["Protocol"], props(subscription)["Endpoint"]) == ("email", "oncall@example.com")


# --------------------------------------------------------- connection budget ---

@pytest.mark.parametrize("min_acu, max_acu, expected", [
    (0.5, 1, 189), (1, 2, 189), (1, 4, 823), (1, 8, 1669), (1, 16, 3360), (1, 64, 5000),
    (0.5, 16, 2000), (0, 32, 2000),  # capped when the minimum is 0 or 0.5 ACU
])
def test_max_connections_follow_the_aurora_table(min_acu, max_acu, expected):
    assert aurora_postgres_max_connections(min_acu, max_acu) == expected


def test_the_worst_case_counts_two_generations_of_tasks_and_every_other_client():
    b = budget(min_acu=1, max_acu=4, max_tasks=10, max_conns=40)
    assert b.total == 2 * 10 * 40 + 4 + 40 + 5 + 3 and not b.fits
    assert "800 (2 x 10 tasks x max_conns 40)" in b.explain() and "max_connections 823" in b.explain()


def test_every_function_that_logs_in_to_the_database_verifies_it_as_configured(synth):
    logging_in = {"hydra_functions.db_roles.on_event", "hydra_functions.rotation.on_rotation",
                  "hydra_functions.dsn_composer.on_event", "hydra_functions.dsn_composer.on_rotation"}
    seen = {}
    for template in synth.templates.values():
        for r in resources(template, "AWS::Lambda::Function").values():
            handler = props(r).get("Handler")
            if handler in logging_in:
                seen[handler] = ((props(r).get("Environment") or {}).get("Variables") or {}).get("DB_TLS")
    assert seen == {h: synth.config.db_server_verification for h in logging_in}
    assert synth.config.db_server_verification == "verify-full"
