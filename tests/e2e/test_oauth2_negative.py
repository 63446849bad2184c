"""What Hydra must refuse, asked of the real Hydra configured by the synthesized dev task definition.

Each case checks the answer of the party that decides: Hydra's own HTTP answer (the token endpoint's
JSON error, the error on the redirect, introspection on the admin port) for the protocol, the
resource-server validator's for expiry and token kinds; never only the client library's.
"""

from __future__ import annotations

import base64
import hashlib
import time
import urllib.parse

import pytest
import requests
from authlib.common.security import generate_token

from hydra_functions.clients import AdminApi, apply, validate_client
from hydra_on_aws.tokens.resource_server import serve_in_thread
from hydra_on_aws.tokens.validator import Introspection, InvalidToken, TokenValidator

from tests.e2e.flow import (
    API, BOB, CALLBACK, CLIENT_ID, MALLORY, STAYED, authorize, discovery, oauth_client, start, trusting, validator,
    walk,
)

pytestmark = pytest.mark.e2e

LOGGED_OUT = "http://localhost:8000/"   # the dev client's registered post_logout_redirect_uri


def query_of(url: str) -> dict:
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))


def token_endpoint(stack, form: dict, **kwargs) -> tuple[int, dict]:
    """Hydra's own answer at the token endpoint: (HTTP status, JSON body)."""
    answer = trusting(requests.Session(), stack).post(discovery(stack)["token_endpoint"], data=form, **kwargs)
    return answer.status_code, answer.json()


def exchange(stack, callback: str, verifier: str | None, **overrides) -> tuple[int, dict]:
    form = {"grant_type": "authorization_code", "code": query_of(callback)["code"], "redirect_uri": CALLBACK,
            "client_id": CLIENT_ID, "code_verifier": verifier, **overrides}
    return token_endpoint(stack, {k: v for k, v in form.items() if v is not None})


def introspect(stack, token: str) -> dict:
    """Introspection on the admin port: what Hydra itself knows about a token."""
    answer = requests.post(f"{stack.admin_url}/admin/oauth2/introspect", data={"token": token})
    assert answer.status_code == 200, answer.text
    return answer.json()


@pytest.fixture
def fresh(stack, browser):
    """A code flow up to the callback: (callback URL, code verifier, nonce)."""
    _, callback, _, verifier, nonce = authorize(stack, browser)
    return callback, verifier, nonce


@pytest.fixture
def confidential(stack):
    """A confidential client that authenticates with client_secret_basic: (client id, secret)."""
    admin = AdminApi(stack.admin_url)
    secrets: dict[str, str] = {}
    apply(admin, [validate_client({
        "client_id": "basic-auth-service", "grant_types": ["client_credentials"], "scope": "reports",
        "token_endpoint_auth_method": "client_secret_basic", "audience": [API]})], on_secret=secrets.__setitem__)
    yield "basic-auth-service", secrets["basic-auth-service"]
    admin.request("DELETE", "/admin/clients/basic-auth-service")


# ------------------------------------------------------------------- PKCE ---

def test_a_wrong_code_verifier_is_refused_by_hydra(stack, fresh):
    callback, verifier, _ = fresh
    status, answer = exchange(stack, callback, generate_token(48))
    assert (status, answer["error"]) == (400, "invalid_grant")
    assert "code_verifier" in answer["error_description"] or "PKCE" in answer["error_description"]


def test_a_missing_code_verifier_is_refused_by_hydra(stack, fresh):
    callback, _, _ = fresh
    status, answer = exchange(stack, callback, None)
    assert (status, answer["error"]) == (400, "invalid_grant")


def test_the_plain_challenge_method_is_refused_by_hydra(stack, browser):
    verifier = generate_token(48)
    client = oauth_client(stack)  # PKCE by hand: authlib would not send plain on its own
    uri, _ = client.create_authorization_url(discovery(stack)["authorization_endpoint"], nonce=generate_token(16),
                                             code_challenge=verifier, code_challenge_method="plain")
    callback = walk(browser, uri, stop_at=CALLBACK)
    assert "code" not in query_of(callback)
    assert query_of(callback)["error"] == "invalid_request" and "plain" in query_of(callback)["error_description"]


