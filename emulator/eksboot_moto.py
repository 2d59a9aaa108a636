"""moto server for eksboot's tests, with the EKS operations moto 5.2.5 lacks.

Run as `python eksboot_moto.py`. It binds 127.0.0.1 on a free port, prints
`PORT <n>` on stdout once it serves, and exits when its stdin closes (the test
process that started it died or finished), so CI never keeps stray servers.

What it adds, keeping state on moto's own EKS backend objects so that
`POST /moto-api/reset` clears it like everything else:
  * DescribeClusterVersions (a fixed, realistic table of versions)
  * access entries and access policies (Create/Describe/List/Delete,
    Associate/Disassociate/ListAssociated, ListAccessPolicies), including the
    cluster creator's bootstrap entry when accessConfig asks for it
  * add-ons (Create/Describe/List/Delete, DescribeAddonVersions)
  * pod identity associations
  * cluster and node group updates (UpdateClusterConfig, UpdateNodegroupConfig,
    UpdateNodegroupVersion, UpdateClusterVersion, UpdateAddon) found by DescribeUpdate,
    and upgrade insights (StartInsightsRefresh, ListInsights, DescribeInsight)
  * `accessConfig` on clusters (moto drops it)
  * clusters, node groups, add-ons, updates, NAT gateways and VPC endpoints that pass
    through their waiting states (CREATING, UPDATING, DELETING, pending, deleting) on moto's
    state manager: each lasts EKSBOOT_MOTO_TRANSITION_MS (300 ms) unless
    `POST /moto-api/state-manager/set-transition` sets a model (`eks::cluster`,
    `eks::cluster-deletion`, `eks::nodegroup`, `eks::nodegroup-deletion`, `eks::addon`,
    `eks::addon-deletion`, `eks::update`, `eks::insights-refresh`, `ec2::nat_gateway`,
    `ec2::nat_gateway-deletion`, `ec2::vpc_endpoint`, `ec2::vpc_endpoint-deletion`)
  * the AWS rules moto is gentler about (IAM propagation, dependency errors, denied calls):
    each cited where it is modelled below
Errors are the ones real EKS returns (unknown cluster: ResourceNotFoundException).
"""

import datetime
import fnmatch
import io
import json
import os
import re
import sys
import threading
import time
import uuid
from urllib.parse import parse_qs

# AWS accounts hold the AWS managed policies (AmazonEKSClusterPolicy, ...); moto loads them only
# when asked. Set before moto is imported, so running this script by hand behaves like the tests.
os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")

import moto.eks.urls as eks_urls
from moto.core.responses import ActionResult, EmptyResult
from moto.ec2.exceptions import EC2ClientError
from moto.ec2.models import elastic_ip_addresses as ec2_eips
from moto.ec2.models import nat_gateways as ec2_nat
from moto.ec2.models import vpcs as ec2_vpcs
from moto.eks import models as eks_models
from moto.eks.exceptions import (
    EKSError,
    InvalidParameterException,
    InvalidRequestException,
    ResourceInUseException,
    ResourceNotFoundException,
)
from moto.eks.responses import EKSResponse
from moto.iam import access_control
from moto.iam.models import IAMBackend, iam_backends
from moto.moto_api import state_manager
from moto.moto_api._internal.managed_state_model import ManagedState

# Nothing in AWS is instant: every waiting state lasts EKSBOOT_MOTO_TRANSITION_MS (default
# 300 ms) unless a test sets a model's transition itself, so every wait loop runs in every test.
TRANSITION_SECONDS = float(os.environ.get("EKSBOOT_MOTO_TRANSITION_MS", "300")) / 1000.0
DEFAULT_TRANSITION = {"progression": "time", "seconds": TRANSITION_SECONDS}
for model in (
    "eks::cluster",
    "eks::cluster-deletion",
    "eks::nodegroup",
    "eks::nodegroup-deletion",
    "eks::addon",
    "eks::addon-deletion",
    "ec2::nat_gateway",
    "ec2::nat_gateway-deletion",
    "ec2::vpc_endpoint",
    "ec2::vpc_endpoint-deletion",
    "eks::update",
    "eks::insights-refresh",
):
    state_manager.register_default_transition(model, DEFAULT_TRANSITION)

# Add-ons that run as DaemonSets are healthy with no nodes; every other add-on runs pods that
# need nodes, and EKS reports it DEGRADED (InsufficientNumberOfReplicas) until they are
# scheduled and ready, which takes a while after the node group is ACTIVE
# (https://docs.aws.amazon.com/eks/latest/userguide/troubleshooting-addons.html).
ADDONS_WITHOUT_NODES = {"vpc-cni", "kube-proxy", "eks-pod-identity-agent"}
ADDON_READY_SECONDS = float(os.environ.get("EKSBOOT_MOTO_ADDON_READY_MS", str(TRANSITION_SECONDS * 1000))) / 1000.0
INSUFFICIENT_REPLICAS = {
    "code": "InsufficientNumberOfReplicas",
    "message": "The add-on is unhealthy because it doesn't have the desired number of replicas.",
    "resourceIds": [],
}
CONFLICT = {
    "code": "ConfigurationConflict",
    "message": "Conflicts found when trying to apply. Will not continue due to resolve conflicts mode.",
    "resourceIds": [],
}

# Faults a test sets for one resource (the server is shared): (account, cluster, add-on) →
# "create-failed" | "stays-degraded" | "none", through POST /eksboot-moto/addon-fault.
_addon_faults = {}

CLUSTER_ADMIN_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
ACCESS_POLICIES = [
    "AmazonEKSClusterAdminPolicy",
    "AmazonEKSAdminPolicy",
    "AmazonEKSEditPolicy",
    "AmazonEKSViewPolicy",
    "AmazonEKSAdminViewPolicy",
]

# (version, status, default?, released, end of standard, end of extended support) as of late
# 2026: standard support for the newest four.
CLUSTER_VERSIONS = [
    ("1.36", "STANDARD_SUPPORT", False, "2026-06-25", "2027-08-25", "2028-08-25"),
    ("1.35", "STANDARD_SUPPORT", False, "2026-01-27", "2027-03-27", "2028-03-27"),
    ("1.34", "STANDARD_SUPPORT", True, "2025-10-02", "2026-12-02", "2027-12-02"),
    ("1.33", "STANDARD_SUPPORT", False, "2025-05-29", "2026-07-29", "2027-07-29"),
    ("1.32", "EXTENDED_SUPPORT", False, "2025-01-23", "2026-03-23", "2027-03-23"),
    ("1.31", "EXTENDED_SUPPORT", False, "2024-09-26", "2025-11-26", "2026-11-26"),
]

# The add-ons EKS offers (AWS's own and community ones), with a current default version.
ADDON_VERSIONS = {
    "vpc-cni": ("networking", "v1.20.4-eksbuild.1"),
    "kube-proxy": ("networking", "v{k}.0-eksbuild.2"),
    "coredns": ("networking", "v1.12.2-eksbuild.4"),
    "eks-pod-identity-agent": ("security", "v1.3.8-eksbuild.2"),
    "aws-ebs-csi-driver": ("storage", "v1.48.0-eksbuild.2"),
    "aws-efs-csi-driver": ("storage", "v2.1.11-eksbuild.1"),
    "aws-mountpoint-s3-csi-driver": ("storage", "v2.0.0-eksbuild.1"),
    "snapshot-controller": ("storage", "v8.3.0-eksbuild.1"),
    "amazon-cloudwatch-observability": ("observability", "v4.3.0-eksbuild.1"),
    "adot": ("observability", "v0.117.0-eksbuild.1"),
    "aws-guardduty-agent": ("security", "v1.11.0-eksbuild.1"),
    "eks-node-monitoring-agent": ("observability", "v1.4.0-eksbuild.2"),
    "aws-network-flow-monitoring-agent": ("observability", "v1.0.2-eksbuild.1"),
    "metrics-server": ("observability", "v0.8.0-eksbuild.2"),
    "kube-state-metrics": ("observability", "v2.16.0-eksbuild.1"),
    "prometheus-node-exporter": ("observability", "v1.9.1-eksbuild.2"),
    "cert-manager": ("security", "v1.18.2-eksbuild.1"),
    "external-dns": ("networking", "v0.19.0-eksbuild.1"),
    "fluent-bit": ("observability", "v4.0.7-eksbuild.1"),
}


def now():
    return datetime.datetime.now(datetime.timezone.utc)


def date(text):
    return datetime.datetime.fromisoformat(text + "T00:00:00+00:00")


# --------------------------------------------------------------------------
# Lifecycle through the state manager.


# Creations (and deletions) a test holds in their first state (POST /eksboot-moto/hold-creation
# {"account", "kind": "cluster" | "cluster-deletion", "hold": true|false}): a test that must see a
# cluster CREATING or DELETING (and what EKS refuses meanwhile) holds it there until it releases
# it, rather than racing a clock. Creating a
# cluster takes minutes on AWS ("Cluster provisioning takes several minutes",
# https://docs.aws.amazon.com/eks/latest/userguide/create-cluster.html): held, it simply lasts.
_held_creations = set()


class Lifecycle:
    """Status that moves CREATING → ACTIVE, and DELETING → gone, on moto's clock."""

    def __init__(self, kind, creating, active, account=None):
        self.kind = kind
        self.account = account
        self.first = creating
        self.creating = ManagedState(f"eks::{kind}", [(creating, active)])
        self.deleting = None

    def status(self):
        if self.deleting is not None:
            if (self.account, f"{self.kind}-deletion") in _held_creations:
                return "DELETING"
            return self.deleting.status
        if (self.account, self.kind) in _held_creations:
            return self.first
        return self.creating.status

    def delete(self):
        self.deleting = ManagedState(f"eks::{self.kind}-deletion", [("DELETING", "GONE")])

    def gone(self):
        return self.deleting is not None and self.deleting.status == "GONE"


def _status_property(default):
    def getter(self):
        life = self.__dict__.get("_eksboot_life")
        status = self.__dict__.get("_plain_status", default) if life is None else life.status()
        # A cluster or node group being updated is UPDATING until the update is done.
        if status == "ACTIVE" and any(
            u["_state"].status == "InProgress" for u in self.__dict__.get("_eksboot_own_updates", ())
        ):
            return "UPDATING"
        return status

    def setter(self, value):
        self.__dict__["_plain_status"] = value

    return property(getter, setter)


eks_models.Cluster.status = _status_property("ACTIVE")


def _nodegroup_status_property():
    plain = _status_property("ACTIVE")

    def getter(self):
        status = plain.fget(self)
        if status == "ACTIVE":
            self.__dict__.setdefault("_eksboot_active_since", time.monotonic())
        return status

    return property(getter, plain.fset)


eks_models.Nodegroup.status = _nodegroup_status_property()


def _version_property():
    """A cluster's (node group's) `version` changes only when its version update succeeds: while
    it runs, the old version is reported and the status is UPDATING
    (https://docs.aws.amazon.com/eks/latest/userguide/update-cluster.html)."""

    def getter(self):
        pending = self.__dict__.get("_eksboot_pending_version")
        if pending is not None and pending[0]["_state"].status == "Successful":
            self.__dict__["_eksboot_version"] = pending[1]
            self.__dict__.pop("_eksboot_pending_version", None)
        return self.__dict__.get("_eksboot_version")

    def setter(self, value):
        self.__dict__["_eksboot_version"] = value

    return property(getter, setter)


