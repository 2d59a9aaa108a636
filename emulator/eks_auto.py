"""EKS Auto Mode in the emulator (issue 24), on by default, installed by eksboot_moto.py on its
own EKS operations (`install(emulator)` gets that module, so its helpers and state are shared).

  * CreateCluster and UpdateClusterConfig hold Auto Mode's three capabilities (`computeConfig`,
    `storageConfig.blockStorage`, `kubernetesNetworkConfig.elasticLoadBalancing`) and refuse
    what EKS refuses (each rule cites AWS below); DescribeCluster returns them as EKS does.
    An UpdateClusterConfig carrying them is an `AutoModeUpdate`, waited on through DescribeUpdate
    like any other (held by /eksboot-moto/hold-updates, refused while another runs).
  * Once the cluster is ACTIVE with compute on and a node pool, "AWS" launches one node, as if a
    pod were pending: an EC2 instance (running) in the cluster's first subnet, its interface and an
    80 GiB gp3 encrypted volume (the default node class), all tagged as Auto Mode tags them
    (AUTO_TAGS), an instance profile holding the node role (`eks-<region>-<cluster>-<hash>`,
    tagged eks:eks-cluster-name), and the node role's access entry (type EC2, with
    AmazonEKSAutoNodePolicy). A change of node pools moves the node to the pool now chosen.
  * DeleteCluster: the node goes shutting-down → terminated after a while (model
    `eks::auto-mode-node-termination`), its interface with it; the volume stays, `available`;
    load balancers and target groups tagged eks:eks-cluster-name=<cluster> are deleted after a
    while (model `eks::auto-mode-load-balancer-deletion`); the instance profile stays on the node
    role, so DeleteRole answers DeleteConflict until the role is removed from it (moto's own rule,
    https://docs.aws.amazon.com/IAM/latest/APIReference/API_DeleteRole.html).

The world advances when anyone looks: every request the emulator serves first reconciles the
Auto Mode clusters it knows (nothing at all when there are none), so whatever eksboot or a test
reads (DescribeInstances, ListAccessEntries, ListInstanceProfilesForRole, ...) is current.
"""

import hashlib
import json
import threading
import time

from moto.core.responses import ActionResult, BaseResponse
from moto.eks import models as eks_models
from moto.eks.exceptions import InvalidParameterException
from moto.eks.responses import EKSResponse
from moto.moto_api import state_manager
from moto.moto_api._internal.managed_state_model import ManagedState
from moto.utilities.utils import get_partition

# Auto Mode's built-in node pools: "EKS Auto Mode has two built-in NodePools: general-purpose
# and system" (https://docs.aws.amazon.com/eks/latest/userguide/set-builtin-node-pools.html);
# ComputeConfigRequest.nodePools takes only those
# (https://docs.aws.amazon.com/eks/latest/APIReference/API_ComputeConfigRequest.html).
NODE_POOLS = ("general-purpose", "system")

# "EKS Auto Mode requires Kubernetes version 1.29 or greater"
# (https://docs.aws.amazon.com/eks/latest/userguide/automode.html, Requirements).
MIN_VERSION = (1, 29)

# AWS's wording for the three-at-once rule (widely reported,
# https://github.com/kubernetes-sigs/cluster-api-provider-aws/issues/5278).
ALL_THREE = (
    "For EKS Auto Mode, please ensure that all required configs, including computeConfig, "
    "kubernetesNetworkConfig, and blockStorage are all either fully enabled or fully disabled."
)

# The tags Auto Mode puts on what it launches. AmazonEKSComputePolicy (the cluster role's) lets
# EKS run instances only with aws:RequestTag/eks:eks-cluster-name (the cluster),
# eks:kubernetes-node-class-name and eks:kubernetes-node-pool-name, and no tag keys other than
# those three and kubernetes.io/cluster/* (its ForAllValues:StringLike aws:TagKeys condition,
# https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AmazonEKSComputePolicy.html):
# so no karpenter.sh/* tags. The built-in pools use the node class named "default"
# (https://docs.aws.amazon.com/eks/latest/userguide/create-node-class.html).
def auto_tags(cluster_name, pool):
    return {
        "eks:eks-cluster-name": cluster_name,
        "eks:kubernetes-node-class-name": "default",
        "eks:kubernetes-node-pool-name": pool,
        f"kubernetes.io/cluster/{cluster_name}": "owned",
    }


