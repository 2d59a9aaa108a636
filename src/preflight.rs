//! Preflight: read-only checks that `create` also runs first. Nothing here creates anything,
//! and nothing relies on `DryRun` (emulators ignore it and really create).
//!
//! [`run`] gathers facts through the adapters; the decisions (which AZs, which version, is
//! there room) are pure functions below, tested without AWS.

use crate::aws::{self, ec2::Zone, eks::OfferedVersion, Aws, AwsError};
use crate::plan::{Kind, Plan, PlanFacts};
use crate::profile::{AzSpec, Profile};

/// Zone IDs where EKS does not place control planes (names are shuffled per account; IDs not).
pub const EKS_UNSUPPORTED_ZONE_IDS: [&str; 3] = ["use1-az3", "usw1-az2", "cac1-az3"];
/// The quotas preflight checks, with their AWS defaults (used when Service Quotas cannot say).
pub const VPC_QUOTA: QuotaSpec = QuotaSpec {
    service: "vpc",
    code: "L-F678F1CE",
    name: "VPCs per Region",
    default: 5,
};
pub const EIP_QUOTA: QuotaSpec = QuotaSpec {
    service: "ec2",
    code: "L-0263D0A3",
    name: "EC2-VPC Elastic IPs",
    default: 5,
};
pub const IGW_QUOTA: QuotaSpec = QuotaSpec {
    service: "vpc",
    code: "L-A4707A72",
    name: "Internet gateways per Region",
    default: 5,
};
pub const NAT_PER_AZ_QUOTA: QuotaSpec = QuotaSpec {
    service: "vpc",
    code: "L-FE5A380F",
    name: "NAT gateways per Availability Zone",
    default: 5,
};

/// A Service Quotas quota and its AWS default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaSpec {
    pub service: &'static str,
    pub code: &'static str,
    pub name: &'static str,
    pub default: usize,
}

/// A quota's value for this account, and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaValue {
    pub value: usize,
    /// Why the AWS default is used, when it is.
    pub defaulted: Option<String>,
}

/// The applied value of a quota, else its AWS default with the reason.
async fn quota(aws: &Aws, spec: QuotaSpec) -> QuotaValue {
    match aws::quotas::applied(aws, spec.service, spec.code).await {
        Ok(Some(value)) => QuotaValue {
            value: value as usize,
            defaulted: None,
        },
        Ok(None) => QuotaValue {
            value: spec.default,
            defaulted: Some("no applied value in Service Quotas".into()),
        },
        Err(e) => QuotaValue {
            value: spec.default,
            defaulted: Some(format!("Service Quotas could not be read: {}", e.action())),
        },
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub name: &'static str,
    pub ok: bool,
    pub summary: String,
    pub hint: Option<String>,
}

impl Check {
    fn pass(name: &'static str, summary: impl Into<String>) -> Check {
        Check {
            name,
            ok: true,
            summary: summary.into(),
            hint: None,
        }
    }
    fn fail(name: &'static str, summary: impl Into<String>, hint: impl Into<String>) -> Check {
        Check {
            name,
            ok: false,
            summary: summary.into(),
            hint: Some(hint.into()),
        }
    }
    /// Passed, with something the person should know.
    fn warn(name: &'static str, summary: impl Into<String>, hint: impl Into<String>) -> Check {
        Check {
            name,
            ok: true,
            summary: summary.into(),
            hint: Some(hint.into()),
        }
    }
    fn from_error(name: &'static str, err: &AwsError) -> Check {
        let summary = match err.failure().and_then(|f| f.request_id.as_ref()) {
            Some(id) => format!("{err} (request id {id})"),
            None => err.to_string(),
        };
        Check::fail(name, summary, err.hint())
    }
}

/// What preflight found: every check, and the facts that make the plan concrete.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub checks: Vec<Check>,
    pub facts: PlanFacts,
    pub caller: Option<aws::sts::CallerIdentity>,
}

impl Report {
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.ok)
    }
}

