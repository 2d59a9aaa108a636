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
            let mut table = toml::Table::new();
            let mut cluster = toml::Table::new();
            cluster.insert("name".into(), args.target.cluster.clone()?.into());
            cluster.insert("region".into(), args.target.region.clone()?.into());
            table.insert("cluster".into(), cluster.into());
            crate::settings::resolve(&table, Path::new("the command line")).ok()
        }),
        _ => None,
    }
}

/// The profile a state on this machine holds.
fn stored(target: &StateTarget) -> Option<Profile> {
    let path = find_state_path(target, false).ok()?;
    journal::read_state(&path).ok()?.profile(&path).ok()
}

/// In the sandbox, gives its identity what `eksboot permissions` prints for `profile`.
pub(super) async fn authorize(profile: &Profile) -> Result<(), RunError> {
    Ok(crate::sandbox::authorize(profile).await?)
}

/// In the sandbox, before the wizard: what it reads about the account (availability zones,
/// versions, roles, keys) is granted by the policy of any cluster in `region`; the cluster it
/// makes gets its own policy once it is named.
pub(super) async fn authorize_wizard(region: Option<&str>) -> Result<(), RunError> {
    if crate::sandbox::session().is_none() {
        return Ok(());
    }
    let mut table = toml::Table::new();
    let mut cluster = toml::Table::new();
    cluster.insert("name".into(), "wizard".into());
    cluster.insert("region".into(), region.unwrap_or("us-east-1").into());
    table.insert("cluster".into(), cluster.into());
    let profile = crate::settings::resolve(&table, Path::new("the wizard"))?;
    authorize(&profile).await
}
