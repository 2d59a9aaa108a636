//! `upgrade` (day two): the next Kubernetes minor version, safely. Shows the version, the next
//! one, when standard support ends and what extended support costs; reads the cluster's upgrade
//! insights and the add-ons' compatibility (read-only, before anything); asks; then runs
//! `apply::upgrade` and records the new version in the state file (and the profile, with
//! `--profile`, keeping its comments).

use std::path::Path;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use super::common::*;
use crate::plan::upgrade::{
    next_minor, parse_now, policy_cost_line, support_line_for, SupportPolicy,
};

/// How long the insights refresh may take before the insights are read as they are.
const REFRESH_WAIT: std::time::Duration = std::time::Duration::from_secs(120);

pub(super) async fn upgrade(
    target: &StateTarget,
    profile_path: Option<&Path>,
    yes: bool,
    choices: impl Into<crate::cli::UpgradeChoices>,
) -> Result<ExitCode, RunError> {
    let choices: crate::cli::UpgradeChoices = choices.into();
    let ignore_insights = choices.ignore_insights;
    let (path, mut journal, stored) = open_for_upgrade(target, profile_path)?;
    let name = stored.cluster.name.clone();
    let aws = Aws::connect(
        &stored.cluster.region,
        &crate::aws::TransportRetry::from_env(),
    )
    .await?;
    let caller = aws::sts::caller_identity(&aws).await?;
    same_account(&path, &journal.state.account, &caller.account)?;
    let Some(live) = aws::eks::describe_cluster(&aws.eks, &name).await? else {
        return Err(RunError::Blocked {
            message: format!("cluster {name} is not in {}", stored.cluster.region),
            hint: "`eksboot status --live` shows what is left".into(),
        });
    };
    let resuming = journal.state.upgrade_target.clone();
    let target = match &resuming {
        Some(t) => t.clone(),
        None => next_minor(&live.version).ok_or_else(|| RunError::Blocked {
            message: format!("cannot tell the next version after {:?}", live.version),
            hint: "check the cluster's version with `aws eks describe-cluster`".into(),
        })?,
    };
    let offered = aws::eks::cluster_versions(&aws).await?;
    let Some(next) = offered.iter().find(|v| v.version == target) else {
        ui::print(&format!(
            "Cluster \"{name}\" runs Kubernetes {}: EKS offers nothing newer yet.\n",
            live.version
        ));
        return Ok(ExitCode::SUCCESS);
    };
    let now = parse_now(std::env::var("EKSBOOT_NOW").ok().as_deref());
    let support_policy = SupportPolicy::from_eks(&live.support_type);
    ui::print(&intro(
        &stored,
        &live,
        &target,
        resuming.is_some(),
        &offered,
        now,
    ));

    // Before anything: what EKS says would break on the target version. A rerun whose control
    // plane is already there has passed (or overridden) the gate: not checked again.
    let blocking = show_insights(&aws, &name, &live.version, &target).await?;
    // Each add-on's way to the target, chosen from what EKS offers (nothing moved down).
    let policy = choices.addons.policy();
    let moves = addon_moves(&aws, &name, &live.version, &target, policy).await?;
    if blocking > 0 && !ignore_insights {
        return Err(RunError::Blocked {
            message: format!(
                "{blocking} upgrade insight(s) for Kubernetes {target} in ERROR: upgrading now would break what they name; nothing was changed"
            ),
            hint: "follow each recommendation above, then run upgrade again; or, if you know better, --ignore-insights".into(),
        });
    }
    if !yes && !interactive() {
        return Err(RunError::Usage {
            message: "upgrade needs --yes when it cannot ask (no terminal, or CI is set)".into(),
            hint: "review what is shown above, then add --yes".into(),
        });
    }
    if !yes && !ui::confirm(&format!("Upgrade {name} to Kubernetes {target} now?")) {
        return Err(RunError::Cancelled);
    }

    // A new upgrade gets a new sequence number (its requests' tokens); a resumed one keeps it.
    if resuming.is_none() {
        journal.begin_apply()?;
    }
    journal.state.upgrade_target = Some(target.clone());
    journal.save()?;
    let facts = journal.facts();
    let plan = Plan::build(&stored, &facts);
    let (principal, _) = caller_principal(&aws, &caller.arn).await;
    let stopping = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let ctx = Arc::new(Ctx {
        caller_principal: principal,
        aws,
        account: caller.account.clone(),
        run_id: journal.state.run_id.clone(),
        profile: stored.clone(),
        plan,
        journal: Mutex::new(journal),
        reporter: ui::reporter(&format!("eksboot upgrade {name}"), 3),
        timing: Timing::from_env(),
        kubernetes_version: target.clone(),
        creator: tokio::sync::OnceCell::new(),
        endpoint_services: tokio::sync::OnceCell::new(),
        stopping,
        drain: Default::default(),
    });
    // The creator role's policy first, when this eksboot's needs more (the upgrade's actions).
    if ctx.plan.resource("creator-policy").is_some() {
        if let Err(e) = apply::execute(Arc::clone(&ctx), &["creator-policy".to_string()]).await {
            ctx.reporter.finish();
            return Err(execute_error(e, &path));
        }
    }
    let result = apply::upgrade::run(&ctx, &target, &moves, ignore_insights).await;
    ctx.reporter.finish();
    if let Err(error) = result {
        return Err(RunError::Apply(apply::ApplyError {
            task: crate::plan::Task::Cluster,
            kind: crate::plan::Kind::EksCluster,
            step: "upgrade".into(),
            name: format!("upgrade to Kubernetes {target}"),
            error,
            also_failed: Vec::new(),
        }));
    }
    record_upgraded(
        &ctx,
        &stored,
        &target,
        next.end_of_standard_support.clone(),
        profile_path,
    )?;
    let (line, _) = next
        .end_of_standard_support
        .as_deref()
        .map(|end| support_line_for(&target, end, now, support_policy))
        .unwrap_or_else(|| (format!("Kubernetes {target}"), false));
    let parts = if stored.auto_mode() {
        "control plane and add-ons run Kubernetes {target}; Auto Mode moves its nodes to it over the next minutes"
    } else {
        "control plane, add-ons and node groups run Kubernetes {target}"
    }
    .replace("{target}", &target);
    ui::print(&format!(
        "\nCluster \"{name}\" is upgraded: {parts}.\n  {line}\n"
    ));
    Ok(ExitCode::SUCCESS)
}

