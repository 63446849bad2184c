"""Validate Hydra's JWT access tokens (and ID tokens) the way a resource server should.

    validator = TokenValidator(issuer="https://auth.example.com/", audience="https://api.example.com")
    claims = validator.validate(request_token)

- The JWKS comes from the public JWKS URL and is cached for ``ttl`` seconds
  (5 minutes by default): no call to Hydra per request.
- Only the algorithms Hydra signs with are accepted (RS256 by default):
  never ``none``, never a symmetric algorithm keyed with the public key.
- ``iss`` must equal the issuer exactly; ``aud`` must contain the resource
  server's own identifier; ``exp``, ``nbf`` and ``iat`` are checked; ``sub``
  must be present.
- A token signed with an unknown ``kid`` triggers one JWKS refresh (Hydra may
  have rotated its keys), then a rejection.

Hydra puts the *granted audience* in an access token's ``aud`` (an empty list
when none was granted) and the client in ``client_id``; an ID token's ``aud``
is ``[client_id]``. So a resource server checks its own identifier, which
clients request as ``audience`` and the consent step grants.
"""

from __future__ import annotations

import json
import ssl
import threading
import time
import urllib.request
from typing import Any, Callable

import jwt

MIN_REFRESH_INTERVAL = 10.0  # unknown-kid refreshes, at most this often


class InvalidToken(Exception):
    """The token must be refused; the message says why (safe to log, never contains the token)."""


def fetch_json(url: str, *, timeout: float = 5.0, context: ssl.SSLContext | None = None) -> Any:
    request = urllib.request.Request(url, headers={"Accept": "application/json", "User-Agent": "hydra-tokens/1"})
    with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
        return json.loads(response.read())


class TokenValidator:
    def __init__(self, *, issuer: str, audience: str, jwks_url: str | None = None, ttl: float = 300.0,
                 algorithms: tuple[str, ...] = ("RS256",), leeway: float = 30.0,
                 fetch: Callable[[str], Any] | None = None, clock: Callable[[], float] = time.time) -> None:
        self.issuer = issuer
        self.audience = audience
        self.jwks_url = jwks_url or issuer.rstrip("/") + "/.well-known/jwks.json"
        self.ttl = ttl
        self.algorithms = algorithms
        self.leeway = leeway
        self.fetch = fetch or fetch_json
        self.clock = clock
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

    def validate(self, token: str, *, audience: str | None = None, nonce: str | None = None) -> dict[str, Any]:
        """The verified claims of ``token``; raises :class:`InvalidToken` for any problem."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as error:
            raise InvalidToken(f"malformed token: {error}") from None
        if header.get("alg") not in self.algorithms:
            raise InvalidToken(f"algorithm {header.get('alg')!r} is not one Hydra signs with")
        key = self.key(str(header.get("kid")))
        try:
            claims = jwt.decode(
                token, key.key, algorithms=list(self.algorithms), issuer=self.issuer,
                audience=audience or self.audience,
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
        if nonce is not None and claims.get("nonce") != nonce:
            raise InvalidToken("nonce mismatch")
        return claims
