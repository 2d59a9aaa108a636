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

/// EKS Auto Mode's management fee per instance-hour, on top of the instance's EC2 price, for
/// each type of [`INSTANCE_HOURLY`] (us-east-1). Amazon EKS pricing,
/// https://aws.amazon.com/eks/pricing/ ("Amazon EKS Auto Mode": a fee per instance-hour by
/// instance type, billed per second with a one-minute minimum, for the instances Auto Mode
/// launches and manages); for these general-purpose, compute and memory types it is 12 % of the
/// type's on-demand price, which is how each figure below was derived (the page could not be
/// read from here: check a type on the page before relying on its last digit).
const AUTO_MODE_FEE_HOURLY: [(&str, f64); 24] = [
    ("t3.small", 0.002496),
    ("t3.medium", 0.004992),
    ("t3.large", 0.009984),
    ("t3.xlarge", 0.019968),
    ("t3a.medium", 0.004512),
    ("t3a.large", 0.009024),
    ("m5.large", 0.01152),
    ("m5.xlarge", 0.02304),
    ("m6i.large", 0.01152),
    ("m6i.xlarge", 0.02304),
    ("m7i.large", 0.012096),
    ("m7i.xlarge", 0.024192),
    ("c5.large", 0.0102),
    ("c6i.large", 0.0102),
    ("c7i.large", 0.010716),
    ("r5.large", 0.01512),
    ("r6i.large", 0.01512),
    ("t4g.medium", 0.004032),
    ("t4g.large", 0.008064),
    ("m6g.large", 0.00924),
    ("m7g.large", 0.009792),
    ("m7g.xlarge", 0.019584),
    ("c7g.large", 0.0087),
    ("r7g.large", 0.012852),
];

/// Each Auto Mode node's volume: the default node class gives every node 80 GiB of gp3
/// ephemeral storage (EKS user guide, "Create a Node Class for Amazon EKS":
/// `ephemeralStorage.size` defaults to 80Gi, gp3).
pub const AUTO_MODE_NODE_VOLUME_GIB: u32 = 80;

/// The worked example of an Auto Mode cluster's nodes: two of the smallest type the built-in
/// `general-purpose` node pool may launch (on-demand, amd64, families c, m and r of generation 5
/// or newer: EKS user guide, "Create a cluster with Amazon EKS Auto Mode", built-in node pools),
/// one per AZ of the two a highly available workload spreads over.
pub const AUTO_MODE_EXAMPLE: (u32, &str) = (2, "m6i.large");

pub fn auto_mode_fee_hourly(instance_type: &str) -> Option<f64> {
    AUTO_MODE_FEE_HOURLY
        .iter()
        .find(|(t, _)| *t == instance_type)
        .map(|(_, p)| *p)
}

/// What one Auto Mode node of `instance_type` costs a month: EC2, Auto Mode's fee, its volume,
/// and its public IPv4 address when it sits in a public subnet. `None` for a type outside the
/// price table.
pub fn auto_mode_node_monthly(instance_type: &str, public_ip: bool) -> Option<AutoModeNode> {
    Some(AutoModeNode {
        ec2: round_cents(instance_hourly(instance_type)? * HOURS_PER_MONTH),
        fee: round_cents(auto_mode_fee_hourly(instance_type)? * HOURS_PER_MONTH),
        volume: round_cents(GP3_GIB_MONTHLY * f64::from(AUTO_MODE_NODE_VOLUME_GIB)),
        public_ip: if public_ip {
            round_cents(PUBLIC_IPV4_HOURLY * HOURS_PER_MONTH)
        } else {
            0.0
        },
    })
}

/// One Auto Mode node's monthly cost, by part.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AutoModeNode {
    pub ec2: f64,
    pub fee: f64,
    pub volume: f64,
    pub public_ip: f64,
}

impl AutoModeNode {
    pub fn total(&self) -> f64 {
        round_cents(self.ec2 + self.fee + self.volume + self.public_ip)
    }
}

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
    /// With EKS Auto Mode: the nodes are not in `monthly_usd` (they depend on what Auto Mode
    /// launches); this says so, with a worked example.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nodes_note: Option<String>,
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

    let nodes = if profile.node_group() {
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
        items.extend(node_group_items(profile, nodes));
    }

    let (nodes_note, auto_item) = auto_mode_nodes(profile);
    items.extend(auto_item);

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
        nodes_note,
    }
}

/// The managed node group's nodes and their volumes, priced by the first listed type.
fn node_group_items(profile: &Profile, nodes: u32) -> Vec<CostItem> {
    let mut items = Vec::new();
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
    items
}

