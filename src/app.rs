//! Runs a parsed command line: loads the profile, calls the pure parts, the adapters and the
//! executor, and hands results to the UI. Errors carry their exit code and a hint.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use crate::apply::journal::{self, changed_fields, Journal, JournalError};
use crate::apply::{self, ApplyError, Ctx, Timing};
use crate::aws::{self, Aws, AwsError};
use crate::cli::{Cli, Command, OutputFormat};
use crate::plan::iam::caller_principal_arn;
use crate::plan::{Plan, PlanFacts, Task};
use crate::preflight;
use crate::profile::{Profile, ProfileError};
use crate::ui;

/// An error that ends the run, with the exit code it maps to.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Exit 2: the profile cannot be used.
    #[error(transparent)]
    Profile(#[from] ProfileError),
    /// Exit 2: the command line asks for something that cannot be done as asked.
    #[error("{message}")]
    Usage { message: String, hint: String },
    /// Exit 1: AWS could not be used.
    #[error(transparent)]
    Aws(#[from] AwsError),
    /// Exit 1: the state file could not be used.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// Exit 1: preflight found problems (already shown).
    #[error("preflight failed: nothing was created")]
    Preflight,
    /// Exit 1: a step failed; what exists is recorded.
    #[error(transparent)]
    Apply(#[from] ApplyError),
    /// Exit 130: the person said no.
    #[error("cancelled: nothing was created")]
    Cancelled,
}

impl RunError {
    pub fn exit_code(&self) -> u8 {
        match self {
            RunError::Profile(_) | RunError::Usage { .. } => 2,
            RunError::Cancelled => 130,
            RunError::Aws(_) | RunError::Journal(_) | RunError::Preflight | RunError::Apply(_) => 1,
        }
    }

    pub fn hint(&self) -> Option<String> {
        match self {
            RunError::Profile(ProfileError::Invalid { .. }) => Some(
                "fix the fields above; `eksboot help plan` and README.md describe each one".into(),
            ),
            RunError::Profile(_) | RunError::Cancelled => None,
            RunError::Usage { hint, .. } => Some(hint.clone()),
            RunError::Aws(e) => Some(e.hint()),
            RunError::Journal(JournalError::Locked { .. }) => Some(
                "wait for the other run to finish; if it was stopped, its lock is taken over automatically".into(),
            ),
            RunError::Journal(_) => Some("check the state file path and its permissions".into()),
            RunError::Preflight => Some("fix the failed checks above, then run the same command again".into()),
            RunError::Apply(e) => Some(format!(
                "{}; everything made so far is recorded: rerun the same command to resume",
                e.error.hint()
            )),
        }
    }

    /// The AWS request id, when AWS sent one.
    pub fn request_id(&self) -> Option<String> {
        let aws = match self {
            RunError::Aws(e) => Some(e),
            RunError::Apply(ApplyError {
                error: apply::StepError::Aws(e),
                ..
            }) => Some(e),
            _ => None,
        };
        aws.and_then(|e| e.failure())
            .and_then(|f| f.request_id.clone())
    }
}

pub async fn run(cli: Cli) -> Result<ExitCode, RunError> {
    match cli.command {
        None => {
            ui::print(&ui::render_welcome());
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Plan { profile, output }) => {
            let profile = Profile::load(&profile)?;
            let plan = Plan::build(&profile, &PlanFacts::default());
            ui::print(&match output {
                OutputFormat::Text => ui::render_plan_text(&profile, &plan),
                OutputFormat::Json => ui::render_plan_json(&profile, &plan),
            });
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Preflight { profile }) => {
            let profile = Profile::load(&profile)?;
            let aws = Aws::connect(&profile.cluster.region).await?;
            let report = preflight::run(&aws, &profile).await;
            ui::print(&ui::render_preflight(&profile, &report));
            Ok(if report.passed() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Some(Command::Create {
            profile,
            yes,
            state,
        }) => create(&profile, yes, state).await,
    }
}

fn interactive() -> bool {
    std::io::stdin().is_terminal()
        && std::io::stdout().is_terminal()
        && std::env::var_os("CI").is_none()
        && std::env::var_os("EKSBOOT_NO_PROMPT").is_none()
}

/// The IAM principal running eksboot, with the role's path when IAM lets us read it.
async fn caller_principal(aws: &Aws, caller_arn: &str) -> String {
    let plain = caller_principal_arn(caller_arn, None);
    if let Some(role) = plain.split(":role/").nth(1) {
        if let Ok(Some(found)) = aws::iam::get_role(aws, role).await {
            return found.arn;
        }
    }
    plain
}

async fn create(
    profile_path: &Path,
    yes: bool,
    state: Option<PathBuf>,
) -> Result<ExitCode, RunError> {
    let profile = Profile::load(profile_path)?;
    if !yes && !interactive() {
        return Err(RunError::Usage {
            message: "create needs --yes when it cannot ask (no terminal, or CI is set)".into(),
            hint: format!(
                "review `eksboot plan --profile {}` first, then add --yes",
                profile_path.display()
            ),
        });
    }
    let state_path = state.unwrap_or_else(|| {
        journal::default_path(
            Path::new("."),
            &profile.cluster.name,
            &profile.cluster.region,
        )
    });
    // Refuse a changed profile before touching AWS.
    let existing = Journal::open(&state_path)?;
    if let Some(j) = &existing {
        if j.state.settings_hash != profile.content_hash() {
            let new = serde_json::to_value(&profile).expect("profile serialises");
            let fields = changed_fields(&j.state.settings, &new);
            return Err(RunError::Usage {
                message: format!(
                    "the profile changed since {} was made: {}",
                    state_path.display(),
                    fields.join(", ")
                ),
                hint: "changing a created cluster is not eksboot's job yet: restore those fields to resume, or tear down first".into(),
            });
        }
    }

    let aws = Aws::connect(&profile.cluster.region).await?;
    let report = preflight::run(&aws, &profile).await;
    if !report.passed() {
        ui::print(&ui::render_preflight(&profile, &report));
        return Err(RunError::Preflight);
    }
    let caller = report.caller.clone().expect("preflight passed credentials");
    let journal = match existing {
        Some(j) => {
            if j.state.account != caller.account {
                return Err(RunError::Usage {
                    message: format!(
                        "{} belongs to account {}, but your credentials are for account {}",
                        state_path.display(),
                        j.state.account,
                        caller.account
                    ),
                    hint: "use credentials for the account the cluster is in".into(),
                });
            }
            j
        }
        None => Journal::create(&state_path, &profile, &caller.account, &report.facts)?,
    };
    if let Some(note) = journal.lock_note() {
        ui::print(&format!("note: {note}\n"));
    }
    // On resume, the AZs and version chosen the first time stay.
    let facts = journal.facts();
    let plan = Plan::build(&profile, &facts);
    let steps: Vec<String> = plan
        .resources
        .iter()
        .filter(|r| r.task != Task::Cluster)
        .map(|r| r.id.clone())
        .collect();
    ui::print(&ui::render_create_intro(
        &profile,
        &plan,
        &facts,
        steps.len(),
        journal.path(),
    ));
    if !yes && !ui::confirm("Create these resources now?") {
        return Err(RunError::Cancelled);
    }

    let ctx = Arc::new(Ctx {
        caller_principal: caller_principal(&aws, &caller.arn).await,
        aws,
        account: caller.account.clone(),
        run_id: journal.state.run_id.clone(),
        profile: profile.clone(),
        plan,
        journal: Mutex::new(journal),
        reporter: Arc::new(ui::plain::PlainReporter::default()),
        timing: Timing::from_env(),
    });
    let summary = apply::execute(Arc::clone(&ctx), &steps).await?;
    ui::print(&ui::render_tasks_done(&summary, &state_path));
    Ok(ExitCode::SUCCESS)
}
