//! Least privilege, proven enough: on an emulator of its own with IAM enforced, an IAM user
//! holding only the policy `eksboot permissions` prints creates each example profile (and one
//! without nodes, and one with an existing creator role) and tears it down again. The creator
//! role's own calls are checked against the policy eksboot wrote on it, and `sts:AssumeRole`
//! against its trust policy. AWS is read back with the harness's admin role.
//!
//! The emulator checks actions, not resources or conditions (moto matches most requests
//! against `*`); those are proven by the unit tests and parliament.

use std::path::{Path, PathBuf};
use std::thread;

use serde_json::Value;

use crate::create::Run;
use crate::harness::{bare_eksboot, block_on, root, Account, Moto, IAM_PROPAGATION_MS};
use crate::teardown::{assert_nothing_left, ours};

/// One scenario: a profile (with flags), in an account of its own.
struct Case {
    label: &'static str,
    profile: PathBuf,
    flags: Vec<&'static str>,
    cluster: &'static str,
    region: &'static str,
    run: Run,
    /// The IAM user eksboot runs as: access key id and secret.
    user_keys: (String, String),
}

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

/// An IAM user with only `policy`, and its keys.
fn user_with_policy(account: &Account, policy: &Value) -> (String, String) {
    let iam = aws_sdk_iam::Client::new(&account.sdk("us-east-1"));
    block_on(async {
        iam.create_user()
            .user_name("eksboot-runner")
            .send()
            .await
            .unwrap();
        iam.put_user_policy()
            .user_name("eksboot-runner")
            .policy_name("eksboot")
            .policy_document(policy.to_string())
            .send()
            .await
            .unwrap();
        let key = iam
            .create_access_key()
            .user_name("eksboot-runner")
            .send()
            .await
            .unwrap();
        let key = key.access_key().unwrap();
        (
            key.access_key_id().to_string(),
            key.secret_access_key().to_string(),
        )
    })
}

/// An existing creator role that the runner may assume, holding the policy
/// `eksboot permissions --for creator` prints; returns the profile naming it.
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
    let trust = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"AWS": format!("arn:aws:iam::{id}:root")},
            "Action": "sts:AssumeRole",
            "Condition": {"ArnEquals": {"aws:PrincipalArn": format!("arn:aws:iam::{id}:user/eksboot-runner")}}
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

fn case(
    server: &Moto,
    label: &'static str,
    profile: &str,
    flags: Vec<&'static str>,
    cluster: &'static str,
    region: &'static str,
) -> Case {
    let run = Run::new(Account::on(server));
    let profile = if profile == "existing-creator" {
        existing_creator_profile(&run.account, run.dir.path())
    } else {
        root(profile)
    };
    let policy = printed_policy(&run.account, &profile, &flags, "caller");
    let user_keys = user_with_policy(&run.account, &policy);
    Case {
        label,
        profile,
        flags,
        cluster,
        region,
        run,
        user_keys,
    }
}

