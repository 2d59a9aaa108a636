//! Settings: the pure merge of flags over a profile over the defaults. Flags and the profile
//! become one TOML table in the profile's own shape, so the profile reader applies the defaults
//! and every validation rule to the result, whatever its source.

use std::path::Path;

use crate::cli::Overrides;
use crate::profile::{Profile, ProfileError};

/// The profile text (if any) as a table, with every flag given written over it.
pub fn merge(
    profile: Option<(&str, &Path)>,
    flags: &Overrides,
) -> Result<toml::Table, ProfileError> {
    let mut table = match profile {
        None => toml::Table::new(),
        Some((text, path)) => match toml::from_str::<toml::Table>(text) {
            Ok(table) => table,
            // Let the profile reader say where and why.
            Err(_) => return Err(Profile::parse(text, path).expect_err("the TOML does not parse")),
        },
    };
    let list = |v: &str| -> toml::Value {
        toml::Value::Array(
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| s.to_string().into())
                .collect(),
        )
    };
    let mut set = |section: &str, key: &str, value: Option<toml::Value>| {
        if let Some(value) = value {
            let entry = table
                .entry(section.to_string())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            if let Some(t) = entry.as_table_mut() {
                t.insert(key.to_string(), value);
            }
        }
    };
    let text = |v: &Option<String>| v.clone().map(toml::Value::from);
    set("cluster", "name", text(&flags.name));
    set("cluster", "region", text(&flags.region));
    set(
        "cluster",
        "kubernetes_version",
        text(&flags.kubernetes_version),
    );
    set("cluster", "endpoint_access", text(&flags.endpoint_access));
    set(
        "cluster",
        "public_access_cidrs",
        flags.public_access_cidrs.as_deref().map(list),
    );
    set("network", "pattern", text(&flags.pattern));
    set("network", "vpc_cidr", text(&flags.vpc_cidr));
    set(
        "network",
        "availability_zones",
        flags.azs.as_deref().map(|v| match v.trim().parse::<i64>() {
            Ok(n) => n.into(),
            Err(_) => list(v),
        }),
    );
    set("network", "nat", text(&flags.nat));
    set(
        "nodes",
        "enabled",
        flags.nodes.as_deref().map(|v| (v == "on").into()),
    );
    set(
        "nodes",
        "instance_types",
        flags.instance_types.as_deref().map(list),
    );
    Ok(table)
}

/// The merged settings as a validated profile.
pub fn resolve(table: &toml::Table, origin: &Path) -> Result<Profile, ProfileError> {
    let text = toml::to_string(table).expect("a table renders");
    Profile::parse(&text, origin)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::{AzSpec, Nat, Pattern};

    const PROFILE: &str = "[cluster]\nname = \"from-file\"\nregion = \"us-west-2\"\n[network]\npattern = \"public\"\n[nodes]\ninstance_types = [\"t3.large\"]\n";

    fn merged(flags: Overrides) -> Profile {
        let table = merge(Some((PROFILE, Path::new("p.toml"))), &flags).unwrap();
        resolve(&table, Path::new("p.toml")).unwrap()
    }

    #[test]
    fn flags_win_over_the_profile_which_wins_over_defaults() {
        let p = merged(Overrides {
            name: Some("from-flag".into()),
            pattern: Some("public-and-private".into()),
            ..Overrides::default()
        });
        assert_eq!(p.cluster.name, "from-flag");
        assert_eq!(p.cluster.region, "us-west-2", "kept from the profile");
        assert_eq!(p.network.pattern, Pattern::PublicAndPrivate);
        assert_eq!(p.network.nat, Nat::PerAz, "default follows the pattern");
        assert_eq!(
            p.nodes.instance_types,
            ["t3.large"],
            "kept from the profile"
        );
    }

    #[test]
    fn lists_counts_and_switches_parse_from_flags() {
        let p = merged(Overrides {
            azs: Some("us-west-2a, us-west-2c".into()),
            public_access_cidrs: Some("203.0.113.0/24,198.51.100.7/32".into()),
            nodes: Some("off".into()),
            instance_types: Some("m7g.large".into()),
            ..Overrides::default()
        });
        assert_eq!(
            p.network.availability_zones,
            AzSpec::Names(vec!["us-west-2a".into(), "us-west-2c".into()])
        );
        assert_eq!(p.cluster.public_access_cidrs.len(), 2);
        assert!(!p.nodes.enabled);
        let counted = merged(Overrides {
            azs: Some("3".into()),
            ..Overrides::default()
        });
        assert_eq!(counted.network.availability_zones, AzSpec::Count(3));
    }

    #[test]
    fn a_bad_flag_value_is_reported_like_a_bad_profile_field() {
        let table = merge(
            None,
            &Overrides {
                name: Some("x".into()),
                region: Some("us-west-2".into()),
                nat: Some("lots".into()),
                ..Overrides::default()
            },
        )
        .unwrap();
        let err = resolve(&table, Path::new("the command line"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("network.nat") && err.contains("\"per-az\", \"single\", \"none\""),
            "{err}"
        );
    }

    #[test]
    fn broken_profile_text_names_the_file() {
        let err = merge(
            Some(("[cluster", Path::new("bad.toml"))),
            &Overrides::default(),
        )
        .unwrap_err();
        assert!(err.to_string().starts_with("bad.toml:1:"), "{err}");
    }
}
