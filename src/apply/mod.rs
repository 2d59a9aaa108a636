//! The executor: turns a plan's resources into steps and runs every step whose dependencies are
//! done, concurrently, recording each resource in the journal the moment it exists.
//!
//! Every step is observe → create → record: look for the resource by its tags first (so a rerun
//! adopts what an earlier run made), create it only when absent, record it before anything that
//! depends on it starts. Steps for each task live in their own module. The executor never
//! prints: it reports events to a [`Reporter`].

pub mod cluster;
pub mod drain;
pub mod journal;
pub mod network;
pub mod report;
pub mod retire;
pub mod retry;
pub mod secure;
pub mod shared_state;
pub mod teardown;
pub mod upgrade;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::aws::{Aws, AwsError};
use crate::plan::{Kind, Plan, Resource, Task};
use crate::profile::Profile;
use journal::{Journal, JournalError, Outputs, StepStatus};
pub use report::{Event, Reporter};

/// How fast to poll and back off. Tests and benchmarks shorten these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// Between two looks at something we wait for (`EKSBOOT_POLL_MS`, default 10 s).
    pub poll: Duration,
    /// The first retry delay after throttling or IAM propagation; doubles each time.
    pub retry_base: Duration,
    /// How long an add-on whose pods need nodes may stay DEGRADED after the node group is
    /// ACTIVE (`EKSBOOT_ADDON_HEALTH_MS`, default 10 minutes).
    pub addon_health: Duration,
}

impl Timing {
    /// From `EKSBOOT_POLL_MS` (and `EKSBOOT_RETRY_MS`), with production defaults.
    pub fn from_env() -> Timing {
        let ms = |var: &str, default: u64| {
            std::env::var(var)
                .ok()
                .and_then(|v| v.parse::<u64>().ok())
                .map_or(Duration::from_millis(default), Duration::from_millis)
        };
        Timing {
            poll: ms("EKSBOOT_POLL_MS", 10_000),
            retry_base: crate::aws::retry::retry_base_from_env(),
            addon_health: ms("EKSBOOT_ADDON_HEALTH_MS", 10 * 60 * 1_000),
        }
    }
}

/// Everything a step needs. Shared by every concurrently running step.
pub struct Ctx {
    pub aws: Aws,
    pub profile: Profile,
    pub plan: Plan,
    pub account: String,
    /// The IAM principal running eksboot (role or user ARN).
    pub caller_principal: String,
    pub run_id: String,
    pub journal: Mutex<Journal>,
    pub reporter: Arc<dyn Reporter>,
    pub timing: Timing,
    /// The Kubernetes version resolved for this cluster (kept on resume).
    pub kubernetes_version: String,
    /// Clients acting as the creator role, for every EKS call; assumed on first use.
    pub creator: tokio::sync::OnceCell<Aws>,
    /// The endpoint service names the region offers, read once when an endpoint needs them.
    pub endpoint_services: tokio::sync::OnceCell<Vec<String>>,
    /// Set when the run is stopping (a step failed, or the person pressed Ctrl-C): no new step
    /// starts, and steps waiting on others give up.
    pub stopping: Arc<std::sync::atomic::AtomicBool>,
    /// How node groups this run deletes are drained first.
    pub drain: drain::DrainPolicy,
}

/// The result of one step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepResult {
    pub outputs: Outputs,
    /// The resource already existed (made by an earlier run) and was adopted.
    pub adopted: bool,
}

impl StepResult {
    pub fn created(outputs: Outputs) -> StepResult {
        StepResult {
            outputs,
            adopted: false,
        }
    }
    pub fn adopted(outputs: Outputs) -> StepResult {
        StepResult {
            outputs,
            adopted: true,
        }
    }
}

