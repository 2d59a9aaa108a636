//! Who retries what. One layer per failure, never two multiplying each other:
//!
//! - **Transient errors** (throttling, 5xx, timeouts, dropped connections) are retried by the
//!   SDK, once per call, with exponential backoff and full jitter, bounded in attempts
//!   ([`TransportRetry`]). Calls that create something without an idempotency token (CreateVpc,
//!   AllocateAddress, CreateKey, ...) are the exception: a retry after a lost answer would make
//!   a second one, so the SDK does not retry them and [`create_once`] does, looking the
//!   resource up by its tags before each new try (the KMS key, created untagged and tagged
//!   next, also by its description, which names the cluster, region and run).
//! - **IAM's eventual consistency** (a role just made or a policy just written is not yet
//!   visible everywhere) is retried by the step ([`with_retry`], [`while_propagating`]).
//! - **Dependency waits** (a subnet still holding an interface) belong to teardown's budget.
//!
//! Waiting on AWS (a cluster becoming ACTIVE) is polling, not retrying: [`PollDelay`].

use std::future::Future;
use std::time::{Duration, SystemTime};

use crate::aws::AwsError;

use super::StepError;

/// How many times to try in all, for the retries a step makes itself.
pub const MAX_ATTEMPTS: u32 = 8;
/// The longest single wait between a step's own attempts.
pub const MAX_DELAY: Duration = Duration::from_secs(15);

pub use crate::aws::retry::{TransportRetry, TRANSPORT_ATTEMPTS, TRANSPORT_MAX_BACKOFF_FACTOR};

/// Exponential backoff with full jitter: each wait is drawn uniformly from zero to a ceiling
/// that doubles up to a maximum, so many clients retrying at once spread out instead of
/// colliding again (AWS Architecture Blog, "Exponential Backoff And Jitter").
pub struct Backoff {
    ceiling: Duration,
    max: Duration,
    rng: fastrand::Rng,
}

impl Backoff {
    pub fn new(base: Duration, max: Duration) -> Backoff {
        Backoff::seeded(base, max, fastrand::Rng::new())
    }

    pub fn seeded(base: Duration, max: Duration, rng: fastrand::Rng) -> Backoff {
        Backoff {
            ceiling: base,
            max,
            rng,
        }
    }

    /// The next wait.
    pub fn next_delay(&mut self) -> Duration {
        let ceiling = self.ceiling.min(self.max);
        self.ceiling = (self.ceiling * 2).min(self.max);
        ceiling.mul_f64(self.rng.f64())
    }
}

/// The wait between two looks at something that takes a while: the poll interval at first,
/// then a tenth of the time waited so far (so a result is seen at most about 10 % late), up to
/// three times the interval; each wait jittered by a quarter either way, so a long wait costs
/// fewer requests and many waiting clients do not poll in step.
pub struct PollDelay {
    base: Duration,
    started: std::time::Instant,
    rng: fastrand::Rng,
}

/// How far polling backs off: three times the poll interval.
const POLL_MAX_FACTOR: u32 = 3;
/// The share of the time waited so far that the next wait may be.
const POLL_LATENESS: u32 = 10;

impl PollDelay {
    pub fn new(poll: Duration) -> PollDelay {
        PollDelay::seeded(poll, fastrand::Rng::new())
    }

    pub fn seeded(poll: Duration, rng: fastrand::Rng) -> PollDelay {
        PollDelay {
            base: poll,
            started: std::time::Instant::now(),
            rng,
        }
    }

    /// The next wait, `waited` into the wait.
    pub fn delay_at(&mut self, waited: Duration) -> Duration {
        let target = (waited / POLL_LATENESS).clamp(self.base, self.base * POLL_MAX_FACTOR);
        target.mul_f64(0.75 + self.rng.f64() * 0.5)
    }

    pub fn next_delay(&mut self) -> Duration {
        self.delay_at(self.started.elapsed())
    }

