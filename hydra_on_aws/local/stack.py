"""`make local`: the dev stack's Hydra, for real, on this machine, in the shape it is deployed.

PostgreSQL 16 (see :mod:`hydra_on_aws.local.postgres`), the same database roles as in AWS, the
same migration command the migration task runs (as the owner, with a DSN composed by the stack's
own code), `hydra serve all` (the deployed version, built by `make hydra`) with the environment of
the synthesized dev task definition (only deployment-bound values replaced: DSN, secrets, URLs,
listen addresses), the reference login/consent app, and the TLS front (Caddy) playing API
Gateway: the issuer carries the stage path (``https://127.0.0.2:<port>/dev/``), the front strips
it, answers ``/dev/admin`` with 404, and the login app lives on another host
(``https://127.0.0.3:<port>``), as in AWS. No ``--dev``.

Ctrl-C (SIGINT to the whole process group, as a terminal sends it) or SIGTERM stops everything it
started and removes its temporary folder. A start that fails half-way stops what it had started.
"""

from __future__ import annotations

import json
import os
import re
import secrets
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
from dataclasses import dataclass, field
from pathlib import Path

from hydra_functions import db_roles
from hydra_functions.dsn import dsn_from_secret
from hydra_on_aws.config.hydra import PREVIOUS_VERSION
from hydra_on_aws.local.front import FrontUnavailable, Site, caddy_config, loopback_hosts, start_caddy
from hydra_on_aws.local.login_app import LoginApp, HydraAdmin, User, UserStore, hash_password, serve_in_thread
from hydra_on_aws.local.postgres import LocalPostgres, PostgresUnavailable
from hydra_on_aws.local.tls import LocalCA

ROOT = Path(__file__).resolve().parents[2]
HYDRA_BINARY = ROOT / ".cache" / "bin" / "hydra"  # the deployed version: `make hydra`
PREVIOUS_HYDRA_BINARY = ROOT / ".cache" / "bin" / f"hydra-{PREVIOUS_VERSION}"  # the upgrade rehearsal's
# Settings whose values only make sense where the stack is deployed.
DEPLOYMENT_BOUND = ("URLS_", "SERVE_PUBLIC_HOST", "SERVE_ADMIN_HOST", "SERVE_PUBLIC_PORT", "SERVE_ADMIN_PORT",
                    "DSN", "SECRETS_")
# A password full of what URL parsers trip over, to prove the DSN encoding end to end.
RESERVED = "^#%/@:?&=+ [];,$!'\"\\`{}|<>~*()"


class LocalStackError(RuntimeError):
    pass


def reserved_password() -> str:
    mixed = list(secrets.token_urlsafe(18) + RESERVED)
    secrets.SystemRandom().shuffle(mixed)
    return "".join(mixed)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def task_environment(service_template: dict) -> dict[str, str]:
    """The Hydra container's environment from a synthesized Service stack template."""
    for resource in service_template["Resources"].values():
        if resource["Type"] != "AWS::ECS::TaskDefinition":
            continue
        for container in resource["Properties"]["ContainerDefinitions"]:
            if container.get("Command") == ["serve", "all"]:
                return {e["Name"]: e["Value"] for e in container.get("Environment", [])}
    raise LocalStackError("the synthesized Service stack has no `hydra serve all` container")


def synthesized_environment(env_name: str = "dev") -> dict[str, str]:
    """The environment of ``env_name``'s task definition, from a synthesis in a child process: no
    jsii (and no Node process) stays in this one, which a Ctrl-C to the process group would reach."""
    from hydra_on_aws.boundary.assembly import SynthesisFailed, synthesize
    try:
        templates = synthesize({"env": env_name})
    except SynthesisFailed as error:
        raise LocalStackError(f"the app does not synthesize: {error}") from None
    return task_environment(templates[f"Hydra-{env_name}-Service"])


def stage_of(env_name: str = "dev") -> str:
    from hydra_on_aws.config.settings import ENVIRONMENTS_KEY, cdk_json_context, load_config
    return load_config({"env": env_name, ENVIRONMENTS_KEY: cdk_json_context()[ENVIRONMENTS_KEY]}).api_stage_name


def localized_environment(synthesized: dict, *, issuer: str, login_base: str, public_port: int, admin_port: int,
                          dsn: str, system_secret: str) -> dict[str, str]:
    env = {k: v for k, v in synthesized.items() if not k.startswith(DEPLOYMENT_BOUND)}
    for key, value in env.items():
        if not isinstance(value, str):
            raise LocalStackError(f"{key} is not a literal in the synthesized task definition: {value!r}")
    env.update({
        "URLS_SELF_ISSUER": issuer, "URLS_SELF_PUBLIC": issuer,
        "URLS_LOGIN": f"{login_base}/login", "URLS_CONSENT": f"{login_base}/consent",
        "URLS_LOGOUT": f"{login_base}/logout", "URLS_ERROR": f"{login_base}/error",
        "URLS_POST_LOGOUT_REDIRECT": f"{login_base}/",
        "SERVE_PUBLIC_HOST": "127.0.0.1", "SERVE_PUBLIC_PORT": str(public_port),
        "SERVE_ADMIN_HOST": "127.0.0.1", "SERVE_ADMIN_PORT": str(admin_port),
        "DSN": dsn, "SECRETS_SYSTEM": system_secret,
    })
    return env


