//! The Kubernetes bearer token for EKS: a SigV4 query-presigned STS GetCallerIdentity URL,
//! exactly as `aws eks get-token` makes it. Pure: credentials and the time come in.

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    sign, SignableBody, SignableRequest, SignatureLocation, SigningSettings,
};
use aws_sigv4::sign::v4;
use base64::Engine;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

pub const TOKEN_PREFIX: &str = "k8s-aws-v1.";
/// How long the presigned URL is valid (what EKS's authenticator expects).
pub const URL_EXPIRES: Duration = Duration::from_secs(60);
/// When kubectl should ask for a new token: before EKS's 15 minutes run out.
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(14 * 60);
/// The header EKS checks to bind a token to one cluster.
pub const CLUSTER_ID_HEADER: &str = "x-k8s-aws-id";

/// RFC 3986 unreserved characters stay; everything else is percent-encoded (as botocore does).
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

#[derive(Debug, thiserror::Error)]
#[error("cannot sign the EKS token: {0}")]
pub struct TokenError(String);

/// The presigned URL. It always names the real STS host of `region`, never a custom endpoint:
/// EKS calls STS itself with it.
pub fn presigned_url(
    credentials: &Credentials,
    region: &str,
    cluster: &str,
    time: SystemTime,
) -> Result<String, TokenError> {
    let host = crate::plan::iam::sts_host(region);
    let base = format!("https://{host}/?Action=GetCallerIdentity&Version=2011-06-15");
    let identity = credentials.clone().into();
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(URL_EXPIRES);
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("sts")
        .time(time)
        .settings(settings)
        .build()
        .map_err(|e| TokenError(e.to_string()))?;
    let headers = [("host", host.as_str()), (CLUSTER_ID_HEADER, cluster)];
    let request = SignableRequest::new("GET", &base, headers.into_iter(), SignableBody::Bytes(&[]))
        .map_err(|e| TokenError(e.to_string()))?;
    let (instructions, _signature) = sign(request, &params.into())
        .map_err(|e| TokenError(e.to_string()))?
        .into_parts();
    let signed: Vec<(&str, String)> = instructions
        .params()
        .iter()
        .map(|(k, v)| (*k, v.to_string()))
        .collect();
    // The order botocore writes them in, so the token is byte-for-byte the same.
    let order = [
        "X-Amz-Algorithm",
        "X-Amz-Credential",
        "X-Amz-Date",
        "X-Amz-Expires",
        "X-Amz-SignedHeaders",
        "X-Amz-Security-Token",
        "X-Amz-Signature",
    ];
    let mut url = base;
    for name in order {
        if let Some((_, value)) = signed.iter().find(|(k, _)| *k == name) {
            url.push('&');
            url.push_str(name);
            url.push('=');
            url.extend(utf8_percent_encode(value, QUERY_VALUE));
        }
    }
    Ok(url)
}

/// The bearer token: the prefix and the unpadded base64url of the presigned URL.
pub fn token(
    credentials: &Credentials,
    region: &str,
    cluster: &str,
    time: SystemTime,
) -> Result<String, TokenError> {
    let url = presigned_url(credentials, region, cluster, time)?;
    Ok(format!(
        "{TOKEN_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(url)
    ))
}

