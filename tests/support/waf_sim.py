"""A small interpreter for the WAF statements this app uses, to test rules as behaviour.

It evaluates a synthesized web ACL's ``Rules`` against a request. AWS managed
rule groups are opaque, so the few Common Rule Set rules that matter to OAuth2
are modelled by their documented trigger (see ``CRS_MODEL``); every other
managed rule is assumed not to match.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote


@dataclass
class Request:
    path: str
    query: str = ""
    headers: dict[str, str] = field(default_factory=lambda: {"user-agent": "test-agent/1.0"})
    body: str = ""  # a form-encoded body, as token requests have


def _urls_with_ipv4(encoded: str) -> bool:
    # "URLs that contain IPv4 addresses ... http://, https://, ftp://, ftps://, file://"
    return any(re.match(r"^(https?|ftps?|file)://\d{1,3}(\.\d{1,3}){3}", v)
               for _, v in parse_qsl(encoded, keep_blank_values=True))


CRS_MODEL = {
    "SizeRestrictions_QUERYSTRING": ("SizeRestrictions_QueryString", lambda r: len(r.query.encode()) > 2048),
    "NoUserAgent_HEADER": ("NoUserAgent_Header", lambda r: "user-agent" not in r.headers),
    "GenericRFI_QUERYARGUMENTS": ("GenericRFI_QueryArguments", lambda r: _urls_with_ipv4(r.query)),
    "GenericRFI_BODY": ("GenericRFI_Body", lambda r: _urls_with_ipv4(r.body)),
}
CRS_NAMESPACE = "awswaf:managed:aws:core-rule-set:"


def _transform(value: str, transforms: list[dict]) -> str:
    for t in sorted(transforms, key=lambda t: t["Priority"]):
        kind = t["Type"]
        if kind == "URL_DECODE":
            value = unquote(value)
        elif kind == "NORMALIZE_PATH":
            value = re.sub(r"/+", "/", posixpath.normpath(value)) if value else value
        elif kind == "LOWERCASE":
            value = value.lower()
        elif kind != "NONE":
            raise NotImplementedError(kind)
    return value


def _field(request: Request, field_to_match: dict) -> str:
    if "UriPath" in field_to_match:
        return request.path
    if "QueryString" in field_to_match:
        return request.query
    raise NotImplementedError(field_to_match)


def matches(statement: dict, request: Request, labels: set[str]) -> bool:
    (kind, body), = statement.items()
    if kind == "ByteMatchStatement":
        value = _transform(_field(request, body["FieldToMatch"]), body["TextTransformations"])
        needle, where = body["SearchString"], body["PositionalConstraint"]
        return {"ENDS_WITH": value.endswith, "STARTS_WITH": value.startswith,
                "EXACTLY": lambda n: value == n, "CONTAINS": lambda n: n in value}[where](needle)
    if kind == "SizeConstraintStatement":
        size = len(_transform(_field(request, body["FieldToMatch"]), body["TextTransformations"]).encode())
        return {"GT": size > body["Size"], "GE": size >= body["Size"], "LT": size < body["Size"],
                "LE": size <= body["Size"], "EQ": size == body["Size"], "NE": size != body["Size"]}[
            body["ComparisonOperator"]]
    if kind == "LabelMatchStatement":
        return body["Key"] in labels
    if kind == "AndStatement":
        return all(matches(s, request, labels) for s in body["Statements"])
    if kind == "OrStatement":
        return any(matches(s, request, labels) for s in body["Statements"])
    if kind == "NotStatement":
        return not matches(body["Statement"], request, labels)
    raise NotImplementedError(kind)


def evaluate(rules: list[dict], request: Request) -> tuple[str, str | None]:
    """('ALLOW' | 'BLOCK', the blocking rule's name)."""
    labels: set[str] = set()
    for rule in sorted(rules, key=lambda r: r["Priority"]):
        statement = rule["Statement"]
        if "ManagedRuleGroupStatement" in statement:
            group = statement["ManagedRuleGroupStatement"]
            if group["Name"] != "AWSManagedRulesCommonRuleSet":
                continue
            counted = {o["Name"] for o in group.get("RuleActionOverrides", []) if "Count" in o["ActionToUse"]}
            for crs_rule, (label, triggered) in CRS_MODEL.items():
                if triggered(request):
                    if crs_rule not in counted:
                        return "BLOCK", f"{rule['Name']}:{crs_rule}"
                    labels.add(CRS_NAMESPACE + label)
        elif "RateBasedStatement" in statement:
            continue  # rates are not simulated; the scope-down statement is tested directly
        elif matches(statement, request, labels) and "Block" in rule.get("Action", {}):
            return "BLOCK", rule["Name"]
    return "ALLOW", None