eks_models.Cluster.version = _version_property()
eks_models.Nodegroup.version = _version_property()


def _version_when_done(target, update, version):
    target.__dict__["_eksboot_pending_version"] = (update, version)


def _nodes_ready_since(cluster):
    """When the cluster's first node group became ACTIVE, if one is, or EKS Auto Mode's first
    node ran (emulator/eks_auto.py)."""
    times = [
        ng.__dict__.get("_eksboot_active_since")
        for ng in cluster.nodegroups.values()
        if ng.status == "ACTIVE"
    ]
    times.append(eks_auto.nodes_ready_since(cluster))
    times = [t for t in times if t is not None]
    return min(times) if times else None


def _purge(backend):
    """Drop clusters and node groups whose deletion has finished."""
    for name, cluster in list(backend.clusters.items()):
        for ng_name, ng in list(cluster.nodegroups.items()):
            life = ng.__dict__.get("_eksboot_life")
            if life is not None and life.gone():
                del cluster.nodegroups[ng_name]
                cluster.nodegroup_count -= 1
        for addon_name, addon in list(_addons(cluster).items()):
            if addon["_life"].gone():
                del _addons(cluster)[addon_name]
        life = cluster.__dict__.get("_eksboot_life")
        if life is not None and life.gone():
            del backend.clusters[name]
            backend.cluster_count -= 1


def _cluster(backend, name):
    _purge(backend)
    if name not in backend.clusters:
        raise ResourceNotFoundException(
            clusterName=None,
            nodegroupName=None,
            fargateProfileName=None,
            addonName=None,
            message=f"No cluster found for name: {name}.",
        )
    return backend.clusters[name]


def _not_found(message, **ids):
    fields = {"clusterName": None, "nodegroupName": None, "addonName": None}
    fields.update(ids)
    return ResourceNotFoundException(fargateProfileName=None, message=message, **fields)


def _access_entries(cluster):
    return cluster.__dict__.setdefault("_eksboot_access_entries", {})


def _addons(cluster):
    return cluster.__dict__.setdefault("_eksboot_addons", {})


def _pod_identities(cluster):
    return cluster.__dict__.setdefault("_eksboot_pod_identities", {})


def _updates(cluster):
    return cluster.__dict__.setdefault("_eksboot_updates", {})


def _caller_principal(response):
    """The IAM principal that signed the request, as EKS names it in access entries."""
    from moto.sts.models import sts_backends

    sts = sts_backends[response.current_account]["aws"]
    _, arn, _ = sts.get_caller_identity(response.get_access_key(), response.region)
    parts = arn.split(":")
    if ":assumed-role/" in arn:
        role = parts[5].split("/")[1]
        return f"arn:aws:iam::{parts[4]}:role/{role}"
    if parts[2] == "sts" and parts[5].startswith("user/"):
        return f"arn:aws:iam::{parts[4]}:{parts[5]}"
    return arn


def _principal_type(principal_arn):
    if ":user/" in principal_arn or ":role/" in principal_arn:
        return principal_arn
    raise InvalidParameterException(
        clusterName=None,
        nodegroupName=None,
        fargateProfileName=None,
        addonName=None,
        message=f"The specified principalArn is invalid: {principal_arn}",
    )


def _new_access_entry(cluster, principal_arn, tags=None, groups=None, username=None):
    _principal_type(principal_arn)
    entries = _access_entries(cluster)
    if principal_arn in entries:
        raise ResourceInUseException(
            clusterName=cluster.name,
            nodegroupName=None,
            addonName=None,
            message=f"The specified access entry resource is already in use on this cluster.",
        )
    account = cluster.arn.split(":")[4]
    region = cluster.arn.split(":")[3]
    kind, rest = principal_arn.split(":")[5].split("/", 1)
    entry = {
        "clusterName": cluster.name,
        "principalArn": principal_arn,
        "kubernetesGroups": groups or [],
        "accessEntryArn": f"arn:aws:eks:{region}:{account}:access-entry/{cluster.name}/{kind}/{account}/{rest.split('/')[-1]}/{uuid.uuid4()}",
        "createdAt": now(),
        "modifiedAt": now(),
        "tags": tags or {},
        "username": username or principal_arn,
        "type": "STANDARD",
        "_policies": {},
    }
    entries[principal_arn] = entry
    return entry


def _public(record):
    return {k: v for k, v in record.items() if not k.startswith("_")}


# --------------------------------------------------------------------------
# Cluster and node group behaviour moto lacks.

_original_create_cluster = EKSResponse.create_cluster
_original_delete_cluster = eks_models.EKSBackend.delete_cluster
_original_create_nodegroup = eks_models.EKSBackend.create_nodegroup
_original_delete_nodegroup = eks_models.EKSBackend.delete_nodegroup
_original_list_clusters = eks_models.EKSBackend.list_clusters
_original_describe_cluster = eks_models.EKSBackend.describe_cluster
_original_describe_nodegroup = eks_models.EKSBackend.describe_nodegroup
_original_list_nodegroups = eks_models.EKSBackend.list_nodegroups


def create_cluster(self):
    result = _original_create_cluster(self)
    cluster = self.eks_backend.clusters[self._get_param("name")]
    access_config = self._get_param("accessConfig") or {}
    cluster.access_config = {
        "authenticationMode": access_config.get("authenticationMode", "API_AND_CONFIG_MAP"),
        "bootstrapClusterCreatorAdminPermissions": access_config.get(
            "bootstrapClusterCreatorAdminPermissions", True
        ),
    }
    cluster.__dict__["_eksboot_life"] = Lifecycle(
        "cluster", "CREATING", "ACTIVE", account=cluster.arn.split(":")[4]
    )
    # DescribeCluster's upgradePolicy: "If you do not specify an upgrade policy, EXTENDED is used"
    # (https://docs.aws.amazon.com/eks/latest/userguide/view-upgrade-policy.html; CreateCluster's
    # upgradePolicy: "New clusters, by default, have extended support enabled",
    # https://docs.aws.amazon.com/eks/latest/APIReference/API_CreateCluster.html).
    asked = (self._get_param("upgradePolicy") or {}).get("supportType")
    cluster.upgrade_policy = {"supportType": asked or "EXTENDED"}
    if cluster.access_config["bootstrapClusterCreatorAdminPermissions"]:
        entry = _new_access_entry(cluster, _caller_principal(self))
        entry["_policies"][CLUSTER_ADMIN_POLICY] = {
            "policyArn": CLUSTER_ADMIN_POLICY,
            "accessScope": {"type": "cluster", "namespaces": []},
            "associatedAt": now(),
            "modifiedAt": now(),
        }
    return result


def delete_cluster(self, name):
    cluster = _cluster(self, name)
    if (self.account_id, name) in _denied_cluster_deletes:
        raise AccessDeniedException(
            **{
                "__type": "AccessDeniedException",
                "message": f"User is not authorized to perform: eks:DeleteCluster on resource: {cluster.arn} with an explicit deny",
            }
        )
    if cluster.status == "CREATING":
        # EKS refuses to delete a cluster it is still creating.
        raise ResourceInUseException(
            clusterName=name,
            nodegroupName=None,
            addonName=None,
            message="Cluster has status CREATING. Cannot delete.",
        )
    if cluster.nodegroups:
        return _original_delete_cluster(self, name)  # raises ResourceInUse
    cluster.__dict__.setdefault("_eksboot_life", Lifecycle("cluster", "ACTIVE", "ACTIVE"))
    cluster.__dict__["_eksboot_life"].delete()
    # Access entries, add-ons and pod identity associations go with their cluster.
    _access_entries(cluster).clear()
    _addons(cluster).clear()
    _pod_identities(cluster).clear()
    _purge(self)
    return cluster


def create_nodegroup(self, *args, **kwargs):
    cluster_name = kwargs.get("cluster_name")
    cluster = _cluster(self, cluster_name)
    if cluster.status != "ACTIVE":
        raise InvalidRequestException(
            clusterName=cluster_name,
            nodegroupName=None,
            fargateProfileName=None,
            addonName=None,
            message=f"Cluster '{cluster_name}' is not in ACTIVE status",
        )
    nodegroup = _original_create_nodegroup(self, *args, **kwargs)
    # Without a version, a node group runs its control plane's (moto picks a fixed one).
    if not kwargs.get("version"):
        nodegroup.version = cluster.version
    outcome = "CREATE_FAILED" if _nodes_cannot_reach_aws(self, kwargs.get("subnets") or []) else "ACTIVE"
    nodegroup.__dict__["_eksboot_life"] = Lifecycle("nodegroup", "CREATING", outcome)
    return nodegroup


def _nodes_cannot_reach_aws(backend, subnets):
    """The health issue that fails a node group launched in `subnets` (None when its nodes
    join): each node subnet's own route table must lead to an attached internet gateway (public
    addresses mapped) or an `available` NAT gateway, else every endpoint nodes need must be
    `available` (emulator/aws_rules.py, `nodes_cannot_reach_aws`, citing AWS there)."""
    import aws_rules
    from moto.ec2.models import ec2_backends

    return aws_rules.nodes_cannot_reach_aws(ec2_backends[backend.account_id][backend.region_name], subnets)


def delete_nodegroup(self, cluster_name, nodegroup_name):
    cluster = _cluster(self, cluster_name)
    nodegroup = cluster.nodegroups.get(nodegroup_name)
    if nodegroup is None or (
        nodegroup.__dict__.get("_eksboot_life") and nodegroup.__dict__["_eksboot_life"].deleting
    ):
        raise _not_found(
            f"No node group found for name: {nodegroup_name}.",
            clusterName=cluster_name,
            nodegroupName=nodegroup_name,
        )
    nodegroup.__dict__.setdefault("_eksboot_life", Lifecycle("nodegroup", "ACTIVE", "ACTIVE"))
    nodegroup.__dict__["_eksboot_life"].delete()
    _purge(self)
    return nodegroup


def list_clusters(self, *args, **kwargs):
    _purge(self)
    return _original_list_clusters(self, *args, **kwargs)


def describe_cluster(self, name):
    _purge(self)
    return _original_describe_cluster(self, name)


def describe_nodegroup(self, cluster_name, nodegroup_name):
    _purge(self)
    return _original_describe_nodegroup(self, cluster_name, nodegroup_name)


def list_nodegroups(self, *args, **kwargs):
    _purge(self)
    return _original_list_nodegroups(self, *args, **kwargs)


eks_models.EKSBackend.delete_cluster = delete_cluster
eks_models.EKSBackend.create_nodegroup = create_nodegroup
eks_models.EKSBackend.delete_nodegroup = delete_nodegroup
eks_models.EKSBackend.list_clusters = list_clusters
eks_models.EKSBackend.describe_cluster = describe_cluster
eks_models.EKSBackend.describe_nodegroup = describe_nodegroup
eks_models.EKSBackend.list_nodegroups = list_nodegroups
EKSResponse.create_cluster = create_cluster


# --------------------------------------------------------------------------
# New operations.


