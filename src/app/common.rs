//! What every command shares: the error that ends a run (with its exit code and hint), and the
//! few helpers the commands all use. The commands import this; it imports none of them.

pub(super) use std::io::IsTerminal;
pub(super) use std::path::{Path, PathBuf};
pub(super) use std::process::ExitCode;

pub(super) use crate::apply::journal::{self, changed_fields, Journal, JournalError};
pub(super) use crate::apply::shared_state::SharedStateError;
pub(super) use crate::apply::{self, ApplyError, Ctx, ExecuteError, Timing};
pub(super) use crate::aws::{self, Aws, AwsError};
pub(super) use crate::cli::{
    Cli, Command, KubeconfigArgs, KubeconfigAuth, OutputFormat, Overrides, StateTarget,
};
pub(super) use crate::kubeconfig;
pub(super) use crate::plan::iam::caller_principal_arn;
pub(super) use crate::plan::{Plan, PlanFacts};
pub(super) use crate::preflight;
pub(super) use crate::profile::{Profile, ProfileError};
pub(super) use crate::settings;
pub(super) use crate::ui;

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
    /// Exit 1: the cluster exists, but the kubeconfig could not be written.
    #[error("{message}")]
    Kubeconfig { message: String },
    /// Exit 130: the person pressed Ctrl-C; what exists is recorded.
    #[error("{message}")]
    Interrupted { message: String, hint: String },
    /// Exit 1: something in the account must be dealt with first; nothing was changed.
    #[error("{message}")]
    Blocked { message: String, hint: String },
    /// Exit 130: the person said no.
    #[error("cancelled: nothing was created")]
    Cancelled,
}

impl From<crate::sandbox::SandboxError> for RunError {
    fn from(e: crate::sandbox::SandboxError) -> RunError {
        RunError::Blocked {
            message: format!("sandbox: {e}"),
            hint: e.hint(),
        }
    }
}

impl RunError {
    pub fn exit_code(&self) -> u8 {
        match self {
            RunError::Profile(_) | RunError::Usage { .. } => 2,
            RunError::Cancelled | RunError::Interrupted { .. } => 130,
            RunError::Aws(_)
            | RunError::Journal(_)
            | RunError::Preflight
            | RunError::Apply(_)
            | RunError::Blocked { .. }
            | RunError::Kubeconfig { .. } => 1,
        }
    }

