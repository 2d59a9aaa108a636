//! Task 3, create the cluster: the EKS cluster (as the creator role, so its bootstrap admin is
//! that role and not a person), access entries, the OIDC provider, add-ons, the node launch
//! template and the managed node group.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::aws::eks::{self, ClusterSpec, NodegroupSpec};
use crate::aws::{done_if_exists, ec2, iam, sts, Aws, AwsError};
use crate::plan::iam::{cluster_admin_access_policy, partition};
use crate::plan::{addon_needs_nodes, Kind, Resource};
use crate::profile::instance_arch;

use super::journal::{Outputs, StepStatus};
use super::retry::PollDelay;
use super::retry::{
    find_or_create, first_found, is_iam_propagation, made, request_token, with_retry,
    IdempotencyToken,
};
use super::secure::{creator_role_arn, key_arn};
use super::{Ctx, StepError, StepResult};

/// How long each kind may take to become ACTIVE before we stop waiting (rerun resumes).
pub const CLUSTER_TIMEOUT: Duration = Duration::from_secs(40 * 60);
pub const NODEGROUP_TIMEOUT: Duration = Duration::from_secs(40 * 60);
pub const ADDON_TIMEOUT: Duration = Duration::from_secs(30 * 60);

pub async fn run(ctx: &Ctx, res: &Resource) -> Result<StepResult, StepError> {
    match res.kind {
        Kind::EksCluster => cluster(ctx, res).await,
        Kind::AccessEntry => access_entry(ctx, res).await,
        Kind::OidcProvider => oidc_provider(ctx, res).await,
        Kind::LaunchTemplate => launch_template(ctx, res).await,
        Kind::Nodegroup => nodegroup(ctx, res).await,
        Kind::Addon => addon(ctx, res).await,
        other => unreachable!("no cluster step for {other:?}"),
    }
}

fn result(outputs: Outputs, adopted: bool) -> StepResult {
    if adopted {
        StepResult::adopted(outputs)
    } else {
        StepResult::created(outputs)
    }
}

/// The clients that act as the creator role, assumed once per run (retrying while IAM makes the
/// new role and its trust policy visible).
pub async fn as_creator(ctx: &Ctx) -> Result<&Aws, StepError> {
    ctx.creator
        .get_or_try_init(|| async {
            let role = creator_role_arn(ctx);
            let session = format!("eksboot-{}", ctx.run_id);
            let config = with_retry(ctx.timing.retry_base, is_iam_propagation, || {
                sts::assume_role(&ctx.aws, &role, &session)
            })
            .await?;
            Ok::<Aws, StepError>(Aws::from_config(config))
        })
        .await
}

/// No error beyond throttling and IAM propagation is worth a retry.
pub(super) fn never(_: &AwsError) -> bool {
    false
}

/// Makes a call with the step's current token, renewing it when the call certainly failed.
async fn with_token<T, F, Fut>(
    token: &std::sync::Mutex<IdempotencyToken>,
    call: F,
) -> Result<T, AwsError>
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = Result<T, AwsError>>,
{
    let value = token.lock().expect("token lock").value();
    let result = call(value).await;
    if let Err(e) = &result {
        token.lock().expect("token lock").after(e);
    }
    result
}

fn tag_map(ctx: &Ctx, res: &Resource) -> HashMap<String, String> {
    ctx.tags(res).into_iter().collect()
}

/// Polls `look` until it reports one of `done`, reporting other statuses as waiting.
pub(super) async fn wait_until<F, Fut>(
    ctx: &Ctx,
    res: &Resource,
    id: &str,
    timeout: Duration,
    what: &str,
    mut look: F,
) -> Result<(), StepError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Option<String>, StepError>>,
{
    let started = Instant::now();
    let mut poll = PollDelay::new(ctx.timing.poll);
    loop {
        ctx.check_stopping()?;
        let status = look().await?.unwrap_or_else(|| "GONE".into());
        match status.as_str() {
            "ACTIVE" => return Ok(()),
            "CREATING" | "PENDING" | "UPDATING" => {
                let note = format!("{status} — {what}");
                ctx.waiting(res, id, &note, started);
            }
            other => {
                return Err(StepError::Broken(format!(
                    "{} {id} is {other}",
                    res.kind.as_str()
                )))
            }
        }
        if started.elapsed() > timeout {
            return Err(StepError::TimedOut(format!(
                "{} {id} is still not ACTIVE after {} minutes",
                res.kind.as_str(),
                timeout.as_secs() / 60
            )));
        }
        poll.sleep().await;
    }
}

async fn cluster(ctx: &Ctx, res: &Resource) -> Result<StepResult, StepError> {
    let creator = as_creator(ctx).await?;
    let p = &ctx.profile;
    let name = p.cluster.name.as_str();
    let existing = ctx
        .creator_call(res, never, || eks::describe_cluster(&creator.eks, name))
        .await?;
    let adopted = existing.is_some();
    match existing {
        Some(c) if c.tags.get("eksboot:cluster").map(String::as_str) != Some(name) => {
            return Err(StepError::Conflict {
                message: format!(
                    "an EKS cluster named {name} already exists in {} and was not made by eksboot",
                    p.cluster.region
                ),
                hint: "choose another cluster name".into(),
            })
        }
        Some(c) if c.status == "DELETING" || c.status == "FAILED" => {
            return Err(StepError::Broken(format!(
                "the cluster {name} is {}",
                c.status
            )))
        }
        Some(_) => {}
        None => {
            let subnet_ids = ctx
                .plan
                .resources
                .iter()
                .filter(|r| r.kind == Kind::Subnet && crate::plan::cluster_uses_subnet(p, &r.id))
                .map(|r| ctx.output(&r.id).id)
                .collect();
            let key = key_arn(ctx);
            let role = ctx.output("cluster-role").arn.unwrap_or_default();
            let sg = ctx.output("cluster-sg").id;
            let spec = ClusterSpec {
                name,
                version: &ctx.kubernetes_version,
                role_arn: &role,
                subnet_ids,
                security_group_id: &sg,
                public_access: p.cluster.endpoint_access.is_public(),
                private_access: p.cluster.endpoint_access.is_private(),
                public_access_cidrs: p
                    .cluster
                    .public_access_cidrs
                    .iter()
                    .map(|c| c.to_string())
                    .collect(),
                log_types: p.cluster.log_types.iter().map(|t| t.as_str()).collect(),
                key_arn: &key,
                support_type: p.cluster.support.eks_name(),
                deletion_protection: p.cluster.deletion_protection,
                auto_mode: wanted_auto_mode(ctx),
                tags: tag_map(ctx, res),
                client_request_token: String::new(),
            };
            let token = std::sync::Mutex::new(request_token(
                ctx,
                &res.id,
                &serde_json::json!({
                    "action": "CreateCluster",
                    "name": spec.name,
                    "version": spec.version,
                    "role": spec.role_arn,
                    "subnets": spec.subnet_ids,
                    "security_group": spec.security_group_id,
                    "public_access": spec.public_access,
                    "private_access": spec.private_access,
                    "public_access_cidrs": spec.public_access_cidrs,
                    "log_types": spec.log_types,
                    "key": spec.key_arn,
                    "support": spec.support_type,
                    "deletion_protection": spec.deletion_protection,
                    "auto_mode": spec.auto_mode.as_ref().map(|a| serde_json::json!({
                        "node_pools": a.node_pools,
                        "node_role": a.node_role_arn,
                    })),
                    "tags": spec.tags,
                }),
            ));
            // EKS may not see a just-created role yet: retry while IAM propagates (with a
            // new token: the earlier call certainly failed).
            let created = ctx
                .creator_call(res, is_iam_propagation, || {
                    with_token(&token, |t| {
                        let spec = ClusterSpec {
                            client_request_token: t,
                            ..spec.clone()
                        };
                        async move { eks::create_cluster(&creator.eks, &spec).await }
                    })
                })
                .await;
            // Repeated by the SDK after a lost answer, without its token's memory.
            if let Err(e) = done_if_exists(created) {
                return Err(auto_mode_refused(p, &e).unwrap_or_else(|| e.into()));
            }
        }
    }
    ctx.record_partial(&res.id, &Outputs::id(name))?;
    wait_until(
        ctx,
        res,
        name,
        CLUSTER_TIMEOUT,
        "control plane creating, usually 8–12 min",
        || async {
            Ok(ctx
                .creator_call(res, never, || eks::describe_cluster(&creator.eks, name))
                .await?
                .map(|c| c.status))
        },
    )
    .await?;
    let (c, updated) = converge_cluster(ctx, res, creator).await?;
    let mut outputs = Outputs::id(name)
        .with_arn(c.arn)
        .with("endpoint", c.endpoint)
        .with("certificate_authority", c.certificate_authority)
        .with("oidc_issuer", c.oidc_issuer)
        .with("version", c.version);
    if !updated.is_empty() {
        outputs = outputs.with("updated", updated.join(", "));
    }
    Ok(result(outputs, adopted))
}

