//! KMS: keys and aliases.

use aws_sdk_kms::types::{KeySpec, KeyUsageType, OriginType, Tag};

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

/// A symmetric encryption key of this region only, with this key policy and description, and no
/// tags: tags given to CreateKey are authorized as kms:TagResource in an IAM policy that must
/// cover every key of the account, which would let the caller tag any untagged key
/// (<https://docs.aws.amazon.com/kms/latest/developerguide/tag-permissions.html>). The key is
/// tagged next ([`tag_key`]), as its own policy allows. Origin and multi-Region are sent, not
/// left to their defaults, so that the caller policy's conditions on them always have a value.
pub async fn create_key(aws: &Aws, policy: &str, description: &str) -> Result<KeyInfo, AwsError> {
    let out = aws
        .kms
        .create_key()
        .policy(policy)
        .description(description)
        .key_spec(KeySpec::SymmetricDefault)
        .key_usage(KeyUsageType::EncryptDecrypt)
        .origin(OriginType::AwsKms)
        .multi_region(false)
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

/// Sets these tags on a key (kms:TagResource; a tag already there takes the new value).
pub async fn tag_key(aws: &Aws, key_id: &str, tags: &[(String, String)]) -> Result<(), AwsError> {
    aws.kms
        .tag_resource()
        .key_id(key_id)
        .set_tags(Some(
            tags.iter()
                .map(|(k, v)| Tag::builder().tag_key(k).tag_value(v).build())
                .collect::<Result<Vec<_>, _>>()
                .expect("tags have keys and values"),
        ))
        .send()
        .await
        .map_err(|e| classify("kms:TagResource", e))?;
    Ok(())
}

/// The tags a key carries (kms:ListResourceTags).
pub async fn key_tags(aws: &Aws, key_id: &str) -> Result<Vec<(String, String)>, AwsError> {
    let out = aws
        .kms
        .list_resource_tags()
        .key_id(key_id)
        .send()
        .await
        .map_err(|e| classify("kms:ListResourceTags", e))?;
    Ok(out
        .tags()
        .iter()
        .map(|t| (t.tag_key().to_string(), t.tag_value().to_string()))
        .collect())
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

/// What a key's tags say about whose it is, for the tag `key` = `value`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagVerdict {
    /// It carries `key` = `value`.
    Ours,
    /// It carries no `key` tag at all: made by a run stopped before it tagged the key, or
    /// nobody's.
    Untagged,
    /// It carries `key` with another value.
    Foreign,
}

pub fn tag_verdict(tags: &[(String, String)], key: &str, value: &str) -> TagVerdict {
    match tags.iter().find(|(k, _)| k == key) {
        Some((_, v)) if v == value => TagVerdict::Ours,
        Some(_) => TagVerdict::Foreign,
        None => TagVerdict::Untagged,
    }
}

/// Keys found by listing (KMS has no tag or description filter).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeysFound {
    /// Keys carrying the tag `key` = `value`.
    pub found: Vec<String>,
    /// Keys carrying no `key` tag whose description the caller's test accepted.
    pub described: Vec<String>,
    /// Keys whose tags (or, untagged, whose description) could not be read: a key policy may
    /// deny ListResourceTags or DescribeKey to everyone but its owners.
    pub unreadable: Vec<String>,
}

/// Keys carrying the tag `key` = `value`; with `described`, also the keys that carry no `key`
/// tag and whose description it accepts (one kms:DescribeKey per untagged key).
pub async fn find_keys(
    aws: &Aws,
    key: &str,
    value: &str,
    described: Option<&(dyn Fn(&str) -> bool + Sync)>,
) -> Result<KeysFound, AwsError> {
    let mut keys = KeysFound::default();
    let mut pages = aws.kms.list_keys().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| classify("kms:ListKeys", e))?;
        for k in page.keys() {
            let Some(id) = k.key_id() else { continue };
            let tags = match key_tags(aws, id).await {
                Ok(tags) => tags,
                Err(AwsError::AccessDenied { .. }) => {
                    keys.unreadable.push(id.to_string());
                    continue;
                }
                Err(other) => return Err(other),
            };
            match tag_verdict(&tags, key, value) {
                TagVerdict::Ours => keys.found.push(id.to_string()),
                TagVerdict::Foreign => {}
                TagVerdict::Untagged => {
                    let Some(accepts) = described else { continue };
                    match aws.kms.describe_key().key_id(id).send().await {
                        Ok(out) => {
                            let description = out
                                .key_metadata()
                                .and_then(|m| m.description())
                                .unwrap_or_default();
                            if accepts(description) {
                                keys.described.push(id.to_string());
                            }
                        }
                        Err(e) => match classify("kms:DescribeKey", e) {
                            AwsError::AccessDenied { .. } => keys.unreadable.push(id.to_string()),
                            err if err.is_not_found() => {}
                            err => return Err(err),
                        },
                    }
                }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_key_is_ours_untagged_or_foreign_by_its_cluster_tag_alone() {
        let key = "eksboot:cluster";
        assert_eq!(
            tag_verdict(&tags(&[("Name", "x"), (key, "demo")]), key, "demo"),
            TagVerdict::Ours
        );
        assert_eq!(
            tag_verdict(&tags(&[(key, "other")]), key, "demo"),
            TagVerdict::Foreign
        );
        // Other tags, even eksboot's, do not make a key ours or someone else's.
        assert_eq!(
            tag_verdict(&tags(&[("eksboot:region", "us-west-2")]), key, "demo"),
            TagVerdict::Untagged
        );
        assert_eq!(tag_verdict(&[], key, "demo"), TagVerdict::Untagged);
        // An empty value is another cluster's, not untagged.
        assert_eq!(
            tag_verdict(&tags(&[(key, "")]), key, "demo"),
            TagVerdict::Foreign
        );
    }
}