def _errors(output: str) -> str:
    """What a failed Hydra command said went wrong: its error lines (Go stack traces dropped)."""
    lines = [line for line in output.splitlines()
             if re.search(r"(?i)\berror\b|denied|fatal|failed|sqlstate", line) and not line.startswith("\t")]
    return "\n".join(lines[:12])[:3000] or output[-2000:]


def wait_for(url: str, *, seconds: float, process: subprocess.Popen | None = None, log: Path | None = None,
             context=None) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if process is not None and process.poll() is not None:
            tail = log.read_text()[-2000:] if log and log.exists() else ""
            raise LocalStackError(f"{Path(process.args[0]).name} exited with {process.returncode}:\n{tail}")
        try:
            with urllib.request.urlopen(url, timeout=2, context=context) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise LocalStackError(f"{url} did not answer within {seconds:.0f} s")


@dataclass
class LocalStack:
    """Everything `make local` runs; a context manager for the end-to-end tests too."""
    users: list[User] = field(default_factory=list)
    base_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="hydra-local-")))
    synthesized: dict[str, str] | None = None
    processes: list[subprocess.Popen] = field(default_factory=list)
    hydra_binary: Path = HYDRA_BINARY
    max_conns: int = 5                # max_conns in Hydra's DSN (hydra_max_conns of the environment)
    hydra_env: dict[str, str] = field(default_factory=dict)  # added to Hydra's environment (GOMAXPROCS)
    durable_database: bool = False    # PostgreSQL with fsync and synchronous commits (the load test)

    def __post_init__(self) -> None:
        self.public_host, self.login_host = loopback_hosts()
        self.stage = stage_of("dev")
        # The front's listening sockets: the hosts as clients name them (127.0.0.2, 127.0.0.3 on Linux).
        listen_login = self.login_host if self.login_host != "localhost" else "127.0.0.1"
        self.public_site = Site(self.public_host, self.public_host, free_port(self.public_host))
        self.login_site = Site(self.login_host, listen_login, free_port(listen_login))
        self.public_port, self.admin_port, self.login_app_port = free_port(), free_port(), free_port()
        self.issuer = f"https://{self.public_host}:{self.public_site.port}/{self.stage}/"
        self.login_base = f"https://{self.login_host}:{self.login_site.port}"
        self.admin_url = f"http://127.0.0.1:{self.admin_port}"
        self.cert = self.base_dir / "tls" / "ca.crt"  # what clients trust
        self.postgres: LocalPostgres | None = None
        self.login_server = None
        self.hydra_log = self.base_dir / "hydra.log"
        self.front_log = self.base_dir / "caddy.log"
        self._stopped = False

    # -- pieces
    def _database(self) -> tuple[str, str]:
        """Roles as in AWS; returns (owner DSN, runtime DSN), composed from credentials shaped like the
        RDS secrets by the DSN composer's own function."""
        pg = self.postgres
        master_password, owner_password, runtime_password = (reserved_password() for _ in range(3))
        self.master_password, self.runtime_password = master_password, runtime_password
        # Like Aurora's master user: owns the database, may create roles, is no superuser.
        pg.create_login("hydra_admin", master_password, database="hydra")
        pg.execute("ALTER ROLE hydra_admin CREATEROLE")
        with pg.connect("hydra", user="hydra_admin", password=master_password) as conn:
            db_roles.ensure_roles(conn, database="hydra", owner="hydra_owner", owner_password=owner_password,
                                  runtime="hydra", runtime_password=runtime_password)

        def dsn(user: str, password: str, max_conns: int) -> str:
            return dsn_from_secret({"username": user, "password": password, "host": pg.host, "port": pg.port,
                                    "dbname": "hydra"}, max_conns=max_conns)
        return dsn("hydra_owner", owner_password, 4), dsn("hydra", runtime_password, self.max_conns)

    def hydra(self, *args: str, dsn: str, env: dict[str, str] | None = None,
              binary: Path | None = None) -> subprocess.CompletedProcess:
        """A one-off Hydra command with ``dsn`` (migrations, janitor), like the one-off tasks in AWS."""
        binary = binary or self.hydra_binary
        if not binary.exists():
            raise LocalStackError(f"no Hydra binary at {binary}: run `make hydra`")
        result = subprocess.run([str(binary), *args], capture_output=True, text=True, timeout=300,
                                env={"PATH": os.environ.get("PATH", ""), **(env or {}), "DSN": dsn})
        if result.returncode != 0:
            raise LocalStackError(f"hydra {' '.join(args)} failed ({result.returncode}): {_errors(result.stderr)}")
        return result

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.cert))

    def _start_hydra(self) -> None:
        with open(self.hydra_log, "a") as log:
            process = subprocess.Popen([str(self.hydra_binary), "serve", "all"],
                                       env={"PATH": os.environ.get("PATH", ""), **self.env, **self.hydra_env},
                                       stdout=log, stderr=subprocess.STDOUT)
        self.processes.append(process)
        self.hydra_process = process
        wait_for(f"{self.admin_url}/health/ready", seconds=60, process=process, log=self.hydra_log)

    def deploy(self, binary: Path) -> subprocess.CompletedProcess:
        """A deploy of another Hydra image, in the order AWS runs it: the migration task (that image,
        the owner's DSN) while the old tasks still serve, then new tasks replace them."""
        self.hydra_binary = binary
        migrated = self.hydra("migrate", "sql", "up", "-e", "--yes", dsn=self.owner_dsn)
        self._terminate(self.hydra_process)
        self.processes.remove(self.hydra_process)
        self._start_hydra()
        return migrated

    def restart_hydra(self, **changes: str) -> None:
        """Stop `hydra serve all` and start it again with ``changes`` to its environment (a new DSN
        after a rotation, as the forced redeploy does in AWS)."""
        self._terminate(self.hydra_process)
        self.processes.remove(self.hydra_process)
        self.env.update(changes)
        self._start_hydra()

    def _front(self) -> None:
        ca = LocalCA.create(self.cert.parent)
        cert, key = ca.issue("front", sorted({self.public_host, self.login_host}))
        config = caddy_config(public=self.public_site, login=self.login_site, stage=self.stage,
                              hydra_public=f"127.0.0.1:{self.public_port}",
                              login_app=f"127.0.0.1:{self.login_app_port}", cert=cert, key=key,
                              state=self.base_dir / "caddy")
        process = start_caddy(config, self.base_dir / "caddy", self.front_log)
        self.processes.append(process)
        wait_for(f"{self.issuer}health/alive", seconds=20, process=process, log=self.front_log,
                 context=self.ssl_context())

    # -- lifecycle
    def start(self) -> "LocalStack":
        """Start everything; on any failure (Ctrl-C included) stop what was started, then raise."""
        try:
            return self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> "LocalStack":
        self.postgres = LocalPostgres(durable=self.durable_database)
        self.postgres.start()
        self.owner_dsn, self.dsn = self._database()
        # As the migration task runs it in AWS: the owner's DSN, the same command.
        self.hydra("migrate", "sql", "up", "-e", "--yes", dsn=self.owner_dsn)
        synthesized = self.synthesized if self.synthesized is not None else synthesized_environment("dev")
        self.system_secret = secrets.token_hex(32)
        self.env = localized_environment(synthesized, issuer=self.issuer, login_base=self.login_base,
                                         public_port=self.public_port, admin_port=self.admin_port, dsn=self.dsn,
                                         system_secret=self.system_secret)
        self._start_hydra()
        self.login_app = LoginApp(HydraAdmin(self.admin_url), UserStore(self.users))
        self.login_server = serve_in_thread(self.login_app, port=self.login_app_port)
        self._front()
        return self

    @staticmethod
    def _terminate(process: subprocess.Popen) -> None:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        process.wait()

    def stop(self) -> None:
        """Stop everything this stack started and remove its folder; safe to call more than once."""
        if self._stopped:
            return
        self._stopped = True
        if self.login_server is not None:
            self.login_server.shutdown()
            self.login_server.server_close()
        for process in reversed(self.processes):
            self._terminate(process)
        if self.postgres is not None:
            self.postgres.cleanup()
        shutil.rmtree(self.base_dir, ignore_errors=True)

    def __enter__(self) -> "LocalStack":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    # Ctrl-C must work even when SIGINT arrives ignored (a job started in the background inherits that,
    # and Python then installs no KeyboardInterrupt of its own).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)
    password = secrets.token_urlsafe(12)
    demo = User(username="demo", subject="user-demo", password=hash_password(password), email="demo@example.com",
                name="Demo User")
    stack = LocalStack(users=[demo])
    started = False
    try:
        print("starting PostgreSQL, Hydra, the login app and the TLS front (Ctrl-C stops them)", file=sys.stderr)
        stack.start()
        started = True
        from hydra_functions.clients import AdminApi, apply
        from hydra_on_aws.config.clients import load_clients
        applied = apply(AdminApi(stack.admin_url), load_clients("dev"),
                        on_secret=lambda c, s: print(f"client_secret for {c} (shown once): {s}"))
        print("\n".join(applied.lines()))
        print(json.dumps({
            "HYDRA_PUBLIC_API (issuer, TLS by the front)": stack.issuer,
            "HYDRA_ADMIN_API": stack.admin_url,
            "login/consent app": stack.login_base + "/login",
            "CA certificate to trust": str(stack.cert),
            "demo user": f"demo / {password}",
        }, indent=2))
        print("Ctrl-C stops everything.", flush=True)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        print("stopping" if started else "interrupted while starting: stopping what had started", file=sys.stderr)
        return 0 if started else 130
    except (LocalStackError, PostgresUnavailable, FrontUnavailable) as error:
        print(f"cannot start the local stack: {error}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the clean-up short
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
