"""Rules AWS has that moto lacks (issue 25, section 1), on by default for every account,
installed by eksboot_moto.py after its own handlers (`install(emulator)` gets that module).

  * EKS CreateCluster and CreateNodegroup refuse, with InvalidParameterException, a role ARN
    IAM does not hold, a role whose trust policy does not let the service assume it
    (eks.amazonaws.com for the cluster role, ec2.amazonaws.com for the node role), and subnet ids
    EC2 does not hold in the request's account and region. Nothing is made when refused.
  * EC2 DetachInternetGateway is refused with DependencyViolation while any public address is
    mapped in the VPC: an Elastic IP associated with an interface (a NAT gateway's included) or an
    instance there, a NAT gateway not yet `deleted` holding an address, or an instance (not
    terminated) with a public IP.
  * Creating past an applied quota fails as EC2 answers it: VPCs per Region (VpcLimitExceeded),
    EC2-VPC Elastic IPs (AddressLimitExceeded), internet gateways per Region
    (InternetGatewayLimitExceeded), NAT gateways per Availability Zone (NatGatewayLimitExceeded).
    The limit is the value Service Quotas gives the account (a test raises it with
    `POST /eksboot-moto/applied-quota`), else the AWS default: the number eksboot's preflight reads.
  * Nodes must reach AWS to join (CreateNodegroup): each node subnet's own route table (its
    explicit association, else the VPC's main table) routes 0.0.0.0/0 to an attached internet
    gateway (the subnet mapping public IPs) or to an `available` NAT gateway; without such a route
    the VPC must hold, `available`, the endpoints nodes need to join. Otherwise the node group
    goes CREATE_FAILED with EKS's health issue.

Each rule cites the AWS documentation or the widely reported AWS answer it models.
"""

import json
from urllib.parse import unquote

from moto.ec2.exceptions import DependencyViolationError, EC2ClientError
from moto.ec2.models import elastic_ip_addresses as ec2_eips
from moto.ec2.models import internet_gateways as ec2_igws
from moto.ec2.models import nat_gateways as ec2_nats
from moto.ec2.models import vpcs as ec2_vpcs
from moto.eks import models as eks_models
from moto.eks.exceptions import InvalidParameterException
from moto.eks.responses import EKSResponse

CLUSTER_SERVICE = "eks.amazonaws.com"
NODE_SERVICE = "ec2.amazonaws.com"


def _invalid(message, cluster_name=None, nodegroup_name=None):
    return InvalidParameterException(
        clusterName=cluster_name,
        nodegroupName=nodegroup_name,
        fargateProfileName=None,
        addonName=None,
        message=message,
    )


def _as_list(value):
    if value is None:
        return []
    return [value] if isinstance(value, (str, dict)) else list(value)


def trust_document(role):
    """The role's trust policy as a dict (moto keeps what CreateRole was given: JSON, perhaps
    URL-encoded as IAM returns it)."""
    document = role.assume_role_policy_document
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError:
            document = json.loads(unquote(document))
    return document or {}


def trusts_service(role, service):
    """Whether an Allow statement of the role's trust policy names `service` (or every
    principal, "*") as the principal that may sts:AssumeRole. A service role's trust policy names
    the service principal that assumes it
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_create_for-service.html)."""
    for statement in _as_list(trust_document(role).get("Statement")):
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        actions = _as_list(statement.get("Action"))
        if not any(a in ("sts:AssumeRole", "sts:*", "*") for a in actions):
            continue
        principal = statement.get("Principal")
        if principal == "*":
            return True
        if not isinstance(principal, dict):
            continue
        services = _as_list(principal.get("Service"))
        # The China partitions name the service with a .cn suffix.
        if any(s in (service, service + ".cn") for s in services):
            return True
    return False


