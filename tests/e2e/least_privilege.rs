//! Least privilege, proven at the level IAM evaluates: every test's eksboot runs as an IAM user
//! holding only the policy `eksboot permissions` prints, and the emulator evaluates each request
//! (resources, condition keys, the checks AWS makes on the caller's behalf) with a real IAM
//! evaluator (emulator/iam_enforce.py, tests/iam/evaluate.mjs). Here: the whole life of each
//! example profile with the IAM log read back for denials, the negative controls (each denial
//! names its action and resource), and what the printed policies must never allow.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::create::Run;
use crate::harness::{bare_eksboot, block_on, root, Account, IAM_PROPAGATION_MS};
use crate::teardown::{assert_nothing_left, ours};

/// The policy `eksboot permissions` prints for a profile.
pub fn printed_policy(account: &Account, profile: &Path, flags: &[&str], who: &str) -> Value {
    let out = bare_eksboot(&account.home)
        .arg("permissions")
        .arg("--profile")
        .arg(profile)
        .args(flags)
        .args(["--account", &account.id, "--for", who])
        .assert()
        .success();
    serde_json::from_slice(&out.get_output().stdout).expect("permissions prints JSON")
}

/// What the README tells owners of an existing creator role: put the policy
/// `eksboot permissions --for creator` prints on it (then give IAM its moment to propagate).
pub fn attach_printed_creator_policy(account: &Account, role: &str, profile: &Path) {
    let policy = printed_policy(account, profile, &[], "creator");
    put_role_policy(account, role, &policy);
}

fn put_role_policy(account: &Account, role: &str, policy: &Value) {
    let iam = aws_sdk_iam::Client::new(&account.sdk("us-east-1"));
    block_on(
        iam.put_role_policy()
            .role_name(role)
            .policy_name("eks-creator")
            .policy_document(policy.to_string())
            .send(),
    )
    .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(IAM_PROPAGATION_MS));
}

/// An existing creator role (`platform/team-creator`) that trusts the runner, holding the
/// policy `eksboot permissions --for creator` prints; returns the profile naming it.
fn existing_creator_profile(account: &Account, dir: &Path) -> PathBuf {
    let id = &account.id;
    let profile = dir.join("existing-creator.toml");
    let base = std::fs::read_to_string(root("profiles/dev.toml")).unwrap();
    std::fs::write(
        &profile,
        format!(
            "{base}\n[security]\ncreator_role = \"arn:aws:iam::{id}:role/platform/team-creator\"\n"
        ),
    )
    .unwrap();
    // Trust through the account, narrowed to the runner by condition, as teams often write it.
    let trust = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"AWS": format!("arn:aws:iam::{id}:root")},
            "Action": "sts:AssumeRole",
            "Condition": {"ArnEquals": {"aws:PrincipalArn": account.runner_arn()}}
        }]
    });
    let iam = aws_sdk_iam::Client::new(&account.sdk("us-east-1"));
    block_on(
        iam.create_role()
            .role_name("team-creator")
            .path("/platform/")
            .assume_role_policy_document(trust.to_string())
            .send(),
    )
    .unwrap();
    attach_printed_creator_policy(account, "team-creator", &profile);
    profile
}

/// `eksboot ARGS` as the runner; panics with both streams unless it succeeds.
fn eksboot_ok(run: &Run, label: &str, args: &[&str]) -> String {
    let out = run
        .account
        .eksboot()
        .env("EKSBOOT_POLL_MS", "100")
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "[{label}] `eksboot {}` with only the printed policies failed:\n{stdout}\n{}\ndenied: {:#?}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr),
        run.account.iam_denials()
    );
    stdout
}

/// No request of this account was denied, not even one eksboot took in its stride.
fn assert_no_denials(run: &Run, label: &str) {
    let denials = run.account.iam_denials();
    assert!(denials.is_empty(), "[{label}] denied: {denials:#?}");
    let log = run.account.iam_log();
    let evaluated = log["requests"].as_array().map_or(0, Vec::len);
    assert!(
        evaluated > 50,
        "[{label}] the emulator evaluated {evaluated} requests"
    );
}