/// Runs every check. Only a credentials failure stops early: nothing else can run without them.
pub async fn run(aws: &Aws, profile: &Profile) -> Report {
    let mut report = Report::default();
    let region = &profile.cluster.region;

    match aws::sts::caller_identity(aws).await {
        Ok(id) => {
            report.checks.push(Check::pass(
                "credentials",
                format!("you are {} (account {})", id.arn, id.account),
            ));
            report.caller = Some(id);
        }
        Err(e) => {
            report.checks.push(Check::from_error("credentials", &e));
            return report;
        }
    }

    let (regions, zones, versions, addresses, vpcs) = tokio::join!(
        aws::ec2::regions(aws),
        aws::ec2::availability_zones(aws),
        aws::eks::cluster_versions(aws),
        aws::ec2::find_addresses(aws, &[]),
        aws::ec2::find_vpcs(aws, &[]),
    );

    report.checks.push(match regions {
        Ok(regions) => match check_region(region, &regions) {
            Ok(s) => Check::pass("region", s),
            Err((s, h)) => Check::fail("region", s, h),
        },
        Err(e) => Check::from_error("region", &e),
    });

    let zones = zones_check(profile, zones, &mut report.facts);
    report.checks.push(zones);
    let version = version_check(profile, versions, &mut report.facts);
    report.checks.push(version);

    let plan = Plan::build(profile, &PlanFacts::default());
    let eips_needed = plan.count_kind(Kind::ElasticIp);
    // What an earlier run of this cluster made is adopted, not made again: it needs no room.
    let ours = |tags: &[(String, String)]| {
        tags.iter()
            .any(|(k, v)| k == "eksboot:cluster" && *v == profile.cluster.name)
    };
    let (vpc_quota, eip_quota, igw_quota, nat_quota, gateways, nats) = tokio::join!(
        quota(aws, VPC_QUOTA),
        quota(aws, EIP_QUOTA),
        quota(aws, IGW_QUOTA),
        quota(aws, NAT_PER_AZ_QUOTA),
        aws::ec2::find_internet_gateways(aws, &[]),
        aws::ec2::live_nat_gateways(aws),
    );
    report.checks.push(match addresses {
        Ok(found) => {
            let mine = found.iter().filter(|a| ours(&a.tags)).count();
            let needed = eips_needed.saturating_sub(mine);
            let used = found.len() - mine;
            headroom(
                "elastic-ips",
                "Elastic IP addresses",
                used,
                needed,
                EIP_QUOTA,
                &eip_quota,
            )
        }
        Err(e) => Check::from_error("elastic-ips", &e),
    });
    report.checks.push(match vpcs {
        Ok(found) => {
            let mine = found.iter().filter(|v| ours(&v.tags)).count();
            let used = found.len() - mine;
            headroom(
                "vpcs",
                "VPCs",
                used,
                1usize.saturating_sub(mine),
                VPC_QUOTA,
                &vpc_quota,
            )
        }
        Err(e) => Check::from_error("vpcs", &e),
    });
    if plan.count_kind(Kind::InternetGateway) > 0 {
        report.checks.push(match gateways {
            Ok(found) => {
                let mine = found.iter().filter(|g| ours(&g.tags)).count();
                let used = found.len() - mine;
                let needed = 1usize.saturating_sub(mine);
                headroom(
                    "internet-gateways",
                    "internet gateways",
                    used,
                    needed,
                    IGW_QUOTA,
                    &igw_quota,
                )
            }
            Err(e) => Check::from_error("internet-gateways", &e),
        });
    }
    let nats_needed = plan.count_kind(Kind::NatGateway);
    if nats_needed > 0 {
        let azs = report.facts.availability_zones.clone();
        let check = nat_headroom(aws, nats, azs.as_deref(), nats_needed, &nat_quota, &ours).await;
        report.checks.push(check);
    }

    report.checks.push(role_names(aws, profile, &plan).await);
    if !profile.cluster.admins.is_empty() {
        let account = report
            .caller
            .as_ref()
            .map(|c| c.account.clone())
            .unwrap_or_default();
        report
            .checks
            .push(admins(aws, &profile.cluster.admins, &account).await);
    }

    if let Some(arn) = profile.security.creator_role.existing_arn() {
        report.checks.push(brought_creator_role(aws, arn).await);
    }

    if let Some(boundary) = &profile.security.permissions_boundary {
        let account = report
            .caller
            .as_ref()
            .map(|c| c.account.clone())
            .unwrap_or_default();
        report
            .checks
            .push(permissions_boundary(aws, profile, boundary, &account).await);
    }

    if let Some(arn) = profile.security.secrets_key.existing_arn() {
        let (check, resolved) = brought_secrets_key(aws, arn).await;
        report.facts.secrets_key_arn = resolved;
        report.checks.push(check);
    }

    report
}

/// The availability zones: the profile's names, or as many as it asks for, chosen from those
/// the region offers (recorded in the facts).
fn zones_check(
    profile: &Profile,
    zones: Result<Vec<aws::ec2::Zone>, AwsError>,
    facts: &mut PlanFacts,
) -> Check {
    match zones {
        Ok(zones) => match choose_azs(&profile.network.availability_zones, &zones) {
            Ok(names) => {
                let summary = names.join(", ");
                facts.availability_zones = Some(names);
                Check::pass("availability-zones", summary)
            }
            Err((s, h)) => Check::fail("availability-zones", s, h),
        },
        Err(e) => Check::from_error("availability-zones", &e),
    }
}

/// The Kubernetes version: the profile's if EKS offers it, else the newest in standard support
/// (recorded in the facts, with when its standard support ends).
fn version_check(
    profile: &Profile,
    versions: Result<Vec<aws::eks::OfferedVersion>, AwsError>,
    facts: &mut PlanFacts,
) -> Check {
    match versions {
        Ok(offered) => {
            match choose_version(profile.cluster.kubernetes_version.as_deref(), &offered) {
                Ok((version, why)) => {
                    facts.standard_support_ends = offered
                        .iter()
                        .find(|v| v.version == version)
                        .and_then(|v| v.end_of_standard_support.clone());
                    facts.kubernetes_version = Some(version.clone());
                    Check::pass("kubernetes-version", format!("{version} ({why})"))
                }
                Err((s, h)) => Check::fail("kubernetes-version", s, h),
            }
        }
        Err(e) => Check::from_error("kubernetes-version", &e),
    }
}

/// Room for one more NAT gateway in the fullest of the AZs used (the quota is per AZ); NAT
/// gateways an earlier run of this cluster made are not counted.
async fn nat_headroom(
    aws: &Aws,
    nats: Result<Vec<aws::ec2::NatGateway>, AwsError>,
    azs: Option<&[String]>,
    nats_needed: usize,
    nat_quota: &QuotaValue,
    ours: &impl Fn(&[(String, String)]) -> bool,
) -> Check {
    match (nats, azs) {
        (Ok(found), Some(azs)) => {
            // One NAT gateway per AZ at most is planned: the fullest AZ decides.
            let foreign: Vec<String> = found
                .iter()
                .filter(|n| !ours(&n.tags))
                .map(|n| n.subnet_id.clone())
                .collect();
            let subnets = if foreign.is_empty() {
                Ok(Vec::new())
            } else {
                aws::ec2::subnets_by_id(aws, &foreign).await
            };
            match subnets {
                Ok(subnets) => {
                    let per_az = |az: &String| {
                        foreign
                            .iter()
                            .filter(|id| subnets.iter().any(|s| &s.id == *id && &s.az == az))
                            .count()
                    };
                    let used = azs.iter().take(nats_needed).map(per_az).max().unwrap_or(0);
                    headroom(
                        "nat-gateways",
                        "NAT gateways (in the fullest AZ)",
                        used,
                        1,
                        NAT_PER_AZ_QUOTA,
                        nat_quota,
                    )
                }
                Err(e) => Check::from_error("nat-gateways", &e),
            }
        }
        (Err(e), _) => Check::from_error("nat-gateways", &e),
        (Ok(_), None) => Check::pass(
            "nat-gateways",
            "not checked: the availability zones are not known",
        ),
    }
}

