"""The network interfaces EKS and load balancers make (issue 25), on by default, installed by
eksboot_moto.py on its own handlers (`install(emulator)` gets that module).

  * CreateCluster makes the cluster security group `eks-cluster-sg-<name>-<digits>` in the
    cluster's VPC, tagged `kubernetes.io/cluster/<name>=owned` and `aws:eks:cluster-name=<name>`,
    reported by DescribeCluster as `resourcesVpcConfig.clusterSecurityGroupId`, and its
    cross-account interfaces in the cluster's subnets ("Amazon EKS <name>", requester-managed,
    in-use): one per subnet, at least 2 and at most 4. They stay a while after the cluster is
    gone (ENI_LINGER_SECONDS, the harmful reading), then "EKS" deletes them and the group, so
    DeleteSubnet, DeleteSecurityGroup and DeleteVpc meet DependencyViolation until then.
  * A managed node group's nodes hold one interface each (desiredSize of them, spread over the
    node group's subnets, in-use, tagged `eks:cluster-name` / `eks:nodegroup-name` as EKS tags
    node resources, holding the cluster security group) while the node group exists, and for
    ENI_LINGER_SECONDS after its deletion completes.
  * An ALB or NLB (elbv2 CreateLoadBalancer) holds an interface in each of its subnets ("ELB
    app/<name>/<id>" / "ELB net/<name>/<id>"), released ENI_LINGER_SECONDS after
    DeleteLoadBalancer, as Classic ELBs' are a while after theirs in eksboot_moto.py.
  * DeleteNetworkInterface refuses an interface that is in use (InvalidNetworkInterface.InUse).

Release is lazy like the rest of the emulator: whoever looks at interfaces, subnets, groups or
VPCs (eksboot_moto._release_interfaces) advances it; the linger starts the first time anyone
looks after the owner is gone, so "the first call after the owner is gone is refused" holds
whatever the machine's speed.
"""

import os
import random
import time

from moto.eks import models as eks_models
from moto.eks.responses import EKSResponse
from moto.ec2.exceptions import EC2ClientError
from moto.ec2.models import elastic_network_interfaces as ec2_enis
from moto.elbv2 import models as elbv2_models

# How long EKS's interfaces (and its cluster security group) outlive their cluster or node
# group. AWS documents no bound: the EKS user guide says the cluster security group and the
# interfaces EKS creates are deleted by EKS when the cluster is deleted
# (https://docs.aws.amazon.com/eks/latest/userguide/sec-group-reqs.html,
# https://docs.aws.amazon.com/eks/latest/userguide/network-reqs.html), and it is widely reported
# that deleting the subnets or VPC right after the cluster is gone fails with
# DependencyViolation while network interfaces are still there, and succeeds a while later
# (https://github.com/crossplane-contrib/provider-aws/issues/142,
# https://github.com/eksctl-io/eksctl/issues/7589, https://github.com/k0rdent/kcm/issues/470:
# "delays in their garbage collection"). Some seconds here; short, for CI's sake.
ENI_LINGER_SECONDS = float(os.environ.get("EKSBOOT_MOTO_ENI_LINGER_MS", "1500")) / 1000.0

# The account EKS's cross-account interfaces are requested by (an AWS-owned account): "the
# network interfaces ... are owned by your account but ... requester-managed"
# (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/requester-managed-eni.html).
EKS_REQUESTER = "602401143452"
ELB_REQUESTER = "amazon-elb"

# "Amazon EKS creates ... network interfaces in your subnets ... We recommend ... at least two
# subnets in different Availability Zones"; EKS "can create up to 4" of them
# (https://docs.aws.amazon.com/eks/latest/userguide/network-reqs.html).
MIN_CLUSTER_INTERFACES = 2
MAX_CLUSTER_INTERFACES = 4

# The description EKS gives the cluster security group
# (https://docs.aws.amazon.com/eks/latest/userguide/sec-group-reqs.html).
CLUSTER_SG_DESCRIPTION = (
    "EKS created security group applied to ENI that is attached to EKS Control Plane master "
    "nodes, as well as any managed workloads."
)

# Owners whose interfaces wait for them: (ec2 backend, eni id) → "is the owner gone?".
_owners = {}
# Cluster security groups: (ec2 backend, group id, "is the cluster gone?").
_cluster_groups = []


class InterfaceInUse(EC2ClientError):
    def __init__(self, eni_id):
        # "InvalidNetworkInterface.InUse: The specified interface is currently in use and
        # cannot be deleted" (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html);
        # DeleteNetworkInterface: "You must detach the network interface before you can delete
        # it" (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DeleteNetworkInterface.html).
        super().__init__(
            "InvalidNetworkInterface.InUse",
            f"Interface: [{eni_id}] in use.",
        )


