//! Runs a parsed command line: loads the profile, calls the pure parts, the adapters and the
//! executor, and hands results to the UI. Errors carry their exit code and a hint.
//! `create` (with the wizard), `teardown`/`status`, and `token` each have a file.

mod change;
mod common;
mod create;
mod permissions;
mod sandbox;
mod shared;
mod teardown;
mod token;
mod upgrade;
mod wizard;

pub use common::RunError;
pub use create::{CreateRequest, KubeconfigTarget};

use common::*;

pub async fn run(cli: Cli) -> Result<ExitCode, RunError> {
    ui::set_verbose(cli.verbose > 0);
    if let Some(Command::Stop) = cli.command {
        return sandbox::stop(cli.sandbox);
    }
    if crate::sandbox::session().is_some() {
        if let Some(profile) = sandbox::profile_of(cli.command.as_ref()) {
            sandbox::authorize(&profile).await?;
        }
    }
    match cli.command {
        Some(Command::Stop) => unreachable!("handled above"),
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
            state,
            policy_for,
        }) => {
            permissions::permissions(
                profile.as_deref(),
                &overrides,
                account,
                state.as_deref(),
                policy_for,
            )
            .await
        }
        Some(Command::Preflight { profile, state }) => {
            preflight_command(&profile, state.as_deref()).await
        }
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
        Some(Command::Unlock {
            state,
            lock_id,
            yes,
        }) => shared::unlock(&state, &lock_id, yes),
        Some(Command::State(crate::cli::StateCommand::Push { state, to })) => {
            shared::push(&state, &to)
        }
        Some(Command::State(crate::cli::StateCommand::Pull { state, to })) => {
            shared::pull(&state, &to)
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
    let state_path = state.unwrap_or_else(|| journal::profile_state_path(&profile));
    if no_state || (!explicit && !state_known_to_exist(&state_path)?) {
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

/// Whether the profile's own state is there. A state in S3 that cannot be read (no
/// credentials, no network, no permission) is taken as absent, said on stderr: `plan` still
/// shows what the profile makes, which needs nothing from AWS.
fn state_known_to_exist(state_path: &Path) -> Result<bool, RunError> {
    match journal::exists(state_path) {
        Ok(exists) => Ok(exists),
        Err(e) if journal::shared_location(state_path)?.is_some() => {
            ui::note(&format!(
                "note: the state {} could not be read ({e}).\n  This is the plan for a new cluster; with AWS credentials that reach the bucket, plan shows what would change in a running one.",
                state_path.display()
            ));
            Ok(false)
        }
        Err(e) => Err(e.into()),
    }
}

/// `preflight`: the read-only checks, exit 1 when one fails.
async fn preflight_command(profile: &Path, state: Option<&Path>) -> Result<ExitCode, RunError> {
    let profile = Profile::load(profile)?;
    let state = state.map_or_else(|| journal::profile_state_path(&profile), Path::to_path_buf);
    let aws = Aws::connect(
        &profile.cluster.region,
        &crate::aws::TransportRetry::from_env(),
    )
    .await?;
    let mut report = preflight::run(&aws, &profile).await;
    if let Some(location) = journal::shared_location(&state)? {
        report.checks.extend(
            preflight::state_bucket_writable(&location, profile.state_kms_key.clone()).await,
        );
    }
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
    sandbox::authorize_wizard(create::field(&table, "cluster", "region").and_then(|v| v.as_str()))
        .await?;
    let choice = wizard::run_wizard(&table, request.save_profile.as_deref()).await?;
    if crate::sandbox::session().is_some() {
        // The cluster the wizard chose, as `eksboot permissions` would print it for its profile.
        if let Some(profile) = sandbox::profile_chosen(&choice) {
            sandbox::authorize(&profile).await?;
        }
    }
    match choice {
        WizardChoice::Create { profile, saved } => {
            let source = saved.display().to_string();
            create::create(profile, &source, true, request.state, request.kubeconfig).await
        }
        WizardChoice::Saved => Ok(ExitCode::SUCCESS),
        WizardChoice::Exited(code) => Ok(code),
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
