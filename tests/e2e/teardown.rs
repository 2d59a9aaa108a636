//! Resume and teardown against the emulator: after teardown the account holds none of our
//! resources (checked through the SDK); a run killed at any moment resumes to exactly one of
//! each resource; teardown works without the state file and finishes a partial teardown.

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::create::{tag_filter, Run};
use crate::harness::{block_on, root, Account, Moto};

/// Everything of ours still in the account, by kind (live things only).
pub fn ours(account: &Account, cluster: &str, region: &str) -> BTreeMap<&'static str, usize> {
    let config = account.sdk(region);
    let ec2 = aws_sdk_ec2::Client::new(&config);
    let iam = aws_sdk_iam::Client::new(&config);
    let kms = aws_sdk_kms::Client::new(&config);
    let eks = aws_sdk_eks::Client::new(&config);
    let logs = aws_sdk_cloudwatchlogs::Client::new(&config);
    let tag = tag_filter("eksboot:cluster", cluster);
    block_on(async {
        let mut n = BTreeMap::new();
        ec2_counts(&ec2, &tag, &mut n).await;
        identity_counts(&iam, &kms, &logs, &eks, cluster, &mut n).await;
        if eks.describe_cluster().name(cluster).send().await.is_ok() {
            n.insert(
                "nodegroups",
                crate::harness::all_nodegroups(&eks, cluster)
                    .await
                    .unwrap()
                    .nodegroups()
                    .len(),
            );
            n.insert(
                "addons",
                crate::harness::all_addons(&eks, cluster)
                    .await
                    .unwrap()
                    .addons()
                    .len(),
            );
            n.insert(
                "access entries",
                crate::harness::all_access_entries(&eks, cluster)
                    .await
                    .unwrap()
                    .access_entries()
                    .len(),
            );
        }
        n
    })
}

/// Our EC2 resources still in the account, by kind (tagged, or live where untagged).
async fn ec2_counts(
    ec2: &aws_sdk_ec2::Client,
    tag: &aws_sdk_ec2::types::Filter,
    n: &mut BTreeMap<&'static str, usize>,
) {
    n.insert(
        "vpcs",
        ec2.describe_vpcs()
            .filters(tag.clone())
            .send()
            .await
            .unwrap()
            .vpcs()
            .len(),
    );
    let non_default_vpcs = ec2
        .describe_vpcs()
        .send()
        .await
        .unwrap()
        .vpcs()
        .iter()
        .filter(|v| v.is_default() != Some(true))
        .count();
    n.insert("non-default vpcs", non_default_vpcs);
    n.insert(
        "subnets",
        ec2.describe_subnets()
            .filters(tag.clone())
            .send()
            .await
            .unwrap()
            .subnets()
            .len(),
    );
    n.insert(
        "internet gateways",
        ec2.describe_internet_gateways()
            .filters(tag.clone())
            .send()
            .await
            .unwrap()
            .internet_gateways()
            .len(),
    );
    n.insert(
        "addresses",
        ec2.describe_addresses()
            .send()
            .await
            .unwrap()
            .addresses()
            .len(),
    );
    let nats = ec2.describe_nat_gateways().send().await.unwrap();
    n.insert(
        "nat gateways",
        nats.nat_gateways()
            .iter()
            .filter(|g| !matches!(g.state().unwrap().as_str(), "deleted" | "deleting"))
            .count(),
    );
    n.insert(
        "vpc endpoints",
        ec2.describe_vpc_endpoints()
            .send()
            .await
            .unwrap()
            .vpc_endpoints()
            .iter()
            .filter(|e| {
                !matches!(
                    e.state().unwrap().as_str().to_lowercase().as_str(),
                    "deleted" | "deleting"
                )
            })
            .count(),
    );
    n.insert(
        "route tables",
        ec2.describe_route_tables()
            .filters(tag.clone())
            .send()
            .await
            .unwrap()
            .route_tables()
            .len(),
    );
    n.insert(
        "security groups",
        ec2.describe_security_groups()
            .filters(tag.clone())
            .send()
            .await
            .unwrap()
            .security_groups()
            .len(),
    );
    n.insert(
        "launch templates",
        ec2.describe_launch_templates()
            .send()
            .await
            .unwrap()
            .launch_templates()
            .len(),
    );
}

