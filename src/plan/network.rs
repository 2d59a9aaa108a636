//! Subnet layout: pure CIDR arithmetic over the VPC block.
//!
//! The VPC is split in quarters Q0..Q3. Private subnets take Q0, Q1, Q2 for AZ 1, 2, 3: they are
//! large because the VPC CNI gives every pod a VPC address. Public subnets take Q0..Q2 in the
//! `public` pattern; in `public-and-private` they take the first blocks of Q3 split in eight,
//! since they hold little more than NAT gateways and load balancers.

use ipnet::Ipv4Net;
use serde::Serialize;

use crate::profile::Pattern;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    Private,
    Public,
}

impl Tier {
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Private => "private",
            Tier::Public => "public",
        }
    }
}

/// One subnet of the layout: its tier, the AZ it belongs to (1-based) and its block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubnetSlot {
    pub tier: Tier,
    pub az_index: usize,
    pub cidr: Ipv4Net,
}

/// The subnets of a VPC for a pattern and AZ count (2 or 3), private first, by AZ.
///
/// # Panics
/// When the VPC prefix leaves no room (longer than /26) or the AZ count is not 1..=3; validated
/// profiles never ask for that.
pub fn layout(vpc: Ipv4Net, pattern: Pattern, az_count: usize) -> Vec<SubnetSlot> {
    assert!((1..=3).contains(&az_count), "1 to 3 AZs");
    let quarters: Vec<Ipv4Net> = vpc
        .subnets(vpc.prefix_len() + 2)
        .expect("a VPC prefix of /26 or shorter")
        .collect();
    let mut slots = Vec::with_capacity(az_count * 2);
    if pattern.has_private_subnets() {
        slots.extend((0..az_count).map(|i| SubnetSlot {
            tier: Tier::Private,
            az_index: i + 1,
            cidr: quarters[i],
        }));
    }
    match pattern {
        Pattern::Public => slots.extend((0..az_count).map(|i| SubnetSlot {
            tier: Tier::Public,
            az_index: i + 1,
            cidr: quarters[i],
        })),
        Pattern::PublicAndPrivate => {
            let eighths = quarters[3]
                .subnets(vpc.prefix_len() + 5)
                .expect("a VPC prefix of /26 or shorter");
            slots.extend(
                eighths
                    .take(az_count)
                    .enumerate()
                    .map(|(i, cidr)| SubnetSlot {
                        tier: Tier::Public,
                        az_index: i + 1,
                        cidr,
                    }),
            );
        }
        Pattern::Private => {}
    }
    slots
}

/// Addresses AWS lets you use in a subnet: it reserves five in each.
pub fn usable_addresses(cidr: Ipv4Net) -> u64 {
    (1u64 << (32 - u32::from(cidr.prefix_len()))).saturating_sub(5)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn net(s: &str) -> Ipv4Net {
        s.parse().unwrap()
    }

    #[test]
    fn public_and_private_two_azs_matches_the_documented_example() {
        let slots = layout(net("10.0.0.0/16"), Pattern::PublicAndPrivate, 2);
        let got: Vec<(Tier, usize, String)> = slots
            .iter()
            .map(|s| (s.tier, s.az_index, s.cidr.to_string()))
            .collect();
        assert_eq!(
            got,
            vec![
                (Tier::Private, 1, "10.0.0.0/18".into()),
                (Tier::Private, 2, "10.0.64.0/18".into()),
                (Tier::Public, 1, "10.0.192.0/21".into()),
                (Tier::Public, 2, "10.0.200.0/21".into()),
            ]
        );
    }

    #[test]
    fn public_pattern_uses_quarters_and_no_private_subnets() {
        let slots = layout(net("172.16.0.0/20"), Pattern::Public, 3);
        let cidrs: Vec<String> = slots.iter().map(|s| s.cidr.to_string()).collect();
        assert_eq!(cidrs, ["172.16.0.0/22", "172.16.4.0/22", "172.16.8.0/22"]);
        assert!(slots.iter().all(|s| s.tier == Tier::Public));
    }

    #[test]
    fn private_pattern_has_only_private_subnets() {
        let slots = layout(net("10.1.0.0/16"), Pattern::Private, 3);
        assert_eq!(slots.len(), 3);
        assert!(slots.iter().all(|s| s.tier == Tier::Private));
        assert_eq!(slots[2].cidr, net("10.1.128.0/18"));
    }

    #[test]
    fn usable_addresses_subtracts_aws_reserved_five() {
        assert_eq!(usable_addresses(net("10.0.0.0/18")), 16379);
        assert_eq!(usable_addresses(net("10.0.192.0/21")), 2043);
    }

    fn any_pattern() -> impl Strategy<Value = Pattern> {
        prop_oneof![
            Just(Pattern::Public),
            Just(Pattern::Private),
            Just(Pattern::PublicAndPrivate)
        ]
    }

    proptest! {
        #[test]
        fn subnets_lie_inside_the_vpc_and_never_overlap(
            addr in any::<u32>(), prefix in 16u8..=20, azs in 2usize..=3, pattern in any_pattern()
        ) {
            let vpc = Ipv4Net::new(addr.into(), prefix).unwrap().trunc();
            let slots = layout(vpc, pattern, azs);
            let expected = match pattern { Pattern::PublicAndPrivate => 2 * azs, _ => azs };
            prop_assert_eq!(slots.len(), expected);
            for (i, a) in slots.iter().enumerate() {
                prop_assert!(vpc.contains(&a.cidr));
                for b in &slots[i + 1..] {
                    prop_assert!(!a.cidr.contains(&b.cidr.network()) && !b.cidr.contains(&a.cidr.network()));
                }
            }
            // One subnet per tier per AZ, AZs numbered 1..=n.
            for tier in [Tier::Private, Tier::Public] {
                let idx: Vec<usize> = slots.iter().filter(|s| s.tier == tier).map(|s| s.az_index).collect();
                prop_assert!(idx.is_empty() || idx == (1..=azs).collect::<Vec<_>>());
            }
            // Private subnets are always a quarter of the VPC.
            for s in slots.iter().filter(|s| s.tier == Tier::Private) {
                prop_assert_eq!(s.cidr.prefix_len(), prefix + 2);
            }
        }
    }
}
