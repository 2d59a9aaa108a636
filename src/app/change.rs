//! `apply` (day two): change a running cluster to match its changed profile. Shows the difference, asks,
//! writes the new profile into the state file, then runs the same executor as `create` (every
//! step brings its resource to the profile) and removes what the profile dropped. Journaled
//! like a create: a stopped apply is finished by `apply` or `resume`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::common::*;
use super::create::{run, KubeconfigTarget, Purpose};
use crate::plan::diff::{diff, Action};

/// The add-ons whose software is essential to every node: without vpc-cni no pod gets an
/// address, without kube-proxy no Service routes, without coredns no name resolves.
pub const ESSENTIAL_ADDONS: [&str; 3] = ["vpc-cni", "kube-proxy", "coredns"];

/// `apply --delete-addon-software NAME` (repeatable) and `--force`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SoftwareChoice {
    pub delete: Vec<String>,
    pub force: bool,
}

/// Checks `--delete-addon-software`: each name must be an add-on this apply removes (`removed`),
/// and one of [`ESSENTIAL_ADDONS`] is refused while the cluster has nodes, unless `--force`.
pub fn check_software_choice(
    choice: &SoftwareChoice,
    removed: &[String],
    has_nodes: bool,
) -> Result<(), RunError> {
    for name in &choice.delete {
        if !removed.contains(name) {
            return Err(RunError::Usage {
                message: format!(
                    "--delete-addon-software {name}: {name} is not an add-on this apply removes from the cluster"
                ),
                hint: if removed.is_empty() {
                    "remove it from cluster.addons first; apply then stops managing it, and this flag deletes its software too".into()
                } else {
                    format!("this apply removes: {}", removed.join(", "))
                },
            });
        }
        if ESSENTIAL_ADDONS.contains(&name.as_str()) && has_nodes && !choice.force {
            return Err(RunError::Usage {
                message: format!(
                    "refusing to delete the software of {name} while the cluster has nodes: {}",
                    match name.as_str() {
                        "vpc-cni" => "new pods would get no IP address",
                        "kube-proxy" => "Services would stop routing to pods",
                        _ => "cluster DNS would stop resolving for every workload",
                    }
                ),
                hint: format!(
                    "drop --delete-addon-software {name} to leave its software running (EKS only stops managing it), or add --force if you replace it yourself"
                ),
            });
        }
    }
    Ok(())
}

pub(super) async fn apply(
    profile_path: &Path,
    state: Option<PathBuf>,
    yes: bool,
    kubeconfig: KubeconfigTarget,
) -> Result<ExitCode, RunError> {
    apply_with(
        profile_path,
        state,
        yes,
        kubeconfig,
        &SoftwareChoice::default(),
        apply::drain::DrainPolicy::default(),
    )
    .await
}