# The default node class's storage: "ephemeralStorage ... size: 80Gi ... iops 3000, throughput
# 125" on gp3, encrypted (https://docs.aws.amazon.com/eks/latest/userguide/create-node-class.html).
NODE_VOLUME = {"DeviceName": "/dev/xvdb", "Ebs": {"VolumeSize": 80, "VolumeType": "gp3", "Encrypted": True,
                                                   # Kept at termination here: the model of
                                                   # Auto Mode's volumes as user data (teardown
                                                   # names them and deletes them only with --force).
                                                   "DeleteOnTermination": False}}
NODE_INSTANCE_TYPE = "c6a.large"

# The Kubernetes access policy EKS associates with the node role's EC2 access entry
# (https://docs.aws.amazon.com/eks/latest/userguide/access-policy-permissions.html#access-policy-permissions-amazoneksautonodepolicy;
# "EKS Auto Mode ... automatically creates ... access entries",
# https://docs.aws.amazon.com/eks/latest/userguide/auto-learn-iam.html).
AUTO_NODE_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSAutoNodePolicy"

TERMINATION_MODEL = "eks::auto-mode-node-termination"
LB_DELETION_MODEL = "eks::auto-mode-load-balancer-deletion"

_lock = threading.RLock()
_clusters = {}  # id(cluster) -> _Auto


def _invalid(message, cluster_name=None):
    return InvalidParameterException(
        clusterName=cluster_name, nodegroupName=None, fargateProfileName=None, addonName=None, message=message
    )


def _minor(version):
    major, minor = str(version).split(".")[:2]
    return int(major), int(minor)


def _trust_document(role):
    document = role.assume_role_policy_document
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError:
            from urllib.parse import unquote

            document = json.loads(unquote(document))
    return document or {}


def _trusts_ec2(role):
    """Whether the role's trust policy lets EC2 assume it: the Auto Mode node role's trust is
    Principal Service ec2.amazonaws.com with sts:AssumeRole
    (https://docs.aws.amazon.com/eks/latest/userguide/auto-create-node-role.html)."""
    statements = _trust_document(role).get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    for s in statements:
        if s.get("Effect") != "Allow" or not isinstance(s.get("Principal"), dict):
            continue
        services = s["Principal"].get("Service", [])
        services = [services] if isinstance(services, str) else services
        actions = s.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        if any(x in ("ec2.amazonaws.com", "ec2.amazonaws.com.cn") for x in services) and any(
            a in ("sts:AssumeRole", "sts:*", "*") for a in actions
        ):
            return True
    return False


def _role_by_arn(account, arn):
    from moto.iam.models import iam_backends

    partition = arn.split(":")[1] if arn.startswith("arn:") else "aws"
    backend = iam_backends[account][partition]
    name = arn.split("/")[-1]
    for role in backend.roles.values():
        if role.name == name and role.arn == arn:
            return role
    return None


def _requested(compute, storage, network):
    """The three capabilities' `enabled` as given (None: not given)."""
    c = compute.get("enabled") if isinstance(compute, dict) else None
    s = ((storage or {}).get("blockStorage") or {}).get("enabled") if isinstance(storage, dict) else None
    e = ((network or {}).get("elasticLoadBalancing") or {}).get("enabled") if isinstance(network, dict) else None
    return [None if v is None else str(v).lower() == "true" for v in (c, s, e)]


