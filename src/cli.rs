//! Command-line flags (clap derive only: no logic here).

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

const AFTER_HELP: &str = "\
Examples:
  eksboot plan --profile profiles/dev.toml            see what would be created and what it costs
  eksboot plan --profile profiles/production.toml --output json
  eksboot preflight --profile profiles/production.toml

Exit codes:
  0    success
  1    failure (an AWS error, a failed preflight check)
  2    usage (bad flags, an unreadable or invalid profile)
  130  interrupted or cancelled

Credentials and region come from the usual AWS settings (AWS_PROFILE, ~/.aws/config, environment);
AWS_ENDPOINT_URL points eksboot at another endpoint, such as a local emulator.";

/// From an empty AWS account to a working, secured Amazon EKS cluster.
///
/// eksboot walks through the three tasks every EKS cluster needs: secure the environment
/// (roles, a KMS key, logging), configure the VPC, and create the cluster. Every answer lives
/// in a TOML profile, so the same cluster can be planned, checked and replayed.
#[derive(Debug, Parser)]
#[command(name = "eksboot", version, after_help = AFTER_HELP)]
pub struct Cli {
    /// More log output on standard error: -v for progress details, -vv for AWS calls.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show every resource a profile will create, the subnet layout, the monthly cost and a
    /// security checklist. Makes no AWS call at all.
    #[command(after_help = "\
Examples:
  eksboot plan --profile profiles/dev.toml
  eksboot plan --profile profiles/production.toml --output json | jq '.cost.monthly_usd'

Profile fields (all but cluster.name and cluster.region have safe defaults):
  [cluster]  name, region, kubernetes_version, endpoint_access, public_access_cidrs,
             log_types, log_retention_days, admins, addons, oidc_provider
  [security] creator_role, secrets_key
  [network]  pattern, vpc_cidr, availability_zones, nat
  [nodes]    enabled, instance_types, min_size, desired_size, max_size, disk_size_gib
See README.md for what each field means.")]
    Plan {
        /// The profile to plan (TOML, format version 1).
        #[arg(long, value_name = "FILE")]
        profile: PathBuf,
        /// `text` for people, `json` for tools (a stable contract).
        #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
        output: OutputFormat,
    },
    /// Check, read-only, that your AWS account is ready for a profile: credentials, region,
    /// availability zones, Kubernetes version, Elastic IP and VPC quotas, and any existing role
    /// or key the profile names. Exits 1 when a check fails.
    #[command(after_help = "\
Examples:
  eksboot preflight --profile profiles/production.toml
  AWS_PROFILE=staging eksboot preflight --profile profiles/dev.toml")]
    Preflight {
        /// The profile to check (TOML, format version 1).
        #[arg(long, value_name = "FILE")]
        profile: PathBuf,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}
