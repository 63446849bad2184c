"""Validate Hydra's JWT access tokens (and ID tokens) the way a resource server should.

    validator = TokenValidator(issuer="https://auth.example.com/", audience="https://api.example.com")
    claims = validator.validate(request_token)                     # an access token, checked locally

    strict = TokenValidator(issuer=..., audience=...,             # an endpoint that must see revocations
                            introspection=Introspection("http://introspect.internal/admin/oauth2/introspect"))

- The JWKS comes from the public JWKS URL and is cached for ``ttl`` seconds
  (5 minutes by default): no call to Hydra per request.
- Only the algorithms Hydra signs with are accepted (RS256 by default):
  never ``none``, never a symmetric algorithm keyed with the public key.
- ``iss`` must equal the issuer exactly; ``aud`` must contain the resource
  server's own identifier; ``exp``, ``nbf`` and ``iat`` are checked; ``sub``
  must be present.
- :meth:`TokenValidator.validate` accepts access tokens only: Hydra always
  puts ``client_id`` in an access token and never in an ID token, and only ID
  tokens carry ``nonce``, ``at_hash`` or ``c_hash``. An ID token presented as
  a bearer token is refused even when its audience would match.
  :meth:`TokenValidator.validate_id_token` is the client's check of an ID
  token (its audience is the client, its nonce the one the client sent).
- A token signed with an unknown ``kid`` triggers one JWKS refresh (Hydra may
  have rotated its keys), at most every 10 seconds, then a rejection.

Revocation. A JWT is checked locally, so revoking it at Hydra (``/oauth2/revoke``,
a revoked refresh chain, a reused authorization code) does not reach a resource
server that validates locally: the token is accepted until ``exp`` plus the
leeway, at most the access-token TTL (15 minutes here) plus 30 seconds. Endpoints
that cannot accept that pass ``introspection=``: after the local checks, the
validator asks Hydra's introspection endpoint whether the token is still active,
and caches the answer for ``Introspection.cache_ttl`` seconds (5 by default, the
revocation latency of that mode). If Hydra cannot be asked, the token is
refused (fail closed).

Why the JWKS cache is hand-written: PyJWT's ``PyJWKClient`` refetches the key
set for every unknown ``kid``, so forged key ids turn into a flood of fetches;
this cache refreshes at most once per ``MIN_REFRESH_INTERVAL``.

Hydra puts the *granted audience* in an access token's ``aud`` (an empty list
when none was granted) and the client in ``client_id``; an ID token's ``aud``
is ``[client_id]``. So a resource server checks its own identifier, which
clients request as ``audience`` and the consent step grants.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import http.client
import json
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Callable

import jwt
from cachetools import TTLCache

MIN_REFRESH_INTERVAL = 10.0  # unknown-kid refreshes, at most this often
ID_TOKEN_ONLY_CLAIMS = ("nonce", "at_hash", "c_hash")


class InvalidToken(Exception):
    """The token must be refused; the message says why (safe to log, never contains the token)."""


def fetch_json(url: str, *, timeout: float = 5.0, context: ssl.SSLContext | None = None) -> Any:
    request = urllib.request.Request(url, headers={"Accept": "application/json", "User-Agent": "hydra-tokens/1"})
    with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
        return json.loads(response.read())


def post_form(url: str, form: dict[str, str], *, timeout: float = 2.0,
              context: ssl.SSLContext | None = None) -> Any:
    """POST ``form`` straight to ``url``: never through an HTTP(S)_PROXY from the environment (the form
    carries a token, and the introspection door is inside the VPC)."""
    request = urllib.request.Request(url, data=urllib.parse.urlencode(form).encode(), method="POST", headers={
        "Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded",
        "User-Agent": "hydra-tokens/1"})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=context))
    with opener.open(request, timeout=timeout) as response:
        return json.loads(response.read())


def unverified_header(token: str) -> dict[str, Any]:
    """The JOSE header of a compact JWS, decoding the header segment only (the payload is decoded
    once, by the verification itself)."""
    segments = token.split(".")
    if len(segments) != 3:
        raise InvalidToken("malformed token: not three segments")
    try:
        header = json.loads(base64.urlsafe_b64decode(segments[0] + "=" * (-len(segments[0]) % 4)))
    except (binascii.Error, ValueError) as error:
        raise InvalidToken(f"malformed token header: {type(error).__name__}") from None
    if not isinstance(header, dict):
        raise InvalidToken("malformed token header: not a JSON object")
    return header


class Introspection:
    """Hydra's token introspection (RFC 7662), for endpoints that must see a revocation at once.

    ``url`` is the introspection endpoint on the admin port, reached through the stack's
    introspection door (the ``IntrospectionUrl`` output), which serves that one path and nothing
    else of the admin API. Answers are cached for ``cache_ttl`` seconds by a digest of the token
    (never the token itself), at most ``max_entries`` of them."""

    def __init__(self, url: str, *, cache_ttl: float = 5.0, max_entries: int = 100_000,
                 post: Callable[[str, dict[str, str]], Any] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.url, self.cache_ttl = url, cache_ttl
        self.post = post or post_form
        self._cache: TTLCache = TTLCache(maxsize=max_entries, ttl=cache_ttl, timer=clock)
        self._lock = threading.Lock()

    def active(self, token: str) -> bool:
        digest = hashlib.sha256(token.encode()).digest()
        with self._lock:
            known = self._cache.get(digest)
        if known is not None:
            return known
        try:
            answer = self.post(self.url, {"token": token})
        except (OSError, urllib.error.URLError, http.client.HTTPException, ValueError) as error:
            raise InvalidToken(f"introspection unavailable ({type(error).__name__}): refused") from None
        active = isinstance(answer, dict) and answer.get("active") is True and \
            answer.get("token_use", "access_token") == "access_token"
        with self._lock:
            self._cache[digest] = active
        return active


class TokenValidator:
    def __init__(self, *, issuer: str, audience: str, jwks_url: str | None = None, ttl: float = 300.0,
                 algorithms: tuple[str, ...] = ("RS256",), leeway: float = 30.0,
                 fetch: Callable[[str], Any] | None = None, clock: Callable[[], float] = time.time,
                 introspection: Introspection | None = None) -> None:
        self.issuer = issuer
        self.audience = audience
        self.jwks_url = jwks_url or issuer.rstrip("/") + "/.well-known/jwks.json"
        self.ttl = ttl
        self.algorithms = algorithms
        self.leeway = leeway
        self.fetch = fetch or fetch_json
        self.clock = clock
        self.introspection = introspection
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = float("-inf")
        self._lock = threading.Lock()

    def _refresh(self) -> None:
        document = self.fetch(self.jwks_url)
        keys = {}
        for entry in document.get("keys", []):
            if entry.get("use", "sig") != "sig" or "kid" not in entry:
                continue
            try:
                keys[entry["kid"]] = jwt.PyJWK(entry)
            except jwt.PyJWKError:
                continue  # a key type we do not use
        self._keys, self._fetched_at = keys, self.clock()

    def key(self, kid: str) -> jwt.PyJWK:
        with self._lock:
            if self.clock() - self._fetched_at >= self.ttl:
                self._refresh()
            if kid not in self._keys and self.clock() - self._fetched_at >= MIN_REFRESH_INTERVAL:
                self._refresh()  # once: keys may have been rotated since the last fetch
            if kid not in self._keys:
                raise InvalidToken(f"unknown signing key {kid!r}")
            return self._keys[kid]

    def _verified(self, token: str, audience: str) -> dict[str, Any]:
        header = unverified_header(token)
        if header.get("alg") not in self.algorithms:
            raise InvalidToken(f"algorithm {header.get('alg')!r} is not one Hydra signs with")
        key = self.key(str(header.get("kid")))
        try:
            claims = jwt.decode(
                token, key.key, algorithms=list(self.algorithms), issuer=self.issuer, audience=audience,
                # exp, nbf and iat are checked below against this validator's clock.
                options={"require": ["exp", "iat", "iss", "sub", "aud"], "verify_exp": False,
                         "verify_nbf": False, "verify_iat": False})
        except jwt.PyJWTError as error:
            raise InvalidToken(f"{type(error).__name__}: {error}") from None
        now = self.clock()
        if claims["exp"] <= now - self.leeway:
            raise InvalidToken("token expired")
        if claims.get("nbf", 0) > now + self.leeway:
            raise InvalidToken("token not yet valid (nbf)")
        if claims["iat"] > now + self.leeway:
            raise InvalidToken("token issued in the future (iat)")
        return claims

    def validate(self, token: str, *, audience: str | None = None) -> dict[str, Any]:
        """The verified claims of the access token ``token``; raises :class:`InvalidToken` for any problem."""
        claims = self._verified(token, audience or self.audience)
        if not claims.get("client_id") or any(name in claims for name in ID_TOKEN_ONLY_CLAIMS):
            raise InvalidToken("not an access token (an ID token is never a bearer token)")
        if self.introspection is not None and not self.introspection.active(token):
            raise InvalidToken("token is no longer active at Hydra (revoked or expired)")
        return claims

    def validate_id_token(self, token: str, *, client_id: str, nonce: str | None) -> dict[str, Any]:
        """A client's check of an ID token: its audience is the client, its nonce the one sent
        (``None`` only for flows that sent none)."""
        claims = self._verified(token, client_id)
        if "client_id" in claims:
            raise InvalidToken("not an ID token (an access token carries client_id)")
        if claims.get("nonce") != nonce:
            raise InvalidToken("nonce mismatch")
        return claims