/// `apply`, with the add-ons whose software goes too.
pub(super) async fn apply_with(
    profile_path: &Path,
    state: Option<PathBuf>,
    yes: bool,
    kubeconfig: KubeconfigTarget,
    software: &SoftwareChoice,
    mut drain: apply::drain::DrainPolicy,
) -> Result<ExitCode, RunError> {
    let profile = Profile::load(profile_path)?;
    let state_path = state.unwrap_or_else(|| journal::profile_state_path(&profile));
    let Some(mut journal) = Journal::open(&state_path)? else {
        return Err(RunError::Usage {
            message: format!(
                "there is no state file at {}: apply changes a cluster eksboot created",
                state_path.display()
            ),
            hint: format!(
                "create it first (`eksboot create --profile {}`), or pass --state PATH",
                profile_path.display()
            ),
        });
    };
    let before = journal.state.profile(&state_path)?;
    let mut d = diff(&before, &profile);
    // You keep your access whatever `cluster.admins` says: eksboot's own entry stays.
    let caller = journal
        .state
        .steps
        .get("access-entry-caller")
        .and_then(|s| s.outputs.as_ref())
        .map(|o| o.id.clone());
    if let Some(caller) = &caller {
        crate::plan::diff::note_caller(&mut d, caller);
    }
    refuse_fixed(&d)?;
    // New instance types or a new OS mean a new node group beside the old one (EKS cannot
    // change them in place): the next generation, ACTIVE before the old one is deleted.
    let replacing = d.changes.iter().any(|c| {
        matches!(c.field.as_str(), "nodes.instance_types" | "nodes.os")
            && c.action == Action::Replace
    });
    let mut facts = journal.facts();
    if replacing {
        facts.nodegroup_generation = Some(facts.nodegroup_generation.unwrap_or(1) + 1);
    }
    let plan = Plan::build(&profile, &facts);
    let unfinished = journal
        .state
        .steps
        .values()
        .any(|s| s.status != journal::StepStatus::Done);
    let dropped = apply::retire::dropped_steps(journal.state.steps.keys(), &plan.resources);
    // Add-ons this apply removes (also those a stopped apply left to remove).
    let removed_addons: Vec<String> = dropped
        .iter()
        .filter_map(|item| match item {
            apply::retire::Dropped::Addon { step } => {
                Some(step.trim_start_matches("addon-").to_string())
            }
            _ => None,
        })
        .collect();
    let has_nodes = journal
        .state
        .steps
        .keys()
        .any(|id| id == "nodegroup" || id.starts_with("nodegroup-"));
    check_software_choice(software, &removed_addons, has_nodes)?;
    if d.changes.is_empty() && !unfinished && dropped.is_empty() {
        ui::print(&format!(
            "No changes: cluster \"{}\" was made with {} as it is now.\n  Changed in AWS by other means? `eksboot plan --live --profile {1}` compares with AWS, and `eksboot resume --state {}` brings AWS back to the profile.\n",
            profile.cluster.name,
            profile_path.display(),
            state_path.display()
        ));
        return Ok(ExitCode::SUCCESS);
    }
    if !yes && !interactive() {
        return Err(RunError::Usage {
            message: "apply needs --yes when it cannot ask (no terminal, or CI is set)".into(),
            hint: format!(
                "review `eksboot plan --profile {}` first, then add --yes",
                profile_path.display()
            ),
        });
    }
    ui::print(&ui::render_diff_text(
        &profile,
        &plan,
        &d,
        &state_path.display().to_string(),
    ));
    if d.changes.iter().any(|c| c.action == Action::Remove) {
        ui::print("Removing deletes what is listed with `-` for good (a removed add-on's software keeps running).\n");
    }
    let software = &ask_software_choice(software, &removed_addons, has_nodes, yes);
    if !software.delete.is_empty() {
        ui::print(&format!(
            "The software of {} is deleted from the cluster too.\n",
            software.delete.join(", ")
        ));
    }
    let deletes_nodegroup = dropped
        .iter()
        .any(|item| matches!(item, apply::retire::Dropped::Nodegroup { .. }));
    if deletes_nodegroup {
        check_drain_reach(&profile, &mut drain, yes).await?;
    }
    if !yes && !ui::confirm("Apply these changes now?") {
        return Err(RunError::Cancelled);
    }
    record_apply(
        &mut journal,
        !d.changes.is_empty(),
        &facts,
        software,
        &before,
    )?;
    journal.adopt_profile(&profile)?;
    run(
        profile,
        &profile_path.display().to_string(),
        true,
        Some(state_path),
        kubeconfig,
        Purpose::Apply(journal, drain),
    )
    .await
}

/// Fields that cannot change on a running cluster stop the apply before anything, each with
/// its reason, and the first one's way out.
fn refuse_fixed(d: &crate::plan::diff::Diff) -> Result<(), RunError> {
    if !d.refused.is_empty() {
        let fields: Vec<String> = d
            .refused
            .iter()
            .map(|r| format!("{} ({})", r.field, r.reason))
            .collect();
        return Err(RunError::Usage {
            message: format!(
                "these fields cannot change on a running cluster: {}",
                fields.join("; ")
            ),
            hint: d.refused[0].way_out.clone(),
        });
    }
    Ok(())
}

/// What the state file holds before the executor runs an accepted apply: its sequence number,
/// the node group generation, which add-ons' software goes too, and the desired size a state
/// file from before eksboot recorded it was made with.
fn record_apply(
    journal: &mut Journal,
    changed: bool,
    facts: &PlanFacts,
    software: &SoftwareChoice,
    before: &Profile,
) -> Result<(), RunError> {
    // A changed profile is a new apply: a new sequence number, so each of its requests carries
    // an idempotency token no earlier apply sent. Finishing a stopped apply (no change) keeps
    // the number, so its requests repeat their tokens.
    if changed {
        journal.begin_apply()?;
    }
    // From here the state file holds the new profile: a stopped apply resumes with it.
    journal.state.nodegroup_generation = facts.nodegroup_generation;
    // Journaled on each add-on's step, so a resumed apply deletes the same software.
    for name in &software.delete {
        if let Some(outputs) = journal
            .state
            .steps
            .get_mut(&format!("addon-{name}"))
            .and_then(|s| s.outputs.as_mut())
        {
            outputs
                .attrs
                .insert(apply::retire::DELETE_SOFTWARE.into(), "true".into());
        }
    }
    // A state file from before eksboot recorded the desired size it set: the one the cluster
    // was made or last changed with, so only a changed profile value moves it.
    for (id, step) in journal.state.steps.iter_mut() {
        if id == "nodegroup" || id.starts_with("nodegroup-") {
            if let Some(outputs) = step.outputs.as_mut() {
                outputs
                    .attrs
                    .entry(apply::cluster::SET_DESIRED.into())
                    .or_insert_with(|| before.nodes.desired_size.to_string());
            }
        }
    }
    Ok(())
}