/// A creator role the profile brings must exist under that exact ARN.
async fn brought_creator_role(aws: &Aws, arn: &str) -> Check {
    let name = arn.rsplit('/').next().unwrap_or(arn);
    match aws::iam::get_role(aws, name).await {
        Ok(Some(role)) if role.arn == arn => Check::pass("creator-role", format!("{arn} exists")),
        Ok(Some(role)) => Check::fail(
            "creator-role",
            format!("a role named {name} exists, but its ARN is {}", role.arn),
            "set security.creator_role to that ARN, or to \"create\" for a dedicated role",
        ),
        Ok(None) => Check::fail(
            "creator-role",
            format!("{arn} does not exist"),
            "create the role first, or set security.creator_role = \"create\"",
        ),
        Err(e) => Check::from_error("creator-role", &e),
    }
}

/// A secrets key the profile brings must be an enabled symmetric key; returns its resolved ARN
/// (an alias or key id names the key's ARN).
async fn brought_secrets_key(aws: &Aws, arn: &str) -> (Check, Option<String>) {
    let fail = |summary: String, hint: &str| (Check::fail("secrets-key", summary, hint), None);
    match aws::kms::describe_key(aws, arn).await {
        Ok(Some(key)) if key.state == "Enabled" && key.spec == "SYMMETRIC_DEFAULT" => {
            let summary = if key.arn == arn {
                format!("{} is enabled", key.arn)
            } else {
                format!("{arn} is key {}, enabled", key.arn)
            };
            (Check::pass("secrets-key", summary), Some(key.arn))
        }
        Ok(Some(key)) if key.state != "Enabled" => fail(
            format!("{arn} is {}", key.state),
            "enable the key, or set security.secrets_key = \"create\"",
        ),
        Ok(Some(key)) => fail(
            format!("{arn} is a {} key; EKS needs a symmetric one", key.spec),
            "use a symmetric encryption key, or set security.secrets_key = \"create\"",
        ),
        Ok(None) => fail(
            format!("{arn} does not exist"),
            "check the ARN and region, or set security.secrets_key = \"create\"",
        ),
        Err(e) => (Check::from_error("secrets-key", &e), None),
    }
}

/// Every admin in this account must exist in IAM (EKS refuses an access entry for one that does
/// not, after the cluster is up); admins of other accounts cannot be checked from here.
async fn admins(aws: &Aws, admins: &[String], account: &str) -> Check {
    let mut found = Vec::new();
    for admin in admins.iter().filter(|a| arn_account(a) == Some(account)) {
        let name = admin.rsplit('/').next().unwrap_or(admin);
        let lookup = if admin.contains(":role/") {
            aws::iam::get_role(aws, name)
                .await
                .map(|r| r.map(|r| r.arn))
        } else {
            aws::iam::get_user(aws, name).await
        };
        match lookup {
            Ok(Some(arn)) => found.push(arn),
            Ok(None) => {}
            Err(e) => return Check::from_error("admins", &e),
        }
    }
    let (missing, elsewhere) = unknown_admins(admins, account, &found);
    if !missing.is_empty() {
        return Check::fail(
            "admins",
            format!("not in IAM: {}", missing.join(", ")),
            "create it or remove it from cluster.admins (a role's ARN includes its path, e.g. role/team/name)",
        );
    }
    if !elsewhere.is_empty() {
        return Check::warn(
            "admins",
            format!("{} exist; {} in other accounts", found.len(), elsewhere.join(", ")),
            "principals of other accounts cannot be checked from here: make sure they exist, or EKS refuses their access entries after the cluster is up",
        );
    }
    Check::pass("admins", format!("{} exist in IAM", found.join(", ")))
}

/// The account of an ARN.
pub fn arn_account(arn: &str) -> Option<&str> {
    arn.split(':').nth(4)
}

/// Sorts `admins` against the principals IAM holds (`known`, full ARNs with paths): those of
/// `account` that IAM does not hold, and those of other accounts (not checkable from here).
pub fn unknown_admins(
    admins: &[String],
    account: &str,
    known: &[String],
) -> (Vec<String>, Vec<String>) {
    let mut missing = Vec::new();
    let mut elsewhere = Vec::new();
    for admin in admins {
        if arn_account(admin) != Some(account) {
            elsewhere.push(admin.clone());
        } else if !known.contains(admin) {
            missing.push(admin.clone());
        }
    }
    (missing, elsewhere)
}

/// IAM role names are account-wide: a role we would create must not exist, unless an earlier
/// eksboot run made it for this cluster in this region (then it is adopted).
async fn role_names(aws: &Aws, profile: &Profile, plan: &Plan) -> Check {
    let mut taken = Vec::new();
    let mut ours = Vec::new();
    for role in plan.resources.iter().filter(|r| r.kind == Kind::IamRole) {
        match aws::iam::get_role(aws, &role.name).await {
            Ok(None) => {}
            Ok(Some(found)) => {
                if found.tag("eksboot:cluster") == Some(profile.cluster.name.as_str())
                    && found.tag("eksboot:region") == Some(profile.cluster.region.as_str())
                {
                    ours.push(role.name.clone());
                } else {
                    taken.push(role.name.clone());
                }
            }
            Err(e) => return Check::from_error("role-names", &e),
        }
    }
    if !taken.is_empty() {
        return Check::fail(
            "role-names",
            format!(
                "IAM role(s) {} already exist and were not made by eksboot for this cluster in {}",
                taken.join(", "),
                profile.cluster.region
            ),
            "IAM role names are account-wide: choose another cluster name, or delete those roles",
        );
    }
    let names: Vec<&str> = plan
        .resources
        .iter()
        .filter(|r| r.kind == Kind::IamRole)
        .map(|r| r.name.as_str())
        .collect();
    if ours.is_empty() {
        Check::pass("role-names", format!("{} are free", names.join(", ")))
    } else {
        Check::pass(
            "role-names",
            format!(
                "{} exist from an earlier run and will be adopted",
                ours.join(", ")
            ),
        )
    }
}

