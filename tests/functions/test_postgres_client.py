"""The functions' PostgreSQL client: server verification by default, SCRAM verifiers, the CA bundle."""

from __future__ import annotations

import ssl

import pytest

from hydra_functions import postgres
from hydra_functions.rds_ca import RDS_CA_BUNDLE, bundle_regions


def test_verify_full_is_the_default_and_checks_chain_and_host_name(monkeypatch):
    monkeypatch.delenv("DB_TLS", raising=False)
    monkeypatch.delenv("DB_CA_BUNDLE", raising=False)
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    strict = postgres.tls_context()
    assert (strict.verify_mode, strict.check_hostname) == (ssl.CERT_REQUIRED, True)
    assert strict.cert_store_stats()["x509_ca"] == RDS_CA_BUNDLE.read_text().count("BEGIN CERTIFICATE")
    monkeypatch.setenv("DB_TLS", "require")
    lax = postgres.tls_context()
    assert (lax.verify_mode, lax.check_hostname) == (ssl.CERT_NONE, False)


def test_a_region_the_bundle_lacks_fails_with_what_to_set(monkeypatch):
    monkeypatch.delenv("DB_CA_BUNDLE", raising=False)
    monkeypatch.delenv("DB_TLS", raising=False)
    monkeypatch.setenv("AWS_REGION", "ca-west-1")
    with pytest.raises(RuntimeError, match="no certificate authority for ca-west-1: set db_server_verification"):
        postgres.tls_context()


def test_the_bundle_covers_the_commercial_regions_in_three_algorithms():
    regions = bundle_regions()
    assert {"us-east-1", "eu-west-1", "ap-southeast-2", "sa-east-1"} <= regions and len(regions) == 27
    text = RDS_CA_BUNDLE.read_text()
    for algorithm in ("RSA2048 G1", "RSA4096 G1", "ECC384 G1"):
        assert all(f"# Amazon RDS {r} Root CA {algorithm} |" in text for r in regions), algorithm


def test_passwords_reach_the_server_as_scram_verifiers():
    verifier = postgres.scram_sha_256_verifier("any password")
    assert verifier.startswith("SCRAM-SHA-256$4096:") and "any password" not in verifier
    assert verifier != postgres.scram_sha_256_verifier("any password"), "a fresh salt each time"
    assert postgres.password_clause("p'w") .startswith("PASSWORD 'SCRAM-SHA-256$")
    with pytest.raises(ValueError, match="SASLprep refuses"):
        postgres.scram_sha_256_verifier("bell\x07")
