//! Every rule of profile v1, collected rather than stopping at the first, and the defaults that
//! depend on other answers (the network pattern decides `nat` and `endpoint_access`).

use std::collections::BTreeSet;
use std::ops::Range;
use std::str::FromStr;

use ipnet::Ipv4Net;
use toml::Spanned;

use super::raw::{Field, RawAzs, RawCluster, RawNetwork, RawNodes, RawProfile, RawSecurity};
use super::*;

/// Node group names are `<cluster>-default` and EKS allows 63 characters.
pub const MAX_CLUSTER_NAME_LEN: usize = 55;

/// Whether `name` is a valid cluster name for eksboot (EKS's rule, shortened for derived names).
pub fn is_valid_cluster_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && name.len() <= MAX_CLUSTER_NAME_LEN
}

struct Checker<'a> {
    text: &'a str,
    problems: Vec<Problem>,
}

impl Checker<'_> {
    fn report(&mut self, span: Range<usize>, field: &str, message: String, allowed: &str) {
        let (line, column) = line_column(self.text, span.start);
        self.problems.push(Problem {
            line,
            column,
            field: field.to_string(),
            message,
            allowed: allowed.to_string(),
        });
    }

    /// Parses a written enum-like string; reports and returns `None` when it is not allowed.
    fn choice<T: Copy>(
        &mut self,
        value: &Field<String>,
        field: &str,
        options: &[(&str, T)],
    ) -> Option<(T, Range<usize>)> {
        let value = value.as_ref()?;
        match options.iter().find(|(word, _)| *word == value.get_ref()) {
            Some((_, parsed)) => Some((*parsed, value.span())),
            None => {
                let allowed = options
                    .iter()
                    .map(|(word, _)| format!("\"{word}\""))
                    .collect::<Vec<_>>()
                    .join(", ");
                self.report(
                    value.span(),
                    field,
                    format!("\"{}\" is not a known value", value.get_ref()),
                    &allowed,
                );
                None
            }
        }
    }

    fn non_negative(&mut self, value: &Field<i64>, field: &str, default: u32) -> u32 {
        match value {
            None => default,
            Some(v) => match u32::try_from(*v.get_ref()) {
                Ok(n) => n,
                Err(_) => {
                    self.report(
                        v.span(),
                        field,
                        format!("{} is out of range", v.get_ref()),
                        "a whole number from 0",
                    );
                    default
                }
            },
        }
    }
}

fn strings(list: &Field<Vec<Spanned<String>>>) -> Option<&Vec<Spanned<String>>> {
    list.as_ref().map(|l| l.get_ref())
}

/// Where to point when a required field is missing: its table, or the top of the file.
fn table_span<T>(table: &Option<Spanned<T>>) -> Range<usize> {
    table.as_ref().map_or(0..0, |t| t.span())
}

pub fn validate(raw: RawProfile, text: &str) -> Result<Profile, Vec<Problem>> {
    let mut c = Checker {
        text,
        problems: Vec::new(),
    };

    if let Some(version) = &raw.version {
        if *version.get_ref() != i64::from(PROFILE_VERSION) {
            c.report(
                version.span(),
                "version",
                format!(
                    "profile format version {} is not supported by this eksboot",
                    version.get_ref()
                ),
                "1",
            );
        }
    }

    let state = check_state(&mut c, &raw.state);
    let state_kms_key = check_state_kms_key(&mut c, &raw.state_kms_key, state.is_some());
    let cluster_span = table_span(&raw.cluster);
    let cluster = raw.cluster.map(Spanned::into_inner).unwrap_or_default();
    let security = raw.security.map(Spanned::into_inner).unwrap_or_default();
    let network = raw.network.map(Spanned::into_inner).unwrap_or_default();
    let nodes_raw = raw.nodes.map(Spanned::into_inner).unwrap_or_default();

    let name = check_name(&mut c, &cluster, cluster_span.clone());
    let region = check_region(&mut c, &cluster, cluster_span);
    let nodes = check_nodes(&mut c, &nodes_raw);
    let network_settings = check_network(&mut c, &network, &region, nodes.enabled);
    let mut security_settings = check_security(&mut c, &security, &region);
    let cluster = check_cluster(&mut c, &cluster, name, region, &network_settings, &nodes);
    security_settings.addon_permissions =
        check_addon_permissions(&mut c, &security, &cluster, nodes.mode == NodeMode::Auto);
    let security = security_settings;

    if c.problems.is_empty() {
        Ok(Profile {
            version: PROFILE_VERSION,
            state,
            state_kms_key,
            cluster,
            security,
            network: network_settings,
            nodes,
        })
    } else {
        c.problems.sort_by_key(|p| (p.line, p.column));
        Err(c.problems)
    }
}

