"""A reference login and consent app: the identity provider's side of Hydra.

    HYDRA_ADMIN_API=http://localhost:4445 python -m hydra_on_aws.local.login_app --users users.json --port 3000
    python -m hydra_on_aws.local.login_app hash-password          # makes a users.json entry

It does what the architecture guide's Laravel example does, with the standard
library only: on ``login_challenge`` it fetches the login request from the
admin API, accepts at once when Hydra says ``skip``, otherwise shows a form,
checks the password against a small user store (PBKDF2-SHA256 hashes) and
accepts with ``subject``, ``remember`` and ``remember_for``. On
``consent_challenge`` it accepts when Hydra says ``skip`` or the client has
``skip_consent`` (otherwise it asks), granting the requested scopes and
access-token audience and the ID-token claims of the ``profile`` and
``email`` scopes, from what the account has (``email_verified`` only when the
account says so). A bad or expired challenge gets an error page, never a
traceback. It talks to Hydra only through ``HYDRA_ADMIN_API``.

Forms carry a CSRF token bound to the browser: a random value in a
``__Host-`` cookie, and in the form an HMAC of it with the challenge; a POST
from another browser, or a form of another request, is refused. Logout asks
the user, unless Hydra says the logout was initiated by a client with a valid
``id_token_hint`` (``rp_initiated``) for the very session this browser logged
in with (the app remembers Hydra's session id in a signed cookie at login): a
bare link to Hydra's logout endpoint cannot log anyone out.
"""

from __future__ import annotations

import argparse
import getpass
import http.cookies
import hashlib
import hmac
import html
import json
import os
import secrets
import sys
import threading
import urllib.parse
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from hydra_functions.clients import AdminApi, AdminError

PBKDF2_ITERATIONS = 310_000
REMEMBER_FOR = 3600
CSRF_COOKIE = "__Host-login_csrf"
SESSION_COOKIE = "__Host-login_session"