/// Our roles, OIDC providers, log groups, clusters and live customer keys.
async fn identity_counts(
    iam: &aws_sdk_iam::Client,
    kms: &aws_sdk_kms::Client,
    logs: &aws_sdk_cloudwatchlogs::Client,
    eks: &aws_sdk_eks::Client,
    cluster: &str,
    n: &mut BTreeMap<&'static str, usize>,
) {
    n.insert(
        "roles",
        iam.list_roles()
            .send()
            .await
            .unwrap()
            .roles()
            .iter()
            .filter(|r| r.role_name().starts_with(cluster))
            .count(),
    );
    // IAM is global: this cluster's providers are those tagged with its name.
    let mut providers = 0;
    for p in iam
        .list_open_id_connect_providers()
        .send()
        .await
        .unwrap()
        .open_id_connect_provider_list()
    {
        let tags = iam
            .list_open_id_connect_provider_tags()
            .open_id_connect_provider_arn(p.arn().unwrap())
            .send()
            .await
            .unwrap();
        if tags
            .tags()
            .iter()
            .any(|t| t.key() == "eksboot:cluster" && t.value() == cluster)
        {
            providers += 1;
        }
    }
    n.insert("oidc providers", providers);
    n.insert(
        "log groups",
        logs.describe_log_groups()
            .send()
            .await
            .unwrap()
            .log_groups()
            .len(),
    );
    n.insert(
        "clusters",
        eks.list_clusters().send().await.unwrap().clusters().len(),
    );
    let mut live_keys = 0;
    for k in kms.list_keys().send().await.unwrap().keys() {
        let meta = kms
            .describe_key()
            .key_id(k.key_id().unwrap())
            .send()
            .await
            .unwrap();
        let meta = meta.key_metadata().unwrap();
        // AWS's own keys (alias/aws/ebs, made with the first encrypted volume) are nobody's.
        let customer = meta.key_manager().map(|m| m.as_str()) != Some("AWS");
        if customer && meta.key_state().unwrap().as_str() != "PendingDeletion" {
            live_keys += 1;
        }
    }
    n.insert("live keys", live_keys);
}

