//! `apply` (day two): change a running cluster to match its changed profile. Shows the difference, asks,
//! writes the new profile into the state file, then runs the same executor as `create` (every
//! step brings its resource to the profile) and removes what the profile dropped. Journaled
//! like a create: a stopped apply is finished by `apply` or `resume`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::create::{run, KubeconfigTarget, Purpose};
use super::*;
use crate::plan::diff::{diff, Action, Diff};

/// Changes `apply` does not make yet: each with what to do instead.
fn not_yet(d: &Diff) -> Vec<String> {
    d.changes
        .iter()
        .filter_map(|c| match (c.field.as_str(), c.action) {
            ("nodes.instance_types", _) => Some(
                "nodes.instance_types: replacing the node group is not done by apply yet; restore the field, or teardown and create",
            ),
            ("nodes.disk_size_gib", _) => Some(
                "nodes.disk_size_gib: rolling nodes onto a new launch template is not done by apply yet; restore the field, or teardown and create",
            ),
            ("nodes.enabled", Action::Add | Action::Remove) => Some(
                "nodes.enabled: adding or removing the node group is not done by apply yet; restore the field, or teardown and create",
            ),
            _ => None,
        })
        .map(str::to_string)
        .collect()
}

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
    let later = not_yet(&d);
    if !later.is_empty() {
        return Err(RunError::Usage {
            message: format!("apply cannot make these changes yet: {}", later.join("; ")),
            hint: "nothing was changed; the other changes apply once those fields are restored"
                .into(),
        });
    }
    let plan = Plan::build(&profile, &journal.facts());
    let unfinished = journal
        .state
        .steps
        .values()
        .any(|s| s.status != journal::StepStatus::Done);
    let dropped = apply::retire::dropped_steps(journal.state.steps.keys(), &plan.resources);
    if d.changes.is_empty() && !unfinished && dropped.is_empty() {
        ui::print(&format!(
            "No changes: cluster \"{}\" matches {}.\n",
            profile.cluster.name,
            profile_path.display()
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
