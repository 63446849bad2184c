"""The live check, against an account built with moto's normal APIs (no templates deployed into it).

Where moto does not keep a field a rule needs, the rule is tested against
recorded API responses with botocore's Stubber instead (said at each test).
"""

from __future__ import annotations

import http.server
import json
import ssl
import threading
from dataclasses import dataclass

import boto3
import pytest
from botocore.stub import Stubber

from hydra_on_aws.boundary import verify as live
from hydra_on_aws.local.tls import LocalCA
from hydra_on_aws.boundary.verify import AccountReader, Report, main, verify

from tests.conftest import MOTO_REGION as REGION, stack_with_outputs

ENV = "prod"
TAGS = [{"Key": "project", "Value": "hydra"}, {"Key": "hydra:environment", "Value": ENV}]
ISSUER = "https://auth.example.com/"


@dataclass
class Account:
    session: boto3.Session
    vpc: str
    private: list[str]
    public: str
    sg: dict[str, str]
    public_nlb: dict
    admin_nlb: dict
    admin_tg: str
    rest_api: str
    proxy_resource: str


@pytest.fixture
def aws(moto_session):
    return moto_session


def deploy(session: boto3.Session, *, env_overrides: dict | None = None, issuer: str = ISSUER) -> Account:
    """What the app deploys, built resource by resource through moto's APIs."""
    ec2, elbv2 = session.client("ec2"), session.client("elbv2")
    vpc = ec2.create_vpc(CidrBlock="10.41.0.0/16", TagSpecifications=[{"ResourceType": "vpc", "Tags": TAGS}])["Vpc"]
    vpc_id = vpc["VpcId"]
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc_id)
    public = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.41.0.0/24", AvailabilityZone=f"{REGION}a")["Subnet"]
    table = ec2.create_route_table(VpcId=vpc_id)["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=table, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    ec2.associate_route_table(RouteTableId=table, SubnetId=public["SubnetId"])
    private = [ec2.create_subnet(VpcId=vpc_id, CidrBlock=f"10.41.{16 * (i + 1)}.0/20",
                                 AvailabilityZone=f"{REGION}{az}")["Subnet"]["SubnetId"]
               for i, az in enumerate("ab")]
    sg = {name: ec2.create_security_group(GroupName=f"hydra-{name}", Description=name, VpcId=vpc_id)["GroupId"]
          for name in ("tasks", "public-nlb", "admin-nlb", "bastion", "database")}

    def allow(target: str, port: int, source: str) -> None:
        ec2.authorize_security_group_ingress(GroupId=sg[target], IpPermissions=[{
            "IpProtocol": "tcp", "FromPort": port, "ToPort": port, "UserIdGroupPairs": [{"GroupId": sg[source]}]}])
    allow("tasks", 4444, "public-nlb")
    allow("tasks", 4445, "admin-nlb")
    allow("admin-nlb", 4445, "bastion")
    allow("database", 5432, "tasks")

    def nlb(name: str, group: str) -> dict:
        return elbv2.create_load_balancer(Name=name, Subnets=private, Scheme="internal", Type="network",
                                          SecurityGroups=[sg[group]])["LoadBalancers"][0]

    def target_group(name: str, port: int) -> str:
        return elbv2.create_target_group(Name=name, Protocol="TCP", Port=port, VpcId=vpc_id,
                                         TargetType="ip")["TargetGroups"][0]["TargetGroupArn"]
    public_nlb, admin_nlb = nlb("hydra-public", "public-nlb"), nlb("hydra-admin", "admin-nlb")
    public_tg, admin_tg = target_group("hydra-public", 4444), target_group("hydra-admin", 4445)
    for balancer, port, tg in ((public_nlb, 4444, public_tg), (admin_nlb, 4445, admin_tg)):
        elbv2.create_listener(LoadBalancerArn=balancer["LoadBalancerArn"], Protocol="TCP", Port=port,
                              DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])

    apigw = session.client("apigateway")
    api = apigw.create_rest_api(name="hydra-prod", endpointConfiguration={"types": ["REGIONAL"]})["id"]
    link = apigw.create_vpc_link(name="hydra", targetArns=[public_nlb["LoadBalancerArn"]])["id"]
    root = apigw.get_resources(restApiId=api)["items"][0]["id"]
    proxy = apigw.create_resource(restApiId=api, parentId=root, pathPart="{proxy+}")["id"]
    apigw.put_method(restApiId=api, resourceId=proxy, httpMethod="ANY", authorizationType="NONE")
    apigw.put_integration(restApiId=api, resourceId=proxy, httpMethod="ANY", type="HTTP_PROXY",
                          integrationHttpMethod="ANY", connectionType="VPC_LINK", connectionId=link,
                          uri=f"http://{public_nlb['DNSName']}:4444/{{proxy}}")

    ecs = session.client("ecs")
    ecs.create_cluster(clusterName="hydra-prod")
    environment = {"URLS_SELF_ISSUER": issuer, "URLS_SELF_PUBLIC": issuer, "STRATEGIES_ACCESS_TOKEN": "jwt",
                   **(env_overrides or {})}
    secrets = [{"name": n, "valueFrom": f"arn:aws:secretsmanager:{REGION}:123456789012:secret:{n.lower()}"}
               for n in ("DSN", "SECRETS_SYSTEM") if n not in environment]
    taskdef = ecs.register_task_definition(
        family="hydra", networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu="512", memory="1024",
        containerDefinitions=[{"name": "hydra", "image": "oryd/hydra:v26.2.0", "command": ["serve", "all"],
                               "portMappings": [{"containerPort": 4444}, {"containerPort": 4445}],
                               "environment": [{"name": k, "value": v} for k, v in environment.items()],
                               "secrets": secrets}])["taskDefinition"]["taskDefinitionArn"]
    ecs.create_service(cluster="hydra-prod", serviceName="hydra", taskDefinition=taskdef, desiredCount=2,
                       launchType="FARGATE",
                       networkConfiguration={"awsvpcConfiguration": {"subnets": private, "securityGroups": [sg["tasks"]],
                                                                     "assignPublicIp": "DISABLED"}},
                       loadBalancers=[{"targetGroupArn": public_tg, "containerName": "hydra", "containerPort": 4444},
                                      {"targetGroupArn": admin_tg, "containerName": "hydra", "containerPort": 4445}])
    ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1, InstanceType="t4g.nano",
                      NetworkInterfaces=[{"DeviceIndex": 0, "SubnetId": private[0], "Groups": [sg["bastion"]],
                                          "AssociatePublicIpAddress": False}],
                      TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "bastion"}]}])
    stack_with_outputs(session, f"Hydra-{ENV}-Stateful", {"DsnSecretArn": "arn:...:dsn"}, TAGS)
    stack_with_outputs(session, f"Hydra-{ENV}-Ingress", {
        "HydraPublicApi": issuer, "HydraAdminApi": f"http://{admin_nlb['DNSName']}:4445"}, TAGS)
    stack_with_outputs(session, f"Hydra-{ENV}-Service", {"ServiceName": "hydra"}, TAGS)
    return Account(session, vpc_id, private, public["SubnetId"], sg, public_nlb, admin_nlb, admin_tg, api, proxy)