/// Create, status --live, plan --live, (apply), (upgrade), teardown: all as the runner holding
/// only the printed policy for `profile` with `flags`; AWS read back; no request denied.
fn whole_life(label: &str, profile: &Path, flags: &[&str], cluster: &str, region: &str) {
    let run = Run::new(Account::new());
    let profile = if profile == Path::new("existing-creator") {
        existing_creator_profile(&run.account, run.dir.path())
    } else {
        profile.to_path_buf()
    };
    run.account.authorize(&profile, flags);
    let state = run.state();
    let state = state.to_str().unwrap();
    let kube = run.kubeconfig();
    let kube = kube.to_str().unwrap();
    let profile_arg = profile.to_str().unwrap();
    let mut create = vec!["create", "--yes", "--profile", profile_arg];
    create.extend_from_slice(flags);
    create.extend(["--state", state, "--kubeconfig", kube]);
    eksboot_ok(&run, label, &create);

    let made = ours(&run.account, cluster, region);
    assert_eq!(made["clusters"], 1, "[{label}] {made:?}");
    let eks = aws_sdk_eks::Client::new(&run.account.sdk(region));
    let nodegroups = block_on(crate::harness::all_nodegroups(&eks, cluster))
        .unwrap()
        .nodegroups()
        .len();
    let nodes_wanted = !flags.contains(&"off");
    assert_eq!(nodegroups, usize::from(nodes_wanted), "[{label}]");
    // The runner got its own access entry (made by the creator role).
    let entries = block_on(crate::harness::all_access_entries(&eks, cluster)).unwrap();
    assert!(
        entries.access_entries().contains(&run.account.runner_arn()),
        "[{label}] {:?}",
        entries.access_entries()
    );
    eksboot_ok(&run, label, &["status", "--live", "--state", state]);
    if nodes_wanted {
        apply_a_change(&run, label, &profile, flags);
        let addons = block_on(crate::harness::all_addons(&eks, cluster)).unwrap();
        assert!(
            addons.addons().contains(&"metrics-server".to_string()),
            "[{label}] {:?}",
            addons.addons()
        );
    }
    if flags.contains(&"--kubernetes-version") {
        let version = || {
            block_on(eks.describe_cluster().name(cluster).send())
                .unwrap()
                .cluster()
                .and_then(|c| c.version())
                .map(str::to_string)
                .unwrap()
        };
        let before = version();
        eksboot_ok(&run, label, &["upgrade", "--yes", "--state", state]);
        let (major, minor) = before.split_once('.').unwrap();
        let next = format!("{major}.{}", minor.parse::<u32>().unwrap() + 1);
        assert_eq!(version(), next, "[{label}]");
    }
    eksboot_ok(
        &run,
        label,
        &["teardown", "--yes", "--state", state, "--kubeconfig", kube],
    );
    assert_nothing_left(&run.account, cluster, region);
    assert_no_denials(&run, label);
}