fn check_name(c: &mut Checker, cluster: &RawCluster, table: Range<usize>) -> String {
    match &cluster.name {
        None => {
            c.report(
                table,
                "cluster.name",
                "is required".into(),
                "letters, digits, '-' and '_', starting with a letter or digit, at most 55 characters",
            );
            String::new()
        }
        Some(name) => {
            let value = name.get_ref();
            if value.len() > MAX_CLUSTER_NAME_LEN {
                c.report(
                    name.span(),
                    "cluster.name",
                    format!(
                        "\"{value}\" is {} characters long; the node group \"<name>-default\" must fit EKS's 63",
                        value.len()
                    ),
                    "at most 55 characters",
                );
            } else if !is_valid_cluster_name(value) {
                c.report(
                    name.span(),
                    "cluster.name",
                    format!("\"{value}\" is not a valid cluster name"),
                    "letters, digits, '-' and '_', starting with a letter or digit",
                );
            }
            value.clone()
        }
    }
}

/// `us-west-2`, `eu-central-1`, `us-gov-west-1`, `ap-southeast-4`.
pub(crate) fn is_region_name(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    parts.len() >= 3
        && parts[0].len() == 2
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|ch| ch.is_ascii_lowercase()))
        && parts[parts.len() - 1].chars().all(|ch| ch.is_ascii_digit())
        && !parts[parts.len() - 1].is_empty()
}

fn check_region(c: &mut Checker, cluster: &RawCluster, table: Range<usize>) -> String {
    match &cluster.region {
        None => {
            c.report(
                table,
                "cluster.region",
                "is required".into(),
                "an AWS region name such as \"us-west-2\"",
            );
            String::new()
        }
        Some(region) => {
            if !is_region_name(region.get_ref()) {
                c.report(
                    region.span(),
                    "cluster.region",
                    format!("\"{}\" is not an AWS region name", region.get_ref()),
                    "a region name such as \"us-west-2\" or \"eu-central-1\"",
                );
            }
            region.get_ref().clone()
        }
    }
}

/// A network CIDR with no host bits set, e.g. `10.0.0.0/16`.
fn parse_cidr(c: &mut Checker, value: &Spanned<String>, field: &str) -> Option<Ipv4Net> {
    match Ipv4Net::from_str(value.get_ref()) {
        Err(_) => {
            c.report(
                value.span(),
                field,
                format!("\"{}\" is not an IPv4 CIDR block", value.get_ref()),
                "a block such as \"10.0.0.0/16\"",
            );
            None
        }
        Ok(net) if net.network() != net.addr() => {
            c.report(
                value.span(),
                field,
                format!(
                    "\"{}\" has host bits set; did you mean \"{}\"?",
                    value.get_ref(),
                    net.trunc()
                ),
                "a network address (no host bits)",
            );
            None
        }
        Ok(net) => Some(net),
    }
}

fn check_network(
    c: &mut Checker,
    network: &RawNetwork,
    region: &str,
    nodes_enabled: bool,
) -> NetworkSettings {
    let pattern = c
        .choice(
            &network.pattern,
            "network.pattern",
            &[
                ("public", Pattern::Public),
                ("private", Pattern::Private),
                ("public-and-private", Pattern::PublicAndPrivate),
            ],
        )
        .map_or(Pattern::PublicAndPrivate, |(p, _)| p);

    let vpc_cidr = match &network.vpc_cidr {
        None => "10.0.0.0/16".parse().expect("valid default"),
        Some(value) => match parse_cidr(c, value, "network.vpc_cidr") {
            Some(net) if !(16..=20).contains(&net.prefix_len()) => {
                c.report(
                    value.span(),
                    "network.vpc_cidr",
                    format!(
                        "\"{net}\" has prefix /{}; EKS needs room for pods, and AWS allows at most /16",
                        net.prefix_len()
                    ),
                    "a prefix from /16 to /20",
                );
                net
            }
            Some(net) => net,
            None => "10.0.0.0/16".parse().expect("valid default"),
        },
    };

    let availability_zones = match &network.availability_zones {
        None => AzSpec::Count(2),
        Some(spanned) => match spanned.get_ref() {
            RawAzs::Count(n) => {
                if !(2..=3).contains(n) {
                    c.report(
                        spanned.span(),
                        "network.availability_zones",
                        format!("{n} availability zones; EKS needs at least 2"),
                        "2 or 3, or a list of 2 or 3 AZ names",
                    );
                }
                AzSpec::Count((*n).clamp(2, 3) as u8)
            }
            RawAzs::Names(names) => {
                if !(2..=3).contains(&names.len()) {
                    c.report(
                        spanned.span(),
                        "network.availability_zones",
                        format!("{} AZ names given", names.len()),
                        "a list of 2 or 3 AZ names, or the number 2 or 3",
                    );
                }
                let mut seen = BTreeSet::new();
                for name in names {
                    if !seen.insert(name) {
                        c.report(
                            spanned.span(),
                            "network.availability_zones",
                            format!("\"{name}\" is listed twice"),
                            "distinct AZ names",
                        );
                    }
                    let in_region = name.strip_prefix(region).is_some_and(|suffix| {
                        !suffix.is_empty() && suffix.chars().all(|ch| ch.is_ascii_lowercase())
                    });
                    if !in_region && !region.is_empty() {
                        c.report(
                            spanned.span(),
                            "network.availability_zones",
                            format!("\"{name}\" is not an availability zone of {region}"),
                            &format!("names such as \"{region}a\""),
                        );
                    }
                }
                AzSpec::Names(names.clone())
            }
        },
    };

    let nat_default = match pattern {
        Pattern::PublicAndPrivate => Nat::PerAz,
        Pattern::Public | Pattern::Private => Nat::None,
    };
    let nat = match c.choice(
        &network.nat,
        "network.nat",
        &[
            ("per-az", Nat::PerAz),
            ("single", Nat::Single),
            ("none", Nat::None),
        ],
    ) {
        None => nat_default,
        Some((nat, span)) => {
            if nat != Nat::None && pattern != Pattern::PublicAndPrivate {
                c.report(
                    span,
                    "network.nat",
                    format!(
                        "\"{nat}\" needs public and private subnets, but the pattern is \"{pattern}\""
                    ),
                    &format!("\"none\" with the \"{pattern}\" pattern"),
                );
            }
            nat
        }
    };

    if pattern == Pattern::PublicAndPrivate && nat == Nat::None && nodes_enabled {
        let span = [&network.nat, &network.pattern]
            .iter()
            .find_map(|f| f.as_ref().map(|v| v.span()))
            .unwrap_or(0..0);
        c.report(
            span,
            "network.nat",
            "\"none\" with public and private subnets: nodes in private subnets without egress cannot pull images".into(),
            "\"per-az\" (recommended) or \"single\"",
        );
    }

    NetworkSettings {
        pattern,
        vpc_cidr,
        availability_zones,
        nat,
    }
}

