//! `eksboot permissions`: the IAM policy you (or the creator role) need, as JSON on stdout, or
//! with `--split DIR` as files that each fit one managed policy.

use std::path::Path;
use std::process::ExitCode;

use serde_json::Value;

use super::common::*;
use super::create::{field, settings_table};
use crate::cli::{PolicyFor, WhichPolicy};
use crate::plan::iam::creator_policy_before_create;
use crate::plan::permissions::{
    caller_policy, policy_size, split_into_managed_policies, CallerScope, StatementTooLarge,
    MANAGED_POLICY_QUOTA, ROLE_INLINE_QUOTA, USER_INLINE_QUOTA,
};

pub(super) async fn permissions(
    profile: Option<&Path>,
    overrides: &Overrides,
    account: Option<String>,
    state: Option<&Path>,
    policy_for: WhichPolicy,
) -> Result<ExitCode, RunError> {
    let table = settings_table(profile, overrides)?;
    for (key, flag) in [("name", "--name NAME"), ("region", "--region REGION")] {
        if field(&table, "cluster", key).is_none() {
            return Err(RunError::Usage {
                message: format!("cluster.{key} is missing: the policy is scoped to one cluster"),
                hint: format!("pass {flag}, or --profile FILE with cluster.{key} in it"),
            });
        }
    }
    let origin = profile.map_or_else(
        || Path::new("the command line").to_path_buf(),
        Path::to_path_buf,
    );
    let mut profile = settings::resolve(&table, &origin)?;
    let state = match state {
        Some(path) => match journal::shared_location(path)? {
            Some(location) => Some(location),
            None => {
                // A state on this machine: nothing in S3 to grant.
                profile.state = None;
                profile.state_kms_key = None;
                None
            }
        },
        None => None,
    };
    let account = match account {
        Some(id) => id,
        None => match own_account(&profile.cluster.region).await {
            Some(id) => id,
            None => {
                ui::note("note: no AWS credentials to read your account id from: the ARNs name any account (`*`); pass --account ID to pin it");
                "*".into()
            }
        },
    };
    let document = match policy_for.who {
        PolicyFor::Caller => caller_policy(&CallerScope {
            profile: &profile,
            account: &account,
            state: state.as_ref(),
        }),
        PolicyFor::Creator => creator_policy_before_create(&profile, &account),
    };
    let who = match policy_for.who {
        PolicyFor::Caller => "caller",
        PolicyFor::Creator => "creator",
    };
    match &policy_for.split {
        Some(dir) => {
            write_parts(&document, dir, &profile.cluster.name, who).map_err(|e| match e {
                SplitFailure::TooLarge(e) => RunError::Blocked {
                    message: format!("cannot split the policy: {e}"),
                    hint: "this is a bug in eksboot: please report it with your profile".into(),
                },
                SplitFailure::Io(path, e) => RunError::Usage {
                    message: format!("cannot write {}: {e}", path.display()),
                    hint: "pass --split a directory you can write to".into(),
                },
            })?
        }
        None => {
            let text = serde_json::to_string_pretty(&document).expect("a policy serialises");
            ui::print_stdout(&format!("{text}\n"));
            let size = policy_size(&document);
            if size > MANAGED_POLICY_QUOTA {
                ui::note(&too_long_note(size, policy_for.who));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// What to do with a policy longer than one managed policy holds (IAM's quotas:
/// <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html>).
fn too_long_note(size: usize, who: PolicyFor) -> String {
    let mut note = format!(
        "note: this policy is {} characters (as IAM counts them, white space aside): more than one\n  \
         managed policy holds ({}), and more than a user's inline policies hold in all ({}).\n",
        thousands(size),
        thousands(MANAGED_POLICY_QUOTA),
        thousands(USER_INLINE_QUOTA)
    );
    let attach = match who {
        PolicyFor::Caller => "attach-user-policy --user-name YOU",
        PolicyFor::Creator => "attach-role-policy --role-name ROLE",
    };
    note.push_str(&format!(
        "  Pass --split DIR: it writes parts that each fit. For each part,\n    \
         aws iam create-policy --policy-name NAME --policy-document file://PART\n    \
         aws iam {attach} --policy-arn ARN\n  \
         and attach every part: IAM evaluates them together."
    ));
    if size <= ROLE_INLINE_QUOTA {
        note.push_str(&format!(
            "\n  Or, for a role, put it whole as an inline policy (a role's hold {} in all):\n    \
             aws iam put-role-policy --role-name ROLE --policy-name eksboot --policy-document file://FILE",
            thousands(ROLE_INLINE_QUOTA)
        ));
    }
    note
}

/// `6144` as `6,144`.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Why `--split` wrote nothing (or not all).
enum SplitFailure {
    /// A bug: one of eksboot's statements alone is longer than a managed policy holds.
    TooLarge(StatementTooLarge),
    /// A file or the directory could not be written, read or cleared.
    Io(std::path::PathBuf, std::io::Error),
}

/// Writes `document` as `DIR/eksboot-<cluster>-<who>-<n>.json`, each part a complete policy
/// within one managed policy's quota, and prints their paths. Parts left from an earlier, longer
/// split of the same policy are removed, so that attaching every file of DIR attaches this policy
/// and nothing older.
fn write_parts(document: &Value, dir: &Path, cluster: &str, who: &str) -> Result<(), SplitFailure> {
    let parts = split_into_managed_policies(document, MANAGED_POLICY_QUOTA)
        .map_err(SplitFailure::TooLarge)?;
    let unwritable = |e: std::io::Error, path: &Path| SplitFailure::Io(path.to_path_buf(), e);
    std::fs::create_dir_all(dir).map_err(|e| unwritable(e, dir))?;
    let prefix = format!("eksboot-{cluster}-{who}-");
    let mut written = Vec::new();
    for (n, part) in parts.iter().enumerate() {
        let path = dir.join(format!("{prefix}{}.json", n + 1));
        let text = serde_json::to_string_pretty(part).expect("a policy serialises");
        std::fs::write(&path, format!("{text}\n")).map_err(|e| unwritable(e, &path))?;
        written.push(path);
    }
    let entries = std::fs::read_dir(dir).map_err(|e| unwritable(e, dir))?;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let stale = name
            .to_str()
            .and_then(|n| n.strip_prefix(&prefix))
            .and_then(|n| n.strip_suffix(".json"))
            .and_then(|n| n.parse::<usize>().ok())
            .is_some_and(|n| n > parts.len());
        if stale {
            let path = entry.path();
            std::fs::remove_file(&path).map_err(|e| unwritable(e, &path))?;
            ui::note(&format!(
                "note: removed {}, a part of an earlier split of this policy",
                path.display()
            ));
        }
    }
    for path in &written {
        ui::print_stdout(&format!("{}\n", path.display()));
    }
    let (count, make, together) = match parts.len() {
        1 => (
            "1 part, within".to_string(),
            "it a managed policy and attach it",
            "",
        ),
        n => (
            format!("{n} parts, each within"),
            "each a managed policy and attach every one",
            " (IAM evaluates them together)",
        ),
    };
    let (whom, attach) = if who == "caller" {
        (
            "the user or role you run eksboot as",
            "attach-user-policy --user-name YOU (or attach-role-policy --role-name ROLE)",
        )
    } else {
        ("the creator role", "attach-role-policy --role-name ROLE")
    };
    ui::note(&format!(
        "note: {count} the {} characters of one managed policy. Make {make}\n  \
         to {whom}{together}:\n    \
         aws iam create-policy --policy-name {prefix}N --policy-document file://PATH\n    \
         aws iam {attach} --policy-arn ARN",
        thousands(MANAGED_POLICY_QUOTA)
    ));
    Ok(())
}

/// The account of the current credentials, if there are any (GetCallerIdentity needs no
/// permission).
async fn own_account(region: &str) -> Option<String> {
    let aws = Aws::connect(region, &crate::aws::TransportRetry::from_env())
        .await
        .ok()?;
    aws::sts::caller_identity(&aws)
        .await
        .ok()
        .map(|id| id.account)
}
