//! Runs a parsed command line: loads the profile, calls the pure parts and the adapters, and
//! hands results to the UI. Errors carry their exit code.

use std::process::ExitCode;

use crate::aws::{Aws, AwsError};
use crate::cli::{Cli, Command, OutputFormat};
use crate::plan::{Plan, PlanFacts};
use crate::preflight;
use crate::profile::{Profile, ProfileError};
use crate::ui;

/// An error that ends the run, with the exit code it maps to.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Exit 2: the command line or the profile is wrong.
    #[error(transparent)]
    Profile(#[from] ProfileError),
    /// Exit 1: AWS could not be used.
    #[error(transparent)]
    Aws(#[from] AwsError),
}

impl RunError {
    pub fn exit_code(&self) -> u8 {
        match self {
            RunError::Profile(_) => 2,
            RunError::Aws(_) => 1,
        }
    }

    pub fn hint(&self) -> Option<String> {
        match self {
            RunError::Profile(ProfileError::Invalid { .. }) => Some(
                "fix the fields above; `eksboot help plan` and README.md describe each one".into(),
            ),
            RunError::Profile(_) => None,
            RunError::Aws(e) => Some(e.hint()),
        }
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
    }
}
