//! Runs a parsed command line: loads the profile, calls the pure parts, the adapters and the
//! executor, and hands results to the UI. Errors carry their exit code and a hint.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use crate::apply::journal::{self, changed_fields, Journal, JournalError};
use crate::apply::{self, ApplyError, Ctx, ExecuteError, Timing};
use crate::aws::{self, Aws, AwsError};
use crate::cli::{Cli, Command, KubeconfigAuth, OutputFormat, Overrides, StateTarget};
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
            | RunError::Kubeconfig { .. } => 1,
        }
    }

    pub fn hint(&self) -> Option<String> {
        match self {
            RunError::Profile(ProfileError::Invalid { .. }) => Some(
                "fix the fields above; `eksboot help plan` and README.md describe each one".into(),
            ),
            RunError::Profile(_) | RunError::Cancelled => None,
            RunError::Usage { hint, .. } | RunError::Interrupted { hint, .. } => Some(hint.clone()),
            RunError::Aws(e) => Some(e.hint()),
            RunError::Journal(JournalError::Locked { .. }) => Some(
                "wait for the other run to finish; if it was stopped, its lock is taken over automatically".into(),
            ),
            RunError::Journal(_) => Some("check the state file path and its permissions".into()),
            RunError::Kubeconfig { .. } => Some(
                "the cluster is ready: fix the file, then rerun the same command to write it (nothing is created twice)".into(),
            ),
            RunError::Preflight => Some("fix the failed checks above, then run the same command again".into()),
            RunError::Apply(e) => Some(format!(
                "{}; everything made so far is recorded: rerun the same command to resume",
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
        None => {
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
            create_command(request).await
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
        Some(Command::Create {
            profile,
            overrides,
            save_profile,
            no_input,
            yes,
            state,
            kubeconfig,
            no_switch_context,
            kubeconfig_auth,
            output,
        }) => {
            ui::set_json_mode(output == OutputFormat::Json);
            let request = CreateRequest {
                profile,
                overrides,
                yes,
                state,
                kubeconfig: KubeconfigTarget {
                    path: kubeconfig,
                    switch_context: !no_switch_context,
                    auth: kubeconfig_auth,
                },
                save_profile,
                no_input,
            };
            create_command(request).await
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
            let kubeconfig_target = KubeconfigTarget {
                path: kubeconfig,
                switch_context: true,
                auth: KubeconfigAuth::Eksboot,
            };
            create(
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
            status(&target, live).await
        }
        Some(Command::Teardown {
            target,
            yes,
            force,
            key_deletion_days,
            kubeconfig,
            output,
        }) => {
            ui::set_json_mode(output == OutputFormat::Json);
            teardown(&target, yes, force, key_deletion_days, kubeconfig).await
        }
        Some(Command::Token {
            cluster,
            region,
            role_arn,
        }) => token(&cluster, region.as_deref(), role_arn.as_deref()).await,
    }
}

fn interactive() -> bool {
    std::io::stdin().is_terminal()
        && std::io::stdout().is_terminal()
        && std::env::var_os("CI").is_none()
        && std::env::var_os("EKSBOOT_NO_PROMPT").is_none()
}

/// The IAM principal running eksboot, with the role's path when IAM lets us read it.
async fn caller_principal(aws: &Aws, caller_arn: &str) -> String {
    let plain = caller_principal_arn(caller_arn, None);
    if let Some(role) = plain.split(":role/").nth(1) {
        if let Ok(Some(found)) = aws::iam::get_role(aws, role).await {
            return found.arn;
        }
    }
    plain
}

/// Where and how to write the kubeconfig.
pub struct KubeconfigTarget {
    pub path: Option<PathBuf>,
    pub switch_context: bool,
    pub auth: KubeconfigAuth,
}

/// Everything `create` was asked for on the command line.
pub struct CreateRequest {
    pub profile: Option<PathBuf>,
    pub overrides: Overrides,
    pub yes: bool,
    pub state: Option<PathBuf>,
    pub kubeconfig: KubeconfigTarget,
    pub save_profile: Option<PathBuf>,
    pub no_input: bool,
}

/// The profile's fields as a TOML table, with the flags written over them.
fn settings_table(profile: Option<&Path>, o: &Overrides) -> Result<toml::Table, RunError> {
    let text = match profile {
        None => None,
        Some(path) => Some(
            std::fs::read_to_string(path).map_err(|source| ProfileError::Read {
                path: path.to_path_buf(),
                source,
            })?,
        ),
    };
    let source = text.as_deref().zip(profile);
    Ok(settings::merge(source, o)?)
}

fn field<'a>(table: &'a toml::Table, section: &str, key: &str) -> Option<&'a toml::Value> {
    table.get(section)?.as_table()?.get(key)
}

async fn create_command(request: CreateRequest) -> Result<ExitCode, RunError> {
    let table = settings_table(request.profile.as_deref(), &request.overrides)?;
    let origin = request.profile.as_ref().map_or_else(
        || "the command line".to_string(),
        |p| p.display().to_string(),
    );
    let wizard = request.profile.is_none() && !request.no_input && interactive();
    if !wizard {
        for (key, flag) in [("name", "--name NAME"), ("region", "--region REGION")] {
            if field(&table, "cluster", key).is_none() {
                return Err(RunError::Usage {
                    message: format!("cluster.{key} is missing, and eksboot cannot ask (no terminal, --no-input, or CI set)"),
                    hint: format!("pass {flag}, or --profile FILE with cluster.{key} in it"),
                });
            }
        }
        let profile = settings::resolve(&table, Path::new(&origin))?;
        return create(
            profile,
            &origin,
            request.yes,
            request.state,
            request.kubeconfig,
        )
        .await;
    }
    let profile = match run_wizard(&table, request.save_profile.as_deref()).await? {
        Some(profile) => profile,
        None => return Ok(ExitCode::SUCCESS),
    };
    create(profile, &origin, true, request.state, request.kubeconfig).await
}

/// The wizard: region, discovery, questions, plan; saves the profile. `None` when the person
/// saved it to create later.
async fn run_wizard(
    table: &toml::Table,
    save_to: Option<&Path>,
) -> Result<Option<Profile>, RunError> {
    use crate::wizard::{self, terminal::Terminal, Asked, Choice, Prompter, Question};
    let mut prompter = Terminal;
    prompter.say(&wizard::greeting());
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
    let aws = Aws::connect(&region).await?;
    let caller = aws::sts::caller_identity(&aws).await?;
    ui::print(&format!(
        "You are {} in account {}.\n",
        caller.arn, caller.account
    ));
    let discovery = wizard::terminal::discover(&aws, &region).await?;
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
            .map_err(|_| cancelled())?;
        if !overwrite {
            return Err(cancelled());
        }
    }
    journal::write_atomically(&path, wizard::profile_file(&profile).as_bytes()).map_err(|e| {
        RunError::Usage {
            message: format!("cannot save the profile to {}: {e}", path.display()),
            hint: "pass --save-profile PATH to save it elsewhere".into(),
        }
    })?;
    ui::print(&format!(
        "Saved the profile to {0}. The same cluster again: eksboot create --profile {0} --yes\n",
        path.display()
    ));
    Ok(match choice {
        Choice::Create => Some(profile),
        _ => None,
    })
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

async fn create(
    profile: Profile,
    source: &str,
    yes: bool,
    state: Option<PathBuf>,
    kubeconfig_target: KubeconfigTarget,
) -> Result<ExitCode, RunError> {
    if !yes && !interactive() {
        return Err(RunError::Usage {
            message: "create needs --yes when it cannot ask (no terminal, or CI is set)".into(),
            hint: format!("review `eksboot plan --profile {source}` first, then add --yes"),
        });
    }
    let stopping = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let executing = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let interrupt = watch_for_ctrl_c(Arc::clone(&stopping), Arc::clone(&executing));
    let state_path = state.unwrap_or_else(|| {
        journal::default_path(
            Path::new("."),
            &profile.cluster.name,
            &profile.cluster.region,
        )
    });
    // Refuse a changed profile before touching AWS.
    let existing = Journal::open(&state_path)?;
    if let Some(j) = &existing {
        if j.state.settings_hash != profile.content_hash() {
            let new = serde_json::to_value(&profile).expect("profile serialises");
            let fields = changed_fields(&j.state.settings, &new);
            return Err(RunError::Usage {
                message: format!(
                    "the profile changed since {} was made: {}",
                    state_path.display(),
                    fields.join(", ")
                ),
                hint: "changing a created cluster is not eksboot's job yet: restore those fields to resume, or tear down first".into(),
            });
        }
    }

    let aws = Aws::connect(&profile.cluster.region).await?;
    let report = preflight::run(&aws, &profile).await;
    if !report.passed() {
        ui::print(&ui::render_preflight(&profile, &report));
        return Err(RunError::Preflight);
    }
    let caller = report.caller.clone().expect("preflight passed credentials");
    let journal = match existing {
        Some(j) => {
            if j.state.account != caller.account {
                return Err(RunError::Usage {
                    message: format!(
                        "{} belongs to account {}, but your credentials are for account {}",
                        state_path.display(),
                        j.state.account,
                        caller.account
                    ),
                    hint: "use credentials for the account the cluster is in".into(),
                });
            }
            j
        }
        None => Journal::create(&state_path, &profile, &caller.account, &report.facts)?,
    };
    if let Some(note) = journal.lock_note() {
        ui::print(&format!("note: {note}\n"));
    }
    // On resume, the AZs and version chosen the first time stay.
    let facts = journal.facts();
    let plan = Plan::build(&profile, &facts);
    let steps: Vec<String> = plan.resources.iter().map(|r| r.id.clone()).collect();
    let kubernetes_version = facts
        .kubernetes_version
        .clone()
        .expect("preflight resolved the Kubernetes version");
    ui::print(&ui::render_create_intro(
        &profile,
        &plan,
        &facts,
        steps.len(),
        journal.path(),
    ));
    if !yes && !ui::confirm("Create these resources now?") {
        return Err(RunError::Cancelled);
    }

    let ctx = Arc::new(Ctx {
        caller_principal: caller_principal(&aws, &caller.arn).await,
        aws,
        account: caller.account.clone(),
        run_id: journal.state.run_id.clone(),
        profile: profile.clone(),
        plan,
        journal: Mutex::new(journal),
        reporter: ui::reporter(
            &format!("eksboot create {}", profile.cluster.name),
            steps.len(),
        ),
        timing: Timing::from_env(),
        kubernetes_version,
        creator: tokio::sync::OnceCell::new(),
        stopping,
    });
    executing.store(true, std::sync::atomic::Ordering::SeqCst);
    let result = apply::execute(Arc::clone(&ctx), &steps).await;
    interrupt.abort();
    ctx.reporter.finish();
    let summary = match result {
        Ok(summary) => summary,
        Err(ExecuteError::Failed(e)) => return Err(e.into()),
        Err(ExecuteError::Interrupted { done, not_started }) => {
            return Err(RunError::Interrupted {
                message: format!(
                    "interrupted: {} resources exist and are recorded in {}; {not_started} steps did not start",
                    done.created.len() + done.adopted.len(),
                    state_path.display()
                ),
                hint: format!(
                    "continue with `eksboot resume --state {0}`, or remove what exists with `eksboot teardown --state {0}`",
                    state_path.display()
                ),
            })
        }
    };
    let cluster = ctx
        .journal
        .lock()
        .expect("journal lock")
        .outputs("cluster")
        .cloned();
    let cluster = cluster.expect("the cluster step finished");
    let written = write_kubeconfig(&profile, &cluster, &kubeconfig_target)?;
    ui::print(&ui::render_create_done(
        &profile,
        &ctx.plan,
        &summary,
        &written,
        &state_path,
    ));
    Ok(ExitCode::SUCCESS)
}

/// First Ctrl-C: stop starting steps, let running ones finish and be recorded. Second: exit now
/// (every journal write is atomic, so the state file stays consistent).
/// Before anything is being created, the first press simply quits.
fn watch_for_ctrl_c(
    stopping: Arc<std::sync::atomic::AtomicBool>,
    executing: Arc<std::sync::atomic::AtomicBool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_err() {
            return;
        }
        if !executing.load(std::sync::atomic::Ordering::SeqCst) {
            ui::print_error("cancelled: nothing was created", None);
            std::process::exit(130);
        }
        stopping.store(true, std::sync::atomic::Ordering::SeqCst);
        ui::print_error(
            "stopping: no new steps start; the ones running finish and are recorded (Ctrl-C again to quit now)",
            None,
        );
        if tokio::signal::ctrl_c().await.is_ok() {
            std::process::exit(130);
        }
    })
}

