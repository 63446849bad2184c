"""Hydra service: Fargate, private, hardened, configured through the environment."""

from __future__ import annotations

import json

from tests.support.cfn import by_path, env_of, only, props, resources
from tests.hydra_constructs.test_network import subnets_by_tier


def container(synth, task_definition: str = "Hydra/TaskDefinition") -> dict:
    _, taskdef = by_path(synth.templates["Service"], f"{task_definition}/Resource")
    [c] = props(taskdef)["ContainerDefinitions"]
    return c


def service(synth) -> dict:
    return props(only(synth.templates["Service"], "AWS::ECS::Service")[1])


def test_runs_hydra_serve_all_from_the_configured_image(dev):
    c = container(dev)
    assert c["Command"] == ["serve", "all"]
    assert c["Image"] == "oryd/hydra:v26.2.0"
    assert {m["ContainerPort"] for m in c["PortMappings"]} == {4444, 4445}


def test_an_ecr_image_is_pulled_with_rights_on_that_repository_only(dev_domain):
    c = container(dev_domain)
    rendered = json.dumps(c["Image"])
    assert "123456789012.dkr.ecr.eu-west-1." in rendered and "/mirror/hydra:v26.2.0" in rendered
    statements = [s for p in resources(dev_domain.templates["Service"], "AWS::IAM::Policy").values()
                  for s in props(p)["PolicyDocument"]["Statement"]]
    pull = next(s for s in statements if "ecr:BatchGetImage" in s["Action"])
    assert json.dumps(pull["Resource"]).endswith(':ecr:eu-west-1:123456789012:repository/mirror/hydra"]]}')


def test_environment_carries_the_issuer_urls_and_protocol_settings(synth):
    env, c = env_of(container(synth)), synth.config
    assert env["URLS_SELF_ISSUER"] == env["URLS_SELF_PUBLIC"]
    assert env["URLS_LOGIN"] == c.urls_login and env["URLS_CONSENT"] == c.urls_consent
    assert env["URLS_LOGOUT"] == c.urls_logout and env["URLS_ERROR"] == c.urls_error
    assert env["URLS_POST_LOGOUT_REDIRECT"] == c.urls_post_logout_redirect
    expected = {
        "STRATEGIES_ACCESS_TOKEN": "jwt",
        "OAUTH2_PKCE_ENFORCED_FOR_PUBLIC_CLIENTS": "true",
        "SERVE_PUBLIC_HOST": "0.0.0.0", "SERVE_ADMIN_HOST": "0.0.0.0",
        "SERVE_PUBLIC_PORT": "4444", "SERVE_ADMIN_PORT": "4445",
        "LOG_FORMAT": "json", "LOG_LEAK_SENSITIVE_VALUES": "false",
        "SQA_OPT_OUT": "true",
        "CLIENTS_HTTP_DISALLOW_PRIVATE_IP_RANGES": "true",
        "OIDC_DYNAMIC_CLIENT_REGISTRATION_ENABLED": "false",
        "SERVE_COOKIES_SAME_SITE_MODE": "Lax",
        "TTL_ACCESS_TOKEN": c.ttl_access_token, "TTL_AUTH_CODE": c.ttl_auth_code,
        "TTL_ID_TOKEN": c.ttl_id_token, "TTL_REFRESH_TOKEN": c.ttl_refresh_token,
    }
    assert {k: env.get(k) for k in expected} == expected
    assert "SERVE_PUBLIC_CORS_ENABLED" not in env, "CORS on with no origins would allow every origin"


def test_cors_is_enabled_only_with_an_explicit_origin_list(dev_domain):
    env = env_of(container(dev_domain))
    assert env["SERVE_PUBLIC_CORS_ENABLED"] == "true"
    assert env["SERVE_PUBLIC_CORS_ALLOWED_ORIGINS"] == "https://app.dev.example.com"


def normalized_join(model, stack: str, value: dict) -> list:
    """An Fn::Join with every reference resolved to the resource it names."""
    separator, parts = value["Fn::Join"]
    assert separator == ""
    return [p if isinstance(p, str) else model.resolve(stack, p) for p in parts]


def test_issuer_is_the_execute_api_url_with_the_stage_path_without_a_domain(synth):
    model = synth.model
    issuer = normalized_join(model, synth.stack_name("Service"), env_of(container(synth))["URLS_SELF_ISSUER"])
    published = normalized_join(model, synth.stack_name("Ingress"),
                                synth.templates["Ingress"]["Outputs"]["HydraPublicApi"]["Value"])
    assert [repr(p) for p in issuer] == [repr(p) for p in published], "task issuer != HYDRA_PUBLIC_API output"
    assert issuer[0] == "https://" and issuer[2] == ".execute-api." and issuer[-1] == "/"
    api, stage = model.resource(issuer[1]), model.resource(issuer[-2])
    assert api.type == "AWS::ApiGateway::RestApi" and stage.type == "AWS::ApiGateway::Stage"
    assert stage.properties["StageName"] == synth.config.api_stage_name


