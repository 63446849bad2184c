"""`make local` as a developer runs it: starts, prints where everything is, and Ctrl-C stops it all."""

from __future__ import annotations

import json
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from hydra_on_aws.tokens.validator import fetch_json

from tests.conftest import ROOT

pytestmark = pytest.mark.e2e


def test_make_local_prints_a_working_issuer_and_ctrl_c_stops_everything():
    process = subprocess.Popen([sys.executable, "-m", "hydra_on_aws.local.stack"], cwd=ROOT, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            assert line, "make local exited early:\n" + "".join(lines)
            lines.append(line)
            if line.startswith("Ctrl-C stops everything."):
                break
        text = "".join(lines)
        shown = json.loads(text[text.index("{"):text.rindex("}") + 1])
        issuer = shown["HYDRA_PUBLIC_API (issuer, TLS by nginx)"]
        context = ssl.create_default_context(cafile=shown["TLS certificate to trust"])
        assert fetch_json(issuer + ".well-known/openid-configuration", context=context)["issuer"] == issuer
        assert shown["demo user"].startswith("demo / ")
        admin = shown["HYDRA_ADMIN_API"]
        assert fetch_json(admin + "/health/ready")["status"] == "ok"
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    for url, what in ((admin + "/health/alive", "Hydra"), (issuer, "nginx")):
        try:
            urllib.request.urlopen(url, timeout=2, context=context if url.startswith("https") else None)
        except (urllib.error.URLError, ConnectionError):
            continue
        raise AssertionError(f"{what} still answers after Ctrl-C")
