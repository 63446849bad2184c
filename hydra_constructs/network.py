"""The VPC the whole system lives in."""

from __future__ import annotations

from aws_cdk import Fn, Stack, aws_ec2 as ec2, aws_logs as logs
from constructs import Construct

from hydra_on_aws.config.settings import HydraConfig

from ._util import acknowledge, amazon_linux_cpu, kept_in_production, retain_logs_of, retention


class Network(Construct):
    """A VPC over >= 2 AZs with three tiers and flow logs.

    Provides ``vpc``. Subnet tiers: ``public`` (NAT only: nothing of Hydra's
    is ever placed there), ``private`` with egress (tasks, load balancers,
    bastion, functions) and ``isolated`` (the database; no route out).
    Invariant: every flow is logged; the default security group allows nothing.
    """

    PUBLIC = "public"
    PRIVATE = "private"
    ISOLATED = "isolated"

    def __init__(self, scope: Construct, construct_id: str, *, config: HydraConfig) -> None:
        super().__init__(scope, construct_id)

        nat_provider: ec2.NatProvider
        if config.nat == "instance":
            nat_provider = ec2.NatProvider.instance_v2(
                instance_type=ec2.InstanceType(config.nat_instance_type),
                machine_image=ec2.MachineImage.latest_amazon_linux2023(
                    cpu_type=amazon_linux_cpu(config.nat_instance_type)),
                # The CDK default also opens every port to 0.0.0.0/0; a NAT
                # instance only needs traffic from inside the VPC.
                default_allowed_traffic=ec2.NatTrafficDirection.OUTBOUND_ONLY,
                # The public subnets hand out no addresses: a NAT without one reaches nothing.
                associate_public_ip_address=True,
            )
        else:
            nat_provider = ec2.NatProvider.gateway()

        self.vpc = ec2.Vpc(
            self, "Vpc",
            ip_addresses=ec2.IpAddresses.cidr(config.vpc_cidr),
            max_azs=None if config.availability_zones else config.max_azs,
            availability_zones=list(config.availability_zones) or None,
            nat_gateways=config.nat_gateways,
            nat_gateway_provider=nat_provider,
            restrict_default_security_group=True,
            subnet_configuration=[
                ec2.SubnetConfiguration(name=self.PUBLIC, subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24,
                                        map_public_ip_on_launch=False),
                ec2.SubnetConfiguration(name=self.PRIVATE, subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS,
                                        cidr_mask=20),
                ec2.SubnetConfiguration(name=self.ISOLATED, subnet_type=ec2.SubnetType.PRIVATE_ISOLATED,
                                        cidr_mask=24),
            ],
        )
        if isinstance(nat_provider, ec2.NatInstanceProviderV2):
            nat_provider.security_group.add_ingress_rule(
                ec2.Peer.ipv4(config.vpc_cidr), ec2.Port.all_traffic(),
                "Egress through the NAT instance from inside the VPC only")
            self._harden_nat_instances()

        flow_log_group = logs.LogGroup(
            self, "FlowLogs",
            retention=retention(config.log_retention_days),
            removal_policy=kept_in_production(config.production),
        )
        self.vpc.add_flow_log(
            "FlowLog",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_log_group),
            traffic_type=ec2.FlowLogTrafficType.ALL,
        )
        # restrict_default_security_group adds CDK's own function, which logs to a group Lambda creates.
        restrict = Stack.of(self).node.try_find_child("Custom::VpcRestrictDefaultSGCustomResourceProvider")
        if restrict is not None:
            handler = restrict.node.find_child("Handler")
            retain_logs_of(self, "RestrictDefaultSgLogsRetention",
                           Fn.join("", ["/aws/lambda/", handler.ref]), config.log_retention_days)
        # Image layers come from S3: keep that traffic off the NAT (and free).
        self.vpc.add_gateway_endpoint("S3Endpoint", service=ec2.GatewayVpcEndpointAwsService.S3)

    def _harden_nat_instances(self) -> None:
        # NatInstanceProviderV2 exposes no volume or monitoring settings.
        for subnet in self.vpc.public_subnets:
            instance = subnet.node.try_find_child("NatInstance")
            if instance is None:
                continue
            cfn: ec2.CfnInstance = instance.node.default_child
            cfn.monitoring = True
            cfn.block_device_mappings = [ec2.CfnInstance.BlockDeviceMappingProperty(
                device_name="/dev/xvda",
                ebs=ec2.CfnInstance.EbsProperty(encrypted=True, volume_type="gp3", delete_on_termination=True))]
            acknowledge(instance, "AwsSolutions-EC29",
                        "The NAT instance holds no state and is replaced with its AMI; production "
                        "configurations must use NAT gateways.")

    def subnets(self, tier: str) -> ec2.SubnetSelection:
        return ec2.SubnetSelection(subnet_group_name=tier)

