"""The reference login app's protections, each against a fake of Hydra's admin API.

Every protection has a test here that fails when the protection is removed: the CSRF token bound to
the browser, the logout confirmation, the signed session cookie and the claims taken from the account.
The real flow (with the real Hydra) is in tests/e2e.
"""

from __future__ import annotations

import re

import pytest

from hydra_on_aws.local.login_app import (
    CSRF_COOKIE, SESSION_COOKIE, HydraAdmin, LoginApp, User, UserStore, hash_password, id_token_claims,
)

PASSWORD = "correct horse battery staple"
ALICE = User(username="alice", subject="user-1", password=hash_password(PASSWORD, iterations=1000),
             email="alice@example.com", name="Alice")
VERIFIED = User(username="bob", subject="user-2", password=hash_password(PASSWORD, iterations=1000),
                email="bob@example.com", email_verified=True)


class FakeHydra:
    """What the app asks of Hydra's admin API, and what it was told."""

    def __init__(self) -> None:
        self.requests: dict[tuple[str, str], dict] = {}
        self.calls: list[tuple] = []

    def get(self, kind, challenge):
        self.calls.append(("get", kind, challenge))
        if (kind, challenge) not in self.requests:
            raise HydraAdmin.ChallengeError(404, "unknown or expired request")
        return self.requests[(kind, challenge)]

    def accept(self, kind, challenge, body=None):
        self.calls.append(("accept", kind, challenge, body))
        return f"https://hydra/{kind}/accepted"

    def reject(self, kind, challenge, error, description):
        self.calls.append(("reject", kind, challenge, error))
        return f"https://hydra/{kind}/rejected"

    def reject_logout(self, challenge):
        self.calls.append(("reject", "logout", challenge))

    def accepted(self, kind):
        return [c for c in self.calls if c[0] == "accept" and c[1] == kind]


@pytest.fixture
def hydra():
    fake = FakeHydra()
    fake.requests[("login", "L1")] = {"skip": False, "session_id": "sess-1"}
    fake.requests[("login", "L2")] = {"skip": False, "session_id": "sess-2"}
    fake.requests[("consent", "C1")] = {"skip": False, "subject": "user-1", "requested_scope": ["openid", "email"],
                                        "client": {"client_id": "app"}}
    return fake


@pytest.fixture
def app(hydra):
    return LoginApp(hydra, UserStore([ALICE, VERIFIED]))


class Browser:
    """One browser: a cookie jar fed from the app's Set-Cookie headers."""

    def __init__(self, app: LoginApp) -> None:
        self.app, self.cookies = app, {}

    def __call__(self, method, path, query=None, form=None):
        status, headers, body = self.app.handle(method, path, query or {}, form or {}, dict(self.cookies))
        for cookie in headers.get("Set-Cookie", []):
            name, _, rest = cookie.partition("=")
            self.cookies[name] = rest.split(";")[0]
        return status, headers, body


def form_of(body: str) -> dict:
    return dict(re.findall(r'name="(\w+_challenge|csrf)" value="([^"]*)"', body))


def login(browser, challenge="L1", **extra):
    status, _, page = browser("GET", "/login", {"login_challenge": challenge})
    assert status == 200
    return browser("POST", "/login", form={**form_of(page), "username": "alice", "password": PASSWORD,
                                           "action": "login", **extra})


# ------------------------------------------------------------------- CSRF ---

def test_a_login_form_posted_from_its_own_browser_is_accepted(app, hydra):
    status, headers, _ = login(Browser(app))
    assert (status, headers["Location"]) == (302, "https://hydra/login/accepted")
    assert hydra.accepted("login")[0][3]["subject"] == "user-1"


def test_the_csrf_cookie_is_a_host_only_secure_httponly_cookie(app):
    _, headers, _ = Browser(app)("GET", "/login", {"login_challenge": "L1"})
    [cookie] = [c for c in headers["Set-Cookie"] if c.startswith(CSRF_COOKIE + "=")]
    assert {"Path=/", "Secure", "HttpOnly", "SameSite=Lax"} <= set(cookie.split("; ")) and "Domain" not in cookie


