//! Bounded retries with backoff for throttling and IAM's eventual consistency (a role that was
//! just created is not yet usable everywhere). Everything else fails at once.

use std::future::Future;
use std::time::Duration;

use crate::aws::AwsError;

/// How many times to try in all.
pub const MAX_ATTEMPTS: u32 = 8;
/// The longest single wait between attempts.
pub const MAX_DELAY: Duration = Duration::from_secs(15);

/// Whether an error means "a principal we just made is not visible here yet".
pub fn is_iam_propagation(err: &AwsError) -> bool {
    match err.failure() {
        Some(f) => {
            let message = f.message.to_lowercase();
            (f.code == "MalformedPolicyDocumentException"
                && (message.contains("principal") || message.contains("invalid arns")))
                || (f.code == "InvalidParameterException" && message.contains("role"))
                || (matches!(err, AwsError::AccessDenied { .. })
                    && err.action() == "sts:AssumeRole")
        }
        None => false,
    }
}

/// Runs `op` until it succeeds, fails with an error `retryable` does not accept, or the
/// attempts run out. Throttling is always retried. The delay starts at `base` and doubles.
pub async fn with_retry<T, F, Fut>(
    base: Duration,
    retryable: impl Fn(&AwsError) -> bool,
    mut op: F,
) -> Result<T, AwsError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, AwsError>>,
{
    let mut delay = base;
    let mut attempt = 1;
    loop {
        match op().await {
            Ok(value) => return Ok(value),
            Err(err)
                if attempt < MAX_ATTEMPTS
                    && (matches!(err, AwsError::Throttled { .. }) || retryable(&err)) =>
            {
                tracing::debug!(action = err.action(), attempt, ?delay, "retrying: {err}");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(MAX_DELAY);
                attempt += 1;
            }
            Err(err) => return Err(err),
        }
    }
}

/// Retries throttling only.
pub async fn throttled<T, F, Fut>(base: Duration, op: F) -> Result<T, AwsError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, AwsError>>,
{
    with_retry(base, |_| false, op).await
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;
    use crate::aws::{classify_code, Failure};

    fn err(code: &str, message: &str, action: &'static str) -> AwsError {
        classify_code(
            action,
            Failure {
                code: code.into(),
                message: message.into(),
                request_id: None,
            },
        )
    }

    #[tokio::test]
    async fn throttling_is_retried_until_it_passes() {
        let calls = AtomicU32::new(0);
        let result = throttled(Duration::from_millis(1), || async {
            if calls.fetch_add(1, Ordering::SeqCst) < 3 {
                Err(err("Throttling", "slow down", "ec2:CreateVpc"))
            } else {
                Ok(7)
            }
        })
        .await;
        assert_eq!(result.unwrap(), 7);
        assert_eq!(calls.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn retries_are_bounded() {
        let calls = AtomicU32::new(0);
        let result: Result<(), _> = throttled(Duration::from_millis(1), || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(err("RequestLimitExceeded", "slow down", "ec2:CreateVpc"))
        })
        .await;
        assert!(matches!(result, Err(AwsError::Throttled { .. })));
        assert_eq!(calls.load(Ordering::SeqCst), MAX_ATTEMPTS);
    }

    #[tokio::test]
    async fn other_errors_fail_at_once() {
        let calls = AtomicU32::new(0);
        let result: Result<(), _> =
            with_retry(Duration::from_millis(1), is_iam_propagation, || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(err("UnauthorizedOperation", "no", "ec2:CreateVpc"))
            })
            .await;
        assert!(matches!(result, Err(AwsError::AccessDenied { .. })));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn iam_propagation_is_recognised() {
        assert!(is_iam_propagation(&err(
            "MalformedPolicyDocumentException",
            "Policy contains a statement with one or more invalid principals.",
            "kms:CreateKey"
        )));
        assert!(is_iam_propagation(&err(
            "AccessDenied",
            "not authorized to perform sts:AssumeRole",
            "sts:AssumeRole"
        )));
        assert!(!is_iam_propagation(&err(
            "AccessDenied",
            "no",
            "ec2:CreateVpc"
        )));
    }
}
