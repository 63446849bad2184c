"""One frozen, validated configuration object per environment.

Every setting a user can type lives in ``cdk.json`` under
``context["hydra:environments"][<env>]`` and is read here, once, into a
:class:`HydraConfig`. Nothing below ``app.py`` reads context or environment
variables itself: constructs receive this object.

Bad input stops synthesis with a :class:`ConfigError` that names the key, the
value it got and the form it wants.
"""

from __future__ import annotations

import dataclasses
import hashlib
import ipaddress
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping
from urllib.parse import urlsplit

from hydra_functions.rds_ca import bundle_regions
from hydra_on_aws.config.connections import budget
from hydra_on_aws.config.hydra import DEFAULT_IMAGE

# The target groups' own ports: only the default for a target registered without one. ECS registers
# every task with its container port, so Hydra's ports can change without touching them (Port is
# create-only: a replaced target group changes the ARN and name other stacks import). The admin port
# may never be the public one's, so even a target registered by hand without a port on the public
# target group cannot reach the admin API.
PUBLIC_TARGET_GROUP_PORT = 4444
ADMIN_TARGET_GROUP_PORT = 4445

CDK_JSON = Path(__file__).resolve().parents[2] / "cdk.json"
ENVIRONMENTS_KEY = "hydra:environments"
ENV_SELECTOR_KEY = "env"
DEFAULT_ENV = "dev"

# CloudWatch Logs accepts only these retention periods.
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545,
                      731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)

# Fargate's valid task sizes: cpu units -> allowed memory (MiB).
FARGATE_SIZES: dict[int, tuple[int, ...]] = {
    256: (512, 1024, 2048),
    512: tuple(range(1024, 4097, 1024)),
    1024: tuple(range(2048, 8193, 1024)),
    2048: tuple(range(4096, 16385, 1024)),
    4096: tuple(range(8192, 30721, 1024)),
}

