//! Task 1, secure the environment: the creator, cluster and node roles, the secrets key, the
//! creator's inline policy, and the control-plane log group.

use crate::aws::{iam, kms, logs, AwsError};
use crate::plan::iam::{
    creator_inline_policy, creator_trust_policy, key_policy, managed_policy_arn, partition,
    service_trust_policy, CreatorScope, CLUSTER_ROLE_POLICIES, NODE_ROLE_POLICIES,
};
use crate::plan::Resource;

use super::journal::Outputs;
use super::retry::{create_once, find_or_create, is_iam_propagation, made, with_retry};
use super::{Ctx, StepError, StepResult};

pub async fn run(ctx: &Ctx, res: &Resource) -> Result<StepResult, StepError> {
    match res.id.as_str() {
        "creator-role" => {
            let principals = creator_principals(ctx);
            let trust =
                creator_trust_policy(&ctx.profile.cluster.region, &ctx.account, &principals);
            role(
                ctx,
                res,
                &trust.to_string(),
                &[],
                "Creates and administers the EKS cluster; made by eksboot",
            )
            .await
        }
        "cluster-role" => {
            role(
                ctx,
                res,
                &service_trust_policy(&ctx.profile.cluster.region, "eks").to_string(),
                &CLUSTER_ROLE_POLICIES,
                "EKS cluster service role; made by eksboot",
            )
            .await
        }
        "node-role" => {
            role(
                ctx,
                res,
                &service_trust_policy(&ctx.profile.cluster.region, "ec2").to_string(),
                &NODE_ROLE_POLICIES,
                "EKS worker node role; made by eksboot",
            )
            .await
        }
        "secrets-key" => key(ctx, res).await,
        "creator-policy" => creator_policy(ctx, res).await,
        "log-group" => log_group(ctx, res).await,
        other => unreachable!("no secure step {other}"),
    }
}

/// Who may assume the creator role: the person running eksboot and the profile's admins.
pub fn creator_principals(ctx: &Ctx) -> Vec<String> {
    let mut principals = vec![ctx.caller_principal.clone()];
    for admin in &ctx.profile.cluster.admins {
        if !principals.contains(admin) {
            principals.push(admin.clone());
        }
    }
    principals
}

/// The creator role's ARN, made by us or given in the profile.
pub fn creator_role_arn(ctx: &Ctx) -> String {
    match ctx.profile.security.creator_role.existing_arn() {
        Some(arn) => arn.to_string(),
        None => ctx.output("creator-role").arn.unwrap_or_default(),
    }
}

/// The secrets key's ARN, made by us or given in the profile (resolved from an alias by
/// preflight: an alias ARN in a policy covers the alias, not the key).
pub fn key_arn(ctx: &Ctx) -> String {
    match ctx.profile.security.secrets_key.existing_arn() {
        Some(arn) => {
            let journal = ctx.journal.lock().expect("journal lock");
            journal
                .state
                .secrets_key_arn
                .clone()
                .unwrap_or_else(|| arn.to_string())
        }
        None => ctx.output("secrets-key").arn.unwrap_or_default(),
    }
}