/// A day-two change as the runner: a tighter endpoint, another log type, a new retention, an
/// add-on, a bigger node group on bigger disks; the runner holds the changed profile's policy.
fn apply_a_change(run: &Run, label: &str, profile: &Path, flags: &[&str]) {
    let text = std::fs::read_to_string(profile).unwrap();
    let mut table: toml::Table = text.parse().unwrap();
    let cluster = table["cluster"].as_table_mut().unwrap();
    if cluster.get("endpoint_access").and_then(|v| v.as_str()) != Some("private") {
        cluster.insert(
            "public_access_cidrs".into(),
            toml::Value::Array(vec!["203.0.113.0/24".into()]),
        );
    }
    cluster.insert(
        "log_types".into(),
        toml::Value::Array(vec!["api".into(), "audit".into(), "scheduler".into()]),
    );
    cluster.insert("log_retention_days".into(), toml::Value::Integer(60));
    // The version given by flag at create is the cluster's: the changed profile keeps it.
    if let Some(i) = flags.iter().position(|f| *f == "--kubernetes-version") {
        cluster.insert("kubernetes_version".into(), toml::Value::from(flags[i + 1]));
    }
    let mut addons = cluster
        .get("addons")
        .and_then(|a| a.as_array().cloned())
        .unwrap_or_else(|| {
            ["vpc-cni", "kube-proxy", "coredns", "eks-pod-identity-agent"]
                .map(toml::Value::from)
                .to_vec()
        });
    addons.push("metrics-server".into());
    cluster.insert("addons".into(), toml::Value::Array(addons));
    let nodes = table
        .entry("nodes")
        .or_insert_with(|| toml::Value::Table(Default::default()))
        .as_table_mut()
        .unwrap();
    nodes.insert("max_size".into(), toml::Value::Integer(9));
    nodes.insert("disk_size_gib".into(), toml::Value::Integer(64));
    let changed = run.dir.path().join("changed.toml");
    std::fs::write(&changed, toml::to_string(&table).unwrap()).unwrap();
    let changed_flags: Vec<&str> = flags
        .chunks(2)
        .filter(|pair| pair[0] != "--kubernetes-version")
        .flatten()
        .copied()
        .collect();
    run.account.authorize(&changed, &changed_flags);
    let state = run.state();
    let state = state.to_str().unwrap();
    let kube = run.kubeconfig();
    let changed_arg = changed.to_str().unwrap();
    let mut live = vec!["plan", "--live", "--profile", changed_arg];
    live.extend_from_slice(&changed_flags);
    live.extend(["--state", state]);
    let plan = eksboot_ok(run, label, &live);
    assert!(plan.contains("cluster.addons"), "[{label}] {plan}");
    let mut apply = vec!["apply", "--yes", "--profile", changed_arg];
    apply.extend_from_slice(&changed_flags);
    apply.extend(["--state", state, "--kubeconfig", kube.to_str().unwrap()]);
    eksboot_ok(run, label, &apply);
}

#[test]
fn production_lives_and_dies_with_only_the_printed_policies() {
    whole_life(
        "production",
        &root("profiles/production.toml"),
        &[],
        "production",
        "us-east-1",
    );
}

#[test]
fn dev_at_an_older_version_is_upgraded_with_only_the_printed_policies() {
    whole_life(
        "dev",
        &root("profiles/dev.toml"),
        &["--kubernetes-version", "1.35"],
        "dev",
        "us-west-2",
    );
}

/// An example profile with `oidc_provider` set as given, written to `dir`.
fn with_oidc(dir: &Path, example: &str, oidc: bool) -> PathBuf {
    let text = std::fs::read_to_string(root(example)).unwrap();
    let mut table: toml::Table = text.parse().unwrap();
    table["cluster"]
        .as_table_mut()
        .unwrap()
        .insert("oidc_provider".into(), toml::Value::Boolean(oidc));
    let path = dir.join(Path::new(example).file_name().unwrap());
    std::fs::write(&path, toml::to_string(&table).unwrap()).unwrap();
    path
}

#[test]
fn production_without_nodes_or_oidc_provider_needs_only_the_printed_policies() {
    let dir = tempfile::tempdir().unwrap();
    whole_life(
        "production, no nodes, no OIDC provider",
        &with_oidc(dir.path(), "profiles/production.toml", false),
        &["--nodes", "off"],
        "production",
        "us-east-1",
    );
}

#[test]
fn private_without_the_oidc_provider_needs_only_the_printed_policies() {
    let dir = tempfile::tempdir().unwrap();
    whole_life(
        "private without an OIDC provider",
        &with_oidc(dir.path(), "profiles/private.toml", false),
        &[],
        "private",
        "eu-west-1",
    );
}

#[test]
fn private_lives_and_dies_with_only_the_printed_policies() {
    whole_life(
        "private",
        &root("profiles/private.toml"),
        &[],
        "private",
        "eu-west-1",
    );
}

#[test]
fn dev_without_nodes_lives_and_dies_with_only_the_printed_policies() {
    whole_life(
        "dev without nodes",
        &root("profiles/dev.toml"),
        &["--nodes", "off"],
        "dev",
        "us-west-2",
    );
}

