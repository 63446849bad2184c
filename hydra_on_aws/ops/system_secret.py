"""Rotate SECRETS_SYSTEM without locking anyone out.

    python -m hydra_on_aws.ops.system_secret --env prod status|append|promote|rekey|drop

Hydra encrypts with the first entry of SECRETS_SYSTEM and decrypts with any,
and every task must see the same list. So:

1. ``append``  - add a new secret last; redeploy. Every task can now decrypt
   with both, and still encrypts with the old one.
2. ``promote`` - move the new secret first; redeploy. New data (signing keys,
   sessions, token signatures) uses the new secret.
3. ``rekey``   - through the admin API, add a new signing key to every key set;
   the new keys are encrypted with the new secret. The old keys stay
   published so that tokens they signed still verify.
4. ``drop``    - once the tokens signed with the old keys have expired (and,
   unless you accept the loss, the refresh tokens minted under the old secret
   too): delete the old keys, remove the old secret; redeploy.

Progress is kept in tags on the secret, so each step refuses to run out of
order. The secret's values are never printed. The admin API is reached
through the bastion's port forwarding (``HYDRA_ADMIN_API``, default
``http://localhost:4445``).
"""

from __future__ import annotations

import argparse
import os
import secrets as random
import string
import sys
import time
from dataclasses import dataclass
from typing import Callable

import boto3

from hydra_functions.clients import AdminApi, AdminError
from hydra_functions.signing_keys import KEY_SETS
from hydra_on_aws.ops.aws_cli import run, stack_outputs
from hydra_on_aws.config.settings import ConfigError, HydraConfig, cdk_json_context, duration_seconds, load_config

STEP_TAG, AT_TAG, OLD_KIDS_TAG = "hydra:system-secret-step", "hydra:system-secret-at", "hydra:system-secret-old-kids"
JWKS_CACHE_SECONDS = 300  # resource servers are told to cache the JWKS for about five minutes
ALPHABET = string.ascii_letters + string.digits  # no ',' or '"': Hydra splits list settings as CSV


class StepRefused(Exception):
    """The step cannot run now; the message says why and what to do."""


def new_secret(length: int = 64) -> str:
    return "".join(random.choice(ALPHABET) for _ in range(length))


@dataclass
class Deployment:
    secret_arn: str
    cluster: str
    service: str


