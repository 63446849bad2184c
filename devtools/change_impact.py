"""What CloudFormation would do with a change: the deploy rehearsal nobody can run here for real.

For a change to the app (the templates of every stack before and after), it asks the CDK's own
CloudFormation diff engine (@aws-cdk/cloudformation-diff, pinned in package.json; its resource
specification says which properties are create-only) what happens to every resource, and adds
what one template at a time cannot show:

- **cascades**: a replaced resource gets a new physical id, so every property that refers to it
  changes too; references to replaced resources are replaced by a sentinel value and the diff
  runs again until nothing new is replaced. Exports carry this across stacks: an export whose
  value changes (directly or through a replacement) changes every import of it;
- **create-only properties nested in others**, which the engine does not look into: taken from
  the resource schemas cfn-lint ships (``createOnlyProperties`` pointers);
- **problems** a deploy would hit: a stateful resource replaced or destroyed (the database, its
  instances, secrets, KMS keys, log groups, queues), a resource with a fixed physical name
  replaced under the same name ("already exists"), an export that changes while another stack
  imports it ("Export ... cannot be updated as it is in use").

:func:`retained_fixed_names` checks one app for the other side of fixed names: a retained
resource whose name does not change with the stack instance, which fails the next creation of
the stack ("already exists") after a delete.
"""

from __future__ import annotations

import atexit
import copy
import json
import subprocess
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "devtools" / "cfn_impact.js"

STATEFUL = {
    "AWS::RDS::DBCluster": "the database cluster",
    "AWS::RDS::DBInstance": "a database instance",
    "AWS::SecretsManager::Secret": "a secret",
    "AWS::KMS::Key": "a KMS key",
    "AWS::Logs::LogGroup": "a log group",
    "AWS::SQS::Queue": "a queue",
    "AWS::S3::Bucket": "a bucket",
    "AWS::DynamoDB::Table": "a table",
}
REPLACING = {"WILL_REPLACE": "replaced", "MAY_REPLACE": "may be replaced"}


@dataclass(frozen=True)
class ResourceChange:
    stack: str
    logical_id: str
    type: str
    action: str        # in place | replaced | may be replaced | created | destroyed | orphaned
    path: str          # the construct path, else stack/logical id
    why: str = ""      # what forces a replacement


@dataclass
class Impact:
    """What one change does to the app."""
    changes: list[ResourceChange] = field(default_factory=list)
    changed_exports: dict[str, str] = field(default_factory=dict)   # export -> why
    problems: list[str] = field(default_factory=list)

    def actions(self, *wanted: str) -> list[ResourceChange]:
        return [c for c in self.changes if c.action in wanted]