/// Why a step failed.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// Something in the account is in the way.
    #[error("{message}")]
    Conflict { message: String, hint: String },
    /// Still not ready after the time allowed.
    #[error("{0}")]
    TimedOut(String),
    /// AWS reports the resource as failed.
    #[error("{0}")]
    Broken(String),
    /// The run is stopping (Ctrl-C) while this step waited; what exists is recorded.
    #[error("stopped while waiting")]
    Interrupted,
}

impl StepError {
    /// The AWS error behind this one, if it is one.
    pub fn aws(&self) -> Option<&AwsError> {
        match self {
            StepError::Aws(e) => Some(e),
            _ => None,
        }
    }

    pub fn hint(&self) -> String {
        match self {
            StepError::Aws(e) => e.hint(),
            StepError::Conflict { hint, .. } => hint.clone(),
            StepError::Journal(_) => "check that the state file's directory is writable, then rerun to resume".into(),
            StepError::TimedOut(_) => "it may still finish: rerun the same command to resume and wait again".into(),
            StepError::Broken(_) => "check the AWS console for the reason, fix it, and rerun to resume (or run teardown)".into(),
            StepError::Interrupted => "rerun the same command to resume".into(),
        }
    }
}

/// A failed step, with what it was.
#[derive(Debug, thiserror::Error)]
#[error("[{}] {} {} ({}): {error}", task.as_str(), kind.as_str(), step, name)]
pub struct ApplyError {
    pub task: Task,
    pub kind: Kind,
    pub step: String,
    pub name: String,
    pub error: StepError,
    /// Other steps that failed at the same time.
    pub also_failed: Vec<String>,
}

/// Why a run did not finish.
#[derive(Debug, thiserror::Error)]
pub enum ExecuteError {
    #[error(transparent)]
    Failed(#[from] ApplyError),
    /// The person stopped it (Ctrl-C): what had started finished and is recorded.
    #[error("interrupted: {} steps done, {} not started", .done.created.len() + .done.adopted.len(), .not_started)]
    Interrupted { done: Summary, not_started: usize },
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub created: Vec<String>,
    pub adopted: Vec<String>,
    /// Of the adopted, those changed to match the profile (day two).
    pub updated: Vec<String>,
    pub elapsed: Duration,
}

impl Ctx {
    /// The tags every resource of `step` carries, plus its `Name`.
    pub fn tags(&self, res: &Resource) -> Vec<(String, String)> {
        vec![
            ("eksboot:cluster".into(), self.profile.cluster.name.clone()),
            ("eksboot:region".into(), self.profile.cluster.region.clone()),
            ("eksboot:run".into(), self.run_id.clone()),
            ("eksboot:step".into(), res.id.clone()),
            ("Name".into(), res.name.clone()),
        ]
    }

    /// The outputs of a finished dependency.
    pub fn output(&self, step: &str) -> Outputs {
        self.journal
            .lock()
            .expect("journal lock")
            .outputs(step)
            .cloned()
            .unwrap_or_else(|| panic!("step {step} ran before its dependency finished"))
    }

    /// The outputs an earlier, unfinished attempt of `step` recorded, if any.
    pub fn unfinished(&self, step: &str) -> Option<Outputs> {
        let journal = self.journal.lock().expect("journal lock");
        let record = journal.state.steps.get(step)?;
        (record.status != StepStatus::Done)
            .then(|| record.outputs.clone())
            .flatten()
    }

    /// Whether an earlier attempt of `step` got as far as starting.
    pub fn attempted_before(&self, step: &str) -> bool {
        self.journal
            .lock()
            .expect("journal lock")
            .status(step)
            .is_some()
    }

    /// Records a resource that exists but whose step is not finished (e.g. a pending NAT).
    pub fn record_partial(&self, step: &str, outputs: &Outputs) -> Result<(), StepError> {
        self.journal
            .lock()
            .expect("journal lock")
            .record_outputs(step, outputs, false)?;
        Ok(())
    }

