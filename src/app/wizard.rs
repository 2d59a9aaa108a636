//! The wizard session on a terminal: greeting, region, discovery, questions, saved profile.

use std::path::Path;

use super::common::*;
use super::create::field;

/// What the person chose in the wizard; the command layer carries it out (the wizard itself
/// only asks, saves the profile, and returns).
pub(super) enum WizardChoice {
    /// Create the cluster of this profile, saved at `saved`.
    Create {
        profile: Profile,
        saved: PathBuf,
    },
    /// The profile was saved to create later, or a change saved to apply later.
    Saved,
    /// Apply the edited profile (saved at `profile`) to the cluster of `state`.
    Apply {
        profile: PathBuf,
        state: PathBuf,
    },
    Upgrade(StateTarget),
    Teardown(StateTarget),
    /// The session ended here without a profile (after showing how to set up credentials),
    /// or went on elsewhere (the sandbox, run as a command of its own), with this exit code.
    Exited(ExitCode),
}

/// The wizard: region, discovery, questions, plan; saves the profile and returns what to do.
/// Without credentials it offers how to set them up, planning offline, or the sandbox.
pub(super) async fn run_wizard(
    table: &toml::Table,
    save_to: Option<&Path>,
) -> Result<WizardChoice, RunError> {
    use crate::wizard::{self, terminal::Terminal, Asked, Choice, Prompter, Question};
    let mut prompter = Terminal;
    prompter.say(&wizard::greeting());
    if ui::sandbox() {
        prompter.say("This is the sandbox: everything below happens in eksboot's AWS emulator on this\nmachine, as an identity holding only what `eksboot permissions` prints. Nothing reaches AWS,\nnothing costs money, and your AWS and kubectl settings are neither read nor written.\n");
    }
    let cancelled = || RunError::Cancelled;
    let region = ask_region(&mut prompter, table).await?;
    let (aws, caller) = match connect_as_caller(&region).await? {
        Connected::As(aws, caller) => (aws, caller),
        Connected::WithoutCredentials(missing) => {
            return without_credentials(&mut prompter, table, &region, &missing, save_to).await
        }
    };
    ui::print(&format!(
        "You are {} in account {}.\n",
        caller.arn, caller.account
    ));
    let discovery = wizard::terminal::discover(&aws, &region, &caller.account).await?;
    // Day two: clusters eksboot made here (their state files) can be changed, upgraded or torn
    // down from the wizard too.
    let made = clusters_made_here(&region, &caller.account);
    if !made.is_empty() {
        let mut options = Vec::new();
        for (cluster, _) in &made {
            options.push(format!(
                "Change {cluster}: edit its answers, see the difference and the cost, apply"
            ));
            options.push(format!("Upgrade {cluster} to the next Kubernetes version"));
            options.push(format!("Tear down {cluster}"));
        }
        options.push("Make a new cluster".to_string());
        let names: Vec<&str> = made.iter().map(|(c, _)| c.as_str()).collect();
        let i = prompter
            .select(
                &Question {
                    id: "day-two",
                    label: format!(
                        "eksboot made {} in {region} from this directory. What would you like to do?",
                        names.join(", ")
                    ),
                    help: "Changing shows the difference before anything happens; upgrading reads the cluster's upgrade insights first; tearing down asks you to type the cluster's name.".into(),
                },
                &options,
                0,
            )
            .map_err(|_| cancelled())?;
        if i < made.len() * 3 {
            let (_, state) = &made[i / 3];
            let target = StateTarget {
                state: Some(state.clone()),
                cluster: None,
                region: None,
            };
            return match i % 3 {
                0 => change_cluster(&mut prompter, &discovery, state, save_to),
                1 => Ok(WizardChoice::Upgrade(target)),
                _ => Ok(WizardChoice::Teardown(target)),
            };
        }
    }
    if discovery.availability_zones.len() < 2 {
        return Err(RunError::Usage {
            message: format!("{region} has fewer than two availability zones EKS can use"),
            hint: "pick another region (run eksboot again)".into(),
        });
    }
    let preset = wizard::Answers::from_table(table);
    // The plan shown is the plan of the profile as saved: version and AZs resolved.
    let plan_text = |profile: &Profile| {
        let resolved = wizard::resolve(profile, &discovery);
        ui::render_plan_text(&resolved, &Plan::build(&resolved, &PlanFacts::default()))
    };
    let (profile, choice) = match wizard::run(&mut prompter, &discovery, preset, &plan_text) {
        Ok(done) => done,
        Err(Asked::Back) | Err(Asked::Cancelled) => return Err(cancelled()),
    };
    let profile = wizard::resolve(&profile, &discovery);
    if choice == Choice::Quit {
        return Err(cancelled());
    }
    let path = save_profile(&mut prompter, &profile, save_to)?;
    ui::print(&format!(
        "Saved the profile to {0}. The same cluster again: eksboot create --profile {0} --yes\n",
        path.display()
    ));
    Ok(match choice {
        Choice::Create => WizardChoice::Create {
            profile,
            saved: path,
        },
        _ => WizardChoice::Saved,
    })
}