/// Done: the state file (and the profile file, if given) say the new version.
fn record_upgraded(
    ctx: &Ctx,
    stored: &Profile,
    target: &str,
    standard_support_ends: Option<String>,
    profile_path: Option<&Path>,
) -> Result<(), RunError> {
    let mut upgraded = stored.clone();
    upgraded.cluster.kubernetes_version = Some(target.to_string());
    {
        let mut journal = ctx.journal.lock().expect("journal lock");
        journal.state.kubernetes_version = Some(target.to_string());
        journal.state.standard_support_ends = standard_support_ends;
        journal.state.upgrade_target = None;
        journal.adopt_profile(&upgraded)?;
    }
    if let Some(p) = profile_path {
        set_profile_version(p, target)?;
    }
    Ok(())
}

/// The state file to upgrade (`--state`, `--cluster/--region`, or the default one of
/// `--profile`), opened and locked, with its profile; a given profile must be that cluster's.
fn open_for_upgrade(
    target: &StateTarget,
    profile_path: Option<&Path>,
) -> Result<(PathBuf, Journal, Profile), RunError> {
    let path = match (
        target.state.is_none() && target.cluster.is_none(),
        profile_path,
    ) {
        // With only --profile: that cluster's default state file.
        (true, Some(p)) => {
            let profile = Profile::load(p)?;
            journal::profile_state_path(&profile)
        }
        _ => state_path(target)?,
    };
    let Some(journal) = Journal::open(&path)? else {
        return Err(RunError::Usage {
            message: format!("there is no state file at {}", path.display()),
            hint: "pass --state PATH, or --cluster NAME --region REGION of a cluster eksboot made"
                .into(),
        });
    };
    let stored = journal.state.profile(&path)?;
    if let Some(p) = profile_path {
        let given = Profile::load(p)?;
        if (given.cluster.name.as_str(), given.cluster.region.as_str())
            != (stored.cluster.name.as_str(), stored.cluster.region.as_str())
        {
            return Err(RunError::Usage {
                message: format!(
                    "{} describes cluster {} in {}, but {} is cluster {} in {}",
                    p.display(),
                    given.cluster.name,
                    given.cluster.region,
                    path.display(),
                    stored.cluster.name,
                    stored.cluster.region
                ),
                hint: "pass the profile of the cluster you are upgrading".into(),
            });
        }
    }
    Ok((path, journal, stored))
}