#[test]
fn an_existing_creator_role_with_the_printed_policy_is_enough() {
    whole_life(
        "existing creator role",
        Path::new("existing-creator"),
        &[],
        "dev",
        "us-west-2",
    );
}

/// Nodes and the OIDC provider turned off by `apply`, then on again: the policies written for
/// each change cover what it retires as well as what it makes.
#[test]
fn turning_nodes_and_the_oidc_provider_off_and_on_needs_only_the_printed_policies() {
    let run = Run::new(Account::new());
    let base = std::fs::read_to_string(root("profiles/dev.toml")).unwrap();
    let write = |name: &str, nodes: bool, oidc: bool| {
        let mut table: toml::Table = base.parse().unwrap();
        table["cluster"]
            .as_table_mut()
            .unwrap()
            .insert("oidc_provider".into(), toml::Value::Boolean(oidc));
        table
            .entry("nodes")
            .or_insert_with(|| toml::Value::Table(Default::default()))
            .as_table_mut()
            .unwrap()
            .insert("enabled".into(), toml::Value::Boolean(nodes));
        let path = run.dir.path().join(name);
        std::fs::write(&path, toml::to_string(&table).unwrap()).unwrap();
        path
    };
    let state = run.state();
    let state = state.to_str().unwrap();
    let kube = run.kubeconfig();
    let kube = kube.to_str().unwrap();
    let steps = [
        ("create", write("on.toml", true, true)),
        ("apply", write("off.toml", false, false)),
        ("apply", write("on-again.toml", true, true)),
    ];
    // The cluster's API (the test server), so that turning nodes off drains them through it,
    // as the creator role, with only what the printed policies allow.
    let api = crate::harness::KubeApi::start();
    for (n, (command, profile)) in steps.iter().enumerate() {
        if n == 1 {
            let cluster: toml::Table = base.parse().unwrap();
            let name = cluster["cluster"]["name"].as_str().unwrap();
            let region = cluster["cluster"]["region"].as_str().unwrap();
            api.serve_cluster(&run.account, region, name);
        }
        run.account.authorize(profile, &[]);
        let profile = profile.to_str().unwrap();
        eksboot_ok(
            &run,
            command,
            &[
                command,
                "--yes",
                "--profile",
                profile,
                "--state",
                state,
                "--kubeconfig",
                kube,
            ],
        );
        if *command == "apply" && profile.ends_with("off.toml") {
            let iam = aws_sdk_iam::Client::new(&run.account.sdk("us-west-2"));
            let providers = block_on(iam.list_open_id_connect_providers().send()).unwrap();
            assert!(
                providers.open_id_connect_provider_list().is_empty(),
                "the OIDC provider was retired"
            );
            let live = eksboot_ok(
                &run,
                "plan --live",
                &["plan", "--live", "--profile", profile, "--state", state],
            );
            assert!(live.contains("No changes"), "{live}");
        }
    }
    // Other OIDC providers of the account (a CI's, another cluster's in this region, one in
    // another region): status --live and teardown read only this region's EKS issuers, take
    // none of them for this cluster's, and are denied nothing.
    let iam = aws_sdk_iam::Client::new(&run.account.sdk("us-east-1"));
    let others = [
        "https://token.actions.githubusercontent.com",
        "https://oidc.eks.us-west-2.amazonaws.com/id/SOMEONEELSES0000000000000000000",
        "https://oidc.eks.eu-west-1.amazonaws.com/id/ANOTHERREGION000000000000000000",
    ];
    for url in others {
        block_on(
            iam.create_open_id_connect_provider()
                .url(url)
                .client_id_list("sts.amazonaws.com")
                .send(),
        )
        .unwrap();
    }
    eksboot_ok(
        &run,
        "status --live",
        &["status", "--live", "--state", state],
    );
    eksboot_ok(&run, "teardown", &["teardown", "--yes", "--state", state]);
    assert_nothing_left(&run.account, "dev", "us-west-2");
    let left = block_on(iam.list_open_id_connect_providers().send()).unwrap();
    assert_eq!(
        left.open_id_connect_provider_list().len(),
        others.len(),
        "the others stay: {left:?}"
    );
    assert_no_denials(&run, "off and on");
}