/// Writes the wizard's profile where `save_to` says, else to the default place, asking before
/// overwriting a file there. Returns where it went.
fn save_profile(
    prompter: &mut crate::wizard::terminal::Terminal,
    profile: &Profile,
    save_to: Option<&Path>,
) -> Result<PathBuf, RunError> {
    use crate::wizard::{self, Prompter, Question};
    let path = save_to.map(Path::to_path_buf).unwrap_or_else(|| {
        wizard::default_save_path(&profile.cluster.name, Path::new("profiles").is_dir())
    });
    if path.exists() {
        let overwrite = prompter
            .confirm(
                &Question {
                    id: "overwrite",
                    label: format!("{} exists. Overwrite it?", path.display()),
                    help: "No keeps the file and stops here; pass --save-profile PATH to save elsewhere.".into(),
                },
                false,
            )
            .map_err(|_| RunError::Cancelled)?;
        if !overwrite {
            return Err(RunError::Cancelled);
        }
    }
    journal::write_atomically(&path, wizard::profile_file(profile).as_bytes()).map_err(|e| {
        RunError::Usage {
            message: format!("cannot save the profile to {}: {e}", path.display()),
            hint: "pass --save-profile PATH to save it elsewhere".into(),
        }
    })?;
    Ok(path)
}

/// Whether AWS knows the caller: connected, or no usable credentials (none found, or refused
/// as expired or invalid), with the SDK's or AWS's own reason.
enum Connected {
    As(Aws, aws::sts::CallerIdentity),
    WithoutCredentials(MissingCredentials),
}

/// Why the wizard has no usable credentials.
struct MissingCredentials {
    /// AWS refused them (expired or invalid), rather than none being found.
    refused: bool,
    /// The SDK's or AWS's own words; empty when it gave none.
    reason: String,
}

/// Connects and asks STS who the caller is. No credentials, and credentials STS refuses
/// (an expired session, a wrong key), are not errors here: the wizard offers ways on.
async fn connect_as_caller(region: &str) -> Result<Connected, RunError> {
    let aws = match Aws::connect(region, &crate::aws::TransportRetry::from_env()).await {
        Ok(aws) => aws,
        Err(AwsError::NoCredentials(reason)) => {
            return Ok(Connected::WithoutCredentials(MissingCredentials {
                refused: false,
                reason,
            }))
        }
        Err(e) => return Err(e.into()),
    };
    match aws::sts::caller_identity(&aws).await {
        Ok(caller) => Ok(Connected::As(aws, caller)),
        Err(AwsError::BadCredentials { failure, .. }) => {
            Ok(Connected::WithoutCredentials(MissingCredentials {
                refused: true,
                reason: format!("{}: {}", failure.code, failure.message),
            }))
        }
        Err(e) => Err(e.into()),
    }
}

/// The AWS CLI profile the SDK reads: `AWS_PROFILE`, else `default`.
fn aws_profile_name() -> String {
    std::env::var("AWS_PROFILE")
        .ok()
        .filter(|name| !name.trim().is_empty())
        .unwrap_or_else(|| "default".to_string())
}

