"""The migration runner against moto's ECS and RDS: success, failure by exit code or stoppedReason, timeout,
and the pre-upgrade snapshot."""

from __future__ import annotations

import re

import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ecs.models import ecs_backends

from hydra_functions import migrations
from hydra_functions.migrations import MigrationFailed

from tests.conftest import MOTO_REGION as REGION


@pytest.fixture
def aws(moto_session):
    ec2 = moto_session.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.40.0.0/16")["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})  # as CDK's VPC has
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.40.16.0/20")["Subnet"]["SubnetId"]
    sg = ec2.create_security_group(GroupName="commands", Description="hydra commands", VpcId=vpc)["GroupId"]
    ecs = moto_session.client("ecs")
    cluster = ecs.create_cluster(clusterName="hydra")["cluster"]["clusterArn"]
    taskdef = ecs.register_task_definition(
        family="hydra-migrate", networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu="256",
        memory="512", containerDefinitions=[{"name": "hydra-migrate", "image": "oryd/hydra:v26.2.0", "memory": 512,
                                             "command": ["migrate", "sql", "up", "-e", "--yes"]}],
    )["taskDefinition"]["taskDefinitionArn"]
    rds = moto_session.client("rds")
    rds.create_db_cluster(DBClusterIdentifier="hydra-db", Engine="aurora-postgresql",
                          MasterUsername="hydra_admin", MasterUserPassword="not-used-here-123")
    props = {"Cluster": cluster, "TaskDefinition": taskdef, "Subnets": [subnet], "SecurityGroups": [sg],
             "ContainerName": "hydra-migrate", "LogGroup": "/hydra/dev", "LogStreamPrefix": "migrate",
             "Image": "oryd/hydra:v26.2.0", "SnapshotOnVersionChange": "false",
             "DbClusterIdentifier": "hydra-db", "TimeoutMinutes": "20"}
    yield ecs, rds, props


def event(kind: str, props: dict, old: dict | None = None, request: str = "req-1") -> dict:
    e = {"RequestType": kind, "RequestId": request, "ResourceProperties": props}
    if old is not None:
        e["OldResourceProperties"] = old
    return e


def stop(task_arn: str, *, exit_code: int | None, reason: str = "") -> None:
    """What ECS records when a task stops (moto's tasks never stop by themselves)."""
    tasks = ecs_backends[DEFAULT_ACCOUNT_ID][REGION].tasks["hydra"]
    task = tasks[task_arn.rsplit("/", 1)[-1]] if task_arn.rsplit("/", 1)[-1] in tasks else tasks[task_arn]
    task.status = "STOPPED"
    task.desired_status = "STOPPED"
    task.stopped_reason = reason
    task.containers[0].exitCode = exit_code


def poll(e: dict, started: dict, ecs, rds, **kwargs) -> dict:
    return migrations.is_complete({**e, **started}, ecs=ecs, rds=rds, **kwargs)


def test_a_deploy_starts_one_task_in_the_private_network_and_succeeds_on_exit_0(aws):
    ecs, rds, props = aws
    e = event("Create", props)
    started = migrations.on_event(e, ecs=ecs, rds=rds)
    arn = started["Data"]["TaskArn"]
    [task] = ecs.describe_tasks(cluster=props["Cluster"], tasks=[arn])["tasks"]
    assert task["startedBy"] == migrations.request_token(e) and task["launchType"] == "FARGATE"
    assert poll(e, started, ecs, rds) == {"IsComplete": False}
    # Polling again never starts a second task for the same deploy.
    assert migrations.on_event(e, ecs=ecs, rds=rds)["Data"]["TaskArn"] == arn
    stop(arn, exit_code=0)
    assert poll(e, started, ecs, rds) == {"IsComplete": True, "Data": {"TaskArn": arn, "ExitCode": "0"}}


def test_a_non_zero_exit_code_fails_the_deploy_with_where_the_logs_are(aws):
    ecs, rds, props = aws
    e = event("Update", props, old=props)
    started = migrations.on_event(e, ecs=ecs, rds=rds)
    arn = started["Data"]["TaskArn"]
    stop(arn, exit_code=1)
    with pytest.raises(MigrationFailed) as excinfo:
        poll(e, started, ecs, rds)
    task_id = arn.rsplit("/", 1)[-1]
    assert str(excinfo.value) == (f"hydra migrate failed: task {arn} exited with code 1; logs: CloudWatch log "
                                  f"group /hydra/dev, stream migrate/hydra-migrate/{task_id}")


def test_a_task_that_never_ran_reports_its_stopped_reason(aws):
    ecs, rds, props = aws
    e = event("Update", props, old=props)
    started = migrations.on_event(e, ecs=ecs, rds=rds)
    stop(started["Data"]["TaskArn"], exit_code=None,
         reason="CannotPullContainerError: pull image manifest has been retried 5 time(s)")
    with pytest.raises(MigrationFailed, match="stopped without an exit code: CannotPullContainerError: pull image "
                                              "manifest has been retried 5 time"):
        poll(e, started, ecs, rds)