def test_a_form_posted_from_another_browser_is_refused(app, hydra):
    _, _, page = Browser(app)("GET", "/login", {"login_challenge": "L1"})
    attacker = Browser(app)
    attacker("GET", "/login", {"login_challenge": "L2"})  # the attacker's own, valid CSRF cookie
    status, _, body = attacker("POST", "/login", form={**form_of(page), "username": "alice", "password": PASSWORD,
                                                      "action": "login"})
    assert status == 400 and "did not come from this page" in body
    assert hydra.accepted("login") == []


def test_a_form_posted_without_the_cookie_or_without_the_field_is_refused(app, hydra):
    browser = Browser(app)
    _, _, page = browser("GET", "/login", {"login_challenge": "L1"})
    fields = {**form_of(page), "username": "alice", "password": PASSWORD, "action": "login"}
    assert app.handle("POST", "/login", {}, fields, {})[0] == 400
    assert browser("POST", "/login", form={k: v for k, v in fields.items() if k != "csrf"})[0] == 400
    assert browser("POST", "/login", form={**fields, "csrf": ""})[0] == 400
    assert hydra.accepted("login") == []


def test_a_csrf_token_of_another_challenge_is_refused(app, hydra):
    browser = Browser(app)
    _, _, first = browser("GET", "/login", {"login_challenge": "L1"})
    status, _, _ = browser("POST", "/login", form={"login_challenge": "L2", "csrf": form_of(first)["csrf"],
                                                   "username": "alice", "password": PASSWORD, "action": "login"})
    assert status == 400 and hydra.accepted("login") == []


def test_consent_and_deny_need_the_csrf_token_too(app, hydra):
    browser = Browser(app)
    _, _, page = browser("GET", "/consent", {"consent_challenge": "C1"})
    assert Browser(app)("POST", "/consent", form={**form_of(page), "action": "allow"})[0] == 400
    assert Browser(app)("POST", "/login", form={"login_challenge": "L1", "action": "deny"})[0] == 400
    assert [c for c in hydra.calls if c[0] in ("accept", "reject")] == []
    assert browser("POST", "/consent", form={**form_of(page), "action": "allow"})[0] == 302


# ----------------------------------------------------------------- logout ---

def test_a_logout_not_initiated_by_a_client_asks_the_user(app, hydra):
    hydra.requests[("logout", "O1")] = {"rp_initiated": False, "sid": "sess-1"}
    browser = Browser(app)
    login(browser)
    status, _, page = browser("GET", "/logout", {"logout_challenge": "O1"})
    assert status == 200 and "Do you want to log out?" in page and hydra.accepted("logout") == []
    stay = browser("POST", "/logout", form={**form_of(page), "action": "stay"})
    assert stay[0] == 200 and ("reject", "logout", "O1") in hydra.calls and hydra.accepted("logout") == []
    _, _, page = browser("GET", "/logout", {"logout_challenge": "O1"})
    assert browser("POST", "/logout", form={**form_of(page), "action": "logout"})[0] == 302
    assert hydra.accepted("logout") == [("accept", "logout", "O1", None)]


def test_a_logout_confirmation_from_another_browser_is_refused(app, hydra):
    hydra.requests[("logout", "O1")] = {"rp_initiated": False, "sid": "sess-1"}
    _, _, page = Browser(app)("GET", "/logout", {"logout_challenge": "O1"})
    attacker = Browser(app)
    attacker("GET", "/login", {"login_challenge": "L2"})
    assert attacker("POST", "/logout", form={**form_of(page), "action": "logout"})[0] == 400
    assert hydra.accepted("logout") == []


def test_an_rp_initiated_logout_for_this_browsers_session_needs_no_question(app, hydra):
    hydra.requests[("logout", "O1")] = {"rp_initiated": True, "sid": "sess-1"}
    browser = Browser(app)
    login(browser)
    status, headers, _ = browser("GET", "/logout", {"logout_challenge": "O1"})
    assert (status, headers["Location"]) == (302, "https://hydra/logout/accepted")


