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
pub mod logs;
pub mod sts;

use std::fmt;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::ProvideCredentials;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

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
}

impl Aws {
    /// Loads the standard AWS configuration chain for `region` and checks that credentials
    /// resolve, so a missing set-up fails with one clear error before any call.
    pub async fn connect(region: &str) -> Result<Aws, AwsError> {
        let config = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(region.to_string()))
            .load()
            .await;
        match config.credentials_provider() {
            None => return Err(AwsError::NoCredentials(String::new())),
            Some(provider) => {
                if let Err(e) = provider.provide_credentials().await {
                    return Err(AwsError::NoCredentials(e.to_string()));
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
            config,
        }
    }
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
            AwsError::Unreachable { action, .. } => action,
            AwsError::BadCredentials { action, .. }
            | AwsError::AccessDenied { action, .. }
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
            | AwsError::NotFound { failure: f, .. }
            | AwsError::AlreadyExists { failure: f, .. }
            | AwsError::DependencyViolation { failure: f, .. }
            | AwsError::Throttled { failure: f, .. }
            | AwsError::Other { failure: f, .. } => Some(f),
            AwsError::NoCredentials(_) | AwsError::Unreachable { .. } => None,
        }
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self, AwsError::NotFound { .. })
    }

    /// What the person can do next.
    pub fn hint(&self) -> String {
        match self {
            AwsError::NoCredentials(_) => "configure credentials: set AWS_PROFILE, run `aws configure` or `aws sso login`, or export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY".into(),
            AwsError::BadCredentials { .. } => "your credentials are invalid or expired: refresh them (e.g. `aws sso login`) and retry".into(),
            AwsError::AccessDenied { action, .. } => format!("ask your AWS administrator to allow {action} for your identity, then retry"),
            AwsError::Throttled { .. } => "AWS is rate-limiting this account: wait a minute and retry".into(),
            AwsError::Unreachable { .. } => "check your network connection, proxy settings and the region name".into(),
            AwsError::NotFound { .. } | AwsError::AlreadyExists { .. } | AwsError::DependencyViolation { .. } | AwsError::Other { .. } => "retry; if it persists, run with -v and check the AWS console".into(),
        }
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
        | "AuthorizationError" => AwsError::AccessDenied { action, failure },
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
        | "ResourceInUseException" => AwsError::AlreadyExists { action, failure },
        c if c.ends_with(".NotFound") || c.ends_with("NotFound") => {
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
            _ => "other",
        };
        assert_eq!(kind("AccessDeniedException"), "denied");
        assert_eq!(kind("UnauthorizedOperation"), "denied");
        assert_eq!(kind("ExpiredToken"), "credentials");
        assert_eq!(kind("RequestLimitExceeded"), "throttled");
        assert_eq!(kind("Throttling"), "throttled");
        assert_eq!(kind("InvalidVpcID.NotFound"), "not-found");
        assert_eq!(kind("NoSuchEntity"), "not-found");
        assert_eq!(kind("EntityAlreadyExists"), "exists");
        assert_eq!(kind("InvalidGroup.Duplicate"), "exists");
        assert_eq!(kind("DependencyViolation"), "dependency");
        assert_eq!(kind("InvalidParameterValue"), "other");
    }

    #[test]
    fn every_error_kind_says_what_to_do_next() {
        let cases = [
            (AwsError::NoCredentials(String::new()), "aws configure"),
            (
                classify_code("sts:GetCallerIdentity", failure("ExpiredToken")),
                "refresh them",
            ),
            (
                classify_code("ec2:CreateVpc", failure("UnauthorizedOperation")),
                "allow ec2:CreateVpc",
            ),
            (
                classify_code("ec2:CreateVpc", failure("RequestLimitExceeded")),
                "wait a minute",
            ),
            (
                AwsError::Unreachable {
                    action: "ec2:DescribeVpcs",
                    message: "dns error".into(),
                },
                "network connection",
            ),
            (
                classify_code("ec2:DeleteVpc", failure("DependencyViolation")),
                "retry",
            ),
        ];
        for (error, hint) in cases {
            assert!(error.hint().contains(hint), "{error}: {}", error.hint());
            // Messages name the action and never show Rust debug output.
            let text = error.to_string();
            assert!(!text.contains("Some(") && !text.contains("{ "), "{text}");
        }
        let denied = classify_code("ec2:CreateVpc", failure("UnauthorizedOperation"));
        assert_eq!(
            denied.to_string(),
            "ec2:CreateVpc: access denied (UnauthorizedOperation: m)"
        );
    }

    #[test]
    fn access_denied_hint_names_the_action() {
        let e = classify_code("eks:CreateCluster", failure("AccessDeniedException"));
        assert!(e.hint().contains("eks:CreateCluster"));
        assert_eq!(e.failure().unwrap().request_id.as_deref(), Some("r-1"));
    }
}
