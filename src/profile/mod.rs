//! The profile: eksboot's saved answers, format v1 (a public contract: users keep these files).
//!
//! Reading a profile is two steps. [`raw`] turns TOML into loosely typed fields that remember
//! where they were written; [`validate`] checks every rule, collects *all* problems with their
//! line and column, and resolves the defaults into a [`Profile`] whose fields are all concrete.
//! This module never touches the network.

pub mod edit;
mod raw;
pub mod state;
mod validate;

use std::fmt;
use std::path::{Path, PathBuf};

use ipnet::Ipv4Net;
use serde::{Serialize, Serializer};

pub(crate) use validate::{check_boundary_arn, is_principal_arn, is_role_arn};
pub use validate::{
    check_state_address, instance_arch, is_valid_cluster_name, MAX_CLUSTER_NAME_LEN,
};

/// The one profile format this build reads and writes.
pub const PROFILE_VERSION: u32 = 1;

/// The five control-plane log types EKS can send to CloudWatch.
pub const ALL_LOG_TYPES: [LogType; 5] = [
    LogType::Api,
    LogType::Audit,
    LogType::Authenticator,
    LogType::ControllerManager,
    LogType::Scheduler,
];

/// Retention periods CloudWatch Logs accepts, in days.
pub const LOG_RETENTION_DAYS: [u32; 22] = [
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

/// Add-ons installed when a profile does not list its own.
pub const DEFAULT_ADDONS: [&str; 4] =
    ["vpc-cni", "kube-proxy", "coredns", "eks-pod-identity-agent"];

/// A fully resolved profile: every default applied, every rule checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Profile {
    pub version: u32,
    /// Where the cluster's state lives when not on this machine: `s3://BUCKET/PREFIX`, the key
    /// then `PREFIX/<cluster>-<region>.state.json`. Where it lives is not what the cluster is:
    /// left out of [`Profile::content_hash`], so moving a state never reads as a change.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// The KMS key (its ARN, in the bucket's region) that encrypts the state and its lock in S3;
    /// without it the bucket's default encryption applies. Like `state`, not in the hash.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_kms_key: Option<String>,
    pub cluster: ClusterSettings,
    pub security: SecuritySettings,
    pub network: NetworkSettings,
    pub nodes: NodeSettings,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClusterSettings {
    pub name: String,
    pub region: String,
    /// `None` means "the newest standard-support version when the cluster is created".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kubernetes_version: Option<String>,
    pub endpoint_access: EndpointAccess,
    pub public_access_cidrs: Vec<Ipv4Net>,
    pub log_types: Vec<LogType>,
    pub log_retention_days: u32,
    pub admins: Vec<String>,
    pub addons: Vec<String>,
    pub oidc_provider: bool,
    /// What happens when the version leaves standard support: EKS upgrades the control plane
    /// (standard), or keeps it running at the extended-support price (extended).
    pub support: Support,
    /// EKS refuses to delete the cluster while this is on (teardown turns it off first).
    pub deletion_protection: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SecuritySettings {
    pub creator_role: CreatorRole,
    pub secrets_key: SecretsKey,
    /// A managed policy ARN set as the permissions boundary of every role eksboot creates, so
    /// whoever may write those roles' policies still cannot grant more than it. `None`: no
    /// boundary (the default; profiles and state files from before the field read the same).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permissions_boundary: Option<String>,
    /// Where add-ons that call AWS (vpc-cni, aws-ebs-csi-driver) get their permissions: a role
    /// each through EKS Pod Identity, or the node role (every pod on a node could use them).
    pub addon_permissions: AddonPermissions,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NetworkSettings {
    pub pattern: Pattern,
    pub vpc_cidr: Ipv4Net,
    pub availability_zones: AzSpec,
    pub nat: Nat,
}

/// The nodes: a managed node group eksboot sizes, or EKS Auto Mode. With Auto Mode the node
/// group's fields keep their defaults internally but are never written (Auto Mode chooses
/// instances, disks, OS and repair), so a saved Auto Mode profile holds only `mode` and
/// `node_pools`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeSettings {
    /// Managed node group or Auto Mode.
    pub mode: NodeMode,
    /// Auto Mode's built-in node pools (empty with a managed node group).
    pub node_pools: Vec<String>,
    /// A managed node group is made (always true with Auto Mode: it runs nodes on demand).
    pub enabled: bool,
    pub instance_types: Vec<String>,
    pub min_size: u32,
    pub desired_size: u32,
    pub max_size: u32,
    pub disk_size_gib: u32,
    /// EKS replaces nodes that turn unhealthy (the node group's `nodeRepairConfig`).
    pub auto_repair: bool,
    /// The nodes' operating system.
    pub os: NodeOs,
}

impl Serialize for NodeSettings {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        if self.mode == NodeMode::Auto {
            let mut t = s.serialize_struct("NodeSettings", 2)?;
            t.serialize_field("mode", &self.mode)?;
            t.serialize_field("node_pools", &self.node_pools)?;
            return t.end();
        }
        let mut t = s.serialize_struct("NodeSettings", 9)?;
        t.serialize_field("mode", &self.mode)?;
        t.serialize_field("enabled", &self.enabled)?;
        t.serialize_field("instance_types", &self.instance_types)?;
        t.serialize_field("min_size", &self.min_size)?;
        t.serialize_field("desired_size", &self.desired_size)?;
        t.serialize_field("max_size", &self.max_size)?;
        t.serialize_field("disk_size_gib", &self.disk_size_gib)?;
        t.serialize_field("auto_repair", &self.auto_repair)?;
        t.serialize_field("os", &self.os)?;
        t.end()
    }
}

/// Who runs the nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NodeMode {
    /// A managed node group: eksboot chooses instance types, sizes, disk and OS.
    Managed,
    /// EKS Auto Mode: AWS launches, patches, scales and repairs the nodes from node pools.
    Auto,
}

