"""The load test's derived figures (its measurements need the real Hydra: `make loadtest`)."""

from __future__ import annotations

import pytest

from devtools.costs import PRICES
from devtools.loadtest.__main__ import capacity, cost_per_million


def result(workload: str, hydra_cpu_ms: float, pg_cpu_ms: float = 10.0, wal_bytes: float = 4096.0,
           size: float = 600.0) -> dict:
    return {"workload": workload, "hydra_cpu_ms": hydra_cpu_ms, "pg_cpu_ms": pg_cpu_ms, "wal_bytes": wal_bytes,
            "size": size}


RESULTS = [result("client_credentials", 20.0), result("authorization_code", 25.0), result("refresh_token", 20.0),
           result("introspect", 4.0), result("mixed", 12.5)]


def test_per_task_figures_scale_by_the_tasks_vcpu_and_the_cpu_target(dev, prod):
    table = capacity(RESULTS, {"dev": dev.config, "prod": prod.config})
    # 1000 / 20 ms = 50 per vCPU; dev 0.25 vCPU: 12.5 (printed 12), 60% target: 7.5 (8), 2 tasks: 15
    assert "| dev | 0.25 vCPU / 0.5 GB | client_credentials | 12 | 8 req/s | 15 req/s (2 tasks) |" in table
    # prod 0.5 vCPU: 25, at 60%: 15, 6 tasks: 90
    assert "| prod | 0.5 vCPU / 1 GB | client_credentials | 25 | 15 req/s | 90 req/s (6 tasks) |" in table
    assert "introspect" not in table


def test_cost_per_million_items(prod):
    [_, _, row, *_] = cost_per_million(RESULTS, prod.config).splitlines()
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[0] == "client_credentials"
    fargate = PRICES["fargate"]["arm64"]
    vcpu_hours = 1e6 * 0.020 / 3600 / 0.6
    assert cells[1] == f"${vcpu_hours * (fargate['vcpu_hour'] + 2 * fargate['gb_hour']):.2f}"
    assert cells[2] == f"${1e6 * 0.010 / 3600 / 0.25 * PRICES['aurora_serverless_v2_acu_hour']:.2f}"
    assert cells[3] == f"${PRICES['aurora_io_per_million']:.2f}", "one 4 KiB write per request"
    assert cells[4] == "$3.50" and cells[6] == "$0.60", "API Gateway and WAF per request (prod has WAF)"
    total = sum(float(c.strip("$*")) for c in cells[1:7])
    assert float(cells[7].strip("*$")) == pytest.approx(total, abs=0.011)


def test_without_waf_there_is_no_waf_column(dev):
    assert "WAF" not in cost_per_million(RESULTS, dev.config)