def _validate(cluster_name, account, compute, storage, network, version, auth_mode, bootstrap, current=None):
    """The Auto Mode part of a CreateCluster (current None) or UpdateClusterConfig request:
    None when the request carries none of the three, else the configuration to hold."""
    flags = _requested(compute, storage, network)
    if all(f is None for f in flags):
        return None
    # "the three capabilities must be all enabled or all disabled": CreateCluster's computeConfig,
    # storageConfig and kubernetesNetworkConfig.elasticLoadBalancing "must be enabled or
    # disabled together" (https://docs.aws.amazon.com/eks/latest/APIReference/API_CreateCluster.html,
    # https://docs.aws.amazon.com/eks/latest/userguide/auto-enable-existing.html); a capability
    # not named while another is enabled is not "fully enabled".
    if any(f is True for f in flags) and not all(f is True for f in flags):
        raise _invalid(ALL_THREE, cluster_name)
    enabled = all(f is True for f in flags)
    compute = compute or {}
    pools = list(compute.get("nodePools") or [])
    role = compute.get("nodeRoleArn")
    if not enabled:
        # "If the computeConfig enabled flag is set to false ... the request must not include
        # values for the nodeRoleArn or nodePools fields" (learnt by the AWS CDK from
        # CloudFormation's errors, https://github.com/aws/aws-cdk/pull/33373).
        if pools or role:
            raise _invalid("nodePools and nodeRoleArn may be given only when computeConfig is enabled.", cluster_name)
        return {"enabled": False}
    unknown = [p for p in pools if p not in NODE_POOLS]
    if unknown:
        raise _invalid(
            f"Invalid node pool(s) {', '.join(unknown)}: nodePools takes only general-purpose and system.",
            cluster_name,
        )
    if len(set(pools)) != len(pools):
        raise _invalid("nodePools lists a node pool more than once.", cluster_name)
    if pools and not role:
        # ComputeConfigRequest.nodeRoleArn: "the IAM Role EKS will assign to EC2 Managed Instances
        # in your EKS Auto Mode cluster"; the built-in node pools launch with it, so node pools
        # need it (https://docs.aws.amazon.com/eks/latest/APIReference/API_ComputeConfigRequest.html).
        # On an update too: the emulator takes the harmful reading (a request that names pools
        # names the role), which the API reference does not settle.
        raise _invalid("nodeRoleArn is required when nodePools are specified.", cluster_name)
    if current is not None and current.get("enabled") and current.get("nodeRoleArn") and role and role != current["nodeRoleArn"]:
        # nodeRoleArn: "This value cannot be changed after the compute capability of EKS Auto Mode
        # is enabled" (https://docs.aws.amazon.com/eks/latest/APIReference/API_ComputeConfigRequest.html).
        raise _invalid(
            "nodeRoleArn cannot be changed after the compute capability of EKS Auto Mode is enabled.",
            cluster_name,
        )
    if role:
        found = _role_by_arn(account, role) if role.split(":")[4:5] == [account] else None
        if role.split(":")[4:5] == [account] and found is None:
            # EKS checks the roles it is handed (CreateCluster: InvalidParameterException for a
            # role it cannot find or assume, https://docs.aws.amazon.com/eks/latest/APIReference/API_CreateCluster.html#API_CreateCluster_Errors).
            raise _invalid(f"The node role {role} does not exist.", cluster_name)
        if found is not None and not _trusts_ec2(found):
            raise _invalid(
                f"The node role {role} must trust ec2.amazonaws.com (its trust policy does not let EC2 assume it).",
                cluster_name,
            )
    if auth_mode not in ("API", "API_AND_CONFIG_MAP"):
        # "EKS Auto Mode requires ... the cluster authentication mode set to API or
        # API_AND_CONFIG_MAP": its nodes join through access entries
        # (https://docs.aws.amazon.com/eks/latest/userguide/auto-enable-existing.html).
        raise _invalid(
            f"EKS Auto Mode requires the authentication mode API or API_AND_CONFIG_MAP; the cluster's is {auth_mode}.",
            cluster_name,
        )
    if version is not None and _minor(version) < MIN_VERSION:
        raise _invalid(f"EKS Auto Mode requires Kubernetes version 1.29 or later; got {version}.", cluster_name)
    if current is None and bootstrap is not False:
        # "Enabling EKS Auto Mode also requires that bootstrap_self_managed_addons is set to false"
        # (terraform-provider-aws's aws_eks_cluster documentation, from EKS's answers; the API
        # reference is silent, so the emulator takes the harmful reading: EKS's default, true,
        # is refused as well as an explicit true).
        raise _invalid(
            "bootstrapSelfManagedAddons must be false when the compute capability of EKS Auto Mode is enabled.",
            cluster_name,
        )
    return {"enabled": True, "nodePools": pools, "nodeRoleArn": role}