/// A role: adopted when it exists and is ours (its tags name this cluster and region), refused
/// when it exists and is someone else's, created otherwise; managed policies attached.
async fn role(
    ctx: &Ctx,
    res: &Resource,
    trust: &str,
    managed: &[&str],
    description: &str,
) -> Result<StepResult, StepError> {
    let region = &ctx.profile.cluster.region;
    let tags = ctx.tags(res);
    // Role names are account-wide: a create the SDK repeated after a lost answer is told the
    // name is taken, and the role found then carries this cluster's tags.
    let (arn, adopted) = find_or_create(
        || async {
            let Some(role) = iam::get_role(&ctx.aws, &res.name).await? else {
                return Ok(None);
            };
            let ours = role.tag("eksboot:cluster") == Some(ctx.profile.cluster.name.as_str())
                && role.tag("eksboot:region") == Some(region.as_str());
            if !ours {
                return Err(StepError::Conflict {
                    message: format!("an IAM role named {} already exists and was not made by eksboot for this cluster in {region}", res.name),
                    hint: "IAM role names are account-wide: delete or rename that role, or choose another cluster name".into(),
                });
            }
            Ok(Some(role.arn))
        },
        || made(iam::create_role(&ctx.aws, &res.name, trust, description, &tags)),
    )
    .await?;
    if adopted {
        // Keep the trust policy current (e.g. admins changed between attempts).
        iam::update_trust_policy(&ctx.aws, &res.name, trust).await?;
    }
    ctx.record_partial(&res.id, &Outputs::id(&res.name).with_arn(&arn))?;
    for policy in managed {
        let policy_arn = managed_policy_arn(region, policy);
        iam::attach_role_policy(&ctx.aws, &res.name, &policy_arn).await?;
    }
    let outputs = Outputs::id(&res.name).with_arn(arn);
    Ok(if adopted {
        StepResult::adopted(outputs)
    } else {
        StepResult::created(outputs)
    })
}

/// The secrets key: found by its alias (ignoring a key pending deletion, which keeps its tags),
/// or, after an interrupted attempt, by its tags; created with rotation on and the alias.
async fn key(ctx: &Ctx, res: &Resource) -> Result<StepResult, StepError> {
    let base = ctx.timing.retry_base;
    let alias = &res.name;
    let by_alias = kms::describe_key(&ctx.aws, alias).await?;
    let alias_exists = by_alias.is_some();
    let live =
        |k: &kms::KeyInfo| k.state != "PendingDeletion" && k.state != "PendingReplicaDeletion";

    let found = by_alias.filter(|k| live(k));
    let mut users = vec![ctx.output("cluster-role").arn.unwrap_or_default()];
    users.insert(0, creator_role_arn(ctx));
    let policy = key_policy(&ctx.profile.cluster.region, &ctx.account, &users).to_string();
    let tags = ctx.tags(res);
    let description = format!(
        "Encrypts Kubernetes secrets of EKS cluster {}; made by eksboot",
        ctx.profile.cluster.name
    );
    let first_look = std::sync::atomic::AtomicBool::new(true);
    let (key, adopted) = create_once(
        base,
        || async {
            if first_look.swap(false, std::sync::atomic::Ordering::SeqCst)
                && (found.is_some() || !ctx.attempted_before(&res.id))
            {
                return Ok(found.clone());
            }
            // An earlier attempt, or a CreateKey whose answer was lost, may have made the key
            // without its alias: it carries this cluster's tags.
            let recorded = ctx.unfinished(&res.id).map(|o| o.id);
            let candidates = match recorded {
                Some(id) => vec![id],
                None => {
                    kms::find_keys_tagged(&ctx.aws, "eksboot:cluster", &ctx.profile.cluster.name)
                        .await?
                        .found
                }
            };
            for id in candidates {
                if let Some(k) = kms::describe_key(&ctx.aws, &id).await? {
                    if live(&k) {
                        return Ok(Some(k));
                    }
                }
            }
            Ok(None)
        },
        // KMS rejects principals it cannot see yet: retry while IAM propagates.
        || {
            made(with_retry(base, is_iam_propagation, || {
                kms::create_key(&ctx.aws, &policy, &description, &tags)
            }))
        },
    )
    .await?;
    ctx.record_partial(&res.id, &Outputs::id(&key.id).with_arn(&key.arn))?;
    kms::enable_key_rotation(&ctx.aws, &key.id).await?;
    if alias_exists {
        kms::update_alias(&ctx.aws, alias, &key.id).await?;
    } else {
        match kms::create_alias(&ctx.aws, alias, &key.id).await {
            Ok(()) => {}
            // Made by a repeat whose first answer was lost: point it at this key all the same.
            Err(AwsError::AlreadyExists { .. }) => {
                kms::update_alias(&ctx.aws, alias, &key.id).await?
            }
            Err(e) => return Err(e.into()),
        }
    }
    let outputs = Outputs::id(&key.id).with_arn(&key.arn).with("alias", alias);
    Ok(if adopted {
        StepResult::adopted(outputs)
    } else {
        StepResult::created(outputs)
    })
}