    /// Fails with [`StepError::Interrupted`] once the run is stopping (for wait loops).
    pub fn check_stopping(&self) -> Result<(), StepError> {
        if self.stopping.load(std::sync::atomic::Ordering::SeqCst) {
            Err(StepError::Interrupted)
        } else {
            Ok(())
        }
    }

    /// When this run, or an earlier one that was stopped, last wrote the creator's policy (kept
    /// in the state file); `None` when it was adopted unchanged or is not ours to write.
    pub fn creator_policy_written_at(&self) -> Option<std::time::SystemTime> {
        let journal = self.journal.lock().expect("journal lock");
        let record = journal.state.steps.get("creator-policy")?;
        let millis: u64 = record.outputs.as_ref()?.attr("written_at")?.parse().ok()?;
        Some(std::time::UNIX_EPOCH + Duration::from_millis(millis))
    }

    /// A call made as the creator role: throttling and `retryable` errors are retried, and so
    /// is access denied while IAM may still be propagating the creator's new policy.
    pub async fn creator_call<T, F, Fut>(
        &self,
        res: &Resource,
        retryable: impl Fn(&AwsError) -> bool,
        op: F,
    ) -> Result<T, AwsError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, AwsError>>,
    {
        let started = Instant::now();
        retry::while_propagating(
            self.timing.retry_base,
            self.creator_policy_written_at(),
            retryable,
            |waited| {
                let note = format!("waiting for IAM to propagate, {} s", waited.as_secs());
                self.waiting(res, &res.name, &note, started);
            },
            op,
        )
        .await
        .map_err(AwsError::as_creator)
    }