/// `x86_64` or `arm64`, from the instance family (Graviton families carry a `g` after the
/// generation digit: m7g, c6gn, t4g, r6gd, is4gen; and a1).
pub fn instance_arch(instance_type: &str) -> &'static str {
    let family = instance_type.split('.').next().unwrap_or_default();
    if family == "a1" {
        return "arm64";
    }
    let after_digits = family
        .trim_start_matches(|ch: char| ch.is_ascii_lowercase())
        .trim_start_matches(|ch: char| ch.is_ascii_digit());
    if after_digits.starts_with('g') {
        "arm64"
    } else {
        "x86_64"
    }
}

fn is_instance_type(value: &str) -> bool {
    let Some((family, size)) = value.split_once('.') else {
        return false;
    };
    family.starts_with(|ch: char| ch.is_ascii_lowercase())
        && family
            .chars()
            .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-')
        && family.chars().any(|ch| ch.is_ascii_digit())
        && !size.is_empty()
        && size
            .chars()
            .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit())
}

/// `nodes.mode` and `nodes.node_pools`. With Auto Mode the node group's fields are refused
/// where written (Auto Mode chooses them), each on its own line.
fn check_node_mode(c: &mut Checker, nodes: &RawNodes) -> (NodeMode, Vec<String>) {
    let mode = c
        .choice(
            &nodes.mode,
            "nodes.mode",
            &[("managed", NodeMode::Managed), ("auto", NodeMode::Auto)],
        )
        .map_or(NodeMode::Managed, |(mode, _)| mode);
    if mode == NodeMode::Managed {
        if let Some(pools) = &nodes.node_pools {
            c.report(
                pools.span(),
                "nodes.node_pools",
                "node pools are EKS Auto Mode's; a managed node group has none".into(),
                "set nodes.mode = \"auto\", or remove nodes.node_pools",
            );
        }
        return (mode, Vec::new());
    }
    let written: [(&str, Option<Range<usize>>, &str); 8] = [
        (
            "enabled",
            nodes.enabled.as_ref().map(|v| v.span()),
            "Auto Mode always runs nodes, launched as pods need them",
        ),
        (
            "instance_types",
            nodes.instance_types.as_ref().map(|v| v.span()),
            "Auto Mode chooses instance types for the pods it places",
        ),
        (
            "min_size",
            nodes.min_size.as_ref().map(|v| v.span()),
            "Auto Mode scales nodes to the pods",
        ),
        (
            "desired_size",
            nodes.desired_size.as_ref().map(|v| v.span()),
            "Auto Mode scales nodes to the pods",
        ),
        (
            "max_size",
            nodes.max_size.as_ref().map(|v| v.span()),
            "Auto Mode scales nodes to the pods (limit it with a NodePool's limits)",
        ),
        (
            "disk_size_gib",
            nodes.disk_size_gib.as_ref().map(|v| v.span()),
            "Auto Mode's node class gives each node its volume",
        ),
        (
            "auto_repair",
            nodes.auto_repair.as_ref().map(|v| v.span()),
            "Auto Mode repairs its nodes itself",
        ),
        (
            "os",
            nodes.os.as_ref().map(|v| v.span()),
            "Auto Mode's nodes run Bottlerocket",
        ),
    ];
    for (field, span, why) in written {
        if let Some(span) = span {
            c.report(
                span,
                &format!("nodes.{field}"),
                format!("is chosen by Auto Mode with nodes.mode = \"auto\": {why}"),
                "remove it, or set nodes.mode = \"managed\"",
            );
        }
    }
    let pools = match &nodes.node_pools {
        None => NODE_POOLS.iter().map(|p| p.to_string()).collect(),
        Some(list) => {
            if list.get_ref().is_empty() {
                c.report(
                    list.span(),
                    "nodes.node_pools",
                    "is empty, so Auto Mode would launch no nodes".into(),
                    "\"general-purpose\", \"system\" or both",
                );
            }
            let mut seen = BTreeSet::new();
            for item in list.get_ref() {
                if !NODE_POOLS.contains(&item.get_ref().as_str()) {
                    c.report(
                        item.span(),
                        "nodes.node_pools",
                        format!(
                            "\"{}\" is not one of Auto Mode's built-in node pools",
                            item.get_ref()
                        ),
                        "\"general-purpose\", \"system\"",
                    );
                } else if !seen.insert(item.get_ref()) {
                    c.report(
                        item.span(),
                        "nodes.node_pools",
                        format!("\"{}\" is listed twice", item.get_ref()),
                        "each node pool once",
                    );
                }
            }
            // EKS's order, whatever the file's, so the saved profile reads the same.
            NODE_POOLS
                .iter()
                .filter(|pool| list.get_ref().iter().any(|i| i.get_ref() == *pool))
                .map(|p| p.to_string())
                .collect()
        }
    };
    (mode, pools)
}