def _hold(cluster, compute):
    """Sets what DescribeCluster returns for the three capabilities."""
    enabled = compute["enabled"]
    cluster.compute_config = dict(compute)
    cluster.storage_config = {"blockStorage": {"enabled": enabled}}
    network = dict(cluster.kubernetes_network_config or {})
    # moto keeps only what the request gave: EKS always describes the service CIDR and family.
    network.setdefault("serviceIpv4Cidr", "172.20.0.0/16")
    network.setdefault("ipFamily", "ipv4")
    network["elasticLoadBalancing"] = {"enabled": enabled}
    cluster.kubernetes_network_config = network


def _pool_for(compute):
    """The pool the one node runs in: general-purpose when there is one (workloads), else system."""
    pools = compute.get("nodePools") or [] if compute.get("enabled") else []
    if not pools or not compute.get("nodeRoleArn"):
        return None
    return "general-purpose" if "general-purpose" in pools else "system"


class _Auto:
    """One Auto Mode cluster's resources in EC2, IAM and ELB."""

    def __init__(self, cluster):
        self.cluster = cluster
        self.name = cluster.name
        self.account, self.region = cluster.arn.split(":")[4], cluster.arn.split(":")[3]
        self.partition = get_partition(self.region)
        self.instance_id = None
        self.pool = None
        # When Auto Mode's first node ran (add-ons whose pods need nodes get healthy after it).
        self.node_since = None
        self.deleting = False
        self.terminating = []  # (instance id, ManagedState)
        self.lb_deletions = []  # (ARN, ManagedState)

    @property
    def ec2(self):
        from moto.ec2.models import ec2_backends

        return ec2_backends[self.account][self.region]

    @property
    def iam(self):
        from moto.iam.models import iam_backends

        return iam_backends[self.account][self.partition]

    @property
    def elbv2(self):
        from moto.elbv2.models import elbv2_backends

        return elbv2_backends[self.account][self.region]

    def profile_name(self):
        # Auto Mode makes its instance profiles under the `eks` prefix its cluster role may
        # use (AmazonEKSComputePolicy: iam:AddRoleToInstanceProfile on instance-profile/eks*;
        # the user guide asked custom node classes' profiles to start with "eks-",
        # https://github.com/awsdocs/amazon-eks-user-guide/pull/1211). The rest of the name is
        # the emulator's: region, cluster and a hash, within IAM's 128 characters.
        digest = hashlib.sha256(f"{self.account}/{self.region}/{self.name}".encode()).hexdigest()[:10]
        return f"eks-{self.region}-{self.name}"[:116] + f"-{digest}"

    def done(self):
        return self.deleting and not self.terminating and not self.lb_deletions


def _emulator_setup(emulator):
    for model in (TERMINATION_MODEL, LB_DELETION_MODEL):
        state_manager.register_default_transition(model, emulator.DEFAULT_TRANSITION)
    if "AmazonEKSAutoNodePolicy" not in emulator.ACCESS_POLICIES:
        emulator.ACCESS_POLICIES.append("AmazonEKSAutoNodePolicy")


