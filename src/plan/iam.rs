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
/// The access policy given to admins at cluster scope.
pub const CLUSTER_ADMIN_ACCESS_POLICY: &str =
    "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy";

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

/// Trust policy of a role assumed by an AWS service.
pub fn service_trust_policy(service: &str) -> Value {
    let actions: Vec<&str> = if service == "eks.amazonaws.com" {
        vec!["sts:AssumeRole", "sts:TagSession"]
    } else {
        vec!["sts:AssumeRole"]
    };
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": service},
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
    pub key_arn: &'a str,
    pub oidc_provider: bool,
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
                "eks:DescribeNodegroup", "eks:DeleteNodegroup", "eks:DescribeAddon",
                "eks:DeleteAddon", "eks:DescribeAccessEntry", "eks:DeleteAccessEntry",
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
            "Condition": {"StringEquals": {"iam:PassedToService": ["eks.amazonaws.com", "ec2.amazonaws.com"]}}
        }),
        json!({
            "Sid": "UseTheSecretsKey",
            "Effect": "Allow",
            "Action": ["kms:DescribeKey", "kms:CreateGrant"],
            "Resource": s.key_arn
        }),
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
    if s.oidc_provider {
        statements.push(json!({
            "Sid": "RegisterThisClustersOidcIssuer",
            "Effect": "Allow",
            "Action": [
                "iam:CreateOpenIDConnectProvider", "iam:GetOpenIDConnectProvider",
                "iam:TagOpenIDConnectProvider", "iam:DeleteOpenIDConnectProvider"
            ],
            "Resource": format!("arn:{p}:iam::{}:oidc-provider/oidc.eks.{}.amazonaws.com/id/*", s.account, s.region)
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
            key_arn: "arn:aws:kms:us-west-2:123456789012:key/k-1",
            oidc_provider: true,
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
        assert_eq!(find("kms:CreateGrant")["Resource"], scope().key_arn);
        let slr = find("iam:CreateServiceLinkedRole");
        assert!(slr["Resource"][0]
            .as_str()
            .unwrap()
            .ends_with("eks.amazonaws.com/AWSServiceRoleForAmazonEKS"));
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
        let eks = service_trust_policy("eks.amazonaws.com");
        assert_eq!(
            statements(&eks)[0]["Action"],
            json!(["sts:AssumeRole", "sts:TagSession"])
        );
        let ec2 = service_trust_policy("ec2.amazonaws.com");
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
