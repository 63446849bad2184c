"""One frozen, validated configuration object per environment.

Every setting a user can type lives in ``cdk.json`` under
``context["hydra:environments"][<env>]`` and is read here, once, into a
:class:`HydraConfig`: a pydantic model in strict mode (no coercion: ``"5"`` is
not a number, ``null`` is not a default, unknown keys are refused). Nothing
below ``app.py`` reads context or environment variables itself: constructs
receive this object. ``python -m devtools.docs`` writes the model's JSON Schema
(``cdk.schema.json``, for cdk.json) for editors.

Text that reaches AWS or Hydra is ASCII and matched whole (``re.fullmatch``:
Python's ``$`` would let a trailing newline through). Values that reach Hydra's
environment are in the form Hydra's own configuration schema accepts (a test
checks every environment and generated configurations against it).

Bad input stops synthesis with a :class:`ConfigError` that names the key, the
value it got and the form it wants.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
from pathlib import Path
from typing import Annotated, Any, Callable, Literal, Mapping
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from pydantic_core import PydanticCustomError, PydanticUndefined

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

# What one vCPU of Hydra v26.2.0 serves of its costliest common token request (client_credentials:
# an RSA-4096 signature and a secret check), measured by `make loadtest` at 47-60 per second (README:
# Capacity), with 15% off for headroom. The stage's rate limit may not let through more than the
# smallest fleet serves: beyond that, requests pile up in the tasks and Hydra stalls (ory/hydra#3863).
TOKENS_PER_VCPU = 40

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

# Hydra's own form of a duration (its config schema's "duration": no fractions, no µ), and Go's limit.
_GO_DURATION = re.compile(r"(?:\d+(?:ns|us|ms|s|m|h))+")
_GO_DURATION_PART = re.compile(r"(\d+)(ns|us|ms|s|m|h)")
_NANOSECONDS = {"ns": 1, "us": 10 ** 3, "ms": 10 ** 6, "s": 10 ** 9, "m": 60 * 10 ** 9, "h": 3600 * 10 ** 9}
_GO_MAX_DURATION_NS = 2 ** 63 - 1
_DOMAIN = re.compile(r"(?=.{4,253})(?:(?!-)[a-z0-9-]{1,63}(?<!-)\.)+[a-z]{2,63}")
_ACCOUNT = re.compile(r"\d{12}")
_REGION = re.compile(r"[a-z]{2}(?:-[a-z]+)+-\d")
_AZ = re.compile(r"[a-z]{2}(?:-[a-z]+)+-\d[a-z]")
_ZONE_ID = re.compile(r"Z[A-Z0-9]{1,32}")
_CERT_ARN = re.compile(r"arn:aws[a-z-]*:acm:(?P<region>[a-z0-9-]+):\d{12}:certificate/[0-9a-f-]{36}")
_INSTANCE_TYPE = re.compile(r"[a-z][a-z0-9-]*\.[a-z0-9]+")
_STAGE = re.compile(r"[A-Za-z0-9_-]{1,64}")
_ENV_NAME = re.compile(r"[a-z][a-z0-9]{0,15}")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_ENGINE_VERSION = re.compile(r"1[4-9]\.\d{1,2}")
_USER = re.compile(r"(?P<uid>\d{1,10})(?::(?P<gid>\d{1,10}))?")
_RATE = re.compile(r"rate\((?P<n>\d+) (?P<unit>minute|minutes|hour|hours|day|days)\)")
_CRON = re.compile(r"cron\((?P<fields>[^()]+)\)")
# [registry/]repository(:tag|@sha256:digest); a tag or a digest is required.
_IMAGE = re.compile(
    r"(?:(?P<registry>[a-z0-9.-]+(?::\d+)?)/)?(?P<repository>[a-z0-9]+(?:[._/-][a-z0-9]+)*)"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?(?:@(?P<digest>sha256:[0-9a-f]{64}))?"
)
_ECR_REGISTRY = re.compile(r"(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?")
# Private ranges an operator may trust: RFC 1918 and IPv6 unique local addresses, nothing else.
_PRIVATE = tuple(ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"))


class ConfigError(ValueError):
    """A setting is wrong: names the key, what it got and what it wants."""

    def __init__(self, key: str, value: Any, expected: str) -> None:
        self.key = key
        self.value = value
        self.expected = expected
        super().__init__(f"{key}: got {value!r}; expected {expected}")


# ------------------------------------------------------------ value forms ---
# Each check takes the value (already of the field's type: strict mode checked it) and returns it,
# or raises with the form it expected.

def _expected(message: str) -> PydanticCustomError:
    return PydanticCustomError("hydra_setting", message)


def _text(pattern: re.Pattern[str], expected: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        if not value.isascii() or not pattern.fullmatch(value):
            raise _expected(expected)
        return value
    return check


def duration_seconds(value: str) -> float:
    """Seconds in a Go duration string ('1h30m' -> 5400.0)."""
    return sum(int(n) * _NANOSECONDS[u] for n, u in _GO_DURATION_PART.findall(value)) / 1e9


def _duration(value: str) -> str:
    if not value.isascii() or not _GO_DURATION.fullmatch(value) or duration_seconds(value) <= 0:
        raise _expected("a positive duration in Hydra's form, whole numbers with ns, us, ms, s, m or h, "
                        "such as '15m', '1h30m' or '720h'")
    if sum(int(n) * _NANOSECONDS[u] for n, u in _GO_DURATION_PART.findall(value)) > _GO_MAX_DURATION_NS:
        raise _expected("a duration Go can hold (at most 2562047h)")
    return value


def _https_url(value: str) -> str:
    expected = "an absolute https:// URL of ASCII characters, without credentials, fragment or spaces"
    if not value.isascii() or any(c.isspace() or ord(c) < 32 for c in value):
        raise _expected(expected)
    parts = urlsplit(value)
    try:
        parts.port  # noqa: B018 - raises on a port above 65535 or not a number
    except ValueError:
        raise _expected(expected + ", with a port from 1 to 65535") from None
    if parts.scheme != "https" or not parts.hostname or parts.username or parts.password or parts.fragment:
        raise _expected(expected)
    return value


def _origin(value: str) -> str:
    expected = "an https origin (scheme://host[:port], no path, no wildcard)"
    if "*" in value:
        raise _expected(expected)
    _https_url(value)
    parts = urlsplit(value)
    if parts.path or parts.query:
        raise _expected(expected)
    return value


def _network(value: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(value, strict=True)
    except ValueError:
        raise _expected("a network in CIDR form such as '10.50.0.0/24' (no host bits)") from None


def _vpc_cidr(value: str) -> str:
    net = _network(value)
    if net.version != 4 or not any(net.subnet_of(p) for p in _PRIVATE if p.version == 4) or \
            not 16 <= net.prefixlen <= 22:
        raise _expected("a private IPv4 network (RFC 1918) from /16 to /22")
    return str(net)


def _trusted_range(value: str) -> str:
    net = _network(value)
    if not any(net.version == p.version and net.subnet_of(p) for p in _PRIVATE) or \
            net.prefixlen < (8 if net.version == 4 else 48):
        raise _expected("a private range (RFC 1918, or IPv6 unique local fc00::/7) of /8 (IPv6 /48) or narrower")
    return str(net)


def _capacity(value: float) -> float:
    if not 0 <= value <= 256 or (value * 2) % 1:
        raise _expected("Aurora capacity units from 0 to 256 in steps of 0.5")
    return float(value)


def _retention(value: int) -> int:
    if value not in LOG_RETENTION_DAYS:
        raise _expected("a CloudWatch Logs retention in days: " + ", ".join(str(d) for d in LOG_RETENTION_DAYS))
    return value


def _image(value: str) -> str:
    match = _IMAGE.fullmatch(value) if value.isascii() else None
    if not match or not (match.group("tag") or match.group("digest")):
        raise _expected("an image reference with a tag or digest, e.g. 'oryd/hydra:v26.2.0' or "
                        "'123456789012.dkr.ecr.eu-west-1.amazonaws.com/hydra:v26.2.0'")
    return value


def _user(value: str) -> str:
    match = _USER.fullmatch(value) if value.isascii() else None
    ids = [int(i) for i in match.groups() if i is not None] if match else []
    if not match or 0 in ids or any(i > 2 ** 31 - 1 for i in ids):
        raise _expected("a numeric non-root uid[:gid] such as '65532' (neither may be 0)")
    return value


def _schedule(value: str) -> str:
    expected = ("an EventBridge Scheduler expression: 'rate(1 hour)', 'rate(2 hours)' (at least 1, the unit "
                "singular for 1) or 'cron(15 * * * ? *)' (six fields)")
    rate, cron = _RATE.fullmatch(value), _CRON.fullmatch(value)
    if rate:
        n, unit = int(rate.group("n")), rate.group("unit")
        if n < 1 or (n == 1) == unit.endswith("s"):
            raise _expected(expected)
    elif not cron or len(cron.group("fields").split()) != 6 or not value.isascii():
        raise _expected(expected)
    return value


def _azs(value: tuple[str, ...]) -> tuple[str, ...]:
    for zone in value:
        if not zone.isascii() or not _AZ.fullmatch(zone):
            raise _expected("a list of availability zone names such as ['eu-west-1a', 'eu-west-1b']")
    if len(set(value)) != len(value):
        raise _expected("distinct availability zones")
    if value and len(value) < 2:
        raise _expected("at least two availability zones")
    return value


def _as_tuple(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


Text = Annotated[str, Field(strict=True)]
Port = Annotated[int, Field(ge=1024, le=65535)]


def _checked(check: Callable, base: Any = str) -> Any:
    return Annotated[base, AfterValidator(check)]


def _distinct(values: tuple[str, ...]) -> tuple[str, ...]:
    if len(set(values)) != len(values):
        raise _expected("a list without repeated entries")
    return values


def _strings(check: Callable[[str], str]) -> Any:
    return Annotated[tuple[Annotated[str, AfterValidator(check)], ...], BeforeValidator(_as_tuple),
                     AfterValidator(_distinct)]


# The forms, by name.
Account = _checked(_text(_ACCOUNT, "a 12-digit AWS account id"))
Region = _checked(_text(_REGION, "an AWS region such as 'eu-west-1'"))
InstanceType = _checked(_text(_INSTANCE_TYPE, "an EC2 instance type such as 't4g.nano'"))
EngineVersion = _checked(_text(_ENGINE_VERSION, "an Aurora PostgreSQL version such as '16.9'"))
DomainName = _checked(_text(_DOMAIN, "a lower-case DNS name such as 'auth.example.com' (no scheme, no path)"))
ZoneId = _checked(_text(_ZONE_ID, "a Route 53 zone id such as 'Z0123456789ABCDEFGHIJ'"))
ZoneName = _checked(_text(_DOMAIN, "a lower-case DNS name such as 'example.com'"))
CertificateArn = _checked(_text(_CERT_ARN, "an ACM certificate ARN"))
StageName = _checked(_text(_STAGE, "1 to 64 letters, digits, '-' or '_'"))
Email = _checked(_text(_EMAIL, "an e-mail address of ASCII characters"))
VpcCidr = _checked(_vpc_cidr)
RetentionDays = _checked(_retention, int)
Capacity = _checked(_capacity, float)
Image = _checked(_image)
User = _checked(_user)
Schedule = _checked(_schedule)
Duration = _checked(_duration)
HttpsUrl = _checked(_https_url)
Origins = _strings(_origin)
TrustedRanges = _strings(_trusted_range)
Zones = Annotated[tuple[str, ...], BeforeValidator(_as_tuple), AfterValidator(_azs)]


def setting(default: Any, doc: str) -> Any:
    """A user-facing setting: its default and one line of meaning."""
    return Field(default, description=doc)


def required(doc: str) -> Any:
    return Field(description=doc, json_schema_extra={"required_setting": True})


class HydraConfig(BaseModel):
    """The settings of one environment (cdk.json ``hydra:environments.<env>``)."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    env_name: Text = Field(description="Selected with `-c env=NAME`; names the stacks.", exclude=True)

    # -- placement
    production: bool = setting(False, "Enforce production floors (>= 2 tasks, deletion protection, snapshot on removal, >= 14 days of backups, WAF, termination protection).")
    account: Account | None = setting(None, "AWS account to pin the stacks to; null keeps them environment-agnostic (synthesizes with no credentials).")
    region: Region | None = setting(None, "AWS region to pin the stacks to; set together with `account` and `availability_zones`.")
    availability_zones: Zones = setting((), "Explicit AZs for a pinned account/region (no lookups at synthesis).")

    # -- network
    vpc_cidr: VpcCidr = required("The VPC's IPv4 range.")
    max_azs: Annotated[int, Field(ge=2, le=6)] = setting(2, "AZs to spread over when `availability_zones` is empty (environment-agnostic stacks get 2).")
    nat: Literal["gateway", "instance"] = setting("gateway", "Egress for private subnets: managed NAT gateways, or a NAT instance (cheaper, for dev).")
    nat_gateways: Annotated[int, Field(ge=1, le=6)] = setting(1, "How many NAT gateways or instances (one per AZ for zone-independent egress).")
    nat_instance_type: InstanceType = setting("t4g.nano", "Instance type when `nat` is 'instance'.")
    log_retention_days: RetentionDays = setting(30, "Retention of every log group (flow logs, Hydra, API access, WAF, database).")

    # -- database
    db_engine_version: EngineVersion = setting("16.9", "Aurora PostgreSQL engine version.")
    db_min_capacity: Capacity = setting(0.5, "Aurora Serverless v2 minimum ACUs.")
    db_max_capacity: Capacity = setting(2.0, "Aurora Serverless v2 maximum ACUs.")
    db_readers: Annotated[int, Field(ge=0, le=15)] = setting(0, "Serverless v2 readers (failover targets in other AZs).")
    db_backup_retention_days: Annotated[int, Field(ge=1, le=35)] = setting(7, "Automated backup retention.")
    db_deletion_protection: bool = setting(False, "RDS deletion protection on the cluster.")
    db_removal_policy: Literal["snapshot", "retain", "destroy"] = setting("snapshot", "What `cdk destroy` or a replacement does to the cluster.")
    db_rotation_days: Annotated[int, Field(ge=1, le=365)] = setting(30, "Days between rotations of the database credentials (runtime user with alternating users; owner and master single-user).")
    db_server_verification: Literal["verify-full", "require"] = setting("verify-full", "How the functions that log in to the database check its certificate: `verify-full` against the bundled Amazon RDS CA bundle (27 commercial regions, see README), or `require` (encrypted, unverified) where the bundle has no CA.")
    snapshot_before_upgrade: bool = setting(False, "Take a cluster snapshot before migrating when the Hydra image changes (migrations cannot be rolled back).")
    upgrade_snapshots_kept: Annotated[int, Field(ge=1, le=50)] = setting(3, "How many pre-upgrade snapshots to keep; older ones are deleted once a new one is available.")

    # -- hydra
    hydra_image: Image = setting(DEFAULT_IMAGE, "Hydra image with tag or digest; an ECR URI gets pull permissions granted.")
    hydra_user: User = setting("65532", "Non-root uid[:gid] the container runs as (65532 in the official image).")
    hydra_architecture: Literal["arm64", "x86_64"] = setting("arm64", "CPU architecture of the tasks (the official image has both; Graviton is cheaper).")
    hydra_cpu: Literal[256, 512, 1024, 2048, 4096] = setting(256, "Fargate task CPU units.")
    hydra_memory: Annotated[int, Field(ge=512, le=30720)] = setting(512, "Fargate task memory (MiB); must suit `hydra_cpu`.")
    hydra_min_tasks: Annotated[int, Field(ge=1, le=100)] = setting(1, "Minimum (and initial) running tasks.")
    hydra_max_tasks: Annotated[int, Field(ge=1, le=100)] = setting(2, "Maximum tasks under CPU-target autoscaling.")
    hydra_cpu_target_percent: Annotated[int, Field(ge=10, le=90)] = setting(60, "Average CPU the autoscaler aims for.")
    hydra_max_conns: Annotated[int, Field(ge=1, le=100)] = setting(25, "`max_conns` in the DSN: the connection pool of one task. Hydra v26.2.0 stalls when more client_credentials requests are in flight on a task than this (ory/hydra#3863, README: Capacity), so it bounds the burst.")
    hydra_public_port: Port = setting(4444, "Hydra's public port.")
    hydra_admin_port: Port = setting(4445, "Hydra's admin port: never reachable from outside the VPC.")
    hydra_log_level: Literal["trace", "debug", "info", "warn", "error"] = setting("info", "`LOG_LEVEL` (the levels Hydra accepts).")
    hydra_health_check: bool = setting(True, "Container health check with `wget -q --spider` on /health/alive; only for images with busybox (not distroless or custom images).")
    migration_timeout_minutes: Annotated[int, Field(ge=1, le=40)] = setting(20, "How long the migration task may run before the deploy fails (CloudFormation waits at most an hour for the whole step, snapshot included).")
    janitor_schedule: Schedule = setting("rate(1 hour)", "When `hydra janitor` runs (never two at once).")
    janitor_keep_if_younger: Duration = setting("24h", "`--keep-if-younger`: the janitor leaves newer rows alone.")
    janitor_limit: Annotated[int, Field(ge=1, le=100000000)] = setting(100000, "`--limit`: the most rows one janitor run deletes.")
    janitor_batch_size: Annotated[int, Field(ge=1, le=100000)] = setting(1000, "`--batch-size`: rows per delete statement.")
    urls_login: HttpsUrl = required("`URLS_LOGIN`: the identity provider's login page.")
    urls_consent: HttpsUrl = required("`URLS_CONSENT`: the identity provider's consent page.")
    urls_logout: HttpsUrl = required("`URLS_LOGOUT`: the identity provider's logout page.")
    urls_error: HttpsUrl = required("`URLS_ERROR`: where Hydra shows OAuth2 errors.")
    urls_post_logout_redirect: HttpsUrl = required("`URLS_POST_LOGOUT_REDIRECT`: default landing page after logout.")
    ttl_access_token: Duration = setting("15m", "`TTL_ACCESS_TOKEN`.")
    ttl_id_token: Duration = setting("15m", "`TTL_ID_TOKEN`.")
    ttl_auth_code: Duration = setting("10m", "`TTL_AUTH_CODE`.")
    ttl_refresh_token: Duration = setting("720h", "`TTL_REFRESH_TOKEN`.")
    ttl_login_consent_request: Duration = setting("30m", "`TTL_LOGIN_CONSENT_REQUEST`.")
    scope_strategy: Literal["exact", "wildcard"] = setting("exact", "`STRATEGIES_SCOPE`.")
    pkce_enforced_for_all_clients: bool = setting(False, "`OAUTH2_PKCE_ENFORCED` (public clients are always forced to use PKCE).")
    cors_allowed_origins: Origins = setting((), "Origins allowed to call the public API from browsers; empty turns CORS off.")

    # -- edge
    domain_name: DomainName | None = setting(None, "Custom domain for the public API; null uses the execute-api URL with the stage path.")
    hosted_zone_id: ZoneId | None = setting(None, "Route 53 zone for the alias record (and DNS validation).")
    hosted_zone_name: ZoneName | None = setting(None, "Name of `hosted_zone_id`.")
    certificate_arn: CertificateArn | None = setting(None, "Existing ACM certificate for `domain_name`, in the stacks' region; null creates one validated in `hosted_zone_id`.")
    api_stage_name: StageName = setting("hydra", "API Gateway stage; part of the issuer when no domain is set.")
    api_throttle_rate_limit: Annotated[int, Field(ge=1, le=100000)] = setting(10, "Stage-wide steady-state requests per second; at most what the smallest fleet serves of the costliest token request: `hydra_min_tasks` x `hydra_cpu`/1024 x 40 (README: Capacity).")
    api_throttle_burst_limit: Annotated[int, Field(ge=1, le=100000)] = setting(20, "Stage-wide burst; at most `hydra_min_tasks` x `hydra_max_conns`, so a burst spread over the smallest fleet stays within each task's pool.")
    api_cloudwatch_role: bool = setting(True, "Create API Gateway's account-wide CloudWatch role; false when another stack in the account and region owns it.")
    waf_enabled: bool = setting(False, "Attach a WAF web ACL to the stage.")
    waf_token_rate_limit: Annotated[int, Field(ge=10, le=2000000000)] = setting(1000, "Requests per 5 minutes per client IP to the token endpoint before WAF blocks.")

    # -- operations
    alarm_email: Email | None = setting(None, "Subscribed to the alarm topic (confirm the subscription e-mail).")

    # -- access to the admin API
    bastion_instance_type: InstanceType = setting("t4g.nano", "SSM bastion instance type (Graviton).")
    admin_allowed_cidrs: TrustedRanges = setting((), "Extra private ranges allowed to reach the admin NLB on the admin port.")
    introspection_door: bool = setting(False, "An internal ALB that serves only `POST /admin/oauth2/introspect` of the admin API, to security groups granted with `grant_introspection` (for resource servers that must see revocations at once; about $16 a month).")

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
        m = _IMAGE.fullmatch(self.hydra_image)
        assert m  # validated at load
        parts = m.groupdict()
        ecr = _ECR_REGISTRY.fullmatch(parts["registry"] or "")
        parts["ecr_account"] = ecr.group("account") if ecr else None
        parts["ecr_region"] = ecr.group("region") if ecr else None
        return parts