/// What the wizard says, once, when it has no usable credentials: what happened, the SDK's own
/// reason, and for an SSO session the exact login command (for the AWS CLI profile `profile`).
fn explain_missing_credentials(missing: &MissingCredentials, profile: &str) -> String {
    let what = if missing.refused {
        "AWS refused your credentials"
    } else if missing.reason.is_empty() {
        "No AWS credentials were found"
    } else {
        "Your AWS credentials could not be loaded"
    };
    let mut out = format!("{what}, so eksboot cannot look at your account.\n");
    if !missing.reason.is_empty() {
        out.push_str(&format!("  The AWS SDK says: {}\n", missing.reason));
    }
    if missing.reason.to_lowercase().contains("sso") {
        // The SDK reads the IAM Identity Center session that `aws sso login` starts; when it
        // has expired (or never started) only that command renews it:
        // https://docs.aws.amazon.com/cli/latest/userguide/sso-using-profile.html
        out.push_str(&format!(
            "  Your SSO session has expired or was never started: run `aws sso login --profile {profile}`, then eksboot again.\n"
        ));
    } else if missing.refused {
        out.push_str(&format!(
            "  Refresh them: `aws sso login --profile {profile}` if you sign in through IAM Identity Center, else new access keys from whoever issued them.\n"
        ));
    }
    out
}

/// The usual ways to give the AWS SDK credentials, one line each, the easiest first (the
/// SDK's credential chain finds any of them):
/// https://docs.aws.amazon.com/sdkref/latest/guide/standardized-credentials.html
/// https://docs.aws.amazon.com/cli/latest/userguide/cli-chap-configure.html
const CREDENTIAL_WAYS: &str = "Ways to give eksboot AWS credentials (any one will do):
  aws configure sso                      sign in through IAM Identity Center (SSO); later `aws sso login --profile NAME` renews the session
  aws configure                          store an access key ID and secret access key in ~/.aws/credentials
  export AWS_PROFILE=NAME                use a profile already in ~/.aws/config
  export AWS_ACCESS_KEY_ID=… AWS_SECRET_ACCESS_KEY=…   keys in the environment (and AWS_SESSION_TOKEN for temporary ones)
  AWS CloudShell                         a shell in the AWS console, already signed in: run eksboot there
What your identity must be allowed to do: `eksboot permissions` prints it (README: What you need).
Then run eksboot again.
";

/// No usable credentials: says so once, then offers how to set them up, planning without AWS,
/// or the sandbox.
async fn without_credentials(
    prompter: &mut crate::wizard::terminal::Terminal,
    table: &toml::Table,
    region: &str,
    missing: &MissingCredentials,
    save_to: Option<&Path>,
) -> Result<WizardChoice, RunError> {
    use crate::wizard::{Prompter, Question};
    prompter.say(&explain_missing_credentials(missing, &aws_profile_name()));
    let mut options = vec![
        "Show how to set up AWS credentials, to run eksboot again with them".to_string(),
        "Plan only: the questions, then the plan and its cost (no AWS call)".to_string(),
    ];
    // Already in the sandbox, offering it again would start one inside the other.
    let sandbox_offered = !ui::sandbox();
    if sandbox_offered {
        options.push("The sandbox: try it all on a local AWS emulator, at no cost".to_string());
    }
    let question = Question {
        id: "no-credentials",
        label: "How would you like to go on?".into(),
        help: "Plan only asks the same questions and shows what would be made and what it costs, without calling AWS. The sandbox rehearses creating, changing and tearing down a cluster against a local emulator.".into(),
    };
    match prompter
        .select(&question, &options, 0)
        .map_err(|_| RunError::Cancelled)?
    {
        0 => {
            prompter.say(CREDENTIAL_WAYS);
            Ok(WizardChoice::Exited(ExitCode::SUCCESS))
        }
        1 => plan_offline(prompter, table, region, save_to).await,
        _ => rerun_in_sandbox().await,
    }
}

