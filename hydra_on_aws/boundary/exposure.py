"""`make exposure`: who can reach which port, per environment, as a Markdown table for pull requests.

Computed by the same analysis as the synthesis guard, from the synthesized
templates. Output is deterministic: paste it into a review.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from hydra_on_aws.boundary.assembly import SynthesisFailed, read_assembly, synthesize
from hydra_on_aws.boundary.from_templates import network_from_templates
from hydra_on_aws.boundary.templates import AppTemplates
from hydra_on_aws.boundary.trust_boundary import Analysis, Group, LoadBalancer, Network, Workload
from hydra_on_aws.config.settings import ENVIRONMENTS_KEY, cdk_json_context, load_config


@dataclass(frozen=True)
class Row:
    component: str
    port: str
    reachable_from: tuple[str, ...]
    internet: str


def short(path: str) -> str:
    """'Hydra-dev-Ingress/LoadBalancers/PublicNlb/Resource' -> 'Ingress: LoadBalancers/PublicNlb'."""
    path = re.sub(r"/(Resource|Default)$", "", path)
    match = re.match(r"^Hydra-[a-z0-9]+-([A-Za-z]+)/(.*)$", path)
    return f"{match.group(1)}: {match.group(2)}" if match else path


class Exposure:
    def __init__(self, net: Network) -> None:
        self.net = net
        self.analysis = Analysis(net)
        self.fronted = self.analysis.fronted

    def _source(self, source) -> tuple[str, bool]:
        """(label, comes from outside)."""
        outside = not self.analysis.inside(source)
        if isinstance(source, Group):
            info = self.net.groups.get(source.id)
            label = f"security group {short(info.path) if info else source.id}"
            return label, outside
        return self.analysis.describe_source(source), outside

    def _protected(self, groups, port: int) -> tuple[list[str], list[str]]:
        who, internet = set(), set()
        for rule in self.net.rules:
            if isinstance(rule.group, str) and rule.group in groups and rule.covers(port):
                label, outside = self._source(rule.source)
                who.add(label)
                if outside:
                    why = self.analysis.outside_groups.get(rule.source.id, "") if isinstance(rule.source, Group) else ""
                    internet.add(self._via(why) if why else label)
        return sorted(who), sorted(internet)

    def _via(self, why: str) -> str:
        for lb_id, reason in self.fronted.items():
            if self.net.load_balancers[lb_id].path in why:
                return f"{reason.replace('through ', 'via ')} -> {short(self.net.load_balancers[lb_id].path)}"
        return why

    def load_balancer_rows(self, lb: LoadBalancer) -> list[Row]:
        rows = []
        for listener in sorted(lb.listeners, key=lambda x: x.port or 0):
            port = listener.port or 0
            who, internet = self._protected({g for g in lb.groups if isinstance(g, str)}, port)
            if lb.id in self.fronted:
                reason = self.fronted[lb.id]
                enforcement = "" if lb.privatelink_enforced else " (PrivateLink, inbound rules not enforced)"
                who = [f"{reason.replace('through ', 'via ')}{enforcement}"] + who
                internet = [reason.replace("through ", "via ")] + internet
            rows.append(Row(f"{lb.kind} load balancer {short(lb.path)}", str(port), tuple(who) or ("nobody",),
                            "; ".join(internet) or "no"))
        return rows

    def workload_rows(self, w: Workload) -> list[Row]:
        groups = {g for g in w.groups if isinstance(g, str)}
        ports = sorted(w.ports)
        if not ports:
            # No declared listening port: report what its rules open, if anything.
            opened = sorted({r.ports() for r in self.net.rules if isinstance(r.group, str) and r.group in groups})
            if not opened:
                note = "nobody (no inbound rule)" + ("; operators use SSM Session Manager"
                                                      if "Bastion" in w.path else "")
                return [Row(f"{w.kind} {short(w.path)}", "-", (note,), "no")]
            rows = []
            for spec in opened:
                rules = [r for r in self.net.rules
                         if isinstance(r.group, str) and r.group in groups and r.ports() == spec]
                labels = sorted({self._source(r.source)[0] for r in rules})
                outside = sorted({self._source(r.source)[0] for r in rules if self._source(r.source)[1]})
                rows.append(Row(f"{w.kind} {short(w.path)}", spec, tuple(labels), "; ".join(outside) or "no"))
            return rows
        rows = []
        for port in ports:
            who, internet = self._protected(groups, port)
            if w.public_ip:
                internet.append("public IP address")
            rows.append(Row(f"{w.kind} {short(w.path)}", str(port), tuple(who) or ("nobody",),
                            "; ".join(internet) or "no"))
        return rows

    def rows(self) -> list[Row]:
        rows: list[Row] = []
        for w in sorted(self.net.workloads, key=lambda w: (w.kind, w.path)):
            if w.kind == "ECS service" and self.analysis.serves_admin(w):
                rows += [Row(r.component.replace("ECS service", "Hydra tasks"), r.port, r.reachable_from, r.internet)
                         for r in self.workload_rows(w)]
        for lb in sorted(self.net.load_balancers.values(), key=lambda lb: lb.path):
            rows += self.load_balancer_rows(lb)
        for w in sorted(self.net.workloads, key=lambda w: (w.kind, w.path)):
            if w.kind == "database" or (w.kind == "EC2 instance" and not w.forwards):
                rows += self.workload_rows(w)
        return rows


def shorten_paths(text: str) -> str:
    return re.sub(r"Hydra-[a-z0-9]+-[A-Za-z]+/[^\s,;()]+", lambda m: short(m.group(0)), text)


def render(env_name: str, net: Network) -> str:
    exposure = Exposure(net)
    admin = f"admin port {net.admin_port}" if net.admin_ports == {net.admin_port} and not net.every_admin else \
        net.admin_text()
    lines = [f"### Exposure: `{env_name}` ({admin}, public port {net.public_port})", "",
             "| component | port | reachable from | from outside the VPC |", "|---|---|---|---|"]
    for row in exposure.rows():
        cells = [row.component, row.port, "<br>".join(row.reachable_from), row.internet]
        lines.append("| " + " | ".join(shorten_paths(c) for c in cells) + " |")
    violations = exposure.analysis.violations()
    lines += ["", f"{admin[0].upper()}{admin[1:]}: "
              + ("**no path from outside the VPC**." if not violations and not
                 exposure.analysis.internet_paths_to() else "**EXPOSED**, see the guard's errors.")]
    return "\n".join(lines)


def environment_network(env_name: str, templates: dict[str, dict] | None = None) -> Network:
    """The network of ``env_name``: from ``templates`` (by stack name), or from a fresh synthesis."""
    config = load_config({"env": env_name, ENVIRONMENTS_KEY: cdk_json_context()[ENVIRONMENTS_KEY]})
    if templates is None:
        templates = synthesize({"env": env_name})
    return network_from_templates(AppTemplates(templates), config)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", action="append", help="environment(s) to report (default: all in cdk.json)")
    parser.add_argument("--assembly", type=Path,
                        help="read the templates `cdk synth -o DIR` wrote (one --env) instead of synthesizing")
    args = parser.parse_args(argv)
    envs = args.env or sorted(cdk_json_context()[ENVIRONMENTS_KEY])
    if args.assembly and len(envs) != 1:
        parser.error("--assembly needs exactly one --env: an assembly holds one environment")
    try:
        reports = [render(env, environment_network(env, read_assembly(args.assembly) if args.assembly else None))
                   for env in envs]
    except SynthesisFailed as error:
        print(f"synthesis failed:\n{error}", file=sys.stderr)
        return 1
    print("\n\n".join(reports))
    return 0


if __name__ == "__main__":
    sys.exit(main())
