"""`make loadtest`: what one Hydra task serves, on the real Hydra and a real PostgreSQL, on loopback.

    python -m devtools.loadtest [--env prod] [--seconds 20] [--users 16]

Setup: the deployed Hydra version with the environment of ``--env``'s synthesized task definition
(pool size included), ``GOMAXPROCS=1`` (so its figures are per vCPU), and PostgreSQL with fsync
and synchronous commits on. Load: locust (FastHttpUser, closed loop, no think time) against Hydra's
plain-HTTP ports, as the NLBs reach them behind API Gateway's TLS. Each workload runs alone, then
all of them mixed, each bounded in time (and the code exchange in codes); then the resource-server
validator's benchmark. Prints Markdown tables; stops everything by itself.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import csv
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

import requests

from devtools import bench_tokens
from hydra_functions.clients import AdminApi, apply, validate_client
from hydra_on_aws.config.settings import ENVIRONMENTS_KEY, cdk_json_context, load_config
from hydra_on_aws.local.login_app import User
from hydra_on_aws.local.stack import LocalStack, synthesized_environment

HERE = Path(__file__).resolve().parent
AUDIENCE = "https://api.example.com"
REDIRECT = "http://localhost:8000/oauth/callback"
VERIFIER = "loadtest-verifier-" + "x" * 40
WORKLOADS = ("client_credentials", "authorization_code", "refresh_token", "introspect", "jwks_discovery", "mixed")
TICK = os.sysconf("SC_CLK_TCK")


def _s256(verifier: str) -> str:
    import base64
    import hashlib
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


# ------------------------------------------------------------ CPU and the database ---

def _cpu_of(pid: int, *, children: bool = False) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12]) + ((int(fields[13]) + int(fields[14])) if children else 0)
    return ticks / TICK


def _postgres_cpu(postmaster: int) -> float:
    """The server's CPU seconds: the postmaster, its live children, and the children it has reaped."""
    total = _cpu_of(postmaster, children=True)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone since the listing
        if int(fields[1]) == postmaster:
            total += (int(fields[11]) + int(fields[12])) / TICK
    return total


class ConnectionSampler(threading.Thread):
    """Hydra's database connections, sampled from pg_stat_activity every 0.2 s: open and in use."""

    def __init__(self, stack: LocalStack) -> None:
        super().__init__(daemon=True)
        self.stack, self.samples, self.done = stack, [], threading.Event()

    def run(self) -> None:
        with self.stack.postgres.connect("hydra") as conn:
            while not self.done.is_set():
                rows = conn.run("SELECT count(*), count(*) FILTER (WHERE state <> 'idle') FROM pg_stat_activity "
                                "WHERE usename = 'hydra'")
                self.samples.append(tuple(rows[0]))
                self.done.wait(0.2)

    def stop(self) -> tuple[int, int]:
        self.done.set()
        self.join()
        return max((s[0] for s in self.samples), default=0), max((s[1] for s in self.samples), default=0)


def _peak_rss(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _wal_bytes(stack: LocalStack) -> int:
    return int(stack.postgres.execute("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn")[0][0][0])


# ----------------------------------------------------------------------- setup ---

def _flow(stack: LocalStack, admin: AdminApi, n: int) -> str:
    """One authorization code, the login and consent accepted through the admin API (the login app's
    part, not measured)."""
    browser = requests.Session()
    browser.trust_env, browser.verify = False, str(stack.cert)
    query = urllib.parse.urlencode({"client_id": "loadtest-app", "response_type": "code", "redirect_uri": REDIRECT,
                                    "scope": "openid offline_access", "state": f"state-{n:08d}",
                                    "code_challenge": _s256(VERIFIER), "code_challenge_method": "S256",
                                    "audience": AUDIENCE})
    url = f"{stack.issuer}oauth2/auth?{query}"
    for _ in range(8):
        location = browser.get(url, allow_redirects=False).headers["Location"]
        parsed = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))
        if location.startswith(REDIRECT):
            return parsed["code"]
        for kind, body in (("login", {"subject": f"load-user-{n % 50}"}),
                           ("consent", {"grant_scope": ["openid", "offline_access"],
                                        "grant_access_token_audience": [AUDIENCE]})):
            if f"{kind}_challenge" in parsed:
                status, answer, _ = admin.request(
                    "PUT", f"/admin/oauth2/auth/requests/{kind}/accept?{kind}_challenge="
                           f"{parsed[f'{kind}_challenge']}", body)
                location = answer["redirect_to"]
        url = location
    raise RuntimeError("the authorization flow did not reach the callback")


