//! Task 1, secure the environment: the creator, cluster and node roles, the secrets key, the
//! creator's inline policy, and the control-plane log group.

use crate::aws::{iam, kms, logs, AwsError};
use crate::plan::iam::{
    addon_role_arns, cluster_role_policies, creator_policy_with_addon_roles, creator_trust_policy,
    key_policy, managed_policy_arn, node_role_policies, partition, pod_identity_trust_policy,
    service_trust_policy, CreatorScope,
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
                &cluster_role_policies(&ctx.profile),
                "EKS cluster service role; made by eksboot",
            )
            .await
        }
        "node-role" => {
            // Without the CNI's policy when vpc-cni has its own role. A node role made before
            // keeps it here: the vpc-cni add-on step detaches it, only once every aws-node pod
            // runs with the add-on's role (see `apply::cluster`).
            role(
                ctx,
                res,
                &service_trust_policy(&ctx.profile.cluster.region, "ec2").to_string(),
                &node_role_policies(&ctx.profile),
                "EKS worker node role; made by eksboot",
            )
            .await
        }
        id if id.starts_with("addon-role-") => {
            let Some((addon, policy)) = ctx
                .profile
                .addon_roles()
                .into_iter()
                .find(|(a, _)| crate::plan::addon_role_step(a).as_deref() == Some(id))
            else {
                unreachable!("no add-on role step {id}")
            };
            role(
                ctx,
                res,
                &pod_identity_trust_policy().to_string(),
                &[policy],
                &format!("Role of the {addon} add-on through EKS Pod Identity; made by eksboot"),
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
/// when it exists and is someone else's, created otherwise (with the profile's permissions
/// boundary, if any, in the same call); managed policies attached. An adopted role is given
/// the profile's boundary when it lacks it or carries another. A boundary the profile no
/// longer names is left in place: removing one is what the printed policy denies.
async fn role(
    ctx: &Ctx,
    res: &Resource,
    trust: &str,
    managed: &[&str],
    description: &str,
) -> Result<StepResult, StepError> {
    let region = &ctx.profile.cluster.region;
    let tags = ctx.tags(res);
    // Only roles eksboot makes get here: a brought `creator_role` has no step and is never
    // touched.
    let boundary = ctx.profile.security.permissions_boundary.as_deref();
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
        || {
            made(iam::create_role_with_boundary(
                &ctx.aws,
                &res.name,
                trust,
                description,
                &tags,
                boundary,
            ))
        },
    )
    .await?;
    if adopted {
        // Keep the trust policy current (e.g. admins changed between attempts).
        iam::update_trust_policy(&ctx.aws, &res.name, trust).await?;
        // A role made before the profile named a boundary (or named another) gets the
        // profile's before anything else is written to it: with a boundary, the printed
        // policy lets policies be attached and written only to roles that carry it.
        if let Some(wanted) = boundary {
            let current = iam::role_permissions_boundary(&ctx.aws, &res.name).await?;
            if current.as_deref() != Some(wanted) {
                iam::put_role_permissions_boundary(&ctx.aws, &res.name, wanted).await?;
            }
        }
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

/// The secrets key's description: it names the cluster, the region and the run, so a key made
/// by a CreateKey whose answer was lost, or by a run stopped before it tagged the key, is
/// found by it (the key carries no tags until [`kms::tag_key`]).
pub fn key_description(cluster: &str, region: &str, run: &str) -> String {
    format!(
        "Encrypts Kubernetes secrets of EKS cluster {cluster} in {region}; made by eksboot run {run}"
    )
}

/// The run a description made by [`key_description`] for `cluster` in `region` names, if it is
/// one.
pub fn key_description_run<'a>(
    description: &'a str,
    cluster: &str,
    region: &str,
) -> Option<&'a str> {
    let head = format!(
        "Encrypts Kubernetes secrets of EKS cluster {cluster} in {region}; made by eksboot run "
    );
    description
        .strip_prefix(head.as_str())
        .filter(|run| !run.is_empty() && !run.contains(char::is_whitespace))
}

/// Whether a key found after an interrupted attempt is tagged already.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyTagging {
    /// Found by its alias or its tags.
    Tagged,
    /// Found by its description (untagged), or just made.
    Untagged,
    /// Found by the id the journal recorded: made, perhaps tagged before the run stopped.
    Unknown,
}