def _ec2(account, region):
    from moto.ec2.models import ec2_backends

    return ec2_backends[account][region]


def _subnet(ec2, subnet_id):
    try:
        return ec2.get_subnet(subnet_id)
    except Exception:
        return None


def _gone(thing):
    life = thing.__dict__.get("_eksboot_life")
    return life is not None and life.gone()


def _lb_description(lb):
    kind = {"application": "app", "network": "net"}.get(lb.type)
    return None if kind is None else f"ELB {kind}/{lb.name}/{lb.arn.rsplit('/', 1)[-1]}"


def _interface(ec2, subnet, groups, description, requester, tags=None, owner=None):
    """An in-use interface; `requester` is the service that manages it (None: the account's own,
    as an instance's primary interface is)."""
    eni = ec2.create_network_interface(subnet, None, group_ids=list(groups), description=description, tags=tags)
    if requester is not None:
        eni.requester_managed = True
        eni.requester_id = requester
    eni.status = "in-use"
    if owner is not None:
        _owners[(id(ec2), eni.id)] = owner
    return eni


def release(ec2):
    """Called by eksboot_moto._release_interfaces: interfaces whose owner is gone start their
    linger; the cluster group goes once its cluster is gone, its linger passed and nothing
    uses it."""
    now = time.monotonic()
    for eni_id, eni in list(ec2.enis.items()):
        owner = _owners.get((id(ec2), eni_id))
        if owner is None:
            continue
        gone_at = eni.__dict__.get("_eksboot_owner_gone_at")
        if gone_at is None and owner():
            eni.__dict__["_eksboot_owner_gone_at"] = gone_at = now
        if gone_at is not None and now >= gone_at + ENI_LINGER_SECONDS:
            ec2.enis.pop(eni_id, None)
            _owners.pop((id(ec2), eni_id), None)
    for entry in list(_cluster_groups):
        backend, group_id, cluster_gone, since = entry
        if backend is not ec2:
            continue
        if since[0] is None:
            if cluster_gone():
                since[0] = now
            continue
        if now < since[0] + ENI_LINGER_SECONDS:
            continue
        if any(any(g.id == group_id for g in eni._group_set) for eni in ec2.enis.values()):
            continue
        for groups in ec2.groups.values():
            groups.pop(group_id, None)
        _cluster_groups.remove(entry)


def _vpc_config_property():
    """DescribeCluster's resourcesVpcConfig with clusterSecurityGroupId and vpcId, whatever
    UpdateClusterConfig replaced ("clusterSecurityGroupId: The cluster security group that was
    created by Amazon EKS for the cluster",
    https://docs.aws.amazon.com/eks/latest/APIReference/API_VpcConfigResponse.html)."""

    def getter(self):
        config = dict(self.__dict__.get("_eksboot_vpc_config") or {})
        for key in ("clusterSecurityGroupId", "vpcId"):
            if self.__dict__.get("_eksboot_" + key):
                config[key] = self.__dict__["_eksboot_" + key]
        return config

    def setter(self, value):
        self.__dict__["_eksboot_vpc_config"] = value

    return property(getter, setter)


def install(emulator):
    eks_models.Cluster.resources_vpc_config = _vpc_config_property()

    # ---------------------------------------------------------------- CreateCluster

    original_create_cluster = EKSResponse.create_cluster

    def create_cluster(self):
        result = original_create_cluster(self)
        cluster = self.eks_backend.clusters[self._get_param("name")]
        _cluster_network(self.current_account, self.region, cluster)
        return result

    EKSResponse.create_cluster = create_cluster

    # ---------------------------------------------------------------- CreateNodegroup

    original_create_nodegroup = eks_models.EKSBackend.create_nodegroup

    def create_nodegroup(self, *args, **kwargs):
        nodegroup = original_create_nodegroup(self, *args, **kwargs)
        cluster = self.clusters.get(kwargs.get("cluster_name"))
        if cluster is not None:
            _node_interfaces(_ec2(self.account_id, self.region_name), cluster, nodegroup)
        return nodegroup

    eks_models.EKSBackend.create_nodegroup = create_nodegroup

    # ---------------------------------------------------------------- ALB / NLB

    original_create_lb = elbv2_models.ELBv2Backend.create_load_balancer

    def create_load_balancer(self, *args, **kwargs):
        # "Elastic Load Balancing creates a network interface for each Availability Zone that
        # you enable" (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/application-load-balancers.html#availability-zones,
        # .../network/network-load-balancers.html#availability-zones); its description is
        # "ELB app/<name>/<id>" or "ELB net/<name>/<id>"
        # (https://repost.aws/knowledge-center/elb-find-load-balancer-ip). They outlive the load
        # balancer a while, as the Classic ELB's do in eksboot_moto.py.
        lb = original_create_lb(self, *args, **kwargs)
        description = _lb_description(lb)
        if description is not None:
            ec2 = _ec2(self.account_id, self.region_name)
            backend, arn = self, lb.arn
            for subnet in lb.subnets:
                _interface(
                    ec2, subnet, lb.security_groups or [], description, ELB_REQUESTER,
                    owner=lambda: arn not in backend.load_balancers,
                )
        return lb

    elbv2_models.ELBv2Backend.create_load_balancer = create_load_balancer

    # ---------------------------------------------------------------- DeleteNetworkInterface

    original_delete_eni = ec2_enis.NetworkInterfaceBackend.delete_network_interface

    def delete_network_interface(self, eni_id):
        emulator._release_interfaces(self)
        eni = self.enis.get(eni_id)
        if eni is not None and eni.status == "in-use":
            raise InterfaceInUse(eni_id)
        return original_delete_eni(self, eni_id)

    ec2_enis.NetworkInterfaceBackend.delete_network_interface = delete_network_interface