def _codes(stack: LocalStack, count: int) -> list[str]:
    admin = AdminApi(stack.admin_url)
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        return list(pool.map(lambda n: _flow(stack, admin, n), range(count)))


def _token(public: str, form: dict, auth=None) -> dict:
    answer = requests.post(f"{public}/oauth2/token", data=form, auth=auth, timeout=10)
    answer.raise_for_status()
    return answer.json()


def prepare(stack: LocalStack) -> dict:
    """The clients (a confidential service, a public app with PKCE) and 200 access tokens."""
    secrets: dict[str, str] = {}
    apply(AdminApi(stack.admin_url), [
        validate_client({"client_id": "loadtest-service", "grant_types": ["client_credentials"],
                         "scope": "reports", "token_endpoint_auth_method": "client_secret_basic",
                         "audience": [AUDIENCE]}),
        validate_client({"client_id": "loadtest-app", "grant_types": ["authorization_code", "refresh_token"],
                         "response_types": ["code"], "scope": "openid offline_access", "audience": [AUDIENCE],
                         "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none"}),
    ], on_secret=secrets.__setitem__)
    public = f"http://127.0.0.1:{stack.public_port}"
    service = ("loadtest-service", secrets["loadtest-service"])
    form = {"grant_type": "client_credentials", "scope": "reports", "audience": AUDIENCE}
    return {"public": public, "admin": stack.admin_url, "service": list(service), "service_scope": "reports",
            "audience": AUDIENCE, "public_client": "loadtest-app", "redirect_uri": REDIRECT, "verifier": VERIFIER,
            "access_tokens": [_token(public, form, service)["access_token"] for _ in range(200)],
            "refresh_tokens": [], "codes": []}


def refill(stack: LocalStack, plan: dict, *, codes: int, refresh_tokens: int) -> dict:
    """Fresh authorization codes (they live 10 minutes, and each is used once) and refresh tokens (a
    run consumes the ones it starts with)."""
    made = _codes(stack, codes + refresh_tokens)
    refresh = [_token(plan["public"], {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
                                       "client_id": "loadtest-app", "code_verifier": VERIFIER})["refresh_token"]
               for code in made[codes:]]
    return {**plan, "codes": made[:codes], "refresh_tokens": refresh}


# -------------------------------------------------------------------- a run ---

def run(stack: LocalStack, plan: dict, workload: str, *, users: int, seconds: int, folder: Path,
        timeout: float = 60) -> dict:
    plan_file = folder / f"plan-{workload}.json"
    plan_file.write_text(json.dumps(plan))
    postmaster = int((stack.postgres.data / "postmaster.pid").read_text().split()[0])
    hydra = stack.hydra_process.pid
    sampler = ConnectionSampler(stack)
    wal, hydra_cpu, pg_cpu = _wal_bytes(stack), _cpu_of(hydra), _postgres_cpu(postmaster)
    sampler.start()
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "locust", "-f", str(HERE / "locustfile.py"), "--headless", "--users", str(users),
         "--spawn-rate", str(users), "--run-time", f"{seconds}s", "--stop-timeout", "2", "--csv",
         str(folder / workload), "--only-summary", "--loglevel", "WARNING", "--exit-code-on-error", "0"],
        env={**os.environ, "LOADTEST_PLAN": str(plan_file), "LOADTEST_WORKLOAD": workload,
             "LOADTEST_TIMEOUT": str(timeout)},
        capture_output=True, text=True, timeout=seconds + 120)
    wall = time.monotonic() - started
    hydra_cpu, pg_cpu = _cpu_of(hydra) - hydra_cpu, _postgres_cpu(postmaster) - pg_cpu
    wal = _wal_bytes(stack) - wal
    open_conns, busy_conns = sampler.stop()
    if result.returncode != 0:
        raise SystemExit(f"locust failed for {workload}:\n{result.stderr[-3000:]}")
    with open(folder / f"{workload}_stats.csv") as handle:
        rows = {row["Name"]: row for row in csv.DictReader(handle)}
    total = rows["Aggregated"]
    requests_done = int(total["Request Count"])
    return {
        "workload": workload, "users": users, "requests": requests_done, "hydra_rss_mib": _peak_rss(hydra), "failures": int(total["Failure Count"]),
        "rps": float(total["Requests/s"]), "p50": float(total["50%"]), "p95": float(total["95%"]),
        "p99": float(total["99%"]), "hydra_cpu_ms": 1000 * hydra_cpu / max(requests_done, 1),
        "pg_cpu_ms": 1000 * pg_cpu / max(requests_done, 1), "hydra_busy": hydra_cpu / wall,
        "wal_bytes": wal / max(requests_done, 1), "db_open": open_conns, "db_busy": busy_conns,
        "size": float(total["Average Content Size"]),
        "names": {name: int(row["Request Count"]) for name, row in rows.items() if name != "Aggregated"},
    }