impl NodeMode {
    pub fn as_str(self) -> &'static str {
        match self {
            NodeMode::Managed => "managed",
            NodeMode::Auto => "auto",
        }
    }
}

impl fmt::Display for NodeMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Auto Mode's built-in node pools (EKS user guide, "Create a cluster with Amazon EKS Auto
/// Mode": `general-purpose` runs workloads, `system` runs critical add-ons and is tainted).
pub const NODE_POOLS: [&str; 2] = ["general-purpose", "system"];

/// The add-ons Auto Mode runs itself as part of the cluster (EKS user guide, "Automate cluster
/// infrastructure with EKS Auto Mode"): listing one as an EKS add-on would run it twice.
pub const AUTO_MODE_RUNS: [&str; 5] = [
    "vpc-cni",
    "kube-proxy",
    "coredns",
    "aws-ebs-csi-driver",
    "eks-pod-identity-agent",
];

/// The oldest Kubernetes version Auto Mode supports (EKS user guide: 1.29 or later).
pub const AUTO_MODE_MIN_VERSION: (u32, u32) = (1, 29);

/// What happens at the end of a version's standard support.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Support {
    Standard,
    Extended,
}

/// The nodes' operating system (the node group's AMI family).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NodeOs {
    Al2023,
    Bottlerocket,
}

/// Where add-ons get their AWS permissions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AddonPermissions {
    PodIdentity,
    NodeRole,
}

/// The add-ons that call AWS, and the managed policy each role gets with Pod Identity.
pub const ADDON_POLICIES: [(&str, &str); 2] = [
    ("vpc-cni", "AmazonEKS_CNI_Policy"),
    ("aws-ebs-csi-driver", "AmazonEBSCSIDriverPolicy"),
];

/// The add-on that hands Pod Identity credentials to pods.
pub const POD_IDENTITY_AGENT: &str = "eks-pod-identity-agent";

/// Fields added to format v1 after state files were first written, with the meaning a state
/// file that lacks them had (what eksboot did before the field existed). A new profile gets
/// the new default; an old state reads the old meaning, so `plan` shows the move to the new
/// default as a change and `apply` makes it.
pub const LEGACY_MEANINGS: [(&str, &str, &str); 6] = [
    ("cluster", "support", "extended"),
    ("cluster", "deletion_protection", "false"),
    ("security", "addon_permissions", "node-role"),
    ("nodes", "auto_repair", "false"),
    ("nodes", "os", "al2023"),
    // Every cluster before `nodes.mode` had a managed node group (or none).
    ("nodes", "mode", "managed"),
];

/// Writes the old meaning into stored settings (a state file's profile) for every field in
/// [`LEGACY_MEANINGS`] it lacks; returns the fields filled in.
pub fn fill_legacy(settings: &mut serde_json::Value) -> Vec<String> {
    let mut filled = Vec::new();
    for (section, key, value) in LEGACY_MEANINGS {
        let Some(table) = settings.get_mut(section).and_then(|t| t.as_object_mut()) else {
            continue;
        };
        // An Auto Mode profile is newer than every other field and writes no node group.
        if section == "nodes" && table.get("mode").and_then(|m| m.as_str()) == Some("auto") {
            continue;
        }
        if !table.contains_key(key) {
            let value = match value {
                "true" => serde_json::Value::Bool(true),
                "false" => serde_json::Value::Bool(false),
                text => serde_json::Value::String(text.to_string()),
            };
            table.insert(key.to_string(), value);
            filled.push(format!("{section}.{key}"));
        }
    }
    filled
}