def describe_cluster_versions(self):
    wanted = self._get_param("clusterVersions") or []
    default_only = self._get_param("defaultOnly") in (True, "true")
    include_all = self._get_param("includeAll") in (True, "true")
    status = self._get_param("versionStatus") or self._get_param("status")
    found = []
    for version, support, default, released, std_end, ext_end in CLUSTER_VERSIONS:
        if wanted and version not in wanted:
            continue
        if default_only and not default:
            continue
        if status and status != support:
            continue
        if not include_all and not wanted and support == "UNSUPPORTED":
            continue
        found.append(
            {
                "clusterVersion": version,
                "clusterType": "eks",
                "defaultPlatformVersion": "eks.1",
                "defaultVersion": default,
                "releaseDate": date(released),
                "endOfStandardSupportDate": date(std_end),
                "endOfExtendedSupportDate": date(ext_end),
                "status": support,
                "versionStatus": support,
                "kubernetesPatchVersion": version + ".0",
            }
        )
    return ActionResult({"clusterVersions": found})


def create_access_entry(self):
    cluster = _cluster(self.eks_backend, self._get_param("name"))
    _check_principal_exists(cluster, self._get_param("principalArn"))
    entry = _new_access_entry(
        cluster,
        self._get_param("principalArn"),
        tags=self._get_param("tags"),
        groups=self._get_param("kubernetesGroups"),
        username=self._get_param("username"),
    )
    return ActionResult({"accessEntry": _public(entry)})


def _access_entry(self):
    cluster = _cluster(self.eks_backend, self._get_param("name"))
    principal = self._get_param("principalArn")
    entry = _access_entries(cluster).get(principal)
    if entry is None:
        raise _not_found(
            f"The specified principalArn could not be found. You can view your available access entries with 'list-access-entries'.",
            clusterName=cluster.name,
        )
    return cluster, entry


def describe_access_entry(self):
    _, entry = _access_entry(self)
    return ActionResult({"accessEntry": _public(entry)})


# List calls answer in pages: "maxResults ... You receive maxResults in a single page, along
# with a nextToken response element. You can see the remaining results of the initial request by
# sending another request with the returned nextToken value"
# (https://docs.aws.amazon.com/eks/latest/APIReference/API_ListNodegroups.html, the same for
# ListAddons and ListAccessEntries). EKS's pages hold up to 100 items; the emulator's hold
# LIST_PAGE (2), or `maxResults` when smaller, so a reader that ignores nextToken misses items
# in any cluster with a few node groups, add-ons or access entries.
LIST_PAGE = int(os.environ.get("EKSBOOT_MOTO_LIST_PAGE", "2"))


def _page(self, key, items):
    """One page of `items` (sorted), from the offset `nextToken` carries."""
    size = min(int(self._get_param("maxResults") or LIST_PAGE), LIST_PAGE)
    token = self._get_param("nextToken")
    try:
        start = int(token) if token else 0
    except ValueError:
        raise InvalidParameterException(message=f"The nextToken {token!r} is not valid.")
    page = {key: items[start:start + size]}
    if start + size < len(items):
        page["nextToken"] = str(start + size)
    return ActionResult(page)


def list_access_entries(self):
    cluster = _cluster(self.eks_backend, self._get_param("name"))
    return _page(self, "accessEntries", sorted(_access_entries(cluster)))


def list_nodegroups_paged(self):
    cluster = _cluster(self.eks_backend, self._get_param("name"))
    return _page(self, "nodegroups", sorted(cluster.nodegroups))


def delete_access_entry(self):
    cluster, entry = _access_entry(self)
    del _access_entries(cluster)[entry["principalArn"]]
    return EmptyResult()


def associate_access_policy(self):
    cluster, entry = _access_entry(self)
    policy_arn = self._get_param("policyArn")
    if policy_arn.split("/")[-1] not in ACCESS_POLICIES:
        raise _not_found(f"The specified policy {policy_arn} could not be found.")
    scope = self._get_param("accessScope") or {}
    association = {
        "policyArn": policy_arn,
        "accessScope": {"type": scope.get("type", "cluster"), "namespaces": scope.get("namespaces", [])},
        "associatedAt": now(),
        "modifiedAt": now(),
    }
    entry["_policies"][policy_arn] = association
    return ActionResult(
        {"clusterName": cluster.name, "principalArn": entry["principalArn"], "associatedAccessPolicy": association}
    )


def disassociate_access_policy(self):
    _, entry = _access_entry(self)
    policy_arn = self._get_param("policyArn")
    if policy_arn not in entry["_policies"]:
        raise _not_found(f"The specified policy {policy_arn} is not associated with this access entry.")
    del entry["_policies"][policy_arn]
    return EmptyResult()


def list_associated_access_policies(self):
    cluster, entry = _access_entry(self)
    return ActionResult(
        {
            "clusterName": cluster.name,
            "principalArn": entry["principalArn"],
            "associatedAccessPolicies": list(entry["_policies"].values()),
        }
    )


def list_access_policies(self):
    return ActionResult(
        {
            "accessPolicies": [
                {"name": name, "arn": f"arn:aws:eks::aws:cluster-access-policy/{name}"}
                for name in ACCESS_POLICIES
            ]
        }
    )


# Add-ons whose versions follow real minor steps, per Kubernetes version: (versions, default).
# EKS lists several versions per Kubernetes version and its default is not always the newest
# (https://docs.aws.amazon.com/eks/latest/userguide/managing-vpc-cni.html,
# https://docs.aws.amazon.com/eks/latest/userguide/managing-coredns.html). Kubernetes 1.35 offers
# no vpc-cni v1.19, so a cluster on v1.18 must step to v1.19 before its control plane moves.
_VPC_CNI_OLD = (["v1.19.6-eksbuild.1", "v1.18.6-eksbuild.3"], "v1.19.6-eksbuild.1")
_VPC_CNI_34 = (["v1.20.4-eksbuild.1", "v1.19.6-eksbuild.1", "v1.18.6-eksbuild.3"], "v1.19.6-eksbuild.1")
_VPC_CNI_35 = (["v1.21.1-eksbuild.1", "v1.20.4-eksbuild.1"], "v1.20.4-eksbuild.1")
_VPC_CNI_36 = (["v1.21.1-eksbuild.1", "v1.20.4-eksbuild.1"], "v1.21.1-eksbuild.1")
_COREDNS_OLD = (["v1.11.4-eksbuild.2", "v1.11.3-eksbuild.1"], "v1.11.3-eksbuild.1")
STEPPED_ADDON_VERSIONS = {
    "vpc-cni": {
        "1.31": _VPC_CNI_OLD, "1.32": _VPC_CNI_OLD, "1.33": _VPC_CNI_34,
        "1.34": _VPC_CNI_34, "1.35": _VPC_CNI_35, "1.36": _VPC_CNI_36,
    },
    "coredns": {
        "1.31": _COREDNS_OLD, "1.32": _COREDNS_OLD, "1.33": _COREDNS_OLD,
        "1.34": (["v1.12.2-eksbuild.4", "v1.12.1-eksbuild.2", "v1.11.4-eksbuild.2"], "v1.12.1-eksbuild.2"),
        "1.35": (["v1.12.3-eksbuild.1", "v1.12.2-eksbuild.4", "v1.12.1-eksbuild.2"], "v1.12.2-eksbuild.4"),
        "1.36": (["v1.13.1-eksbuild.1", "v1.12.3-eksbuild.1", "v1.12.2-eksbuild.4"], "v1.12.3-eksbuild.1"),
    },
}


def _addon_versions(name, kubernetes_version):
    """The add-on's type and its versions for a Kubernetes version, newest first, with exactly
    one default, as DescribeAddonVersions lists them: builds differ by Kubernetes version, and
    the newest build is not always the default."""
    addon_type, template = ADDON_VERSIONS[name]
    table = STEPPED_ADDON_VERSIONS.get(name)
    if table is not None:
        known = sorted(table, key=_minor)
        older = [k for k in known if _minor(k) <= _minor(kubernetes_version)]
        versions, default = table[older[-1] if older else known[0]]
        return addon_type, [(v, v == default) for v in versions]
    base = template.format(k=kubernetes_version).split("-eksbuild.")[0]
    build = int(kubernetes_version.split(".")[1])
    newest = f"{base}-eksbuild.{build + 1}"
    default = f"{base}-eksbuild.{build}"
    # The previous Kubernetes version's default stays supported, as EKS keeps offering a build
    # for more than one Kubernetes version.
    previous = f"{base}-eksbuild.{build - 1}"
    return addon_type, [(newest, False), (default, True), (previous, False)]


def _default_addon_version(name, kubernetes_version):
    _, versions = _addon_versions(name, kubernetes_version)
    return next(v for v, is_default in versions if is_default)


def describe_addon_versions(self):
    kubernetes_version = self._get_param("kubernetesVersion")
    only = self._get_param("addonName")
    cluster_versions = [kubernetes_version] if kubernetes_version else [v[0] for v in CLUSTER_VERSIONS]
    addons = []
    for name in sorted(ADDON_VERSIONS):
        if only and only != name:
            continue
        addon_type = ADDON_VERSIONS[name][0]
        listed = {}
        for k8s in cluster_versions:
            for version, is_default in _addon_versions(name, k8s)[1]:
                listed.setdefault(version, []).append(
                    {"clusterVersion": k8s, "platformVersions": ["*"], "defaultVersion": is_default}
                )
        addons.append(
            {
                "addonName": name,
                "type": addon_type,
                "owner": "aws",
                "publisher": "eks",
                "addonVersions": [
                    {
                        "addonVersion": version,
                        "architecture": ["amd64", "arm64"],
                        "computeTypes": ["ec2"],
                        "requiresConfiguration": False,
                        "compatibilities": compatibilities,
                    }
                    for version, compatibilities in sorted(listed.items(), reverse=True)
                ],
            }
        )
    return ActionResult({"addons": addons})


def _addon_status(addon):
    """Its status and health issues: CREATING, then (for add-ons whose pods need nodes)
    DEGRADED until a while after a node group is ACTIVE, then ACTIVE; or a fault a test set."""
    status = addon["_life"].status()
    if status != "ACTIVE":
        return status, []
    fault = _addon_faults.get(addon["_fault_key"])
    if fault == "create-failed":
        return "CREATE_FAILED", [CONFLICT]
    if fault == "stays-degraded":
        return "DEGRADED", [INSUFFICIENT_REPLICAS]
    if addon["addonName"] in ADDONS_WITHOUT_NODES:
        return "ACTIVE", []
    since = _nodes_ready_since(addon["_cluster"])
    if since is None or time.monotonic() - since < ADDON_READY_SECONDS:
        return "DEGRADED", [INSUFFICIENT_REPLICAS]
    return "ACTIVE", []


def _addon_view(addon):
    view = _public(addon)
    view["status"], issues = _addon_status(addon)
    view["health"] = {"issues": issues}
    return view


