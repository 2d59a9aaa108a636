//! Who is who in the sandbox: one account, its administrator (the emulator's exempt role `x`,
//! used only to set the sandbox up) and the IAM user eksboot acts as, which holds exactly what
//! `eksboot permissions` prints for the cluster at hand, evaluated by the emulator's IAM rules.

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_credential_types::Credentials;

use super::SandboxError;
use crate::plan::permissions::{caller_policy, split_into_managed_policies, CallerScope};

/// The sandbox's account (the example account of AWS's documentation).
pub const ACCOUNT: &str = "111122223333";

/// The IAM user eksboot acts as in the sandbox.
const USER: &str = "you";

/// The role the emulator never evaluates (emulator/iam_enforce.py's EXEMPT_ROLE).
const ADMIN_ROLE: &str = "x";

/// IAM's limit on one managed policy, white space aside.
const MANAGED_POLICY_LIMIT: usize = crate::plan::permissions::MANAGED_POLICY_QUOTA;

fn failed(doing: &str) -> impl FnOnce(String) -> SandboxError + '_ {
    move |reason| SandboxError::Emulator {
        doing: doing.to_string(),
        reason,
    }
}

fn config(endpoint: &str, credentials: Credentials) -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .build()
}

/// The administrator's configuration: a session of role `x` in the sandbox account.
async fn admin(endpoint: &str) -> Result<SdkConfig, SandboxError> {
    let bootstrap = config(
        endpoint,
        Credentials::new("AKIASANDBOXBOOTSTRAP", "sandbox", None, None, "sandbox"),
    );
    let assumed = aws_sdk_sts::Client::new(&bootstrap)
        .assume_role()
        .role_arn(format!("arn:aws:iam::{ACCOUNT}:role/{ADMIN_ROLE}"))
        .role_session_name("eksboot-sandbox")
        .send()
        .await
        .map_err(|e| failed("assuming the sandbox's administrator")(format!("{e:?}")))?;
    let c = assumed
        .credentials()
        .ok_or_else(|| failed("assuming the sandbox's administrator")("no credentials".into()))?;
    Ok(config(
        endpoint,
        Credentials::new(
            c.access_key_id(),
            c.secret_access_key(),
            Some(c.session_token().to_string()),
            None,
            "sandbox-admin",
        ),
    ))
}

/// Makes the sandbox user and its access key, and turns on IAM enforcement in the account:
/// from here on, every call eksboot makes is evaluated against the user's policies.
pub fn bootstrap_blocking(endpoint: &str) -> Result<(String, String), SandboxError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| failed("starting")(e.to_string()))?;
    runtime.block_on(bootstrap(endpoint))
}

