//! Thin adapters over the AWS SDK: one function per call we make, typed errors, no decisions.
//!
//! Everything that decides (which AZs, which version, is there room) lives in pure modules; the
//! functions here only ask AWS and translate the answer. The endpoint comes from the SDK's own
//! configuration, so `AWS_ENDPOINT_URL` points every client at an emulator.

pub mod ec2;
pub mod eks;
pub mod elb;
pub mod iam;
pub mod kms;
pub mod kubernetes;
pub mod logs;
pub mod quotas;
pub mod s3;
pub mod sts;

use std::fmt;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::ProvideCredentials;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

pub mod retry;
pub use retry::TransportRetry;

/// The clients of one region, sharing one configuration (credentials, retries, endpoint).
#[derive(Clone, Debug)]
pub struct Aws {
    pub config: SdkConfig,
    pub sts: aws_sdk_sts::Client,
    pub ec2: aws_sdk_ec2::Client,
    pub eks: aws_sdk_eks::Client,
    pub iam: aws_sdk_iam::Client,
    pub kms: aws_sdk_kms::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub elb: aws_sdk_elasticloadbalancingv2::Client,
    /// Classic load balancers: what a `type: LoadBalancer` Service makes without the AWS Load
    /// Balancer Controller.
    pub elb_classic: aws_sdk_elasticloadbalancing::Client,
    pub quotas: aws_sdk_servicequotas::Client,
}

impl Aws {
    /// Loads the standard AWS configuration chain for `region` and checks that credentials
    /// resolve, so a missing set-up fails with one clear error before any call. Transient
    /// errors are retried as `retry` says (standard mode: exponential backoff, full jitter).
    pub async fn connect(region: &str, retry: &TransportRetry) -> Result<Aws, AwsError> {
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .operation_attempt_timeout(ATTEMPT_TIMEOUT)
            .build();
        let config = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(region.to_string()))
            .retry_config(retry_config(retry))
            .timeout_config(timeouts)
            .load()
            .await;
        match config.credentials_provider() {
            None => return Err(AwsError::NoCredentials(String::new())),
            Some(provider) => {
                match provider.provide_credentials().await {
                    Ok(_) => {}
                    // No provider configured at all: nothing to add to "none found".
                    Err(CredentialsError::CredentialsNotLoaded(_)) => {
                        return Err(AwsError::NoCredentials(String::new()))
                    }
                    // A provider that is configured but failed (an expired SSO session, a
                    // profile that is not there): its reason is in the error's sources.
                    Err(e) => return Err(AwsError::NoCredentials(error_chain(&e))),
                }
            }
        }
        Ok(Aws::from_config(config))
    }

    pub fn from_config(config: SdkConfig) -> Aws {
        Aws {
            sts: aws_sdk_sts::Client::new(&config),
            ec2: aws_sdk_ec2::Client::new(&config),
            eks: aws_sdk_eks::Client::new(&config),
            iam: aws_sdk_iam::Client::new(&config),
            kms: aws_sdk_kms::Client::new(&config),
            logs: aws_sdk_cloudwatchlogs::Client::new(&config),
            elb: aws_sdk_elasticloadbalancingv2::Client::new(&config),
            elb_classic: aws_sdk_elasticloadbalancing::Client::new(&config),
            quotas: aws_sdk_servicequotas::Client::new(&config),
            config,
        }
    }
}

/// How long to wait for a connection to AWS before trying again.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// How long one attempt of one call may take: no AWS call we make answers slower than this
/// when AWS is well, so a hung connection is retried instead of waited on for ever.
const ATTEMPT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// The SDK's adaptive retry mode with eksboot's bounds: transient errors only, exponential
/// backoff with full jitter, and a client-side rate limiter that slows every call to a service
/// once it throttles (several eksboot runs, or a busy CI account, share one rate limit).
pub fn retry_config(retry: &TransportRetry) -> RetryConfig {
    RetryConfig::adaptive()
        .with_max_attempts(retry.max_attempts)
        .with_initial_backoff(retry.initial_backoff)
        .with_max_backoff(retry.max_backoff)
}

/// No SDK retries, for one call that creates something without an idempotency token:
/// repeating it after a lost answer would make a second one. The caller retries it, looking
/// first (`apply::retry::create_once`).
pub fn no_retries() -> RetryConfig {
    RetryConfig::disabled()
}