/// On a terminal (no `--yes`), each add-on this apply removes is a question: keep its software
/// running (the default: EKS only stops managing it) or delete it too. Not asked for vpc-cni,
/// kube-proxy and coredns while nodes exist (pod networking and DNS): those take
/// `--delete-addon-software NAME --force`.
fn ask_software_choice(
    given: &SoftwareChoice,
    removed: &[String],
    has_nodes: bool,
    yes: bool,
) -> SoftwareChoice {
    let mut choice = given.clone();
    if yes || !interactive() {
        return choice;
    }
    for name in removed {
        let essential = ESSENTIAL_ADDONS.contains(&name.as_str()) && has_nodes;
        if choice.delete.contains(name) || essential {
            continue;
        }
        let question = format!(
            "Add-on {name} leaves cluster.addons: EKS stops managing it and its software keeps running. Delete its software from the cluster too?"
        );
        if ui::confirm(&question) {
            choice.delete.push(name.clone());
        }
    }
    choice
}

/// Before a node group is deleted, eksboot drains it through the cluster's Kubernetes API:
/// checked up front (nothing is changed yet) so that an API eksboot cannot reach is a choice
/// the person makes, not a surprise half way. Unreachable: asked whether EKS may drain instead
/// (5 minutes per node at most); without a question (`--yes`, no terminal) only `--force` goes on.
async fn check_drain_reach(
    profile: &Profile,
    drain: &mut apply::drain::DrainPolicy,
    yes: bool,
) -> Result<(), RunError> {
    if ui::sandbox() {
        ui::print("The sandbox has no Kubernetes API to drain through: EKS drains the node group this apply deletes, as it does on AWS when eksboot cannot reach the cluster (5 minutes per node at most there).\n");
        drain.let_eks_drain = true;
        return Ok(());
    }
    let aws = Aws::connect(
        &profile.cluster.region,
        &crate::aws::TransportRetry::from_env(),
    )
    .await?;
    let Some(info) = crate::aws::eks::describe_cluster(&aws.eks, &profile.cluster.name).await?
    else {
        return Ok(());
    };
    let reached =
        match crate::aws::kubernetes::connect(&info.endpoint, &info.certificate_authority, None)
            .await
        {
            Ok(kube) => kube.probe().await,
            Err(e) => Err(e),
        };
    let Err(error) = reached else {
        return Ok(());
    };
    let private = if info.endpoint_public {
        ""
    } else {
        " Its endpoint is private: it answers only inside the cluster's VPC."
    };
    let why = format!(
        "this apply deletes a node group, and eksboot drains it first through the cluster's Kubernetes API, but {error}.{private}\n  EKS can drain it instead, but it terminates each node after 5 minutes whatever PodDisruptionBudgets say.\n"
    );
    if drain.force {
        ui::print(&format!(
            "warning: {why}--force: EKS drains the node group.\n"
        ));
        drain.let_eks_drain = true;
        return Ok(());
    }
    if !yes && interactive() {
        ui::print(&format!("warning: {why}"));
        if ui::confirm("Let EKS drain the node group (5 minutes per node at most)?") {
            drain.let_eks_drain = true;
            return Ok(());
        }
        return Err(RunError::Cancelled);
    }
    Err(RunError::Blocked {
        message: format!("cannot drain the node group this apply deletes: {error}.{private}"),
        hint: "run eksboot where it reaches the cluster's API (inside the VPC, or make the endpoint public first), or add --force to let EKS drain it (5 minutes per node at most)".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn choice(names: &[&str], force: bool) -> SoftwareChoice {
        SoftwareChoice {
            delete: names.iter().map(|n| n.to_string()).collect(),
            force,
        }
    }

    #[test]
    fn deleting_an_addons_software_is_explicit_and_refused_for_essentials_with_nodes() {
        let removed = vec!["coredns".to_string(), "metrics-server".to_string()];
        assert!(check_software_choice(&choice(&[], false), &removed, true).is_ok());
        assert!(check_software_choice(&choice(&["metrics-server"], false), &removed, true).is_ok());
        // Not removed by this apply: refused with what it does remove.
        let Err(RunError::Usage { message, hint }) =
            check_software_choice(&choice(&["vpc-cni"], false), &removed, true)
        else {
            panic!("vpc-cni is not removed")
        };
        assert!(
            message.contains("not an add-on this apply removes"),
            "{message}"
        );
        assert!(hint.contains("coredns, metrics-server"), "{hint}");
        // coredns with nodes: refused, with the way out; with --force or without nodes: allowed.
        let Err(RunError::Usage { message, hint }) =
            check_software_choice(&choice(&["coredns"], false), &removed, true)
        else {
            panic!("coredns with nodes")
        };
        assert!(message.contains("while the cluster has nodes"), "{message}");
        assert!(hint.contains("--force"), "{hint}");
        assert!(check_software_choice(&choice(&["coredns"], true), &removed, true).is_ok());
        assert!(check_software_choice(&choice(&["coredns"], false), &removed, false).is_ok());
    }
}
