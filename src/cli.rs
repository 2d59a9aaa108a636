//! Command-line flags (clap derive only: no logic here).

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

const AFTER_HELP: &str = "\
Examples:
  eksboot plan --profile profiles/dev.toml            see what would be created and what it costs
  eksboot plan --profile profiles/production.toml --output json
  eksboot preflight --profile profiles/production.toml
  eksboot create --profile profiles/production.toml   create it (asks first; --yes to skip)
  kubectl get nodes                                   then use it: create wrote your kubeconfig
  eksboot apply --profile profiles/production.toml    change it after editing the profile
  eksboot --sandbox                                   try it all first, without an AWS account

Exit codes:
  0    success
  1    failure (an AWS error, a failed preflight check, a state file in use)
  2    usage (bad flags, an unreadable or invalid profile, --yes missing without a terminal,
       a profile that changed since the state file was made)
  130  interrupted or cancelled

Credentials and region come from the usual AWS settings (AWS_PROFILE, ~/.aws/config, environment);
AWS_ENDPOINT_URL points eksboot at another endpoint, such as a local emulator. No credentials yet:
the wizard offers a plan without any AWS call, or the sandbox (eksboot's own AWS emulator on this
machine; needs python3 with venv support, and makes its environment once in ~/.cache/eksboot).";

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

    /// Rehearse on this machine: every command runs against eksboot's own AWS emulator (moto
    /// with AWS's rules), as an identity holding only what `eksboot permissions` prints. No AWS
    /// account, no cost; your AWS and kubectl settings are never read or written. The emulator
    /// keeps running between commands; `eksboot --sandbox stop` ends it.
    #[arg(long, global = true)]
    pub sandbox: bool,

    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The examples and notes under `eksboot plan --help`.
const PLAN_EXAMPLES: &str = "\
Examples:
  eksboot plan --profile profiles/dev.toml
  eksboot plan --profile profiles/production.toml --output json | jq '.cost.monthly_usd'

When the cluster exists (its state file is there), plan shows what would change instead: each
changed field as add (+), update in place (~), replace (±) or remove (-), grouped by task, with
the monthly cost before and after; `eksboot apply` makes the change. Fields fixed at creation
(name, region, network, keys, the creator role, the Kubernetes version) are listed as refused.
Without --live no AWS call is made; with it, the cluster is read (read-only) instead.

Profile fields (all but cluster.name and cluster.region have safe defaults):
  [cluster]  name, region, kubernetes_version, endpoint_access, public_access_cidrs,
             log_types, log_retention_days, admins, addons, oidc_provider, support,
             deletion_protection
  [security] creator_role, secrets_key, permissions_boundary, addon_permissions
  [network]  pattern, vpc_cidr, availability_zones, nat
  [nodes]    mode (managed: a node group; auto: EKS Auto Mode), and
             with managed: enabled, instance_types, min_size, desired_size, max_size,
                           disk_size_gib, auto_repair, os
             with auto:    node_pools
See README.md for what each field means.";

/// The examples and notes under `eksboot permissions --help`.
const PERMISSIONS_EXAMPLES: &str = "\
Examples:
  eksboot permissions --profile profiles/production.toml --split eksboot-policy
  aws iam create-policy --policy-name eksboot-production-caller-1 \\
      --policy-document file://eksboot-policy/eksboot-production-caller-1.json
  aws iam attach-user-policy --user-name ci-deployer \\
      --policy-arn arn:aws:iam::ACCOUNT:policy/eksboot-production-caller-1
      (the same for each part written)
  eksboot permissions --profile profiles/dev.toml --for creator

Your policy is longer than one managed policy holds (6,144 characters; a user's inline policies
hold 2,048 in all): --split writes it in parts that each fit, to attach together. A role can
instead hold it whole as an inline policy (up to 10,240 characters: aws iam put-role-policy).