def table(results: list[dict], max_conns: int) -> str:
    lines = [
        "| workload | req/s | p50 / p95 / p99 (ms) | errors | DB connections open / in use "
        f"(pool {max_conns}) | Hydra CPU ms/req | PostgreSQL CPU ms/req | WAL bytes/req |",
        "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        lines.append(f"| {r['workload']} | {r['rps']:.0f} | {r['p50']:.0f} / {r['p95']:.0f} / {r['p99']:.0f} | "
                     f"{r['failures']} of {r['requests']} | {r['db_open']} / {r['db_busy']} | "
                     f"{r['hydra_cpu_ms']:.2f} | {r['pg_cpu_ms']:.2f} | {r['wal_bytes']:.0f} |")
    return "\n".join(lines)


def per_vcpu(results: list[dict]) -> str:
    lines = ["| workload | Hydra busy | req/s per Hydra vCPU (1000 / CPU ms) |", "|---|---:|---:|"]
    for r in results:
        lines.append(f"| {r['workload']} | {100 * r['hydra_busy']:.0f}% | {1000 / r['hydra_cpu_ms']:.0f} |")
    return "\n".join(lines)


TOKEN_WORKLOADS = ("client_credentials", "authorization_code", "refresh_token")
ACU_VCPU = 0.25   # an ACU is about 2 GiB with "corresponding CPU": the r-class ratio, 8 GiB per vCPU


def capacity(results: list[dict], configs: dict) -> str:
    """Per task at each environment's size: what one task serves at 100% and at the autoscaling target."""
    by_name = {r["workload"]: r for r in results}
    lines = ["| environment | task | workload | req/s per task at 100% CPU | autoscaling adds a task at | "
             "the largest fleet (max tasks) at the target |", "|---|---|---|---:|---:|---:|"]
    for env, config in configs.items():
        vcpu = config.hydra_cpu / 1024
        target = config.hydra_cpu_target_percent / 100
        for name in ("client_credentials", "authorization_code", "refresh_token", "mixed"):
            per_task = 1000 / by_name[name]["hydra_cpu_ms"] * vcpu
            lines.append(f"| {env} | {vcpu:g} vCPU / {config.hydra_memory / 1024:g} GB | {name} | {per_task:.0f} | "
                         f"{per_task * target:.0f} req/s | {per_task * target * config.hydra_max_tasks:.0f} req/s "
                         f"({config.hydra_max_tasks} tasks) |")
    return "\n".join(lines)