class SettingInfo:
    """What the documentation shows of one setting."""

    def __init__(self, name: str, info: Any) -> None:
        self.name = name
        self.doc = info.description
        self.required = info.default is PydanticUndefined
        self.default = None if self.required else info.default


def settings_fields() -> list[SettingInfo]:
    """The user-facing settings, in declaration order."""
    return [SettingInfo(name, info) for name, info in HydraConfig.model_fields.items() if name != "env_name"]


def cdk_json_schema() -> dict:
    """A JSON Schema for cdk.json that describes ``context["hydra:environments"]``, for editors."""
    settings = HydraConfig.model_json_schema()
    settings["properties"].pop("env_name", None)
    settings["required"] = [f.name for f in settings_fields() if f.required]
    settings["title"] = "The settings of one environment"
    environments = {"type": "object", "additionalProperties": settings,
                    "propertyNames": {"pattern": "^[a-z][a-z0-9]{0,15}$"}}
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": "cdk.json of Hydra on AWS",
            "type": "object", "properties": {"context": {"type": "object", "properties": {
                ENVIRONMENTS_KEY: environments}}}}


# ----------------------------------------------------------------- loading ---

def cdk_json_context() -> dict[str, Any]:
    """The context block of cdk.json: feature flags and environments."""
    return json.loads(CDK_JSON.read_text())["context"]