/// The permissions boundary exists and allows what the creator role's policy needs: the
/// creator policy is simulated under the boundary (iam:SimulateCustomPolicy), statement by
/// statement, and every action on every resource the boundary blocks is named. A brought
/// creator role is never given the boundary, so then only the boundary's existence is checked.
async fn permissions_boundary(
    aws: &Aws,
    profile: &Profile,
    boundary: &str,
    account: &str,
) -> Check {
    let document = match aws::iam::get_policy_default_document(aws, boundary).await {
        Ok(Some(document)) => document,
        Ok(None) => return boundary_missing(boundary),
        Err(e) => return Check::from_error("role-boundary", &e),
    };
    if let Some(role) = profile.security.creator_role.existing_arn() {
        return Check::pass(
            "role-boundary",
            format!("{boundary} exists; your creator role {role} is not given it (eksboot never changes a role it did not create)"),
        );
    }
    let creator = creator_policy(profile, account);
    let tested = serde_json::to_string(&without_conditions(&creator)).expect("a policy serialises");
    let mut decisions = Vec::new();
    for (actions, resources) in simulations(&creator) {
        match aws::iam::simulate_custom_policy(
            aws,
            std::slice::from_ref(&tested),
            std::slice::from_ref(&document),
            &actions,
            &resources,
        )
        .await
        {
            Ok(found) => decisions.extend(found),
            Err(e) => return Check::from_error("role-boundary", &e),
        }
    }
    boundary_verdict(boundary, &decisions)
}

/// The creator role's inline policy as eksboot will write it for this profile, before anything
/// exists.
pub fn creator_policy(profile: &Profile, account: &str) -> serde_json::Value {
    crate::plan::iam::creator_policy_before_create(profile, account)
}

fn boundary_missing(boundary: &str) -> Check {
    Check::fail(
        "role-boundary",
        format!("the boundary policy {boundary} does not exist"),
        "create that managed policy first, correct security.permissions_boundary, or remove it for no boundary",
    )
}

/// The policy with every `Condition` removed. Conditions only narrow what the creator policy
/// allows, and the simulation has no request to meet them; without them the simulated decision
/// is the boundary's own, even where IAM leaves out the boundary's part of the answer.
///
/// Deny statements are left out: they only narrow what the creator's policy grants (a Deny
/// stripped of its condition would deny everything it names), and the question is whether the
/// boundary allows what the Allows grant.
pub fn without_conditions(policy: &serde_json::Value) -> serde_json::Value {
    let mut policy = policy.clone();
    if let Some(statements) = policy["Statement"].as_array_mut() {
        statements.retain(|s| s["Effect"] != "Deny");
        for statement in statements {
            if let Some(s) = statement.as_object_mut() {
                s.remove("Condition");
            }
        }
    }
    policy
}

/// One simulation per Allow statement of a policy: its actions on its resources, so only the
/// pairs the policy grants are asked (never an action on another statement's resource).
pub fn simulations(policy: &serde_json::Value) -> Vec<(Vec<String>, Vec<String>)> {
    let strings = |v: &serde_json::Value| -> Vec<String> {
        match v {
            serde_json::Value::String(s) => vec![s.clone()],
            serde_json::Value::Array(a) => a
                .iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        }
    };
    let statements = match &policy["Statement"] {
        serde_json::Value::Array(a) => a.clone(),
        single @ serde_json::Value::Object(_) => vec![single.clone()],
        _ => Vec::new(),
    };
    statements
        .iter()
        .filter(|s| s["Effect"] == "Allow")
        .map(|s| (strings(&s["Action"]), strings(&s["Resource"])))
        .filter(|(actions, resources)| !actions.is_empty() && !resources.is_empty())
        .collect()
}

