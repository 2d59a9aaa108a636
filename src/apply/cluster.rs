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
                .filter(|r| r.kind == Kind::Subnet)
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
            done_if_exists(created)?;
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
}

impl ClusterUpdate {
    pub fn describe(&self) -> &'static str {
        match self {
            ClusterUpdate::EndpointAccess { .. } => "endpoint access",
            ClusterUpdate::Logging { .. } => "logging",
        }
    }
}

/// What must change for `live` to match the profile: endpoint access first, then logging.
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
            Err(e) => return Err(e.into()),
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

async fn access_entry(ctx: &Ctx, res: &Resource) -> Result<StepResult, StepError> {
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
    let token = request_token(
        ctx,
        &res.id,
        &serde_json::json!({
            "action": "CreateLaunchTemplate",
            "name": res.name,
            "disk": disk,
            "tags": tags,
        }),
    )
    .value();
    // Its name is unique in the region: taken by ours (found by tags) means adopted.
    let (template, adopted) = find_or_create(
        || first_found(ec2::find_launch_templates(&ctx.aws, &filters), Some),
        || {
            made(ec2::create_node_launch_template(
                &ctx.aws, &res.name, disk, &tags, &token,
            ))
        },
    )
    .await?;
    // The root volume follows the profile: a new version when the disk size changed; the node
    // group step rolls the nodes onto it.
    let mut version = template.latest_version;
    let mut outputs = Outputs::id(&template.id);
    if adopted {
        if let Some((latest, size)) = ec2::launch_template_disk(&ctx.aws, &template.id).await? {
            version = latest;
            if size != disk {
                let token = request_token(
                    ctx,
                    &res.id,
                    &serde_json::json!({
                        "action": "CreateLaunchTemplateVersion",
                        "template": template.id,
                        "from_version": latest,
                        "disk": disk,
                    }),
                )
                .value();
                version =
                    ec2::create_node_template_version(&ctx.aws, &template.id, disk, &token).await?;
                outputs = outputs.with("updated", format!("root volume {disk} GiB"));
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

/// The AMI type for the node group's CPU architecture.
pub fn ami_type(instance_types: &[String]) -> &'static str {
    match instance_types.first().map(|t| instance_arch(t)) {
        Some("arm64") => "AL2023_ARM_64_STANDARD",
        _ => "AL2023_x86_64_STANDARD",
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
        None => {
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
                ami_type: ami_type(&p.nodes.instance_types),
                launch_template_id: &template.id,
                launch_template_version: &version,
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
        }
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
    let mut resized: Option<(i32, i32, i32)> = None;
    let mut kept_desired = None;
    let mut rolled = false;
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
    if !updated.is_empty() {
        outputs = outputs.with("updated", updated.join(", "));
    }
    Ok(result(outputs, adopted))
}

async fn addon(ctx: &Ctx, res: &Resource) -> Result<StepResult, StepError> {
    let creator = as_creator(ctx).await?;
    let cluster = ctx.profile.cluster.name.as_str();
    let name = res.name.as_str();
    let existing = ctx
        .creator_call(res, never, || {
            eks::describe_addon(&creator.eks, cluster, name)
        })
        .await?;
    let adopted = existing.is_some();
    let version = match existing {
        Some(a) => a.version,
        None => {
            let k8s = ctx.kubernetes_version.as_str();
            let version = ctx.creator_call(res, never, || eks::default_addon_version(&creator.eks, name, k8s))
                .await?
                .ok_or_else(|| StepError::Conflict {
                    message: format!("EKS offers no add-on named {name} for Kubernetes {k8s}"),
                    hint: "check the name in cluster.addons (`aws eks describe-addon-versions` lists them)".into(),
                })?;
            let tags = tag_map(ctx, res);
            let token = request_token(
                ctx,
                &res.id,
                &serde_json::json!({
                    "action": "CreateAddon",
                    "addon": name,
                    "version": version,
                    "tags": tags,
                }),
            )
            .value();
            let created = ctx
                .creator_call(res, never, || {
                    eks::create_addon(&creator.eks, cluster, name, &version, tags.clone(), &token)
                })
                .await;
            done_if_exists(created)?;
            version
        }
    };
    ctx.record_partial(&res.id, &Outputs::id(name).with("version", &version))?;
    let needs_nodes = addon_needs_nodes(name);
    if needs_nodes && !ctx.profile.nodes.enabled {
        // Nothing can schedule its pods: created, and healthy once nodes exist.
        return Ok(result(
            Outputs::id(name)
                .with("version", version)
                .with("status", "healthy once nodes exist"),
            adopted,
        ));
    }
    if needs_nodes {
        let nodegroup = ctx.plan.nodegroup_step().expect("nodes are enabled");
        wait_for_step(ctx, res, nodegroup).await?;
    }
    // Pods need a while after the node group is ACTIVE to be scheduled and ready: until then
    // EKS reports such an add-on DEGRADED. A resume waits again.
    let nodes_ready = Instant::now();
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
            AddonVerdict::Healthy => break,
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
    Ok(result(Outputs::id(name).with("version", version), adopted))
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

    fn addon(status: &str, issues: &[&str]) -> eks::AddonInfo {
        eks::AddonInfo {
            arn: "arn:aws:eks:us-west-2:123456789012:addon/demo/coredns/abc".into(),
            status: status.into(),
            version: "v1.12.2-eksbuild.4".into(),
            issues: issues.iter().map(|s| s.to_string()).collect(),
        }
    }

    const TEN_MIN: Duration = Duration::from_secs(600);

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
