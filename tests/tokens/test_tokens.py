"""The resource-server validator with a local key set: caching, algorithms, claims."""

from __future__ import annotations

import http.client
import json

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from hydra_on_aws.tokens.validator import Introspection, InvalidToken, TokenValidator

ISSUER, AUDIENCE = "https://auth.example.com/", "https://api.example.com"
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
JWK = {**json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(KEY.public_key())), "kid": "k1", "use": "sig", "alg": "RS256"}


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def make(clock: Clock, fetched: list) -> TokenValidator:
    def fetch(url):
        fetched.append(url)
        return {"keys": [JWK]}
    return TokenValidator(issuer=ISSUER, audience=AUDIENCE, fetch=fetch, clock=clock, leeway=0)


def token(clock: Clock, **claims) -> str:
    body = {"iss": ISSUER, "aud": [AUDIENCE], "sub": "user-1", "iat": clock.now, "exp": clock.now + 900,
            "client_id": "my-frontend-app", **claims}
    return jwt.encode(body, KEY, algorithm="RS256", headers={"kid": "k1"})


def test_the_jwks_is_fetched_once_per_ttl():
    clock, fetched = Clock(), []
    v = make(clock, fetched)
    for _ in range(5):
        v.validate(token(clock))
    assert fetched == [ISSUER.rstrip("/") + "/.well-known/jwks.json"]
    clock.now += 299
    v.validate(token(clock))
    assert len(fetched) == 1
    clock.now += 2
    v.validate(token(clock))
    assert len(fetched) == 2, "refetched after five minutes"


@pytest.mark.parametrize("claims, message", [
    ({"iss": "https://auth.example.com"}, "InvalidIssuerError"),   # the trailing slash matters
    ({"aud": []}, "aud"),  # Hydra's aud when nothing was granted: refused as missing
    ({"aud": ["my-frontend-app"]}, "InvalidAudienceError"),
    ({"exp": 1_800_000_000.0 - 1}, "expired"),
    ({"nbf": 1_800_000_000.0 + 60}, "not yet valid"),
    ({"sub": None}, "sub"),
])
def test_claims_are_checked(claims, message):
    clock = Clock()
    raw = {k: v for k, v in claims.items() if v is not None}
    t = token(clock, **raw)
    if claims.get("sub", "") is None:
        payload = jwt.decode(t, options={"verify_signature": False})
        payload.pop("sub")
        t = jwt.encode(payload, KEY, algorithm="RS256", headers={"kid": "k1"})
    with pytest.raises(InvalidToken, match=message):
        make(clock, []).validate(t)


def test_only_hydras_algorithms_are_accepted():
    clock = Clock()
    claims = {"iss": ISSUER, "aud": [AUDIENCE], "sub": "x", "iat": clock.now, "exp": clock.now + 60}
    unsigned = jwt.encode(claims, None, algorithm="none", headers={"kid": "k1"})
    with pytest.raises(InvalidToken, match="'none' is not one Hydra signs with"):
        make(clock, []).validate(unsigned)
    # An HMAC token "signed" with something public must never pass as Hydra's.
    hmac_token = jwt.encode(claims, "the-public-key-as-a-secret", algorithm="HS256", headers={"kid": "k1"})
    with pytest.raises(InvalidToken, match="'HS256' is not one Hydra signs with"):
        make(clock, []).validate(hmac_token)


def test_the_validated_claims_include_the_client():
    clock = Clock()
    assert make(clock, []).validate(token(clock))["client_id"] == "my-frontend-app"


def test_made_up_key_ids_cannot_turn_into_a_flood_of_jwks_fetches():
    clock, fetched = Clock(), []
    v = make(clock, fetched)
    v.validate(token(clock))
    forged = [jwt.encode({"iss": ISSUER, "aud": [AUDIENCE], "sub": "x", "iat": clock.now, "exp": clock.now + 60},
                         KEY, algorithm="RS256", headers={"kid": f"made-up-{n}"}) for n in range(50)]
    clock.now += 11
    for t in forged:
        with pytest.raises(InvalidToken, match="unknown signing key"):
            v.validate(t)
    assert len(fetched) == 2, "one refresh for the first unknown kid, none for the next 49 within 10 s"
    clock.now += 10
    with pytest.raises(InvalidToken, match="unknown signing key"):
        v.validate(forged[0])
    assert len(fetched) == 3


# ------------------------------------------------- access tokens only, ID tokens apart ---

def id_token(clock: Clock, **claims) -> str:
    body = {"iss": ISSUER, "aud": ["my-frontend-app"], "sub": "user-1", "iat": clock.now, "exp": clock.now + 900,
            "nonce": "n-1", "at_hash": "abc", "sid": "s-1", **claims}
    return jwt.encode(body, KEY, algorithm="RS256", headers={"kid": "k1"})


def test_an_id_token_is_never_accepted_as_a_bearer_token_even_with_the_right_audience():
    # The worst case: a resource server whose identifier is also a client's id.
    clock = Clock()
    validator = TokenValidator(issuer=ISSUER, audience="my-frontend-app", fetch=lambda url: {"keys": [JWK]},
                               clock=clock, leeway=0)
    with pytest.raises(InvalidToken, match="not an access token"):
        validator.validate(id_token(clock))
    # Each ID-token-only claim alone is enough, and so is a missing client_id.
    for claim in ("nonce", "at_hash", "c_hash"):
        with pytest.raises(InvalidToken, match="not an access token"):
            validator.validate(token(clock, aud=["my-frontend-app"], **{claim: "x"}))
    with pytest.raises(InvalidToken, match="not an access token"):
        validator.validate(token(clock, aud=["my-frontend-app"], client_id=""))