@pytest.mark.parametrize("case", ["another session", "no session cookie", "forged session cookie"])
def test_an_rp_initiated_logout_for_another_session_asks(app, hydra, case):
    hydra.requests[("logout", "O1")] = {"rp_initiated": True, "sid": "sess-1"}
    browser = Browser(app)
    if case == "another session":
        login(browser, "L2")            # this browser holds sess-2
    elif case == "forged session cookie":
        login(browser, "L2")
        signature = browser.cookies[SESSION_COOKIE].rpartition(".")[2]
        browser.cookies[SESSION_COOKIE] = f"sess-1.{signature}"
    status, _, page = browser("GET", "/logout", {"logout_challenge": "O1"})
    assert status == 200 and "Do you want to log out?" in page and hydra.accepted("logout") == []


def test_a_skipped_login_remembers_hydras_session_too(app, hydra):
    hydra.requests[("login", "L3")] = {"skip": True, "subject": "user-1", "session_id": "sess-3"}
    hydra.requests[("logout", "O3")] = {"rp_initiated": True, "sid": "sess-3"}
    browser = Browser(app)
    assert browser("GET", "/login", {"login_challenge": "L3"})[0] == 302
    assert browser("GET", "/logout", {"logout_challenge": "O3"})[0] == 302


# ----------------------------------------------------------------- claims ---

def test_email_verified_is_only_what_the_account_says(app, hydra):
    assert id_token_claims(ALICE, ["openid", "email"]) == {"email": ALICE.email, "email_verified": False}
    assert id_token_claims(VERIFIED, ["openid", "email"])["email_verified"] is True
    browser = Browser(app)
    _, _, page = browser("GET", "/consent", {"consent_challenge": "C1"})
    browser("POST", "/consent", form={**form_of(page), "action": "allow"})
    [(_, _, _, body)] = hydra.accepted("consent")
    assert body["session"]["id_token"] == {"email": ALICE.email, "email_verified": False}


def test_claims_follow_the_granted_scopes_and_the_account(app):
    assert id_token_claims(ALICE, ["openid"]) == {}
    assert id_token_claims(ALICE, ["openid", "profile"]) == {"name": "Alice"}
    assert id_token_claims(VERIFIED, ["openid", "profile"]) == {}, "no name on the account: no name claim"
    assert id_token_claims(None, ["openid", "email", "profile"]) == {}


def test_a_user_file_entry_without_email_verified_is_unverified(tmp_path):
    (tmp_path / "users.json").write_text('{"users": [{"username": "a", "subject": "s", "password": "x", '
                                         '"email": "a@example.com"}]}')
    assert UserStore.load(str(tmp_path / "users.json")).users["a"].email_verified is False


def test_a_wrong_password_shows_the_form_again_and_accepts_nothing(app, hydra):
    browser = Browser(app)
    _, _, page = browser("GET", "/login", {"login_challenge": "L1"})
    status, _, body = browser("POST", "/login", form={**form_of(page), "username": "alice", "password": "nope",
                                                      "action": "login"})
    assert status == 401 and "wrong password" in body and hydra.accepted("login") == []


def test_non_ascii_tokens_and_cookies_are_refused_not_crashed_on(app, hydra):
    browser = Browser(app)
    _, _, page = browser("GET", "/login", {"login_challenge": "L1"})
    status, _, body = browser("POST", "/login", form={**form_of(page), "csrf": "é" * 64, "username": "alice",
                                                      "password": PASSWORD, "action": "login"})
    assert status == 400 and "did not come from this page" in body
    hydra.requests[("logout", "O1")] = {"rp_initiated": True, "sid": "sess-1"}
    browser.cookies[SESSION_COOKIE] = "sess-1.é"
    assert browser("GET", "/logout", {"logout_challenge": "O1"})[0] == 200, "asks; no 500"
