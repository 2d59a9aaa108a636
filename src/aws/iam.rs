//! IAM: roles and their policies.

use aws_sdk_iam::types::Tag;

use super::{classify, done_if_gone, Aws, AwsError};
use crate::plan::iam::{dns_suffix, partition};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleInfo {
    pub arn: String,
    pub tags: Vec<(String, String)>,
}

impl RoleInfo {
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// The role named `name`, or `None` when there is none.
pub async fn get_role(aws: &Aws, name: &str) -> Result<Option<RoleInfo>, AwsError> {
    match aws.iam.get_role().role_name(name).send().await {
        Ok(out) => Ok(out.role().map(|r| RoleInfo {
            arn: r.arn().to_string(),
            tags: r
                .tags()
                .iter()
                .map(|t| (t.key().to_string(), t.value().to_string()))
                .collect(),
        })),
        Err(e) => match classify("iam:GetRole", e) {
            err if err.is_not_found() => Ok(None),
            err => Err(err),
        },
    }
}

pub async fn create_role(
    aws: &Aws,
    name: &str,
    trust_policy: &str,
    description: &str,
    tags: &[(String, String)],
) -> Result<String, AwsError> {
    create_role_with_boundary(aws, name, trust_policy, description, tags, None).await
}

/// CreateRole with an optional permissions boundary (a managed policy ARN), set in the same
/// call so the role never exists without it.
pub async fn create_role_with_boundary(
    aws: &Aws,
    name: &str,
    trust_policy: &str,
    description: &str,
    tags: &[(String, String)],
    boundary: Option<&str>,
) -> Result<String, AwsError> {
    let out = aws
        .iam
        .create_role()
        .role_name(name)
        .assume_role_policy_document(trust_policy)
        .description(description)
        .set_permissions_boundary(boundary.map(str::to_string))
        .set_tags(Some(
            tags.iter()
                .map(|(k, v)| Tag::builder().key(k).value(v).build())
                .collect::<Result<Vec<_>, _>>()
                .expect("tags have keys and values"),
        ))
        .send()
        .await
        .map_err(|e| classify("iam:CreateRole", e))?;
    Ok(out.role().map(|r| r.arn().to_string()).unwrap_or_default())
}

/// Sets (or replaces) a role's permissions boundary. Repeating it with the same policy is a
/// no-op for IAM.
pub async fn put_role_permissions_boundary(
    aws: &Aws,
    role: &str,
    policy_arn: &str,
) -> Result<(), AwsError> {
    aws.iam
        .put_role_permissions_boundary()
        .role_name(role)
        .permissions_boundary(policy_arn)
        .send()
        .await
        .map_err(|e| classify("iam:PutRolePermissionsBoundary", e))?;
    Ok(())
}

/// The permissions boundary (policy ARN) of a role, from GetRole: `None` when the role has no
/// boundary or does not exist.
pub async fn role_permissions_boundary(aws: &Aws, role: &str) -> Result<Option<String>, AwsError> {
    match aws.iam.get_role().role_name(role).send().await {
        Ok(out) => Ok(out
            .role()
            .and_then(|r| r.permissions_boundary())
            .and_then(|b| b.permissions_boundary_arn())
            .map(str::to_string)),
        Err(e) => match classify("iam:GetRole", e) {
            err if err.is_not_found() => Ok(None),
            err => Err(err),
        },
    }
}

/// One answer of the IAM policy simulator: an action on a resource, the overall decision
/// (`allowed`, `implicitDeny`, `explicitDeny`) and, when a boundary was part of the
/// simulation, whether the boundary allows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimulatedDecision {
    pub action: String,
    pub resource: String,
    pub decision: String,
    pub allowed_by_boundary: Option<bool>,
}

