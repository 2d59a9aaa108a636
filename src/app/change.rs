//! `apply` (day two): change a running cluster to match its changed profile. Shows the difference, asks,
//! writes the new profile into the state file, then runs the same executor as `create` (every
//! step brings its resource to the profile) and removes what the profile dropped. Journaled
//! like a create: a stopped apply is finished by `apply` or `resume`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::create::{run, KubeconfigTarget, Purpose};
use super::*;
use crate::plan::diff::{diff, Action};

pub(super) async fn apply(
    profile_path: &Path,
    state: Option<PathBuf>,
    yes: bool,
    kubeconfig: KubeconfigTarget,
) -> Result<ExitCode, RunError> {
    let profile = Profile::load(profile_path)?;
    let state_path = state.unwrap_or_else(|| {
        journal::default_path(
            Path::new("."),
            &profile.cluster.name,
            &profile.cluster.region,
        )
    });
    let Some(mut journal) = Journal::open(&state_path)? else {
        return Err(RunError::Usage {
            message: format!(
                "there is no state file at {}: apply changes a cluster eksboot created",
                state_path.display()
            ),
            hint: format!(
                "create it first (`eksboot create --profile {}`), or pass --state PATH",
                profile_path.display()
            ),
        });
    };
    let before = journal.state.profile(&state_path)?;
    let d = diff(&before, &profile);
    if !d.refused.is_empty() {
        let fields: Vec<String> = d
            .refused
            .iter()
            .map(|r| format!("{} ({})", r.field, r.reason))
            .collect();
        return Err(RunError::Usage {
            message: format!(
                "these fields cannot change on a running cluster: {}",
                fields.join("; ")
            ),
            hint: d.refused[0].way_out.clone(),
        });
    }
    // New instance types mean a new node group beside the old one (EKS cannot change them in
    // place): the next generation, ACTIVE before the old one is deleted.
    let replacing = d
        .changes
        .iter()
        .any(|c| c.field == "nodes.instance_types" && c.action == Action::Replace);
    let mut facts = journal.facts();
    if replacing {
        facts.nodegroup_generation = Some(facts.nodegroup_generation.unwrap_or(1) + 1);
    }
    let plan = Plan::build(&profile, &facts);
    let unfinished = journal
        .state
        .steps
        .values()
        .any(|s| s.status != journal::StepStatus::Done);
    let dropped = apply::retire::dropped_steps(journal.state.steps.keys(), &plan.resources);
    if d.changes.is_empty() && !unfinished && dropped.is_empty() {
        ui::print(&format!(
            "No changes: cluster \"{}\" was made with {} as it is now.\n  Changed in AWS by other means? `eksboot plan --live --profile {1}` compares with AWS, and `eksboot resume --state {}` brings AWS back to the profile.\n",
            profile.cluster.name,
            profile_path.display(),
            state_path.display()
        ));
        return Ok(ExitCode::SUCCESS);
    }
    if !yes && !interactive() {
        return Err(RunError::Usage {
            message: "apply needs --yes when it cannot ask (no terminal, or CI is set)".into(),
            hint: format!(
                "review `eksboot plan --profile {}` first, then add --yes",
                profile_path.display()
            ),
        });
    }
    ui::print(&ui::render_diff_text(
        &profile,
        &plan,
        &d,
        &state_path.display().to_string(),
    ));
    if d.changes.iter().any(|c| c.action == Action::Remove) {
        ui::print("Removing deletes what is listed with `-` for good.\n");
    }
    if !yes && !ui::confirm("Apply these changes now?") {
        return Err(RunError::Cancelled);
    }
    // From here the state file holds the new profile: a stopped apply resumes with it.
    journal.state.nodegroup_generation = facts.nodegroup_generation;
    journal.adopt_profile(&profile)?;
    run(
        profile,
        &profile_path.display().to_string(),
        true,
        Some(state_path),
        kubeconfig,
        Purpose::Apply(journal),
    )
    .await
}