fn check_nodes(c: &mut Checker, nodes: &RawNodes) -> NodeSettings {
    let (mode, node_pools) = check_node_mode(c, nodes);
    if mode == NodeMode::Auto {
        // The node group's defaults, unused and never written.
        return NodeSettings {
            mode,
            node_pools,
            ..check_nodes(c, &RawNodes::default())
        };
    }
    let enabled = nodes.enabled.as_ref().is_none_or(|v| *v.get_ref());
    let instance_types = match &nodes.instance_types {
        None => vec!["t3.medium".to_string()],
        Some(list) => {
            if list.get_ref().is_empty() {
                c.report(
                    list.span(),
                    "nodes.instance_types",
                    "is empty".into(),
                    "one or more EC2 instance types, e.g. [\"t3.medium\"]",
                );
            }
            for item in list.get_ref() {
                if !is_instance_type(item.get_ref()) {
                    c.report(
                        item.span(),
                        "nodes.instance_types",
                        format!("\"{}\" is not an EC2 instance type", item.get_ref()),
                        "names such as \"t3.medium\" or \"m7g.large\"",
                    );
                }
            }
            let arches: BTreeSet<&str> = list
                .get_ref()
                .iter()
                .map(|t| instance_arch(t.get_ref()))
                .collect();
            if arches.len() > 1 {
                c.report(
                    list.span(),
                    "nodes.instance_types",
                    "mixes x86_64 and arm64 (Graviton) types; one node group runs one AMI architecture".into(),
                    "instance types of one CPU architecture",
                );
            }
            list.get_ref().iter().map(|s| s.get_ref().clone()).collect()
        }
    };
    let min_size = c.non_negative(&nodes.min_size, "nodes.min_size", 1);
    let desired_size = c.non_negative(&nodes.desired_size, "nodes.desired_size", 2);
    let max_size = c.non_negative(&nodes.max_size, "nodes.max_size", 3);
    let size_span = [&nodes.min_size, &nodes.desired_size, &nodes.max_size]
        .iter()
        .find_map(|f| f.as_ref().map(|v| v.span()))
        .unwrap_or(0..0);
    if !(min_size <= desired_size && desired_size <= max_size) {
        c.report(
            size_span.clone(),
            "nodes",
            format!(
                "sizes min {min_size}, desired {desired_size}, max {max_size} are out of order"
            ),
            "0 ≤ min_size ≤ desired_size ≤ max_size",
        );
    }
    if max_size < 1 {
        c.report(
            nodes.max_size.as_ref().map_or(size_span, |v| v.span()),
            "nodes.max_size",
            "is 0; a node group needs room for at least one node".into(),
            "1 or more (set nodes.enabled = false for no nodes)",
        );
    }
    let disk_size_gib = c.non_negative(&nodes.disk_size_gib, "nodes.disk_size_gib", 20);
    if let Some(disk) = &nodes.disk_size_gib {
        if !(20..=16384).contains(&disk_size_gib) && u32::try_from(*disk.get_ref()).is_ok() {
            c.report(
                disk.span(),
                "nodes.disk_size_gib",
                format!("{disk_size_gib} GiB; the EKS node image alone needs 20"),
                "20 to 16384",
            );
        }
    }
    let os = c
        .choice(
            &nodes.os,
            "nodes.os",
            &[
                ("al2023", NodeOs::Al2023),
                ("bottlerocket", NodeOs::Bottlerocket),
            ],
        )
        .map_or(NodeOs::Al2023, |(os, _)| os);
    NodeSettings {
        mode,
        node_pools,
        enabled,
        instance_types,
        min_size,
        desired_size,
        max_size,
        disk_size_gib,
        auto_repair: nodes.auto_repair.as_ref().is_none_or(|v| *v.get_ref()),
        os,
    }
}

