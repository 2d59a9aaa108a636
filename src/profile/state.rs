//! Where a cluster's state lives when it is not on this machine: an S3 object address.

use std::path::Path;

/// A state object's address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Location {
    pub bucket: String,
    pub key: String,
}

impl S3Location {
    /// `s3://BUCKET/KEY` as given to `--state` (`None` for a local path). A bucket alone, or a
    /// key ending in `/`, is refused: the state is one object.
    pub fn parse(text: &str) -> Option<Result<S3Location, String>> {
        let rest = text.strip_prefix("s3://")?;
        let Some((bucket, key)) = rest.split_once('/') else {
            return Some(Err(format!(
                "{text} names a bucket but no key: use s3://{rest}/<cluster>-<region>.state.json"
            )));
        };
        if bucket.is_empty() || key.is_empty() || key.ends_with('/') {
            return Some(Err(format!(
                "{text} is not an S3 object address: use s3://BUCKET/KEY (KEY not ending in /)"
            )));
        }
        Some(Ok(S3Location {
            bucket: bucket.to_string(),
            key: key.to_string(),
        }))
    }

    /// The location a `--state` path names, if it is an S3 address.
    pub fn of(path: &Path) -> Option<Result<S3Location, String>> {
        S3Location::parse(path.to_str()?)
    }

    /// The state of `cluster` in `region` under a profile's `state = "s3://BUCKET/PREFIX"`.
    pub fn under_prefix(prefix: &str, cluster: &str, region: &str) -> String {
        format!(
            "{}/{cluster}-{region}.state.json",
            prefix.trim_end_matches('/')
        )
    }

    pub fn lock_key(&self) -> String {
        format!("{}.lock", self.key)
    }
}

impl std::fmt::Display for S3Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_addresses_are_told_from_paths_and_checked() {
        assert_eq!(S3Location::parse(".eksboot/x.state.json"), None);
        assert_eq!(
            S3Location::parse("s3://team-state/eksboot/demo-us-west-2.state.json"),
            Some(Ok(S3Location {
                bucket: "team-state".into(),
                key: "eksboot/demo-us-west-2.state.json".into()
            }))
        );
        for bad in [
            "s3://bucket",
            "s3://bucket/",
            "s3:///key",
            "s3://bucket/dir/",
        ] {
            assert!(matches!(S3Location::parse(bad), Some(Err(_))), "{bad}");
        }
        let at = S3Location::parse("s3://b/k.json").unwrap().unwrap();
        assert_eq!(at.lock_key(), "k.json.lock");
        assert_eq!(at.to_string(), "s3://b/k.json");
        assert_eq!(
            S3Location::under_prefix("s3://b/team/", "demo", "eu-west-1"),
            "s3://b/team/demo-eu-west-1.state.json"
        );
    }
}