With --for creator it prints the creator role's policy instead: what an existing role named in
security.creator_role must allow (EKS calls on this cluster and its node groups, add-ons and
access entries; iam:PassRole of the cluster and node roles to EKS and EC2; the secrets key's
DescribeKey and CreateGrant; ec2:RunInstances with the node launch template; the OIDC provider;
the EC2 reads EKS makes). eksboot writes that policy itself on the role it creates.

The account in the ARNs is --account, else the one your credentials belong to (read with
sts:GetCallerIdentity, which needs no permission), else `*`.

A state in S3 (the profile's `state`, or --state s3://BUCKET/KEY) adds exactly what it needs on
that bucket: the state and lock objects, ListBucket for those two keys, the bucket settings
preflight reads, and with `state_kms_key` that key's use through S3 for those two objects.";

/// The examples and notes under `eksboot preflight --help`.
const PREFLIGHT_EXAMPLES: &str = "\
Examples:
  eksboot preflight --profile profiles/production.toml
  AWS_PROFILE=staging eksboot preflight --profile profiles/dev.toml
  eksboot preflight --profile team.toml --state s3://team-eksboot/web/web-eu-west-1.state.json

With a state in S3, preflight also checks the bucket: that it exists and answers from its region,
blocks public access, keeps versions (a warning when off), and takes a write (it writes the lock
object and removes it at once; a lock another run holds is reported, not touched).";

/// The examples and notes under `eksboot create --help`.
const CREATE_EXAMPLES: &str = "\
Examples:
  eksboot create --profile profiles/dev.toml                 asks before creating anything
  eksboot create --profile profiles/production.toml --yes    no question (scripts, CI)

The state file defaults to .eksboot/<cluster>-<region>.state.json in the current directory;
`state = \"s3://BUCKET/PREFIX\"` in the profile (or --state s3://BUCKET/KEY) keeps it in S3 for a
team, locked while a run uses it. Interrupted? Run the same command again: it adopts what exists and continues.";

/// The examples and notes under `eksboot apply --help`.
const APPLY_EXAMPLES: &str = "\
Examples:
  eksboot plan --profile profiles/production.toml       see what would change
  eksboot apply --profile profiles/production.toml      make it (asks first; --yes to skip)

What apply changes: cluster.admins (access entries), endpoint_access and public_access_cidrs,
log_types, log_retention_days, addons, oidc_provider, support and deletion_protection;
security.addon_permissions (node role to Pod Identity roles, nodes rolled before the CNI policy
leaves the node role); the node group's sizes and auto_repair, its disk size (a new launch
template version, nodes rolled onto it), its instance types or OS (a new node group, ACTIVE
before the old one is drained and deleted) and nodes.enabled (asks: turning nodes off drains
and deletes the node group); with Auto Mode, nodes.node_pools (in place). nodes.mode is refused:
moving between a node group and Auto Mode moves every workload (the refusal says how by hand).

A node group is deleted only after it is drained: its nodes cordoned, their pods evicted through
the Kubernetes API (PodDisruptionBudgets honoured; DaemonSet and static pods stay), waiting up to
--drain-timeout for budgets that refuse. eksboot reaches the API itself (no kubectl needed); if it
cannot (a private endpoint, from outside the VPC) it says so and asks whether EKS may drain instead
(5 minutes per node at most); with --yes it stops unless --force.
Stopped half way? Run the same command again, or `eksboot resume`.";

/// The examples and notes under `eksboot upgrade --help`.
const UPGRADE_EXAMPLES: &str = "\
Examples:
  eksboot upgrade --cluster demo --region us-west-2
  eksboot upgrade --profile profiles/production.toml --yes    also updates the profile's version

Refuses when an upgrade insight for the new version is in ERROR (what EKS found would break),
unless --ignore-insights (then EKS is told to go ahead: `force`). Add-ons: --addons compatible
(the default) keeps every installed version the new Kubernetes version supports; --addons
default moves each to the new version's default. Nothing is moved down; vpc-cni moves one minor
version at a time. `eksboot status` says when the cluster's version leaves standard support.";

/// The examples and notes under `eksboot resume --help`.
const RESUME_EXAMPLES: &str = "\
Examples:
  eksboot resume --cluster demo --region us-west-2 --yes
  eksboot resume --state .eksboot/demo-us-west-2.state.json";

/// The examples and notes under `eksboot status --help`.
const STATUS_EXAMPLES: &str = "\
Examples:
  eksboot status --cluster demo --region us-west-2
  eksboot status --state .eksboot/demo-us-west-2.state.json --live";

/// The examples and notes under `eksboot teardown --help`.
const TEARDOWN_EXAMPLES: &str = "\
Examples:
  eksboot teardown --cluster demo --region us-west-2
      lists what goes, then asks you to type the cluster's name
  eksboot teardown --state .eksboot/demo-us-west-2.state.json --yes

Resources eksboot did not make (an existing creator role or key named in the profile) are never
touched. Running teardown again after a partial teardown finishes the job.";

/// The examples and notes under `eksboot token --help`.
const TOKEN_EXAMPLES: &str = "\
Examples:
  eksboot token --cluster demo --region us-west-2
  eksboot token --cluster demo --role-arn arn:aws:iam::123456789012:role/demo-creator";

const UNLOCK_EXAMPLES: &str = "\
Examples:
  eksboot unlock --state s3://team-eksboot/prod-us-east-1.state.json 3f9c0a7d12e4b856";

const STATE_EXAMPLES: &str = "\
Examples:
  eksboot state push --state .eksboot/prod-us-east-1.state.json --to s3://team-eksboot/prod-us-east-1.state.json
  eksboot state pull --state s3://team-eksboot/prod-us-east-1.state.json --to .eksboot/prod-us-east-1.state.json";

/// `eksboot state`'s commands.
#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// Move a local state file into S3 (refused if a state is already at that key); the local
    /// file is removed once the object is written.
    Push {
        /// The local state file.
        #[arg(long, value_name = "PATH")]
        state: PathBuf,
        /// Where in S3 (s3://BUCKET/KEY).
        #[arg(long, value_name = "S3_ADDRESS")]
        to: PathBuf,
    },
    /// Move a state in S3 to a local file (refused if the file exists); the object and its
    /// lock are removed once the file is written.
    Pull {
        /// The state in S3 (s3://BUCKET/KEY).
        #[arg(long, value_name = "S3_ADDRESS")]
        state: PathBuf,
        /// The local state file to write.
        #[arg(long, value_name = "PATH")]
        to: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show every resource a profile will create, the subnet layout, the monthly cost and a
    /// security checklist; for a cluster that exists, what would change. Makes no AWS call
    /// (unless --live, or the state is in S3: then it reads that object, and without
    /// credentials plans a new cluster and says so).
    #[command(after_help = PLAN_EXAMPLES)]
    Plan(PlanArgs),
    /// Print the IAM policy (JSON) that the identity running eksboot needs for a cluster: to
    /// create, resume, inspect and tear it down. Scoped to this cluster's role names, key alias,
    /// log group and `eksboot:cluster` tag. Attach it to the user or role you run eksboot as.
    #[command(after_help = PERMISSIONS_EXAMPLES)]
    Permissions {
        /// The profile (TOML, format version 1); the flags below override it.
        #[arg(long, value_name = "FILE")]
        profile: Option<PathBuf>,
        #[command(flatten)]
        overrides: Overrides,
        /// The AWS account id to write into the ARNs.
        #[arg(long, value_name = "ID")]
        account: Option<String>,
        /// Where the cluster's state lives, when not where the profile's `state` says:
        /// s3://BUCKET/KEY grants that object and its lock; a local path, no S3 at all.
        #[arg(long, value_name = "PATH")]
        state: Option<PathBuf>,
        #[command(flatten)]
        policy_for: WhichPolicy,
    },
    /// Check, read-only, that your AWS account is ready for a profile: credentials, region,
    /// availability zones, Kubernetes version, Elastic IP and VPC quotas, and any existing role
    /// or key the profile names. Exits 1 when a check fails.
    #[command(after_help = PREFLIGHT_EXAMPLES)]
    Preflight {
        /// The profile to check (TOML, format version 1).
        #[arg(long, value_name = "FILE")]
        profile: PathBuf,
        /// Where the cluster's state lives (default: the profile's `state`, else this machine).
        /// In S3 it checks the bucket too: reachable, private, versioned, and writable (the
        /// lock is written and removed again).
        #[arg(long, value_name = "PATH")]
        state: Option<PathBuf>,
    },
    /// Create what a profile describes: runs preflight, shows the plan, then secures the
    /// environment, configures the VPC and creates the cluster with its node group, and writes
    /// a kubeconfig. Every resource is recorded in a state file the moment it exists, so
    /// rerunning the same command resumes where it stopped and creates nothing twice.
    #[command(after_help = CREATE_EXAMPLES)]
    Create(CreateArgs),
    /// Change a running cluster to match its changed profile: shows the difference (as `plan`
    /// does), asks, then makes it, journaled like a create, and removes what the profile no
    /// longer asks for. Fields fixed at creation are refused before anything happens.
    #[command(after_help = APPLY_EXAMPLES)]
    Apply {
        /// The changed profile (TOML, format version 1).
        #[arg(long, value_name = "FILE")]
        profile: PathBuf,
        /// The cluster's state: a file (default: .eksboot/<cluster>-<region>.state.json, or the
        /// profile's `state`), or s3://BUCKET/KEY.
        #[arg(long, value_name = "PATH")]
        state: Option<PathBuf>,
        /// Apply without asking. Required when not running on a terminal.
        #[arg(long, short = 'y')]
        yes: bool,
        #[command(flatten)]
        kubeconfig: KubeconfigArgs,
        #[command(flatten)]
        choices: ApplyChoices,
        /// `text` for people, `json` for newline-delimited events on stdout (text goes to stderr).
        #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
        output: OutputFormat,
    },
    /// Move a cluster to the next Kubernetes minor version (EKS upgrades one at a time): shows
    /// when standard support ends and what extended support costs, reads the cluster's upgrade
    /// insights first, then upgrades node groups behind the control plane, the control plane,
    /// and then add-ons and node groups together. Journaled: run it again to continue.
    #[command(after_help = UPGRADE_EXAMPLES)]
    Upgrade {
        #[command(flatten)]
        target: StateTarget,
        /// The cluster's profile: its kubernetes_version is updated in place (comments kept);
        /// alone, it also names the cluster (its default state file).
        #[arg(long, value_name = "FILE")]
        profile: Option<PathBuf>,
        /// Upgrade without asking. Required when not running on a terminal.
        #[arg(long, short = 'y')]
        yes: bool,
        #[command(flatten)]
        choices: UpgradeChoices,
        /// `text` for people, `json` for newline-delimited events on stdout (text goes to stderr).
        #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
        output: OutputFormat,
    },
    /// Continue an interrupted create from its state file (the profile is in it).
    #[command(after_help = RESUME_EXAMPLES)]
    Resume {
        #[command(flatten)]
        target: StateTarget,
        /// Continue without asking. Required when not running on a terminal.
        #[arg(long, short = 'y')]
        yes: bool,
        #[command(flatten)]
        kubeconfig: KubeconfigArgs,
        /// `text` for people, `json` for newline-delimited events on stdout (text goes to stderr).
        #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
        output: OutputFormat,
    },
    /// Show each step of a cluster's state file: done, running, failed or pending, with ids.
    #[command(after_help = STATUS_EXAMPLES)]
    Status {
        #[command(flatten)]
        target: StateTarget,
        /// Also ask AWS whether each recorded resource still exists.
        #[arg(long)]
        live: bool,
        /// `text` for people, `json` for newline-delimited events on stdout (text goes to stderr).
        #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
        output: OutputFormat,
    },
    /// Delete everything eksboot made for a cluster, in reverse order: node group, add-ons,
    /// cluster, NAT gateways, the VPC and its parts, the log group, the key (scheduled) and the
    /// roles. Works from the state file, or from tags alone when the state file is lost.
    #[command(after_help = TEARDOWN_EXAMPLES)]
    Teardown(TeardownArgs),
    /// Remove the lock a run that is gone left on a state in S3. Another run that finds the
    /// lock names its holder and the lock's ID; this removes that lock only, after asking.
    /// Locks are never broken automatically.
    #[command(after_help = UNLOCK_EXAMPLES)]
    Unlock {
        /// The state in S3 (s3://BUCKET/KEY).
        #[arg(long, value_name = "S3_ADDRESS")]
        state: PathBuf,
        /// The lock's ID, as the refused run printed it.
        lock_id: String,
        /// Remove it without asking.
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// Move a state between this machine and S3, so a team can share it (push), or keep it
    /// on one machine again (pull).
    #[command(subcommand, after_help = STATE_EXAMPLES)]
    State(StateCommand),
    /// End the sandbox (with --sandbox): stops its emulator, and with it every cluster made
    /// in it, and removes their state files and kubeconfig under .eksboot/sandbox/.
    Stop,
    /// Print a Kubernetes ExecCredential for an EKS cluster (kubectl runs this for you; see the
    /// `users` entry eksboot writes into your kubeconfig). Uses your usual AWS credentials.
    #[command(after_help = TOKEN_EXAMPLES)]
    Token {
        /// The EKS cluster's name.
        #[arg(long)]
        cluster: String,
        /// The cluster's region (default: from your AWS configuration).
        #[arg(long)]
        region: Option<String>,
        /// Assume this role first and sign as it.
        #[arg(long, value_name = "ARN")]
        role_arn: Option<String>,
    },
}

/// `eksboot plan`'s arguments.
#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    /// The profile to plan (TOML, format version 1).
    #[arg(long, value_name = "FILE")]
    pub profile: PathBuf,
    /// The state file of the running cluster to compare with (default:
    /// .eksboot/<cluster>-<region>.state.json, used when it exists).
    #[arg(long, value_name = "PATH", conflicts_with = "no_state")]
    pub state: Option<PathBuf>,
    /// Plan as if nothing existed yet, even when a state file does.
    #[arg(long)]
    pub no_state: bool,
    /// Compare with what AWS holds now (read-only calls) instead of the profile stored in
    /// the state file: shows changes made outside eksboot.
    #[arg(long, conflicts_with = "no_state")]
    pub live: bool,
    /// `text` for people, `json` for tools (a stable contract).
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
}

/// `eksboot create`'s arguments.
#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    /// The profile to create (TOML, format version 1). Without it, on a terminal, the
    /// wizard asks; the flags below override the profile either way.
    #[arg(long, value_name = "FILE")]
    pub profile: Option<PathBuf>,
    #[command(flatten)]
    pub overrides: Overrides,
    /// Where the wizard saves the profile (default: profiles/<name>.toml if profiles/
    /// exists here, else ./<name>.eksboot.toml).
    #[arg(long, value_name = "PATH")]
    pub save_profile: Option<PathBuf>,
    /// Never ask: a missing value is an error naming the flag to pass.
    #[arg(long)]
    pub no_input: bool,
    /// Create without asking. Required when not running on a terminal.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Where to keep the state: a file, or s3://BUCKET/KEY (shared, locked while in use).
    #[arg(long, value_name = "PATH")]
    pub state: Option<PathBuf>,
    #[command(flatten)]
    pub kubeconfig: KubeconfigArgs,
    /// `text` for people, `json` for newline-delimited events on stdout (text goes to stderr).
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
}

