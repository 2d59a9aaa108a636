//! Keeping a cluster's Kubernetes version supported: which version comes next, how long
//! standard support lasts, what extended support costs. Pure.

use std::time::{Duration, SystemTime};

/// EKS charges $0.10 per cluster-hour in standard support and $0.60 in extended support.
pub const STANDARD_HOURLY_USD: f64 = 0.10;
pub const EXTENDED_HOURLY_USD: f64 = 0.60;
/// Hours in an average month, as AWS prices them.
const HOURS_PER_MONTH: f64 = 730.0;
/// `status` warns when standard support ends within this many days.
pub const SUPPORT_WARNING_DAYS: i64 = 90;

/// What extended support costs on top of standard, per cluster and month.
pub fn extended_support_extra_monthly() -> f64 {
    ((EXTENDED_HOURLY_USD - STANDARD_HOURLY_USD) * HOURS_PER_MONTH).round()
}

/// The next minor version (EKS upgrades one at a time): `1.34` → `1.35`.
pub fn next_minor(version: &str) -> Option<String> {
    let (major, minor) = version.split_once('.')?;
    let major: u32 = major.parse().ok()?;
    let minor: u32 = minor.split('.').next()?.parse().ok()?;
    Some(format!("{major}.{}", minor + 1))
}

/// Whole days from `now` until `end` (RFC 3339); negative once it has passed.
pub fn days_until(end: &str, now: SystemTime) -> Option<i64> {
    let end = humantime::parse_rfc3339_weak(end.trim_end_matches('Z'))
        .or_else(|_| humantime::parse_rfc3339(end))
        .ok()?;
    Some(match end.duration_since(now) {
        Ok(ahead) => (ahead.as_secs() / 86_400) as i64,
        Err(past) => -(past.duration().as_secs().div_ceil(86_400) as i64),
    })
}

/// The date part of an RFC 3339 time: `2026-12-02`.
pub fn day(end: &str) -> &str {
    end.get(..10).unwrap_or(end)
}

/// One line on a version's standard support, and whether it calls for attention (within
/// [`SUPPORT_WARNING_DAYS`], or past).
pub fn support_line(version: &str, end: &str, now: SystemTime) -> (String, bool) {
    let Some(days) = days_until(end, now) else {
        return (format!("Kubernetes {version}"), false);
    };
    let extra = extended_support_extra_monthly();
    if days < 0 {
        (
            format!(
                "Kubernetes {version}: standard support ended {} ({} days ago); extended support costs about ${extra:.0} a month more: `eksboot upgrade`",
                day(end),
                -days
            ),
            true,
        )
    } else if days <= SUPPORT_WARNING_DAYS {
        (
            format!(
                "Kubernetes {version}: standard support ends {} (in {days} days); after that, extended support costs about ${extra:.0} a month more: `eksboot upgrade`",
                day(end)
            ),
            true,
        )
    } else {
        (
            format!(
                "Kubernetes {version}: standard support until {} (in {days} days)",
                day(end)
            ),
            false,
        )
    }
}

/// The cluster's upgrade policy (DescribeCluster's `upgradePolicy.supportType`): what happens
/// when its version's standard support ends. EXTENDED: the cluster moves into extended support,
/// at a cost; STANDARD: "the cluster is automatically upgraded at the end of standard support"
/// (https://docs.aws.amazon.com/eks/latest/userguide/view-upgrade-policy.html). Unknown when
/// AWS was not asked (offline `status`) or did not say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SupportPolicy {
    Extended,
    Standard,
    Unknown,
}

impl SupportPolicy {
    pub fn from_eks(support_type: &str) -> SupportPolicy {
        match support_type {
            "EXTENDED" => SupportPolicy::Extended,
            "STANDARD" => SupportPolicy::Standard,
            _ => SupportPolicy::Unknown,
        }
    }
}

/// What a STANDARD upgrade policy means at the end of standard support.
pub const STANDARD_POLICY_NOTE: &str = "the cluster's upgrade policy is STANDARD: no extended support cost; at the end of standard support EKS upgrades the control plane itself (node groups and add-ons wait for `eksboot upgrade`)";

