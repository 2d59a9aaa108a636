//! The questions, one function per answer, and the order they come in. Esc on a question goes
//! back to the one before; values given by flags or a profile are never asked.

use std::collections::BTreeSet;
use std::str::FromStr;

use ipnet::Ipv4Net;

use super::{Asked, Prompter, Question};
use crate::profile::{
    is_valid_cluster_name, Profile, AUTO_MODE_MIN_VERSION, AUTO_MODE_RUNS, LOG_RETENTION_DAYS,
    NODE_POOLS, POD_IDENTITY_AGENT,
};

/// What AWS told us before the questions (read-only discovery).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Discovery {
    pub region: String,
    /// Usable AZ names, in order.
    pub availability_zones: Vec<String>,
    /// Offered Kubernetes versions, newest first; the first is the default.
    pub versions: Vec<String>,
    /// The caller's public IP, from checkip.amazonaws.com, if it answered.
    pub public_ip: Option<String>,
    /// CIDRs of VPCs already in the region (to warn about overlaps).
    pub existing_vpc_cidrs: Vec<String>,
    /// Clusters already in the region (names must be new).
    pub existing_clusters: Vec<String>,
    /// The account the questions are about.
    pub account: String,
    /// Role ARNs in the account (an existing creator role must be one of them).
    pub existing_roles: Vec<String>,
    /// User ARNs in the account (admins of this account must be roles or users of it).
    pub existing_users: Vec<String>,
    /// Key ARNs in the region (an existing secrets key must be one of them).
    pub existing_keys: Vec<String>,
    /// Planning without AWS credentials: nothing above was read from AWS. Zones are counted
    /// rather than named, the version is left to create time, and what exists (roles, keys,
    /// admins, clusters) is not checked here: `eksboot preflight` checks it before create.
    pub offline: bool,
}

impl Discovery {
    /// What the questions know without credentials: the region, and the caller's public
    /// address if checkip answered (no AWS API call).
    pub fn offline(region: &str, public_ip: Option<String>) -> Discovery {
        Discovery {
            region: region.to_string(),
            public_ip,
            offline: true,
            ..Discovery::default()
        }
    }

    /// How many zones the recommended set-up may use: up to three of those discovered, or
    /// three offline (create picks them; every region EKS runs in has at least two).
    pub fn usable_zone_count(&self) -> usize {
        if self.offline {
            3
        } else {
            self.availability_zones.len().min(3)
        }
    }

    /// The zone counts offered: 2 and 3, each only if the region has that many (offline both).
    fn zone_counts(&self) -> Vec<usize> {
        [2usize, 3]
            .into_iter()
            .filter(|n| self.offline || *n <= self.availability_zones.len())
            .collect()
    }
}

/// Added to the help of a question whose answer names something that must exist, when it
/// cannot be looked up (no credentials).
const NOT_CHECKED_OFFLINE: &str = " Without credentials only its form is checked now; `eksboot preflight` checks it against your account before anything is made.";

/// The answers so far; `None` means not answered yet. Fields given by flags or a profile are
/// listed in `fixed` and never asked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Answers {
    pub fast_path: Option<bool>,
    pub name: Option<String>,
    pub kubernetes_version: Option<String>,
    pub creator_role: Option<String>,
    /// `Some(None)`: answered "no boundary"; `Some(Some(arn))`: that managed policy.
    pub permissions_boundary: Option<Option<String>>,
    pub secrets_key: Option<String>,
    pub log_types: Option<Vec<String>>,
    pub log_retention_days: Option<u32>,
    pub admins: Option<Vec<String>>,
    pub pattern: Option<String>,
    pub vpc_cidr: Option<String>,
    pub availability_zones: Option<u8>,
    /// AZ names, when given by a profile or `--azs a,b`.
    pub az_names: Option<Vec<String>>,
    pub nat: Option<String>,
    pub endpoint_access: Option<String>,
    pub public_access_cidrs: Option<Vec<String>>,
    /// Who runs the nodes: `managed` (a managed node group) or `auto` (EKS Auto Mode).
    pub node_mode: Option<String>,
    /// Auto Mode's built-in node pools.
    pub node_pools: Option<Vec<String>>,
    pub nodes: Option<bool>,
    pub instance_types: Option<Vec<String>>,
    /// `(min, desired, max)`.
    pub node_sizes: Option<(u32, u32, u32)>,
    pub addons: Option<Vec<String>>,
    pub oidc_provider: Option<bool>,
    /// `pod-identity` or `node-role`.
    pub addon_permissions: Option<String>,
    pub deletion_protection: Option<bool>,
    /// `standard` or `extended`.
    pub support: Option<String>,
    /// `al2023` or `bottlerocket`.
    pub node_os: Option<String>,
    pub auto_repair: Option<bool>,
    /// Not asked: kept from a profile (a running cluster's) so a change does not reset it.
    pub disk_size_gib: Option<u32>,
    /// Where the state lives: `Some(None)` this machine, `Some(Some("s3://…"))` a bucket.
    pub state: Option<Option<String>>,
    /// Not asked: kept from a profile, with its `state`.
    pub state_kms_key: Option<String>,
    pub region: String,
    pub fixed: BTreeSet<&'static str>,
}

const DOCS: &str = "https://docs.aws.amazon.com/eks/latest/userguide";

/// `help`, plus, when planning without credentials, that the answer's existence is not checked.
fn offline_help(d: &Discovery, help: &str) -> String {
    if d.offline {
        format!("{help}{NOT_CHECKED_OFFLINE}")
    } else {
        help.to_string()
    }
}

fn q(id: &'static str, label: &str, help: &str) -> Question {
    Question {
        id,
        label: label.to_string(),
        help: help.to_string(),
    }
}

/// The order of questions for the full (not fast) path.
const FULL: [&str; 26] = [
    "creator_role",
    "permissions_boundary",
    "secrets_key",
    "addon_permissions",
    "log_types",
    "log_retention_days",
    "admins",
    "deletion_protection",
    "state",
    "pattern",
    "vpc_cidr",
    "availability_zones",
    "nat",
    "name",
    "kubernetes_version",
    "support",
    "endpoint_access",
    "public_access_cidrs",
    "node_mode",
    "node_pools",
    "nodes",
    "node_os",
    "node_sizes",
    "auto_repair",
    "addons",
    "oidc_provider",
];

