//! The sandbox at the command level: before a command runs, the sandbox identity is given
//! exactly what `eksboot permissions` prints for the cluster the command is about (as a person
//! attaches it on AWS); `stop` ends the sandbox.

use std::path::Path;

use super::common::*;
use super::create::settings_table;
use crate::cli::StateTarget;

/// `eksboot --sandbox stop`.
pub(super) fn stop(in_sandbox: bool) -> Result<ExitCode, RunError> {
    if !in_sandbox {
        return Err(RunError::Usage {
            message: "`stop` ends the sandbox".into(),
            hint: "eksboot --sandbox stop".into(),
        });
    }
    let said = crate::sandbox::stop()?;
    ui::print(&crate::ui::mark_lines(&format!("{said}\n")));
    Ok(ExitCode::SUCCESS)
}

/// The cluster `command` is about, as a profile: the one it names, else the one its state
/// holds. `None` when it names none (the wizard), or when it cannot be read: the command then
/// says why itself.
pub(super) fn profile_of(command: Option<&Command>) -> Option<Profile> {
    let from_file = |path: &Path| Profile::load(path).ok();
    match command? {
        Command::Plan(args) => from_file(&args.profile),
        Command::Preflight { profile, .. } => from_file(profile),
        Command::Apply { profile, .. } => from_file(profile),
        Command::Create(args) => {
            let table = settings_table(args.profile.as_deref(), &args.overrides).ok()?;
            let origin = args
                .profile
                .clone()
                .unwrap_or_else(|| "the command line".into());
            crate::settings::resolve(&table, &origin).ok()
        }
        Command::Upgrade {
            target, profile, ..
        } => match profile {
            Some(path) => from_file(path),
            None => stored(target),
        },
        Command::Resume { target, .. } | Command::Status { target, .. } => stored(target),
        Command::Teardown(args) => stored(&args.target).or_else(|| {
            // No state left: teardown finds the cluster by its tags, from its name and region.
            named(
                args.target.cluster.as_deref()?,
                args.target.region.as_deref()?,
            )
            .ok()
        }),
        _ => None,
    }
}

/// The cluster the wizard chose to create, change, upgrade or tear down, as a profile.
pub(super) fn profile_chosen(choice: &super::wizard::WizardChoice) -> Option<Profile> {
    use super::wizard::WizardChoice;
    match choice {
        WizardChoice::Create { profile, .. } => Some(profile.clone()),
        WizardChoice::Apply { profile, .. } => Profile::load(profile).ok(),
        WizardChoice::Upgrade(target) | WizardChoice::Teardown(target) => stored(target),
        WizardChoice::Saved | WizardChoice::Exited(_) => None,
    }
}

/// A profile of just a cluster's name and region (every other field its default).
fn named(cluster: &str, region: &str) -> Result<Profile, RunError> {
    let mut fields = toml::Table::new();
    fields.insert("name".into(), cluster.into());
    fields.insert("region".into(), region.into());
    let mut table = toml::Table::new();
    table.insert("cluster".into(), fields.into());
    Ok(crate::settings::resolve(
        &table,
        Path::new("the command line"),
    )?)
}

/// The profile a state on this machine holds.
fn stored(target: &StateTarget) -> Option<Profile> {
    let path = find_state_path(target, false).ok()?;
    journal::read_state(&path).ok()?.profile(&path).ok()
}

/// In the sandbox, gives its identity what `eksboot permissions` prints for `profile`.
pub(super) async fn authorize(profile: &Profile) -> Result<(), RunError> {
    for arn in crate::sandbox::authorize(profile).await? {
        ui::note(&format!(
            "note: made {arn} in the sandbox: the profile names it as an admin, and a fresh sandbox account has no roles or users of yours"
        ));
    }
    Ok(())
}

/// In the sandbox, before the wizard: what it reads about the account (availability zones,
/// versions, roles, keys) is granted by the policy of any cluster in `region`; the cluster it
/// makes gets its own policy once it is named.
pub(super) async fn authorize_wizard(region: Option<&str>) -> Result<(), RunError> {
    if crate::sandbox::session().is_none() {
        return Ok(());
    }
    authorize(&named("wizard", region.unwrap_or("us-east-1"))?).await
}
