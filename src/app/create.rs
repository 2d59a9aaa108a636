//! `create` and `resume`: settings, the wizard when asked, preflight, the executor, the
//! kubeconfig.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use super::common::*;
use crate::kubeconfig::WrittenKubeconfig;

/// Where and how to write the kubeconfig.
pub struct KubeconfigTarget {
    pub path: Option<PathBuf>,
    pub switch_context: bool,
    pub auth: KubeconfigAuth,
}

impl From<KubeconfigArgs> for KubeconfigTarget {
    fn from(args: KubeconfigArgs) -> Self {
        KubeconfigTarget {
            path: args.path,
            switch_context: !args.no_switch_context,
            auth: args.kubeconfig_auth,
        }
    }
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
pub(super) fn settings_table(
    profile: Option<&Path>,
    o: &Overrides,
) -> Result<toml::Table, RunError> {
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

pub(super) fn field<'a>(
    table: &'a toml::Table,
    section: &str,
    key: &str,
) -> Option<&'a toml::Value> {
    table.get(section)?.as_table()?.get(key)
}

/// A create from a profile file and flags, without asking (the wizard's create comes through
/// [`create`] from the command layer).
pub(super) async fn create_command(request: CreateRequest) -> Result<ExitCode, RunError> {
    let table = settings_table(request.profile.as_deref(), &request.overrides)?;
    let origin = request.profile.as_ref().map_or_else(
        || "the command line".to_string(),
        |p| p.display().to_string(),
    );
    for (key, flag) in [("name", "--name NAME"), ("region", "--region REGION")] {
        if field(&table, "cluster", key).is_none() {
            return Err(RunError::Usage {
                message: format!("cluster.{key} is missing, and eksboot cannot ask (no terminal, --no-input, or CI set)"),
                hint: format!("pass {flag}, or --profile FILE with cluster.{key} in it"),
            });
        }
    }
    let profile = settings::resolve(&table, Path::new(&origin))?;
    create(
        profile,
        &origin,
        request.yes,
        request.state,
        request.kubeconfig,
    )
    .await
}

/// Whether a create asks its answers in the wizard: no profile, and a person at a terminal.
pub(super) fn wants_wizard(request: &CreateRequest) -> bool {
    request.profile.is_none() && !request.no_input && interactive()
}

/// Why the executor runs: a create (or resume), or an apply of a changed profile (whose diff
/// was shown and accepted, and whose journal is already open with the new profile in it).
/// The `section.key` fields a profile file writes (none when the profile came from flags).
fn written_fields(source: &str) -> Vec<String> {
    let Ok(text) = std::fs::read_to_string(source) else {
        return Vec::new();
    };
    let Ok(table) = text.parse::<toml::Table>() else {
        return Vec::new();
    };
    table
        .iter()
        .filter_map(|(section, value)| Some((section, value.as_table()?)))
        .flat_map(|(section, keys)| keys.keys().map(move |key| format!("{section}.{key}")))
        .collect()
}

pub(super) enum Purpose {
    Create,
    /// Day two: the cluster's journal, and how node groups it deletes are drained.
    Apply(Journal, apply::drain::DrainPolicy),
}

pub(super) async fn create(
    profile: Profile,
    source: &str,
    yes: bool,
    state: Option<PathBuf>,
    kubeconfig_target: KubeconfigTarget,
) -> Result<ExitCode, RunError> {
    run(
        profile,
        source,
        yes,
        state,
        kubeconfig_target,
        Purpose::Create,
    )
    .await
}