/// Create, read AWS back, tear down, read AWS back: all as the runner user.
fn create_and_tear_down(c: &Case) {
    let (key, secret) = &c.user_keys;
    let state = c.run.state();
    let out = c
        .run
        .account
        .eksboot_as_user(key, secret)
        .env("EKSBOOT_POLL_MS", "100")
        .env("EKSBOOT_RETRY_MS", "50")
        .args(["create", "--yes", "--profile"])
        .arg(&c.profile)
        .args(&c.flags)
        .arg("--state")
        .arg(&state)
        .arg("--kubeconfig")
        .arg(c.run.kubeconfig())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "[{}] create with only the printed policy failed:\n{}\n{}",
        c.label,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let made = ours(&c.run.account, c.cluster, c.region);
    assert_eq!(made["clusters"], 1, "[{}] {made:?}", c.label);
    assert!(
        made["vpcs"] == 1 && made["subnets"] >= 2,
        "[{}] {made:?}",
        c.label
    );
    let eks = aws_sdk_eks::Client::new(&c.run.account.sdk(c.region));
    let nodegroups = block_on(eks.list_nodegroups().cluster_name(c.cluster).send())
        .unwrap()
        .nodegroups()
        .len();
    let nodes_wanted = !c.flags.contains(&"off");
    assert_eq!(nodegroups, usize::from(nodes_wanted), "[{}]", c.label);
    // The runner got its own access entry (made by the creator role).
    let entries = block_on(eks.list_access_entries().cluster_name(c.cluster).send()).unwrap();
    let runner = format!("arn:aws:iam::{}:user/eksboot-runner", c.run.account.id);
    assert!(
        entries.access_entries().contains(&runner),
        "[{}] {:?}",
        c.label,
        entries.access_entries()
    );

    if nodes_wanted {
        apply_a_change(c);
    }
    // A cluster made at an older version is upgraded with the printed policies too.
    if c.flags.contains(&"--kubernetes-version") {
        let version = |eks: &aws_sdk_eks::Client| {
            block_on(eks.describe_cluster().name(c.cluster).send())
                .unwrap()
                .cluster()
                .and_then(|c| c.version())
                .map(str::to_string)
                .unwrap()
        };
        let before = version(&eks);
        let out = c
            .run
            .account
            .eksboot_as_user(key, secret)
            .env("EKSBOOT_POLL_MS", "100")
            .args(["upgrade", "--yes", "--state"])
            .arg(&state)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "[{}] upgrade with only the printed policies failed:\n{}\n{}",
            c.label,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let (major, minor) = before.split_once('.').unwrap();
        let next = format!("{major}.{}", minor.parse::<u32>().unwrap() + 1);
        assert_eq!(version(&eks), next, "[{}]", c.label);
    }

    let out = c
        .run
        .account
        .eksboot_as_user(key, secret)
        .env("EKSBOOT_POLL_MS", "100")
        .env("EKSBOOT_RETRY_MS", "50")
        .args(["teardown", "--yes", "--state"])
        .arg(&state)
        .arg("--kubeconfig")
        .arg(c.run.kubeconfig())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "[{}] teardown with only the printed policy failed:\n{}\n{}",
        c.label,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_nothing_left(&c.run.account, c.cluster, c.region);
}

/// A day-two change as the runner user: a tighter endpoint, another log type, a new retention,
/// an add-on, a bigger node group on bigger disks. The printed policies cover `apply` too.
fn apply_a_change(c: &Case) {
    let (key, secret) = &c.user_keys;
    let text = std::fs::read_to_string(&c.profile).unwrap();
    let mut profile: toml::Table = text.parse().unwrap();
    let cluster = profile["cluster"].as_table_mut().unwrap();
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
    if let Some(i) = c.flags.iter().position(|f| *f == "--kubernetes-version") {
        cluster.insert(
            "kubernetes_version".into(),
            toml::Value::from(c.flags[i + 1]),
        );
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
    let nodes = profile
        .entry("nodes")
        .or_insert_with(|| toml::Value::Table(Default::default()))
        .as_table_mut()
        .unwrap();
    nodes.insert("max_size".into(), toml::Value::Integer(9));
    nodes.insert("disk_size_gib".into(), toml::Value::Integer(64));
    let changed = c.run.dir.path().join("changed.toml");
    std::fs::write(&changed, toml::to_string(&profile).unwrap()).unwrap();
    // Reading the running cluster for `plan --live` is allowed too.
    let out = c
        .run
        .account
        .eksboot_as_user(key, secret)
        .args(["plan", "--live", "--profile"])
        .arg(&changed)
        .arg("--state")
        .arg(c.run.state())
        .output()
        .unwrap();
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("cluster.addons"),
        "[{}] plan --live with only the printed policy failed:\n{}\n{}",
        c.label,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let out = c
        .run
        .account
        .eksboot_as_user(key, secret)
        .env("EKSBOOT_POLL_MS", "100")
        .args(["apply", "--yes", "--profile"])
        .arg(&changed)
        .arg("--state")
        .arg(c.run.state())
        .arg("--kubeconfig")
        .arg(c.run.kubeconfig())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "[{}] apply with only the printed policies failed:\n{}\n{}",
        c.label,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let eks = aws_sdk_eks::Client::new(&c.run.account.sdk(c.region));
    let cluster = block_on(eks.describe_cluster().name(c.cluster).send()).unwrap();
    let vpc = cluster.cluster().unwrap().resources_vpc_config().unwrap();
    if vpc.endpoint_public_access() {
        assert_eq!(
            vpc.public_access_cidrs(),
            ["203.0.113.0/24"],
            "[{}]",
            c.label
        );
    }
    let addons = block_on(eks.list_addons().cluster_name(c.cluster).send()).unwrap();
    assert!(
        addons.addons().contains(&"metrics-server".to_string()),
        "[{}] {:?}",
        c.label,
        addons.addons()
    );
}

#[test]
fn the_printed_policy_is_enough_to_create_and_tear_down_every_example() {
    let server = Moto::start();
    // Everything is set up before enforcement starts: the harness's bootstrap keys are not IAM
    // keys, so they stop working once it does.
    let cases = vec![
        case(
            &server,
            "production",
            "profiles/production.toml",
            vec![],
            "production",
            "us-east-1",
        ),
        case(
            &server,
            "dev",
            "profiles/dev.toml",
            vec!["--kubernetes-version", "1.35"],
            "dev",
            "us-west-2",
        ),
        case(
            &server,
            "private",
            "profiles/private.toml",
            vec![],
            "private",
            "eu-west-1",
        ),
        case(
            &server,
            "dev without nodes",
            "profiles/dev.toml",
            vec!["--nodes", "off"],
            "dev",
            "us-west-2",
        ),
        case(
            &server,
            "existing creator role",
            "existing-creator",
            vec![],
            "dev",
            "us-west-2",
        ),
    ];
    cases[0].run.account.enforce_iam_on_server();
    thread::scope(|scope| {
        for c in &cases {
            scope.spawn(move || create_and_tear_down(c));
        }
    });
}

/// A create run as the runner user that must fail naming `action`.
fn create_fails_naming(run: &Run, keys: &(String, String), profile: &Path, action: &str) {
    let out = run
        .account
        .eksboot_as_user(&keys.0, &keys.1)
        .env("EKSBOOT_RETRY_MS", "50")
        .env("EKSBOOT_POLL_MS", "100")
        .args(["create", "--yes", "--profile"])
        .arg(profile)
        .arg("--state")
        .arg(run.state())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains(action),
        "expected a denial of {action}:\n{text}"
    );
}