class DiffEngine:
    """One Node process running devtools/cfn_impact.js, fed one pair at a time."""

    def __init__(self) -> None:
        self._node = subprocess.Popen(["node", str(SCRIPT)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      text=True, cwd=ROOT)
        atexit.register(self.close)
        self._count = 0

    def diff(self, old: dict, new: dict) -> dict[str, dict]:
        self._count += 1
        self._node.stdin.write(json.dumps({"id": self._count, "old": old, "new": new}) + "\n")
        self._node.stdin.flush()
        answer = json.loads(self._node.stdout.readline())
        if "error" in answer:
            raise RuntimeError(f"the CloudFormation diff engine failed: {answer['error']}")
        return answer["resources"]

    def close(self) -> None:
        if self._node.poll() is None:
            self._node.stdin.close()
            self._node.wait(timeout=10)


@lru_cache(maxsize=None)
def _schema(resource_type: str) -> dict:
    from cfnlint.schema import PROVIDER_SCHEMA_MANAGER
    try:
        return PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", resource_type).schema
    except Exception:  # a custom resource or a type cfn-lint does not know
        return {}


def create_only_pointers(resource_type: str) -> list[tuple[str, ...]]:
    return [tuple(p.split("/")[2:]) for p in _schema(resource_type).get("createOnlyProperties", [])]


def name_properties(resource_type: str) -> set[str]:
    """Top-level properties that name the physical resource: the parts of its primary identifier the
    template may set, and the create-only property that names it (``Name``, or the type's own noun
    with ``Name``: LogGroupName, FunctionName, GroupName ...), per the resource schema."""
    schema = _schema(resource_type)
    create_only = {p[0] for p in create_only_pointers(resource_type) if len(p) == 1}
    read_only = {p.split("/")[2] for p in schema.get("readOnlyProperties", [])}
    identifiers = {p.split("/")[2] for p in schema.get("primaryIdentifier", []) if p.count("/") == 2}
    noun = resource_type.rsplit("::", 1)[-1]
    named = {p for p in create_only if p == "Name" or (p.endswith("Name") and noun.endswith(p[:-4]))}
    return named | (identifiers - read_only)


def _is_reference(value: Any) -> bool:
    """A Ref, GetAtt or import: it names another resource, not this one."""
    return isinstance(value, dict) and len(value) == 1 and next(iter(value)) in (
        "Ref", "Fn::GetAtt", "Fn::ImportValue")


def _at(value: Any, pointer: tuple[str, ...]) -> Any:
    for key in pointer:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def _references(value: Any, logical_ids: set[str]) -> bool:
    """Whether ``value`` refers to one of ``logical_ids`` (Ref, GetAtt, Sub)."""
    if isinstance(value, dict):
        if value.get("Ref") in logical_ids:
            return True
        attribute = value.get("Fn::GetAtt")
        if attribute is not None:
            target = attribute[0] if isinstance(attribute, list) else str(attribute).split(".")[0]
            if target in logical_ids:
                return True
        sub = value.get("Fn::Sub")
        if sub is not None:
            text = sub if isinstance(sub, str) else sub[0]
            if any(f"${{{i}}}" in text or f"${{{i}." in text for i in logical_ids):
                return True
        return any(_references(v, logical_ids) for v in value.values())
    if isinstance(value, list):
        return any(_references(v, logical_ids) for v in value)
    return False


def _substituted(value: Any, replaced: set[str], changed_imports: set[str]) -> Any:
    """``value`` with references to replaced resources and changed imports turned into sentinels."""
    if isinstance(value, dict):
        if value.get("Ref") in replaced:
            return f"<new physical id of {value['Ref']}>"
        attribute = value.get("Fn::GetAtt")
        if attribute is not None:
            target = attribute[0] if isinstance(attribute, list) else str(attribute).split(".")[0]
            if target in replaced:
                return f"<new attribute of {target}>"
        imported = value.get("Fn::ImportValue")
        if isinstance(imported, str) and imported in changed_imports:
            return f"<new value of export {imported}>"
        if "Fn::Sub" in value and _references(value, replaced):
            return "<new value of a substitution>"
        return {k: _substituted(v, replaced, changed_imports) for k, v in value.items()}
    if isinstance(value, list):
        return [_substituted(v, replaced, changed_imports) for v in value]
    return value


def _path(template: dict, logical_id: str, stack: str) -> str:
    resource = (template.get("Resources") or {}).get(logical_id) or {}
    return (resource.get("Metadata") or {}).get("aws:cdk:path") or f"{stack}/{logical_id}"


def _exports(templates: dict[str, dict]) -> dict[str, tuple[str, Any]]:
    found = {}
    for stack, template in templates.items():
        for output in (template.get("Outputs") or {}).values():
            name = (output.get("Export") or {}).get("Name")
            if isinstance(name, str):
                found[name] = (stack, output.get("Value"))
    return found


def _imports(template: dict) -> set[str]:
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            if isinstance(value.get("Fn::ImportValue"), str):
                found.add(value["Fn::ImportValue"])
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)
    walk(template.get("Resources") or {})
    return found


def _nested_replacements(old: dict, new: dict, resource_type: str) -> list[str]:
    """Create-only properties nested below the top level (schema pointers) whose values differ."""
    return ["/".join(p) for p in create_only_pointers(resource_type)
            if len(p) > 1 and _at(old.get("Properties") or {}, p) != _at(new.get("Properties") or {}, p)]