/// iam:SimulateCustomPolicy: `policies` as the identity policies, `boundaries` as the
/// permissions boundary, each action on each resource (`*` when `resources` is empty). One
/// decision per action and resource: IAM answers once per action (the most restrictive across
/// the resources) with each resource's own answer in ResourceSpecificResults, which are read
/// when given; the action's own answer otherwise.
pub async fn simulate_custom_policy(
    aws: &Aws,
    policies: &[String],
    boundaries: &[String],
    actions: &[String],
    resources: &[String],
) -> Result<Vec<SimulatedDecision>, AwsError> {
    let mut decisions = Vec::new();
    let mut pages = aws
        .iam
        .simulate_custom_policy()
        .set_policy_input_list(Some(policies.to_vec()))
        .set_permissions_boundary_policy_input_list(
            (!boundaries.is_empty()).then(|| boundaries.to_vec()),
        )
        .set_action_names(Some(actions.to_vec()))
        .set_resource_arns((!resources.is_empty()).then(|| resources.to_vec()))
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| classify("iam:SimulateCustomPolicy", e))?;
        for r in page.evaluation_results() {
            let by_resource = r.resource_specific_results();
            if by_resource.is_empty() {
                decisions.push(SimulatedDecision {
                    action: r.eval_action_name().to_string(),
                    resource: r.eval_resource_name().unwrap_or("*").to_string(),
                    decision: r.eval_decision().as_str().to_string(),
                    allowed_by_boundary: r
                        .permissions_boundary_decision_detail()
                        .map(|d| d.allowed_by_permissions_boundary()),
                });
            }
            for rr in by_resource {
                decisions.push(SimulatedDecision {
                    action: r.eval_action_name().to_string(),
                    resource: rr.eval_resource_name().to_string(),
                    decision: rr.eval_resource_decision().as_str().to_string(),
                    // The resource's own part only: the top-level one is the most restrictive
                    // across all resources.
                    allowed_by_boundary: rr
                        .permissions_boundary_decision_detail()
                        .map(|d| d.allowed_by_permissions_boundary()),
                });
            }
        }
    }
    Ok(decisions)
}

/// The document of a managed policy's default version (decoded), or `None` when there is no
/// such policy: iam:GetPolicy for the default version, iam:GetPolicyVersion for its text.
pub async fn get_policy_default_document(aws: &Aws, arn: &str) -> Result<Option<String>, AwsError> {
    let policy = match aws.iam.get_policy().policy_arn(arn).send().await {
        Ok(out) => out,
        Err(e) => {
            return match classify("iam:GetPolicy", e) {
                err if err.is_not_found() => Ok(None),
                err => Err(err),
            }
        }
    };
    let Some(version) = policy.policy().and_then(|p| p.default_version_id()) else {
        return Ok(None);
    };
    let out = match aws
        .iam
        .get_policy_version()
        .policy_arn(arn)
        .version_id(version)
        .send()
        .await
    {
        Ok(out) => out,
        Err(e) => {
            return match classify("iam:GetPolicyVersion", e) {
                err if err.is_not_found() => Ok(None),
                err => Err(err),
            }
        }
    };
    // IAM returns policy documents URL-encoded.
    Ok(out.policy_version().and_then(|v| v.document()).map(|d| {
        percent_encoding::percent_decode_str(d)
            .decode_utf8_lossy()
            .into_owned()
    }))
}

pub async fn update_trust_policy(
    aws: &Aws,
    name: &str,
    trust_policy: &str,
) -> Result<(), AwsError> {
    aws.iam
        .update_assume_role_policy()
        .role_name(name)
        .policy_document(trust_policy)
        .send()
        .await
        .map_err(|e| classify("iam:UpdateAssumeRolePolicy", e))?;
    Ok(())
}

/// Attaching an already attached policy succeeds, so this is safe to repeat.
pub async fn attach_role_policy(aws: &Aws, role: &str, policy_arn: &str) -> Result<(), AwsError> {
    aws.iam
        .attach_role_policy()
        .role_name(role)
        .policy_arn(policy_arn)
        .send()
        .await
        .map_err(|e| classify("iam:AttachRolePolicy", e))?;
    Ok(())
}

/// Writes (or overwrites) an inline policy.
pub async fn put_role_policy(
    aws: &Aws,
    role: &str,
    policy_name: &str,
    document: &str,
) -> Result<(), AwsError> {
    aws.iam
        .put_role_policy()
        .role_name(role)
        .policy_name(policy_name)
        .policy_document(document)
        .send()
        .await
        .map_err(|e| classify("iam:PutRolePolicy", e))?;
    Ok(())
}