/// Where to look for a key an earlier attempt (or a CreateKey whose answer was lost) made,
/// best first: the id the journal recorded; else the keys tagged for this cluster; else the
/// untagged keys whose description names this run. Each with what is known of its tags.
pub fn key_candidates(
    recorded: Option<String>,
    found: &kms::KeysFound,
) -> Vec<(String, KeyTagging)> {
    if let Some(id) = recorded {
        return vec![(id, KeyTagging::Unknown)];
    }
    if !found.found.is_empty() {
        return found
            .found
            .iter()
            .map(|id| (id.clone(), KeyTagging::Tagged))
            .collect();
    }
    found
        .described
        .iter()
        .map(|id| (id.clone(), KeyTagging::Untagged))
        .collect()
}

/// Whether a key must be tagged now: it carries no `eksboot:cluster` tag. A key tagged for
/// another cluster is never retagged.
pub fn needs_tags(tagging: KeyTagging, tags: Option<&[(String, String)]>, cluster: &str) -> bool {
    match tagging {
        KeyTagging::Tagged => false,
        KeyTagging::Untagged => true,
        KeyTagging::Unknown => tags.is_some_and(|tags| {
            kms::tag_verdict(tags, "eksboot:cluster", cluster) == kms::TagVerdict::Untagged
        }),
    }
}

