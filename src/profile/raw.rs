//! The profile as written: every field optional and carrying its position in the file, so that
//! validation can report all problems at once with a line and column. Only TOML syntax, types
//! and unknown keys fail here.

use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;

pub type Field<T> = Option<Spanned<T>>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProfile {
    pub version: Field<i64>,
    pub state: Field<String>,
    pub state_kms_key: Field<String>,
    pub cluster: Option<Spanned<RawCluster>>,
    pub security: Option<Spanned<RawSecurity>>,
    pub network: Option<Spanned<RawNetwork>>,
    pub nodes: Option<Spanned<RawNodes>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCluster {
    pub name: Field<String>,
    pub region: Field<String>,
    pub kubernetes_version: Field<String>,
    pub endpoint_access: Field<String>,
    pub public_access_cidrs: Field<Vec<Spanned<String>>>,
    pub log_types: Field<Vec<Spanned<String>>>,
    pub log_retention_days: Field<i64>,
    pub admins: Field<Vec<Spanned<String>>>,
    pub addons: Field<Vec<Spanned<String>>>,
    pub oidc_provider: Field<bool>,
    pub support: Field<String>,
    pub deletion_protection: Field<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSecurity {
    pub creator_role: Field<String>,
    pub secrets_key: Field<String>,
    pub permissions_boundary: Field<String>,
    pub addon_permissions: Field<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNetwork {
    pub pattern: Field<String>,
    pub vpc_cidr: Field<String>,
    pub availability_zones: Field<RawAzs>,
    pub nat: Field<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum RawAzs {
    Count(i64),
    Names(Vec<String>),
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNodes {
    pub enabled: Field<bool>,
    pub instance_types: Field<Vec<Spanned<String>>>,
    pub min_size: Field<i64>,
    pub desired_size: Field<i64>,
    pub max_size: Field<i64>,
    pub disk_size_gib: Field<i64>,
    pub auto_repair: Field<bool>,
    pub os: Field<String>,
    pub mode: Field<String>,
    pub node_pools: Field<Vec<Spanned<String>>>,
}

/// Parses TOML into the raw profile; on failure, the byte span and a one-line message.
pub fn parse(text: &str) -> Result<RawProfile, (Range<usize>, String)> {
    toml::from_str::<RawProfile>(text).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        let message = e.message().trim().replace('\n', " ");
        let message = if message.contains("data did not match any variant of untagged enum RawAzs")
        {
            "availability_zones must be a number (2 or 3) or a list of AZ names".to_string()
        } else {
            message
        };
        (span, message)
    })
}