    /// Sleeps for the next wait.
    pub async fn sleep(&mut self) {
        tokio::time::sleep(self.next_delay()).await;
    }
}

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
/// attempts run out. The delay starts at `base` and doubles. Transient errors are not
/// retried here: the SDK already did.
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
            Err(err) if attempt < MAX_ATTEMPTS && retryable(&err) => {
                tracing::debug!(action = err.action(), attempt, ?delay, "retrying: {err}");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(MAX_DELAY);
                attempt += 1;
            }
            Err(err) => return Err(err),
        }
    }
}

/// An idempotency token (EC2 `ClientToken`, EKS `clientRequestToken`) for one request of one
/// step: a hash of the run id, the apply sequence number (see `journal::State::apply_seq`), the
/// step id and the request's canonical parameters. The same request, retried or resumed, keeps
/// its token, so AWS answers a repeat of a call whose answer was lost with the first call's
/// result; any other request (another apply, other parameters: a resize 3 → 5 → 3 included)
/// gets a token AWS has never seen, which EC2 would otherwise refuse with
/// IdempotentParameterMismatch and EKS answer with the first call's result, doing nothing.
/// A new one is also taken once the earlier call is known to have failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyToken {
    digest: [u8; 32],
    generation: u32,
}

impl IdempotencyToken {
    /// EC2's `ClientToken` takes up to 64 ASCII characters
    /// (https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-idempotency.html); EKS's
    /// `clientRequestToken` documents no limit, so EC2's bounds both.
    pub const MAX_LEN: usize = 64;

    /// The token of one request: `params` are the request's parameters (the token itself
    /// excluded), compared by content (object keys in any order).
    pub fn request(
        run_id: &str,
        sequence: u64,
        step: &str,
        params: &serde_json::Value,
    ) -> IdempotencyToken {
        use sha2::{Digest, Sha256};
        let mut hash = Sha256::new();
        // Each field length-prefixed: no two different inputs write the same bytes.
        let mut field = |bytes: &[u8]| {
            hash.update((bytes.len() as u64).to_be_bytes());
            hash.update(bytes);
        };
        field(b"eksboot-idempotency-token-v1");
        field(run_id.as_bytes());
        field(&sequence.to_be_bytes());
        field(step.as_bytes());
        field(canonical_json(params).as_bytes());
        IdempotencyToken {
            digest: hash.finalize().into(),
            generation: 0,
        }
    }

    /// 64 lowercase hex characters (ASCII, within every API's limit).
    pub fn value(&self) -> String {
        use sha2::{Digest, Sha256};
        let bytes: [u8; 32] = match self.generation {
            0 => self.digest,
            n => {
                let mut hash = Sha256::new();
                hash.update(self.digest);
                hash.update(n.to_be_bytes());
                hash.finalize().into()
            }
        };
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        hex[..Self::MAX_LEN].to_string()
    }

    /// After `err`: keep the token when AWS may have acted (the answer was lost), take a new
    /// one when the call certainly failed (a repeat would be answered with that failure).
    pub fn after(&mut self, err: &AwsError) {
        if !may_have_acted(err) {
            self.generation += 1;
        }
    }
}

/// The token of one request of `step` in this apply (the state file's sequence number), and
/// in this round of the step (see `journal::StepRecord::round`).
pub fn request_token(ctx: &super::Ctx, step: &str, params: &serde_json::Value) -> IdempotencyToken {
    let journal = ctx.journal.lock().expect("journal lock");
    let sequence = journal.state.apply_seq;
    // A step run again after it finished (within one apply) makes new requests.
    let round = journal.state.steps.get(step).map_or(0, |s| s.round);
    drop(journal);
    let step = match round {
        0 => step.to_string(),
        n => format!("{step}#{n}"),
    };
    IdempotencyToken::request(&ctx.run_id, sequence, &step, params)
}

/// `value` as JSON with every object's keys sorted: the same content, the same text.
pub fn canonical_json(value: &serde_json::Value) -> String {
    use serde_json::Value;
    fn write(value: &Value, out: &mut String) {
        match value {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                out.push('{');
                for (i, key) in keys.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&Value::String(key.clone()).to_string());
                    out.push(':');
                    write(&map[key], out);
                }
                out.push('}');
            }
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write(item, out);
                }
                out.push(']');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let mut out = String::new();
    write(value, &mut out);
    out
}