#[test]
fn with_iam_enforced_what_is_missing_is_denied_naming_the_action() {
    // Negative controls: the enforced test above would catch a permission missing from your
    // policy, from the creator's policy, or a trust policy that does not name you.
    let server = Moto::start();
    let dev = root("profiles/dev.toml");

    let yours = Run::new(Account::on(&server));
    let mut policy = printed_policy(&yours.account, &dev, &[], "caller");
    for statement in policy["Statement"].as_array_mut().unwrap() {
        if let Some(actions) = statement["Action"].as_array_mut() {
            actions.retain(|a| a != "ec2:CreateVpc");
        }
    }
    let your_keys = user_with_policy(&yours.account, &policy);

    let creators = Run::new(Account::on(&server));
    let creators_profile = existing_creator_profile(&creators.account, creators.dir.path());
    let creators_keys = user_with_policy(
        &creators.account,
        &printed_policy(&creators.account, &creators_profile, &[], "caller"),
    );
    let mut creator_policy = printed_policy(&creators.account, &creators_profile, &[], "creator");
    for statement in creator_policy["Statement"].as_array_mut().unwrap() {
        if let Some(actions) = statement["Action"].as_array_mut() {
            actions.retain(|a| a != "eks:CreateCluster");
        }
    }
    let iam = aws_sdk_iam::Client::new(&creators.account.sdk("us-east-1"));
    block_on(
        iam.put_role_policy()
            .role_name("team-creator")
            .policy_name("eks-creator")
            .policy_document(creator_policy.to_string())
            .send(),
    )
    .unwrap();

    let strangers = Run::new(Account::on(&server));
    let strangers_profile = existing_creator_profile(&strangers.account, strangers.dir.path());
    let strangers_keys = user_with_policy(
        &strangers.account,
        &printed_policy(&strangers.account, &strangers_profile, &[], "caller"),
    );
    let id = &strangers.account.id;
    let trust = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"AWS": format!("arn:aws:iam::{id}:root")},
            "Action": "sts:AssumeRole",
            "Condition": {"ArnEquals": {"aws:PrincipalArn": format!("arn:aws:iam::{id}:user/someone-else")}}
        }]
    });
    let iam = aws_sdk_iam::Client::new(&strangers.account.sdk("us-east-1"));
    block_on(
        iam.update_assume_role_policy()
            .role_name("team-creator")
            .policy_document(trust.to_string())
            .send(),
    )
    .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(IAM_PROPAGATION_MS));

    yours.account.enforce_iam_on_server();
    thread::scope(|scope| {
        scope.spawn(|| create_fails_naming(&yours, &your_keys, &dev, "ec2:CreateVpc"));
        scope.spawn(|| {
            create_fails_naming(
                &creators,
                &creators_keys,
                &creators_profile,
                "eks:CreateCluster",
            )
        });
        scope.spawn(|| {
            create_fails_naming(
                &strangers,
                &strangers_keys,
                &strangers_profile,
                "sts:AssumeRole",
            )
        });
    });
}
