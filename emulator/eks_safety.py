"""The emulator's rules for the controls that keep an EKS cluster safe and affordable after
the day it is made (issue 23), on by default, installed by eksboot_moto.py on its own EKS
operations (`install(emulator)` gets that module, so its helpers and state are shared):

  * CreateCluster's `deletionProtection` held and described; UpdateClusterConfig turns it on
    or off (a DeletionProtectionUpdate, only while the cluster is ACTIVE); DeleteCluster of a
    protected ACTIVE cluster fails with InvalidRequestException.
  * UpdateClusterConfig's `upgradePolicy` to STANDARD is refused (InvalidRequestException) once
    the cluster's version is past its end of standard support (the emulator's version table).
  * CreateNodegroup's `nodeRepairConfig` held and described (off when not given), changed by
    UpdateNodegroupConfig; the AMI type must be one EKS knows (Bottlerocket's included).
  * Add-ons' `podIdentityAssociations` on CreateAddon / UpdateAddon (UpdateAddon replaces the
    whole list): each one a pod identity association the add-on owns, described by
    DescribeAddon (association ARNs) and ListPodIdentityAssociations (with `ownerArn`), gone
    with the add-on; a role whose trust policy does not let pods.eks.amazonaws.com assume and
    tag it is refused.
"""

import json
import uuid

from moto.core.responses import ActionResult
from moto.eks import models as eks_models
from moto.eks.exceptions import (
    InvalidParameterException,
    InvalidRequestException,
    ResourceInUseException,
)
from moto.eks.responses import EKSResponse

# EKS's AMI types (the API's AMITypes enum,
# https://docs.aws.amazon.com/eks/latest/APIReference/API_Nodegroup.html#AmazonEKS-Type-Nodegroup-amiType);
# Bottlerocket's among them. Anything else: InvalidParameterException.
AMI_TYPES = {
    "AL2_x86_64",
    "AL2_x86_64_GPU",
    "AL2_ARM_64",
    "CUSTOM",
    "BOTTLEROCKET_ARM_64",
    "BOTTLEROCKET_x86_64",
    "BOTTLEROCKET_ARM_64_FIPS",
    "BOTTLEROCKET_x86_64_FIPS",
    "BOTTLEROCKET_ARM_64_NVIDIA",
    "BOTTLEROCKET_x86_64_NVIDIA",
    "BOTTLEROCKET_ARM_64_NVIDIA_FIPS",
    "BOTTLEROCKET_x86_64_NVIDIA_FIPS",
    "WINDOWS_CORE_2019_x86_64",
    "WINDOWS_FULL_2019_x86_64",
    "WINDOWS_CORE_2022_x86_64",
    "WINDOWS_FULL_2022_x86_64",
    "WINDOWS_CORE_2025_x86_64",
    "WINDOWS_FULL_2025_x86_64",
    "AL2023_x86_64_STANDARD",
    "AL2023_ARM_64_STANDARD",
    "AL2023_x86_64_NEURON",
    "AL2023_x86_64_NVIDIA",
    "AL2023_ARM_64_NVIDIA",
}

POD_IDENTITY_PRINCIPAL = "pods.eks.amazonaws.com"


def _ids(**given):
    fields = {"clusterName": None, "nodegroupName": None, "fargateProfileName": None, "addonName": None}
    fields.update(given)
    return fields


def _invalid_request(message, **ids):
    return InvalidRequestException(message=message, **_ids(**ids))


def _invalid_parameter(message, **ids):
    return InvalidParameterException(message=message, **_ids(**ids))


def _protected(cluster):
    return bool(cluster.__dict__.get("deletion_protection"))