/// The creator's least-privilege inline policy (it names the key, so it comes after it).
async fn creator_policy(ctx: &Ctx, res: &Resource) -> Result<StepResult, StepError> {
    let p = &ctx.profile;
    let region = &p.cluster.region;
    let cluster_role = ctx.output("cluster-role").arn.unwrap_or_default();
    let node_role = p
        .nodes
        .enabled
        .then(|| ctx.output("node-role").arn.unwrap_or_default());
    let key = key_arn(ctx);
    let launch_template = p.nodes.enabled.then(|| {
        format!(
            "arn:{}:ec2:{region}:{}:launch-template/{}",
            partition(region),
            ctx.account,
            ctx.output("launch-template").id
        )
    });
    let document = creator_inline_policy(&CreatorScope {
        region,
        account: &ctx.account,
        cluster: &p.cluster.name,
        cluster_role_arn: &cluster_role,
        node_role_arn: node_role.as_deref(),
        key_arn: Some(&key),
        oidc_provider: p.cluster.oidc_provider,
        launch_template_arn: launch_template.as_deref(),
    });
    let role = res.name.clone();
    let policy_name = "eksboot-create-cluster";
    let current = iam::get_role_policy(&ctx.aws, &role, policy_name).await?;
    let same = current
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        .is_some_and(|doc| doc == document);
    // When it was last written: calls made as the creator may be denied for a while after.
    // Recorded before the write, so a run stopped just after it still knows to wait.
    let earlier = ctx
        .unfinished(&res.id)
        .or_else(|| {
            ctx.journal
                .lock()
                .expect("journal lock")
                .outputs(&res.id)
                .cloned()
        })
        .and_then(|o| o.attr("written_at").map(str::to_string));
    let written_at = if same {
        earlier
    } else {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis()
            .to_string();
        ctx.record_partial(
            &res.id,
            &Outputs::id(policy_name)
                .with("role", &role)
                .with("written_at", &now),
        )?;
        let text = document.to_string();
        iam::put_role_policy(&ctx.aws, &role, policy_name, &text).await?;
        Some(now)
    };
    let mut outputs = Outputs::id(policy_name).with("role", role);
    if let Some(at) = written_at {
        outputs = outputs.with("written_at", at);
    }
    Ok(if same {
        StepResult::adopted(outputs)
    } else {
        StepResult::created(outputs)
    })
}

/// The log group EKS writes control-plane logs into. EKS re-creates it when late logs arrive
/// after a cluster is gone, so an existing one is adopted: retention and tags set.
async fn log_group(ctx: &Ctx, res: &Resource) -> Result<StepResult, StepError> {
    let name = &res.name;
    let tags = ctx.tags(res);
    let days = ctx.profile.cluster.log_retention_days;
    // Its name is unique: a create repeated after a lost answer is told it exists.
    let (arn, adopted) = find_or_create(
        || async { Ok(logs::find_log_group(&ctx.aws, name).await?) },
        || async {
            logs::create_log_group(&ctx.aws, name, &tags).await?;
            Ok(logs::find_log_group(&ctx.aws, name)
                .await?
                .unwrap_or_default())
        },
    )
    .await?;
    let mut outputs = Outputs::id(name.as_str()).with_arn(&arn);
    if adopted {
        logs::tag_log_group(&ctx.aws, &arn, &tags).await?;
        // Day two: report a retention brought to the profile.
        // (A group EKS made again after a teardown keeps events for ever: not a change.)
        if logs::retention(&ctx.aws, name)
            .await?
            .is_some_and(|kept| kept != days)
        {
            outputs = outputs.with("updated", format!("retention {days} days"));
        }
    }
    logs::put_retention(&ctx.aws, name, days).await?;
    Ok(if adopted {
        StepResult::adopted(outputs)
    } else {
        StepResult::created(outputs)
    })
}