def _config_error(error: ValidationError, prefix: str) -> ConfigError:
    first = error.errors(include_url=False)[0]
    key = prefix
    for part in first["loc"]:
        key += f"[{part}]" if isinstance(part, int) else f".{part}"
    if first["type"] == "missing":
        name = first["loc"][0]
        return ConfigError(key, None, f"a value (required). {HydraConfig.model_fields[name].description}")
    if first["type"] == "extra_forbidden":
        known = ", ".join(f.name for f in settings_fields())
        return ConfigError(key, first["input"], f"no such setting; known settings: {known}")
    message = first["msg"]
    for noise in ("Value error, ", "Input should be "):
        message = message.removeprefix(noise)
    return ConfigError(key, first["input"], message)


def load_config(context: Mapping[str, Any]) -> HydraConfig:
    """Build the configuration of the environment selected by ``context['env']``."""
    env_name = context.get(ENV_SELECTOR_KEY)
    if env_name is None:
        env_name = DEFAULT_ENV
    environments = context.get(ENVIRONMENTS_KEY)
    if not isinstance(environments, Mapping) or not environments:
        raise ConfigError(ENVIRONMENTS_KEY, environments, "a mapping of environment name to settings in cdk.json")
    if not isinstance(env_name, str) or not env_name.isascii() or not _ENV_NAME.fullmatch(env_name):
        raise ConfigError(ENV_SELECTOR_KEY, env_name, "a lower-case name of letters and digits, at most 16: one of "
                          + ", ".join(sorted(environments)))
    if env_name not in environments:
        raise ConfigError(ENV_SELECTOR_KEY, env_name, "one of " + ", ".join(sorted(environments)))
    raw = environments[env_name]
    prefix = f"{ENVIRONMENTS_KEY}.{env_name}"
    if not isinstance(raw, Mapping):
        raise ConfigError(prefix, raw, "a mapping of settings")
    if "env_name" in raw:
        raise ConfigError(f"{prefix}.env_name", raw["env_name"], "no such setting (the name is the key)")
    try:
        config = HydraConfig.model_validate({**raw, "env_name": env_name})
    except ValidationError as error:
        raise _config_error(error, prefix) from None
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
    if c.certificate_arn and c.region:
        certificate_region = _CERT_ARN.fullmatch(c.certificate_arn).group("region")
        if certificate_region != c.region:
            fail("certificate_arn", f"a certificate in the stacks' region ({c.region}): a regional API's custom "
                 f"domain cannot use one from {certificate_region}")
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
    smallest_fleet = int(c.hydra_min_tasks * c.hydra_cpu / 1024 * TOKENS_PER_VCPU)
    if c.api_throttle_rate_limit > smallest_fleet:
        fail("api_throttle_rate_limit", f"at most what the smallest fleet serves of the costliest token request: "
             f"hydra_min_tasks x hydra_cpu/1024 x {TOKENS_PER_VCPU} ({c.hydra_min_tasks} x {c.hydra_cpu}/1024 x "
             f"{TOKENS_PER_VCPU} = {smallest_fleet}); more piles up in the tasks until Hydra v26.2.0 stalls "
             "(ory/hydra#3863); raise hydra_min_tasks or hydra_cpu, or lower the rate")
    if c.api_throttle_burst_limit > c.hydra_min_tasks * c.hydra_max_conns:
        fail("api_throttle_burst_limit", f"at most hydra_min_tasks x hydra_max_conns ({c.hydra_min_tasks} x "
             f"{c.hydra_max_conns} = {c.hydra_min_tasks * c.hydra_max_conns}): a burst spread over the smallest "
             "fleet must not put more requests in flight on a task than its connection pool, where Hydra v26.2.0 "
             "stalls (ory/hydra#3863); raise hydra_max_conns or hydra_min_tasks, or lower the burst")
