//! CloudWatch Logs: the control-plane log group.

use super::{classify, Aws, AwsError};

/// The log group named exactly `name`, if it exists (a prefix search lists its neighbours too).
async fn log_group(
    aws: &Aws,
    name: &str,
) -> Result<Option<aws_sdk_cloudwatchlogs::types::LogGroup>, AwsError> {
    let out = aws
        .logs
        .describe_log_groups()
        .log_group_name_prefix(name)
        .send()
        .await
        .map_err(|e| classify("logs:DescribeLogGroups", e))?;
    Ok(out
        .log_groups()
        .iter()
        .find(|g| g.log_group_name() == Some(name))
        .cloned())
}

/// The ARN of the log group named exactly `name`, if it exists.
pub async fn find_log_group(aws: &Aws, name: &str) -> Result<Option<String>, AwsError> {
    Ok(log_group(aws, name).await?.map(|g| {
        g.arn()
            .unwrap_or_default()
            .trim_end_matches(":*")
            .to_string()
    }))
}

/// How many days the log group named exactly `name` keeps its events (`None`: for ever, or no
/// such group).
pub async fn retention(aws: &Aws, name: &str) -> Result<Option<u32>, AwsError> {
    Ok(log_group(aws, name)
        .await?
        .and_then(|g| g.retention_in_days())
        .map(|d| d as u32))
}

pub async fn create_log_group(
    aws: &Aws,
    name: &str,
    tags: &[(String, String)],
) -> Result<(), AwsError> {
    aws.logs
        .create_log_group()
        .log_group_name(name)
        .set_tags(Some(tags.iter().cloned().collect()))
        .send()
        .await
        .map_err(|e| classify("logs:CreateLogGroup", e))?;
    Ok(())
}

pub async fn put_retention(aws: &Aws, name: &str, days: u32) -> Result<(), AwsError> {
    aws.logs
        .put_retention_policy()
        .log_group_name(name)
        .retention_in_days(days as i32)
        .send()
        .await
        .map_err(|e| classify("logs:PutRetentionPolicy", e))?;
    Ok(())
}

pub async fn tag_log_group(
    aws: &Aws,
    arn: &str,
    tags: &[(String, String)],
) -> Result<(), AwsError> {
    aws.logs
        .tag_resource()
        .resource_arn(arn)
        .set_tags(Some(tags.iter().cloned().collect()))
        .send()
        .await
        .map_err(|e| classify("logs:TagResource", e))?;
    Ok(())
}

pub async fn delete_log_group(aws: &Aws, name: &str) -> Result<(), AwsError> {
    aws.logs
        .delete_log_group()
        .log_group_name(name)
        .send()
        .await
        .map_err(|e| classify("logs:DeleteLogGroup", e))?;
    Ok(())
}
