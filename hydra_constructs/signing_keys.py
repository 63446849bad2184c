"""Hydra's signing key sets, created once after the service is up."""

from __future__ import annotations

from aws_cdk import aws_ec2 as ec2
from constructs import Construct

from hydra_functions.signing_keys import KEY_SETS
from hydra_on_aws.config.settings import HydraConfig

from .functions import CustomResourceProvider, HydraFunction



class SigningKeys(Construct):
    """Ensures ``hydra.openid.id-token`` and ``hydra.jwt.access-token`` exist.

    Provides ``function`` (inside the VPC; callers grant it admin access) and
    ``keys`` (the custom resource). It reruns whenever the configuration
    changes (a fingerprint, not the task definition's ARN: a revision-specific
    ARN exported to this stack would block every service update), and creates
    a set only when the admin API answers 404, so fresh tasks never race to
    create their own.
    """

    def __init__(self, scope: Construct, construct_id: str, *, config: HydraConfig, vpc: ec2.IVpc,
                 subnets: ec2.SubnetSelection, admin_endpoint: str) -> None:
        super().__init__(scope, construct_id)
        self.function = HydraFunction(
            self, "Function", handler="hydra_functions.signing_keys.on_event",
            description="Creates Hydra's signing key sets through the admin API when they are missing",
            vpc=vpc, subnets=subnets, log_retention_days=config.log_retention_days, production=config.production)
        provider = CustomResourceProvider(self, "Provider", on_event=self.function.function,
                                          log_retention_days=config.log_retention_days)
        # Access tokens are JWTs (STRATEGIES_ACCESS_TOKEN=jwt): they need their own set.
        self.keys = provider.resource(
            self, "KeySets", resource_type="Custom::HydraSigningKeys",
            properties={"AdminUrl": admin_endpoint, "KeySets": list(KEY_SETS),
                        "Algorithm": "RS256", "ConfigurationFingerprint": config.fingerprint})
