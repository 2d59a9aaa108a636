//! `eksboot upgrade`, the engine: one minor Kubernetes version, in the order EKS requires. Node
//! groups behind the control plane first; then the control plane; then, together, each add-on
//! to its default version for the new one and each node group to it. Every part is observed
//! before it is changed, so a stopped upgrade run again continues where it stopped.

use std::time::Instant;

use crate::aws::{done_if_exists, eks, Aws};
use crate::plan::{Kind, Resource};

use super::cluster::{
    as_creator, never, wait_for_update, wait_until, ADDON_TIMEOUT, CLUSTER_TIMEOUT,
    NODEGROUP_TIMEOUT,
};
use super::journal::Outputs;
use super::retry::{IdempotencyToken, PollDelay};
use super::{Ctx, Event, StepError};

/// The plan's resource for `id`, or one made up for a part the plan does not name.
fn resource(ctx: &Ctx, id: &str, kind: Kind, name: &str) -> Resource {
    ctx.plan.resource(id).cloned().unwrap_or(Resource {
        id: id.to_string(),
        task: crate::plan::Task::Cluster,
        kind,
        name: name.to_string(),
        depends_on: Vec::new(),
        cidr: None,
        az: None,
        detail: None,
    })
}

fn done(ctx: &Ctx, res: &Resource, id: &str, what: String, started: Instant) {
    ctx.reporter.report(Event::Done {
        resource: res,
        outputs: &Outputs::id(id).with("updated", what),
        adopted: true,
        elapsed: started.elapsed(),
    });
}

/// Brings the cluster to `target`: see the module doc.
pub async fn run(ctx: &Ctx, target: &str) -> Result<(), StepError> {
    let creator = as_creator(ctx).await?;
    let cluster = ctx.profile.cluster.name.as_str();
    let cluster_res = resource(ctx, "cluster", Kind::EksCluster, cluster);
    let live = ctx
        .creator_call(&cluster_res, never, || {
            eks::describe_cluster(&creator.eks, cluster)
        })
        .await?
        .ok_or_else(|| StepError::Broken(format!("the cluster {cluster} is not there")))?;
    let nodegroups = ctx
        .creator_call(&cluster_res, never, || {
            eks::list_nodegroups(&creator.eks, cluster)
        })
        .await?;

    // Node groups behind the control plane come to it first: EKS refuses to move the control
    // plane past them.
    if live.version != target {
        for name in &nodegroups {
            nodegroup_to(ctx, creator, name, &live.version).await?;
        }
        control_plane_to(ctx, creator, &cluster_res, target).await?;
    }

    // Then, all together, the add-ons and the node groups.
    let addons = ctx
        .creator_call(&cluster_res, never, || {
            eks::list_addons(&creator.eks, cluster)
        })
        .await?;
    let addon_work = futures_util::future::try_join_all(
        addons.iter().map(|a| addon_to(ctx, creator, a, target)),
    );
    let node_work = futures_util::future::try_join_all(
        nodegroups
            .iter()
            .map(|n| nodegroup_to(ctx, creator, n, target)),
    );
    let (a, n) = tokio::join!(addon_work, node_work);
    a?;
    n?;
    Ok(())
}

async fn control_plane_to(
    ctx: &Ctx,
    creator: &Aws,
    res: &Resource,
    target: &str,
) -> Result<(), StepError> {
    let cluster = ctx.profile.cluster.name.as_str();
    let started = Instant::now();
    ctx.reporter.report(Event::Started { resource: res });
    // A cluster still updating from a stopped run is waited for first.
    wait_active(ctx, creator, res).await?;
    let live = ctx
        .creator_call(res, never, || eks::describe_cluster(&creator.eks, cluster))
        .await?
        .ok_or_else(|| StepError::Broken(format!("the cluster {cluster} is not there")))?;
    if live.version != target {
        let token = IdempotencyToken::new(&ctx.run_id, &format!("upgrade-{target}")).value();
        let id = ctx
            .creator_call(res, never, || {
                eks::update_cluster_version(&creator.eks, cluster, target, &token)
            })
            .await?;
        wait_for_update(
            ctx,
            res,
            creator,
            None,
            &id,
            &format!("the control plane to {target}"),
        )
        .await?;
        wait_active(ctx, creator, res).await?;
    }
    done(ctx, res, cluster, format!("Kubernetes {target}"), started);
    Ok(())
}