pub fn assert_nothing_left(account: &Account, cluster: &str, region: &str) {
    let left: BTreeMap<_, _> = ours(account, cluster, region)
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

pub fn teardown(run: &Run, extra: &[&str]) -> assert_cmd::assert::Assert {
    run.account
        .eksboot()
        .env("EKSBOOT_POLL_MS", "100")
        .env("EKSBOOT_RETRY_MS", "50")
        .arg("teardown")
        .arg("--yes")
        .arg("--kubeconfig")
        .arg(run.kubeconfig())
        .args(extra)
        .assert()
}

fn create_then_teardown(profile: &str, cluster: &str, region: &str) {
    let run = Run::new(Account::new());
    run.create(&root(profile)).success();
    let out = teardown(&run, &["--state", run.state().to_str().unwrap()]).success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(text.contains("Nothing is left"), "{text}");
    assert!(text.contains("deletion scheduled in 7 days"), "{text}");
    assert_nothing_left(&run.account, cluster, region);
    assert!(
        !run.state().exists(),
        "the state file is removed after a complete teardown"
    );
    let kube = std::fs::read_to_string(run.kubeconfig()).unwrap();
    assert!(
        !kube.contains(&format!("cluster/{cluster}")),
        "our kubeconfig entries are gone:\n{kube}"
    );
    // The key waits for deletion; its alias is gone so the name can be used again.
    let kms = aws_sdk_kms::Client::new(&run.account.sdk(region));
    block_on(async {
        let keys = kms.list_keys().send().await.unwrap();
        assert_eq!(keys.keys().len(), 1);
        let meta = kms
            .describe_key()
            .key_id(keys.keys()[0].key_id().unwrap())
            .send()
            .await
            .unwrap();
        let meta = meta.key_metadata().unwrap();
        assert_eq!(meta.key_state().unwrap().as_str(), "PendingDeletion");
        // "deletion scheduled in 7 days", as KMS has it: the shortest waiting period, read back
        // from DescribeKey rather than from eksboot's words.
        let in_days = (meta.deletion_date().expect("a deletion date").secs()
            - aws_smithy_types::DateTime::from(std::time::SystemTime::now()).secs())
            as f64
            / 86_400.0;
        assert!((6.9..=7.0).contains(&in_days), "deletion in {in_days} days");
        assert_eq!(
            crate::harness::error_code(
                kms.describe_key()
                    .key_id(format!("alias/eksboot/{cluster}"))
                    .send()
                    .await
            ),
            "NotFoundException"
        );
    });
    // Running it again is fine: nothing to do.
    teardown(&run, &["--cluster", cluster, "--region", region]).success();
}

#[test]
fn production_teardown_leaves_nothing() {
    create_then_teardown("profiles/production.toml", "production", "us-east-1");
}

#[test]
fn dev_teardown_leaves_nothing() {
    create_then_teardown("profiles/dev.toml", "dev", "us-west-2");
}

#[test]
fn private_teardown_leaves_nothing() {
    create_then_teardown("profiles/private.toml", "private", "eu-west-1");
}

#[test]
fn teardown_from_tags_alone_after_losing_the_state_file() {
    let run = Run::new(Account::new());
    run.create(&root("profiles/production.toml")).success();
    std::fs::remove_file(run.state()).unwrap();
    teardown(&run, &["--cluster", "production", "--region", "us-east-1"]).success();
    assert_nothing_left(&run.account, "production", "us-east-1");
}

#[test]
fn teardown_never_touches_what_eksboot_did_not_make() {
    let run = Run::new(Account::new());
    let account = run.account.id.clone();
    let config = run.account.sdk("us-west-2");
    let key_arn = block_on(async {
        aws_sdk_iam::Client::new(&config)
            .create_role()
            .role_name("shared-creator")
            .assume_role_policy_document(run.account.trust_runner())
            .send()
            .await
            .unwrap();
        let key = aws_sdk_kms::Client::new(&config)
            .create_key()
            .send()
            .await
            .unwrap();
        key.key_metadata().unwrap().arn().unwrap().to_string()
    });
    let profile = run.dir.path().join("byo.toml");
    std::fs::write(
        &profile,
        format!(
            "[cluster]\nname = \"byo\"\nregion = \"us-west-2\"\n[security]\ncreator_role = \"arn:aws:iam::{account}:role/shared-creator\"\n\
             secrets_key = \"{key_arn}\"\n[network]\npattern = \"public\"\n"
        ),
    )
    .unwrap();
    crate::least_privilege::attach_printed_creator_policy(&run.account, "shared-creator", &profile);
    run.create(&profile).success();
    teardown(&run, &["--state", run.state().to_str().unwrap()]).success();
    block_on(async {
        assert!(aws_sdk_iam::Client::new(&config)
            .get_role()
            .role_name("shared-creator")
            .send()
            .await
            .is_ok());
        let key = aws_sdk_kms::Client::new(&config)
            .describe_key()
            .key_id(&key_arn)
            .send()
            .await
            .unwrap();
        assert_eq!(
            key.key_metadata().unwrap().key_state().unwrap().as_str(),
            "Enabled"
        );
    });
    assert!(iam_roles(&run.account, "us-west-2")
        .iter()
        .all(|r| !r.starts_with("byo-")));
}

fn iam_roles(account: &Account, region: &str) -> Vec<String> {
    let iam = aws_sdk_iam::Client::new(&account.sdk(region));
    block_on(async {
        iam.list_roles()
            .send()
            .await
            .unwrap()
            .roles()
            .iter()
            .map(|r| r.role_name().to_string())
            .collect()
    })
}

/// An event in the state file at which a test kills eksboot.
#[derive(Debug)]
enum KillAt {
    /// At least this many steps done.
    Done(usize),
    /// This step with this status (`running`, `done`).
    Step(&'static str, &'static str),
    /// This step still running, its resource made (recorded) and being waited for.
    Made(&'static str),
}

impl KillAt {
    fn reached(&self, run: &Run) -> bool {
        match self {
            KillAt::Done(n) => run.done_steps() >= *n,
            KillAt::Step(id, want) => run
                .journal_if_written()
                .is_some_and(|j| j["steps"][*id]["status"] == *want),
            KillAt::Made(id) => run.journal_if_written().is_some_and(|j| {
                j["steps"][*id]["status"] == "running" && !j["steps"][*id]["outputs"].is_null()
            }),
        }
    }
}

/// Starts eksboot with these arguments and kills it (SIGKILL) once `point` is reached (polled
/// every 10 ms; a run that ends first is simply waited for). Fails after 2 minutes with what it
/// waited for.
fn run_and_kill_when(run: &Run, args: &[&str], point: &KillAt) {
    let mut child = run.account.command();
    let mut child = child
        .current_dir(run.dir.path())
        .env("EKSBOOT_POLL_MS", "100")
        .env("EKSBOOT_RETRY_MS", "50")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while !point.reached(run) {
        if child.try_wait().unwrap().is_some() {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the run never reached {point:?} in 2 minutes"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn a_create_killed_again_and_again_resumes_to_exactly_one_of_each() {
    let server = Moto::start();
    server.set_transition("eks::cluster", 2);
    server.set_transition("eks::nodegroup", 1);
    server.set_transition("ec2::nat_gateway", 1);
    let run = Run::new(Account::on(&server));
    let profile = root("profiles/production.toml");
    run.account.authorize(&profile, &[]);
    let state = run.state();
    let kube = run.kubeconfig();
    let create_args: Vec<&str> = vec![
        "create",
        "--yes",
        "--profile",
        profile.to_str().unwrap(),
        "--state",
        state.to_str().unwrap(),
        "--kubeconfig",
        kube.to_str().unwrap(),
    ];
    let resume_args: Vec<&str> = vec![
        "resume",
        "--yes",
        "--state",
        state.to_str().unwrap(),
        "--kubeconfig",
        kube.to_str().unwrap(),
    ];
    // A dozen kill points, each an event in the state file (never a time, which a busy machine
    // stretches): from the first steps done to the cluster being made and the node group's wait.
    let points = [
        KillAt::Done(1),
        KillAt::Done(3),
        KillAt::Done(6),
        KillAt::Done(10),
        KillAt::Done(15),
        KillAt::Done(20),
        KillAt::Done(25),
        KillAt::Step("cluster", "running"),
        KillAt::Made("cluster"),
        KillAt::Step("cluster", "done"),
        KillAt::Made("nodegroup"),
        KillAt::Step("nodegroup", "done"),
        KillAt::Step("addon-coredns", "running"),
    ];
    let mut landed = Vec::new();
    for (i, point) in points.iter().enumerate() {
        let args = if i == 0 || !state.exists() {
            &create_args
        } else {
            &resume_args
        };
        run_and_kill_when(&run, args, point);
        landed.push(ours(&run.account, "production", "us-east-1"));
    }
    // The kills landed while things existed, including once the cluster was being made.
    let with_resources = landed
        .iter()
        .filter(|c| c.values().sum::<usize>() > 0)
        .count();
    assert!(with_resources >= 8, "{landed:?}");
    assert!(
        landed
            .iter()
            .any(|c| c["clusters"] == 1 && c.get("nodegroups").copied().unwrap_or(0) == 0),
        "a kill landed after the cluster existed and before the node group: {landed:?}"
    );
    // Resume to completion (a killed run's lock is taken over).
    let args = if state.exists() {
        &resume_args
    } else {
        &create_args
    };
    run.account
        .eksboot()
        .env("EKSBOOT_POLL_MS", "100")
        .args(args)
        .assert()
        .success();
    let counts = ours(&run.account, "production", "us-east-1");
    let expected = [
        ("vpcs", 1),
        ("subnets", 6),
        ("internet gateways", 1),
        ("addresses", 3),
        ("nat gateways", 3),
        ("route tables", 4),
        ("security groups", 1),
        ("launch templates", 1),
        ("roles", 4),
        ("oidc providers", 1),
        ("log groups", 1),
        ("clusters", 1),
        ("live keys", 1),
        ("nodegroups", 1),
        ("addons", 4),
        ("access entries", 3),
    ];
    for (kind, n) in expected {
        assert_eq!(counts[kind], n, "exactly one of each: {kind} in {counts:?}");
    }
    // Then teardown to zero.
    teardown(&run, &["--state", state.to_str().unwrap()]).success();
    assert_nothing_left(&run.account, "production", "us-east-1");
}

#[test]
fn a_teardown_interrupted_half_way_finishes_when_run_again() {
    let server = Moto::start();
    server.set_transition("eks::nodegroup-deletion", 2);
    server.set_transition("eks::cluster-deletion", 1);
    let run = Run::new(Account::on(&server));
    run.create(&root("profiles/dev.toml")).success();
    let state = run.state();
    // Killed half way, once AWS shows the node group DELETING (its deletion lasts 2 s; the
    // test looks every 50 ms rather than guessing when that is).
    let eks = aws_sdk_eks::Client::new(&run.account.sdk("us-west-2"));
    let mut child = run.account.command();
    let mut child = child
        .current_dir(run.dir.path())
        .env("EKSBOOT_POLL_MS", "100")
        .env("EKSBOOT_RETRY_MS", "50")
        .args(["teardown", "--yes", "--state", state.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        let status = block_on(
            eks.describe_nodegroup()
                .cluster_name("dev")
                .nodegroup_name("dev-default")
                .send(),
        )
        .ok()
        .and_then(|g| {
            g.nodegroup()
                .and_then(|n| n.status().map(|s| s.as_str().to_string()))
        });
        if status.as_deref() == Some("DELETING") {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "teardown ended before the node group was DELETING"
        );
        assert!(
            std::time::Instant::now() < deadline,
            "the node group was never DELETING"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(state.exists(), "a partial teardown keeps the state file");
    // The kill landed half way: the node group was being deleted, the VPC was still there.
    let group = block_on(
        eks.describe_nodegroup()
            .cluster_name("dev")
            .nodegroup_name("dev-default")
            .send(),
    );
    let deleting = match &group {
        Ok(g) => g.nodegroup().unwrap().status().unwrap().as_str() == "DELETING",
        Err(_) => true,
    };
    assert!(deleting, "{group:?}");
    assert_eq!(ours(&run.account, "dev", "us-west-2")["vpcs"], 1);
    teardown(&run, &["--state", state.to_str().unwrap()]).success();
    assert_nothing_left(&run.account, "dev", "us-west-2");
}

#[test]
fn status_lists_each_step_and_live_existence() {
    let run = Run::new(Account::new());
    run.create(&root("profiles/dev.toml")).success();
    let out = run
        .account
        .eksboot()
        .args(["status", "--live", "--state", run.state().to_str().unwrap()])
        .assert()
        .success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(text.contains("26 of 26 steps done."), "{text}");
    assert!(text.contains("vpc ") && text.contains("exists"), "{text}");
    assert!(!text.contains("not found"), "{text}");
}

#[test]
fn without_yes_and_without_a_terminal_teardown_refuses() {
    let run = Run::new(Account::new());
    run.account
        .eksboot()
        .args(["teardown", "--cluster", "dev", "--region", "us-west-2"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("--yes"));
}

#[test]
fn ctrl_c_stops_cleanly_with_exit_130_and_resume_finishes() {
    let server = Moto::start();
    server.set_transition("eks::cluster", 4);
    let run = Run::new(Account::on(&server));
    let profile = root("profiles/dev.toml");
    run.account.authorize(&profile, &[]);
    let state = run.state();
    let mut cmd = run.account.command();
    let child = cmd
        .env("EKSBOOT_POLL_MS", "100")
        .args([
            "create",
            "--yes",
            "--profile",
            profile.to_str().unwrap(),
            "--state",
            state.to_str().unwrap(),
        ])
        .arg("--kubeconfig")
        .arg(run.kubeconfig())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the cluster is being created, then press Ctrl-C once.
    let mut child = child;
    let stdout = child.stdout.take().unwrap();
    let mut seen = String::new();
    for line in std::io::BufRead::lines(std::io::BufReader::new(stdout)) {
        let line = line.unwrap();
        seen.push_str(&line);
        seen.push('\n');
        if line.contains("waiting eks-cluster") {
            let signal = Command::new("kill")
                .args(["-INT", &child.id().to_string()])
                .status()
                .unwrap();
            assert!(signal.success());
        }
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(
        out.status.code(),
        Some(130),
        "stderr: {stderr}\nstdout: {seen}"
    );
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert!(
        stderr.contains("eksboot resume") && stderr.contains("eksboot teardown"),
        "{stderr}"
    );
    // The journal is whole and resume finishes the job.
    let journal: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    assert_eq!(journal["steps"]["cluster"]["status"], "running");
    run.account
        .eksboot()
        .env("EKSBOOT_POLL_MS", "100")
        .args(["resume", "--yes", "--state", state.to_str().unwrap()])
        .args(["--no-switch-context", "--kubeconfig-auth", "aws-cli"])
        .arg("--kubeconfig")
        .arg(run.kubeconfig())
        .assert()
        .success();
    assert_eq!(ours(&run.account, "dev", "us-west-2")["clusters"], 1);
    let kube = std::fs::read_to_string(run.kubeconfig()).unwrap();
    assert!(kube.contains("get-token"), "{kube}");
    assert!(
        kube.contains("current-context: ''") || kube.contains("current-context: \"\""),
        "{kube}"
    );
}

/// A load balancer in the cluster's VPC, as the AWS Load Balancer Controller would make it.
pub fn load_balancer_in_vpc(
    account: &Account,
    cluster: &str,
    region: &str,
    tagged: bool,
) -> String {
    let config = account.sdk(region);
    let ec2 = aws_sdk_ec2::Client::new(&config);
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&config);
    block_on(async {
        let subnets = ec2
            .describe_subnets()
            .filters(tag_filter("eksboot:cluster", cluster))
            .send()
            .await
            .unwrap();
        let ids: Vec<String> = subnets
            .subnets()
            .iter()
            .map(|s| s.subnet_id().unwrap().to_string())
            .collect();
        let mut request = elb
            .create_load_balancer()
            .name("k8s-web-frontend")
            .set_subnets(Some(ids));
        if tagged {
            request = request.tags(
                aws_sdk_elasticloadbalancingv2::types::Tag::builder()
                    .key("elbv2.k8s.aws/cluster")
                    .value(cluster)
                    .build(),
            );
        }
        let out = request.send().await.unwrap();
        out.load_balancers()[0]
            .load_balancer_arn()
            .unwrap()
            .to_string()
    })
}

#[test]
fn load_balancers_kubernetes_made_are_named_first_and_force_deletes_them() {
    let run = Run::new(Account::new());
    run.create(&root("profiles/dev.toml")).success();
    load_balancer_in_vpc(&run.account, "dev", "us-west-2", true);
    let state = run.state();
    let before = ours(&run.account, "dev", "us-west-2");
    let out = teardown(&run, &["--state", state.to_str().unwrap()]).code(1);
    let text = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(text.contains("load-balancer k8s-web-frontend"), "{text}");
    assert!(
        text.contains("kubectl delete svc") && text.contains("--force"),
        "{text}"
    );
    assert!(
        String::from_utf8_lossy(&out.get_output().stderr).contains("nothing was deleted"),
        "{out:?}"
    );
    // Named before anything was deleted: the cluster still runs, so `kubectl delete svc` works.
    assert_eq!(ours(&run.account, "dev", "us-west-2"), before);
    assert!(state.exists());

    teardown(&run, &["--force", "--state", state.to_str().unwrap()]).success();
    assert_nothing_left(&run.account, "dev", "us-west-2");
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&run.account.sdk("us-west-2"));
    block_on(async {
        assert!(elb
            .describe_load_balancers()
            .send()
            .await
            .unwrap()
            .load_balancers()
            .is_empty());
    });
}

#[test]
fn on_a_terminal_teardown_asks_for_the_cluster_name() {
    let run = Run::new(Account::new());
    run.create(&root("profiles/dev.toml")).success();
    let state = run.state();
    let spawn = |typed: &str| {
        let mut cmd = run.account.command();
        cmd.env_remove("CI")
            .env("TERM", "xterm")
            .env("EKSBOOT_POLL_MS", "100")
            .args(["teardown", "--state", state.to_str().unwrap()]);
        let mut session = rexpect::session::spawn_command(cmd, Some(30_000)).unwrap();
        session.exp_string("will delete").unwrap();
        session.exp_string("Type the cluster name").unwrap();
        session.send_line(typed).unwrap();
        session
    };
    // A wrong name cancels: exit 130, nothing deleted.
    let mut wrong = spawn("prod");
    wrong.exp_eof().unwrap();
    match wrong.process().wait().unwrap() {
        rexpect::process::WaitStatus::Exited(_, code) => assert_eq!(code, 130),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(ours(&run.account, "dev", "us-west-2")["clusters"], 1);
    // The right name deletes it all.
    let mut right = spawn("dev");
    right.exp_string("Nothing is left").unwrap();
    right.exp_eof().unwrap();
    assert_nothing_left(&run.account, "dev", "us-west-2");
}