    pub fn hint(&self) -> Option<String> {
        match self {
            RunError::Profile(ProfileError::Invalid { .. }) => Some(
                "fix the fields above; `eksboot help plan` and README.md describe each one".into(),
            ),
            RunError::Profile(_) | RunError::Cancelled => None,
            RunError::Usage { hint, .. }
            | RunError::Interrupted { hint, .. }
            | RunError::Blocked { hint, .. } => Some(hint.clone()),
            RunError::Aws(e) => Some(e.hint()),
            RunError::Journal(JournalError::Locked { .. }) => Some(
                "wait for the other run to finish; the lock is released the moment that process ends, however it ends".into(),
            ),
            RunError::Journal(JournalError::Shared(SharedStateError::Locked { .. })) => Some(
                "wait for that run to finish (its lock goes when it ends); only if it is gone for good, remove the lock with the command above".into(),
            ),
            RunError::Journal(JournalError::Shared(SharedStateError::Stale { .. })) => Some(
                "nothing was lost: the state in S3 is what the other writer left; run the same command again".into(),
            ),
            RunError::Journal(JournalError::Shared(SharedStateError::Aws { source, .. })) => {
                Some(source.hint())
            }
            RunError::Journal(JournalError::Shared(_)) => Some(
                "state in S3 is addressed s3://BUCKET/KEY; the README's \"Sharing a cluster with a team\" sets one up".into(),
            ),
            RunError::Journal(_) => Some("check the state file path and its permissions".into()),
            RunError::Kubeconfig { .. } => Some(
                "the cluster is ready: fix the file, then rerun the same command to write it (nothing is created twice)".into(),
            ),
            RunError::Preflight => Some("fix the failed checks above, then run the same command again".into()),
            RunError::Apply(e) => Some(format!(
                "{}; everything made so far is recorded: once that is done, the same command resumes",
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

/// A state file is used only with credentials of the account its cluster is in.
pub(super) fn same_account(
    state_path: &Path,
    state_account: &str,
    caller_account: &str,
) -> Result<(), RunError> {
    if state_account == caller_account {
        return Ok(());
    }
    Err(RunError::Usage {
        message: format!(
            "{} belongs to account {state_account}, but your credentials are for account {caller_account}",
            state_path.display()
        ),
        hint: "use credentials for the account the cluster is in".into(),
    })
}

/// The profile a cluster was made (or last changed) with, from its state file.
pub(super) fn stored_profile(path: &Path) -> Result<Profile, RunError> {
    let state = journal::read_state(path).map_err(|e| match e {
        JournalError::Read { .. } => RunError::Usage {
            message: format!("there is no state file at {}", path.display()),
            hint: "pass the --state PATH create wrote, or --no-state to plan from nothing".into(),
        },
        other => RunError::Journal(other),
    })?;
    Ok(state.profile(path)?)
}

pub(super) fn interactive() -> bool {
    std::io::stdin().is_terminal()
        && std::io::stdout().is_terminal()
        && std::env::var_os("CI").is_none()
        && std::env::var_os("EKSBOOT_NO_PROMPT").is_none()
}

/// The IAM principal running eksboot, with the role's path when IAM lets us read it, and a note
/// when it does not (the path is then assumed to be `/`).
pub(super) async fn caller_principal(aws: &Aws, caller_arn: &str) -> (String, Option<String>) {
    let plain = caller_principal_arn(caller_arn, None);
    let Some(role) = plain.split(":role/").nth(1) else {
        return (plain, None);
    };
    match aws::iam::get_role(aws, role).await {
        Ok(Some(found)) => (found.arn, None),
        Ok(None) => (plain, None),
        Err(e) => {
            let note = format!(
                "could not read the path of your role {role} ({}), so eksboot assumes `/` and names you {plain} in the access entry and the creator role's trust policy; roles with a path (SSO roles live under /aws-reserved/sso.amazonaws.com/…) then get neither: allow iam:GetRole on your role (`eksboot permissions` includes it)",
                e.action()
            );
            (plain, Some(note))
        }
    }
}

/// The state file a command means: `--state`, or the default one of `--cluster`/`--region`.
pub(super) fn state_path(target: &StateTarget) -> Result<PathBuf, RunError> {
    find_state_path(target, true)
}

/// [`state_path`], saying (when `say`) which state it took when none was named.
pub(super) fn find_state_path(target: &StateTarget, say: bool) -> Result<PathBuf, RunError> {
    match (&target.state, &target.cluster, &target.region) {
        (Some(path), _, _) => Ok(path.clone()),
        (None, Some(cluster), Some(region)) => {
            Ok(journal::default_path(Path::new("."), cluster, region))
        }
        (None, cluster, region) => {
            let here = states_here();
            let matching: Vec<&PathBuf> = here
                .iter()
                .filter(|p| state_names(p, cluster.as_deref(), region.as_deref()))
                .collect();
            match matching.as_slice() {
                // The one cluster made from here: no need to name it.
                [only] => {
                    if say {
                        ui::note(&format!(
                            "note: using {}, the only cluster's state here",
                            only.display()
                        ));
                    }
                    Ok(only.to_path_buf())
                }
                _ => Err(RunError::Usage {
                    message: format!(
                        "which cluster? pass --state PATH, or --cluster NAME --region REGION{}",
                        if matching.is_empty() {
                            String::new()
                        } else {
                            format!(
                                " (states here: {})",
                                matching
                                    .iter()
                                    .map(|p| p.display().to_string())
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            )
                        }
                    ),
                    hint: format!(
                        "state files live in {}/<cluster>-<region>.state.json by default",
                        journal::state_dir()
                    ),
                }),
            }
        }
    }
}

/// The state files in this run's state directory, sorted.
pub(super) fn states_here() -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(journal::state_dir())
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with(".state.json"))
        .collect();
    found.sort();
    found
}

/// Whether the state file `path` (`<cluster>-<region>.state.json`) is of `cluster` and `region`,
/// where given.
pub(super) fn state_names(path: &Path, cluster: Option<&str>, region: Option<&str>) -> bool {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_suffix(".state.json"))
        .unwrap_or_default();
    cluster.is_none_or(|c| name.starts_with(&format!("{c}-")))
        && region.is_none_or(|r| name.ends_with(&format!("-{r}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canned_client;
    use crate::test_support::Canned;

    #[test]
    fn a_state_file_is_matched_by_the_cluster_and_region_given() {
        let path = Path::new(".eksboot/web-prod-eu-west-1.state.json");
        assert!(state_names(path, None, None));
        assert!(state_names(path, Some("web-prod"), None));
        assert!(state_names(path, None, Some("eu-west-1")));
        assert!(!state_names(path, Some("web"), Some("us-east-1")));
        assert!(!state_names(path, Some("prod"), None));
    }

    #[tokio::test]
    async fn a_caller_whose_role_path_cannot_be_read_is_told_so() {
        let iam = Canned::default().answer(
            "GetRole",
            403,
            r#"<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User: arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Admin_0123/alice is not authorized to perform: iam:GetRole</Message></Error><RequestId>r-1</RequestId></ErrorResponse>"#,
        );
        let config = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .build();
        let mut aws = Aws::from_config(config);
        aws.iam = canned_client!(aws_sdk_iam, iam);
        let (principal, note) = caller_principal(
            &aws,
            "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Admin_0123/alice",
        )
        .await;
        assert_eq!(
            principal,
            "arn:aws:iam::123456789012:role/AWSReservedSSO_Admin_0123"
        );
        let note = note.expect("a note says the path is a guess");
        assert!(note.contains("could not read the path"), "{note}");
        assert!(note.contains("/aws-reserved/sso.amazonaws.com/"), "{note}");
        assert!(note.contains("iam:GetRole"), "{note}");
        // A user has no path to read: no call, no note.
        let (user, none) = caller_principal(&aws, "arn:aws:iam::123456789012:user/bob").await;
        assert_eq!(user, "arn:aws:iam::123456789012:user/bob");
        assert!(none.is_none());
        assert_eq!(iam.calls("GetRole"), 1);
    }
}
