//! Runs a parsed command line: loads the profile, calls the pure parts, the adapters and the
//! executor, and hands results to the UI. Errors carry their exit code and a hint.
//! `create` (with the wizard), `teardown`/`status`, and `token` each have a file.

mod change;
mod create;
mod permissions;
mod teardown;
mod token;
mod upgrade;
mod wizard;

pub use create::{CreateRequest, KubeconfigTarget};

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::apply::journal::{self, changed_fields, Journal, JournalError};
use crate::apply::{self, ApplyError, Ctx, ExecuteError, Timing};
use crate::aws::{self, Aws, AwsError};
use crate::cli::{
    Cli, Command, KubeconfigArgs, KubeconfigAuth, OutputFormat, Overrides, StateTarget,
};
use crate::kubeconfig;
use crate::plan::iam::caller_principal_arn;
use crate::plan::{Plan, PlanFacts};
use crate::preflight;
use crate::profile::{Profile, ProfileError};
use crate::settings;
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

pub async fn run(cli: Cli) -> Result<ExitCode, RunError> {
    ui::set_verbose(cli.verbose > 0);
    match cli.command {
        None => wizard_alone().await,
        Some(Command::Plan(crate::cli::PlanArgs {
            profile,
            state,
            no_state,
            live,
            output,
        })) => plan(&profile, state, no_state, live, output).await,
        Some(Command::Permissions {
            profile,
            overrides,
            account,
            policy_for,
        }) => permissions::permissions(profile.as_deref(), &overrides, account, policy_for).await,
        Some(Command::Preflight { profile }) => preflight_command(&profile).await,
        Some(Command::Create(crate::cli::CreateArgs {
            profile,
            overrides,
            save_profile,
            no_input,
            yes,
            state,
            kubeconfig,
            output,
        })) => {
            ui::set_json_mode(output == OutputFormat::Json);
            let request = CreateRequest {
                profile,
                overrides,
                yes,
                state,
                kubeconfig: kubeconfig.into(),
                save_profile,
                no_input,
            };
            create_or_wizard(request).await
        }
        Some(Command::Apply {
            profile,
            state,
            yes,
            kubeconfig,
            choices,
            output,
        }) => {
            ui::set_json_mode(output == OutputFormat::Json);
            let software = change::SoftwareChoice {
                delete: choices.names,
                force: choices.force,
            };
            let drain = apply::drain::DrainPolicy {
                budget: choices.drain_timeout,
                force: choices.force,
                let_eks_drain: false,
            };
            change::apply_with(&profile, state, yes, kubeconfig.into(), &software, drain).await
        }
        Some(Command::Upgrade {
            target,
            profile,
            yes,
            choices,
            output,
        }) => {
            ui::set_json_mode(output == OutputFormat::Json);
            upgrade::upgrade(&target, profile.as_deref(), yes, choices).await
        }
        Some(Command::Resume {
            target,
            yes,
            kubeconfig,
            output,
        }) => {
            ui::set_json_mode(output == OutputFormat::Json);
            let path = state_path(&target)?;
            let state = journal::read_state(&path).map_err(|e| match e {
                JournalError::Read { .. } => RunError::Usage {
                    message: format!("there is no state file at {}", path.display()),
                    hint: "pass --state PATH, or run create with the profile".into(),
                },
                other => RunError::Journal(other),
            })?;
            let profile = state.profile(&path)?;
            let kubeconfig_target = kubeconfig.into();
            create::create(
                profile,
                &path.display().to_string(),
                yes,
                Some(path),
                kubeconfig_target,
            )
            .await
        }
        Some(Command::Status {
            target,
            live,
            output,
        }) => {
            ui::set_json_mode(output == OutputFormat::Json);
            teardown::status(&target, live).await
        }
        Some(Command::Teardown(crate::cli::TeardownArgs {
            target,
            yes,
            force,
            key_deletion_days,
            kubeconfig,
            output,
        })) => {
            ui::set_json_mode(output == OutputFormat::Json);
            teardown::teardown(&target, yes, force, key_deletion_days, kubeconfig).await
        }
        Some(Command::Token {
            cluster,
            region,
            role_arn,
        }) => token::token(&cluster, region.as_deref(), role_arn.as_deref()).await,
    }
}

