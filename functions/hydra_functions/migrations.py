"""Run `hydra migrate sql up -e --yes` once per deploy, as an ECS task, and fail the deploy if it fails.

A CloudFormation custom resource (provider framework): ``on_event`` starts
the work, ``is_complete`` polls it. When the Hydra image changes and
``SnapshotOnVersionChange`` is on, a cluster snapshot is taken first and the
task starts only once the snapshot is available: CloudFormation's rollback
does not roll a schema back. A rollback re-runs the runner from the new image
back to the old one: a snapshot between those two images exists already, and
no second one is taken. Once a new snapshot is available, the runner's older
snapshots beyond the newest ``SnapshotsKept`` are deleted.

Every poll finds "its" task through ``startedBy`` (derived from the
CloudFormation request id), so a task is started at most once per request,
and CloudFormation never runs two updates of one stack at the same time:
migrations never run concurrently.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from datetime import datetime
from typing import Any

import boto3

LOG = logging.getLogger()
LOG.setLevel(logging.INFO)
PHYSICAL_ID = "hydra-migrations"


class MigrationFailed(RuntimeError):
    """The message becomes CloudFormation's failure reason."""


def request_token(event: dict) -> str:
    return "hydra-migrate-" + hashlib.sha256(event["RequestId"].encode()).hexdigest()[:20]


def image_tag(image: str) -> str:
    """'oryd/hydra:v26.2.0' -> 'v26.2.0'; a digest reference gives its digest."""
    if "@" in image:
        return image.rsplit("@", 1)[1]
    last = image.rsplit("/", 1)[-1]
    return last.rsplit(":", 1)[1] if ":" in last else "latest"


def snapshot_id(event: dict) -> str:
    """hydra-before-migrating-from-<old tag>-<request>: at most 63 characters, the unique end kept."""
    tag = re.sub(r"[^a-zA-Z0-9]+", "-", image_tag(event["OldResourceProperties"]["Image"])).strip("-")
    prefix, suffix = "hydra-before-migrating-from-", "-" + request_token(event)[-8:]
    return prefix + tag[:63 - len(prefix) - len(suffix)].strip("-") + suffix


SNAPSHOT_PREFIX = "hydra-before-migrating-"
BEFORE_TAG, AFTER_TAG = "hydra:before-image", "hydra:after-image"


def needs_snapshot(event: dict) -> bool:
    props = event["ResourceProperties"]
    return (event["RequestType"] == "Update" and props.get("SnapshotOnVersionChange") == "true"
            and event.get("OldResourceProperties", {}).get("Image") != props["Image"])


def upgrade_snapshots(rds: Any, cluster: str) -> list[dict]:
    """This runner's manual snapshots of ``cluster``, oldest first, each with its image tags."""
    found = []
    paginator = rds.get_paginator("describe_db_cluster_snapshots")
    for page in paginator.paginate(DBClusterIdentifier=cluster, SnapshotType="manual"):
        for snapshot in page["DBClusterSnapshots"]:
            if snapshot["DBClusterSnapshotIdentifier"].startswith(SNAPSHOT_PREFIX):
                tags = rds.list_tags_for_resource(ResourceName=snapshot["DBClusterSnapshotArn"])["TagList"]
                found.append({**snapshot, "Tags": {t["Key"]: t["Value"] for t in tags}})
    return sorted(found, key=lambda s: (str(s.get("SnapshotCreateTime", "")), s["DBClusterSnapshotIdentifier"]))


def snapshot_of_the_same_versions(snapshots: list[dict], old_image: str, new_image: str) -> str | None:
    """A snapshot taken between these two images, either way round: a rollback re-runs the runner from
    the new image back to the old one, and the snapshot of the upgrade is the one to restore."""
    for snapshot in snapshots:
        if {snapshot["Tags"].get(BEFORE_TAG), snapshot["Tags"].get(AFTER_TAG)} == {old_image, new_image}:
            return snapshot["DBClusterSnapshotIdentifier"]
    return None


def prune_snapshots(rds: Any, cluster: str, keep: int) -> list[str]:
    """Delete this runner's snapshots of ``cluster`` beyond the newest ``keep`` (available ones only)."""
    snapshots = upgrade_snapshots(rds, cluster)
    deleted = []
    for snapshot in snapshots[:max(len(snapshots) - keep, 0)]:
        if snapshot.get("Status", "available") == "available":
            rds.delete_db_cluster_snapshot(DBClusterSnapshotIdentifier=snapshot["DBClusterSnapshotIdentifier"])
            deleted.append(snapshot["DBClusterSnapshotIdentifier"])
    if deleted:
        LOG.info("pruned the pre-upgrade snapshots %s (keeping the newest %d)", ", ".join(deleted), keep)
    return deleted


def start_task(ecs: Any, props: dict, token: str) -> str:
    existing = _find_task(ecs, props["Cluster"], token)
    if existing:
        return existing["taskArn"]
    response = ecs.run_task(
        cluster=props["Cluster"], taskDefinition=props["TaskDefinition"], launchType="FARGATE", count=1,
        startedBy=token,
        networkConfiguration={"awsvpcConfiguration": {
            "subnets": props["Subnets"], "securityGroups": props["SecurityGroups"], "assignPublicIp": "DISABLED"}})
    if response.get("failures") or not response.get("tasks"):
        reasons = "; ".join(f"{f.get('arn', '')} {f.get('reason', '')} {f.get('detail', '')}".strip()
                            for f in response.get("failures", [])) or "no task was started"
        raise MigrationFailed(f"could not start the migration task: {reasons}")
    arn = response["tasks"][0]["taskArn"]
    LOG.info("started migration task %s", arn)
    return arn