def install(emulator):
    """Wraps eksboot_moto's handlers (`emulator` is that module)."""
    _emulator_setup(emulator)

    def register(cluster):
        with _lock:
            _clusters.setdefault(id(cluster), _Auto(cluster))

    # ---------------------------------------------------------------- CreateCluster

    original_create_cluster = EKSResponse.create_cluster

    def create_cluster(self):
        name = self._get_param("name")
        access = self._get_param("accessConfig") or {}
        bootstrap = self._get_param("bootstrapSelfManagedAddons")
        compute = _validate(
            name,
            self.current_account,
            self._get_param("computeConfig"),
            self._get_param("storageConfig"),
            self._get_param("kubernetesNetworkConfig"),
            # Without a version EKS creates its default version (the emulator's table).
            self._get_param("version") or next(v[0] for v in emulator.CLUSTER_VERSIONS if v[2]),
            # The emulator's default authentication mode (eksboot_moto.create_cluster).
            access.get("authenticationMode", "API_AND_CONFIG_MAP"),
            None if bootstrap is None else str(bootstrap).lower() == "true",
        )
        result = original_create_cluster(self)
        if compute is not None:
            cluster = self.eks_backend.clusters[name]
            _hold(cluster, compute)
            register(cluster)
        return result

    # ---------------------------------------------------------------- UpdateClusterConfig

    original_update_cluster_config = EKSResponse.update_cluster_config

    def update_cluster_config(self):
        compute = self._get_param("computeConfig")
        storage = self._get_param("storageConfig")
        network = self._get_param("kubernetesNetworkConfig")
        if compute is None and storage is None and network is None:
            return original_update_cluster_config(self)
        cluster = emulator._cluster(self.eks_backend, self._get_param("name"))
        others = [
            self._get_param(k)
            for k in ("resourcesVpcConfig", "logging", "upgradePolicy", "accessConfig", "zonalShiftConfig", "remoteNetworkConfig")
        ]
        if any(others) or self._get_param("deletionProtection") is not None:
            raise _invalid("Only one type of update can be allowed.", cluster.name)
        held = cluster.__dict__.get("compute_config")
        config = _validate(
            cluster.name,
            self.current_account,
            compute,
            storage,
            network,
            cluster.version,
            (cluster.__dict__.get("access_config") or {}).get("authenticationMode", "API_AND_CONFIG_MAP"),
            None,
            current=held or {"enabled": False},
        )
        if config is None:
            raise _invalid("kubernetesNetworkConfig can only change elasticLoadBalancing.", cluster.name)
        if config["enabled"] and not config.get("nodeRoleArn") and held and held.get("nodeRoleArn"):
            config["nodeRoleArn"] = held["nodeRoleArn"]  # compute on, no pools: the role stays
        # UpdateType AutoModeUpdate, with the three as its params
        # (https://docs.aws.amazon.com/eks/latest/APIReference/API_Update.html); one update at a
        # time and only while ACTIVE (_start_update).
        params = [
            (kind, json.dumps(value))
            for kind, value in (("ComputeConfig", compute), ("StorageConfig", storage), ("KubernetesNetworkConfig", network))
            if value is not None
        ]
        update = emulator._start_update(cluster, cluster, "AutoModeUpdate", params)
        _hold(cluster, config)
        register(cluster)
        return ActionResult({"update": emulator._update_view(update)})

    # ---------------------------------------------------------------- DeleteCluster

    original_delete_cluster = eks_models.EKSBackend.delete_cluster

    def delete_cluster(self, name):
        cluster = self.clusters.get(name)
        result = original_delete_cluster(self, name)
        with _lock:
            auto = _clusters.get(id(cluster)) if cluster is not None else None
            if auto is not None and not auto.deleting:
                auto.deleting = True
                _stop_node(auto)
                if (cluster.__dict__.get("compute_config") or {}).get("enabled"):
                    _schedule_load_balancers(auto)
        return result

    # ---------------------------------------------------------------- the world advances

    original_call_action = BaseResponse.call_action

    def call_action(self):
        if _clusters:
            reconcile(emulator)
        return original_call_action(self)

    EKSResponse.create_cluster = create_cluster
    EKSResponse.update_cluster_config = update_cluster_config
    eks_models.EKSBackend.delete_cluster = delete_cluster
    BaseResponse.call_action = call_action