/// EKS refused Auto Mode itself (a region or partition where it is not offered): said with the
/// way out, which the raw error does not give. Only for a profile with Auto Mode, and only for
/// an error that names it (EKS answers InvalidParameterException or
/// UnsupportedAvailabilityZoneException naming the compute configuration or Auto Mode).
pub fn auto_mode_refused(profile: &crate::profile::Profile, err: &AwsError) -> Option<StepError> {
    if !profile.auto_mode() {
        return None;
    }
    let f = err.failure()?;
    let message = f.message.to_lowercase();
    let about_auto_mode = ["auto mode", "computeconfig", "compute config"]
        .iter()
        .any(|m| message.contains(m));
    let not_offered = [
        "not supported",
        "not available",
        "not offered",
        "unsupported",
    ]
    .iter()
    .any(|m| message.contains(m));
    (about_auto_mode && not_offered).then(|| StepError::Conflict {
        message: format!(
            "EKS refused Auto Mode in {}: {}",
            profile.cluster.region, f.message
        ),
        hint: "choose a region where EKS Auto Mode is offered (cluster.region), or set nodes.mode = \"managed\" for a managed node group; nothing of the cluster was made, and `eksboot teardown` removes what the first two tasks made".into(),
    })
}

/// Auto Mode as the profile wants it: its node pools, with the node role eksboot made.
fn wanted_auto_mode(ctx: &Ctx) -> Option<eks::AutoMode> {
    ctx.profile.auto_mode().then(|| eks::AutoMode {
        node_pools: ctx.profile.nodes.node_pools.clone(),
        node_role_arn: ctx.output("node-role").arn.unwrap_or_default(),
    })
}

/// A change a running cluster's configuration needs to match its profile. EKS takes one kind
/// of update per call, and one update at a time per cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClusterUpdate {
    EndpointAccess {
        public: bool,
        private: bool,
        public_cidrs: Vec<String>,
    },
    Logging {
        enable: Vec<String>,
        disable: Vec<String>,
    },
    /// The upgrade policy: `STANDARD` or `EXTENDED` support (an UpgradePolicyUpdate).
    Support {
        support_type: String,
    },
    DeletionProtection {
        on: bool,
    },
    /// Auto Mode's node pools (an AutoModeUpdate; the node role stays as it is).
    NodePools {
        node_pools: Vec<String>,
    },
}

impl ClusterUpdate {
    pub fn describe(&self) -> &'static str {
        match self {
            ClusterUpdate::EndpointAccess { .. } => "endpoint access",
            ClusterUpdate::Logging { .. } => "logging",
            ClusterUpdate::Support { .. } => "support",
            ClusterUpdate::DeletionProtection { .. } => "deletion protection",
            ClusterUpdate::NodePools { .. } => "node pools",
        }
    }
}

/// EKS refused to set the upgrade policy to standard support because the cluster's version is
/// past its end of standard support (only a version in standard support can leave extended
/// support: https://docs.aws.amazon.com/eks/latest/userguide/disable-extended-support.html).
pub fn support_refused(update: &ClusterUpdate, err: &AwsError) -> Option<StepError> {
    let ClusterUpdate::Support { support_type } = update else {
        return None;
    };
    let f = err.failure()?;
    if f.code != "InvalidRequestException" || eks::is_update_in_progress(err) {
        return None;
    }
    Some(StepError::Conflict {
        message: format!(
            "EKS refused to set the cluster's support to {}: {}",
            support_type.to_lowercase(),
            f.message
        ),
        hint: "the cluster's Kubernetes version has left standard support, so it stays in extended support (and its cost) until it runs a version in standard support: run `eksboot upgrade` first, then `eksboot apply` again (or keep cluster.support = \"extended\")".into(),
    })
}

/// What must change for `live` to match the profile: endpoint access first, then logging,
/// support (the upgrade policy) and deletion protection.
pub fn cluster_updates(
    live: &eks::ClusterInfo,
    profile: &crate::profile::Profile,
) -> Vec<ClusterUpdate> {
    let c = &profile.cluster;
    let mut updates = Vec::new();
    let public = c.endpoint_access.is_public();
    let private = c.endpoint_access.is_private();
    let mut wanted_cidrs: Vec<String> = c
        .public_access_cidrs
        .iter()
        .map(|n| n.to_string())
        .collect();
    wanted_cidrs.sort();
    let mut live_cidrs = live.public_access_cidrs.clone();
    live_cidrs.sort();
    if live.endpoint_public != public
        || live.endpoint_private != private
        || (public && live_cidrs != wanted_cidrs)
    {
        updates.push(ClusterUpdate::EndpointAccess {
            public,
            private,
            public_cidrs: wanted_cidrs,
        });
    }
    let wanted: Vec<String> = c.log_types.iter().map(|t| t.as_str().to_string()).collect();
    let enable: Vec<String> = wanted
        .iter()
        .filter(|t| !live.enabled_log_types.contains(t))
        .cloned()
        .collect();
    let disable: Vec<String> = live
        .enabled_log_types
        .iter()
        .filter(|t| !wanted.contains(t))
        .cloned()
        .collect();
    if !enable.is_empty() || !disable.is_empty() {
        updates.push(ClusterUpdate::Logging { enable, disable });
    }
    // Empty when EKS did not say (an older API): nothing to compare.
    let support = c.support.eks_name();
    if !live.support_type.is_empty() && live.support_type != support {
        updates.push(ClusterUpdate::Support {
            support_type: support.to_string(),
        });
    }
    if live.deletion_protection != c.deletion_protection {
        updates.push(ClusterUpdate::DeletionProtection {
            on: c.deletion_protection,
        });
    }
    // Only between Auto Mode clusters: a move between managed nodes and Auto Mode is refused
    // by `plan::diff` before anything runs.
    if let Some(live_auto) = &live.auto_mode {
        if profile.auto_mode() && live_auto.node_pools != profile.nodes.node_pools {
            updates.push(ClusterUpdate::NodePools {
                node_pools: profile.nodes.node_pools.clone(),
            });
        }
    }
    updates
}

/// Brings a running cluster's endpoint access and logging to the profile, one update at a time,
/// each waited for. Returns the cluster as it is then, and what was updated.
async fn converge_cluster(
    ctx: &Ctx,
    res: &Resource,
    creator: &Aws,
) -> Result<(eks::ClusterInfo, Vec<&'static str>), StepError> {
    let name = ctx.profile.cluster.name.as_str();
    let mut updated = Vec::new();
    loop {
        let c = ctx
            .creator_call(res, never, || eks::describe_cluster(&creator.eks, name))
            .await?
            .ok_or_else(|| StepError::Broken(format!("the cluster {name} disappeared")))?;
        let Some(update) = cluster_updates(&c, &ctx.profile).into_iter().next() else {
            return Ok((c, updated));
        };
        if updated.contains(&update.describe()) {
            return Err(StepError::Broken(format!(
                "the cluster {name} still differs in {} after updating it",
                update.describe()
            )));
        }
        let request = match &update {
            ClusterUpdate::EndpointAccess {
                public,
                private,
                public_cidrs,
            } => serde_json::json!({
                "action": "UpdateClusterConfig",
                "public": public,
                "private": private,
                "public_cidrs": public_cidrs,
            }),
            ClusterUpdate::Logging { enable, disable } => serde_json::json!({
                "action": "UpdateClusterConfig",
                "enable_logs": enable,
                "disable_logs": disable,
            }),
            ClusterUpdate::Support { support_type } => serde_json::json!({
                "action": "UpdateClusterConfig",
                "support": support_type,
            }),
            ClusterUpdate::DeletionProtection { on } => serde_json::json!({
                "action": "UpdateClusterConfig",
                "deletion_protection": on,
            }),
            ClusterUpdate::NodePools { node_pools } => serde_json::json!({
                "action": "UpdateClusterConfig",
                "node_pools": node_pools,
            }),
        };
        let token = request_token(ctx, &res.id, &request).value();
        let started = ctx
            .creator_call(res, never, || async {
                match &update {
                    ClusterUpdate::EndpointAccess {
                        public,
                        private,
                        public_cidrs,
                    } => {
                        eks::update_endpoint_access(
                            &creator.eks,
                            name,
                            *public,
                            *private,
                            public_cidrs.clone(),
                            &token,
                        )
                        .await
                    }
                    ClusterUpdate::Logging { enable, disable } => {
                        eks::update_logging(&creator.eks, name, enable, disable, &token).await
                    }
                    ClusterUpdate::Support { support_type } => {
                        eks::update_support_type(&creator.eks, name, support_type, &token).await
                    }
                    ClusterUpdate::DeletionProtection { on } => {
                        eks::update_deletion_protection(&creator.eks, name, *on, &token).await
                    }
                    ClusterUpdate::NodePools { node_pools } => {
                        // The node role as the cluster has it: EKS refuses to change it.
                        let auto = eks::AutoMode {
                            node_pools: node_pools.clone(),
                            node_role_arn: c
                                .auto_mode
                                .as_ref()
                                .map(|a| a.node_role_arn.clone())
                                .unwrap_or_default(),
                        };
                        eks::update_auto_mode(&creator.eks, name, &auto, &token).await
                    }
                }
            })
            .await;
        let look = || async {
            Ok(ctx
                .creator_call(res, never, || eks::describe_cluster(&creator.eks, name))
                .await?
                .map(|c| c.status))
        };
        match started {
            Ok(id) => wait_for_update(ctx, res, creator, None, &id, update.describe()).await?,
            // Another update of the cluster is running (someone else's, or a stopped run's):
            // waited for, then the cluster is read again and eksboot's own update sent if
            // still needed.
            Err(e) if eks::is_update_in_progress(&e) => {
                wait_out_other_update(ctx, res, name, CLUSTER_TIMEOUT, look).await?;
                continue;
            }
            Err(e) => return Err(support_refused(&update, &e).unwrap_or_else(|| e.into())),
        }
        updated.push(update.describe());
        wait_until(ctx, res, name, CLUSTER_TIMEOUT, "updating", look).await?;
    }
}