// ---------------------------------------------------------------------------------------
// Negative controls: each fails for its stated reason, with AWS's AccessDenied naming the action
// and the resource.

/// A create as the runner that must fail with an AccessDenied naming `action` on `resource`.
fn create_is_denied(run: &Run, profile: &Path, action: &str, resource: &str) {
    let out = run
        .account
        .eksboot()
        .env("EKSBOOT_POLL_MS", "100")
        .args(["create", "--yes", "--profile"])
        .arg(profile)
        .arg("--state")
        .arg(run.state())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(1), "{text}");
    let denials = run.account.iam_denials();
    assert!(
        denials
            .iter()
            .any(|d| d.contains(&format!(" {action}")) && d.contains(resource)),
        "expected a denial of {action} on {resource}; denied: {denials:#?}\n{text}"
    );
    assert!(
        text.contains(action) && text.contains("not authorized"),
        "the error names the denied action:\n{text}"
    );
}

/// The printed caller policy with `change` applied to each of its statements.
fn edited_caller_policy(run: &Run, profile: &Path, change: impl Fn(&mut Value)) -> Value {
    let mut policy = printed_policy(&run.account, profile, &[], "caller");
    for statement in policy["Statement"].as_array_mut().unwrap() {
        change(statement);
    }
    policy
}

fn actions_of(statement: &Value) -> Vec<String> {
    match &statement["Action"] {
        Value::String(a) => vec![a.clone()],
        Value::Array(list) => list
            .iter()
            .filter_map(|a| a.as_str().map(str::to_string))
            .collect(),
        _ => vec![],
    }
}

#[test]
fn an_action_missing_from_the_policy_is_denied_naming_it_and_its_resource() {
    let run = Run::new(Account::new());
    let dev = root("profiles/dev.toml");
    let policy = edited_caller_policy(&run, &dev, |s| {
        if let Some(actions) = s["Action"].as_array_mut() {
            actions.retain(|a| a != "ec2:CreateVpc");
        }
    });
    run.account.authorize_policy(&policy);
    create_is_denied(&run, &dev, "ec2:CreateVpc", ":vpc/");
    assert_eq!(ours(&run.account, "dev", "us-west-2")["vpcs"], 0);
}

#[test]
fn a_statement_on_another_clusters_roles_is_denied_naming_the_role() {
    let run = Run::new(Account::new());
    let dev = root("profiles/dev.toml");
    let policy = edited_caller_policy(&run, &dev, |s| {
        if actions_of(s).iter().any(|a| a == "iam:CreateRole") {
            let text = s["Resource"]
                .to_string()
                .replace("role/dev-", "role/other-");
            s["Resource"] = serde_json::from_str(&text).unwrap();
        }
    });
    run.account.authorize_policy(&policy);
    create_is_denied(&run, &dev, "iam:CreateRole", ":role/dev-");
}

#[test]
fn a_request_tag_condition_not_met_is_denied() {
    let run = Run::new(Account::new());
    let dev = root("profiles/dev.toml");
    let policy = edited_caller_policy(&run, &dev, |s| {
        if actions_of(s).iter().any(|a| a == "ec2:CreateVpc") {
            let text = s["Condition"]
                .to_string()
                .replace("\"dev\"", "\"someone-elses\"");
            s["Condition"] = serde_json::from_str(&text).unwrap();
        }
    });
    run.account.authorize_policy(&policy);
    // Whichever of the statement's creates comes first (they run concurrently) is refused.
    create_is_denied(&run, &dev, "ec2:Create", "arn:aws:ec2:us-west-2:");
}

