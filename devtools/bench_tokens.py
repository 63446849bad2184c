"""`make bench-tokens`: the resource-server validator's two modes, measured side by side.

JWT path: :class:`TokenValidator` with its cached key set against raw PyJWT (``jwt.decode`` with the
same key object, algorithms, issuer and audience), over the same Hydra-shaped tokens, in alternating
rounds so machine noise hits both alike; medians per token and the ratio. JWKS fetches are counted
for 10,000 tokens at a steady rate (the cache lives 5 minutes, so the count depends on how long
10,000 tokens take to arrive, not on the number of tokens).

Introspection mode (``--hydra``): against the real Hydra and PostgreSQL of the local stack (the
deployed version and the synthesized dev environment), each token's first validation costs one
round trip to the introspection endpoint; later ones within the cache TTL cost none. Reported:
round-trip latency percentiles, the cached path per token, and round trips counted.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from hydra_on_aws.tokens.validator import Introspection, TokenValidator

ISSUER, AUDIENCE = "https://auth.example.com/dev/", "https://api.dev.example.com"
TARGET_RATIO = 1.1


def _tokens(key, count: int, now: float) -> list[str]:
    """Tokens shaped like Hydra's JWT access tokens (its claim set and header)."""
    return [jwt.encode({"aud": [AUDIENCE], "client_id": "my-frontend-app", "exp": int(now) + 900, "ext": {},
                        "iat": int(now), "iss": ISSUER, "jti": f"{n:032x}", "nbf": int(now),
                        "scp": ["openid", "offline_access"], "sub": f"user-{n}"},
                       key, algorithm="RS256", headers={"kid": "k1", "typ": "JWT"}) for n in range(count)]


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(pct / 100 * (len(ordered) - 1))))]


def jwt_path(*, rounds: int = 9, per_round: int = 2000) -> dict[str, Any]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = {**json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key())), "kid": "k1", "use": "sig",
           "alg": "RS256"}
    fetches: list[float] = []
    clock = {"now": time.time()}

    def fetch(url: str):
        fetches.append(clock["now"])
        return {"keys": [jwk]}

    validator = TokenValidator(issuer=ISSUER, audience=AUDIENCE, fetch=fetch, clock=lambda: clock["now"])
    tokens = _tokens(key, 200, clock["now"])
    public = validator.key("k1").key  # the same key object for both: raw PyJWT "with a cached key"
    options = {"require": ["exp", "iat", "iss", "sub", "aud"]}

    def run_validator() -> float:
        start = time.perf_counter()
        for n in range(per_round):
            validator.validate(tokens[n % len(tokens)])
        return (time.perf_counter() - start) / per_round

    def run_raw() -> float:
        start = time.perf_counter()
        for n in range(per_round):
            jwt.decode(tokens[n % len(tokens)], public, algorithms=["RS256"], issuer=ISSUER, audience=AUDIENCE,
                       options=options, leeway=30)
        return (time.perf_counter() - start) / per_round

    run_validator(), run_raw()  # warm both
    ours, raw = [], []
    for _ in range(rounds):
        ours.append(run_validator())
        raw.append(run_raw())

    # JWKS fetches for 10,000 tokens arriving at a steady rate, on the validator's own clock.
    per_10k = {}
    for rate in (10, 100, 1000):
        fetches.clear()
        counted = TokenValidator(issuer=ISSUER, audience=AUDIENCE, fetch=fetch, clock=lambda: clock["now"])
        start = clock["now"]
        for n in range(10_000):
            clock["now"] = start + n / rate
            counted.key("k1")
        per_10k[rate] = len(fetches)
        clock["now"] = start
    return {"validator_us": statistics.median(ours) * 1e6, "raw_us": statistics.median(raw) * 1e6,
            "ratio": statistics.median(ours) / statistics.median(raw),
            "spread": (max(o / r for o, r in zip(ours, raw)) - min(o / r for o, r in zip(ours, raw))),
            "rounds": rounds, "per_round": per_round, "jwks_fetches_per_10k": per_10k}


