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

#[cfg(test)]
mod tests {
    use super::*;

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
