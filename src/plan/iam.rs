//! IAM and KMS policy documents, built from names and ARNs only. Pure.
//!
//! The creator role's inline policy is the least privilege for creating, resuming and tearing
//! down this one cluster: EKS actions scoped to this cluster's ARNs (cluster, node groups,
//! add-ons, access entries), creation scoped by request tag where EKS has no resource to scope
//! to, PassRole only for our two roles and only to EKS/EC2, and the EC2 reads EKS needs, by name.

use serde_json::{json, Value};

/// Managed policies of the cluster service role.
pub const CLUSTER_ROLE_POLICIES: [&str; 1] = ["AmazonEKSClusterPolicy"];
/// Managed policies of the node role. ECR pull-only is narrower than ReadOnly; SSM lets people
/// reach nodes through Session Manager instead of SSH keys and open ports.
pub const NODE_ROLE_POLICIES: [&str; 4] = [
    "AmazonEKSWorkerNodePolicy",
    "AmazonEC2ContainerRegistryPullOnly",
    "AmazonEKS_CNI_Policy",
    "AmazonSSMManagedInstanceCore",
];
/// The VPC CNI's managed policy: on the node role only while the CNI has no role of its own.
pub const CNI_POLICY: &str = "AmazonEKS_CNI_Policy";

/// What the cluster role adds for EKS Auto Mode, which launches nodes, volumes and load
/// balancers and runs the network as the cluster role (EKS user guide, "Amazon EKS Auto Mode
/// cluster IAM role"; its trust already allows sts:TagSession, which Auto Mode needs).
pub const AUTO_MODE_CLUSTER_POLICIES: [&str; 4] = [
    "AmazonEKSComputePolicy",
    "AmazonEKSBlockStoragePolicy",
    "AmazonEKSLoadBalancingPolicy",
    "AmazonEKSNetworkingPolicy",
];
/// The node role of Auto Mode's nodes (EKS user guide, "Amazon EKS Auto Mode node IAM role"):
/// the minimal worker policy and ECR pull; AWS runs the CNI and reaches nodes itself.
pub const AUTO_MODE_NODE_POLICIES: [&str; 2] = [
    "AmazonEKSWorkerNodeMinimalPolicy",
    "AmazonEC2ContainerRegistryPullOnly",
];

/// The managed policies of the cluster role for this profile.
pub fn cluster_role_policies(profile: &crate::profile::Profile) -> Vec<&'static str> {
    let mut policies = CLUSTER_ROLE_POLICIES.to_vec();
    if profile.auto_mode() {
        policies.extend(AUTO_MODE_CLUSTER_POLICIES);
    }
    policies
}

/// The managed policies the node role gets for this profile: Auto Mode's two, or all of
/// [`NODE_ROLE_POLICIES`] except the CNI's when vpc-cni gets its own role through Pod Identity
/// (then nodes, and any pod on their network, no longer hold the CNI's permissions).
pub fn node_role_policies(profile: &crate::profile::Profile) -> Vec<&'static str> {
    if profile.auto_mode() {
        return AUTO_MODE_NODE_POLICIES.to_vec();
    }
    let cni_has_role = profile.addon_roles().iter().any(|(a, _)| *a == "vpc-cni");
    NODE_ROLE_POLICIES
        .iter()
        .copied()
        .filter(|p| !(cni_has_role && *p == CNI_POLICY))
        .collect()
}

/// The service principal of EKS Pod Identity, the same in every partition
/// (<https://docs.aws.amazon.com/eks/latest/userguide/pod-id-role.html>).
pub const POD_IDENTITY_PRINCIPAL: &str = "pods.eks.amazonaws.com";

/// Trust policy of an add-on's role: EKS Pod Identity assumes it (sts:AssumeRole) and tags the
/// session with the cluster, namespace and service account (sts:TagSession), as AWS documents
/// for every Pod Identity role (<https://docs.aws.amazon.com/eks/latest/userguide/pod-id-role.html>).
pub fn pod_identity_trust_policy() -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "AllowEksAuthToAssumeRoleForPodIdentity",
            "Effect": "Allow",
            "Principal": {"Service": POD_IDENTITY_PRINCIPAL},
            "Action": ["sts:AssumeRole", "sts:TagSession"]
        }]
    })
}

/// The access policy given to admins at cluster scope, in the region's partition.
pub fn cluster_admin_access_policy(region: &str) -> String {
    format!(
        "arn:{}:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy",
        partition(region)
    )
}

/// The tag every resource carries, and which creation is scoped by.
pub const CLUSTER_TAG: &str = "eksboot:cluster";

/// The AWS partition of a region: `aws`, `aws-cn` or `aws-us-gov`.
pub fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// The DNS suffix of a region's partition: service hosts and the EKS OIDC issuer use it.
pub fn dns_suffix(region: &str) -> &'static str {
    match partition(region) {
        "aws-cn" => "amazonaws.com.cn",
        _ => "amazonaws.com",
    }
}

/// The principal of an AWS service in a region's partition. EC2's carries the partition's DNS
/// suffix in China (`ec2.amazonaws.com.cn`); EKS's is `eks.amazonaws.com` in every partition.
pub fn service_principal(region: &str, service: &str) -> String {
    match service {
        "ec2" => format!("ec2.{}", dns_suffix(region)),
        other => format!("{other}.amazonaws.com"),
    }
}