/// A brought creator role whose policy lacks one action AWS checks on its behalf; with
/// `own_key`, the profile also brings a key whose policy leaves its use to IAM (KMS's default
/// key policy), so only the creator's IAM policy can grant it.
fn creator_without(action: &str, own_key: bool) -> (Run, PathBuf) {
    let run = Run::new(Account::new());
    let profile = existing_creator_profile(&run.account, run.dir.path());
    if own_key {
        let kms = aws_sdk_kms::Client::new(&run.account.sdk("us-west-2"));
        let key = block_on(kms.create_key().send()).unwrap();
        let arn = key.key_metadata().unwrap().arn().unwrap().to_string();
        let text = std::fs::read_to_string(&profile).unwrap();
        std::fs::write(&profile, format!("{text}secrets_key = \"{arn}\"\n")).unwrap();
    }
    run.account.authorize(&profile, &[]);
    let mut creator = printed_policy(&run.account, &profile, &[], "creator");
    for statement in creator["Statement"].as_array_mut().unwrap() {
        match &mut statement["Action"] {
            Value::Array(actions) => actions.retain(|a| a != action),
            Value::String(a) if a == action => statement["Action"] = Value::Array(vec![]),
            _ => {}
        }
    }
    creator["Statement"]
        .as_array_mut()
        .unwrap()
        .retain(|s| s["Action"] != Value::Array(vec![]));
    put_role_policy(&run.account, "team-creator", &creator);
    (run, profile)
}

#[test]
fn a_creator_without_pass_role_is_denied_when_eks_checks_it() {
    let (run, profile) = creator_without("iam:PassRole", false);
    create_is_denied(&run, &profile, "iam:PassRole", ":role/dev-cluster");
    assert_eq!(ours(&run.account, "dev", "us-west-2")["clusters"], 0);
}

#[test]
fn a_creator_without_create_grant_on_the_key_is_denied_when_eks_checks_it() {
    let (run, profile) = creator_without("kms:CreateGrant", true);
    create_is_denied(&run, &profile, "kms:CreateGrant", ":key/");
    assert_eq!(ours(&run.account, "dev", "us-west-2")["clusters"], 0);
}

#[test]
fn a_trust_policy_naming_someone_else_is_denied() {
    let run = Run::new(Account::new());
    let profile = existing_creator_profile(&run.account, run.dir.path());
    run.account.authorize(&profile, &[]);
    let id = &run.account.id;
    let trust = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"AWS": format!("arn:aws:iam::{id}:root")},
            "Action": "sts:AssumeRole",
            "Condition": {"ArnEquals": {"aws:PrincipalArn": format!("arn:aws:iam::{id}:user/someone-else")}}
        }]
    });
    let iam = aws_sdk_iam::Client::new(&run.account.sdk("us-east-1"));
    block_on(
        iam.update_assume_role_policy()
            .role_name("team-creator")
            .policy_document(trust.to_string())
            .send(),
    )
    .unwrap();
    create_is_denied(
        &run,
        &profile,
        "sts:AssumeRole",
        ":role/platform/team-creator",
    );
}

// ---------------------------------------------------------------------------------------
// What the printed policies must never allow: acting on a key, an EKS resource, an alias or a
// subnet that is not this cluster's.

/// The error code of a denied SDK call, panicking if it was not denied.
fn denied<T, E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::fmt::Debug>(
    what: &str,
    result: Result<T, E>,
) {
    match result {
        Ok(_) => panic!("{what} was allowed"),
        Err(e) => {
            let code = e.code().unwrap_or_default().to_string();
            assert!(
                matches!(
                    code.as_str(),
                    "AccessDenied" | "AccessDeniedException" | "UnauthorizedOperation"
                ),
                "{what}: expected a denial, got {e:?}"
            );
        }
    }
}