def test_the_s256_challenge_is_what_hydra_checks(stack, browser):
    # The control for the three refusals above: the same hand-made request with S256 succeeds.
    verifier = generate_token(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    uri, _ = oauth_client(stack).create_authorization_url(discovery(stack)["authorization_endpoint"],
                                                          nonce=generate_token(16), code_challenge=challenge,
                                                          code_challenge_method="S256")
    status, answer = exchange(stack, walk(browser, uri, stop_at=CALLBACK), verifier)
    assert status == 200 and answer["token_type"].lower() == "bearer"


# ------------------------------------------------- codes, state, redirect ---

def test_a_reused_code_is_refused_and_revokes_the_tokens_it_issued(stack, fresh):
    callback, verifier, _ = fresh
    status, first = exchange(stack, callback, verifier)
    assert status == 200
    assert introspect(stack, first["access_token"])["active"] is True
    status, again = exchange(stack, callback, verifier)
    assert (status, again["error"]) == (400, "invalid_grant")
    assert introspect(stack, first["access_token"])["active"] is False
    assert introspect(stack, first["refresh_token"])["active"] is False
    status, refreshed = token_endpoint(stack, {"grant_type": "refresh_token", "client_id": CLIENT_ID,
                                               "refresh_token": first["refresh_token"]})
    assert (status, refreshed["error"]) == (400, "invalid_grant")


def test_a_state_shorter_than_hydras_minimum_is_refused(stack, browser):
    client, uri, _, _, _ = start(stack, state="short")  # 5 characters; Hydra wants at least 8
    callback = walk(browser, uri, stop_at=CALLBACK)
    assert query_of(callback)["error"] == "invalid_state" and "code" not in query_of(callback)
    _, uri, _, _, _ = start(stack, state="eight-ch")
    assert "code" in query_of(walk(browser, uri, stop_at=CALLBACK)), "the control: 8 characters pass"


def test_a_different_redirect_uri_at_the_token_endpoint_is_refused(stack, fresh):
    callback, verifier, _ = fresh
    # Also registered for the client: the code was issued for the other one.
    status, answer = exchange(stack, callback, verifier, redirect_uri="https://app.dev.example.com/oauth/callback")
    assert (status, answer["error"]) == (400, "invalid_grant")
    assert "redirect_uri" in answer["error_description"]


# ------------------------------------------------------- client auth ---

def test_the_wrong_client_authentication_method_is_refused(stack, confidential):
    client_id, secret = confidential
    form = {"grant_type": "client_credentials", "scope": "reports", "audience": API}
    status, answer = token_endpoint(stack, {**form, "client_id": client_id, "client_secret": secret})
    assert (status, answer["error"]) == (401, "invalid_client"), "client_secret_post for a client_secret_basic client"
    status, answer = token_endpoint(stack, {**form, "client_id": client_id})
    assert (status, answer["error"]) == (401, "invalid_client"), "no secret at all"
    status, answer = token_endpoint(stack, form, auth=(client_id, secret))
    assert status == 200 and validator(stack).validate(answer["access_token"])["client_id"] == client_id


# ------------------------------------------------------------ revocation ---

def test_a_revoked_access_token_is_inactive_at_hydra_and_refused_in_introspection_mode(stack, fresh):
    callback, verifier, _ = fresh
    _, issued = exchange(stack, callback, verifier)
    access = issued["access_token"]
    strict = validator(stack, introspection=Introspection(f"{stack.admin_url}/admin/oauth2/introspect",
                                                          cache_ttl=0.5))
    assert strict.validate(access)["client_id"] == CLIENT_ID
    revoked = trusting(requests.Session(), stack).post(discovery(stack)["revocation_endpoint"],
                                                       data={"token": access, "client_id": CLIENT_ID})
    assert revoked.status_code == 200
    assert introspect(stack, access)["active"] is False
    # Local JWT validation cannot see it: the documented latency (until exp plus the leeway).
    assert validator(stack).validate(access)["client_id"] == CLIENT_ID
    time.sleep(0.6)  # past the introspection cache
    with pytest.raises(InvalidToken, match="no longer active"):
        strict.validate(access)


def test_a_revoked_refresh_token_takes_its_access_tokens_with_it(stack, fresh):
    callback, verifier, _ = fresh
    _, issued = exchange(stack, callback, verifier)
    revoked = trusting(requests.Session(), stack).post(discovery(stack)["revocation_endpoint"],
                                                       data={"token": issued["refresh_token"], "client_id": CLIENT_ID})
    assert revoked.status_code == 200
    assert introspect(stack, issued["refresh_token"])["active"] is False
    assert introspect(stack, issued["access_token"])["active"] is False
    status, answer = token_endpoint(stack, {"grant_type": "refresh_token", "client_id": CLIENT_ID,
                                            "refresh_token": issued["refresh_token"]})
    assert (status, answer["error"]) == (400, "invalid_grant")


# --------------------------------------------------------------- logout ---

def logged_in_with_remember(stack, browser, user=BOB) -> str:
    """Log ``user`` in (remembered, so Hydra keeps a login session) and return the ID token."""
    _, uri, _, verifier, _ = start(stack)
    callback = walk(browser, uri, stop_at=CALLBACK, remember=True, username=user.username)
    _, issued = exchange(stack, callback, verifier)
    return issued["id_token"]


def end_session(stack, **params) -> str:
    return discovery(stack)["end_session_endpoint"] + "?" + urllib.parse.urlencode(params)


def test_rp_initiated_logout_returns_to_the_registered_uri_without_asking(stack, browser, forgetful):
    hint = logged_in_with_remember(stack, browser)
    shown: list[str] = []
    landed = walk(browser, end_session(stack, id_token_hint=hint, post_logout_redirect_uri=LOGGED_OUT,
                                       state="after-logout-1"), stop_at=LOGGED_OUT, seen=shown)
    assert shown == [] and query_of(landed) == {"state": "after-logout-1"}
    again: list[str] = []
    walk(browser, start(stack)[1], stop_at=CALLBACK, seen=again, username=BOB.username)
    assert again[:1] == ["login"], "the session is gone"


def test_rp_initiated_logout_to_an_unregistered_uri_does_not_go_there(stack, browser, forgetful):
    hint = logged_in_with_remember(stack, browser)
    landed = walk(browser, end_session(stack, id_token_hint=hint, post_logout_redirect_uri="https://evil.example/",
                                       state="after-logout-2"), stop_at=f"{stack.login_base}/error")
    assert query_of(landed)["error"] == "invalid_request"
    assert "post_logout_redirect_uri" in query_of(landed)["error_description"]
    still: list[str] = []
    walk(browser, start(stack)[1], stop_at=CALLBACK, seen=still, username=BOB.username)
    assert "login" not in still, "still logged in"


def test_a_logout_with_another_browsers_id_token_asks_the_user(stack, browser, forgetful):
    # An attacker's own ID token as the hint, sent through the victim's browser: valid for Hydra,
    # but not the session this browser holds, so the login app asks instead of logging anyone out.
    attacker = trusting(requests.Session(), stack)
    hint = logged_in_with_remember(stack, attacker, MALLORY)
    logged_in_with_remember(stack, browser)
    shown: list[str] = []
    answer = walk(browser, end_session(stack, id_token_hint=hint, post_logout_redirect_uri=LOGGED_OUT),
                  stop_at=LOGGED_OUT, seen=shown, logout="stay")
    assert shown == ["logout"] and answer == STAYED


def test_a_bare_logout_link_logs_nobody_out_without_asking(stack, browser, forgetful):
    logged_in_with_remember(stack, browser)
    shown: list[str] = []
    assert walk(browser, discovery(stack)["end_session_endpoint"], stop_at=LOGGED_OUT, seen=shown,
                logout="stay") == STAYED
    assert shown == ["logout"]
    still: list[str] = []
    walk(browser, start(stack)[1], stop_at=CALLBACK, seen=still, username=BOB.username)
    assert "login" not in still, "the user said stay: still logged in"


# ------------------------------------------------ expiry and token kinds ---

def test_a_really_expired_token_is_refused_after_the_leeway(stack, confidential):
    client_id, secret = confidential
    lifespans = AdminApi(stack.admin_url).request("PUT", f"/admin/clients/{client_id}/lifespans",
                                                  {"client_credentials_grant_access_token_lifespan": "1s"})
    assert lifespans[0] == 200, lifespans
    _, issued = token_endpoint(stack, {"grant_type": "client_credentials", "scope": "reports", "audience": API},
                               auth=(client_id, secret))
    access = issued["access_token"]
    v = validator(stack, leeway=3)
    exp = v.validate(access)["exp"]
    assert issued["expires_in"] <= 1
    time.sleep(max(0.0, exp + 1 - time.time()))
    assert v.validate(access)["client_id"] == client_id, "expired for a second: still within the leeway"
    time.sleep(max(0.0, exp + 3.5 - time.time()))
    with pytest.raises(InvalidToken, match="token expired"):
        v.validate(access)
    assert introspect(stack, access)["active"] is False, "Hydra agrees"


def test_an_id_token_presented_as_a_bearer_token_is_refused_by_the_resource_server(stack, fresh):
    callback, verifier, nonce = fresh
    _, issued = exchange(stack, callback, verifier)
    # The worst case: a resource server whose identifier is the client's id, so the audience matches.
    careless = TokenValidator(issuer=stack.issuer, audience=CLIENT_ID, fetch=validator(stack).fetch)
    assert careless.validate_id_token(issued["id_token"], client_id=CLIENT_ID, nonce=nonce)["sub"]
    server = serve_in_thread(careless)
    try:
        answer = requests.get(f"http://127.0.0.1:{server.server_address[1]}/me",
                              headers={"Authorization": f"Bearer {issued['id_token']}"})
        assert answer.status_code == 401 and "not an access token" in answer.headers["WWW-Authenticate"]
    finally:
        server.shutdown()