/// The ExecCredential kubectl reads from a credential plugin.
pub fn exec_credential(token: &str, now: SystemTime) -> serde_json::Value {
    let expires = humantime::format_rfc3339_seconds(now + TOKEN_LIFETIME).to_string();
    serde_json::json!({
        "kind": "ExecCredential",
        "apiVersion": "client.authentication.k8s.io/v1beta1",
        "spec": {},
        "status": {
            "expirationTimestamp": expires,
            "token": token
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn golden_time() -> SystemTime {
        humantime::parse_rfc3339("2024-01-02T03:04:05Z").unwrap()
    }

    fn credentials() -> Credentials {
        Credentials::new(
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            Some("sessiontok123".into()),
            None,
            "test",
        )
    }

    /// Computed with botocore's SigV4QueryAuth for the same keys, region, cluster and time.
    const GOLDEN_URL: &str = "https://sts.us-west-2.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20240102%2Fus-west-2%2Fsts%2Faws4_request&X-Amz-Date=20240102T030405Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host%3Bx-k8s-aws-id&X-Amz-Security-Token=sessiontok123&X-Amz-Signature=8d3be88ddb698900dee94c8b943d94c5bc29926e57a5be81c7a5916ab29a99be";

    #[test]
    fn presigned_url_matches_botocore_golden_vector() {
        let url = presigned_url(&credentials(), "us-west-2", "demo", golden_time()).unwrap();
        assert_eq!(url, GOLDEN_URL);
    }

    #[test]
    fn token_is_prefixed_unpadded_base64url_of_the_url() {
        let t = token(&credentials(), "us-west-2", "demo", golden_time()).unwrap();
        assert_eq!(
            t,
            "k8s-aws-v1.aHR0cHM6Ly9zdHMudXMtd2VzdC0yLmFtYXpvbmF3cy5jb20vP0FjdGlvbj1HZXRDYWxsZXJJZGVudGl0eSZWZXJzaW9uPTIwMTEtMDYtMTUmWC1BbXotQWxnb3JpdGhtPUFXUzQtSE1BQy1TSEEyNTYmWC1BbXotQ3JlZGVudGlhbD1BS0lERVhBTVBMRSUyRjIwMjQwMTAyJTJGdXMtd2VzdC0yJTJGc3RzJTJGYXdzNF9yZXF1ZXN0JlgtQW16LURhdGU9MjAyNDAxMDJUMDMwNDA1WiZYLUFtei1FeHBpcmVzPTYwJlgtQW16LVNpZ25lZEhlYWRlcnM9aG9zdCUzQngtazhzLWF3cy1pZCZYLUFtei1TZWN1cml0eS1Ub2tlbj1zZXNzaW9udG9rMTIzJlgtQW16LVNpZ25hdHVyZT04ZDNiZTg4ZGRiNjk4OTAwZGVlOTRjOGI5NDNkOTRjNWJjMjk5MjZlNTdhNWJlODFjN2E1OTE2YWIyOWE5OWJl"
        );
        assert!(!t.contains('='));
        let decoded = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(t.trim_start_matches(TOKEN_PREFIX))
            .unwrap();
        assert_eq!(String::from_utf8(decoded).unwrap(), GOLDEN_URL);
    }

    #[test]
    fn without_a_session_token_no_security_token_is_signed() {
        let creds = Credentials::new("AKIDEXAMPLE", "secret", None, None, "test");
        let url = presigned_url(&creds, "eu-central-1", "prod", golden_time()).unwrap();
        assert!(url.starts_with("https://sts.eu-central-1.amazonaws.com/?Action=GetCallerIdentity"));
        let china = presigned_url(&creds, "cn-north-1", "demo", golden_time()).unwrap();
        assert!(
            china.starts_with("https://sts.cn-north-1.amazonaws.com.cn/?Action=GetCallerIdentity"),
            "{china}"
        );
        assert!(!url.contains("X-Amz-Security-Token"));
        assert!(url.contains("X-Amz-SignedHeaders=host%3Bx-k8s-aws-id"));
    }

    #[test]
    fn different_clusters_get_different_signatures() {
        let a = presigned_url(&credentials(), "us-west-2", "a", golden_time()).unwrap();
        let b = presigned_url(&credentials(), "us-west-2", "b", golden_time()).unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn exec_credential_expires_in_fourteen_minutes() {
        let value = exec_credential("k8s-aws-v1.x", golden_time());
        assert_eq!(value["apiVersion"], "client.authentication.k8s.io/v1beta1");
        assert_eq!(value["kind"], "ExecCredential");
        assert_eq!(value["status"]["token"], "k8s-aws-v1.x");
        assert_eq!(
            value["status"]["expirationTimestamp"],
            "2024-01-02T03:18:05Z"
        );
    }
}
