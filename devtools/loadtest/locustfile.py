"""The load test's workloads, for locust (run by devtools.loadtest.run, never by hand).

The plan (a JSON file named by LOADTEST_PLAN) carries Hydra's plain-HTTP ports on loopback (what
the NLBs reach in AWS, behind TLS at API Gateway), a confidential client, pre-made authorization
codes, refresh tokens and access tokens. LOADTEST_WORKLOAD picks the user classes: one workload
alone, or ``mixed``.
"""

from __future__ import annotations

import base64
import json
import os
import random
import urllib.parse

from locust import FastHttpUser, constant, task
from locust.exception import StopUser

PLAN = json.loads(open(os.environ["LOADTEST_PLAN"]).read())
WORKLOAD = os.environ["LOADTEST_WORKLOAD"]
CODES = list(PLAN["codes"])
# client_secret_basic by hand (RFC 6749 2.3.1: each part form-encoded): FastHttpSession's auth= stalls
# a user after its first request in locust 2.47.
BASIC = "Basic " + base64.b64encode(":".join(urllib.parse.quote_plus(p) for p in PLAN["service"]).encode()).decode()
REFRESH = list(PLAN["refresh_tokens"])


TIMEOUT = float(os.environ.get("LOADTEST_TIMEOUT", "60"))  # a request not answered by then is a failure


class Public(FastHttpUser):
    """Hydra's public port: token issuance, exchange, refresh, discovery and keys."""
    abstract = True
    host = PLAN["public"]
    wait_time = constant(0)
    network_timeout = TIMEOUT

    def client_credentials(self):
        self.client.post("/oauth2/token", name="client_credentials", headers={"Authorization": BASIC}, data={
            "grant_type": "client_credentials", "scope": PLAN["service_scope"], "audience": PLAN["audience"]})

    def code_exchange(self):
        if not CODES:
            raise StopUser()
        self.client.post("/oauth2/token", name="authorization_code", data={
            "grant_type": "authorization_code", "code": CODES.pop(), "redirect_uri": PLAN["redirect_uri"],
            "client_id": PLAN["public_client"], "code_verifier": PLAN["verifier"]})

    def refresh(self):
        if self.refresh_token is None:
            if not REFRESH:
                raise StopUser()
            self.refresh_token = REFRESH.pop()
        with self.client.post("/oauth2/token", name="refresh_token", catch_response=True, data={
                "grant_type": "refresh_token", "refresh_token": self.refresh_token,
                "client_id": PLAN["public_client"]}) as response:
            if response.status_code == 200:
                self.refresh_token = response.json()["refresh_token"]
            else:
                self.refresh_token = None
                response.failure(f"HTTP {response.status_code}")

    def jwks(self):
        self.client.get("/.well-known/jwks.json", name="jwks")

    def discovery(self):
        self.client.get("/.well-known/openid-configuration", name="discovery")

    def on_start(self):
        self.refresh_token = None


class Admin(FastHttpUser):
    """The introspection endpoint on the admin port (the introspection door in AWS)."""
    abstract = True
    host = PLAN["admin"]
    wait_time = constant(0)
    network_timeout = TIMEOUT

    def introspect(self):
        self.client.post("/admin/oauth2/introspect", name="introspect",
                         data={"token": random.choice(PLAN["access_tokens"])})


def _alone(name: str, base: type, method: str) -> type:
    return type(name, (base,), {"abstract": False, "tasks": [getattr(base, method)]})


ALONE = {
    "client_credentials": _alone("ClientCredentials", Public, "client_credentials"),
    "stall_probe": _alone("StallProbe", Public, "client_credentials"),
    "authorization_code": _alone("CodeExchange", Public, "code_exchange"),
    "refresh_token": _alone("Refresh", Public, "refresh"),
    "introspect": _alone("Introspect", Admin, "introspect"),
    "jwks_discovery": type("KeysAndDiscovery", (Public,), {"abstract": False,
                                                            "tasks": [Public.jwks, Public.discovery]}),
}

# The mix: per 20 requests, roughly what a resource-server-heavy deployment sees.
MIX = {"jwks": 4, "discovery": 2, "client_credentials": 5, "code_exchange": 2, "refresh": 3}


class MixedPublic(Public):
    abstract = WORKLOAD != "mixed"
    weight = 4
    tasks = {getattr(Public, name): weight for name, weight in MIX.items()}


class MixedAdmin(Admin):
    abstract = WORKLOAD != "mixed"
    weight = 1
    tasks = [Admin.introspect]


if WORKLOAD != "mixed":
    Workload = ALONE[WORKLOAD]  # the one user class locust finds besides the abstract ones