/// `plan`: today's plan, or, when the cluster's state file exists, the change to it (against
/// the stored profile, or with `live` against what AWS holds, read-only).
async fn plan(
    profile_path: &Path,
    state: Option<PathBuf>,
    no_state: bool,
    live: bool,
    output: OutputFormat,
) -> Result<ExitCode, RunError> {
    let profile = Profile::load(profile_path)?;
    let plan = Plan::build(&profile, &PlanFacts::default());
    let explicit = state.is_some();
    let state_path = state.unwrap_or_else(|| {
        journal::default_path(
            Path::new("."),
            &profile.cluster.name,
            &profile.cluster.region,
        )
    });
    if no_state || (!explicit && !state_path.exists()) {
        ui::print(&match output {
            OutputFormat::Text => ui::render_plan_text(&profile, &plan),
            OutputFormat::Json => ui::render_plan_json(&profile, &plan),
        });
        return Ok(ExitCode::SUCCESS);
    }
    let before = stored_profile(&state_path)?;
    let (diff, against) = if live {
        let state = journal::read_state(&state_path)?;
        let aws = Aws::connect(
            &before.cluster.region,
            &crate::aws::TransportRetry::from_env(),
        )
        .await?;
        let seen = observe(&aws, &state, &before).await?;
        // The live desired size is kept unless the profile changes it (what apply does).
        (
            crate::plan::diff::diff_live(&before, &seen, &profile),
            format!("AWS (read now; state file {})", state_path.display()),
        )
    } else {
        (
            crate::plan::diff::diff(&before, &profile),
            state_path.display().to_string(),
        )
    };
    ui::print(&match output {
        OutputFormat::Text => {
            let mut text = ui::render_diff_text(&profile, &plan, &diff, &against);
            if !diff.changes.is_empty() && diff.refused.is_empty() {
                text.push_str(&format!(
                    "\nMake the change: eksboot apply --profile {}\n",
                    profile_path.display()
                ));
            }
            text
        }
        OutputFormat::Json => ui::render_diff_json(&profile, &plan, &diff),
    });
    Ok(ExitCode::SUCCESS)
}