def cost_per_million(results: list[dict], config) -> str:
    """What a million requests of each token workload cost in ``config``'s environment, item by item."""
    from devtools.costs import PRICES
    arch = "arm64" if config.hydra_architecture == "arm64" else "x86_64"
    fargate = PRICES["fargate"][arch]
    gb_per_vcpu = (config.hydra_memory / 1024) / (config.hydra_cpu / 1024)
    target = config.hydra_cpu_target_percent / 100
    lines = [f"| workload ({config.env_name}) | Fargate | Aurora capacity | Aurora I/O | API Gateway | NLB | "
             + ("WAF | " if config.waf_enabled else "") + "total |",
             "|---|---:|---:|---:|---:|---:|" + ("---:|" if config.waf_enabled else "") + "---:|"]
    for r in results:
        if r["workload"] not in TOKEN_WORKLOADS:
            continue
        vcpu_hours = 1e6 * r["hydra_cpu_ms"] / 1000 / 3600 / target     # tasks run at the autoscaling target
        items = [vcpu_hours * (fargate["vcpu_hour"] + gb_per_vcpu * fargate["gb_hour"]),
                 1e6 * r["pg_cpu_ms"] / 1000 / 3600 / ACU_VCPU * PRICES["aurora_serverless_v2_acu_hour"],
                 1e6 * max(r["wal_bytes"] / 4096, 0) / 1e6 * PRICES["aurora_io_per_million"],
                 PRICES["api_gateway_rest_per_million"],
                 # processed bytes (1 GB per NLCU-hour); request about 400 bytes beside the answer
                 1e6 * (r["size"] + 400) / 1e9 * PRICES["nlcu_hour"]]
        if config.waf_enabled:
            items.append(PRICES["waf_per_million"])
        lines.append(f"| {r['workload']} | " + " | ".join(f"${v:.2f}" for v in items) + f" | **${sum(items):.2f}** |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="prod", help="whose task definition and pool size (default: prod)")
    parser.add_argument("--seconds", type=int, default=20, help="length of each workload's run")
    parser.add_argument("--users", type=int, default=8,
                        help="concurrent locust users (closed loop); keep it below the pool, see the stall probe")
    parser.add_argument("--codes", type=int, default=2500, help="authorization codes made for the exchange runs")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    began = time.monotonic()
    print("measuring the token validator (before anything else runs) ...", file=sys.stderr, flush=True)
    validator = bench_tokens.jwt_path()
    context = {"env": args.env, ENVIRONMENTS_KEY: cdk_json_context()[ENVIRONMENTS_KEY]}
    config = load_config(context)
    print(f"synthesizing {args.env} for Hydra's environment ...", file=sys.stderr, flush=True)
    environment = synthesized_environment(args.env)
    stack = LocalStack(users=[User(username="nobody", subject="nobody", password="x")], synthesized=environment,
                       max_conns=config.hydra_max_conns, hydra_env={"GOMAXPROCS": "1"}, durable_database=True)
    results = []
    with tempfile.TemporaryDirectory(prefix="hydra-loadtest-") as folder, stack:
        plan = prepare(stack)
        for workload in WORKLOADS:
            if workload in ("authorization_code", "refresh_token", "mixed"):
                codes = {"authorization_code": args.codes, "mixed": args.codes // 2}.get(workload, 0)
                print(f"making {codes} authorization codes and {args.users} refresh tokens ...", file=sys.stderr,
                      flush=True)
                started = time.monotonic()
                plan = refill(stack, plan, codes=codes, refresh_tokens=args.users)
                print(f"  ({time.monotonic() - started:.0f} s)", file=sys.stderr, flush=True)
            print(f"running {workload} for {args.seconds} s ...", file=sys.stderr, flush=True)
            results.append(run(stack, plan, workload, users=args.users, seconds=args.seconds, folder=Path(folder)))
        # Hydra v26.2.0 (ory/hydra#3863): a client_credentials request takes the signing-key lock outside
        # its transaction, then waits for a pool connection, while the requests holding every connection
        # wait for that lock. With more concurrent requests than the pool, the task stalls until callers
        # give up. The probe shows it: twice the pool, 5 s timeouts.
        probe_users = 2 * config.hydra_max_conns
        print(f"stall probe: client_credentials with {probe_users} users (pool {config.hydra_max_conns}) ...",
              file=sys.stderr, flush=True)
        stall = run(stack, plan, "stall_probe", users=probe_users, seconds=10, folder=Path(folder), timeout=5)
    print(f"## Load test: Hydra {Path(stack.hydra_binary).name} ({args.env} environment, pool {config.hydra_max_conns}, "
          f"GOMAXPROCS=1), {args.users} users, {args.seconds} s per workload")
    print(f"{time.strftime('%Y-%m-%d')}, {platform.machine()}, {os.cpu_count()} CPUs "
          f"({_cpu_model()}), Python {platform.python_version()}, total {time.monotonic() - began:.0f} s\n")
    print(table(results, config.hydra_max_conns) + "\n")
    print(per_vcpu(results))
    print(f"Hydra's peak memory (RSS) over the runs: {max(r['hydra_rss_mib'] for r in results):.0f} MiB\n")
    configs = {env: load_config({"env": env, ENVIRONMENTS_KEY: cdk_json_context()[ENVIRONMENTS_KEY]})
               for env in ("dev", "prod")}
    print(capacity(results, configs) + "\n")
    print(cost_per_million(results, configs["prod"]) + "\n")
    print(f"Stall probe (ory/hydra#3863): client_credentials with {stall['users']} concurrent users against a pool "
          f"of {config.hydra_max_conns}, 5 s timeout: {stall['requests'] - stall['failures']} answered, "
          f"{stall['failures']} timed out, {stall['rps']:.1f} req/s, DB connections in use {stall['db_busy']}.\n")
    print(bench_tokens.report_jwt(validator))
    if args.json:
        Path(args.json).write_text(json.dumps({"results": results, "validator": validator, "stall": stall,
                                               "env": args.env, "max_conns": config.hydra_max_conns}, indent=1))
    return 0


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


if __name__ == "__main__":
    sys.exit(main())
