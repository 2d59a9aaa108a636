//! STS: who the caller is.

use super::{classify, Aws, AwsError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerIdentity {
    pub account: String,
    pub arn: String,
}

pub async fn caller_identity(aws: &Aws) -> Result<CallerIdentity, AwsError> {
    let out = aws
        .sts
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| classify("sts:GetCallerIdentity", e))?;
    Ok(CallerIdentity {
        account: out.account().unwrap_or_default().to_string(),
        arn: out.arn().unwrap_or_default().to_string(),
    })
}

/// Assumes `role_arn` once (checking the trust policy lets us in), then returns a configuration
/// whose credentials come from a refreshing assume-role provider: sessions last an hour, and a
/// cluster can take longer than that to finish.
pub async fn assume_role(
    aws: &Aws,
    role_arn: &str,
    session_name: &str,
) -> Result<aws_config::SdkConfig, AwsError> {
    aws.sts
        .assume_role()
        .role_arn(role_arn)
        .role_session_name(session_name)
        .send()
        .await
        .map_err(|e| classify("sts:AssumeRole", e))?;
    let provider = aws_config::sts::AssumeRoleProvider::builder(role_arn)
        .session_name(session_name)
        .configure(&aws.config)
        .build()
        .await;
    Ok(aws
        .config
        .to_builder()
        .credentials_provider(
            aws_credential_types::provider::SharedCredentialsProvider::new(provider),
        )
        .build())
}
