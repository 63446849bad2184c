"""The guide's whole OAuth2 flow against a real Hydra configured by the synthesized dev task definition.

PostgreSQL, Hydra (built from its source archive), Caddy terminating TLS and
the login/consent app run on loopback ports (tests/e2e/conftest.py); the example
clients are applied with the project's tool; authlib walks the authorization
code flow with PKCE S256, state and nonce. The cases Hydra must refuse are in
test_oauth2_negative.py.
"""

from __future__ import annotations

import json
import re
import time
import urllib.parse

import jwt
import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.base_client.errors import OAuthError
from authlib.oauth2.rfc6749.errors import MismatchingStateException
from authlib.integrations.requests_client import OAuth2Session
from cryptography.hazmat.primitives.asymmetric import rsa

from hydra_functions.clients import AdminApi, apply, validate_client
from hydra_functions.dsn import parse_dsn
from hydra_on_aws.config import clients as declared_clients
from hydra_on_aws.ops import clients as cli
from hydra_on_aws.config.clients import load_clients
from hydra_on_aws.local.stack import LocalStack, task_environment
from hydra_on_aws.tokens.resource_server import serve_in_thread
from hydra_on_aws.tokens.validator import InvalidToken

from tests.e2e.flow import (
    ALICE, API, CALLBACK, CLIENT_ID, PASSWORD, authorize, discovery, oauth_client, start, trusting, validator, walk,
)

from tests.conftest import ROOT, synthesize

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def tokens(stack):
    client, callback, state, verifier, nonce = authorize(stack, trusting(requests.Session(), stack))
    token = client.fetch_token(discovery(stack)["token_endpoint"], authorization_response=callback, state=state,
                               code_verifier=verifier)
    return {"token": token, "nonce": nonce, "callback": callback}


# ------------------------------------------------------------------ the flow ---

def test_the_issuer_carries_the_stage_as_behind_api_gateway(stack):
    """The deployed shape: https, the stage in the issuer, stripped by the front before Hydra sees it."""
    stage = synthesize("dev").config.api_stage_name
    assert discovery(stack)["issuer"] == stack.issuer
    assert stack.issuer == f"https://{stack.public_host}:{stack.public_site.port}/{stage}/"
    assert discovery(stack)["token_endpoint"] == f"{stack.issuer}oauth2/token"
    assert discovery(stack)["jwks_uri"] == f"{stack.issuer}.well-known/jwks.json"


def test_the_login_app_is_another_site_than_hydra(stack):
    # Cookies and SameSite behave as between two sites, as in AWS (the IdP has its own domain).
    assert stack.public_host != stack.login_host
    assert urllib.parse.urlsplit(stack.login_base).hostname == stack.login_host


def test_anything_outside_the_stage_is_refused_by_the_front(stack, browser):
    base = f"https://{stack.public_host}:{stack.public_site.port}"
    for path in ("/health/alive", "/oauth2/token", f"/{stack.stage.upper()}/health/alive"):
        response = browser.get(base + path)
        assert (response.status_code, response.json()) == (403, {"message": "Forbidden"}), path


def test_hydra_runs_as_in_production_without_dev_mode(stack):
    # --dev would relax TLS and cookie checks that production keeps: the local Hydra must not have them.
    argv = [open(f"/proc/{p.pid}/cmdline", "rb").read().split(b"\0")[:-1] for p in stack.processes]
    hydra = [a for a in argv if a[0].endswith(b"/hydra")]
    assert [a[1:] for a in hydra] == [[b"serve", b"all"]]


def test_code_flow_with_pkce_state_and_nonce_yields_valid_tokens(stack, tokens):
    token = tokens["token"]
    assert set(token) >= {"access_token", "id_token", "refresh_token", "expires_in"}
    claims = validator(stack).validate(token["access_token"])
    assert claims["iss"] == stack.issuer
    assert API in claims["aud"], "the audience the client asked for and consent granted"
    assert claims["client_id"] == CLIENT_ID and claims["sub"] == ALICE.subject
    assert abs(claims["exp"] - claims["iat"] - 15 * 60) <= 2, "TTL_ACCESS_TOKEN from the synthesized task definition"
    id_claims = validator(stack).validate_id_token(token["id_token"], client_id=CLIENT_ID, nonce=tokens["nonce"])
    assert id_claims["aud"] == [CLIENT_ID] and id_claims["email"] == ALICE.email and id_claims["name"] == ALICE.name
    assert id_claims["email_verified"] is False, "Alice's account does not say her address is verified"


def test_the_guides_aud_equals_client_id_check_would_always_fail(stack, tokens):
    with pytest.raises(InvalidToken, match="InvalidAudienceError"):
        validator(stack).validate(tokens["token"]["access_token"], audience=CLIENT_ID)