/// The region from the usual AWS settings (AWS_REGION, the profile's config), if any.
pub async fn default_region() -> Option<String> {
    aws_config::defaults(BehaviorVersion::latest())
        .load()
        .await
        .region()
        .map(|r| r.to_string())
}

/// The current credentials of a configuration.
pub async fn credentials(
    config: &SdkConfig,
) -> Result<aws_credential_types::Credentials, AwsError> {
    let provider = config
        .credentials_provider()
        .ok_or_else(|| AwsError::NoCredentials(String::new()))?;
    provider
        .provide_credentials()
        .await
        .map_err(|e| AwsError::NoCredentials(error_chain(&e)))
}

/// What went wrong talking to AWS, sorted by what the caller can do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AwsError {
    #[error("no AWS credentials found")]
    NoCredentials(String),
    #[error("{action}: AWS rejected the credentials ({}: {})", failure.code, failure.message)]
    BadCredentials {
        action: &'static str,
        failure: Failure,
    },
    #[error("{action}: access denied ({}: {})", failure.code, failure.message)]
    AccessDenied {
        action: &'static str,
        failure: Failure,
        /// Made as the creator role (whose policy eksboot writes), not as you.
        by_creator: bool,
    },
    /// A principal EKS or IAM does not know (an admin ARN that does not exist).
    #[error("{action}: invalid principal ({}: {})", failure.code, failure.message)]
    InvalidPrincipal {
        action: &'static str,
        failure: Failure,
    },
    /// An account quota is reached.
    #[error("{action}: a quota is reached ({}: {})", failure.code, failure.message)]
    LimitExceeded {
        action: &'static str,
        failure: Failure,
    },
    /// A value AWS does not offer here (an AZ, instance type or Kubernetes version).
    #[error("{action}: not supported here ({}: {})", failure.code, failure.message)]
    Unsupported {
        action: &'static str,
        failure: Failure,
    },
    /// AWS failed on its side (5xx): retrying may help.
    #[error("{action}: AWS had an internal error ({}: {})", failure.code, failure.message)]
    Transient {
        action: &'static str,
        failure: Failure,
    },
    /// An answer that is not an AWS error at all (a proxy's HTML page, an empty 502).
    #[error("{action}: the answer was not an AWS error: HTTP {status}, body {body:?}")]
    Malformed {
        action: &'static str,
        status: u16,
        body: String,
    },
    #[error("{action}: not found ({}: {})", failure.code, failure.message)]
    NotFound {
        action: &'static str,
        failure: Failure,
    },
    #[error("{action}: already exists ({}: {})", failure.code, failure.message)]
    AlreadyExists {
        action: &'static str,
        failure: Failure,
    },
    #[error("{action}: still in use ({}: {})", failure.code, failure.message)]
    DependencyViolation {
        action: &'static str,
        failure: Failure,
    },
    #[error("{action}: throttled by AWS ({}: {})", failure.code, failure.message)]
    Throttled {
        action: &'static str,
        failure: Failure,
    },
    #[error("{action}: could not reach AWS: {message}")]
    Unreachable {
        action: &'static str,
        message: String,
    },
    #[error("{action} failed ({}: {})", failure.code, failure.message)]
    Other {
        action: &'static str,
        failure: Failure,
    },
}

/// The details AWS sent with an error.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Failure {
    pub code: String,
    pub message: String,
    pub request_id: Option<String>,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)?;
        if let Some(id) = &self.request_id {
            write!(f, " (request id {id})")?;
        }
        Ok(())
    }
}

