//! What the plan costs per month, itemised, from list prices we state with their date.
//!
//! Prices are us-east-1 on-demand list prices; other regions differ by a few percent. What we do
//! not know (an instance type outside the table, usage-billed items) is "unknown", never a guess.

use serde::Serialize;

use super::{Kind, Resource};
use crate::profile::{NodeOs, Pattern, Profile, Support};

pub const PRICE_BASIS: &str = "us-east-1 on-demand list prices, 2026-11";
const HOURS_PER_MONTH: f64 = 730.0;
pub const EKS_CONTROL_PLANE_HOURLY: f64 = 0.10;
/// The control plane's price while its version is in extended support.
pub const EKS_EXTENDED_SUPPORT_HOURLY: f64 = 0.60;
/// Bottlerocket's OS volume (`/dev/xvda`: the active and passive OS partitions); its data
/// volume (`/dev/xvdb`: images, logs, ephemeral storage) is `nodes.disk_size_gib`. 4 GiB as
/// the Bottlerocket defaults of Karpenter and other tools set it (the AMI needs at least 2).
pub const BOTTLEROCKET_OS_VOLUME_GIB: u32 = 4;
const NAT_GATEWAY_HOURLY: f64 = 0.045;
const PUBLIC_IPV4_HOURLY: f64 = 0.005;
const INTERFACE_ENDPOINT_HOURLY_PER_AZ: f64 = 0.01;
const KMS_KEY_MONTHLY: f64 = 1.0;
const GP3_GIB_MONTHLY: f64 = 0.08;

/// On-demand Linux hourly prices of common node types.
const INSTANCE_HOURLY: [(&str, f64); 24] = [
    ("t3.small", 0.0208),
    ("t3.medium", 0.0416),
    ("t3.large", 0.0832),
    ("t3.xlarge", 0.1664),
    ("t3a.medium", 0.0376),
    ("t3a.large", 0.0752),
    ("m5.large", 0.096),
    ("m5.xlarge", 0.192),
    ("m6i.large", 0.096),
    ("m6i.xlarge", 0.192),
    ("m7i.large", 0.1008),
    ("m7i.xlarge", 0.2016),
    ("c5.large", 0.085),
    ("c6i.large", 0.085),
    ("c7i.large", 0.0893),
    ("r5.large", 0.126),
    ("r6i.large", 0.126),
    ("t4g.medium", 0.0336),
    ("t4g.large", 0.0672),
    ("m6g.large", 0.077),
    ("m7g.large", 0.0816),
    ("m7g.xlarge", 0.1632),
    ("c7g.large", 0.0725),
    ("r7g.large", 0.1071),
];