/// [`support_line`] for a cluster whose upgrade policy is known: EXTENDED (or unknown) as
/// there, with the extended-support cost; STANDARD without it, saying that EKS upgrades the
/// control plane itself when standard support ends.
pub fn support_line_for(
    version: &str,
    end: &str,
    now: SystemTime,
    policy: SupportPolicy,
) -> (String, bool) {
    if policy != SupportPolicy::Standard {
        return support_line(version, end, now);
    }
    let Some(days) = days_until(end, now) else {
        return (
            format!("Kubernetes {version}: {STANDARD_POLICY_NOTE}"),
            false,
        );
    };
    if days < 0 {
        (
            format!(
                "Kubernetes {version}: standard support ended {} ({} days ago); {STANDARD_POLICY_NOTE}",
                day(end),
                -days
            ),
            true,
        )
    } else if days <= SUPPORT_WARNING_DAYS {
        (
            format!(
                "Kubernetes {version}: standard support ends {} (in {days} days); {STANDARD_POLICY_NOTE}",
                day(end)
            ),
            true,
        )
    } else {
        (
            format!(
                "Kubernetes {version}: standard support until {} (in {days} days); {STANDARD_POLICY_NOTE}",
                day(end)
            ),
            false,
        )
    }
}

/// `upgrade`'s line on what staying on a version costs, by the cluster's upgrade policy.
pub fn policy_cost_line(policy: SupportPolicy) -> String {
    match policy {
        SupportPolicy::Standard => {
            let mut note = STANDARD_POLICY_NOTE.to_string();
            note[..1].make_ascii_uppercase();
            format!("{note}.")
        }
        SupportPolicy::Extended | SupportPolicy::Unknown => format!(
            "Extended support costs $0.60 instead of $0.10 per cluster-hour: about ${:.0} a month more{}.",
            extended_support_extra_monthly(),
            if policy == SupportPolicy::Extended {
                " (the cluster's upgrade policy is EXTENDED)"
            } else {
                ""
            }
        ),
    }
}

/// Offline `status`: where the version came from, and that AWS was not asked.
pub fn offline_note(recorded: &str) -> String {
    format!(
        "(from the state file, as recorded {}; AWS was not asked: `status --live` asks EKS for the version and upgrade policy)",
        day(recorded)
    )
}

/// `EKSBOOT_NOW` (RFC 3339) when set, for tests; else the clock.
pub fn parse_now(value: Option<&str>) -> SystemTime {
    value
        .and_then(|v| humantime::parse_rfc3339_weak(v.trim_end_matches('Z')).ok())
        .unwrap_or_else(SystemTime::now)
}

/// A day, for tests.
pub fn days(n: u64) -> Duration {
    Duration::from_secs(n * 86_400)
}

/// How `upgrade` treats add-ons (`--addons`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AddonPolicy {
    /// Keep every installed version the target supports; move the others.
    #[default]
    Compatible,
    /// Move each to the target's default, unless that is older than the installed one.
    Default,
}

/// What EKS offers of one add-on for one Kubernetes version (DescribeAddonVersions).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddonOffer {
    pub versions: Vec<String>,
    pub default: Option<String>,
}

/// One add-on's way to the target version: each step is one UpdateAddon, waited for; `before`
/// runs before the control plane moves (versions the target does not offer), `after` after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddonMove {
    pub name: String,
    pub from: String,
    pub to: String,
    pub before: Vec<String>,
    pub after: Vec<String>,
}

/// The add-on EKS moves one minor version at a time ("can only go up or down 1 minor version
/// at a time": https://docs.aws.amazon.com/eks/latest/userguide/managing-vpc-cni.html).
pub const STEPPED_ADDON: &str = "vpc-cni";

/// `v1.20.4-eksbuild.1` → (1, 20, 4, 1), for ordering; `None` when it is not such a version.
pub fn addon_version_key(version: &str) -> Option<(u64, u64, u64, u64)> {
    let v = version.trim_start_matches('v');
    let (semver, build) = match v.split_once("-eksbuild.") {
        Some((s, b)) => (s, b.parse().ok()?),
        None => (v, 0),
    };
    let mut parts = semver.split('.').map(|p| p.parse::<u64>().ok());
    let major = parts.next()??;
    let minor = parts.next().flatten().unwrap_or(0);
    let patch = parts.next().flatten().unwrap_or(0);
    Some((major, minor, patch, build))
}

