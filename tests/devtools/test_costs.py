"""The idle cost table: computed from the synthesized templates, and the README shows it."""

from __future__ import annotations

import copy

import pytest

from devtools.costs import HOURS, PRICES, idle_costs, idle_table, idle_total
from devtools.docs import README, readme_section


def by_item(templates) -> dict:
    return {line.item: line for line in idle_costs(templates)}


def test_the_readme_table_is_the_one_the_templates_give(dev, prod):
    assert readme_section(README.read_text(), "idle-cost") == idle_table({
        "dev": {dev.stack_name(p): t for p, t in dev.templates.items()},
        "prod": {prod.stack_name(p): t for p, t in prod.templates.items()}}), "run `make docs`"


def test_prod_keeps_its_floors_and_idles_under_300_dollars(prod):
    items = by_item(prod.templates)
    assert items["NAT gateways"].detail.startswith("2 x"), "one NAT gateway per AZ"
    assert items["Aurora Serverless v2"].detail == "2 instance(s) x 0.5 ACU minimum", "writer and a failover reader"
    assert items["Fargate (Hydra tasks)"].detail.startswith("2 x 0.5 vCPU"), "two tasks"
    assert "WAF" in items and items["Network load balancers"].detail.startswith("2 x")
    assert idle_total(prod.templates) < 300


def test_the_figures_follow_the_templates(prod):
    templates = copy.deepcopy(prod.templates)
    [cluster] = [r for r in templates["Stateful"]["Resources"].values() if r["Type"] == "AWS::RDS::DBCluster"]
    cluster["Properties"]["ServerlessV2ScalingConfiguration"]["MinCapacity"] = 1
    assert idle_total(templates) - idle_total(prod.templates) == pytest.approx(
        2 * 0.5 * PRICES["aurora_serverless_v2_acu_hour"] * HOURS), "a second half ACU on each instance"


def test_a_price_the_table_does_not_know_is_named(dev):
    templates = copy.deepcopy(dev.templates)
    for resource in templates["Ingress"]["Resources"].values():
        if resource["Type"] == "AWS::EC2::Instance":
            resource["Properties"]["InstanceType"] = "m7i.48xlarge"
    with pytest.raises(KeyError, match="no price for instance type 'm7i.48xlarge'"):
        idle_costs(templates)