def install(emulator):
    """Wraps eksboot_moto's handlers (`emulator` is that module)."""
    _cluster = emulator._cluster
    _start_update = emulator._start_update
    _update_view = emulator._update_view
    _updates = emulator._updates
    _addons = emulator._addons
    _pod_identities = emulator._pod_identities
    now = emulator.now

    # ---------------------------------------------------------------- deletion protection

    original_create_cluster = EKSResponse.create_cluster

    def create_cluster(self):
        result = original_create_cluster(self)
        cluster = self.eks_backend.clusters[self._get_param("name")]
        # CreateCluster's deletionProtection: "Indicates whether to enable deletion protection
        # for the cluster. When enabled, the cluster cannot be deleted unless deletion
        # protection is first disabled" (off when not given,
        # https://docs.aws.amazon.com/eks/latest/APIReference/API_CreateCluster.html).
        cluster.deletion_protection = bool(self._get_param("deletionProtection"))
        return result

    original_delete_cluster = eks_models.EKSBackend.delete_cluster

    def delete_cluster(self, name):
        cluster = _cluster(self, name)
        # "If you try to delete an active cluster that has deletion protection turned on, you
        # will receive a InvalidRequestException ... If the cluster state is creating, failed,
        # or deleting, you can delete the cluster even if deletion protection is turned on"
        # (https://docs.aws.amazon.com/eks/latest/userguide/deletion-protection.html).
        if _protected(cluster) and cluster.status not in ("CREATING", "FAILED", "DELETING"):
            raise _invalid_request(
                f"Cluster {name} has deletion protection enabled. Disable deletion protection "
                "with UpdateClusterConfig before deleting the cluster.",
                clusterName=name,
            )
        return original_delete_cluster(self, name)

    # ---------------------------------------------------------------- cluster config updates

    original_update_cluster_config = EKSResponse.update_cluster_config

    def update_cluster_config(self):
        cluster = _cluster(self.eks_backend, self._get_param("name"))
        protection = self._get_param("deletionProtection")
        policy = self._get_param("upgradePolicy")
        others = [self._get_param(k) for k in ("resourcesVpcConfig", "logging", "upgradePolicy")]
        if protection is not None:
            # One kind of update per call ("Only one type of update can be allowed").
            if any(others):
                raise _invalid_parameter("Only one type of update can be allowed.", clusterName=cluster.name)
            # "You can only run this on a cluster in the active status"
            # (https://docs.aws.amazon.com/eks/latest/userguide/deletion-protection.html).
            # (while another update runs, EKS's one-at-a-time refusal, ResourceInUseException,
            # comes from _start_update).
            if cluster.status not in ("ACTIVE", "UPDATING"):
                raise _invalid_request(
                    f"Cluster {cluster.name} has status {cluster.status}. Deletion protection can "
                    "only be changed on an ACTIVE cluster.",
                    clusterName=cluster.name,
                )
            update = _start_update(
                cluster,
                cluster,
                "DeletionProtectionUpdate",
                [("DeletionProtection", json.dumps(bool(protection)))],
            )
            cluster.deletion_protection = bool(protection)
            return ActionResult({"update": _update_view(update)})
        if policy and policy.get("supportType") == "STANDARD":
            # Extended support can be turned off only while the version is in standard support:
            # "You can only disable extended support ... before the end of standard support";
            # a cluster already in extended support must be upgraded to a version in standard
            # support first (https://docs.aws.amazon.com/eks/latest/userguide/disable-extended-support.html).
            ends = _standard_support_end(emulator, cluster.version)
            if ends is not None and now() >= ends:
                raise _invalid_request(
                    f"Cluster {cluster.name} runs Kubernetes {cluster.version}, which is past the end "
                    f"of standard support ({ends.date().isoformat()}): its upgrade policy cannot be "
                    "set to STANDARD. Upgrade the cluster to a version in standard support first.",
                    clusterName=cluster.name,
                )
        return original_update_cluster_config(self)

    # ---------------------------------------------------------------- node groups

    original_create_nodegroup = EKSResponse.create_nodegroup

    def create_nodegroup(self):
        ami_type = self._get_param("amiType")
        if ami_type is not None and ami_type not in AMI_TYPES:
            raise _invalid_parameter(
                f"Value '{ami_type}' at 'amiType' failed to satisfy constraint: Member must satisfy "
                "enum value set",
                clusterName=self._get_param("name"),
                nodegroupName=self._get_param("nodegroupName"),
            )
        result = original_create_nodegroup(self)
        cluster = _cluster(self.eks_backend, self._get_param("name"))
        nodegroup = cluster.nodegroups[self._get_param("nodegroupName")]
        # nodeRepairConfig: "The node auto repair configuration for the node group"; off unless
        # asked (https://docs.aws.amazon.com/eks/latest/userguide/node-health.html: "node auto
        # repair ... is disabled by default"). moto's response drops it.
        repair = self._get_param("nodeRepairConfig") or {}
        nodegroup.node_repair_config = {"enabled": bool(repair.get("enabled", False))}
        return result

    original_update_nodegroup_config = EKSResponse.update_nodegroup_config

    def update_nodegroup_config(self):
        repair = self._get_param("nodeRepairConfig")
        if repair is None:
            return original_update_nodegroup_config(self)
        cluster = _cluster(self.eks_backend, self._get_param("name"))
        name = self._get_param("nodegroupName")
        nodegroup = cluster.nodegroups.get(name)
        if nodegroup is None:
            raise emulator._not_found(f"No node group found for name: {name}.", clusterName=cluster.name)
        enabled = bool(repair.get("enabled", False))
        param = ("NodeRepairEnabled", json.dumps(enabled))
        if self._get_param("scalingConfig"):
            # One ConfigUpdate carries both (UpdateNodegroupConfig takes several settings).
            result = original_update_nodegroup_config(self)
            view = _latest_update(result)
            update = _updates(cluster).get(view["id"]) if view else None
            if update is not None:
                update["params"].append({"type": param[0], "value": param[1]})
        else:
            update = _start_update(cluster, nodegroup, "ConfigUpdate", [param])
            result = ActionResult({"update": _update_view(update)})
        nodegroup.node_repair_config = {"enabled": enabled}
        return result

    # ---------------------------------------------------------------- add-on pod identities

    def _role_trusts_pods(account, role_arn):
        """Whether the role exists and its trust policy lets EKS Pod Identity assume and tag it:
        Principal Service pods.eks.amazonaws.com with sts:AssumeRole and sts:TagSession (EKS user
        guide, https://docs.aws.amazon.com/eks/latest/userguide/pod-id-role.html). EKS refuses
        others: "InvalidParameterException: Trust policy of the role provided is invalid"
        (widely reported, e.g. https://github.com/hashicorp/terraform-provider-aws/issues/41483)."""
        from moto.iam.models import iam_backends

        name = role_arn.split("/")[-1]
        iam = iam_backends[account]["global"]
        role = next((r for r in iam.roles.values() if r.name == name), None)
        if role is None:
            return False
        document = role.assume_role_policy_document
        if isinstance(document, str):
            try:
                document = json.loads(document)
            except ValueError:
                from urllib.parse import unquote

                document = json.loads(unquote(document))
        statements = document.get("Statement", [])
        if isinstance(statements, dict):
            statements = [statements]
        allowed = set()
        for s in statements:
            if s.get("Effect") != "Allow":
                continue
            services = (s.get("Principal") or {}).get("Service", []) if isinstance(s.get("Principal"), dict) else []
            services = [services] if isinstance(services, str) else services
            if POD_IDENTITY_PRINCIPAL not in services:
                continue
            actions = s.get("Action", [])
            allowed.update([actions] if isinstance(actions, str) else actions)
        return {"sts:AssumeRole", "sts:TagSession"} <= allowed

    def _associations_for(self, cluster, addon_name, addon_arn, wanted):
        """Validates `wanted` ([{serviceAccount, roleArn}]) and builds the associations."""
        account, region = cluster.arn.split(":")[4], cluster.arn.split(":")[3]
        seen = set()
        built = []
        for item in wanted:
            account_name = item.get("serviceAccount")
            role_arn = item.get("roleArn")
            if not account_name or not role_arn:
                raise _invalid_parameter(
                    "podIdentityAssociations need a serviceAccount and a roleArn",
                    clusterName=cluster.name,
                    addonName=addon_name,
                )
            if account_name in seen:
                raise _invalid_parameter(
                    f"Service account {account_name} appears more than once in podIdentityAssociations",
                    clusterName=cluster.name,
                    addonName=addon_name,
                )
            seen.add(account_name)
            if not _role_trusts_pods(account, role_arn):
                raise _invalid_parameter(
                    "Trust policy of the role provided is invalid. Follow the official documentation "
                    f"to resolve the issue: {role_arn}",
                    clusterName=cluster.name,
                    addonName=addon_name,
                )
            association_id = "a-" + uuid.uuid4().hex[:17]
            built.append(
                {
                    "clusterName": cluster.name,
                    # The add-on's own namespace: AWS's add-ons run in kube-system.
                    "namespace": "kube-system",
                    "serviceAccount": account_name,
                    "roleArn": role_arn,
                    "associationArn": f"arn:aws:eks:{region}:{account}:podidentityassociation/{cluster.name}/{association_id}",
                    "associationId": association_id,
                    "ownerArn": addon_arn,
                    "tags": {},
                    "createdAt": now(),
                    "modifiedAt": now(),
                }
            )
        # One association per service account in a namespace (CreatePodIdentityAssociation:
        # ResourceInUseException "Association already exists"), other than this add-on's own.
        for existing in _pod_identities(cluster).values():
            if existing.get("ownerArn") == addon_arn:
                continue
            for a in built:
                if (existing["namespace"], existing["serviceAccount"]) == (a["namespace"], a["serviceAccount"]):
                    raise ResourceInUseException(
                        clusterName=cluster.name,
                        nodegroupName=None,
                        addonName=addon_name,
                        message=f"Association already exists for service account {a['serviceAccount']} in namespace {a['namespace']}",
                    )
        return built

    def _replace_associations(cluster, addon, built):
        identities = _pod_identities(cluster)
        for association_id in [k for k, v in identities.items() if v.get("ownerArn") == addon["addonArn"]]:
            del identities[association_id]
        for a in built:
            identities[a["associationId"]] = a
        addon["podIdentityAssociations"] = [a["associationArn"] for a in built]

    original_create_addon = EKSResponse.create_addon

    def create_addon(self):
        wanted = self._get_param("podIdentityAssociations")
        if not wanted:
            result = original_create_addon(self)
            cluster = _cluster(self.eks_backend, self._get_param("name"))
            addon = _addons(cluster).get(self._get_param("addonName"))
            if addon is not None:
                addon.setdefault("podIdentityAssociations", [])
            return result
        cluster = _cluster(self.eks_backend, self._get_param("name"))
        name = self._get_param("addonName")
        # Validated before the add-on exists: a refused association makes no add-on.
        _associations_for(self, cluster, name, "pending", wanted)
        result = original_create_addon(self)
        addon = _addons(cluster)[name]
        built = _associations_for(self, cluster, name, addon["addonArn"], wanted)
        _replace_associations(cluster, addon, built)
        return ActionResult({"addon": emulator._addon_view(addon)})

    original_update_addon = EKSResponse.update_addon

    def update_addon(self):
        wanted = self._get_param("podIdentityAssociations")
        if wanted is None:
            return original_update_addon(self)
        cluster, addon = emulator._addon(self)
        # UpdateAddon's podIdentityAssociations: "An array of EKS Pod Identity associations to
        # be updated ... If the list is empty, all associations are removed" — the list given
        # replaces the add-on's associations
        # (https://docs.aws.amazon.com/eks/latest/APIReference/API_UpdateAddon.html).
        built = _associations_for(self, cluster, addon["addonName"], addon["addonArn"], wanted)
        result = original_update_addon(self)
        _replace_associations(cluster, addon, built)
        update = _latest_update(result)
        if update is not None and update.get("id") in _updates(cluster):
            _updates(cluster)[update["id"]]["params"].append(
                {
                    "type": "PodIdentityAssociations",
                    "value": json.dumps([a["associationArn"] for a in built]),
                }
            )
        return result

    original_delete_addon = EKSResponse.delete_addon

    def delete_addon(self):
        cluster, addon = emulator._addon(self)
        result = original_delete_addon(self)
        # The associations an add-on made go with it.
        _replace_associations(cluster, addon, [])
        return result

    def list_pod_identity_associations(self):
        cluster = _cluster(self.eks_backend, self._get_param("name"))
        summaries = [
            {
                k: a[k]
                for k in ("clusterName", "namespace", "serviceAccount", "associationArn", "associationId", "ownerArn")
                if k in a
            }
            for a in _pod_identities(cluster).values()
        ]
        return ActionResult({"associations": summaries})

    EKSResponse.create_cluster = create_cluster
    eks_models.EKSBackend.delete_cluster = delete_cluster
    EKSResponse.update_cluster_config = update_cluster_config
    EKSResponse.create_nodegroup = create_nodegroup
    EKSResponse.update_nodegroup_config = update_nodegroup_config
    EKSResponse.create_addon = create_addon
    EKSResponse.update_addon = update_addon
    EKSResponse.delete_addon = delete_addon
    EKSResponse.list_pod_identity_associations = list_pod_identity_associations