/// The decision on a boundary from the simulator's answers: what it blocks (the boundary's own
/// part of the answer when IAM gives it, else the overall decision), by action, with the way
/// out.
pub fn boundary_verdict(boundary: &str, decisions: &[aws::iam::SimulatedDecision]) -> Check {
    let blocked = |d: &aws::iam::SimulatedDecision| match d.allowed_by_boundary {
        Some(allowed) => !allowed,
        None => d.decision != "allowed",
    };
    let mut by_action: Vec<(String, Vec<String>)> = Vec::new();
    for d in decisions.iter().filter(|d| blocked(d)) {
        match by_action.iter_mut().find(|(a, _)| *a == d.action) {
            Some((_, resources)) => {
                if !resources.contains(&d.resource) {
                    resources.push(d.resource.clone())
                }
            }
            None => by_action.push((d.action.clone(), vec![d.resource.clone()])),
        }
    }
    if decisions.is_empty() {
        return Check::fail(
            "role-boundary",
            format!("the policy simulator gave no answer for {boundary}"),
            "run `aws iam simulate-custom-policy` with the boundary and `eksboot permissions --for creator` to see why, or remove security.permissions_boundary",
        );
    }
    if by_action.is_empty() {
        return Check::pass(
            "role-boundary",
            format!(
                "{boundary} allows the {} actions the creator role needs",
                decisions
                    .iter()
                    .map(|d| d.action.as_str())
                    .collect::<std::collections::BTreeSet<_>>()
                    .len()
            ),
        );
    }
    let named: Vec<String> = by_action
        .iter()
        .map(|(action, resources)| format!("{action} on {}", resources.join(", ")))
        .collect();
    Check::fail(
        "role-boundary",
        format!(
            "the boundary {boundary} blocks what the creator role needs: {}",
            named.join("; ")
        ),
        format!(
            "allow {} in the boundary policy (a new default version), choose another security.permissions_boundary, or remove it; `eksboot permissions --for creator` prints everything the creator role needs",
            by_action
                .iter()
                .map(|(a, _)| a.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    )
}

type Verdict<T> = Result<T, (String, String)>;

/// The region exists for this account and is enabled.
pub fn check_region(region: &str, regions: &[aws::ec2::RegionInfo]) -> Verdict<String> {
    match regions.iter().find(|r| r.name == region) {
        None => Err((
            format!("{region} is not an AWS region this account can see"),
            "check cluster.region; `aws ec2 describe-regions` lists the regions".into(),
        )),
        Some(r) if r.opt_in_status == "not-opted-in" => Err((
            format!("{region} is an opt-in region that is not enabled for this account"),
            "enable it under Account → AWS Regions in the console, or pick another region".into(),
        )),
        Some(_) => Ok(format!("{region} is enabled")),
    }
}

/// The AZs to use: the named ones, checked, or the first `n` usable ones in name order.
/// Usable means available, a standard availability zone, and accepted by EKS.
pub fn choose_azs(spec: &AzSpec, zones: &[Zone]) -> Verdict<Vec<String>> {
    let usable = |z: &Zone| {
        z.state == "available"
            && z.zone_type == "availability-zone"
            && !EKS_UNSUPPORTED_ZONE_IDS.contains(&z.zone_id.as_str())
    };
    let mut candidates: Vec<&Zone> = zones.iter().filter(|z| usable(z)).collect();
    candidates.sort_by(|a, b| a.name.cmp(&b.name));
    let suggestion = |exclude: &[String]| {
        candidates
            .iter()
            .map(|z| z.name.clone())
            .filter(|n| !exclude.contains(n))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match spec {
        AzSpec::Count(n) => {
            let n = usize::from(*n);
            if candidates.len() < n {
                return Err((
                    format!(
                        "only {} usable availability zone(s) here, {n} needed",
                        candidates.len()
                    ),
                    "pick another region, or ask for fewer AZs (at least 2)".into(),
                ));
            }
            Ok(candidates.iter().take(n).map(|z| z.name.clone()).collect())
        }
        AzSpec::Names(names) => {
            let mut problems = Vec::new();
            for name in names {
                match zones.iter().find(|z| &z.name == name) {
                    None => problems.push(format!("{name} does not exist here")),
                    Some(z) if EKS_UNSUPPORTED_ZONE_IDS.contains(&z.zone_id.as_str()) => problems
                        .push(format!(
                            "{name} ({}) cannot host EKS control planes",
                            z.zone_id
                        )),
                    Some(z) if z.zone_type != "availability-zone" => problems.push(format!(
                        "{name} is a {}, not a standard availability zone",
                        z.zone_type
                    )),
                    Some(z) if z.state != "available" => {
                        problems.push(format!("{name} is {}", z.state))
                    }
                    Some(_) => {}
                }
            }
            if problems.is_empty() {
                Ok(names.clone())
            } else {
                Err((
                    problems.join("; "),
                    format!(
                        "use these instead: {} (or give a count and let eksboot choose)",
                        suggestion(names)
                    ),
                ))
            }
        }
    }
}

/// The Kubernetes version: the requested one if EKS offers it, else the newest in standard
/// support. Returns the version and why it was chosen.
pub fn choose_version(
    requested: Option<&str>,
    offered: &[OfferedVersion],
) -> Verdict<(String, String)> {
    let minor = |v: &str| -> u32 {
        v.split('.')
            .nth(1)
            .and_then(|m| m.parse().ok())
            .unwrap_or(0)
    };
    let available: Vec<&OfferedVersion> = offered
        .iter()
        .filter(|v| v.status != "UNSUPPORTED")
        .collect();
    let list = || {
        let mut names: Vec<&str> = available.iter().map(|v| v.version.as_str()).collect();
        names.sort_by_key(|v| std::cmp::Reverse(minor(v)));
        names.join(", ")
    };
    match requested {
        Some(version) => match available.iter().find(|v| v.version == version) {
            Some(v) if v.status == "EXTENDED_SUPPORT" => Ok((
                version.to_string(),
                "offered, in extended support: the control plane costs $0.60/hour".into(),
            )),
            Some(_) => Ok((version.to_string(), "offered, in standard support".into())),
            None => Err((
                format!("Kubernetes {version} is not offered by EKS"),
                format!(
                    "set cluster.kubernetes_version to one of {}, or leave it out for the newest",
                    list()
                ),
            )),
        },
        None => available
            .iter()
            .filter(|v| v.status == "STANDARD_SUPPORT")
            .max_by_key(|v| minor(&v.version))
            .map(|v| {
                (
                    v.version.clone(),
                    "the newest in standard support".to_string(),
                )
            })
            .ok_or_else(|| {
                (
                    "EKS lists no version in standard support".into(),
                    "set cluster.kubernetes_version explicitly".into(),
                )
            }),
    }
}

/// Whether `needed` more of something fit under its quota (read from the account, or the AWS
/// default, said so).
pub fn headroom(
    name: &'static str,
    what: &str,
    used: usize,
    needed: usize,
    spec: QuotaSpec,
    quota: &QuotaValue,
) -> Check {
    let limit = quota.value;
    let source = match &quota.defaulted {
        None => format!("quota {limit}"),
        Some(why) => format!("AWS default quota {limit}: {why}"),
    };
    let summary = format!("{used} of {limit} {what} in use; the plan needs {needed} ({source})");
    if used + needed <= limit {
        Check::pass(name, summary)
    } else {
        Check::fail(
            name,
            summary,
            format!(
                "release unused {what}, or request more: Service Quotas → \"{}\" ({} {}), e.g. `aws service-quotas request-service-quota-increase --service-code {} --quota-code {} --desired-value {}`",
                spec.name,
                spec.service,
                spec.code,
                spec.service,
                spec.code,
                used + needed
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone(name: &str, id: &str) -> Zone {
        Zone {
            name: name.into(),
            zone_id: id.into(),
            zone_type: "availability-zone".into(),
            state: "available".into(),
        }
    }

    fn us_east_1() -> Vec<Zone> {
        vec![
            zone("us-east-1a", "use1-az6"),
            zone("us-east-1b", "use1-az1"),
            zone("us-east-1e", "use1-az3"),
            Zone {
                zone_type: "local-zone".into(),
                ..zone("us-east-1-bos-1a", "use1-bos1-az1")
            },
            zone("us-east-1c", "use1-az2"),
        ]
    }

    #[test]
    fn a_count_takes_the_first_usable_zones_by_name() {
        let got = choose_azs(&AzSpec::Count(3), &us_east_1()).unwrap();
        assert_eq!(got, ["us-east-1a", "us-east-1b", "us-east-1c"]);
    }

    #[test]
    fn a_zone_eks_rejects_is_refused_with_alternatives() {
        let (summary, hint) = choose_azs(
            &AzSpec::Names(vec!["us-east-1a".into(), "us-east-1e".into()]),
            &us_east_1(),
        )
        .unwrap_err();
        assert!(summary.contains("us-east-1e (use1-az3) cannot host EKS control planes"));
        assert!(hint.contains("us-east-1b, us-east-1c"), "{hint}");
        assert!(!hint.contains("us-east-1a"), "{hint}");
    }

    #[test]
    fn too_few_zones_is_explained() {
        let zones = vec![
            zone("us-west-1a", "usw1-az1"),
            zone("us-west-1b", "usw1-az2"),
        ];
        let (summary, _) = choose_azs(&AzSpec::Count(2), &zones).unwrap_err();
        assert!(summary.contains("only 1 usable"), "{summary}");
    }

    #[test]
    fn unknown_and_local_zones_are_refused() {
        let (summary, _) = choose_azs(
            &AzSpec::Names(vec!["us-east-1z".into(), "us-east-1-bos-1a".into()]),
            &us_east_1(),
        )
        .unwrap_err();
        assert!(summary.contains("us-east-1z does not exist"));
        assert!(summary.contains("local-zone"));
    }

    fn offered(v: &str, status: &str) -> OfferedVersion {
        OfferedVersion {
            version: v.into(),
            status: status.into(),
            default: false,
            end_of_standard_support: None,
        }
    }

    #[test]
    fn newest_standard_support_version_is_chosen_by_number_not_text() {
        let versions = vec![
            offered("1.9", "STANDARD_SUPPORT"),
            offered("1.33", "STANDARD_SUPPORT"),
            offered("1.34", "STANDARD_SUPPORT"),
            offered("1.35", "EXTENDED_SUPPORT"),
        ];
        assert_eq!(choose_version(None, &versions).unwrap().0, "1.34");
        assert!(choose_version(Some("1.35"), &versions)
            .unwrap()
            .1
            .contains("extended"));
        let (summary, hint) = choose_version(Some("1.20"), &versions).unwrap_err();
        assert!(summary.contains("1.20 is not offered"));
        assert!(hint.contains("1.35, 1.34, 1.33, 1.9"), "{hint}");
    }

    #[test]
    fn headroom_counts_what_the_plan_adds() {
        let default = QuotaValue {
            value: 5,
            defaulted: Some("no applied value in Service Quotas".into()),
        };
        assert!(headroom("elastic-ips", "Elastic IPs", 2, 3, EIP_QUOTA, &default).ok);
        let c = headroom("elastic-ips", "Elastic IPs", 3, 3, EIP_QUOTA, &default);
        assert!(c.summary.contains("AWS default quota 5"), "{}", c.summary);
        assert!(c.hint.as_ref().unwrap().contains("L-0263D0A3"));
        let raised = QuotaValue {
            value: 10,
            defaulted: None,
        };
        let c2 = headroom("elastic-ips", "Elastic IPs", 3, 3, EIP_QUOTA, &raised);
        assert!(c2.ok && c2.summary.contains("(quota 10)"), "{}", c2.summary);
        assert!(!c.ok);
        assert!(c.hint.unwrap().contains("Service Quotas"));
    }

    #[test]
    fn admins_are_sorted_into_missing_and_other_accounts() {
        let admins: Vec<String> = [
            "arn:aws:iam::111111111111:role/team/ops",
            "arn:aws:iam::111111111111:role/ops",
            "arn:aws:iam::111111111111:user/alice",
            "arn:aws:iam::222222222222:role/auditor",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        // IAM holds ops under /team/ only, and alice.
        let known = vec![
            "arn:aws:iam::111111111111:role/team/ops".to_string(),
            "arn:aws:iam::111111111111:user/alice".to_string(),
        ];
        let (missing, elsewhere) = unknown_admins(&admins, "111111111111", &known);
        assert_eq!(missing, ["arn:aws:iam::111111111111:role/ops"]);
        assert_eq!(elsewhere, ["arn:aws:iam::222222222222:role/auditor"]);
    }

    #[test]
    fn opt_in_regions_must_be_enabled() {
        let regions = vec![aws::ec2::RegionInfo {
            name: "af-south-1".into(),
            opt_in_status: "not-opted-in".into(),
        }];
        assert!(check_region("af-south-1", &regions).is_err());
        assert!(check_region("us-west-2", &regions).is_err());
    }

    fn bounded_profile(extra: &str) -> Profile {
        Profile::parse(
            &format!("[cluster]\nname = \"demo\"\nregion = \"us-west-2\"\n{extra}[security]\npermissions_boundary = \"arn:aws:iam::111111111111:policy/b\"\n"),
            std::path::Path::new("t.toml"),
        )
        .unwrap()
    }

    fn decision(
        action: &str,
        resource: &str,
        overall: &str,
        boundary: Option<bool>,
    ) -> aws::iam::SimulatedDecision {
        aws::iam::SimulatedDecision {
            action: action.into(),
            resource: resource.into(),
            decision: overall.into(),
            allowed_by_boundary: boundary,
        }
    }

    #[test]
    fn the_creator_policy_is_simulated_statement_by_statement_without_its_conditions() {
        let policy = creator_policy(&bounded_profile(""), "111111111111");
        let asked = simulations(&policy);
        let allows = policy["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["Effect"] == "Allow")
            .count();
        assert_eq!(asked.len(), allows);
        // Each statement's own actions on its own resources, never crossed with another's.
        let (actions, resources) = asked
            .iter()
            .find(|(a, _)| a.contains(&"iam:PassRole".to_string()))
            .unwrap();
        assert_eq!(actions, &["iam:PassRole"]);
        assert!(
            resources.contains(&"arn:aws:iam::111111111111:role/demo-cluster".to_string())
                && resources.contains(&"arn:aws:iam::111111111111:role/demo-node".to_string()),
            "{resources:?}"
        );
        assert!(asked
            .iter()
            .any(|(a, r)| a.contains(&"eks:CreateCluster".to_string()) && r == &["*"]));
        // What is simulated grants the same, minus the conditions no simulated request meets.
        let tested = without_conditions(&policy);
        assert!(policy.to_string().contains("Condition"));
        assert!(!tested.to_string().contains("Condition"));
        assert!(!tested.to_string().contains("\"Deny\""));
        assert_eq!(simulations(&tested), asked);

        // Deny statements, and a lone statement object, are read as IAM reads them.
        let odd = serde_json::json!({"Statement": {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}});
        assert_eq!(
            simulations(&odd),
            [(vec!["s3:GetObject".to_string()], vec!["*".to_string()])]
        );
        let deny =
            serde_json::json!({"Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}]});
        assert!(simulations(&deny).is_empty());
    }

    #[test]
    fn without_nodes_the_node_role_is_not_simulated() {
        let policy = creator_policy(
            &bounded_profile("[nodes]\nenabled = false\n"),
            "111111111111",
        );
        let asked = simulations(&policy);
        assert!(
            asked
                .iter()
                .all(|(_, resources)| !resources.iter().any(|r| r.ends_with(":role/demo-node"))),
            "{asked:?}"
        );
    }

    #[test]
    fn a_boundary_that_blocks_the_creator_is_refused_naming_the_actions_and_the_way_out() {
        let b = "arn:aws:iam::111111111111:policy/b";
        let ok = boundary_verdict(
            b,
            &[
                decision("eks:CreateCluster", "*", "allowed", Some(true)),
                decision("eks:TagResource", "*", "implicitDeny", Some(true)),
            ],
        );
        assert!(ok.ok, "{ok:?}");
        assert!(
            ok.summary.contains("allows the 2 actions"),
            "{}",
            ok.summary
        );

        let refused = boundary_verdict(
            b,
            &[
                decision("eks:CreateCluster", "*", "allowed", Some(true)),
                decision(
                    "iam:PassRole",
                    "arn:aws:iam::111111111111:role/demo-cluster",
                    "implicitDeny",
                    Some(false),
                ),
                decision(
                    "iam:PassRole",
                    "arn:aws:iam::111111111111:role/demo-node",
                    "implicitDeny",
                    Some(false),
                ),
                decision("kms:CreateGrant", "*", "explicitDeny", Some(false)),
            ],
        );
        assert!(!refused.ok);
        assert_eq!(refused.name, "role-boundary");
        assert!(
            refused.summary.contains("iam:PassRole on arn:aws:iam::111111111111:role/demo-cluster, arn:aws:iam::111111111111:role/demo-node; kms:CreateGrant on *"),
            "{}",
            refused.summary
        );
        assert!(
            !refused.summary.contains("eks:CreateCluster"),
            "{}",
            refused.summary
        );
        let hint = refused.hint.unwrap();
        assert!(
            hint.starts_with("allow iam:PassRole, kms:CreateGrant in the boundary policy"),
            "{hint}"
        );
        assert!(
            hint.contains("remove it") && hint.contains("eksboot permissions --for creator"),
            "{hint}"
        );

        // Without the boundary's own part of the answer, the overall decision is the boundary's.
        let bare = boundary_verdict(
            b,
            &[decision("eks:CreateCluster", "*", "implicitDeny", None)],
        );
        assert!(
            !bare.ok && bare.summary.contains("eks:CreateCluster on *"),
            "{bare:?}"
        );
        // No answer at all proves nothing.
        assert!(!boundary_verdict(b, &[]).ok);
        let missing = boundary_missing(b);
        assert!(!missing.ok && missing.summary.contains("does not exist"));
    }
}

/// The bucket of a state kept in S3 (`--state s3://…`): it must block every kind of public
/// access (a state names every resource of the cluster), and should keep versions (how a team
/// gets an earlier state back). The lock this run already holds there proves it is writable.
pub async fn state_bucket(store: &crate::apply::shared_state::Store) -> Vec<Check> {
    let location = store.location.to_string();
    let blocked = aws::s3::public_access_blocked(store.client(), &store.location.bucket).await;
    let versioned = aws::s3::versioning_enabled(store.client(), &store.location.bucket).await;
    match (blocked, versioned) {
        (Ok(blocked), Ok(versioned)) => state_bucket_checks(&location, blocked, versioned),
        (Err(e), _) | (_, Err(e)) => vec![Check::from_error("state-bucket", &e)],
    }
}

/// A state in S3 checked on its own (`eksboot preflight`): the bucket answers from its region,
/// its settings ([`state_bucket`]), and it takes a write: the lock is written with the same
/// conditional write every run makes (encrypted as the state will be), then removed.
pub async fn state_bucket_writable(
    location: &crate::apply::shared_state::S3Location,
    kms_key: Option<String>,
) -> Vec<Check> {
    let store = match crate::apply::shared_state::Store::connect(location) {
        Ok(store) => store.encrypting_with(kms_key),
        Err(e) => {
            return vec![Check::fail(
                "state-bucket",
                format!("{location} cannot be reached: {e}"),
                "check the address; a new bucket is three commands (README: Sharing a cluster with a team)",
            )]
        }
    };
    let mut checks = state_bucket(&store).await;
    let probe = store.lock("eksboot preflight").map(|held| held.release());
    checks.push(state_write_check(location, probe));
    checks
}

/// The verdict on writing the lock of `location` and removing it again.
pub fn state_write_check(
    location: &crate::apply::shared_state::S3Location,
    probe: Result<
        Result<(), crate::apply::shared_state::SharedStateError>,
        crate::apply::shared_state::SharedStateError,
    >,
) -> Check {
    use crate::apply::shared_state::SharedStateError;
    match probe {
        Ok(Ok(())) => Check::pass(
            "state-writable",
            format!("{location} takes a write (its lock was written and removed)"),
        ),
        Ok(Err(e)) => Check::fail(
            "state-writable",
            format!("the lock of {location} was written but not removed: {e}"),
            format!("grant s3:DeleteObject on it (eksboot permissions prints the policy), then remove it: aws s3 rm s3://{}/{}", location.bucket, location.lock_key()),
        ),
        Err(SharedStateError::Locked { holder, .. }) => Check::warn(
            "state-writable",
            format!("{location} is in use by {}: not written to", holder.describe()),
            format!("let that run finish; if it is gone, eksboot unlock --state {location} {}", holder.id),
        ),
        Err(e) => Check::fail(
            "state-writable",
            format!("{location} cannot be written: {e}"),
            "attach the policy `eksboot permissions --profile FILE` prints: it grants s3:PutObject and s3:DeleteObject on the state and its lock (and the state key's use)",
        ),
    }
}

/// [`state_bucket`]'s verdict on what S3 answered: the four public access block settings
/// (BlockPublicAcls, IgnorePublicAcls, BlockPublicPolicy, RestrictPublicBuckets) and versioning.
pub fn state_bucket_checks(location: &str, blocked: [bool; 4], versioned: bool) -> Vec<Check> {
    let bucket = location
        .trim_start_matches("s3://")
        .split('/')
        .next()
        .unwrap_or_default()
        .to_string();
    let mut checks = Vec::new();
    if blocked.iter().all(|b| *b) {
        checks.push(Check::pass(
            "state-bucket",
            format!("the state {location} is in a bucket that blocks all public access"),
        ));
    } else {
        checks.push(Check::fail(
            "state-bucket",
            format!("the bucket of {location} does not block all public access, and the state names every resource of the cluster"),
            format!("aws s3api put-public-access-block --bucket {bucket} --public-access-block-configuration BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true"),
        ));
    }
    if versioned {
        checks.push(Check::pass(
            "state-versions",
            "the bucket keeps earlier versions of the state",
        ));
    } else {
        checks.push(Check::warn(
            "state-versions",
            "the bucket does not keep versions: an overwritten or deleted state cannot be got back",
            format!("aws s3api put-bucket-versioning --bucket {bucket} --versioning-configuration Status=Enabled"),
        ));
    }
    checks
}

#[cfg(test)]
mod state_bucket_tests {
    use super::*;

    #[test]
    fn a_state_bucket_must_block_public_access_and_should_keep_versions() {
        let at = "s3://team-state/demo.state.json";
        let ok = state_bucket_checks(at, [true; 4], true);
        assert!(ok.iter().all(|c| c.ok && c.hint.is_none()), "{ok:?}");
        let open = state_bucket_checks(at, [true, true, false, true], true);
        assert!(!open[0].ok);
        assert!(open[0]
            .hint
            .as_deref()
            .unwrap()
            .contains("put-public-access-block --bucket team-state"));
        let location = crate::apply::shared_state::S3Location::parse(at)
            .unwrap()
            .unwrap();
        assert!(state_write_check(&location, Ok(Ok(()))).ok);
        let holder = crate::apply::shared_state::Holder {
            id: "feedc0de".into(),
            user: "ana".into(),
            host: "ci".into(),
            pid: 7,
            command: "eksboot apply".into(),
            since: "2026-12-04T08:00:00Z".into(),
        };
        let busy = state_write_check(
            &location,
            Err(crate::apply::shared_state::SharedStateError::Locked {
                location: location.clone(),
                holder,
            }),
        );
        assert!(busy.ok, "another run's lock is reported, not a failure");
        assert!(busy
            .hint
            .unwrap()
            .ends_with("unlock --state s3://team-state/demo.state.json feedc0de"));
        let denied = state_write_check(
            &location,
            Err(crate::apply::shared_state::SharedStateError::Stale {
                location: location.clone(),
            }),
        );
        assert!(!denied.ok && denied.hint.unwrap().contains("eksboot permissions"));
        let unversioned = state_bucket_checks(at, [true; 4], false);
        assert!(unversioned[1].ok, "a warning, not a refusal");
        assert!(unversioned[1]
            .hint
            .as_deref()
            .unwrap()
            .contains("Status=Enabled"));
    }
}
