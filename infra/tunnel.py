"""Migration tunnel: a small SSM-managed instance with no inbound ports. The deploy step forwards a local port
through it to the database (`aws ssm start-session --document-name AWS-StartPortForwardingSessionToRemoteHost`),
so a CI runner outside the VPC can migrate a database that is never public. It sits in a public subnet with a
public address only to reach the SSM service without a NAT gateway or interface endpoints (cheaper); its
security group admits nothing."""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws

from infra import naming
from infra.config import StackSettings
from infra.database import Database
from infra.network import security_group

AMI_PARAMETER = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64"
SSM_MANAGED_POLICY = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
EC2_TRUST_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }
)


class MigrationTunnel(pulumi.ComponentResource):
    instance_id: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        *,
        settings: StackSettings,
        database: Database,
        vpc_id: pulumi.Input[str],
        subnet_id: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("hospital:infra:MigrationTunnel", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        role = aws.iam.Role(
            f"{name}-tunnel-role",
            name_prefix=naming.prefix(naming.IAM_ROLE, name, "tunnel"),
            assume_role_policy=EC2_TRUST_POLICY,
            opts=child,
        )
        aws.iam.RolePolicyAttachment(f"{name}-tunnel-ssm", role=role.name, policy_arn=SSM_MANAGED_POLICY, opts=child)
        profile = aws.iam.InstanceProfile(
            f"{name}-tunnel-profile",
            name_prefix=naming.prefix(naming.INSTANCE_PROFILE, name, "tunnel"),
            role=role.name,
            opts=child,
        )
        group = security_group(
            name, "tunnel", vpc_id=vpc_id, description="SSM tunnel host: no inbound at all", opts=child
        )
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-tunnel-to-ssm",
            security_group_id=group.id,
            ip_protocol="tcp",
            from_port=443,
            to_port=443,
            cidr_ipv4="0.0.0.0/0",
            description="HTTPS to the SSM service",
            opts=child,
        )
        database.allow_from(f"{name}-tunnel", group, "PostgreSQL from the SSM tunnel host", client_opts=child)
        ami = aws.ssm.get_parameter_output(name=AMI_PARAMETER, opts=pulumi.InvokeOptions(parent=self))
        instance = aws.ec2.Instance(
            f"{name}-tunnel",
            ami=ami.value,
            instance_type=settings.ssm_instance_type,
            subnet_id=subnet_id,
            associate_public_ip_address=True,
            vpc_security_group_ids=[group.id],
            iam_instance_profile=profile.name,
            metadata_options=aws.ec2.InstanceMetadataOptionsArgs(http_tokens="required", http_endpoint="enabled"),
            root_block_device=aws.ec2.InstanceRootBlockDeviceArgs(encrypted=True, volume_type="gp3", volume_size=8),
            tags={"Name": f"{name}-ssm-tunnel"},
            # A newer AMI is not a reason to replace the host mid-life.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["ami"]),
        )
        self.instance_id = instance.id
        self.register_outputs({"instanceId": self.instance_id})