class SystemSecretRotation:
    def __init__(self, session: boto3.Session, config: HydraConfig, *, admin_url: str,
                 admin: AdminApi | None = None, clock: Callable[[], float] = time.time,
                 redeploy: bool = True, out: Callable[[str], None] = print) -> None:
        self.sm = session.client("secretsmanager")
        self.ecs = session.client("ecs")
        self.session = session
        self.config = config
        self.admin_url = admin_url
        self.admin = admin or AdminApi(admin_url, timeout=15)
        self.clock = clock
        self.redeploy_enabled = redeploy
        self.out = out
        self.deployment = self._find()

    def _find(self) -> Deployment:
        outputs = stack_outputs(self.session, *(f"{self.config.stack_prefix}-{p}" for p in ("Stateful", "Service")))
        return Deployment(outputs["SystemSecretArn"], outputs["ClusterName"], outputs["ServiceName"])

    # -- state
    def entries(self) -> list[str]:
        value = self.sm.get_secret_value(SecretId=self.deployment.secret_arn)["SecretString"]
        return [e for e in value.split(",") if e]

    def tags(self) -> dict[str, str]:
        described = self.sm.describe_secret(SecretId=self.deployment.secret_arn)
        return {t["Key"]: t["Value"] for t in described.get("Tags", [])}

    def _store(self, entries: list[str], step: str | None, **extra: str) -> None:
        for entry in entries:
            if len(entry) < 32 or any(c not in ALPHABET for c in entry):
                raise StepRefused("refusing to store an entry Hydra could split or reject")
        self.sm.put_secret_value(SecretId=self.deployment.secret_arn, SecretString=",".join(entries))
        if step is None:
            self.sm.untag_resource(SecretId=self.deployment.secret_arn, TagKeys=[STEP_TAG, AT_TAG, OLD_KIDS_TAG])
        else:
            tags = {STEP_TAG: step, AT_TAG: str(int(self.clock())), **extra}
            self.sm.tag_resource(SecretId=self.deployment.secret_arn,
                                 Tags=[{"Key": k, "Value": v} for k, v in tags.items()])

    def _redeploy(self) -> None:
        if not self.redeploy_enabled:
            self.out("Redeploy skipped (--no-redeploy): run `aws ecs update-service --force-new-deployment "
                     f"--cluster {self.deployment.cluster} --service {self.deployment.service}` yourself.")
            return
        self.ecs.update_service(cluster=self.deployment.cluster, service=self.deployment.service,
                                forceNewDeployment=True)
        self.out(f"Forced a new deployment of {self.deployment.service}; new tasks read the new value.")

    def _require(self, step: str) -> dict[str, str]:
        tags = self.tags()
        current = tags.get(STEP_TAG, "")
        if current != step:
            raise StepRefused(f"this step needs the rotation to be at '{step or 'not started'}', it is at "
                              f"'{current or 'not started'}'; run `status`")
        return tags

    # -- steps
    def status(self) -> None:
        tags = self.tags()
        step = tags.get(STEP_TAG, "")
        following = {"": "append", "appended": "promote", "promoted": "rekey", "rekeyed": "drop"}[step]
        self.out(f"SECRETS_SYSTEM of {self.config.env_name}: {len(self.entries())} entr"
                 f"{'y' if len(self.entries()) == 1 else 'ies'}; rotation step: {step or 'not started'}; "
                 f"next: {following}")

    def append(self) -> None:
        self._require("")
        entries = self.entries()
        self._store(entries + [new_secret()], "appended")
        self.out(f"Appended a new secret ({len(entries) + 1} entries; the first still encrypts).")
        self._redeploy()
        self.out("Next, once the deployment has finished: promote.")

    def promote(self) -> None:
        self._require("appended")
        entries = self.entries()
        self._store([entries[-1]] + entries[:-1], "promoted")
        self.out("Moved the new secret first: new data is encrypted with it.")
        self._redeploy()
        self.out("Next, once the deployment has finished: rekey (needs the admin API).")

    def rekey(self) -> None:
        self._require("promoted")
        old: list[str] = []
        for key_set in KEY_SETS:
            status, body, _ = self.admin.request("GET", f"/admin/keys/{key_set}")
            if status == 404:
                continue
            if status != 200:
                raise StepRefused(f"the admin API answered HTTP {status} for {key_set}: is the port forward "
                                  f"to {self.admin_url} running?")
            old += [f"{key_set}/{k['kid']}" for k in body.get("keys", [])]
            status, _, _ = self.admin.request("POST", f"/admin/keys/{key_set}", {"alg": "RS256", "use": "sig"})
            if status not in (200, 201):
                raise StepRefused(f"creating a new key in {key_set} answered HTTP {status}")
        self._store(self.entries(), "rekeyed", **{OLD_KIDS_TAG: " ".join(old)})
        wait = self.token_wait()
        self.out(f"Created a new signing key in each set; {len(old)} old key(s) stay published for now.")
        self.out(f"Next, in {wait // 60} minutes or later: drop.")

    def token_wait(self) -> int:
        """Seconds until no valid token can carry an old key's signature."""
        c = self.config
        return int(max(duration_seconds(c.ttl_access_token), duration_seconds(c.ttl_id_token))) + JWKS_CACHE_SECONDS

    def drop(self, *, accept_refresh_token_loss: bool = False) -> None:
        tags = self._require("rekeyed")
        waited = self.clock() - int(tags[AT_TAG])
        if waited < self.token_wait():
            raise StepRefused(f"tokens signed with the old keys may still be valid for "
                              f"{int(self.token_wait() - waited) // 60 + 1} minutes; drop after that")
        refresh = duration_seconds(self.config.ttl_refresh_token)
        if waited < refresh and not accept_refresh_token_loss:
            raise StepRefused(
                f"refresh tokens minted under the old secret stay valid for up to {self.config.ttl_refresh_token} "
                "after promotion; dropping it now signs those users out. Wait, or pass "
                "--accept-refresh-token-loss")
        for item in tags.get(OLD_KIDS_TAG, "").split():
            key_set, kid = item.split("/", 1)
            status, _, _ = self.admin.request("DELETE", f"/admin/keys/{key_set}/{kid}")
            if status not in (204, 404):
                raise StepRefused(f"deleting key {kid} from {key_set} answered HTTP {status}")
        entries = self.entries()
        self._store(entries[:1], None)
        self.out(f"Deleted the old signing keys and dropped {len(entries) - 1} old secret(s).")
        self._redeploy()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hydra_on_aws.ops.system_secret",
                                     description="Rotate Hydra's SECRETS_SYSTEM in steps (see the module docs).")
    parser.add_argument("step", choices=["status", "append", "promote", "rekey", "drop"])
    parser.add_argument("--env", required=True)
    parser.add_argument("--region")
    parser.add_argument("--profile")
    parser.add_argument("--admin-url", default=os.environ.get("HYDRA_ADMIN_API", "http://localhost:4445"))
    parser.add_argument("--no-redeploy", action="store_true", help="do not force a new ECS deployment")
    parser.add_argument("--accept-refresh-token-loss", action="store_true",
                        help="drop before the refresh-token lifetime has passed (those users log in again)")
    args = parser.parse_args(argv)

    def step() -> int:
        config = load_config({**cdk_json_context(), "env": args.env})
        session = boto3.Session(profile_name=args.profile, region_name=args.region or config.region)
        rotation = SystemSecretRotation(session, config, admin_url=args.admin_url, redeploy=not args.no_redeploy)
        if args.step == "drop":
            rotation.drop(accept_refresh_token_loss=args.accept_refresh_token_loss)
        else:
            getattr(rotation, args.step)()
        return 0
    return run(step, prefix="refused", expected=(StepRefused, ConfigError, AdminError))


if __name__ == "__main__":
    sys.exit(main())
