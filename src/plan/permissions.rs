//! The IAM policy the identity running eksboot needs (`eksboot permissions`). Pure.
//!
//! It covers every call eksboot makes with your own credentials for one cluster: preflight and
//! the wizard's look-around, create and resume, status and teardown. Calls made as the creator
//! role are not here: that role's own policy ([`super::iam::creator_inline_policy`]) grants
//! them. Everything is scoped to this cluster's role names, key alias, log group and
//! `eksboot:cluster` tag wherever AWS lets a resource or condition say so; `Resource: "*"`
//! remains only for reads and for creations AWS can scope by request tag alone.

use serde_json::{json, Value};

use super::iam::{
    cluster_role_policies, eks_issuer_pattern, managed_policy_arn, node_role_policies, partition,
    role_arn, CLUSTER_TAG,
};
use crate::profile::{Pattern, Profile};

/// The EC2 resource types eksboot creates, each tagged for the cluster at creation.
const EC2_CREATED_TYPES: [&str; 9] = [
    "vpc",
    "subnet",
    "internet-gateway",
    "route-table",
    "elastic-ip",
    "natgateway",
    "security-group",
    "vpc-endpoint",
    "launch-template",
];

/// EC2 actions that create a resource, each sent with this cluster's tags.
const EC2_CREATE_ACTIONS: [&str; 9] = [
    "ec2:CreateVpc",
    "ec2:CreateSubnet",
    "ec2:CreateInternetGateway",
    "ec2:CreateRouteTable",
    "ec2:AllocateAddress",
    "ec2:CreateNatGateway",
    "ec2:CreateSecurityGroup",
    "ec2:CreateVpcEndpoint",
    "ec2:CreateLaunchTemplate",
];

/// What the caller's policy is about: one cluster in one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerScope<'a> {
    pub profile: &'a Profile,
    /// The account id, or `*` when it is not known (the policy then fits any account).
    pub account: &'a str,
    /// The state's address when `--state s3://…` names it; else the profile's `state`, if any.
    pub state: Option<&'a crate::profile::state::S3Location>,
}

/// The names and ARNs the caller's policy is written about, computed once.
struct CallerNames<'a> {
    s: &'a CallerScope<'a>,
    region: &'a str,
    part: &'static str,
    account: &'a str,
    cluster: &'a str,
    boundary: Option<&'a str>,
    creator_arn: String,
    key_pattern: String,
    alias_arn: String,
    log_group: String,
    load_balancers: String,
    target_groups: String,
    issuers: String,
}

impl<'a> CallerNames<'a> {
    fn new(s: &'a CallerScope<'a>) -> CallerNames<'a> {
        let p = s.profile;
        let region = p.cluster.region.as_str();
        let part = partition(region);
        let account = s.account;
        let cluster = p.cluster.name.as_str();
        let creator_arn = match p.security.creator_role.existing_arn() {
            Some(arn) => arn.to_string(),
            None => role_arn(region, account, &format!("{cluster}-creator")),
        };
        let elb = format!("arn:{part}:elasticloadbalancing:{region}:{account}");
        CallerNames {
            s,
            region,
            part,
            account,
            cluster,
            boundary: p.security.permissions_boundary.as_deref(),
            creator_arn,
            key_pattern: format!("arn:{part}:kms:{region}:{account}:key/*"),
            alias_arn: format!("arn:{part}:kms:{region}:{account}:alias/eksboot/{cluster}"),
            log_group: format!(
                "arn:{part}:logs:{region}:{account}:log-group:/aws/eks/{cluster}/cluster"
            ),
            load_balancers: format!("{elb}:loadbalancer/*"),
            target_groups: format!("{elb}:targetgroup/*"),
            issuers: eks_issuer_pattern(region, account),
        }
    }

    /// A condition: the key equals this cluster's name.
    fn tagged(&self, key: &str) -> Value {
        json!({"StringEquals": {key: self.cluster}})
    }

    /// One of this cluster's role ARNs, by its suffix (`cluster`, `node`, ...).
    fn role(&self, suffix: &str) -> String {
        role_arn(
            self.region,
            self.account,
            &format!("{}-{suffix}", self.cluster),
        )
    }

    fn eks(&self, resource: &str) -> String {
        format!(
            "arn:{}:eks:{}:{}:{resource}",
            self.part, self.region, self.account
        )
    }

    fn ec2(&self, resource: &str) -> String {
        format!(
            "arn:{}:ec2:{}:{}:{resource}",
            self.part, self.region, self.account
        )
    }

    /// With a boundary, a role may be created or given permissions only while it carries it.
    fn with_boundary(&self, condition: Value) -> Value {
        let mut condition = condition;
        if let Some(b) = self.boundary {
            let map = condition.as_object_mut().expect("a condition object");
            let equals = map
                .entry("StringEquals")
                .or_insert_with(|| json!({}))
                .as_object_mut()
                .expect("StringEquals is an object");
            equals.insert("iam:PermissionsBoundary".into(), json!(b));
        }
        condition
    }
}

/// A statement with its condition, when there is one.
fn conditioned(st: Value, condition: Value) -> Value {
    let mut st = st;
    if condition.as_object().is_some_and(|m| !m.is_empty()) {
        st["Condition"] = condition;
    }
    st
}

/// The identity policy the person (or pipeline) running eksboot needs for this profile.
///
/// What a profile's switches (nodes, the OIDC provider) turn off is still deletable: `apply`
/// retires what a change drops after the policy for the new profile is in force, and those
/// grants name only this cluster's roles, tags and issuers. With
/// `security.permissions_boundary`, every role eksboot creates or changes must carry that
/// boundary, and the boundary itself can be neither removed from them nor edited.
pub fn caller_policy(s: &CallerScope) -> Value {
    let n = CallerNames::new(s);
    let mut statements = network_statements(&n);
    statements.extend(role_statements(&n));
    statements.extend(cluster_statements(&n));
    if s.profile.auto_mode() {
        statements.extend(auto_mode_teardown_statements(s, n.cluster));
    }
    statements.extend(optional_statements(&n));
    statements.extend(shared_state_statements(&n));
    json!({"Version": "2012-10-17", "Statement": statements})
}

/// With `state = "s3://BUCKET/PREFIX"`: the state object and its lock (read, conditional writes,
/// delete), ListBucket for those two keys only (without it S3 answers a missing state with 403
/// instead of 404), and the bucket settings preflight reads. The bucket's default encryption
/// applies (SSE-S3, or the KMS key the bucket names, whose use its key policy grants).
fn shared_state_statements(n: &CallerNames) -> Vec<Value> {
    use crate::profile::state::S3Location;
    let location = match (n.s.state, n.s.profile.state.as_deref()) {
        (Some(location), _) => location.clone(),
        (None, Some(prefix)) => {
            let address = S3Location::under_prefix(prefix, n.cluster, n.region);
            let Some(Ok(location)) = S3Location::parse(&address) else {
                return Vec::new();
            };
            location
        }
        (None, None) => return Vec::new(),
    };
    let bucket = format!("arn:{}:s3:::{}", n.part, location.bucket);
    let lock = location.lock_key();
    let mut statements = vec![
        json!({
            "Sid": "SharedStateObjects",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
            "Resource": [format!("{bucket}/{}", location.key), format!("{bucket}/{lock}")]
        }),
        json!({
            "Sid": "SharedStateListOwnKeys",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": bucket,
            "Condition": {"StringEquals": {"s3:prefix": [location.key, lock]}}
        }),
        json!({
            "Sid": "SharedStateBucketSettings",
            "Effect": "Allow",
            "Action": [
                "s3:GetBucketLocation",
                "s3:GetBucketPublicAccessBlock",
                "s3:GetBucketVersioning"
            ],
            "Resource": bucket
        }),
    ];
    if let Some(key) = &n.s.profile.state_kms_key {
        statements.push(state_key_statement(key));
    }
    statements
}