/// `preflight`: the read-only checks, exit 1 when one fails.
async fn preflight_command(profile: &Path) -> Result<ExitCode, RunError> {
    let profile = Profile::load(profile)?;
    let aws = Aws::connect(
        &profile.cluster.region,
        &crate::aws::TransportRetry::from_env(),
    )
    .await?;
    let report = preflight::run(&aws, &profile).await;
    ui::print(&ui::render_preflight(&profile, &report));
    Ok(if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `eksboot` alone: the wizard, which needs a person at a terminal.
async fn wizard_alone() -> Result<ExitCode, RunError> {
    if !interactive() {
        ui::print(&ui::render_welcome());
        return Err(RunError::Usage {
            message: "the wizard needs a terminal (and CI, EKSBOOT_NO_PROMPT unset)".into(),
            hint: "run `eksboot` in a terminal, or replay a profile: eksboot create --profile FILE --yes".into(),
        });
    }
    let request = CreateRequest {
        profile: None,
        overrides: Overrides::default(),
        yes: false,
        state: None,
        kubeconfig: KubeconfigTarget {
            path: None,
            switch_context: true,
            auth: KubeconfigAuth::Eksboot,
        },
        save_profile: None,
        no_input: false,
    };
    create_or_wizard(request).await
}

/// `create` (and `eksboot` alone): from the profile and flags, or, with neither and a person
/// at a terminal, through the wizard, whose choice (create, apply a change, upgrade, tear down)
/// is carried out here.
async fn create_or_wizard(request: CreateRequest) -> Result<ExitCode, RunError> {
    use wizard::WizardChoice;
    if !create::wants_wizard(&request) {
        return create::create_command(request).await;
    }
    let table = create::settings_table(None, &request.overrides)?;
    match wizard::run_wizard(&table, request.save_profile.as_deref()).await? {
        WizardChoice::Create { profile, saved } => {
            let source = saved.display().to_string();
            create::create(profile, &source, true, request.state, request.kubeconfig).await
        }
        WizardChoice::Saved => Ok(ExitCode::SUCCESS),
        WizardChoice::Apply { profile, state } => {
            change::apply(
                &profile,
                Some(state),
                false,
                KubeconfigTarget {
                    path: None,
                    switch_context: true,
                    auth: KubeconfigAuth::Eksboot,
                },
            )
            .await
        }
        WizardChoice::Upgrade(target) => upgrade::upgrade(&target, None, false, false).await,
        WizardChoice::Teardown(target) => teardown::teardown(&target, false, false, 7, None).await,
    }
}

/// A state file is used only with credentials of the account its cluster is in.
fn same_account(
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

/// What AWS holds of a running cluster, in profile terms (read-only calls, as you).
async fn observe(
    aws: &Aws,
    state: &journal::State,
    stored: &Profile,
) -> Result<crate::plan::diff::Observed, RunError> {
    use crate::plan::diff::{Observed, ObservedNodes};
    let name = stored.cluster.name.as_str();
    let Some(cluster) = aws::eks::describe_cluster(&aws.eks, name).await? else {
        return Err(RunError::Blocked {
            message: format!(
                "cluster {name} is not in {} (the state file says it was made)",
                stored.cluster.region
            ),
            hint: "`eksboot status --live` shows what is left; `eksboot resume` makes it again"
                .into(),
        });
    };
    let recorded = |step: &str| state.steps.get(step).and_then(|r| r.outputs.clone());
    let mut not_admins: Vec<String> = Vec::new();
    if let Some(o) = recorded("access-entry-caller") {
        not_admins.push(o.id);
    }
    match stored.security.creator_role.existing_arn() {
        Some(arn) => not_admins.push(arn.to_string()),
        None => not_admins.extend(recorded("creator-role").and_then(|o| o.arn)),
    }
    // Auto Mode's nodes hold an entry EKS made for the node role: not an admin.
    if let Some(auto) = &cluster.auto_mode {
        not_admins.push(auto.node_role_arn.clone());
    }
    let admins = aws::eks::list_access_entries(&aws.eks, name)
        .await?
        .into_iter()
        .filter(|a| !not_admins.contains(a))
        .collect();
    let issuer = cluster.oidc_issuer.trim_start_matches("https://");
    let oidc_arn = format!(
        "arn:{}:iam::{}:oidc-provider/{issuer}",
        crate::plan::iam::partition(&stored.cluster.region),
        state.account
    );
    let oidc_provider =
        !issuer.is_empty() && aws::iam::oidc_provider_exists(&aws.iam, &oidc_arn).await?;
    let mut nodes = None;
    for group in aws::eks::list_nodegroups(&aws.eks, name).await? {
        if let Some(n) = aws::eks::describe_nodegroup(&aws.eks, name, &group).await? {
            let disk = match recorded("launch-template") {
                Some(t) => aws::ec2::launch_template_disk(aws, &t.id)
                    .await?
                    .map(|(_, d)| d as u32),
                None => None,
            };
            let (min, desired, max) = n.scaling;
            nodes = Some(ObservedNodes {
                instance_types: n.instance_types,
                scaling: (min as u32, desired as u32, max as u32),
                disk_size_gib: disk,
                auto_repair: Some(n.auto_repair),
                os: crate::plan::diff::os_from_ami_type(&n.ami_type),
            });
        }
    }
    Ok(Observed {
        endpoint: Some((
            cluster.endpoint_public,
            cluster.endpoint_private,
            cluster.public_access_cidrs,
        )),
        log_types: Some(cluster.enabled_log_types),
        log_retention_days: aws::logs::retention(aws, &format!("/aws/eks/{name}/cluster")).await?,
        admins: Some(admins),
        addons: Some(aws::eks::list_addons(&aws.eks, name).await?),
        oidc_provider: Some(oidc_provider),
        support: crate::plan::diff::support_from_eks(&cluster.support_type),
        deletion_protection: Some(cluster.deletion_protection),
        node_pools: cluster.auto_mode.as_ref().map(|a| a.node_pools.clone()),
        nodes: Some(nodes),
    })
}

/// The profile a cluster was made (or last changed) with, from its state file.
fn stored_profile(path: &Path) -> Result<Profile, RunError> {
    let state = journal::read_state(path).map_err(|e| match e {
        JournalError::Read { .. } => RunError::Usage {
            message: format!("there is no state file at {}", path.display()),
            hint: "pass the --state PATH create wrote, or --no-state to plan from nothing".into(),
        },
        other => RunError::Journal(other),
    })?;
    Ok(state.profile(path)?)
}

fn interactive() -> bool {
    std::io::stdin().is_terminal()
        && std::io::stdout().is_terminal()
        && std::env::var_os("CI").is_none()
        && std::env::var_os("EKSBOOT_NO_PROMPT").is_none()
}

/// The IAM principal running eksboot, with the role's path when IAM lets us read it, and a note
/// when it does not (the path is then assumed to be `/`).
async fn caller_principal(aws: &Aws, caller_arn: &str) -> (String, Option<String>) {
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
fn state_path(target: &StateTarget) -> Result<PathBuf, RunError> {
    match (&target.state, &target.cluster, &target.region) {
        (Some(path), _, _) => Ok(path.clone()),
        (None, Some(cluster), Some(region)) => {
            Ok(journal::default_path(Path::new("."), cluster, region))
        }
        _ => Err(RunError::Usage {
            message: "which cluster? pass --state PATH, or --cluster NAME --region REGION".into(),
            hint: "state files live in .eksboot/<cluster>-<region>.state.json by default".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canned_client;
    use crate::test_support::Canned;

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
