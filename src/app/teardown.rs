//! `status` and `teardown`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use super::common::*;

pub(super) async fn status(target: &StateTarget, live: bool) -> Result<ExitCode, RunError> {
    let path = state_path(target)?;
    let state = journal::read_state(&path)?;
    let profile = state.profile(&path)?;
    let facts = state.facts();
    let plan = Plan::build(&profile, &facts);
    let (existing, live_cluster) = if live {
        let aws = Aws::connect(&state.region, &crate::aws::TransportRetry::from_env()).await?;
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
        // The version and upgrade policy as EKS has them now.
        let cluster = aws::eks::describe_cluster(&eks_aws.eks, &state.cluster).await?;
        (
            Some(inventory.lines().into_iter().map(|(_, _, id)| id).collect()),
            cluster,
        )
    } else {
        (None, None)
    };
    let support = support(&state, live_cluster.as_ref()).await;
    if ui::json_mode() {
        for line in ui::render_status_json(&plan, &state, existing.as_ref()) {
            ui::print_json_line(&line);
        }
        if let Some(s) = &support {
            let line = serde_json::json!({
                "event": "kubernetes_version",
                "version": s.version,
                "standard_support_ends": s.end,
                "warning": s.warning,
                "message": s.line,
                "source": if s.from_eks { "eks" } else { "state" },
                "upgrade_policy": s.policy,
            });
            ui::print_json_line(&line.to_string());
        }
    } else {
        let mut text = ui::render_status(&plan, &state, &path, existing.as_ref());
        if let Some(s) = support {
            text.push_str(&if s.warning {
                format!("\nwarning: {}\n", s.line)
            } else {
                format!("\n{}\n", s.line)
            });
            if let Some(note) = &s.note {
                text.push_str(&format!("  {note}\n"));
            }
        }
        ui::print(&text);
    }
    Ok(ExitCode::SUCCESS)
}

/// What `status` says about the cluster's Kubernetes version and its support.
struct Support {
    version: String,
    end: Option<String>,
    line: String,
    warning: bool,
    /// Read from EKS now (`--live`), or from the state file.
    from_eks: bool,
    /// `upgradePolicy.supportType`, when EKS was asked.
    policy: Option<String>,
    /// Where an offline answer comes from.
    note: Option<String>,
}

/// The cluster's version and the end of its standard support. Offline: as the state file
/// keeps them since create (and each upgrade), said so (EKS is asked only for the support date
/// of an older state file that lacks it). With `--live`: the version and the upgrade policy
/// DescribeCluster reports, so the support line follows `upgradePolicy.supportType`.
async fn support(state: &journal::State, live: Option<&aws::eks::ClusterInfo>) -> Option<Support> {
    let recorded = state.kubernetes_version.clone();
    let version = match live {
        Some(c) if !c.version.is_empty() => c.version.clone(),
        _ => recorded.clone()?,
    };
    let end = match &state.standard_support_ends {
        Some(end) if recorded.as_deref() == Some(version.as_str()) => Some(end.clone()),
        _ => {
            async {
                let aws = Aws::connect(&state.region, &crate::aws::TransportRetry::from_env())
                    .await
                    .ok()?;
                aws::eks::cluster_versions(&aws)
                    .await
                    .ok()?
                    .into_iter()
                    .find(|v| v.version == version)?
                    .end_of_standard_support
            }
            .await
        }
    };
    let now = crate::plan::upgrade::parse_now(std::env::var("EKSBOOT_NOW").ok().as_deref());
    let policy = crate::plan::upgrade::SupportPolicy::from_eks(
        live.map(|c| c.support_type.as_str()).unwrap_or_default(),
    );
    let (line, warning) = match &end {
        Some(end) => crate::plan::upgrade::support_line_for(&version, end, now, policy),
        None => (format!("Kubernetes {version}"), false),
    };
    Some(Support {
        version,
        end,
        line,
        warning,
        from_eks: live.is_some(),
        policy: live
            .map(|c| c.support_type.clone())
            .filter(|p| !p.is_empty()),
        note: live
            .is_none()
            .then(|| crate::plan::upgrade::offline_note(&state.updated_at)),
    })
}

/// The creator role to assume for EKS calls: the profile's existing one, or ours.
pub(super) fn creator_arn(profile: &Profile, account: &str) -> Option<String> {
    Some(match profile.security.creator_role.existing_arn() {
        Some(arn) => arn.to_string(),
        None => crate::plan::iam::role_arn(
            &profile.cluster.region,
            account,
            &format!("{}-creator", profile.cluster.name),
        ),
    })
}

pub(super) async fn teardown(
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
    let aws = Aws::connect(&region, &crate::aws::TransportRetry::from_env()).await?;
    let caller = aws::sts::caller_identity(&aws).await?;
    if let Some(j) = &journal {
        same_account(&path, &j.state.account, &caller.account)?;
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
    // Load balancers in our VPCs would stop teardown half way, after the cluster is gone and
    // `kubectl delete svc` can no longer help; volumes and target groups Kubernetes or EKS Auto
    // Mode made may hold data or serve traffic: say so before deleting anything.
    let in_the_way = inventory.load_balancers_in_the_way(force);
    if !in_the_way.is_empty() {
        ui::print(&ui::render_load_balancers_in_the_way(&in_the_way));
        return Err(RunError::Blocked {
            message: format!(
                "{} resource(s) listed above keep teardown from starting: nothing was deleted",
                in_the_way.len()
            ),
            hint: "remove them as listed above (or add --force for the ones Kubernetes or EKS Auto Mode made for this cluster), then run teardown again".into(),
        });
    }
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