impl AwsError {
    /// The AWS API action that failed, e.g. `ec2:DescribeVpcs`.
    pub fn action(&self) -> &'static str {
        match self {
            AwsError::NoCredentials(_) => "credentials",
            AwsError::Unreachable { action, .. } | AwsError::Malformed { action, .. } => action,
            AwsError::BadCredentials { action, .. }
            | AwsError::AccessDenied { action, .. }
            | AwsError::InvalidPrincipal { action, .. }
            | AwsError::LimitExceeded { action, .. }
            | AwsError::Unsupported { action, .. }
            | AwsError::Transient { action, .. }
            | AwsError::NotFound { action, .. }
            | AwsError::AlreadyExists { action, .. }
            | AwsError::DependencyViolation { action, .. }
            | AwsError::Throttled { action, .. }
            | AwsError::Other { action, .. } => action,
        }
    }

    pub fn failure(&self) -> Option<&Failure> {
        match self {
            AwsError::BadCredentials { failure: f, .. }
            | AwsError::AccessDenied { failure: f, .. }
            | AwsError::InvalidPrincipal { failure: f, .. }
            | AwsError::LimitExceeded { failure: f, .. }
            | AwsError::Unsupported { failure: f, .. }
            | AwsError::Transient { failure: f, .. }
            | AwsError::NotFound { failure: f, .. }
            | AwsError::AlreadyExists { failure: f, .. }
            | AwsError::DependencyViolation { failure: f, .. }
            | AwsError::Throttled { failure: f, .. }
            | AwsError::Other { failure: f, .. } => Some(f),
            AwsError::NoCredentials(_)
            | AwsError::Unreachable { .. }
            | AwsError::Malformed { .. } => None,
        }
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self, AwsError::NotFound { .. })
    }

    /// The same error, made as the creator role (an access denied then names its policy).
    pub fn as_creator(self) -> AwsError {
        match self {
            AwsError::AccessDenied {
                action, failure, ..
            } => AwsError::AccessDenied {
                action,
                failure,
                by_creator: true,
            },
            other => other,
        }
    }

    /// Whether trying the same call again may succeed without anything being fixed.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            AwsError::Throttled { .. } | AwsError::Transient { .. } | AwsError::Unreachable { .. }
        )
    }

    /// What the person can do next. Only errors that retrying can fix say "retry".
    pub fn hint(&self) -> String {
        match self {
            AwsError::NoCredentials(_) => "configure credentials: set AWS_PROFILE, run `aws configure` or `aws sso login`, or export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY".into(),
            AwsError::BadCredentials { .. } => "your credentials are invalid or expired: refresh them (e.g. `aws sso login`) and run the command again".into(),
            AwsError::AccessDenied { action, by_creator: true, .. } => format!(
                "the creator role may not call {action}: eksboot writes that role's policy itself; if security.creator_role names a role you brought, give it what `eksboot permissions --for creator` prints"
            ),
            AwsError::AccessDenied { action, .. } => format!(
                "your identity may not call {action}: attach the policy `eksboot permissions --profile YOUR-PROFILE` prints (README: What you need), or ask your AWS administrator to"
            ),
            AwsError::InvalidPrincipal { failure, .. } => format!(
                "an IAM principal in the request does not exist ({}): create it, or remove it from cluster.admins",
                failure.message
            ),
            AwsError::LimitExceeded { failure, .. } => match quota_of(&failure.code) {
                Some(q) => format!(
                    "the quota \"{}\" ({} {}) is reached: free some, or request more in the Service Quotas console, or `aws service-quotas request-service-quota-increase --service-code {} --quota-code {} --desired-value N`",
                    q.name, q.service, q.code, q.service, q.code
                ),
                None => format!(
                    "an account quota is reached ({}): free some, or request more in the Service Quotas console",
                    failure.message
                ),
            },
            AwsError::Unsupported { failure, .. } => format!(
                "this region or account does not offer it; AWS says: {} (pick one of the values it allows: cluster.kubernetes_version, network.availability_zones or nodes.instance_types)",
                failure.message
            ),
            AwsError::AlreadyExists { failure, .. } => format!(
                "another resource eksboot did not make holds that name ({}): delete or rename it, or choose another cluster name",
                failure.message
            ),
            AwsError::DependencyViolation { .. } => "something still uses it: delete what uses it first (`eksboot teardown` finds and orders what eksboot made)".into(),
            AwsError::NotFound { .. } => "it is gone or was never there: check the name and region; a rerun adopts or recreates what eksboot makes".into(),
            AwsError::Throttled { .. } => "AWS is rate-limiting this account: wait a minute and run the same command again (it resumes)".into(),
            AwsError::Transient { .. } => "AWS failed on its side: run the same command again (it resumes)".into(),
            AwsError::Unreachable { .. } => "check your network connection, proxy settings and the region name, then run the same command again (it resumes)".into(),
            AwsError::Malformed { .. } => "something between you and AWS answered instead of AWS (a proxy or firewall?): check HTTPS_PROXY and AWS_ENDPOINT_URL".into(),
            AwsError::Other { failure, .. } => format!(
                "AWS refused the request ({}): fix what it names; -v shows each call",
                failure.code
            ),
        }
    }
}

