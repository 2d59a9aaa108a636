//! KMS: keys and aliases.

use aws_sdk_kms::types::{KeySpec, KeyUsageType, Tag};

use super::{classify, Aws, AwsError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    pub id: String,
    pub arn: String,
    /// `Enabled`, `Disabled`, `PendingDeletion`, …
    pub state: String,
    pub spec: String,
}

/// The key `key_id` (id, ARN, alias name or alias ARN), or `None` when there is none.
pub async fn describe_key(aws: &Aws, key_id: &str) -> Result<Option<KeyInfo>, AwsError> {
    match aws.kms.describe_key().key_id(key_id).send().await {
        Ok(out) => Ok(out.key_metadata().map(|k| KeyInfo {
            id: k.key_id().to_string(),
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

/// A symmetric encryption key with this key policy and tags.
pub async fn create_key(
    aws: &Aws,
    policy: &str,
    description: &str,
    tags: &[(String, String)],
) -> Result<KeyInfo, AwsError> {
    let out = aws
        .kms
        .create_key()
        .policy(policy)
        .description(description)
        .key_spec(KeySpec::SymmetricDefault)
        .key_usage(KeyUsageType::EncryptDecrypt)
        .set_tags(Some(
            tags.iter()
                .map(|(k, v)| Tag::builder().tag_key(k).tag_value(v).build())
                .collect::<Result<Vec<_>, _>>()
                .expect("tags have keys and values"),
        ))
        .customize()
        .config_override(
            aws_sdk_kms::config::Builder::default().retry_config(crate::aws::no_retries()),
        )
        .send()
        .await
        .map_err(|e| classify("kms:CreateKey", e))?;
    let k = out.key_metadata().expect("CreateKey returns metadata");
    Ok(KeyInfo {
        id: k.key_id().to_string(),
        arn: k.arn().unwrap_or_default().to_string(),
        state: k
            .key_state()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        spec: KeySpec::SymmetricDefault.as_str().to_string(),
    })
}

pub async fn enable_key_rotation(aws: &Aws, key_id: &str) -> Result<(), AwsError> {
    aws.kms
        .enable_key_rotation()
        .key_id(key_id)
        .send()
        .await
        .map_err(|e| classify("kms:EnableKeyRotation", e))?;
    Ok(())
}

pub async fn create_alias(aws: &Aws, alias: &str, key_id: &str) -> Result<(), AwsError> {
    aws.kms
        .create_alias()
        .alias_name(alias)
        .target_key_id(key_id)
        .send()
        .await
        .map_err(|e| classify("kms:CreateAlias", e))?;
    Ok(())
}

pub async fn update_alias(aws: &Aws, alias: &str, key_id: &str) -> Result<(), AwsError> {
    aws.kms
        .update_alias()
        .alias_name(alias)
        .target_key_id(key_id)
        .send()
        .await
        .map_err(|e| classify("kms:UpdateAlias", e))?;
    Ok(())
}

/// Keys carrying a tag, found by listing (KMS has no tag filter). Used to adopt a key whose
/// alias was never made.
/// Keys carrying the tag `key` = `value`, and the keys whose tags could not be read (a key
/// policy may deny ListResourceTags to everyone but its owners).
pub struct KeysTagged {
    pub found: Vec<String>,
    pub unreadable: Vec<String>,
}

pub async fn find_keys_tagged(aws: &Aws, key: &str, value: &str) -> Result<KeysTagged, AwsError> {
    let mut keys = KeysTagged {
        found: Vec::new(),
        unreadable: Vec::new(),
    };
    let mut pages = aws.kms.list_keys().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| classify("kms:ListKeys", e))?;
        for k in page.keys() {
            let Some(id) = k.key_id() else { continue };
            let tags = match aws.kms.list_resource_tags().key_id(id).send().await {
                Ok(tags) => tags,
                Err(e) => match classify("kms:ListResourceTags", e) {
                    AwsError::AccessDenied { .. } => {
                        keys.unreadable.push(id.to_string());
                        continue;
                    }
                    other => return Err(other),
                },
            };
            if tags
                .tags()
                .iter()
                .any(|t| t.tag_key() == key && t.tag_value() == value)
            {
                keys.found.push(id.to_string());
            }
        }
    }
    Ok(keys)
}

pub async fn delete_alias(aws: &Aws, alias: &str) -> Result<(), AwsError> {
    aws.kms
        .delete_alias()
        .alias_name(alias)
        .send()
        .await
        .map_err(|e| classify("kms:DeleteAlias", e))?;
    Ok(())
}

/// Schedules a key's deletion after `days` (7–30); returns when it will be deleted.
pub async fn schedule_key_deletion(
    aws: &Aws,
    key_id: &str,
    days: i32,
) -> Result<Option<String>, AwsError> {
    let out = aws
        .kms
        .schedule_key_deletion()
        .key_id(key_id)
        .pending_window_in_days(days)
        .send()
        .await
        .map_err(|e| classify("kms:ScheduleKeyDeletion", e))?;
    Ok(out.deletion_date().map(|d| d.to_string()))
}

/// Every key ARN in the region.
pub async fn key_arns(aws: &Aws) -> Result<Vec<String>, AwsError> {
    let mut arns = Vec::new();
    let mut pages = aws.kms.list_keys().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| classify("kms:ListKeys", e))?;
        arns.extend(
            page.keys()
                .iter()
                .filter_map(|k| k.key_arn().map(str::to_string)),
        );
    }
    Ok(arns)
}