/// The inline policy document of a role, decoded, or `None` when there is none.
pub async fn get_role_policy(
    aws: &Aws,
    role: &str,
    policy_name: &str,
) -> Result<Option<String>, AwsError> {
    match aws
        .iam
        .get_role_policy()
        .role_name(role)
        .policy_name(policy_name)
        .send()
        .await
    {
        // IAM returns policy documents URL-encoded.
        Ok(out) => Ok(Some(
            percent_encoding::percent_decode_str(out.policy_document())
                .decode_utf8_lossy()
                .into_owned(),
        )),
        Err(e) => match classify("iam:GetRolePolicy", e) {
            err if err.is_not_found() => Ok(None),
            err => Err(err),
        },
    }
}

/// Whether the OIDC provider with this ARN exists.
pub async fn oidc_provider_exists(iam: &aws_sdk_iam::Client, arn: &str) -> Result<bool, AwsError> {
    match iam
        .get_open_id_connect_provider()
        .open_id_connect_provider_arn(arn)
        .send()
        .await
    {
        Ok(_) => Ok(true),
        Err(e) => match classify("iam:GetOpenIDConnectProvider", e) {
            err if err.is_not_found() => Ok(false),
            err => Err(err),
        },
    }
}

/// Registers an OIDC issuer with IAM for `sts.amazonaws.com` (IRSA). IAM takes the issuer's
/// certificate from a trusted CA, so no thumbprint is needed.
pub async fn create_oidc_provider(
    iam: &aws_sdk_iam::Client,
    issuer_url: &str,
    tags: &[(String, String)],
) -> Result<String, AwsError> {
    let out = iam
        .create_open_id_connect_provider()
        .url(issuer_url)
        .client_id_list("sts.amazonaws.com")
        .set_tags(Some(
            tags.iter()
                .map(|(k, v)| Tag::builder().key(k).value(v).build())
                .collect::<Result<Vec<_>, _>>()
                .expect("tags have keys and values"),
        ))
        .send()
        .await
        .map_err(|e| classify("iam:CreateOpenIDConnectProvider", e))?;
    Ok(out
        .open_id_connect_provider_arn()
        .unwrap_or_default()
        .to_string())
}

/// Whether an OIDC provider (by ARN) is an EKS cluster issuer of `region`
/// (`oidc-provider/oidc.eks.REGION.DNS_SUFFIX/id/…`, in the region's partition): only those
/// can be a cluster's, so only their tags are worth reading. Pure.
pub fn is_eks_issuer_of_region(provider_arn: &str, region: &str) -> bool {
    let parts: Vec<&str> = provider_arn.splitn(6, ':').collect();
    if parts.len() < 6 || parts[0] != "arn" || parts[2] != "iam" {
        return false;
    }
    if region.is_empty() || parts[1] != partition(region) {
        return false;
    }
    let issuer = format!("oidc-provider/oidc.eks.{region}.{}/id/", dns_suffix(region));
    parts[5]
        .strip_prefix(&issuer)
        .is_some_and(|id| !id.is_empty() && !id.contains('/'))
}

/// The OIDC providers that are EKS issuers of this client's region, with their tags. Others
/// (a CI provider, another region's cluster) are never read; a provider whose tags we may not
/// read (its tags are someone else's business), or that vanished since the listing, is left
/// out as not ours, as an unreadable KMS key is.
pub async fn oidc_providers(aws: &Aws) -> Result<Vec<(String, Vec<(String, String)>)>, AwsError> {
    let region = aws
        .config
        .region()
        .map(|r| r.to_string())
        .unwrap_or_default();
    let out = aws
        .iam
        .list_open_id_connect_providers()
        .send()
        .await
        .map_err(|e| classify("iam:ListOpenIDConnectProviders", e))?;
    let mut found = Vec::new();
    for p in out.open_id_connect_provider_list() {
        let Some(arn) = p.arn() else { continue };
        if !is_eks_issuer_of_region(arn, &region) {
            continue;
        }
        let tags = match aws
            .iam
            .list_open_id_connect_provider_tags()
            .open_id_connect_provider_arn(arn)
            .send()
            .await
        {
            Ok(tags) => tags,
            Err(e) => match classify("iam:ListOpenIDConnectProviderTags", e) {
                AwsError::AccessDenied { .. } => continue,
                err if err.is_not_found() => continue,
                err => return Err(err),
            },
        };
        found.push((
            arn.to_string(),
            tags.tags()
                .iter()
                .map(|t| (t.key().to_string(), t.value().to_string()))
                .collect(),
        ));
    }
    Ok(found)
}