def _role(arn):
    """The role IAM holds under `arn` (None if none): looked up in the ARN's own account."""
    from moto.iam.models import iam_backends

    parts = (arn or "").split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "iam" or not parts[5].startswith("role/"):
        return None
    try:
        return iam_backends[parts[4]][parts[1]].get_role_by_arn(arn)
    except Exception:
        return None


def check_cluster_role(arn, cluster_name):
    """CreateCluster's roleArn: "The Amazon Resource Name (ARN) of the IAM role that provides
    permissions for the Kubernetes control plane to make calls to Amazon Web Services API
    operations on your behalf" (https://docs.aws.amazon.com/eks/latest/APIReference/API_CreateCluster.html),
    whose trust policy names eks.amazonaws.com
    (https://docs.aws.amazon.com/eks/latest/userguide/cluster-iam-role.html). A role that does not
    exist or does not trust EKS is refused with one message, widely reported
    (terraform-aws-modules/terraform-aws-eks#2406, crossplane-contrib/provider-aws#218,
    aws-samples/karpenter-blueprints#20)."""
    role = _role(arn)
    if role is None or not trusts_service(role, CLUSTER_SERVICE):
        raise _invalid(
            f"Role with arn: {arn}, could not be assumed because it does not exist or the trusted entity is not correct",
            cluster_name,
        )


def check_node_role(arn, cluster_name, nodegroup_name):
    """CreateNodegroup's nodeRole: "The Amazon Resource Name (ARN) of the IAM role to associate
    with your node group ... Before you can launch nodes and register them into a cluster, you
    must create an IAM role for those nodes to use when they are launched"
    (https://docs.aws.amazon.com/eks/latest/APIReference/API_CreateNodegroup.html); its trust
    policy names ec2.amazonaws.com
    (https://docs.aws.amazon.com/eks/latest/userguide/create-node-role.html). EKS's answer for a
    role without it is widely reported as "Following required service principals
    [ec2.amazonaws.com] were not found in the trust relationships of nodeRole <arn>"; for a role
    IAM lacks the wording here is the emulator's (EKS's is not documented)."""
    role = _role(arn)
    if role is None:
        raise _invalid(f"The nodeRole {arn} does not exist.", cluster_name, nodegroup_name)
    if not trusts_service(role, NODE_SERVICE):
        raise _invalid(
            f"Following required service principals [{NODE_SERVICE}] were not found in the trust relationships of nodeRole {arn}",
            cluster_name,
            nodegroup_name,
        )


def check_subnets(account, region, subnet_ids, cluster_name, nodegroup_name=None):
    """Subnets EKS is given must exist in EC2: CreateCluster's resourcesVpcConfig.subnetIds and
    CreateNodegroup's subnets are looked up in EC2 and an unknown one is refused with EC2's
    answer inside EKS's InvalidParameterException, widely reported as "The subnet ID
    'subnet-…' does not exist (Service: AmazonEC2; Status Code: 400; Error Code:
    InvalidSubnetID.NotFound; …)" (AdminTurnedDevOps/DevOps-The-Hard-Way-AWS#16,
    https://docs.aws.amazon.com/eks/latest/userguide/network-reqs.html)."""
    from moto.ec2.models import ec2_backends

    ec2 = ec2_backends[account][region]
    for subnet_id in subnet_ids or []:
        try:
            ec2.get_subnet(subnet_id)
        except Exception:
            raise _invalid(
                f"The subnet ID '{subnet_id}' does not exist (Service: AmazonEC2; Status Code: 400; "
                "Error Code: InvalidSubnetID.NotFound)",
                cluster_name,
                nodegroup_name,
            )


