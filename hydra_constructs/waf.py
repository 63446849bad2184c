"""WAF in front of the public API, tuned so that it does not break OAuth2."""

from __future__ import annotations

from typing import Any

from aws_cdk import ArnFormat, Aws, Fn, Stack, aws_apigateway as apigw, aws_logs as logs, aws_wafv2 as wafv2
from constructs import Construct

from hydra_on_aws.config.settings import HydraConfig

from ._util import kept_in_production, retention

CRS = "AWSManagedRulesCommonRuleSet"
CRS_LABEL = "awswaf:managed:aws:core-rule-set:"

# Hydra endpoints that legitimately trip a Common Rule Set rule.
AUTHORIZE_PATHS = ("/oauth2/auth",)
REDIRECTING_PATHS = ("/oauth2/auth", "/oauth2/sessions/logout")
MACHINE_PATHS = ("/oauth2/token", "/oauth2/revoke", "/.well-known/jwks.json",
                 "/.well-known/openid-configuration")
TOKEN_PATH = "/oauth2/token"
# Authorization requests may carry many scopes, claims and request objects;
# above this ceiling they are blocked even on /oauth2/auth.
AUTHORIZE_QUERY_CEILING_BYTES = 8192

# The Common Rule Set rules that are switched to Count and re-applied by
# label everywhere except the paths that need the exception.
SCOPED_OVERRIDES = {
    # Long /oauth2/auth query strings (scopes, claims, request objects) exceed 2 KiB.
    "SizeRestrictions_QUERYSTRING": ("SizeRestrictions_QueryString", AUTHORIZE_PATHS),
    # redirect_uri / post_logout_redirect_uri values such as http://127.0.0.1:8000/callback
    # are URLs with an IPv4 host: what this rule treats as remote file inclusion.
    "GenericRFI_QUERYARGUMENTS": ("GenericRFI_QueryArguments", REDIRECTING_PATHS),
    # Machine clients and resource servers fetching the JWKS often send no User-Agent.
    "NoUserAgent_HEADER": ("NoUserAgent_Header", MACHINE_PATHS),
    # The code exchange repeats the (loopback) redirect_uri in its form body.
    "GenericRFI_BODY": ("GenericRFI_Body", (TOKEN_PATH,)),
}


def _visibility(name: str) -> dict[str, Any]:
    return {"SampledRequestsEnabled": True, "CloudWatchMetricsEnabled": True, "MetricName": name}


def _path_ends_with(path: str) -> dict[str, Any]:
    # ENDS_WITH matches with or without a stage prefix (/prod/oauth2/token).
    return {"ByteMatchStatement": {
        "FieldToMatch": {"UriPath": {}}, "PositionalConstraint": "ENDS_WITH", "SearchString": path,
        "TextTransformations": [{"Priority": 0, "Type": "NORMALIZE_PATH"}]}}


def _any_path(paths: tuple[str, ...]) -> dict[str, Any]:
    statements = [_path_ends_with(p) for p in paths]
    return statements[0] if len(statements) == 1 else {"OrStatement": {"Statements": statements}}


def _label(name: str) -> dict[str, Any]:
    return {"LabelMatchStatement": {"Scope": "LABEL", "Key": CRS_LABEL + name}}


def _managed(name: str, priority: int, overrides: list[str] | None = None) -> dict[str, Any]:
    group: dict[str, Any] = {"VendorName": "AWS", "Name": name}
    if overrides:
        group["RuleActionOverrides"] = [{"Name": r, "ActionToUse": {"Count": {}}} for r in overrides]
    return {"Name": f"AWS-{name}", "Priority": priority, "OverrideAction": {"None": {}},
            "Statement": {"ManagedRuleGroupStatement": group}, "VisibilityConfig": _visibility(name)}


def _block(name: str, priority: int, statement: dict[str, Any]) -> dict[str, Any]:
    return {"Name": name, "Priority": priority, "Action": {"Block": {}}, "Statement": statement,
            "VisibilityConfig": _visibility(name)}