fn order(answers: &Answers) -> Vec<&'static str> {
    if answers.fast_path == Some(true) {
        // The recommended set-up still asks who runs the nodes, once (Auto Mode's node pools
        // take their default).
        vec!["name", "public_access_cidrs", "node_mode"]
    } else {
        FULL.to_vec()
    }
}

/// Asks every question not yet answered, in order; Esc goes back one.
pub fn ask_all(p: &mut dyn Prompter, d: &Discovery, a: &mut Answers) -> Result<(), Asked> {
    a.region = d.region.clone();
    if a.fast_path.is_none() {
        let usable = d.usable_zone_count();
        let question = q(
            "fast_path",
            &format!(
                "Use the recommended production set-up (public and private subnets in {usable} AZs, a NAT gateway per AZ, private+public endpoint restricted to your IP, all logs, KMS-encrypted secrets, a dedicated creator role)?"
            ),
            "Yes asks only the cluster name, who may reach its API and who runs the nodes. No walks through the three tasks one question at a time.",
        );
        if usable < 3 && !d.offline {
            p.say(&format!(
                "Note: {} has only {usable} usable availability zones, so the recommended set-up uses {usable}.\n",
                d.region
            ));
        }
        a.fast_path = Some(p.confirm(&question, true)?);
        if a.fast_path == Some(true) {
            apply_fast_path(a, usable as u8);
        }
    }
    let ids = order(a);
    let mut i = 0;
    while i < ids.len() {
        let id = ids[i];
        if a.fixed.contains(id) || !applies(a, id) {
            i += 1;
            continue;
        }
        match ask_one(p, d, a, id) {
            Ok(()) => i += 1,
            Err(Asked::Back) => {
                // Back to the previous question that is asked.
                while i > 0 {
                    i -= 1;
                    if !a.fixed.contains(ids[i]) && applies(a, ids[i]) {
                        break;
                    }
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Asks again every question (after answers turned out not to fit together).
pub fn ask_all_again(p: &mut dyn Prompter, d: &Discovery, a: &mut Answers) -> Result<(), Asked> {
    for id in order(a) {
        if !a.fixed.contains(id) && applies(a, id) {
            ask_one(p, d, a, id)?;
        }
    }
    Ok(())
}

fn apply_fast_path(a: &mut Answers, azs: u8) {
    a.creator_role.get_or_insert_with(|| "create".into());
    a.secrets_key.get_or_insert_with(|| "create".into());
    a.pattern.get_or_insert_with(|| "public-and-private".into());
    a.availability_zones.get_or_insert(azs);
    a.nat.get_or_insert_with(|| "per-az".into());
    a.endpoint_access
        .get_or_insert_with(|| "public-and-private".into());
}

/// Whether a question makes sense given earlier answers.
fn applies(a: &Answers, id: &str) -> bool {
    match id {
        "nat" => a.pattern.as_deref() == Some("public-and-private"),
        "public_access_cidrs" => a.endpoint_access.as_deref() != Some("private"),
        "endpoint_access" => a.pattern.as_deref() != Some("private"),
        "nodes" => !auto_mode(a),
        "node_sizes" | "node_os" | "auto_repair" => !auto_mode(a) && a.nodes != Some(false),
        // Asked on the full path only: the fast path takes both pools.
        "node_pools" => auto_mode(a) && a.fast_path != Some(true),
        _ => true,
    }
}

fn auto_mode(a: &Answers) -> bool {
    a.node_mode.as_deref() == Some("auto")
}

/// The answered questions, for "edit an answer": `(id, "Label: value")`.
pub fn answered(a: &Answers) -> Vec<(&'static str, String)> {
    order(a)
        .into_iter()
        .filter(|id| !a.fixed.contains(id) && applies(a, id))
        .map(|id| (id, format!("{id}: {}", value_of(a, id))))
        .collect()
}

fn value_of(a: &Answers, id: &str) -> String {
    let list = |v: &Option<Vec<String>>| v.as_ref().map(|l| l.join(", ")).unwrap_or_default();
    match id {
        "name" => a.name.clone().unwrap_or_default(),
        "kubernetes_version" => a.kubernetes_version.clone().unwrap_or_default(),
        "creator_role" => a.creator_role.clone().unwrap_or_default(),
        "permissions_boundary" => match &a.permissions_boundary {
            Some(Some(arn)) => arn.clone(),
            _ => "none".into(),
        },
        "secrets_key" => a.secrets_key.clone().unwrap_or_default(),
        "log_types" => list(&a.log_types),
        "log_retention_days" => a
            .log_retention_days
            .map(|d| d.to_string())
            .unwrap_or_default(),
        "admins" => list(&a.admins),
        "pattern" => a.pattern.clone().unwrap_or_default(),
        "vpc_cidr" => a.vpc_cidr.clone().unwrap_or_default(),
        "availability_zones" => a
            .availability_zones
            .map(|n| n.to_string())
            .unwrap_or_default(),
        "nat" => a.nat.clone().unwrap_or_default(),
        "endpoint_access" => a.endpoint_access.clone().unwrap_or_default(),
        "public_access_cidrs" => list(&a.public_access_cidrs),
        "node_mode" => match a.node_mode.as_deref() {
            Some("auto") => "EKS Auto Mode".into(),
            _ => "managed node group".into(),
        },
        "node_pools" => list(&a.node_pools),
        "nodes" => match (a.nodes, &a.instance_types) {
            (Some(false), _) => "none".into(),
            (_, types) => list(types),
        },
        "addons" => list(&a.addons),
        "node_sizes" => a
            .node_sizes
            .map(|(min, desired, max)| format!("min {min}, desired {desired}, max {max}"))
            .unwrap_or_default(),
        "oidc_provider" => yes_no(a.oidc_provider),
        "addon_permissions" => a.addon_permissions.clone().unwrap_or_default(),
        "deletion_protection" => yes_no(a.deletion_protection),
        "state" => match &a.state {
            Some(Some(address)) => address.clone(),
            _ => "this machine".into(),
        },
        "support" => a.support.clone().unwrap_or_default(),
        "node_os" => a.node_os.clone().unwrap_or_default(),
        "auto_repair" => yes_no(a.auto_repair),
        _ => String::new(),
    }
}

fn yes_no(answer: Option<bool>) -> String {
    answer
        .map(|o| if o { "yes" } else { "no" }.to_string())
        .unwrap_or_default()
}

fn arn_list(text: &str) -> Vec<String> {
    text.split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

fn valid_cidr(text: &str) -> Result<Ipv4Net, String> {
    let net = Ipv4Net::from_str(text.trim())
        .map_err(|_| format!("\"{text}\" is not an IPv4 CIDR block such as 10.0.0.0/16"))?;
    if net.network() != net.addr() {
        return Err(format!(
            "\"{text}\" has host bits set; did you mean {}?",
            net.trunc()
        ));
    }
    Ok(net)
}

/// Asks one question and stores its answer.
pub fn ask_one(
    p: &mut dyn Prompter,
    d: &Discovery,
    a: &mut Answers,
    id: &'static str,
) -> Result<(), Asked> {
    match id {
        "creator_role" | "permissions_boundary" | "secrets_key" | "admins" => {
            ask_identity(p, d, a, id)
        }
        "addon_permissions"
        | "deletion_protection"
        | "support"
        | "node_os"
        | "auto_repair"
        | "log_types"
        | "log_retention_days" => ask_safety(p, a, id),
        "state" => ask_state(p, a),
        "pattern" | "vpc_cidr" | "availability_zones" | "nat" => ask_network(p, d, a, id),
        "node_mode" | "node_pools" | "nodes" | "node_sizes" => ask_nodes(p, d, a, id),
        _ => ask_cluster(p, d, a, id),
    }
}

/// Task 1's questions about who: the creator role, its boundary, the key, the admins.
fn ask_identity(
    p: &mut dyn Prompter,
    d: &Discovery,
    a: &mut Answers,
    id: &'static str,
) -> Result<(), Asked> {
    match id {
        "creator_role" => {
            let question = q("creator_role", "Who creates the cluster?",
                &format!("The identity that creates an EKS cluster becomes its first admin. A dedicated role (recommended) keeps that power off your personal user, and only you and the admins you name may assume it. Or give an existing role's ARN. See {DOCS}/cluster-auth.html"));
            let options = vec![
                "Create a dedicated creator role (recommended)".to_string(),
                "Use an existing IAM role".to_string(),
            ];
            a.creator_role = Some(match p.select(&question, &options, 0)? {
                0 => "create".into(),
                _ => p
                    .text(
                        &q(
                            "creator_role_arn",
                            "The role's ARN",
                            &offline_help(
                                d,
                                "For example arn:aws:iam::123456789012:role/eks-creator",
                            ),
                        ),
                        None,
                        &|t| {
                            if !crate::profile::is_role_arn(t.trim()) {
                                Err(
                                    "that is not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)"
                                        .into(),
                                )
                            } else if !d.offline && !d.existing_roles.iter().any(|r| r == t.trim())
                            {
                                Err(format!("there is no role {} in this account", t.trim()))
                            } else {
                                Ok(())
                            }
                        },
                    )?
                    .trim()
                    .to_string(),
            });
        }
        "permissions_boundary" => {
            let brought = a.creator_role.as_deref().is_some_and(|r| r != "create");
            let question = q("permissions_boundary", "Give the roles eksboot creates a permissions boundary?",
                &format!("A ceiling on what eksboot's roles can ever be given, for accounts where role creation is delegated. Every role eksboot creates gets this managed policy as its boundary, and the permissions eksboot prints then let you create and change those roles only with it.{} Most accounts need none. See https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html",
                    if brought { " Your own creator role is not given it: eksboot never changes a role it did not create." } else { "" }));
            let options = vec![
                "No boundary (default)".to_string(),
                "Use a managed policy as the boundary".to_string(),
            ];
            let current = a.permissions_boundary.clone().flatten();
            a.permissions_boundary = Some(
                match p.select(&question, &options, usize::from(current.is_some()))? {
                    0 => None,
                    _ => {
                        let region = d.region.clone();
                        let arn = p.text(
                        &q(
                            "permissions_boundary_arn",
                            "The boundary policy's ARN",
                            &format!("A managed policy in this account, for example arn:{}:iam::{}:policy/eks-boundary. Preflight checks that it allows what eksboot's roles need.", crate::plan::iam::partition(&d.region), if d.account.is_empty() { "123456789012" } else { &d.account }),
                        ),
                        current.as_deref(),
                        &move |t| crate::profile::check_boundary_arn(t.trim(), &region),
                    )?;
                        Some(arn.trim().to_string())
                    }
                },
            );
        }
        "secrets_key" => {
            let question = q("secrets_key", "How should Kubernetes secrets be encrypted?",
                &format!("EKS envelope-encrypts Secrets with a KMS key, so a copy of etcd alone reveals nothing. Off is not offered: turning it on later re-encrypts everything, and a key costs $1/month. See {DOCS}/enable-kms.html"));
            let options = vec![
                "Create a KMS key with rotation (recommended)".to_string(),
                "Use an existing KMS key".to_string(),
            ];
            a.secrets_key = Some(match p.select(&question, &options, 0)? {
                0 => "create".into(),
                _ => p
                    .text(
                        &q(
                            "secrets_key_arn",
                            "The key's ARN",
                            &offline_help(
                                d,
                                "A symmetric key in this region: arn:aws:kms:REGION:ACCOUNT:key/ID",
                            ),
                        ),
                        None,
                        &|t| {
                            if !(t.trim().starts_with("arn:aws") && t.contains(":kms:")) {
                                Err("that is not a KMS key ARN".into())
                            } else if !d.offline && !d.existing_keys.iter().any(|k| k == t.trim()) {
                                Err(format!("there is no key {} in this region", t.trim()))
                            } else {
                                Ok(())
                            }
                        },
                    )?
                    .trim()
                    .to_string(),
            });
        }
        "admins" => {
            let question = q("admins", "Other cluster admins (IAM role or user ARNs, comma-separated; empty for none)",
                &offline_help(d, &format!("Each gets an access entry with cluster-admin rights and may assume the creator role. You get one automatically. See {DOCS}/access-entries.html")));
            let known: Vec<String> = d
                .existing_roles
                .iter()
                .chain(&d.existing_users)
                .cloned()
                .collect();
            let text = p.text(&question, Some(""), &|t| {
                let arns = arn_list(t);
                if let Some(bad) = arns.iter().find(|arn| !crate::profile::is_principal_arn(arn)) {
                    return Err(format!("\"{bad}\" is not an IAM user or role ARN"));
                }
                if d.offline {
                    return Ok(());
                }
                let (missing, _) = crate::preflight::unknown_admins(&arns, &d.account, &known);
                match missing.first() {
                    Some(arn) => Err(format!(
                        "there is no {arn} in this account: create it first, or leave it out (a role's ARN includes its path)"
                    )),
                    None => Ok(()),
                }
            })?;
            a.admins = Some(arn_list(&text));
        }
        _ => {}
    }
    Ok(())
}

/// The last of task 1: where eksboot keeps the record of what it made.
fn ask_state(p: &mut dyn Prompter, a: &mut Answers) -> Result<(), Asked> {
    let question = q("state", "Where should eksboot keep this cluster's state?",
        "The state records every resource eksboot makes, so an interrupted run resumes and teardown removes exactly those. On this machine suits one person; in an S3 bucket your team and CI can all change the cluster, one run at a time (README: Sharing a cluster with a team).");
    let options = vec![
        "On this machine, in .eksboot/ (one person)".to_string(),
        "In an S3 bucket (a team: shared, locked while a run uses it)".to_string(),
    ];
    let current = usize::from(matches!(a.state, Some(Some(_))));
    a.state = Some(match p.select(&question, &options, current)? {
        0 => None,
        _ => {
            let given = match &a.state {
                Some(Some(address)) => Some(address.as_str()),
                _ => None,
            };
            let address = p.text(
                &q(
                    "state_bucket",
                    "The bucket, and a prefix if you like (s3://BUCKET or s3://BUCKET/PREFIX)",
                    "An existing bucket that blocks public access, ideally versioned; preflight checks both before anything is made. The state is then PREFIX/<cluster>-<region>.state.json.",
                ),
                given,
                &|t| crate::profile::check_state_address(t.trim()).map(|_| ()),
            )?;
            Some(
                crate::profile::check_state_address(address.trim())
                    .expect("the prompt accepted only a valid address"),
            )
        }
    });
    Ok(())
}

/// The safety questions, each asked in its task: add-on permissions, protection, support, OS,
/// repair, logs.
fn ask_safety(p: &mut dyn Prompter, a: &mut Answers, id: &'static str) -> Result<(), Asked> {
    match id {
        "addon_permissions" => {
            let question = q("addon_permissions", "Where do add-ons get their AWS permissions?",
                &format!("vpc-cni (pod networking) and aws-ebs-csi-driver (volumes) call AWS. Through Pod Identity each gets a role of its own; on the node role, every pod on a node can use the CNI's permissions. Pod Identity needs the {POD_IDENTITY_AGENT} add-on (included by default). See {DOCS}/pod-identities.html"));
            let options = vec![
                "A role per add-on through Pod Identity (recommended)".to_string(),
                "The node role (every pod on a node can use them)".to_string(),
            ];
            let current = usize::from(a.addon_permissions.as_deref() == Some("node-role"));
            a.addon_permissions =
                Some(["pod-identity", "node-role"][p.select(&question, &options, current)?].into());
        }
        "deletion_protection" => {
            let question = q("deletion_protection", "Protect the cluster from deletion?",
                &format!("EKS then refuses to delete the cluster, so a stray script or click cannot take it down; `eksboot teardown` turns protection off after you confirm. Say no for short-lived test clusters. See {DOCS}/deletion-protection.html"));
            a.deletion_protection =
                Some(p.confirm(&question, a.deletion_protection.unwrap_or(true))?);
        }
        "support" => {
            let question = q("support", "What happens when this version's standard support ends?",
                &format!("Standard support lasts about 14 months. With standard only, EKS then upgrades the control plane itself (node groups and add-ons wait for `eksboot upgrade`). Extended keeps the version 12 more months at $0.60 instead of $0.10 an hour (about $365 a month more). See {DOCS}/kubernetes-versions.html"));
            let options = vec![
                "Standard support only: EKS upgrades the control plane (recommended)".to_string(),
                "Extended support: keep the version, at $0.60/hour".to_string(),
            ];
            let current = usize::from(a.support.as_deref() == Some("extended"));
            a.support =
                Some(["standard", "extended"][p.select(&question, &options, current)?].into());
        }
        "node_os" => {
            let question = q("node_os", "Which operating system on the nodes?",
                &format!("Bottlerocket is AWS's OS built only to run containers: minimal and immutable, no shell or package manager, so a compromised container finds little to use. Amazon Linux 2023 is general-purpose and familiar. Changing it later replaces the node group. See {DOCS}/eks-optimized-ami-bottlerocket.html"));
            let options = vec![
                "Amazon Linux 2023 (default)".to_string(),
                "Bottlerocket (minimal, immutable, built for containers)".to_string(),
            ];
            let current = usize::from(a.node_os.as_deref() == Some("bottlerocket"));
            a.node_os =
                Some(["al2023", "bottlerocket"][p.select(&question, &options, current)?].into());
        }
        "auto_repair" => {
            let question = q("auto_repair", "Let EKS replace nodes that turn unhealthy?",
                &format!("With node auto repair EKS watches each node's health and replaces one that stays unhealthy, so a broken node does not linger. It costs nothing. See {DOCS}/node-health.html"));
            a.auto_repair = Some(p.confirm(&question, a.auto_repair.unwrap_or(true))?);
        }
        "log_types" => {
            let all = [
                "api",
                "audit",
                "authenticator",
                "controllerManager",
                "scheduler",
            ];
            let question = q("log_types", "Which control-plane logs go to CloudWatch?",
                &format!("`audit` records who did what in the cluster: keep it for security reviews. All five are recommended; logs cost $0.50 per GB ingested. See {DOCS}/control-plane-logs.html"));
            let options: Vec<String> = all.iter().map(|s| s.to_string()).collect();
            let picked = p.multi_select(&question, &options, &[0, 1, 2, 3, 4])?;
            a.log_types = Some(picked.into_iter().map(|i| all[i].to_string()).collect());
        }
        "log_retention_days" => {
            let options: Vec<String> = LOG_RETENTION_DAYS
                .iter()
                .map(|d| format!("{d} days"))
                .collect();
            let default = LOG_RETENTION_DAYS
                .iter()
                .position(|d| *d == 90)
                .unwrap_or(0);
            let question = q("log_retention_days", "How long should logs be kept?", &format!("Longer keeps more history for investigations and costs more storage. 90 days is a common start. See {DOCS}/control-plane-logs.html"));
            a.log_retention_days =
                Some(LOG_RETENTION_DAYS[p.select(&question, &options, default)?]);
        }
        _ => {}
    }
    Ok(())
}

/// Task 2's questions: the VPC.
fn ask_network(
    p: &mut dyn Prompter,
    d: &Discovery,
    a: &mut Answers,
    id: &'static str,
) -> Result<(), Asked> {
    match id {
        "pattern" => {
            let question = q("pattern", "Which network layout?",
                &format!("Public and private puts nodes in private subnets behind NAT gateways, with load balancers in public subnets: recommended for production. Public only is simplest and cheapest, but nodes get public IPs. Private only has no internet path at all: nodes reach AWS through VPC endpoints, and the API endpoint is private. See {DOCS}/network-reqs.html"));
            let options = vec![
                "Public and private (recommended for production)".to_string(),
                "Public only (simplest; nodes get public IPs)".to_string(),
                "Private only (no internet path; VPC endpoints instead)".to_string(),
            ];
            let patterns = ["public-and-private", "public", "private"];
            let picked = patterns[p.select(&question, &options, 0)?];
            a.pattern = Some(picked.into());
            if picked == "private" {
                a.endpoint_access = Some("private".into());
                a.public_access_cidrs = Some(Vec::new());
            } else if a.endpoint_access.as_deref() == Some("private")
                && !a.fixed.contains("endpoint_access")
            {
                a.endpoint_access = None;
            }
        }
        "vpc_cidr" => {
            let question = q("vpc_cidr", "The VPC's address range (CIDR)",
                &format!("Every pod gets an address from it, so give it room: a /16 (65,536 addresses) is recommended; /16 to /20 are allowed. Pick a range that does not overlap networks you will connect (office, other VPCs). See {DOCS}/network-reqs.html"));
            let existing = d.existing_vpc_cidrs.clone();
            let text = p.text(&question, Some("10.0.0.0/16"), &move |t| {
                let net = valid_cidr(t)?;
                if !(16..=20).contains(&net.prefix_len()) {
                    return Err(format!("/{} is outside /16 to /20", net.prefix_len()));
                }
                Ok(())
            })?;
            let net = valid_cidr(&text).expect("validated");
            for other in existing.iter().filter_map(|c| Ipv4Net::from_str(c).ok()) {
                if other.contains(&net.network()) || net.contains(&other.network()) {
                    p.say(&format!("Warning: {net} overlaps the existing VPC range {other}; that is fine unless you will connect the two.\n"));
                }
            }
            a.vpc_cidr = Some(net.to_string());
        }
        "availability_zones" => {
            let question = q("availability_zones", "How many availability zones?",
                &format!("EKS needs at least two. Three survive the loss of a whole zone with capacity to spare. See {DOCS}/network-reqs.html"));
            let counts = d.zone_counts();
            let options: Vec<String> = counts
                .iter()
                .map(|n| match d.availability_zones.get(..*n) {
                    Some(names) if !d.offline => format!("{n} ({})", names.join(", ")),
                    // Offline the names are not known: create picks that many usable zones.
                    _ => format!("{n} (named at create time)"),
                })
                .collect();
            let default = options.len() - 1;
            a.availability_zones = Some(counts[p.select(&question, &options, default)?] as u8);
        }
        "nat" => {
            let azs = a.availability_zones.unwrap_or(2);
            let per_az = 32.85 * f64::from(azs) + 3.65 * f64::from(azs);
            let question = q("nat", "NAT gateways (how private subnets reach the internet)",
                "One per AZ means losing a zone never cuts the others' egress. A single NAT gateway is cheaper, but if its zone fails every private subnet loses internet access. See https://docs.aws.amazon.com/vpc/latest/userguide/vpc-nat-gateway.html");
            let options = vec![
                format!("One per AZ (recommended, about ${per_az:.2}/month)"),
                format!(
                    "A single NAT gateway (about ${:.2}/month; one zone's outage cuts all egress)",
                    32.85 + 3.65
                ),
            ];
            a.nat = Some(if p.select(&question, &options, 0)? == 0 {
                "per-az".into()
            } else {
                "single".into()
            });
        }
        _ => {}
    }
    Ok(())
}

/// Who runs the nodes (a node group or Auto Mode), and then the pools or the node group.
fn ask_nodes(
    p: &mut dyn Prompter,
    d: &Discovery,
    a: &mut Answers,
    id: &'static str,
) -> Result<(), Asked> {
    match id {
        "node_mode" => {
            let question = q("node_mode", "Who runs the nodes?",
                &format!("A managed node group: you choose the instance type, how many nodes, their disk and OS, and whether EKS repairs them; AWS runs the instances, you move them to new versions with `eksboot upgrade`, and you pay EC2 only. Suits steady workloads and teams that want to tune their nodes. EKS Auto Mode: AWS launches nodes as pods need them and removes idle ones (scaling), patches them (Bottlerocket, each replaced within 21 days), upgrades them after the control plane and repairs them, and runs pod networking, kube-proxy, CoreDNS, the EBS CSI driver, the load balancer controller and the Pod Identity agent itself; you pay EC2 plus a management fee of about 12 % per instance-hour. You can no longer choose instance types, sizes, disk or OS here, nor log in to a node, and switching a running cluster later moves every workload. Suits a first cluster and small teams that want little day-two work. Needs Kubernetes 1.29 or later. See {DOCS}/automode.html"));
            let options = vec![
                "A managed node group: you choose and size the nodes (default)".to_string(),
                "EKS Auto Mode: AWS launches, patches, scales and repairs the nodes (+~12% per instance)".to_string(),
            ];
            let current = usize::from(auto_mode(a));
            if p.select(&question, &options, current)? == 1 {
                a.node_mode = Some("auto".into());
                a.node_pools
                    .get_or_insert_with(|| NODE_POOLS.iter().map(|s| s.to_string()).collect());
                // Auto Mode runs the usual add-ons itself: a list chosen for a node group
                // goes back to Auto Mode's default (none) unless a profile fixed it.
                let runs_its_own = a
                    .addons
                    .as_ref()
                    .is_some_and(|list| list.iter().any(|x| AUTO_MODE_RUNS.contains(&x.as_str())));
                if runs_its_own && !a.fixed.contains("addons") {
                    a.addons = None;
                }
                let (_, oldest) = AUTO_MODE_MIN_VERSION;
                let too_old = a
                    .kubernetes_version
                    .as_deref()
                    .and_then(|v| v.split('.').nth(1)?.parse::<u32>().ok())
                    .is_some_and(|minor| minor < oldest);
                if too_old && !a.fixed.contains("kubernetes_version") {
                    let newest = d.versions.first().cloned();
                    p.say(&format!(
                        "EKS Auto Mode needs Kubernetes 1.{oldest} or later: the version is now {}.\n",
                        newest.as_deref().unwrap_or("the newest at create time")
                    ));
                    a.kubernetes_version = newest;
                }
            } else {
                a.node_mode = Some("managed".into());
                a.node_pools = None;
            }
        }
        "node_pools" => {
            let question = q("node_pools", "Which of Auto Mode's node pools?",
                &format!("general-purpose runs your workloads (on-demand instances Auto Mode picks); system runs cluster-critical add-ons on nodes of their own (tainted CriticalAddonsOnly). Both are recommended; `eksboot apply` changes them later. See {DOCS}/create-node-pool.html"));
            let options: Vec<String> = NODE_POOLS.iter().map(|s| s.to_string()).collect();
            let current: Vec<usize> = match &a.node_pools {
                Some(pools) => (0..NODE_POOLS.len())
                    .filter(|i| pools.iter().any(|x| x == NODE_POOLS[*i]))
                    .collect(),
                None => (0..NODE_POOLS.len()).collect(),
            };
            let picked = loop {
                let picked = p.multi_select(&question, &options, &current)?;
                if !picked.is_empty() {
                    break picked;
                }
                p.say("Choose at least one node pool: with none, Auto Mode launches no nodes.\n");
            };
            a.node_pools = Some(
                picked
                    .into_iter()
                    .map(|i| NODE_POOLS[i].to_string())
                    .collect(),
            );
        }
        "nodes" => {
            let question = q("nodes", "Nodes: which instance type?",
                &format!("A managed node group runs your pods. t3.medium suits learning; m6i.large or m7g.large (Graviton, cheaper) suit production. Nodes get IMDSv2 and encrypted disks either way. See {DOCS}/managed-node-groups.html"));
            let types = [
                "t3.medium",
                "t3.large",
                "m6i.large",
                "m7g.large",
                "no nodes for now",
            ];
            let options: Vec<String> = types.iter().map(|s| s.to_string()).collect();
            let picked = p.select(&question, &options, 0)?;
            if picked == types.len() - 1 {
                a.nodes = Some(false);
            } else {
                a.nodes = Some(true);
                a.instance_types = Some(vec![types[picked].to_string()]);
            }
        }
        "node_sizes" => {
            let question = q("node_sizes", "How many nodes? (min, desired, max)",
                &format!("The node group starts with `desired` nodes and may scale between min and max. Two nodes in different AZs keep workloads up when one fails. See {DOCS}/managed-node-groups.html"));
            let text = p.text(&question, Some("1, 2, 3"), &|t| {
                let n: Vec<Result<u32, _>> =
                    t.split(',').map(|x| x.trim().parse::<u32>()).collect();
                match n.as_slice() {
                    [Ok(min), Ok(desired), Ok(max)]
                        if min <= desired && desired <= max && *max >= 1 =>
                    {
                        Ok(())
                    }
                    [Ok(_), Ok(_), Ok(_)] => {
                        Err("they must be in order: min ≤ desired ≤ max, and max at least 1".into())
                    }
                    _ => Err("three whole numbers, e.g. 1, 2, 3".into()),
                }
            })?;
            let n: Vec<u32> = text
                .split(',')
                .map(|x| x.trim().parse().expect("validated"))
                .collect();
            a.node_sizes = Some((n[0], n[1], n[2]));
        }
        _ => {}
    }
    Ok(())
}

/// Task 3's questions: the cluster, who runs its nodes, its add-ons.
fn ask_cluster(
    p: &mut dyn Prompter,
    d: &Discovery,
    a: &mut Answers,
    id: &'static str,
) -> Result<(), Asked> {
    match id {
        "name" => {
            let question = q("name", "Cluster name",
                &offline_help(d, &format!("Letters, digits, - and _, starting with a letter or digit, at most 55 characters. It names every resource eksboot makes (demo-vpc, demo-default…). See {DOCS}/create-cluster.html")));
            let existing = d.existing_clusters.clone();
            let default = a.name.clone();
            let name = p.text(&question, default.as_deref(), &move |t| {
                if !is_valid_cluster_name(t.trim()) {
                    Err("use letters, digits, - and _, starting with a letter or digit, at most 55 characters".into())
                } else if existing.iter().any(|c| c == t.trim()) {
                    Err(format!("a cluster named {} already exists in this region", t.trim()))
                } else {
                    Ok(())
                }
            })?;
            a.name = Some(name.trim().to_string());
        }
        "kubernetes_version" => {
            // Without credentials the versions EKS offers are not known: the newest at create
            // time is taken (the profile leaves the version out).
            if d.offline || d.versions.is_empty() {
                return Ok(());
            }
            let question = q("kubernetes_version", "Kubernetes version",
                &format!("The newest version has the longest standard support (about 14 months); older ones cost more in extended support. See {DOCS}/kubernetes-versions.html"));
            let options: Vec<String> = d
                .versions
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    if i == 0 {
                        format!("{v} (newest)")
                    } else {
                        v.clone()
                    }
                })
                .collect();
            a.kubernetes_version = Some(d.versions[p.select(&question, &options, 0)?].clone());
        }
        "endpoint_access" => {
            let question = q("endpoint_access", "Where can the Kubernetes API be reached from?",
                &format!("Public and private lets nodes talk to it inside the VPC and you reach it from the addresses you list next. Private only needs a VPN or a machine in the VPC. See {DOCS}/cluster-endpoint.html"));
            let options = vec![
                "Public and private (recommended)".to_string(),
                "Private only (from inside the VPC)".to_string(),
                "Public only".to_string(),
            ];
            let values = ["public-and-private", "private", "public"];
            a.endpoint_access = Some(values[p.select(&question, &options, 0)?].into());
        }
        "public_access_cidrs" => {
            let (default, help) = match &d.public_ip {
                Some(ip) => (format!("{ip}/32"), format!("Your current public address is {ip}; allowing only it keeps the API away from the rest of the internet. Add your office or VPN ranges, comma-separated.")),
                None => ("0.0.0.0/0".to_string(), "eksboot could not learn your public address. 0.0.0.0/0 means anyone on the internet can reach the API endpoint (they still need credentials); narrow it to your office or VPN ranges when you can.".to_string()),
            };
            let question = q(
                "public_access_cidrs",
                "Who may reach the public API endpoint? (CIDRs, comma-separated)",
                &help,
            );
            let text = p.text(&question, Some(&default), &|t| {
                let list = arn_list(t);
                if list.is_empty() {
                    return Err("give at least one range, e.g. 203.0.113.7/32".into());
                }
                list.iter().try_for_each(|c| valid_cidr(c).map(|_| ()))
            })?;
            a.public_access_cidrs = Some(arn_list(&text));
        }
        "oidc_provider" => {
            let question = q("oidc_provider", "Register the cluster's OIDC issuer with IAM (IRSA)?",
                &format!("Lets Kubernetes service accounts assume IAM roles (IRSA), which many add-ons and charts still use. It costs nothing. See {DOCS}/enable-iam-roles-for-service-accounts.html"));
            a.oidc_provider = Some(p.confirm(&question, true)?);
        }
        "addons" if auto_mode(a) => {
            // Auto Mode runs the usual ones itself (listing one would run it twice).
            let all: Vec<&str> = [
                "vpc-cni",
                "kube-proxy",
                "coredns",
                "eks-pod-identity-agent",
                "aws-ebs-csi-driver",
                "metrics-server",
            ]
            .into_iter()
            .filter(|x| !AUTO_MODE_RUNS.contains(x))
            .collect();
            let question = q("addons", "Which EKS add-ons, besides those Auto Mode runs?",
                &format!("Auto Mode runs pod networking (vpc-cni), kube-proxy, coredns, the EBS CSI driver and the Pod Identity agent itself. metrics-server gives `kubectl top` and the Horizontal Pod Autoscaler their figures. None is the default. See {DOCS}/eks-add-ons.html"));
            let options: Vec<String> = all.iter().map(|s| s.to_string()).collect();
            let picked = p.multi_select(&question, &options, &[])?;
            a.addons = Some(picked.into_iter().map(|i| all[i].to_string()).collect());
        }
        "addons" => {
            let all = [
                "vpc-cni",
                "kube-proxy",
                "coredns",
                "eks-pod-identity-agent",
                "aws-ebs-csi-driver",
                "metrics-server",
            ];
            let question = q("addons", "Which EKS add-ons?",
                &format!("vpc-cni (pod networking), kube-proxy and coredns are what every cluster needs; eks-pod-identity-agent gives workloads their own AWS permissions (recommended). See {DOCS}/eks-add-ons.html"));
            let options: Vec<String> = all.iter().map(|s| s.to_string()).collect();
            let picked = p.multi_select(&question, &options, &[0, 1, 2, 3])?;
            let mut addons: Vec<String> = picked.into_iter().map(|i| all[i].to_string()).collect();
            // Pod Identity hands the add-ons their roles through its agent: keep it, or say
            // that the add-ons' permissions go to the node role.
            if a.addon_permissions.as_deref() == Some("pod-identity")
                && !addons.iter().any(|x| x == POD_IDENTITY_AGENT)
            {
                let keep = a.fixed.contains("addon_permissions")
                    || p.confirm(
                        &q(
                            "pod_identity_agent",
                            &format!("Keep {POD_IDENTITY_AGENT}? Add-ons get their roles through it"),
                            "You chose a role per add-on through Pod Identity, which this agent hands out. No puts the add-ons' permissions on the node role instead.",
                        ),
                        true,
                    )?;
                if keep {
                    addons.push(POD_IDENTITY_AGENT.to_string());
                    p.say(&format!(
                        "{POD_IDENTITY_AGENT} is kept: add-ons get their roles through it.\n"
                    ));
                } else {
                    a.addon_permissions = Some("node-role".into());
                    p.say("Add-ons get their permissions from the node role.\n");
                }
            }
            a.addons = Some(addons);
        }
        _ => {}
    }
    Ok(())
}

impl Answers {
    /// Values already given (by a profile or flags): they are kept and never asked.
    pub fn from_table(table: &toml::Table) -> Answers {
        let get = |section: &str, key: &str| table.get(section)?.as_table()?.get(key).cloned();
        let text = |section: &str, key: &str| {
            get(section, key).and_then(|v| v.as_str().map(str::to_string))
        };
        let list = |section: &str, key: &str| {
            get(section, key).and_then(|v| {
                v.as_array().map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_string))
                        .collect()
                })
            })
        };
        let mut a = Answers {
            name: text("cluster", "name"),
            kubernetes_version: text("cluster", "kubernetes_version"),
            creator_role: text("security", "creator_role"),
            permissions_boundary: text("security", "permissions_boundary").map(Some),
            secrets_key: text("security", "secrets_key"),
            log_types: list("cluster", "log_types"),
            log_retention_days: get("cluster", "log_retention_days")
                .and_then(|v| v.as_integer())
                .map(|d| d as u32),
            admins: list("cluster", "admins"),
            pattern: text("network", "pattern"),
            vpc_cidr: text("network", "vpc_cidr"),
            availability_zones: get("network", "availability_zones").and_then(|v| match v {
                toml::Value::Integer(n) => Some(n as u8),
                toml::Value::Array(names) => Some(names.len() as u8),
                _ => None,
            }),
            az_names: list("network", "availability_zones"),
            nat: text("network", "nat"),
            endpoint_access: text("cluster", "endpoint_access"),
            public_access_cidrs: list("cluster", "public_access_cidrs"),
            node_mode: text("nodes", "mode"),
            node_pools: list("nodes", "node_pools"),
            nodes: get("nodes", "enabled").and_then(|v| v.as_bool()),
            instance_types: list("nodes", "instance_types"),
            addons: list("cluster", "addons"),
            oidc_provider: get("cluster", "oidc_provider").and_then(|v| v.as_bool()),
            addon_permissions: text("security", "addon_permissions"),
            deletion_protection: get("cluster", "deletion_protection").and_then(|v| v.as_bool()),
            support: text("cluster", "support"),
            node_os: text("nodes", "os"),
            auto_repair: get("nodes", "auto_repair").and_then(|v| v.as_bool()),
            disk_size_gib: get("nodes", "disk_size_gib")
                .and_then(|v| v.as_integer())
                .map(|n| n as u32),
            state: table
                .get("state")
                .and_then(|v| v.as_str())
                .map(|v| Some(v.to_string())),
            state_kms_key: table
                .get("state_kms_key")
                .and_then(|v| v.as_str())
                .map(str::to_string),
            ..Answers::default()
        };
        let size = |key: &str| {
            get("nodes", key)
                .and_then(|v| v.as_integer())
                .map(|n| n as u32)
        };
        if let (Some(min), Some(desired), Some(max)) =
            (size("min_size"), size("desired_size"), size("max_size"))
        {
            a.node_sizes = Some((min, desired, max));
        }
        let given = [
            ("name", a.name.is_some()),
            ("kubernetes_version", a.kubernetes_version.is_some()),
            ("creator_role", a.creator_role.is_some()),
            ("permissions_boundary", a.permissions_boundary.is_some()),
            ("secrets_key", a.secrets_key.is_some()),
            ("log_types", a.log_types.is_some()),
            ("log_retention_days", a.log_retention_days.is_some()),
            ("admins", a.admins.is_some()),
            ("pattern", a.pattern.is_some()),
            ("vpc_cidr", a.vpc_cidr.is_some()),
            ("availability_zones", a.availability_zones.is_some()),
            ("nat", a.nat.is_some()),
            ("endpoint_access", a.endpoint_access.is_some()),
            ("public_access_cidrs", a.public_access_cidrs.is_some()),
            ("node_mode", a.node_mode.is_some()),
            ("node_pools", a.node_pools.is_some()),
            ("nodes", a.nodes.is_some() || a.instance_types.is_some()),
            ("addons", a.addons.is_some()),
            ("node_sizes", a.node_sizes.is_some()),
            ("oidc_provider", a.oidc_provider.is_some()),
            ("addon_permissions", a.addon_permissions.is_some()),
            ("deletion_protection", a.deletion_protection.is_some()),
            ("support", a.support.is_some()),
            ("node_os", a.node_os.is_some()),
            ("auto_repair", a.auto_repair.is_some()),
            ("state", a.state.is_some()),
        ];
        a.fixed = given
            .iter()
            .filter(|(_, yes)| *yes)
            .map(|(id, _)| *id)
            .collect();
        a
    }

    /// The answers as a profile, through the same validation as a profile file.
    pub fn to_profile(&self) -> Result<Profile, String> {
        let mut doc = toml::Table::new();
        doc.insert("version".into(), 1.into());
        if let Some(Some(address)) = &self.state {
            doc.insert("state".into(), address.clone().into());
            if let Some(key) = &self.state_kms_key {
                doc.insert("state_kms_key".into(), key.clone().into());
            }
        }
        let mut cluster = toml::Table::new();
        let put = |t: &mut toml::Table, k: &str, v: Option<toml::Value>| {
            if let Some(v) = v {
                t.insert(k.into(), v);
            }
        };
        let strs = |v: &Option<Vec<String>>| {
            v.as_ref()
                .map(|l| toml::Value::Array(l.iter().map(|s| s.clone().into()).collect()))
        };
        put(&mut cluster, "name", self.name.clone().map(Into::into));
        put(&mut cluster, "region", Some(self.region.clone().into()));
        put(
            &mut cluster,
            "kubernetes_version",
            self.kubernetes_version.clone().map(Into::into),
        );
        put(
            &mut cluster,
            "endpoint_access",
            self.endpoint_access.clone().map(Into::into),
        );
        put(
            &mut cluster,
            "public_access_cidrs",
            strs(&self.public_access_cidrs),
        );
        put(&mut cluster, "log_types", strs(&self.log_types));
        put(
            &mut cluster,
            "log_retention_days",
            self.log_retention_days.map(|d| i64::from(d).into()),
        );
        put(&mut cluster, "admins", strs(&self.admins));
        put(&mut cluster, "addons", strs(&self.addons));
        put(
            &mut cluster,
            "oidc_provider",
            self.oidc_provider.map(Into::into),
        );
        put(
            &mut cluster,
            "support",
            self.support.clone().map(Into::into),
        );
        put(
            &mut cluster,
            "deletion_protection",
            self.deletion_protection.map(Into::into),
        );
        let mut security = toml::Table::new();
        put(
            &mut security,
            "creator_role",
            self.creator_role.clone().map(Into::into),
        );
        put(
            &mut security,
            "permissions_boundary",
            self.permissions_boundary.clone().flatten().map(Into::into),
        );
        put(
            &mut security,
            "secrets_key",
            self.secrets_key.clone().map(Into::into),
        );
        put(
            &mut security,
            "addon_permissions",
            self.addon_permissions.clone().map(Into::into),
        );
        let mut network = toml::Table::new();
        put(
            &mut network,
            "pattern",
            self.pattern.clone().map(Into::into),
        );
        put(
            &mut network,
            "vpc_cidr",
            self.vpc_cidr.clone().map(Into::into),
        );
        let azs = match &self.az_names {
            Some(names) => strs(&Some(names.clone())),
            None => self.availability_zones.map(|n| i64::from(n).into()),
        };
        put(&mut network, "availability_zones", azs);
        put(&mut network, "nat", self.nat.clone().map(Into::into));
        let mut nodes = toml::Table::new();
        put(&mut nodes, "mode", self.node_mode.clone().map(Into::into));
        if self.node_mode.as_deref() == Some("auto") {
            // Auto Mode chooses the node group's fields (a profile writing them is refused).
            put(&mut nodes, "node_pools", strs(&self.node_pools));
        } else {
            put(&mut nodes, "enabled", self.nodes.map(Into::into));
            put(&mut nodes, "instance_types", strs(&self.instance_types));
            if let Some((min, desired, max)) = self.node_sizes {
                put(&mut nodes, "min_size", Some(i64::from(min).into()));
                put(&mut nodes, "desired_size", Some(i64::from(desired).into()));
                put(&mut nodes, "max_size", Some(i64::from(max).into()));
            }
            put(&mut nodes, "os", self.node_os.clone().map(Into::into));
            put(&mut nodes, "auto_repair", self.auto_repair.map(Into::into));
            put(
                &mut nodes,
                "disk_size_gib",
                self.disk_size_gib.map(|n| i64::from(n).into()),
            );
        }
        doc.insert("cluster".into(), cluster.into());
        doc.insert("security".into(), security.into());
        doc.insert("network".into(), network.into());
        doc.insert("nodes".into(), nodes.into());
        let text = toml::to_string(&doc).expect("a table renders");
        Profile::parse(&text, std::path::Path::new("your answers")).map_err(|e| super::explain(&e))
    }
}