/// The parts of an ARN: partition, service, region, account, resource.
struct Arn<'a> {
    service: &'a str,
    region: &'a str,
    resource: &'a str,
}

fn parse_arn(value: &str) -> Option<Arn<'_>> {
    let mut parts = value.splitn(6, ':');
    let (arn, partition, service, region, account, resource) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    let account_ok = account.len() == 12 && account.chars().all(|ch| ch.is_ascii_digit());
    (arn == "arn" && partition.starts_with("aws") && account_ok && !resource.is_empty()).then_some(
        Arn {
            service,
            region,
            resource,
        },
    )
}

fn is_iam_name_path(rest: &str) -> bool {
    !rest.is_empty()
        && !rest.ends_with('/')
        && rest
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || "+=,.@_-/".contains(ch))
}

/// A managed policy usable as a permissions boundary: `arn:PARTITION:iam::ACCOUNT:policy/path/name`
/// in the cluster's partition (IAM takes no boundary from another partition), the account a
/// 12-digit id or `aws` (an AWS managed policy).
pub(crate) fn check_boundary_arn(value: &str, region: &str) -> Result<(), String> {
    let parts: Vec<&str> = value.splitn(6, ':').collect();
    let [arn, partition, service, arn_region, account, resource] = parts[..] else {
        return Err(format!("\"{value}\" is not an IAM managed policy ARN"));
    };
    let account_ok =
        account == "aws" || (account.len() == 12 && account.chars().all(|ch| ch.is_ascii_digit()));
    let is_policy = arn == "arn"
        && partition.starts_with("aws")
        && service == "iam"
        && arn_region.is_empty()
        && account_ok
        && resource
            .strip_prefix("policy/")
            .is_some_and(is_iam_name_path);
    if !is_policy {
        return Err(format!("\"{value}\" is not an IAM managed policy ARN"));
    }
    let expected = crate::plan::iam::partition(region);
    if !region.is_empty() && partition != expected {
        return Err(format!(
            "the policy is in the {partition} partition, but {region} is in {expected}; a role's boundary must be a policy of its own partition"
        ));
    }
    Ok(())
}

/// An IAM role ARN: `arn:aws:iam::123456789012:role/path/name`.
pub(crate) fn is_role_arn(value: &str) -> bool {
    parse_arn(value).is_some_and(|a| {
        a.service == "iam"
            && a.region.is_empty()
            && a.resource
                .strip_prefix("role/")
                .is_some_and(is_iam_name_path)
    })
}

/// An IAM user or role ARN, the principals an access entry can name.
pub(crate) fn is_principal_arn(value: &str) -> bool {
    is_role_arn(value)
        || parse_arn(value).is_some_and(|a| {
            a.service == "iam"
                && a.region.is_empty()
                && a.resource
                    .strip_prefix("user/")
                    .is_some_and(is_iam_name_path)
        })
}

fn check_security(c: &mut Checker, security: &RawSecurity, region: &str) -> SecuritySettings {
    let creator_role = match &security.creator_role {
        None => CreatorRole::Create,
        Some(v) if v.get_ref() == "create" => CreatorRole::Create,
        Some(v) => {
            if !is_role_arn(v.get_ref()) {
                c.report(
                    v.span(),
                    "security.creator_role",
                    format!("\"{}\" is not an IAM role ARN", v.get_ref()),
                    "\"create\", or a role ARN such as \"arn:aws:iam::123456789012:role/eks-creator\"",
                );
            }
            CreatorRole::Existing(v.get_ref().clone())
        }
    };
    let secrets_key = match &security.secrets_key {
        None => SecretsKey::Create,
        Some(v) if v.get_ref() == "create" => SecretsKey::Create,
        Some(v) => {
            match parse_arn(v.get_ref()) {
                Some(arn)
                    if arn.service == "kms"
                        && (arn.resource.starts_with("key/")
                            || arn.resource.starts_with("alias/")) =>
                {
                    if arn.region != region && !region.is_empty() {
                        c.report(
                            v.span(),
                            "security.secrets_key",
                            format!(
                                "the key is in {}, but the cluster is in {region}; EKS needs a key in the cluster's region",
                                arn.region
                            ),
                            &format!("\"create\", or a KMS key ARN in {region}"),
                        );
                    }
                }
                _ => c.report(
                    v.span(),
                    "security.secrets_key",
                    format!("\"{}\" is not a KMS key ARN", v.get_ref()),
                    "\"create\", or a key ARN such as \"arn:aws:kms:us-west-2:123456789012:key/1234abcd-…\"",
                ),
            }
            SecretsKey::Existing(v.get_ref().clone())
        }
    };
    // The boundary applies to the roles eksboot creates (cluster, nodes, and the creator role
    // when eksboot makes it); a brought creator role is never touched, which plan says.
    let permissions_boundary = security.permissions_boundary.as_ref().map(|v| {
        if let Err(why) = check_boundary_arn(v.get_ref(), region) {
            c.report(
                v.span(),
                "security.permissions_boundary",
                why,
                &format!(
                    "a managed policy ARN such as \"arn:{}:iam::123456789012:policy/eks-boundary\", or leave it out for no boundary",
                    if region.is_empty() { "aws" } else { crate::plan::iam::partition(region) }
                ),
            );
        }
        v.get_ref().clone()
    });
    SecuritySettings {
        creator_role,
        secrets_key,
        permissions_boundary,
        // Resolved with the add-ons: see `check_addon_permissions`.
        addon_permissions: AddonPermissions::PodIdentity,
    }
}