def mapped_public_addresses(ec2, vpc_id):
    """The public addresses mapped in VPC `vpc_id` (what blocks DetachInternetGateway)."""
    live_enis = ec2.enis

    def eni_in_vpc(eni):
        return eni is not None and eni.id in live_enis and eni.subnet is not None and eni.subnet.vpc_id == vpc_id

    def instance_live_in_vpc(instance):
        return instance is not None and instance.state != "terminated" and instance.vpc_id == vpc_id

    mapped = []
    for eip in ec2.addresses:
        # An Elastic IP associated with an interface (a NAT gateway's is one) or an instance.
        if eni_in_vpc(eip.eni) or instance_live_in_vpc(eip.instance):
            mapped.append(eip.public_ip)
    for nat in ec2.nat_gateways.values():
        # A NAT gateway holds its address until it is deleted (deleting included).
        if nat.vpc_id == vpc_id and nat.state != "deleted":
            mapped += [a.get("publicIp") for a in nat.address_set if a.get("publicIp")]
    for instance in ec2.all_instances():
        # An instance's public IPv4 address, given at launch (the subnet's auto-assign or the
        # request's AssociatePublicIpAddress), stays until it is stopped or terminated
        # (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/using-instance-addressing.html#concepts-public-addresses).
        if instance_live_in_vpc(instance) and instance.public_ip:
            mapped.append(instance.public_ip)
    for eni in list(live_enis.values()):
        if eni_in_vpc(eni) and eni.public_ip:
            mapped.append(eni.public_ip)
    return sorted(set(mapped))


# ---------------------------------------------------------------------------- Quotas
#
# The quotas as Service Quotas names them, with the AWS defaults
# (https://docs.aws.amazon.com/vpc/latest/userguide/amazon-vpc-limits.html: "VPCs per Region 5",
# "Internet gateways per Region 5", "NAT gateways per Availability Zone 5";
# https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/elastic-ip-addresses-eip.html#using-instance-addressing-limit:
# "By default, all AWS accounts have a quota of five (5) Elastic IP addresses per Region").
# Quotas are per account and per Region; the NAT gateway one per Availability Zone.

VPC_QUOTA = ("vpc", "L-F678F1CE", 5)
EIP_QUOTA = ("ec2", "L-0263D0A3", 5)
IGW_QUOTA = ("vpc", "L-A4707A72", 5)
NAT_QUOTA = ("vpc", "L-FE5A380F", 5)


def applied_quota(account, region, quota):
    """The quota's value as Service Quotas gives it to `account` in `region` (what eksboot's
    preflight reads with GetServiceQuota), else the AWS default (NoSuchResource: no applied
    value)."""
    from moto.servicequotas.models import servicequotas_backends

    service, code, default = quota
    try:
        return int(servicequotas_backends[account][region].get_service_quota(service, code)["Value"])
    except Exception:
        return default


def _over(backend, quota, used):
    return used >= applied_quota(backend.account_id, backend.region_name, quota)


def nats_counted_in_az(ec2, az):
    """The NAT gateways of an AZ that count against its quota (a quota "on the number of NAT
    gateways that you can create in each Availability Zone",
    https://docs.aws.amazon.com/vpc/latest/userguide/nat-gateway-basics.html): those pending,
    available or deleting, as the VPC quotas page says and widely reported (a deleting one holds
    its place until it is deleted: deverrors.com/errors/nat-gateway-limit-exceeded)."""
    counted = 0
    for nat in ec2.nat_gateways.values():
        if nat.state not in ("pending", "available", "deleting"):
            continue
        try:
            if ec2.get_subnet(nat.subnet_id).availability_zone == az:
                counted += 1
        except Exception:
            pass
    return counted


# ------------------------------------------------------------------------ Nodes reach AWS
#
# What nodes need to join without a way to the internet: "Deploy private clusters with limited
# internet access" (https://docs.aws.amazon.com/eks/latest/userguide/private-clusters.html) lists
# the interface endpoints com.amazonaws.<region>.ec2, ecr.api, ecr.dkr and sts (nodes bootstrap
# through EC2 and STS and pull the add-ons' images from ECR) and the S3 gateway endpoint (ECR
# keeps image layers in S3), reached from the nodes' subnets: a gateway endpoint is a route in
# the route tables it is associated with
# (https://docs.aws.amazon.com/vpc/latest/privatelink/gateway-endpoints.html), and an interface
# endpoint answers the service's own name only with private DNS enabled
# (https://docs.aws.amazon.com/vpc/latest/privatelink/privatelink-access-aws-services.html#interface-endpoint-private-dns).
NODE_INTERFACE_ENDPOINTS = ("ec2", "ecr.api", "ecr.dkr", "sts")
NODE_GATEWAY_ENDPOINTS = ("s3",)