/// `eksboot teardown`'s arguments.
#[derive(Debug, clap::Args)]
pub struct TeardownArgs {
    #[command(flatten)]
    pub target: StateTarget,
    /// Delete without asking. Required when not running on a terminal.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Also delete what Kubernetes or Auto Mode made for this cluster and tagged for it: load
    /// balancers and their target groups (which keep the VPC from being deleted) and the EBS
    /// volumes of its PersistentVolumeClaims (your data). Without it teardown names them and
    /// deletes nothing.
    #[arg(long)]
    pub force: bool,
    /// Days before the KMS key is deleted (7 to 30); it can be recovered until then.
    #[arg(long, value_name = "DAYS", default_value_t = 7, value_parser = clap::value_parser!(i32).range(7..=30))]
    pub key_deletion_days: i32,
    /// The kubeconfig to remove the cluster's entries from.
    #[arg(long, value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,
    /// `text` for people, `json` for newline-delimited events on stdout (text goes to stderr).
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
}

/// Profile fields as flags; they win over the profile, which wins over the defaults.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Overrides {
    /// cluster.name
    #[arg(long)]
    pub name: Option<String>,
    /// cluster.region (the AWS environment only suggests one to the wizard)
    #[arg(long)]
    pub region: Option<String>,
    /// cluster.kubernetes_version, e.g. 1.33
    #[arg(long, value_name = "VERSION")]
    pub kubernetes_version: Option<String>,
    /// network.pattern: public, private or public-and-private
    #[arg(long)]
    pub pattern: Option<String>,
    /// network.vpc_cidr, e.g. 10.0.0.0/16
    #[arg(long, value_name = "CIDR")]
    pub vpc_cidr: Option<String>,
    /// network.availability_zones: a count (2 or 3) or a comma list of AZ names
    #[arg(long, value_name = "N|LIST")]
    pub azs: Option<String>,
    /// network.nat: per-az, single or none
    #[arg(long)]
    pub nat: Option<String>,
    /// cluster.endpoint_access: public, private or public-and-private
    #[arg(long, value_name = "ACCESS")]
    pub endpoint_access: Option<String>,
    /// cluster.public_access_cidrs, comma-separated
    #[arg(long, value_name = "CIDRS")]
    pub public_access_cidrs: Option<String>,
    /// nodes.enabled: on or off
    #[arg(long, value_name = "on|off", value_parser = ["on", "off"])]
    pub nodes: Option<String>,
    /// nodes.instance_types, comma-separated
    #[arg(long, value_name = "TYPES")]
    pub instance_types: Option<String>,
}