def reconcile(emulator):
    """Brings every known Auto Mode cluster's nodes, access entry and load balancers up to date."""
    with _lock:
        for key, auto in list(_clusters.items()):
            try:
                _reconcile(emulator, auto)
            except Exception as error:  # never fail the request being served for it
                print(f"eks_auto: reconcile of {auto.name} failed: {error!r}", flush=True)
            if auto.done():
                del _clusters[key]


def _reconcile(emulator, auto):
    cluster = auto.cluster
    if not auto.deleting:
        compute = cluster.__dict__.get("compute_config") or {}
        if cluster.status == "ACTIVE":
            if compute.get("enabled") and compute.get("nodeRoleArn"):
                _node_access_entry(emulator, cluster, compute["nodeRoleArn"])
            wanted = _pool_for(compute)
            if auto.instance_id is not None and auto.pool != wanted:
                _stop_node(auto)
            if wanted is not None and auto.instance_id is None:
                _launch(auto, wanted, compute["nodeRoleArn"])
    for instance_id, state in list(auto.terminating):
        if state.status == "terminated":
            _terminate(auto, instance_id)
            auto.terminating.remove((instance_id, state))
    for arn, state in list(auto.lb_deletions):
        if state.status == "deleted":
            _delete_load_balancer(auto, arn)
            auto.lb_deletions.remove((arn, state))


def _node_access_entry(emulator, cluster, role_arn):
    """The node role's access entry, which EKS creates itself: type EC2, with
    AmazonEKSAutoNodePolicy (https://docs.aws.amazon.com/eks/latest/userguide/auto-learn-iam.html,
    https://docs.aws.amazon.com/eks/latest/APIReference/API_CreateAccessEntry.html: type EC2 "for
    EKS Auto Mode custom node classes" and its nodes)."""
    entries = emulator._access_entries(cluster)
    if role_arn in entries:
        return
    entry = emulator._new_access_entry(cluster, role_arn, username="system:node:{{EC2PrivateDNSName}}")
    entry["type"] = "EC2"
    entry["_policies"][AUTO_NODE_POLICY] = {
        "policyArn": AUTO_NODE_POLICY,
        "accessScope": {"type": "cluster", "namespaces": []},
        "associatedAt": emulator.now(),
        "modifiedAt": emulator.now(),
    }


def _instance_profile(auto, role_arn):
    """Auto Mode's instance profile for the node role, made once and left on the role."""
    name = auto.profile_name()
    role_name = role_arn.split("/")[-1]
    profile = auto.iam.instance_profiles.get(name)
    if profile is None:
        profile = auto.iam.create_instance_profile(
            name, "/", role_names=[role_name], tags=[{"Key": "eks:eks-cluster-name", "Value": auto.name}]
        )
    elif not profile.roles:
        auto.iam.add_role_to_instance_profile(name, role_name)
    return profile


def _launch(auto, pool, role_arn):
    ec2 = auto.ec2
    subnets = [s for s in (auto.cluster.resources_vpc_config or {}).get("subnetIds") or [] if _subnet_exists(ec2, s)]
    if not subnets:
        return
    profile = _instance_profile(auto, role_arn)
    tags = auto_tags(auto.name, pool)
    image = next(iter(ec2.amis), "ami-bottlerocket") if getattr(ec2, "amis", None) else "ami-bottlerocket"
    reservation = ec2.run_instances(
        image,
        1,
        None,
        [],
        instance_type=NODE_INSTANCE_TYPE,
        is_instance_type_default=False,
        region_name=auto.region,
        subnet_id=subnets[0],
        placement=None,
        nics=[],
        tags={"instance": dict(tags), "volume": dict(tags)},
        block_device_mappings=[json.loads(json.dumps(NODE_VOLUME))],
    )
    instance = reservation.instances[0]
    for nic in instance.nics.values():
        nic.add_tags(dict(tags))
    _aws_managed_ebs_key(auto)
    ec2.associate_iam_instance_profile(instance_id=instance.id, iam_instance_profile_arn=profile.arn)
    auto.instance_id, auto.pool = instance.id, pool
    if auto.node_since is None:
        auto.node_since = time.monotonic()