    /// Reports a status while waiting.
    pub fn waiting(&self, res: &Resource, id: &str, status: &str, started: Instant) {
        self.reporter.report(Event::Waiting {
            resource: res,
            id,
            status,
            elapsed: started.elapsed(),
        });
    }
}

/// One step in the executor: reported, journaled as started, run, its outputs (or its failure)
/// journaled at once, and reported again.
async fn run_and_record(ctx: Arc<Ctx>, res: Resource) -> (Resource, Result<StepResult, StepError>) {
    let step_started = Instant::now();
    ctx.reporter.report(Event::Started { resource: &res });
    let (previously_done, recorded) = {
        let mut journal = ctx.journal.lock().expect("journal lock");
        let done = journal.status(&res.id) == Some(StepStatus::Done);
        (done, journal.record_started(&res.id))
    };
    let result = match recorded {
        Ok(()) => run_step(&ctx, &res).await,
        Err(e) => Err(StepError::from(e)),
    };
    let result = result.and_then(|step| {
        ctx.journal
            .lock()
            .expect("journal lock")
            .record_outputs(&res.id, &step.outputs, true)
            .map(|_| step)
            .map_err(StepError::from)
    });
    let elapsed = step_started.elapsed();
    match &result {
        // Found as it should be: nothing to report but that it is there.
        Ok(step) if step.adopted && previously_done && step.outputs.attr("updated").is_none() => {
            ctx.reporter.report(Event::Skipped {
                resource: &res,
                outputs: &step.outputs,
                elapsed,
            })
        }
        Ok(step) => ctx.reporter.report(Event::Done {
            resource: &res,
            outputs: &step.outputs,
            adopted: step.adopted,
            elapsed,
        }),
        // Stopped while waiting: the step stays "running", to be resumed.
        Err(StepError::Interrupted) => {}
        Err(error) => {
            let _ = ctx
                .journal
                .lock()
                .expect("journal lock")
                .record_failed(&res.id, &error.to_string());
            ctx.reporter.report(Event::Failed {
                resource: &res,
                error,
                elapsed,
            });
        }
    }
    (res, result)
}

/// Runs one step: dispatches to its task's module.
async fn run_step(ctx: &Ctx, res: &Resource) -> Result<StepResult, StepError> {
    tracing::debug!(step = %res.id, kind = res.kind.as_str(), name = %res.name, "step starts");
    let result = run_task_step(ctx, res).await;
    match &result {
        Ok(step) => {
            tracing::debug!(step = %res.id, id = %step.outputs.id, adopted = step.adopted, "step done")
        }
        Err(e) => tracing::debug!(step = %res.id, error = %e, "step failed"),
    }
    result
}

async fn run_task_step(ctx: &Ctx, res: &Resource) -> Result<StepResult, StepError> {
    match res.task {
        Task::Secure => secure::run(ctx, res).await,
        Task::Network => network::run(ctx, res).await,
        Task::Cluster => cluster::run(ctx, res).await,
    }
}

/// Runs `steps` (ids of the plan) in dependency order, as concurrently as dependencies allow.
/// Dependencies outside `steps` must already be done in the journal. On the first failure no
/// new step starts; running ones finish and are recorded; the error names the failed step.
pub async fn execute(ctx: Arc<Ctx>, steps: &[String]) -> Result<Summary, ExecuteError> {
    let started = Instant::now();
    let wanted: BTreeSet<&str> = steps.iter().map(String::as_str).collect();
    let resources: BTreeMap<&str, &Resource> = ctx
        .plan
        .resources
        .iter()
        .filter(|r| wanted.contains(r.id.as_str()))
        .map(|r| (r.id.as_str(), r))
        .collect();
    let mut done: BTreeSet<String> = ctx
        .plan
        .resources
        .iter()
        .filter(|r| !wanted.contains(r.id.as_str()))
        .filter(|r| {
            ctx.journal
                .lock()
                .expect("journal lock")
                .outputs(&r.id)
                .is_some()
        })
        .map(|r| r.id.clone())
        .collect();
    let mut waiting: Vec<&str> = ctx
        .plan
        .resources
        .iter()
        .map(|r| r.id.as_str())
        .filter(|id| resources.contains_key(id))
        .collect();
    let mut running = tokio::task::JoinSet::new();
    let mut summary = Summary::default();
    let mut failures: Vec<ApplyError> = Vec::new();
    let mut interrupted = 0;

    loop {
        if failures.is_empty() && !ctx.stopping.load(std::sync::atomic::Ordering::SeqCst) {
            let (ready, later): (Vec<&str>, Vec<&str>) = waiting
                .iter()
                .partition(|id| resources[*id].depends_on.iter().all(|d| done.contains(d)));
            waiting = later;
            for id in ready {
                let res = resources[id].clone();
                let ctx = Arc::clone(&ctx);
                running.spawn(run_and_record(ctx, res));
            }
        }
        let Some(joined) = running.join_next().await else {
            break;
        };
        let (res, result) = joined.expect("a step panicked");
        match result {
            Ok(step) => {
                if step.outputs.attr("updated").is_some() {
                    summary.updated.push(res.id.clone());
                }
                if step.adopted {
                    summary.adopted.push(res.id.clone());
                } else {
                    summary.created.push(res.id.clone());
                }
                done.insert(res.id);
            }
            Err(StepError::Interrupted) => interrupted += 1,
            Err(error) => {
                ctx.stopping
                    .store(true, std::sync::atomic::Ordering::SeqCst);
                failures.push(ApplyError {
                    task: res.task,
                    kind: res.kind,
                    step: res.id.clone(),
                    name: res.name.clone(),
                    error,
                    also_failed: Vec::new(),
                })
            }
        }
    }

    summary.elapsed = started.elapsed();
    let _ = ctx.journal.lock().expect("journal lock").save();
    if failures.is_empty() {
        if !waiting.is_empty() || interrupted > 0 {
            return Err(ExecuteError::Interrupted {
                done: summary,
                not_started: waiting.len() + interrupted,
            });
        }
        return Ok(summary);
    }
    let mut first = failures.remove(0);
    first.also_failed = failures.into_iter().map(|f| f.step).collect();
    Err(first.into())
}