async fn status(target: &StateTarget, live: bool) -> Result<ExitCode, RunError> {
    let path = state_path(target)?;
    let state = journal::read_state(&path)?;
    let profile = state.profile(&path)?;
    let facts = PlanFacts {
        availability_zones: state.availability_zones.clone(),
        kubernetes_version: state.kubernetes_version.clone(),
    };
    let plan = Plan::build(&profile, &facts);
    let existing = if live {
        let aws = Aws::connect(&state.region).await?;
        let teardown = apply::teardown::Teardown {
            creator_role_arn: creator_arn(&profile, &state.account),
            aws: aws.clone(),
            cluster: state.cluster.clone(),
            region: state.region.clone(),
            account: state.account.clone(),
            key_deletion_days: 7,
            force: false,
            timing: Timing::from_env(),
            reporter: Arc::new(apply::report::Silent),
        };
        let (eks_aws, _) = teardown.eks_clients().await;
        let inventory = teardown.inventory(&eks_aws).await?;
        Some(inventory.lines().into_iter().map(|(_, _, id)| id).collect())
    } else {
        None
    };
    if ui::json_mode() {
        for line in ui::render_status_json(&plan, &state, existing.as_ref()) {
            ui::print_json_line(&line);
        }
    } else {
        ui::print(&ui::render_status(&plan, &state, &path, existing.as_ref()));
    }
    Ok(ExitCode::SUCCESS)
}

