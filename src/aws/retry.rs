//! What the SDK clients retry, and how: the transport layer of "who retries what" (see
//! `apply::retry` for the layers above it). Configuration only; no decisions about steps.

use std::time::Duration;

/// Attempts per call at the transport layer (the first try included).
pub const TRANSPORT_ATTEMPTS: u32 = 6;
/// The longest transport backoff is this many times the first: 1 s grows to 20 s.
pub const TRANSPORT_MAX_BACKOFF_FACTOR: u32 = 20;

/// The SDK's retry settings: the one layer that retries transient errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransportRetry {
    pub max_attempts: u32,
    /// The first backoff; each later one is drawn from up to twice the one before.
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
}

impl TransportRetry {
    /// From the first backoff (`EKSBOOT_RETRY_MS`, which tests shorten) and `AWS_MAX_ATTEMPTS`
    /// when the person set it, as every AWS tool honours it. Bounded: six attempts wait at most
    /// 1 + 2 + 4 + 8 + 16 s between them, half that on average.
    pub fn new(retry_base: Duration, aws_max_attempts: Option<&str>) -> TransportRetry {
        let max_attempts = aws_max_attempts
            .and_then(|v| v.trim().parse::<u32>().ok())
            .filter(|n| *n >= 1)
            .unwrap_or(TRANSPORT_ATTEMPTS);
        TransportRetry {
            max_attempts,
            initial_backoff: retry_base,
            max_backoff: retry_base * TRANSPORT_MAX_BACKOFF_FACTOR,
        }
    }

    /// From the environment (`EKSBOOT_RETRY_MS`, `AWS_MAX_ATTEMPTS`).
    pub fn from_env() -> TransportRetry {
        TransportRetry::new(
            retry_base_from_env(),
            std::env::var("AWS_MAX_ATTEMPTS").ok().as_deref(),
        )
    }
}

/// The first retry delay (`EKSBOOT_RETRY_MS`, default 1 s): the transport's backoff starts
/// there, and so do the steps' own retries (`apply::Timing`).
pub fn retry_base_from_env() -> Duration {
    std::env::var("EKSBOOT_RETRY_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .map_or(Duration::from_millis(1_000), Duration::from_millis)
}