/// Where `create` and `resume` write the kubeconfig, and how kubectl gets its token.
#[derive(Debug, Clone, clap::Args)]
pub struct KubeconfigArgs {
    /// The kubeconfig to update (default: the first path of $KUBECONFIG, else ~/.kube/config).
    #[arg(long = "kubeconfig", value_name = "PATH")]
    pub path: Option<PathBuf>,
    /// Keep the kubeconfig's current context instead of switching to the new cluster.
    #[arg(long)]
    pub no_switch_context: bool,
    /// How kubectl gets its token: this binary's `token` command, or `aws eks get-token`.
    #[arg(long, value_enum, value_name = "HOW", default_value_t = KubeconfigAuth::Eksboot)]
    pub kubeconfig_auth: KubeconfigAuth,
}

/// Which cluster's state: a state file, or a cluster name and region (whose default state file
/// is used when it exists).
#[derive(Debug, Clone, clap::Args)]
pub struct StateTarget {
    /// The state: a file, or s3://BUCKET/KEY.
    #[arg(long, value_name = "PATH")]
    pub state: Option<PathBuf>,
    /// The cluster's name.
    #[arg(long, requires = "region")]
    pub cluster: Option<String>,
    /// The cluster's region.
    #[arg(long, requires = "cluster")]
    pub region: Option<String>,
}

