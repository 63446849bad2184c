"""Every value that reaches Hydra's environment is one Hydra's own configuration schema accepts.

The schema is the deployed version's (its source archive, devtools.hydra_schema). Every task
definition of every synthesized environment is checked, and so are generated configurations: any
value the loader lets through must be one Hydra accepts.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings, strategies as st

from devtools import hydra_schema
from hydra_constructs.hydra_service import command_environment, hydra_environment
from hydra_on_aws.config.settings import ConfigError, load_config

from tests.conftest import context_for


def environments(synth) -> dict[str, dict]:
    found = {}
    for template in synth.templates.values():
        for resource in template["Resources"].values():
            if resource["Type"] == "AWS::ECS::TaskDefinition":
                for container in resource["Properties"]["ContainerDefinitions"]:
                    found[container["Name"]] = {e["Name"]: e["Value"] for e in container.get("Environment", [])}
    return found


def test_the_schema_knows_hydras_settings():
    known = hydra_schema.paths()
    assert known["TTL_ACCESS_TOKEN"][0] == ("ttl", "access_token")
    assert known["SERVE_PUBLIC_CORS_ALLOWED_ORIGINS"][0] == ("serve", "public", "cors", "allowed_origins")
    assert hydra_schema.problems({"LOG_LEVEL": "warning", "TTL_ID_TOKEN": "1.5h", "NO_SUCH_THING": "1"}) == [
        "NO_SUCH_THING: Hydra has no such setting (it would ignore it)",
        "LOG_LEVEL: 'warning' is not one of ['panic', 'fatal', 'error', 'warn', 'info', 'debug', 'trace']",
        "TTL_ID_TOKEN: '1.5h' does not match '^(\\\\d+(ns|us|ms|s|m|h))+$'"]


def test_every_task_definitions_environment_is_valid_for_hydra(dev, prod, dev_domain, dev_certificate):
    for synth in (dev, prod, dev_domain, dev_certificate):
        for container, environment in environments(synth).items():
            assert environment, container
            assert hydra_schema.problems(environment) == [], (synth.config.env_name, container)


durations = st.one_of(st.from_regex(r"[0-9]{1,8}(ns|us|µs|ms|s|m|h)(\.5)?", fullmatch=True),
                      st.sampled_from(["1h30m", "0s", "15 minutes", "1.5h", "2562048h", "10m\n", "720h"]))
origins = st.one_of(st.sampled_from(["https://app.example.com", "https://a.example.com:8443", "http://x.example",
                                     "https://*.example.com", "https://app.example.com/path"]),
                    st.text(max_size=30))
HYDRA_BOUND = {
    "ttl_access_token": durations, "ttl_id_token": durations, "ttl_auth_code": durations,
    "ttl_refresh_token": durations, "ttl_login_consent_request": durations, "janitor_keep_if_younger": durations,
    "hydra_log_level": st.sampled_from(["trace", "debug", "info", "warn", "warning", "error", "panic"]),
    "scope_strategy": st.sampled_from(["exact", "wildcard", "Exact"]),
    "pkce_enforced_for_all_clients": st.one_of(st.booleans(), st.just("true")),
    "cors_allowed_origins": st.lists(origins, max_size=3),
    "hydra_public_port": st.integers(1, 70000), "hydra_admin_port": st.integers(1, 70000),
    "urls_login": st.one_of(st.sampled_from(["https://idp.example.com/login", "https://idp.example.com:99999/x",
                                             "https://idp.example.com/a b"]), st.text(max_size=40)),
}
# One or two settings at a time, so that an accepted value is not hidden behind another refused one.
hydra_bound = st.lists(st.sampled_from(sorted(HYDRA_BOUND)), min_size=1, max_size=2, unique=True).flatmap(
    lambda keys: st.fixed_dictionaries({key: HYDRA_BOUND[key] for key in keys}))


@given(hydra_bound)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_whatever_the_loader_accepts_hydra_accepts(overrides):
    try:
        config = load_config(context_for("dev", **overrides))
    except ConfigError:
        return  # refused, with the key named: fine
    environment = hydra_environment(config, "https://abc123.execute-api.eu-west-1.amazonaws.com/dev/")
    assert hydra_schema.problems(environment) == []
    assert hydra_schema.problems(command_environment(config)) == []
