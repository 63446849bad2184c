"""The change catalogue: every setting moved to another valid value, and what operators do, each
synthesized before and after in dev and prod and judged by :mod:`devtools.change_impact`.

A routine change must deploy as an update: no stateful resource replaced or destroyed, no fixed
name replaced under the same name, no export changed while imported. A change that cannot (a new
VPC range replaces the VPC and with it the database) is marked ``routine=False`` with what to do
instead; the catalogue test checks that it still cannot, so the README never promises too much.

    python -m devtools.catalogue          # the table, as the README shows it
"""

from __future__ import annotations

import copy
import json
import sys
from dataclasses import dataclass, field
from typing import Any

from devtools.change_impact import DiffEngine, Impact, assess, describe

ENVIRONMENTS = ("dev", "prod")
PINNED = {"account": "123456789012", "region": "eu-west-1", "availability_zones": ["eu-west-1a", "eu-west-1b"]}
ZONE = {"hosted_zone_id": "Z0123456789ABCDEFGHIJ", "hosted_zone_name": "example.com"}
CERTIFICATE = "arn:aws:acm:eu-west-1:123456789012:certificate/0b1f2c3d-4e5f-6789-abcd-ef0123456789"
OTHER_CERTIFICATE = "arn:aws:acm:eu-west-1:123456789012:certificate/1c2d3e4f-5a6b-7890-bcde-f01234567890"
PRODUCTION_FLOORS = dict(production=True, hydra_min_tasks=2, db_deletion_protection=True,
                         db_removal_policy="snapshot", db_backup_retention_days=14, waf_enabled=True,
                         nat="gateway", snapshot_before_upgrade=True)
EXTRA_CLIENT = {"client_id": "reporting-service", "client_name": "Reporting", "grant_types": ["client_credentials"],
                "scope": "reports", "audience": ["https://api.example.com"],
                "token_endpoint_auth_method": "client_secret_post"}


@dataclass(frozen=True)
class Change:
    name: str
    dev: dict | None                   # laid over dev's settings; None: not a change for dev
    prod: dict | None
    settings: tuple[str, ...] = ()     # the settings it moves (default: its name)
    before: dict = field(default_factory=dict)   # where the change starts, when not at cdk.json's values
    add_client: bool = False
    routine: bool = True
    how: str = ""                      # for a change that is not routine: what to do instead
    note: str = ""                     # what else an operator must know about a routine change

    @property
    def covers(self) -> tuple[str, ...]:
        return self.settings or (self.name,)


def same(overrides: dict) -> dict[str, dict]:
    return {"dev": overrides, "prod": overrides}


def _c(name: str, dev: dict | None, prod: dict | None = ..., **kwargs: Any) -> Change:  # type: ignore[assignment]
    return Change(name, dev, dev if prod is ... else prod, **kwargs)