/// What the progress line says while an update eksboot did not start runs.
pub const OTHER_UPDATE: &str =
    "an update started outside eksboot is running; eksboot's own update follows";

/// EKS refused an update because another update of the same resource is running (one at a
/// time per resource: ResourceInUseException). Waits, saying so, until `look` reports the
/// resource ACTIVE again, and a poll more so a refusal that outlives the status is not retried
/// at once; the caller then reads the resource again and sends its own update if still needed.
pub(super) async fn wait_out_other_update<F, Fut>(
    ctx: &Ctx,
    res: &Resource,
    id: &str,
    timeout: Duration,
    look: F,
) -> Result<(), StepError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Option<String>, StepError>>,
{
    ctx.waiting(
        res,
        id,
        &format!("UPDATING — {OTHER_UPDATE}"),
        Instant::now(),
    );
    wait_until(ctx, res, id, timeout, OTHER_UPDATE, look).await?;
    PollDelay::new(ctx.timing.poll).sleep().await;
    Ok(())
}

/// One update of a node group (`start` returns the update's id), waited for until done and the
/// node group ACTIVE again: `Ok(true)`. When EKS refuses it because another update of the node
/// group runs (someone else's, or a stopped run's), that one is waited for and `Ok(false)` says
/// the caller must read the node group again (its own update may still be needed).
async fn nodegroup_update<F, Fut>(
    ctx: &Ctx,
    res: &Resource,
    creator: &Aws,
    what: &str,
    start: F,
) -> Result<bool, StepError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<String, AwsError>>,
{
    let cluster = ctx.profile.cluster.name.as_str();
    let look = || async {
        Ok(ctx
            .creator_call(res, never, || {
                eks::describe_nodegroup(&creator.eks, cluster, &res.name)
            })
            .await?
            .map(|n| n.status))
    };
    match ctx.creator_call(res, never, start).await {
        Ok(id) => wait_for_update(ctx, res, creator, Some(&res.name), &id, what).await?,
        Err(e) if eks::is_update_in_progress(&e) => {
            wait_out_other_update(ctx, res, &res.name, NODEGROUP_TIMEOUT, look).await?;
            return Ok(false);
        }
        Err(e) => return Err(e.into()),
    }
    wait_until(ctx, res, &res.name, NODEGROUP_TIMEOUT, "updating", look).await?;
    Ok(true)
}

/// How long an update of a running cluster or node group may take.
pub const UPDATE_TIMEOUT: Duration = Duration::from_secs(60 * 60);

/// Polls an EKS update until it is Successful; Failed or Cancelled fail the step with EKS's
/// reasons.
pub(super) async fn wait_for_update(
    ctx: &Ctx,
    res: &Resource,
    creator: &Aws,
    nodegroup: Option<&str>,
    update_id: &str,
    what: &str,
) -> Result<(), StepError> {
    let cluster = ctx.profile.cluster.name.as_str();
    let started = Instant::now();
    let mut poll = PollDelay::new(ctx.timing.poll);
    loop {
        ctx.check_stopping()?;
        let (status, errors) = ctx
            .creator_call(res, never, || {
                eks::describe_update(&creator.eks, cluster, nodegroup, update_id)
            })
            .await?;
        match status.as_str() {
            "Successful" => return Ok(()),
            "InProgress" => ctx.waiting(
                res,
                &res.name,
                &format!("updating {what} (update {update_id})"),
                started,
            ),
            other => {
                return Err(StepError::Broken(format!(
                    "the update of {what} ({update_id}) is {other}: {errors}"
                )))
            }
        }
        if started.elapsed() > UPDATE_TIMEOUT {
            return Err(StepError::TimedOut(format!(
                "the update of {what} ({update_id}) is still in progress after an hour"
            )));
        }
        poll.sleep().await;
    }
}

/// Whom an access-entry step is for.
fn principal_of(ctx: &Ctx, res: &Resource) -> String {
    if res.id == "access-entry-caller" {
        ctx.caller_principal.clone()
    } else {
        res.name.clone()
    }
}

/// How long EKS may take to make Auto Mode's node access entry after the cluster is ACTIVE.
const NODE_ACCESS_ENTRY_TIMEOUT: Duration = Duration::from_secs(10 * 60);

/// Auto Mode: EKS makes the node role's access entry (type EC2) itself; eksboot never creates
/// it (a second one would be refused), it waits until it is there.
async fn node_access_entry(ctx: &Ctx, res: &Resource) -> Result<StepResult, StepError> {
    let creator = as_creator(ctx).await?;
    let cluster = ctx.profile.cluster.name.as_str();
    let node_role = ctx.output("node-role").arn.unwrap_or_default();
    let started = Instant::now();
    let mut poll = PollDelay::new(ctx.timing.poll);
    loop {
        ctx.check_stopping()?;
        let entries = ctx
            .creator_call(res, never, || {
                eks::list_access_entries(&creator.eks, cluster)
            })
            .await?;
        if entries.iter().any(|e| *e == node_role) {
            return Ok(result(Outputs::id(&node_role), true));
        }
        if started.elapsed() > NODE_ACCESS_ENTRY_TIMEOUT {
            return Err(StepError::TimedOut(format!(
                "EKS made no access entry for Auto Mode's node role {node_role} in {} min, so its nodes cannot join",
                NODE_ACCESS_ENTRY_TIMEOUT.as_secs() / 60
            )));
        }
        ctx.waiting(
            res,
            &res.name,
            "waiting for EKS to give Auto Mode's nodes their access entry",
            started,
        );
        poll.sleep().await;
    }
}

async fn access_entry(ctx: &Ctx, res: &Resource) -> Result<StepResult, StepError> {
    if res.id == crate::plan::NODE_ACCESS_ENTRY {
        return node_access_entry(ctx, res).await;
    }
    let creator = as_creator(ctx).await?;
    let cluster = ctx.profile.cluster.name.as_str();
    let principal = principal_of(ctx, res);
    let admin_policy = cluster_admin_access_policy(&ctx.profile.cluster.region);
    let policies = ctx
        .creator_call(res, never, || {
            eks::access_entry_policies(&creator.eks, cluster, &principal)
        })
        .await?;
    let mut adopted = true;
    let policies = match policies {
        Some(p) => p,
        None => {
            // The creator role's bootstrap entry is made with the cluster: never a duplicate.
            // The same principal may also be named twice (you, and in cluster.admins): the
            // entry another step just made is adopted.
            let tags = tag_map(ctx, res);
            let created = ctx
                .creator_call(res, is_iam_propagation, || {
                    eks::create_access_entry(&creator.eks, cluster, &principal, tags.clone())
                })
                .await;
            match created {
                Ok(_) => {
                    adopted = false;
                    Vec::new()
                }
                Err(AwsError::AlreadyExists { .. }) => ctx
                    .creator_call(res, never, || {
                        eks::access_entry_policies(&creator.eks, cluster, &principal)
                    })
                    .await?
                    .unwrap_or_default(),
                Err(e) => return Err(e.into()),
            }
        }
    };
    if !policies.iter().any(|p| *p == admin_policy) {
        ctx.creator_call(res, never, || {
            eks::associate_cluster_policy(&creator.eks, cluster, &principal, &admin_policy)
        })
        .await?;
        adopted = false;
    }
    Ok(result(
        Outputs::id(&principal).with("policy", admin_policy),
        adopted,
    ))
}