def test_an_id_token_is_checked_for_its_client_and_nonce_and_an_access_token_is_not_one():
    clock = Clock()
    v = make(clock, [])
    assert v.validate_id_token(id_token(clock), client_id="my-frontend-app", nonce="n-1")["sid"] == "s-1"
    with pytest.raises(InvalidToken, match="nonce mismatch"):
        v.validate_id_token(id_token(clock), client_id="my-frontend-app", nonce="another")
    with pytest.raises(InvalidToken, match="InvalidAudienceError"):
        v.validate_id_token(id_token(clock), client_id="someone-else", nonce="n-1")
    with pytest.raises(InvalidToken, match="not an ID token"):
        v.validate_id_token(token(clock, aud=["my-frontend-app"]), client_id="my-frontend-app", nonce=None)


@pytest.mark.parametrize("garbage, message", [
    ("only.two", "not three segments"),
    ("a.b.c.d", "not three segments"),
    ("!!!.e30.sig", "malformed token header"),
    (".e30.sig", "malformed token header"),                     # empty header: not JSON
    ("WzFd.e30.sig", "not a JSON object"),                      # [1]
])
def test_a_malformed_header_is_refused_before_any_key_lookup(garbage, message):
    fetched: list = []
    with pytest.raises(InvalidToken, match=message):
        make(Clock(), fetched).validate(garbage)
    assert fetched == []


def test_the_payload_is_decoded_once_by_the_verification(monkeypatch):
    # The header segment alone is decoded before the key lookup: no second decode of the whole token.
    clock = Clock()
    v = make(clock, [])
    t = token(clock)
    calls = []
    real = jwt.api_jws.PyJWS._load
    monkeypatch.setattr(jwt.api_jws.PyJWS, "_load", lambda self, jwt_: calls.append(1) or real(self, jwt_))
    v.validate(t)
    assert len(calls) == 1


# ---------------------------------------------------------------- introspection mode ---

class FakeIntrospection:
    def __init__(self, answer) -> None:
        self.answer, self.asked = answer, []

    def __call__(self, url, form):
        self.asked.append((url, form))
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def introspecting(clock: Clock, hydra: FakeIntrospection, **kwargs) -> TokenValidator:
    return TokenValidator(issuer=ISSUER, audience=AUDIENCE, fetch=lambda url: {"keys": [JWK]}, clock=clock,
                          leeway=0, introspection=Introspection("http://door/admin/oauth2/introspect",
                                                                post=hydra, clock=clock, **kwargs))


def test_introspection_refuses_a_revoked_token_that_the_jwt_checks_accept():
    clock, hydra = Clock(), FakeIntrospection({"active": False})
    t = token(clock)
    with pytest.raises(InvalidToken, match="no longer active"):
        introspecting(clock, hydra).validate(t)
    assert hydra.asked == [("http://door/admin/oauth2/introspect", {"token": t})]


def test_introspection_answers_are_cached_for_the_ttl_only():
    clock, hydra = Clock(), FakeIntrospection({"active": True, "token_use": "access_token"})
    v, t = introspecting(clock, hydra, cache_ttl=5), token(clock)
    for _ in range(3):
        v.validate(t)
    assert len(hydra.asked) == 1
    clock.now += 5
    hydra.answer = {"active": False}
    with pytest.raises(InvalidToken, match="no longer active"):
        v.validate(t)  # revoked: seen within the cache TTL
    assert len(hydra.asked) == 2
    assert all(isinstance(key, bytes) and t.encode() not in key for key in v.introspection._cache)


def test_introspection_checks_the_jwt_first_and_refuses_other_token_kinds():
    clock, hydra = Clock(), FakeIntrospection({"active": True, "token_use": "refresh_token"})
    v = introspecting(clock, hydra)
    with pytest.raises(InvalidToken, match="InvalidAudienceError"):
        v.validate(token(clock, aud=["elsewhere"]))
    assert hydra.asked == [], "a token the local checks refuse never costs a round trip"
    with pytest.raises(InvalidToken, match="no longer active"):
        v.validate(token(clock))


@pytest.mark.parametrize("failure", [OSError("connection refused"), TimeoutError("timed out"),
                                     ValueError("not JSON"), http.client.IncompleteRead(b"{"),
                                     http.client.BadStatusLine("garbage")])
def test_introspection_fails_closed(failure):
    clock = Clock()
    with pytest.raises(InvalidToken, match="introspection unavailable"):
        introspecting(clock, FakeIntrospection(failure)).validate(token(clock))


def test_introspection_never_goes_through_a_proxy_from_the_environment(monkeypatch):
    import http.server
    import threading
    from hydra_on_aws.tokens.validator import post_form
    seen = []

    class Hydra(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            seen.append(self.path)
            body = b'{"active": true}'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass
    server = http.server.HTTPServer(("127.0.0.1", 0), Hydra)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")   # nothing listens there
    monkeypatch.setenv("NO_PROXY", "")
    try:
        assert post_form(f"http://127.0.0.1:{server.server_address[1]}/admin/oauth2/introspect",
                         {"token": "t"}) == {"active": True}
        assert seen == ["/admin/oauth2/introspect"]
    finally:
        server.shutdown()
