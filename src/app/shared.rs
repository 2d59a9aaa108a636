//! `unlock`, `state push` and `state pull`: looking after a state kept in S3.

use super::common::*;
use crate::apply::shared_state::{S3Location, Store};

fn s3_location(path: &Path, what: &str) -> Result<S3Location, RunError> {
    match journal::shared_location(path)? {
        Some(location) => Ok(location),
        None => Err(RunError::Usage {
            message: format!(
                "{what} takes a state in S3 (s3://BUCKET/KEY), not {}",
                path.display()
            ),
            hint: "a local state file's lock goes by itself when its process ends".into(),
        }),
    }
}

fn local_path(path: &Path, what: &str) -> Result<(), RunError> {
    match journal::shared_location(path)? {
        None => Ok(()),
        Some(_) => Err(RunError::Usage {
            message: format!("{what} takes a state file on this machine, not {}", path.display()),
            hint: "push moves a local state to S3 (--state LOCAL --to s3://…); pull brings it back (--state s3://… --to LOCAL)".into(),
        }),
    }
}

/// `unlock`: removes the lock a run that is gone left, after asking; only the lock the ID names.
pub(super) fn unlock(state: &Path, lock_id: &str, yes: bool) -> Result<ExitCode, RunError> {
    let location = s3_location(state, "unlock")?;
    let store = Store::connect(&location).map_err(JournalError::from)?;
    let Some(holder) = store.holder().map_err(JournalError::from)? else {
        ui::print(&format!("{location} is not locked: nothing to do.\n"));
        return Ok(ExitCode::SUCCESS);
    };
    if holder.id != lock_id {
        return Err(RunError::Usage {
            message: format!(
                "the lock on {location} is {} ({}), not {lock_id}: nothing was removed",
                holder.id,
                holder.describe()
            ),
            hint: "a new run took the lock since you read the ID: let it finish".into(),
        });
    }
    if !yes && !interactive() {
        return Err(RunError::Usage {
            message: "unlock needs --yes when it cannot ask (no terminal, or CI is set)".into(),
            hint: "run it on a terminal, or add --yes once you know the run is gone".into(),
        });
    }
    ui::print(&format!(
        "The lock on {location} is held by {}.\nRemove it only if that run is gone: a run still going would keep writing, and the next write of either one fails rather than lose anything.\n",
        holder.describe()
    ));
    if !yes && !ui::confirm("Remove this lock?") {
        return Err(RunError::Cancelled);
    }
    match store.unlock(lock_id).map_err(JournalError::from)? {
        Some(_) => {
            ui::print(&format!("Removed the lock {lock_id} of {location}.\n"));
            Ok(ExitCode::SUCCESS)
        }
        None => Err(RunError::Usage {
            message: format!("the lock on {location} changed while asking: nothing was removed"),
            hint: "run `eksboot unlock` again with the ID another run now names".into(),
        }),
    }
}

/// `state push`: moves a local state into S3 (refused when one is there already).
pub(super) fn push(local: &Path, to: &Path) -> Result<ExitCode, RunError> {
    local_path(local, "state push --state")?;
    let location = s3_location(to, "state push --to")?;
    let Some(journal) = Journal::open(local)? else {
        return Err(RunError::Usage {
            message: format!("there is no state file at {}", local.display()),
            hint: "pass the --state PATH create wrote".into(),
        });
    };
    let store = Store::connect(&location).map_err(JournalError::from)?;
    let held = store
        .lock("eksboot state push")
        .map_err(JournalError::from)?;
    if held.read().map_err(JournalError::from)?.is_some() {
        return Err(RunError::Usage {
            message: format!("{location} already holds a state: nothing was pushed"),
            hint: "pull it first (eksboot state pull), or push to another key".into(),
        });
    }
    let text = serde_json::to_string_pretty(&journal.state).expect("state serialises");
    held.write(text.into_bytes()).map_err(JournalError::from)?;
    drop(held);
    journal.remove()?;
    ui::print(&format!(
        "Moved {} to {location}.\nFrom now on: eksboot status --state {location} (and the same --state for apply, upgrade, resume and teardown), or state = \"s3://{}/…\" in the profile.\n",
        local.display(),
        location.bucket
    ));
    Ok(ExitCode::SUCCESS)
}

/// `state pull`: brings a state in S3 back to a local file (refused when the file exists).
pub(super) fn pull(state: &Path, to: &Path) -> Result<ExitCode, RunError> {
    let location = s3_location(state, "state pull --state")?;
    local_path(to, "state pull --to")?;
    if to.exists() {
        return Err(RunError::Usage {
            message: format!("{} exists: nothing was pulled", to.display()),
            hint: "pull to another path, or move that file away first".into(),
        });
    }
    let Some(journal) = Journal::open(state)? else {
        return Err(RunError::Usage {
            message: format!("there is no state at {location}"),
            hint: "check the bucket and key (eksboot status --state s3://…)".into(),
        });
    };
    if let Some(dir) = to.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| JournalError::Write {
            path: to.to_path_buf(),
            source,
        })?;
    }
    let text = serde_json::to_string_pretty(&journal.state).expect("state serialises");
    journal::write_atomically(to, text.as_bytes()).map_err(|source| JournalError::Write {
        path: to.to_path_buf(),
        source,
    })?;
    journal.remove()?;
    ui::print(&format!("Moved {location} to {}.\n", to.display()));
    Ok(ExitCode::SUCCESS)
}
