"""The composed DSN logs in to a real PostgreSQL for passwords full of URL-reserved characters."""

from __future__ import annotations

import functools
import itertools
import json
import ssl
import stringprep
from urllib.parse import urlsplit, urlunsplit

import boto3
import psycopg
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from scramp.utils import saslprep
from moto import mock_aws

from hydra_functions import dsn_composer, postgres as pg8000_client
from hydra_functions.dsn import compose_dsn, parse_dsn

pytestmark = pytest.mark.postgres

RESERVED = "p@ss:w/rd?#[]%^&=+ $!'\"\\;,`{}|<>~*()"
_names = (f"hydra_{i}" for i in itertools.count())


def saslprep_accepts(password: str) -> bool:
    try:
        saslprep(password)
    except Exception:
        return False
    return True


@functools.cache
def _saslprep_alphabet() -> list[str]:
    """Every non-ASCII character SCRAM's SASLprep keeps, minus right-to-left ones (mixing those
    with left-to-right text is refused as a whole), so any string of them is accepted: built,
    not filtered, or Hypothesis discards most draws (Unicode 3.2 leaves much of today's unassigned)."""
    def kept(c: str) -> bool:
        return saslprep_accepts(c) and not any(map(stringprep.in_table_d1, saslprep(c)))  # ℵ maps to א

    return [c for c in map(chr, range(0x80, 0x30000)) if not 0xD800 <= ord(c) < 0xE000 and kept(c)]


PASSWORDS = st.text(st.one_of(st.characters(min_codepoint=0x20, max_codepoint=0x7E),  # what Secrets Manager makes
                              st.deferred(lambda: st.sampled_from(_saslprep_alphabet()))),
                    min_size=1, max_size=40)


def libpq_dsn(dsn: str) -> str:
    """libpq accepts the same URL; only Hydra's own pool option must go."""
    parts = urlsplit(dsn)
    query = "&".join(p for p in parts.query.split("&") if not p.startswith("max_conns="))
    return urlunsplit(parts._replace(query=query))


def dsn_for(postgres, user: str, password: str) -> str:
    return compose_dsn(username=user, password=password, host=postgres.host, port=postgres.port,
                       dbname=user, max_conns=5)


def test_libpq_logs_in_with_the_composed_dsn(postgres):
    postgres.create_login("hydra_reserved", RESERVED, database="hydra_reserved")
    dsn = dsn_for(postgres, "hydra_reserved", RESERVED)
    assert "sslmode=require" in dsn
    with psycopg.connect(libpq_dsn(dsn)) as conn:
        row = conn.execute("SELECT current_user, current_database(), ssl FROM pg_stat_ssl "
                           "WHERE pid = pg_backend_pid()").fetchone()
    assert row == ("hydra_reserved", "hydra_reserved", True)


def test_the_functions_client_logs_in_with_the_composed_dsn_and_verifies_the_server(postgres):
    postgres.create_login("hydra_pg8000", RESERVED, database="hydra_pg8000")
    parts = parse_dsn(dsn_for(postgres, "hydra_pg8000", RESERVED))
    with pg8000_client.connect(host=parts.host, port=parts.port, user=parts.username, password=parts.password,
                               database=parts.dbname) as conn:  # verify-full, against DB_CA_BUNDLE
        assert conn.run("SELECT current_user") == [["hydra_pg8000"]]


def test_a_server_the_bundle_does_not_vouch_for_is_refused(postgres, tmp_path):
    from hydra_on_aws.local.tls import LocalCA
    stranger = LocalCA.create(tmp_path, name="someone else's CA")
    with pytest.raises((ssl.SSLError, *pg8000_client.PgError), match="CERTIFICATE_VERIFY_FAILED|certificate verify failed"):
        pg8000_client.connect(host=postgres.host, port=postgres.port, user=postgres.superuser,
                              password=postgres.superuser_password, database="postgres",
                              cafile=str(stranger.cert_path))


