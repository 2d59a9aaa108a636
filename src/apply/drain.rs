//! Draining a node group before `apply` deletes it (a replacement with other instance types, or
//! nodes turned off). EKS drains on DeleteNodegroup too, but force-terminates each node after
//! 5 minutes whatever PodDisruptionBudgets say; eksboot first cordons the node group's nodes and
//! evicts their pods through the Kubernetes Eviction API, which honours the budgets, as
//! `kubectl drain` and eksctl do. A budget that refuses (429) is asked again until the drain's
//! time runs out; then the run stops naming the budgets and pods, unless `--force`.

use std::collections::BTreeSet;
use std::time::{Duration, Instant, SystemTime};

use crate::aws::kubernetes::{self, Eviction, Kube, KubeError, PodInfo};
use crate::aws::{eks, AwsError};
use crate::plan::Resource;

use super::cluster::as_creator;
use super::retry::PollDelay;
use super::{Ctx, StepError};

/// The label EKS puts on every node of a managed node group.
pub const NODEGROUP_LABEL: &str = "eks.amazonaws.com/nodegroup";
/// How long a drain may wait for PodDisruptionBudgets by default (`apply --drain-timeout`).
pub const DEFAULT_BUDGET: Duration = Duration::from_secs(15 * 60);
/// Tokens last 15 minutes: a drain that waits longer makes a new client before then.
const TOKEN_REFRESH: Duration = Duration::from_secs(10 * 60);

/// How a run drains the node groups it deletes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DrainPolicy {
    /// How long to keep asking refusing budgets.
    pub budget: Duration,
    /// Delete the node group even when the drain could not finish (`--force`).
    pub force: bool,
    /// The person agreed (or `--force` said) that EKS drains an API eksboot cannot reach.
    pub let_eks_drain: bool,
}

impl Default for DrainPolicy {
    fn default() -> Self {
        DrainPolicy {
            budget: DEFAULT_BUDGET,
            force: false,
            let_eks_drain: false,
        }
    }
}

/// The pods a drain evicts: not DaemonSet pods (their controller puts them back on the node
/// and they tolerate the cordon; `kubectl drain --ignore-daemonsets`), not mirror pods (the
/// kubelet owns static pods; the API cannot evict them), not pods already terminating.
pub fn to_evict(pods: &[PodInfo]) -> Vec<&PodInfo> {
    pods.iter()
        .filter(|p| !p.mirror && !p.terminating && !p.owner_kinds.iter().any(|k| k == "DaemonSet"))
        .collect()
}