async fn oidc_provider(ctx: &Ctx, res: &Resource) -> Result<StepResult, StepError> {
    let creator = as_creator(ctx).await?;
    let issuer = ctx
        .output("cluster")
        .attr("oidc_issuer")
        .unwrap_or_default()
        .to_string();
    if issuer.is_empty() {
        return Err(StepError::Broken(
            "the cluster reports no OIDC issuer".into(),
        ));
    }
    let arn = format!(
        "arn:{}:iam::{}:oidc-provider/{}",
        partition(&ctx.profile.cluster.region),
        ctx.account,
        issuer.trim_start_matches("https://")
    );
    let exists = ctx
        .creator_call(res, never, || iam::oidc_provider_exists(&creator.iam, &arn))
        .await?;
    if !exists {
        let tags = ctx.tags(res);
        // One provider per issuer URL: taken means a repeat after a lost answer made it.
        done_if_exists(
            ctx.creator_call(res, never, || {
                iam::create_oidc_provider(&creator.iam, &issuer, &tags)
            })
            .await,
        )?;
    }
    Ok(result(
        Outputs::id(&arn).with_arn(&arn).with("issuer", issuer),
        exists,
    ))
}

async fn launch_template(ctx: &Ctx, res: &Resource) -> Result<StepResult, StepError> {
    let filters = [
        ("tag:eksboot:cluster", ctx.profile.cluster.name.as_str()),
        ("tag:eksboot:step", res.id.as_str()),
    ];
    let tags = ctx.tags(res);
    let disk = ctx.profile.nodes.disk_size_gib as i32;
    let volumes = node_volumes(ctx.profile.nodes.os, disk);
    // The disk alone for AL2023, as before Bottlerocket existed: a rerun of an older run
    // repeats its token.
    let layout = match ctx.profile.nodes.os {
        crate::profile::NodeOs::Al2023 => serde_json::json!(disk),
        crate::profile::NodeOs::Bottlerocket => serde_json::json!(volumes),
    };
    let token = request_token(
        ctx,
        &res.id,
        &serde_json::json!({
            "action": "CreateLaunchTemplate",
            "name": res.name,
            "disk": layout,
            "tags": tags,
        }),
    )
    .value();
    // Its name is unique in the region: taken by ours (found by tags) means adopted.
    let (template, adopted) = find_or_create(
        || first_found(ec2::find_launch_templates(&ctx.aws, &filters), Some),
        || {
            made(ec2::create_node_template(
                &ctx.aws, &res.name, &volumes, &tags, &token,
            ))
        },
    )
    .await?;
    // The root volume follows the profile: a new version when the disk size changed; the node
    // group step rolls the nodes onto it.
    let mut version = template.latest_version;
    let mut outputs = Outputs::id(&template.id);
    if adopted {
        if let Some((latest, live)) = ec2::launch_template_volumes(&ctx.aws, &template.id).await? {
            version = latest;
            if live != volumes {
                let token = request_token(
                    ctx,
                    &res.id,
                    &serde_json::json!({
                        "action": "CreateLaunchTemplateVersion",
                        "template": template.id,
                        "from_version": latest,
                        "disk": layout,
                    }),
                )
                .value();
                version = ec2::add_node_template_version(&ctx.aws, &template.id, &volumes, &token)
                    .await?;
                let what = if live.len() == volumes.len() {
                    match ctx.profile.nodes.os {
                        crate::profile::NodeOs::Al2023 => format!("root volume {disk} GiB"),
                        crate::profile::NodeOs::Bottlerocket => format!("data volume {disk} GiB"),
                    }
                } else {
                    format!("volumes for {}", ctx.profile.nodes.os.as_str())
                };
                outputs = outputs.with("updated", what);
            }
        }
    }
    Ok(result(
        outputs.with("version", version.to_string()),
        adopted,
    ))
}

/// The step output holding the desired size eksboot last set from the profile (at creation or
/// by a resize): a profile whose `desired_size` differs asked for a new one.
pub const SET_DESIRED: &str = "desired";

/// The scaling config (min, desired, max) the node group step sends, `None` when the live one
/// is kept. Min and max always follow the profile. Desired follows it only when the profile's
/// changed since eksboot last set it (`last_set`; `None`: unknown, treated as unchanged), so
/// what a cluster autoscaler (or anyone) scaled to survives an unrelated apply; a live desired
/// outside the new [min, max] is clamped into it (EKS refuses desired outside them).
pub fn size_update(
    live: (i32, i32, i32),
    wanted: (i32, i32, i32),
    last_set: Option<i32>,
) -> Option<(i32, i32, i32)> {
    let (min, profile_desired, max) = wanted;
    let desired = if last_set.is_some_and(|d| d != profile_desired) {
        profile_desired
    } else {
        live.1.max(min).min(max)
    };
    let next = (min, desired, max);
    (next != live).then_some(next)
}

/// The AMI type for the node group: its OS, for its CPU architecture.
pub fn ami_type(profile: &crate::profile::Profile) -> &'static str {
    let arch = profile
        .nodes
        .instance_types
        .first()
        .map(|t| instance_arch(t))
        .unwrap_or("x86_64");
    profile.nodes.os.ami_type(arch)
}

/// Bottlerocket's OS volume (`/dev/xvda`) in GiB. Bottlerocket keeps the OS on one volume and
/// containers' data on another (`/dev/xvdb`): "Bottlerocket operates with two default storage
/// volumes" (https://github.com/bottlerocket-os/bottlerocket#default-volumes); 4 GiB is what
/// Karpenter's Bottlerocket node class maps for it (its images need more than the 2 GiB of
/// early releases).
pub const BOTTLEROCKET_OS_GIB: i32 = 4;

/// The volumes of a node launch template, `(device, GiB)`, the data volume (`disk_size_gib`)
/// last: AL2023 has one root volume; Bottlerocket an OS volume and a data volume.
pub fn node_volumes(os: crate::profile::NodeOs, disk_gib: i32) -> Vec<ec2::NodeVolume> {
    match os {
        crate::profile::NodeOs::Al2023 => vec![("/dev/xvda".into(), disk_gib)],
        crate::profile::NodeOs::Bottlerocket => vec![
            ("/dev/xvda".into(), BOTTLEROCKET_OS_GIB),
            ("/dev/xvdb".into(), disk_gib),
        ],
    }
}

async fn nodegroup(ctx: &Ctx, res: &Resource) -> Result<StepResult, StepError> {
    let creator = as_creator(ctx).await?;
    let p = &ctx.profile;
    let cluster = p.cluster.name.as_str();
    let tier = if p.nodes_in_private_subnets() {
        "subnet-private-"
    } else {
        "subnet-public-"
    };
    let existing = ctx
        .creator_call(res, never, || {
            eks::describe_nodegroup(&creator.eks, cluster, &res.name)
        })
        .await?;
    let adopted = existing.is_some();
    // The desired size eksboot last set (kept in the step's outputs across runs and resumes).
    let last_set: Option<i32> = {
        let journal = ctx.journal.lock().expect("journal lock");
        journal
            .state
            .steps
            .get(&res.id)
            .and_then(|r| r.outputs.as_ref())
            .and_then(|o| o.attr(SET_DESIRED))
            .and_then(|d| d.parse().ok())
    };
    // Made now: with the profile's sizes, the desired one set by eksboot.
    let last_set = if existing.is_none() {
        Some(p.nodes.desired_size as i32)
    } else {
        last_set
    };
    match existing {
        Some(n) if n.status.contains("FAILED") || n.status == "DELETING" => {
            return Err(StepError::Broken(format!(
                "node group {} is {}",
                res.name, n.status
            )))
        }
        Some(_) => {}
        None => create_nodegroup(ctx, res, creator, tier).await?,
    }
    let partial = match last_set {
        Some(d) => Outputs::id(&res.name).with(SET_DESIRED, d.to_string()),
        None => Outputs::id(&res.name),
    };
    ctx.record_partial(&res.id, &partial)?;
    wait_until(
        ctx,
        res,
        &res.name,
        NODEGROUP_TIMEOUT,
        "nodes launching and joining",
        || async {
            Ok(ctx
                .creator_call(res, never, || {
                    eks::describe_nodegroup(&creator.eks, cluster, &res.name)
                })
                .await?
                .map(|n| n.status))
        },
    )
    .await?;
    // Resized when min or max differ from the profile, or the profile's desired size changed
    // (UpdateNodegroupConfig, waited for): see `size_update`.
    let wanted = (
        p.nodes.min_size as i32,
        p.nodes.desired_size as i32,
        p.nodes.max_size as i32,
    );
    let Converged {
        arn,
        resized,
        kept_desired,
        rolled,
        repair_set,
    } = converge_nodegroup(ctx, res, creator, wanted, last_set).await?;
    // From here the profile's desired size is the one eksboot last set (or chose to keep).
    let mut outputs = Outputs::id(&res.name)
        .with_arn(arn)
        .with(SET_DESIRED, wanted.1.to_string());
    let mut updated = Vec::new();
    if let Some((min, desired, max)) = resized {
        updated.push(format!("size {min}/{desired}/{max}"));
    }
    if let Some(live) = kept_desired {
        // Said beside the step, not as an update: nothing was changed for it.
        outputs = outputs.with(
            "status",
            format!(
                "desired size {live} kept (set outside eksboot; the profile's {} applies when you change it)",
                wanted.1
            ),
        );
    }
    if rolled {
        updated.push("nodes on the new launch template".to_string());
    }
    if repair_set {
        updated.push(format!(
            "auto repair {}",
            if p.nodes.auto_repair { "on" } else { "off" }
        ));
    }
    if !updated.is_empty() {
        outputs = outputs.with("updated", updated.join(", "));
    }
    Ok(result(outputs, adopted))
}