fn older(a: &str, b: &str) -> bool {
    match (addon_version_key(a), addon_version_key(b)) {
        (Some(a), Some(b)) => a < b,
        _ => false,
    }
}

fn minor_of(v: &str) -> Option<(u64, u64)> {
    addon_version_key(v).map(|k| (k.0, k.1))
}

/// Where one add-on goes when the cluster moves from the Kubernetes version that offers
/// `current` to the one that offers `target`: `Ok(None)` when it stays as it is. Nothing is
/// ever moved down. `Err` says why it cannot be moved (no version not older than the
/// installed one, or a vpc-cni step offered by neither version).
pub fn addon_move(
    name: &str,
    installed: &str,
    current: &AddonOffer,
    target: &AddonOffer,
    policy: AddonPolicy,
) -> Result<Option<AddonMove>, String> {
    let supported = target.versions.iter().any(|v| v == installed);
    let lowest_not_older = || {
        target
            .versions
            .iter()
            .filter(|v| !older(v, installed))
            .min_by_key(|v| addon_version_key(v))
            .cloned()
    };
    let default_not_older = target.default.clone().filter(|d| !older(d, installed));
    let to = match policy {
        AddonPolicy::Compatible if supported => return Ok(None),
        AddonPolicy::Compatible => default_not_older.or_else(lowest_not_older),
        AddonPolicy::Default => match default_not_older {
            Some(d) => Some(d),
            None if supported => return Ok(None),
            None => lowest_not_older(),
        },
    };
    let Some(to) = to else {
        return Err(format!(
            "EKS offers no version of {name} for the new Kubernetes version that is not older than the installed {installed}"
        ));
    };
    if to == installed {
        return Ok(None);
    }
    let mut steps = Vec::new();
    if name == STEPPED_ADDON {
        if let (Some(from_minor), Some(to_minor)) = (minor_of(installed), minor_of(&to)) {
            if from_minor.0 == to_minor.0 {
                for minor in from_minor.1 + 1..to_minor.1 {
                    // The newest build of that minor, the target's if it offers one.
                    let newest = |offer: &AddonOffer| {
                        offer
                            .versions
                            .iter()
                            .filter(|v| minor_of(v) == Some((from_minor.0, minor)))
                            .max_by_key(|v| addon_version_key(v))
                            .cloned()
                    };
                    let step = newest(target).or_else(|| newest(current)).ok_or_else(|| {
                        format!(
                            "{name} moves one minor version at a time, and EKS offers no v{}.{minor} on the way from {installed} to {to}",
                            from_minor.0
                        )
                    })?;
                    steps.push(step);
                }
            }
        }
    }
    steps.push(to.clone());
    // Everything up to the last step the target does not offer is made before the control
    // plane moves, on versions the current Kubernetes version offers.
    let split = steps
        .iter()
        .rposition(|s| !target.versions.contains(s))
        .map_or(0, |i| i + 1);
    let after = steps.split_off(split);
    if let Some(s) = steps.iter().find(|s| !current.versions.contains(s)) {
        return Err(format!(
            "{name} {s} is offered neither by the cluster's Kubernetes version nor by the new one"
        ));
    }
    Ok(Some(AddonMove {
        name: name.to_string(),
        from: installed.to_string(),
        to,
        before: steps,
        after,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer(versions: &[&str], default: &str) -> AddonOffer {
        AddonOffer {
            versions: versions.iter().map(|v| v.to_string()).collect(),
            default: Some(default.to_string()),
        }
    }

    #[test]
    fn compatible_keeps_a_supported_version_and_default_moves_it() {
        let cur = offer(
            &["v1.12.1-eksbuild.1", "v1.11.4-eksbuild.2"],
            "v1.12.1-eksbuild.1",
        );
        let tgt = offer(
            &[
                "v1.13.1-eksbuild.1",
                "v1.12.2-eksbuild.1",
                "v1.12.1-eksbuild.1",
            ],
            "v1.12.2-eksbuild.1",
        );
        let i = "v1.12.1-eksbuild.1";
        assert_eq!(
            addon_move("coredns", i, &cur, &tgt, AddonPolicy::Compatible),
            Ok(None)
        );
        let m = addon_move("coredns", i, &cur, &tgt, AddonPolicy::Default)
            .unwrap()
            .unwrap();
        assert_eq!((m.to.as_str(), m.before.len()), ("v1.12.2-eksbuild.1", 0));
        assert_eq!(m.after, vec!["v1.12.2-eksbuild.1".to_string()]);
    }

    #[test]
    fn nothing_is_ever_moved_down() {
        // The default is older than the installed (supported) version: kept with either policy.
        let tgt = offer(
            &["v1.13.1-eksbuild.1", "v1.12.2-eksbuild.1"],
            "v1.12.2-eksbuild.1",
        );
        let cur = offer(&["v1.13.1-eksbuild.1"], "v1.13.1-eksbuild.1");
        for p in [AddonPolicy::Compatible, AddonPolicy::Default] {
            assert_eq!(
                addon_move("coredns", "v1.13.1-eksbuild.1", &cur, &tgt, p),
                Ok(None)
            );
        }
        // Not supported and the default is older: the lowest supported version not older.
        let tgt = offer(
            &[
                "v1.13.2-eksbuild.1",
                "v1.13.5-eksbuild.1",
                "v1.12.2-eksbuild.1",
            ],
            "v1.12.2-eksbuild.1",
        );
        for p in [AddonPolicy::Compatible, AddonPolicy::Default] {
            let m = addon_move("coredns", "v1.13.1-eksbuild.1", &cur, &tgt, p)
                .unwrap()
                .unwrap();
            assert_eq!(m.to, "v1.13.2-eksbuild.1");
        }
        // Nothing not older: said, not downgraded.
        let tgt = offer(&["v1.12.2-eksbuild.1"], "v1.12.2-eksbuild.1");
        assert!(addon_move(
            "coredns",
            "v1.13.1-eksbuild.1",
            &cur,
            &tgt,
            AddonPolicy::Compatible
        )
        .is_err());
    }

    #[test]
    fn vpc_cni_moves_one_minor_at_a_time_steps_the_target_lacks_first() {
        let cur = offer(
            &[
                "v1.20.4-eksbuild.1",
                "v1.19.6-eksbuild.1",
                "v1.18.6-eksbuild.1",
            ],
            "v1.19.6-eksbuild.1",
        );
        let tgt = offer(
            &["v1.21.0-eksbuild.1", "v1.20.4-eksbuild.1"],
            "v1.20.4-eksbuild.1",
        );
        let m = addon_move(
            "vpc-cni",
            "v1.18.6-eksbuild.1",
            &cur,
            &tgt,
            AddonPolicy::Compatible,
        )
        .unwrap()
        .unwrap();
        assert_eq!(m.before, vec!["v1.19.6-eksbuild.1".to_string()]);
        assert_eq!(m.after, vec!["v1.20.4-eksbuild.1".to_string()]);
        assert_eq!(
            (m.from.as_str(), m.to.as_str()),
            ("v1.18.6-eksbuild.1", "v1.20.4-eksbuild.1")
        );
        // The target offers the middle step: both after the control plane.
        let tgt = offer(
            &[
                "v1.20.4-eksbuild.1",
                "v1.19.7-eksbuild.1",
                "v1.19.6-eksbuild.1",
            ],
            "v1.20.4-eksbuild.1",
        );
        let m = addon_move(
            "vpc-cni",
            "v1.18.6-eksbuild.1",
            &cur,
            &tgt,
            AddonPolicy::Compatible,
        )
        .unwrap()
        .unwrap();
        assert!(m.before.is_empty());
        assert_eq!(
            m.after,
            vec![
                "v1.19.7-eksbuild.1".to_string(),
                "v1.20.4-eksbuild.1".to_string()
            ]
        );
        // Another add-on jumps straight to its version.
        let m = addon_move(
            "coredns",
            "v1.10.1-eksbuild.1",
            &offer(&[], "x"),
            &offer(&["v1.12.2-eksbuild.1"], "v1.12.2-eksbuild.1"),
            AddonPolicy::Compatible,
        )
        .unwrap()
        .unwrap();
        assert_eq!(m.after.len(), 1);
        // A missing minor on the way is said.
        let tgt = offer(&["v1.21.0-eksbuild.1"], "v1.21.0-eksbuild.1");
        let cur = offer(&["v1.18.6-eksbuild.1"], "v1.18.6-eksbuild.1");
        assert!(addon_move(
            "vpc-cni",
            "v1.18.6-eksbuild.1",
            &cur,
            &tgt,
            AddonPolicy::Compatible
        )
        .is_err());
    }

    #[test]
    fn add_on_versions_order_by_number_not_text() {
        assert!(older("v1.9.0-eksbuild.1", "v1.10.0-eksbuild.1"));
        assert!(older("v1.10.0-eksbuild.2", "v1.10.0-eksbuild.10"));
        assert!(!older("v1.10.0-eksbuild.1", "v1.10.0-eksbuild.1"));
    }

    #[test]
    fn the_next_version_is_one_minor_up() {
        assert_eq!(next_minor("1.34").as_deref(), Some("1.35"));
        assert_eq!(next_minor("1.9").as_deref(), Some("1.10"));
        assert_eq!(next_minor("one"), None);
    }

    #[test]
    fn extended_support_costs_about_365_a_month_more() {
        assert_eq!(extended_support_extra_monthly(), 365.0);
    }

    #[test]
    fn a_standard_upgrade_policy_has_no_extended_cost_and_says_eks_upgrades_itself() {
        let now = humantime::parse_rfc3339("2026-11-20T00:00:00Z").unwrap();
        let (line, warn) =
            support_line_for("1.34", "2026-12-02T00:00:00Z", now, SupportPolicy::Standard);
        assert!(warn);
        assert!(
            line.starts_with("Kubernetes 1.34: standard support ends 2026-12-02 (in 12 days)"),
            "{line}"
        );
        assert!(!line.contains("a month more"), "{line}");
        assert!(
            line.contains("EKS upgrades the control plane itself"),
            "{line}"
        );
        let (line, warn) =
            support_line_for("1.31", "2025-11-26T00:00:00Z", now, SupportPolicy::Standard);
        assert!(
            warn && line.contains("ended 2025-11-26") && !line.contains("$"),
            "{line}"
        );
        let (line, warn) =
            support_line_for("1.35", "2027-03-27T00:00:00Z", now, SupportPolicy::Standard);
        assert!(
            !warn && line.contains("until 2027-03-27") && line.contains("STANDARD"),
            "{line}"
        );
        // EXTENDED and unknown: the cost line as before.
        for policy in [SupportPolicy::Extended, SupportPolicy::Unknown] {
            let (line, _) = support_line_for("1.34", "2026-12-02T00:00:00Z", now, policy);
            assert_eq!(line, support_line("1.34", "2026-12-02T00:00:00Z", now).0);
            assert!(line.contains("$365 a month more"), "{line}");
        }
    }

    #[test]
    fn the_upgrade_cost_line_follows_the_policy() {
        assert_eq!(SupportPolicy::from_eks("STANDARD"), SupportPolicy::Standard);
        assert_eq!(SupportPolicy::from_eks("EXTENDED"), SupportPolicy::Extended);
        assert_eq!(SupportPolicy::from_eks(""), SupportPolicy::Unknown);
        let standard = policy_cost_line(SupportPolicy::Standard);
        assert!(
            standard.starts_with("The cluster's upgrade policy is STANDARD"),
            "{standard}"
        );
        assert!(!standard.contains("$"), "{standard}");
        let extended = policy_cost_line(SupportPolicy::Extended);
        assert!(
            extended.contains("$365 a month more") && extended.contains("EXTENDED"),
            "{extended}"
        );
        assert!(offline_note("2026-12-01T10:00:00Z").contains("as recorded 2026-12-01"));
    }

    #[test]
    fn support_ending_within_90_days_or_past_is_flagged() {
        let now = parse_now(Some("2026-10-01T00:00:00Z"));
        let (line, warn) = support_line("1.34", "2026-12-02T00:00:00Z", now);
        assert!(
            warn && line.contains("in 62 days") && line.contains("$365"),
            "{line}"
        );
        let (line, warn) = support_line("1.35", "2027-03-27T00:00:00Z", now);
        assert!(!warn && line.contains("until 2027-03-27"), "{line}");
        let (line, warn) = support_line("1.31", "2025-11-26T00:00:00Z", now);
        assert!(warn && line.contains("ended 2025-11-26"), "{line}");
        assert_eq!(days_until("2026-10-11T00:00:00Z", now), Some(10));
        assert!(parse_now(None) > now);
        assert_eq!(days(2), Duration::from_secs(172_800));
    }
}