async fn wait_active(ctx: &Ctx, creator: &Aws, res: &Resource) -> Result<(), StepError> {
    let cluster = ctx.profile.cluster.name.as_str();
    wait_until(ctx, res, cluster, CLUSTER_TIMEOUT, "updating", || async {
        Ok(ctx
            .creator_call(res, never, || eks::describe_cluster(&creator.eks, cluster))
            .await?
            .map(|c| c.status))
    })
    .await
}

async fn nodegroup_to(
    ctx: &Ctx,
    creator: &Aws,
    name: &str,
    version: &str,
) -> Result<(), StepError> {
    let cluster = ctx.profile.cluster.name.as_str();
    let id = ctx
        .plan
        .nodegroup_step()
        .filter(|_| ctx.plan.resources.iter().any(|r| r.name == name))
        .unwrap_or("nodegroup")
        .to_string();
    let res = resource(ctx, &id, Kind::Nodegroup, name);
    let look = || async {
        Ok::<_, StepError>(
            ctx.creator_call(&res, never, || {
                eks::describe_nodegroup(&creator.eks, cluster, name)
            })
            .await?
            .map(|n| n.status),
        )
    };
    let started = Instant::now();
    wait_until(ctx, &res, name, NODEGROUP_TIMEOUT, "updating", look).await?;
    let n = ctx
        .creator_call(&res, never, || {
            eks::describe_nodegroup(&creator.eks, cluster, name)
        })
        .await?
        .ok_or_else(|| StepError::Broken(format!("node group {name} disappeared")))?;
    if n.version == version {
        return Ok(());
    }
    ctx.reporter.report(Event::Started { resource: &res });
    let token = IdempotencyToken::new(&ctx.run_id, &format!("{id}-k{version}")).value();
    let update = ctx
        .creator_call(&res, never, || {
            eks::update_nodegroup_kubernetes(&creator.eks, cluster, name, version, &token)
        })
        .await?;
    wait_for_update(
        ctx,
        &res,
        creator,
        Some(name),
        &update,
        &format!("nodes to {version}"),
    )
    .await?;
    wait_until(ctx, &res, name, NODEGROUP_TIMEOUT, "updating", look).await?;
    done(ctx, &res, name, format!("Kubernetes {version}"), started);
    Ok(())
}

async fn addon_to(ctx: &Ctx, creator: &Aws, name: &str, target: &str) -> Result<(), StepError> {
    let cluster = ctx.profile.cluster.name.as_str();
    let res = resource(ctx, &format!("addon-{name}"), Kind::Addon, name);
    let Some(wanted) = ctx
        .creator_call(&res, never, || {
            eks::default_addon_version(&creator.eks, name, target)
        })
        .await?
    else {
        return Err(StepError::Conflict {
            message: format!("EKS offers no version of the add-on {name} for Kubernetes {target}"),
            hint: "remove it from cluster.addons (`eksboot apply`), then upgrade".into(),
        });
    };
    let installed = ctx
        .creator_call(&res, never, || {
            eks::describe_addon(&creator.eks, cluster, name)
        })
        .await?
        .map(|a| a.version)
        .unwrap_or_default();
    if installed == wanted {
        return Ok(());
    }
    let started = Instant::now();
    ctx.reporter.report(Event::Started { resource: &res });
    let token = IdempotencyToken::new(&ctx.run_id, &format!("addon-{name}-{wanted}")).value();
    // An update of it still running from a stopped run ("in use") is waited for below.
    done_if_exists(
        ctx.creator_call(&res, never, || {
            eks::update_addon(&creator.eks, cluster, name, &wanted, &token)
        })
        .await,
    )?;
    let mut poll = PollDelay::new(ctx.timing.poll);
    loop {
        ctx.check_stopping()?;
        let addon = ctx
            .creator_call(&res, never, || {
                eks::describe_addon(&creator.eks, cluster, name)
            })
            .await?
            .ok_or_else(|| StepError::Broken(format!("the add-on {name} disappeared")))?;
        match addon.status.as_str() {
            "ACTIVE" if addon.version == wanted => break,
            "UPDATE_FAILED" | "CREATE_FAILED" => {
                return Err(StepError::Broken(format!(
                    "the add-on {name} is {} moving to {wanted}",
                    addon.status
                )))
            }
            other => ctx.waiting(&res, name, other, started),
        }
        if started.elapsed() > ADDON_TIMEOUT {
            return Err(StepError::TimedOut(format!(
                "the add-on {name} is still {} after {} minutes",
                addon.status,
                ADDON_TIMEOUT.as_secs() / 60
            )));
        }
        poll.sleep().await;
    }
    done(ctx, &res, name, format!("{installed} → {wanted}"), started);
    Ok(())
}
