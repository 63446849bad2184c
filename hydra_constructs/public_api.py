"""API Gateway (REST, regional): the only door from the internet to Hydra."""

from __future__ import annotations

import json

import aws_cdk as cdk
from aws_cdk import RemovalPolicy, Validations
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_logs as logs
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_route53_targets as route53_targets
from constructs import Construct

from hydra_on_aws.config.settings import HydraConfig

from ._util import MANAGED_POLICY, acknowledge, kept_in_production, retain_logs_of, retention
from .waf import PublicApiFirewall

# What an access log line holds: no headers, no query strings, no bodies.
ACCESS_LOG_FORMAT = {
    "requestId": "$context.requestId",
    "ip": "$context.identity.sourceIp",
    "requestTime": "$context.requestTime",
    "httpMethod": "$context.httpMethod",
    "path": "$context.path",
    "resourcePath": "$context.resourcePath",
    "status": "$context.status",
    "protocol": "$context.protocol",
    "responseLength": "$context.responseLength",
    "responseLatency": "$context.responseLatency",
    "integrationStatus": "$context.integration.status",
    "integrationLatency": "$context.integration.latency",
    "wafStatus": "$context.waf.status",
    "userAgent": "$context.identity.userAgent",
}


class PublicApi(Construct):
    """A regional REST API proxying to the public NLB's public port over a VPC link.

    Provides ``rest_api``, ``stage``, ``vpc_link``, ``public_url`` (Hydra's
    issuer and public URL, with a trailing slash) and ``jwks_url``.

    Invariants: the VPC link targets the public NLB only; every route goes to
    the public port; ``/admin`` and everything below it is answered by API
    Gateway itself (404) and never reaches Hydra; with a custom domain the
    execute-api endpoint is disabled, so the issuer is the only URL.
    """

    def __init__(self, scope: Construct, construct_id: str, *, config: HydraConfig,
                 public_nlb: elbv2.INetworkLoadBalancer, public_port: int) -> None:
        super().__init__(scope, construct_id)

        self.vpc_link = apigw.VpcLink(
            self, "VpcLink", targets=[public_nlb],
            description=f"Hydra {config.env_name}: API Gateway to the public NLB (public port only)")

        access_logs = logs.LogGroup(
            self, "AccessLogs", retention=retention(config.log_retention_days),
            removal_policy=kept_in_production(config.production))

        self.rest_api = apigw.RestApi(
            self, "RestApi",
            rest_api_name=f"hydra-{config.env_name}",
            description=f"Ory Hydra public API ({config.env_name})",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            disable_execute_api_endpoint=config.domain_name is not None,
            cloud_watch_role=config.api_cloudwatch_role,
            # The account setting outlives this stack: other APIs may rely on it.
            cloud_watch_role_removal_policy=RemovalPolicy.RETAIN if config.api_cloudwatch_role else None,
            deploy_options=apigw.StageOptions(
                stage_name=config.api_stage_name,
                access_log_destination=apigw.LogGroupLogDestination(access_logs),
                access_log_format=apigw.AccessLogFormat.custom(json.dumps(ACCESS_LOG_FORMAT)),
                logging_level=apigw.MethodLoggingLevel.ERROR,
                # Request and response bodies carry tokens and codes: never log them.
                data_trace_enabled=False,
                metrics_enabled=True,
                throttling_rate_limit=config.api_throttle_rate_limit,
                throttling_burst_limit=config.api_throttle_burst_limit,
            ),
        )
        self.stage = self.rest_api.deployment_stage
        # API Gateway writes its execution logs (logging_level ERROR) to a group it creates itself.
        retain_logs_of(self, "ExecutionLogsRetention",
                       f"API-Gateway-Execution-Logs_{self.rest_api.rest_api_id}/{config.api_stage_name}",
                       config.log_retention_days)

        nlb_base = f"http://{public_nlb.load_balancer_dns_name}:{public_port}"
        self.rest_api.root.add_method("ANY", self._to_hydra(f"{nlb_base}/"))
        self.rest_api.root.add_resource("{proxy+}").add_method(
            "ANY", self._to_hydra(f"{nlb_base}/{{proxy}}", proxy=True),
            request_parameters={"method.request.path.proxy": True})

        # Hydra's public port serves no admin routes; API Gateway answering
        # /admin itself keeps it so even if that ever changed.
        admin = self.rest_api.root.add_resource("admin")
        admin.add_method("ANY", self._not_found(), method_responses=[apigw.MethodResponse(status_code="404")])
        admin.add_resource("{proxy+}").add_method(
            "ANY", self._not_found(), method_responses=[apigw.MethodResponse(status_code="404")])

        if config.domain_name:
            self.public_url = f"https://{config.domain_name}/"
            self.domain = self._custom_domain(config)
        else:
            self.public_url = self.rest_api.url
            self.domain = None
        self.jwks_url = f"{self.public_url}.well-known/jwks.json"

        if config.waf_enabled:
            self.firewall = PublicApiFirewall(self, "Firewall", config=config, stage=self.stage)
        else:
            Validations.of(self.stage).acknowledge(cdk.Acknowledgment(id="AwsSolutions-APIG3", reason=(
                f"Environment '{config.env_name}' runs without WAF (waf_enabled=false) to save cost; "
                "production configurations cannot turn WAF off.")))

        Validations.of(self.rest_api).acknowledge(
            cdk.Acknowledgment(id="AwsSolutions-APIG4", reason=(
                "An OAuth2 server's public endpoints (authorize, token, JWKS, discovery) are called "
                "without API Gateway authorization by design; Hydra authenticates clients itself.")),
            cdk.Acknowledgment(id="AwsSolutions-COG4", reason=(
                "Hydra is the authorization server; a Cognito authorizer in front of it would be circular.")),
            cdk.Acknowledgment(id="AwsSolutions-APIG2", reason=(
                "Every route is an HTTP proxy to Hydra, which validates its own requests; API Gateway "
                "request models would have to duplicate the OAuth2 protocol.")),
        )
        if config.api_cloudwatch_role:
            acknowledge(self.rest_api, "AwsSolutions-IAM4",
                        "AmazonAPIGatewayPushToCloudWatchLogs is the policy API Gateway's account-wide "
                        "logging role is documented to use.",
                        MANAGED_POLICY + "service-role/AmazonAPIGatewayPushToCloudWatchLogs")

    def _to_hydra(self, uri: str, proxy: bool = False) -> apigw.Integration:
        return apigw.Integration(
            type=apigw.IntegrationType.HTTP_PROXY,
            integration_http_method="ANY",
            uri=uri,
            options=apigw.IntegrationOptions(
                connection_type=apigw.ConnectionType.VPC_LINK,
                vpc_link=self.vpc_link,
                request_parameters={"integration.request.path.proxy": "method.request.path.proxy"} if proxy else None,
            ),
        )

    @staticmethod
    def _not_found() -> apigw.MockIntegration:
        return apigw.MockIntegration(
            passthrough_behavior=apigw.PassthroughBehavior.NEVER,
            request_templates={"application/json": '{"statusCode": 404}'},
            integration_responses=[apigw.IntegrationResponse(
                status_code="404",
                response_templates={"application/json": '{"error": "not_found"}'})],
        )

    def _custom_domain(self, config: HydraConfig) -> apigw.DomainName:
        assert config.domain_name
        zone = None
        if config.hosted_zone_id and config.hosted_zone_name:
            zone = route53.HostedZone.from_hosted_zone_attributes(
                self, "Zone", hosted_zone_id=config.hosted_zone_id, zone_name=config.hosted_zone_name)
        if config.certificate_arn:
            certificate = acm.Certificate.from_certificate_arn(self, "Certificate", config.certificate_arn)
        else:
            assert zone is not None  # config validation guarantees a zone
            certificate = acm.Certificate(
                self, "Certificate", domain_name=config.domain_name,
                validation=acm.CertificateValidation.from_dns(zone))
        domain = apigw.DomainName(
            self, "Domain", domain_name=config.domain_name, certificate=certificate,
            endpoint_type=apigw.EndpointType.REGIONAL, security_policy=apigw.SecurityPolicy.TLS_1_2)
        domain.add_base_path_mapping(self.rest_api, stage=self.stage)
        if zone is not None:
            route53.ARecord(self, "Alias", zone=zone, record_name=config.domain_name,
                            target=route53.RecordTarget.from_alias(route53_targets.ApiGatewayDomain(domain)))
        return domain