def _aws_managed_ebs_key(auto):
    """The key behind alias/aws/ebs, which moto makes for the first encrypted volume, is an AWS
    managed key on AWS ("AWS managed keys ... are created ... the first time you create an
    encrypted resource", https://docs.aws.amazon.com/kms/latest/developerguide/concepts.html#aws-managed-key):
    DescribeKey says KeyManager AWS, and it is nobody's to delete."""
    from moto.kms import kms_backends

    kms = kms_backends[auto.account][auto.region]
    try:
        key_id = kms.get_key_id_from_alias("alias/aws/ebs")
    except Exception:
        key_id = None
    if key_id and key_id in kms.keys:
        kms.keys[key_id].key_manager = "AWS"


def nodes_ready_since(cluster):
    """When Auto Mode's first node ran for this cluster, if it did: Auto Mode launches nodes for
    pods that are pending ("EKS Auto Mode detects when a workload can't fit onto existing nodes,
    and creates a new EC2 Instance", https://docs.aws.amazon.com/eks/latest/userguide/automode-learn-instances.html),
    so an add-on whose pods need nodes (metrics-server, say) gets healthy as on a node group."""
    with _lock:
        auto = _clusters.get(id(cluster))
        return None if auto is None or auto.instance_id is None else auto.node_since


def _subnet_exists(ec2, subnet_id):
    try:
        ec2.get_subnet(subnet_id)
        return True
    except Exception:
        return False


def _stop_node(auto):
    """The node is shutting-down for a while, then terminated (its interface goes with it)."""
    if auto.instance_id is None:
        return
    try:
        instance = auto.ec2.get_instance(auto.instance_id)
    except Exception:
        instance = None
    if instance is not None and instance.state not in ("terminated", "shutting-down"):
        instance._state.name = "shutting-down"
        instance._state.code = 32
        auto.terminating.append((auto.instance_id, ManagedState(TERMINATION_MODEL, [("shutting-down", "terminated")])))
    auto.instance_id, auto.pool = None, None


def _terminate(auto, instance_id):
    """Terminated: its interface is deleted with it (an instance's primary interface is
    "DeleteOnTermination": true, https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/using-eni.html;
    moto keeps it), its volume detached and kept (NODE_VOLUME)."""
    ec2 = auto.ec2
    try:
        instance = ec2.get_instance(instance_id)
    except Exception:
        return
    interfaces = [nic.id for nic in instance.nics.values()]
    ec2.terminate_instances([instance_id])
    for eni_id in interfaces:
        ec2.enis.pop(eni_id, None)


def _schedule_load_balancers(auto):
    """Auto Mode's load balancing capability deletes the load balancers it made for the cluster
    when the cluster goes (https://docs.aws.amazon.com/eks/latest/userguide/auto-elb-example.html;
    they carry eks:eks-cluster-name, AmazonEKSLoadBalancingPolicy's condition,
    https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AmazonEKSLoadBalancingPolicy.html)."""
    backend = auto.elbv2
    for arn in list(backend.load_balancers):
        tags = backend.tagging_service.get_tag_dict_for_resource(arn)
        if tags.get("eks:eks-cluster-name") == auto.name:
            auto.lb_deletions.append((arn, ManagedState(LB_DELETION_MODEL, [("deleting", "deleted")])))


def _delete_load_balancer(auto, arn):
    backend = auto.elbv2
    if arn in backend.load_balancers:
        backend.delete_load_balancer(arn)
    # Its target groups (tagged the same) go with it once nothing uses them.
    for tg_arn in list(backend.target_groups):
        tags = backend.tagging_service.get_tag_dict_for_resource(tg_arn)
        if tags.get("eks:eks-cluster-name") == auto.name:
            try:
                backend.delete_target_group(tg_arn)
            except Exception:
                pass  # still used by another of the cluster's load balancers: next time
