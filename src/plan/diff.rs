//! Day two: what changes when a running cluster's profile changes. Pure: the profile stored in
//! the state file against the one on disk, no AWS call.
//!
//! Each changed field is one [`Change`] (per element for lists of things: admins, add-ons), with
//! what applying it does: add, update in place, replace, remove. Fields AWS cannot change on a
//! running cluster are [`Refusal`]s, each with its reason and the way out.

use serde::Serialize;
use serde_json::Value;

use super::{cost, Plan, PlanFacts, Task};
use crate::profile::Profile;

/// What applying one change does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Something new is made (an access entry, an add-on, the node group).
    Add,
    /// Changed in place, nothing replaced.
    Update,
    /// A new one is made, then the old one deleted.
    Replace,
    /// Something is deleted.
    Remove,
}

impl Action {
    pub fn symbol(self) -> &'static str {
        match self {
            Action::Add => "+",
            Action::Update => "~",
            Action::Replace => "±",
            Action::Remove => "-",
        }
    }
}

/// One change to a running cluster.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    pub task: Task,
    /// The profile field, e.g. `cluster.admins`.
    pub field: String,
    pub action: Action,
    pub before: Value,
    pub after: Value,
    /// What applying it does, in a few words.
    #[serde(skip)]
    pub effect: String,
}

/// A field that cannot change on a running cluster.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Refusal {
    pub field: String,
    pub before: Value,
    pub after: Value,
    pub reason: String,
    pub way_out: String,
}

/// Everything between two profiles of one cluster.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Diff {
    pub changes: Vec<Change>,
    pub refused: Vec<Refusal>,
    pub monthly_cost_before: f64,
    pub monthly_cost_after: f64,
}

impl Diff {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty() && self.refused.is_empty()
    }

    /// The changes of one task, in profile order.
    pub fn in_task(&self, task: Task) -> impl Iterator<Item = &Change> {
        self.changes.iter().filter(move |c| c.task == task)
    }
}

