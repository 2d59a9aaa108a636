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

Each rule cites the AWS documentation or the widely reported AWS answer it models.
"""

import json
from urllib.parse import unquote

from moto.ec2.exceptions import DependencyViolationError
from moto.ec2.models import internet_gateways as ec2_igws
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