/// Prints what EKS's upgrade insights say about `target`; returns how many are in ERROR. A
/// rerun whose control plane already runs `target` has passed (or overridden) the gate: not
/// checked again.
async fn show_insights(
    aws: &Aws,
    name: &str,
    version: &str,
    target: &str,
) -> Result<usize, RunError> {
    let mut blocking = 0;
    if version == target {
        ui::print("\nUpgrade insights: not checked again (the control plane already runs the new version).\n");
    } else {
        let (insights, refresh) = read_insights(aws, name, target).await?;
        let mut out = String::new();
        match refresh.as_str() {
            "COMPLETED" | "" => {}
            "FAILED" => out.push_str("\nEKS could not refresh the upgrade insights (the refresh FAILED): those below are from an earlier check, not current.\n"),
            other => out.push_str(&format!("\nThe upgrade insights refresh is still {other}: those below may be from an earlier check.\n")),
        }
        if !insights.is_empty() {
            out.push_str(&format!(
                "\nUpgrade insights for Kubernetes {target} (EKS):\n"
            ));
            for i in &insights {
                let mark = match i.status.as_str() {
                    "ERROR" => {
                        blocking += 1;
                        "✗"
                    }
                    "WARNING" => "!",
                    "PASSING" => "✓",
                    _ => "?",
                };
                out.push_str(&format!(
                    "  {mark} {} [{}]: {}\n",
                    i.name, i.status, i.reason
                ));
                if i.status != "PASSING" && !i.recommendation.is_empty() {
                    out.push_str(&format!("      recommendation: {}\n", i.recommendation));
                }
            }
        }
        if !out.is_empty() {
            ui::print(&out);
        }
    }
    Ok(blocking)
}

/// Each add-on's way to `target`, chosen from what EKS offers (nothing moved down), printed;
/// an add-on with no way there stops the upgrade before anything changes.
async fn addon_moves(
    aws: &Aws,
    name: &str,
    version: &str,
    target: &str,
    policy: crate::plan::upgrade::AddonPolicy,
) -> Result<Vec<crate::plan::upgrade::AddonMove>, RunError> {
    let mut moves = Vec::new();
    let mut changes = String::new();
    let mut kept = Vec::new();
    for addon in aws::eks::list_addons(&aws.eks, name).await? {
        let installed = aws::eks::describe_addon(&aws.eks, name, &addon)
            .await?
            .map(|a| a.version)
            .unwrap_or_default();
        let current = aws::eks::addon_offer(&aws.eks, &addon, version).await?;
        let offered = aws::eks::addon_offer(&aws.eks, &addon, target).await?;
        match crate::plan::upgrade::addon_move(&addon, &installed, &current, &offered, policy) {
            Ok(None) => kept.push(format!("{addon} {installed}")),
            Ok(Some(m)) => {
                let steps: Vec<String> = m
                    .before
                    .iter()
                    .map(|v| format!("{v} (before the control plane)"))
                    .chain(m.after.iter().cloned())
                    .collect();
                changes.push_str(&format!("  {addon} {} → {}", m.from, m.to));
                if steps.len() > 1 {
                    changes.push_str(&format!(
                        ", one minor version at a time: {}",
                        steps.join(", then ")
                    ));
                } else if !m.before.is_empty() {
                    changes.push_str(" (before the control plane)");
                }
                changes.push('\n');
                moves.push(m);
            }
            Err(why) => {
                return Err(RunError::Blocked {
                    message: format!("{why}; nothing was changed"),
                    hint: "remove the add-on from cluster.addons (`eksboot apply`), or move it by hand, then upgrade".into(),
                })
            }
        }
    }
    let mut text = format!(
        "\nAdd-ons ({}):\n",
        match policy {
            crate::plan::upgrade::AddonPolicy::Compatible =>
                "--addons compatible: versions the new Kubernetes version supports are kept",
            crate::plan::upgrade::AddonPolicy::Default =>
                "--addons default: each to the new version's default unless that is older",
        }
    );
    if changes.is_empty() {
        text.push_str("  none changes\n");
    } else {
        text.push_str(&changes);
    }
    if !kept.is_empty() {
        text.push_str(&format!("  kept: {}\n", kept.join(", ")));
    }
    ui::print(&text);
    Ok(moves)
}