def failed_rules(report: Report) -> set[str]:
    return {v.rule for v in report.network_violations} | {f[0] for f in report.live_findings}


def test_a_compliant_account_passes(aws):
    deploy(aws)
    report = verify(aws, ENV)
    assert failed_rules(report) == set(), report.render()
    text = report.render()
    assert text.startswith(f"Live check of Hydra {ENV} in {REGION}")
    assert "PASS  admin-port-ingress" in text and text.endswith("Result: PASS")


def test_a_rule_opening_the_admin_port_to_the_internet_fails(aws):
    account = deploy(aws)
    aws.client("ec2").authorize_security_group_ingress(GroupId=account.sg["tasks"], IpPermissions=[{
        "IpProtocol": "tcp", "FromPort": 4445, "ToPort": 4445, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    report = verify(aws, ENV)
    assert failed_rules(report) == {"admin-port-ingress"}
    assert "FAIL  admin-port-ingress" in report.render()
    assert f"{account.sg['tasks']} (hydra-tasks): tcp 4445 into {account.sg['tasks']} (hydra-tasks) from " \
           "0.0.0.0/0 (anywhere)" in report.render()


def test_an_internet_facing_load_balancer_forwarding_to_the_admin_port_fails(aws):
    account = deploy(aws)
    elbv2 = aws.client("elbv2")
    exposed = elbv2.create_load_balancer(Name="shortcut", Subnets=[account.public], Scheme="internet-facing",
                                         Type="network")["LoadBalancers"][0]
    elbv2.create_listener(LoadBalancerArn=exposed["LoadBalancerArn"], Protocol="TCP", Port=443,
                          DefaultActions=[{"Type": "forward", "TargetGroupArn": account.admin_tg}])
    report = verify(aws, ENV)
    assert "internet-facing-lb" in failed_rules(report)
    assert "shortcut (network, internet-facing): its listener listener 443 of shortcut on port 443 forwards to " \
           "port 4445" in report.render()


def test_an_integration_to_the_admin_nlb_fails(aws):
    account = deploy(aws)
    apigw = aws.client("apigateway")
    root = apigw.get_resources(restApiId=account.rest_api)["items"][0]["id"]
    backdoor = apigw.create_resource(restApiId=account.rest_api, parentId=root, pathPart="backdoor")["id"]
    apigw.put_method(restApiId=account.rest_api, resourceId=backdoor, httpMethod="GET", authorizationType="NONE")
    apigw.put_integration(restApiId=account.rest_api, resourceId=backdoor, httpMethod="GET", type="HTTP_PROXY",
                          integrationHttpMethod="GET", uri=f"http://{account.admin_nlb['DNSName']}:4445/admin/clients")
    report = verify(aws, ENV)
    assert failed_rules(report) == {"api-integration"}
    assert "REST API hydra-prod GET /backdoor: its URI " in report.render()


def test_a_vpc_link_integration_to_the_admin_nlb_fails_on_recorded_responses(aws):
    """moto drops a REST integration's connectionId, so this rule runs on recorded API responses."""
    account = deploy(aws)
    admin_arn = account.admin_nlb["LoadBalancerArn"]
    stubbed = boto3.client("apigateway", region_name=REGION)
    stubber = Stubber(stubbed)
    stubber.add_response("get_vpc_links", {"items": [{"id": "vl-admin", "name": "oops", "targetArns": [admin_arn]}]})
    stubber.add_response("get_rest_apis", {"items": [{"id": "api1", "name": "hydra-prod"}]})
    stubber.add_response("get_resources", {"items": [{"id": "r1", "path": "/{proxy+}",
                                                      "resourceMethods": {"ANY": {}}}]})
    stubber.add_response("get_integration", {"type": "HTTP_PROXY", "connectionType": "VPC_LINK",
                                             "connectionId": "vl-admin", "uri": "http://whatever.internal:4444/"})

    class Reader(AccountReader):
        def client(self, service):
            return stubbed if service == "apigateway" else super().client(service)
    with stubber:
        net, _ = Reader(aws, ENV).read()
    violations = {v.rule: v for v in live.Analysis(net).violations()}
    assert "API Gateway reaches it through VPC link vl-admin (oops)" in violations["vpc-linked-lb"].detail
    # ... which also puts the admin NLB's security group, and so the tasks' admin rule, outside.
    assert set(violations) == {"vpc-linked-lb", "admin-port-ingress"}


def test_plain_environment_secrets_fail(aws):
    deploy(aws, env_overrides={"DSN": "postgres://hydra:secret@db:5432/hydra"})
    report = verify(aws, ENV)
    assert failed_rules(report) == {"task-secrets"}
    assert "hydra/hydra: DSN is a plain environment variable" in report.render()


def test_an_issuer_other_than_the_published_one_fails(aws):
    deploy(aws, env_overrides={"URLS_SELF_ISSUER": "https://auth.example.com"})
    report = verify(aws, ENV)
    assert failed_rules(report) == {"issuer"}
    assert "URLS_SELF_ISSUER='https://auth.example.com' but HydraPublicApi='https://auth.example.com/'" \
        in report.render()


def test_missing_stacks_give_one_line(aws, capsys):
    assert main(["--env", ENV, "--region", REGION]) == 2
    err = capsys.readouterr().err
    assert err == f"cannot verify: stack Hydra-{ENV}-Stateful does not exist in {REGION}: deploy it first, or pass " \
                  "--region\n"


def test_missing_credentials_give_one_line(monkeypatch, capsys, tmp_path):
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    assert main(["--env", ENV, "--region", REGION]) == 2
    assert capsys.readouterr().err.startswith("cannot verify: no AWS credentials found")


# ------------------------------------------------------------------ --probe ---

class FakeHydra(http.server.BaseHTTPRequestHandler):
    issuer = ""
    admin_status = 404

    def do_GET(self):  # noqa: N802
        if self.path.endswith("/.well-known/openid-configuration"):
            body, status = json.dumps({"issuer": self.issuer}).encode(), 200
        elif "/admin/" in self.path:
            body, status = b"{}", self.admin_status
        else:
            body, status = b"", 404
        self.send_response(status)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[str, str, str]:
    """A certificate for 127.0.0.1 from a local CA: (cert, key, CA cert) paths."""
    ca = LocalCA.create(tmp_path_factory.mktemp("tls"))
    cert, key = ca.issue("public", ["127.0.0.1"])
    return str(cert), str(key), str(ca.cert_path)


@pytest.fixture
def public_url(certificate):
    """Hydra's public side, over HTTPS like API Gateway."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeHydra)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(*certificate[:2])
    server.socket = tls.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    FakeHydra.issuer, FakeHydra.admin_status = None, 404
    yield f"https://127.0.0.1:{server.server_address[1]}/prod/"
    server.shutdown()


@pytest.fixture
def trusting(certificate) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=certificate[2])


@pytest.mark.parametrize("published, admin_status, failures", [
    (None, 404, []),
    (None, 403, []),
    ("https://elsewhere.example.com/", 404, ["probe-discovery"]),
    (None, 200, ["probe-admin-paths"] * 3),
])
def test_probe_checks_the_issuer_and_that_admin_paths_are_refused(public_url, trusting, published, admin_status,
                                                                  failures):
    FakeHydra.issuer = published or public_url
    FakeHydra.admin_status = admin_status
    assert [f[0] for f in live.probe(public_url, context=trusting)] == failures


def test_probe_verifies_the_certificate(public_url):
    FakeHydra.issuer = public_url
    [(rule, _, detail)] = live.probe(public_url, context=ssl.create_default_context())  # the system's CAs only
    assert rule == "probe-discovery" and "CERTIFICATE_VERIFY_FAILED" in detail


def test_the_probe_flag_runs_the_probe_against_the_published_url(aws, public_url, certificate, monkeypatch, capsys):
    deploy(aws, issuer=public_url)
    FakeHydra.issuer = public_url
    monkeypatch.setenv("SSL_CERT_FILE", certificate[2])  # the CLI uses the default trust store
    assert main(["--env", ENV, "--region", REGION]) == 0
    assert "probe-" not in capsys.readouterr().out, "no probe without --probe"
    assert main(["--env", ENV, "--region", REGION, "--probe"]) == 0
    assert "PASS  probe-discovery" in capsys.readouterr().out
    FakeHydra.admin_status = 200
    assert main(["--env", ENV, "--region", REGION, "--probe"]) == 1
    assert f"{public_url}admin/clients: answered HTTP 200" in capsys.readouterr().out


def test_a_classic_load_balancer_forwarding_to_the_admin_port_fails(aws):
    account = deploy(aws)
    aws.client("elb").create_load_balancer(
        LoadBalancerName="legacy", Subnets=[account.public], Scheme="internet-facing",
        Listeners=[{"Protocol": "TCP", "LoadBalancerPort": 443, "InstanceProtocol": "TCP", "InstancePort": 4445}])
    report = verify(aws, ENV)
    assert "internet-facing-lb" in failed_rules(report)
    assert "legacy (classic, internet-facing): its listener listener 443 of legacy on port 443 forwards to port " \
           "4445" in report.render()