/// Plan only: the same questions with nothing read from AWS (zones counted, the version left
/// to create time, existing roles, keys and admins unchecked), ending with the saved profile,
/// the plan and the command that creates it. The plan screen's first choice saves.
async fn plan_offline(
    prompter: &mut crate::wizard::terminal::Terminal,
    table: &toml::Table,
    region: &str,
    save_to: Option<&Path>,
) -> Result<WizardChoice, RunError> {
    use crate::wizard::{self, Asked, Choice, Prompter};
    prompter.say(
        "Planning without AWS: the availability zones are counted (create picks them), the Kubernetes version is the newest at create time, and roles, keys, admins and cluster names are checked by `eksboot preflight` once you have credentials.\n",
    );
    let discovery = wizard::terminal::discover_offline(region).await;
    let preset = wizard::Answers::from_table(table);
    let plan_text = |profile: &Profile| {
        let resolved = wizard::resolve(profile, &discovery);
        ui::render_plan_text(&resolved, &Plan::build(&resolved, &PlanFacts::default()))
    };
    let (profile, choice) = match wizard::run(prompter, &discovery, preset, &plan_text) {
        Ok(done) => done,
        Err(Asked::Back) | Err(Asked::Cancelled) => return Err(RunError::Cancelled),
    };
    if choice == Choice::Quit {
        return Err(RunError::Cancelled);
    }
    let profile = wizard::resolve(&profile, &discovery);
    let path = save_profile(prompter, &profile, save_to)?;
    ui::print(&format!(
        "Saved the profile to {0}. Nothing was created.\n`eksboot plan --profile {0}` shows this plan again. Once you have AWS credentials, create it with:\n  eksboot create --profile {0}\n",
        path.display()
    ));
    Ok(WizardChoice::Saved)
}

/// The sandbox: this same program again as `eksboot --sandbox <the arguments given>`, on this
/// terminal; its exit code is the session's. Ctrl-C goes to it (it stops cleanly) while this
/// process, only waiting, ignores it.
async fn rerun_in_sandbox() -> Result<WizardChoice, RunError> {
    let program = std::env::current_exe().map_err(|e| RunError::Usage {
        message: format!("cannot find eksboot's own program to start the sandbox: {e}"),
        hint: "run `eksboot --sandbox` yourself".into(),
    })?;
    let mut command = std::process::Command::new(&program);
    command.arg("--sandbox").args(std::env::args_os().skip(1));
    #[cfg(unix)]
    let _ignore_ctrl_c =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()).ok();
    let status = tokio::task::spawn_blocking(move || command.status())
        .await
        .map_err(|e| std::io::Error::other(e.to_string()))
        .and_then(|status| status)
        .map_err(|e| RunError::Usage {
            message: format!("cannot start {} --sandbox: {e}", program.display()),
            hint: "run `eksboot --sandbox` yourself".into(),
        })?;
    Ok(WizardChoice::Exited(ExitCode::from(exit_code_of(status))))
}

/// A finished child's exit code as a shell reports it: its own, or 128 + the signal that
/// ended it.
fn exit_code_of(status: std::process::ExitStatus) -> u8 {
    if let Some(code) = status.code() {
        return u8::try_from(code).unwrap_or(1);
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return u8::try_from(128 + signal).unwrap_or(1);
        }
    }
    1
}

/// The region: the profile's or flag's, else the one in the person's AWS settings if they
/// confirm it, else picked from the list.
async fn ask_region(
    prompter: &mut crate::wizard::terminal::Terminal,
    table: &toml::Table,
) -> Result<String, RunError> {
    use crate::wizard::{self, Prompter, Question};
    let cancelled = || RunError::Cancelled;
    let region = match field(table, "cluster", "region").and_then(|v| v.as_str()) {
        Some(r) => r.to_string(),
        None => {
            let suggested = aws::default_region().await;
            let use_suggested = match &suggested {
                Some(r) => prompter
                    .confirm(
                        &Question {
                            id: "region",
                            label: format!("Create the cluster in {r} (from your AWS settings)?"),
                            help: "The AWS region holds the cluster and everything around it. Pick one close to your users.".into(),
                        },
                        true,
                    )
                    .map_err(|_| cancelled())?,
                None => false,
            };
            if use_suggested {
                suggested.expect("checked")
            } else {
                let options: Vec<String> = wizard::terminal::REGIONS
                    .iter()
                    .map(|r| r.to_string())
                    .collect();
                let i = prompter
                    .select(
                        &Question {
                            id: "region",
                            label: "Which AWS region?".into(),
                            help: "Type to filter. Pick one close to your users.".into(),
                        },
                        &options,
                        3,
                    )
                    .map_err(|_| cancelled())?;
                options[i].clone()
            }
        }
    };
    Ok(region)
}

