"""A throwaway PostgreSQL server on loopback, configured like Aurora here: TLS only, SCRAM.

Used by the integration tests and the local stack. It runs Debian's (or any
installed) PostgreSQL binaries; as root it runs them as the ``postgres`` user,
since ``initdb`` refuses to run as root.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

from hydra_functions import pgwire
from hydra_functions.db_roles import password_clause


class PostgresUnavailable(RuntimeError):
    """PostgreSQL could not be found or started; the message says why."""


def find_bindir() -> Path:
    candidates = []
    if shutil.which("pg_config"):
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True)
        if out.returncode == 0:
            candidates.append(Path(out.stdout.strip()))
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    for bindir in candidates:
        if (bindir / "initdb").exists() and (bindir / "pg_ctl").exists():
            return bindir
    raise PostgresUnavailable(
        "no PostgreSQL server binaries (initdb, pg_ctl) found: install Debian's postgresql package "
        "(`apt-get install postgresql`); .ci/run does this")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]



def self_signed_certificate(cert: Path, key: Path, *, error: type[Exception]) -> None:
    """A two-day certificate for 127.0.0.1 and localhost (local TLS only); ``error`` if openssl fails."""
    result = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", str(key), "-out", str(cert)],
        capture_output=True, text=True)
    if result.returncode != 0:
        raise error(f"openssl could not make a certificate: {result.stderr.strip()}")


class LocalPostgres:
    """``with LocalPostgres() as pg:`` gives a running server; ``pg.superuser_password`` logs in as postgres."""

    def __init__(self, base_dir: Path | None = None, port: int | None = None) -> None:
        self.base_dir = Path(base_dir or tempfile.mkdtemp(prefix="hydra-pg-"))
        self.port = port or free_port()
        self.host = "127.0.0.1"
        self.superuser = "postgres"
        self.superuser_password = secrets.token_urlsafe(24)
        self.bindir = find_bindir()
        self._as_postgres = os.geteuid() == 0
        self.data = self.base_dir / "data"
        self.log = self.base_dir / "postgres.log"

    # -- process helpers
    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        cmd = list(args)
        if self._as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        result = subprocess.run(cmd, capture_output=True, text=True)
        if check and result.returncode != 0:
            raise PostgresUnavailable(f"{' '.join(args[:2])} failed ({result.returncode}): "
                                      f"{(result.stderr or result.stdout).strip()[-800:]}")
        return result

    def start(self) -> "LocalPostgres":
        self.base_dir.mkdir(parents=True, exist_ok=True)
        pwfile = self.base_dir / "pwfile"
        pwfile.write_text(self.superuser_password + "\n")
        cert, key = self.base_dir / "server.crt", self.base_dir / "server.key"
        self_signed_certificate(cert, key, error=PostgresUnavailable)
        key.chmod(0o600)
        if self._as_postgres:
            shutil.chown(self.base_dir, "postgres")
            for path in (pwfile, cert, key):
                shutil.chown(path, "postgres")
        self._run(str(self.bindir / "initdb"), "-D", str(self.data), "--username", self.superuser,
                  "--pwfile", str(pwfile), "--auth-local=trust", "--auth-host=scram-sha-256",
                  "--encoding=UTF8", "--locale=C")
        pwfile.unlink()
        # Like Aurora with rds.force_ssl=1: TLS or nothing, SCRAM passwords.
        (self.data / "pg_hba.conf").write_text(
            "local all all trust\n"
            "hostssl all all 127.0.0.1/32 scram-sha-256\n"
            "hostnossl all all 0.0.0.0/0 reject\n")
        options = (f"-c listen_addresses={self.host} -c port={self.port} "
                   f"-c unix_socket_directories={self.base_dir} -c ssl=on "
                   f"-c ssl_cert_file={cert} -c ssl_key_file={key} -c max_connections=100 "
                   f"-c password_encryption=scram-sha-256")
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60",
                  "-o", options, "start")
        return self

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop", check=False)

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.base_dir, ignore_errors=True)

    def __enter__(self) -> "LocalPostgres":
        try:
            return self.start()
        except BaseException:
            self.cleanup()
            raise

    def __exit__(self, *exc: object) -> None:
        self.cleanup()

    # -- SQL
    def connect(self, database: str = "postgres") -> pgwire.Connection:
        return pgwire.connect(host=self.host, port=self.port, user=self.superuser,
                              password=self.superuser_password, database=database, sslmode="require")

    def execute(self, *statements: str, database: str = "postgres") -> list[pgwire.Result]:
        with self.connect(database) as conn:
            return [conn.query(sql) for sql in statements]

    def create_login(self, user: str, password: str, database: str | None = None) -> None:
        """A login role with ``password`` (any characters but NUL), owning ``database`` if given."""
        ident = pgwire.quote_ident(user)
        self.execute(f"CREATE ROLE {ident} LOGIN {password_clause(password)}")
        if database:
            self.execute(f"CREATE DATABASE {pgwire.quote_ident(database)} OWNER {ident}")