/// CreateNodegroup with the profile's sizes, types, OS and repair, in the node tier's subnets,
/// on the launch template's version (as the creator; repeated with the same token).
async fn create_nodegroup(
    ctx: &Ctx,
    res: &Resource,
    creator: &Aws,
    tier: &str,
) -> Result<(), StepError> {
    let p = &ctx.profile;
    let cluster = p.cluster.name.as_str();
    let subnet_ids = ctx
        .plan
        .resources
        .iter()
        .filter(|r| r.kind == Kind::Subnet && r.id.starts_with(tier))
        .map(|r| ctx.output(&r.id).id)
        .collect();
    let role = ctx.output("node-role").arn.unwrap_or_default();
    let template = ctx.output("launch-template");
    let version = template.attr("version").unwrap_or("1").to_string();
    let spec = NodegroupSpec {
        cluster,
        name: &res.name,
        subnet_ids,
        node_role_arn: &role,
        instance_types: p.nodes.instance_types.clone(),
        min: p.nodes.min_size as i32,
        desired: p.nodes.desired_size as i32,
        max: p.nodes.max_size as i32,
        ami_type: ami_type(p),
        launch_template_id: &template.id,
        launch_template_version: &version,
        auto_repair: p.nodes.auto_repair,
        tags: tag_map(ctx, res),
        client_request_token: String::new(),
    };
    let token = std::sync::Mutex::new(request_token(
        ctx,
        &res.id,
        &serde_json::json!({
            "action": "CreateNodegroup",
            "cluster": spec.cluster,
            "name": spec.name,
            "subnets": spec.subnet_ids,
            "role": spec.node_role_arn,
            "instance_types": spec.instance_types,
            "scaling": [spec.min, spec.desired, spec.max],
            "ami_type": spec.ami_type,
            "launch_template": [spec.launch_template_id, spec.launch_template_version],
            "auto_repair": spec.auto_repair,
            "tags": spec.tags,
        }),
    ));
    let created = ctx
        .creator_call(res, is_iam_propagation, || {
            with_token(&token, |t| {
                let spec = NodegroupSpec {
                    client_request_token: t,
                    ..spec.clone()
                };
                async move { eks::create_nodegroup(&creator.eks, &spec).await }
            })
        })
        .await;
    done_if_exists(created)?;
    Ok(())
}

/// What converging a node group changed.
struct Converged {
    arn: String,
    /// The sizes set, when they were.
    resized: Option<(i32, i32, i32)>,
    /// A desired size set outside eksboot and kept.
    kept_desired: Option<i32>,
    /// Nodes rolled onto the launch template's version.
    rolled: bool,
    repair_set: bool,
}

/// Brings a running node group to the profile, one update at a time, each waited for: nodes
/// onto the launch template's version (the disk size changed), auto repair, then the sizes
/// (see `size_update`).
async fn converge_nodegroup(
    ctx: &Ctx,
    res: &Resource,
    creator: &Aws,
    wanted: (i32, i32, i32),
    last_set: Option<i32>,
) -> Result<Converged, StepError> {
    let p = &ctx.profile;
    let cluster = p.cluster.name.as_str();
    let mut resized: Option<(i32, i32, i32)> = None;
    let mut kept_desired = None;
    let mut rolled = false;
    let mut repair_set = false;
    let arn = loop {
        let n = ctx
            .creator_call(res, never, || {
                eks::describe_nodegroup(&creator.eks, cluster, &res.name)
            })
            .await?
            .ok_or_else(|| StepError::Broken(format!("node group {} disappeared", res.name)))?;
        // Nodes on another launch template version (the disk size changed): rolled onto it.
        let template = ctx.output("launch-template");
        let template_version = template.attr("version").unwrap_or("1").to_string();
        if n.launch_template_version.as_deref() != Some(template_version.as_str())
            && n.launch_template_version.is_some()
            && !rolled
        {
            let token = request_token(
                ctx,
                &res.id,
                &serde_json::json!({
                    "action": "UpdateNodegroupVersion",
                    "nodegroup": res.name,
                    "launch_template": [template.id, template_version],
                }),
            )
            .value();
            rolled = nodegroup_update(ctx, res, creator, "the nodes' launch template", || {
                eks::update_nodegroup_template(
                    &creator.eks,
                    cluster,
                    &res.name,
                    (&template.id, &template_version),
                    &token,
                )
            })
            .await?;
            continue;
        }
        // Auto repair as the profile says (UpdateNodegroupConfig, waited for).
        if n.auto_repair != p.nodes.auto_repair && !repair_set {
            let on = p.nodes.auto_repair;
            let token = request_token(
                ctx,
                &res.id,
                &serde_json::json!({
                    "action": "UpdateNodegroupConfig",
                    "nodegroup": res.name,
                    "auto_repair": on,
                }),
            )
            .value();
            repair_set =
                nodegroup_update(ctx, res, creator, "the node group's auto repair", || {
                    eks::update_nodegroup_repair(&creator.eks, cluster, &res.name, on, &token)
                })
                .await?;
            continue;
        }
        if resized.is_some() {
            break n.arn;
        }
        let Some(next) = size_update(n.scaling, wanted, last_set) else {
            if n.scaling.1 != wanted.1 {
                kept_desired = Some(n.scaling.1);
            }
            break n.arn;
        };
        if next.1 != wanted.1 {
            kept_desired = Some(next.1);
        }
        let token = request_token(
            ctx,
            &res.id,
            &serde_json::json!({
                "action": "UpdateNodegroupConfig",
                "nodegroup": res.name,
                "scaling": [next.0, next.1, next.2],
            }),
        )
        .value();
        if nodegroup_update(ctx, res, creator, "the node group's size", || {
            eks::update_nodegroup_scaling(&creator.eks, cluster, &res.name, next, &token)
        })
        .await?
        {
            resized = Some(next);
        }
    };
    Ok(Converged {
        arn,
        resized,
        kept_desired,
        rolled,
        repair_set,
    })
}

/// The pod identity association eksboot wants for an add-on: `(service account, role ARN)`,
/// when the profile gives the add-on a role of its own.
fn wanted_identity(ctx: &Ctx, addon: &str) -> Option<eks::AddonIdentity> {
    let p = &ctx.profile;
    if !p.addon_roles().iter().any(|(a, _)| *a == addon) {
        return None;
    }
    let service_account = crate::plan::addon_service_account(addon)?;
    let step = crate::plan::addon_role_step(addon)?;
    let role_name = crate::plan::addon_role_name(&p.cluster.name, addon)?;
    let arn = {
        let journal = ctx.journal.lock().expect("journal lock");
        journal.outputs(&step).and_then(|o| o.arn.clone())
    };
    let arn = arn
        .unwrap_or_else(|| crate::plan::iam::role_arn(&p.cluster.region, &ctx.account, &role_name));
    Some((service_account.to_string(), arn))
}

/// The full list UpdateAddon is sent (it replaces the add-on's associations): the ones held for
/// other service accounts kept, ours for its service account. `None` when nothing changes.
pub fn identities_to_send(
    held: &[eks::AddonIdentity],
    wanted: &eks::AddonIdentity,
) -> Option<Vec<eks::AddonIdentity>> {
    if held.iter().any(|h| h == wanted) {
        return None;
    }
    let mut list: Vec<eks::AddonIdentity> = held
        .iter()
        .filter(|(sa, _)| *sa != wanted.0)
        .cloned()
        .collect();
    list.push(wanted.clone());
    Some(list)
}

/// Whether the configuration EKS holds is the one wanted (JSON compared as values, so key order
/// and spacing do not matter).
pub fn same_configuration(held: &str, wanted: &str) -> bool {
    match (
        serde_json::from_str::<serde_json::Value>(held),
        serde_json::from_str::<serde_json::Value>(wanted),
    ) {
        (Ok(a), Ok(b)) => a == b,
        _ => held.trim() == wanted.trim(),
    }
}

