//! IAM: roles and their policies.

use aws_sdk_iam::types::Tag;

use super::{classify, done_if_gone, Aws, AwsError};

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
    let out = aws
        .iam
        .create_role()
        .role_name(name)
        .assume_role_policy_document(trust_policy)
        .description(description)
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

/// OIDC providers in the account with their tags.
pub async fn oidc_providers(aws: &Aws) -> Result<Vec<(String, Vec<(String, String)>)>, AwsError> {
    let out = aws
        .iam
        .list_open_id_connect_providers()
        .send()
        .await
        .map_err(|e| classify("iam:ListOpenIDConnectProviders", e))?;
    let mut found = Vec::new();
    for p in out.open_id_connect_provider_list() {
        let Some(arn) = p.arn() else { continue };
        let tags = aws
            .iam
            .list_open_id_connect_provider_tags()
            .open_id_connect_provider_arn(arn)
            .send()
            .await
            .map_err(|e| classify("iam:ListOpenIDConnectProviderTags", e))?;
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

pub async fn delete_oidc_provider(iam: &aws_sdk_iam::Client, arn: &str) -> Result<(), AwsError> {
    iam.delete_open_id_connect_provider()
        .open_id_connect_provider_arn(arn)
        .send()
        .await
        .map_err(|e| classify("iam:DeleteOpenIDConnectProvider", e))?;
    Ok(())
}

/// Deletes a role: managed policies detached, inline policies deleted, then the role.
pub async fn delete_role(aws: &Aws, name: &str) -> Result<(), AwsError> {
    let attached = aws
        .iam
        .list_attached_role_policies()
        .role_name(name)
        .send()
        .await
        .map_err(|e| classify("iam:ListAttachedRolePolicies", e))?;
    for policy in attached.attached_policies() {
        if let Some(arn) = policy.policy_arn() {
            // Already detached (a repeat whose first answer was lost) is done; the role's own
            // absence shows at DeleteRole.
            let detached = aws
                .iam
                .detach_role_policy()
                .role_name(name)
                .policy_arn(arn)
                .send()
                .await
                .map_err(|e| classify("iam:DetachRolePolicy", e));
            done_if_gone(detached)?;
        }
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
