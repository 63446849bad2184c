"""Hydra on ECS Fargate: `hydra serve all` in the private subnets."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import Duration, Validations
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from hydra_on_aws.config.settings import HydraConfig

from ._util import acknowledge, kept_in_production, retain_logs_of, retention

CONTAINER_NAME = "hydra"
MIGRATE_CONTAINER = "hydra-migrate"


def hydra_environment(config: HydraConfig, public_url: str) -> dict[str, str]:
    """Hydra's non-secret configuration as environment variables.

    ``public_url`` is the issuer exactly as tokens carry it (``iss``), with
    its trailing slash. Secrets (DSN, SECRETS_SYSTEM) are never here.
    """
    env = {
        "URLS_SELF_ISSUER": public_url,
        "URLS_SELF_PUBLIC": public_url,
        "URLS_LOGIN": config.urls_login,
        "URLS_CONSENT": config.urls_consent,
        "URLS_LOGOUT": config.urls_logout,
        "URLS_ERROR": config.urls_error,
        "URLS_POST_LOGOUT_REDIRECT": config.urls_post_logout_redirect,
        "SERVE_PUBLIC_HOST": "0.0.0.0",
        "SERVE_PUBLIC_PORT": str(config.hydra_public_port),
        "SERVE_ADMIN_HOST": "0.0.0.0",
        "SERVE_ADMIN_PORT": str(config.hydra_admin_port),
        "SERVE_COOKIES_SAME_SITE_MODE": "Lax",
        "SERVE_PUBLIC_REQUEST_LOG_DISABLE_FOR_HEALTH": "true",
        "SERVE_ADMIN_REQUEST_LOG_DISABLE_FOR_HEALTH": "true",
        "STRATEGIES_ACCESS_TOKEN": "jwt",
        "STRATEGIES_SCOPE": config.scope_strategy,
        "OAUTH2_PKCE_ENFORCED_FOR_PUBLIC_CLIENTS": "true",
        "OAUTH2_PKCE_ENFORCED": str(config.pkce_enforced_for_all_clients).lower(),
        "OIDC_DYNAMIC_CLIENT_REGISTRATION_ENABLED": "false",
        "CLIENTS_HTTP_DISALLOW_PRIVATE_IP_RANGES": "true",
        "TTL_ACCESS_TOKEN": config.ttl_access_token,
        "TTL_ID_TOKEN": config.ttl_id_token,
        "TTL_AUTH_CODE": config.ttl_auth_code,
        "TTL_REFRESH_TOKEN": config.ttl_refresh_token,
        "TTL_LOGIN_CONSENT_REQUEST": config.ttl_login_consent_request,
        "LOG_FORMAT": "json",
        "LOG_LEVEL": config.hydra_log_level,
        "LOG_LEAK_SENSITIVE_VALUES": "false",
        "SQA_OPT_OUT": "true",
    }
    if config.cors_allowed_origins:
        # Enabled with an empty list Hydra would allow every origin: only
        # turn CORS on with an explicit list.
        env["SERVE_PUBLIC_CORS_ENABLED"] = "true"
        env["SERVE_PUBLIC_CORS_ALLOWED_ORIGINS"] = ",".join(config.cors_allowed_origins)
    return env


def hydra_image(scope: Construct, config: HydraConfig) -> ecs.ContainerImage:
    """The configured image; an ECR repository gets pull rights for the execution role."""
    parts = config.image_parts
    if parts["ecr_account"]:
        repository = ecr.Repository.from_repository_attributes(
            scope, "HydraRepository",
            repository_name=parts["repository"],
            repository_arn=cdk.Arn.format(cdk.ArnComponents(
                service="ecr", resource="repository", resource_name=parts["repository"],
                account=parts["ecr_account"], region=parts["ecr_region"]), cdk.Stack.of(scope)))
        return ecs.ContainerImage.from_ecr_repository(repository, parts["digest"] or parts["tag"])
    return ecs.ContainerImage.from_registry(config.hydra_image)


def hardened_container(task_definition: ecs.FargateTaskDefinition, construct_id: str, *, config: HydraConfig,
                       image: ecs.ContainerImage, command: list[str], environment: dict[str, str],
                       secrets: dict[str, ecs.Secret], log_group: logs.ILogGroup, stream_prefix: str,
                       **extra) -> ecs.ContainerDefinition:
    """A Hydra container: non-root, read-only root filesystem, no Linux capabilities, JSON logs."""
    linux = ecs.LinuxParameters(task_definition, f"{construct_id}LinuxParameters", init_process_enabled=True)
    linux.drop_capabilities(ecs.Capability.ALL)
    return task_definition.add_container(
        construct_id, image=image, command=command, user=config.hydra_user, readonly_root_filesystem=True,
        linux_parameters=linux, essential=True, environment=environment, secrets=secrets,
        logging=ecs.LogDrivers.aws_logs(
            stream_prefix=stream_prefix, log_group=log_group,
            # A full log buffer must not stall token issuance.
            mode=ecs.AwsLogDriverMode.NON_BLOCKING, max_buffer_size=cdk.Size.mebibytes(25)),
        **extra)


def fargate_task_definition(scope: Construct, construct_id: str, *, config: HydraConfig, family: str,
                            cpu: int, memory: int) -> ecs.FargateTaskDefinition:
    """A Hydra task definition, with the acknowledgments every one of them needs."""
    task_definition = ecs.FargateTaskDefinition(
        scope, construct_id, family=family, cpu=cpu, memory_limit_mib=memory,
        runtime_platform=ecs.RuntimePlatform(
            operating_system_family=ecs.OperatingSystemFamily.LINUX,
            cpu_architecture=(ecs.CpuArchitecture.ARM64 if config.hydra_architecture == "arm64"
                              else ecs.CpuArchitecture.X86_64)))
    if config.image_parts["ecr_account"]:
        acknowledge(task_definition, "AwsSolutions-IAM5",
                    "ecr:GetAuthorizationToken has no resource-level permissions; image pulls are limited "
                    "to the configured repository.", "Resource::*")
    Validations.of(task_definition).acknowledge(cdk.Acknowledgment(id="AwsSolutions-ECS2", reason=(
        "The environment holds Hydra's non-secret configuration only (URLs, TTLs, strategies, logging); the "
        "DSN and SECRETS_SYSTEM are ECS secrets from Secrets Manager.")))
    return task_definition


def command_environment(config: HydraConfig) -> dict[str, str]:
    """What a one-off Hydra command needs besides its DSN: logs, telemetry off, the TTLs."""
    return {k: v for k, v in hydra_environment(config, "https://unused.invalid/").items()
            if k.startswith(("TTL_", "LOG_", "SQA_"))}


class HydraService(Construct):
    """`hydra serve all` on Fargate behind the public and admin target groups.

    Provides ``cluster``, ``task_definition``, ``service``, ``log_group``,
    ``image`` and ``commands_sg`` (the security group of one-off Hydra
    commands: migrations and the janitor).
    Invariants: private subnets, no public IP, the tasks' security group from
    the load balancers (so the trust boundary is defined in one place),
    secrets only as ECS secrets, non-root with a read-only root filesystem and
    no Linux capabilities, deployment circuit breaker with rollback.
    """

    def __init__(self, scope: Construct, construct_id: str, *, config: HydraConfig, vpc: ec2.IVpc,
                 subnets: ec2.SubnetSelection, hydra_tasks_sg: ec2.ISecurityGroup,
                 public_target_group: elbv2.INetworkTargetGroup, admin_target_group: elbv2.INetworkTargetGroup,
                 introspection_target_group: elbv2.IApplicationTargetGroup | None = None,
                 dsn_secret: secretsmanager.ISecret, system_secret: secretsmanager.ISecret,
                 migration_dsn_secret: secretsmanager.ISecret, public_url: str) -> None:
        super().__init__(scope, construct_id)

        self.cluster = ecs.Cluster(self, "Cluster", vpc=vpc,
                                   container_insights_v2=ecs.ContainerInsights.ENHANCED)
        # Container Insights writes its performance events to a group it creates (one day by default).
        retain_logs_of(self, "ContainerInsightsLogsRetention",
                       f"/aws/ecs/containerinsights/{self.cluster.cluster_name}/performance",
                       config.log_retention_days)
        self.log_group = logs.LogGroup(
            self, "Logs", retention=retention(config.log_retention_days),
            removal_policy=kept_in_production(config.production))

        self.image = hydra_image(self, config)
        self.task_definition = fargate_task_definition(
            self, "TaskDefinition", config=config, family=f"hydra-{config.env_name}", cpu=config.hydra_cpu,
            memory=config.hydra_memory)
        health_check = None
        if config.hydra_health_check:
            # busybox wget: --spider writes nothing, so the read-only root filesystem is fine.
            health_check = ecs.HealthCheck(
                command=["CMD", "wget", "-q", "--spider",
                         f"http://127.0.0.1:{config.hydra_public_port}/health/alive"],
                interval=Duration.seconds(15), timeout=Duration.seconds(5), retries=3,
                start_period=Duration.seconds(20))
        self.container = hardened_container(
            self.task_definition, CONTAINER_NAME, config=config, image=self.image, command=["serve", "all"],
            environment=hydra_environment(config, public_url),
            secrets={
                "DSN": ecs.Secret.from_secrets_manager(dsn_secret),
                "SECRETS_SYSTEM": ecs.Secret.from_secrets_manager(system_secret),
            },
            log_group=self.log_group, stream_prefix="hydra",
            port_mappings=[
                ecs.PortMapping(container_port=config.hydra_public_port, name="public"),
                ecs.PortMapping(container_port=config.hydra_admin_port, name="admin"),
            ],
            health_check=health_check,
            stop_timeout=Duration.seconds(30),
            # The pool size lives in the DSN secret; as a label it makes a change redeploy the tasks.
            docker_labels={"hydra.dsn.max-conns": str(config.hydra_max_conns)},
        )

        self.commands_sg = ec2.SecurityGroup(
            self, "CommandsSecurityGroup", vpc=vpc, allow_all_outbound=False,
            description="One-off Hydra commands (migrations, janitor) - no inbound")
        self.commands_sg.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(443),
                                         "Image pulls, Secrets Manager and CloudWatch Logs over HTTPS")
        self.migrate_task_definition = fargate_task_definition(
            self, "MigrateTaskDefinition", config=config, family=f"hydra-{config.env_name}-migrate", cpu=256,
            memory=512)
        hardened_container(
            self.migrate_task_definition, MIGRATE_CONTAINER, config=config, image=self.image,
            command=["migrate", "sql", "up", "-e", "--yes"], environment=command_environment(config),
            secrets={"DSN": ecs.Secret.from_secrets_manager(migration_dsn_secret)},
            log_group=self.log_group, stream_prefix="migrate")

        self.service = ecs.FargateService(
            self, "Service",
            cluster=self.cluster,
            task_definition=self.task_definition,
            # No DesiredCount: autoscaling owns it (its minimum applies from the start). With one in the
            # template, every deploy that touches the service would reset the count to it.
            vpc_subnets=subnets,
            security_groups=[hydra_tasks_sg],
            assign_public_ip=False,
            min_healthy_percent=100,
            max_healthy_percent=200,
            circuit_breaker=ecs.DeploymentCircuitBreaker(enable=True, rollback=True),
            availability_zone_rebalancing=ecs.AvailabilityZoneRebalancing.ENABLED,
            health_check_grace_period=Duration.seconds(60),
            enable_execute_command=False,
            platform_version=ecs.FargatePlatformVersion.LATEST,
            propagate_tags=ecs.PropagatedTagSource.SERVICE,
        )
        for target_group, port in ((public_target_group, config.hydra_public_port),
                                   (admin_target_group, config.hydra_admin_port)):
            target_group.add_target(self.service.load_balancer_target(
                container_name=CONTAINER_NAME, container_port=port))
        if introspection_target_group is not None:
            introspection_target_group.add_target(self.service.load_balancer_target(
                container_name=CONTAINER_NAME, container_port=config.hydra_admin_port))

        scaling = self.service.auto_scale_task_count(
            min_capacity=config.hydra_min_tasks, max_capacity=config.hydra_max_tasks)
        scaling.scale_on_cpu_utilization(
            "CpuTarget", target_utilization_percent=config.hydra_cpu_target_percent,
            scale_in_cooldown=Duration.minutes(5), scale_out_cooldown=Duration.minutes(1))