/// `upgrade`'s choices: the insights gate and what happens to add-ons.
#[derive(Debug, Clone, Copy, Default, clap::Args)]
pub struct UpgradeChoices {
    /// Upgrade even when an upgrade insight for the new version is in ERROR (EKS is told to go
    /// ahead: UpdateClusterVersion's `force`).
    #[arg(long)]
    pub ignore_insights: bool,
    /// `compatible`: keep every add-on version the new Kubernetes version supports, move the
    /// others (to its default, or the lowest supported version not older); `default`: move each
    /// to the new version's default unless that is older. Nothing is ever moved down.
    #[arg(long, value_enum, default_value_t = AddonsChoice::Compatible)]
    pub addons: AddonsChoice,
}

/// `--ignore-insights` alone, add-ons `compatible` (the wizard's upgrade).
impl From<bool> for UpgradeChoices {
    fn from(ignore_insights: bool) -> Self {
        UpgradeChoices {
            ignore_insights,
            addons: AddonsChoice::Compatible,
        }
    }
}

/// `upgrade --addons`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum AddonsChoice {
    #[default]
    Compatible,
    Default,
}

impl AddonsChoice {
    pub fn policy(self) -> crate::plan::upgrade::AddonPolicy {
        match self {
            AddonsChoice::Compatible => crate::plan::upgrade::AddonPolicy::Compatible,
            AddonsChoice::Default => crate::plan::upgrade::AddonPolicy::Default,
        }
    }
}