def create_addon(self):
    cluster = _cluster(self.eks_backend, self._get_param("name"))
    name = self._get_param("addonName")
    if cluster.status != "ACTIVE":
        raise InvalidRequestException(
            clusterName=cluster.name,
            nodegroupName=None,
            fargateProfileName=None,
            addonName=name,
            message=f"Cluster '{cluster.name}' is not in ACTIVE status",
        )
    if name not in ADDON_VERSIONS:
        raise InvalidParameterException(
            clusterName=cluster.name,
            nodegroupName=None,
            fargateProfileName=None,
            addonName=name,
            message=f"Addon {name} specified is not supported in {cluster.version} kubernetes version",
        )
    if name in _addons(cluster):
        raise ResourceInUseException(
            clusterName=cluster.name, nodegroupName=None, addonName=name, message="Addon already exists."
        )
    default_version = _default_addon_version(name, cluster.version)
    account, region = cluster.arn.split(":")[4], cluster.arn.split(":")[3]
    addon = {
        "addonName": name,
        "clusterName": cluster.name,
        "addonVersion": self._get_param("addonVersion") or default_version,
        "health": {"issues": []},
        "addonArn": f"arn:aws:eks:{region}:{account}:addon/{cluster.name}/{name}/{uuid.uuid4()}",
        "createdAt": now(),
        "modifiedAt": now(),
        "tags": self._get_param("tags") or {},
        "owner": "aws",
        "publisher": "eks",
        "configurationValues": self._get_param("configurationValues") or "",
        "_resolve_conflicts": self._get_param("resolveConflicts") or "NONE",
        "_life": Lifecycle("addon", "CREATING", "ACTIVE"),
        "_cluster": cluster,
        "_fault_key": (account, cluster.name, name),
    }
    if self._get_param("serviceAccountRoleArn"):
        addon["serviceAccountRoleArn"] = self._get_param("serviceAccountRoleArn")
    _addons(cluster)[name] = addon
    return ActionResult({"addon": _addon_view(addon)})


def _addon(self):
    cluster = _cluster(self.eks_backend, self._get_param("name"))
    name = self._get_param("addonName")
    addon = _addons(cluster).get(name)
    if addon is None:
        raise _not_found(f"No addon: {name} found in cluster: {cluster.name}", clusterName=cluster.name, addonName=name)
    return cluster, addon


def describe_addon(self):
    _, addon = _addon(self)
    return ActionResult({"addon": _addon_view(addon)})


def list_addons(self):
    cluster = _cluster(self.eks_backend, self._get_param("name"))
    return _page(self, "addons", sorted(_addons(cluster)))


# DeleteAddon's `preserve` (a query parameter): "Specifying this option preserves the add-on
# software on your cluster but Amazon EKS stops managing any settings for the add-on"
# (https://docs.aws.amazon.com/eks/latest/APIReference/API_DeleteAddon.html). The emulator runs no
# add-on software, so what it keeps is the flag each deletion was asked with, per account, for
# tests to read (GET /eksboot-moto/deleted-addons?account=ID): whether the software would still run.
_deleted_addons = {}
_deleted_addons_lock = threading.Lock()


def delete_addon(self):
    cluster, addon = _addon(self)
    preserve = str(self._get_param("preserve") or "false").lower() == "true"
    if addon["_life"].deleting is None:
        addon["_life"].delete()
        account = cluster.arn.split(":")[4]
        with _deleted_addons_lock:
            _deleted_addons.setdefault(account, []).append(
                {"cluster": cluster.name, "addon": addon["addonName"], "preserve": preserve}
            )
    return ActionResult({"addon": _addon_view(addon)})


def _deleted_addons_of(query):
    account = (parse_qs(query).get("account") or [""])[0]
    with _deleted_addons_lock:
        return {"deletions": list(_deleted_addons.get(account, []))}


def create_pod_identity_association(self):
    cluster = _cluster(self.eks_backend, self._get_param("name"))
    association_id = "a-" + uuid.uuid4().hex[:17]
    account, region = cluster.arn.split(":")[4], cluster.arn.split(":")[3]
    association = {
        "clusterName": cluster.name,
        "namespace": self._get_param("namespace"),
        "serviceAccount": self._get_param("serviceAccount"),
        "roleArn": self._get_param("roleArn"),
        "associationArn": f"arn:aws:eks:{region}:{account}:podidentityassociation/{cluster.name}/{association_id}",
        "associationId": association_id,
        "tags": self._get_param("tags") or {},
        "createdAt": now(),
        "modifiedAt": now(),
    }
    _pod_identities(cluster)[association_id] = association
    return ActionResult({"association": association})


def _pod_identity(self):
    cluster = _cluster(self.eks_backend, self._get_param("name"))
    association_id = self._get_param("associationId")
    association = _pod_identities(cluster).get(association_id)
    if association is None:
        raise _not_found(f"Association {association_id} not found", clusterName=cluster.name)
    return cluster, association


def describe_pod_identity_association(self):
    _, association = _pod_identity(self)
    return ActionResult({"association": association})


def list_pod_identity_associations(self):
    cluster = _cluster(self.eks_backend, self._get_param("name"))
    summaries = [
        {k: a[k] for k in ("clusterName", "namespace", "serviceAccount", "associationArn", "associationId")}
        for a in _pod_identities(cluster).values()
    ]
    return ActionResult({"associations": summaries})


def delete_pod_identity_association(self):
    cluster, association = _pod_identity(self)
    del _pod_identities(cluster)[association["associationId"]]
    return ActionResult({"association": association})


def _update_view(update):
    view = _public(update)
    view["status"] = update["_state"].status
    return view


def _start_update(cluster, target, kind, params):
    """An update of `target` (the cluster or one of its node groups): InProgress, then
    Successful on moto's clock. EKS runs one update at a time per resource and refuses another
    (ResourceInUseException), and updates only what is ACTIVE
    (https://docs.aws.amazon.com/eks/latest/APIReference/API_UpdateClusterConfig.html)."""
    _outside_update_arrives(cluster, nodegroup=None if target is cluster else target.nodegroup_name)
    if target.status != "ACTIVE":
        raise ResourceInUseException(
            clusterName=cluster.name,
            nodegroupName=None,
            addonName=None,
            message=f"{'Cluster' if target is cluster else 'Nodegroup'} has status {target.status}. Update is not allowed.",
        )
    update = {
        "id": str(uuid.uuid4()),
        "type": kind,
        "params": [{"type": k, "value": v} for k, v in params],
        "createdAt": now(),
        "errors": [],
        "_state": _held_or_timed(cluster),
    }
    _updates(cluster)[update["id"]] = update
    target.__dict__.setdefault("_eksboot_own_updates", []).append(update)
    return update


def update_cluster_config(self):
    """EKS merges what it is given into the cluster's VPC config, and logging per log type:
    types not named keep their setting. One kind of update per call."""
    cluster = _cluster(self.eks_backend, self._get_param("name"))
    vpc = self._get_param("resourcesVpcConfig")
    logging = self._get_param("logging")
    policy = self._get_param("upgradePolicy")
    if sum(1 for kind in (vpc, logging, policy) if kind) != 1:
        raise InvalidParameterException(
            message="Only one type of update can be allowed.",
        )
    if policy:
        # The upgrade policy (STANDARD or EXTENDED support) is one more kind of cluster update
        # (UpdateType UpgradePolicyUpdate,
        # https://docs.aws.amazon.com/eks/latest/APIReference/API_UpdateClusterConfig.html).
        update = _start_update(
            cluster, cluster, "UpgradePolicyUpdate",
            [("UpgradePolicy", json.dumps(policy))],
        )
        cluster.upgrade_policy = {"supportType": policy.get("supportType", "EXTENDED")}
    elif vpc:
        update = _start_update(
            cluster, cluster, "EndpointAccessUpdate",
            [(k, json.dumps(v)) for k, v in vpc.items()],
        )
        merged = dict(cluster.resources_vpc_config)
        merged.update(vpc)
        if merged.get("endpointPublicAccess") is False:
            merged["publicAccessCidrs"] = ["0.0.0.0/0"]
        cluster.resources_vpc_config = merged
    else:
        update = _start_update(
            cluster, cluster, "LoggingUpdate", [("ClusterLogging", json.dumps(logging))]
        )
        enabled = {
            t
            for setup in cluster.logging.get("clusterLogging", [])
            if setup.get("enabled")
            for t in setup.get("types", [])
        }
        for setup in logging.get("clusterLogging", []):
            for t in setup.get("types", []):
                (enabled.add if setup.get("enabled") else enabled.discard)(t)
        all_types = ["api", "audit", "authenticator", "controllerManager", "scheduler"]
        cluster.logging = {
            "clusterLogging": [
                {"types": [t for t in all_types if t in enabled], "enabled": True},
                {"types": [t for t in all_types if t not in enabled], "enabled": False},
            ]
        }
    return ActionResult({"update": _update_view(update)})


def update_nodegroup_config(self):
    """Scaling changes are recorded as an update that DescribeUpdate finds."""
    cluster = _cluster(self.eks_backend, self._get_param("name"))
    name = self._get_param("nodegroupName")
    nodegroup = cluster.nodegroups.get(name)
    if nodegroup is None:
        raise _not_found(f"No node group found for name: {name}.", clusterName=cluster.name)
    scaling = self._get_param("scalingConfig") or {}
    update = _start_update(
        cluster, nodegroup, "ConfigUpdate",
        [(k[0].upper() + k[1:], str(v)) for k, v in scaling.items()],
    )
    current = dict(nodegroup.scaling_config)
    current.update(scaling)
    if not current.get("minSize", 0) <= current.get("desiredSize", 0) <= current.get("maxSize", 0):
        raise InvalidParameterException(message="Minimum capacity, desired and maximum are out of order.")
    nodegroup.scaling_config = current
    return ActionResult({"update": _update_view(update)})


def update_nodegroup_version(self):
    """Rolls a node group onto a launch template version (or a release): an update that
    DescribeUpdate finds, the node group UPDATING meanwhile. The template must be the node
    group's own (https://docs.aws.amazon.com/eks/latest/APIReference/API_UpdateNodegroupVersion.html)."""
    cluster = _cluster(self.eks_backend, self._get_param("name"))
    name = self._get_param("nodegroupName")
    nodegroup = cluster.nodegroups.get(name)
    if nodegroup is None:
        raise _not_found(f"No node group found for name: {name}.", clusterName=cluster.name)
    template = self._get_param("launchTemplate") or {}
    current = nodegroup.launch_template or {}
    if template and template.get("id") not in (None, current.get("id")):
        raise InvalidParameterException(
            message="You cannot specify a launch template other than the node group's own."
        )
    version = self._get_param("version")
    # A node group never runs ahead of its control plane.
    if version and _minor(version) > _minor(cluster.version):
        raise InvalidParameterException(
            message=f"Requested Kubernetes version {version} is newer than the cluster's {cluster.version}."
        )
    params = [("LaunchTemplateVersion", str(template.get("version", "")))]
    if version:
        params.append(("Version", version))
    update = _start_update(cluster, nodegroup, "VersionUpdate", params)
    if template.get("version"):
        nodegroup.launch_template = dict(current, version=str(template["version"]))
    if version:
        _version_when_done(nodegroup, update, version)
    return ActionResult({"update": _update_view(update)})


def _minor(version):
    major, minor = str(version).split(".")[:2]
    return (int(major), int(minor))