/// The STS host a presigned EKS token names (`sts.cn-north-1.amazonaws.com.cn` in China).
pub fn sts_host(region: &str) -> String {
    format!("sts.{region}.{}", dns_suffix(region))
}

/// AWS managed policies IAM keeps under the `service-role/` path: their ARN names it
/// (`arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy`, as the EBS CSI driver's
/// IAM page gives it: <https://docs.aws.amazon.com/eks/latest/userguide/ebs-csi.html>).
const SERVICE_ROLE_POLICIES: [&str; 1] = ["AmazonEBSCSIDriverPolicy"];

/// The ARN of an AWS managed policy by its name, with its path when it has one.
pub fn managed_policy_arn(region: &str, name: &str) -> String {
    let path = if SERVICE_ROLE_POLICIES.contains(&name) {
        "service-role/"
    } else {
        ""
    };
    format!("arn:{}:iam::aws:policy/{path}{name}", partition(region))
}

pub fn role_arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:{}:iam::{account}:role/{name}", partition(region))
}

/// The IAM principal behind a caller ARN, as `aws:PrincipalArn` and access entries name it:
/// an `assumed-role/ROLE/session` becomes the role (with its path when known), an STS user ARN
/// becomes the IAM user.
pub fn caller_principal_arn(caller_arn: &str, role_path: Option<&str>) -> String {
    let parts: Vec<&str> = caller_arn.splitn(6, ':').collect();
    if parts.len() < 6 {
        return caller_arn.to_string();
    }
    let (partition, service, account, resource) = (parts[1], parts[2], parts[4], parts[5]);
    if service == "sts" {
        if let Some(rest) = resource.strip_prefix("assumed-role/") {
            let role = rest.split('/').next().unwrap_or(rest);
            let path = role_path.unwrap_or("/");
            return format!("arn:{partition}:iam::{account}:role{path}{role}");
        }
        if let Some(user) = resource.strip_prefix("user/") {
            return format!("arn:{partition}:iam::{account}:user/{user}");
        }
    }
    caller_arn.to_string()
}

/// Trust policy of the creator role: the account may assume it, but only as one of `principals`
/// (the person running eksboot and the profile's admins).
pub fn creator_trust_policy(region: &str, account: &str, principals: &[String]) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "AssumeByTheCallerAndAdmins",
            "Effect": "Allow",
            "Principal": {"AWS": format!("arn:{}:iam::{account}:root", partition(region))},
            "Action": ["sts:AssumeRole", "sts:TagSession"],
            "Condition": {"ArnEquals": {"aws:PrincipalArn": principals}}
        }]
    })
}

/// Trust policy of a role assumed by an AWS service (`"eks"` or `"ec2"`).
pub fn service_trust_policy(region: &str, service: &str) -> Value {
    let principal = service_principal(region, service);
    let actions: Vec<&str> = if service == "eks" {
        vec!["sts:AssumeRole", "sts:TagSession"]
    } else {
        vec!["sts:AssumeRole"]
    };
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": principal},
            "Action": actions
        }]
    })
}

/// What the creator's inline policy is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatorScope<'a> {
    pub region: &'a str,
    pub account: &'a str,
    pub cluster: &'a str,
    pub cluster_role_arn: &'a str,
    pub node_role_arn: Option<&'a str>,
    /// The secrets key; `None` before it exists (any key tagged for this cluster).
    pub key_arn: Option<&'a str>,
    pub oidc_provider: bool,
    /// The node launch template's ARN (with nodes on): EKS launches the nodes with the
    /// creator's permission to use it. A pattern (`…:launch-template/*`) before it exists.
    pub launch_template_arn: Option<&'a str>,
}

