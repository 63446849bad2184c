"""Edge: regional REST API over a VPC link, stage logging and throttling, custom domain, WAF."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest

from hydra_constructs.waf import AUTHORIZE_QUERY_CEILING_BYTES, SCOPED_OVERRIDES

from tests.support.cfn import only, props, resources
from tests.support.waf_sim import Request, evaluate, matches


def methods(synth) -> dict[str, dict]:
    """Method by resource path ('/', '/{proxy+}', '/admin', '/admin/{proxy+}')."""
    template = synth.templates["Ingress"]
    path_of = {}
    api_resources = resources(template, "AWS::ApiGateway::Resource")

    def full_path(resource_id):
        if isinstance(resource_id, dict) and "Fn::GetAtt" in resource_id:
            return ""
        res = api_resources[resource_id["Ref"]]
        return full_path(props(res)["ParentId"]) + "/" + props(res)["PathPart"]
    for method in resources(template, "AWS::ApiGateway::Method").values():
        path_of[full_path(props(method)["ResourceId"]) or "/"] = props(method)
    return path_of


def test_api_is_regional_rest(synth):
    _, api = only(synth.templates["Ingress"], "AWS::ApiGateway::RestApi")
    assert props(api)["EndpointConfiguration"] == {"Types": ["REGIONAL"]}


def test_every_route_proxies_to_the_public_port_over_the_vpc_link(synth):
    model, stack = synth.model, synth.stack_name("Ingress")
    routes = methods(synth)
    assert set(routes) == {"/", "/{proxy+}", "/admin", "/admin/{proxy+}"}
    for path in ("/", "/{proxy+}"):
        integration = routes[path]["Integration"]
        assert (integration["Type"], integration["ConnectionType"]) == ("HTTP_PROXY", "VPC_LINK")
        assert model.resource(model.resolve(stack, integration["ConnectionId"])).type == "AWS::ApiGateway::VpcLink"
        scheme, nlb, rest = integration["Uri"]["Fn::Join"][1]
        assert scheme == "http://" and rest.startswith(":4444/")
        assert model.resource(model.resolve(stack, nlb)).path.endswith("LoadBalancers/PublicNlb/Resource")


def test_admin_paths_are_answered_by_api_gateway_with_404(synth):
    for path in ("/admin", "/admin/{proxy+}"):
        integration = methods(synth)[path]["Integration"]
        assert integration["Type"] == "MOCK"
        assert integration["PassthroughBehavior"] == "NEVER"
        assert [r["StatusCode"] for r in integration["IntegrationResponses"]] == ["404"]


def test_stage_logs_access_without_headers_queries_or_bodies(synth):
    template = synth.templates["Ingress"]
    _, stage = only(template, "AWS::ApiGateway::Stage")
    p = props(stage)
    fields = json.loads(p["AccessLogSetting"]["Format"])
    assert {"requestId", "ip", "status", "path"} <= set(fields)
    assert not [v for v in fields.values() if "header" in v.lower() or "querystring" in v.lower()
                or "requestoverride" in v.lower() or "authorizer" in v.lower()]
    [settings] = p["MethodSettings"]
    assert settings["LoggingLevel"] == "ERROR"
    assert settings["DataTraceEnabled"] is False, "full request/response logging would record tokens"
    assert (settings["ThrottlingRateLimit"], settings["ThrottlingBurstLimit"]) == (
        synth.config.api_throttle_rate_limit, synth.config.api_throttle_burst_limit)
    log_group = template["Resources"][p["AccessLogSetting"]["DestinationArn"]["Fn::Join"][1][-1]["Ref"]]
    assert props(log_group)["RetentionInDays"] == synth.config.log_retention_days


def test_execute_api_endpoint_is_the_issuer_without_a_domain(synth):
    _, api = only(synth.templates["Ingress"], "AWS::ApiGateway::RestApi")
    assert props(api)["DisableExecuteApiEndpoint"] is False
    assert not resources(synth.templates["Ingress"], "AWS::ApiGateway::DomainName")


def test_custom_domain_disables_execute_api_and_points_dns_at_the_api(dev_domain):
    template = dev_domain.templates["Ingress"]
    _, api = only(template, "AWS::ApiGateway::RestApi")
    assert props(api)["DisableExecuteApiEndpoint"] is True
    domain_id, domain = only(template, "AWS::ApiGateway::DomainName")
    assert props(domain)["DomainName"] == "auth.dev.example.com"
    assert props(domain)["EndpointConfiguration"] == {"Types": ["REGIONAL"]}
    assert props(domain)["SecurityPolicy"] == "TLS_1_2"
    cert_id, cert = only(template, "AWS::CertificateManager::Certificate")
    assert props(domain)["RegionalCertificateArn"] == {"Ref": cert_id}
    assert props(cert)["ValidationMethod"] == "DNS"
    assert props(cert)["DomainValidationOptions"] == [
        {"DomainName": "auth.dev.example.com", "HostedZoneId": "Z0123456789ABCDEFGHIJ"}]
    _, mapping = only(template, "AWS::ApiGateway::BasePathMapping")
    assert props(mapping)["DomainName"] == {"Ref": domain_id} and "BasePath" not in props(mapping)
    _, record = only(template, "AWS::Route53::RecordSet")
    assert props(record)["Type"] == "A" and props(record)["HostedZoneId"] == "Z0123456789ABCDEFGHIJ"
    assert props(record)["Name"] == "auth.dev.example.com."


def test_an_existing_certificate_is_used_as_given_without_lookups(dev_certificate):
    arn = dev_certificate.config.certificate_arn
    template = dev_certificate.templates["Ingress"]
    assert not resources(template, "AWS::CertificateManager::Certificate")
    assert not resources(template, "AWS::Route53::RecordSet"), "no zone configured: DNS is the user's"
    _, domain = only(template, "AWS::ApiGateway::DomainName")
    assert props(domain)["RegionalCertificateArn"] == arn


def test_account_wide_cloudwatch_role_is_a_configuration_choice(dev, dev_domain):
    assert resources(dev.templates["Ingress"], "AWS::ApiGateway::Account")
    assert not resources(dev_domain.templates["Ingress"], "AWS::ApiGateway::Account")
    account = only(dev.templates["Ingress"], "AWS::ApiGateway::Account")[1]
    assert account["DeletionPolicy"] == "Retain", "other APIs in the account rely on the setting"


# ------------------------------------------------------------------ WAF ---

def web_acl(synth) -> dict:
    return props(only(synth.templates["Ingress"], "AWS::WAFv2::WebACL")[1])


def test_dev_runs_without_waf_and_prod_attaches_it_to_the_stage(dev, prod):
    assert not resources(dev.templates["Ingress"], "AWS::WAFv2::WebACL")
    template = prod.templates["Ingress"]
    acl_id, acl = only(template, "AWS::WAFv2::WebACL")
    assert props(acl)["Scope"] == "REGIONAL"
    _, association = only(template, "AWS::WAFv2::WebACLAssociation")
    assert props(association)["WebACLArn"] == {"Fn::GetAtt": [acl_id, "Arn"]}
    stage_id, _ = only(template, "AWS::ApiGateway::Stage")
    assert {"Ref": stage_id} in props(association)["ResourceArn"]["Fn::Join"][1]


def test_waf_logs_redact_credentials(prod):
    _, logging = only(prod.templates["Ingress"], "AWS::WAFv2::LoggingConfiguration")
    redacted = props(logging)["RedactedFields"]
    assert {"SingleHeader": {"Name": "authorization"}} in redacted
    assert {"SingleHeader": {"Name": "cookie"}} in redacted
    assert {"QueryString": {}} in redacted


def test_common_rule_set_rules_that_break_oauth2_are_counted_then_rescoped(prod):
    rules = {r["Name"]: r for r in web_acl(prod)["Rules"]}
    crs = rules["AWS-AWSManagedRulesCommonRuleSet"]
    overrides = crs["Statement"]["ManagedRuleGroupStatement"]["RuleActionOverrides"]
    assert {o["Name"] for o in overrides} == set(SCOPED_OVERRIDES)
    for rule_name in SCOPED_OVERRIDES:
        scoped = rules[f"Scoped-{rule_name}"]
        assert scoped["Priority"] > crs["Priority"], "labels exist only after the rule group ran"
        assert "Block" in scoped["Action"]


STAGE = "/prod"
LOOPBACK = urlencode({"client_id": "my-frontend-app", "response_type": "code",
                      "redirect_uri": "http://127.0.0.1:8000/oauth/callback", "state": "s" * 16})


@pytest.mark.parametrize("request_, verdict", [
    # SizeRestrictions_QUERYSTRING: long authorization requests pass, up to a ceiling ...
    (Request(f"{STAGE}/oauth2/auth", "scope=" + "a" * 4000), "ALLOW"),
    (Request(f"{STAGE}/oauth2/auth", "scope=" + "a" * (AUTHORIZE_QUERY_CEILING_BYTES + 1)), "BLOCK"),
    # ... while long query strings elsewhere are still blocked.
    (Request(f"{STAGE}/userinfo", "x=" + "a" * 4000), "BLOCK"),
    # GenericRFI_QUERYARGUMENTS: loopback redirect URIs pass on the authorize and logout endpoints only.
    (Request(f"{STAGE}/oauth2/auth", LOOPBACK), "ALLOW"),
    (Request(f"{STAGE}/oauth2/sessions/logout", "post_logout_redirect_uri=http://127.0.0.1:8000/"), "ALLOW"),
    (Request(f"{STAGE}/.well-known/openid-configuration", "next=http://10.0.0.1/x"), "BLOCK"),
    # NoUserAgent_HEADER: machine endpoints accept clients without a User-Agent, the browser flow does not.
    (Request(f"{STAGE}/oauth2/token", headers={}), "ALLOW"),
    (Request(f"{STAGE}/.well-known/jwks.json", headers={}), "ALLOW"),
    (Request(f"{STAGE}/oauth2/auth", LOOPBACK, headers={}), "BLOCK"),
    # GenericRFI_BODY: the code exchange repeats the loopback redirect_uri in its body.
    (Request(f"{STAGE}/oauth2/token", body=urlencode({"grant_type": "authorization_code", "code": "c",
                                                      "redirect_uri": "http://127.0.0.1:8000/cb"})), "ALLOW"),
    (Request(f"{STAGE}/userinfo", body="next=http://10.0.0.1/x"), "BLOCK"),
    # Without a stage prefix (custom domain) the same exceptions hold.
    (Request("/oauth2/auth", LOOPBACK), "ALLOW"),
    (Request("/oauth2/token", headers={}), "ALLOW"),
    # Admin paths, however spelled, are blocked.
    (Request(f"{STAGE}/admin/clients"), "BLOCK"),
    (Request("/admin/clients"), "BLOCK"),
    (Request(f"{STAGE}/%61dmin/keys/hydra.openid.id-token"), "BLOCK"),
    (Request(f"{STAGE}//ADMIN/clients"), "BLOCK"),
    # Ordinary traffic passes.
    (Request(f"{STAGE}/.well-known/openid-configuration"), "ALLOW"),
])
def test_scoped_overrides_behave_as_intended(prod, request_, verdict):
    assert evaluate(web_acl(prod)["Rules"], request_)[0] == verdict


def test_token_endpoint_rate_limit_matches_the_paths_end(prod):
    rule = next(r for r in web_acl(prod)["Rules"] if r["Name"] == "TokenEndpointRateLimit")
    rate = rule["Statement"]["RateBasedStatement"]
    assert rule["Priority"] == 0 and "Block" in rule["Action"]
    assert (rate["Limit"], rate["AggregateKeyType"]) == (prod.config.waf_token_rate_limit, "IP")
    scope = rate["ScopeDownStatement"]
    assert matches(scope, Request(f"{STAGE}/oauth2/token"), set())
    assert matches(scope, Request("/oauth2/token"), set())
    assert not matches(scope, Request(f"{STAGE}/oauth2/auth"), set())