def update_cluster_version(self):
    """One minor version at a time, never down, only when ACTIVE, and only once every managed
    node group runs the control plane's version
    (https://docs.aws.amazon.com/eks/latest/userguide/update-cluster.html)."""
    cluster = _cluster(self.eks_backend, self._get_param("name"))
    version = self._get_param("version")
    current = _minor(cluster.version)
    wanted = _minor(version)
    if wanted != (current[0], current[1] + 1):
        raise InvalidParameterException(
            message=f"Unsupported Kubernetes minor version update from {cluster.version} to {version}",
        )
    behind = [n.nodegroup_name for n in cluster.nodegroups.values() if _minor(n.version) != current]
    if behind:
        raise InvalidRequestException(
            message=f"Nodegroup {behind[0]} must be updated to match cluster version {cluster.version} before updating cluster version",
        )
    # "force: Set this value to true to override upgrade-blocking readiness checks when updating
    # a cluster"; without it EKS answers InvalidStateException while an upgrade insight for the
    # target version is in ERROR
    # (https://docs.aws.amazon.com/eks/latest/APIReference/API_UpdateClusterVersion.html,
    # https://docs.aws.amazon.com/eks/latest/userguide/cluster-insights.html).
    force = self._get_param("force") in (True, "true", "True")
    blocking = [
        i["name"] for i in _cluster_insights(cluster)
        if i["kubernetesVersion"] == version and i["insightStatus"]["status"] == "ERROR"
    ]
    if blocking and not force:
        raise InvalidStateException(
            clusterName=cluster.name,
            message=f"Cluster upgrade to {version} is blocked by upgrade readiness checks in ERROR: {', '.join(blocking)}. Resolve them, or set force to override.",
        )
    update = _start_update(cluster, cluster, "VersionUpdate", [("Version", version), ("PlatformVersion", "eks.1")])
    _version_when_done(cluster, update, version)
    return ActionResult({"update": _update_view(update)})


def _addon_minor(version):
    major, minor = version.lstrip("v").split("-")[0].split(".")[:2]
    return int(major), int(minor)


def update_addon(self):
    """A new add-on version: UPDATING, then ACTIVE (or DEGRADED as its pods roll). EKS runs one
    update of an add-on at a time (ResourceInUseException while one runs:
    https://docs.aws.amazon.com/eks/latest/APIReference/API_UpdateAddon.html), and moves vpc-cni
    one minor version at a time ("If you're updating to a version that is more than one minor
    version away ... update to each minor version in turn": "can only go up or down 1 minor version
    at a time", https://docs.aws.amazon.com/eks/latest/userguide/managing-vpc-cni.html)."""
    cluster, addon = _addon(self)
    version = self._get_param("addonVersion")
    _outside_update_arrives(cluster, addon=addon["addonName"])
    if addon["_life"].status() in ("CREATING", "UPDATING", "DELETING"):
        raise ResourceInUseException(
            clusterName=cluster.name,
            nodegroupName=None,
            addonName=addon["addonName"],
            message=f"Addon {addon['addonName']} is in {addon['_life'].status()} state. Update is not allowed.",
        )
    if version:
        offered = [v for v, _ in _addon_versions(addon["addonName"], cluster.version)[1]]
        if version not in offered:
            raise InvalidParameterException(
                message=f"Addon version {version} is not supported for Kubernetes {cluster.version}",
            )
        if addon["addonName"] == "vpc-cni":
            (have_major, have), (want_major, want) = _addon_minor(addon["addonVersion"]), _addon_minor(version)
            if have_major != want_major or abs(want - have) > 1:
                raise InvalidParameterException(
                    message=f"Updating VPC-CNI can only go up or down 1 minor version at a time: {addon['addonVersion']} to {version}",
                )
        addon["addonVersion"] = version
    # UpdateAddon's configurationValues replace the add-on's configuration when given
    # (https://docs.aws.amazon.com/eks/latest/APIReference/API_UpdateAddon.html).
    configuration = self._get_param("configurationValues")
    if configuration is not None:
        addon["configurationValues"] = configuration
    addon["_life"] = Lifecycle("addon", "UPDATING", "ACTIVE")
    addon["modifiedAt"] = now()
    update = {
        "id": str(uuid.uuid4()),
        "type": "AddonUpdate",
        "params": [{"type": "AddonVersion", "value": version or ""}],
        "createdAt": now(),
        "errors": [],
        "_state": ManagedState("eks::update", [("InProgress", "Successful")]),
    }
    _updates(cluster)[update["id"]] = update
    return ActionResult({"update": _update_view(update)})


# Upgrade insights: EKS checks a cluster for what would break on a later minor version
# (deprecated APIs in use, kubelet version skew, add-on compatibility), refreshed on demand, and
# lists them for more than one version; ListInsights filters by `kubernetesVersions` and answers
# in pages (`nextToken`) (https://docs.aws.amazon.com/eks/latest/userguide/cluster-insights.html,
# https://docs.aws.amazon.com/eks/latest/APIReference/API_ListInsights.html). Here: the next two
# versions, two insights a page. A test sets one to WARNING or ERROR through
# /eksboot-moto/insight ("deprecated-apis" for every version, "deprecated-apis@1.36" for one),
# and makes the next refreshes FAIL through /eksboot-moto/insights-refresh-fault.
_insight_status = {}
_failing_refreshes = set()
INSIGHTS_PAGE = 2
INSIGHTS = [
    ("deprecated-apis", "Deprecated APIs removed in Kubernetes v{next}",
     "Checks for usage of deprecated APIs that are removed in the next version.",
     "Update manifests and clients to use the replacement APIs before upgrading."),
    ("kubelet-skew", "Kubelet version skew",
     "Checks that the nodes' kubelets run a version the next control plane supports.",
     "Upgrade node groups to the control plane's version first."),
]


def _cluster_insights(cluster):
    account = cluster.arn.split(":")[4]
    major, minor = _minor(cluster.version)
    found = []
    for later in (1, 2):
        version = f"{major}.{minor + later}"
        for key, name, description, recommendation in INSIGHTS:
            status = _insight_status.get(
                (account, cluster.name, f"{key}@{version}"),
                _insight_status.get((account, cluster.name, key), "PASSING"),
            )
            found.append({
                "id": f"{cluster.name}-{key}-{version}",
                "name": name.format(next=version),
                "category": "UPGRADE_READINESS",
                "kubernetesVersion": version,
                "lastRefreshTime": now(),
                "lastTransitionTime": now(),
                "description": description,
                "insightStatus": {"status": status, "reason": f"{status.title()} for this cluster"},
                "recommendation": recommendation,
                "additionalInfo": {},
                "resources": [],
                "categorySpecificSummary": {},
            })
    return found


def _insights(self):
    cluster = _cluster(self.eks_backend, self._get_param("name"))
    return cluster, _cluster_insights(cluster)


def start_insights_refresh(self):
    cluster = _cluster(self.eks_backend, self._get_param("name"))
    account = cluster.arn.split(":")[4]
    # A refresh can fail (DescribeInsightsRefresh: FAILED); what is listed is then not current.
    ends = "FAILED" if (account, cluster.name) in _failing_refreshes else "COMPLETED"
    cluster.__dict__["_eksboot_insights_refresh"] = ManagedState(
        "eks::insights-refresh", [("IN_PROGRESS", ends)]
    )
    return ActionResult({"message": "Insights refresh started", "status": "IN_PROGRESS"})


def describe_insights_refresh(self):
    cluster = _cluster(self.eks_backend, self._get_param("name"))
    refresh = cluster.__dict__.get("_eksboot_insights_refresh")
    status = refresh.status if refresh else "COMPLETED"
    return ActionResult({"message": "", "status": status, "startedAt": now(), "endedAt": now()})


def list_insights(self):
    _, found = _insights(self)
    wanted = self._get_param("filter") or {}
    categories = wanted.get("categories") or []
    versions = wanted.get("kubernetesVersions") or []
    summaries = [
        {k: i[k] for k in ("id", "name", "category", "kubernetesVersion", "lastRefreshTime",
                           "lastTransitionTime", "description", "insightStatus")}
        for i in found
        if (not categories or i["category"] in categories)
        and (not versions or i["kubernetesVersion"] in versions)
    ]
    size = min(int(self._get_param("maxResults") or INSIGHTS_PAGE), INSIGHTS_PAGE)
    start = int(self._get_param("nextToken") or 0)
    page = {"insights": summaries[start:start + size]}
    if start + size < len(summaries):
        page["nextToken"] = str(start + size)
    return ActionResult(page)


def describe_insight(self):
    _, found = _insights(self)
    wanted = self._get_param("id")
    for insight in found:
        if insight["id"] == wanted:
            return ActionResult({"insight": insight})
    raise _not_found(f"No insight found for id: {wanted}")


def describe_update(self):
    cluster = _cluster(self.eks_backend, self._get_param("name"))
    update_id = self._get_param("updateId")
    update = _updates(cluster).get(update_id)
    if update is None:
        raise _not_found(f"No update found for ID: {update_id}", clusterName=cluster.name)
    return ActionResult({"update": _update_view(update)})


for handler in (
    describe_cluster_versions,
    create_access_entry,
    describe_access_entry,
    list_access_entries,
    delete_access_entry,
    associate_access_policy,
    disassociate_access_policy,
    list_associated_access_policies,
    list_access_policies,
    describe_addon_versions,
    create_addon,
    describe_addon,
    list_addons,
    delete_addon,
    create_pod_identity_association,
    describe_pod_identity_association,
    list_pod_identity_associations,
    delete_pod_identity_association,
    describe_update,
    update_cluster_config,
    update_nodegroup_config,
    update_nodegroup_version,
    update_cluster_version,
    update_addon,
    start_insights_refresh,
    describe_insights_refresh,
    list_insights,
    describe_insight,
):
    setattr(EKSResponse, handler.__name__, handler)
EKSResponse.list_nodegroups = list_nodegroups_paged

eks_urls.url_paths.update(
    {
        "{0}/cluster-versions$": eks_urls.response.dispatch,
        "{0}/access-policies$": eks_urls.response.dispatch,
        "{0}/addons/supported-versions$": eks_urls.response.dispatch,
        "{0}/clusters/(?P<name>[^/]+)/access-entries$": eks_urls.response.dispatch,
        "{0}/clusters/(?P<name>[^/]+)/access-entries/(?P<principalArn>.+)$": eks_urls.response.dispatch,
        "{0}/clusters/(?P<name>[^/]+)/addons$": eks_urls.response.dispatch,
        "{0}/clusters/(?P<name>[^/]+)/addons/(?P<addonName>[^/]+)$": eks_urls.response.dispatch,
        "{0}/clusters/(?P<name>[^/]+)/pod-identity-associations$": eks_urls.response.dispatch,
        "{0}/clusters/(?P<name>[^/]+)/pod-identity-associations/(?P<associationId>[^/]+)$": eks_urls.response.dispatch,
        "{0}/clusters/(?P<name>[^/]+)/updates/(?P<updateId>[^/]+)$": eks_urls.response.dispatch,
        "{0}/clusters/(?P<name>[^/]+)/node-groups/(?P<nodegroupName>[^/]+)/update-version$": eks_urls.response.dispatch,
        "{0}/clusters/(?P<name>[^/]+)/updates$": eks_urls.response.dispatch,
        "{0}/clusters/(?P<name>[^/]+)/addons/(?P<addonName>[^/]+)/update$": eks_urls.response.dispatch,
        "{0}/clusters/(?P<name>[^/]+)/insights-refresh$": eks_urls.response.dispatch,
        "{0}/clusters/(?P<name>[^/]+)/insights$": eks_urls.response.dispatch,
        "{0}/clusters/(?P<name>[^/]+)/insights/(?P<id>[^/]+)$": eks_urls.response.dispatch,
    }
)


