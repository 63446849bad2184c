"""Injections into a deep copy of rendered templates: the guard's rules without a synthesis.

``Copy(synth)`` copies the templates of a session fixture (``dev``), lets a test add resources,
parameters, mappings and conditions in any stack, reference the app's own resources by construct
path (across stacks through exports, as CDK does), and returns what the guard finds.
"""

from __future__ import annotations

import copy
from typing import Any

from hydra_on_aws.boundary.from_templates import network_from_templates
from hydra_on_aws.boundary.templates import AppTemplates
from hydra_on_aws.boundary.trust_boundary import Analysis, Network, Violation, check

FOREIGN_ACCOUNT = "210987654321"


class Copy:
    def __init__(self, synth: Any, parts: tuple[str, ...] | None = None) -> None:
        """A copy of ``synth``'s templates (only ``parts`` deep-copied; the others are shared, read-only)."""
        self.config = synth.config
        self.prefix = synth.config.stack_prefix
        self.templates = {synth.stack_name(p): (copy.deepcopy(t) if parts is None or p in parts else t)
                          for p, t in synth.templates.items()}
        self._copied = set(synth.templates) if parts is None else set(parts)
        self._count = 0

    def stack(self, part: str) -> dict:
        assert part in self._copied, f"{part} was not copied"
        return self.templates[f"{self.prefix}-{part}"]

    # -- finding the app's resources
    def lid(self, part: str, path_suffix: str) -> str:
        template = self.templates[f"{self.prefix}-{part}"]
        hits = [k for k, v in template["Resources"].items()
                if (v.get("Metadata") or {}).get("aws:cdk:path", "").endswith(path_suffix)]
        assert len(hits) == 1, f"expected one resource at */{path_suffix} in {part}, found {hits}"
        return hits[0]

    def props(self, part: str, path_suffix: str) -> dict:
        return self.stack(part)["Resources"][self.lid(part, path_suffix)].setdefault("Properties", {})

    def ref(self, into: str, part: str, path_suffix: str, attribute: str | None = None) -> dict:
        """A reference from stack ``into`` to the resource at ``path_suffix`` of ``part`` (an import
        of an export when the stacks differ, as CDK writes it)."""
        lid = self.lid(part, path_suffix)
        value = {"Ref": lid} if attribute is None else {"Fn::GetAtt": [lid, attribute]}
        if into == part:
            return value
        producer = self.stack(part)
        name = f"{self.prefix}-{part}:Injected{lid}{attribute or 'Ref'}"
        outputs = producer.setdefault("Outputs", {})
        for output in outputs.values():
            if output.get("Value") == value and "Export" in output:
                return {"Fn::ImportValue": output["Export"]["Name"]}
        outputs[f"Injected{lid}{attribute or 'Ref'}"] = {"Value": value, "Export": {"Name": name}}
        return {"Fn::ImportValue": name}

    # -- adding things
    def add(self, part: str, name: str, type_: str, properties: dict, **extra: Any) -> str:
        """Add a resource; returns its construct path (``<stack>/<name>``)."""
        path = f"{self.prefix}-{part}/{name}"
        self.stack(part)["Resources"][name] = {"Type": type_, "Properties": properties,
                                               "Metadata": {"aws:cdk:path": path}, **extra}
        return path

    def parameter(self, part: str, name: str, default: str = "x") -> dict:
        self.stack(part).setdefault("Parameters", {})[name] = {"Type": "String", "Default": default}
        return {"Ref": name}

    def mapped(self, part: str, value: Any) -> dict:
        """``value`` through Fn::FindInMap on a mapping of literal keys (resolvable)."""
        self._count += 1
        key = f"Value{self._count}"
        self.stack(part).setdefault("Mappings", {}).setdefault("Injected", {}).setdefault("Values", {})[key] = value
        return {"Fn::FindInMap": ["Injected", "Values", key]}

    def conditional(self, part: str, value: Any, otherwise: Any) -> dict:
        self.stack(part).setdefault("Conditions", {})["InjectedCondition"] = {
            "Fn::Equals": [{"Ref": "AWS::Region"}, "eu-west-1"]}
        return {"Fn::If": ["InjectedCondition", value, otherwise]}

    @staticmethod
    def foreign_import(name: str = "SomeoneElse:Value") -> dict:
        return {"Fn::ImportValue": name}

    # -- what the guard says
    def network(self) -> Network:
        return network_from_templates(AppTemplates(self.templates), self.config)

    def violations(self) -> list[Violation]:
        return check(self.network())

    def analysis(self) -> Analysis:
        return Analysis(self.network())