/// A delete whose target is already gone (deleted by an earlier run, or by a repeat whose first
/// answer was lost) is done.
pub fn done_if_gone<T>(result: Result<T, AwsError>) -> Result<(), AwsError> {
    match result {
        Ok(_) => Ok(()),
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) => Err(e),
    }
}

/// IAM authorizes a request before the service looks its target up, so a delete scoped by the
/// target's tags, repeated after its first answer was lost, is denied (the tags went with the
/// target) where an unscoped one would be told "not found". A denied delete whose target
/// `still_there` says is gone is reported as not found, so [`done_if_gone`] holds for it.
pub async fn gone_when_denied<F>(
    result: Result<(), AwsError>,
    still_there: F,
) -> Result<(), AwsError>
where
    F: std::future::Future<Output = Result<bool, AwsError>>,
{
    match result {
        Err(AwsError::AccessDenied {
            action, failure, ..
        }) if matches!(still_there.await, Ok(false)) => Err(AwsError::NotFound { action, failure }),
        other => other,
    }
}

/// A create or attach whose target already exists (a repeat after a lost answer, or a run
/// stopped after it) is done; callers check first that what exists is theirs.
pub fn done_if_exists<T>(result: Result<T, AwsError>) -> Result<(), AwsError> {
    match result {
        Ok(_) | Err(AwsError::AlreadyExists { .. }) => Ok(()),
        Err(e) => Err(e),
    }
}

/// A Service Quotas quota: its name, service code and quota code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    pub name: &'static str,
    pub service: &'static str,
    pub code: &'static str,
}

/// The quota an error code means, as Service Quotas names it.
pub fn quota_of(error_code: &str) -> Option<Quota> {
    let q = |name, service, code| {
        Some(Quota {
            name,
            service,
            code,
        })
    };
    match error_code {
        "VpcLimitExceeded" => q("VPCs per Region", "vpc", "L-F678F1CE"),
        "AddressLimitExceeded" => q("EC2-VPC Elastic IPs", "ec2", "L-0263D0A3"),
        "NatGatewayLimitExceeded" => q("NAT gateways per Availability Zone", "vpc", "L-FE5A380F"),
        "InternetGatewayLimitExceeded" => q("Internet gateways per Region", "vpc", "L-A4707A72"),
        "ResourceLimitExceededException" => q("Clusters", "eks", "L-1194D53C"),
        _ => None,
    }
}

/// Translates an SDK error into an [`AwsError`] for `action` (e.g. `"ec2:DescribeVpcs"`).
pub fn classify<E>(action: &'static str, err: SdkError<E, HttpResponse>) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let request_id = request_id_of(&err);
    match err {
        SdkError::ServiceError(context) => {
            let e = context.err();
            if e.code().is_none() {
                let raw = context.raw();
                let body = raw.body().bytes().unwrap_or_default();
                let text: String = String::from_utf8_lossy(body).chars().take(200).collect();
                return AwsError::Malformed {
                    action,
                    status: raw.status().as_u16(),
                    body: text,
                };
            }
            let failure = Failure {
                code: e.code().unwrap_or("Unknown").to_string(),
                message: e.message().unwrap_or_default().to_string(),
                request_id: e
                    .meta()
                    .extra("aws_request_id")
                    .map(str::to_string)
                    .or(request_id),
            };
            classify_code(action, failure)
        }
        SdkError::ResponseError(response) => {
            let raw = response.raw();
            let body = raw.body().bytes().unwrap_or_default();
            AwsError::Malformed {
                action,
                status: raw.status().as_u16(),
                body: String::from_utf8_lossy(body).chars().take(200).collect(),
            }
        }
        SdkError::DispatchFailure(d) => AwsError::Unreachable {
            action,
            message: dispatch_message(&d),
        },
        SdkError::TimeoutError(_) => AwsError::Unreachable {
            action,
            message: "the request timed out".into(),
        },
        other => AwsError::Unreachable {
            action,
            message: error_chain(&other),
        },
    }
}

fn dispatch_message(failure: &aws_smithy_runtime_api::client::result::DispatchFailure) -> String {
    match failure.as_connector_error() {
        Some(e) => error_chain(e),
        None => format!("{failure:?}"),
    }
}

/// An error and its sources on one line.
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut parts = vec![err.to_string()];
    let mut source = err.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}