def _cluster_network(account, region, cluster):
    config = cluster.__dict__.get("_eksboot_vpc_config") or {}
    ec2 = _ec2(account, region)
    subnets = [s for s in (_subnet(ec2, i) for i in config.get("subnetIds") or []) if s is not None]
    if not subnets:
        return
    vpc_id = subnets[0].vpc_id
    name = cluster.name
    # "When you create a cluster, Amazon EKS creates a security group that's named
    # eks-cluster-sg-my-cluster-uniqueID" with the tags kubernetes.io/cluster/my-cluster: owned,
    # aws:eks:cluster-name: my-cluster and Name: eks-cluster-sg-my-cluster-uniqueid
    # (https://docs.aws.amazon.com/eks/latest/userguide/sec-group-reqs.html).
    group_name = f"eks-cluster-sg-{name}-{random.randint(10**9, 10**10 - 1)}"
    group = ec2.create_security_group(
        group_name,
        CLUSTER_SG_DESCRIPTION,
        vpc_id=vpc_id,
        tags={
            "Name": group_name,
            f"kubernetes.io/cluster/{name}": "owned",
            "aws:eks:cluster-name": name,
        },
    )
    cluster.__dict__["_eksboot_clusterSecurityGroupId"] = group.id
    cluster.__dict__["_eksboot_vpcId"] = vpc_id
    _cluster_groups.append((ec2, group.id, lambda: _gone(cluster), [None]))
    # The cross-account interfaces: the cluster group and the groups asked for
    # ("Amazon EKS associates ... security groups ... to the cross-account elastic network
    # interfaces", https://docs.aws.amazon.com/eks/latest/userguide/sec-group-reqs.html).
    groups = [group.id] + [g for g in config.get("securityGroupIds") or []]
    count = max(MIN_CLUSTER_INTERFACES, min(MAX_CLUSTER_INTERFACES, len(subnets)))
    for i in range(count):
        _interface(ec2, subnets[i % len(subnets)], groups, f"Amazon EKS {name}", EKS_REQUESTER, owner=lambda: _gone(cluster))


def _node_interfaces(ec2, cluster, nodegroup):
    # Managed nodes: "Amazon EKS tags managed node group resources ... eks:cluster-name,
    # eks:nodegroup-name" (https://docs.aws.amazon.com/eks/latest/userguide/managed-node-groups.html),
    # and without security groups of a launch template they get the cluster security group
    # ("If you don't specify ... the cluster security group is applied",
    # https://docs.aws.amazon.com/eks/latest/userguide/sec-group-reqs.html). An instance's primary
    # interface lives as long as the instance.
    subnets = [s for s in (_subnet(ec2, i) for i in nodegroup.subnets or []) if s is not None]
    if not subnets:
        return
    desired = int((nodegroup.scaling_config or {}).get("desiredSize", 0) or 0)
    group = cluster.__dict__.get("_eksboot_clusterSecurityGroupId")
    groups = [group] if group and any(group in g for g in ec2.groups.values()) else []
    tags = {"eks:cluster-name": cluster.name, "eks:nodegroup-name": nodegroup.nodegroup_name}
    for i in range(desired):
        _interface(ec2, subnets[i % len(subnets)], groups, "", None, tags=tags, owner=lambda: _gone(nodegroup))