pub fn instance_hourly(instance_type: &str) -> Option<f64> {
    INSTANCE_HOURLY
        .iter()
        .find(|(t, _)| *t == instance_type)
        .map(|(_, p)| *p)
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cost {
    /// The sum of the items whose price is known.
    pub monthly_usd: f64,
    pub basis: String,
    pub items: Vec<CostItem>,
    /// True when every item has a known price.
    pub complete: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CostItem {
    pub item: String,
    pub quantity: u32,
    /// `None` ("unknown") when we have no price for it.
    pub monthly_usd: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

fn round_cents(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn item(name: &str, quantity: u32, unit_monthly: Option<f64>, note: Option<String>) -> CostItem {
    CostItem {
        item: name.to_string(),
        quantity,
        monthly_usd: unit_monthly.map(|u| round_cents(u * f64::from(quantity))),
        note,
    }
}

pub fn estimate(profile: &Profile, resources: &[Resource]) -> Cost {
    estimate_with(profile, resources, None)
}

/// What the control plane's support policy costs, in words: standard costs nothing more (EKS
/// upgrades the control plane at the end of standard support); extended costs
/// [`EKS_EXTENDED_SUPPORT_HOURLY`] from the day the version leaves standard support
/// (`standard_support_ends`, RFC 3339, when known).
pub fn support_note(support: Support, standard_support_ends: Option<&str>) -> String {
    match support {
        Support::Standard => {
            "standard support: at its end EKS upgrades the control plane, at no extra cost".into()
        }
        Support::Extended => {
            let monthly = EKS_EXTENDED_SUPPORT_HOURLY * HOURS_PER_MONTH;
            let from = match standard_support_ends {
                Some(end) => format!("from {}", end.get(..10).unwrap_or(end)),
                None => "once the version leaves standard support".into(),
            };
            format!(
                "extended support: ${EKS_EXTENDED_SUPPORT_HOURLY:.2}/hour (${monthly:.2}/month) {from}, instead of ${EKS_CONTROL_PLANE_HOURLY:.2}"
            )
        }
    }
}

/// [`estimate`], with the day the cluster's version leaves standard support when known.
pub fn estimate_with(
    profile: &Profile,
    resources: &[Resource],
    standard_support_ends: Option<&str>,
) -> Cost {
    let count = |kind: Kind| resources.iter().filter(|r| r.kind == kind).count() as u32;
    let mut items = vec![item(
        "EKS control plane",
        1,
        Some(EKS_CONTROL_PLANE_HOURLY * HOURS_PER_MONTH),
        Some(support_note(profile.cluster.support, standard_support_ends)),
    )];

    let nats = count(Kind::NatGateway);
    if nats > 0 {
        items.push(item(
            "NAT gateways",
            nats,
            Some(NAT_GATEWAY_HOURLY * HOURS_PER_MONTH),
            Some("plus $0.045 per GB processed".into()),
        ));
    }

    let nodes = if profile.nodes.enabled {
        profile.nodes.desired_size
    } else {
        0
    };
    let node_ips = if profile.network.pattern == Pattern::Public {
        nodes
    } else {
        0
    };
    let public_ips = count(Kind::ElasticIp) + node_ips;
    if public_ips > 0 {
        let note = match (count(Kind::ElasticIp) > 0, node_ips > 0) {
            (true, true) => "NAT gateway addresses and one per node in public subnets",
            (false, true) => "one per node in public subnets",
            _ => "NAT gateway addresses",
        };
        items.push(item(
            "Public IPv4 addresses",
            public_ips,
            Some(PUBLIC_IPV4_HOURLY * HOURS_PER_MONTH),
            Some(note.into()),
        ));
    }

    let interface_endpoints = resources
        .iter()
        .filter(|r| r.kind == Kind::VpcEndpoint && r.id != "endpoint-s3")
        .count() as u32;
    if interface_endpoints > 0 {
        let azs = profile.network.availability_zones.count() as u32;
        items.push(item(
            "Interface VPC endpoints (endpoint × AZ)",
            interface_endpoints * azs,
            Some(INTERFACE_ENDPOINT_HOURLY_PER_AZ * HOURS_PER_MONTH),
            Some("plus $0.01 per GB processed; the S3 gateway endpoint is free".into()),
        ));
    }

    if count(Kind::KmsKey) > 0 {
        items.push(item(
            "KMS key",
            1,
            Some(KMS_KEY_MONTHLY),
            Some("plus $0.03 per 10,000 requests".into()),
        ));
    }

    if nodes > 0 {
        // Managed node groups launch on-demand capacity in the order the types are listed.
        let first = &profile.nodes.instance_types[0];
        let note = if profile.nodes.instance_types.len() > 1 {
            Some(format!(
                "priced as {first}, the first listed type; others may launch when it is short"
            ))
        } else {
            None
        };
        items.push(item(
            &format!("Nodes: {first}"),
            nodes,
            instance_hourly(first).map(|h| h * HOURS_PER_MONTH),
            note.or_else(|| {
                instance_hourly(first)
                    .is_none()
                    .then(|| "no list price known to eksboot for this type".to_string())
            }),
        ));
        match profile.nodes.os {
            NodeOs::Al2023 => items.push(item(
                &format!("Node root volumes: gp3 {} GiB", profile.nodes.disk_size_gib),
                nodes,
                Some(GP3_GIB_MONTHLY * f64::from(profile.nodes.disk_size_gib)),
                None,
            )),
            NodeOs::Bottlerocket => {
                items.push(item(
                    &format!("Node OS volumes: gp3 {BOTTLEROCKET_OS_VOLUME_GIB} GiB"),
                    nodes,
                    Some(GP3_GIB_MONTHLY * f64::from(BOTTLEROCKET_OS_VOLUME_GIB)),
                    Some("Bottlerocket's OS (/dev/xvda)".into()),
                ));
                items.push(item(
                    &format!("Node data volumes: gp3 {} GiB", profile.nodes.disk_size_gib),
                    nodes,
                    Some(GP3_GIB_MONTHLY * f64::from(profile.nodes.disk_size_gib)),
                    Some("Bottlerocket's images, logs and ephemeral storage (/dev/xvdb)".into()),
                ));
            }
        }
    }

    items.push(item(
        "Control-plane logs (CloudWatch)",
        1,
        None,
        Some("usage-based: $0.50 per GB ingested".into()),
    ));

    let monthly_usd = round_cents(items.iter().filter_map(|i| i.monthly_usd).sum());
    let complete = items.iter().all(|i| i.monthly_usd.is_some());
    Cost {
        monthly_usd,
        basis: PRICE_BASIS.to_string(),
        items,
        complete,
    }
}