# --------------------------------------------------------------------------
# NAT gateways: pending → available, deleting → deleted, on moto's clock.
# A test that must see several NAT gateways pending at once (eksboot makes one per AZ together,
# not one after another) holds new ones `pending` in its account until it releases them (POST
# /eksboot-moto/hold-nat {"account", "hold": true|false}), so it never has to catch a window.
# NAT creation takes minutes on AWS ("pending ... it can take a few minutes",
# https://docs.aws.amazon.com/vpc/latest/userguide/nat-gateway-working-with.html): held, it
# simply lasts until released.
_held_nat_accounts = set()


def _nat_state_property():
    def getter(self):
        life = self.__dict__.get("_eksboot_nat_life")
        if life is None:
            return self.__dict__.get("_plain_state", "available")
        backend = self.__dict__.get("ec2_backend")
        if (
            life.model_name == "ec2::nat_gateway"
            and backend is not None
            and backend.account_id in _held_nat_accounts
        ):
            return "pending"
        return life.status

    def setter(self, value):
        if value == "available" and "_eksboot_nat_life" not in self.__dict__:
            self.__dict__["_eksboot_nat_life"] = ManagedState(
                "ec2::nat_gateway", [("pending", "available")]
            )
        elif value == "deleted":
            self.__dict__["_eksboot_nat_life"] = ManagedState(
                "ec2::nat_gateway-deletion", [("deleting", "deleted")]
            )
        else:
            self.__dict__.pop("_eksboot_nat_life", None)
            self.__dict__["_plain_state"] = value

    return property(getter, setter)


ec2_nat.NatGateway.state = _nat_state_property()


def _lifecycle_state_property(model, plain_default):
    """EC2 `state` that moves pending → available when made, deleting → deleted when deleted."""

    def getter(self):
        life = self.__dict__.get("_eksboot_life")
        if life is None:
            return self.__dict__.get("_plain_state", plain_default)
        return life.status

    def setter(self, value):
        if value == "available" and "_eksboot_life" not in self.__dict__:
            self.__dict__["_eksboot_life"] = ManagedState(model, [("pending", "available")])
        elif value == "deleted":
            self.__dict__["_eksboot_life"] = ManagedState(f"{model}-deletion", [("deleting", "deleted")])
        else:
            self.__dict__.pop("_eksboot_life", None)
            self.__dict__["_plain_state"] = value

    return property(getter, setter)


# Interface and gateway endpoints are `pending` for a while after CreateVpcEndpoint and
# `deleting` after DeleteVpcEndpoints
# (https://docs.aws.amazon.com/vpc/latest/privatelink/concepts.html#concepts-endpoint-states).
ec2_vpcs.VPCEndPoint.state = _lifecycle_state_property("ec2::vpc_endpoint", "available")

_original_release_address = ec2_eips.ElasticAddressBackend.release_address


def release_address(self, address=None, allocation_id=None):
    # AWS refuses to release an address a NAT gateway still holds, also while the gateway is
    # deleting, with AuthFailure (widely reported: terraform-provider-aws#3572,
    # eformat/sno-for-100#5); moto releases it silently.
    eips = self.address_by_ip([address]) if address else self.address_by_allocation([allocation_id])
    allocation = eips[0].allocation_id
    for nat in self.nat_gateways.values():
        holds = any(a.get("allocationId") == allocation for a in nat.address_set)
        if holds and nat.state != "deleted":
            raise EC2ClientError(
                "AuthFailure", "You do not have permission to access the specified resource."
            )
    return _original_release_address(self, address=address, allocation_id=allocation_id)


ec2_eips.ElasticAddressBackend.release_address = release_address


# --------------------------------------------------------------------------
# IAM as AWS evaluates it, where moto 5.2.5 differs (only consulted once a test turns
# enforcement on with `POST /moto-api/reset-auth` and body `0`).


PERMITTED = access_control.PermissionResult.PERMITTED
DENIED = access_control.PermissionResult.DENIED
NEUTRAL = access_control.PermissionResult.NEUTRAL


class InvalidStateException(EKSError):
    TYPE = "InvalidStateException"
    STATUS = 400


class AccessDeniedException(EKSError):
    """EKS answers denials as JSON (restJson1), not moto's XML."""

    TYPE = "AccessDeniedException"
    STATUS = 403


def _as_list(value):
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _matches(pattern, value):
    # IAM's wildcards: * any run, ? one character; actions compare case-insensitively.
    return fnmatch.fnmatchcase(value.lower(), pattern.lower())


def _action_concerned(statement, action):
    if "NotAction" in statement:
        return not any(_matches(p, action) for p in _as_list(statement["NotAction"]))
    return any(_matches(p, action) for p in _as_list(statement.get("Action")))


def _principal_account(arn):
    parts = arn.split(":")
    return parts[4] if len(parts) > 4 else ""


def _principal_matches(expected, principal_arn):
    """`arn:…:iam::ACCOUNT:root` (or a bare account id) stands for every principal of that
    account, as on AWS
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html#principal-accounts)."""
    for candidate in _as_list(expected):
        if candidate == "*" or candidate == principal_arn:
            return True
        account = _principal_account(candidate) if candidate.startswith("arn:") else candidate
        is_root = candidate.endswith(":root") or re.fullmatch(r"\d{12}", candidate or "")
        if is_root and account == _principal_account(principal_arn):
            return True
    return False


_CONDITION_TESTS = {
    "StringEquals": lambda want, have: have == want,
    "StringLike": lambda want, have: fnmatch.fnmatchcase(have, want),
    "ArnEquals": lambda want, have: have == want,
    "ArnLike": lambda want, have: fnmatch.fnmatchcase(have, want),
}


def _conditions_hold(conditions, context):
    """The condition operators trust policies use, on the keys we know the value of."""
    for operator, pairs in (conditions or {}).items():
        test = _CONDITION_TESTS.get(operator)
        for key, wanted in pairs.items():
            have = context.get(key)
            if test is None or have is None:
                return False
            if not any(test(w, have) for w in _as_list(wanted)):
                return False
    return True


def _statement_permits(self, action, resource="*", principal=None, incoming=None):
    statement = self._statement
    if not _action_concerned(statement, action):
        return NEUTRAL
    allow = statement.get("Effect") == "Allow"
    if principal is None:
        # An identity policy. moto checks most requests against the resource "*", so a
        # statement scoped to ARNs would never match: count it when its Action matches.
        # Resources and conditions are proven by the unit tests and parliament instead.
        if allow:
            return PERMITTED
        unconditional = not statement.get("Condition") and "*" in _as_list(statement.get("Resource"))
        return DENIED if unconditional else NEUTRAL
    # A trust policy: who may assume, and on what conditions.
    aws_principals = (statement.get("Principal") or {}).get("AWS") if isinstance(statement.get("Principal"), dict) else statement.get("Principal")
    if not _principal_matches(aws_principals, principal):
        return NEUTRAL
    if not _conditions_hold(statement.get("Condition"), incoming or {}):
        return NEUTRAL
    return PERMITTED if allow else DENIED


access_control.IAMPolicyStatement.is_action_permitted = _statement_permits


def _iam_principal_arn(request):
    """The caller as `aws:PrincipalArn` names it: the IAM user, or the role (with its path)
    behind an assumed-role session."""
    key = request._access_key
    arn = key.arn
    if ":assumed-role/" in arn:
        try:
            return request.backend.get_role(key._owner_role_name).arn
        except Exception:
            account = _principal_account(arn)
            return f"arn:{arn.split(':')[1]}:iam::{account}:role/{key._owner_role_name}"
    return arn


def _check_role_trust_relationship(self, role_arn):
    principal = _iam_principal_arn(self)
    context = dict(access_control.format_incoming_conditional_values(self._data))
    context["aws:PrincipalArn"] = principal
    role = self.backend.get_role_by_arn(role_arn)
    trust = access_control.IAMPolicy(role.assume_role_policy_document)
    return trust.is_action_permitted(self._action, role_arn, principal, context) == PERMITTED


access_control.IAMRequestBase._check_role_trust_relationship = _check_role_trust_relationship

_original_check_signature = access_control.IAMRequestBase.check_signature


# The bytes of the request being served (one thread per request): moto parses form bodies
# away and re-encodes them its own way before checking a signature, so every query-protocol
# request with a body the Rust SDK encodes differently from botocore (IAM CreateRole, …) would
# fail as SignatureDoesNotMatch. The signature is checked against the bytes that were signed.
_raw_body = threading.local()


# Updates started outside eksboot (another tool, the console, a colleague). EKS runs one update
# at a time per cluster, node group and add-on: while one runs the resource is UPDATING and
# another update is refused with ResourceInUseException ("The specified resource is in use",
# https://docs.aws.amazon.com/eks/latest/APIReference/API_UpdateNodegroupConfig.html#API_UpdateNodegroupConfig_Errors,
# https://docs.aws.amazon.com/eks/latest/APIReference/API_UpdateAddon.html). A test starts one
# with POST /eksboot-moto/outside-update {"account", "region", "cluster", "nodegroup"?, "addon"?,
# "hold": true}; it stays InProgress, on no clock, until the test sends the same with
# "hold": false, so no test depends on catching a window. With "at": "next-update" it starts
# when the next update of that resource arrives, just before it: the race where another tool's
# update lands between eksboot reading the resource ACTIVE and sending its own, which EKS then
# refuses with ResourceInUseException.
_outside_updates = {}  # (account, region, cluster, nodegroup, addon) -> Hold
_armed_outside = {}  # the same key -> the control request, started at the next update
_outside_lock = threading.Lock()


def _outside_key(body):
    return (body["account"], body.get("region", "us-east-1"), body["cluster"],
            body.get("nodegroup"), body.get("addon"))


def _outside_update_arrives(cluster, nodegroup=None, addon=None):
    """Starts the outside update a test armed for this resource, if any (see above)."""
    account, region = cluster.arn.split(":")[4], cluster.arn.split(":")[3]
    with _outside_lock:
        body = _armed_outside.pop((account, region, cluster.name, nodegroup, addon), None)
    if body is not None:
        _outside_update(dict(body, at="now"))


class Hold:
    """Held by a test until it releases it."""

    def __init__(self):
        self.released = False


# Updates of a cluster (its config, version, node groups) that a test holds InProgress: a test
# that stops eksboot while an update runs (to prove resume) waits for the update to be there,
# with no window to catch (POST /eksboot-moto/hold-updates {"account", "region", "cluster",
# "hold": true|false}). Real updates take minutes (EKS user guide: "Update an existing cluster
# to a new Kubernetes version": "takes several minutes"); held, they simply last until released.
_held_updates = {}  # (account, region, cluster) -> Hold


def _held_or_timed(cluster):
    account, region = cluster.arn.split(":")[4], cluster.arn.split(":")[3]
    hold = _held_updates.get((account, region, cluster.name))
    if hold is not None:
        return HeldState(hold, "InProgress", "Successful")
    return ManagedState("eks::update", [("InProgress", "Successful")])


def _hold_updates(body):
    key = (body["account"], body.get("region", "us-east-1"), body["cluster"])
    if body.get("hold", True):
        _held_updates.setdefault(key, Hold())
    else:
        hold = _held_updates.pop(key, None)
        if hold is not None:
            hold.released = True


class HeldState:
    """A waiting state that lasts until the test releases its hold."""

    def __init__(self, hold, waiting, done):
        self.hold, self.waiting, self.done = hold, waiting, done

    @property
    def status(self):
        return self.done if self.hold.released else self.waiting


