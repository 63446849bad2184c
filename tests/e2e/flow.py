"""The end-to-end tests' user, client and browser: the authorization code flow, walked as a user would.

Shared by the flow against the deployed-shape stack and the upgrade rehearsal.
"""

from __future__ import annotations

import re
import urllib.parse

from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session

from hydra_on_aws.local.login_app import User, hash_password
from hydra_on_aws.tokens.validator import TokenValidator, fetch_json

CLIENT_ID = "my-frontend-app"
CALLBACK = "http://localhost:8000/oauth/callback"
API = "https://api.dev.example.com"
PASSWORD = "correct horse battery staple"
STAYED = "(the user chose to stay logged in)"  # what walk() returns when the logout question is answered "stay"
ALICE = User(username="alice", subject="user-1234", password=hash_password(PASSWORD, iterations=1000),
             email="alice@example.com", name="Alice Example")  # email_verified: not said, so False
# Users whose remembered sessions the tests forget afterwards (Alice's stay, for the module-scoped tokens).
BOB = User(username="bob", subject="user-5678", password=ALICE.password, email="bob@example.com",
           email_verified=True)
MALLORY = User(username="mallory", subject="user-6666", password=ALICE.password)


def trusting(session, stack):
    """Trust the local TLS front's certificate (and not a CA bundle from the environment)."""
    session.trust_env = False  # REQUESTS_CA_BUNDLE would otherwise override `verify`
    session.verify = str(stack.cert)
    return session


def discovery(stack) -> dict:
    return fetch_json(stack.issuer + ".well-known/openid-configuration", context=stack.ssl_context())


def oauth_client(stack, **kwargs) -> OAuth2Session:
    client = OAuth2Session(client_id=CLIENT_ID, redirect_uri=CALLBACK, scope="openid offline_access profile email",
                           token_endpoint_auth_method="none", **kwargs)
    return trusting(client, stack)


def walk(browser, url: str, *, stop_at: str, username: str = "alice", password: str = PASSWORD,
         consent: str = "allow", remember: bool = False, logout: str = "logout", seen: list | None = None) -> str:
    """Play the user: follow redirects, log in and answer the consent page (``consent``: allow or deny;
    ``remember`` ticks the boxes) and the logout question (``logout``: logout or stay) when asked, until
    the browser would go to ``stop_at`` (a URL without its query). The pages shown are appended to ``seen``."""
    seen = [] if seen is None else seen
    ticked = {"remember": "1"} if remember else {}
    for _ in range(20):
        if url.split("?")[0].split("#")[0] == stop_at:
            return url
        response = browser.get(url, allow_redirects=False)
        if response.status_code in (302, 303):
            url = urllib.parse.urljoin(url, response.headers["Location"])
            continue
        if response.status_code == 200 and 'action="/login"' in response.text:
            seen.append("login")
            form = dict(re.findall(r'name="(login_challenge|csrf)" value="([^"]+)"', response.text))
            posted = browser.post(urllib.parse.urljoin(url, "/login"), allow_redirects=False, data={
                **form, **ticked, "username": username, "password": password, "action": "login"})
            if posted.status_code != 302:
                raise AssertionError(f"login refused with HTTP {posted.status_code}")
            url = posted.headers["Location"]
            continue
        if response.status_code == 200 and 'action="/consent"' in response.text:
            seen.append("consent")
            form = dict(re.findall(r'name="(consent_challenge|csrf)" value="([^"]+)"', response.text))
            posted = browser.post(urllib.parse.urljoin(url, "/consent"), allow_redirects=False,
                                  data={**form, **ticked, "action": consent})
            if posted.status_code != 302:
                raise AssertionError(f"consent answer refused with HTTP {posted.status_code}")
            url = posted.headers["Location"]
            continue
        if response.status_code == 200 and 'action="/logout"' in response.text:
            seen.append("logout")
            form = dict(re.findall(r'name="(logout_challenge|csrf)" value="([^"]+)"', response.text))
            posted = browser.post(urllib.parse.urljoin(url, "/logout"), allow_redirects=False,
                                  data={**form, "action": logout})
            if posted.status_code != 302:
                return STAYED if logout == "stay" and posted.status_code == 200 else _refused("logout", posted)
            url = posted.headers["Location"]
            continue
        raise AssertionError(f"unexpected answer {response.status_code} from {url}: {response.text[:300]}")
    raise AssertionError("too many redirects")


def _refused(step: str, response) -> str:
    raise AssertionError(f"{step} refused with HTTP {response.status_code}: {response.text[:300]}")


def start(stack, client: OAuth2Session | None = None, **extra) -> tuple[OAuth2Session, str, str, str, str]:
    """An authorization URL for ``client`` (the dev client by default, with PKCE):
    (client, URL, state, code verifier, nonce)."""
    client = client or oauth_client(stack, code_challenge_method="S256")
    verifier, nonce = generate_token(48), generate_token(16)
    uri, state = client.create_authorization_url(discovery(stack)["authorization_endpoint"], code_verifier=verifier,
                                                 nonce=nonce, **extra)
    return client, uri, state, verifier, nonce


def authorize(stack, browser, **extra) -> tuple[OAuth2Session, str, str, str, str]:
    """The whole flow up to the callback, asking for the API's audience: (client, callback URL, state, code
    verifier, nonce)."""
    client, uri, state, verifier, nonce = start(stack, audience=API, **extra)
    return client, walk(browser, uri, stop_at=CALLBACK), state, verifier, nonce


def validator(stack, fetched: list | None = None, **kwargs) -> TokenValidator:
    """A validator of the local Hydra's tokens; every JWKS URL it fetches is appended to ``fetched``."""
    def fetch(url: str):
        if fetched is not None:
            fetched.append(url)
        return fetch_json(url, context=stack.ssl_context())
    return TokenValidator(issuer=stack.issuer, audience=API, fetch=fetch, **kwargs)
