//! The security checklist: the profile measured against EKS best practices, each item ✓, ✗ or
//! not applicable, with a one-line reason. Pure.

use serde::Serialize;

use crate::profile::{
    AddonPermissions, CreatorRole, EndpointAccess, LogType, Nat, NodeOs, Pattern, Profile,
    SecretsKey, Support, POD_IDENTITY_AGENT,
};

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
    evaluate_with(profile, None)
}

/// [`evaluate`], with the day the cluster's version leaves standard support when known
/// (RFC 3339): the extended-support line says from when it costs more.
pub fn evaluate_with(profile: &Profile, standard_support_ends: Option<&str>) -> Vec<Check> {
    let mut checks = identity_rows(profile);
    checks.extend(network_rows(profile));
    checks.extend(safety_rows(profile, standard_support_ends));
    checks
}

/// Who creates and administers the cluster, what encrypts it, what is logged.
fn identity_rows(profile: &Profile) -> Vec<Check> {
    let c = &profile.cluster;
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

    checks
}

/// Where the API and the nodes can be reached from, and the way out.
fn network_rows(profile: &Profile) -> Vec<Check> {
    let c = &profile.cluster;
    let n = &profile.network;
    let mut checks = Vec::new();
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

    // Auto Mode's default node class launches nodes in the cluster's subnets (EKS user guide,
    // "Create a Node Class for Amazon EKS": subnetSelectorTerms default to the cluster's), so
    // where they go is where the cluster is given subnets.
    let auto = profile.auto_mode();
    checks.push(if auto && n.pattern == Pattern::Public {
        check(
            "private-nodes",
            Some(false),
            "Auto Mode launches its nodes in the cluster's subnets, here public ones, with public IPs: use the public-and-private pattern for production",
        )
    } else if auto && n.pattern == Pattern::Private {
        check(
            "private-nodes",
            Some(true),
            "Auto Mode launches its nodes in the private subnets; they reach AWS through the VPC endpoints planned",
        )
    } else if auto {
        check(
            "private-nodes",
            Some(true),
            "Auto Mode launches its nodes in the private subnets only (the cluster is given no public one), with no public IPs",
        )
    } else if !profile.nodes.enabled {
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

    checks
}

/// Access, instance metadata, add-on permissions and the safe defaults of the cluster and nodes.
fn safety_rows(profile: &Profile, standard_support_ends: Option<&str>) -> Vec<Check> {
    let c = &profile.cluster;
    let mut checks = Vec::new();
    let auto = profile.auto_mode();
    checks.push(check(
        "access-entries",
        Some(true),
        "authentication mode API: access entries, not the aws-auth ConfigMap",
    ));

    checks.push(if auto {
        // EKS user guide, "Learn about Amazon EKS Auto Mode Managed instances": AWS configures
        // the managed instances; their metadata options are not the user's to set.
        check(
            "imdsv2",
            Some(true),
            "set by AWS, not by eksboot: Auto Mode's managed instances come with the instance metadata settings AWS chooses, which cannot be changed",
        )
    } else if profile.nodes.enabled {
        check(
            "imdsv2",
            Some(true),
            "nodes require IMDSv2 with hop limit 1: pods cannot reach the node's credentials",
        )
    } else {
        check("imdsv2", None, "no node group is planned")
    });

    checks.push(
        if auto {
            check(
                "pod-identity",
                Some(true),
                "Auto Mode runs the Pod Identity agent itself: give workloads AWS permissions per service account",
            )
        } else if c.addons.iter().any(|a| a == "eks-pod-identity-agent") {
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

    checks.push(addon_permissions(profile));

    checks.push(if c.deletion_protection {
        check(
            "deletion-protection",
            Some(true),
            "EKS refuses to delete the cluster while protection is on; `eksboot teardown` turns it off only after you confirm",
        )
    } else {
        check(
            "deletion-protection",
            Some(false),
            "nothing stops an accidental delete of the cluster: set cluster.deletion_protection = true",
        )
    });

    checks.push(match c.support {
        Support::Standard if auto => check(
            "support-policy",
            Some(true),
            "standard support only: at its end EKS upgrades the control plane itself and Auto Mode then moves the nodes (add-ons wait for `eksboot upgrade`); no extended-support price",
        ),
        Support::Standard => check(
            "support-policy",
            Some(true),
            "standard support only: at its end EKS upgrades the control plane itself (node groups and add-ons wait for `eksboot upgrade`); no extended-support price",
        ),
        Support::Extended => check(
            "support-policy",
            Some(false),
            format!(
                "extended support: the control plane costs ${:.2}/hour instead of ${:.2} {}: set cluster.support = \"standard\" and upgrade in time",
                super::cost::EKS_EXTENDED_SUPPORT_HOURLY,
                super::cost::EKS_CONTROL_PLANE_HOURLY,
                match standard_support_ends {
                    Some(end) => format!("from {}", end.get(..10).unwrap_or(end)),
                    None => "once its version leaves standard support".into(),
                }
            ),
        ),
    });

    checks.push(if auto {
        // EKS user guide, "Learn about Amazon EKS Auto Mode Managed instances": Auto Mode
        // repairs unhealthy nodes, and replaces each within 21 days, patched and upgraded.
        check(
            "node-auto-repair",
            Some(true),
            "AWS repairs Auto Mode's nodes and upgrades them: each is replaced by a patched one within 21 days, and with the control plane's version",
        )
    } else if !profile.nodes.enabled {
        check("node-auto-repair", None, "no node group is planned")
    } else if profile.nodes.auto_repair {
        check(
            "node-auto-repair",
            Some(true),
            "EKS replaces nodes that turn unhealthy (node repair)",
        )
    } else {
        check(
            "node-auto-repair",
            Some(false),
            "unhealthy nodes stay broken until someone replaces them: set nodes.auto_repair = true",
        )
    });

    checks.push(match (profile.nodes.enabled, profile.nodes.os) {
        _ if auto => check(
            "node-os",
            Some(true),
            "Bottlerocket, chosen and patched by AWS: a minimal, immutable OS built only to run containers (no shell, no SSH or SSM)",
        ),
        (false, _) => check("node-os", None, "no node group is planned"),
        (true, NodeOs::Bottlerocket) => check(
            "node-os",
            Some(true),
            "Bottlerocket: a minimal, immutable OS built only to run containers (no shell, no package manager)",
        ),
        (true, NodeOs::Al2023) => check(
            "node-os",
            None,
            "Amazon Linux 2023, a general-purpose OS; nodes.os = \"bottlerocket\" is minimal and immutable, built only to run containers",
        ),
    });

    checks
}

/// Where the add-ons that call AWS get their permissions.
fn addon_permissions(profile: &Profile) -> Check {
    const ID: &str = "addon-permissions";
    let callers: Vec<&str> = crate::profile::ADDON_POLICIES
        .iter()
        .map(|(addon, _)| *addon)
        .filter(|addon| profile.cluster.addons.iter().any(|a| a == addon))
        .collect();
    if profile.auto_mode() {
        // EKS user guide, "Automate cluster infrastructure with EKS Auto Mode": networking and
        // block storage run as part of Auto Mode, with the cluster role's permissions.
        return check(
            ID,
            Some(true),
            "Auto Mode runs pod networking and block storage itself, with the cluster role's permissions; the node role keeps only what nodes need",
        );
    }
    match profile.security.addon_permissions {
        AddonPermissions::PodIdentity if callers.is_empty() => check(
            ID,
            Some(true),
            "add-ons that call AWS get a role each through Pod Identity (none is listed now)",
        ),
        AddonPermissions::PodIdentity => check(
            ID,
            Some(true),
            format!(
                "{} get{} a role of {} own through Pod Identity; the node role keeps only what nodes need",
                callers.join(" and "),
                if callers.len() == 1 { "s" } else { "" },
                if callers.len() == 1 { "its" } else { "their" },
            ),
        ),
        AddonPermissions::NodeRole if callers.is_empty() => check(
            ID,
            None,
            "no add-on that calls AWS is listed",
        ),
        AddonPermissions::NodeRole => {
            let has_agent = profile.cluster.addons.iter().any(|a| a == POD_IDENTITY_AGENT);
            let what = if callers.contains(&"vpc-cni") {
                "every pod on a node can use the CNI's permissions"
            } else {
                "add-on permissions sit on the node role, for every pod on a node"
            };
            let fix = if has_agent {
                "set security.addon_permissions = \"pod-identity\"".to_string()
            } else {
                format!("add \"{POD_IDENTITY_AGENT}\" to cluster.addons and set security.addon_permissions = \"pod-identity\"")
            };
            check(ID, Some(false), format!("{what}: {fix}"))
        }
    }
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

    fn auto(pattern: &str) -> Vec<Check> {
        let p = Profile::parse(
            &format!("[cluster]\nname = \"demo\"\nregion = \"us-west-2\"\n[network]\npattern = \"{pattern}\"\n[nodes]\nmode = \"auto\"\n"),
            std::path::Path::new("t.toml"),
        )
        .unwrap();
        evaluate(&p)
    }

    fn row<'a>(checks: &'a [Check], id: &str) -> &'a Check {
        checks.iter().find(|c| c.id == id).unwrap()
    }

    #[test]
    fn auto_mode_nodes_are_as_auto_mode_provides_them() {
        let checks = auto("public-and-private");
        let os = row(&checks, "node-os");
        assert_eq!(os.ok, Some(true));
        assert!(
            os.note
                .starts_with("Bottlerocket, chosen and patched by AWS"),
            "{}",
            os.note
        );
        let imds = row(&checks, "imdsv2");
        assert_eq!(imds.ok, Some(true));
        assert!(
            imds.note.starts_with("set by AWS, not by eksboot"),
            "{}",
            imds.note
        );
        let repair = row(&checks, "node-auto-repair");
        assert_eq!(repair.ok, Some(true));
        assert!(
            repair
                .note
                .contains("AWS repairs Auto Mode's nodes and upgrades them"),
            "{}",
            repair.note
        );
        let private = row(&checks, "private-nodes");
        assert_eq!(private.ok, Some(true));
        assert!(
            private.note.contains("private subnets only"),
            "{}",
            private.note
        );
        // Auto Mode runs the agent, the CNI and the EBS driver: no add-on is missing.
        let agent = row(&checks, "pod-identity");
        assert_eq!(agent.ok, Some(true), "{}", agent.note);
        assert!(agent
            .note
            .starts_with("Auto Mode runs the Pod Identity agent"));
        assert_eq!(row(&checks, "addon-permissions").ok, Some(true));
        let support = row(&checks, "support-policy");
        assert!(
            support.note.contains("Auto Mode then moves the nodes"),
            "{}",
            support.note
        );
        // The same rows, in the same order, as a managed node group's.
        let managed = evaluate(
            &Profile::parse(
                "[cluster]\nname = \"demo\"\nregion = \"us-west-2\"\n",
                std::path::Path::new("t.toml"),
            )
            .unwrap(),
        );
        let ids = |c: &[Check]| c.iter().map(|c| c.id).collect::<Vec<_>>();
        assert_eq!(ids(&checks), ids(&managed));
    }

    #[test]
    fn auto_mode_nodes_in_public_subnets_are_said_to_be_public_and_private_ones_use_the_endpoints()
    {
        let public = auto("public");
        let nodes = row(&public, "private-nodes");
        assert_eq!(nodes.ok, Some(false));
        assert!(
            nodes.note.contains("here public ones, with public IPs"),
            "{}",
            nodes.note
        );
        let private = auto("private");
        let nodes = row(&private, "private-nodes");
        assert_eq!(nodes.ok, Some(true));
        assert!(
            nodes.note.contains("through the VPC endpoints planned"),
            "{}",
            nodes.note
        );
    }
}