def web_acl_rules(*, stage_name: str, token_rate_limit: int) -> list[dict[str, Any]]:
    """The web ACL's rules in CloudFormation form, in evaluation order."""
    admin_prefixes = ("/admin", f"/{stage_name}/admin")
    rules = [
        _block("TokenEndpointRateLimit", 0, {"RateBasedStatement": {
            "Limit": token_rate_limit, "AggregateKeyType": "IP", "EvaluationWindowSec": 300,
            "ScopeDownStatement": _path_ends_with(TOKEN_PATH)}}),
        _block("BlockAdminPaths", 1, {"OrStatement": {"Statements": [
            {"ByteMatchStatement": {
                "FieldToMatch": {"UriPath": {}}, "PositionalConstraint": "STARTS_WITH", "SearchString": prefix,
                "TextTransformations": [{"Priority": 0, "Type": "URL_DECODE"},
                                        {"Priority": 1, "Type": "NORMALIZE_PATH"},
                                        {"Priority": 2, "Type": "LOWERCASE"}]}}
            for prefix in admin_prefixes]}}),
        _managed("AWSManagedRulesAmazonIpReputationList", 2),
        _managed(CRS, 3, overrides=list(SCOPED_OVERRIDES)),
        _managed("AWSManagedRulesKnownBadInputsRuleSet", 4),
        _block("AuthorizeQueryStringCeiling", 5, {"AndStatement": {"Statements": [
            _any_path(AUTHORIZE_PATHS),
            {"SizeConstraintStatement": {
                "FieldToMatch": {"QueryString": {}}, "ComparisonOperator": "GT",
                "Size": AUTHORIZE_QUERY_CEILING_BYTES, "TextTransformations": [{"Priority": 0, "Type": "NONE"}]}},
        ]}}),
    ]
    for offset, (rule, (label, exempt_paths)) in enumerate(SCOPED_OVERRIDES.items()):
        rules.append(_block(f"Scoped-{rule}", 6 + offset, {"AndStatement": {"Statements": [
            _label(label),
            {"NotStatement": {"Statement": _any_path(exempt_paths)}},
        ]}}))
    return rules


class PublicApiFirewall(Construct):
    """A regional WAF web ACL on the API stage, with logging that redacts credentials.

    Provides ``web_acl``. AWS managed rules (IP reputation, Common Rule Set,
    known bad inputs) with the Common Rule Set's OAuth2-hostile rules
    re-applied everywhere except the endpoints that need an exception
    (:data:`SCOPED_OVERRIDES`), a per-IP rate limit on the token endpoint, and
    a block on ``/admin`` paths. Logs redact the Authorization and Cookie
    headers and the query string (state, challenges).
    """

    def __init__(self, scope: Construct, construct_id: str, *, config: HydraConfig,
                 stage: apigw.Stage) -> None:
        super().__init__(scope, construct_id)
        self.web_acl = wafv2.CfnWebACL(
            self, "WebAcl", scope="REGIONAL", default_action={"allow": {}},
            description=f"Hydra {config.env_name} public API",
            visibility_config=wafv2.CfnWebACL.VisibilityConfigProperty(
                cloud_watch_metrics_enabled=True, metric_name=f"hydra-{config.env_name}",
                sampled_requests_enabled=True))
        self.web_acl.add_property_override("Rules", web_acl_rules(
            stage_name=config.api_stage_name, token_rate_limit=config.waf_token_rate_limit))
        wafv2.CfnWebACLAssociation(self, "Association", resource_arn=stage.stage_arn,
                                   web_acl_arn=self.web_acl.attr_arn)

        # WAF wants the aws-waf-logs- prefix, so CloudFormation cannot generate the name. The stack id's
        # UUID makes it new with every instance of the stack: a retained group from a deleted stack
        # never blocks creating the stack again.
        stack_uuid = Fn.select(2, Fn.split("/", Aws.STACK_ID))
        log_group = logs.LogGroup(
            self, "Logs", log_group_name=Fn.join("", [f"aws-waf-logs-hydra-{config.env_name}-", stack_uuid]),
            retention=retention(config.log_retention_days),
            removal_policy=kept_in_production(config.production))
        wafv2.CfnLoggingConfiguration(
            self, "Logging", resource_arn=self.web_acl.attr_arn,
            # WAF wants the bare log-group ARN, without the ':*' of log_group_arn.
            log_destination_configs=[Stack.of(self).format_arn(
                service="logs", resource="log-group", resource_name=log_group.log_group_name,
                arn_format=ArnFormat.COLON_RESOURCE_NAME)],
            redacted_fields=[
                wafv2.CfnLoggingConfiguration.FieldToMatchProperty(single_header={"Name": "authorization"}),
                wafv2.CfnLoggingConfiguration.FieldToMatchProperty(single_header={"Name": "cookie"}),
                wafv2.CfnLoggingConfiguration.FieldToMatchProperty(query_string={}),
            ])