def test_refresh_works_once_and_the_used_refresh_token_is_rejected(stack, tokens):
    client = oauth_client(stack)
    endpoint = discovery(stack)["token_endpoint"]
    old = tokens["token"]["refresh_token"]
    renewed = client.refresh_token(endpoint, refresh_token=old)
    assert renewed["refresh_token"] != old
    validator(stack).validate(renewed["access_token"])
    with pytest.raises(OAuthError) as excinfo:
        oauth_client(stack).refresh_token(endpoint, refresh_token=old)
    assert excinfo.value.error == "invalid_grant"


def test_the_example_resource_server_accepts_the_token_and_refuses_others(stack, tokens):
    server = serve_in_thread(validator(stack))
    url = f"http://127.0.0.1:{server.server_address[1]}/me"
    try:
        ok = requests.get(url, headers={"Authorization": f"Bearer {tokens['token']['access_token']}"})
        assert ok.status_code == 200 and ok.json()["sub"] == ALICE.subject
        assert requests.get(url).status_code == 401
        refused = requests.get(url, headers={"Authorization": "Bearer not-a-token"})
        assert refused.status_code == 401 and 'error="invalid_token"' in refused.headers["WWW-Authenticate"]
    finally:
        server.shutdown()


# ------------------------------------------------------------ negative cases ---

def test_an_unregistered_redirect_uri_is_refused(stack, browser):
    client = OAuth2Session(client_id=CLIENT_ID, redirect_uri="http://localhost:9999/evil", scope="openid",
                           code_challenge_method="S256")
    uri, _ = client.create_authorization_url(discovery(stack)["authorization_endpoint"],
                                             code_verifier=generate_token(48))
    landed = walk(browser, uri, stop_at=stack.login_base + "/error")
    assert not landed.startswith("http://localhost:9999")
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(landed).query))
    assert query["error"] == "invalid_request" and "redirect_uri" in query["error_description"]


def test_a_public_client_without_pkce_is_refused(stack, browser):
    client = oauth_client(stack)  # no code_challenge_method: no PKCE
    uri, _ = client.create_authorization_url(discovery(stack)["authorization_endpoint"], nonce=generate_token(16))
    callback = walk(browser, uri, stop_at=CALLBACK)
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(callback).query))
    assert "code" not in query and query["error"] == "invalid_request"
    assert "code_challenge" in query["error_description"]


def test_a_wrong_state_is_detected_by_the_client(stack, browser):
    client, callback, _, verifier, _ = authorize(stack, browser)
    with pytest.raises(MismatchingStateException):
        client.fetch_token(discovery(stack)["token_endpoint"], authorization_response=callback,
                           state="forged-state", code_verifier=verifier)


def test_the_user_is_asked_for_consent_and_a_denial_reaches_the_client_as_access_denied(stack, browser):
    # The dev client is public with a loopback redirect URI: anyone can register a look-alike app on
    # the user's machine, so it must not skip consent (clients/dev.json; the loader refuses it).
    callback = walk(browser, start(stack)[1], stop_at=CALLBACK, consent="deny")
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(callback).query))
    assert "code" not in query and query["error"] == "access_denied"


def test_remembered_login_and_consent_are_skipped_until_logout(stack, browser):
    first: list[str] = []
    walk(browser, start(stack, audience=API)[1], stop_at=CALLBACK, remember=True, seen=first)
    assert first == ["login", "consent"]
    again: list[str] = []
    callback = walk(browser, start(stack, audience=API)[1], stop_at=CALLBACK, seen=again)
    assert again == [], "Hydra says skip for both, and the app accepts without a page"
    assert "code" in dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(callback).query))
    # Logout: Hydra sends the browser to the app's /logout, which asks (no client initiated it); the user
    # confirms and Hydra lands on the default page.
    shown: list[str] = []
    landed = walk(browser, discovery(stack)["end_session_endpoint"], stop_at=f"{stack.login_base}/", seen=shown)
    assert shown == ["logout"] and landed == f"{stack.login_base}/"
    after: list[str] = []
    walk(browser, start(stack, audience=API)[1], stop_at=CALLBACK, seen=after)
    assert after[:1] == ["login"], "the session is gone"


def test_a_trusted_confidential_client_skips_the_consent_page_but_not_the_login(stack, browser):
    admin = AdminApi(stack.admin_url)
    trusted = validate_client({"client_id": "trusted-portal", "grant_types": ["authorization_code"],
                               "response_types": ["code"],
                               "token_endpoint_auth_method": "client_secret_basic", "scope": "openid",
                               "redirect_uris": [CALLBACK], "skip_consent": True})
    secrets: dict[str, str] = {}
    apply(admin, [trusted], on_secret=secrets.__setitem__)
    try:
        client = trusting(OAuth2Session(client_id="trusted-portal", client_secret=secrets["trusted-portal"],
                                        redirect_uri=CALLBACK, scope="openid", code_challenge_method="S256"), stack)
        seen: list[str] = []
        callback = walk(browser, start(stack, client)[1], stop_at=CALLBACK, seen=seen)
        assert seen == ["login"]
        assert "code" in dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(callback).query))
    finally:
        admin.request("DELETE", "/admin/clients/trusted-portal")


