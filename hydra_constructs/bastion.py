"""An SSM-only bastion: the operators' way to the admin API."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from constructs import Construct

from hydra_on_aws.config.settings import HydraConfig

from ._util import MANAGED_POLICY, acknowledge, amazon_linux_cpu


class Bastion(Construct):
    """An instance reachable only through SSM Session Manager.

    Provides ``instance``, ``security_group`` and :meth:`port_forward_command`.
    Invariants: no key pair, no inbound rule, no public IP, IMDSv2 only,
    encrypted root volume; outbound only HTTPS (to SSM) and whatever it is
    granted (the admin port on the admin NLB).
    """

    def __init__(self, scope: Construct, construct_id: str, *, config: HydraConfig, vpc: ec2.IVpc,
                 subnets: ec2.SubnetSelection) -> None:
        super().__init__(scope, construct_id)
        self.security_group = ec2.SecurityGroup(
            self, "SecurityGroup", vpc=vpc, allow_all_outbound=False,
            description="SSM bastion: no inbound; HTTPS to SSM and the admin port on the admin NLB")
        self.security_group.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "SSM Session Manager")

        self.instance = ec2.Instance(
            self, "Instance",
            vpc=vpc,
            vpc_subnets=subnets,
            instance_type=ec2.InstanceType(config.bastion_instance_type),
            machine_image=ec2.MachineImage.latest_amazon_linux2023(
                cpu_type=amazon_linux_cpu(config.bastion_instance_type)),
            security_group=self.security_group,
            require_imdsv2=True,
            ssm_session_permissions=True,
            associate_public_ip_address=False,
            detailed_monitoring=True,
            block_devices=[ec2.BlockDevice(
                device_name="/dev/xvda",
                volume=ec2.BlockDeviceVolume.ebs(8, encrypted=True, volume_type=ec2.EbsDeviceVolumeType.GP3,
                                                 delete_on_termination=True))],
        )
        acknowledge(self.instance, "AwsSolutions-EC29",
                    "The bastion holds no state and is replaced whenever its AMI parameter moves; termination "
                    "protection would make that replacement fail.")
        acknowledge(self.instance, "AwsSolutions-IAM4",
                    "AmazonSSMManagedInstanceCore is the policy Session Manager requires on managed instances.",
                    MANAGED_POLICY + "AmazonSSMManagedInstanceCore")

    def port_forward_command(self, *, host: str, port: int, local_port: int | None = None) -> str:
        """The exact `aws ssm start-session` command that forwards ``localhost:local_port`` to ``host:port``."""
        parameters = cdk.Fn.join("", [
            '{"host":["', host, f'"],"portNumber":["{port}"],"localPortNumber":["{local_port or port}"]}}'])
        return cdk.Fn.join("", [
            "aws ssm start-session --region ", cdk.Aws.REGION, " --target ", self.instance.instance_id,
            " --document-name AWS-StartPortForwardingSessionToRemoteHost --parameters '", parameters, "'"])
