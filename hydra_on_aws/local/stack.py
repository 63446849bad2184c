"""`make local`: the dev stack's Hydra, for real, on this machine.

PostgreSQL (Debian's), the same database roles as in AWS, the same migration
command the migration task runs (as the owner, with a DSN composed by the
stack's own code), `hydra serve all` with the environment of the synthesized
dev task definition (only deployment-bound values replaced: DSN, secrets,
URLs, listen addresses), the reference login/consent app, and nginx
terminating TLS in front of both, playing API Gateway's part (so the issuer
is https, as in production, and /admin answers 404). No `--dev`.
Ctrl-C stops everything it started.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
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
from hydra_on_aws.local.postgres import LocalPostgres, PostgresUnavailable, free_port, self_signed_certificate
from hydra_on_aws.local.login_app import LoginApp, HydraAdmin, User, UserStore, hash_password, serve_in_thread

ROOT = Path(__file__).resolve().parents[2]
HYDRA_BINARY = ROOT / ".cache" / "bin" / "hydra"
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
    from app import build_app
    assembly = build_app({"env": env_name}).synth()
    return task_environment(assembly.get_stack_by_name(f"Hydra-{env_name}-Service").template)


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


def wait_for(url: str, *, seconds: float, process: subprocess.Popen | None = None, log: Path | None = None,
             context=None) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if process is not None and process.poll() is not None:
            tail = log.read_text()[-2000:] if log and log.exists() else ""
            raise LocalStackError(f"{process.args[0]} exited with {process.returncode}:\n{tail}")
        try:
            with urllib.request.urlopen(url, timeout=2, context=context) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.3)
    raise LocalStackError(f"{url} did not answer within {seconds:.0f} s")


NGINX_CONF = """
{user}worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/nginx-error.log warn;
events {{ worker_connections 256; }}
http {{
  access_log off;
  client_body_temp_path {dir}/client_body; proxy_temp_path {dir}/proxy; fastcgi_temp_path {dir}/fastcgi;
  uwsgi_temp_path {dir}/uwsgi; scgi_temp_path {dir}/scgi;
  ssl_certificate {cert}; ssl_certificate_key {key}; ssl_protocols TLSv1.2 TLSv1.3;
  proxy_set_header X-Forwarded-Proto https;
  proxy_set_header X-Forwarded-For $remote_addr;
  large_client_header_buffers 4 16k;
  server {{
    listen 127.0.0.1:{auth_port} ssl;
    # API Gateway answers /admin itself; so does this stand-in.
    location /admin {{ return 404; }}
    location / {{ proxy_pass http://127.0.0.1:{hydra_public}; proxy_set_header Host $host:$server_port; }}
  }}
  server {{
    listen 127.0.0.1:{login_port} ssl;
    location / {{ proxy_pass http://127.0.0.1:{login_app}; proxy_set_header Host $host:$server_port; }}
  }}
}}
"""


@dataclass
class LocalStack:
    """Everything `make local` runs; a context manager for the end-to-end tests too."""
    users: list[User] = field(default_factory=list)
    base_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="hydra-local-")))
    synthesized: dict[str, str] | None = None
    processes: list[subprocess.Popen] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.auth_port, self.login_port = free_port(), free_port()
        self.public_port, self.admin_port, self.login_app_port = free_port(), free_port(), free_port()
        self.issuer = f"https://127.0.0.1:{self.auth_port}/"
        self.login_base = f"https://127.0.0.1:{self.login_port}"
        self.admin_url = f"http://127.0.0.1:{self.admin_port}"
        self.cert = self.base_dir / "tls.crt"
        self.postgres: LocalPostgres | None = None
        self.login_server = None
        self.hydra_log = self.base_dir / "hydra.log"

    # -- pieces
    def _database(self) -> tuple[str, str]:
        """Roles as in AWS; returns (owner DSN, runtime DSN), composed from credentials shaped like the
        RDS secrets by the DSN composer's own function."""
        pg = self.postgres
        master_password, owner_password, runtime_password = (reserved_password() for _ in range(3))
        self.runtime_password = runtime_password
        pg.create_login("hydra_admin", master_password, database="hydra")
        pg.execute("ALTER ROLE hydra_admin CREATEROLE")
        from hydra_functions import pgwire
        with pgwire.connect(host=pg.host, port=pg.port, user="hydra_admin", password=master_password,
                            database="hydra") as conn:
            db_roles.ensure_roles(conn, database="hydra", owner="hydra_owner", owner_password=owner_password,
                                  runtime="hydra", runtime_password=runtime_password)
        def dsn(user: str, password: str, max_conns: int) -> str:
            return dsn_from_secret({"username": user, "password": password, "host": pg.host, "port": pg.port,
                                    "dbname": "hydra"}, max_conns=max_conns)
        return dsn("hydra_owner", owner_password, 4), dsn("hydra", runtime_password, 5)

    def hydra(self, *args: str, dsn: str) -> subprocess.CompletedProcess:
        if not HYDRA_BINARY.exists():
            raise LocalStackError(f"no Hydra binary at {HYDRA_BINARY}: run `make hydra`")
        result = subprocess.run([str(HYDRA_BINARY), *args], env={"PATH": os.environ.get("PATH", ""), "DSN": dsn},
                                capture_output=True, text=True, timeout=300)
        if result.returncode != 0:
            raise LocalStackError(f"hydra {' '.join(args)} failed ({result.returncode}): {result.stderr[-2000:]}")
        return result

    def _tls(self) -> None:
        key = self.base_dir / "tls.key"
        self_signed_certificate(self.cert, key, error=LocalStackError)
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        if not Path(nginx).exists():
            raise LocalStackError("nginx is not installed (Debian: apt-get install nginx-light); .ci/run installs it")
        conf = self.base_dir / "nginx.conf"
        conf.write_text(NGINX_CONF.format(
            user="user root;\n" if os.geteuid() == 0 else "", dir=self.base_dir, cert=self.cert, key=key,
            auth_port=self.auth_port, login_port=self.login_port, hydra_public=self.public_port,
            login_app=self.login_app_port))
        process = subprocess.Popen([nginx, "-c", str(conf), "-p", str(self.base_dir)],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.processes.append(process)

    def ssl_context(self):
        import ssl
        return ssl.create_default_context(cafile=str(self.cert))

    # -- lifecycle
    def start(self) -> "LocalStack":
        self.postgres = LocalPostgres()
        self.postgres.start()
        self.owner_dsn, self.dsn = self._database()
        self.hydra("migrate", "sql", "up", "-e", "--yes", dsn=self.owner_dsn)
        synthesized = self.synthesized if self.synthesized is not None else synthesized_environment("dev")
        self.system_secret = secrets.token_hex(32)
        self.env = localized_environment(synthesized, issuer=self.issuer, login_base=self.login_base,
                                         public_port=self.public_port, admin_port=self.admin_port, dsn=self.dsn,
                                         system_secret=self.system_secret)
        with open(self.hydra_log, "w") as log:
            process = subprocess.Popen([str(HYDRA_BINARY), "serve", "all"], env={"PATH": os.environ.get("PATH", ""),
                                                                                 **self.env},
                                       stdout=log, stderr=subprocess.STDOUT)
        self.processes.append(process)
        wait_for(f"{self.admin_url}/health/ready", seconds=60, process=process, log=self.hydra_log)
        self.login_app = LoginApp(HydraAdmin(self.admin_url), UserStore(self.users))
        self.login_server = serve_in_thread(self.login_app, port=self.login_app_port)
        self._tls()
        wait_for(f"{self.issuer}health/alive", seconds=20, context=self.ssl_context())
        return self

    def stop(self) -> None:
        if self.login_server is not None:
            self.login_server.shutdown()
        for process in reversed(self.processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
        if self.postgres is not None:
            self.postgres.cleanup()
        shutil.rmtree(self.base_dir, ignore_errors=True)

    def __enter__(self) -> "LocalStack":
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main() -> int:
    password = secrets.token_urlsafe(12)
    demo = User(username="demo", subject="user-demo", password=hash_password(password), email="demo@example.com",
                name="Demo User")
    try:
        stack = LocalStack(users=[demo]).start()
    except (LocalStackError, PostgresUnavailable) as error:
        print(f"cannot start the local stack: {error}", file=sys.stderr)
        return 1
    try:
        from hydra_functions.clients import AdminApi, apply
        from hydra_on_aws.config.clients import load_clients
        applied = apply(AdminApi(stack.admin_url), load_clients("dev"),
                        on_secret=lambda c, s: print(f"client_secret for {c} (shown once): {s}"))
        print("\n".join(applied.lines()))
        print(json.dumps({
            "HYDRA_PUBLIC_API (issuer, TLS by nginx)": stack.issuer,
            "HYDRA_ADMIN_API": stack.admin_url,
            "login/consent app": stack.login_base + "/login",
            "TLS certificate to trust": str(stack.cert),
            "demo user": f"demo / {password}",
        }, indent=2))
        print("Ctrl-C stops everything.")
        signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