impl Support {
    pub fn as_str(self) -> &'static str {
        match self {
            Support::Standard => "standard",
            Support::Extended => "extended",
        }
    }
    /// As EKS names it (`upgradePolicy.supportType`).
    pub fn eks_name(self) -> &'static str {
        match self {
            Support::Standard => "STANDARD",
            Support::Extended => "EXTENDED",
        }
    }
}

impl NodeOs {
    pub fn as_str(self) -> &'static str {
        match self {
            NodeOs::Al2023 => "al2023",
            NodeOs::Bottlerocket => "bottlerocket",
        }
    }
    /// The node group's AMI type for this OS on `arch` (`x86_64` or `arm64`).
    pub fn ami_type(self, arch: &str) -> &'static str {
        match (self, arch == "arm64") {
            (NodeOs::Al2023, false) => "AL2023_x86_64_STANDARD",
            (NodeOs::Al2023, true) => "AL2023_ARM_64_STANDARD",
            (NodeOs::Bottlerocket, false) => "BOTTLEROCKET_x86_64",
            (NodeOs::Bottlerocket, true) => "BOTTLEROCKET_ARM_64",
        }
    }
}

impl AddonPermissions {
    pub fn as_str(self) -> &'static str {
        match self {
            AddonPermissions::PodIdentity => "pod-identity",
            AddonPermissions::NodeRole => "node-role",
        }
    }
}

/// Which subnets the VPC has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Pattern {
    Public,
    Private,
    PublicAndPrivate,
}

/// Where the Kubernetes API endpoint can be reached from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EndpointAccess {
    Public,
    Private,
    PublicAndPrivate,
}

/// How private subnets reach the internet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Nat {
    PerAz,
    Single,
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum LogType {
    Api,
    Audit,
    Authenticator,
    ControllerManager,
    Scheduler,
}

/// The identity that creates the cluster and becomes its first admin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreatorRole {
    Create,
    Existing(String),
}

/// The KMS key that encrypts Kubernetes secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretsKey {
    Create,
    Existing(String),
}

/// Availability zones: a count to pick at create time, or names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum AzSpec {
    Count(u8),
    Names(Vec<String>),
}

impl AzSpec {
    pub fn count(&self) -> usize {
        match self {
            AzSpec::Count(n) => usize::from(*n),
            AzSpec::Names(names) => names.len(),
        }
    }
}

impl Pattern {
    pub const ALL: [Pattern; 3] = [Pattern::Public, Pattern::Private, Pattern::PublicAndPrivate];

    pub fn as_str(self) -> &'static str {
        match self {
            Pattern::Public => "public",
            Pattern::Private => "private",
            Pattern::PublicAndPrivate => "public-and-private",
        }
    }
    pub fn has_public_subnets(self) -> bool {
        self != Pattern::Private
    }
    pub fn has_private_subnets(self) -> bool {
        self != Pattern::Public
    }
    /// Plain words for headings.
    pub fn describe(self) -> &'static str {
        match self {
            Pattern::Public => "public subnets only",
            Pattern::Private => "private subnets only",
            Pattern::PublicAndPrivate => "public and private subnets",
        }
    }
}

impl EndpointAccess {
    pub fn as_str(self) -> &'static str {
        match self {
            EndpointAccess::Public => "public",
            EndpointAccess::Private => "private",
            EndpointAccess::PublicAndPrivate => "public-and-private",
        }
    }
    pub fn is_public(self) -> bool {
        self != EndpointAccess::Private
    }
    pub fn is_private(self) -> bool {
        self != EndpointAccess::Public
    }
}

impl Nat {
    pub fn as_str(self) -> &'static str {
        match self {
            Nat::PerAz => "per-az",
            Nat::Single => "single",
            Nat::None => "none",
        }
    }
}