/// Deletes an OIDC provider; a denied repeat of a delete whose first answer was lost (the
/// provider, and with it the tag the policy asks for, gone) is "not found"
/// ([`super::gone_when_denied`]).
pub async fn delete_oidc_provider(iam: &aws_sdk_iam::Client, arn: &str) -> Result<(), AwsError> {
    let result = iam
        .delete_open_id_connect_provider()
        .open_id_connect_provider_arn(arn)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| classify("iam:DeleteOpenIDConnectProvider", e));
    super::gone_when_denied(result, oidc_provider_exists(iam, arn)).await
}

/// The managed policies attached to a role (their ARNs).
pub async fn attached_policies(aws: &Aws, role: &str) -> Result<Vec<String>, AwsError> {
    let out = aws
        .iam
        .list_attached_role_policies()
        .role_name(role)
        .send()
        .await
        .map_err(|e| classify("iam:ListAttachedRolePolicies", e))?;
    Ok(out
        .attached_policies()
        .iter()
        .filter_map(|p| p.policy_arn().map(str::to_string))
        .collect())
}

/// Detaches a managed policy from a role; already detached (a repeat whose first answer was
/// lost) is done.
pub async fn detach_policy(aws: &Aws, role: &str, policy_arn: &str) -> Result<(), AwsError> {
    let detached = aws
        .iam
        .detach_role_policy()
        .role_name(role)
        .policy_arn(policy_arn)
        .send()
        .await
        .map_err(|e| classify("iam:DetachRolePolicy", e));
    done_if_gone(detached)
}

/// Deletes a role: managed policies detached, inline policies deleted, then the role.
pub async fn delete_role(aws: &Aws, name: &str) -> Result<(), AwsError> {
    // The role's own absence shows at DeleteRole.
    for arn in attached_policies(aws, name).await? {
        detach_policy(aws, name, &arn).await?;
    }
    let inline = aws
        .iam
        .list_role_policies()
        .role_name(name)
        .send()
        .await
        .map_err(|e| classify("iam:ListRolePolicies", e))?;
    for policy in inline.policy_names() {
        let deleted = aws
            .iam
            .delete_role_policy()
            .role_name(name)
            .policy_name(policy)
            .send()
            .await
            .map_err(|e| classify("iam:DeleteRolePolicy", e));
        done_if_gone(deleted)?;
    }
    aws.iam
        .delete_role()
        .role_name(name)
        .send()
        .await
        .map_err(|e| classify("iam:DeleteRole", e))?;
    Ok(())
}

/// An instance profile: its name, ARN and tags (GetInstanceProfile's; IAM's list calls
/// leave tags out: <https://docs.aws.amazon.com/IAM/latest/APIReference/API_ListInstanceProfilesForRole.html>).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceProfile {
    pub name: String,
    pub arn: String,
    pub tags: Vec<(String, String)>,
}

/// The instance profiles that hold `role`, `(name, arn)` (iam:ListInstanceProfilesForRole,
/// every page); none when the role is gone.
pub async fn instance_profiles_for_role(
    aws: &Aws,
    role: &str,
) -> Result<Vec<(String, String)>, AwsError> {
    let mut names = Vec::new();
    let mut pages = aws
        .iam
        .list_instance_profiles_for_role()
        .role_name(role)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        match page.map_err(|e| classify("iam:ListInstanceProfilesForRole", e)) {
            Ok(page) => names.extend(
                page.instance_profiles()
                    .iter()
                    .map(|p| (p.instance_profile_name().to_string(), p.arn().to_string())),
            ),
            Err(e) if e.is_not_found() => return Ok(Vec::new()),
            Err(e) => return Err(e),
        }
    }
    Ok(names)
}

/// One instance profile with its tags (iam:GetInstanceProfile), or `None` once it is gone.
pub async fn instance_profile(aws: &Aws, name: &str) -> Result<Option<InstanceProfile>, AwsError> {
    match aws
        .iam
        .get_instance_profile()
        .instance_profile_name(name)
        .send()
        .await
    {
        Ok(out) => Ok(out.instance_profile().map(|p| InstanceProfile {
            name: p.instance_profile_name().to_string(),
            arn: p.arn().to_string(),
            tags: p
                .tags()
                .iter()
                .map(|t| (t.key().to_string(), t.value().to_string()))
                .collect(),
        })),
        Err(e) => match classify("iam:GetInstanceProfile", e) {
            err if err.is_not_found() => Ok(None),
            err => Err(err),
        },
    }
}

