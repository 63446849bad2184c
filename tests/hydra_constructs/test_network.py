"""Network: >= 2 AZs, three tiers, flow logs, egress per environment."""

from __future__ import annotations

import ipaddress

from tests.support.cfn import only, props, resources


def subnets_by_tier(template: dict) -> dict[str, dict[str, dict]]:
    tiers: dict[str, dict[str, dict]] = {}
    for lid, res in resources(template, "AWS::EC2::Subnet").items():
        tags = {t["Key"]: t["Value"] for t in props(res).get("Tags", [])}
        tiers.setdefault(tags["aws-cdk:subnet-name"], {})[lid] = res
    return tiers


def default_routes(template: dict) -> dict[str, dict]:
    """Subnet logical id -> its 0.0.0.0/0 route (if any)."""
    table_of = {props(a)["SubnetId"]["Ref"]: props(a)["RouteTableId"]["Ref"]
                for a in resources(template, "AWS::EC2::SubnetRouteTableAssociation").values()}
    routes = {props(r)["RouteTableId"]["Ref"]: props(r)
              for r in resources(template, "AWS::EC2::Route").values()
              if props(r).get("DestinationCidrBlock") == "0.0.0.0/0"}
    return {subnet: routes[table] for subnet, table in table_of.items() if table in routes}


def test_vpc_uses_the_configured_range(synth):
    _, vpc = only(synth.templates["Stateful"], "AWS::EC2::VPC")
    assert props(vpc)["CidrBlock"] == synth.config.vpc_cidr


def test_three_tiers_over_at_least_two_distinct_azs(synth):
    tiers = subnets_by_tier(synth.templates["Stateful"])
    assert set(tiers) == {"public", "private", "isolated"}
    for tier, subnets in tiers.items():
        azs = [repr(props(s)["AvailabilityZone"]) for s in subnets.values()]
        assert len(azs) >= 2 and len(set(azs)) == len(azs), f"{tier} subnets must sit in distinct AZs"
        for subnet in subnets.values():
            network = ipaddress.ip_network(props(subnet)["CidrBlock"])
            assert network.subnet_of(ipaddress.ip_network(synth.config.vpc_cidr))


def test_public_subnets_never_assign_public_ips(synth):
    for subnet in subnets_by_tier(synth.templates["Stateful"])["public"].values():
        assert props(subnet)["MapPublicIpOnLaunch"] is False


def test_private_subnets_route_out_through_nat_and_isolated_ones_do_not(synth):
    template = synth.templates["Stateful"]
    tiers, routes = subnets_by_tier(template), default_routes(template)
    for lid in tiers["private"]:
        route = routes[lid]
        assert "NatGatewayId" in route or "InstanceId" in route, f"{lid} has no NAT route"
    for lid in tiers["isolated"]:
        assert lid not in routes, f"isolated subnet {lid} must have no default route"
    for lid in tiers["public"]:
        assert "GatewayId" in routes[lid]


def test_dev_egress_is_one_nat_instance_reachable_only_from_the_vpc(dev):
    template = dev.templates["Stateful"]
    assert not resources(template, "AWS::EC2::NatGateway")
    nat_instances = [r for r in resources(template, "AWS::EC2::Instance").values()
                     if props(r).get("SourceDestCheck") is False]
    assert len(nat_instances) == dev.config.nat_gateways == 1
    nat = props(nat_instances[0])
    assert nat["Monitoring"] is True
    assert nat["BlockDeviceMappings"][0]["Ebs"]["Encrypted"] is True
    # The public subnets do not map public IPs on launch, so the NAT instance asks for one itself:
    # without it, it cannot reach the internet gateway and every private task loses egress.
    (interface,) = nat["NetworkInterfaces"]
    assert interface["AssociatePublicIpAddress"] is True
    nat_sg = template["Resources"][interface["GroupSet"][0]["Fn::GetAtt"][0]]
    ingress = props(nat_sg).get("SecurityGroupIngress", [])
    assert [r["CidrIp"] for r in ingress] == [dev.config.vpc_cidr], "the NAT instance must not accept the internet"


def test_prod_egress_is_a_nat_gateway_per_configured_az(prod):
    gateways = resources(prod.templates["Stateful"], "AWS::EC2::NatGateway")
    assert len(gateways) == prod.config.nat_gateways >= 2
    subnets = {props(g)["SubnetId"]["Ref"] for g in gateways.values()}
    assert len(subnets) == len(gateways), "NAT gateways must sit in different AZs"


def test_every_flow_is_logged_with_the_configured_retention(synth):
    template = synth.templates["Stateful"]
    _, flow_log = only(template, "AWS::EC2::FlowLog")
    p = props(flow_log)
    assert p["TrafficType"] == "ALL" and p["ResourceType"] == "VPC"
    group = template["Resources"][p["LogGroupName"]["Ref"]]
    assert props(group)["RetentionInDays"] == synth.config.log_retention_days


def test_default_security_group_is_stripped(synth):
    assert resources(synth.templates["Stateful"], "Custom::VpcRestrictDefaultSG")
