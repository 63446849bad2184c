"""Property: every valid configuration synthesizes, the guard stays silent, and no path leads
from the internet to the admin port."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from app import build_app
from hydra_on_aws.config.settings import load_config
from hydra_on_aws.boundary.from_templates import network_from_templates
from hydra_on_aws.boundary.templates import AppTemplates
from hydra_on_aws.boundary.trust_boundary import Analysis

from tests.conftest import context_for

ZONE = {"hosted_zone_id": "Z0123456789ABCDEFGHIJ", "hosted_zone_name": "example.com"}
CERT = "arn:aws:acm:eu-west-1:123456789012:certificate/0b1f2c3d-4e5f-6789-abcd-ef0123456789"


@st.composite
def configurations(draw):
    env = draw(st.sampled_from(["dev", "prod"]))
    octet = draw(st.integers(0, 250))
    vpc = f"10.{octet}.0.0/16"
    public_port, admin_port = draw(st.lists(st.integers(1024, 65535), min_size=2, max_size=2, unique=True))
    overrides = {"vpc_cidr": vpc, "hydra_public_port": public_port, "hydra_admin_port": admin_port,
                 "api_stage_name": draw(st.from_regex(r"[a-z][a-z0-9_]{0,9}", fullmatch=True))}
    # Extra admin ranges: inside the VPC, or other private ranges that an operator trusts.
    inside = st.integers(0, 255).map(lambda n: f"10.{octet}.{n}.0/24")
    elsewhere = st.sampled_from(["192.168.10.0/24", "172.20.0.0/16", "10.251.4.0/22"])
    overrides["admin_allowed_cidrs"] = sorted(set(draw(st.lists(st.one_of(inside, elsewhere), max_size=3))))
    edge = draw(st.sampled_from(["execute-api", "zone", "certificate"]))
    if edge == "zone":
        overrides.update(domain_name="auth.example.com", **ZONE)
    elif edge == "certificate":
        overrides.update(domain_name="login.example.org", certificate_arn=CERT)
    if env == "dev":
        overrides["nat"] = draw(st.sampled_from(["instance", "gateway"]))
        overrides["waf_enabled"] = draw(st.booleans())
        overrides["api_cloudwatch_role"] = draw(st.booleans())
    overrides["db_readers"] = draw(st.integers(0, 2))
    low = draw(st.integers(2 if env == "prod" else 1, 4))
    overrides.update(hydra_min_tasks=low, hydra_max_tasks=draw(st.integers(low, 8)))
    if overrides["hydra_max_tasks"] > 2:  # dev's 2 ACU cannot hold more tasks' pools (the connection budget)
        overrides["db_max_capacity"] = 8
    overrides["introspection_door"] = draw(st.booleans())
    return env, overrides


@pytest.mark.synth_heavy
@given(configurations())
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_every_valid_configuration_keeps_the_admin_port_inside(configuration):
    env, overrides = configuration
    context = context_for(env, **overrides)
    config = load_config(context)
    assembly = build_app(context).synth()  # the guard (and cdk-nag) raise here on any finding
    analysis = Analysis(network_from_templates(AppTemplates({s.stack_name: s.template for s in assembly.stacks}),
                                               config))
    assert analysis.violations() == []
    assert analysis.internet_paths_to(config.hydra_admin_port) == []
    public_paths = analysis.internet_paths_to(config.hydra_public_port)
    assert public_paths and all("VpcLink" in p for p in public_paths)
    for cidr in config.admin_allowed_cidrs:
        assert ipaddress.ip_network(cidr).is_private