def test_issuer_is_https_domain_with_a_custom_domain(dev_domain):
    env = env_of(container(dev_domain))
    assert env["URLS_SELF_ISSUER"] == env["URLS_SELF_PUBLIC"] == "https://auth.dev.example.com/"


def test_container_is_non_root_read_only_and_without_capabilities(synth):
    c = container(synth)
    assert c["User"] == "65532"
    assert c["ReadonlyRootFilesystem"] is True
    assert c["LinuxParameters"]["Capabilities"]["Drop"] == ["ALL"]
    assert "Add" not in c["LinuxParameters"]["Capabilities"]


def test_logs_are_retained_and_container_insights_on(synth):
    template = synth.templates["Service"]
    c = container(synth)
    group = template["Resources"][c["LogConfiguration"]["Options"]["awslogs-group"]["Ref"]]
    assert props(group)["RetentionInDays"] == synth.config.log_retention_days
    _, cluster = only(template, "AWS::ECS::Cluster")
    assert {"Name": "containerInsights", "Value": "enhanced"} in props(cluster)["ClusterSettings"]


def test_tasks_run_in_private_subnets_without_public_ip(synth):
    config = service(synth)["NetworkConfiguration"]["AwsvpcConfiguration"]
    assert config["AssignPublicIp"] == "DISABLED"
    model = synth.model
    private = set(subnets_by_tier(synth.templates["Stateful"])["private"])
    subnets = {model.resolve(synth.stack_name("Service"), s).logical_id for s in config["Subnets"]}
    assert subnets == private
    [sg] = config["SecurityGroups"]
    tasks_sg = model.resolve(synth.stack_name("Service"), sg)
    assert model.resource(tasks_sg).path.endswith("LoadBalancers/HydraTasksSecurityGroup/Resource")


def test_service_is_registered_with_both_target_groups(synth):
    model = synth.model
    registered = {(lb["ContainerPort"], model.resource(model.resolve(synth.stack_name("Service"),
                                                                      lb["TargetGroupArn"])).path)
                  for lb in service(synth)["LoadBalancers"]}
    assert {(port, path.split("/")[-2]) for port, path in registered} == {
        (4444, "PublicTargets"), (4445, "AdminTargets")}


def test_deployments_roll_back_on_failure(synth):
    deployment = service(synth)["DeploymentConfiguration"]
    assert deployment["DeploymentCircuitBreaker"] == {"Enable": True, "Rollback": True}
    assert deployment["MinimumHealthyPercent"] == 100


def test_prod_runs_at_least_two_tasks_spread_over_azs_and_scales_on_cpu(prod):
    s = service(prod)
    assert prod.config.hydra_min_tasks >= 2, "the autoscaling minimum: the count from the first deploy on"
    assert s["AvailabilityZoneRebalancing"] == "ENABLED"
    assert len(s["NetworkConfiguration"]["AwsvpcConfiguration"]["Subnets"]) >= 2
    template = prod.templates["Service"]
    _, target = only(template, "AWS::ApplicationAutoScaling::ScalableTarget")
    assert (props(target)["MinCapacity"], props(target)["MaxCapacity"]) == (
        prod.config.hydra_min_tasks, prod.config.hydra_max_tasks)
    _, policy = only(template, "AWS::ApplicationAutoScaling::ScalingPolicy")
    tracking = props(policy)["TargetTrackingScalingPolicyConfiguration"]
    assert tracking["PredefinedMetricSpecification"]["PredefinedMetricType"] == "ECSServiceAverageCPUUtilization"
    assert tracking["TargetValue"] == prod.config.hydra_cpu_target_percent


def test_task_role_has_no_permissions(synth):
    template = synth.templates["Service"]
    task_role_id, _ = by_path(template, "Hydra/TaskDefinition/TaskRole/Resource")
    attached = [p for p in resources(template, "AWS::IAM::Policy").values()
                if {"Ref": task_role_id} in props(p)["Roles"]]
    assert not attached, "Hydra itself needs no AWS permissions"


def test_a_new_pool_size_redeploys_the_tasks(synth, dev, prod):
    # The pool size only lives inside the DSN secret, which ECS reads at task start: the label puts
    # it into the task definition, so changing it rolls the tasks instead of waiting for a restart.
    assert container(synth)["DockerLabels"] == {"hydra.dsn.max-conns": str(synth.config.hydra_max_conns)}
    assert dev.config.hydra_max_conns != prod.config.hydra_max_conns
    assert container(dev)["DockerLabels"] != container(prod)["DockerLabels"]


def test_autoscaling_owns_the_task_count(synth):
    # A DesiredCount in the template would reset the running count on every deploy touching the service.
    service_id, service = only(synth.templates["Service"], "AWS::ECS::Service")
    assert "DesiredCount" not in props(service)
    _, target = only(synth.templates["Service"], "AWS::ApplicationAutoScaling::ScalableTarget")
    assert (props(target)["MinCapacity"], props(target)["MaxCapacity"]) == (
        synth.config.hydra_min_tasks, synth.config.hydra_max_tasks)
    assert service_id in str(props(target)["ResourceId"])
