//! S3: the shared state backend's objects (the state and its lock), read and written with S3's
//! conditional writes, and the bucket settings preflight checks.

use aws_sdk_s3::primitives::ByteStream;

use super::{classify, AwsError};

/// A client for the bucket's region. Path-style addresses when an endpoint is configured (an
/// emulator on 127.0.0.1 has no per-bucket host names); AWS itself gets virtual-hosted ones.
pub fn client(config: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    let custom_endpoint = std::env::var_os("AWS_ENDPOINT_URL_S3")
        .or_else(|| std::env::var_os("AWS_ENDPOINT_URL"))
        .is_some();
    let s3 = aws_sdk_s3::config::Builder::from(config)
        .force_path_style(custom_endpoint)
        .build();
    aws_sdk_s3::Client::from_conf(s3)
}

/// An object's bytes, the ETag S3 gave that version, and the KMS key it is encrypted with
/// (SSE-KMS; `None` for S3's own keys).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    pub bytes: Vec<u8>,
    pub etag: String,
    pub kms_key: Option<String>,
}

/// What a conditional write requires of the object already there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// Only if no object has the key (`If-None-Match: *`).
    Absent,
    /// Only if the object there still has this ETag (`If-Match`).
    Unchanged(String),
}

/// The object at `key`, or `None` when there is none.
pub async fn get(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
) -> Result<Option<Object>, AwsError> {
    match s3.get_object().bucket(bucket).key(key).send().await {
        Ok(out) => {
            let etag = out.e_tag().unwrap_or_default().to_string();
            let kms_key = match out.server_side_encryption() {
                Some(aws_sdk_s3::types::ServerSideEncryption::AwsKms) => {
                    out.ssekms_key_id().map(str::to_string)
                }
                _ => None,
            };
            let bytes = out
                .body
                .collect()
                .await
                .map_err(|e| AwsError::Unreachable {
                    action: "s3:GetObject",
                    message: format!("reading the object's body: {e}"),
                })?
                .into_bytes()
                .to_vec();
            Ok(Some(Object {
                bytes,
                etag,
                kms_key,
            }))
        }
        Err(e) => {
            let err = classify("s3:GetObject", e);
            if code_of(&err) == Some("NoSuchKey") {
                Ok(None)
            } else {
                Err(err)
            }
        }
    }
}

/// Writes `bytes` at `key` if `condition` holds, encrypted with `kms_key` when one is named
/// (else as the bucket's default encryption says); the new ETag. A condition that does not hold
/// is `PreconditionFailed` (HTTP 412), or `ConditionalRequestConflict` (409) when another write
/// to the key raced this one.
pub async fn put(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    bytes: Vec<u8>,
    condition: &Condition,
    kms_key: Option<&str>,
) -> Result<String, AwsError> {
    let mut request = s3
        .put_object()
        .bucket(bucket)
        .key(key)
        .content_type("application/json")
        .body(ByteStream::from(bytes));
    request = match condition {
        Condition::Absent => request.if_none_match("*"),
        Condition::Unchanged(etag) => request.if_match(etag),
    };
    if let Some(key_id) = kms_key {
        request = request
            .server_side_encryption(aws_sdk_s3::types::ServerSideEncryption::AwsKms)
            .ssekms_key_id(key_id);
    }
    let out = request
        .send()
        .await
        .map_err(|e| classify("s3:PutObject", e))?;
    Ok(out.e_tag().unwrap_or_default().to_string())
}

/// Deletes the object at `key` (no error when there is none, as S3 answers).
pub async fn delete(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Result<(), AwsError> {
    s3.delete_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| classify("s3:DeleteObject", e))?;
    Ok(())
}

/// The bucket's region (GetBucketLocation answers an empty constraint for us-east-1).
pub async fn bucket_region(s3: &aws_sdk_s3::Client, bucket: &str) -> Result<String, AwsError> {
    let out = s3
        .get_bucket_location()
        .bucket(bucket)
        .send()
        .await
        .map_err(|e| classify("s3:GetBucketLocation", e))?;
    Ok(match out.location_constraint().map(|c| c.as_str()) {
        None | Some("") => "us-east-1".to_string(),
        Some("EU") => "eu-west-1".to_string(),
        Some(region) => region.to_string(),
    })
}

/// The bucket's four public access block settings, all `false` when none is set.
pub async fn public_access_blocked(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
) -> Result<[bool; 4], AwsError> {
    match s3.get_public_access_block().bucket(bucket).send().await {
        Ok(out) => {
            let c = out.public_access_block_configuration();
            Ok([
                c.and_then(|c| c.block_public_acls()).unwrap_or(false),
                c.and_then(|c| c.ignore_public_acls()).unwrap_or(false),
                c.and_then(|c| c.block_public_policy()).unwrap_or(false),
                c.and_then(|c| c.restrict_public_buckets()).unwrap_or(false),
            ])
        }
        Err(e) => {
            let err = classify("s3:GetBucketPublicAccessBlock", e);
            if code_of(&err) == Some("NoSuchPublicAccessBlockConfiguration") {
                Ok([false; 4])
            } else {
                Err(err)
            }
        }
    }
}

/// Whether the bucket keeps versions of its objects.
pub async fn versioning_enabled(s3: &aws_sdk_s3::Client, bucket: &str) -> Result<bool, AwsError> {
    let out = s3
        .get_bucket_versioning()
        .bucket(bucket)
        .send()
        .await
        .map_err(|e| classify("s3:GetBucketVersioning", e))?;
    Ok(out.status().map(|s| s.as_str()) == Some("Enabled"))
}

fn code_of(err: &AwsError) -> Option<&str> {
    err.failure().map(|f| f.code.as_str())
}