/// `security.addon_permissions`: Pod Identity by default when the cluster runs its agent
/// (`eks-pod-identity-agent` in cluster.addons, as by default), else the node role: roles
/// through Pod Identity without the agent would leave the CNI without credentials. Written as
/// "pod-identity", the agent must be listed.
fn check_addon_permissions(
    c: &mut Checker,
    security: &RawSecurity,
    cluster: &ClusterSettings,
    auto_mode: bool,
) -> AddonPermissions {
    let has_agent = cluster.addons.iter().any(|a| a == POD_IDENTITY_AGENT);
    let chosen = c.choice(
        &security.addon_permissions,
        "security.addon_permissions",
        &[
            ("pod-identity", AddonPermissions::PodIdentity),
            ("node-role", AddonPermissions::NodeRole),
        ],
    );
    // Auto Mode runs the Pod Identity agent itself.
    let has_agent = has_agent || auto_mode;
    match chosen {
        None if has_agent => AddonPermissions::PodIdentity,
        None => AddonPermissions::NodeRole,
        Some((AddonPermissions::PodIdentity, span)) if !has_agent => {
            c.report(
                span,
                "security.addon_permissions",
                format!("\"pod-identity\" needs \"{POD_IDENTITY_AGENT}\" in cluster.addons: it hands the add-ons' roles to their pods"),
                &format!("add \"{POD_IDENTITY_AGENT}\" to cluster.addons, or \"node-role\""),
            );
            AddonPermissions::PodIdentity
        }
        Some((chosen, _)) => chosen,
    }
}

/// `cluster.kubernetes_version`: a minor version (1.29 or later with Auto Mode), or none for the newest.
fn check_kubernetes_version(
    c: &mut Checker,
    cluster: &RawCluster,
    nodes: &NodeSettings,
) -> Option<String> {
    cluster.kubernetes_version.as_ref().map(|v| {
        let ok = v
            .get_ref()
            .strip_prefix("1.")
            .is_some_and(|minor| !minor.is_empty() && minor.chars().all(|ch| ch.is_ascii_digit()));
        if !ok {
            c.report(
                v.span(),
                "cluster.kubernetes_version",
                format!("\"{}\" is not a Kubernetes minor version", v.get_ref()),
                "a version such as \"1.33\", or leave it out for the newest",
            );
        }
        let minor = v
            .get_ref()
            .strip_prefix("1.")
            .and_then(|m| m.parse::<u32>().ok());
        let (_, oldest) = AUTO_MODE_MIN_VERSION;
        if nodes.mode == NodeMode::Auto && minor.is_some_and(|m| m < oldest) {
            c.report(
                v.span(),
                "cluster.kubernetes_version",
                format!("{} is older than EKS Auto Mode supports", v.get_ref()),
                &format!("1.{oldest} or later, or leave it out for the newest"),
            );
        }
        v.get_ref().clone()
    })
}

/// `cluster.public_access_cidrs`: who may reach a public endpoint (everyone when unset).
fn check_public_access_cidrs(
    c: &mut Checker,
    cluster: &RawCluster,
    endpoint_access: EndpointAccess,
    network: &NetworkSettings,
    nodes: &NodeSettings,
) -> Vec<Ipv4Net> {
    match strings(&cluster.public_access_cidrs) {
        None if endpoint_access.is_public() => vec!["0.0.0.0/0".parse().expect("valid")],
        None => Vec::new(),
        Some(list) => {
            let cidrs: Vec<Ipv4Net> = list
                .iter()
                .filter_map(|item| parse_cidr(c, item, "cluster.public_access_cidrs"))
                .collect();
            let span = cluster
                .public_access_cidrs
                .as_ref()
                .map_or(0..0, |l| l.span());
            if !endpoint_access.is_public() && !list.is_empty() {
                c.report(
                    span.clone(),
                    "cluster.public_access_cidrs",
                    "is set, but the endpoint is private, so nothing can reach it publicly".into(),
                    "an empty list with a private endpoint",
                );
            }
            if endpoint_access.is_public() && list.is_empty() {
                c.report(
                    span.clone(),
                    "cluster.public_access_cidrs",
                    "is empty, so nobody could reach the public endpoint".into(),
                    "one or more CIDR blocks, e.g. your office's \"203.0.113.0/24\"",
                );
            }
            let restricted = !cidrs.iter().any(|n| n.prefix_len() == 0);
            if endpoint_access == EndpointAccess::Public
                && restricted
                && !cidrs.is_empty()
                && network.pattern.has_private_subnets()
                && nodes.enabled
            {
                c.report(
                    span,
                    "cluster.public_access_cidrs",
                    "restricts a public-only endpoint while nodes sit in private subnets: they would reach the API from NAT addresses outside the list; use endpoint_access = \"public-and-private\"".into(),
                    "endpoint_access = \"public-and-private\" with restricted CIDRs",
                );
            }
            cidrs
        }
    }
}