CATALOGUE: tuple[Change, ...] = (
    # -- operators' changes
    _c("a new Hydra image", {"hydra_image": "oryd/hydra:v26.3.0"}, settings=("hydra_image",)),
    _c("the image copied to ECR", {"hydra_image": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/hydra:v26.2.0"},
       settings=("hydra_image",)),
    _c("a larger task", {"hydra_cpu": 512, "hydra_memory": 1024}, {"hydra_cpu": 1024, "hydra_memory": 2048},
       settings=("hydra_cpu", "hydra_memory")),
    _c("more capacity", {"hydra_max_tasks": 4, "db_max_capacity": 4}, {"hydra_max_tasks": 8, "db_max_capacity": 16},
       settings=("hydra_max_tasks", "db_max_capacity")),
    _c("shorter token lifetimes", {"ttl_access_token": "5m", "ttl_id_token": "5m"},
       settings=("ttl_access_token", "ttl_id_token")),
    _c("adding a client", {}, add_client=True, settings=("clients",)),
    _c("enabling the custom domain", {"domain_name": "auth.example.com", **ZONE},
       settings=("domain_name", "hosted_zone_id", "hosted_zone_name"), routine=False,
       how="the issuer changes (and with it the value the Service stack imports): deploy once with the domain "
           "while the old export stays (stack.export_value() on the Ingress stack), then again without it; "
           "clients and resource servers must trust the new issuer"),
    # -- every setting, moved to another valid value
    _c("production", {**PRODUCTION_FLOORS}, {"production": False}),
    _c("account, region and zones", {**PINNED}, settings=("account", "region", "availability_zones"),
       routine=False, how="a pinned environment is another environment: subnets, and with them the database, "
                          "move to the named zones; create it next to the old one and migrate the data"),
    _c("max_azs", None, None,
       note="no other value is valid: environment-agnostic stacks use 2 zones, pinned ones name theirs"),
    _c("vpc_cidr", {"vpc_cidr": "10.42.0.0/16"}, {"vpc_cidr": "10.43.0.0/16"}, routine=False,
       how="a new range is a new VPC, and with it a new database: create a new environment and migrate"),
    _c("nat", {"nat": "gateway"}, None, note="production requires NAT gateways"),
    _c("nat_gateways", {"nat_gateways": 2}, {"nat_gateways": 1}),
    _c("nat_instance_type", {"nat_instance_type": "t4g.micro"}, {"nat_instance_type": "t4g.micro"}),
    _c("log_retention_days", {"log_retention_days": 30}, {"log_retention_days": 180}),
    _c("db_engine_version", {"db_engine_version": "16.10"}),
    _c("db_min_capacity", {"db_min_capacity": 1}, {"db_min_capacity": 2}),
    _c("db_readers", {"db_readers": 1}, {"db_readers": 2}),
    _c("db_backup_retention_days", {"db_backup_retention_days": 14}, {"db_backup_retention_days": 30}),
    _c("db_deletion_protection", {"db_deletion_protection": True}, None,
       note="production requires deletion protection"),
    _c("db_removal_policy", {"db_removal_policy": "snapshot"}, {"db_removal_policy": "retain"}),
    _c("db_rotation_days", {"db_rotation_days": 60}),
    _c("db_server_verification", {"db_server_verification": "require"}),
    _c("snapshot_before_upgrade", {"snapshot_before_upgrade": True}, None,
       note="production requires the snapshot"),
    _c("upgrade_snapshots_kept", {"upgrade_snapshots_kept": 5}),
    _c("hydra_user", {"hydra_user": "10001"}),
    _c("hydra_architecture", {"hydra_architecture": "x86_64"}),
    _c("hydra_min_tasks", {"hydra_min_tasks": 2}, {"hydra_min_tasks": 3}),
    _c("hydra_cpu_target_percent", {"hydra_cpu_target_percent": 50}),
    _c("hydra_max_conns", {"hydra_max_conns": 30}, {"hydra_max_conns": 50}),
    _c("hydra_public_port", {"hydra_public_port": 4450}),
    _c("hydra_admin_port", {"hydra_admin_port": 4446}),
    _c("hydra_log_level", {"hydra_log_level": "debug"}),
    _c("hydra_health_check", {"hydra_health_check": False}),
    _c("migration_timeout_minutes", {"migration_timeout_minutes": 30}),
    _c("janitor_schedule", {"janitor_schedule": "rate(2 hours)"}),
    _c("janitor_keep_if_younger", {"janitor_keep_if_younger": "48h"}),
    _c("janitor_limit", {"janitor_limit": 50000}),
    _c("janitor_batch_size", {"janitor_batch_size": 500}),
    _c("urls_login", {"urls_login": "https://idp.example.com/login"}),
    _c("urls_consent", {"urls_consent": "https://idp.example.com/consent"}),
    _c("urls_logout", {"urls_logout": "https://idp.example.com/logout"}),
    _c("urls_error", {"urls_error": "https://idp.example.com/error"}),
    _c("urls_post_logout_redirect", {"urls_post_logout_redirect": "https://idp.example.com/bye"}),
    _c("ttl_auth_code", {"ttl_auth_code": "5m"}),
    _c("ttl_refresh_token", {"ttl_refresh_token": "168h"}),
    _c("ttl_login_consent_request", {"ttl_login_consent_request": "15m"}),
    _c("scope_strategy", {"scope_strategy": "wildcard"}),
    _c("pkce_enforced_for_all_clients", {"pkce_enforced_for_all_clients": True}),
    _c("cors_allowed_origins", {"cors_allowed_origins": ["https://app.example.com"]}),
    _c("another hosted zone", {"domain_name": "auth.example.com", "hosted_zone_id": "ZOTHER0123456789ABCD",
                               "hosted_zone_name": "example.com"},
       before={"domain_name": "auth.example.com", **ZONE}, settings=("hosted_zone_id",)),
    _c("another custom domain", {"domain_name": "login.example.com", **ZONE},
       before={"domain_name": "auth.example.com", **ZONE}, settings=("domain_name",),
       note="the issuer changes: every client and resource server must move to the new one"),
    _c("certificate_arn", {"domain_name": "auth.example.com", "certificate_arn": OTHER_CERTIFICATE},
       before={"domain_name": "auth.example.com", "certificate_arn": CERTIFICATE}),
    _c("api_stage_name", {"api_stage_name": "v1"}, routine=False,
       how="the stage (and the issuer without a custom domain) changes: deploy once with the old stage's "
           "export kept (stack.export_value() on the Ingress stack), then again without it"),
    _c("api_throttle_rate_limit", {"api_throttle_rate_limit": 8}, {"api_throttle_rate_limit": 30}),
    _c("api_throttle_burst_limit", {"api_throttle_burst_limit": 15}, {"api_throttle_burst_limit": 50}),
    _c("api_cloudwatch_role", {"api_cloudwatch_role": False}),
    _c("waf_enabled", {"waf_enabled": True}, None, note="production requires WAF"),
    _c("waf_token_rate_limit", {"waf_token_rate_limit": 500}),
    _c("alarm_email", {"alarm_email": "oncall@example.com"}),
    _c("bastion_instance_type", {"bastion_instance_type": "t4g.micro"}),
    _c("admin_allowed_cidrs", {"admin_allowed_cidrs": ["10.50.0.0/24"]}),
    _c("introspection_door", {"introspection_door": True}),
    _c("turning the introspection door off", {"introspection_door": False}, before={"introspection_door": True},
       settings=("introspection_door",), routine=False,
       how="the Service stack imports the door's target group: remove every grant_introspection() first, "
           "then deploy the Service stack alone with the door off (cdk deploy --exclusively "
           "Hydra-<env>-Service), then everything"),
)


@dataclass
class Outcome:
    change: Change
    env: str
    impact: Impact | None   # None: not a change for this environment

    @property
    def verdict(self) -> str:
        if self.impact is None:
            return "-"
        if self.impact.problems:
            return "**not an update**" if self.change.how else "FAILS: " + "; ".join(self.impact.problems)
        return describe(self.impact)


class Rehearsal:
    """Synthesizes each configuration once and assesses each change against its base."""

    def __init__(self) -> None:
        self._templates: dict[str, dict[str, dict]] = {}
        self.engine = DiffEngine()

    def templates(self, env: str, overrides: dict, clients: list[dict] | None = None) -> dict[str, dict]:
        from app import NAG_KEY, build_app
        from hydra_on_aws.config.settings import ENVIRONMENTS_KEY, cdk_json_context
        key = json.dumps([env, overrides, clients], sort_keys=True)
        if key not in self._templates:
            environments = copy.deepcopy(cdk_json_context()[ENVIRONMENTS_KEY])
            environments[env].update(overrides)
            # cdk-nag never changes a template: off, to save its time in every synthesis.
            app = build_app({"env": env, ENVIRONMENTS_KEY: environments, NAG_KEY: False}, clients=clients)
            self._templates[key] = {s.stack_name: s.template for s in app.synth().stacks}
        return self._templates[key]

    def outcome(self, change: Change, env: str) -> Outcome:
        overrides = getattr(change, env)
        if overrides is None:
            return Outcome(change, env, None)
        clients = None
        if change.add_client:
            from hydra_on_aws.config.clients import load_clients
            clients = load_clients(env) + [EXTRA_CLIENT]
        before = self.templates(env, change.before)
        after = self.templates(env, {**change.before, **overrides}, clients)
        return Outcome(change, env, assess(self.engine, before, after))

    def run(self, catalogue: tuple[Change, ...] = CATALOGUE) -> list[tuple[Change, dict[str, Outcome]]]:
        return [(change, {env: self.outcome(change, env) for env in ENVIRONMENTS}) for change in catalogue]


def table(results: list[tuple[Change, dict[str, Outcome]]]) -> str:
    lines = ["| change | settings | dev | prod | what to know |", "|---|---|---|---|---|"]
    for change, outcomes in results:
        settings = ", ".join("`clients/<env>.json`" if s == "clients" else f"`{s}`" for s in change.covers)
        cells = [outcomes[env].verdict for env in ENVIRONMENTS]
        lines.append(f"| {change.name} | {settings} | " + " | ".join(cells) + f" | {change.how or change.note} |")
    return "\n".join(lines)


def main() -> int:
    print(table(Rehearsal().run()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