pub(super) async fn run(
    profile: Profile,
    source: &str,
    yes: bool,
    state: Option<PathBuf>,
    kubeconfig_target: KubeconfigTarget,
    purpose: Purpose,
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
    let state_path = state.unwrap_or_else(|| journal::profile_state_path(&profile));
    // Refuse a changed profile before touching AWS: changing a cluster is `apply`'s job.
    let applying = matches!(purpose, Purpose::Apply(..));
    let (existing, drain) = match purpose {
        Purpose::Apply(journal, drain) => (Some(journal), drain),
        Purpose::Create => (Journal::open(&state_path)?, Default::default()),
    };
    let profile = profile_to_run(profile, existing.as_ref(), source, &state_path)?;

    let aws = Aws::connect(
        &profile.cluster.region,
        &crate::aws::TransportRetry::from_env(),
    )
    .await?;
    let mut report = preflight::run(&aws, &profile).await;
    if let Some(location) = journal::shared_location(&state_path)? {
        let store =
            crate::apply::shared_state::Store::connect(&location).map_err(JournalError::from)?;
        report.checks.extend(preflight::state_bucket(&store).await);
    }
    if !report.passed() {
        ui::print(&ui::render_preflight(&profile, &report));
        return Err(RunError::Preflight);
    }
    for check in report
        .checks
        .iter()
        .filter(|c| c.name.starts_with("state-"))
    {
        if let Some(hint) = &check.hint {
            ui::print(&format!("note: {}\n  {hint}\n", check.summary));
        }
    }
    let caller = report.caller.clone().expect("preflight passed credentials");
    let journal = journal_for(
        existing,
        &caller.account,
        &report.facts,
        &state_path,
        &profile,
    )?;
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
    if !applying {
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
    }

    let (principal, path_note) = caller_principal(&aws, &caller.arn).await;
    if let Some(note) = path_note {
        ui::print(&format!("warning: {note}\n"));
    }
    let ctx = Arc::new(Ctx {
        caller_principal: principal,
        aws,
        account: caller.account.clone(),
        run_id: journal.state.run_id.clone(),
        profile: profile.clone(),
        plan,
        journal: Mutex::new(journal),
        reporter: ui::reporter(
            &format!(
                "eksboot {} {}",
                if applying { "apply" } else { "create" },
                profile.cluster.name
            ),
            steps.len(),
        ),
        timing: Timing::from_env(),
        kubernetes_version,
        creator: tokio::sync::OnceCell::new(),
        endpoint_services: tokio::sync::OnceCell::new(),
        stopping,
        drain,
    });
    executing.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut result = apply::execute(Arc::clone(&ctx), &steps).await;
    if result.is_ok() {
        // What the profile no longer asks for (day two), once the rest is in place.
        if let Err(error) = apply::retire::retire_dropped(&ctx).await {
            let failed = apply::ApplyError {
                task: crate::plan::Task::Cluster,
                kind: crate::plan::Kind::EksCluster,
                step: "retire".into(),
                name: "what the profile no longer asks for".into(),
                error,
                also_failed: Vec::new(),
            };
            result = Err(ExecuteError::Failed(failed));
        }
    }
    interrupt.abort();
    ctx.reporter.finish();
    let summary = finished(result, &state_path)?;
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

/// The profile a create or resume runs with: the given one, or, for a state file from before
/// a field existed, the state's own (that field differs only because the profile now has a
/// default the state never knew; unless the file writes it, the run goes on with the old
/// meaning, and moving the cluster to the new default is `apply`'s change). A profile changed
/// in what it writes is refused: changing a running cluster is `apply`'s job.
fn profile_to_run(
    profile: Profile,
    existing: Option<&Journal>,
    source: &str,
    state_path: &Path,
) -> Result<Profile, RunError> {
    let mut profile = profile;
    if let Some(j) = existing {
        if j.state.settings_hash != profile.content_hash() {
            let new = serde_json::to_value(&profile).expect("profile serialises");
            // A state file from before a field existed: that field differs only because the
            // profile now has a default the state never knew; unless the file writes it, the
            // run goes on with the state's own profile (the old meaning). Moving the cluster
            // to the new default is `apply`'s change.
            let mut stored = j.state.settings.clone();
            let newer = crate::profile::fill_legacy(&mut stored);
            let written = written_fields(source);
            let fields: Vec<String> = changed_fields(&stored, &new)
                .into_iter()
                .filter(|f| !newer.contains(f) || written.contains(f))
                .collect();
            if fields.is_empty() {
                profile = j.state.profile(state_path)?;
            } else {
                return Err(RunError::Usage {
                message: format!(
                    "the profile changed since {} was made: {}",
                    state_path.display(),
                    fields.join(", ")
                ),
                hint: match j
                    .state
                    .profile(&state_path)
                    .ok()
                    .map(|stored| crate::plan::diff::diff(&stored, &profile).refused)
                    .and_then(|refused| refused.into_iter().next())
                {
                    Some(fixed) => format!(
                        "{} cannot change on a running cluster ({}): {}; to resume the create, restore it",
                        fixed.field, fixed.reason, fixed.way_out
                    ),
                    None => format!(
                        "to change the running cluster: `eksboot plan --profile {source}` shows the difference, `eksboot apply --profile {source}` makes it; to resume the create, restore those fields"
                    ),
                },
            });
            }
        }
    }
    Ok(profile)
}

/// The journal of this run: the state file's, if it belongs to the caller's account (a key
/// resolved since is recorded), else a new one.
fn journal_for(
    existing: Option<Journal>,
    account: &str,
    facts: &PlanFacts,
    state_path: &Path,
    profile: &Profile,
) -> Result<Journal, RunError> {
    Ok(match existing {
        Some(j) => {
            same_account(state_path, &j.state.account, account)?;
            let mut j = j;
            j.encrypt_with(profile);
            if j.state.secrets_key_arn.is_none() && facts.secrets_key_arn.is_some() {
                // A state file from before keys were resolved: record it now.
                j.state.secrets_key_arn = facts.secrets_key_arn.clone();
                j.save()?;
            }
            j
        }
        None => Journal::create(state_path, profile, account, facts)?,
    })
}

/// What a finished run did, or the error that stopped it (an interrupted run says how to go on).
fn finished(
    result: Result<apply::Summary, ExecuteError>,
    state_path: &Path,
) -> Result<apply::Summary, RunError> {
    match result {
        Ok(summary) => Ok(summary),
        Err(ExecuteError::Failed(e)) => Err(e.into()),
        Err(ExecuteError::Interrupted { done, not_started }) => Err(RunError::Interrupted {
                message: format!(
                    "interrupted: {} resources exist and are recorded in {}; {not_started} steps did not start",
                    done.created.len() + done.adopted.len(),
                    state_path.display()
                ),
                hint: format!(
                    "continue with `eksboot resume --state {0}`, or remove what exists with `eksboot teardown --state {0}`",
                    state_path.display()
                ),
            }),
    }
}

/// First Ctrl-C: stop starting steps, let running ones finish and be recorded. Second: exit now
/// (every journal write is atomic, so the state file stays consistent).
/// Before anything is being created, the first press simply quits.
pub(super) fn watch_for_ctrl_c(
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

pub(super) fn write_kubeconfig(
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
