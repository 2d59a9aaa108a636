//! IAM: roles.

use super::{classify, Aws, AwsError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleInfo {
    pub arn: String,
    pub tags: Vec<(String, String)>,
}

/// The role named `name`, or `None` when there is none.
pub async fn get_role(aws: &Aws, name: &str) -> Result<Option<RoleInfo>, AwsError> {
    match aws.iam.get_role().role_name(name).send().await {
        Ok(out) => Ok(out.role().map(|r| RoleInfo {
            arn: r.arn().to_string(),
            tags: r
                .tags()
                .iter()
                .map(|t| (t.key().to_string(), t.value().to_string()))
                .collect(),
        })),
        Err(e) => match classify("iam:GetRole", e) {
            err if err.is_not_found() => Ok(None),
            err => Err(err),
        },
    }
}
