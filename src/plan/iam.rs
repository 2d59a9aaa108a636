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

pub fn managed_policy_arn(region: &str, name: &str) -> String {
    format!("arn:{}:iam::aws:policy/{name}", partition(region))
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

/// The creator role's least-privilege inline policy.
pub fn creator_inline_policy(s: &CreatorScope) -> Value {
    let p = partition(s.region);
    let eks = |resource: &str| format!("arn:{p}:eks:{}:{}:{resource}", s.region, s.account);
    let cluster_arn = eks(&format!("cluster/{}", s.cluster));
    let mut pass_roles = vec![s.cluster_role_arn.to_string()];
    pass_roles.extend(s.node_role_arn.map(str::to_string));

    let mut statements = vec![
        json!({
            "Sid": "CreateThisClusterOnlyWithItsTag",
            "Effect": "Allow",
            "Action": ["eks:CreateCluster", "eks:TagResource"],
            "Resource": "*",
            "Condition": {"StringEquals": {format!("aws:RequestTag/{CLUSTER_TAG}"): s.cluster}}
        }),
        json!({
            "Sid": "ManageThisCluster",
            "Effect": "Allow",
            "Action": [
                "eks:DescribeCluster", "eks:DeleteCluster", "eks:UpdateClusterConfig",
                "eks:UpdateClusterVersion",
                "eks:DescribeUpdate", "eks:ListNodegroups", "eks:CreateNodegroup",
                "eks:ListAddons", "eks:CreateAddon", "eks:ListAccessEntries",
                "eks:CreateAccessEntry", "eks:ListTagsForResource"
            ],
            "Resource": cluster_arn
        }),
        json!({
            "Sid": "ManageThisClustersParts",
            "Effect": "Allow",
            "Action": [
                "eks:DescribeNodegroup", "eks:DeleteNodegroup", "eks:UpdateNodegroupConfig",
                "eks:UpdateNodegroupVersion", "eks:DescribeAddon", "eks:DeleteAddon",
                "eks:UpdateAddon",
                "eks:DescribeAccessEntry", "eks:DeleteAccessEntry",
                "eks:AssociateAccessPolicy", "eks:DisassociateAccessPolicy",
                "eks:ListAssociatedAccessPolicies"
            ],
            "Resource": [
                eks(&format!("nodegroup/{}/*", s.cluster)),
                eks(&format!("addon/{}/*", s.cluster)),
                eks(&format!("access-entry/{}/*", s.cluster))
            ]
        }),
        json!({
            "Sid": "ReadWhatEksOffers",
            "Effect": "Allow",
            "Action": ["eks:DescribeClusterVersions", "eks:DescribeAddonVersions"],
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
            "Sid": "CreateEksServiceLinkedRoles",
            "Effect": "Allow",
            "Action": "iam:CreateServiceLinkedRole",
            "Resource": [
                format!("arn:{p}:iam::{}:role/aws-service-role/eks.amazonaws.com/AWSServiceRoleForAmazonEKS", s.account),
                format!("arn:{p}:iam::{}:role/aws-service-role/eks-nodegroup.amazonaws.com/AWSServiceRoleForAmazonEKSNodegroup", s.account)
            ],
            "Condition": {"StringEquals": {"iam:AWSServiceName": ["eks.amazonaws.com", "eks-nodegroup.amazonaws.com"]}}
        }),
    ];
    if let Some(template) = s.launch_template_arn {
        // CreateNodegroup with a launch template fails ("You are not authorized to launch
        // instances with this launch template") unless the caller may run instances with it.
        statements.push(json!({
            "Sid": "LaunchNodesWithThisTemplateOnly",
            "Effect": "Allow",
            "Action": "ec2:RunInstances",
            "Resource": "*",
            "Condition": {"ArnLike": {"ec2:LaunchTemplate": template}}
        }));
        statements.push(json!({
            "Sid": "TagNodesAtLaunchOnly",
            "Effect": "Allow",
            "Action": "ec2:CreateTags",
            "Resource": "*",
            "Condition": {"StringEquals": {"ec2:CreateAction": "RunInstances"}}
        }));
    }
    if s.oidc_provider {
        statements.push(json!({
            "Sid": "RegisterThisClustersOidcIssuer",
            "Effect": "Allow",
            "Action": [
                "iam:CreateOpenIDConnectProvider", "iam:GetOpenIDConnectProvider",
                "iam:TagOpenIDConnectProvider", "iam:DeleteOpenIDConnectProvider"
            ],
            "Resource": format!("arn:{p}:iam::{}:oidc-provider/oidc.eks.{}.{}/id/*", s.account, s.region, dns_suffix(s.region))
        }));
    }
    json!({"Version": "2012-10-17", "Statement": statements})
}

/// Key policy: the account administers the key through IAM; the creator and cluster roles may
/// use it for envelope encryption of secrets.
pub fn key_policy(region: &str, account: &str, users: &[String]) -> Value {
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
            assert_eq!(statement["Effect"], "Allow");
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
                let conditioned = statement["Condition"]["StringEquals"]
                    ["aws:RequestTag/eksboot:cluster"]
                    == "demo"
                    || statement["Condition"]["ArnLike"]["ec2:LaunchTemplate"]
                        == "arn:aws:ec2:us-west-2:123456789012:launch-template/lt-0abc"
                    || statement["Condition"]["StringEquals"]["ec2:CreateAction"] == "RunInstances";
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
            .find(|st| st["Action"] == "ec2:RunInstances")
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
    fn oidc_statement_only_when_asked() {
        let mut s = scope();
        s.oidc_provider = false;
        let doc = creator_inline_policy(&s);
        assert!(!serde_json::to_string(&doc)
            .unwrap()
            .contains("OpenIDConnect"));
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
    fn key_policy_lets_the_account_administer_and_our_roles_use() {
        let users = vec![
            "arn:aws:iam::123456789012:role/demo-creator".to_string(),
            "arn:aws:iam::123456789012:role/demo-cluster".to_string(),
        ];
        let doc = key_policy("us-west-2", "123456789012", &users);
        let st = statements(&doc);
        assert_eq!(st[0]["Principal"]["AWS"], "arn:aws:iam::123456789012:root");
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
    }
}