/// With `state_kms_key`: S3 asks KMS for a data key when it writes the state or lock and to
/// decrypt when it reads them, on the caller's behalf
/// (https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html): only through
/// S3 in the key's region. Which objects is bounded by the S3 grants above; a condition on S3's
/// encryption context (`kms:EncryptionContext:aws:s3:arn`) would narrow it further, but the IAM
/// evaluator the tests prove policies with cannot carry that key, and an unproven grant is not
/// printed.
fn state_key_statement(key: &str) -> Value {
    let key_region = key.split(':').nth(3).unwrap_or_default();
    json!({
        "Sid": "SharedStateKey",
        "Effect": "Allow",
        "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
        "Resource": key,
        "Condition": {"StringEquals": {
            "kms:ViaService": format!("s3.{key_region}.amazonaws.com")
        }}
    })
}

/// Every read eksboot makes, on any resource (reads have none to scope to).
fn read_actions(n: &CallerNames) -> Vec<&'static str> {
    let mut read_actions = vec![
        "ec2:DescribeRegions",
        "ec2:DescribeAvailabilityZones",
        "ec2:DescribeVpcs",
        "ec2:DescribeSubnets",
        "ec2:DescribeAddresses",
        "ec2:DescribeInternetGateways",
        "ec2:DescribeRouteTables",
        "ec2:DescribeNatGateways",
        "ec2:DescribeSecurityGroups",
        "ec2:DescribeVpcEndpoints",
        "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeLaunchTemplates",
        "ec2:DescribeLaunchTemplateVersions",
        "ec2:DescribeVolumes",
        "eks:DescribeClusterVersions",
        "eks:DescribeAddonVersions",
        "eks:ListClusters",
        "iam:ListRoles",
        "iam:ListUsers",
        "iam:ListOpenIDConnectProviders",
        "kms:ListKeys",
        "logs:DescribeLogGroups",
        "elasticloadbalancing:DescribeLoadBalancers",
        "elasticloadbalancing:DescribeTags",
        "elasticloadbalancing:DescribeTargetGroups",
        "servicequotas:GetServiceQuota",
    ];
    if n.s.profile.network.pattern == Pattern::Private {
        read_actions.push("ec2:DescribeVpcEndpointServices");
    }
    if n.boundary.is_some() {
        // Preflight asks IAM whether the boundary allows what the creator needs.
        read_actions.push("iam:SimulateCustomPolicy");
    }
    read_actions.sort_unstable();

    read_actions
}

/// The managed policies eksboot's roles get, the roles this profile makes, and the roles
/// eksboot may delete: a node role stays deletable with nodes turned off (`apply` retires it
/// under the new profile's policy), and every add-on role name (teardown finds them by name).
fn roles_and_policies(n: &CallerNames) -> (Vec<String>, Vec<String>, Vec<String>) {
    let (p, region, cluster) = (n.s.profile, n.region, n.cluster);
    let creates_creator = p.security.creator_role.existing_arn().is_none();
    let role = |suffix: &str| n.role(suffix);
    let mut managed: Vec<String> = cluster_role_policies(p)
        .iter()
        .map(|n| managed_policy_arn(region, n))
        .collect();
    // The roles this profile makes, and the roles eksboot may delete: a node role stays
    // deletable with nodes turned off (`apply` retires it under the new profile's policy).
    let mut made_roles = vec![role("cluster")];
    let mut own_roles = vec![role("cluster"), role("node")];
    if p.has_nodes() {
        made_roles.push(role("node"));
        managed.extend(
            node_role_policies(p)
                .iter()
                .map(|n| managed_policy_arn(region, n)),
        );
    }
    // A role per add-on through Pod Identity, with its managed policy. Every add-on role name
    // stays deletable (`apply` retires one whose add-on left, teardown finds them by name).
    for (addon, policy) in p.addon_roles() {
        if let Some(suffix) = super::addon_role_name(cluster, addon)
            .and_then(|n| n.strip_prefix(&format!("{cluster}-")).map(str::to_string))
        {
            made_roles.push(role(&suffix));
        }
        let arn = managed_policy_arn(region, policy);
        if !managed.contains(&arn) {
            managed.push(arn);
        }
    }
    own_roles.extend(super::addon_role_suffixes().map(role));
    if creates_creator {
        made_roles.insert(0, role("creator"));
        own_roles.insert(0, role("creator"));
    }
    (managed, made_roles, own_roles)
}

/// Reads, and the network eksboot makes: created with its tags, used and deleted by them.
fn network_statements(n: &CallerNames) -> Vec<Value> {
    let (part, account) = (n.part, n.account);
    let ec2 = |resource: &str| n.ec2(resource);
    let tagged = |key: &str| n.tagged(key);
    let read_actions = read_actions(n);
    vec![
        json!({
            "Sid": "ReadAccount",
            "Effect": "Allow",
            "Action": read_actions,
            "Resource": "*"
        }),
        // Reading a role includes which policies it has (teardown lists them to detach them).
        json!({
            "Sid": "ReadPrincipals",
            "Effect": "Allow",
            "Action": [
                "iam:GetRole", "iam:GetUser", "iam:ListRolePolicies",
                "iam:ListAttachedRolePolicies"
            ],
            "Resource": [
                format!("arn:{part}:iam::{account}:role/*"),
                format!("arn:{part}:iam::{account}:user/*")
            ]
        }),
        json!({
            "Sid": "CreateNetworkTagged",
            "Effect": "Allow",
            "Action": EC2_CREATE_ACTIONS,
            "Resource": EC2_CREATED_TYPES
                .iter()
                .map(|t| ec2(&format!("{t}/*")))
                .collect::<Vec<_>>(),
            "Condition": tagged(&format!("aws:RequestTag/{CLUSTER_TAG}"))
        }),
        json!({
            "Sid": "TagOnCreate",
            "Effect": "Allow",
            "Action": "ec2:CreateTags",
            "Resource": "*",
            "Condition": {"StringEquals": {"ec2:CreateAction": EC2_CREATE_ACTIONS
                .iter()
                .map(|a| a.trim_start_matches("ec2:"))
                .collect::<Vec<_>>()}}
        }),
        json!({
            "Sid": "UseOwnNetwork",
            "Effect": "Allow",
            "Action": [
                "ec2:CreateSubnet", "ec2:CreateRouteTable", "ec2:CreateSecurityGroup",
                "ec2:CreateNatGateway", "ec2:CreateVpcEndpoint", "ec2:ModifyVpcAttribute",
                "ec2:ModifySubnetAttribute", "ec2:AttachInternetGateway",
                "ec2:DetachInternetGateway", "ec2:AssociateRouteTable",
                "ec2:DisassociateRouteTable", "ec2:CreateRoute",
                "ec2:AuthorizeSecurityGroupIngress", "ec2:DeleteSubnet", "ec2:DeleteVpc",
                "ec2:DeleteRouteTable", "ec2:DeleteInternetGateway", "ec2:DeleteNatGateway",
                "ec2:ReleaseAddress", "ec2:DeleteSecurityGroup", "ec2:DeleteVpcEndpoints",
                "ec2:DeleteLaunchTemplate", "ec2:CreateLaunchTemplateVersion"
            ],
            "Resource": "*",
            "Condition": tagged(&format!("aws:ResourceTag/{CLUSTER_TAG}"))
        }),
        // The VPC CNI tags the interfaces it makes `cluster.k8s.amazonaws.com/name`. An
        // interface carries no tag of its VPC, and `ec2:Vpc` holds the VPC's ARN, unknown
        // before create (IAM has no "parent's tag" key): the CNI's own tag is the tightest
        // scope AWS offers. Interfaces of an older CNI without that tag are named by teardown
        // for you to delete, not deleted.
        json!({
            "Sid": "DeleteCniInterfaces",
            "Effect": "Allow",
            "Action": "ec2:DeleteNetworkInterface",
            "Resource": ec2("network-interface/*"),
            "Condition": tagged("aws:ResourceTag/cluster.k8s.amazonaws.com/name")
        }),
    ]
}