def _latest_update(result):
    data = getattr(result, "result", None)
    if isinstance(data, dict):
        return data.get("update")
    return None


def _standard_support_end(emulator, version):
    for row in emulator.CLUSTER_VERSIONS:
        if row[0] == version:
            return emulator.date(row[4])
    return None


def install_list_updates(emulator):
    """ListUpdates: the ids of a cluster's updates, or of one node group's (`nodegroupName`),
    oldest first
    (https://docs.aws.amazon.com/eks/latest/APIReference/API_ListUpdates.html)."""

    def list_updates(self):
        cluster = emulator._cluster(self.eks_backend, self._get_param("name"))
        nodegroup = self._get_param("nodegroupName")
        addon = self._get_param("addonName")
        if nodegroup:
            target = cluster.nodegroups.get(nodegroup)
            if target is None:
                raise emulator._not_found(f"No node group found for name: {nodegroup}.", clusterName=cluster.name)
            ids = [u["id"] for u in target.__dict__.get("_eksboot_own_updates", [])]
        elif addon:
            # Add-on updates are not kept per add-on here: say so rather than answer wrongly.
            raise _invalid_parameter("the emulator's ListUpdates does not list an add-on's updates", clusterName=cluster.name)
        else:
            ids = [u["id"] for u in cluster.__dict__.get("_eksboot_own_updates", [])]
        return ActionResult({"updateIds": ids})

    EKSResponse.list_updates = list_updates