/// Takes `role` out of instance profile `profile`; either already gone is done.
pub async fn remove_role_from_instance_profile(
    aws: &Aws,
    profile: &str,
    role: &str,
) -> Result<(), AwsError> {
    let removed = aws
        .iam
        .remove_role_from_instance_profile()
        .instance_profile_name(profile)
        .role_name(role)
        .send()
        .await
        .map_err(|e| classify("iam:RemoveRoleFromInstanceProfile", e));
    done_if_gone(removed)
}

/// Deletes an (empty) instance profile; gone already is done. IAM refuses one that still
/// holds a role (DeleteConflict, a [`AwsError::DependencyViolation`]).
pub async fn delete_instance_profile(aws: &Aws, profile: &str) -> Result<(), AwsError> {
    let deleted = aws
        .iam
        .delete_instance_profile()
        .instance_profile_name(profile)
        .send()
        .await
        .map_err(|e| classify("iam:DeleteInstanceProfile", e));
    done_if_gone(deleted)
}

/// Whether IAM refused to delete an entity something still holds (`DeleteConflict`: a role
/// in an instance profile, a policy still attached).
pub fn is_delete_conflict(e: &AwsError) -> bool {
    e.failure().is_some_and(|f| f.code == "DeleteConflict")
}

/// Every role ARN in the account.
/// The ARN of an IAM user, or `None` when IAM holds no user of that name.
pub async fn get_user(aws: &Aws, name: &str) -> Result<Option<String>, AwsError> {
    match aws.iam.get_user().user_name(name).send().await {
        Ok(out) => Ok(out.user().map(|u| u.arn().to_string())),
        Err(e) => match classify("iam:GetUser", e) {
            err if err.is_not_found() => Ok(None),
            err => Err(err),
        },
    }
}

/// Every user ARN in the account.
pub async fn user_arns(aws: &Aws) -> Result<Vec<String>, AwsError> {
    let mut arns = Vec::new();
    let mut pages = aws.iam.list_users().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| classify("iam:ListUsers", e))?;
        arns.extend(page.users().iter().map(|u| u.arn().to_string()));
    }
    Ok(arns)
}

pub async fn role_arns(aws: &Aws) -> Result<Vec<String>, AwsError> {
    let mut arns = Vec::new();
    let mut pages = aws.iam.list_roles().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| classify("iam:ListRoles", e))?;
        arns.extend(page.roles().iter().map(|r| r.arn().to_string()));
    }
    Ok(arns)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_this_regions_eks_issuers_are_read() {
        let ours = "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/ABCDEF0123";
        assert!(is_eks_issuer_of_region(ours, "us-west-2"));
        for other in [
            // another region's cluster
            "arn:aws:iam::123456789012:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/ABCDEF0123",
            // a CI provider
            "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com",
            // a region whose name starts like ours
            "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-west-2x.amazonaws.com/id/ABC",
            // no id, or a longer path
            "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/",
            "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/A/B",
            // another partition's ARN
            "arn:aws-cn:iam::123456789012:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/ABC",
            "not an arn",
        ] {
            assert!(!is_eks_issuer_of_region(other, "us-west-2"), "{other}");
        }
        assert!(!is_eks_issuer_of_region(ours, ""));
        assert!(is_eks_issuer_of_region(
            "arn:aws-cn:iam::123456789012:oidc-provider/oidc.eks.cn-north-1.amazonaws.com.cn/id/ABC",
            "cn-north-1"
        ));
        assert!(!is_eks_issuer_of_region(
            "arn:aws-cn:iam::123456789012:oidc-provider/oidc.eks.cn-north-1.amazonaws.com/id/ABC",
            "cn-north-1"
        ));
        assert!(is_eks_issuer_of_region(
            "arn:aws-us-gov:iam::123456789012:oidc-provider/oidc.eks.us-gov-west-1.amazonaws.com/id/ABC",
            "us-gov-west-1"
        ));
    }
}