#[test]
fn the_printed_policies_reach_nothing_of_another_cluster() {
    let run = Run::new(Account::new());
    let dev = root("profiles/dev.toml");
    run.create(&dev).success();
    let region = "us-west-2";
    let admin = run.account.sdk(region);
    let runner = run.account.runner_sdk(region);
    // Someone else's key, cluster and subnet in the same account.
    let (foreign_key, foreign_subnet) = block_on(async {
        let kms = aws_sdk_kms::Client::new(&admin);
        // Someone else's key, untagged, with KMS's default key policy (the account's IAM
        // policies decide): IAM cannot tell tagging it from CreateKey's tagging, so the caller
        // policy grants no kms:TagResource at all (eksboot tags its own key under that key's
        // policy).
        let key = kms.create_key().send().await.unwrap();
        let key = key.key_metadata().unwrap().key_id().to_string();
        let ec2 = aws_sdk_ec2::Client::new(&admin);
        let vpc = ec2
            .create_vpc()
            .cidr_block("10.99.0.0/16")
            .send()
            .await
            .unwrap();
        let vpc = vpc.vpc().unwrap().vpc_id().unwrap().to_string();
        let subnet = ec2
            .create_subnet()
            .vpc_id(&vpc)
            .cidr_block("10.99.1.0/24")
            .availability_zone("us-west-2a")
            .send()
            .await
            .unwrap();
        (
            key,
            subnet.subnet().unwrap().subnet_id().unwrap().to_string(),
        )
    });
    block_on(async {
        let kms = aws_sdk_kms::Client::new(&runner);
        let tag = aws_sdk_kms::types::Tag::builder()
            .tag_key("eksboot:cluster")
            .tag_value("dev")
            .build()
            .unwrap();
        denied(
            "tagging a foreign key as this cluster's",
            kms.tag_resource()
                .key_id(&foreign_key)
                .tags(tag)
                .send()
                .await,
        );
        denied(
            "scheduling a foreign key's deletion",
            kms.schedule_key_deletion()
                .key_id(&foreign_key)
                .pending_window_in_days(7)
                .send()
                .await,
        );
        denied(
            "pointing this cluster's alias at a foreign key",
            kms.update_alias()
                .alias_name("alias/eksboot/dev")
                .target_key_id(&foreign_key)
                .send()
                .await,
        );
    });
    // As the creator role: no tag on another cluster, no instance in a foreign subnet.
    let creator = run.account.assume(
        &runner,
        &format!("arn:aws:iam::{}:role/dev-creator", run.account.id),
        region,
    );
    let other_cluster = format!("arn:aws:eks:{region}:{}:cluster/other", run.account.id);
    block_on(async {
        let eks = aws_sdk_eks::Client::new(&creator);
        denied(
            "tagging another cluster",
            eks.tag_resource()
                .resource_arn(&other_cluster)
                .tags("eksboot:cluster", "dev")
                .send()
                .await,
        );
        let ec2 = aws_sdk_ec2::Client::new(&creator);
        let template = ec2
            .describe_launch_templates()
            .filters(crate::create::tag_filter("eksboot:cluster", "dev"))
            .send()
            .await
            .unwrap();
        let template = template.launch_templates()[0]
            .launch_template_id()
            .unwrap()
            .to_string();
        denied(
            "running instances from the node template in a foreign subnet",
            ec2.run_instances()
                .launch_template(
                    aws_sdk_ec2::types::LaunchTemplateSpecification::builder()
                        .launch_template_id(&template)
                        .build(),
                )
                .subnet_id(&foreign_subnet)
                .min_count(1)
                .max_count(1)
                .send()
                .await,
        );
    });
    // Still untagged: the denied TagResource changed nothing.
    let tags = block_on(
        aws_sdk_kms::Client::new(&admin)
            .list_resource_tags()
            .key_id(&foreign_key)
            .send(),
    )
    .unwrap();
    assert!(tags.tags().is_empty(), "{tags:?}");
    // Each was refused by IAM's evaluation (not by a missing resource), naming what it was.
    let denials = run.account.iam_denials();
    for (action, resource) in [
        ("kms:TagResource", foreign_key.as_str()),
        ("kms:ScheduleKeyDeletion", foreign_key.as_str()),
        ("kms:UpdateAlias", foreign_key.as_str()),
        ("eks:TagResource", other_cluster.as_str()),
        ("ec2:RunInstances", foreign_subnet.as_str()),
    ] {
        assert!(
            denials
                .iter()
                .any(|d| d.contains(&format!(" {action} ")) && d.contains(resource)),
            "{action} on {resource} not denied by IAM: {denials:#?}"
        );
    }
}
