//! EKS: what the service offers.

use super::{classify, Aws, AwsError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfferedVersion {
    pub version: String,
    /// `STANDARD_SUPPORT`, `EXTENDED_SUPPORT` or `UNSUPPORTED`.
    pub status: String,
    pub default: bool,
}

pub async fn cluster_versions(aws: &Aws) -> Result<Vec<OfferedVersion>, AwsError> {
    let mut versions = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let out = aws
            .eks
            .describe_cluster_versions()
            .cluster_type("eks")
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(|e| classify("eks:DescribeClusterVersions", e))?;
        versions.extend(out.cluster_versions().iter().map(|v| {
            OfferedVersion {
                version: v.cluster_version().unwrap_or_default().to_string(),
                status: v
                    .version_status()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
                default: v.default_version(),
            }
        }));
        token = out.next_token().map(str::to_string);
        if token.is_none() {
            return Ok(versions);
        }
    }
}
