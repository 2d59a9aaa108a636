//! `eksboot permissions`: the IAM policy you (or the creator role) need, as JSON on stdout.

use std::path::Path;
use std::process::ExitCode;

use super::create::{field, settings_table};
use super::*;
use crate::cli::PolicyFor;
use crate::plan::iam::{creator_inline_policy, partition, role_arn, CreatorScope};
use crate::plan::permissions::{caller_policy, CallerScope};

pub(super) async fn permissions(
    profile: Option<&Path>,
    overrides: &Overrides,
    account: Option<String>,
    policy_for: PolicyFor,
) -> Result<ExitCode, RunError> {
    let table = settings_table(profile, overrides)?;
    for (key, flag) in [("name", "--name NAME"), ("region", "--region REGION")] {
        if field(&table, "cluster", key).is_none() {
            return Err(RunError::Usage {
                message: format!("cluster.{key} is missing: the policy is scoped to one cluster"),
                hint: format!("pass {flag}, or --profile FILE with cluster.{key} in it"),
            });
        }
    }
    let origin = profile.map_or_else(
        || Path::new("the command line").to_path_buf(),
        Path::to_path_buf,
    );
    let profile = settings::resolve(&table, &origin)?;
    let account = match account {
        Some(id) => id,
        None => match own_account(&profile.cluster.region).await {
            Some(id) => id,
            None => {
                eprintln!("note: no AWS credentials to read your account id from: the ARNs name any account (`*`); pass --account ID to pin it");
                "*".into()
            }
        },
    };
    let document = match policy_for {
        PolicyFor::Caller => caller_policy(&CallerScope {
            profile: &profile,
            account: &account,
        }),
        PolicyFor::Creator => {
            let region = profile.cluster.region.as_str();
            let name = profile.cluster.name.as_str();
            let cluster_role = role_arn(region, &account, &format!("{name}-cluster"));
            let node_role = role_arn(region, &account, &format!("{name}-node"));
            // The template exists only once create makes it: any template of this account.
            let template = format!(
                "arn:{}:ec2:{region}:{account}:launch-template/*",
                partition(region)
            );
            creator_inline_policy(&CreatorScope {
                region,
                account: &account,
                cluster: name,
                cluster_role_arn: &cluster_role,
                node_role_arn: profile.nodes.enabled.then_some(node_role.as_str()),
                key_arn: profile.security.secrets_key.existing_arn(),
                oidc_provider: profile.cluster.oidc_provider,
                launch_template_arn: profile.nodes.enabled.then_some(template.as_str()),
            })
        }
    };
    let text = serde_json::to_string_pretty(&document).expect("a policy serialises");
    ui::print_stdout(&format!("{text}\n"));
    Ok(ExitCode::SUCCESS)
}

/// The account of the current credentials, if there are any (GetCallerIdentity needs no
/// permission).
async fn own_account(region: &str) -> Option<String> {
    let aws = Aws::connect(region, &crate::aws::TransportRetry::from_env())
        .await
        .ok()?;
    aws::sts::caller_identity(&aws)
        .await
        .ok()
        .map(|id| id.account)
}