def test_without_a_requested_audience_the_access_token_has_an_empty_aud(stack, browser):
    client, uri, _, verifier, _ = start(stack)  # no audience=
    callback = walk(browser, uri, stop_at=CALLBACK)
    token = client.fetch_token(discovery(stack)["token_endpoint"], authorization_response=callback,
                               code_verifier=verifier)
    assert jwt.decode(token["access_token"], options={"verify_signature": False})["aud"] == []
    with pytest.raises(InvalidToken, match="aud"):
        validator(stack).validate(token["access_token"])  # so a resource server can never accept it


def test_a_tampered_signature_and_an_expired_token_are_rejected(stack, tokens):
    access = tokens["token"]["access_token"]
    head, body, signature = access.split(".")
    flipped = signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")
    with pytest.raises(InvalidToken, match="InvalidSignatureError"):
        validator(stack).validate(f"{head}.{body}.{flipped}")
    later = validator(stack, clock=lambda: time.time() + 16 * 60)
    with pytest.raises(InvalidToken, match="expired"):
        later.validate(access)


def test_an_unknown_key_triggers_one_refresh_then_a_rejection(stack, tokens):
    fetched: list[str] = []
    v = validator(stack, fetched)
    v.validate(tokens["token"]["access_token"])
    assert len(fetched) == 1
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode({"iss": stack.issuer, "aud": [API], "sub": "x", "exp": time.time() + 60, "iat": time.time()},
                        stranger, algorithm="RS256", headers={"kid": "not-hydras"})
    v.clock = lambda: time.time() + 30  # past the refresh rate limit, within the cache TTL
    with pytest.raises(InvalidToken, match="unknown signing key"):
        v.validate(forged)
    assert len(fetched) == 2, "exactly one refresh for the unknown kid"


def test_admin_paths_answer_404_on_the_public_port(stack, browser):
    for path in ("admin/clients", "admin/keys/hydra.openid.id-token", "clients", "admin/oauth2/introspect"):
        assert browser.get(stack.issuer + path).status_code == 404, f"through the TLS front: {path}"
        direct = requests.get(f"http://127.0.0.1:{stack.public_port}/{path}")
        assert direct.status_code == 404, f"on Hydra's public port itself: {path}"


# ------------------------------------------------- the DSN, read by Hydra ---

def test_hydra_accepts_the_stacks_dsn_for_a_password_full_of_reserved_characters(stack):
    assert any(c in stack.runtime_password for c in "^#%/@:?")
    assert parse_dsn(stack.dsn).password == stack.runtime_password
    status = stack.hydra("migrate", "sql", "status", "-e", dsn=stack.dsn)
    assert "Pending" not in status.stdout.split("Status")[-1] or "Applied" in status.stdout
    assert status.stdout.count("Applied") > 100


# ------------------------------------------- declarative clients, for real ---

def test_applying_the_clients_again_changes_nothing(stack, capsys):
    assert cli.main(["apply", "--env", "dev", "--admin-url", stack.admin_url]) == 0
    assert capsys.readouterr().out.strip() == "no changes"


def test_changes_are_shown_then_applied_and_extra_clients_kept_unless_pruned(stack):
    admin = AdminApi(stack.admin_url)
    declared = load_clients("dev")
    changed = [{**declared[0], "redirect_uris": declared[0]["redirect_uris"] + ["https://staging.example.com/cb"]}]
    service = validate_client({"client_id": "reporting-service", "grant_types": ["client_credentials"],
                               "token_endpoint_auth_method": "client_secret_basic", "scope": "reports",
                               "audience": [API]})
    secrets: dict[str, str] = {}
    dry = apply(admin, changed + [service], dry_run=True)
    assert dry.lines() == ["+ create reporting-service", f"~ update {CLIENT_ID}: redirect_uris"]
    apply(admin, changed + [service], on_secret=secrets.__setitem__)
    assert apply(admin, changed + [service], dry_run=True).lines() == ["no changes"]
    # The confidential client's secret, shown once, works at the token endpoint.
    machine = trusting(OAuth2Session(client_id="reporting-service", client_secret=secrets["reporting-service"],
                                     scope="reports"), stack)
    token = machine.fetch_token(discovery(stack)["token_endpoint"], grant_type="client_credentials", audience=API)
    assert validator(stack).validate(token["access_token"])["client_id"] == "reporting-service"
    kept = apply(admin, declared)
    assert kept.lines() == [f"~ update {CLIENT_ID}: redirect_uris", "  keep reporting-service: not in the file "
                                                                    "(--prune deletes it)"]
    assert apply(admin, declared, prune=True).lines() == ["- delete reporting-service"]
    assert set(admin.clients()) == {CLIENT_ID}


