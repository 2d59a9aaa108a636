//! `eksboot token`.

use std::process::ExitCode;

use super::common::*;

/// `eksboot token`: an ExecCredential for kubectl, signed with the usual credentials.
pub(super) async fn token(
    cluster: &str,
    region: Option<&str>,
    role_arn: Option<&str>,
) -> Result<ExitCode, RunError> {
    let region = match region {
        Some(r) => r.to_string(),
        None => aws::default_region().await.ok_or_else(|| RunError::Usage {
            message: "no region: eksboot token needs the cluster's region".into(),
            hint: "pass --region, or set AWS_REGION".into(),
        })?,
    };
    let aws = Aws::connect(&region, &crate::aws::TransportRetry::from_env()).await?;
    let config = match role_arn {
        Some(arn) => aws::sts::assume_role(&aws, arn, "eksboot-token").await?,
        None => aws.config.clone(),
    };
    let credentials = aws::credentials(&config).await?;
    let now = std::time::SystemTime::now();
    let token =
        crate::token::token(&credentials, &region, cluster, now).map_err(|e| RunError::Usage {
            message: e.to_string(),
            hint: "check your AWS credentials".into(),
        })?;
    ui::print(&format!("{}\n", crate::token::exec_credential(&token, now)));
    Ok(ExitCode::SUCCESS)
}