def test_verify_full_checks_the_chain_and_the_host_name_require_only_encrypts():
    strict, lax = pg8000_client.tls_context("verify-full"), pg8000_client.tls_context("require")
    assert (strict.verify_mode, strict.check_hostname) == (ssl.CERT_REQUIRED, True)
    assert (lax.verify_mode, lax.check_hostname) == (ssl.CERT_NONE, False)
    assert strict.cert_store_stats()["x509_ca"] >= 1, "the bundled RDS CA bundle is loaded"


def test_plain_tcp_is_refused_like_aurora_with_force_ssl(postgres):
    with pytest.raises(psycopg.OperationalError, match="no pg_hba.conf entry|SSL off|encryption"):
        psycopg.connect(host=postgres.host, port=postgres.port, user=postgres.superuser,
                        password=postgres.superuser_password, dbname="postgres", sslmode="disable")


@given(password=PASSWORDS)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_password_logs_in_through_both_clients(postgres, password):
    # SCRAM prepares passwords with SASLprep, which refuses control characters and malformed
    # bidirectional text; PostgreSQL then hashes the raw bytes, scramp (and so pg8000) refuses.
    # Secrets Manager generates printable ASCII only: every password it can make is in the rest.
    assert saslprep_accepts(password)
    user = next(_names)
    postgres.create_login(user, password)
    dsn = compose_dsn(username=user, password=password, host=postgres.host, port=postgres.port,
                      dbname="postgres", max_conns=5)
    with psycopg.connect(libpq_dsn(dsn)) as conn:
        assert conn.execute("SELECT current_user").fetchone() == (user,)
    parts = parse_dsn(dsn)
    with pg8000_client.connect(host=parts.host, port=parts.port, user=parts.username, password=parts.password,
                               database=parts.dbname) as conn:
        assert conn.run("SELECT current_user") == [[user]]


@mock_aws
def test_composer_publishes_only_a_dsn_that_logs_in(postgres):
    postgres.create_login("hydra_composed", RESERVED, database="hydra_composed")
    client = boto3.client("secretsmanager", region_name="eu-west-1")
    source = client.create_secret(Name="db", SecretString=json.dumps({
        "username": "hydra_composed", "password": RESERVED, "host": postgres.host, "port": postgres.port,
        "dbname": "hydra_composed", "engine": "postgres"}))["ARN"]
    target = client.create_secret(Name="dsn", SecretString="placeholder")["ARN"]

    response = dsn_composer.on_event({"RequestType": "Create", "ResourceProperties": {
        "SourceSecretArn": source, "TargetSecretArn": target, "MaxConns": "5", "VerifyLogin": "true"}},
        secrets=client)

    assert RESERVED not in json.dumps(response) and "postgres://" not in json.dumps(response)
    stored = client.get_secret_value(SecretId=target)["SecretString"]
    assert parse_dsn(stored).password == RESERVED
    with psycopg.connect(libpq_dsn(stored)) as conn:
        assert conn.execute("SELECT current_user").fetchone() == ("hydra_composed",)


@mock_aws
def test_composer_refuses_to_publish_a_dsn_that_cannot_log_in(postgres):
    client = boto3.client("secretsmanager", region_name="eu-west-1")
    source = client.create_secret(Name="db", SecretString=json.dumps({
        "username": "postgres", "password": "wrong-" + RESERVED, "host": postgres.host, "port": postgres.port,
        "dbname": "postgres"}))["ARN"]
    target = client.create_secret(Name="dsn", SecretString="placeholder")["ARN"]
    with pytest.raises(RuntimeError) as excinfo:
        dsn_composer.publish_dsn(secrets=client, source_secret_id=source, target_secret_id=target, max_conns=5)
    assert "28P01" in str(excinfo.value) and RESERVED not in str(excinfo.value)
    assert client.get_secret_value(SecretId=target)["SecretString"] == "placeholder"
