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
    dns_suffix, managed_policy_arn, partition, role_arn, CLUSTER_ROLE_POLICIES, CLUSTER_TAG,
    NODE_ROLE_POLICIES,
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
}

/// The identity policy the person (or pipeline) running eksboot needs for this profile.
pub fn caller_policy(s: &CallerScope) -> Value {
    let p = s.profile;
    let region = p.cluster.region.as_str();
    let part = partition(region);
    let account = s.account;
    let cluster = p.cluster.name.as_str();
    let tagged = |key: &str| json!({"StringEquals": {key: cluster}});
    let role = |suffix: &str| role_arn(region, account, &format!("{cluster}-{suffix}"));
    let creates_creator = p.security.creator_role.existing_arn().is_none();
    let creates_key = p.security.secrets_key.existing_arn().is_none();
    let creator_arn = match p.security.creator_role.existing_arn() {
        Some(arn) => arn.to_string(),
        None => role("creator"),
    };
    let eks = |resource: &str| format!("arn:{part}:eks:{region}:{account}:{resource}");
    let key_pattern = format!("arn:{part}:kms:{region}:{account}:key/*");
    let alias_arn = format!("arn:{part}:kms:{region}:{account}:alias/eksboot/{cluster}");
    let log_group =
        format!("arn:{part}:logs:{region}:{account}:log-group:/aws/eks/{cluster}/cluster");

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
        "eks:DescribeClusterVersions",
        "eks:DescribeAddonVersions",
        "eks:ListClusters",
        "iam:ListRoles",
        "iam:ListUsers",
        "iam:ListOpenIDConnectProviders",
        "kms:ListKeys",
        "kms:ListAliases",
        "logs:DescribeLogGroups",
        "elasticloadbalancing:DescribeLoadBalancers",
        "elasticloadbalancing:DescribeTags",
        "servicequotas:GetServiceQuota",
    ];
    if p.network.pattern == Pattern::Private {
        read_actions.push("ec2:DescribeVpcEndpointServices");
    }
    read_actions.sort_unstable();

    let mut managed: Vec<String> = CLUSTER_ROLE_POLICIES
        .iter()
        .map(|n| managed_policy_arn(region, n))
        .collect();
    let mut our_roles = vec![role("cluster")];
    if p.nodes.enabled {
        our_roles.push(role("node"));
        managed.extend(
            NODE_ROLE_POLICIES
                .iter()
                .map(|n| managed_policy_arn(region, n)),
        );
    }
    if creates_creator {
        our_roles.insert(0, role("creator"));
    }

    let mut statements = vec![
        json!({
            "Sid": "ReadWhatTheAccountHas",
            "Effect": "Allow",
            "Action": read_actions,
            "Resource": "*"
        }),
        json!({
            "Sid": "ReadIamPrincipals",
            "Effect": "Allow",
            "Action": ["iam:GetRole", "iam:GetUser"],
            "Resource": [
                format!("arn:{part}:iam::{account}:role/*"),
                format!("arn:{part}:iam::{account}:user/*")
            ]
        }),
        json!({
            "Sid": "CreateNetworkTaggedForThisCluster",
            "Effect": "Allow",
            "Action": EC2_CREATE_ACTIONS,
            "Resource": EC2_CREATED_TYPES
                .iter()
                .map(|t| format!("arn:{part}:ec2:{region}:{account}:{t}/*"))
                .collect::<Vec<_>>(),
            "Condition": tagged(&format!("aws:RequestTag/{CLUSTER_TAG}"))
        }),
        json!({
            "Sid": "TagOnlyWhileCreating",
            "Effect": "Allow",
            "Action": "ec2:CreateTags",
            "Resource": "*",
            "Condition": {"StringEquals": {"ec2:CreateAction": EC2_CREATE_ACTIONS
                .iter()
                .map(|a| a.trim_start_matches("ec2:"))
                .collect::<Vec<_>>()}}
        }),
        json!({
            "Sid": "UseAndDeleteThisClustersNetwork",
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
        json!({
            "Sid": "ManageThisClustersRoles",
            "Effect": "Allow",
            "Action": [
                "iam:CreateRole", "iam:TagRole", "iam:UpdateAssumeRolePolicy",
                "iam:ListRolePolicies", "iam:ListAttachedRolePolicies",
                "iam:DetachRolePolicy", "iam:DeleteRole"
            ],
            "Resource": our_roles
        }),
        json!({
            "Sid": "AttachOnlyTheEksManagedPolicies",
            "Effect": "Allow",
            "Action": "iam:AttachRolePolicy",
            "Resource": our_roles,
            "Condition": {"ArnEquals": {"iam:PolicyARN": managed}}
        }),
        json!({
            "Sid": "CreateLogGroupOfThisCluster",
            "Effect": "Allow",
            "Action": [
                "logs:CreateLogGroup", "logs:TagResource", "logs:PutRetentionPolicy",
                "logs:DeleteLogGroup"
            ],
            "Resource": [log_group.clone(), format!("{log_group}:*")]
        }),
        json!({
            "Sid": "AssumeTheCreatorRole",
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
            "Sid": "InspectAndDeleteThisCluster",
            "Effect": "Allow",
            "Action": [
                "eks:DescribeCluster", "eks:ListNodegroups", "eks:ListAddons",
                "eks:ListAccessEntries", "eks:DeleteCluster", "eks:ListInsights",
                "eks:DescribeInsight", "eks:StartInsightsRefresh", "eks:DescribeInsightsRefresh"
            ],
            "Resource": eks(&format!("cluster/{cluster}"))
        }),
        json!({
            "Sid": "InspectAndDeleteThisClustersParts",
            "Effect": "Allow",
            "Action": [
                "eks:DescribeNodegroup", "eks:DeleteNodegroup", "eks:DescribeAddon",
                "eks:DeleteAddon", "eks:DescribeAccessEntry", "eks:DeleteAccessEntry"
            ],
            "Resource": [
                eks(&format!("nodegroup/{cluster}/*")),
                eks(&format!("addon/{cluster}/*")),
                eks(&format!("access-entry/{cluster}/*"))
            ]
        }),
        json!({
            "Sid": "DeleteLoadBalancersKubernetesMadeForThisCluster",
            "Effect": "Allow",
            "Action": "elasticloadbalancing:DeleteLoadBalancer",
            "Resource": "*",
            "Condition": {"StringEquals": {format!("aws:ResourceTag/kubernetes.io/cluster/{cluster}"): "owned"}}
        }),
        json!({
            "Sid": "DeleteLoadBalancersTheControllerMadeForThisCluster",
            "Effect": "Allow",
            "Action": "elasticloadbalancing:DeleteLoadBalancer",
            "Resource": "*",
            "Condition": tagged("aws:ResourceTag/elbv2.k8s.aws/cluster")
        }),
    ];
    if creates_creator {
        statements.push(json!({
            "Sid": "WriteTheCreatorsInlinePolicy",
            "Effect": "Allow",
            "Action": ["iam:PutRolePolicy", "iam:GetRolePolicy", "iam:DeleteRolePolicy"],
            "Resource": role("creator")
        }));
    }
    if creates_key {
        statements.push(json!({
            "Sid": "CreateTheSecretsKeyTagged",
            "Effect": "Allow",
            "Action": ["kms:CreateKey", "kms:TagResource"],
            "Resource": "*",
            "Condition": tagged(&format!("aws:RequestTag/{CLUSTER_TAG}"))
        }));
        statements.push(json!({
            "Sid": "ManageThisClustersKey",
            "Effect": "Allow",
            "Action": [
                "kms:EnableKeyRotation", "kms:PutKeyPolicy", "kms:ScheduleKeyDeletion"
            ],
            "Resource": key_pattern.clone(),
            "Condition": tagged(&format!("aws:ResourceTag/{CLUSTER_TAG}"))
        }));
        // Alias calls are authorized on the alias and on the key alike; aliases carry no tags,
        // so the alias name is the scope.
        statements.push(json!({
            "Sid": "NameThisClustersKey",
            "Effect": "Allow",
            "Action": ["kms:CreateAlias", "kms:UpdateAlias", "kms:DeleteAlias"],
            "Resource": [alias_arn, key_pattern]
        }));
    }
    if p.cluster.oidc_provider {
        statements.push(json!({
            "Sid": "RemoveThisClustersOidcIssuer",
            "Effect": "Allow",
            "Action": [
                "iam:GetOpenIDConnectProvider", "iam:ListOpenIDConnectProviderTags",
                "iam:DeleteOpenIDConnectProvider"
            ],
            "Resource": format!(
                "arn:{part}:iam::{account}:oidc-provider/oidc.eks.{region}.{}/id/*",
                dns_suffix(region)
            )
        }));
    }
    if p.network.pattern == Pattern::Private {
        // Interface endpoints with private DNS associate the VPC with AWS's private zone.
        statements.push(json!({
            "Sid": "PrivateDnsOfInterfaceEndpoints",
            "Effect": "Allow",
            "Action": ["route53:AssociateVPCWithHostedZone", "route53:DisassociateVPCFromHostedZone"],
            "Resource": format!("arn:{part}:route53:::hostedzone/*")
        }));
    }
    json!({"Version": "2012-10-17", "Statement": statements})
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
        })
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
            statement(&doc, "AssumeTheCreatorRole")["Resource"],
            "arn:aws:iam::123456789012:role/demo-creator"
        );
        assert_eq!(
            statement(&doc, "ManageThisClustersRoles")["Resource"],
            json!([
                "arn:aws:iam::123456789012:role/demo-creator",
                "arn:aws:iam::123456789012:role/demo-cluster",
                "arn:aws:iam::123456789012:role/demo-node"
            ])
        );
        let attach = statement(&doc, "AttachOnlyTheEksManagedPolicies");
        let allowed = attach["Condition"]["ArnEquals"]["iam:PolicyARN"]
            .as_array()
            .unwrap();
        assert_eq!(allowed.len(), 5);
        assert!(allowed.contains(&json!("arn:aws:iam::aws:policy/AmazonEKSClusterPolicy")));
        assert_eq!(
            statement(&doc, "CreateNetworkTaggedForThisCluster")["Condition"]["StringEquals"]
                ["aws:RequestTag/eksboot:cluster"],
            "demo"
        );
        assert_eq!(
            statement(&doc, "NameThisClustersKey")["Resource"][0],
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
    fn what_the_profile_does_not_make_is_not_granted() {
        let doc = policy(
            "[security]\ncreator_role = \"arn:aws:iam::123456789012:role/platform/eks-maker\"\nsecrets_key = \"arn:aws:kms:us-west-2:123456789012:key/k-1\"\n[nodes]\nenabled = false\n",
        );
        let acts = actions(&doc);
        assert!(!acts.contains(&"kms:CreateKey".to_string()));
        assert!(!acts.contains(&"iam:PutRolePolicy".to_string()));
        assert_eq!(
            statement(&doc, "AssumeTheCreatorRole")["Resource"],
            "arn:aws:iam::123456789012:role/platform/eks-maker"
        );
        assert_eq!(
            statement(&doc, "ManageThisClustersRoles")["Resource"],
            json!(["arn:aws:iam::123456789012:role/demo-cluster"])
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
        });
        assert_eq!(
            statement(&doc, "AssumeTheCreatorRole")["Resource"],
            "arn:aws-cn:iam::*:role/demo-creator"
        );
        assert_eq!(
            statement(&doc, "RemoveThisClustersOidcIssuer")["Resource"],
            "arn:aws-cn:iam::*:oidc-provider/oidc.eks.cn-north-1.amazonaws.com.cn/id/*"
        );
    }
}