impl LogType {
    pub fn as_str(self) -> &'static str {
        match self {
            LogType::Api => "api",
            LogType::Audit => "audit",
            LogType::Authenticator => "authenticator",
            LogType::ControllerManager => "controllerManager",
            LogType::Scheduler => "scheduler",
        }
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
impl fmt::Display for EndpointAccess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
impl fmt::Display for Nat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
impl fmt::Display for Support {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
impl fmt::Display for NodeOs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
impl fmt::Display for AddonPermissions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
impl fmt::Display for LogType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl CreatorRole {
    pub fn existing_arn(&self) -> Option<&str> {
        match self {
            CreatorRole::Create => None,
            CreatorRole::Existing(arn) => Some(arn),
        }
    }
}

impl SecretsKey {
    pub fn existing_arn(&self) -> Option<&str> {
        match self {
            SecretsKey::Create => None,
            SecretsKey::Existing(arn) => Some(arn),
        }
    }
}

fn serialize_create_or<S: Serializer>(existing: Option<&str>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(existing.unwrap_or("create"))
}

impl Serialize for CreatorRole {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_create_or(self.existing_arn(), s)
    }
}

impl Serialize for SecretsKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_create_or(self.existing_arn(), s)
    }
}

impl Profile {
    /// Reads and validates a profile file.
    pub fn load(path: &Path) -> Result<Profile, ProfileError> {
        let text = std::fs::read_to_string(path).map_err(|source| ProfileError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Profile::parse(&text, path)
    }

    /// Parses and validates profile text; `origin` names the file in messages.
    pub fn parse(text: &str, origin: &Path) -> Result<Profile, ProfileError> {
        let raw = raw::parse(text).map_err(|(span, message)| {
            let (line, column) = line_column(text, span.start);
            ProfileError::Syntax {
                path: origin.to_path_buf(),
                line,
                column,
                message,
            }
        })?;
        validate::validate(raw, text).map_err(|problems| ProfileError::Invalid {
            path: origin.to_path_buf(),
            problems,
        })
    }

    /// The profile as TOML with every field written out, resolved.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("a resolved profile always serialises")
    }

    /// The hash resume uses to notice a changed profile: stable across formatting and comments.
    pub fn content_hash(&self) -> String {
        use sha2::{Digest, Sha256};
        let cluster = Profile {
            state: None,
            state_kms_key: None,
            ..self.clone()
        };
        let canonical = serde_json::to_vec(&cluster).expect("a resolved profile always serialises");
        format!("{:x}", Sha256::digest(canonical))
    }

    /// The add-ons that get a role of their own through Pod Identity (none with `node-role`).
    pub fn addon_roles(&self) -> Vec<(&str, &'static str)> {
        if self.security.addon_permissions != AddonPermissions::PodIdentity {
            return Vec::new();
        }
        ADDON_POLICIES
            .iter()
            .filter(|(addon, _)| self.cluster.addons.iter().any(|a| a == addon))
            .map(|(addon, policy)| (*addon, *policy))
            .collect()
    }

    /// Whether EKS Auto Mode runs the nodes.
    pub fn auto_mode(&self) -> bool {
        self.nodes.mode == NodeMode::Auto
    }

    /// Whether eksboot makes a managed node group (and its launch template).
    pub fn node_group(&self) -> bool {
        self.nodes.mode == NodeMode::Managed && self.nodes.enabled
    }

    /// Whether the cluster has nodes at all (a node group, or Auto Mode's), so a node role.
    pub fn has_nodes(&self) -> bool {
        self.node_group() || self.auto_mode()
    }

    /// Whether nodes live in private subnets (every pattern with private subnets).
    pub fn nodes_in_private_subnets(&self) -> bool {
        self.network.pattern.has_private_subnets()
    }
}

/// Why a profile could not be used. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("cannot read profile {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}:{line}:{column}: not a valid profile: {message}", path.display())]
    Syntax {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{} has {} problem{}:\n{}", path.display(), problems.len(),
            if problems.len() == 1 { "" } else { "s" },
            problems.iter().map(|p| format!("  {}:{p}", path.display())).collect::<Vec<_>>().join("\n"))]
    Invalid {
        path: PathBuf,
        problems: Vec<Problem>,
    },
}

/// One validation failure: where, which field, what is wrong, what is allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub line: usize,
    pub column: usize,
    pub field: String,
    pub message: String,
    pub allowed: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: {}: {}",
            self.line, self.column, self.field, self.message
        )?;
        if !self.allowed.is_empty() {
            write!(f, " (allowed: {})", self.allowed)?;
        }
        Ok(())
    }
}

/// 1-based line and column (in characters) of a byte offset.
pub(crate) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

#[cfg(test)]
mod tests;