/// The budgets named in the Eviction API's refusals ("The disruption budget web needs 2
/// healthy pods and has 2 currently").
pub fn budget_names(causes: &[String]) -> BTreeSet<String> {
    causes
        .iter()
        .filter_map(|c| c.strip_prefix("The disruption budget "))
        .filter_map(|rest| rest.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

/// Why the drain stops: the budgets and pods still refused when its time ran out.
pub fn blocked_error(
    nodegroup: &str,
    refused: &[(String, Vec<String>)],
    budget: Duration,
) -> StepError {
    let pods: Vec<&str> = refused.iter().map(|(p, _)| p.as_str()).collect();
    let causes: Vec<String> = refused.iter().flat_map(|(_, c)| c.clone()).collect();
    let budgets: Vec<String> = budget_names(&causes).into_iter().collect();
    let held_by = if budgets.is_empty() {
        "the Eviction API refused them".to_string()
    } else {
        format!("PodDisruptionBudget {} refused", budgets.join(", "))
    };
    StepError::Conflict {
        message: format!(
            "node group {nodegroup} is not drained after {}: {held_by} to evict {} ({}); the node group is not deleted",
            humantime::format_duration(budget),
            pods.join(", "),
            causes.first().map(String::as_str).unwrap_or("no reason given")
        ),
        hint: "let the budget's other pods become ready (or scale the workload up) and rerun; \
               --drain-timeout gives it longer; --force deletes the node group anyway (EKS then \
               terminates each node after 5 minutes, whatever the budget says)"
            .into(),
    }
}

fn unreachable_error(error: &KubeError, private_only: bool) -> StepError {
    let why = if private_only {
        " (the endpoint is private: only reachable from inside the cluster's VPC)"
    } else {
        ""
    };
    StepError::Conflict {
        message: format!("the node group cannot be drained: {error}{why}"),
        hint:
            "run eksboot where it reaches the cluster's API (inside the VPC, or after making the \
               endpoint public), or rerun `eksboot apply --force` to let EKS drain it (each node \
               terminated after 5 minutes, whatever PodDisruptionBudgets say)"
                .into(),
    }
}

fn kube_error(error: KubeError) -> StepError {
    match error {
        KubeError::Refused { ref code, .. } if *code == 401 || *code == 403 => {
            StepError::Conflict {
                message: error.to_string(),
                hint: "eksboot acts as the cluster creator role for this; check its access entry \
                   (`eksboot status --live`) and rerun"
                    .into(),
            }
        }
        other => StepError::Conflict {
            message: other.to_string(),
            hint: "rerun to try again, or pass --force to let EKS drain the node group".into(),
        },
    }
}

/// A client for the cluster's API, acting as the creator role (the cluster's first admin), and
/// whether the endpoint is private only; the inner error when the API cannot be set up.
async fn client(ctx: &Ctx) -> Result<(Result<Kube, KubeError>, bool), StepError> {
    let creator = as_creator(ctx).await?;
    let cluster = ctx.profile.cluster.name.as_str();
    let info = eks::describe_cluster(&creator.eks, cluster)
        .await
        .map_err(AwsError::as_creator)?
        .ok_or_else(|| StepError::Broken(format!("cluster {cluster} is gone")))?;
    let credentials = crate::aws::credentials(&creator.config).await?;
    let token = crate::token::token(
        &credentials,
        &ctx.profile.cluster.region,
        cluster,
        SystemTime::now(),
    )
    .map_err(|e| StepError::Broken(e.to_string()))?;
    let kube = kubernetes::connect(&info.endpoint, &info.certificate_authority, Some(token)).await;
    Ok((kube, !info.endpoint_public))
}

/// Cordons every node of `nodegroup` and evicts their pods; returns once none is left to
/// evict, or with the error that stops the run. With an unreachable API the person's (or
/// `--force`'s) earlier choice decides: EKS drains, or the run stops.
pub async fn drain_nodegroup(ctx: &Ctx, res: &Resource, nodegroup: &str) -> Result<(), StepError> {
    let policy = ctx.drain;
    let started = Instant::now();
    let let_eks_drain = |why: &str| {
        let note = format!("{why}: EKS drains the nodes itself (5 minutes each at most)");
        ctx.waiting(res, nodegroup, &note, started);
    };
    if policy.let_eks_drain {
        let_eks_drain("the Kubernetes API is out of reach");
        return Ok(());
    }
    let (kube, private_only) = client(ctx).await?;
    let reached = match kube {
        Ok(kube) => kube
            .nodes_labelled(NODEGROUP_LABEL, nodegroup)
            .await
            .map(|n| (kube, n)),
        Err(e) => Err(e),
    };
    let (mut kube, nodes) = match reached {
        Ok(reached) => reached,
        Err(e @ (KubeError::Unreachable { .. } | KubeError::Config { .. })) if policy.force => {
            let_eks_drain(&format!("--force: {e}"));
            return Ok(());
        }
        Err(e @ (KubeError::Unreachable { .. } | KubeError::Config { .. })) => {
            return Err(unreachable_error(&e, private_only))
        }
        Err(e) => return Err(kube_error(e)),
    };
    let mut made = Instant::now();
    for node in nodes.iter().filter(|n| !n.unschedulable) {
        ctx.waiting(res, nodegroup, &format!("cordoning {}", node.name), started);
        kube.cordon(&node.name).await.map_err(kube_error)?;
    }
    let mut poll = PollDelay::new(ctx.timing.poll);
    loop {
        ctx.check_stopping()?;
        if made.elapsed() > TOKEN_REFRESH {
            kube = client(ctx).await?.0.map_err(kube_error)?;
            made = Instant::now();
        }
        let mut left = Vec::new();
        let mut terminating = 0;
        for node in &nodes {
            let pods = kube.pods_on(&node.name).await.map_err(kube_error)?;
            terminating += pods.iter().filter(|p| p.terminating).count();
            left.extend(to_evict(&pods).into_iter().cloned());
        }
        if left.is_empty() && terminating == 0 {
            return Ok(());
        }
        let mut refused = Vec::new();
        for pod in &left {
            match kube
                .evict(&pod.namespace, &pod.name)
                .await
                .map_err(kube_error)?
            {
                Eviction::Evicted | Eviction::Gone => {}
                Eviction::Refused { causes } => {
                    refused.push((format!("{}/{}", pod.namespace, pod.name), causes))
                }
            }
        }
        let status = if refused.is_empty() {
            format!(
                "draining {} nodes: {} pods leaving",
                nodes.len(),
                left.len() + terminating
            )
        } else {
            let names: Vec<String> = budget_names(
                &refused
                    .iter()
                    .flat_map(|(_, c)| c.clone())
                    .collect::<Vec<_>>(),
            )
            .into_iter()
            .collect();
            format!(
                "draining {} nodes: {} pods held by PodDisruptionBudget {}",
                nodes.len(),
                refused.len(),
                if names.is_empty() {
                    "?".to_string()
                } else {
                    names.join(", ")
                }
            )
        };
        ctx.waiting(res, nodegroup, &status, started);
        if started.elapsed() > policy.budget {
            if refused.is_empty() {
                return Err(StepError::TimedOut(format!(
                    "node group {nodegroup}: {} pods still terminating after {}",
                    left.len() + terminating,
                    humantime::format_duration(policy.budget)
                )));
            }
            if policy.force {
                let note = format!(
                    "--force: deleting the node group with {} pods not evicted",
                    refused.len()
                );
                ctx.waiting(res, nodegroup, &note, started);
                return Ok(());
            }
            return Err(blocked_error(nodegroup, &refused, policy.budget));
        }
        poll.sleep().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(name: &str, owner: Option<&str>, mirror: bool) -> PodInfo {
        PodInfo {
            namespace: "default".into(),
            name: name.into(),
            owner_kinds: owner.map(|o| vec![o.to_string()]).unwrap_or_default(),
            mirror,
            terminating: false,
        }
    }

    #[test]
    fn daemonset_and_mirror_pods_stay_everything_else_is_evicted() {
        let mut leaving = pod("leaving", Some("ReplicaSet"), false);
        leaving.terminating = true;
        let pods = [
            pod("web", Some("ReplicaSet"), false),
            pod("bare", None, false),
            pod("aws-node", Some("DaemonSet"), false),
            pod("static", None, true),
            leaving,
            pod("job", Some("Job"), false),
        ];
        let names: Vec<&str> = to_evict(&pods).iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["web", "bare", "job"]);
    }

    #[test]
    fn the_refusing_budgets_are_named() {
        let causes = vec![
            "The disruption budget web needs 2 healthy pods and has 2 currently".to_string(),
            "The disruption budget db needs 1 healthy pods and has 1 currently".to_string(),
            "Cannot evict pod as it would violate the pod's disruption budget.".to_string(),
        ];
        assert_eq!(
            budget_names(&causes).into_iter().collect::<Vec<_>>(),
            ["db", "web"]
        );
        let error = blocked_error(
            "ng-1",
            &[("default/web-1".into(), causes[..1].to_vec())],
            Duration::from_secs(900),
        );
        let text = error.to_string();
        assert!(text.contains("PodDisruptionBudget web"), "{text}");
        assert!(text.contains("default/web-1"), "{text}");
        assert!(text.contains("15m"), "{text}");
        assert!(error.hint().contains("--force"));
    }
}