/// How a field may change on a running cluster.
enum Rule {
    /// Never: (reason, way out).
    Refuse(&'static str, &'static str),
    Update(Task, &'static str),
    Replace(Task, &'static str),
    /// A list whose elements are each added or removed.
    Each(Task, &'static str, &'static str),
    /// A switch that adds or removes something.
    Switch(Task, &'static str, &'static str),
    /// An optional setting of existing things, changed in place whether it is set, changed
    /// or unset: (task, effect when set, when changed, when unset).
    Setting(Task, &'static str, &'static str, &'static str),
}

/// A min or max size change: the desired size running now is not touched.
const KEEPS_DESIRED: &str =
    "node group resized in place; the desired size it runs with is kept (clamped into [min, max])";

const TEARDOWN: &str = "`eksboot teardown`, then `eksboot create` with the new profile";

/// Every profile field, in profile order, with how it may change.
fn rules() -> Vec<(&'static str, &'static str, Rule)> {
    use Rule::*;
    vec![
        ("cluster", "name", Refuse("a cluster's name is fixed when it is created", TEARDOWN)),
        ("cluster", "region", Refuse("a cluster lives in one region", TEARDOWN)),
        (
            "cluster",
            "kubernetes_version",
            Refuse(
                "Kubernetes versions move one minor version at a time, control plane first, then add-ons and nodes",
                "`eksboot upgrade --profile FILE` does that (and writes the new version into the profile); restore kubernetes_version to apply the other changes",
            ),
        ),
        ("cluster", "endpoint_access", Update(Task::Cluster, "updated in place (UpdateClusterConfig)")),
        ("cluster", "public_access_cidrs", Update(Task::Cluster, "updated in place (UpdateClusterConfig)")),
        ("cluster", "log_types", Update(Task::Cluster, "logging updated in place")),
        ("cluster", "log_retention_days", Update(Task::Secure, "log group retention set")),
        ("cluster", "admins", Each(Task::Cluster, "access entry made (cluster admin)", "access entry deleted")),
        (
            "cluster",
            "addons",
            Each(
                Task::Cluster,
                "add-on installed",
                "no longer managed by EKS; its software keeps running (`apply --delete-addon-software NAME` deletes it too)",
            ),
        ),
        (
            "cluster",
            "oidc_provider",
            Switch(Task::Cluster, "IAM OIDC provider made", "IAM OIDC provider deleted"),
        ),
        // Effects per value: see `effect_of`.
        ("cluster", "support", Update(Task::Cluster, "")),
        ("cluster", "deletion_protection", Update(Task::Cluster, "")),
        (
            "security",
            "creator_role",
            Refuse("the creator role made the cluster and is its bootstrap admin", TEARDOWN),
        ),
        (
            "security",
            "secrets_key",
            Refuse("EKS cannot change the key that encrypts a cluster's secrets", TEARDOWN),
        ),
        (
            "security",
            "permissions_boundary",
            Setting(
                Task::Secure,
                "set as the boundary of the roles eksboot made (PutRolePermissionsBoundary)",
                "replaces the boundary of the roles eksboot made (PutRolePermissionsBoundary)",
                "removed from the roles eksboot made (DeleteRolePermissionsBoundary)",
            ),
        ),
        // One way only: see `addon_permissions`.
        ("security", "addon_permissions", Update(Task::Secure, "")),
        ("network", "pattern", Refuse("the cluster's subnets are fixed at creation", TEARDOWN)),
        ("network", "vpc_cidr", Refuse("a VPC's primary CIDR cannot change", TEARDOWN)),
        (
            "network",
            "availability_zones",
            Refuse("the cluster's subnets are fixed at creation", TEARDOWN),
        ),
        ("network", "nat", Refuse("the NAT layout carries the nodes' routes", TEARDOWN)),
        (
            "nodes",
            "mode",
            Refuse(
                "moving between a managed node group and EKS Auto Mode moves every workload onto other nodes (AWS allows it through UpdateClusterConfig; eksboot does not do it for you)",
                "by hand: turn Auto Mode's compute, block storage and load balancing on (or off) together with `aws eks update-cluster-config`, drain the old nodes so pods move over (`kubectl drain`), delete what ran them; or `eksboot teardown`, then `eksboot create` with the new profile",
            ),
        ),
        (
            "nodes",
            "node_pools",
            Update(Task::Cluster, "Auto Mode's node pools set in place (UpdateClusterConfig, waited); nodes of a dropped pool are drained and removed by Auto Mode"),
        ),
        (
            "nodes",
            "enabled",
            Switch(
                Task::Cluster,
                "node group made (with its node role and launch template)",
                "node group drained (cordoned; pods evicted, PodDisruptionBudgets honoured), then deleted",
            ),
        ),
        (
            "nodes",
            "instance_types",
            Replace(
                Task::Cluster,
                "new node group, ACTIVE before the old one is drained (PodDisruptionBudgets honoured) and deleted",
            ),
        ),
        ("nodes", "min_size", Update(Task::Cluster, KEEPS_DESIRED)),
        ("nodes", "desired_size", Update(Task::Cluster, "node group's desired size set in place")),
        ("nodes", "max_size", Update(Task::Cluster, KEEPS_DESIRED)),
        (
            "nodes",
            "disk_size_gib",
            Update(Task::Cluster, "new launch template version, nodes rolled onto it"),
        ),
        ("nodes", "auto_repair", Update(Task::Cluster, "")),
        ("nodes", "os", Replace(Task::Cluster, "")),
    ]
}

/// What changing the new safety fields does, by the value they take (`now`); `None` for the
/// fields whose effect does not depend on it.
fn effect_of(field: &str, now: &Value, after: &Profile) -> Option<String> {
    let on = now == &Value::Bool(true);
    Some(match field {
        "cluster.support" if now == "standard" => "standard support only (UpdateClusterConfig, waited): at its end EKS upgrades the control plane itself (node groups and add-ons wait for `eksboot upgrade`); EKS accepts the change only in standard support (past it: `eksboot upgrade` first)".into(),
        "cluster.support" => format!(
            "extended support (UpdateClusterConfig, waited): once the version leaves standard support the control plane costs ${:.2}/hour instead of ${:.2}/hour",
            cost::EKS_EXTENDED_SUPPORT_HOURLY, cost::EKS_CONTROL_PLANE_HOURLY
        ),
        "cluster.deletion_protection" if on => "deletion protection turned on in place (UpdateClusterConfig, waited): EKS refuses to delete the cluster until it is turned off (`eksboot teardown` does that after you confirm)".into(),
        "cluster.deletion_protection" => "deletion protection turned off in place (UpdateClusterConfig, waited): anyone allowed to may delete the cluster".into(),
        "nodes.auto_repair" if on => "node repair turned on in place (UpdateNodegroupConfig): EKS replaces nodes that turn unhealthy".into(),
        "nodes.auto_repair" => "node repair turned off in place (UpdateNodegroupConfig): unhealthy nodes stay until someone replaces them".into(),
        "nodes.os" => format!(
            "new node group running {} ({}), ACTIVE before the old one is drained (PodDisruptionBudgets honoured) and deleted",
            after.nodes.os,
            after.nodes.os.ami_type(crate::profile::instance_arch(
                after.nodes.instance_types.first().map_or("", String::as_str)
            ))
        ),
        _ => return None,
    })
}

/// `security.addon_permissions` moves one way on a running cluster: from the node role to a
/// role per add-on through Pod Identity. Back is refused while an add-on gets its role through
/// Pod Identity (the node role would hand the CNI's permissions to every pod on a node again),
/// and so is removing eks-pod-identity-agent then (which flips the default back).
fn addon_permissions(
    before: &Profile,
    after: &Profile,
    changes: &mut Vec<Change>,
    refused: &mut Vec<Refusal>,
) {
    use crate::profile::{AddonPermissions, POD_IDENTITY_AGENT};
    let (was, now) = (
        before.security.addon_permissions,
        after.security.addon_permissions,
    );
    if was == now {
        return;
    }
    let value = |p: AddonPermissions| Value::from(p.as_str());
    // In profile order: after the cluster and other security rows, before network and nodes.
    fn position<'a>(mut fields: impl Iterator<Item = &'a str>) -> Option<usize> {
        fields.position(|f| f.starts_with("network.") || f.starts_with("nodes."))
    }
    let push_change = |changes: &mut Vec<Change>, change: Change| {
        let i = position(changes.iter().map(|c| c.field.as_str())).unwrap_or(changes.len());
        changes.insert(i, change);
    };
    let push_refusal = |refused: &mut Vec<Refusal>, refusal: Refusal| {
        let i = position(refused.iter().map(|r| r.field.as_str())).unwrap_or(refused.len());
        refused.insert(i, refusal);
    };
    if now == AddonPermissions::PodIdentity {
        let roles: Vec<String> = after
            .addon_roles()
            .iter()
            .map(|(addon, policy)| format!("{addon} ({policy})"))
            .collect();
        let effect = if roles.is_empty() {
            "add-ons that call AWS will get a role each through Pod Identity (none is listed now)"
                .to_string()
        } else {
            let rolled = if after.nodes.enabled && before.nodes.enabled {
                "; nodes rolled so every aws-node pod picks it up"
            } else {
                ""
            };
            format!(
                "each add-on gets its role through Pod Identity: {}{rolled}; then AmazonEKS_CNI_Policy leaves the node role",
                roles.join(", ")
            )
        };
        push_change(
            changes,
            Change {
                task: Task::Secure,
                field: "security.addon_permissions".into(),
                action: Action::Update,
                before: value(was),
                after: value(now),
                effect,
            },
        );
        return;
    }
    // Pod Identity to the node role.
    let users: Vec<&str> = before.addon_roles().iter().map(|(a, _)| *a).collect();
    if users.is_empty() {
        // No add-on had a role: nothing moves but where a future one gets its permissions.
        push_change(
            changes,
            Change {
                task: Task::Secure,
                field: "security.addon_permissions".into(),
                action: Action::Update,
                before: value(was),
                after: value(now),
                effect: "add-ons that call AWS will get their permissions from the node role (none is listed now)".into(),
            },
        );
        return;
    }
    let agent_removed = before
        .cluster
        .addons
        .iter()
        .any(|a| a == POD_IDENTITY_AGENT)
        && !after.cluster.addons.iter().any(|a| a == POD_IDENTITY_AGENT);
    if agent_removed {
        // The add-on's own removal row is replaced by the refusal.
        changes.retain(|c| !(c.field == "cluster.addons" && c.before == POD_IDENTITY_AGENT));
        push_refusal(refused, Refusal {
            field: "cluster.addons".into(),
            before: Value::from(POD_IDENTITY_AGENT),
            after: Value::Null,
            reason: format!(
                "{} get{} AWS permissions through Pod Identity, which {POD_IDENTITY_AGENT} hands out: without it they lose their credentials",
                users.join(" and "),
                if users.len() == 1 { "s its" } else { " their" }
            ),
            way_out: format!("keep \"{POD_IDENTITY_AGENT}\" in cluster.addons"),
        });
        return;
    }
    push_refusal(refused, Refusal {
        field: "security.addon_permissions".into(),
        before: value(was),
        after: value(now),
        reason: format!(
            "eksboot does not move {}'s permissions back onto the node role: every pod on a node could use them",
            users.join(" and ")
        ),
        way_out: format!(
            "write security.addon_permissions = \"pod-identity\" (and keep \"{POD_IDENTITY_AGENT}\" in cluster.addons)"
        ),
    });
}

fn field_value(profile: &Value, section: &str, key: &str) -> Value {
    profile[section].get(key).cloned().unwrap_or(Value::Null)
}

/// The changes from `before` (the profile the cluster was made or last changed with) to
/// `after`, with the monthly cost of each.
pub fn diff(before: &Profile, after: &Profile) -> Diff {
    let old = serde_json::to_value(before).expect("profile serialises");
    let new = serde_json::to_value(after).expect("profile serialises");
    let mut changes = Vec::new();
    let mut refused = Vec::new();
    let nodes_both = before.node_group() && after.node_group();
    let same_mode = before.nodes.mode == after.nodes.mode;
    for (section, key, rule) in rules() {
        let (was, now) = (
            field_value(&old, section, key),
            field_value(&new, section, key),
        );
        if was == now {
            continue;
        }
        if (section, key) == ("security", "addon_permissions") {
            continue; // after the loop: it depends on the add-ons too.
        }
        // Once the mode differs, that refusal says it all (the add-ons' defaults follow it).
        if !same_mode
            && (section == "nodes" && key != "mode" || (section, key) == ("cluster", "addons"))
        {
            continue;
        }
        // Node settings matter only while there is a node group before and after.
        if section == "nodes" && !["enabled", "mode", "node_pools"].contains(&key) && !nodes_both {
            continue;
        }
        let field = format!("{section}.{key}");
        let specific = effect_of(&field, &now, after);
        let change = |task, action, before: &Value, after: &Value, effect: &str| Change {
            task,
            field: field.clone(),
            action,
            before: before.clone(),
            after: after.clone(),
            effect: specific.clone().unwrap_or_else(|| effect.to_string()),
        };
        match rule {
            Rule::Refuse(reason, way_out) => refused.push(Refusal {
                field: field.clone(),
                before: was,
                after: now,
                reason: reason.into(),
                way_out: way_out.into(),
            }),
            Rule::Update(task, effect) => {
                changes.push(change(task, Action::Update, &was, &now, effect))
            }
            Rule::Replace(task, effect) => {
                changes.push(change(task, Action::Replace, &was, &now, effect))
            }
            Rule::Each(task, added, removed) => {
                let items = |v: &Value| v.as_array().cloned().unwrap_or_default();
                let (was, now) = (items(&was), items(&now));
                for item in was.iter().filter(|i| !now.contains(i)) {
                    changes.push(change(task, Action::Remove, item, &Value::Null, removed));
                }
                for item in now.iter().filter(|i| !was.contains(i)) {
                    changes.push(change(task, Action::Add, &Value::Null, item, added));
                }
            }
            Rule::Switch(task, on, off) => {
                let action = if now == Value::Bool(true) {
                    Action::Add
                } else {
                    Action::Remove
                };
                let effect = if action == Action::Add { on } else { off };
                changes.push(change(task, action, &was, &now, effect));
            }
            Rule::Setting(task, set, changed, unset) => {
                let effect = match (was.is_null(), now.is_null()) {
                    (true, _) => set,
                    (_, true) => unset,
                    _ => changed,
                };
                let effect = match &after.security.creator_role {
                    // A brought creator role is never changed: say so where it could be expected.
                    crate::profile::CreatorRole::Existing(_) if key == "permissions_boundary" => {
                        format!("{effect}; your creator role is not touched")
                    }
                    _ => effect.to_string(),
                };
                changes.push(change(task, Action::Update, &was, &now, &effect));
            }
        }
    }
    if same_mode {
        addon_permissions(before, after, &mut changes, &mut refused);
    }
    // With the desired size changed too, it is set (not kept) along with min and max.
    if changes.iter().any(|c| c.field == "nodes.desired_size") {
        for c in changes.iter_mut().filter(|c| c.effect == KEEPS_DESIRED) {
            c.effect = "node group resized in place".into();
        }
    }
    Diff {
        changes,
        refused,
        monthly_cost_before: monthly(before),
        monthly_cost_after: monthly(after),
    }
}

/// The removal of `caller` (the principal running eksboot) from `cluster.admins` says that its
/// access stays: its entry is eksboot's own (the caller's step), never deleted by an admins change.
pub fn note_caller(d: &mut Diff, caller: &str) {
    for c in &mut d.changes {
        if c.field == "cluster.admins" && c.action == Action::Remove && c.before == caller {
            c.effect = "no longer listed as an admin; you keep access through eksboot's own access entry (not deleted)".into();
        }
    }
}

/// What `apply` would change on the cluster as AWS holds it (`plan --live`): `stored` (the state
/// file's profile) with `seen` over it, to `wanted`. The desired size is the exception: apply
/// sets it only when the profile's changes (stored to wanted), so it is compared with the
/// stored one, and the node group rows say the live one is kept (or clamped into [min, max]).
pub fn diff_live(stored: &Profile, seen: &Observed, wanted: &Profile) -> Diff {
    let mut live = live_profile(stored, seen);
    let running = match &seen.nodes {
        Some(Some(n)) => Some(n.scaling.1),
        _ => None,
    };
    if running.is_some() {
        live.nodes.desired_size = stored.nodes.desired_size;
    }
    let mut d = diff(&live, wanted);
    if let Some(running) = running {
        let (min, max) = (wanted.nodes.min_size, wanted.nodes.max_size);
        let kept = running.clamp(min.min(max), max);
        for c in &mut d.changes {
            if c.field == "nodes.desired_size" {
                c.effect =
                    format!("node group's desired size set in place (it runs {running} now)");
            }
            if c.field == "nodes.min_size" || c.field == "nodes.max_size" {
                c.effect = if kept == running {
                    format!("node group resized in place; its live desired size {running} is kept")
                } else {
                    format!("node group resized in place; its live desired size {running} is clamped to {kept}")
                };
            }
        }
    }
    d
}

/// What `plan --live` read from AWS about a running cluster, in profile terms. `None` where it
/// could not be read (that field is taken from the stored profile).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Observed {
    /// (public, private, public CIDRs)
    pub endpoint: Option<(bool, bool, Vec<String>)>,
    pub log_types: Option<Vec<String>>,
    pub log_retention_days: Option<u32>,
    /// Access entries other than the caller's and the creator role's.
    pub admins: Option<Vec<String>>,
    pub addons: Option<Vec<String>>,
    pub oidc_provider: Option<bool>,
    /// `upgradePolicy.supportType`, when EKS says.
    pub support: Option<crate::profile::Support>,
    pub deletion_protection: Option<bool>,
    /// Auto Mode's node pools, when its compute capability is on.
    pub node_pools: Option<Vec<String>>,
    /// `Some(None)`: no node group; `Some(Some(..))`: one, as it runs.
    pub nodes: Option<Option<ObservedNodes>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ObservedNodes {
    pub instance_types: Vec<String>,
    /// (min, desired, max)
    pub scaling: (u32, u32, u32),
    pub disk_size_gib: Option<u32>,
    /// `nodeRepairConfig.enabled`.
    pub auto_repair: Option<bool>,
    /// The OS of its AMI type (`None`: one eksboot does not make).
    pub os: Option<crate::profile::NodeOs>,
}

/// A profile's support policy from EKS's `upgradePolicy.supportType` (`None`: not said).
pub fn support_from_eks(support_type: &str) -> Option<crate::profile::Support> {
    match support_type {
        "STANDARD" => Some(crate::profile::Support::Standard),
        "EXTENDED" => Some(crate::profile::Support::Extended),
        _ => None,
    }
}

/// A profile's node OS from a node group's AMI type (`None`: another family).
pub fn os_from_ami_type(ami_type: &str) -> Option<crate::profile::NodeOs> {
    if ami_type.starts_with("BOTTLEROCKET_") {
        Some(crate::profile::NodeOs::Bottlerocket)
    } else if ami_type.starts_with("AL2023_") {
        Some(crate::profile::NodeOs::Al2023)
    } else {
        None
    }
}

/// The profile the running cluster matches: `stored` with what was read from AWS written over
/// it, so `diff(&live_profile(..), &wanted)` is what `apply` would change. Lists keep the order
/// of `stored` for what is in both (no change where only the order differs).
pub fn live_profile(stored: &Profile, seen: &Observed) -> Profile {
    use crate::profile::{EndpointAccess, ALL_LOG_TYPES};
    let mut live = stored.clone();
    let c = &mut live.cluster;
    if let Some((public, private, cidrs)) = &seen.endpoint {
        c.endpoint_access = match (public, private) {
            (true, true) => EndpointAccess::PublicAndPrivate,
            (false, _) => EndpointAccess::Private,
            (true, false) => EndpointAccess::Public,
        };
        if *public {
            let parsed: Vec<ipnet::Ipv4Net> = cidrs.iter().filter_map(|c| c.parse().ok()).collect();
            c.public_access_cidrs = keep_order(&c.public_access_cidrs, parsed);
        }
    }
    if let Some(types) = &seen.log_types {
        c.log_types = ALL_LOG_TYPES
            .iter()
            .copied()
            .filter(|t| types.iter().any(|s| s == t.as_str()))
            .collect();
    }
    if let Some(days) = seen.log_retention_days {
        c.log_retention_days = days;
    }
    if let Some(admins) = &seen.admins {
        c.admins = keep_order(&c.admins, admins.clone());
    }
    if let Some(addons) = &seen.addons {
        c.addons = keep_order(&c.addons, addons.clone());
    }
    if let Some(oidc) = seen.oidc_provider {
        c.oidc_provider = oidc;
    }
    if let Some(support) = seen.support {
        c.support = support;
    }
    if let Some(protected) = seen.deletion_protection {
        c.deletion_protection = protected;
    }
    if let Some(pools) = &seen.node_pools {
        live.nodes.node_pools = pools.clone();
    }
    match &seen.nodes {
        // Auto Mode has no node group: its nodes are its pools.
        _ if live.auto_mode() => {}
        Some(None) => live.nodes.enabled = false,
        Some(Some(n)) => {
            live.nodes.enabled = true;
            live.nodes.instance_types = n.instance_types.clone();
            (
                live.nodes.min_size,
                live.nodes.desired_size,
                live.nodes.max_size,
            ) = n.scaling;
            if let Some(disk) = n.disk_size_gib {
                live.nodes.disk_size_gib = disk;
            }
            if let Some(repair) = n.auto_repair {
                live.nodes.auto_repair = repair;
            }
            if let Some(os) = n.os {
                live.nodes.os = os;
            }
        }
        None => {}
    }
    live
}

/// `seen`, ordered as `known` where they share elements, the rest after.
fn keep_order<T: PartialEq + Clone>(known: &[T], seen: Vec<T>) -> Vec<T> {
    let mut out: Vec<T> = known.iter().filter(|k| seen.contains(k)).cloned().collect();
    out.extend(seen.into_iter().filter(|s| !known.contains(s)));
    out
}

fn monthly(profile: &Profile) -> f64 {
    let plan = Plan::build(profile, &PlanFacts::default());
    cost::estimate(profile, &plan.resources).monthly_usd
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn profile(extra: &str) -> Profile {
        Profile::parse(
            &format!("[cluster]\nname = \"demo\"\nregion = \"us-west-2\"\n{extra}"),
            Path::new("t.toml"),
        )
        .unwrap()
    }

    fn with(cluster: &str, nodes: &str) -> Profile {
        profile(&format!("{cluster}\n[nodes]\n{nodes}\n"))
    }

    #[test]
    fn what_aws_holds_is_compared_as_a_profile() {
        let stored = profile(
            "public_access_cidrs = [\"203.0.113.0/24\"]\naddons = [\"vpc-cni\", \"coredns\"]",
        );
        // Nothing read: the stored profile itself.
        assert_eq!(live_profile(&stored, &Observed::default()), stored);
        // Someone opened the endpoint and removed coredns by hand; order alone is no change.
        let seen = Observed {
            endpoint: Some((true, true, vec!["0.0.0.0/0".into()])),
            addons: Some(vec!["vpc-cni".into()]),
            log_types: Some(
                stored
                    .cluster
                    .log_types
                    .iter()
                    .rev()
                    .map(|t| t.as_str().to_string())
                    .collect(),
            ),
            nodes: Some(Some(ObservedNodes {
                instance_types: stored.nodes.instance_types.clone(),
                scaling: (
                    stored.nodes.min_size,
                    stored.nodes.desired_size,
                    stored.nodes.max_size,
                ),
                disk_size_gib: None,
                auto_repair: None,
                os: None,
            })),
            ..Observed::default()
        };
        let live = live_profile(&stored, &seen);
        let d = diff(&live, &stored);
        let kinds: Vec<_> = d
            .changes
            .iter()
            .map(|c| (c.field.as_str(), c.action))
            .collect();
        assert_eq!(
            kinds,
            [
                ("cluster.public_access_cidrs", Action::Update),
                ("cluster.addons", Action::Add)
            ]
        );
        // No node group at all.
        let gone = Observed {
            nodes: Some(None),
            ..Observed::default()
        };
        let d = diff(&live_profile(&stored, &gone), &stored);
        assert_eq!(d.changes[0].field, "nodes.enabled");
        assert_eq!(d.changes[0].action, Action::Add);
    }

    #[test]
    fn the_same_profile_changes_nothing() {
        let p = profile("");
        let d = diff(&p, &p);
        assert!(d.is_empty());
        assert_eq!(d.monthly_cost_before, d.monthly_cost_after);
    }

    #[test]
    fn admins_and_addons_are_added_and_removed_one_by_one() {
        let before = profile(
            "admins = [\"arn:aws:iam::123456789012:role/a\", \"arn:aws:iam::123456789012:role/b\"]\naddons = [\"vpc-cni\", \"coredns\"]",
        );
        let after = profile(
            "admins = [\"arn:aws:iam::123456789012:role/b\", \"arn:aws:iam::123456789012:role/c\"]\naddons = [\"vpc-cni\", \"coredns\", \"metrics-server\"]",
        );
        let d = diff(&before, &after);
        let summary: Vec<_> = d
            .changes
            .iter()
            .map(|c| {
                (
                    c.field.as_str(),
                    c.action,
                    c.before.clone(),
                    c.after.clone(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                (
                    "cluster.admins",
                    Action::Remove,
                    "arn:aws:iam::123456789012:role/a".into(),
                    Value::Null
                ),
                (
                    "cluster.admins",
                    Action::Add,
                    Value::Null,
                    "arn:aws:iam::123456789012:role/c".into()
                ),
                (
                    "cluster.addons",
                    Action::Add,
                    Value::Null,
                    "metrics-server".into()
                ),
            ]
        );
        assert!(d.refused.is_empty());
    }

    #[test]
    fn fields_fixed_at_creation_are_refused_with_a_way_out() {
        let before = profile("");
        let mut after =
            profile("kubernetes_version = \"1.33\"\n[network]\nvpc_cidr = \"10.9.0.0/16\"");
        after.cluster.name = "other".into();
        let d = diff(&before, &after);
        let fields: Vec<_> = d.refused.iter().map(|r| r.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "cluster.name",
                "cluster.kubernetes_version",
                "network.vpc_cidr"
            ]
        );
        assert!(d
            .refused
            .iter()
            .all(|r| !r.reason.is_empty() && !r.way_out.is_empty()));
        assert!(d.changes.is_empty());
    }

    #[test]
    fn node_changes_are_sized_replaced_or_switched() {
        let before = with(
            "",
            "instance_types = [\"t3.large\"]\nmin_size = 2\ndesired_size = 2\nmax_size = 4",
        );
        let after = with(
            "",
            "instance_types = [\"m6i.large\"]\nmin_size = 2\ndesired_size = 3\nmax_size = 6\ndisk_size_gib = 100",
        );
        let d = diff(&before, &after);
        let kinds: Vec<_> = d
            .changes
            .iter()
            .map(|c| (c.field.as_str(), c.action))
            .collect();
        assert_eq!(
            kinds,
            [
                ("nodes.instance_types", Action::Replace),
                ("nodes.desired_size", Action::Update),
                ("nodes.max_size", Action::Update),
                ("nodes.disk_size_gib", Action::Update),
            ]
        );
        // Turning nodes off is one removal, whatever else changed about them.
        let off = with("", "enabled = false\nmin_size = 1\ndesired_size = 1");
        let d = diff(&before, &off);
        assert_eq!(d.changes.len(), 1, "{:?}", d.changes);
        assert_eq!(
            (d.changes[0].field.as_str(), d.changes[0].action),
            ("nodes.enabled", Action::Remove)
        );
        assert!(d.monthly_cost_after < d.monthly_cost_before);
    }

    #[test]
    fn a_removed_addon_keeps_running_and_a_removed_caller_keeps_access() {
        let me = "arn:aws:iam::123456789012:user/me";
        let before = profile(&format!(
            "addons = [\"vpc-cni\", \"coredns\"]\nadmins = [\"{me}\", \"arn:aws:iam::123456789012:role/ops\"]"
        ));
        let after =
            profile("addons = [\"vpc-cni\"]\nadmins = [\"arn:aws:iam::123456789012:role/ops\"]");
        let mut d = diff(&before, &after);
        let addon = d
            .changes
            .iter()
            .find(|c| c.field == "cluster.addons")
            .unwrap();
        assert_eq!(
            (addon.action, addon.before.clone()),
            (Action::Remove, Value::from("coredns"))
        );
        assert!(
            addon.effect.contains("its software keeps running"),
            "{}",
            addon.effect
        );
        assert!(
            addon.effect.contains("--delete-addon-software"),
            "{}",
            addon.effect
        );
        note_caller(&mut d, "arn:aws:iam::123456789012:user/someone-else");
        let admin = d
            .changes
            .iter()
            .find(|c| c.field == "cluster.admins")
            .unwrap();
        assert!(!admin.effect.contains("keep access"), "{}", admin.effect);
        note_caller(&mut d, me);
        let admin = d
            .changes
            .iter()
            .find(|c| c.field == "cluster.admins")
            .unwrap();
        assert_eq!(admin.before, me);
        assert!(
            admin
                .effect
                .contains("you keep access through eksboot's own access entry"),
            "{}",
            admin.effect
        );
    }

    #[test]
    fn the_live_desired_size_is_kept_and_said_so() {
        let stored = with("", "min_size = 1\ndesired_size = 2\nmax_size = 4");
        let seen = |desired| Observed {
            nodes: Some(Some(ObservedNodes {
                instance_types: stored.nodes.instance_types.clone(),
                scaling: (1, desired, 4),
                disk_size_gib: None,
                auto_repair: None,
                os: None,
            })),
            ..Observed::default()
        };
        // An autoscaler ran it at 4: an unchanged profile changes nothing.
        assert!(diff_live(&stored, &seen(4), &stored).changes.is_empty());
        // A larger max: one row, saying the live desired size is kept.
        let bigger = with("", "min_size = 1\ndesired_size = 2\nmax_size = 6");
        let d = diff_live(&stored, &seen(4), &bigger);
        let fields: Vec<_> = d.changes.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(fields, ["nodes.max_size"]);
        assert!(
            d.changes[0].effect.contains("live desired size 4 is kept"),
            "{}",
            d.changes[0].effect
        );
        // A smaller max: the live desired is clamped, and said so.
        let smaller = with("", "min_size = 1\ndesired_size = 2\nmax_size = 3");
        let d = diff_live(&stored, &seen(4), &smaller);
        assert!(
            d.changes[0].effect.contains("clamped to 3"),
            "{}",
            d.changes[0].effect
        );
        // The profile's desired size changed: set, with what runs now.
        let three = with("", "min_size = 1\ndesired_size = 3\nmax_size = 4");
        let d = diff_live(&stored, &seen(4), &three);
        let fields: Vec<_> = d.changes.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(fields, ["nodes.desired_size"]);
        assert!(
            d.changes[0].effect.contains("it runs 4 now"),
            "{}",
            d.changes[0].effect
        );
        // Offline (stored to wanted), the min/max rows say the desired size is not touched.
        let d = diff(&stored, &bigger);
        assert!(
            d.changes[0]
                .effect
                .contains("desired size it runs with is kept"),
            "{}",
            d.changes[0].effect
        );
    }

    #[test]
    fn the_boundary_is_set_changed_or_removed_in_place_on_the_roles() {
        let none = profile("");
        let a =
            profile("[security]\npermissions_boundary = \"arn:aws:iam::123456789012:policy/a\"");
        let b =
            profile("[security]\npermissions_boundary = \"arn:aws:iam::123456789012:policy/b\"");
        let one = |before: &Profile, after: &Profile| {
            let d = diff(before, after);
            assert!(d.refused.is_empty(), "{:?}", d.refused);
            assert_eq!(d.changes.len(), 1, "{:?}", d.changes);
            let c = d.changes[0].clone();
            assert_eq!(c.field, "security.permissions_boundary");
            assert_eq!(c.task, Task::Secure);
            assert_eq!(c.action, Action::Update);
            assert_eq!(d.monthly_cost_before, d.monthly_cost_after);
            c
        };
        let added = one(&none, &a);
        assert_eq!(added.before, Value::Null);
        assert_eq!(added.after, "arn:aws:iam::123456789012:policy/a");
        assert!(
            added.effect.starts_with("set as the boundary"),
            "{}",
            added.effect
        );
        let changed = one(&a, &b);
        assert!(
            changed.effect.starts_with("replaces the boundary"),
            "{}",
            changed.effect
        );
        let removed = one(&b, &none);
        assert_eq!(removed.after, Value::Null);
        assert!(
            removed.effect.contains("DeleteRolePermissionsBoundary"),
            "{}",
            removed.effect
        );
        assert!(diff(&a, &a).is_empty());

        // With a brought creator role, the effect says that role is left alone.
        let brought = "[security]\ncreator_role = \"arn:aws:iam::123456789012:role/mine\"";
        let mine = profile(brought);
        let mine_bounded = profile(&format!(
            "{brought}\npermissions_boundary = \"arn:aws:iam::123456789012:policy/a\""
        ));
        let c = one(&mine, &mine_bounded);
        assert!(
            c.effect.ends_with("your creator role is not touched"),
            "{}",
            c.effect
        );
    }

    fn fields(d: &Diff) -> Vec<(&str, Action)> {
        d.changes
            .iter()
            .map(|c| (c.field.as_str(), c.action))
            .collect()
    }

    #[test]
    fn an_old_cluster_moves_to_the_safe_defaults_field_by_field() {
        // What a state file from before the fields reads (their old meaning), to the defaults.
        let legacy = profile(
            "support = \"extended\"\ndeletion_protection = false\n[security]\naddon_permissions = \"node-role\"\n[nodes]\nauto_repair = false\nos = \"al2023\"",
        );
        let now = profile("");
        let d = diff(&legacy, &now);
        assert!(d.refused.is_empty(), "{:?}", d.refused);
        assert_eq!(
            fields(&d),
            [
                ("cluster.support", Action::Update),
                ("cluster.deletion_protection", Action::Update),
                ("security.addon_permissions", Action::Update),
                ("nodes.auto_repair", Action::Update),
            ]
        );
        let effect = |field: &str| {
            d.changes
                .iter()
                .find(|c| c.field == field)
                .unwrap()
                .effect
                .clone()
        };
        let support = effect("cluster.support");
        assert!(support.contains("UpdateClusterConfig, waited"), "{support}");
        assert!(
            support.contains("EKS upgrades the control plane itself"),
            "{support}"
        );
        assert!(
            support.contains("(past it: `eksboot upgrade` first)"),
            "{support}"
        );
        let protection = effect("cluster.deletion_protection");
        assert!(
            protection.starts_with("deletion protection turned on"),
            "{protection}"
        );
        assert!(
            protection.contains("UpdateClusterConfig, waited"),
            "{protection}"
        );
        let repair = effect("nodes.auto_repair");
        assert!(repair.contains("UpdateNodegroupConfig"), "{repair}");
        let permissions = effect("security.addon_permissions");
        assert_eq!(
            permissions,
            "each add-on gets its role through Pod Identity: vpc-cni (AmazonEKS_CNI_Policy); nodes rolled so every aws-node pod picks it up; then AmazonEKS_CNI_Policy leaves the node role"
        );
        assert_eq!(
            d.changes
                .iter()
                .find(|c| c.field == "security.addon_permissions")
                .map(|c| (c.task, c.before.clone(), c.after.clone())),
            Some((Task::Secure, "node-role".into(), "pod-identity".into()))
        );
        // Standard support costs no more today; the other fields cost nothing.
        assert_eq!(d.monthly_cost_before, d.monthly_cost_after);

        // And back: extended says what it costs; protection off and repair off say what is lost.
        let d = diff(
            &now,
            &profile(
                "support = \"extended\"\ndeletion_protection = false\n[nodes]\nauto_repair = false",
            ),
        );
        assert_eq!(
            fields(&d),
            [
                ("cluster.support", Action::Update),
                ("cluster.deletion_protection", Action::Update),
                ("nodes.auto_repair", Action::Update),
            ]
        );
        assert!(
            d.changes[0]
                .effect
                .contains("$0.60/hour instead of $0.10/hour"),
            "{}",
            d.changes[0].effect
        );
        assert!(
            d.changes[1]
                .effect
                .starts_with("deletion protection turned off"),
            "{}",
            d.changes[1].effect
        );
        assert!(
            d.changes[2].effect.starts_with("node repair turned off"),
            "{}",
            d.changes[2].effect
        );
    }

    #[test]
    fn a_new_os_replaces_the_node_group_and_costs_its_second_volume() {
        let before = with("", "instance_types = [\"m7g.large\"]");
        let after = with(
            "",
            "instance_types = [\"m7g.large\"]\nos = \"bottlerocket\"",
        );
        let d = diff(&before, &after);
        assert_eq!(fields(&d), [("nodes.os", Action::Replace)]);
        assert!(
            d.changes[0].effect.starts_with("new node group running bottlerocket (BOTTLEROCKET_ARM_64), ACTIVE before the old one is drained"),
            "{}",
            d.changes[0].effect
        );
        // Two nodes, each with a 4 GiB OS volume at $0.08 per GiB-month on top.
        let extra = d.monthly_cost_after - d.monthly_cost_before;
        assert!((extra - 2.0 * 4.0 * 0.08).abs() < 0.005, "{extra}");
        // Without nodes before or after, the OS changes nothing.
        let off = with("", "enabled = false");
        let off_br = with("", "enabled = false\nos = \"bottlerocket\"");
        assert!(diff(&off, &off_br).is_empty());
    }

    #[test]
    fn addon_permissions_move_to_pod_identity_only() {
        let pod = profile("");
        assert_eq!(pod.security.addon_permissions.as_str(), "pod-identity");
        // Written back to the node role: refused with the way out.
        let node = profile("[security]\naddon_permissions = \"node-role\"");
        let d = diff(&pod, &node);
        assert!(d.changes.is_empty(), "{:?}", d.changes);
        assert_eq!(d.refused.len(), 1, "{:?}", d.refused);
        let r = &d.refused[0];
        assert_eq!(r.field, "security.addon_permissions");
        assert!(
            r.reason.contains("every pod on a node could use them"),
            "{}",
            r.reason
        );
        assert!(
            r.way_out
                .contains("security.addon_permissions = \"pod-identity\""),
            "{}",
            r.way_out
        );

        // Removing the agent flips the default to the node role: refused on the add-on.
        let with_ebs = profile(
            "addons = [\"vpc-cni\", \"coredns\", \"eks-pod-identity-agent\", \"aws-ebs-csi-driver\"]",
        );
        let without_agent = profile("addons = [\"vpc-cni\", \"coredns\", \"aws-ebs-csi-driver\"]");
        let d = diff(&with_ebs, &without_agent);
        assert_eq!(d.refused.len(), 1, "{:?}", d.refused);
        let r = &d.refused[0];
        assert_eq!(
            (r.field.as_str(), r.before.clone(), r.after.clone()),
            (
                "cluster.addons",
                Value::from("eks-pod-identity-agent"),
                Value::Null
            )
        );
        assert!(
            r.reason.starts_with(
                "vpc-cni and aws-ebs-csi-driver get their AWS permissions through Pod Identity"
            ),
            "{}",
            r.reason
        );
        assert!(
            r.way_out.contains("keep \"eks-pod-identity-agent\""),
            "{}",
            r.way_out
        );
        assert!(
            !d.changes.iter().any(|c| c.field == "cluster.addons"),
            "{:?}",
            d.changes
        );

        // No add-on used Pod Identity: the agent may go, and the setting with it.
        let bare = profile("addons = [\"coredns\", \"eks-pod-identity-agent\"]");
        let bare_off = profile("addons = [\"coredns\"]");
        let d = diff(&bare, &bare_off);
        assert!(d.refused.is_empty(), "{:?}", d.refused);
        assert_eq!(
            fields(&d),
            [
                ("cluster.addons", Action::Remove),
                ("security.addon_permissions", Action::Update)
            ]
        );

        // To Pod Identity with the EBS CSI driver too: both roles named.
        let legacy = profile(
            "addons = [\"vpc-cni\", \"coredns\", \"eks-pod-identity-agent\", \"aws-ebs-csi-driver\"]\n[security]\naddon_permissions = \"node-role\"",
        );
        let d = diff(&legacy, &with_ebs);
        assert_eq!(fields(&d), [("security.addon_permissions", Action::Update)]);
        assert!(
            d.changes[0].effect.contains(
                "vpc-cni (AmazonEKS_CNI_Policy), aws-ebs-csi-driver (AmazonEBSCSIDriverPolicy)"
            ),
            "{}",
            d.changes[0].effect
        );
    }

    #[test]
    fn plan_live_reads_the_safety_fields_from_aws() {
        let stored = profile("");
        let seen = Observed {
            support: support_from_eks("EXTENDED"),
            deletion_protection: Some(false),
            nodes: Some(Some(ObservedNodes {
                instance_types: stored.nodes.instance_types.clone(),
                scaling: (
                    stored.nodes.min_size,
                    stored.nodes.desired_size,
                    stored.nodes.max_size,
                ),
                disk_size_gib: None,
                auto_repair: Some(false),
                os: os_from_ami_type("BOTTLEROCKET_x86_64"),
            })),
            ..Observed::default()
        };
        let d = diff_live(&stored, &seen, &stored);
        assert_eq!(
            fields(&d),
            [
                ("cluster.support", Action::Update),
                ("cluster.deletion_protection", Action::Update),
                ("nodes.auto_repair", Action::Update),
                ("nodes.os", Action::Replace),
            ]
        );
        assert_eq!(support_from_eks(""), None);
        assert_eq!(os_from_ami_type("AL2_x86_64"), None);
        assert_eq!(
            os_from_ami_type("AL2023_ARM_64_STANDARD"),
            Some(crate::profile::NodeOs::Al2023)
        );
    }

    #[test]
    fn plan_live_keeps_the_stored_safety_fields() {
        let stored = profile("support = \"extended\"\ndeletion_protection = false");
        let live = live_profile(&stored, &Observed::default());
        assert_eq!(live.cluster.support, stored.cluster.support);
        assert!(!live.cluster.deletion_protection);
        let d = diff_live(&stored, &Observed::default(), &profile(""));
        assert_eq!(
            fields(&d),
            [
                ("cluster.support", Action::Update),
                ("cluster.deletion_protection", Action::Update)
            ]
        );
    }
}