def assess(engine: DiffEngine, before: dict[str, dict], after: dict[str, dict]) -> Impact:
    """What deploying ``after`` over ``before`` (templates by stack name) does."""
    impact = Impact()
    replaced: dict[str, dict[str, str]] = {stack: {} for stack in after}       # stack -> logical id -> why
    diffs: dict[str, dict[str, dict]] = {}
    old_exports, new_exports = _exports(before), _exports(after)
    changed_exports: dict[str, str] = {name: "removed" for name in old_exports if name not in new_exports}

    for _ in range(10):  # cascades settle in a few rounds; the bound only guards against a loop
        grew = False
        for name, (stack, value) in new_exports.items():
            if name in old_exports and name not in changed_exports:
                if json.dumps(old_exports[name][1], sort_keys=True) != json.dumps(value, sort_keys=True):
                    changed_exports[name] = "its value changes"
                    grew = True
                elif _references(value, set(replaced.get(stack, {}))):
                    changed_exports[name] = "it names a replaced resource"
                    grew = True
        for stack, new_template in after.items():
            old_template = before.get(stack, {"Resources": {}})
            current = copy.deepcopy(new_template)
            current["Resources"] = _substituted(current.get("Resources") or {}, set(replaced[stack]),
                                                set(changed_exports))
            diff = engine.diff(old_template, current)
            diffs[stack] = diff
            for logical_id, change in diff.items():
                why = ""
                if change["impact"] in REPLACING:
                    why = ", ".join(sorted(p for p, i in change["properties"].items() if i in REPLACING))
                elif change["impact"] == "WILL_UPDATE":
                    nested = _nested_replacements((old_template.get("Resources") or {}).get(logical_id, {}),
                                                  current["Resources"].get(logical_id, {}), change["type"])
                    if nested:
                        change["impact"], why = "WILL_REPLACE", ", ".join(nested)
                if change["impact"] in REPLACING and logical_id not in replaced[stack]:
                    replaced[stack][logical_id] = why or "its type or a reference to a replaced resource"
                    grew = True
        if not grew:
            break

    for stack, diff in diffs.items():
        old_resources = (before.get(stack, {}).get("Resources") or {})
        new_resources = (after[stack].get("Resources") or {})
        for logical_id, change in diff.items():
            action = {"WILL_UPDATE": "in place", "WILL_REPLACE": "replaced", "MAY_REPLACE": "may be replaced",
                      "WILL_CREATE": "created", "WILL_DESTROY": "destroyed", "WILL_ORPHAN": "orphaned",
                      "NO_CHANGE": "in place"}[change["impact"]]
            if change["impact"] == "NO_CHANGE" and not change["different"]:
                continue
            template = after[stack] if logical_id in new_resources else before[stack]
            impact.changes.append(ResourceChange(stack, logical_id, change["type"], action,
                                                 _path(template, logical_id, stack),
                                                 replaced[stack].get(logical_id, "")))
            what = STATEFUL.get(change["type"])
            if what and action in ("replaced", "may be replaced", "destroyed"):
                impact.problems.append(f"{what} is {action}: {_path(template, logical_id, stack)}"
                                       + (f" ({replaced[stack][logical_id]})" if logical_id in replaced[stack]
                                          else ""))
            if action in ("replaced", "may be replaced"):
                old_props = (old_resources.get(logical_id) or {}).get("Properties") or {}
                new_props = (new_resources.get(logical_id) or {}).get("Properties") or {}
                names = sorted(n for n in name_properties(change["type"]) if n in new_props)
                # The replacement clashes only when every part of the name is the same as before.
                if any(not _is_reference(new_props[n]) for n in names) and all(
                        json.dumps(new_props[n], sort_keys=True) == json.dumps(old_props.get(n), sort_keys=True)
                        for n in names):
                    impact.problems.append(
                        f"{_path(template, logical_id, stack)} is {action} under its fixed name "
                        f"({', '.join(names)}): CloudFormation creates the replacement first, which fails as "
                        "'already exists'")
    for name, why in sorted(changed_exports.items()):
        importers = sorted(s for s, t in before.items() if name in _imports(t))
        impact.changed_exports[name] = why
        if importers:
            impact.problems.append(f"export {name} changes ({why}) while {', '.join(importers)} imports it: "
                                   "'Export ... cannot be updated as it is in use'")
    return impact


def retained_fixed_names(templates: dict[str, dict]) -> list[str]:
    """Retained resources whose physical name is the same for every instance of the stack: deleting the
    stack keeps them, and creating it again then fails with 'already exists'."""
    found = []
    for stack, template in templates.items():
        for logical_id, resource in (template.get("Resources") or {}).items():
            if resource.get("DeletionPolicy") not in ("Retain", "RetainExceptOnCreate"):
                continue
            props = resource.get("Properties") or {}
            for name in sorted(name_properties(resource.get("Type", ""))):
                if name in props and not _is_reference(props[name]) and \
                        "AWS::StackId" not in json.dumps(props[name]):
                    found.append(f"{_path(template, logical_id, stack)}: {name} {json.dumps(props[name])} is "
                                 "retained on delete and the same for every instance of the stack")
    return found


def describe(impact: Impact, ignore: Iterable[str] = ("AWS::ECS::TaskDefinition",)) -> str:
    """The README's words for an impact: 'in place', 'replaces X, Y'."""
    replaced = sorted({c.path.split("/", 1)[1].removesuffix("/Resource") for c in impact.changes
                       if c.action in ("replaced", "may be replaced") and c.type not in ignore})
    if not replaced:
        return "in place"
    return "replaces " + ", ".join(replaced)