/// The state files in `.eksboot/` (the sandbox's: `.eksboot/sandbox/`) here of clusters in `region` of `account`: (cluster, path).
fn clusters_made_here(region: &str, account: &str) -> Vec<(String, std::path::PathBuf)> {
    let mut found: Vec<(String, std::path::PathBuf)> = states_here()
        .into_iter()
        .filter(|p| state_names(p, None, Some(region)))
        .filter_map(|p| {
            let state = journal::read_state(&p).ok()?;
            (state.region == region && state.account == account).then_some((state.cluster, p))
        })
        .collect();
    found.sort();
    found
}

/// Day two from the wizard: the cluster's answers pre-filled, edited, saved as its profile,
/// then `apply` (which shows the difference and the cost change, and asks).
fn change_cluster(
    prompter: &mut crate::wizard::terminal::Terminal,
    discovery: &crate::wizard::Discovery,
    state: &Path,
    save_to: Option<&Path>,
) -> Result<WizardChoice, RunError> {
    use crate::wizard::{self, Asked, Choice};
    let current = journal::read_state(state)?.profile(state)?;
    let table: toml::Table = toml::Table::try_from(&current).map_err(|e| RunError::Usage {
        message: format!("cannot read the profile stored in {}: {e}", state.display()),
        hint: "use `eksboot plan` and `eksboot apply --profile FILE` instead".into(),
    })?;
    let plan_text = |profile: &Profile| {
        ui::render_plan_text(profile, &Plan::build(profile, &PlanFacts::default()))
    };
    let (profile, choice) = match wizard::change(prompter, discovery, &table, &plan_text) {
        Ok(done) => done,
        Err(Asked::Back) | Err(Asked::Cancelled) => return Err(RunError::Cancelled),
    };
    if choice == Choice::Quit {
        return Err(RunError::Cancelled);
    }
    let path = save_to.map(Path::to_path_buf).unwrap_or_else(|| {
        wizard::default_save_path(&profile.cluster.name, Path::new("profiles").is_dir())
    });
    journal::write_atomically(&path, wizard::profile_file(&profile).as_bytes()).map_err(|e| {
        RunError::Usage {
            message: format!("cannot save the profile to {}: {e}", path.display()),
            hint: "pass --save-profile PATH to save it elsewhere".into(),
        }
    })?;
    ui::print(&format!("Saved the profile to {}.\n", path.display()));
    if choice != Choice::Create {
        ui::print(&format!(
            "Apply it later: eksboot apply --profile {} --state {}\n",
            path.display(),
            state.display()
        ));
        return Ok(WizardChoice::Saved);
    }
    Ok(WizardChoice::Apply {
        profile: path,
        state: state.to_path_buf(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn missing(refused: bool, reason: &str) -> MissingCredentials {
        MissingCredentials {
            refused,
            reason: reason.to_string(),
        }
    }

    #[test]
    fn no_credentials_at_all_is_said_in_one_line() {
        assert_eq!(
            explain_missing_credentials(&missing(false, ""), "default"),
            "No AWS credentials were found, so eksboot cannot look at your account.\n"
        );
    }

    #[test]
    fn an_expired_sso_session_gets_the_sdks_reason_and_the_login_command_for_its_profile() {
        let said = explain_missing_credentials(
            &missing(
                false,
                "an error occurred while loading credentials: an error occurred while loading an access token: the SSO token has expired and cannot be refreshed",
            ),
            "dev",
        );
        assert!(
            said.starts_with("Your AWS credentials could not be loaded"),
            "{said}"
        );
        assert!(said.contains("The AWS SDK says: an error occurred while loading credentials: an error occurred while loading an access token: the SSO token has expired"), "{said}");
        assert!(said.contains("run `aws sso login --profile dev`"), "{said}");
    }

    #[test]
    fn credentials_sts_refuses_are_said_with_awss_words_and_how_to_refresh_them() {
        let said = explain_missing_credentials(
            &missing(
                true,
                "ExpiredToken: The security token included in the request is expired",
            ),
            "default",
        );
        assert!(said.starts_with("AWS refused your credentials"), "{said}");
        assert!(
            said.contains("The security token included in the request is expired"),
            "{said}"
        );
        assert!(said.contains("`aws sso login --profile default`"), "{said}");
    }
}