async fn addon(ctx: &Ctx, res: &Resource) -> Result<StepResult, StepError> {
    let creator = as_creator(ctx).await?;
    let cluster = ctx.profile.cluster.name.as_str();
    let name = res.name.as_str();
    let identity = wanted_identity(ctx, name);
    let configuration = crate::plan::addon_configuration(cluster, name);
    let existing = ctx
        .creator_call(res, never, || {
            eks::describe_addon(&creator.eks, cluster, name)
        })
        .await?;
    let adopted = existing.is_some();
    let version = match &existing {
        Some(a) => a.version.clone(),
        None => {
            let k8s = ctx.kubernetes_version.as_str();
            let version = ctx.creator_call(res, never, || eks::default_addon_version(&creator.eks, name, k8s))
                .await?
                .ok_or_else(|| StepError::Conflict {
                    message: format!("EKS offers no add-on named {name} for Kubernetes {k8s}"),
                    hint: "check the name in cluster.addons (`aws eks describe-addon-versions` lists them)".into(),
                })?;
            let tags = tag_map(ctx, res);
            let associations: Vec<eks::AddonIdentity> = identity.iter().cloned().collect();
            let token = request_token(
                ctx,
                &res.id,
                &serde_json::json!({
                    "action": "CreateAddon",
                    "addon": name,
                    "version": version,
                    "associations": associations,
                    "configuration": configuration,
                    "tags": tags,
                }),
            )
            .value();
            // EKS may not see a role made a moment ago yet: retried while IAM propagates.
            let created = ctx
                .creator_call(res, is_iam_propagation, || {
                    eks::create_addon(
                        &creator.eks,
                        cluster,
                        name,
                        &version,
                        &associations,
                        configuration.as_deref(),
                        tags.clone(),
                        &token,
                    )
                })
                .await;
            done_if_exists(created)?;
            version
        }
    };
    let mut outputs = Outputs::id(name).with("version", &version);
    if let Some((_, role)) = &identity {
        outputs = outputs.with("role", role);
    }
    // A stopped move of the CNI's permissions keeps its place (see `cni_off_the_node_role`).
    if ctx
        .unfinished(&res.id)
        .is_some_and(|o| o.attr(CNI_NODES_ROLLED) == Some("true"))
    {
        outputs = outputs.with(CNI_NODES_ROLLED, "true");
    }
    ctx.record_partial(&res.id, &outputs)?;
    let needs_nodes = addon_needs_nodes(name);
    if needs_nodes && !ctx.profile.has_nodes() {
        // Nothing can schedule its pods: created, and healthy once nodes exist. Its role and
        // configuration are set all the same (an adopted one converges first).
        let updated = converge_addon(
            ctx,
            res,
            creator,
            identity.as_ref(),
            configuration.as_deref(),
        )
        .await?;
        let mut outputs = outputs.with("status", "healthy once nodes exist");
        if let Some(u) = updated {
            outputs = outputs.with("updated", u);
        }
        return Ok(result(outputs, adopted));
    }
    // A node group is waited for; Auto Mode launches nodes for the add-on's pods itself, so
    // only its health is.
    if let Some(nodegroup) = ctx.plan.nodegroup_step().filter(|_| needs_nodes) {
        wait_for_step(ctx, res, nodegroup).await?;
    }
    let nodes_ready = Instant::now();
    wait_addon_healthy(ctx, res, creator, needs_nodes, nodes_ready).await?;
    // An adopted add-on (a cluster made before, or with the node role) gets its role and
    // configuration now: one UpdateAddon, waited for.
    let mut updated = Vec::new();
    if adopted {
        if let Some(u) = converge_addon(
            ctx,
            res,
            creator,
            identity.as_ref(),
            configuration.as_deref(),
        )
        .await?
        {
            updated.push(u);
            wait_addon_healthy(ctx, res, creator, needs_nodes, nodes_ready).await?;
        }
    }
    if name == "vpc-cni" && identity.is_some() {
        if let Some(u) = cni_off_the_node_role(ctx, res, creator, &outputs).await? {
            updated.push(u);
        }
    }
    if !updated.is_empty() {
        outputs = outputs.with("updated", updated.join("; "));
    }
    Ok(result(outputs, adopted))
}

/// Pods need a while after the node group is ACTIVE to be scheduled and ready: until then EKS
/// reports such an add-on DEGRADED. A resume waits again.
async fn wait_addon_healthy(
    ctx: &Ctx,
    res: &Resource,
    creator: &Aws,
    needs_nodes: bool,
    nodes_ready: Instant,
) -> Result<(), StepError> {
    let cluster = ctx.profile.cluster.name.as_str();
    let name = res.name.as_str();
    let started = Instant::now();
    let mut poll = PollDelay::new(ctx.timing.poll);
    loop {
        ctx.check_stopping()?;
        let addon = ctx
            .creator_call(res, never, || {
                eks::describe_addon(&creator.eks, cluster, name)
            })
            .await?
            .ok_or_else(|| StepError::Broken(format!("the add-on {name} disappeared")))?;
        match addon_verdict(
            &addon,
            needs_nodes,
            nodes_ready.elapsed(),
            ctx.timing.addon_health,
        ) {
            AddonVerdict::Healthy => return Ok(()),
            AddonVerdict::Wait(note) => ctx.waiting(res, name, &note, started),
            AddonVerdict::Failed(why) => return Err(StepError::Broken(why)),
        }
        if started.elapsed() > ADDON_TIMEOUT {
            return Err(StepError::TimedOut(format!(
                "add-on {name} is still {} after {} minutes",
                addon.status,
                ADDON_TIMEOUT.as_secs() / 60
            )));
        }
        poll.sleep().await;
    }
}

/// Gives an existing add-on the role and configuration the profile wants, in one UpdateAddon
/// (the full association list: UpdateAddon replaces it). Returns what changed, if anything.
async fn converge_addon(
    ctx: &Ctx,
    res: &Resource,
    creator: &Aws,
    identity: Option<&eks::AddonIdentity>,
    configuration: Option<&str>,
) -> Result<Option<String>, StepError> {
    if identity.is_none() && configuration.is_none() {
        return Ok(None);
    }
    let cluster = ctx.profile.cluster.name.as_str();
    let name = res.name.as_str();
    let Some(live) = ctx
        .creator_call(res, never, || {
            eks::describe_addon(&creator.eks, cluster, name)
        })
        .await?
    else {
        return Err(StepError::Broken(format!("the add-on {name} disappeared")));
    };
    let mut held = Vec::new();
    if identity.is_some() {
        for arn in &live.pod_identity_associations {
            if let Some(pair) = ctx
                .creator_call(res, never, || {
                    eks::pod_identity_association(&creator.eks, cluster, arn)
                })
                .await?
            {
                held.push(pair);
            }
        }
    }
    let send = identity.and_then(|wanted| identities_to_send(&held, wanted));
    let config_differs =
        configuration.is_some_and(|c| !same_configuration(&live.configuration_values, c));
    if send.is_none() && !config_differs {
        return Ok(None);
    }
    // Unchanged associations are sent as held (the list replaces them), and the configuration
    // only when it differs.
    let associations = send.clone().unwrap_or(held);
    let config = if config_differs { configuration } else { None };
    let token = std::sync::Mutex::new(request_token(
        ctx,
        &res.id,
        &serde_json::json!({
            "action": "UpdateAddon",
            "addon": name,
            "associations": associations,
            "configuration": config,
        }),
    ));
    let mut waited_out = false;
    loop {
        let started = ctx
            .creator_call(res, is_iam_propagation, || {
                with_token(&token, |t| {
                    let associations = associations.clone();
                    async move {
                        eks::update_addon_identity(
                            &creator.eks,
                            cluster,
                            name,
                            &associations,
                            config,
                            &t,
                        )
                        .await
                    }
                })
            })
            .await;
        match started {
            Ok(_) => break,
            // Someone else's update of the add-on runs: waited out once, then ours.
            Err(e) if eks::is_update_in_progress(&e) && !waited_out => {
                waited_out = true;
                wait_addon_healthy(ctx, res, creator, false, Instant::now()).await?;
            }
            Err(e) => return Err(e.into()),
        }
    }
    let mut what = Vec::new();
    if let (Some(_), Some((sa, role))) = (&send, identity) {
        let role_name = role.rsplit('/').next().unwrap_or(role);
        what.push(format!("service account {sa} uses role {role_name}"));
    }
    if config_differs {
        what.push("configuration set".to_string());
    }
    Ok(Some(what.join(", ")))
}

/// The journal attribute of the vpc-cni step once every node group was rolled onto the CNI's
/// own role (so a resumed apply goes on with the detach).
pub const CNI_NODES_ROLLED: &str = "cni_nodes_rolled";