/// The creator role to assume for EKS calls: the profile's existing one, or ours.
fn creator_arn(profile: &Profile, account: &str) -> Option<String> {
    Some(match profile.security.creator_role.existing_arn() {
        Some(arn) => arn.to_string(),
        None => crate::plan::iam::role_arn(
            &profile.cluster.region,
            account,
            &format!("{}-creator", profile.cluster.name),
        ),
    })
}

async fn teardown(
    target: &StateTarget,
    yes: bool,
    force: bool,
    key_deletion_days: i32,
    kubeconfig_path: Option<PathBuf>,
) -> Result<ExitCode, RunError> {
    let path = state_path(target)?;
    if !yes && !interactive() {
        return Err(RunError::Usage {
            message: "teardown needs --yes when it cannot ask (no terminal, or CI is set)".into(),
            hint: "run it on a terminal to see the list first, or add --yes".into(),
        });
    }
    let journal = Journal::open(&path)?;
    let profile = journal.as_ref().map(|j| j.profile()).transpose()?;
    let (cluster, region) = match (&journal, &target.cluster, &target.region) {
        (Some(j), _, _) => (j.state.cluster.clone(), j.state.region.clone()),
        (None, Some(c), Some(r)) => (c.clone(), r.clone()),
        (None, _, _) => {
            return Err(RunError::Usage {
                message: format!("there is no state file at {}", path.display()),
                hint: "without it, name the cluster: --cluster NAME --region REGION (everything is found by its tags)".into(),
            })
        }
    };
    let aws = Aws::connect(&region).await?;
    let caller = aws::sts::caller_identity(&aws).await?;
    if let Some(j) = &journal {
        if j.state.account != caller.account {
            return Err(RunError::Usage {
                message: format!(
                    "{} belongs to account {}, but your credentials are for account {}",
                    path.display(),
                    j.state.account,
                    caller.account
                ),
                hint: "use credentials for the account the cluster is in".into(),
            });
        }
    }
    let creator_role_arn = match &profile {
        Some(p) => creator_arn(p, &caller.account),
        None => Some(crate::plan::iam::role_arn(
            &region,
            &caller.account,
            &format!("{cluster}-creator"),
        )),
    };
    let teardown = apply::teardown::Teardown {
        aws,
        cluster: cluster.clone(),
        region: region.clone(),
        account: caller.account.clone(),
        creator_role_arn,
        key_deletion_days,
        force,
        timing: Timing::from_env(),
        reporter: Arc::new(apply::report::Silent),
    };
    let (eks_aws, note) = teardown.eks_clients().await;
    if let Some(note) = note {
        ui::print(&format!("note: {note}\n"));
    }
    let inventory = teardown.inventory(&eks_aws).await?;
    ui::print(&ui::render_inventory(&cluster, &region, &inventory));
    if !inventory.is_empty() && !yes && !ui::confirm_name(&cluster) {
        return Err(RunError::Cancelled);
    }
    let teardown = apply::teardown::Teardown {
        reporter: ui::reporter(
            &format!("eksboot teardown {cluster}"),
            inventory.lines().len(),
        ),
        ..teardown
    };
    let outcome = teardown.delete(&eks_aws, &inventory).await;
    teardown.reporter.finish();
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    let env = std::env::var("KUBECONFIG").ok();
    let kube = kubeconfig::choose_path(kubeconfig_path.as_deref(), env.as_deref(), &home);
    let arn = format!(
        "arn:{}:eks:{region}:{}:cluster/{cluster}",
        crate::plan::iam::partition(&region),
        caller.account
    );
    if let Ok(text) = std::fs::read_to_string(&kube) {
        if let Ok(cleaned) = kubeconfig::remove(&text, &arn, &kube) {
            if cleaned != text {
                let _ = journal::write_atomically(&kube, cleaned.as_bytes());
            }
        }
    }
    ui::print(&ui::render_teardown_done(&outcome, &path));
    if outcome.left.is_empty() {
        if let Some(j) = journal {
            j.remove()?;
        }
        Ok(ExitCode::SUCCESS)
    } else {
        Ok(ExitCode::from(1))
    }
}

