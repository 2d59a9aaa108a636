//! `eksboot upgrade`, the engine: one minor Kubernetes version, in the order EKS requires. Node
//! groups behind the control plane first, and add-on steps the new version does not offer; then
//! the control plane; then, together, each add-on's remaining steps (as
//! `plan::upgrade::addon_move` chose them) and each node group to the new version. Every part is observed
//! before it is changed, so a stopped upgrade run again continues where it stopped.

use std::time::Instant;

use crate::aws::{eks, Aws};
use crate::plan::upgrade::AddonMove;
use crate::plan::{Kind, Resource};

use super::cluster::{
    as_creator, never, wait_for_update, wait_until, ADDON_TIMEOUT, CLUSTER_TIMEOUT,
    NODEGROUP_TIMEOUT, OTHER_UPDATE,
};
use super::journal::Outputs;
use super::retry::{request_token, PollDelay};
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

/// Brings the cluster to `target`: see the module doc. `addons` says each add-on's steps (from
/// `plan::upgrade::addon_move`); `force` is `--ignore-insights` (UpdateClusterVersion's `force`).
pub async fn run(
    ctx: &Ctx,
    target: &str,
    addons: &[AddonMove],
    force: bool,
) -> Result<(), StepError> {
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
    // plane past them. Add-on steps the new version does not offer (vpc-cni, one minor at a
    // time) are made before it moves too.
    if live.version != target {
        for name in &nodegroups {
            nodegroup_to(ctx, creator, name, &live.version).await?;
        }
        futures_util::future::try_join_all(
            addons
                .iter()
                .map(|m| addon_steps(ctx, creator, &m.name, &m.before)),
        )
        .await?;
        control_plane_to(ctx, creator, &cluster_res, target, force).await?;
    }

    // Then, all together, the add-ons and the node groups.
    let addon_work = futures_util::future::try_join_all(
        addons
            .iter()
            .map(|m| addon_steps(ctx, creator, &m.name, &m.after)),
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

/// One add-on through `steps`, one UpdateAddon at a time, each waited for.
async fn addon_steps(
    ctx: &Ctx,
    creator: &Aws,
    name: &str,
    steps: &[String],
) -> Result<(), StepError> {
    for step in steps {
        addon_to(ctx, creator, name, step).await?;
    }
    Ok(())
}

async fn control_plane_to(
    ctx: &Ctx,
    creator: &Aws,
    res: &Resource,
    target: &str,
    force: bool,
) -> Result<(), StepError> {
    let cluster = ctx.profile.cluster.name.as_str();
    let started = Instant::now();
    ctx.reporter.report(Event::Started { resource: res });
    loop {
        // A cluster still updating (a stopped run's update, or someone else's) is waited for
        // first.
        wait_active(ctx, creator, res, "updating").await?;
        let live = ctx
            .creator_call(res, never, || eks::describe_cluster(&creator.eks, cluster))
            .await?
            .ok_or_else(|| StepError::Broken(format!("the cluster {cluster} is not there")))?;
        if live.version == target {
            break;
        }
        let token = request_token(
            ctx,
            "upgrade-cluster-version",
            &serde_json::json!({ "name": cluster, "version": target, "force": force }),
        )
        .value();
        let id = match ctx
            .creator_call(res, never, || {
                eks::update_cluster_version(&creator.eks, cluster, target, force, &token)
            })
            .await
        {
            Ok(id) => id,
            // Another update of the cluster started meanwhile (outside eksboot): waited for,
            // then the cluster is read again.
            Err(e) if eks::is_update_in_progress(&e) => {
                wait_active(ctx, creator, res, OTHER_UPDATE).await?;
                PollDelay::new(ctx.timing.poll).sleep().await;
                continue;
            }
            Err(e) => return Err(insights_gate(e, target)),
        };
        wait_for_update(
            ctx,
            res,
            creator,
            None,
            &id,
            &format!("the control plane to {target}"),
        )
        .await?;
        wait_active(ctx, creator, res, "updating").await?;
        break;
    }
    done(ctx, res, cluster, format!("Kubernetes {target}"), started);
    Ok(())
}

/// EKS refuses UpdateClusterVersion with InvalidStateException while an upgrade-readiness
/// check blocks it, unless `force`
/// (https://docs.aws.amazon.com/eks/latest/APIReference/API_UpdateClusterVersion.html): said
/// as the gate it is, with the way out.
fn insights_gate(e: crate::aws::AwsError, target: &str) -> StepError {
    match e.failure() {
        Some(f) if f.code == "InvalidStateException" => StepError::Conflict {
            message: format!(
                "EKS refuses to move the control plane to Kubernetes {target}: an upgrade readiness check blocks it ({}); the control plane did not move",
                f.message
            ),
            hint: "`eksboot upgrade` lists the insights and their recommendations: follow them, then run upgrade again; or, if you know better, --ignore-insights".into(),
        },
        _ => StepError::Aws(e),
    }
}

async fn wait_active(
    ctx: &Ctx,
    creator: &Aws,
    res: &Resource,
    what: &str,
) -> Result<(), StepError> {
    let cluster = ctx.profile.cluster.name.as_str();
    wait_until(ctx, res, cluster, CLUSTER_TIMEOUT, what, || async {
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
    let mut announced = false;
    let mut sent = false;
    loop {
        wait_until(ctx, &res, name, NODEGROUP_TIMEOUT, "updating", look).await?;
        let n = ctx
            .creator_call(&res, never, || {
                eks::describe_nodegroup(&creator.eks, cluster, name)
            })
            .await?
            .ok_or_else(|| StepError::Broken(format!("node group {name} disappeared")))?;
        if n.version == version {
            if announced {
                done(ctx, &res, name, format!("Kubernetes {version}"), started);
            }
            return Ok(());
        }
        if sent {
            return Err(StepError::Broken(format!(
                "node group {name} still runs Kubernetes {} after its update to {version} succeeded",
                n.version
            )));
        }
        if !announced {
            ctx.reporter.report(Event::Started { resource: &res });
            announced = true;
        }
        let token = request_token(
            ctx,
            &format!("{id}-kubernetes"),
            &serde_json::json!({ "cluster": cluster, "nodegroup": name, "version": version }),
        )
        .value();
        let update = match ctx
            .creator_call(&res, never, || {
                eks::update_nodegroup_kubernetes(&creator.eks, cluster, name, version, &token)
            })
            .await
        {
            Ok(update) => update,
            // Another update of the node group is running (started outside eksboot): waited
            // for, then the node group is read again.
            Err(e) if eks::is_update_in_progress(&e) => {
                wait_until(ctx, &res, name, NODEGROUP_TIMEOUT, OTHER_UPDATE, look).await?;
                PollDelay::new(ctx.timing.poll).sleep().await;
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        wait_for_update(
            ctx,
            &res,
            creator,
            Some(name),
            &update,
            &format!("nodes to {version}"),
        )
        .await?;
        sent = true;
    }
}

/// One add-on to `wanted`: an update of it still running (a stopped run's, or someone else's) is
/// waited for first; EKS refuses a second one while it runs.
async fn addon_to(ctx: &Ctx, creator: &Aws, name: &str, wanted: &str) -> Result<(), StepError> {
    let cluster = ctx.profile.cluster.name.as_str();
    let res = resource(ctx, &format!("addon-{name}"), Kind::Addon, name);
    let started = Instant::now();
    let first = wait_addon(ctx, creator, &res, name, None, started).await?;
    if first == wanted {
        return Ok(());
    }
    ctx.reporter.report(Event::Started { resource: &res });
    loop {
        let token = request_token(
            ctx,
            &format!("addon-{name}-update"),
            &serde_json::json!({ "cluster": cluster, "addon": name, "version": wanted }),
        )
        .value();
        match ctx
            .creator_call(&res, never, || {
                eks::update_addon(&creator.eks, cluster, name, wanted, &token)
            })
            .await
        {
            Ok(_) => break,
            // EKS runs one update of an add-on at a time: another one (started outside
            // eksboot) is waited for, then the add-on read again.
            Err(e) if eks::is_update_in_progress(&e) => {
                ctx.waiting(&res, name, &format!("UPDATING — {OTHER_UPDATE}"), started);
                if wait_addon(ctx, creator, &res, name, None, started).await? == wanted {
                    break;
                }
                PollDelay::new(ctx.timing.poll).sleep().await;
            }
            Err(e) => return Err(e.into()),
        }
    }
    wait_addon(ctx, creator, &res, name, Some(wanted), started).await?;
    done(ctx, &res, name, format!("{first} → {wanted}"), started);
    Ok(())
}

/// Waits until the add-on is no longer updating (and, with `wanted`, runs that version);
/// returns its version.
async fn wait_addon(
    ctx: &Ctx,
    creator: &Aws,
    res: &Resource,
    name: &str,
    wanted: Option<&str>,
    started: Instant,
) -> Result<String, StepError> {
    let cluster = ctx.profile.cluster.name.as_str();
    let mut poll = PollDelay::new(ctx.timing.poll);
    loop {
        ctx.check_stopping()?;
        let addon = ctx
            .creator_call(res, never, || {
                eks::describe_addon(&creator.eks, cluster, name)
            })
            .await?
            .ok_or_else(|| StepError::Broken(format!("the add-on {name} disappeared")))?;
        match addon.status.as_str() {
            "UPDATE_FAILED" | "CREATE_FAILED" if wanted.is_some() => {
                return Err(StepError::Broken(format!(
                    "the add-on {name} is {} moving to {}",
                    addon.status,
                    wanted.unwrap_or_default()
                )))
            }
            "CREATING" | "UPDATING" | "DELETING" => ctx.waiting(res, name, &addon.status, started),
            _ if wanted.is_none_or(|w| w == addon.version) => return Ok(addon.version),
            other => ctx.waiting(res, name, other, started),
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
}