/// The roles eksboot makes and may delete, with the managed policies they get.
fn role_statements(n: &CallerNames) -> Vec<Value> {
    let (managed, made_roles, own_roles) = roles_and_policies(n);
    let boundary = n.boundary;
    let with_boundary = |condition: Value| n.with_boundary(condition);
    vec![
        json!({
            "Sid": "UpdateRoles",
            "Effect": "Allow",
            "Action": ["iam:TagRole", "iam:UpdateAssumeRolePolicy"],
            "Resource": made_roles.clone()
        }),
        conditioned(
            json!({
                "Sid": "CreateRoles",
                "Effect": "Allow",
                "Action": if boundary.is_some() {
                    json!(["iam:CreateRole", "iam:PutRolePermissionsBoundary"])
                } else {
                    json!("iam:CreateRole")
                },
                "Resource": made_roles.clone()
            }),
            with_boundary(json!({})),
        ),
        json!({
            "Sid": "AttachEksPolicies",
            "Effect": "Allow",
            "Action": "iam:AttachRolePolicy",
            "Resource": made_roles,
            "Condition": with_boundary(json!({"ArnEquals": {"iam:PolicyARN": managed}}))
        }),
        // Both take iam:PermissionsBoundary: with a boundary, only a role carrying it.
        conditioned(
            json!({
                "Sid": "DeleteRoles",
                "Effect": "Allow",
                "Action": ["iam:DetachRolePolicy", "iam:DeleteRole"],
                "Resource": own_roles.clone()
            }),
            with_boundary(json!({})),
        ),
    ]
}

/// The log group, the creator role, the keys' reads, the cluster's parts, what Kubernetes made for
/// it, and the region's EKS issuers.
fn cluster_statements(n: &CallerNames) -> Vec<Value> {
    let (cluster, creator_arn) = (n.cluster, n.creator_arn.clone());
    let (log_group, key_pattern) = (n.log_group.clone(), n.key_pattern.clone());
    let (load_balancers, target_groups) = (n.load_balancers.clone(), n.target_groups.clone());
    let issuers = n.issuers.clone();
    let eks = |resource: &str| n.eks(resource);
    let ec2 = |resource: &str| n.ec2(resource);
    let tagged = |key: &str| n.tagged(key);
    let role = |suffix: &str| n.role(suffix);
    vec![
        json!({
            "Sid": "LogGroup",
            "Effect": "Allow",
            "Action": [
                "logs:CreateLogGroup", "logs:TagResource", "logs:PutRetentionPolicy",
                "logs:DeleteLogGroup"
            ],
            "Resource": [log_group.clone(), format!("{log_group}:*")]
        }),
        json!({
            "Sid": "AssumeCreator",
            "Effect": "Allow",
            "Action": "sts:AssumeRole",
            "Resource": creator_arn
        }),
        json!({
            "Sid": "ReadKeys",
            "Effect": "Allow",
            "Action": ["kms:DescribeKey", "kms:ListResourceTags"],
            "Resource": key_pattern.clone()
        }),
        json!({
            "Sid": "EksCluster",
            "Effect": "Allow",
            "Action": [
                "eks:DescribeCluster", "eks:ListNodegroups", "eks:ListAddons",
                "eks:ListAccessEntries", "eks:DeleteCluster", "eks:ListInsights",
                "eks:DescribeInsight", "eks:StartInsightsRefresh", "eks:DescribeInsightsRefresh"
            ],
            "Resource": eks(&format!("cluster/{cluster}"))
        }),
        json!({
            "Sid": "EksClusterParts",
            "Effect": "Allow",
            "Action": [
                "eks:DescribeNodegroup", "eks:DeleteNodegroup", "eks:DescribeAddon",
                "eks:DeleteAddon", "eks:DeleteAccessEntry"
            ],
            // DeleteAddon is authorized on the pod identity associations the add-on owns too
            // (they go with it).
            "Resource": [
                eks(&format!("nodegroup/{cluster}/*")),
                eks(&format!("addon/{cluster}/*")),
                eks(&format!("access-entry/{cluster}/*")),
                eks(&format!("podidentityassociation/{cluster}/*"))
            ]
        }),
        // What Kubernetes made for this cluster's Services: load balancers with their
        // `k8s-elb-…` security groups (tagged `kubernetes.io/cluster/NAME=owned`), and the Load
        // Balancer Controller's load balancers and groups (its own tag). They carry
        // Kubernetes' tags, not eksboot's: teardown --force deletes them. And what outlives
        // the VPC, found by teardown wherever it is: the EBS volumes of PersistentVolumeClaims,
        // which the EBS CSI driver with its cluster id set (and the in-tree provisioner) tags
        // `kubernetes.io/cluster/NAME=owned` and `KubernetesCluster=NAME`; the target groups
        // of an in-tree NLB Service (the first tag) and of the Load Balancer Controller (its
        // own tag). One statement per tag names every action and resource type: each action
        // is authorized on its own resource type only (DeleteVolume on a volume's ARN,
        // DeleteTargetGroup on a target group's, …), so this grants exactly what one statement
        // per action would, in fewer characters.
        json!({
            "Sid": "DeleteK8sOwned",
            "Effect": "Allow",
            "Action": [
                "elasticloadbalancing:DeleteLoadBalancer", "ec2:DeleteSecurityGroup",
                "ec2:DeleteVolume", "elasticloadbalancing:DeleteTargetGroup"
            ],
            "Resource": [
                load_balancers.clone(), ec2("security-group/*"), ec2("volume/*"),
                target_groups.clone()
            ],
            "Condition": {"StringEquals": {format!("aws:ResourceTag/kubernetes.io/cluster/{cluster}"): "owned"}}
        }),
        json!({
            "Sid": "DeleteLbcOwned",
            "Effect": "Allow",
            "Action": [
                "elasticloadbalancing:DeleteLoadBalancer", "ec2:DeleteSecurityGroup",
                "elasticloadbalancing:DeleteTargetGroup"
            ],
            "Resource": [load_balancers, ec2("security-group/*"), target_groups],
            "Condition": tagged("aws:ResourceTag/elbv2.k8s.aws/cluster")
        }),
        json!({
            "Sid": "DeleteK8sClusterVolumes",
            "Effect": "Allow",
            "Action": "ec2:DeleteVolume",
            "Resource": ec2("volume/*"),
            "Condition": tagged("aws:ResourceTag/KubernetesCluster")
        }),
        // Teardown looks for instance profiles holding the node role before deleting it (IAM
        // refuses to delete a role still in one): a list on that role only.
        json!({
            "Sid": "ListNodeRoleInstanceProfiles",
            "Effect": "Allow",
            "Action": "iam:ListInstanceProfilesForRole",
            "Resource": role("node")
        }),
        // Status, plan --live and teardown read the region's EKS issuers (never another
        // provider of the account); the one tagged for this cluster may be deleted, whether
        // or not the profile still asks for it.
        json!({
            "Sid": "ReadEksIssuers",
            "Effect": "Allow",
            "Action": ["iam:GetOpenIDConnectProvider", "iam:ListOpenIDConnectProviderTags"],
            "Resource": issuers.clone()
        }),
        json!({
            "Sid": "DeleteOidcIssuer",
            "Effect": "Allow",
            "Action": "iam:DeleteOpenIDConnectProvider",
            "Resource": issuers,
            "Condition": tagged(&format!("aws:ResourceTag/{CLUSTER_TAG}"))
        }),
    ]
}

