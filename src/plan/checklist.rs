//! The security checklist: the profile measured against EKS best practices, each item ✓, ✗ or
//! not applicable, with a one-line reason. Pure.

use serde::Serialize;

use crate::profile::{CreatorRole, EndpointAccess, LogType, Nat, Pattern, Profile, SecretsKey};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub id: &'static str,
    /// `None` when the practice does not apply to this profile.
    pub ok: Option<bool>,
    pub note: String,
}

fn check(id: &'static str, ok: Option<bool>, note: impl Into<String>) -> Check {
    Check {
        id,
        ok,
        note: note.into(),
    }
}

pub fn evaluate(profile: &Profile) -> Vec<Check> {
    let c = &profile.cluster;
    let n = &profile.network;
    let mut checks = Vec::new();

    checks.push(match &profile.security.creator_role {
        CreatorRole::Create => check(
            "creator-role",
            Some(true),
            "a dedicated least-privilege role creates the cluster and is its bootstrap admin, not a person",
        ),
        CreatorRole::Existing(arn) => check(
            "creator-role",
            Some(true),
            format!("the existing role {arn} creates the cluster; keep it dedicated to that"),
        ),
    });

    checks.push(boundary(profile));

    checks.push(match &profile.security.secrets_key {
        SecretsKey::Create => check(
            "secrets-encryption",
            Some(true),
            "Kubernetes secrets are envelope-encrypted with a new KMS key (rotation on)",
        ),
        SecretsKey::Existing(arn) => check(
            "secrets-encryption",
            Some(true),
            format!("Kubernetes secrets are envelope-encrypted with {arn}"),
        ),
    });

    checks.push(if c.log_types.contains(&LogType::Audit) {
        check(
            "audit-logging",
            Some(true),
            format!(
                "audit logs go to CloudWatch, kept {} days",
                c.log_retention_days
            ),
        )
    } else {
        check(
            "audit-logging",
            Some(false),
            "audit logs are off: add \"audit\" to cluster.log_types to record who did what",
        )
    });

    let open_to_world = c.public_access_cidrs.iter().any(|n| n.prefix_len() == 0);
    checks.push(match c.endpoint_access {
        EndpointAccess::Private => check(
            "endpoint-access",
            Some(true),
            "the API endpoint is private: reachable only from inside the VPC",
        ),
        _ if open_to_world => check(
            "endpoint-access",
            Some(false),
            "the public endpoint accepts 0.0.0.0/0: set cluster.public_access_cidrs to your own ranges",
        ),
        _ => check(
            "endpoint-access",
            Some(true),
            format!(
                "the public endpoint is limited to {}",
                c.public_access_cidrs
                    .iter()
                    .map(|n| n.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ),
    });

    checks.push(if !profile.nodes.enabled {
        check("private-nodes", None, "no node group is planned")
    } else if n.pattern == Pattern::Public {
        check(
            "private-nodes",
            Some(false),
            "nodes sit in public subnets with public IPs: use the public-and-private pattern for production",
        )
    } else {
        check(
            "private-nodes",
            Some(true),
            "nodes sit in private subnets with no public IPs",
        )
    });

    checks.push(match (n.pattern, n.nat) {
        (Pattern::PublicAndPrivate, Nat::PerAz) => check(
            "nat-per-az",
            Some(true),
            "one NAT gateway per AZ: losing an AZ never cuts the others' egress",
        ),
        (Pattern::PublicAndPrivate, Nat::Single) => check(
            "nat-per-az",
            Some(false),
            "a single NAT gateway: if its AZ fails, every private subnet loses egress",
        ),
        (Pattern::PublicAndPrivate, Nat::None) => check(
            "nat-per-az",
            Some(false),
            "no NAT gateway: private subnets have no egress",
        ),
        (Pattern::Public, _) => check("nat-per-az", None, "no private subnets, no NAT needed"),
        (Pattern::Private, _) => check(
            "nat-per-az",
            None,
            "no internet path by design; VPC endpoints reach AWS",
        ),
    });

    checks.push(check(
        "access-entries",
        Some(true),
        "authentication mode API: access entries, not the aws-auth ConfigMap",
    ));

    checks.push(if profile.nodes.enabled {
        check(
            "imdsv2",
            Some(true),
            "nodes require IMDSv2 with hop limit 1: pods cannot reach the node's credentials",
        )
    } else {
        check("imdsv2", None, "no node group is planned")
    });

    checks.push(
        if c.addons.iter().any(|a| a == "eks-pod-identity-agent") {
            check(
                "pod-identity",
                Some(true),
                "the Pod Identity agent is installed: give workloads AWS permissions per service account",
            )
        } else {
            check(
                "pod-identity",
                Some(false),
                "add \"eks-pod-identity-agent\" to cluster.addons to give workloads their own AWS permissions",
            )
        },
    );

    checks
}

/// What the printed caller policy can reach through the roles eksboot creates, and whether a
/// permissions boundary caps it.
fn boundary(profile: &Profile) -> Check {
    let creator = &profile.security.creator_role;
    match (&profile.security.permissions_boundary, creator) {
        (None, CreatorRole::Create) => check(
            "role-boundary",
            Some(false),
            "no permissions boundary: whoever holds the policy `eksboot permissions` prints can give the creator role anything; to cap what eksboot's roles can ever be given, set security.permissions_boundary",
        ),
        (None, CreatorRole::Existing(_)) => check(
            "role-boundary",
            Some(false),
            "no permissions boundary: whoever holds the policy `eksboot permissions` prints can create the cluster and node roles and attach their policies; to cap what they can ever be given, set security.permissions_boundary",
        ),
        (Some(arn), CreatorRole::Create) => check(
            "role-boundary",
            Some(true),
            format!("every role eksboot creates, the creator role included, is bounded by {arn}: the printed policy cannot give them more"),
        ),
        (Some(arn), CreatorRole::Existing(role)) => check(
            "role-boundary",
            Some(true),
            format!("the cluster and node roles eksboot creates are bounded by {arn}; your creator role {role} is not given it (eksboot never changes a role it did not create)"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checks(security: &str) -> Check {
        let p = Profile::parse(
            &format!(
                "[cluster]\nname = \"demo\"\nregion = \"us-west-2\"\n[security]\n{security}\n"
            ),
            std::path::Path::new("t.toml"),
        )
        .unwrap();
        let all = evaluate(&p);
        assert_eq!(all[1].id, "role-boundary", "right after creator-role");
        all[1].clone()
    }

    #[test]
    fn without_a_boundary_the_checklist_says_what_the_printed_policy_can_reach() {
        let none = checks("");
        assert_eq!(none.ok, Some(false));
        assert!(
            none.note.contains("can give the creator role anything"),
            "{}",
            none.note
        );
        assert!(
            none.note.contains("security.permissions_boundary"),
            "{}",
            none.note
        );

        let brought = checks("creator_role = \"arn:aws:iam::123456789012:role/mine\"");
        assert_eq!(brought.ok, Some(false));
        assert!(
            brought.note.contains("security.permissions_boundary"),
            "{}",
            brought.note
        );
        assert!(!brought.note.contains("creator role"), "{}", brought.note);
    }

    #[test]
    fn with_a_boundary_the_checklist_names_it_and_who_is_not_given_it() {
        let arn = "arn:aws:iam::123456789012:policy/eks-boundary";
        let set = checks(&format!("permissions_boundary = \"{arn}\""));
        assert_eq!(set.ok, Some(true));
        assert!(
            set.note.contains(arn) && set.note.contains("the creator role included"),
            "{}",
            set.note
        );

        let brought = checks(&format!(
            "creator_role = \"arn:aws:iam::123456789012:role/mine\"\npermissions_boundary = \"{arn}\""
        ));
        assert_eq!(brought.ok, Some(true));
        assert!(
            brought
                .note
                .contains("your creator role arn:aws:iam::123456789012:role/mine is not given it"),
            "{}",
            brought.note
        );
    }
}