NODE_CREATION_FAILURE = {
    "code": "NodeCreationFailure",
    "message": "Instances failed to join the kubernetes cluster",
}


def _service_of(endpoint, region):
    """`com.amazonaws.eu-west-1.ecr.api` → `ecr.api`."""
    marker = f".{region}."
    name = endpoint.service_name or ""
    return name.split(marker, 1)[1] if marker in name else name


def subnet_route_table(ec2, subnet):
    """The route table a subnet uses: the one explicitly associated with it, else its VPC's
    main route table ("Each subnet in your VPC must be associated with a route table ... If you
    don't explicitly associate a subnet with a particular route table, the subnet is implicitly
    associated with the main route table",
    https://docs.aws.amazon.com/vpc/latest/userguide/VPC_Route_Tables.html#subnet-route-tables)."""
    main = None
    for table in ec2.route_tables.values():
        if table.vpc_id != subnet.vpc_id:
            continue
        if subnet.id in table._associations.values():
            return table
        if table.main_association_id is not None:
            main = table
    return main


def _default_routes(table):
    return [r for r in (table.routes if table else []) if r.destination_cidr_block == "0.0.0.0/0"]


def subnet_cannot_reach_aws(ec2, subnet):
    """Why nodes launched in `subnet` cannot reach AWS (None when they can): a health issue as
    EKS reports it on the node group."""
    table = subnet_route_table(ec2, subnet)
    for route in _default_routes(table):
        gateway = route.gateway
        if gateway is not None and gateway.id.startswith("igw-"):
            if gateway.vpc is None or gateway.vpc.id != subnet.vpc_id:
                continue  # a blackhole: the gateway is not attached to this VPC
            # A node in a public subnet reaches the internet only with a public address, which
            # managed node groups take from the subnet's MapPublicIpOnLaunch; EKS fails the node
            # group with Ec2SubnetInvalidConfiguration otherwise
            # (https://docs.aws.amazon.com/eks/latest/userguide/network-reqs.html#network-requirements-subnets,
            # https://docs.aws.amazon.com/eks/latest/APIReference/API_Issue.html).
            if str(subnet.map_public_ip_on_launch).lower() != "true":
                return {
                    "code": "Ec2SubnetInvalidConfiguration",
                    "message": f"One or more Amazon EC2 Subnets of [{subnet.id}] for node group does not automatically assign public IP addresses to instances launched into it. If you want your instances to be assigned a public IP address, then you need to enable auto-assign public IP address for the subnet.",
                    "resourceIds": [subnet.id],
                }
            return None
        nat = route.nat_gateway
        # Only a NAT gateway that is `available` passes traffic ("pending: The NAT gateway is
        # being created and is not ready to process traffic",
        # https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_NatGateway.html).
        if nat is not None and nat.state == "available":
            return None
    region = ec2.region_name
    endpoints = [
        e for e in ec2.vpc_end_points.values() if e.vpc_id == subnet.vpc_id and e.state == "available"
    ]
    missing = []
    for service in NODE_INTERFACE_ENDPOINTS:
        if not any(
            _service_of(e, region) == service
            and (e.vpc_endpoint_type or "").lower() == "interface"
            and e.private_dns_enabled is not False
            for e in endpoints
        ):
            missing.append(service)
    for service in NODE_GATEWAY_ENDPOINTS:
        if not any(
            _service_of(e, region) == service
            and (e.vpc_endpoint_type or "gateway").lower() == "gateway"
            and table is not None
            and table.id in (e.route_table_ids or [])
            for e in endpoints
        ):
            missing.append(service)
    if missing:
        return dict(NODE_CREATION_FAILURE, resourceIds=[subnet.id])
    return None


