//! Bounded retries with backoff for throttling and IAM's eventual consistency (a role that was
//! just created is not yet usable everywhere). Everything else fails at once.

use std::future::Future;
use std::time::{Duration, SystemTime};

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
    op: F,
) -> Result<T, AwsError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, AwsError>>,
{
    while_propagating(base, None, retryable, |_| {}, op).await
}

/// How long after a role's policy was written calls made as that role may still be denied:
/// IAM is eventually consistent, and changes usually apply within seconds.
pub const IAM_PROPAGATION_WINDOW: Duration = Duration::from_secs(120);
/// The longest single wait while IAM propagates (short: it usually takes seconds).
const PROPAGATION_MAX_DELAY: Duration = Duration::from_secs(5);

/// How long a denial may still be IAM propagating a policy written at `written_at`: `None`
/// when no policy was written (adopted unchanged) or the window is over.
pub fn propagation_left(written_at: Option<SystemTime>, now: SystemTime) -> Option<Duration> {
    let since = now.duration_since(written_at?).unwrap_or_default();
    IAM_PROPAGATION_WINDOW
        .checked_sub(since)
        .filter(|left| !left.is_zero())
}

/// Like [`with_retry`], for calls made as a role whose policy was written at `written_at`:
/// access denied is also retried until [`IAM_PROPAGATION_WINDOW`] has passed since that write,
/// reporting the time waited through `on_wait`.
pub async fn while_propagating<T, F, Fut>(
    base: Duration,
    written_at: Option<SystemTime>,
    retryable: impl Fn(&AwsError) -> bool,
    mut on_wait: impl FnMut(Duration),
    mut op: F,
) -> Result<T, AwsError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, AwsError>>,
{
    let mut delay = base;
    let mut attempt = 1;
    let started = std::time::Instant::now();
    loop {
        match op().await {
            Ok(value) => return Ok(value),
            Err(err @ AwsError::AccessDenied { .. })
                if propagation_left(written_at, SystemTime::now()).is_some() =>
            {
                tracing::debug!(action = err.action(), "waiting for IAM to propagate: {err}");
                on_wait(started.elapsed());
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(PROPAGATION_MAX_DELAY);
            }
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
    fn denials_count_as_propagation_only_within_the_window_after_a_write() {
        let written = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        let at = |secs: u64| SystemTime::UNIX_EPOCH + Duration::from_secs(1_000 + secs);
        assert_eq!(propagation_left(None, at(1)), None);
        assert_eq!(
            propagation_left(Some(written), at(12)),
            Some(Duration::from_secs(108))
        );
        assert_eq!(propagation_left(Some(written), at(120)), None);
        assert_eq!(propagation_left(Some(written), at(500)), None);
    }

    #[tokio::test]
    async fn a_denial_right_after_the_write_is_waited_out() {
        let calls = AtomicU32::new(0);
        let mut waits = Vec::new();
        let result = while_propagating(
            Duration::from_millis(1),
            Some(SystemTime::now()),
            |_| false,
            |elapsed| waits.push(elapsed),
            || async {
                if calls.fetch_add(1, Ordering::SeqCst) < 2 {
                    Err(err("AccessDeniedException", "no", "eks:DescribeCluster"))
                } else {
                    Ok(1)
                }
            },
        )
        .await;
        assert_eq!(result.unwrap(), 1);
        assert_eq!(waits.len(), 2);
    }

    #[tokio::test]
    async fn a_denial_long_after_the_write_fails_naming_the_action() {
        let calls = AtomicU32::new(0);
        let long_ago = SystemTime::now() - Duration::from_secs(600);
        for written in [None, Some(long_ago)] {
            let result: Result<(), _> = while_propagating(
                Duration::from_millis(1),
                written,
                |_| false,
                |_| {},
                || async {
                    calls.fetch_add(1, Ordering::SeqCst);
                    Err(err("AccessDeniedException", "no", "eks:DescribeCluster"))
                },
            )
            .await;
            let e = result.unwrap_err();
            assert_eq!(e.action(), "eks:DescribeCluster");
        }
        assert_eq!(calls.load(Ordering::SeqCst), 2);
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