/// What the upgrade will do, said before anything: the versions, what staying costs under the
/// cluster's support policy, the target's support, and the order of the parts.
fn intro(
    stored: &Profile,
    live: &aws::eks::ClusterInfo,
    target: &str,
    resuming: bool,
    offered: &[aws::eks::OfferedVersion],
    now: std::time::SystemTime,
) -> String {
    let name = &stored.cluster.name;
    let support_policy = SupportPolicy::from_eks(&live.support_type);
    let mut text = if live.version == target {
        format!(
            "Upgrade of cluster \"{name}\" in {}: the control plane runs Kubernetes {target}; continuing an upgrade that stopped (add-ons and node groups)\n",
            stored.cluster.region
        )
    } else {
        format!(
            "Upgrade of cluster \"{name}\" in {}: Kubernetes {} → {target}{}\n",
            stored.cluster.region,
            live.version,
            if resuming {
                " (continuing an upgrade that stopped)"
            } else {
                ""
            }
        )
    };
    if let Some(end) = offered
        .iter()
        .find(|v| v.version == live.version)
        .and_then(|v| v.end_of_standard_support.as_deref())
    {
        let (line, _) = support_line_for(&live.version, end, now, support_policy);
        text.push_str(&format!("  {line}\n"));
    }
    // What staying costs follows the cluster's upgrade policy (DescribeCluster's
    // upgradePolicy.supportType): no extended-support cost under STANDARD.
    text.push_str(&format!("  {}\n", policy_cost_line(support_policy)));
    if let Some(end) = offered
        .iter()
        .find(|v| v.version == target)
        .and_then(|v| v.end_of_standard_support.as_ref())
    {
        text.push_str(&format!(
            "  Kubernetes {target} has standard support until {}.\n",
            crate::plan::upgrade::day(end)
        ));
    }
    if stored.auto_mode() {
        // Auto Mode's nodes follow the control plane on their own (EKS user guide, "Update a
        // cluster" with Auto Mode: it replaces nodes with ones of the new version, honouring
        // PodDisruptionBudgets).
        text.push_str("  Order: the control plane, then the add-ons eksboot installed; EKS Auto Mode then replaces its nodes with ones running the new version (honouring PodDisruptionBudgets).\n");
    } else {
        text.push_str("  Order: node groups to the control plane's version (and add-on steps the new version does not offer), the control plane, then add-ons and node groups together.\n");
    }
    text
}

fn execute_error(e: ExecuteError, path: &Path) -> RunError {
    match e {
        ExecuteError::Failed(e) => e.into(),
        ExecuteError::Interrupted { .. } => RunError::Interrupted {
            message: "interrupted before the upgrade started".into(),
            hint: format!("run `eksboot upgrade --state {}` again", path.display()),
        },
    }
}

/// Refreshes the cluster's upgrade insights (waiting a while for EKS to finish), then reads
/// those for `target` (every page), each one that is not passing in full. Also returns how the
/// refresh ended (`COMPLETED`, `FAILED`, or `IN_PROGRESS` when it took too long).
async fn read_insights(
    aws: &Aws,
    name: &str,
    target: &str,
) -> Result<(Vec<aws::eks::Insight>, String), RunError> {
    aws::eks::start_insights_refresh(&aws.eks, name).await?;
    let started = std::time::Instant::now();
    let mut poll = apply::retry::PollDelay::new(Timing::from_env().poll);
    let refresh = loop {
        let status = aws::eks::insights_refresh_status(&aws.eks, name).await?;
        if status != "IN_PROGRESS" || started.elapsed() >= REFRESH_WAIT {
            break status;
        }
        poll.sleep().await;
    };
    let mut insights = Vec::new();
    for summary in aws::eks::upgrade_insights(&aws.eks, name, target).await? {
        if summary.status == "PASSING" {
            insights.push(summary);
        } else {
            insights.push(aws::eks::describe_insight(&aws.eks, name, &summary.id).await?);
        }
    }
    Ok((insights, refresh))
}

/// Writes `version` as the profile's `cluster.kubernetes_version`, keeping everything else in
/// the file (comments, order, spacing) as it was.
fn set_profile_version(path: &Path, version: &str) -> Result<(), RunError> {
    let text = std::fs::read_to_string(path).map_err(|source| ProfileError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let updated = crate::profile::edit::set_kubernetes_version(&text, version).map_err(|e| {
        RunError::Usage {
            message: format!("cannot update {}: {e}", path.display()),
            hint: format!("set cluster.kubernetes_version = \"{version}\" in it by hand"),
        }
    })?;
    journal::write_atomically(path, updated.as_bytes()).map_err(|e| RunError::Usage {
        message: format!("cannot write {}: {e}", path.display()),
        hint: format!("set cluster.kubernetes_version = \"{version}\" in it by hand"),
    })
}