/// `apply`'s explicit choices: deleting a removed add-on's software too (by default EKS only
/// stops managing it), and how node groups it deletes are drained.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ApplyChoices {
    /// An add-on this apply removes from cluster.addons whose software is deleted from the
    /// cluster too (by default EKS only stops managing it and its software keeps running).
    /// Repeatable. Refused for vpc-cni, kube-proxy and coredns while the cluster has nodes.
    #[arg(long = "delete-addon-software", value_name = "NAME")]
    pub names: Vec<String>,
    /// How long draining a node group may wait for PodDisruptionBudgets that refuse an
    /// eviction (e.g. 15m, 1h). The node group is deleted only once drained.
    #[arg(long, value_name = "DURATION", default_value = "15m", value_parser = humantime::parse_duration)]
    pub drain_timeout: std::time::Duration,
    /// Go ahead where apply would stop to protect workloads: delete a node group whose drain
    /// did not finish in --drain-timeout, or whose Kubernetes API eksboot cannot reach (EKS
    /// then drains it, terminating each node after 5 minutes whatever PodDisruptionBudgets
    /// say); with --delete-addon-software, delete vpc-cni, kube-proxy or coredns while the
    /// cluster has nodes (pod networking or DNS stops unless you replace them yourself).
    #[arg(long)]
    pub force: bool,
}

/// Whose policy `permissions` prints, and whether in parts.
#[derive(Debug, Clone, clap::Args)]
pub struct WhichPolicy {
    /// Whose policy: yours (the identity running eksboot), or the creator role's.
    #[arg(long = "for", value_enum, value_name = "WHO", default_value_t = PolicyFor::Caller)]
    pub who: PolicyFor,
    /// Write the policy as parts that each fit one managed policy (6,144 characters), to
    /// DIR/eksboot-<cluster>-<caller|creator>-<n>.json (DIR is created if missing), and print
    /// their paths. Attach every part: IAM evaluates them together.
    #[arg(long, value_name = "DIR")]
    pub split: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PolicyFor {
    /// The identity that runs eksboot.
    Caller,
    /// The creator role (for an existing role named in security.creator_role).
    Creator,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KubeconfigAuth {
    /// `eksboot token` (no AWS CLI needed).
    Eksboot,
    /// `aws eks get-token`.
    AwsCli,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}