/// With Auto Mode: what a node costs (a row without a total: it depends on what Auto Mode
/// launches) and the worked example said with the total.
fn auto_mode_nodes(profile: &Profile) -> (Option<String>, Option<CostItem>) {
    let public = profile.network.pattern == Pattern::Public;
    let nodes_note = profile.auto_mode().then(|| {
        let (count, example) = AUTO_MODE_EXAMPLE;
        let node = auto_mode_node_monthly(example, public).expect("the example type is priced");
        let ip = if public {
            format!(" + public IPv4 ${:.2}", node.public_ip * f64::from(count))
        } else {
            String::new()
        };
        format!(
            "plus the nodes, which depend on what Auto Mode launches; e.g. {count} × {example}: EC2 ${:.2} + Auto Mode fee ${:.2} + gp3 ${:.2}{ip} = ${:.2} a month",
            node.ec2 * f64::from(count),
            node.fee * f64::from(count),
            node.volume * f64::from(count),
            node.total() * f64::from(count),
        )
    });
    let auto_item = profile.auto_mode().then(|| {
        let (_, example) = AUTO_MODE_EXAMPLE;
        let (ec2, fee) = (
            instance_hourly(example).expect("priced"),
            auto_mode_fee_hourly(example).expect("priced"),
        );
        item(
            "Nodes: launched by EKS Auto Mode",
            0,
            None,
            Some(format!(
                "depends on what Auto Mode launches; each node: EC2 on-demand + Auto Mode's fee (e.g. {example}: ${ec2} + ${fee:.4}/hour) + gp3 {AUTO_MODE_NODE_VOLUME_GIB} GiB (${:.2}/month){}",
                GP3_GIB_MONTHLY * f64::from(AUTO_MODE_NODE_VOLUME_GIB),
                if public {
                    format!(" + a public IPv4 (${:.2}/month)", PUBLIC_IPV4_HOURLY * HOURS_PER_MONTH)
                } else {
                    String::new()
                }
            )),
        )
    });
    (nodes_note, auto_item)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(extra: &str) -> Profile {
        Profile::parse(
            &format!("[cluster]\nname = \"demo\"\nregion = \"us-west-2\"\n{extra}"),
            std::path::Path::new("t.toml"),
        )
        .unwrap()
    }

    fn cost(p: &Profile) -> Cost {
        let plan = crate::plan::Plan::build(p, &crate::plan::PlanFacts::default());
        estimate(p, &plan.resources)
    }

    #[test]
    fn every_priced_type_has_its_auto_mode_fee_at_twelve_percent() {
        assert_eq!(INSTANCE_HOURLY.len(), AUTO_MODE_FEE_HOURLY.len());
        for (t, ec2) in INSTANCE_HOURLY {
            let fee = auto_mode_fee_hourly(t).unwrap_or_else(|| panic!("no fee for {t}"));
            assert!((fee / ec2 - 0.12).abs() < 0.001, "{t}: {fee} of {ec2}");
        }
        assert_eq!(auto_mode_fee_hourly("p5.48xlarge"), None);
        assert_eq!(auto_mode_node_monthly("p5.48xlarge", false), None);
    }

    #[test]
    fn auto_mode_has_no_node_group_and_gives_the_nodes_as_a_worked_example_never_a_total() {
        let p = profile("[network]\npattern = \"public-and-private\"\navailability_zones = 3\n[nodes]\nmode = \"auto\"\n");
        let c = cost(&p);
        assert!(
            !c.items.iter().any(|i| i.item.starts_with("Nodes: m")
                || i.item.contains("root volumes")
                || i.item.contains("OS volumes")),
            "{:#?}",
            c.items
        );
        let nodes = c
            .items
            .iter()
            .find(|i| i.item == "Nodes: launched by EKS Auto Mode")
            .unwrap();
        assert_eq!((nodes.quantity, nodes.monthly_usd), (0, None));
        let note = nodes.note.as_deref().unwrap();
        assert!(
            note.starts_with("depends on what Auto Mode launches"),
            "{note}"
        );
        assert!(note.contains("m6i.large: $0.096 + $0.0115/hour"), "{note}");
        assert!(note.contains("gp3 80 GiB ($6.40/month)"), "{note}");
        assert!(!note.contains("public IPv4"), "{note}");
        assert!(!c.complete);
        // The total is the known items only; the nodes come as an example on top.
        let known: f64 = c.items.iter().filter_map(|i| i.monthly_usd).sum();
        assert_eq!(c.monthly_usd, round_cents(known));
        let total = c.nodes_note.as_deref().unwrap();
        // Two m6i.large: EC2 2 × 0.096 × 730, fee 2 × 0.01152 × 730, gp3 2 × 80 × $0.08.
        assert!(
            total.contains("depend on what Auto Mode launches; e.g. 2 × m6i.large: EC2 $140.16 + Auto Mode fee $16.82 + gp3 $12.80 = $169.78 a month"),
            "{total}"
        );
        // A managed node group has none of it.
        let managed = cost(&profile(""));
        assert_eq!(managed.nodes_note, None);
        assert!(managed.items.iter().any(|i| i.item == "Nodes: t3.medium"));
        assert!(!managed.items.iter().any(|i| i.item.contains("Auto Mode")));
    }

    #[test]
    fn auto_mode_nodes_in_public_subnets_pay_for_their_addresses_in_the_example() {
        let p = profile("[network]\npattern = \"public\"\n[nodes]\nmode = \"auto\"\n");
        let c = cost(&p);
        assert!(
            !c.items.iter().any(|i| i.item == "Public IPv4 addresses"),
            "no node count is known: {:#?}",
            c.items
        );
        let nodes = c
            .items
            .iter()
            .find(|i| i.item.contains("Auto Mode"))
            .unwrap();
        assert!(
            nodes
                .note
                .as_deref()
                .unwrap()
                .contains("+ a public IPv4 ($3.65/month)"),
            "{nodes:?}"
        );
        let total = c.nodes_note.unwrap();
        assert!(
            total.contains("+ public IPv4 $7.30 = $177.08 a month"),
            "{total}"
        );
    }
}