/// Where the kubeconfig went and which context it holds.
pub struct WrittenKubeconfig {
    pub path: PathBuf,
    pub context: String,
    pub switched: bool,
}

fn write_kubeconfig(
    profile: &Profile,
    cluster: &journal::Outputs,
    target: &KubeconfigTarget,
) -> Result<WrittenKubeconfig, RunError> {
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    let env = std::env::var("KUBECONFIG").ok();
    let path = kubeconfig::choose_path(target.path.as_deref(), env.as_deref(), &home);
    let auth = match target.auth {
        KubeconfigAuth::Eksboot => kubeconfig::Auth::Eksboot {
            command: std::env::current_exe()
                .ok()
                .and_then(|p| p.canonicalize().ok())
                .unwrap_or_else(|| PathBuf::from("eksboot"))
                .display()
                .to_string(),
        },
        KubeconfigAuth::AwsCli => kubeconfig::Auth::AwsCli,
    };
    let name = cluster.arn.clone().unwrap_or_default();
    let entry = kubeconfig::Entry {
        name: name.clone(),
        cluster: profile.cluster.name.clone(),
        region: profile.cluster.region.clone(),
        server: cluster.attr("endpoint").unwrap_or_default().to_string(),
        certificate_authority_data: cluster
            .attr("certificate_authority")
            .unwrap_or_default()
            .to_string(),
        auth,
    };
    let existing = match std::fs::read_to_string(&path) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            return Err(RunError::Kubeconfig {
                message: format!("cannot read {}: {e}", path.display()),
            })
        }
    };
    let text = kubeconfig::merge(existing.as_deref(), &entry, target.switch_context, &path)
        .map_err(|e| RunError::Kubeconfig {
            message: e.to_string(),
        })?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| RunError::Kubeconfig {
            message: format!("cannot create {}: {e}", dir.display()),
        })?;
    }
    journal::write_atomically(&path, text.as_bytes()).map_err(|e| RunError::Kubeconfig {
        message: format!("cannot write {}: {e}", path.display()),
    })?;
    Ok(WrittenKubeconfig {
        path,
        context: name,
        switched: target.switch_context,
    })
}

/// `eksboot token`: an ExecCredential for kubectl, signed with the usual credentials.
async fn token(
    cluster: &str,
    region: Option<&str>,
    role_arn: Option<&str>,
) -> Result<ExitCode, RunError> {
    let region = match region {
        Some(r) => r.to_string(),
        None => aws::default_region().await.ok_or_else(|| RunError::Usage {
            message: "no region: eksboot token needs the cluster's region".into(),
            hint: "pass --region, or set AWS_REGION".into(),
        })?,
    };
    let aws = Aws::connect(&region).await?;
    let config = match role_arn {
        Some(arn) => aws::sts::assume_role(&aws, arn, "eksboot-token").await?,
        None => aws.config.clone(),
    };
    let credentials = aws::credentials(&config).await?;
    let now = std::time::SystemTime::now();
    let token =
        crate::token::token(&credentials, &region, cluster, now).map_err(|e| RunError::Usage {
            message: e.to_string(),
            hint: "check your AWS credentials".into(),
        })?;
    ui::print(&format!("{}\n", crate::token::exec_credential(&token, now)));
    Ok(ExitCode::SUCCESS)
}