fn request_id_of<E>(err: &SdkError<E, HttpResponse>) -> Option<String> {
    let response = err.raw_response()?;
    ["x-amzn-requestid", "x-amz-request-id", "x-amzn-request-id"]
        .iter()
        .find_map(|h| response.headers().get(*h))
        .map(str::to_string)
}

/// Sorts an AWS error code into the kinds callers act on.
pub fn classify_code(action: &'static str, failure: Failure) -> AwsError {
    let code = failure.code.as_str();
    match code {
        "AccessDenied"
        | "AccessDeniedException"
        | "UnauthorizedOperation"
        | "UnauthorizedAccess"
        | "AuthorizationError" => AwsError::AccessDenied {
            action,
            failure,
            by_creator: false,
        },
        "InvalidParameterException" | "InvalidParameterValue"
            if failure.message.to_lowercase().contains("principal") =>
        {
            AwsError::InvalidPrincipal { action, failure }
        }
        "VpcLimitExceeded"
        | "AddressLimitExceeded"
        | "NatGatewayLimitExceeded"
        | "InternetGatewayLimitExceeded"
        | "ResourceLimitExceededException"
        | "LimitExceeded"
        | "LimitExceededException"
        | "RulesPerSecurityGroupLimitExceeded" => AwsError::LimitExceeded { action, failure },
        "UnsupportedAvailabilityZoneException" | "Unsupported" | "UnsupportedOperation" => {
            AwsError::Unsupported { action, failure }
        }
        "InvalidParameterException" | "InvalidParameterValue"
            if failure.message.to_lowercase().contains("unsupported")
                || failure.message.to_lowercase().contains("not supported") =>
        {
            AwsError::Unsupported { action, failure }
        }
        "InternalError"
        | "InternalFailure"
        | "InternalServerError"
        | "ServerException"
        | "ServiceUnavailable"
        | "ServiceUnavailableException"
        | "Unavailable"
        | "InternalServiceError" => AwsError::Transient { action, failure },
        "ExpiredToken"
        | "ExpiredTokenException"
        | "InvalidClientTokenId"
        | "AuthFailure"
        | "UnrecognizedClientException"
        | "SignatureDoesNotMatch"
        | "InvalidAccessKeyId" => AwsError::BadCredentials { action, failure },
        "Throttling"
        | "ThrottlingException"
        | "RequestLimitExceeded"
        | "TooManyRequestsException"
        | "RequestThrottled"
        | "ThrottledException" => AwsError::Throttled { action, failure },
        "DependencyViolation" | "DeleteConflict" => {
            AwsError::DependencyViolation { action, failure }
        }
        "NoSuchEntity" | "ResourceNotFoundException" | "NotFoundException" | "NotFound" => {
            AwsError::NotFound { action, failure }
        }
        "EntityAlreadyExists"
        | "AlreadyExistsException"
        | "ResourceAlreadyExistsException"
        | "ResourceInUseException"
        | "Resource.AlreadyAssociated" => AwsError::AlreadyExists { action, failure },
        // An attachment that is not there (a repeated detach whose first answer was lost).
        c if c.ends_with(".NotFound")
            || c.ends_with("NotFound")
            || c.ends_with("NotFoundException")
            || c == "Gateway.NotAttached" =>
        {
            AwsError::NotFound { action, failure }
        }
        c if c.ends_with(".Duplicate") || c.ends_with("AlreadyExists") => {
            AwsError::AlreadyExists { action, failure }
        }
        _ => AwsError::Other { action, failure },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(code: &str) -> Failure {
        Failure {
            code: code.into(),
            message: "m".into(),
            request_id: Some("r-1".into()),
        }
    }

    #[test]
    fn codes_sort_into_the_kinds_callers_act_on() {
        let kind = |code: &str| match classify_code("x:Y", failure(code)) {
            AwsError::AccessDenied { .. } => "denied",
            AwsError::BadCredentials { .. } => "credentials",
            AwsError::Throttled { .. } => "throttled",
            AwsError::NotFound { .. } => "not-found",
            AwsError::AlreadyExists { .. } => "exists",
            AwsError::DependencyViolation { .. } => "dependency",
            AwsError::Transient { .. } => "transient",
            AwsError::LimitExceeded { .. } => "limit",
            _ => "other",
        };
        assert_eq!(kind("AccessDeniedException"), "denied");
        assert_eq!(kind("UnauthorizedOperation"), "denied");
        assert_eq!(kind("ExpiredToken"), "credentials");
        assert_eq!(kind("RequestLimitExceeded"), "throttled");
        assert_eq!(kind("Throttling"), "throttled");
        assert_eq!(kind("InvalidVpcID.NotFound"), "not-found");
        assert_eq!(kind("NoSuchEntity"), "not-found");
        assert_eq!(
            kind("InvalidLaunchTemplateName.NotFoundException"),
            "not-found"
        );
        assert_eq!(kind("Gateway.NotAttached"), "not-found");
        assert_eq!(kind("Resource.AlreadyAssociated"), "exists");
        assert_eq!(kind("EntityAlreadyExists"), "exists");
        assert_eq!(kind("InvalidGroup.Duplicate"), "exists");
        assert_eq!(kind("DependencyViolation"), "dependency");
        assert_eq!(kind("InvalidParameterValue"), "other");
        assert_eq!(kind("InternalError"), "transient");
        assert_eq!(kind("VpcLimitExceeded"), "limit");
    }

    /// One error of every class, as the person sees it: message, then hint.
    fn rendered(error: &AwsError) -> String {
        format!("{error}\n  hint: {}\n", error.hint())
    }

    #[test]
    fn every_error_class_says_what_to_fix() {
        let f = |code: &str, message: &str| Failure {
            code: code.into(),
            message: message.into(),
            request_id: Some("r-1".into()),
        };
        let errors = [
            AwsError::NoCredentials(String::new()),
            classify_code("sts:GetCallerIdentity", f("ExpiredToken", "The security token included in the request is expired")),
            classify_code("ec2:CreateVpc", f("UnauthorizedOperation", "You are not authorized to perform this operation.")),
            classify_code("eks:CreateCluster", f("AccessDeniedException", "User: arn:aws:sts::1:assumed-role/demo-creator/s is not authorized")).as_creator(),
            classify_code("eks:CreateAccessEntry", f("InvalidParameterException", "The specified principalArn is invalid: invalid principal.")),
            classify_code("ec2:AllocateAddress", f("AddressLimitExceeded", "The maximum number of addresses has been reached.")),
            classify_code("ec2:CreateVpc", f("VpcLimitExceeded", "The maximum number of VPCs has been reached.")),
            classify_code("iam:CreateRole", f("LimitExceeded", "Cannot exceed quota for RolesPerAccount: 1000")),
            classify_code("eks:CreateCluster", f("UnsupportedAvailabilityZoneException", "Cannot create cluster 'demo' because us-east-1e does not currently have sufficient capacity. Retry and choose from these availability zones: us-east-1a, us-east-1b")),
            classify_code("eks:CreateCluster", f("InvalidParameterException", "unsupported Kubernetes version 1.20")),
            classify_code("iam:CreateRole", f("EntityAlreadyExists", "Role with name demo-cluster already exists.")),
            classify_code("ec2:DeleteSubnet", f("DependencyViolation", "The subnet 'subnet-1' has dependencies and cannot be deleted.")),
            classify_code("ec2:CreateVpc", f("RequestLimitExceeded", "Request limit exceeded.")),
            classify_code("eks:DescribeCluster", f("ServiceUnavailableException", "Service unavailable")),
            AwsError::Unreachable { action: "ec2:DescribeVpcs", message: "dns error: failed to lookup address".into() },
            AwsError::Malformed { action: "ec2:DescribeVpcs", status: 502, body: "<html><body>Bad Gateway</body></html>".into() },
            classify_code("ec2:CreateSubnet", f("InvalidSubnet.Range", "The CIDR '10.0.0.0/8' is invalid.")),
        ];
        let text: String = errors.iter().map(rendered).collect();
        insta::assert_snapshot!(text);
        for error in &errors {
            // Never "retry" for what retrying cannot fix; never Rust debug output.
            let says_retry = error.hint().contains("again (it resumes)");
            assert_eq!(
                says_retry,
                error.is_transient(),
                "{error}: {}",
                error.hint()
            );
            assert!(!error.to_string().contains("Some("), "{error}");
        }
    }

    #[test]
    fn access_denied_hint_names_the_action() {
        let e = classify_code("eks:CreateCluster", failure("AccessDeniedException"));
        assert!(e.hint().contains("eks:CreateCluster"));
        assert_eq!(e.failure().unwrap().request_id.as_deref(), Some("r-1"));
    }
}
