//! KMS: keys.

use super::{classify, Aws, AwsError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    pub arn: String,
    /// `Enabled`, `Disabled`, `PendingDeletion`, …
    pub state: String,
    pub spec: String,
}

/// The key `key_id` (id, ARN or alias), or `None` when there is none.
pub async fn describe_key(aws: &Aws, key_id: &str) -> Result<Option<KeyInfo>, AwsError> {
    match aws.kms.describe_key().key_id(key_id).send().await {
        Ok(out) => Ok(out.key_metadata().map(|k| KeyInfo {
            arn: k.arn().unwrap_or_default().to_string(),
            state: k
                .key_state()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            spec: k
                .key_spec()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
        })),
        Err(e) => match classify("kms:DescribeKey", e) {
            err if err.is_not_found() => Ok(None),
            err => Err(err),
        },
    }
}