def hash_password(password: str, *, iterations: int = PBKDF2_ITERATIONS, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    return f"pbkdf2_sha256${iterations}${salt.hex()}${digest.hex()}"


def verify_password(password: str, encoded: str) -> bool:
    try:
        scheme, iterations, salt, digest = encoded.split("$")
    except ValueError:
        return False
    if scheme != "pbkdf2_sha256":
        return False
    candidate = hashlib.pbkdf2_hmac("sha256", password.encode(), bytes.fromhex(salt), int(iterations))
    return hmac.compare_digest(candidate.hex(), digest)


@dataclass(frozen=True)
class User:
    username: str
    subject: str
    password: str          # an encoded hash, never the password
    email: str = ""
    email_verified: bool = False
    name: str = ""


class UserStore:
    def __init__(self, users: list[User]) -> None:
        self.users = {u.username: u for u in users}
        self._dummy = hash_password(secrets.token_hex(8), iterations=PBKDF2_ITERATIONS)

    @classmethod
    def load(cls, path: str) -> "UserStore":
        with open(path) as handle:
            return cls([User(**u) for u in json.load(handle)["users"]])

    def authenticate(self, username: str, password: str) -> User | None:
        user = self.users.get(username)
        # Hash even for unknown users, so timing does not reveal who exists.
        ok = verify_password(password, user.password if user else self._dummy)
        return user if user and ok else None

    def by_subject(self, subject: str) -> User | None:
        return next((u for u in self.users.values() if u.subject == subject), None)


class HydraAdmin:
    """The three request families of the login/consent protocol, on Hydra's admin API."""

    class ChallengeError(Exception):
        def __init__(self, status: int, message: str, redirect_to: str | None = None) -> None:
            super().__init__(message)
            self.status, self.redirect_to = status, redirect_to

    def __init__(self, url: str) -> None:
        self.api = AdminApi(url, timeout=10)

    def _call(self, method: str, path: str, challenge_name: str, challenge: str, body: Any = None) -> dict:
        query = urllib.parse.urlencode({challenge_name: challenge})
        try:
            status, answer, _ = self.api.request(method, f"/admin/oauth2/auth/requests/{path}?{query}", body)
        except AdminError:
            raise self.ChallengeError(502, "Hydra's admin API cannot be reached") from None
        if status < 300:
            return answer
        detail = answer if isinstance(answer, dict) else {}
        if status == 410 and detail.get("redirect_to"):
            # Already handled (say, a double submit): Hydra says where to go on.
            raise self.ChallengeError(410, "this request was already handled", detail["redirect_to"])
        raise self.ChallengeError(status, {404: "unknown or expired request", 400: "malformed request"}.get(
            status, f"Hydra answered HTTP {status}"))

    def get(self, kind: str, challenge: str) -> dict:
        return self._call("GET", kind, f"{kind}_challenge", challenge)

    def accept(self, kind: str, challenge: str, body: dict | None = None) -> str:
        return self._call("PUT", f"{kind}/accept", f"{kind}_challenge", challenge, body or {})["redirect_to"]

    def reject(self, kind: str, challenge: str, error: str, description: str) -> str:
        return self._call("PUT", f"{kind}/reject", f"{kind}_challenge", challenge,
                          {"error": error, "error_description": description})["redirect_to"]

    def reject_logout(self, challenge: str) -> None:
        """Hydra answers a rejected logout with no body: the user stays logged in."""
        self._call("PUT", "logout/reject", "logout_challenge", challenge, {})


def id_token_claims(user: User | None, scopes: list[str]) -> dict[str, Any]:
    """The ID token's claims for ``scopes``, from what the account has: nothing is asserted that the
    account does not say (an address is verified only when the account records that it is)."""
    claims: dict[str, Any] = {}
    if user and "email" in scopes and user.email:
        claims.update(email=user.email, email_verified=user.email_verified)
    if user and "profile" in scopes and user.name:
        claims["name"] = user.name
    return claims


def _same(given: str, expected: str) -> bool:
    """Constant-time comparison of what the browser sent (any text, non-ASCII too) with what we expect."""
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass"))


def _cookie(name: str, value: str, *, max_age: int | None = None) -> str:
    """A __Host- cookie: Secure, Path=/, no Domain; HttpOnly and SameSite=Lax."""
    attributes = f"{name}={value}; Path=/; Secure; HttpOnly; SameSite=Lax"
    return attributes + (f"; Max-Age={max_age}" if max_age is not None else "")


PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>{title}</title></head>
<body><main><h1>{title}</h1>{body}</main></body></html>"""


class LoginApp:
    def __init__(self, admin: HydraAdmin, users: UserStore, *, remember_for: int = REMEMBER_FOR) -> None:
        self.admin, self.users, self.remember_for = admin, users, remember_for
        self._csrf_key = secrets.token_bytes(32)

    # -- CSRF, bound to the browser: a random cookie, and in each form an HMAC of it with the challenge.
    def _sign(self, *parts: str) -> str:
        return hmac.new(self._csrf_key, "\0".join(parts).encode(), hashlib.sha256).hexdigest()

    def _browser_secret(self, cookies: dict, headers: dict) -> str:
        secret = cookies.get(CSRF_COOKIE)
        if not secret:
            secret = secrets.token_urlsafe(32)
            headers.setdefault("Set-Cookie", []).append(_cookie(CSRF_COOKIE, secret))
        return secret

    def csrf_field(self, challenge: str, cookies: dict, headers: dict) -> str:
        return self._sign("csrf", self._browser_secret(cookies, headers), challenge)

    def csrf_ok(self, form: dict, cookies: dict, challenge_name: str) -> bool:
        secret, challenge = cookies.get(CSRF_COOKIE), form.get(challenge_name, "")
        return bool(secret and challenge) and _same(form.get("csrf", ""), self._sign("csrf", secret, challenge))

    def _remember_session(self, headers: dict, session_id: str | None) -> None:
        """Which Hydra login session this browser holds, signed: what an RP-initiated logout must match."""
        if session_id:
            value = f"{session_id}.{self._sign('session', session_id)}"
            headers.setdefault("Set-Cookie", []).append(_cookie(SESSION_COOKIE, value, max_age=self.remember_for))

    def _session_of(self, cookies: dict) -> str | None:
        session_id, _, signature = cookies.get(SESSION_COOKIE, "").rpartition(".")
        if session_id and _same(signature, self._sign("session", session_id)):
            return session_id
        return None

    # Each handler returns (status, headers, body).
    def login_form(self, challenge: str, cookies: dict, error: str = "") -> tuple[int, dict, str]:
        headers: dict = {}
        body = (f'<p role="alert">{html.escape(error)}</p>' if error else "") + f"""
<form method="post" action="/login">
<input type="hidden" name="login_challenge" value="{html.escape(challenge)}">
<input type="hidden" name="csrf" value="{self.csrf_field(challenge, cookies, headers)}">
<label>User <input name="username" autocomplete="username" required></label>
<label>Password <input name="password" type="password" autocomplete="current-password" required></label>
<label><input type="checkbox" name="remember" value="1"> Remember me</label>
<button name="action" value="login">Log in</button> <button name="action" value="deny">Deny</button>
</form>"""
        return 401 if error else 200, headers, PAGE.format(title="Log in", body=body)

    def get_login(self, query: dict, cookies: dict) -> tuple[int, dict, str]:
        challenge = query.get("login_challenge", "")
        if not challenge:
            return self.error_page(400, "This page needs a login_challenge from Hydra.")
        request = self.admin.get("login", challenge)
        if request.get("skip"):
            # Hydra already knows this user: accept with the same subject, no form.
            status, headers, body = self.redirect(self.admin.accept("login", challenge,
                                                                     {"subject": request["subject"]}))
            self._remember_session(headers, request.get("session_id"))
            return status, headers, body
        return self.login_form(challenge, cookies)

    def post_login(self, form: dict, cookies: dict) -> tuple[int, dict, str]:
        if not self.csrf_ok(form, cookies, "login_challenge"):
            return self.error_page(400, "The form expired or did not come from this page. Start again.")
        challenge = form["login_challenge"]
        if form.get("action") == "deny":
            return self.redirect(self.admin.reject("login", challenge, "access_denied", "The user denied the request"))
        request = self.admin.get("login", challenge)  # still a live request?
        user = self.users.authenticate(form.get("username", ""), form.get("password", ""))
        if user is None:
            return self.login_form(challenge, cookies, "Unknown user or wrong password.")
        status, headers, body = self.redirect(self.admin.accept("login", challenge, {
            "subject": user.subject, "remember": form.get("remember") == "1", "remember_for": self.remember_for}))
        self._remember_session(headers, request.get("session_id"))
        return status, headers, body

    def _grant(self, challenge: str, request: dict, remember: bool) -> str:
        scopes = request.get("requested_scope", [])
        user = self.users.by_subject(request.get("subject", ""))
        return self.admin.accept("consent", challenge, {
            "grant_scope": scopes,
            "grant_access_token_audience": request.get("requested_access_token_audience", []),
            "remember": remember, "remember_for": self.remember_for,
            "session": {"id_token": id_token_claims(user, scopes)}})

    def get_consent(self, query: dict, cookies: dict) -> tuple[int, dict, str]:
        challenge = query.get("consent_challenge", "")
        if not challenge:
            return self.error_page(400, "This page needs a consent_challenge from Hydra.")
        request = self.admin.get("consent", challenge)
        if request.get("skip") or (request.get("client") or {}).get("skip_consent"):
            return self.redirect(self._grant(challenge, request, remember=False))
        client = request.get("client") or {}
        scopes = "".join(f"<li>{html.escape(s)}</li>" for s in request.get("requested_scope", []))
        headers: dict = {}
        body = f"""<p>{html.escape(client.get("client_name") or client.get("client_id", "An application"))}
asks for:</p><ul>{scopes}</ul>
<form method="post" action="/consent">
<input type="hidden" name="consent_challenge" value="{html.escape(challenge)}">
<input type="hidden" name="csrf" value="{self.csrf_field(challenge, cookies, headers)}">
<label><input type="checkbox" name="remember" value="1"> Remember this decision</label>
<button name="action" value="allow">Allow</button> <button name="action" value="deny">Deny</button>
</form>"""
        return 200, headers, PAGE.format(title="Allow access?", body=body)

    def post_consent(self, form: dict, cookies: dict) -> tuple[int, dict, str]:
        if not self.csrf_ok(form, cookies, "consent_challenge"):
            return self.error_page(400, "The form expired or did not come from this page. Start again.")
        challenge = form["consent_challenge"]
        if form.get("action") != "allow":
            return self.redirect(self.admin.reject("consent", challenge, "access_denied", "The user denied access"))
        return self.redirect(self._grant(challenge, self.admin.get("consent", challenge), form.get("remember") == "1"))

    def get_logout(self, query: dict, cookies: dict) -> tuple[int, dict, str]:
        challenge = query.get("logout_challenge", "")
        if not challenge:
            return self.error_page(400, "This page needs a logout_challenge from Hydra.")
        request = self.admin.get("logout", challenge)
        mine = self._session_of(cookies)
        if request.get("rp_initiated") and mine and _same(mine, request.get("sid") or ""):
            # A client asked, with a valid id_token_hint, for the session this browser holds.
            return self.redirect(self.admin.accept("logout", challenge))
        headers: dict = {}
        body = f"""<p>Do you want to log out?</p>
<form method="post" action="/logout">
<input type="hidden" name="logout_challenge" value="{html.escape(challenge)}">
<input type="hidden" name="csrf" value="{self.csrf_field(challenge, cookies, headers)}">
<button name="action" value="logout">Log out</button> <button name="action" value="stay">Stay logged in</button>
</form>"""
        return 200, headers, PAGE.format(title="Log out?", body=body)

    def post_logout(self, form: dict, cookies: dict) -> tuple[int, dict, str]:
        if not self.csrf_ok(form, cookies, "logout_challenge"):
            return self.error_page(400, "The form expired or did not come from this page. Start again.")
        challenge = form["logout_challenge"]
        if form.get("action") != "logout":
            self.admin.reject_logout(challenge)
            return self.error_page(200, "You are still logged in. You may close this page.")
        return self.redirect(self.admin.accept("logout", challenge))

    def get_error(self, query: dict) -> tuple[int, dict, str]:
        return self.error_page(400, f"{query.get('error', 'error')}: {query.get('error_description', '')}")

    @staticmethod
    def redirect(location: str) -> tuple[int, dict, str]:
        return 302, {"Location": location}, ""

    @staticmethod
    def error_page(status: int, message: str) -> tuple[int, dict, str]:
        return status, {}, PAGE.format(title="Something went wrong", body=f"<p>{html.escape(message)}</p>")

    def handle(self, method: str, path: str, query: dict, form: dict,
               cookies: dict | None = None) -> tuple[int, dict, str]:
        cookies = cookies or {}
        routes = {("GET", "/login"): lambda: self.get_login(query, cookies),
                  ("POST", "/login"): lambda: self.post_login(form, cookies),
                  ("GET", "/consent"): lambda: self.get_consent(query, cookies),
                  ("POST", "/consent"): lambda: self.post_consent(form, cookies),
                  ("GET", "/logout"): lambda: self.get_logout(query, cookies),
                  ("POST", "/logout"): lambda: self.post_logout(form, cookies),
                  ("GET", "/error"): lambda: self.get_error(query)}
        route = routes.get((method, path))
        if route is None:
            return self.error_page(404, "Not found.")
        try:
            return route()
        except HydraAdmin.ChallengeError as error:
            if error.redirect_to:
                return self.redirect(error.redirect_to)
            return self.error_page(error.status if error.status < 500 else 502,
                                   f"This login request cannot continue ({error}). Start again from the app.")
        except Exception:  # never a traceback in the browser
            return self.error_page(500, "Unexpected error. Start again from the app.")


def make_server(app: LoginApp, host: str, port: int) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def _respond(self, method: str) -> None:
            parts = urllib.parse.urlsplit(self.path)
            query = dict(urllib.parse.parse_qsl(parts.query))
            form = {}
            if method == "POST":
                length = min(int(self.headers.get("Content-Length") or 0), 64 * 1024)
                form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode(errors="replace")))
            jar = http.cookies.SimpleCookie()
            try:
                jar.load(self.headers.get("Cookie") or "")
            except http.cookies.CookieError:
                pass
            cookies = {name: morsel.value for name, morsel in jar.items()}
            status, headers, body = app.handle(method, parts.path, query, form, cookies)
            payload = body.encode()
            self.send_response(status)
            headers = {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store",
                       "X-Frame-Options": "DENY", "Content-Security-Policy": "default-src 'none'; form-action 'self'",
                       **headers}
            for name, value in headers.items():
                for one in (value if isinstance(value, list) else [value]):
                    self.send_header(name, one)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self):  # noqa: N802
            self._respond("GET")

        def do_POST(self):  # noqa: N802
            self._respond("POST")

        def log_message(self, fmt, *args):  # no query strings (challenges) in logs
            status = args[1] if len(args) > 1 else ""
            sys.stderr.write(f"login-app {self.command} {urllib.parse.urlsplit(self.path).path} {status}\n")

    return ThreadingHTTPServer((host, port), Handler)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hydra_on_aws.local.login_app", description=__doc__.splitlines()[0])
    parser.add_argument("command", nargs="?", choices=["serve", "hash-password"], default="serve")
    parser.add_argument("--users", default="users.json")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3000)
    args = parser.parse_args(argv)
    if args.command == "hash-password":
        print(hash_password(getpass.getpass("Password: ")))
        return 0
    admin_url = os.environ.get("HYDRA_ADMIN_API")
    if not admin_url:
        print("HYDRA_ADMIN_API is not set (the admin API, e.g. http://localhost:4445)", file=sys.stderr)
        return 2
    server = make_server(LoginApp(HydraAdmin(admin_url), UserStore.load(args.users)), args.host, args.port)
    print(f"login/consent app on http://{args.host}:{server.server_address[1]} (admin API {admin_url})")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


def serve_in_thread(app: LoginApp, host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
    server = make_server(app, host, port)
    threading.Thread(target=server.serve_forever, daemon=True, name="login-app").start()
    return server


if __name__ == "__main__":
    sys.exit(main())
