"""What each environment costs idle, read from its synthesized templates, and what a million tokens cost.

Idle: the resources that bill by the hour whether or not a request arrives, at their floor (the
autoscaler's minimum tasks, Aurora's minimum capacity on every instance). Usage-priced items
(requests, log ingestion, data processed) are zero when idle and come with the per-token figures.
Prices: devtools/prices.json (us-east-1 list prices; its "about" says where they come from).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

PRICES = json.loads((Path(__file__).resolve().parent / "prices.json").read_text())
HOURS = PRICES["hours_per_month"]


@dataclass(frozen=True)
class Line:
    item: str
    detail: str
    monthly: float


def _resources(templates: dict[str, dict]) -> Iterable[tuple[str, dict]]:
    for template in templates.values():
        for resource in template.get("Resources", {}).values():
            yield resource["Type"], resource.get("Properties", {})


def _of(templates: dict[str, dict], kind: str) -> list[dict]:
    return [props for t, props in _resources(templates) if t == kind]


def _hourly(table: dict[str, float], key: str, what: str) -> float:
    if key not in table:
        raise KeyError(f"devtools/prices.json has no price for {what} {key!r}: add it from the AWS pricing page")
    return table[key]


def _ref_id(value: Any) -> str | None:
    return value.get("Ref") if isinstance(value, dict) else None


def idle_costs(templates: dict[str, dict]) -> list[Line]:
    lines: list[Line] = []
    nats = _of(templates, "AWS::EC2::NatGateway")
    if nats:
        lines.append(Line("NAT gateways", f"{len(nats)} x ${PRICES['nat_gateway_hour']}/h",
                          len(nats) * PRICES["nat_gateway_hour"] * HOURS))
    instances = _of(templates, "AWS::EC2::Instance")
    nat_instances = [i for i in instances if i.get("SourceDestCheck") is False]
    public_ips = len(_of(templates, "AWS::EC2::EIP")) + len(nat_instances)
    for label, group in (("NAT instance", nat_instances),
                         ("SSM bastion", [i for i in instances if i.get("SourceDestCheck") is not False])):
        for props in group:
            kind = props["InstanceType"]
            lines.append(Line(label, kind, _hourly(PRICES["ec2_hour"], kind, "instance type") * HOURS))
    if public_ips:
        lines.append(Line("Public IPv4 addresses", f"{public_ips} x ${PRICES['public_ipv4_hour']}/h",
                          public_ips * PRICES["public_ipv4_hour"] * HOURS))
    balancers = _of(templates, "AWS::ElasticLoadBalancingV2::LoadBalancer")
    nlbs = [b for b in balancers if b.get("Type") == "network"]
    albs = [b for b in balancers if b.get("Type", "application") == "application"]
    if nlbs:
        lines.append(Line("Network load balancers", f"{len(nlbs)} x ${PRICES['nlb_hour']}/h",
                          len(nlbs) * PRICES["nlb_hour"] * HOURS))
    if albs:
        lines.append(Line("Application load balancers (introspection door)", f"{len(albs)} x ${PRICES['alb_hour']}/h",
                          len(albs) * PRICES["alb_hour"] * HOURS))
    endpoints = [e for e in _of(templates, "AWS::EC2::VPCEndpoint") if e.get("VpcEndpointType") == "Interface"]
    if endpoints:
        azs = sum(len(e.get("SubnetIds", [])) for e in endpoints)
        lines.append(Line("Interface VPC endpoints", f"{len(endpoints)} in {azs} subnet(s)",
                          azs * PRICES["interface_endpoint_az_hour"] * HOURS))

    [cluster] = _of(templates, "AWS::RDS::DBCluster")
    minimum = float(cluster.get("ServerlessV2ScalingConfiguration", {}).get("MinCapacity", 0))
    db = _of(templates, "AWS::RDS::DBInstance")
    serverless = [i for i in db if i.get("DBInstanceClass") == "db.serverless"]
    if serverless:
        lines.append(Line("Aurora Serverless v2", f"{len(serverless)} instance(s) x {minimum:g} ACU minimum",
                          len(serverless) * minimum * PRICES["aurora_serverless_v2_acu_hour"] * HOURS))
    for props in db:
        if props.get("DBInstanceClass") != "db.serverless":
            kind = props["DBInstanceClass"]
            lines.append(Line("Aurora provisioned instance", kind,
                              _hourly(PRICES["aurora_provisioned_hour"], kind, "instance class") * HOURS))

    lines.extend(_fargate(templates))
    acls = _of(templates, "AWS::WAFv2::WebACL")
    if acls:
        rules = sum(len(a.get("Rules", [])) for a in acls)
        lines.append(Line("WAF", f"{len(acls)} web ACL, {rules} rules",
                          len(acls) * PRICES["waf_web_acl_month"] + rules * PRICES["waf_rule_month"]))
    for kind, label, price in (("AWS::SecretsManager::Secret", "Secrets Manager secrets", "secret_month"),
                               ("AWS::KMS::Key", "KMS keys", "kms_key_month"),
                               ("AWS::CloudWatch::Alarm", "CloudWatch alarms", "alarm_month")):
        count = len(_of(templates, kind))
        if count:
            lines.append(Line(label, f"{count} x ${PRICES[price]:.2f}/month", count * PRICES[price]))
    return lines


def _fargate(templates: dict[str, dict]) -> list[Line]:
    """The serving tasks at the autoscaler's minimum: the service's task definition, its size and CPU."""
    definitions = {}
    for template in templates.values():
        for logical_id, resource in template.get("Resources", {}).items():
            if resource["Type"] == "AWS::ECS::TaskDefinition":
                definitions[logical_id] = resource["Properties"]
    lines = []
    services = _of(templates, "AWS::ECS::Service")
    targets = [t for t in _of(templates, "AWS::ApplicationAutoScaling::ScalableTarget")
               if t.get("ServiceNamespace") == "ecs"]
    for service, target in zip(services, targets):
        definition = definitions[_ref_id(service["TaskDefinition"])]
        vcpu, gb = int(definition["Cpu"]) / 1024, int(definition["Memory"]) / 1024
        arch = definition.get("RuntimePlatform", {}).get("CpuArchitecture", "X86_64").lower()
        price = PRICES["fargate"]["arm64" if arch == "arm64" else "x86_64"]
        tasks = int(target["MinCapacity"])
        lines.append(Line("Fargate (Hydra tasks)", f"{tasks} x {vcpu:g} vCPU / {gb:g} GB, {arch}",
                          tasks * (vcpu * price["vcpu_hour"] + gb * price["gb_hour"]) * HOURS))
    return lines


def idle_table(environments: dict[str, dict[str, dict]]) -> str:
    """A Markdown table: one column per environment, one row per item, and the total."""
    costs = {env: {line.item: line for line in idle_costs(templates)} for env, templates in environments.items()}
    items = list(dict.fromkeys(item for env in costs.values() for item in env))
    names = list(environments)
    rows = ["| item | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    for item in items:
        cells = [f"{costs[env][item].detail}: ${costs[env][item].monthly:,.2f}" if item in costs[env] else "-"
                 for env in names]
        rows.append(f"| {item} | " + " | ".join(cells) + " |")
    rows.append("| **total per month, idle** | " + " | ".join(
        f"**${sum(line.monthly for line in costs[env].values()):,.2f}**" for env in names) + " |")
    return "\n".join(rows)


def idle_total(templates: dict[str, dict]) -> float:
    return sum(line.monthly for line in idle_costs(templates))