def introspection_mode(stack, *, tokens: int = 200, repeats: int = 5) -> dict[str, Any]:
    """Against a started LocalStack with the dev clients applied: issue ``tokens`` client_credentials
    tokens, validate each ``repeats`` times in introspection mode, time the round trips."""
    from hydra_functions.clients import AdminApi, apply, validate_client
    from hydra_on_aws.tokens.validator import fetch_json, post_form
    import requests

    secrets: dict[str, str] = {}
    apply(AdminApi(stack.admin_url), [validate_client({
        "client_id": "bench-service", "grant_types": ["client_credentials"], "scope": "reports",
        "token_endpoint_auth_method": "client_secret_basic", "audience": [AUDIENCE]})],
        on_secret=secrets.__setitem__)
    session = requests.Session()
    session.trust_env, session.verify = False, str(stack.cert)
    endpoint = fetch_json(stack.issuer + ".well-known/openid-configuration", context=stack.ssl_context())
    issued = [session.post(endpoint["token_endpoint"], data={"grant_type": "client_credentials",
                                                             "scope": "reports", "audience": AUDIENCE},
                           auth=("bench-service", secrets["bench-service"])).json()["access_token"]
              for _ in range(tokens)]
    trips: list[float] = []
    jwks: list[str] = []

    def post(url, form):
        start = time.perf_counter()
        try:
            return post_form(url, form)
        finally:
            trips.append(time.perf_counter() - start)

    def fetch(url):
        jwks.append(url)
        return fetch_json(url, context=stack.ssl_context())

    validator = TokenValidator(issuer=stack.issuer, audience=AUDIENCE, fetch=fetch, introspection=Introspection(
        f"{stack.admin_url}/admin/oauth2/introspect", post=post, cache_ttl=60))
    cold, warm = [], []
    for token in issued:
        start = time.perf_counter()
        validator.validate(token)
        cold.append(time.perf_counter() - start)
        for _ in range(repeats - 1):
            start = time.perf_counter()
            validator.validate(token)
            warm.append(time.perf_counter() - start)
    return {"validations": tokens * repeats, "round_trips": len(trips), "jwks_fetches": len(jwks),
            "trip_ms": {p: _percentile(trips, p) * 1e3 for p in (50, 95, 99)},
            "first_validation_ms": statistics.median(cold) * 1e3, "cached_us": statistics.median(warm) * 1e6}


def report_jwt(result: dict[str, Any]) -> str:
    per_10k = ", ".join(f"{n} at {rate} tokens/s" for rate, n in result["jwks_fetches_per_10k"].items())
    return "\n".join([
        f"JWT path: {result['rounds']} alternating rounds of {result['per_round']} tokens, medians per token",
        "| validation | µs per token |",
        "|---|---:|",
        f"| raw PyJWT `jwt.decode`, cached key | {result['raw_us']:.1f} |",
        f"| `TokenValidator.validate` | {result['validator_us']:.1f} |",
        f"ratio {result['ratio']:.3f}x (target <= {TARGET_RATIO}x; spread between rounds {result['spread']:.3f})",
        f"JWKS fetches per 10,000 tokens: {per_10k}",
    ])


def report_introspection(result: dict[str, Any]) -> str:
    trip = result["trip_ms"]
    return "\n".join([
        f"Introspection mode: {result['validations']} validations, {result['round_trips']} round trips to "
        f"Hydra's introspection endpoint, {result['jwks_fetches']} JWKS fetch(es)",
        "| step | latency |",
        "|---|---:|",
        f"| introspection round trip p50 / p95 / p99 | {trip[50]:.2f} / {trip[95]:.2f} / {trip[99]:.2f} ms |",
        f"| first validation of a token (JWT checks + round trip), median | {result['first_validation_ms']:.2f} ms |",
        f"| validation within the cache TTL, median | {result['cached_us']:.1f} µs |",
    ])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--per-round", type=int, default=2000)
    parser.add_argument("--hydra", action="store_true", help="also measure introspection against the local stack")
    args = parser.parse_args(argv)
    print(report_jwt(jwt_path(rounds=args.rounds, per_round=args.per_round)), flush=True)
    if args.hydra:
        from hydra_on_aws.local.login_app import User
        from hydra_on_aws.local.stack import LocalStack
        with LocalStack(users=[User(username="x", subject="x", password="x")]) as stack:
            print(report_introspection(introspection_mode(stack)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
