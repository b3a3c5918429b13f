"""Network: a VPC with private subnets (database, proxy, NLB) in the zones named by their zone IDs in the stack
settings, and public subnets (dev's public database, the SSM tunnel host), or the existing VPC and subnets named
in the stack settings.

Zones are chosen by ID, not name: a zone name such as us-east-1a maps to a different physical zone in each AWS
account, while PrivateLink serves a consumer only in the zones both sides have, which AWS identifies by zone ID
(AWS PrivateLink Guide, "Create a service powered by AWS PrivateLink", considerations)."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_aws as aws

from infra import naming
from infra.config import PROJECT, SettingsError, StackSettings

# Dev's public database needs a subnet group in two zones; the tunnel host needs one public subnet.
PUBLIC_ZONE_COUNT = 2


def security_group(
    name: str, purpose: str, *, vpc_id: pulumi.Input[str], description: str, opts: pulumi.ResourceOptions
) -> aws.ec2.SecurityGroup:
    """A security group with no rules of its own (they are separate resources: `allow_tcp` and the callers' own),
    named by a short prefix so a replacement can be created before the old one is deleted."""
    return aws.ec2.SecurityGroup(
        f"{name}-{purpose}-sg",
        name_prefix=naming.prefix(naming.SECURITY_GROUP, name, purpose),
        vpc_id=vpc_id,
        description=description,
        opts=opts,
    )


def allow_tcp(
    port: int,
    *,
    egress: tuple[str, pulumi.Input[str], str],
    ingress: tuple[str, pulumi.Input[str], str],
    opts: pulumi.ResourceOptions,
    ingress_opts: pulumi.ResourceOptions | None = None,
) -> None:
    """One TCP path between two security groups, both ends and nothing wider: `egress` is (rule name, client
    group id, description) and lets the client out to the server; `ingress` is (rule name, server group id,
    description) and lets it in. `ingress_opts` puts the server's rule under the server's component."""
    (egress_name, client_group_id, egress_why), (ingress_name, server_group_id, ingress_why) = egress, ingress
    aws.vpc.SecurityGroupEgressRule(
        egress_name,
        security_group_id=client_group_id,
        ip_protocol="tcp",
        from_port=port,
        to_port=port,
        referenced_security_group_id=server_group_id,
        description=egress_why,
        opts=opts,
    )
    aws.vpc.SecurityGroupIngressRule(
        ingress_name,
        security_group_id=server_group_id,
        ip_protocol="tcp",
        from_port=port,
        to_port=port,
        referenced_security_group_id=client_group_id,
        description=ingress_why,
        opts=ingress_opts or opts,
    )


def zone_names(
    available_names: Sequence[str], available_ids: Sequence[str], wanted_ids: Sequence[str], region: str
) -> list[str]:
    """This account's zone names for the wanted zone IDs, in the wanted order."""
    name_of = dict(zip(available_ids, available_names, strict=True))
    unknown = [zone_id for zone_id in wanted_ids if zone_id not in name_of]
    if unknown:
        raise SettingsError(
            f"{PROJECT}:privateLinkZoneIds: {', '.join(unknown)} is not an available zone in {region}; "
            f"available zone IDs there: {', '.join(sorted(name_of))}"
        )
    return [name_of[zone_id] for zone_id in wanted_ids]


class Network(pulumi.ComponentResource):
    vpc_id: pulumi.Output[str]
    vpc_cidr: pulumi.Output[str]
    private_subnet_ids: pulumi.Output[list[str]]
    public_subnet_ids: pulumi.Output[list[str]]

    def __init__(self, name: str, settings: StackSettings, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("hospital:infra:Network", name, None, opts)
        if settings.existing_vpc_id:
            vpc = aws.ec2.get_vpc_output(id=settings.existing_vpc_id, opts=pulumi.InvokeOptions(parent=self))
            self.vpc_id = pulumi.Output.from_input(settings.existing_vpc_id)
            self.vpc_cidr = vpc.cidr_block
            self.private_subnet_ids = pulumi.Output.from_input(list(settings.existing_private_subnet_ids))
            self.public_subnet_ids = pulumi.Output.from_input(list(settings.existing_public_subnet_ids))
        else:
            self._create(name, settings)
        self.register_outputs({"vpcId": self.vpc_id, "privateSubnetIds": self.private_subnet_ids})

    def _create(self, name: str, settings: StackSettings) -> None:
        child = pulumi.ResourceOptions(parent=self)
        zones = aws.get_availability_zones(state="available", opts=pulumi.InvokeOptions(parent=self))
        # Public mode without zone IDs (dev: no PrivateLink) takes the region's first two zones.
        zone_ids = settings.private_link_zone_ids or tuple(zones.zone_ids[:PUBLIC_ZONE_COUNT])
        names = zone_names(zones.names, zones.zone_ids, zone_ids, settings.region)
        vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=str(settings.vpc_cidr),
            enable_dns_hostnames=True,
            enable_dns_support=True,
            tags={"Name": f"{name}-vpc"},
            opts=child,
        )
        # The default security group allows all traffic between its members: empty it.
        aws.ec2.DefaultSecurityGroup(f"{name}-default-sg", vpc_id=vpc.id, opts=child)
        blocks = list(settings.vpc_cidr.subnets(new_prefix=24))
        private, public = [], []
        for index, zone in enumerate(names):
            private.append(
                aws.ec2.Subnet(
                    f"{name}-private-{index}",
                    vpc_id=vpc.id,
                    cidr_block=str(blocks[index]),
                    availability_zone=zone,
                    map_public_ip_on_launch=False,
                    tags={"Name": f"{name}-private-{index}", "tier": "private"},
                    opts=child,
                )
            )
        for index, zone in enumerate(names[:PUBLIC_ZONE_COUNT]):
            public.append(
                aws.ec2.Subnet(
                    f"{name}-public-{index}",
                    vpc_id=vpc.id,
                    cidr_block=str(blocks[100 + index]),
                    availability_zone=zone,
                    map_public_ip_on_launch=False,
                    tags={"Name": f"{name}-public-{index}", "tier": "public"},
                    opts=child,
                )
            )
        gateway = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=vpc.id, opts=child)
        public_routes = aws.ec2.RouteTable(
            f"{name}-public-rt",
            vpc_id=vpc.id,
            routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", gateway_id=gateway.id)],
            opts=child,
        )
        # Private subnets keep only the VPC-local route: nothing in them reaches or is reached from the internet.
        private_routes = aws.ec2.RouteTable(f"{name}-private-rt", vpc_id=vpc.id, opts=child)
        for index, subnet in enumerate(public):
            aws.ec2.RouteTableAssociation(
                f"{name}-public-rta-{index}", subnet_id=subnet.id, route_table_id=public_routes.id, opts=child
            )
        for index, subnet in enumerate(private):
            aws.ec2.RouteTableAssociation(
                f"{name}-private-rta-{index}", subnet_id=subnet.id, route_table_id=private_routes.id, opts=child
            )
        self.vpc_id = vpc.id
        self.vpc_cidr = vpc.cidr_block
        self.private_subnet_ids = pulumi.Output.all(*[s.id for s in private])
        self.public_subnet_ids = pulumi.Output.all(*[s.id for s in public])