def test_the_command_line_shows_dry_runs_prints_a_new_secret_once_and_prunes_on_request(stack, tmp_path,
                                                                                        monkeypatch, capsys):
    declared = json.loads((declared_clients.CLIENTS_DIR / "dev.json").read_text())
    extra = {"client_id": "nightly-export", "grant_types": ["client_credentials"], "scope": "reports",
             "token_endpoint_auth_method": "client_secret_post"}
    (tmp_path / "dev.json").write_text(json.dumps({"clients": declared["clients"] + [extra]}))
    monkeypatch.setattr(declared_clients, "CLIENTS_DIR", tmp_path)
    run = ["apply", "--env", "dev", "--admin-url", stack.admin_url]
    assert cli.main(run + ["--dry-run"]) == 0
    assert capsys.readouterr().out.splitlines() == ["would create nightly-export"]
    assert "nightly-export" not in AdminApi(stack.admin_url).clients()
    assert cli.main(run) == 0
    out = capsys.readouterr().out.splitlines()
    [secret_line] = [line for line in out if line.startswith("client_secret for nightly-export")]
    assert out[-1] == "+ create nightly-export" and len(secret_line.rsplit(": ", 1)[1]) >= 64
    assert cli.main(run) == 0
    assert capsys.readouterr().out.strip() == "no changes", "shown once: never again"
    monkeypatch.setattr(declared_clients, "CLIENTS_DIR", ROOT / "clients")
    assert cli.main(run) == 0
    assert "keep nightly-export: not in the file (--prune deletes it)" in capsys.readouterr().out
    assert cli.main(run + ["--prune"]) == 0
    assert capsys.readouterr().out.strip() == "- delete nightly-export"
    assert set(AdminApi(stack.admin_url).clients()) == {CLIENT_ID}


# -------------------------------------------------------- the login app ---

def test_bad_challenges_and_wrong_passwords_get_pages_not_tracebacks(stack, browser):
    bogus = browser.get(f"{stack.login_base}/login?login_challenge=does-not-exist")
    assert bogus.status_code == 404 and "cannot continue" in bogus.text and "Traceback" not in bogus.text
    assert browser.get(f"{stack.login_base}/consent").status_code == 400
    with pytest.raises(AssertionError, match="login refused with HTTP 401"):
        walk(browser, start(stack)[1], stop_at=CALLBACK, password="wrong")


def test_a_login_form_posted_from_another_browser_is_refused(stack, browser):
    page = browser.get(start(stack)[1])  # redirects through Hydra to the login form
    form = dict(re.findall(r'name="(login_challenge|csrf)" value="([^"]+)"', page.text))
    fields = {**form, "username": "alice", "password": PASSWORD, "action": "login"}
    other = trusting(requests.Session(), stack)
    other.get(page.url)  # the other browser has a CSRF cookie of its own
    refused = other.post(f"{stack.login_base}/login", data=fields, allow_redirects=False)
    assert refused.status_code == 400 and "did not come from this page" in refused.text
    accepted = browser.post(f"{stack.login_base}/login", data=fields, allow_redirects=False)
    assert accepted.status_code == 302 and accepted.headers["Location"].startswith(stack.issuer)


# --------------------------------------------- where loopback has one address ---

def test_the_flow_works_where_loopback_is_only_127_0_0_1(monkeypatch):
    # macOS aliases only 127.0.0.1 unless root adds more: there Hydra is https://127.0.0.1:<port>/dev/
    # and the login app https://localhost:<port>, still two sites. Forced here, where 127/8 is loopback.
    monkeypatch.setattr("hydra_on_aws.local.stack.loopback_hosts", lambda: ("127.0.0.1", "localhost"))
    environment = task_environment(synthesize("dev").templates["Service"])
    local = LocalStack(users=[ALICE], synthesized=environment)
    try:
        local.start()
        apply(AdminApi(local.admin_url), load_clients("dev"))
        assert local.issuer.startswith("https://127.0.0.1:") and local.login_base.startswith("https://localhost:")
        client, callback, state, verifier, _ = authorize(local, trusting(requests.Session(), local))
        token = client.fetch_token(discovery(local)["token_endpoint"], authorization_response=callback, state=state,
                                   code_verifier=verifier)
        assert validator(local).validate(token["access_token"])["sub"] == ALICE.subject
    finally:
        local.stop()