/// What only some profiles need: the creator role's policy, the key, the boundary, private DNS.
fn optional_statements(n: &CallerNames) -> Vec<Value> {
    let (part, account, cluster, boundary) = (n.part, n.account, n.cluster, n.boundary);
    let (key_pattern, alias_arn) = (n.key_pattern.clone(), n.alias_arn.clone());
    let creates_creator = n.s.profile.security.creator_role.existing_arn().is_none();
    let creates_key = n.s.profile.security.secrets_key.existing_arn().is_none();
    let with_boundary = |condition: Value| n.with_boundary(condition);
    let tagged = |key: &str| n.tagged(key);
    let role = |suffix: &str| n.role(suffix);
    let mut statements = Vec::new();
    if creates_creator {
        statements.push(conditioned(
            json!({
                "Sid": "WriteCreatorPolicy",
                "Effect": "Allow",
                "Action": "iam:PutRolePolicy",
                "Resource": role("creator")
            }),
            with_boundary(json!({})),
        ));
        statements.push(json!({
            "Sid": "RemoveCreatorPolicy",
            "Effect": "Allow",
            "Action": ["iam:GetRolePolicy", "iam:DeleteRolePolicy"],
            "Resource": role("creator")
        }));
    }
    if creates_key {
        // eksboot creates the key without tags and tags it next, as the key's own policy
        // allows (it names you: `plan::iam::key_policy`). So no kms:TagResource here at all:
        // tags given with CreateKey would be authorized as kms:TagResource in an IAM policy
        // covering every key of the account and region ("the permission must cover all KMS
        // keys", https://docs.aws.amazon.com/kms/latest/developerguide/tag-permissions.html),
        // which IAM cannot tell from tagging an existing untagged key; that would let you tag
        // any such key for this cluster, and then rotate, alias or delete it. CreateKey has no
        // resource; its own condition keys keep it to the kind of key eksboot makes.
        statements.push(json!({
            "Sid": "CreateSymmetricKey",
            "Effect": "Allow",
            "Action": "kms:CreateKey",
            "Resource": "*",
            "Condition": {
                "StringEquals": {
                    "kms:KeySpec": "SYMMETRIC_DEFAULT",
                    "kms:KeyUsage": "ENCRYPT_DECRYPT",
                    "kms:KeyOrigin": "AWS_KMS"
                },
                "Bool": {"kms:MultiRegion": "false"}
            }
        }));
        // Keys made by this version: the key policy grants these too. Keys made by older
        // versions were tagged at CreateKey and have no such statement: these grant it, by the
        // tag, which no key of someone else's can now be given.
        statements.push(json!({
            "Sid": "RotateDeleteOwnKey",
            "Effect": "Allow",
            "Action": ["kms:EnableKeyRotation", "kms:ScheduleKeyDeletion"],
            "Resource": key_pattern.clone(),
            "Condition": tagged(&format!("aws:ResourceTag/{CLUSTER_TAG}"))
        }));
        // Alias calls are authorized on the alias and on the key alike: the alias (aliases
        // carry no tags) by its name; the key side is refused, by an explicit Deny, for any key
        // not tagged for this cluster (one Allow names both, as the linter wants).
        statements.push(json!({
            "Sid": "AliasKey",
            "Effect": "Allow",
            "Action": ["kms:CreateAlias", "kms:UpdateAlias", "kms:DeleteAlias"],
            "Resource": [alias_arn, key_pattern.clone()]
        }));
        statements.push(json!({
            "Sid": "AliasOwnKeyOnly",
            "Effect": "Deny",
            "Action": ["kms:CreateAlias", "kms:UpdateAlias", "kms:DeleteAlias"],
            "Resource": key_pattern,
            "Condition": {"StringNotEquals": {format!("aws:ResourceTag/{CLUSTER_TAG}"): cluster}}
        }));
    }
    if let Some(b) = boundary {
        statements.push(json!({
            "Sid": "ReadBoundary",
            "Effect": "Allow",
            "Action": ["iam:GetPolicy", "iam:GetPolicyVersion"],
            "Resource": b
        }));
        // No role keeps this boundary less: removing it is denied wherever it is set (for
        // DeleteRolePermissionsBoundary, iam:PermissionsBoundary is the role's boundary).
        statements.push(json!({
            "Sid": "KeepBoundary",
            "Effect": "Deny",
            "Action": "iam:DeleteRolePermissionsBoundary",
            "Resource": format!("arn:{part}:iam::{account}:role/*"),
            "Condition": {"StringEquals": {"iam:PermissionsBoundary": b}}
        }));
        statements.push(json!({
            "Sid": "NoBoundaryEdit",
            "Effect": "Deny",
            "Action": [
                "iam:CreatePolicyVersion", "iam:SetDefaultPolicyVersion",
                "iam:DeletePolicyVersion"
            ],
            "Resource": b
        }));
    }
    if n.s.profile.network.pattern == Pattern::Private {
        // Interface endpoints with private DNS associate the VPC with AWS's private zone.
        statements.push(json!({
            "Sid": "EndpointPrivateDns",
            "Effect": "Allow",
            "Action": ["route53:AssociateVPCWithHostedZone", "route53:DisassociateVPCFromHostedZone"],
            "Resource": format!("arn:{part}:route53:::hostedzone/*")
        }));
    }
    statements
}

