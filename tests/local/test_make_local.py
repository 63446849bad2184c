"""`make local` as a developer runs it: starts, prints where everything is, Ctrl-C stops it all and
leaves nothing behind; a start that fails half-way stops what it had started."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from hydra_on_aws.local.front import FrontUnavailable
from hydra_on_aws.local.downloads import for_this_machine
from hydra_on_aws.local.postgres import POSTGRESQL, install_dir
from hydra_on_aws.local.stack import LocalStack
from hydra_on_aws.tokens.validator import fetch_json

from tests.conftest import ROOT

pytestmark = pytest.mark.e2e


def answers(url: str, context=None) -> bool:
    try:
        urllib.request.urlopen(url, timeout=2, context=context)
    except urllib.error.HTTPError:
        return True
    except (urllib.error.URLError, ConnectionError, OSError):
        return False
    return True


def test_make_local_prints_a_working_issuer_and_ctrl_c_stops_everything():
    # A temporary folder of its own (TMPDIR), so that nothing else running on the machine counts; open to
    # the unprivileged user PostgreSQL runs as under root, as /tmp is.
    private = Path(tempfile.mkdtemp(prefix="make-local-tmp-"))
    private.chmod(0o1777)
    cache = install_dir(for_this_machine(POSTGRESQL, "PostgreSQL")).name  # root unpacks PostgreSQL there: it stays
    # Its own process group, as a shell gives a foreground job; Ctrl-C signals the whole group.
    # Started with SIGINT ignored, as a background job inherits it: Ctrl-C must still work.
    process = subprocess.Popen([sys.executable, "-m", "hydra_on_aws.local.stack"], cwd=ROOT, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                               env={**os.environ, "PYTHONFAULTHANDLER": "1", "TMPDIR": str(private)},
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            assert line, "make local exited early:\n" + "".join(lines) + process.stderr.read()
            lines.append(line)
            if line.startswith("Ctrl-C stops everything."):
                break
        text = "".join(lines)
        shown = json.loads(text[text.index("{"):text.rindex("}") + 1])
        issuer = shown["HYDRA_PUBLIC_API (issuer, TLS by the front)"]
        context = ssl.create_default_context(cafile=shown["CA certificate to trust"])
        assert fetch_json(issuer + ".well-known/openid-configuration", context=context)["issuer"] == issuer
        assert shown["demo user"].startswith("demo / ")
        admin = shown["HYDRA_ADMIN_API"]
        assert fetch_json(admin + "/health/ready")["status"] == "ok"
        os.killpg(process.pid, signal.SIGINT)
        try:
            status = process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGABRT)  # faulthandler prints where every thread is
            process.wait(timeout=30)
            raise AssertionError("make local did not stop within 2 minutes of Ctrl-C:\n"
                                 + process.stderr.read()[-6000:]) from None
        errors = process.stderr.read()
        assert status == 0, errors
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert "Traceback" not in errors, errors
    for url, what in ((admin + "/health/alive", "Hydra"), (issuer, "the TLS front")):
        assert not answers(url, context if url.startswith("https") else None), f"{what} still answers after Ctrl-C"
    try:
        assert set(os.listdir(private)) - {cache} == set(), "make local left files in the temporary folder"
    finally:
        shutil.rmtree(private, ignore_errors=True)


def test_a_start_that_fails_half_way_stops_what_it_started():
    stack = LocalStack()
    # Someone else holds the front's port: the front is the last piece, so PostgreSQL and Hydra run by then.
    with socket.socket() as squatter:
        squatter.bind((stack.public_site.listen, stack.public_site.port))
        squatter.listen()
        with pytest.raises(FrontUnavailable, match="is taken"):
            stack.start()
    hydra = stack.hydra_process
    assert hydra.poll() is not None, "Hydra still runs after the failed start"
    assert not answers(f"{stack.admin_url}/health/alive")
    with socket.socket() as probe:
        assert probe.connect_ex((stack.postgres.host, stack.postgres.port)) != 0, "PostgreSQL still runs"
    assert not stack.base_dir.exists() and not stack.postgres.base_dir.exists()
