"""Configuration: one frozen object per environment; bad input names key, value and expected form."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from pydantic import ValidationError

from hydra_on_aws.config.settings import ConfigError, load_config, settings_fields

from app import build_app

from tests.conftest import ROOT, context_for


def error_for(env: str = "dev", **overrides) -> ConfigError:
    with pytest.raises(ConfigError) as excinfo:
        load_config(context_for(env, **overrides))
    return excinfo.value


def test_cdk_json_environments_load_and_are_frozen():
    for env in ("dev", "prod"):
        config = load_config(context_for(env))
        assert config.env_name == env
        with pytest.raises(ValidationError, match="frozen"):
            config.vpc_cidr = "10.0.0.0/16"  # type: ignore[misc]


def test_default_environment_is_dev_and_environment_agnostic():
    context = context_for("dev")
    del context["env"]
    config = load_config(context)
    assert config.env_name == "dev"
    assert config.env_agnostic, "the default must synthesize with no account or credentials"


def test_token_lifetime_defaults_are_short():
    config = load_config(context_for("prod"))
    assert config.ttl_access_token == "15m"
    assert config.ttl_auth_code == "10m"


@pytest.mark.parametrize("overrides, key, expected_fragment", [
    ({"urls_login": "http://login.example.com/login"}, "urls_login", "https://"),
    ({"urls_consent": "login.example.com/consent"}, "urls_consent", "https://"),
    ({"domain_name": "https://auth.example.com/", "certificate_arn": None}, "domain_name", "DNS name"),
    ({"domain_name": "auth_example.com"}, "domain_name", "DNS name"),
    ({"vpc_cidr": "10.40.0.0/33"}, "vpc_cidr", "CIDR"),
    ({"vpc_cidr": "10.40.0.1/16"}, "vpc_cidr", "CIDR"),
    ({"vpc_cidr": "8.8.0.0/16"}, "vpc_cidr", "private"),
    ({"admin_allowed_cidrs": ["0.0.0.0/0"]}, "admin_allowed_cidrs[0]", "private"),
    ({"admin_allowed_cidrs": ["10.0.0.0/8"]}, "admin_allowed_cidrs[0]", "whole VPC"),
    ({"db_min_capacity": 4, "db_max_capacity": 2}, "db_min_capacity", "at most db_max_capacity"),
    ({"db_max_capacity": 0.7}, "db_max_capacity", "steps of 0.5"),
    ({"ttl_access_token": "15 minutes"}, "ttl_access_token", "duration in Hydra's form"),
    ({"ttl_auth_code": "0s"}, "ttl_auth_code", "positive"),
    ({"ttl_access_token": "1000h"}, "ttl_access_token", "no longer than ttl_refresh_token"),
    ({"hydra_image": "oryd/hydra"}, "hydra_image", "tag or digest"),
    ({"hydra_user": "0"}, "hydra_user", "non-root"),
    ({"hydra_memory": 8192}, "hydra_memory", "for hydra_cpu 256"),
    ({"hydra_min_tasks": 3, "hydra_max_tasks": 2}, "hydra_min_tasks", "at most hydra_max_tasks"),
    ({"hydra_admin_port": 4444}, "hydra_admin_port", "different from hydra_public_port"),
    ({"nat": "none"}, "nat", "'gateway' or 'instance'"),
    ({"log_retention_days": 10}, "log_retention_days", "retention in days"),
    ({"domain_name": "auth.example.com"}, "certificate_arn", "hosted_zone_id"),
    ({"domain_name": "auth.example.com", "hosted_zone_id": "Z0123456789ABCDEFGHIJ",
      "hosted_zone_name": "other.org"}, "domain_name", "inside hosted_zone_name"),
    ({"certificate_arn": "arn:aws:acm:eu-west-1:123456789012:certificate/0b1f2c3d-4e5f-6789-abcd-ef0123456789"},
     "certificate_arn", "null when domain_name is null"),
    ({"account": "123456789012"}, "region", "set together"),
    ({"account": "123456789012", "region": "eu-west-1"}, "availability_zones", "no lookups"),
    ({"max_azs": 3}, "max_azs", "environment-agnostic"),
    ({"cors_allowed_origins": ["*"]}, "cors_allowed_origins[0]", "no wildcard"),
    ({"vpc_cidrr": "10.0.0.0/16"}, "vpc_cidrr", "no such setting"),
    ({"hydra_max_conns": 100, "hydra_max_tasks": 10}, "hydra_max_conns", "within Aurora's max_connections"),
    ({"db_server_verification": "verify-ca"}, "db_server_verification", "'verify-full' or 'require'"),
    # Hydra v26.2.0 stalls beyond its pool (ory/hydra#3863, tests/e2e/test_deployed_hydra.py): a burst
    # spread over the smallest fleet must fit the pools.
    ({"api_throttle_burst_limit": 26}, "api_throttle_burst_limit", "at most hydra_min_tasks x hydra_max_conns (1 x 25"),
    ({"hydra_max_conns": 10}, "api_throttle_burst_limit", "(1 x 10 = 10)"),
    ({"api_throttle_rate_limit": 11}, "api_throttle_rate_limit", "hydra_min_tasks x hydra_cpu/1024 x 40 (1 x 256/1024"),
    ({"account": "123456789012", "region": "ca-west-1", "availability_zones": ["ca-west-1a", "ca-west-1b"]},
     "db_server_verification", "no certificate authority for that region"),
])
def test_bad_values_name_key_value_and_expected_form(overrides, key, expected_fragment):
    error = error_for(**overrides)
    assert error.key == f"hydra:environments.dev.{key}"
    assert expected_fragment in error.expected
    message = str(error)
    assert message.startswith(error.key) and repr(error.value) in message


PINNED = {"account": "123456789012", "region": "eu-west-1", "availability_zones": ["eu-west-1a", "eu-west-1b"]}


@pytest.mark.parametrize("overrides, key, expected_fragment", [
    # Whole values only: Python's $ lets a trailing newline through; fullmatch does not.
    ({"domain_name": "auth.example.com\n", "certificate_arn": None}, "domain_name", "DNS name"),
    ({"api_stage_name": "dev\n"}, "api_stage_name", "letters, digits"),
    ({"hydra_user": "65532\n"}, "hydra_user", "non-root"),
    ({"urls_login": "https://login.example.com/login\n"}, "urls_login", "without credentials, fragment or spaces"),
    ({**PINNED, "account": "123456789012\n"}, "account", "12-digit"),
    ({"alarm_email": "oncall@example.com\n"}, "alarm_email", "e-mail"),
    ({"hydra_image": "oryd/hydra:v26.2.0\n"}, "hydra_image", "tag or digest"),
    ({"janitor_schedule": "rate(1 hour)\n"}, "janitor_schedule", "EventBridge Scheduler"),
    # Root in disguise.
    ({"hydra_user": "00"}, "hydra_user", "non-root"),
    ({"hydra_user": "65532:0"}, "hydra_user", "neither may be 0"),
    # Private means RFC 1918 (and IPv6 unique local), nothing else.
    ({"admin_allowed_cidrs": ["0.0.0.0/8"]}, "admin_allowed_cidrs[0]", "RFC 1918"),
    ({"admin_allowed_cidrs": ["169.254.0.0/16"]}, "admin_allowed_cidrs[0]", "RFC 1918"),
    ({"admin_allowed_cidrs": ["2001:db8::/32"]}, "admin_allowed_cidrs[0]", "unique local"),
    ({"admin_allowed_cidrs": [167772160]}, "admin_allowed_cidrs[0]", "valid string"),
    ({"vpc_cidr": "100.64.0.0/16"}, "vpc_cidr", "RFC 1918"),
    # Durations Hydra itself accepts.
    ({"ttl_refresh_token": "9999999h"}, "ttl_refresh_token", "Go can hold"),
    ({"ttl_access_token": "1.5m"}, "ttl_access_token", "whole numbers"),
    ({"ttl_access_token": "900\u00b5s"}, "ttl_access_token", "whole numbers"),
    # AWS forms.
    ({**PINNED, "domain_name": "auth.example.com",
      "certificate_arn": "arn:aws:acm:us-east-1:123456789012:certificate/0b1f2c3d-4e5f-6789-abcd-ef0123456789"},
     "certificate_arn", "in the stacks' region (eu-west-1)"),
    ({"janitor_schedule": "rate(0 minutes)"}, "janitor_schedule", "at least 1"),
    ({"janitor_schedule": "rate(1 minutes)"}, "janitor_schedule", "singular for 1"),
    ({"janitor_schedule": "cron(15 * * *)"}, "janitor_schedule", "six fields"),
    ({**PINNED, "availability_zones": ["eu-west-1a", "eu-west-1a"]}, "availability_zones", "distinct"),
    ({"urls_error": "https://login.example.com:70000/error"}, "urls_error", "port from 1 to 65535"),
    ({"urls_consent": "https://lögin.example.com/consent"}, "urls_consent", "ASCII"),
    ({"cors_allowed_origins": ["https://a.example.com", "https://a.example.com"]}, "cors_allowed_origins",
     "without repeated entries"),
    # null is not a default, and strings are not numbers.
    ({"hydra_max_tasks": None}, "hydra_max_tasks", "valid integer"),
    ({"waf_enabled": None}, "waf_enabled", "valid boolean"),
    ({"hydra_max_conns": "5"}, "hydra_max_conns", "valid integer"),
    ({"db_min_capacity": True}, "db_min_capacity", "valid number"),
])
def test_malformed_settings_an_adversary_tried_are_refused(overrides, key, expected_fragment):
    error = error_for(**overrides)
    assert error.key == f"hydra:environments.dev.{key}", error
    assert expected_fragment in error.expected, error


def test_an_empty_environment_selector_is_an_error_not_dev():
    context = context_for("dev")
    context["env"] = ""
    with pytest.raises(ConfigError) as excinfo:
        load_config(context)
    assert excinfo.value.key == "env" and "one of dev, prod" in excinfo.value.expected


def test_nag_switch_from_the_command_line_is_understood():
    from app import nag_enabled
    assert nag_enabled(None) is True and nag_enabled(True) is True
    assert nag_enabled("false") is False and nag_enabled(False) is False and nag_enabled("true") is True
    with pytest.raises(ConfigError, match="hydra:nag: got 'no'; expected true or false"):
        nag_enabled("no")


@pytest.mark.parametrize("overrides, key", [
    ({"hydra_min_tasks": 1}, "hydra_min_tasks"),
    ({"db_deletion_protection": False}, "db_deletion_protection"),
    ({"db_removal_policy": "destroy"}, "db_removal_policy"),
    ({"db_backup_retention_days": 7}, "db_backup_retention_days"),
    ({"waf_enabled": False}, "waf_enabled"),
    ({"nat": "instance"}, "nat"),
])
def test_production_floors_cannot_be_lowered(overrides, key):
    assert error_for("prod", **overrides).key == f"hydra:environments.prod.{key}"


def test_a_region_the_ca_bundle_lacks_works_with_require():
    config = load_config(context_for("dev", account="123456789012", region="ca-west-1",
                                     availability_zones=["ca-west-1a", "ca-west-1b"],
                                     db_server_verification="require"))
    assert config.db_server_verification == "require"


def test_unknown_environment_lists_the_known_ones():
    context = context_for("dev")
    context["env"] = "staging"
    with pytest.raises(ConfigError) as excinfo:
        load_config(context)
    assert excinfo.value.key == "env"
    assert "dev, prod" in excinfo.value.expected


def test_required_settings_are_reported_missing():
    context = context_for("dev")
    del context["hydra:environments"]["dev"]["urls_login"]
    with pytest.raises(ConfigError, match=r"urls_login: got None; expected a value \(required\)"):
        load_config(context)


def test_every_setting_has_a_meaning():
    for f in settings_fields():
        assert f.doc.strip(), f"{f.name} has no documentation"


def test_synthesis_stops_with_the_error_and_no_traceback(tmp_path):
    """`python app.py` (what `cdk synth` runs) exits 2 with one clear line."""
    context = context_for("dev", urls_login="http://insecure.example.com/login")
    env = {**os.environ, "CDK_CONTEXT_JSON": json.dumps(context), "CDK_OUTDIR": str(tmp_path)}
    result = subprocess.run([sys.executable, "app.py"], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 2
    assert "configuration error: hydra:environments.dev.urls_login: got 'http://insecure.example.com/login'" \
        in result.stderr
    assert "Traceback" not in result.stderr
    assert not list(tmp_path.glob("*.template.json")), "nothing may be half-synthesized"


def test_readme_configuration_reference_matches_the_code():
    from devtools.docs import README, config_reference, readme_section
    assert readme_section(README.read_text(), "config-reference") == config_reference(), \
        "run `make docs` and commit README.md"


def test_synthesis_stops_when_the_worst_case_could_exhaust_the_databases_connections():
    # 2 generations x 10 tasks x 30 connections = 600 > 2 ACU's max_connections (a few hundred).
    with pytest.raises(ConfigError) as excinfo:
        build_app(context_for("dev", hydra_max_conns=30, hydra_max_tasks=10))
    message = str(excinfo.value)
    assert "hydra_max_conns" in message and "600 (2 x 10 tasks x max_conns 30)" in message, message
    assert "lower hydra_max_conns or hydra_max_tasks, or raise db_max_capacity" in message
    load_config(context_for("dev", hydra_max_conns=30, hydra_max_tasks=10, db_max_capacity=16))  # enough room


def test_the_editor_schema_is_the_models_and_describes_cdk_json():
    import jsonschema
    from devtools.docs import SCHEMA, schema_text
    assert SCHEMA.read_text() == schema_text(), "run `make docs` and commit cdk.schema.json"
    schema = json.loads(schema_text())
    cdk_json = json.loads((ROOT / "cdk.json").read_text())
    jsonschema.validate(cdk_json, schema)
    cdk_json["context"]["hydra:environments"]["dev"]["hydra_max_conns"] = "5"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(cdk_json, schema)