/// The move of a cluster made with the CNI's policy on the node role, in the order that never
/// leaves the CNI without permissions: the add-on's role and association exist already (the
/// caller of this); every node group is rolled (an UpdateNodegroupVersion onto the launch
/// template version it runs, `force` off, so PodDisruptionBudgets are honoured), which recreates
/// every aws-node pod with the association's credentials; waited for; only then is the policy
/// detached from the node role. Each stage is journaled. Nothing to do (`None`) when the node
/// role does not hold the policy.
async fn cni_off_the_node_role(
    ctx: &Ctx,
    res: &Resource,
    creator: &Aws,
    outputs: &Outputs,
) -> Result<Option<String>, StepError> {
    let p = &ctx.profile;
    if !p.node_group() {
        // No node role to keep: with nodes off, `apply` retires it (and Auto Mode's node role
        // never held the CNI's policy).
        return Ok(None);
    }
    let cluster = p.cluster.name.as_str();
    let role = format!("{cluster}-node");
    let policy_arn =
        crate::plan::iam::managed_policy_arn(&p.cluster.region, crate::plan::iam::CNI_POLICY);
    let attached = crate::aws::iam::attached_policies(&ctx.aws, &role).await?;
    if !attached.contains(&policy_arn) {
        return Ok(None);
    }
    let rolled_before = outputs.attr(CNI_NODES_ROLLED) == Some("true");
    let mut rolled = Vec::new();
    if !rolled_before {
        let template_id = {
            let journal = ctx.journal.lock().expect("journal lock");
            journal.outputs("launch-template").map(|o| o.id.clone())
        };
        let nodegroups = ctx
            .creator_call(res, never, || eks::list_nodegroups(&creator.eks, cluster))
            .await?;
        for ng in &nodegroups {
            let Some(live) = ctx
                .creator_call(res, never, || {
                    eks::describe_nodegroup(&creator.eks, cluster, ng)
                })
                .await?
            else {
                continue;
            };
            if live.status == "DELETING" {
                continue;
            }
            let (Some(template), Some(version)) = (&template_id, &live.launch_template_version)
            else {
                return Err(StepError::Conflict {
                    message: format!(
                        "node group {ng} runs without eksboot's launch template: eksboot cannot roll its nodes onto the vpc-cni role, so AmazonEKS_CNI_Policy stays on {role}"
                    ),
                    hint: format!(
                        "replace node group {ng}'s nodes yourself (aws-node pods then use the add-on's role), then run `eksboot apply` again"
                    ),
                });
            };
            let token = request_token(
                ctx,
                &res.id,
                &serde_json::json!({
                    "action": "UpdateNodegroupVersion",
                    "why": "aws-node pods onto the vpc-cni role",
                    "nodegroup": ng,
                    "launch_template": [template, version],
                }),
            )
            .value();
            let ng_res = Resource {
                id: res.id.clone(),
                task: res.task,
                kind: Kind::Nodegroup,
                name: ng.clone(),
                depends_on: Vec::new(),
                cidr: None,
                az: None,
                detail: None,
            };
            let look = || async {
                Ok(ctx
                    .creator_call(res, never, || {
                        eks::describe_nodegroup(&creator.eks, cluster, ng)
                    })
                    .await?
                    .map(|n| n.status))
            };
            wait_until(
                ctx,
                &ng_res,
                ng,
                NODEGROUP_TIMEOUT,
                "before rolling its nodes",
                look,
            )
            .await?;
            let update = ctx
                .creator_call(res, never, || {
                    eks::update_nodegroup_template(
                        &creator.eks,
                        cluster,
                        ng,
                        (template, version),
                        &token,
                    )
                })
                .await?;
            wait_for_update(
                ctx,
                res,
                creator,
                Some(ng),
                &update,
                &format!("node group {ng}: nodes replaced so aws-node pods use the vpc-cni role"),
            )
            .await?;
            wait_until(ctx, &ng_res, ng, NODEGROUP_TIMEOUT, "nodes replaced", look).await?;
            rolled.push(ng.clone());
        }
        ctx.record_partial(&res.id, &outputs.clone().with(CNI_NODES_ROLLED, "true"))?;
    }
    crate::aws::iam::detach_policy(&ctx.aws, &role, &policy_arn).await?;
    let nodes = if rolled.is_empty() {
        String::new()
    } else {
        format!("nodes of {} rolled; ", rolled.join(", "))
    };
    Ok(Some(format!(
        "{nodes}{} detached from {role}",
        crate::plan::iam::CNI_POLICY
    )))
}

/// What an add-on's status means for its step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddonVerdict {
    Healthy,
    /// Keep waiting, with this progress note.
    Wait(String),
    /// The step fails, saying why.
    Failed(String),
}

/// Pure: whether an add-on is done, still coming up, or failed. DEGRADED is waiting for an
/// add-on whose pods need nodes, for `budget` after the nodes are ready; otherwise it fails
/// naming the health issues.
pub fn addon_verdict(
    addon: &eks::AddonInfo,
    needs_nodes: bool,
    since_nodes_ready: Duration,
    budget: Duration,
) -> AddonVerdict {
    let issues = if addon.issues.is_empty() {
        "no health issue reported".to_string()
    } else {
        addon.issues.join("; ")
    };
    match addon.status.as_str() {
        "ACTIVE" => AddonVerdict::Healthy,
        "CREATING" | "UPDATING" => {
            AddonVerdict::Wait(format!("{} — add-on installing", addon.status))
        }
        "DEGRADED" if needs_nodes && since_nodes_ready < budget => AddonVerdict::Wait(format!(
            "DEGRADED ({issues}) — pods being scheduled on the new nodes"
        )),
        "DEGRADED" if needs_nodes => AddonVerdict::Failed(format!(
            "add-on {} is still DEGRADED {} minutes after its nodes were ready: {issues}",
            addon_name(addon),
            budget.as_secs() / 60
        )),
        "CREATE_FAILED" => AddonVerdict::Failed(format!(
            "add-on {} failed to create: {issues}",
            addon_name(addon)
        )),
        other => AddonVerdict::Failed(format!("add-on {} is {other}: {issues}", addon_name(addon))),
    }
}

fn addon_name(addon: &eks::AddonInfo) -> &str {
    addon.arn.split('/').nth(2).unwrap_or("")
}