/// `cluster.log_types`: the control-plane logs sent to CloudWatch (all when unset).
fn check_log_types(c: &mut Checker, cluster: &RawCluster) -> Vec<LogType> {
    match &cluster.log_types {
        None => ALL_LOG_TYPES.to_vec(),
        Some(list) => {
            let mut found = Vec::new();
            for item in list.get_ref() {
                match ALL_LOG_TYPES.iter().find(|t| t.as_str() == item.get_ref()) {
                    Some(t) if found.contains(t) => c.report(
                        item.span(),
                        "cluster.log_types",
                        format!("\"{}\" is listed twice", item.get_ref()),
                        "each log type once",
                    ),
                    Some(t) => found.push(*t),
                    None => c.report(
                        item.span(),
                        "cluster.log_types",
                        format!("\"{}\" is not an EKS control-plane log type", item.get_ref()),
                        "\"api\", \"audit\", \"authenticator\", \"controllerManager\", \"scheduler\"",
                    ),
                }
            }
            found
        }
    }
}

/// `cluster.admins`: IAM principals that get an admin access entry, each once.
fn check_admins(c: &mut Checker, cluster: &RawCluster) -> Vec<String> {
    match strings(&cluster.admins) {
        None => Vec::new(),
        Some(list) => {
            for item in list {
                if !is_principal_arn(item.get_ref()) {
                    c.report(
                        item.span(),
                        "cluster.admins",
                        format!("\"{}\" is not an IAM user or role ARN", item.get_ref()),
                        "ARNs such as \"arn:aws:iam::123456789012:role/platform-admins\"",
                    );
                }
            }
            let mut seen = BTreeSet::new();
            for item in list {
                if !seen.insert(item.get_ref()) {
                    c.report(
                        item.span(),
                        "cluster.admins",
                        format!("\"{}\" is listed twice", item.get_ref()),
                        "each principal once",
                    );
                }
            }
            list.iter().map(|s| s.get_ref().clone()).collect()
        }
    }
}

fn check_cluster(
    c: &mut Checker,
    cluster: &RawCluster,
    name: String,
    region: String,
    network: &NetworkSettings,
    nodes: &NodeSettings,
) -> ClusterSettings {
    let kubernetes_version = check_kubernetes_version(c, cluster, nodes);

    let endpoint_default = if network.pattern == Pattern::Private {
        EndpointAccess::Private
    } else {
        EndpointAccess::PublicAndPrivate
    };
    let endpoint_access = match c.choice(
        &cluster.endpoint_access,
        "cluster.endpoint_access",
        &[
            ("public", EndpointAccess::Public),
            ("private", EndpointAccess::Private),
            ("public-and-private", EndpointAccess::PublicAndPrivate),
        ],
    ) {
        None => endpoint_default,
        Some((access, span)) => {
            if network.pattern == Pattern::Private && access == EndpointAccess::Public {
                c.report(
                    span,
                    "cluster.endpoint_access",
                    "\"public\" with the \"private\" pattern: nodes without internet can only reach a private endpoint".into(),
                    "\"private\" or \"public-and-private\"",
                );
            }
            access
        }
    };

    let public_access_cidrs =
        check_public_access_cidrs(c, cluster, endpoint_access, network, nodes);

    let log_types = check_log_types(c, cluster);

    let log_retention_days = match &cluster.log_retention_days {
        None => 90,
        Some(v) => {
            let days = *v.get_ref();
            if !LOG_RETENTION_DAYS.iter().any(|d| i64::from(*d) == days) {
                c.report(
                    v.span(),
                    "cluster.log_retention_days",
                    format!("{days} is not a retention period CloudWatch Logs accepts"),
                    "1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653",
                );
                90
            } else {
                days as u32
            }
        }
    };

    let admins = check_admins(c, cluster);

    let auto = nodes.mode == NodeMode::Auto;
    let addons = match strings(&cluster.addons) {
        // Auto Mode runs the usual ones itself.
        None if auto => Vec::new(),
        None => DEFAULT_ADDONS.iter().map(|s| s.to_string()).collect(),
        Some(list) => {
            let mut seen = BTreeSet::new();
            for item in list {
                if auto && AUTO_MODE_RUNS.contains(&item.get_ref().as_str()) {
                    c.report(
                        item.span(),
                        "cluster.addons",
                        format!(
                            "\"{}\" is run by Auto Mode itself (nodes.mode = \"auto\")",
                            item.get_ref()
                        ),
                        "add-ons Auto Mode does not run, e.g. \"metrics-server\"",
                    );
                } else if item.get_ref().trim().is_empty() {
                    c.report(
                        item.span(),
                        "cluster.addons",
                        "contains an empty name".into(),
                        "EKS add-on names such as \"vpc-cni\" or \"coredns\"",
                    );
                } else if !seen.insert(item.get_ref()) {
                    c.report(
                        item.span(),
                        "cluster.addons",
                        format!("\"{}\" is listed twice", item.get_ref()),
                        "each add-on once",
                    );
                }
            }
            list.iter().map(|s| s.get_ref().clone()).collect()
        }
    };

    ClusterSettings {
        name,
        region,
        kubernetes_version,
        endpoint_access,
        public_access_cidrs,
        log_types,
        log_retention_days,
        admins,
        addons,
        oidc_provider: cluster.oidc_provider.as_ref().is_none_or(|v| *v.get_ref()),
        support: c
            .choice(
                &cluster.support,
                "cluster.support",
                &[
                    ("standard", Support::Standard),
                    ("extended", Support::Extended),
                ],
            )
            .map_or(Support::Standard, |(support, _)| support),
        deletion_protection: cluster
            .deletion_protection
            .as_ref()
            .is_none_or(|v| *v.get_ref()),
    }
}

