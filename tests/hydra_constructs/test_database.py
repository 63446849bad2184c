"""Database: Aurora PostgreSQL Serverless v2, isolated, encrypted, TLS-only, reachable from named groups."""

from __future__ import annotations

from hydra_on_aws.boundary.templates import ResourceRef

from tests.support.cfn import by_path, only, props, resources
from tests.hydra_constructs.test_network import subnets_by_tier


def cluster(synth) -> dict:
    return only(synth.templates["Stateful"], "AWS::RDS::DBCluster")[1]


def test_engine_capacity_and_backups_follow_configuration(synth):
    p, c = props(cluster(synth)), synth.config
    assert p["Engine"] == "aurora-postgresql"
    assert p["EngineVersion"] == c.db_engine_version
    assert p["ServerlessV2ScalingConfiguration"] == {"MinCapacity": c.db_min_capacity,
                                                     "MaxCapacity": c.db_max_capacity}
    assert p["BackupRetentionPeriod"] == c.db_backup_retention_days
    instances = resources(synth.templates["Stateful"], "AWS::RDS::DBInstance")
    assert len(instances) == 1 + c.db_readers
    assert all(props(i)["DBInstanceClass"] == "db.serverless" and props(i)["PubliclyAccessible"] is False
               for i in instances.values())


def test_storage_encrypted_tls_forced_and_logs_exported(synth):
    template = synth.templates["Stateful"]
    p = props(cluster(synth))
    assert p["StorageEncrypted"] is True
    assert p["EnableCloudwatchLogsExports"] == ["postgresql"]
    group = template["Resources"][p["DBClusterParameterGroupName"]["Ref"]]
    assert props(group)["Parameters"]["rds.force_ssl"] == "1"
    _, retention = by_path(template, "Database/Cluster/LogRetentionpostgresql/Resource")
    assert props(retention)["RetentionInDays"] == synth.config.log_retention_days


def test_database_lives_in_the_isolated_subnets(synth):
    template = synth.templates["Stateful"]
    subnet_group = template["Resources"][props(cluster(synth))["DBSubnetGroupName"]["Ref"]]
    assert {s["Ref"] for s in props(subnet_group)["SubnetIds"]} == set(subnets_by_tier(template)["isolated"])


def test_prod_is_protected_snapshotted_and_keeps_two_weeks_of_backups(prod):
    c = cluster(prod)
    assert props(c)["DeletionProtection"] is True
    assert c["DeletionPolicy"] == "Snapshot" and c["UpdateReplacePolicy"] == "Snapshot"
    assert props(c)["BackupRetentionPeriod"] >= 14


def test_dev_database_is_disposable(dev):
    c = cluster(dev)
    assert props(c)["DeletionProtection"] is False
    assert c["DeletionPolicy"] == "Delete"


def test_port_5432_is_open_only_to_named_security_groups(synth):
    model = synth.model
    stateful = synth.stack_name("Stateful")
    db_cluster = next(model.resources("AWS::RDS::DBCluster"))
    [db_sg] = model.groups_attached(db_cluster)
    rules = model.rules_into(db_sg)
    assert rules, "the database must be reachable by Hydra"
    for rule in rules:
        assert (rule.protocol, rule.from_port, rule.to_port) == ("tcp", 5432, 5432)
        assert isinstance(rule.source, ResourceRef), f"5432 open to a non-group source {rule.source}"
    env = synth.config.env_name
    assert {model.resource(r.source).path for r in rules} == {
        f"Hydra-{env}-Ingress/LoadBalancers/HydraTasksSecurityGroup/Resource",       # serve
        f"Hydra-{env}-Service/Hydra/CommandsSecurityGroup/Resource",                  # migrate, janitor
        f"Hydra-{env}-Stateful/Secrets/DsnComposer/SecurityGroup/Resource",          # DSN login proof
        f"Hydra-{env}-Stateful/Roles/Bootstrap/SecurityGroup/Resource",              # roles, as master
        f"Hydra-{env}-Stateful/Roles/RotationSecurityGroup/Resource",                # secret rotation
        f"Hydra-{env}-Operations/RotationFollower/Function/SecurityGroup/Resource",  # re-derived DSN proof
    }
    assert db_sg.stack == stateful