/// Whether AWS may have carried out a call that failed this way: an internal error, a timeout
/// or a dropped connection say nothing about whether it acted; throttling and 4xx say it did
/// not.
pub fn may_have_acted(err: &AwsError) -> bool {
    matches!(
        err,
        AwsError::Transient { .. } | AwsError::Unreachable { .. } | AwsError::Malformed { .. }
    )
}

/// How many times [`create_once`] tries to create.
pub const CREATE_ATTEMPTS: u32 = TRANSPORT_ATTEMPTS;

/// Creates a resource exactly once, for calls that carry no idempotency token (and that the
/// SDK therefore does not retry): before each try, `find` looks for it by what this run gave it
/// at creation (its tags, a name AWS keeps unique, or a description naming the run); after a transient failure it waits and
/// looks again, so an answer lost after AWS acted is found rather than made twice. When
/// `create` says the name is taken and `find` then finds ours, ours is adopted.
///
/// Returns the resource and whether it was found before this call made it (an earlier run's).
pub async fn create_once<T, F, FFut, C, CFut>(
    base: Duration,
    find: F,
    create: C,
) -> Result<(T, bool), StepError>
where
    F: FnMut() -> FFut,
    FFut: Future<Output = Result<Option<T>, StepError>>,
    C: FnMut() -> CFut,
    CFut: Future<Output = Result<T, StepError>>,
{
    create_tries(base, CREATE_ATTEMPTS, find, create).await
}

/// Finds or creates a resource whose create call the SDK retries itself (it carries an
/// idempotency token, or AWS keeps its name unique): no second retry layer, but a create the
/// SDK repeated after a lost answer, told the name is taken, adopts ours.
pub async fn find_or_create<T, F, FFut, C, CFut>(find: F, create: C) -> Result<(T, bool), StepError>
where
    F: FnMut() -> FFut,
    FFut: Future<Output = Result<Option<T>, StepError>>,
    C: FnMut() -> CFut,
    CFut: Future<Output = Result<T, StepError>>,
{
    create_tries(Duration::ZERO, 1, find, create).await
}

async fn create_tries<T, F, FFut, C, CFut>(
    base: Duration,
    attempts: u32,
    mut find: F,
    mut create: C,
) -> Result<(T, bool), StepError>
where
    F: FnMut() -> FFut,
    FFut: Future<Output = Result<Option<T>, StepError>>,
    C: FnMut() -> CFut,
    CFut: Future<Output = Result<T, StepError>>,
{
    let mut backoff = Backoff::new(base, base * TRANSPORT_MAX_BACKOFF_FACTOR);
    let mut attempt = 1;
    loop {
        if let Some(found) = find().await? {
            return Ok((found, attempt == 1));
        }
        let err = match create().await {
            Ok(made) => return Ok((made, false)),
            Err(err) => err,
        };
        match err.aws() {
            Some(e) if e.is_transient() && attempt < attempts => {
                let delay = backoff.next_delay();
                tracing::debug!(
                    action = e.action(),
                    attempt,
                    ?delay,
                    "looking again, then retrying: {e}"
                );
                tokio::time::sleep(delay).await;
                attempt += 1;
            }
            Some(AwsError::AlreadyExists { .. }) => {
                return match find().await? {
                    Some(found) => Ok((found, attempt == 1)),
                    None => Err(err),
                };
            }
            _ => return Err(err),
        }
    }
}

/// What a lookup found, picked out: a `find` for [`create_once`].
pub async fn first_found<T, U>(
    look: impl Future<Output = Result<Vec<T>, AwsError>>,
    pick: impl FnMut(T) -> Option<U>,
) -> Result<Option<U>, StepError> {
    Ok(look.await?.into_iter().find_map(pick))
}