async fn bootstrap(endpoint: &str) -> Result<(String, String), SandboxError> {
    let iam = aws_sdk_iam::Client::new(&admin(endpoint).await?);
    iam.create_user()
        .user_name(USER)
        .send()
        .await
        .map_err(|e| failed("making the sandbox user")(format!("{e:?}")))?;
    let key = iam
        .create_access_key()
        .user_name(USER)
        .send()
        .await
        .map_err(|e| failed("making the sandbox user's key")(format!("{e:?}")))?;
    let key = key
        .access_key()
        .ok_or_else(|| failed("making the sandbox user's key")("no key".into()))?;
    control_post(
        endpoint,
        "/eksboot-moto/enforce-iam",
        &format!(r#"{{"account": "{ACCOUNT}", "on": true}}"#),
    )?;
    Ok((
        key.access_key_id().to_string(),
        key.secret_access_key().to_string(),
    ))
}

/// Replaces the sandbox user's policies with those `eksboot permissions` prints for `profile`,
/// in parts that each fit a managed policy, as the README tells a person to attach them.
pub async fn authorize(
    endpoint: &str,
    profile: &crate::profile::Profile,
) -> Result<(), SandboxError> {
    let document = caller_policy(&CallerScope {
        profile,
        account: ACCOUNT,
        state: None,
    });
    let parts = split_into_managed_policies(&document, MANAGED_POLICY_LIMIT)
        .map_err(|e| failed("splitting the policy")(e.to_string()))?;
    let iam = aws_sdk_iam::Client::new(&admin(endpoint).await?);
    let doing = "giving the sandbox user its permissions";
    let attached = iam
        .list_attached_user_policies()
        .user_name(USER)
        .send()
        .await
        .map_err(|e| failed(doing)(format!("{e:?}")))?;
    for policy in attached.attached_policies() {
        let arn = policy.policy_arn().unwrap_or_default();
        iam.detach_user_policy()
            .user_name(USER)
            .policy_arn(arn)
            .send()
            .await
            .map_err(|e| failed(doing)(format!("{e:?}")))?;
        iam.delete_policy()
            .policy_arn(arn)
            .send()
            .await
            .map_err(|e| failed(doing)(format!("{e:?}")))?;
    }
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default();
    for (n, part) in parts.iter().enumerate() {
        let created = iam
            .create_policy()
            .policy_name(format!(
                "eksboot-{}-caller-{}-{stamp}",
                profile.cluster.name,
                n + 1
            ))
            .policy_document(part.to_string())
            .send()
            .await
            .map_err(|e| failed(doing)(format!("{e:?}")))?;
        let arn = created
            .policy()
            .and_then(|p| p.arn())
            .unwrap_or_default()
            .to_string();
        iam.attach_user_policy()
            .user_name(USER)
            .policy_arn(arn)
            .send()
            .await
            .map_err(|e| failed(doing)(format!("{e:?}")))?;
    }
    Ok(())
}

/// Makes the admins `profile` names in the sandbox account that are not there yet: they stand
/// for the roles and users a team already has, which a fresh sandbox account lacks (EKS refuses
/// access entries for principals IAM does not hold). Returns the ARNs made.
pub async fn make_named_admins(
    endpoint: &str,
    profile: &crate::profile::Profile,
) -> Result<Vec<String>, SandboxError> {
    let doing = "making the admins the profile names";
    let ours = format!("arn:aws:iam::{ACCOUNT}:");
    let wanted: Vec<&String> = profile
        .cluster
        .admins
        .iter()
        .filter(|arn| arn.starts_with(&ours))
        .collect();
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let iam = aws_sdk_iam::Client::new(&admin(endpoint).await?);
    let trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:root"}},"Action":"sts:AssumeRole"}}]}}"#
    );
    let mut made = Vec::new();
    for arn in wanted {
        let Some((kind, path, name)) = principal_parts(&arn[ours.len()..]) else {
            continue;
        };
        let created = match kind {
            "role" => iam
                .create_role()
                .role_name(name)
                .path(path)
                .assume_role_policy_document(&trust)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| e.into_service_error().is_entity_already_exists_exception()),
            _ => iam
                .create_user()
                .user_name(name)
                .path(path)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| e.into_service_error().is_entity_already_exists_exception()),
        };
        match created {
            Ok(()) => made.push(arn.clone()),
            Err(true) => {}
            Err(false) => return Err(failed(doing)(format!("cannot make {arn}"))),
        }
    }
    Ok(made)
}

/// `role/team/name` or `user/name`: the kind, the path (`/team/`) and the name.
fn principal_parts(resource: &str) -> Option<(&str, String, &str)> {
    let (kind, rest) = resource.split_once('/')?;
    if !matches!(kind, "role" | "user") {
        return None;
    }
    let (dirs, name) = rest.rsplit_once('/').unwrap_or(("", rest));
    let path = if dirs.is_empty() {
        "/".to_string()
    } else {
        format!("/{dirs}/")
    };
    Some((kind, path, name))
}

/// A POST to the emulator's control API (plain HTTP on 127.0.0.1).
fn control_post(endpoint: &str, path: &str, body: &str) -> Result<(), SandboxError> {
    use std::io::{Read, Write};
    let doing = "turning on IAM enforcement";
    let address = endpoint.trim_start_matches("http://");
    let mut stream =
        std::net::TcpStream::connect(address).map_err(|e| failed(doing)(e.to_string()))?;
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream
        .write_all(request.as_bytes())
        .map_err(|e| failed(doing)(e.to_string()))?;
    let mut answer = String::new();
    stream
        .read_to_string(&mut answer)
        .map_err(|e| failed(doing)(e.to_string()))?;
    if answer.starts_with("HTTP/1.1 200") || answer.starts_with("HTTP/1.0 200") {
        Ok(())
    } else {
        Err(failed(doing)(
            answer.lines().last().unwrap_or_default().to_string(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::principal_parts;

    #[test]
    fn an_admin_arn_gives_its_kind_path_and_name() {
        assert_eq!(
            principal_parts("role/platform-admins"),
            Some(("role", "/".to_string(), "platform-admins"))
        );
        assert_eq!(
            principal_parts("role/team/ops/admins"),
            Some(("role", "/team/ops/".to_string(), "admins"))
        );
        assert_eq!(
            principal_parts("user/alice"),
            Some(("user", "/".to_string(), "alice"))
        );
        assert_eq!(principal_parts("group/x"), None);
    }
}
