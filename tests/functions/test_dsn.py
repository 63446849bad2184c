"""The DSN: percent-encoded so that any password reads back exactly, in any URL parser."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from hypothesis import given, settings, strategies as st

from hydra_functions.dsn import compose_dsn, dsn_from_secret, parse_dsn

# Characters Go's net/url accepts verbatim in userinfo without ambiguity; all
# else must arrive as %XX escapes.
GO_SAFE_USERINFO = re.compile(r"^(?:[A-Za-z0-9\-._~]|%[0-9A-F]{2})*$")
any_password = st.text(st.characters(exclude_characters="\x00", exclude_categories=("Cs",)), max_size=128)
rds_password = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7e), min_size=8, max_size=41)


def compose(password: str, username: str = "hydra_admin") -> str:
    return compose_dsn(username=username, password=password, host="hydra.cluster-abc.eu-west-1.rds.amazonaws.com",
                       port=5432, dbname="hydra", max_conns=10)


@given(password=any_password, username=any_password.filter(bool))
@settings(max_examples=500)
def test_any_password_and_user_round_trip(password, username):
    parts = parse_dsn(compose(password, username))
    assert (parts.username, parts.password) == (username, password)
    assert parts.host == "hydra.cluster-abc.eu-west-1.rds.amazonaws.com" and parts.port == 5432


@given(password=any_password)
def test_userinfo_holds_only_unreserved_characters_and_escapes(password):
    netloc = urlsplit(compose(password)).netloc
    userinfo = netloc.rpartition("@")[0]
    user, _, encoded = userinfo.partition(":")
    assert GO_SAFE_USERINFO.match(user) and GO_SAFE_USERINFO.match(encoded)
    assert netloc.count("@") == 1, "an unescaped @ would move the host"


@given(password=rds_password)
def test_rds_generated_passwords_keep_the_host_port_and_options(password):
    dsn = compose(password)
    parts = urlsplit(dsn)
    assert (parts.hostname, parts.port, parts.path) == ("hydra.cluster-abc.eu-west-1.rds.amazonaws.com", 5432,
                                                        "/hydra")
    assert parts.query == "sslmode=require&max_conns=10"
    assert not parts.fragment


def test_the_characters_go_rejects_are_escaped():
    dsn = compose("a^b%c#d/e@f:g?h[i]j k\"l'm\\n")
    assert dsn.startswith("postgres://hydra_admin:a%5Eb%25c%23d%2Fe%40f%3Ag%3Fh%5Bi%5Dj%20k%22l%27m%5Cn@")


def test_dsn_from_the_rds_secret_shape():
    secret = {"username": "hydra_admin", "password": "p@ss", "host": "db.example.internal", "port": 5432,
              "dbname": "hydra", "engine": "postgres"}
    assert dsn_from_secret(secret, max_conns=7) == (
        "postgres://hydra_admin:p%40ss@db.example.internal:5432/hydra?sslmode=require&max_conns=7")


@pytest.mark.parametrize("bad", [
    {"username": "u", "password": "p"},                      # no host yet (not attached to the cluster)
    {"username": "u", "password": "p", "host": "evil.example/x?sslmode=disable"},
    {"username": "u", "password": "p", "host": "h", "port": 70000},
])
def test_malformed_secrets_are_refused(bad):
    with pytest.raises(ValueError):
        dsn_from_secret(bad, max_conns=5)