def _outside_update(body):
    from moto.eks.models import eks_backends

    backend = eks_backends[body["account"]][body.get("region", "us-east-1")]
    cluster = _cluster(backend, body["cluster"])
    key = _outside_key(body)
    with _outside_lock:
        if not body.get("hold", True):
            _armed_outside.pop(key, None)
            held = _outside_updates.pop(key, None)
            if held is not None:
                held.released = True
            return
        if body.get("at") == "next-update":
            _armed_outside[key] = body
            return
        if key in _outside_updates:
            return
        hold = Hold()
        _outside_updates[key] = hold
    update = {
        "id": str(uuid.uuid4()),
        "type": "AddonUpdate" if body.get("addon") else "ConfigUpdate",
        "params": [],
        "createdAt": now(),
        "errors": [],
        "_state": HeldState(hold, "InProgress", "Successful"),
    }
    _updates(cluster)[update["id"]] = update
    if body.get("addon"):
        addon = _addons(cluster).get(body["addon"])
        if addon is None:
            raise KeyError(f"no add-on {body['addon']}")
        life = Lifecycle("addon", "UPDATING", "ACTIVE")
        life.creating = HeldState(hold, "UPDATING", "ACTIVE")
        addon["_life"] = life
    elif body.get("nodegroup"):
        target = cluster.nodegroups[body["nodegroup"]]
        target.__dict__.setdefault("_eksboot_own_updates", []).append(update)
    else:
        cluster.__dict__.setdefault("_eksboot_own_updates", []).append(update)


def _cluster_endpoint(body):
    """What DescribeCluster reports as the cluster's API server `endpoint` and
    `certificateAuthority.data` (base64 PEM): the tests point a cluster at their own Kubernetes
    API server (tests/kube) to watch eksboot talk to it as it would to EKS's."""
    from moto.eks.models import eks_backends

    backend = eks_backends[body["account"]][body.get("region", "us-east-1")]
    cluster = _cluster(backend, body["cluster"])
    cluster.endpoint = body["endpoint"]
    cluster.certificate_authority = {"data": body["ca"]}


def _control(path, body):
    """The extension's own control API, for faults a test sets on one resource."""
    if path == "/eksboot-moto/outside-update":
        _outside_update(body)
    elif path == "/eksboot-moto/cluster-endpoint":
        _cluster_endpoint(body)
    elif path == "/eksboot-moto/hold-updates":
        _hold_updates(body)
    elif path == "/eksboot-moto/hold-creation":
        key = (body["account"], body["kind"])
        if body.get("hold", True):
            _held_creations.add(key)
        else:
            _held_creations.discard(key)
    elif path == "/eksboot-moto/hold-nat":
        if body.get("hold", True):
            _held_nat_accounts.add(body["account"])
        else:
            _held_nat_accounts.discard(body["account"])
    elif path == "/eksboot-moto/addon-fault":
        _addon_faults[(body["account"], body["cluster"], body["addon"])] = body["fault"]
    elif path == "/eksboot-moto/deny-delete-cluster":
        if body.get("deny", True):
            _denied_cluster_deletes.add((body["account"], body["cluster"]))
        else:
            _denied_cluster_deletes.discard((body["account"], body["cluster"]))
    elif path == "/eksboot-moto/applied-quota":
        _applied_quotas[(body["account"], body["service"], body["code"])] = body["value"]
    elif path == "/eksboot-moto/insight":
        _insight_status[(body["account"], body["cluster"], body["insight"])] = body["status"]
    elif path == "/eksboot-moto/insights-refresh-fault":
        key = (body["account"], body["cluster"])
        if body.get("fail", True):
            _failing_refreshes.add(key)
        else:
            _failing_refreshes.discard(key)
    elif path == "/eksboot-moto/unreadable-key-tags":
        _unreadable_key_tags.add((body["account"], body["key"]))
    else:
        return False
    return True


def _keep_raw_body(app):
    def middleware(environ, start_response):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        if environ.get("PATH_INFO", "") == "/eksboot-moto/deleted-addons":
            answer = _deleted_addons_of(environ.get("QUERY_STRING", ""))
            start_response("200 OK", [("Content-Type", "application/json")])
            return [json.dumps(answer).encode()]
        if environ.get("PATH_INFO", "").startswith("/eksboot-moto/"):
            known = _control(environ["PATH_INFO"], json.loads(body or b"{}"))
            start_response("200 OK" if known else "404 Not Found", [("Content-Type", "text/plain")])
            return [b"ok" if known else b"unknown control"]
        _raw_body.value = body
        environ["wsgi.input"] = io.BytesIO(body)
        return app(environ, start_response)

    return middleware


def _check_signature(self):
    # moto rebuilds EKS's REST paths (percent-encoded ARNs) differently from the SDKs and
    # rejects every EKS request as SignatureDoesNotMatch: the key is still checked.
    if self._service == "eks":
        return
    raw = getattr(_raw_body, "value", b"")
    if raw and not self._body:
        self._body = raw
    _original_check_signature(self)


access_control.IAMRequestBase.check_signature = _check_signature

_original_raise_access_denied = access_control.IAMRequest._raise_access_denied


def _raise_access_denied(self):
    if self._service == "eks":
        message = f"User: {self._access_key.arn} is not authorized to perform: {self._action}"
        raise AccessDeniedException(**{"__type": "AccessDeniedException", "message": message})
    _original_raise_access_denied(self)


access_control.IAMRequest._raise_access_denied = _raise_access_denied


# --------------------------------------------------------------------------
# IAM propagation (a role just made cannot be assumed, a key policy naming a principal just made
# is refused, a role's calls are denied after its permissions change): emulator/iam_propagation.py,
# installed at the end, after the IAM enforcement.


# --------------------------------------------------------------------------
# IAM's policy size quotas, which moto reports (GetAccountSummary) but never enforces: inline
# policies of a user add up to at most 2,048 characters, of a role to 10,240, of a group to 5,120;
# a managed policy is at most 6,144; a role's trust policy at most 2,048 by default. White space
# is not counted
# (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html#reference_iam-quotas-entity-length).
# AWS does not say how white space inside strings counts: it is counted here (the harmful reading).

from moto.iam.exceptions import LimitExceededException as IAMLimitExceeded


def _policy_size(document):
    parsed = json.loads(document) if isinstance(document, str) else document
    return len(json.dumps(parsed, separators=(",", ":")))


def _inline_limit(name, entity_getter, quota, kind):
    original = getattr(IAMBackend, name)

    def limited(self, entity_name, policy_name, policy_json):
        entity = entity_getter(self, entity_name)
        others = sum(
            _policy_size(doc) for other, doc in entity.policies.items() if other != policy_name
        )
        if others + _policy_size(policy_json) > quota:
            raise IAMLimitExceeded(
                f"Maximum policy size of {quota} bytes exceeded for {kind} {entity_name}"
            )
        return original(self, entity_name, policy_name, policy_json)

    setattr(IAMBackend, name, limited)


_inline_limit("put_user_policy", IAMBackend.get_user, 2048, "user")
_inline_limit("put_role_policy", IAMBackend.get_role, 10240, "role")
_inline_limit("put_group_policy", IAMBackend.get_group, 5120, "group")

_original_create_policy = IAMBackend.create_policy
_original_create_policy_version = IAMBackend.create_policy_version


def _managed_policy_fits(document):
    if _policy_size(document) > 6144:
        raise IAMLimitExceeded("Cannot exceed quota for PolicySize: 6144")


def _create_policy(self, description, path, policy_document, policy_name, tags):
    _managed_policy_fits(policy_document)
    return _original_create_policy(self, description, path, policy_document, policy_name, tags)


def _create_policy_version(self, policy_arn, policy_document, set_as_default):
    _managed_policy_fits(policy_document)
    return _original_create_policy_version(self, policy_arn, policy_document, set_as_default)


IAMBackend.create_policy = _create_policy
IAMBackend.create_policy_version = _create_policy_version

_original_update_assume_role_policy = IAMBackend.update_assume_role_policy


def _update_assume_role_policy(self, role_name, policy_document):
    if _policy_size(policy_document) > 2048:
        raise IAMLimitExceeded("Cannot exceed quota for ACLSizePerRole: 2048")
    return _original_update_assume_role_policy(self, role_name, policy_document)


IAMBackend.update_assume_role_policy = _update_assume_role_policy


# --------------------------------------------------------------------------
# Rules of the account's IAM that EKS applies itself.


def _principal_policies(account, principal_arn, exact=True):
    """The identity-policy documents of an IAM role or user, or None if IAM does not hold it.
    `exact`: the ARN's path must match too (an access entry's ARN); a signing session's role
    ARN carries no path, so it is found by name."""
    backend = iam_backends[account]["aws"]
    name = principal_arn.split("/")[-1]
    docs = []
    try:
        if ":role/" in principal_arn:
            role = backend.get_role(name)
            if exact and role.arn != principal_arn:
                return None
            for policy in backend.list_role_policies(name):
                docs.append(backend.get_role_policy(name, policy)[1])
            attached, _ = backend.list_attached_role_policies(name)
        else:
            user = backend.get_user(name)
            if exact and user.arn != principal_arn:
                return None
            for policy in backend.list_user_policies(name):
                docs.append(backend.get_user_policy(name, policy)["policy_document"])
            attached, _ = backend.list_attached_user_policies(name)
    except Exception:
        return None
    for policy in attached:
        default = next(v for v in policy.versions if v.is_default)
        docs.append(default.document)
    return [json.loads(d) if isinstance(d, str) else d for d in docs]




def _check_principal_exists(cluster, principal_arn):
    """EKS refuses an access entry for a principal its account's IAM does not hold; other
    accounts' IAM is not emulated, so their principals are taken as existing."""
    account = cluster.arn.split(":")[4]
    if _principal_account(principal_arn) != account:
        return
    if _principal_policies(account, principal_arn) is None:
        raise InvalidParameterException(
            clusterName=cluster.name,
            nodegroupName=None,
            fargateProfileName=None,
            addonName=None,
            message="The specified principalArn is invalid: invalid principal.",
        )


# --------------------------------------------------------------------------
# Network dependencies as EC2 enforces them: moto deletes subnets, security groups and VPCs
# whatever still uses them, and frees an interface the moment its owner is asked to go.

from moto.ec2.exceptions import DependencyViolationError
from moto.ec2.models import elastic_network_interfaces as ec2_enis
from moto.ec2.models import security_groups as ec2_sgs
from moto.ec2.models import subnets as ec2_subnets
from moto.elb import models as elb_models
from moto.kms import models as kms_models
from moto.kms.exceptions import AccessDeniedException as KmsAccessDenied


# What else releases interfaces (and the groups they hold) when their owner is gone: EKS's
# cluster and node interfaces, ALBs' and NLBs' (emulator/eks_network.py registers its own).
_RELEASE_HOOKS = []


def _release_interfaces(ec2):
    """Interfaces go when their owner is gone: a NAT gateway or endpoint once `deleted` (they
    stay while it is `deleting`), a Classic ELB's a while after it is deleted."""
    for hook in _RELEASE_HOOKS:
        hook(ec2)
    for nat in ec2.nat_gateways.values():
        if nat.state == "deleted":
            ec2.enis.pop(nat._eni.id, None)
    for endpoint in ec2.vpc_end_points.values():
        if endpoint.state == "deleted":
            for eni_id in endpoint.network_interface_ids:
                ec2.enis.pop(eni_id, None)
    now = time.monotonic()
    for eni_id, eni in list(ec2.enis.items()):
        release_at = eni.__dict__.get("_eksboot_release_at")
        if release_at is not None and now >= release_at:
            ec2.enis.pop(eni_id, None)


