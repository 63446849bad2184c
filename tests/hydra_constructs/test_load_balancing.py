"""Load balancing: two internal NLBs, health on /health/alive, security groups that reference each other."""

from __future__ import annotations

from hydra_on_aws.boundary.templates import ResourceRef

from tests.support.cfn import by_path, props, resources


def nlbs(synth) -> dict[str, dict]:
    template = synth.templates["Ingress"]
    return {name: by_path(template, f"LoadBalancers/{name}/Resource")[1] for name in ("PublicNlb", "AdminNlb")}


def group_path(synth, suffix: str) -> ResourceRef:
    lid, _ = by_path(synth.templates["Ingress"], f"{suffix}/Resource")
    return ResourceRef(synth.stack_name("Ingress"), lid)


def test_both_nlbs_are_internal_and_carry_security_groups(synth):
    for name, nlb in nlbs(synth).items():
        p = props(nlb)
        assert p["Scheme"] == "internal", f"{name} must be internal"
        assert p["Type"] == "network" and p["SecurityGroups"], f"{name} needs a security group from creation"


def test_listeners_forward_each_port_to_its_own_target_group(synth):
    template = synth.templates["Ingress"]
    model = synth.model
    stack = synth.stack_name("Ingress")
    seen = {}
    for lid, listener in resources(template, "AWS::ElasticLoadBalancingV2::Listener").items():
        p = props(listener)
        nlb = model.resource(model.resolve(stack, p["LoadBalancerArn"])).path.split("/")[-2]
        [action] = p["DefaultActions"]
        target_group = model.resource(model.resolve(stack, action["TargetGroupArn"]))
        seen[nlb] = (p["Port"], target_group.properties["Port"])
    assert seen == {"PublicNlb": (4444, 4444), "AdminNlb": (4445, 4445)}


def test_target_health_is_alive_not_ready(synth):
    for lid, tg in resources(synth.templates["Ingress"], "AWS::ElasticLoadBalancingV2::TargetGroup").items():
        p = props(tg)
        assert (p["HealthCheckProtocol"], p["HealthCheckPath"]) == ("HTTP", "/health/alive"), lid
        assert p["TargetType"] == "ip"
        assert {"Key": "preserve_client_ip.enabled", "Value": "false"} in p["TargetGroupAttributes"]


def test_tasks_accept_each_port_only_from_its_nlb(synth):
    model = synth.model
    tasks = group_path(synth, "LoadBalancers/HydraTasksSecurityGroup")
    public_nlb_sg = group_path(synth, "LoadBalancers/PublicNlbSecurityGroup")
    admin_nlb_sg = group_path(synth, "LoadBalancers/AdminNlbSecurityGroup")
    rules = {(r.protocol, r.from_port, r.to_port, r.source) for r in model.rules_into(tasks)}
    assert rules == {("tcp", 4444, 4444, public_nlb_sg), ("tcp", 4445, 4445, admin_nlb_sg)}


def test_admin_nlb_accepts_only_the_bastion_and_granted_groups(dev):
    model = dev.model
    admin_nlb_sg = group_path(dev, "LoadBalancers/AdminNlbSecurityGroup")
    assert {(r.protocol, r.from_port, r.to_port, model.resource(r.source).path)
            for r in model.rules_into(admin_nlb_sg)} == {
        ("tcp", 4445, 4445, "Hydra-dev-Ingress/Bastion/SecurityGroup/Resource"),
        ("tcp", 4445, 4445, "Hydra-dev-Operations/SigningKeys/Function/SecurityGroup/Resource"),  # granted
        ("tcp", 4445, 4445, "Hydra-dev-Operations/DeclaredClients/Function/SecurityGroup/Resource"),  # granted
    }


def test_configured_admin_cidrs_are_added_on_the_admin_port_only(dev_domain):
    model = dev_domain.model
    admin_nlb_sg = group_path(dev_domain, "LoadBalancers/AdminNlbSecurityGroup")
    cidr_rules = [r for r in model.rules_into(admin_nlb_sg) if not isinstance(r.source, ResourceRef)]
    assert [(str(r.source), r.from_port, r.to_port) for r in cidr_rules] == [("10.40.128.0/24", 4445, 4445)]


def test_vpc_link_v1_reaches_4444_only_through_the_public_nlb(synth):
    """The VPC link (V1, no security group of its own) is the only way to the public port.

    PrivateLink inbound enforcement is off on the public NLB (a REST API VPC
    link requires it), so its security group has no inbound rules at all:
    nothing inside the VPC can reach 4444 directly. The admin NLB keeps
    enforcement on and is the target of no VPC link.
    """
    template = synth.templates["Ingress"]
    model = synth.model
    stack = synth.stack_name("Ingress")
    lbs = nlbs(synth)
    assert props(lbs["PublicNlb"])["EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic"] == "off"
    assert props(lbs["AdminNlb"])["EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic"] == "on"
    assert model.rules_into(group_path(synth, "LoadBalancers/PublicNlbSecurityGroup")) == []
    [link] = resources(template, "AWS::ApiGateway::VpcLink").values()
    targets = [model.resource(model.resolve(stack, t)).path for t in props(link)["TargetArns"]]
    assert [t.split("/")[-2] for t in targets] == ["PublicNlb"]
    assert not resources(template, "AWS::ApiGatewayV2::VpcLink")


def test_grant_admin_access_opens_the_admin_port_to_another_stacks_group(dev_with_neighbours):
    """The login app's stack can be granted access without making the core stacks depend on it."""
    assembly = dev_with_neighbours.app.synth()
    login_template = dev_with_neighbours.others["LoginApp"]
    ingress_rules = [props(r) for r in resources(login_template, "AWS::EC2::SecurityGroupIngress").values()]
    assert [(r["FromPort"], r["ToPort"]) for r in ingress_rules] == [(4445, 4445)]
    assert "ImportValue" in str(ingress_rules[0]["GroupId"]), "the rule lives in the grantee's stack"
    assert "LoginApp" not in {d.id for d in assembly.get_stack_by_name("Hydra-dev-Ingress").dependencies}


def test_production_load_balancers_are_protected_from_deletion(synth):
    for nlb in nlbs(synth).values():
        attributes = {a["Key"]: a["Value"] for a in props(nlb).get("LoadBalancerAttributes", [])}
        assert attributes.get("deletion_protection.enabled", "false") == str(synth.config.production).lower()
