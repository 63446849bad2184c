"""Bastion: SSM only, no way in, IMDSv2, encrypted; the exact port-forward command as an output."""

from __future__ import annotations

import json

from tests.support.cfn import by_path, only, props, resources
from tests.hydra_constructs.test_network import subnets_by_tier


def instance(synth) -> tuple[str, dict]:
    return by_path(synth.templates["Ingress"], "Bastion/Instance/Resource")


def test_no_key_pair_no_public_ip_encrypted_volume(synth):
    _, inst = instance(synth)
    p = props(inst)
    assert "KeyName" not in p
    [nic] = p["NetworkInterfaces"]
    assert nic["AssociatePublicIpAddress"] is False
    assert all(b["Ebs"]["Encrypted"] is True for b in p["BlockDeviceMappings"])


def test_imdsv2_is_required(synth):
    _, template = only(synth.templates["Ingress"], "AWS::EC2::LaunchTemplate")
    assert props(template)["LaunchTemplateData"]["MetadataOptions"]["HttpTokens"] == "required"


def test_lives_in_a_private_subnet(synth):
    _, inst = instance(synth)
    [nic] = props(inst)["NetworkInterfaces"]
    subnet = synth.model.resolve(synth.stack_name("Ingress"), nic["SubnetId"])
    assert subnet.logical_id in subnets_by_tier(synth.templates["Stateful"])["private"]


def test_no_inbound_rule_and_outbound_only_to_ssm_and_the_admin_port(synth):
    model = synth.model
    sg_id, sg = by_path(synth.templates["Ingress"], "Bastion/SecurityGroup/Resource")
    assert "SecurityGroupIngress" not in props(sg)
    assert not [r for r in model.ingress_rules() if r.group.logical_id == sg_id]
    egress = [(e["IpProtocol"], e["FromPort"], e.get("CidrIp")) for e in props(sg)["SecurityGroupEgress"]]
    assert egress == [("tcp", 443, "0.0.0.0/0")]
    separate = [props(r) for r in resources(synth.templates["Ingress"], "AWS::EC2::SecurityGroupEgress").values()
                if r["Properties"]["GroupId"] == {"Fn::GetAtt": [sg_id, "GroupId"]}]
    assert [(e["FromPort"], e["ToPort"]) for e in separate] == [(4445, 4445)]


def test_instance_role_allows_session_manager(synth):
    template = synth.templates["Ingress"]
    _, role = by_path(template, "Bastion/Instance/InstanceRole/Resource")
    assert any("AmazonSSMManagedInstanceCore" in json.dumps(arn) for arn in props(role)["ManagedPolicyArns"])


def test_port_forward_command_output_targets_the_admin_nlb(synth):
    template = synth.templates["Ingress"]
    value = template["Outputs"]["AdminPortForwardCommand"]["Value"]["Fn::Join"][1]
    text = "".join(p if isinstance(p, str) else "<%s>" % (p.get("Ref") or p["Fn::GetAtt"][0]) for p in value)
    instance_id, _ = instance(synth)
    nlb_id, _ = by_path(template, "LoadBalancers/AdminNlb/Resource")
    assert text == (
        f"aws ssm start-session --region <AWS::Region> --target <{instance_id}> "
        "--document-name AWS-StartPortForwardingSessionToRemoteHost "
        f"--parameters '{{\"host\":[\"<{nlb_id}>\"],\"portNumber\":[\"4445\"],\"localPortNumber\":[\"4445\"]}}'")