def _live_endpoints(ec2):
    return [e for e in ec2.vpc_end_points.values() if e.state != "deleted"]


_original_get_all_enis = ec2_enis.NetworkInterfaceBackend.get_all_network_interfaces


def get_all_network_interfaces(self, *args, **kwargs):
    _release_interfaces(self)
    return _original_get_all_enis(self, *args, **kwargs)


ec2_enis.NetworkInterfaceBackend.get_all_network_interfaces = get_all_network_interfaces

_original_delete_subnet = ec2_subnets.SubnetBackend.delete_subnet


def delete_subnet(self, subnet_id):
    # "The subnet has dependencies and cannot be deleted" while interfaces or endpoints (also
    # `deleting` ones) sit in it
    # (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DeleteSubnet.html).
    _release_interfaces(self)
    users = [eni.id for eni in self.enis.values() if eni.subnet is not None and eni.subnet.id == subnet_id]
    users += [e.id for e in _live_endpoints(self) if subnet_id in (e.subnet_ids or [])]
    if users:
        raise DependencyViolationError(
            f"The subnet '{subnet_id}' has dependencies and cannot be deleted."
        )
    return _original_delete_subnet(self, subnet_id)


ec2_subnets.SubnetBackend.delete_subnet = delete_subnet

_original_delete_security_group = ec2_sgs.SecurityGroupBackend.delete_security_group


def delete_security_group(self, name=None, group_id=None):
    # A group still attached to an interface or endpoint "has a dependent object"
    # (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DeleteSecurityGroup.html).
    _release_interfaces(self)
    if group_id:
        attached = [
            eni.id for eni in self.enis.values() if any(g.id == group_id for g in eni._group_set)
        ]
        attached += [
            e.id for e in _live_endpoints(self) if group_id in (e.security_group_ids or [])
        ]
        if attached:
            raise DependencyViolationError(f"resource {group_id} has a dependent object")
    return _original_delete_security_group(self, name=name, group_id=group_id)


ec2_sgs.SecurityGroupBackend.delete_security_group = delete_security_group

_original_delete_vpc = ec2_vpcs.VPCBackend.delete_vpc


def delete_vpc(self, vpc_id):
    # moto checks subnets and route tables; AWS also refuses while an internet gateway is
    # attached or security groups other than the default remain.
    _release_interfaces(self)
    attached = [g for g in self.internet_gateways.values() if g.vpc is not None and g.vpc.id == vpc_id]
    groups = [g for g in self.groups.get(vpc_id, {}).values() if g.name != "default"]
    if attached or groups:
        raise DependencyViolationError(
            f"The vpc '{vpc_id}' has dependencies and cannot be deleted."
        )
    return _original_delete_vpc(self, vpc_id)


ec2_vpcs.VPCBackend.delete_vpc = delete_vpc

_original_describe_security_groups = ec2_sgs.SecurityGroupBackend.describe_security_groups


def describe_security_groups(self, *args, **kwargs):
    # Groups their owner deletes (EKS's cluster group) go when someone looks, as interfaces do.
    _release_interfaces(self)
    return _original_describe_security_groups(self, *args, **kwargs)


ec2_sgs.SecurityGroupBackend.describe_security_groups = describe_security_groups

_original_delete_vpc_endpoints = ec2_vpcs.VPCBackend.delete_vpc_endpoints


def delete_vpc_endpoints(self, vpce_ids=None):
    # The endpoint is `deleting` for a while and keeps its interfaces until it is gone.
    for vpce_id in vpce_ids or []:
        endpoint = self.vpc_end_points.get(vpce_id)
        if endpoint is None or endpoint.state in ("deleting", "deleted"):
            continue
        if (endpoint.vpc_endpoint_type or "").lower() != "interface":
            for route_table_id in endpoint.route_table_ids:
                self.delete_route(route_table_id, endpoint.destination_prefix_list_id)
        endpoint.state = "deleted"


ec2_vpcs.VPCBackend.delete_vpc_endpoints = delete_vpc_endpoints

_original_create_elb = elb_models.ELBBackend.create_load_balancer


def create_classic_load_balancer(self, *args, **kwargs):
    # A Classic ELB places a network interface ("ELB <name>") in each of its subnets
    # (https://docs.aws.amazon.com/elasticloadbalancing/latest/classic/elb-security-groups.html).
    from moto.ec2.models import ec2_backends

    lb = _original_create_elb(self, *args, **kwargs)
    ec2 = ec2_backends[self.account_id][self.region_name]
    for subnet_id in lb.subnets or []:
        ec2.create_network_interface(
            ec2.get_subnet(subnet_id),
            None,
            group_ids=list(lb.security_groups or []),
            description=f"ELB {lb.name}",
        )
    return lb


def delete_classic_load_balancer(self, load_balancer_name):
    from moto.ec2.models import ec2_backends

    ec2 = ec2_backends[self.account_id][self.region_name]
    for eni in ec2.enis.values():
        if eni.description == f"ELB {load_balancer_name}":
            eni.__dict__["_eksboot_release_at"] = time.monotonic() + TRANSITION_SECONDS
    return elb_models.ELBBackend._eksboot_original_delete(self, load_balancer_name)


elb_models.ELBBackend._eksboot_original_delete = elb_models.ELBBackend.delete_load_balancer
elb_models.ELBBackend.create_load_balancer = create_classic_load_balancer
elb_models.ELBBackend.delete_load_balancer = delete_classic_load_balancer

# Quotas a test raised for one account: moto serves only the defaults, and only for service
# code `vpc` (the Elastic IP quota, code `ec2`, answers NoSuchResource). The value served here
# (else the AWS default) is the limit CreateVpc, AllocateAddress, CreateInternetGateway and
# CreateNatGateway enforce (emulator/aws_rules.py): the one eksboot's preflight reads.
from moto.servicequotas import models as quota_models

_applied_quotas = {}
_original_get_service_quota = quota_models.ServiceQuotasBackend.get_service_quota


def get_service_quota(self, service_code, quota_code):
    value = _applied_quotas.get((self.account_id, service_code, quota_code))
    if value is None:
        return _original_get_service_quota(self, service_code, quota_code)
    return {
        "ServiceCode": service_code,
        "QuotaCode": quota_code,
        "QuotaArn": f"arn:aws:servicequotas:{self.region_name}:{self.account_id}:{service_code}/{quota_code}",
        "QuotaName": quota_code,
        "Value": float(value),
        "Unit": "None",
        "Adjustable": True,
        "GlobalQuota": False,
    }


quota_models.ServiceQuotasBackend.get_service_quota = get_service_quota

# Faults a test sets for one resource: DeleteCluster denied for a cluster, and a key whose
# policy denies ListResourceTags (a key of another team, shared in the account).
_denied_cluster_deletes = set()
_unreadable_key_tags = set()

_original_list_resource_tags = kms_models.KmsBackend.list_resource_tags


def list_resource_tags(self, key_id_or_arn):
    key_id = self.get_key_id(key_id_or_arn)
    if (self.account_id, key_id) in _unreadable_key_tags:
        raise KmsAccessDenied(
            f"User is not authorized to perform: kms:ListResourceTags on resource {key_id} because no resource-based policy allows it"
        )
    return _original_list_resource_tags(self, key_id_or_arn)


kms_models.KmsBackend.list_resource_tags = list_resource_tags


# --------------------------------------------------------------------------
# Deletion protection, the upgrade policy past standard support, node auto repair, EKS's AMI
# types, and add-ons' pod identity associations (issue 23): emulator/eks_safety.py, each rule
# citing AWS there. It wraps this module's handlers, so it is installed after them.

import eks_safety  # noqa: E402

eks_safety.install(sys.modules[__name__])
eks_safety.install_list_updates(sys.modules[__name__])

# EKS Auto Mode (issue 24): CreateCluster, UpdateClusterConfig and DeleteCluster's rules, the
# node, interface, volume, instance profile and access entry an ACTIVE Auto Mode cluster makes,
# and what its deletion removes: emulator/eks_auto.py, each rule citing AWS there.
import eks_auto  # noqa: E402

eks_auto.install(sys.modules[__name__])

# Rules AWS has that moto lacks (issue 25): CreateCluster and CreateNodegroup refuse roles and
# subnets that do not exist and roles that do not trust the service; DetachInternetGateway is
# refused while public addresses are mapped in the VPC: emulator/aws_rules.py, each rule
# citing AWS there. Installed after eks_auto, so its checks come before Auto Mode's.
import aws_rules  # noqa: E402

aws_rules.install(sys.modules[__name__])

# The cluster security group and interfaces CreateCluster makes, node groups' node interfaces,
# ALBs' and NLBs' interfaces, each outliving its owner a while (issue 25):
# emulator/eks_network.py, each rule citing AWS there. Installed after aws_rules, so its
# checks come first and only a cluster EKS accepted gets a network.
import eks_network  # noqa: E402

eks_network.install(sys.modules[__name__])
_RELEASE_HOOKS.append(eks_network.release)

# S3's conditional writes, atomic as S3 makes them (the shared state's lock and ETag checks,
# issue 27): emulator/s3_rules.py, citing S3 there.
import s3_rules  # noqa: E402

s3_rules.install()


# --------------------------------------------------------------------------
# IAM as AWS evaluates it, resources and conditions included, for the accounts a test turns it
# on for (`POST /eksboot-moto/enforce-iam`): emulator/iam_enforce.py (the hook, the log, and
# SimulateCustomPolicy), emulator/iam_context.py (each action's resources and condition keys,
# and the checks AWS makes on the caller's behalf), tests/iam/evaluate.mjs (the evaluator).

import iam_enforce  # noqa: E402

iam_enforce.install()

# Client request tokens remembered as EC2 and EKS do (emulator/tokens.py, shared with the
# fault proxy): a repeat gets the first answer; EC2 refuses other parameters under a used token,
# EKS (which documents nothing) answers with the first call's result.
import tokens  # noqa: E402

tokens.install()

# IAM's eventual consistency, each rule citing AWS there: sts:AssumeRole of a role just made,
# key policies naming a principal just made, and a role's requests after its permissions change
# are refused for a while (and always the first time). Installed after iam_enforce, so its check
# of each request runs before the enforcement's.
import iam_propagation  # noqa: E402

iam_propagation.install(sys.modules[__name__])


# --------------------------------------------------------------------------
# Serving.


def _exit_when_parent_goes():
    try:
        while sys.stdin.buffer.read(4096):
            pass
    finally:
        os._exit(0)


def main():
    from werkzeug.serving import make_server

    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        create_backend_app,
    )
    from moto.server import MotoRequestHandler

    app = DomainDispatcherApplication(create_backend_app)
    server = make_server(
        "127.0.0.1",
        0,
        iam_enforce.wsgi(_keep_raw_body(app)),
        threaded=True,
        request_handler=MotoRequestHandler,
    )
    os.environ["MOTO_PORT"] = str(server.port)
    if "--no-stdin-watch" not in sys.argv:
        threading.Thread(target=_exit_when_parent_goes, daemon=True).start()
    print(f"PORT {server.port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