def test_a_task_running_past_its_limit_is_stopped_and_fails(aws):
    ecs, rds, props = aws
    e = event("Update", {**props, "TimeoutMinutes": "1"}, old=props)
    started = migrations.on_event(e, ecs=ecs, rds=rds)
    arn = started["Data"]["TaskArn"]
    assert poll(e, started, ecs, rds, now=int(started["Data"]["StartedAt"]) + 59) == {"IsComplete": False}
    with pytest.raises(MigrationFailed, match="ran longer than 1 minutes and was stopped"):
        poll(e, started, ecs, rds, now=int(started["Data"]["StartedAt"]) + 61)
    [task] = ecs.describe_tasks(cluster=props["Cluster"], tasks=[arn])["tasks"]
    assert task["desiredStatus"] == "STOPPED"


def test_a_new_hydra_version_is_snapshotted_before_migrating(aws):
    ecs, rds, props = aws
    new = {**props, "Image": "oryd/hydra:v26.3.0", "SnapshotOnVersionChange": "true"}
    e = event("Update", new, old=props, request="req-upgrade")
    started = migrations.on_event(e, ecs=ecs, rds=rds)
    snapshot = started["Data"]["SnapshotId"]
    assert snapshot.startswith("hydra-before-migrating-from-v26-2-0-")
    assert "TaskArn" not in started["Data"], "nothing migrates before the snapshot exists"
    [found] = rds.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=snapshot)["DBClusterSnapshots"]
    assert found["DBClusterIdentifier"] == "hydra-db"
    # moto creates snapshots 'available' at once: the next poll starts the task.
    assert poll(e, started, ecs, rds) == {"IsComplete": False}
    assert ecs.list_tasks(cluster=props["Cluster"], startedBy=migrations.request_token(e))["taskArns"]


def test_snapshot_names_from_long_digests_stay_valid_and_unique_per_deploy():
    old = {"Image": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/hydra@sha256:" + "ab" * 32}
    names = {migrations.snapshot_id(event("Update", {}, old=old, request=f"req-{n}")) for n in range(20)}
    assert len(names) == 20, "two deploys from the same image must not collide on one snapshot name"
    for name in names:
        # RDS: a letter first, letters, digits and single hyphens, no hyphen at the end.
        assert len(name) <= 63 and re.fullmatch(r"[a-z](-?[a-z0-9]+)*", name), name
        assert name.startswith("hydra-before-migrating-from-sha256-abab")


def test_no_snapshot_when_the_image_is_unchanged_or_snapshots_are_off(aws):
    ecs, rds, props = aws
    same = {**props, "SnapshotOnVersionChange": "true"}
    assert "TaskArn" in migrations.on_event(event("Update", same, old=same), ecs=ecs, rds=rds)["Data"]
    changed = {**props, "Image": "oryd/hydra:v26.3.0"}
    assert "TaskArn" in migrations.on_event(event("Update", changed, old=props, request="r2"), ecs=ecs,
                                            rds=rds)["Data"]
    assert rds.describe_db_cluster_snapshots(SnapshotType="manual")["DBClusterSnapshots"] == []


def test_delete_does_nothing(aws):
    ecs, rds, props = aws
    assert migrations.on_event({**event("Delete", props), "PhysicalResourceId": "hydra-migrations"}, ecs=ecs,
                               rds=rds) == {"PhysicalResourceId": "hydra-migrations"}
    assert ecs.list_tasks(cluster=props["Cluster"])["taskArns"] == []


def upgrade(ecs, rds, props, old_image: str, new_image: str, request: str, kept: int = 3) -> dict:
    """One deploy from ``old_image`` to ``new_image``, run to its end; what on_event answered."""
    new = {**props, "Image": new_image, "SnapshotOnVersionChange": "true", "SnapshotsKept": str(kept)}
    e = event("Update", new, old={**props, "Image": old_image}, request=request)
    started = migrations.on_event(e, ecs=ecs, rds=rds)
    poll(e, started, ecs, rds)
    return started


def snapshots(rds) -> list[str]:
    return sorted(s["DBClusterSnapshotIdentifier"]
                  for s in rds.describe_db_cluster_snapshots(SnapshotType="manual")["DBClusterSnapshots"])


def test_a_rollback_takes_no_second_snapshot_of_the_same_versions(aws):
    ecs, rds, props = aws
    first = upgrade(ecs, rds, props, "oryd/hydra:v26.2.0", "oryd/hydra:v26.3.0", "req-up")
    assert "SnapshotId" in first["Data"]
    # CloudFormation's rollback: the same resource, updated back from the new image to the old one.
    back = upgrade(ecs, rds, props, "oryd/hydra:v26.3.0", "oryd/hydra:v26.2.0", "req-rollback")
    assert "SnapshotId" not in back["Data"] and "TaskArn" in back["Data"], "it migrates at once"
    assert snapshots(rds) == [first["Data"]["SnapshotId"]]


def test_older_pre_upgrade_snapshots_are_pruned_to_the_newest_kept(aws):
    ecs, rds, props = aws
    rds.create_db_cluster_snapshot(DBClusterSnapshotIdentifier="someone-elses-snapshot",
                                   DBClusterIdentifier="hydra-db")
    taken = [upgrade(ecs, rds, props, f"oryd/hydra:v26.{n}.0", f"oryd/hydra:v26.{n + 1}.0", f"req-{n}",
                     kept=2)["Data"]["SnapshotId"] for n in range(4)]
    assert snapshots(rds) == sorted(taken[-2:] + ["someone-elses-snapshot"]), \
        "the newest two of the runner's own, and nobody else's"