/// Waits until another step of this run is done (an add-on whose pods need nodes waits for the
/// node group). Fails if that step fails.
async fn wait_for_step(ctx: &Ctx, res: &Resource, step: &str) -> Result<(), StepError> {
    let started = Instant::now();
    let mut poll = PollDelay::new(ctx.timing.poll);
    loop {
        let status = ctx.journal.lock().expect("journal lock").status(step);
        match status {
            Some(StepStatus::Done) => return Ok(()),
            Some(StepStatus::Failed) => {
                return Err(StepError::Broken(format!(
                    "{} needs nodes, and the node group failed",
                    res.name
                )))
            }
            _ if ctx.stopping.load(std::sync::atomic::Ordering::SeqCst) => {
                return Err(StepError::Interrupted)
            }
            _ => ctx.waiting(res, &res.name, "waiting for nodes", started),
        }
        poll.sleep().await;
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn auto_mode_refused_by_eks_is_said_with_the_way_out_only_for_auto_mode() {
        let failure = |code: &str, message: &str| AwsError::Unsupported {
            action: "eks:CreateCluster",
            failure: crate::aws::Failure {
                code: code.into(),
                message: message.into(),
                request_id: None,
            },
        };
        let auto = crate::profile::Profile::parse(
            "[cluster]\nname = \"a\"\nregion = \"us-west-2\"\n[nodes]\nmode = \"auto\"\n",
            std::path::Path::new("p.toml"),
        )
        .unwrap();
        let managed = crate::profile::Profile::parse(
            "[cluster]\nname = \"a\"\nregion = \"us-west-2\"\n",
            std::path::Path::new("p.toml"),
        )
        .unwrap();
        let refused = failure(
            "InvalidParameterException",
            "EKS Auto Mode is not supported in this region",
        );
        match auto_mode_refused(&auto, &refused) {
            Some(StepError::Conflict { message, hint }) => {
                assert!(
                    message.contains("EKS refused Auto Mode in us-west-2"),
                    "{message}"
                );
                assert!(hint.contains("nodes.mode = \"managed\""), "{hint}");
            }
            other => panic!("expected a conflict with the way out, got {other:?}"),
        }
        assert!(auto_mode_refused(&managed, &refused).is_none());
        let other = failure("InvalidParameterException", "The subnet is not supported");
        assert!(auto_mode_refused(&auto, &other).is_none());
    }

    #[test]
    fn min_and_max_follow_the_profile_and_desired_only_when_the_profile_changed_it() {
        use super::size_update;
        // Nothing to do: live is the profile.
        assert_eq!(size_update((1, 2, 4), (1, 2, 4), Some(2)), None);
        // An autoscaler moved desired to 4; an unrelated apply keeps it.
        assert_eq!(size_update((1, 4, 4), (1, 2, 4), Some(2)), None);
        // Unknown last set (an older state file): kept, too.
        assert_eq!(size_update((1, 4, 4), (1, 2, 4), None), None);
        // The profile's max grows: min and max sent, the live desired kept.
        assert_eq!(size_update((1, 4, 4), (1, 2, 6), Some(2)), Some((1, 4, 6)));
        // The profile's desired changed (2 -> 3): it is sent, whatever runs.
        assert_eq!(size_update((1, 4, 4), (1, 3, 4), Some(2)), Some((1, 3, 4)));
        // ... and a resume after that resize (last set still 2) finds nothing left to do.
        assert_eq!(size_update((1, 3, 4), (1, 3, 4), Some(2)), None);
        // The live desired falls outside the new [min, max]: clamped into it.
        assert_eq!(size_update((1, 5, 6), (1, 2, 3), Some(2)), Some((1, 3, 3)));
        assert_eq!(size_update((1, 1, 4), (2, 2, 4), Some(2)), Some((2, 2, 4)));
        // A resize back to a value seen before (3 -> 5 -> 3) is still a change.
        assert_eq!(size_update((1, 5, 6), (1, 3, 6), Some(5)), Some((1, 3, 6)));
    }

    use super::*;

    fn running(public: bool, private: bool, cidrs: &[&str], logs: &[&str]) -> eks::ClusterInfo {
        eks::ClusterInfo {
            status: "ACTIVE".into(),
            endpoint_public: public,
            endpoint_private: private,
            public_access_cidrs: cidrs.iter().map(|s| s.to_string()).collect(),
            enabled_log_types: logs.iter().map(|s| s.to_string()).collect(),
            // As a profile's defaults want it.
            support_type: "STANDARD".into(),
            deletion_protection: true,
            ..Default::default()
        }
    }

    fn wanting(extra: &str) -> crate::profile::Profile {
        crate::profile::Profile::parse(
            &format!("[cluster]\nname = \"demo\"\nregion = \"us-west-2\"\n{extra}"),
            std::path::Path::new("t.toml"),
        )
        .unwrap()
    }

    #[test]
    fn a_running_cluster_that_matches_needs_no_update() {
        let p = wanting(
            "endpoint_access = \"public-and-private\"\npublic_access_cidrs = [\"203.0.113.0/24\", \"198.51.100.0/24\"]\nlog_types = [\"api\", \"audit\"]",
        );
        // CIDRs in another order are the same; a private endpoint's CIDRs do not matter.
        let live = running(
            true,
            true,
            &["198.51.100.0/24", "203.0.113.0/24"],
            &["audit", "api"],
        );
        assert!(cluster_updates(&live, &p).is_empty());
        let private = wanting("endpoint_access = \"private\"\nlog_types = [\"api\", \"audit\"]");
        let live = running(false, true, &["0.0.0.0/0"], &["api", "audit"]);
        assert!(cluster_updates(&live, &private).is_empty());
    }

    #[test]
    fn endpoint_access_comes_first_and_logging_names_what_to_turn_on_and_off() {
        let p = wanting(
            "endpoint_access = \"public-and-private\"\npublic_access_cidrs = [\"203.0.113.0/24\"]\nlog_types = [\"api\", \"authenticator\"]",
        );
        let live = running(true, false, &["0.0.0.0/0"], &["api", "audit"]);
        assert_eq!(
            cluster_updates(&live, &p),
            [
                ClusterUpdate::EndpointAccess {
                    public: true,
                    private: true,
                    public_cidrs: vec!["203.0.113.0/24".into()],
                },
                ClusterUpdate::Logging {
                    enable: vec!["authenticator".into()],
                    disable: vec!["audit".into()],
                },
            ]
        );
    }

    #[test]
    fn support_and_deletion_protection_follow_the_profile_after_logging() {
        let p = wanting("log_types = [\"api\"]");
        let mut live = running(true, true, &["0.0.0.0/0"], &["api"]);
        live.support_type = "EXTENDED".into();
        live.deletion_protection = false;
        assert_eq!(
            cluster_updates(&live, &p),
            [
                ClusterUpdate::Support {
                    support_type: "STANDARD".into()
                },
                ClusterUpdate::DeletionProtection { on: true },
            ]
        );
        // Written as the profile says, the other way too.
        let q =
            wanting("log_types = [\"api\"]\nsupport = \"extended\"\ndeletion_protection = false");
        assert!(cluster_updates(&live, &q).is_empty());
        // EKS said nothing of its policy: nothing to compare.
        live.support_type = String::new();
        assert_eq!(
            cluster_updates(&live, &p),
            [ClusterUpdate::DeletionProtection { on: true }]
        );
    }

    #[test]
    fn a_refused_move_to_standard_support_says_to_upgrade_first() {
        let past = AwsError::Other {
            action: "eks:UpdateClusterConfig",
            failure: crate::aws::Failure {
                code: "InvalidRequestException".into(),
                message: "Cluster runs 1.31, past the end of standard support".into(),
                request_id: None,
            },
        };
        let update = ClusterUpdate::Support {
            support_type: "STANDARD".into(),
        };
        let Some(StepError::Conflict { message, hint }) = support_refused(&update, &past) else {
            panic!("not a refusal");
        };
        assert!(message.contains("standard"), "{message}");
        assert!(hint.contains("eksboot upgrade"), "{hint}");
        // Another kind of update's refusal is not this one.
        assert!(support_refused(&ClusterUpdate::DeletionProtection { on: true }, &past).is_none());
    }

    #[test]
    fn bottlerocket_maps_an_os_volume_and_the_data_volume_al2023_one_root_volume() {
        use crate::profile::NodeOs;
        assert_eq!(
            node_volumes(NodeOs::Al2023, 50),
            [("/dev/xvda".to_string(), 50)]
        );
        assert_eq!(
            node_volumes(NodeOs::Bottlerocket, 50),
            [
                ("/dev/xvda".to_string(), BOTTLEROCKET_OS_GIB),
                ("/dev/xvdb".to_string(), 50)
            ]
        );
        let p = wanting("[nodes]\ninstance_types = [\"m7g.large\"]\nos = \"bottlerocket\"");
        assert_eq!(ami_type(&p), "BOTTLEROCKET_ARM_64");
        assert_eq!(ami_type(&wanting("")), "AL2023_x86_64_STANDARD");
    }

    fn addon(status: &str, issues: &[&str]) -> eks::AddonInfo {
        eks::AddonInfo {
            arn: "arn:aws:eks:us-west-2:123456789012:addon/demo/coredns/abc".into(),
            status: status.into(),
            version: "v1.12.2-eksbuild.4".into(),
            issues: issues.iter().map(|s| s.to_string()).collect(),
            pod_identity_associations: Vec::new(),
            configuration_values: String::new(),
        }
    }

    const TEN_MIN: Duration = Duration::from_secs(600);

    #[test]
    fn update_addon_is_sent_the_whole_list_with_ours_and_only_when_it_differs() {
        let pair = |sa: &str, role: &str| (sa.to_string(), role.to_string());
        let ours = pair("aws-node", "arn:aws:iam::1:role/demo-vpc-cni");
        // Already there: nothing to send.
        assert_eq!(identities_to_send(std::slice::from_ref(&ours), &ours), None);
        // None held: ours alone.
        assert_eq!(identities_to_send(&[], &ours), Some(vec![ours.clone()]));
        // Another role on our service account is replaced; another service account's kept
        // (UpdateAddon replaces the whole list, so it is sent again).
        let theirs = pair("other-sa", "arn:aws:iam::1:role/theirs");
        let stale = pair("aws-node", "arn:aws:iam::1:role/old");
        assert_eq!(
            identities_to_send(&[theirs.clone(), stale], &ours),
            Some(vec![theirs, ours])
        );
        // Configuration compared as JSON values.
        assert!(same_configuration(
            r#"{ "controller": {"k8sTagClusterId": "demo"} }"#,
            r#"{"controller":{"k8sTagClusterId":"demo"}}"#
        ));
        assert!(!same_configuration(
            "",
            r#"{"controller":{"k8sTagClusterId":"demo"}}"#
        ));
        assert!(!same_configuration(
            r#"{"controller":{"k8sTagClusterId":"other"}}"#,
            r#"{"controller":{"k8sTagClusterId":"demo"}}"#
        ));
    }

    #[test]
    fn degraded_is_waiting_while_pods_find_the_new_nodes() {
        let degraded = addon(
            "DEGRADED",
            &["InsufficientNumberOfReplicas: not enough replicas"],
        );
        match addon_verdict(&degraded, true, Duration::from_secs(30), TEN_MIN) {
            AddonVerdict::Wait(note) => {
                assert!(note.contains("InsufficientNumberOfReplicas"), "{note}")
            }
            other => panic!("{other:?}"),
        }
        match addon_verdict(&degraded, true, Duration::from_secs(601), TEN_MIN) {
            AddonVerdict::Failed(why) => {
                assert!(
                    why.contains("coredns is still DEGRADED 10 minutes"),
                    "{why}"
                );
                assert!(why.contains("InsufficientNumberOfReplicas"), "{why}");
            }
            other => panic!("{other:?}"),
        }
        // A DaemonSet add-on has no excuse to be DEGRADED.
        assert!(matches!(
            addon_verdict(&degraded, false, Duration::ZERO, TEN_MIN),
            AddonVerdict::Failed(_)
        ));
    }

    #[test]
    fn create_failed_names_the_health_issues() {
        let failed = addon("CREATE_FAILED", &["ConfigurationConflict: conflicts found"]);
        match addon_verdict(&failed, true, Duration::ZERO, TEN_MIN) {
            AddonVerdict::Failed(why) => {
                assert_eq!(
                    why,
                    "add-on coredns failed to create: ConfigurationConflict: conflicts found"
                )
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            addon_verdict(&addon("ACTIVE", &[]), true, Duration::ZERO, TEN_MIN),
            AddonVerdict::Healthy
        );
        assert!(matches!(
            addon_verdict(&addon("CREATING", &[]), true, Duration::ZERO, TEN_MIN),
            AddonVerdict::Wait(_)
        ));
    }
}