/// A create call as a `create` for [`create_once`].
pub async fn made<T>(create: impl Future<Output = Result<T, AwsError>>) -> Result<T, StepError> {
    Ok(create.await?)
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
    async fn steps_leave_throttling_to_the_sdk() {
        let calls = AtomicU32::new(0);
        let result: Result<(), _> =
            with_retry(Duration::from_millis(1), is_iam_propagation, || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(err("RequestLimitExceeded", "slow down", "ec2:CreateVpc"))
            })
            .await;
        assert!(matches!(result, Err(AwsError::Throttled { .. })));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn step_retries_are_bounded() {
        let calls = AtomicU32::new(0);
        let result: Result<(), _> = with_retry(
            Duration::from_millis(1),
            |_| true,
            || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(err(
                    "InvalidParameterException",
                    "role cannot be assumed",
                    "eks:CreateCluster",
                ))
            },
        )
        .await;
        assert!(result.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), MAX_ATTEMPTS);
    }

    #[test]
    fn the_transport_layer_is_bounded_and_scaled_by_the_retry_base() {
        let timing = Duration::from_millis;
        let production = TransportRetry::new(timing(1_000), None);
        assert_eq!(production.max_attempts, TRANSPORT_ATTEMPTS);
        assert_eq!(production.initial_backoff, Duration::from_secs(1));
        assert_eq!(production.max_backoff, Duration::from_secs(20));
        let scaled = TransportRetry::new(timing(50), Some("3"));
        assert_eq!(scaled.max_attempts, 3);
        assert_eq!(scaled.max_backoff, Duration::from_secs(1));
        for junk in ["0", "many", ""] {
            assert_eq!(
                TransportRetry::new(timing(50), Some(junk)).max_attempts,
                TRANSPORT_ATTEMPTS
            );
        }
    }

    #[test]
    fn backoff_is_jittered_under_a_doubling_ceiling() {
        let mut backoff = Backoff::seeded(
            Duration::from_millis(100),
            Duration::from_millis(1_000),
            fastrand::Rng::with_seed(7),
        );
        let delays: Vec<_> = (0..8).map(|_| backoff.next_delay()).collect();
        let ceilings = [100, 200, 400, 800, 1_000, 1_000, 1_000, 1_000];
        for (delay, ceiling) in delays.iter().zip(ceilings) {
            assert!(*delay <= Duration::from_millis(ceiling), "{delays:?}");
        }
        // Jittered: not all the same fraction of their ceiling.
        let fractions: Vec<_> = delays
            .iter()
            .zip(ceilings)
            .map(|(d, c)| (d.as_secs_f64() * 1_000.0 / c as f64 * 100.0) as u32)
            .collect();
        assert!(fractions.windows(2).any(|w| w[0] != w[1]), "{fractions:?}");
    }

    #[test]
    fn polling_backs_off_with_the_wait_to_three_times_the_interval_with_jitter() {
        let second = Duration::from_secs(1);
        let mut poll = PollDelay::seeded(second, fastrand::Rng::with_seed(3));
        let at = |poll: &mut PollDelay, secs: u64| poll.delay_at(second * secs as u32).as_millis();
        // Short waits are polled at the interval: a NAT gateway is seen as soon as it is up.
        for waited in [0, 5, 10] {
            assert!((750..=1_250).contains(&at(&mut poll, waited)));
        }
        // A long wait at a tenth of the time so far, then at most three times the interval.
        assert!((1_500..=2_500).contains(&at(&mut poll, 20)));
        let late: Vec<_> = (0..8).map(|_| at(&mut poll, 600)).collect();
        assert!(late.iter().all(|d| (2_250..=3_750).contains(d)), "{late:?}");
        assert!(late.windows(2).any(|w| w[0] != w[1]), "jittered: {late:?}");
    }

    #[test]
    fn a_token_is_kept_while_aws_may_have_acted_and_renewed_after_a_certain_failure() {
        let params = serde_json::json!({"subnet": "subnet-1", "allocation": "eipalloc-1"});
        let mut token = IdempotencyToken::request("run-20261202ab", 0, "nat-1", &params);
        let first = token.value();
        token.after(&err("InternalError", "oops", "ec2:CreateNatGateway"));
        token.after(&AwsError::Unreachable {
            action: "ec2:CreateNatGateway",
            message: "connection reset".into(),
        });
        assert_eq!(token.value(), first);
        token.after(&err(
            "InvalidSubnetID.NotFound",
            "no",
            "ec2:CreateNatGateway",
        ));
        let renewed = token.value();
        assert_ne!(renewed, first);
        token.after(&err(
            "InvalidSubnetID.NotFound",
            "no",
            "ec2:CreateNatGateway",
        ));
        assert!(![first.as_str(), renewed.as_str()].contains(&token.value().as_str()));
    }

    fn size(min: i32, desired: i32, max: i32) -> serde_json::Value {
        serde_json::json!({"nodegroup": "ng", "min": min, "desired": desired, "max": max})
    }

    #[test]
    fn the_same_request_keeps_its_token_whatever_the_order_of_its_parameters() {
        let a = IdempotencyToken::request("run-1", 3, "nodegroup", &size(1, 3, 5));
        let b = IdempotencyToken::request("run-1", 3, "nodegroup", &size(1, 3, 5));
        assert_eq!(a.value(), b.value());
        // The same content written in another key order (serde_json keeps insertion order).
        let reordered: serde_json::Value =
            serde_json::from_str(r#"{"max":5,"desired":3,"nodegroup":"ng","min":1}"#).unwrap();
        let c = IdempotencyToken::request("run-1", 3, "nodegroup", &reordered);
        assert_eq!(a.value(), c.value());
        assert_eq!(
            canonical_json(&reordered),
            r#"{"desired":3,"max":5,"min":1,"nodegroup":"ng"}"#
        );
    }

    #[test]
    fn any_change_of_run_sequence_step_or_parameter_makes_a_new_token() {
        let base = IdempotencyToken::request("run-1", 1, "nodegroup", &size(1, 3, 5)).value();
        let others = [
            IdempotencyToken::request("run-2", 1, "nodegroup", &size(1, 3, 5)),
            IdempotencyToken::request("run-1", 2, "nodegroup", &size(1, 3, 5)),
            IdempotencyToken::request("run-1", 1, "nodegroup-2", &size(1, 3, 5)),
            IdempotencyToken::request("run-1", 1, "nodegroup", &size(1, 4, 5)),
            IdempotencyToken::request("run-1", 1, "nodegroup", &size(2, 3, 5)),
            IdempotencyToken::request("run-1", 1, "nodegroup", &size(1, 3, 6)),
            IdempotencyToken::request("run-1", 1, "nodegroup", &serde_json::json!(null)),
        ];
        let mut seen = std::collections::BTreeSet::from([base]);
        for other in others {
            assert!(seen.insert(other.value()), "{other:?} repeats a token");
        }
        // Fields are length-prefixed: moving a character from one field to the next changes it.
        let x = IdempotencyToken::request("run-1", 1, "ab", &serde_json::json!("c"));
        let y = IdempotencyToken::request("run-1", 1, "a", &serde_json::json!("bc"));
        assert_ne!(x.value(), y.value());
    }

    #[test]
    fn a_resize_3_5_3_over_three_applies_sends_three_tokens_and_a_resume_repeats_its_own() {
        // Apply 1 sets desired 3 → 5, apply 2 sets 5 → 3, apply 3 sets 3 → 5 again.
        let applies = [(1, size(1, 5, 6)), (2, size(1, 3, 6)), (3, size(1, 5, 6))];
        let tokens: Vec<String> = applies
            .iter()
            .map(|(seq, p)| IdempotencyToken::request("run-1", *seq, "nodegroup", p).value())
            .collect();
        let distinct: std::collections::BTreeSet<_> = tokens.iter().collect();
        assert_eq!(distinct.len(), 3, "{tokens:?}");
        // Apply 3 stopped and resumed: the same sequence, the same request, the same token.
        let resumed = IdempotencyToken::request("run-1", 3, "nodegroup", &size(1, 5, 6)).value();
        assert_eq!(resumed, tokens[2]);
    }

    #[test]
    fn tokens_are_64_ascii_characters_whatever_the_input() {
        let long =
            IdempotencyToken::request(&"r".repeat(300), u64::MAX, &"s".repeat(300), &size(1, 2, 3));
        for token in [
            long,
            IdempotencyToken::request("", 0, "", &serde_json::Value::Null),
        ] {
            let value = token.value();
            assert_eq!(value.len(), IdempotencyToken::MAX_LEN, "{value}");
            assert!(value.bytes().all(|b| b.is_ascii_hexdigit()), "{value}");
        }
    }

    /// A pretend AWS for `create_once`: what exists, and what each create call does.
    struct Pretend {
        made: std::sync::Mutex<Vec<u32>>,
        /// Per create call: `Ok(true)` makes it and answers, `Ok(false)` makes it and loses the
        /// answer, `Err(code)` fails with that code without making anything.
        script: std::sync::Mutex<Vec<Result<bool, &'static str>>>,
        creates: AtomicU32,
    }

    impl Pretend {
        fn new(script: Vec<Result<bool, &'static str>>) -> Pretend {
            Pretend {
                made: Default::default(),
                script: std::sync::Mutex::new(script),
                creates: AtomicU32::new(0),
            }
        }

        async fn find(&self) -> Result<Option<u32>, StepError> {
            Ok(self.made.lock().unwrap().first().copied())
        }

        async fn create(&self) -> Result<u32, StepError> {
            let n = self.creates.fetch_add(1, Ordering::SeqCst);
            let step = self.script.lock().unwrap().remove(0);
            match step {
                Ok(answered) => {
                    self.made.lock().unwrap().push(100 + n);
                    if answered {
                        Ok(100 + n)
                    } else {
                        Err(err("InternalError", "lost", "ec2:AllocateAddress").into())
                    }
                }
                Err(code) => Err(err(code, "no", "ec2:AllocateAddress").into()),
            }
        }
    }

    #[tokio::test]
    async fn a_lost_answer_is_found_by_looking_not_made_twice() {
        let aws = Pretend::new(vec![Err("RequestLimitExceeded"), Ok(false)]);
        let (id, adopted) = create_once(Duration::from_millis(1), || aws.find(), || aws.create())
            .await
            .unwrap();
        assert_eq!(id, 101);
        assert!(!adopted, "made by this call, not an earlier run");
        assert_eq!(aws.made.lock().unwrap().len(), 1);
        assert_eq!(aws.creates.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn what_an_earlier_run_made_is_adopted_without_a_create() {
        let aws = Pretend::new(vec![]);
        aws.made.lock().unwrap().push(7);
        let (id, adopted) = create_once(Duration::from_millis(1), || aws.find(), || aws.create())
            .await
            .unwrap();
        assert_eq!((id, adopted), (7, true));
        assert_eq!(aws.creates.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn a_certain_failure_is_not_retried_and_transient_ones_are_bounded() {
        let aws = Pretend::new(vec![Err("AddressLimitExceeded")]);
        let e = create_once(Duration::from_millis(1), || aws.find(), || aws.create())
            .await
            .unwrap_err();
        assert!(matches!(e.aws(), Some(AwsError::LimitExceeded { .. })));
        assert_eq!(aws.creates.load(Ordering::SeqCst), 1);

        let aws = Pretend::new(vec![Err("InternalError"); CREATE_ATTEMPTS as usize]);
        let e = create_once(Duration::from_millis(1), || aws.find(), || aws.create())
            .await
            .unwrap_err();
        assert!(matches!(e.aws(), Some(AwsError::Transient { .. })));
        assert_eq!(aws.creates.load(Ordering::SeqCst), CREATE_ATTEMPTS);
    }

    #[tokio::test]
    async fn a_taken_name_is_adopted_only_when_the_holder_is_ours() {
        // The SDK retried a create whose answer was lost: the repeat says "exists".
        let made = std::sync::Mutex::new(false);
        let (id, adopted) = create_once(
            Duration::from_millis(1),
            || async { Ok(made.lock().unwrap().then_some(5)) },
            || async {
                *made.lock().unwrap() = true;
                Err::<u32, StepError>(err("EntityAlreadyExists", "taken", "iam:CreateRole").into())
            },
        )
        .await
        .unwrap();
        assert_eq!((id, adopted), (5, true));
        // Someone else's: find does not accept it, the error stands.
        let e = create_once(
            Duration::from_millis(1),
            || async { Ok(None::<u32>) },
            || async {
                Err::<u32, StepError>(err("EntityAlreadyExists", "taken", "iam:CreateRole").into())
            },
        )
        .await
        .unwrap_err();
        assert!(matches!(e.aws(), Some(AwsError::AlreadyExists { .. })));
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