/// `state = "s3://BUCKET"` or `"s3://BUCKET/PREFIX"`.
fn check_state(c: &mut Checker, state: &Field<String>) -> Option<String> {
    let value = state.as_ref()?;
    match check_state_address(value.get_ref()) {
        Ok(address) => Some(address),
        Err(why) => {
            c.report(
                value.span(),
                "state",
                why,
                "\"s3://BUCKET\" or \"s3://BUCKET/PREFIX\" (leave it out to keep the state on this machine)",
            );
            None
        }
    }
}

/// A state address as a profile (or the wizard) takes it: `s3://BUCKET[/PREFIX]`, the bucket a
/// name S3 could hold (3 to 63 lowercase letters, digits, dots and hyphens, starting and ending
/// with a letter or digit); without a trailing `/`.
pub fn check_state_address(text: &str) -> Result<String, String> {
    let bucket = text
        .strip_prefix("s3://")
        .map(|rest| rest.split('/').next().unwrap_or_default());
    let valid_bucket = |b: &str| {
        (3..=63).contains(&b.len())
            && b.chars()
                .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '.' || ch == '-')
            && b.starts_with(|ch: char| ch.is_ascii_alphanumeric())
            && b.ends_with(|ch: char| ch.is_ascii_alphanumeric())
    };
    match bucket {
        Some(b) if valid_bucket(b) => Ok(text.trim_end_matches('/').to_string()),
        _ => Err(format!("\"{text}\" is not an S3 bucket address")),
    }
}

/// `state_kms_key = "arn:aws:kms:REGION:ACCOUNT:key/ID"`: the key encrypting a state in S3. A key
/// ARN, not an alias: the caller's policy grants its use on exactly that key. Only beside
/// `state`, since a state on this machine is not encrypted with KMS.
fn check_state_kms_key(c: &mut Checker, key: &Field<String>, in_s3: bool) -> Option<String> {
    let value = key.as_ref()?;
    let text = value.get_ref();
    let hint = "a KMS key ARN such as \"arn:aws:kms:us-west-2:123456789012:key/1234abcd-…\" in the bucket's region (leave it out for the bucket's default encryption)";
    match parse_arn(text) {
        Some(arn)
            if arn.service == "kms"
                && !arn.region.is_empty()
                && arn
                    .resource
                    .strip_prefix("key/")
                    .is_some_and(|id| !id.is_empty()) => {}
        Some(arn) if arn.service == "kms" && arn.resource.starts_with("alias/") => {
            c.report(
                value.span(),
                "state_kms_key",
                format!("\"{text}\" is an alias: name the key itself, so the policy eksboot writes can grant exactly that key"),
                hint,
            );
            return None;
        }
        _ => {
            c.report(
                value.span(),
                "state_kms_key",
                format!("\"{text}\" is not a KMS key ARN"),
                hint,
            );
            return None;
        }
    }
    if !in_s3 {
        c.report(
            value.span(),
            "state_kms_key",
            "a key for the state, but no `state = \"s3://…\"`: a state on this machine is not encrypted with KMS".to_string(),
            "add state = \"s3://BUCKET/PREFIX\", or leave state_kms_key out",
        );
    }
    Some(text.clone())
}