/// What teardown of an EKS Auto Mode cluster needs besides the rest: reading Auto Mode's
/// instances (DescribeInstances has no resource type: `*`), and what Auto Mode tagged
/// `eks:eks-cluster-name=<cluster>`: deleting, with `--force`, its volumes and any interface it
/// left detached, and reading, emptying and deleting the instance profile EKS leaves on the
/// node role after DeleteCluster (<https://github.com/aws/containers-roadmap/issues/2531>),
/// only one named as EKS names its own (`eks*`: AmazonEKSServiceRolePolicy may create and
/// delete only `instance-profile/eks*`). `aws:ResourceTag` is a condition key of all three
/// resource types in the Service Authorization Reference, and each action is authorized on its
/// own resource type only, so one statement grants exactly what one per action would.
fn auto_mode_teardown_statements(s: &CallerScope, cluster: &str) -> Vec<Value> {
    let region = s.profile.cluster.region.as_str();
    let part = partition(region);
    let account = s.account;
    let ec2 = |resource: &str| format!("arn:{part}:ec2:{region}:{account}:{resource}");
    vec![
        json!({
            "Sid": "ReadAutoModeInstances",
            "Effect": "Allow",
            "Action": "ec2:DescribeInstances",
            "Resource": "*"
        }),
        json!({
            "Sid": "DeleteAutoModeLeftovers",
            "Effect": "Allow",
            "Action": [
                "ec2:DeleteVolume", "ec2:DeleteNetworkInterface", "iam:GetInstanceProfile",
                "iam:RemoveRoleFromInstanceProfile", "iam:DeleteInstanceProfile"
            ],
            "Resource": [
                ec2("volume/*"), ec2("network-interface/*"),
                format!("arn:{part}:iam::{account}:instance-profile/eks*")
            ],
            "Condition": {"StringEquals": {"aws:ResourceTag/eks:eks-cluster-name": cluster}}
        }),
    ]
}

/// Every action a policy document allows, sorted (for the summary and for tests).
pub fn actions(policy: &Value) -> Vec<String> {
    let mut all: Vec<String> = policy["Statement"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|st| match &st["Action"] {
            Value::String(a) => vec![a.clone()],
            Value::Array(list) => list
                .iter()
                .filter_map(|a| a.as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        })
        .collect();
    all.sort();
    all.dedup();
    all
}

/// IAM's quota on one customer managed policy, in characters, white space not counted
/// (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html>, "IAM and STS
/// character limits").
pub const MANAGED_POLICY_QUOTA: usize = 6_144;
/// IAM's quota on all the inline policies of one user together (same page).
pub const USER_INLINE_QUOTA: usize = 2_048;
/// IAM's quota on all the inline policies of one role together (same page).
pub const ROLE_INLINE_QUOTA: usize = 10_240;

/// The length IAM holds a policy to its quotas by. IAM does not count white space; the compact
/// JSON has none outside strings, and counting the white space inside them (there is none in
/// eksboot's policies) errs on the side of a smaller part.
pub fn policy_size(policy: &Value) -> usize {
    serde_json::to_string(policy)
        .expect("a JSON value serialises")
        .chars()
        .count()
}

/// A statement that, alone in a document, is longer than a part may be: no split can hold it.
/// eksboot's own statements are far shorter, so this is a bug in the policy, not in the profile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "statement {sid} alone makes a policy of {size} characters, over the {limit} one part may hold"
)]
pub struct StatementTooLarge {
    /// The statement's Sid, or its position (from 1) when it has none.
    pub sid: String,
    /// The length of a document holding that statement alone.
    pub size: usize,
    pub limit: usize,
}