def _find_task(ecs: Any, cluster: str, token: str) -> dict | None:
    arns = []
    for status in ("RUNNING", "STOPPED"):
        arns += ecs.list_tasks(cluster=cluster, startedBy=token, desiredStatus=status).get("taskArns", [])
    if not arns:
        return None
    return ecs.describe_tasks(cluster=cluster, tasks=arns[:1])["tasks"][0]


def on_event(event: dict, _context: Any = None, *, ecs: Any = None, rds: Any = None) -> dict:
    props = event["ResourceProperties"]
    if event["RequestType"] == "Delete":
        return {"PhysicalResourceId": event.get("PhysicalResourceId", PHYSICAL_ID)}
    token = request_token(event)
    if needs_snapshot(event):
        rds = rds or boto3.client("rds")
        old_image = event["OldResourceProperties"]["Image"]
        taken = snapshot_of_the_same_versions(upgrade_snapshots(rds, props["DbClusterIdentifier"]), old_image,
                                              props["Image"])
        if taken:
            LOG.info("no new snapshot: %s was taken between %s and %s (a rollback re-runs the runner)",
                     taken, old_image, props["Image"])
        else:
            snapshot = snapshot_id(event)
            rds.create_db_cluster_snapshot(
                DBClusterSnapshotIdentifier=snapshot, DBClusterIdentifier=props["DbClusterIdentifier"],
                Tags=[{"Key": BEFORE_TAG, "Value": old_image}, {"Key": AFTER_TAG, "Value": props["Image"]}])
            LOG.info("snapshot %s before migrating to %s", snapshot, props["Image"])
            return {"PhysicalResourceId": PHYSICAL_ID,
                    "Data": {"SnapshotId": snapshot, "StartedAt": str(int(time.time()))}}
    arn = start_task(ecs or boto3.client("ecs"), props, token)
    return {"PhysicalResourceId": PHYSICAL_ID,
            "Data": {"TaskArn": arn, "StartedAt": str(int(time.time()))}}


def _logs_hint(props: dict, task_arn: str) -> str:
    task_id = task_arn.rsplit("/", 1)[-1]
    return (f"logs: CloudWatch log group {props['LogGroup']}, stream "
            f"{props['LogStreamPrefix']}/{props['ContainerName']}/{task_id}")


def is_complete(event: dict, _context: Any = None, *, ecs: Any = None, rds: Any = None,
                now: float | None = None) -> dict:
    props = event["ResourceProperties"]
    if event["RequestType"] == "Delete":
        return {"IsComplete": True}
    ecs = ecs or boto3.client("ecs")
    data = event.get("Data", {})
    token = request_token(event)  # the same request id as on_event: the task it started
    task = _find_task(ecs, props["Cluster"], token)
    if task is None:
        snapshot = data.get("SnapshotId")
        if not snapshot:
            raise MigrationFailed(f"the migration task started for this deploy ({token}) cannot be found")
        rds = rds or boto3.client("rds")
        status = rds.describe_db_cluster_snapshots(
            DBClusterSnapshotIdentifier=snapshot)["DBClusterSnapshots"][0]["Status"]
        if status == "available":
            # The new snapshot exists: only now may older ones go.
            prune_snapshots(rds, props["DbClusterIdentifier"], int(props.get("SnapshotsKept", "3")))
            start_task(ecs, props, token)
        elif status not in ("creating", "copying"):
            raise MigrationFailed(f"the pre-migration snapshot {snapshot} is {status}; nothing was migrated")
        return {"IsComplete": False}

    arn = task["taskArn"]
    if task.get("lastStatus") != "STOPPED":
        # The task's own clock when ECS gives it, else when this deploy step began.
        started = task.get("createdAt") or task.get("startedAt")
        started = started.timestamp() if isinstance(started, datetime) else float(data.get("StartedAt", time.time()))
        elapsed = (now or time.time()) - started
        limit = int(props.get("TimeoutMinutes", "20")) * 60
        if elapsed > limit:
            ecs.stop_task(cluster=props["Cluster"], task=arn, reason="migration exceeded its time limit")
            raise MigrationFailed(f"the migration task {arn} ran longer than {limit // 60} minutes and was "
                                  f"stopped; {_logs_hint(props, arn)}")
        return {"IsComplete": False}

    container = next((c for c in task.get("containers", []) if c.get("name") == props["ContainerName"]), {})
    exit_code = container.get("exitCode")
    if exit_code == 0:
        LOG.info("migrations applied by %s", arn)
        return {"IsComplete": True, "Data": {"TaskArn": arn, "ExitCode": "0"}}
    if exit_code is not None:
        raise MigrationFailed(f"hydra migrate failed: task {arn} exited with code {exit_code}; "
                              f"{_logs_hint(props, arn)}")
    reason = task.get("stoppedReason") or container.get("reason") or "no reason given"
    raise MigrationFailed(f"hydra migrate never ran: task {arn} stopped without an exit code: {reason}; "
                          f"{_logs_hint(props, arn)}")