/// The EKS service-linked roles EKS checks (and creates when missing) as the caller of
/// CreateCluster and CreateNodegroup: `(service principal, role ARN)`.
pub fn eks_service_linked_roles(region: &str, account: &str) -> [(&'static str, String); 2] {
    let p = partition(region);
    [
        (
            "eks.amazonaws.com",
            format!("arn:{p}:iam::{account}:role/aws-service-role/eks.amazonaws.com/AWSServiceRoleForAmazonEKS"),
        ),
        (
            "eks-nodegroup.amazonaws.com",
            format!("arn:{p}:iam::{account}:role/aws-service-role/eks-nodegroup.amazonaws.com/AWSServiceRoleForAmazonEKSNodegroup"),
        ),
    ]
}

/// The ARN pattern of every EKS OIDC issuer of a region registered in IAM
/// (`oidc-provider/oidc.eks.REGION.DNS_SUFFIX/id/*`): a cluster's issuer id is known only once
/// EKS made the cluster, so this cluster's is one of these; deleting is further conditioned on
/// the provider's `eksboot:cluster` tag.
pub fn eks_issuer_pattern(region: &str, account: &str) -> String {
    format!(
        "arn:{}:iam::{account}:oidc-provider/oidc.eks.{region}.{}/id/*",
        partition(region),
        dns_suffix(region)
    )
}

/// The tag keys eksboot puts on what it creates (see `Ctx::tags`): creation may carry these
/// and no others.
pub const EKSBOOT_TAG_KEYS: [&str; 5] = [
    "eksboot:cluster",
    "eksboot:region",
    "eksboot:run",
    "eksboot:step",
    "Name",
];

/// The creator role's least-privilege inline policy.
///
/// Besides the calls eksboot makes as the creator, it holds what AWS checks as the creator on
/// its behalf: iam:PassRole of the cluster and node roles, kms:DescribeKey and kms:CreateGrant
/// on the secrets key (EKS, at CreateCluster), iam:GetRole on the EKS service-linked roles and
/// iam:CreateServiceLinkedRole when they are missing (at CreateCluster and CreateNodegroup:
/// "Failed to validate if SLR … already exists due to missing permissions for 'iam:GetRole'"),
/// ec2:RunInstances and ec2:CreateTags with the node launch template, and the launch-template
/// reads EKS makes to validate it ("You are not authorized to describe the launch template
/// version"). Deleting the OIDC provider and reading it are granted whatever
/// `oidc_provider` says: `apply` retires a provider the new profile dropped as the creator,
/// after the policy for the new profile is written.
pub fn creator_inline_policy(s: &CreatorScope) -> Value {
    let p = partition(s.region);
    let eks = |resource: &str| format!("arn:{p}:eks:{}:{}:{resource}", s.region, s.account);
    let cluster_arn = eks(&format!("cluster/{}", s.cluster));
    let nodegroups = eks(&format!("nodegroup/{}/*", s.cluster));
    let addons = eks(&format!("addon/{}/*", s.cluster));
    let access_entries = eks(&format!("access-entry/{}/*", s.cluster));
    let request_tagged =
        json!({"StringEquals": {format!("aws:RequestTag/{CLUSTER_TAG}"): s.cluster}});
    let mut pass_roles = vec![s.cluster_role_arn.to_string()];
    pass_roles.extend(s.node_role_arn.map(str::to_string));
    let slrs = eks_service_linked_roles(s.region, s.account);
    let issuers = eks_issuer_pattern(s.region, s.account);

    let mut statements = vec![
        // CreateCluster has no resource to scope to (the Service Authorization Reference lists
        // none): the request's tag is the scope.
        json!({
            "Sid": "CreateThisClusterOnlyWithItsTag",
            "Effect": "Allow",
            "Action": "eks:CreateCluster",
            "Resource": "*",
            "Condition": request_tagged.clone()
        }),
        // Tags given at create are authorized as eks:TagResource on the new resource: only this
        // cluster's, and only with its tag.
        json!({
            "Sid": "TagThisClustersResourcesAtCreation",
            "Effect": "Allow",
            "Action": "eks:TagResource",
            "Resource": [
                cluster_arn.clone(), nodegroups.clone(), addons.clone(), access_entries.clone()
            ],
            "Condition": request_tagged.clone()
        }),
        json!({
            "Sid": "ManageThisCluster",
            "Effect": "Allow",
            "Action": [
                "eks:DescribeCluster", "eks:DeleteCluster", "eks:UpdateClusterConfig",
                "eks:UpdateClusterVersion", "eks:ListNodegroups", "eks:CreateNodegroup",
                "eks:ListAddons", "eks:CreateAddon", "eks:ListAccessEntries",
                "eks:CreateAccessEntry"
            ],
            "Resource": cluster_arn.clone()
        }),
        // DescribeUpdate is authorized on the cluster and, for a node group's update, on the
        // node group too (eksboot never asks it about an add-on's update).
        json!({
            "Sid": "FollowThisClustersUpdates",
            "Effect": "Allow",
            "Action": "eks:DescribeUpdate",
            "Resource": [cluster_arn, nodegroups.clone()]
        }),
        json!({
            "Sid": "ManageThisClustersParts",
            "Effect": "Allow",
            "Action": [
                "eks:DescribeNodegroup", "eks:DeleteNodegroup", "eks:UpdateNodegroupConfig",
                "eks:UpdateNodegroupVersion", "eks:DescribeAddon", "eks:DeleteAddon",
                "eks:UpdateAddon", "eks:DeleteAccessEntry", "eks:AssociateAccessPolicy",
                "eks:ListAssociatedAccessPolicies"
            ],
            "Resource": [nodegroups, addons, access_entries]
        }),
        json!({
            "Sid": "ReadWhatEksOffers",
            "Effect": "Allow",
            "Action": "eks:DescribeAddonVersions",
            "Resource": "*"
        }),
        json!({
            "Sid": "PassOnlyOurRolesToEks",
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": pass_roles,
            "Condition": {"StringEquals": {"iam:PassedToService": [
                service_principal(s.region, "eks"), service_principal(s.region, "ec2")
            ]}}
        }),
        match s.key_arn {
            Some(key) => json!({
                "Sid": "UseTheSecretsKey",
                "Effect": "Allow",
                "Action": ["kms:DescribeKey", "kms:CreateGrant"],
                "Resource": key
            }),
            None => json!({
                "Sid": "UseTheSecretsKey",
                "Effect": "Allow",
                "Action": ["kms:DescribeKey", "kms:CreateGrant"],
                "Resource": format!("arn:{p}:kms:{}:{}:key/*", s.region, s.account),
                "Condition": {"StringEquals": {format!("aws:ResourceTag/{CLUSTER_TAG}"): s.cluster}}
            }),
        },
        json!({
            "Sid": "ReadTheNetworkEksUses",
            "Effect": "Allow",
            "Action": [
                "ec2:DescribeAvailabilityZones", "ec2:DescribeVpcs", "ec2:DescribeSubnets",
                "ec2:DescribeSecurityGroups", "ec2:DescribeRouteTables",
                "ec2:DescribeNetworkInterfaces", "ec2:DescribeLaunchTemplates",
                "ec2:DescribeLaunchTemplateVersions"
            ],
            "Resource": "*"
        }),
        json!({
            "Sid": "CheckEksServiceLinkedRoles",
            "Effect": "Allow",
            "Action": "iam:GetRole",
            "Resource": slrs.iter().map(|(_, arn)| arn.clone()).collect::<Vec<_>>()
        }),
        json!({
            "Sid": "CreateEksServiceLinkedRoles",
            "Effect": "Allow",
            "Action": "iam:CreateServiceLinkedRole",
            "Resource": slrs.iter().map(|(_, arn)| arn.clone()).collect::<Vec<_>>(),
            "Condition": {"StringEquals": {"iam:AWSServiceName": slrs.iter().map(|(svc, _)| *svc).collect::<Vec<_>>()}}
        }),
        json!({
            "Sid": "ReadThisRegionsEksIssuers",
            "Effect": "Allow",
            "Action": "iam:GetOpenIDConnectProvider",
            "Resource": issuers.clone()
        }),
        json!({
            "Sid": "RemoveThisClustersOidcIssuer",
            "Effect": "Allow",
            "Action": "iam:DeleteOpenIDConnectProvider",
            "Resource": issuers.clone(),
            "Condition": {"StringEquals": {format!("aws:ResourceTag/{CLUSTER_TAG}"): s.cluster}}
        }),
    ];
    if let Some(template) = s.launch_template_arn {
        statements.extend(launch_statements(s, template));
    }
    if s.oidc_provider {
        statements.push(json!({
            "Sid": "RegisterThisClustersOidcIssuer",
            "Effect": "Allow",
            "Action": ["iam:CreateOpenIDConnectProvider", "iam:TagOpenIDConnectProvider"],
            "Resource": issuers,
            "Condition": request_tagged
        }));
    }
    json!({"Version": "2012-10-17", "Statement": statements})
}

/// What lets EKS launch the nodes with this template, as the creator: RunInstances with it
/// only, in this cluster's subnets and security groups only, tagging only at launch.
fn launch_statements(s: &CreatorScope, template: &str) -> Vec<Value> {
    let p = partition(s.region);
    let ec2 = |resource: &str| format!("arn:{p}:ec2:{}:{}:{resource}", s.region, s.account);
    let mut launch = Vec::new();
    // CreateNodegroup with a launch template fails ("You are not authorized to launch
    // instances with this launch template") unless the caller may run instances with it.
    // RunInstances is authorized on every resource of the launch: what it makes (the
    // instance, its volumes and interface), the template, the image, and where it lands.
    // One Allow names every resource type of the launch (the linter wants them together);
    // explicit Denies then keep nodes out of any subnet but this cluster's and out of any
    // security group but this cluster's (eksboot's, or the cluster security group EKS
    // made and tagged `aws:eks:cluster-name`: the template names no group, so EKS uses
    // it). A Deny's missing tag counts as "not equal": an untagged subnet is refused too.
    launch.push(json!({
        "Sid": "LaunchNodesWithThisTemplateOnly",
        "Effect": "Allow",
        "Action": "ec2:RunInstances",
        "Resource": [
            ec2("instance/*"), ec2("volume/*"), ec2("network-interface/*"),
            template.to_string(),
            format!("arn:{p}:ec2:{}::image/*", s.region),
            ec2("subnet/*"), ec2("security-group/*")
        ],
        "Condition": {"ArnLike": {"ec2:LaunchTemplate": template}}
    }));
    launch.push(json!({
        "Sid": "NoNodesInAnotherSubnet",
        "Effect": "Deny",
        "Action": "ec2:RunInstances",
        "Resource": ec2("subnet/*"),
        "Condition": {"StringNotEquals": {format!("aws:ResourceTag/{CLUSTER_TAG}"): s.cluster}}
    }));
    launch.push(json!({
        "Sid": "NoNodesInAnotherSecurityGroup",
        "Effect": "Deny",
        "Action": "ec2:RunInstances",
        "Resource": ec2("security-group/*"),
        "Condition": {"StringNotEquals": {
            format!("aws:ResourceTag/{CLUSTER_TAG}"): s.cluster,
            "aws:ResourceTag/aws:eks:cluster-name": s.cluster
        }}
    }));
    launch.push(json!({
        "Sid": "TagNodesAtLaunchOnly",
        "Effect": "Allow",
        "Action": "ec2:CreateTags",
        "Resource": [ec2("instance/*"), ec2("volume/*"), ec2("network-interface/*")],
        "Condition": {"StringEquals": {"ec2:CreateAction": "RunInstances"}}
    }));
    launch
}

/// What the creator needs to give add-ons their Pod Identity roles (`addon_roles`: the roles'
/// ARNs): CreateAddon and UpdateAddon with `podIdentityAssociations` are authorized on the
/// association too (the Service Authorization Reference lists `podidentityassociation` among
/// the resources of eks:CreateAddon, eks:UpdateAddon and eks:DeleteAddon), and EKS asks for
/// iam:PassRole of each role to `pods.eks.amazonaws.com`. Deleting an add-on deletes its
/// associations, so that stays granted with no add-on role (`apply` retires them). The
/// association reads let a rerun see which role an add-on's association names.
pub fn addon_role_statements(
    region: &str,
    account: &str,
    cluster: &str,
    addon_roles: &[String],
) -> Vec<Value> {
    let eks = |resource: &str| {
        format!(
            "arn:{}:eks:{region}:{account}:{resource}",
            partition(region)
        )
    };
    let associations = eks(&format!("podidentityassociation/{cluster}/*"));
    // The statement names the cluster and its add-ons beside the associations: each action is
    // authorized on the resource types it takes only, so this grants on them nothing the
    // statements above do not, and the linter sees every action with its usual resource.
    let mut resources = vec![eks(&format!("addon/{cluster}/*")), associations];
    if !addon_roles.is_empty() {
        resources.insert(0, eks(&format!("cluster/{cluster}")));
    }
    let mut statements = vec![json!({
        "Sid": "ManageThisClustersAddonIdentities",
        "Effect": "Allow",
        "Action": if addon_roles.is_empty() {
            json!(["eks:DeleteAddon", "eks:DescribePodIdentityAssociation"])
        } else {
            json!([
                "eks:CreateAddon", "eks:UpdateAddon", "eks:DeleteAddon",
                "eks:DescribePodIdentityAssociation"
            ])
        },
        "Resource": resources
    })];
    if !addon_roles.is_empty() {
        statements.push(json!({
            "Sid": "PassOnlyAddonRolesToPodIdentity",
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": addon_roles,
            "Condition": {"StringEquals": {"iam:PassedToService": POD_IDENTITY_PRINCIPAL}}
        }));
    }
    statements
}

/// The creator's inline policy with what add-on roles need ([`addon_role_statements`]).
pub fn creator_policy_with_addon_roles(s: &CreatorScope, addon_roles: &[String]) -> Value {
    let mut doc = creator_inline_policy(s);
    let extra = addon_role_statements(s.region, s.account, s.cluster, addon_roles);
    doc["Statement"]
        .as_array_mut()
        .expect("the creator policy has statements")
        .extend(extra);
    doc
}

/// The ARNs of this profile's add-on roles (named, never read: eksboot makes them without a path).
pub fn addon_role_arns(profile: &crate::profile::Profile, account: &str) -> Vec<String> {
    let region = profile.cluster.region.as_str();
    profile
        .addon_roles()
        .iter()
        .filter_map(|(addon, _)| super::addon_role_name(&profile.cluster.name, addon))
        .map(|name| role_arn(region, account, &name))
        .collect()
}

/// What the key policy lets the caller (the identity running eksboot) do to this key: tag it
/// right after CreateKey, turn rotation on, point this cluster's alias at it and schedule its
/// deletion. In a key policy, `Resource: "*"` means this key.
pub const KEY_CALLER_ACTIONS: [&str; 6] = [
    "kms:TagResource",
    "kms:EnableKeyRotation",
    "kms:ScheduleKeyDeletion",
    "kms:CreateAlias",
    "kms:UpdateAlias",
    "kms:DeleteAlias",
];

/// The creator role's inline policy as eksboot will write it for this profile, before anything
/// exists (the launch template, made only by create, by pattern: any template of the account), as
/// `eksboot permissions --for creator` prints it and preflight simulates it under a boundary.
pub fn creator_policy_before_create(profile: &crate::profile::Profile, account: &str) -> Value {
    let region = profile.cluster.region.as_str();
    let name = profile.cluster.name.as_str();
    let cluster_role = role_arn(region, account, &format!("{name}-cluster"));
    let node_role = role_arn(region, account, &format!("{name}-node"));
    let template = format!(
        "arn:{}:ec2:{region}:{account}:launch-template/*",
        partition(region)
    );
    creator_policy_with_addon_roles(
        &CreatorScope {
            region,
            account,
            cluster: name,
            cluster_role_arn: &cluster_role,
            node_role_arn: profile.has_nodes().then_some(node_role.as_str()),
            key_arn: profile.security.secrets_key.existing_arn(),
            oidc_provider: profile.cluster.oidc_provider,
            launch_template_arn: profile.node_group().then_some(template.as_str()),
        },
        &addon_role_arns(profile, account),
    )
}

/// Key policy: the account administers the key through IAM (this statement also satisfies
/// KMS's lockout check at CreateKey: the policy must let the caller call PutKeyPolicy later,
/// <https://docs.aws.amazon.com/kms/latest/APIReference/API_CreateKey.html>); the creator and
/// cluster roles may use it for envelope encryption of secrets; and `caller` (the IAM user, or
/// the role with its path, running eksboot) may tag, rotate, alias and retire it.
///
/// The caller's tagging comes from here, not from IAM: eksboot creates the key untagged and
/// tags it next, so the caller's IAM policy needs no kms:TagResource, which IAM could not limit
/// to the key being created
/// (<https://docs.aws.amazon.com/kms/latest/developerguide/tag-permissions.html>).
pub fn key_policy(region: &str, account: &str, users: &[String], caller: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AccountAdministersTheKey",
                "Effect": "Allow",
                "Principal": {"AWS": format!("arn:{}:iam::{account}:root", partition(region))},
                "Action": "kms:*",
                "Resource": "*"
            },
            {
                "Sid": "ClusterRolesUseTheKey",
                "Effect": "Allow",
                "Principal": {"AWS": users},
                "Action": ["kms:Encrypt", "kms:Decrypt", "kms:DescribeKey", "kms:CreateGrant"],
                "Resource": "*"
            },
            {
                "Sid": "TheCallerSetsUpAndRetiresTheKey",
                "Effect": "Allow",
                "Principal": {"AWS": caller},
                "Action": KEY_CALLER_ACTIONS,
                "Resource": "*"
            }
        ]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope() -> CreatorScope<'static> {
        CreatorScope {
            region: "us-west-2",
            account: "123456789012",
            cluster: "demo",
            cluster_role_arn: "arn:aws:iam::123456789012:role/demo-cluster",
            node_role_arn: Some("arn:aws:iam::123456789012:role/demo-node"),
            key_arn: Some("arn:aws:kms:us-west-2:123456789012:key/k-1"),
            oidc_provider: true,
            launch_template_arn: Some("arn:aws:ec2:us-west-2:123456789012:launch-template/lt-0abc"),
        }
    }

    fn statements(doc: &Value) -> &Vec<Value> {
        doc["Statement"].as_array().unwrap()
    }

    fn actions(statement: &Value) -> Vec<String> {
        match &statement["Action"] {
            Value::String(a) => vec![a.clone()],
            Value::Array(a) => a.iter().map(|v| v.as_str().unwrap().to_string()).collect(),
            other => panic!("bad Action {other}"),
        }
    }

    #[test]
    fn creator_policy_has_no_service_wide_wildcards() {
        let doc = creator_inline_policy(&scope());
        // It is valid JSON that round-trips.
        let text = serde_json::to_string(&doc).unwrap();
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), doc);
        for statement in statements(&doc) {
            for action in actions(statement) {
                assert!(!action.contains('*'), "wildcard action {action}");
            }
        }
    }

    #[test]
    fn star_resources_are_only_where_aws_cannot_scope_and_then_conditioned_or_read_only() {
        let doc = creator_inline_policy(&scope());
        for statement in statements(&doc) {
            if statement["Resource"] == "*" {
                let acts = actions(statement);
                let read_only = acts
                    .iter()
                    .all(|a| a.starts_with("ec2:Describe") || a.starts_with("eks:Describe"));
                assert!(
                    !acts
                        .iter()
                        .any(|a| a == "ec2:RunInstances" || a == "ec2:CreateTags"),
                    "RunInstances and its tags are scoped by resource type: {statement}"
                );
                let conditioned = statement["Condition"]["StringEquals"]
                    ["aws:RequestTag/eksboot:cluster"]
                    == "demo";
                assert!(read_only || conditioned, "unscoped statement {statement}");
            }
        }
    }

    #[test]
    fn eks_actions_use_the_arn_type_they_take() {
        let doc = creator_inline_policy(&scope());
        let find = |action: &str| {
            statements(&doc)
                .iter()
                .find(|s| actions(s).iter().any(|a| a == action))
                .unwrap_or_else(|| panic!("{action} missing"))
                .clone()
        };
        assert_eq!(
            find("eks:DescribeCluster")["Resource"],
            "arn:aws:eks:us-west-2:123456789012:cluster/demo"
        );
        let parts = find("eks:DescribeNodegroup")["Resource"].clone();
        assert!(parts.as_array().unwrap().contains(&json!(
            "arn:aws:eks:us-west-2:123456789012:nodegroup/demo/*"
        )));
        assert!(parts.as_array().unwrap().contains(&json!(
            "arn:aws:eks:us-west-2:123456789012:access-entry/demo/*"
        )));
        let pass = find("iam:PassRole");
        assert_eq!(pass["Resource"].as_array().unwrap().len(), 2);
        assert_eq!(
            pass["Condition"]["StringEquals"]["iam:PassedToService"],
            json!(["eks.amazonaws.com", "ec2.amazonaws.com"])
        );
        assert_eq!(
            find("kms:CreateGrant")["Resource"],
            "arn:aws:kms:us-west-2:123456789012:key/k-1"
        );
        let slr = find("iam:CreateServiceLinkedRole");
        assert!(slr["Resource"][0]
            .as_str()
            .unwrap()
            .ends_with("eks.amazonaws.com/AWSServiceRoleForAmazonEKS"));
    }

    #[test]
    fn nodes_may_be_launched_with_this_template_only() {
        let doc = creator_inline_policy(&scope());
        let run = statements(&doc)
            .iter()
            .find(|st| st["Action"] == "ec2:RunInstances" && st["Effect"] == "Allow")
            .expect("a RunInstances statement");
        assert_eq!(
            run["Condition"]["ArnLike"]["ec2:LaunchTemplate"],
            "arn:aws:ec2:us-west-2:123456789012:launch-template/lt-0abc"
        );
        let tags = statements(&doc)
            .iter()
            .find(|st| st["Action"] == "ec2:CreateTags")
            .expect("a CreateTags statement");
        assert_eq!(
            tags["Condition"]["StringEquals"]["ec2:CreateAction"],
            "RunInstances"
        );
        let mut s = scope();
        s.launch_template_arn = None;
        let text = creator_inline_policy(&s).to_string();
        assert!(!text.contains("RunInstances"), "{text}");
    }

    #[test]
    fn partitions_name_their_own_arns_hosts_and_principals() {
        for (region, partition, suffix) in [
            ("us-west-2", "aws", "amazonaws.com"),
            ("cn-north-1", "aws-cn", "amazonaws.com.cn"),
            ("us-gov-west-1", "aws-us-gov", "amazonaws.com"),
        ] {
            assert_eq!(
                cluster_admin_access_policy(region),
                format!(
                    "arn:{partition}:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
                )
            );
            assert_eq!(sts_host(region), format!("sts.{region}.{suffix}"));
            assert_eq!(service_principal(region, "ec2"), format!("ec2.{suffix}"));
            assert_eq!(service_principal(region, "eks"), "eks.amazonaws.com");
            let node_trust = service_trust_policy(region, "ec2");
            assert_eq!(
                statements(&node_trust)[0]["Principal"]["Service"],
                format!("ec2.{suffix}")
            );
            let s = CreatorScope { region, ..scope() };
            let doc = creator_inline_policy(&s);
            let oidc = statements(&doc)
                .iter()
                .find(|st| st["Sid"] == "RegisterThisClustersOidcIssuer")
                .unwrap();
            assert_eq!(
                oidc["Resource"],
                format!("arn:{partition}:iam::123456789012:oidc-provider/oidc.eks.{region}.{suffix}/id/*")
            );
            let pass = statements(&doc)
                .iter()
                .find(|st| st["Action"] == "iam:PassRole")
                .unwrap();
            assert_eq!(
                pass["Condition"]["StringEquals"]["iam:PassedToService"],
                json!(["eks.amazonaws.com", format!("ec2.{suffix}")])
            );
            let trust = creator_trust_policy(region, "123456789012", &[]);
            assert_eq!(
                statements(&trust)[0]["Principal"]["AWS"],
                format!("arn:{partition}:iam::123456789012:root")
            );
        }
    }

    #[test]
    fn oidc_registration_only_when_asked_removal_always() {
        let mut s = scope();
        s.oidc_provider = false;
        let doc = creator_inline_policy(&s);
        let all: Vec<String> = statements(&doc).iter().flat_map(actions).collect();
        assert!(!all.iter().any(|a| a == "iam:CreateOpenIDConnectProvider"));
        assert!(!all.iter().any(|a| a == "iam:TagOpenIDConnectProvider"));
        // apply retires a provider the new profile dropped, as the creator, under this policy.
        let remove = statements(&doc)
            .iter()
            .find(|st| st["Action"] == "iam:DeleteOpenIDConnectProvider")
            .expect("deleting stays granted");
        assert_eq!(
            remove["Condition"]["StringEquals"]["aws:ResourceTag/eksboot:cluster"],
            "demo"
        );
        s.node_role_arn = None;
        let doc = creator_inline_policy(&s);
        let pass = statements(&doc)
            .iter()
            .find(|st| st["Action"] == "iam:PassRole")
            .unwrap();
        assert_eq!(pass["Resource"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn trust_policies_name_exactly_who_may_assume() {
        let doc = creator_trust_policy(
            "us-west-2",
            "123456789012",
            &["arn:aws:iam::123456789012:user/alice".into()],
        );
        let st = &statements(&doc)[0];
        assert_eq!(st["Principal"]["AWS"], "arn:aws:iam::123456789012:root");
        assert_eq!(
            st["Condition"]["ArnEquals"]["aws:PrincipalArn"],
            json!(["arn:aws:iam::123456789012:user/alice"])
        );
        let eks = service_trust_policy("us-west-2", "eks");
        assert_eq!(
            statements(&eks)[0]["Action"],
            json!(["sts:AssumeRole", "sts:TagSession"])
        );
        let ec2 = service_trust_policy("us-west-2", "ec2");
        assert_eq!(
            statements(&ec2)[0]["Principal"]["Service"],
            "ec2.amazonaws.com"
        );
        assert_eq!(statements(&ec2)[0]["Action"], json!(["sts:AssumeRole"]));
    }

    #[test]
    fn key_policy_lets_the_account_administer_our_roles_use_and_the_caller_tag() {
        let users = vec![
            "arn:aws:iam::123456789012:role/demo-creator".to_string(),
            "arn:aws:iam::123456789012:role/demo-cluster".to_string(),
        ];
        let caller = "arn:aws:iam::123456789012:role/team/Admin";
        let doc = key_policy("us-west-2", "123456789012", &users, caller);
        let st = statements(&doc);
        assert_eq!(st.len(), 3);
        // The lockout check at CreateKey: the account (so IAM) may still PutKeyPolicy.
        assert_eq!(st[0]["Principal"]["AWS"], "arn:aws:iam::123456789012:root");
        assert_eq!(st[0]["Action"], "kms:*");
        assert_eq!(st[1]["Principal"]["AWS"], json!(users));
        assert_eq!(
            st[1]["Action"],
            json!([
                "kms:Encrypt",
                "kms:Decrypt",
                "kms:DescribeKey",
                "kms:CreateGrant"
            ])
        );
        // The caller, named with its path, may tag this key (and only this key: "*" in a key
        // policy is the key) and retire it; it may not use it, nor replace its policy.
        assert_eq!(st[2]["Principal"]["AWS"], caller);
        assert_eq!(st[2]["Resource"], "*");
        let acts = actions(&st[2]);
        assert!(acts.contains(&"kms:TagResource".to_string()));
        assert!(acts.contains(&"kms:ScheduleKeyDeletion".to_string()));
        for never in [
            "kms:PutKeyPolicy",
            "kms:Decrypt",
            "kms:CreateGrant",
            "kms:*",
        ] {
            assert!(!acts.contains(&never.to_string()), "{never}");
        }
        assert!(st[2].get("Condition").is_none());
        let cn = key_policy("cn-north-1", "123456789012", &users, caller);
        assert_eq!(
            statements(&cn)[0]["Principal"]["AWS"],
            "arn:aws-cn:iam::123456789012:root"
        );
    }

    #[test]
    fn add_on_roles_are_trusted_by_pod_identity_and_passed_to_it_only() {
        let trust = pod_identity_trust_policy();
        let st = &statements(&trust)[0];
        assert_eq!(st["Principal"]["Service"], "pods.eks.amazonaws.com");
        assert_eq!(st["Action"], json!(["sts:AssumeRole", "sts:TagSession"]));
        assert!(st.get("Condition").is_none());

        let roles = vec![
            "arn:aws:iam::123456789012:role/demo-vpc-cni".to_string(),
            "arn:aws:iam::123456789012:role/demo-ebs-csi".to_string(),
        ];
        let doc = creator_policy_with_addon_roles(&scope(), &roles);
        let pass = statements(&doc)
            .iter()
            .find(|st| st["Sid"] == "PassOnlyAddonRolesToPodIdentity")
            .expect("PassRole of the add-on roles");
        assert_eq!(pass["Resource"], json!(roles));
        assert_eq!(
            pass["Condition"]["StringEquals"]["iam:PassedToService"],
            "pods.eks.amazonaws.com"
        );
        // The cluster and node roles still go to EKS and EC2 only.
        let others = statements(&doc)
            .iter()
            .find(|st| st["Sid"] == "PassOnlyOurRolesToEks")
            .unwrap();
        assert!(!others.to_string().contains("vpc-cni"));
        let identities = statements(&doc)
            .iter()
            .find(|st| st["Sid"] == "ManageThisClustersAddonIdentities")
            .unwrap();
        assert!(identities["Resource"].as_array().unwrap().contains(&json!(
            "arn:aws:eks:us-west-2:123456789012:podidentityassociation/demo/*"
        )));
        assert!(actions(identities).contains(&"eks:CreateAddon".to_string()));
        // No add-on role: nothing passed; deleting an add-on (and its associations) stays.
        let none = creator_policy_with_addon_roles(&scope(), &[]);
        assert!(!none.to_string().contains("pods.eks.amazonaws.com"));
        let left = statements(&none)
            .iter()
            .find(|st| st["Sid"] == "ManageThisClustersAddonIdentities")
            .unwrap();
        assert!(!actions(left).contains(&"eks:CreateAddon".to_string()));
        assert!(actions(left).contains(&"eks:DeleteAddon".to_string()));
    }

    #[test]
    fn the_node_role_keeps_the_cni_s_policy_only_while_the_cni_has_no_role() {
        let profile = |extra: &str| {
            crate::profile::Profile::parse(
                &format!("[cluster]\nname = \"demo\"\nregion = \"us-west-2\"\n{extra}"),
                std::path::Path::new("t.toml"),
            )
            .unwrap()
        };
        // The default add-ons include the agent: Pod Identity, the CNI with its own role.
        let pods = profile("");
        assert!(!node_role_policies(&pods).contains(&CNI_POLICY));
        assert_eq!(node_role_policies(&pods).len(), 3);
        assert_eq!(
            addon_role_arns(&pods, "123456789012"),
            ["arn:aws:iam::123456789012:role/demo-vpc-cni"]
        );
        let node = profile("[security]\naddon_permissions = \"node-role\"");
        assert_eq!(node_role_policies(&node), NODE_ROLE_POLICIES.to_vec());
        assert!(addon_role_arns(&node, "123456789012").is_empty());
        // Pod Identity without vpc-cni listed: EKS's own CNI runs on the node role's.
        let no_cni = profile("addons = [\"coredns\", \"eks-pod-identity-agent\"]");
        assert!(node_role_policies(&no_cni).contains(&CNI_POLICY));
    }

    #[test]
    fn caller_arns_normalise_to_iam_principals() {
        assert_eq!(
            caller_principal_arn("arn:aws:sts::123456789012:assumed-role/Admin/alice", None),
            "arn:aws:iam::123456789012:role/Admin"
        );
        assert_eq!(
            caller_principal_arn(
                "arn:aws:sts::123456789012:assumed-role/Admin/alice",
                Some("/team/")
            ),
            "arn:aws:iam::123456789012:role/team/Admin"
        );
        assert_eq!(
            caller_principal_arn("arn:aws:sts::123456789012:user/moto", None),
            "arn:aws:iam::123456789012:user/moto"
        );
        assert_eq!(
            caller_principal_arn("arn:aws:iam::123456789012:user/ops/bob", None),
            "arn:aws:iam::123456789012:user/ops/bob"
        );
        assert_eq!(partition("cn-north-1"), "aws-cn");
        assert_eq!(
            managed_policy_arn("us-gov-west-1", "AmazonEKSClusterPolicy"),
            "arn:aws-us-gov:iam::aws:policy/AmazonEKSClusterPolicy"
        );
        assert_eq!(
            managed_policy_arn("us-west-2", "AmazonEBSCSIDriverPolicy"),
            "arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"
        );
    }
}
