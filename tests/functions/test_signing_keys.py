"""The key-set ensurer against an HTTP server that answers like Hydra's admin API."""

from __future__ import annotations

import http.server
import json
import threading

import pytest

from hydra_functions import signing_keys
from hydra_functions.clients import AdminError

PRIVATE_MARKER = "private-key-material-d"


class FakeAdmin(http.server.BaseHTTPRequestHandler):
    sets: dict[str, list] = {}
    calls: list[tuple[str, str]] = []
    unavailable_first: int = 0

    def _reply(self, status: int, body: dict | None = None) -> None:
        payload = json.dumps(body or {}).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_GET(self):  # noqa: N802
        FakeAdmin.calls.append(("GET", self.path))
        if FakeAdmin.unavailable_first > 0:
            FakeAdmin.unavailable_first -= 1
            return self._reply(503)
        name = self.path.removeprefix("/admin/keys/")
        if name in FakeAdmin.sets:
            return self._reply(200, {"keys": FakeAdmin.sets[name]})
        return self._reply(404, {"error": "Not Found"})

    def do_POST(self):  # noqa: N802
        FakeAdmin.calls.append(("POST", self.path))
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        assert body == {"alg": "RS256", "use": "sig"}
        name = self.path.removeprefix("/admin/keys/")
        FakeAdmin.sets.setdefault(name, []).append({"kid": "k", "d": PRIVATE_MARKER})
        return self._reply(201, {"keys": FakeAdmin.sets[name]})

    def log_message(self, *args):
        pass


@pytest.fixture
def admin():
    FakeAdmin.sets, FakeAdmin.calls, FakeAdmin.unavailable_first = {}, [], 0
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeAdmin)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


SETS = list(signing_keys.KEY_SETS)


def event(admin_url: str, kind: str = "Create") -> dict:
    return {"RequestType": kind, "ResourceProperties": {"AdminUrl": admin_url, "KeySets": SETS, "Algorithm": "RS256"}}


def test_creates_only_the_missing_sets(admin, caplog):
    FakeAdmin.sets["hydra.openid.id-token"] = [{"kid": "existing"}]
    caplog.set_level("INFO")
    response = signing_keys.on_event(event(admin))
    assert response["Data"] == {"Created": "hydra.jwt.access-token"}
    assert FakeAdmin.calls == [("GET", "/admin/keys/hydra.openid.id-token"),
                               ("GET", "/admin/keys/hydra.jwt.access-token"),
                               ("POST", "/admin/keys/hydra.jwt.access-token")]
    assert PRIVATE_MARKER not in json.dumps(response) and PRIVATE_MARKER not in caplog.text


def test_a_second_deploy_changes_nothing(admin):
    signing_keys.on_event(event(admin))
    FakeAdmin.calls.clear()
    assert signing_keys.on_event(event(admin, "Update"))["Data"] == {"Created": ""}
    assert [c[0] for c in FakeAdmin.calls] == ["GET", "GET"]
    assert [len(keys) for keys in FakeAdmin.sets.values()] == [1, 1]


def test_waits_while_the_admin_api_comes_up(admin, monkeypatch):
    monkeypatch.setattr(signing_keys.time, "sleep", lambda s: None)
    FakeAdmin.unavailable_first = 2
    assert signing_keys.ensure_key_sets(admin, SETS[:1]) == {"hydra.openid.id-token": "created"}


def test_an_unreachable_admin_api_fails_the_deploy(monkeypatch):
    monkeypatch.setattr(signing_keys.time, "sleep", lambda s: None)
    with pytest.raises(signing_keys.KeySetError, match="did not answer"):
        signing_keys.ensure_key_sets("http://127.0.0.1:9", SETS, attempts=2)


def test_retries_stop_at_the_time_budget_not_the_attempt_count(monkeypatch):
    now = [0.0]
    monkeypatch.setattr(signing_keys.time, "sleep", lambda s: now.__setitem__(0, now[0] + s))
    calls = []

    class Refusing:
        def request(self, method, path, body=None):
            calls.append(method)
            now[0] += 5  # each attempt waits out its request timeout
            raise AdminError("the admin API at http://admin:4445 cannot be reached: connection refused")

    with pytest.raises(signing_keys.KeySetError, match="did not answer for hydra.openid.id-token"):
        signing_keys.ensure_key_sets("http://admin:4445", SETS, attempts=1000, delay=5, budget=60,
                                     admin=Refusing(), clock=lambda: now[0])
    assert now[0] <= 60 and len(calls) == 6, (now[0], len(calls))


def test_delete_leaves_the_keys(admin):
    assert signing_keys.on_event({**event(admin, "Delete"), "PhysicalResourceId": "hydra-signing-keys"}) == {
        "PhysicalResourceId": "hydra-signing-keys"}
    assert FakeAdmin.calls == []