def nodes_cannot_reach_aws(ec2, subnet_ids):
    """The health issue of a node group launched in `subnet_ids`, None when its nodes join: the
    first subnet whose nodes cannot reach AWS fails it (nodes that never join fail the node
    group with NodeCreationFailure, "Instances failed to join the kubernetes cluster",
    https://docs.aws.amazon.com/eks/latest/userguide/troubleshooting.html#worker-node-fail)."""
    for subnet_id in subnet_ids or []:
        try:
            subnet = ec2.get_subnet(subnet_id)
        except Exception:
            continue
        issue = subnet_cannot_reach_aws(ec2, subnet)
        if issue is not None:
            return issue
    return None


def _nodegroup_health():
    """A node group's `health`: its issue once it is CREATE_FAILED because nodes cannot reach
    AWS (moto's own value otherwise)."""

    def getter(self):
        issue = self.__dict__.get("_eksboot_join_issue")
        if issue is not None and self.status == "CREATE_FAILED":
            return {"issues": [issue]}
        return self.__dict__.get("_eksboot_health", {"issues": []})

    def setter(self, value):
        self.__dict__["_eksboot_health"] = value

    return property(getter, setter)


def install(emulator):
    """Wraps eksboot_moto's (and eks_auto's) handlers (`emulator` is eksboot_moto)."""

    # ---------------------------------------------------------------- CreateCluster

    original_create_cluster = EKSResponse.create_cluster

    def create_cluster(self):
        name = self._get_param("name")
        check_cluster_role(self._get_param("roleArn"), name)
        vpc = self._get_param("resourcesVpcConfig") or {}
        check_subnets(self.current_account, self.region, vpc.get("subnetIds"), name)
        return original_create_cluster(self)

    EKSResponse.create_cluster = create_cluster

    # ---------------------------------------------------------------- CreateNodegroup

    original_create_nodegroup = EKSResponse.create_nodegroup

    def create_nodegroup(self):
        cluster = self._get_param("name")
        nodegroup = self._get_param("nodegroupName")
        check_node_role(self._get_param("nodeRole"), cluster, nodegroup)
        check_subnets(self.current_account, self.region, self._get_param("subnets"), cluster, nodegroup)
        return original_create_nodegroup(self)

    EKSResponse.create_nodegroup = create_nodegroup

    # The node group's health issue when its nodes cannot reach AWS (eksboot_moto's
    # create_nodegroup makes it CREATE_FAILED then, through `_nodes_cannot_reach_aws`).
    original_backend_create_nodegroup = eks_models.EKSBackend.create_nodegroup

    def backend_create_nodegroup(self, *args, **kwargs):
        from moto.ec2.models import ec2_backends

        nodegroup = original_backend_create_nodegroup(self, *args, **kwargs)
        issue = nodes_cannot_reach_aws(ec2_backends[self.account_id][self.region_name], kwargs.get("subnets"))
        if issue is not None:
            nodegroup.__dict__["_eksboot_join_issue"] = issue
        return nodegroup

    eks_models.EKSBackend.create_nodegroup = backend_create_nodegroup

    # ---------------------------------------------------------------- DetachInternetGateway

    original_detach = ec2_igws.InternetGatewayBackend.detach_internet_gateway

    def detach_internet_gateway(self, internet_gateway_id, vpc_id):
        igw = self.get_internet_gateway(internet_gateway_id)
        if igw.vpc is not None and igw.vpc.id == vpc_id:
            # Interfaces whose owner is gone are let go of first, as everywhere in the emulator.
            emulator._release_interfaces(self)
            if mapped_public_addresses(self, vpc_id):
                # "Network vpc-… has some mapped public address(es). Please unmap those public
                # address(es) before detaching the gateway." (DependencyViolation, widely
                # reported: hashicorp/terraform#497 and #1303 for instances' public IPs and
                # Elastic IPs, prabhatsharma/kubernetes-the-hard-way-aws#16 for instances not
                # yet terminated, jenkins-x/terraform-aws-eks-jx#373 for a load balancer's;
                # DetachInternetGateway: "The VPC must not contain any running instances with
                # Elastic IP addresses or public IPv4 addresses",
                # https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DetachInternetGateway.html).
                raise DependencyViolationError(
                    f"Network {vpc_id} has some mapped public address(es). Please unmap those public "
                    "address(es) before detaching the gateway."
                )
        return original_detach(self, internet_gateway_id, vpc_id)

    ec2_igws.InternetGatewayBackend.detach_internet_gateway = detach_internet_gateway

    # ---------------------------------------------------------------- Quotas

    original_create_vpc = ec2_vpcs.VPCBackend.create_vpc

    def create_vpc(self, *args, **kwargs):
        # moto makes each Region's default VPC when the account is first used: not a request.
        if not kwargs.get("is_default") and _over(self, VPC_QUOTA, len(self.vpcs)):
            # VpcLimitExceeded (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html#CommonErrors);
            # the default VPC counts (it is a VPC of the Region).
            raise EC2ClientError("VpcLimitExceeded", "The maximum number of VPCs has been reached.")
        return original_create_vpc(self, *args, **kwargs)

    ec2_vpcs.VPCBackend.create_vpc = create_vpc

    original_allocate = ec2_eips.ElasticAddressBackend.allocate_address

    def allocate_address(self, *args, **kwargs):
        if _over(self, EIP_QUOTA, len(self.addresses)):
            # AddressLimitExceeded: "You've reached the limit on the number of Elastic IP
            # addresses that you can allocate"
            # (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html#CommonErrors).
            raise EC2ClientError("AddressLimitExceeded", "The maximum number of addresses has been reached.")
        return original_allocate(self, *args, **kwargs)

    ec2_eips.ElasticAddressBackend.allocate_address = allocate_address

    original_create_igw = ec2_igws.InternetGatewayBackend.create_internet_gateway

    def create_internet_gateway(self, *args, **kwargs):
        if _over(self, IGW_QUOTA, len(self.internet_gateways)):
            # InternetGatewayLimitExceeded: "You've reached the limit on the number of internet
            # gateways that you can create"
            # (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html#CommonErrors).
            raise EC2ClientError(
                "InternetGatewayLimitExceeded", "The maximum number of internet gateways has been reached."
            )
        return original_create_igw(self, *args, **kwargs)

    ec2_igws.InternetGatewayBackend.create_internet_gateway = create_internet_gateway

    original_create_nat = ec2_nats.NatGatewayBackend.create_nat_gateway

    def create_nat_gateway(self, subnet_id, *args, **kwargs):
        az = self.get_subnet(subnet_id).availability_zone
        limit = applied_quota(self.account_id, self.region_name, NAT_QUOTA)
        if nats_counted_in_az(self, az) >= limit:
            # NatGatewayLimitExceeded (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html#CommonErrors),
            # widely reported as "Performing this operation would exceed the limit of 5 NAT
            # gateways" (hashicorp/terraform-provider-aws, aws/aws-cdk issues).
            raise EC2ClientError(
                "NatGatewayLimitExceeded", f"Performing this operation would exceed the limit of {limit} NAT gateways"
            )
        return original_create_nat(self, subnet_id, *args, **kwargs)

    ec2_nats.NatGatewayBackend.create_nat_gateway = create_nat_gateway

    # ---------------------------------------------------------------- Node group health

    eks_models.Nodegroup.health = _nodegroup_health()