/// The secrets key: found by its alias (ignoring a key pending deletion, which keeps its tags),
/// or, after an interrupted attempt, by the recorded id, its tags or its description; else
/// created, untagged, with a key policy that lets the caller tag it, rotate it, alias it and
/// schedule its deletion; then tagged, rotation on, and the alias.
///
/// Tags are not given to CreateKey: KMS authorizes them as kms:TagResource in an IAM policy that
/// must cover every key of the account, which IAM cannot tell from tagging an existing untagged
/// key (<https://docs.aws.amazon.com/kms/latest/developerguide/tag-permissions.html>). The key's
/// own policy grants the caller kms:TagResource on this key only.
async fn key(ctx: &Ctx, res: &Resource) -> Result<StepResult, StepError> {
    let base = ctx.timing.retry_base;
    let alias = &res.name;
    let cluster = ctx.profile.cluster.name.as_str();
    let region = ctx.profile.cluster.region.as_str();
    let by_alias = kms::describe_key(&ctx.aws, alias).await?;
    let alias_exists = by_alias.is_some();
    let live =
        |k: &kms::KeyInfo| k.state != "PendingDeletion" && k.state != "PendingReplicaDeletion";

    let found = by_alias.filter(|k| live(k));
    let mut users = vec![ctx.output("cluster-role").arn.unwrap_or_default()];
    users.insert(0, creator_role_arn(ctx));
    let policy = key_policy(region, &ctx.account, &users, &ctx.caller_principal).to_string();
    let tags = ctx.tags(res);
    let description = key_description(cluster, region, &ctx.run_id);
    let first_look = std::sync::atomic::AtomicBool::new(true);
    let ((key, tagging), adopted) = create_once(
        base,
        || async {
            if first_look.swap(false, std::sync::atomic::Ordering::SeqCst)
                && (found.is_some() || !ctx.attempted_before(&res.id))
            {
                // Behind our alias: tagged before the alias was made.
                return Ok(found.clone().map(|k| (k, KeyTagging::Tagged)));
            }
            // An earlier attempt, or a CreateKey whose answer was lost, may have made the key
            // without its alias, and perhaps without its tags: found by the journal's id, by
            // this cluster's tags, or by the description naming this run.
            let recorded = ctx.unfinished(&res.id).map(|o| o.id);
            let scanned = match recorded {
                Some(_) => kms::KeysFound::default(),
                None => {
                    let this_run = |d: &str| d == description;
                    let this_run: &(dyn Fn(&str) -> bool + Sync) = &this_run;
                    kms::find_keys(&ctx.aws, "eksboot:cluster", cluster, Some(this_run)).await?
                }
            };
            for (id, tagging) in key_candidates(recorded, &scanned) {
                if let Some(k) = kms::describe_key(&ctx.aws, &id).await? {
                    if live(&k) {
                        return Ok(Some((k, tagging)));
                    }
                }
            }
            Ok(None)
        },
        // KMS rejects principals it cannot see yet: retry while IAM propagates.
        || {
            made(async {
                let k = with_retry(base, is_iam_propagation, || {
                    kms::create_key(&ctx.aws, &policy, &description)
                })
                .await?;
                Ok((k, KeyTagging::Untagged))
            })
        },
    )
    .await?;
    ctx.record_partial(&res.id, &Outputs::id(&key.id).with_arn(&key.arn))?;
    let held = match tagging {
        KeyTagging::Unknown => Some(kms::key_tags(&ctx.aws, &key.id).await?),
        _ => None,
    };
    if needs_tags(tagging, held.as_deref(), cluster) {
        // Allowed by the key's own policy (the caller is named in it); the caller's IAM policy
        // grants no kms:TagResource.
        kms::tag_key(&ctx.aws, &key.id, &tags).await?;
    }
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
        .has_nodes()
        .then(|| ctx.output("node-role").arn.unwrap_or_default());
    let key = key_arn(ctx);
    let launch_template = p.node_group().then(|| {
        format!(
            "arn:{}:ec2:{region}:{}:launch-template/{}",
            partition(region),
            ctx.account,
            ctx.output("launch-template").id
        )
    });
    let document = creator_policy_with_addon_roles(
        &CreatorScope {
            region,
            account: &ctx.account,
            cluster: &p.cluster.name,
            cluster_role_arn: &cluster_role,
            node_role_arn: node_role.as_deref(),
            key_arn: Some(&key),
            oidc_provider: p.cluster.oidc_provider,
            launch_template_arn: launch_template.as_deref(),
        },
        &addon_role_arns(p, &ctx.account),
    );
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

#[cfg(test)]
mod tests {
    use super::*;

    fn found(tagged: &[&str], described: &[&str]) -> kms::KeysFound {
        kms::KeysFound {
            found: tagged.iter().map(|s| s.to_string()).collect(),
            described: described.iter().map(|s| s.to_string()).collect(),
            unreadable: vec!["k-theirs".into()],
        }
    }

    #[test]
    fn the_key_description_names_cluster_region_and_run_and_is_read_back_exactly() {
        let d = key_description("demo", "us-west-2", "run-0a1b2c3d4e");
        assert_eq!(
            key_description_run(&d, "demo", "us-west-2"),
            Some("run-0a1b2c3d4e")
        );
        // Another cluster whose name starts like ours, another region, another text: not ours.
        let longer = key_description("demo-2", "us-west-2", "run-1");
        assert_eq!(key_description_run(&longer, "demo", "us-west-2"), None);
        assert_eq!(key_description_run(&d, "demo", "eu-west-1"), None);
        assert_eq!(key_description_run(&d, "dem", "us-west-2"), None);
        assert_eq!(
            key_description_run(
                "Encrypts Kubernetes secrets of EKS cluster demo; made by eksboot",
                "demo",
                "us-west-2"
            ),
            None,
            "an older version's description is found by its tags, not its text"
        );
        let no_run = key_description("demo", "us-west-2", "");
        assert_eq!(key_description_run(&no_run, "demo", "us-west-2"), None);
        let trailing = format!("{d} and more");
        assert_eq!(key_description_run(&trailing, "demo", "us-west-2"), None);
        // KMS keeps descriptions up to 8,192 characters: far more than this takes.
        assert!(key_description(&"c".repeat(100), "ap-southeast-4", "run-0a1b2c3d4e").len() < 200);
    }

    #[test]
    fn a_lost_key_is_looked_for_by_id_then_tags_then_description() {
        // The journal's id wins, tags unknown (the run may have stopped before tagging).
        assert_eq!(
            key_candidates(Some("k-rec".into()), &found(&["k-tag"], &["k-desc"])),
            vec![("k-rec".to_string(), KeyTagging::Unknown)]
        );
        // Tagged keys before untagged ones whose description names this run.
        assert_eq!(
            key_candidates(None, &found(&["k-tag"], &["k-desc"])),
            vec![("k-tag".to_string(), KeyTagging::Tagged)]
        );
        assert_eq!(
            key_candidates(None, &found(&[], &["k-desc"])),
            vec![("k-desc".to_string(), KeyTagging::Untagged)]
        );
        // Nothing: create. A key whose tags or description cannot be read is never adopted.
        assert!(key_candidates(None, &found(&[], &[])).is_empty());
    }

    #[test]
    fn only_a_key_without_the_cluster_tag_is_tagged() {
        let held = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert!(needs_tags(KeyTagging::Untagged, None, "demo"));
        assert!(!needs_tags(KeyTagging::Tagged, None, "demo"));
        let untagged = held(&[]);
        assert!(needs_tags(KeyTagging::Unknown, Some(&untagged), "demo"));
        let ours = held(&[("eksboot:cluster", "demo")]);
        assert!(!needs_tags(KeyTagging::Unknown, Some(&ours), "demo"));
        // Another cluster's key is never retagged as ours.
        let theirs = held(&[("eksboot:cluster", "other")]);
        assert!(!needs_tags(KeyTagging::Unknown, Some(&theirs), "demo"));
        // Not read: not tagged.
        assert!(!needs_tags(KeyTagging::Unknown, None, "demo"));
    }
}