_GO_DURATION = re.compile(r"^(?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))+$")
_GO_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_DOMAIN = re.compile(r"^(?=.{4,253}$)(?:(?!-)[a-z0-9-]{1,63}(?<!-)\.)+[a-z]{2,63}$")
_ACCOUNT = re.compile(r"^\d{12}$")
_REGION = re.compile(r"^[a-z]{2}(?:-[a-z]+)+-\d$")
_AZ = re.compile(r"^[a-z]{2}(?:-[a-z]+)+-\d[a-z]$")
_ZONE_ID = re.compile(r"^Z[A-Z0-9]{1,32}$")
_CERT_ARN = re.compile(r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[0-9a-f-]{36}$")
_INSTANCE_TYPE = re.compile(r"^[a-z][a-z0-9-]*\.[a-z0-9]+$")
_STAGE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_ENV_NAME = re.compile(r"^[a-z][a-z0-9]{0,15}$")
# [registry/]repository(:tag|@sha256:digest); a tag or a digest is required.
_IMAGE = re.compile(
    r"^(?:(?P<registry>[a-z0-9.-]+(?::\d+)?)/)?(?P<repository>[a-z0-9]+(?:[._/-][a-z0-9]+)*)"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?(?:@(?P<digest>sha256:[0-9a-f]{64}))?$"
)
_ECR_REGISTRY = re.compile(r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$")


class ConfigError(ValueError):
    """A setting is wrong: names the key, what it got and what it wants."""

    def __init__(self, key: str, value: Any, expected: str) -> None:
        self.key = key
        self.value = value
        self.expected = expected
        super().__init__(f"{key}: got {value!r}; expected {expected}")


# ---------------------------------------------------------------- parsers ---
# Each parser takes (key, raw) and returns the typed value or raises ConfigError.

Parser = Callable[[str, Any], Any]


def _bool(key: str, raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    raise ConfigError(key, raw, "true or false")


def _int(minimum: int | None = None, maximum: int | None = None) -> Parser:
    def parse(key: str, raw: Any) -> int:
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise ConfigError(key, raw, "an integer")
        if (minimum is not None and raw < minimum) or (maximum is not None and raw > maximum):
            raise ConfigError(key, raw, f"an integer from {minimum} to {maximum}")
        return raw
    return parse


def _choice(*choices: Any) -> Parser:
    def parse(key: str, raw: Any) -> Any:
        if raw not in choices:
            raise ConfigError(key, raw, "one of " + ", ".join(repr(c) for c in choices))
        return raw
    return parse


def _regex(pattern: re.Pattern[str], expected: str, optional: bool = False) -> Parser:
    def parse(key: str, raw: Any) -> str | None:
        if raw is None and optional:
            return None
        if not isinstance(raw, str) or not pattern.match(raw):
            raise ConfigError(key, raw, expected)
        return raw
    return parse


def _capacity(key: str, raw: Any) -> float:
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not 0 <= raw <= 256 or (raw * 2) % 1:
        raise ConfigError(key, raw, "Aurora capacity units from 0 to 256 in steps of 0.5")
    return float(raw)


def _retention(key: str, raw: Any) -> int:
    if raw not in LOG_RETENTION_DAYS or isinstance(raw, bool):
        raise ConfigError(key, raw, "a CloudWatch Logs retention in days: "
                          + ", ".join(str(d) for d in LOG_RETENTION_DAYS))
    return raw


def _duration(key: str, raw: Any) -> str:
    if not isinstance(raw, str) or not _GO_DURATION.match(raw) or duration_seconds(raw) <= 0:
        raise ConfigError(key, raw, "a positive Go duration such as '15m', '1h30m' or '720h'")
    return raw


def duration_seconds(value: str) -> float:
    """Seconds in a Go duration string ('1h30m' -> 5400.0)."""
    return sum(float(n) * _DURATION_UNITS[u] for n, u in _GO_DURATION_PART.findall(value))


def _https_url(key: str, raw: Any) -> str:
    parts = urlsplit(raw) if isinstance(raw, str) else None
    if (parts is None or parts.scheme != "https" or not parts.hostname or parts.username
            or parts.password or parts.fragment or " " in raw):
        raise ConfigError(key, raw, "an absolute https:// URL without credentials or fragment")
    return raw


def _optional_domain(key: str, raw: Any) -> str | None:
    if raw is None:
        return None
    if not isinstance(raw, str) or not _DOMAIN.match(raw):
        raise ConfigError(key, raw, "a lower-case DNS name such as 'auth.example.com' (no scheme, no path)")
    return raw


def _vpc_cidr(key: str, raw: Any) -> str:
    try:
        net = ipaddress.ip_network(raw, strict=True)
    except (TypeError, ValueError):
        raise ConfigError(key, raw, "an IPv4 network in CIDR form such as '10.40.0.0/16'") from None
    if net.version != 4 or not 16 <= net.prefixlen <= 22 or not net.is_private:
        raise ConfigError(key, raw, "a private IPv4 network from /16 to /22")
    return str(net)


def _private_cidrs(key: str, raw: Any) -> tuple[str, ...]:
    if not isinstance(raw, list):
        raise ConfigError(key, raw, "a list of private CIDR ranges")
    out = []
    for i, item in enumerate(raw):
        try:
            net = ipaddress.ip_network(item, strict=True)
        except (TypeError, ValueError):
            raise ConfigError(f"{key}[{i}]", item, "a network in CIDR form such as '10.50.0.0/16'") from None
        if not net.is_private or net.prefixlen < 8:
            raise ConfigError(f"{key}[{i}]", item, "a private (RFC 1918 / ULA) range of /8 or narrower")
        out.append(str(net))
    return tuple(out)


def _azs(key: str, raw: Any) -> tuple[str, ...]:
    if not isinstance(raw, list) or any(not isinstance(a, str) or not _AZ.match(a) for a in raw):
        raise ConfigError(key, raw, "a list of availability zone names such as ['eu-west-1a', 'eu-west-1b']")
    if raw and len(raw) < 2:
        raise ConfigError(key, raw, "at least two availability zones")
    return tuple(raw)


def _origins(key: str, raw: Any) -> tuple[str, ...]:
    if not isinstance(raw, list):
        raise ConfigError(key, raw, "a list of https origins such as ['https://app.example.com']")
    for i, origin in enumerate(raw):
        parts = urlsplit(origin) if isinstance(origin, str) else None
        if (parts is None or parts.scheme != "https" or not parts.hostname or "*" in origin
                or parts.path not in ("",) or parts.query or parts.fragment):
            raise ConfigError(f"{key}[{i}]", origin, "an https origin (scheme://host[:port], no path, no wildcard)")
    return tuple(raw)


def _image(key: str, raw: Any) -> str:
    m = _IMAGE.match(raw) if isinstance(raw, str) else None
    if not m or not (m.group("tag") or m.group("digest")):
        raise ConfigError(key, raw, "an image reference with a tag or digest, e.g. 'oryd/hydra:v26.2.0' or "
                          "'123456789012.dkr.ecr.eu-west-1.amazonaws.com/hydra:v26.2.0'")
    return raw


def _user(key: str, raw: Any) -> str:
    if not isinstance(raw, str) or not re.match(r"^\d+(?::\d+)?$", raw) or raw.split(":")[0] == "0":
        raise ConfigError(key, raw, "a numeric non-root uid[:gid] such as '65532'")
    return raw


# ----------------------------------------------------------------- fields ---

def setting(default: Any, parse: Parser, doc: str) -> Any:
    """A user-facing setting: its default, its parser and one line of meaning."""
    return field(default=default, metadata={"parse": parse, "doc": doc})


def required(parse: Parser, doc: str) -> Any:
    return field(metadata={"parse": parse, "doc": doc, "required": True})


@dataclass(frozen=True, kw_only=True)
class HydraConfig:
    env_name: str = field(metadata={"doc": "Selected with `-c env=NAME`; names the stacks."})

    # -- placement
    production: bool = setting(False, _bool, "Enforce production floors (>= 2 tasks, deletion protection, snapshot on removal, >= 14 days of backups, WAF, termination protection).")
    account: str | None = setting(None, _regex(_ACCOUNT, "a 12-digit AWS account id", optional=True), "AWS account to pin the stacks to; null keeps them environment-agnostic (synthesizes with no credentials).")
    region: str | None = setting(None, _regex(_REGION, "an AWS region such as 'eu-west-1'", optional=True), "AWS region to pin the stacks to; set together with `account` and `availability_zones`.")
    availability_zones: tuple[str, ...] = setting((), _azs, "Explicit AZs for a pinned account/region (no lookups at synthesis).")

    # -- network
    vpc_cidr: str = required(_vpc_cidr, "The VPC's IPv4 range.")
    max_azs: int = setting(2, _int(2, 6), "AZs to spread over when `availability_zones` is empty (environment-agnostic stacks get 2).")
    nat: str = setting("gateway", _choice("gateway", "instance"), "Egress for private subnets: managed NAT gateways, or a NAT instance (cheaper, for dev).")
    nat_gateways: int = setting(1, _int(1, 6), "How many NAT gateways or instances (one per AZ for zone-independent egress).")
    nat_instance_type: str = setting("t4g.nano", _regex(_INSTANCE_TYPE, "an EC2 instance type such as 't4g.nano'"), "Instance type when `nat` is 'instance'.")
    log_retention_days: int = setting(30, _retention, "Retention of every log group (flow logs, Hydra, API access, WAF, database).")

    # -- database
    db_engine_version: str = setting("16.9", _regex(re.compile(r"^1[4-9]\.\d{1,2}$"), "an Aurora PostgreSQL version such as '16.9'"), "Aurora PostgreSQL engine version.")
    db_min_capacity: float = setting(0.5, _capacity, "Aurora Serverless v2 minimum ACUs.")
    db_max_capacity: float = setting(2.0, _capacity, "Aurora Serverless v2 maximum ACUs.")
    db_readers: int = setting(0, _int(0, 15), "Serverless v2 readers (failover targets in other AZs).")
    db_backup_retention_days: int = setting(7, _int(1, 35), "Automated backup retention.")
    db_deletion_protection: bool = setting(False, _bool, "RDS deletion protection on the cluster.")
    db_removal_policy: str = setting("snapshot", _choice("snapshot", "retain", "destroy"), "What `cdk destroy` or a replacement does to the cluster.")
    db_rotation_days: int = setting(30, _int(1, 365), "Days between rotations of the database credentials (runtime user with alternating users; owner and master single-user).")
    db_server_verification: str = setting("verify-full", _choice("verify-full", "require"), "How the functions that log in to the database check its certificate: `verify-full` against the bundled Amazon RDS CA bundle (27 commercial regions, see README), or `require` (encrypted, unverified) where the bundle has no CA.")
    snapshot_before_upgrade: bool = setting(False, _bool, "Take a cluster snapshot before migrating when the Hydra image changes (migrations cannot be rolled back).")
    upgrade_snapshots_kept: int = setting(3, _int(1, 50), "How many pre-upgrade snapshots to keep; older ones are deleted once a new one is available.")

    # -- hydra
    hydra_image: str = setting(DEFAULT_IMAGE, _image, "Hydra image with tag or digest; an ECR URI gets pull permissions granted.")
    hydra_user: str = setting("65532", _user, "Non-root uid[:gid] the container runs as (65532 in the official image).")
    hydra_architecture: str = setting("arm64", _choice("arm64", "x86_64"), "CPU architecture of the tasks (the official image has both; Graviton is cheaper).")
    hydra_cpu: int = setting(256, _choice(*FARGATE_SIZES), "Fargate task CPU units.")
    hydra_memory: int = setting(512, _int(512, 30720), "Fargate task memory (MiB); must suit `hydra_cpu`.")
    hydra_min_tasks: int = setting(1, _int(1, 100), "Minimum (and initial) running tasks.")
    hydra_max_tasks: int = setting(2, _int(1, 100), "Maximum tasks under CPU-target autoscaling.")
    hydra_cpu_target_percent: int = setting(60, _int(10, 90), "Average CPU the autoscaler aims for.")
    hydra_max_conns: int = setting(5, _int(1, 100), "`max_conns` in the DSN: the connection pool of one task.")
    hydra_public_port: int = setting(4444, _int(1024, 65535), "Hydra's public port.")
    hydra_admin_port: int = setting(4445, _int(1024, 65535), "Hydra's admin port: never reachable from outside the VPC.")
    hydra_log_level: str = setting("info", _choice("trace", "debug", "info", "warning", "error"), "`LOG_LEVEL`.")
    hydra_health_check: bool = setting(True, _bool, "Container health check with `wget -q --spider` on /health/alive; only for images with busybox (not distroless or custom images).")
    migration_timeout_minutes: int = setting(20, _int(1, 40), "How long the migration task may run before the deploy fails (CloudFormation waits at most an hour for the whole step, snapshot included).")
    janitor_schedule: str = setting("rate(1 hour)", _regex(re.compile(r"^(rate\(\d+ (minute|minutes|hour|hours|day|days)\)|cron\([^()]+\))$"), "an EventBridge Scheduler expression such as 'rate(1 hour)' or 'cron(15 * * * ? *)'"), "When `hydra janitor` runs (never two at once).")
    janitor_keep_if_younger: str = setting("24h", _duration, "`--keep-if-younger`: the janitor leaves newer rows alone.")
    janitor_limit: int = setting(100000, _int(1, 100000000), "`--limit`: the most rows one janitor run deletes.")
    janitor_batch_size: int = setting(1000, _int(1, 100000), "`--batch-size`: rows per delete statement.")
    urls_login: str = required(_https_url, "`URLS_LOGIN`: the identity provider's login page.")
    urls_consent: str = required(_https_url, "`URLS_CONSENT`: the identity provider's consent page.")
    urls_logout: str = required(_https_url, "`URLS_LOGOUT`: the identity provider's logout page.")
    urls_error: str = required(_https_url, "`URLS_ERROR`: where Hydra shows OAuth2 errors.")
    urls_post_logout_redirect: str = required(_https_url, "`URLS_POST_LOGOUT_REDIRECT`: default landing page after logout.")
    ttl_access_token: str = setting("15m", _duration, "`TTL_ACCESS_TOKEN`.")
    ttl_id_token: str = setting("15m", _duration, "`TTL_ID_TOKEN`.")
    ttl_auth_code: str = setting("10m", _duration, "`TTL_AUTH_CODE`.")
    ttl_refresh_token: str = setting("720h", _duration, "`TTL_REFRESH_TOKEN`.")
    ttl_login_consent_request: str = setting("30m", _duration, "`TTL_LOGIN_CONSENT_REQUEST`.")
    scope_strategy: str = setting("exact", _choice("exact", "wildcard"), "`STRATEGIES_SCOPE`.")
    pkce_enforced_for_all_clients: bool = setting(False, _bool, "`OAUTH2_PKCE_ENFORCED` (public clients are always forced to use PKCE).")
    cors_allowed_origins: tuple[str, ...] = setting((), _origins, "Origins allowed to call the public API from browsers; empty turns CORS off.")

    # -- edge
    domain_name: str | None = setting(None, _optional_domain, "Custom domain for the public API; null uses the execute-api URL with the stage path.")
    hosted_zone_id: str | None = setting(None, _regex(_ZONE_ID, "a Route 53 zone id such as 'Z0123456789ABCDEFGHIJ'", optional=True), "Route 53 zone for the alias record (and DNS validation).")
    hosted_zone_name: str | None = setting(None, _optional_domain, "Name of `hosted_zone_id`.")
    certificate_arn: str | None = setting(None, _regex(_CERT_ARN, "an ACM certificate ARN in the stack's region", optional=True), "Existing ACM certificate for `domain_name`; null creates one validated in `hosted_zone_id`.")
    api_stage_name: str = setting("hydra", _regex(_STAGE, "letters, digits, '-' or '_'"), "API Gateway stage; part of the issuer when no domain is set.")
    api_throttle_rate_limit: int = setting(50, _int(1, 100000), "Stage-wide steady-state requests per second.")
    api_throttle_burst_limit: int = setting(100, _int(1, 100000), "Stage-wide burst.")
    api_cloudwatch_role: bool = setting(True, _bool, "Create API Gateway's account-wide CloudWatch role; false when another stack in the account and region owns it.")
    waf_enabled: bool = setting(False, _bool, "Attach a WAF web ACL to the stage.")
    waf_token_rate_limit: int = setting(1000, _int(10, 2000000000), "Requests per 5 minutes per client IP to the token endpoint before WAF blocks.")

    # -- operations
    alarm_email: str | None = setting(None, _regex(re.compile(r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$"), "an e-mail address", optional=True), "Subscribed to the alarm topic (confirm the subscription e-mail).")

    # -- access to the admin API
    bastion_instance_type: str = setting("t4g.nano", _regex(_INSTANCE_TYPE, "an EC2 instance type such as 't4g.nano'"), "SSM bastion instance type (Graviton).")
    admin_allowed_cidrs: tuple[str, ...] = setting((), _private_cidrs, "Extra private ranges allowed to reach the admin NLB on the admin port.")

    # ------------------------------------------------------------ derived ---
    @property
    def fingerprint(self) -> str:
        """Changes with any setting: reruns idempotent deploy-time work when the configuration moves."""
        return hashlib.sha256(repr(self).encode()).hexdigest()[:16]

    @property
    def env_agnostic(self) -> bool:
        return self.account is None and self.region is None

    @property
    def stack_prefix(self) -> str:
        return f"Hydra-{self.env_name}"

    @property
    def image_parts(self) -> dict[str, str | None]:
        m = _IMAGE.match(self.hydra_image)
        assert m  # validated at load
        parts = m.groupdict()
        ecr = _ECR_REGISTRY.match(parts["registry"] or "")
        parts["ecr_account"] = ecr.group("account") if ecr else None
        parts["ecr_region"] = ecr.group("region") if ecr else None
        return parts


def settings_fields() -> list[dataclasses.Field]:
    """The user-facing settings, in declaration order."""
    return [f for f in dataclasses.fields(HydraConfig) if "parse" in f.metadata]


# ----------------------------------------------------------------- loading ---

def cdk_json_context() -> dict[str, Any]:
    """The context block of cdk.json: feature flags and environments."""
    return json.loads(CDK_JSON.read_text())["context"]


def load_config(context: Mapping[str, Any]) -> HydraConfig:
    """Build the configuration of the environment selected by ``context['env']``."""
    env_name = context.get(ENV_SELECTOR_KEY) or DEFAULT_ENV
    environments = context.get(ENVIRONMENTS_KEY)
    if not isinstance(environments, Mapping) or not environments:
        raise ConfigError(ENVIRONMENTS_KEY, environments, "a mapping of environment name to settings in cdk.json")
    if env_name not in environments:
        raise ConfigError(ENV_SELECTOR_KEY, env_name, "one of " + ", ".join(sorted(environments)))
    if not _ENV_NAME.match(env_name):
        raise ConfigError(ENV_SELECTOR_KEY, env_name, "a lower-case name of letters and digits, at most 16")
    raw = environments[env_name]
    prefix = f"{ENVIRONMENTS_KEY}.{env_name}"
    if not isinstance(raw, Mapping):
        raise ConfigError(prefix, raw, "a mapping of settings")

    known = {f.name: f for f in settings_fields()}
    for key in raw:
        if key not in known:
            raise ConfigError(f"{prefix}.{key}", raw[key], "no such setting; known settings: " + ", ".join(known))

    values: dict[str, Any] = {"env_name": env_name}
    for name, f in known.items():
        if name not in raw:
            if f.metadata.get("required"):
                raise ConfigError(f"{prefix}.{name}", None, f"a value (required). {f.metadata['doc']}")
            values[name] = f.default
            continue
        values[name] = f.metadata["parse"](f"{prefix}.{name}", raw[name])
    config = HydraConfig(**values)
    _check_relations(config, prefix)
    return config


def _check_relations(c: HydraConfig, prefix: str) -> None:
    """Rules that involve more than one setting."""
    def fail(key: str, expected: str) -> None:
        raise ConfigError(f"{prefix}.{key}", getattr(c, key), expected)

    if c.db_min_capacity > c.db_max_capacity:
        fail("db_min_capacity", f"at most db_max_capacity ({c.db_max_capacity})")
    if c.db_max_capacity < 1:
        fail("db_max_capacity", "at least 1 ACU")
    if c.hydra_min_tasks > c.hydra_max_tasks:
        fail("hydra_min_tasks", f"at most hydra_max_tasks ({c.hydra_max_tasks})")
    if c.hydra_memory not in FARGATE_SIZES[c.hydra_cpu]:
        fail("hydra_memory", f"one of {list(FARGATE_SIZES[c.hydra_cpu])} for hydra_cpu {c.hydra_cpu}")
    if c.hydra_public_port == c.hydra_admin_port:
        fail("hydra_admin_port", f"a port different from hydra_public_port ({c.hydra_public_port})")
    if c.hydra_admin_port == PUBLIC_TARGET_GROUP_PORT:
        fail("hydra_admin_port", f"not {PUBLIC_TARGET_GROUP_PORT}: the public target group's own port, where a "
             "target registered without a port would receive the public API's traffic")
    if duration_seconds(c.ttl_access_token) > duration_seconds(c.ttl_refresh_token):
        fail("ttl_access_token", f"no longer than ttl_refresh_token ({c.ttl_refresh_token})")
    if (c.account is None) != (c.region is None):
        fail("account" if c.account is None else "region", "set together with the other (account and region), or both null")
    if c.env_agnostic and c.availability_zones:
        fail("availability_zones", "empty for an environment-agnostic stack (set account and region first)")
    if not c.env_agnostic and not c.availability_zones:
        fail("availability_zones", "the AZs to use in the pinned region (no lookups at synthesis)")
    if c.region and any(not az.startswith(c.region) for az in c.availability_zones):
        fail("availability_zones", f"zones of region {c.region}")
    if c.env_agnostic and c.max_azs != 2:
        fail("max_azs", "2 for an environment-agnostic stack (pin account, region and availability_zones for more)")
    azs = len(c.availability_zones) or c.max_azs
    if c.nat_gateways > azs:
        fail("nat_gateways", f"at most the number of AZs ({azs})")
    if c.domain_name is None:
        for key in ("hosted_zone_id", "hosted_zone_name", "certificate_arn"):
            if getattr(c, key) is not None:
                fail(key, "null when domain_name is null")
    else:
        if (c.hosted_zone_id is None) != (c.hosted_zone_name is None):
            fail("hosted_zone_name" if c.hosted_zone_name is None else "hosted_zone_id",
                 "set together with the other (hosted_zone_id and hosted_zone_name)")
        if c.hosted_zone_id is None and c.certificate_arn is None:
            fail("certificate_arn", "a certificate ARN, or hosted_zone_id/hosted_zone_name to create one")
        if c.hosted_zone_name and not (c.domain_name == c.hosted_zone_name
                                       or c.domain_name.endswith("." + c.hosted_zone_name)):
            fail("domain_name", f"a name inside hosted_zone_name ({c.hosted_zone_name})")
    if c.hydra_health_check and "distroless" in (c.image_parts["tag"] or ""):
        fail("hydra_health_check", "false for a distroless image (it has no wget)")
    connections = budget(min_acu=c.db_min_capacity, max_acu=c.db_max_capacity, max_tasks=c.hydra_max_tasks,
                         max_conns=c.hydra_max_conns)
    if not connections.fits:
        fail("hydra_max_conns", f"a worst case within Aurora's max_connections: {connections.explain()} "
             f"at db_min_capacity {c.db_min_capacity} / db_max_capacity {c.db_max_capacity}; lower "
             "hydra_max_conns or hydra_max_tasks, or raise db_max_capacity")
    if c.region and c.db_server_verification == "verify-full" and c.region not in bundle_regions():
        fail("db_server_verification", f"'require' in {c.region}: the bundled RDS CA bundle has no certificate "
             "authority for that region")
    if c.image_parts["ecr_region"] and c.region and c.image_parts["ecr_region"] != c.region:
        fail("hydra_image", f"an ECR image in the stacks' region ({c.region}), or replicate the repository")
    vpc = ipaddress.ip_network(c.vpc_cidr)
    for i, cidr in enumerate(c.admin_allowed_cidrs):
        if ipaddress.ip_network(cidr).version == 4 and ipaddress.ip_network(cidr).supernet_of(vpc) and cidr != c.vpc_cidr:
            raise ConfigError(f"{prefix}.admin_allowed_cidrs[{i}]", cidr, "a range no wider than what must reach the admin API (it contains the whole VPC and more)")
    if c.production:
        floors = [
            ("hydra_min_tasks", c.hydra_min_tasks >= 2, "at least 2 in production (tasks spread over AZs)"),
            ("db_deletion_protection", c.db_deletion_protection, "true in production"),
            ("db_removal_policy", c.db_removal_policy in ("snapshot", "retain"), "'snapshot' or 'retain' in production"),
            ("db_backup_retention_days", c.db_backup_retention_days >= 14, "at least 14 in production"),
            ("waf_enabled", c.waf_enabled, "true in production"),
            ("nat", c.nat == "gateway", "'gateway' in production"),
            ("snapshot_before_upgrade", c.snapshot_before_upgrade, "true in production"),
        ]
        for key, ok, expected in floors:
            if not ok:
                fail(key, expected)