/// Splits an identity policy into as few complete documents as it takes for each to be at most
/// `limit` characters ([`policy_size`]), for when it is too long to be one managed policy
/// ([`MANAGED_POLICY_QUOTA`]). Each part keeps the document's other top-level keys, with
/// `Version` `2012-10-17`; a statement is never cut, and each lands in exactly one part.
///
/// Order: the parts are the statements in their order, cut where the next one would not fit,
/// unless placing the longest first (first-fit decreasing) makes fewer parts; statements keep
/// their relative order within a part either way, and parts are ordered by their first.
///
/// A Deny is not repeated in the parts holding the Allows it narrows: IAM evaluates every
/// identity policy attached to a principal together, and an explicit Deny in any of them wins
/// over any Allow in the others
/// (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html>).
/// That holds only while every part is attached to the same user or role: a part attached
/// alone grants less, and may grant an Allow without the Deny that narrows it.
pub fn split_into_managed_policies(
    policy: &Value,
    limit: usize,
) -> Result<Vec<Value>, StatementTooLarge> {
    let statements: Vec<&Value> = match &policy["Statement"] {
        Value::Array(list) => list.iter().collect(),
        Value::Null => Vec::new(),
        one => vec![one],
    };
    let document = |part: &[&Value]| -> Value {
        let mut doc = policy.as_object().cloned().unwrap_or_default();
        doc.insert("Version".into(), json!("2012-10-17"));
        doc.insert("Statement".into(), json!(part));
        Value::Object(doc)
    };
    // A document of k statements is the empty one, each statement, and k - 1 commas.
    let empty = policy_size(&document(&[]));
    let sizes: Vec<usize> = statements.iter().map(|st| policy_size(st)).collect();
    for (i, (st, size)) in statements.iter().zip(&sizes).enumerate() {
        if empty + size > limit {
            return Err(StatementTooLarge {
                sid: st["Sid"]
                    .as_str()
                    .map_or_else(|| format!("#{}", i + 1), str::to_string),
                size: empty + size,
                limit,
            });
        }
    }
    let room = limit - empty;
    // Each part: its statements' indices, and their length with the commas between them.
    let place = |order: &[usize], first_fit: bool| -> Vec<Vec<usize>> {
        let mut parts: Vec<(Vec<usize>, usize)> = Vec::new();
        for &i in order {
            let fits =
                |(part, used): &(Vec<usize>, usize)| part.is_empty() || used + 1 + sizes[i] <= room;
            let slot = if first_fit {
                parts.iter().position(fits)
            } else {
                parts
                    .last()
                    .filter(|last| fits(last))
                    .map(|_| parts.len() - 1)
            };
            match slot {
                Some(p) => {
                    let (part, used) = &mut parts[p];
                    part.push(i);
                    *used += 1 + sizes[i];
                }
                None => parts.push((vec![i], sizes[i])),
            }
        }
        parts.into_iter().map(|(part, _)| part).collect()
    };
    let in_order: Vec<usize> = (0..statements.len()).collect();
    let mut parts = place(&in_order, false);
    let mut longest_first = in_order.clone();
    longest_first.sort_by_key(|&i| std::cmp::Reverse(sizes[i]));
    let mut packed = place(&longest_first, true);
    if packed.len() < parts.len() {
        for part in &mut packed {
            part.sort_unstable();
        }
        packed.sort_by_key(|part| part[0]);
        parts = packed;
    }
    if parts.is_empty() {
        parts.push(Vec::new());
    }
    Ok(parts
        .iter()
        .map(|part| document(&part.iter().map(|&i| statements[i]).collect::<Vec<_>>()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::Profile;

    fn profile(extra: &str) -> Profile {
        let text =
            format!("version = 1\n[cluster]\nname = \"demo\"\nregion = \"us-west-2\"\n{extra}");
        Profile::parse(&text, std::path::Path::new("test.toml")).expect("valid profile")
    }

    fn policy(extra: &str) -> Value {
        caller_policy(&CallerScope {
            profile: &profile(extra),
            account: "123456789012",
            state: None,
        })
    }

    #[test]
    fn a_state_in_s3_gets_its_two_keys_and_the_bucket_settings_only() {
        assert!(
            !actions(&policy("")).iter().any(|a| a.starts_with("s3:")),
            "a local state needs no S3 at all"
        );
        let text = "version = 1\nstate = \"s3://team-eksboot/clusters\"\n[cluster]\nname = \"demo\"\nregion = \"us-west-2\"\n";
        let shared = Profile::parse(text, std::path::Path::new("t.toml")).unwrap();
        let doc = caller_policy(&CallerScope {
            profile: &shared,
            account: "123456789012",
            state: None,
        });
        let objects = statement(&doc, "SharedStateObjects");
        assert_eq!(
            objects["Resource"],
            json!([
                "arn:aws:s3:::team-eksboot/clusters/demo-us-west-2.state.json",
                "arn:aws:s3:::team-eksboot/clusters/demo-us-west-2.state.json.lock"
            ])
        );
        assert_eq!(
            objects["Action"],
            json!(["s3:GetObject", "s3:PutObject", "s3:DeleteObject"])
        );
        let list = statement(&doc, "SharedStateListOwnKeys");
        assert_eq!(list["Resource"], "arn:aws:s3:::team-eksboot");
        assert_eq!(
            list["Condition"]["StringEquals"]["s3:prefix"],
            json!([
                "clusters/demo-us-west-2.state.json",
                "clusters/demo-us-west-2.state.json.lock"
            ])
        );
        let settings = statement(&doc, "SharedStateBucketSettings");
        assert_eq!(settings["Resource"], "arn:aws:s3:::team-eksboot");
        assert!(
            !doc["Statement"]
                .as_array()
                .unwrap()
                .iter()
                .any(|st| st["Sid"] == "SharedStateKey"),
            "the bucket's default encryption needs no grant of the caller"
        );
    }

    #[test]
    fn a_state_key_is_granted_through_s3_in_the_keys_region() {
        let key = "arn:aws:kms:eu-west-1:123456789012:key/0b1c";
        let text = format!("version = 1\nstate = \"s3://team-eksboot\"\nstate_kms_key = \"{key}\"\n[cluster]\nname = \"demo\"\nregion = \"us-west-2\"\n");
        let shared = Profile::parse(&text, std::path::Path::new("t.toml")).unwrap();
        let doc = caller_policy(&CallerScope {
            profile: &shared,
            account: "123456789012",
            state: None,
        });
        let grant = statement(&doc, "SharedStateKey");
        assert_eq!(grant["Resource"], key);
        assert_eq!(
            grant["Action"],
            json!(["kms:GenerateDataKey", "kms:Decrypt"])
        );
        // The key is in the bucket's region, which need not be the cluster's.
        assert_eq!(
            grant["Condition"]["StringEquals"]["kms:ViaService"],
            "s3.eu-west-1.amazonaws.com"
        );
        assert_eq!(
            grant["Condition"]["StringEquals"]
                .as_object()
                .unwrap()
                .len(),
            1,
            "only conditions the evaluator can prove"
        );
        // The objects the key is used for are the ones S3 grants.
        assert_eq!(
            statement(&doc, "SharedStateObjects")["Resource"],
            json!([
                "arn:aws:s3:::team-eksboot/demo-us-west-2.state.json",
                "arn:aws:s3:::team-eksboot/demo-us-west-2.state.json.lock"
            ])
        );
    }

    #[test]
    fn a_state_named_by_address_is_granted_as_named() {
        let location = crate::profile::state::S3Location::parse("s3://ops-state/eu/web.json")
            .unwrap()
            .unwrap();
        let doc = caller_policy(&CallerScope {
            profile: &profile(""),
            account: "123456789012",
            state: Some(&location),
        });
        assert_eq!(
            statement(&doc, "SharedStateObjects")["Resource"],
            json!([
                "arn:aws:s3:::ops-state/eu/web.json",
                "arn:aws:s3:::ops-state/eu/web.json.lock"
            ])
        );
        assert_eq!(
            statement(&doc, "SharedStateBucketSettings")["Resource"],
            "arn:aws:s3:::ops-state"
        );
    }

    fn statement<'a>(doc: &'a Value, sid: &str) -> &'a Value {
        doc["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["Sid"] == sid)
            .unwrap_or_else(|| panic!("no statement {sid}"))
    }

    #[test]
    fn every_write_is_scoped_to_this_cluster() {
        let doc = policy("");
        for st in doc["Statement"].as_array().unwrap() {
            if st["Effect"] == "Deny" {
                continue;
            }
            assert_eq!(st["Effect"], "Allow");
            if st["Resource"] != "*" {
                continue;
            }
            let acts = actions(&json!({"Statement": [st]}));
            let read_only = acts.iter().all(|a| {
                let verb = a.split(':').nth(1).unwrap();
                verb.starts_with("Describe") || verb.starts_with("List") || verb.starts_with("Get")
            });
            assert!(
                read_only || st.get("Condition").is_some(),
                "unconditioned write on *: {st}"
            );
        }
        assert_eq!(
            statement(&doc, "AssumeCreator")["Resource"],
            "arn:aws:iam::123456789012:role/demo-creator"
        );
        // The default profile gives vpc-cni its own role (Pod Identity).
        assert_eq!(
            statement(&doc, "UpdateRoles")["Resource"],
            json!([
                "arn:aws:iam::123456789012:role/demo-creator",
                "arn:aws:iam::123456789012:role/demo-cluster",
                "arn:aws:iam::123456789012:role/demo-node",
                "arn:aws:iam::123456789012:role/demo-vpc-cni"
            ])
        );
        assert_eq!(
            statement(&doc, "CreateRoles")["Resource"],
            statement(&doc, "UpdateRoles")["Resource"]
        );
        let attach = statement(&doc, "AttachEksPolicies");
        let allowed = attach["Condition"]["ArnEquals"]["iam:PolicyARN"]
            .as_array()
            .unwrap();
        // The cluster's, the node role's three and the CNI's (for its own role).
        assert_eq!(allowed.len(), 5);
        assert!(allowed.contains(&json!("arn:aws:iam::aws:policy/AmazonEKSClusterPolicy")));
        assert!(allowed.contains(&json!("arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy")));
        assert_eq!(
            statement(&doc, "CreateNetworkTagged")["Condition"]["StringEquals"]
                ["aws:RequestTag/eksboot:cluster"],
            "demo"
        );
        assert_eq!(
            statement(&doc, "AliasKey")["Resource"][0],
            "arn:aws:kms:us-west-2:123456789012:alias/eksboot/demo"
        );
    }

    #[test]
    fn no_pass_role_and_no_creator_calls() {
        // The creator role makes the EKS calls that pass roles; you never pass one.
        let acts = actions(&policy(""));
        for action in [
            "iam:PassRole",
            "eks:CreateCluster",
            "eks:CreateNodegroup",
            "iam:CreateOpenIDConnectProvider",
        ] {
            assert!(
                !acts.contains(&action.to_string()),
                "{action} should not be yours"
            );
        }
        for action in [
            "ec2:CreateVpc",
            "kms:CreateKey",
            "iam:PutRolePolicy",
            "sts:AssumeRole",
            "eks:DeleteCluster",
            "logs:CreateLogGroup",
        ] {
            assert!(acts.contains(&action.to_string()), "{action} missing");
        }
    }

    #[test]
    fn kubernetes_volumes_and_target_groups_are_deletable_by_their_tags_only() {
        let doc = policy("");
        let acts = actions(&doc);
        for read in [
            "ec2:DescribeVolumes",
            "elasticloadbalancing:DescribeTargetGroups",
        ] {
            assert!(acts.contains(&read.to_string()), "{read} missing");
        }
        let owned = statement(&doc, "DeleteK8sOwned");
        let owned_acts = actions(&json!({"Statement": [owned]}));
        for a in ["ec2:DeleteVolume", "elasticloadbalancing:DeleteTargetGroup"] {
            assert!(owned_acts.contains(&a.to_string()), "{a}");
        }
        let owned_res = owned["Resource"].as_array().unwrap();
        assert!(owned_res.contains(&json!("arn:aws:ec2:us-west-2:123456789012:volume/*")));
        assert!(owned_res.contains(&json!(
            "arn:aws:elasticloadbalancing:us-west-2:123456789012:targetgroup/*"
        )));
        assert_eq!(
            owned["Condition"],
            json!({"StringEquals": {"aws:ResourceTag/kubernetes.io/cluster/demo": "owned"}})
        );
        assert_eq!(
            statement(&doc, "DeleteK8sClusterVolumes")["Condition"],
            json!({"StringEquals": {"aws:ResourceTag/KubernetesCluster": "demo"}})
        );
        let lbc = statement(&doc, "DeleteLbcOwned");
        assert!(lbc["Resource"].as_array().unwrap().contains(&json!(
            "arn:aws:elasticloadbalancing:us-west-2:123456789012:targetgroup/*"
        )));
        assert!(!lbc["Resource"]
            .as_array()
            .unwrap()
            .contains(&json!("arn:aws:ec2:us-west-2:123456789012:volume/*")));
        assert_eq!(
            lbc["Condition"],
            json!({"StringEquals": {"aws:ResourceTag/elbv2.k8s.aws/cluster": "demo"}})
        );
        // Nowhere else: no statement grants either deletion without one of the three tags.
        for st in doc["Statement"].as_array().unwrap() {
            let these = actions(&json!({"Statement": [st]}));
            if these
                .iter()
                .any(|a| a == "ec2:DeleteVolume" || a == "elasticloadbalancing:DeleteTargetGroup")
            {
                assert!(
                    [
                        "DeleteK8sOwned",
                        "DeleteK8sClusterVolumes",
                        "DeleteLbcOwned"
                    ]
                    .contains(&st["Sid"].as_str().unwrap()),
                    "{st}"
                );
            }
        }
    }

    #[test]
    fn what_the_profile_does_not_make_is_not_granted() {
        let doc = policy(
            "[security]\ncreator_role = \"arn:aws:iam::123456789012:role/platform/eks-maker\"\nsecrets_key = \"arn:aws:kms:us-west-2:123456789012:key/k-1\"\n[nodes]\nenabled = false\n",
        );
        let acts = actions(&doc);
        assert!(!acts.contains(&"kms:CreateKey".to_string()));
        assert!(!acts.contains(&"iam:PutRolePolicy".to_string()));
        assert_eq!(
            statement(&doc, "AssumeCreator")["Resource"],
            "arn:aws:iam::123456789012:role/platform/eks-maker"
        );
        assert_eq!(
            statement(&doc, "UpdateRoles")["Resource"],
            json!([
                "arn:aws:iam::123456789012:role/demo-cluster",
                "arn:aws:iam::123456789012:role/demo-vpc-cni"
            ])
        );
        // Still deletable with nodes off (apply retires the node role), and every add-on role
        // name (apply retires one whose add-on left); a brought creator role is never ours to
        // delete.
        assert_eq!(
            statement(&doc, "DeleteRoles")["Resource"],
            json!([
                "arn:aws:iam::123456789012:role/demo-cluster",
                "arn:aws:iam::123456789012:role/demo-node",
                "arn:aws:iam::123456789012:role/demo-vpc-cni",
                "arn:aws:iam::123456789012:role/demo-ebs-csi"
            ])
        );
        let private = policy("[network]\npattern = \"private\"\n");
        assert!(actions(&private).contains(&"ec2:DescribeVpcEndpointServices".to_string()));
        assert!(!actions(&doc).contains(&"route53:AssociateVPCWithHostedZone".to_string()));
    }

    #[test]
    fn partitions_and_unknown_accounts() {
        let p = profile("").clone();
        let mut p = p;
        p.cluster.region = "cn-north-1".into();
        let doc = caller_policy(&CallerScope {
            profile: &p,
            account: "*",
            state: None,
        });
        assert_eq!(
            statement(&doc, "AssumeCreator")["Resource"],
            "arn:aws-cn:iam::*:role/demo-creator"
        );
        assert_eq!(
            statement(&doc, "DeleteOidcIssuer")["Resource"],
            "arn:aws-cn:iam::*:oidc-provider/oidc.eks.cn-north-1.amazonaws.com.cn/id/*"
        );
    }

    /// Every statement of `policy`, each once, across `parts`, each part within `limit`.
    fn assert_split_well(policy: &Value, parts: &[Value], limit: usize) {
        let mut seen: Vec<&Value> = Vec::new();
        for part in parts {
            assert_eq!(part["Version"], "2012-10-17");
            assert!(
                policy_size(part) <= limit,
                "{} > {limit}",
                policy_size(part)
            );
            // IAM does not count white space: the pretty form counts the same once compacted.
            let pretty = serde_json::to_string_pretty(part).unwrap();
            let reread: Value = serde_json::from_str(&pretty).unwrap();
            assert_eq!(policy_size(&reread), policy_size(part));
            let statements = part["Statement"].as_array().unwrap();
            assert!(!statements.is_empty(), "an empty part");
            seen.extend(statements);
        }
        let all = policy["Statement"].as_array().unwrap();
        assert_eq!(seen.len(), all.len());
        for st in all {
            assert_eq!(
                seen.iter().filter(|s| **s == st).count(),
                1,
                "{st} not exactly once"
            );
        }
    }

    #[test]
    fn the_printed_policies_split_into_managed_policies_that_fit() {
        for extra in [
            "",
            "[network]\npattern = \"private\"\n",
            "[nodes]\nenabled = false\n",
            "[security]\npermissions_boundary = \"arn:aws:iam::123456789012:policy/b\"\n",
        ] {
            let doc = policy(extra);
            assert!(policy_size(&doc) > MANAGED_POLICY_QUOTA, "{extra}");
            let parts = split_into_managed_policies(&doc, MANAGED_POLICY_QUOTA).unwrap();
            assert_eq!(parts.len(), 2, "{extra}: as few parts as the length allows");
            assert_split_well(&doc, &parts, MANAGED_POLICY_QUOTA);
            // In their order: the parts, end to end, are the policy.
            let joined: Vec<&Value> = parts
                .iter()
                .flat_map(|p| p["Statement"].as_array().unwrap())
                .collect();
            let original: Vec<&Value> = doc["Statement"].as_array().unwrap().iter().collect();
            assert_eq!(joined, original, "{extra}");
            // Every Deny is in some part, unchanged.
            for deny in original.iter().filter(|st| st["Effect"] == "Deny") {
                assert!(parts
                    .iter()
                    .any(|p| p["Statement"].as_array().unwrap().contains(deny)));
            }
        }
        // And within a role's inline quota whole, boundary and private endpoints included.
        let largest = policy(
            "[network]\npattern = \"private\"\n[security]\npermissions_boundary = \"arn:aws:iam::123456789012:policy/platform/eks-boundary\"\n",
        );
        assert!(
            policy_size(&largest) <= ROLE_INLINE_QUOTA,
            "{}",
            policy_size(&largest)
        );
    }

    #[test]
    fn a_policy_that_fits_stays_one_part() {
        let doc = policy("");
        let parts = split_into_managed_policies(&doc, policy_size(&doc)).unwrap();
        assert_eq!(parts, vec![doc.clone()]);
        let parts = split_into_managed_policies(&doc, policy_size(&doc) - 1).unwrap();
        assert_eq!(parts.len(), 2);
        assert_split_well(&doc, &parts, policy_size(&doc) - 1);
    }

    /// A statement whose compact JSON is `len` characters long.
    fn sized(sid: &str, effect: &str, len: usize) -> Value {
        let mut st =
            json!({"Sid": sid, "Effect": effect, "Action": "s3:GetObject", "Resource": ""});
        let pad = len - policy_size(&st);
        st["Resource"] = json!("x".repeat(pad));
        assert_eq!(policy_size(&st), len);
        st
    }

    #[test]
    fn splitting_packs_tightly_keeps_a_deny_and_refuses_what_cannot_fit() {
        let empty = policy_size(&json!({"Version": "2012-10-17", "Statement": []}));
        // Room for 1,000 characters of statements (and the commas between them) per part.
        let limit = empty + 1000;
        // In order, cut where the next does not fit, these make 3 parts (600 | 500+390 | 400+80);
        // the longest first make 2 (600+390 | 500+400+80): fewer parts win.
        let doc = json!({"Version": "2012-10-17", "Statement": [
            sized("A", "Allow", 600),
            sized("B", "Allow", 500),
            sized("C", "Deny", 390),
            sized("D", "Allow", 400),
            sized("E", "Allow", 80),
        ]});
        let parts = split_into_managed_policies(&doc, limit).unwrap();
        assert_split_well(&doc, &parts, limit);
        assert_eq!(parts.len(), 2, "{parts:#?}");
        let sids = |p: &Value| -> Vec<String> {
            p["Statement"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["Sid"].as_str().unwrap().to_string())
                .collect()
        };
        // Relative order kept within each part; parts ordered by their first statement.
        assert_eq!(sids(&parts[0]), ["A", "C"]);
        assert_eq!(sids(&parts[1]), ["B", "D", "E"]);
        assert_eq!(parts[0]["Statement"][1]["Effect"], "Deny");
        // One statement too long for any part is refused, by name.
        let err = split_into_managed_policies(&doc, empty + 599).unwrap_err();
        assert_eq!(
            err,
            StatementTooLarge {
                sid: "A".into(),
                size: empty + 600,
                limit: empty + 599
            }
        );
        // A single statement not in a list, and no Sid.
        let one = json!({"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}});
        assert_eq!(split_into_managed_policies(&one, 6144).unwrap().len(), 1);
        assert_eq!(split_into_managed_policies(&one, 10).unwrap_err().sid, "#1");
    }

    #[test]
    fn auto_mode_teardown_touches_only_what_eks_made_for_this_cluster() {
        let auto = policy("[nodes]\nmode = \"auto\"\n");
        let tag = json!({"StringEquals": {"aws:ResourceTag/eks:eks-cluster-name": "demo"}});
        // The node role's instance profiles are listed on that role only, for every profile.
        for doc in [&auto, &policy("")] {
            let list = statement(doc, "ListNodeRoleInstanceProfiles");
            assert_eq!(list["Action"], "iam:ListInstanceProfilesForRole");
            assert_eq!(list["Resource"], "arn:aws:iam::123456789012:role/demo-node");
        }
        // Read, emptied and deleted only when named as EKS names its own and tagged for this
        // cluster; Auto Mode's volumes and interfaces by that tag only.
        let leftovers = statement(&auto, "DeleteAutoModeLeftovers");
        assert_eq!(
            leftovers["Action"],
            json!([
                "ec2:DeleteVolume",
                "ec2:DeleteNetworkInterface",
                "iam:GetInstanceProfile",
                "iam:RemoveRoleFromInstanceProfile",
                "iam:DeleteInstanceProfile"
            ])
        );
        assert_eq!(
            leftovers["Resource"],
            json!([
                "arn:aws:ec2:us-west-2:123456789012:volume/*",
                "arn:aws:ec2:us-west-2:123456789012:network-interface/*",
                "arn:aws:iam::123456789012:instance-profile/eks*"
            ])
        );
        assert_eq!(leftovers["Condition"], tag);
        assert_eq!(
            statement(&auto, "ReadAutoModeInstances")["Action"],
            "ec2:DescribeInstances"
        );
        // Nowhere else, and nothing of it without Auto Mode.
        let managed = policy("");
        for sid in ["ReadAutoModeInstances", "DeleteAutoModeLeftovers"] {
            assert!(
                !managed["Statement"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|st| st["Sid"] == sid),
                "{sid}"
            );
        }
        for action in [
            "iam:GetInstanceProfile",
            "iam:RemoveRoleFromInstanceProfile",
            "iam:DeleteInstanceProfile",
            "ec2:DescribeInstances",
        ] {
            assert!(!actions(&managed).iter().any(|a| a == action), "{action}");
            let granting: Vec<&str> = auto["Statement"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|st| {
                    st["Action"] == action
                        || st["Action"]
                            .as_array()
                            .is_some_and(|a| a.iter().any(|x| x == action))
                })
                .map(|st| st["Sid"].as_str().unwrap())
                .collect();
            assert_eq!(granting.len(), 1, "{action}: {granting:?}");
        }
        // Another cluster's: its own name in the condition, never ours.
        let other = caller_policy(&CallerScope {
            profile: &Profile::parse(
                "version = 1\n[cluster]\nname = \"web\"\nregion = \"us-west-2\"\n[nodes]\nmode = \"auto\"\n",
                std::path::Path::new("web.toml"),
            )
            .unwrap(),
            account: "123456789012",
            state: None,
        });
        assert_eq!(
            statement(&other, "DeleteAutoModeLeftovers")["Condition"],
            json!({"StringEquals": {"aws:ResourceTag/eks:eks-cluster-name": "web"}})
        );
    }
}
