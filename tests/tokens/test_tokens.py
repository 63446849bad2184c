"""The resource-server validator with a local key set: caching, algorithms, claims."""

from __future__ import annotations

import json

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from hydra_on_aws.tokens.validator import InvalidToken, TokenValidator

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
