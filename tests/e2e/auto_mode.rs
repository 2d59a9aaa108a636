//! EKS Auto Mode (issue 24), create side: an Auto Mode profile makes exactly an Auto Mode
//! cluster (its three capabilities, node pools and node role, the roles' policies and trust,
//! the private subnets only, no node group, no launch template, none of the add-ons Auto Mode
//! runs), a replay changes nothing, a run killed at a random point resumes to exactly the same,
//! and `apply` changes the node pools in place. Read back from AWS (the emulator) through the
//! SDK, never from eksboot's output.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::create::Run;
use crate::harness::{block_on, Account};
use crate::teardown::{assert_nothing_left, ours, teardown};

const REGION: &str = "us-west-2";

/// An Auto Mode profile: public and private subnets in three AZs, everything else defaulted.
fn auto_profile(name: &str, pools: Option<&str>) -> String {
    let pools = pools.map_or(String::new(), |p| format!("node_pools = {p}\n"));
    format!(
        "version = 1\n[cluster]\nname = \"{name}\"\nregion = \"{REGION}\"\ndeletion_protection = false\n[network]\npattern = \"public-and-private\"\navailability_zones = 3\n[nodes]\nmode = \"auto\"\n{pools}"
    )
}

fn write(run: &Run, text: &str) -> PathBuf {
    let path = run.dir.path().join("auto.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn args<'a>(run: &'a Run, command: &'a str, profile: &'a Path) -> Vec<String> {
    vec![
        command.into(),
        "--yes".into(),
        "--profile".into(),
        profile.to_str().unwrap().into(),
        "--state".into(),
        run.state().to_str().unwrap().into(),
        "--kubeconfig".into(),
        run.kubeconfig().to_str().unwrap().into(),
    ]
}

fn eksboot(run: &Run, command: &str, profile: &Path) -> assert_cmd::assert::Assert {
    run.account.authorize(profile, &[]);
    run.account
        .eksboot()
        .env("EKSBOOT_POLL_MS", "100")
        .env("EKSBOOT_RETRY_MS", "50")
        .args(args(run, command, profile))
        .assert()
}

fn cluster(account: &Account, name: &str) -> aws_sdk_eks::types::Cluster {
    let eks = aws_sdk_eks::Client::new(&account.sdk(REGION));
    block_on(eks.describe_cluster().name(name).send())
        .unwrap()
        .cluster()
        .unwrap()
        .clone()
}

fn attached(account: &Account, role: &str) -> BTreeSet<String> {
    let iam = aws_sdk_iam::Client::new(&account.sdk(REGION));
    block_on(iam.list_attached_role_policies().role_name(role).send())
        .unwrap()
        .attached_policies()
        .iter()
        .filter_map(|p| p.policy_name().map(str::to_string))
        .collect()
}

fn trust(account: &Account, role: &str) -> serde_json::Value {
    let iam = aws_sdk_iam::Client::new(&account.sdk(REGION));
    let role = block_on(iam.get_role().role_name(role).send()).unwrap();
    crate::create::decode(role.role().unwrap().assume_role_policy_document().unwrap())
}

/// The names (Name tag) of subnets by id.
fn subnet_names(account: &Account, ids: &[String]) -> BTreeSet<String> {
    let ec2 = aws_sdk_ec2::Client::new(&account.sdk(REGION));
    let out = block_on(
        ec2.describe_subnets()
            .set_subnet_ids(Some(ids.to_vec()))
            .send(),
    )
    .unwrap();
    out.subnets()
        .iter()
        .map(|s| {
            s.tags()
                .iter()
                .find(|t| t.key() == Some("Name"))
                .and_then(|t| t.value())
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

/// Everything an Auto Mode create must have made, read from AWS.
fn assert_auto_mode_cluster(account: &Account, name: &str, pools: &[&str]) {
    let c = cluster(account, name);
    let compute = c.compute_config().expect("computeConfig");
    assert_eq!(compute.enabled(), Some(true));
    assert_eq!(compute.node_pools(), pools);
    let node_role = compute.node_role_arn().unwrap_or_default().to_string();
    assert!(
        node_role.ends_with(&format!(":role/{name}-node")),
        "{node_role}"
    );
    assert_eq!(
        c.storage_config()
            .and_then(|s| s.block_storage())
            .and_then(|b| b.enabled()),
        Some(true)
    );
    assert_eq!(
        c.kubernetes_network_config()
            .and_then(|k| k.elastic_load_balancing())
            .and_then(|e| e.enabled()),
        Some(true)
    );
    // The private subnets only: Auto Mode's nodes land in the cluster's subnets.
    let subnets = c.resources_vpc_config().unwrap().subnet_ids().to_vec();
    let names = subnet_names(account, &subnets);
    let want: BTreeSet<String> = (1..=3).map(|az| format!("{name}-private-{az}")).collect();
    assert_eq!(names, want);
    // The roles: Auto Mode's policies, and the trust it needs.
    assert_eq!(
        attached(account, &format!("{name}-cluster")),
        [
            "AmazonEKSClusterPolicy",
            "AmazonEKSComputePolicy",
            "AmazonEKSBlockStoragePolicy",
            "AmazonEKSLoadBalancingPolicy",
            "AmazonEKSNetworkingPolicy"
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    );
    let cluster_trust = trust(account, &format!("{name}-cluster"));
    let statement = &cluster_trust["Statement"][0];
    assert_eq!(statement["Principal"]["Service"], "eks.amazonaws.com");
    assert_eq!(
        statement["Action"],
        serde_json::json!(["sts:AssumeRole", "sts:TagSession"])
    );
    assert_eq!(
        attached(account, &format!("{name}-node")),
        [
            "AmazonEC2ContainerRegistryPullOnly",
            "AmazonEKSWorkerNodeMinimalPolicy"
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    );
    let node_trust = trust(account, &format!("{name}-node"));
    assert_eq!(
        node_trust["Statement"][0]["Principal"]["Service"],
        "ec2.amazonaws.com"
    );
    // No node group, no launch template, none of the add-ons Auto Mode runs.
    let eks = aws_sdk_eks::Client::new(&account.sdk(REGION));
    let groups = block_on(crate::harness::all_nodegroups(&eks, name)).unwrap();
    assert!(groups.nodegroups().is_empty(), "{:?}", groups.nodegroups());
    let addons = block_on(crate::harness::all_addons(&eks, name)).unwrap();
    assert!(addons.addons().is_empty(), "{:?}", addons.addons());
    let ec2 = aws_sdk_ec2::Client::new(&account.sdk(REGION));
    let templates = block_on(
        ec2.describe_launch_templates()
            .filters(
                aws_sdk_ec2::types::Filter::builder()
                    .name("tag:eksboot:cluster")
                    .values(name)
                    .build(),
            )
            .send(),
    )
    .unwrap();
    assert!(templates.launch_templates().is_empty());
    // The nodes' access entry is EKS's own (type EC2), and there is exactly one.
    let entries = block_on(crate::harness::all_access_entries(&eks, name)).unwrap();
    let entries = entries.access_entries();
    assert_eq!(
        entries.iter().filter(|e| **e == node_role).count(),
        1,
        "{entries:?}"
    );
    let entry = block_on(
        eks.describe_access_entry()
            .cluster_name(name)
            .principal_arn(&node_role)
            .send(),
    )
    .unwrap();
    assert_eq!(entry.access_entry().unwrap().r#type(), Some("EC2"));
}

#[test]
fn an_auto_mode_profile_makes_exactly_that_replays_to_nothing_and_changes_its_pools() {
    let run = Run::new(Account::new());
    let name = "automode";
    let profile = write(&run, &auto_profile(name, None));
    eksboot(&run, "create", &profile).success();
    assert_auto_mode_cluster(&run.account, name, &["general-purpose", "system"]);
    let made = ours(&run.account, name, REGION);

    // Replayed: nothing new, nothing changed.
    eksboot(&run, "create", &profile).success();
    assert_eq!(ours(&run.account, name, REGION), made);
    assert_auto_mode_cluster(&run.account, name, &["general-purpose", "system"]);

    // Node pools changed by apply, in place (UpdateClusterConfig, waited).
    let fewer = write(&run, &auto_profile(name, Some("[\"general-purpose\"]")));
    let out = run
        .account
        .eksboot()
        .args(["plan", "--profile", fewer.to_str().unwrap(), "--state"])
        .arg(run.state())
        .assert()
        .success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(text.contains("nodes.node_pools"), "{text}");
    eksboot(&run, "apply", &fewer).success();
    assert_auto_mode_cluster(&run.account, name, &["general-purpose"]);
    assert_eq!(ours(&run.account, name, REGION), made);

    // Switching to a managed node group is refused, nothing touched.
    let managed = run.dir.path().join("managed.toml");
    std::fs::write(
        &managed,
        auto_profile(name, None).replace("mode = \"auto\"\n", "mode = \"managed\"\n"),
    )
    .unwrap();
    let out = eksboot(&run, "apply", &managed).failure();
    let text = String::from_utf8_lossy(&out.get_output().stderr).to_string()
        + &String::from_utf8_lossy(&out.get_output().stdout);
    assert!(text.contains("nodes.mode"), "{text}");
    assert!(text.contains("update-cluster-config"), "{text}");
    assert_auto_mode_cluster(&run.account, name, &["general-purpose"]);

    // Teardown: Auto Mode's volume is user data, so --force; then nothing is left.
    run.account.authorize(&fewer, &[]);
    teardown(&run, &["--force", "--state", run.state().to_str().unwrap()]).success();
    assert_nothing_left(&run.account, name, REGION);
}

#[test]
fn an_auto_mode_create_killed_at_a_random_point_resumes_to_exactly_the_same() {
    // The seed is printed, and taken from EKSBOOT_TEST_SEED to replay a failure.
    let seed: u64 = std::env::var("EKSBOOT_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .subsec_nanos() as u64
        });
    let clean = Run::new(Account::new());
    let name = "autokill";
    let profile = write(&clean, &auto_profile(name, None));
    eksboot(&clean, "create", &profile).success();
    let expected = ours(&clean.account, name, REGION);
    let total = clean.done_steps();
    // Killed once that many steps are done: anywhere from the first ones to the last few.
    let kill_at = 1 + (seed as usize) % (total.saturating_sub(2)).max(1);
    eprintln!("seed {seed}: killed after {kill_at} of {total} steps");

    let run = Run::new(Account::new());
    let profile = write(&run, &auto_profile(name, None));
    run.account.authorize(&profile, &[]);
    let mut child = run
        .account
        .command()
        .env("EKSBOOT_POLL_MS", "100")
        .env("EKSBOOT_RETRY_MS", "50")
        .args(args(&run, "create", &profile))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(240);
    while run.done_steps() < kill_at {
        assert!(
            Instant::now() < deadline,
            "seed {seed}: the run never reached {kill_at} steps"
        );
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
    run.account
        .eksboot()
        .env("EKSBOOT_POLL_MS", "100")
        .env("EKSBOOT_RETRY_MS", "50")
        .args([
            "resume",
            "--yes",
            "--state",
            run.state().to_str().unwrap(),
            "--kubeconfig",
            run.kubeconfig().to_str().unwrap(),
        ])
        .assert()
        .success();
    assert_eq!(ours(&run.account, name, REGION), expected, "seed {seed}");
    assert_auto_mode_cluster(&run.account, name, &["general-purpose", "system"]);
    teardown(&run, &["--force", "--state", run.state().to_str().unwrap()]).success();
    assert_nothing_left(&run.account, name, REGION);
    teardown(
        &clean,
        &["--force", "--state", clean.state().to_str().unwrap()],
    )
    .success();
}

#[test]
fn upgrading_an_auto_mode_cluster_moves_the_control_plane_and_says_aws_moves_the_nodes() {
    let run = Run::new(Account::new());
    let name = "autoup";
    // In public subnets this time: Auto Mode's nodes get public addresses there.
    let text = auto_profile(name, None)
        .replace(
            "deletion_protection = false\n",
            "deletion_protection = false\nkubernetes_version = \"1.34\"\n",
        )
        .replace("pattern = \"public-and-private\"", "pattern = \"public\"");
    let profile = write(&run, &text);
    eksboot(&run, "create", &profile).success();
    let out = run
        .account
        .eksboot()
        .env("EKSBOOT_POLL_MS", "100")
        .env("EKSBOOT_RETRY_MS", "50")
        .args([
            "upgrade",
            "--yes",
            "--profile",
            profile.to_str().unwrap(),
            "--state",
        ])
        .arg(run.state())
        .assert()
        .success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(
        text.contains("EKS Auto Mode then replaces its nodes"),
        "the order says who moves the nodes:\n{text}"
    );
    assert!(
        text.contains("Auto Mode moves its nodes to it"),
        "the result says so too:\n{text}"
    );
    // Read back: the control plane moved; Auto Mode is as it was; still no node group.
    let c = cluster(&run.account, name);
    assert_eq!(c.version(), Some("1.35"));
    let compute = c.compute_config().unwrap();
    assert_eq!(compute.node_pools(), ["general-purpose", "system"]);
    let subnets = c.resources_vpc_config().unwrap().subnet_ids().to_vec();
    let want: BTreeSet<String> = (1..=3).map(|az| format!("{name}-public-{az}")).collect();
    assert_eq!(subnet_names(&run.account, &subnets), want);
    // The profile says the new version.
    let written = std::fs::read_to_string(&profile).unwrap();
    assert!(
        written.contains("kubernetes_version = \"1.35\""),
        "{written}"
    );
    teardown(&run, &["--force", "--state", run.state().to_str().unwrap()]).success();
    assert_nothing_left(&run.account, name, REGION);
}

#[test]
fn a_private_auto_mode_cluster_with_an_add_on_of_its_own_is_made_and_torn_down() {
    let run = Run::new(Account::new());
    let name = "autopriv";
    let profile = write(
        &run,
        &format!(
            "version = 1\n[cluster]\nname = \"{name}\"\nregion = \"{REGION}\"\ndeletion_protection = false\naddons = [\"metrics-server\"]\n[network]\npattern = \"private\"\navailability_zones = 2\n[nodes]\nmode = \"auto\"\nnode_pools = [\"system\"]\n"
        ),
    );
    eksboot(&run, "create", &profile).success();
    let c = cluster(&run.account, name);
    let compute = c.compute_config().unwrap();
    assert_eq!(compute.node_pools(), ["system"]);
    // Private subnets only, and the endpoint private.
    let subnets = c.resources_vpc_config().unwrap().subnet_ids().to_vec();
    let want: BTreeSet<String> = (1..=2).map(|az| format!("{name}-private-{az}")).collect();
    assert_eq!(subnet_names(&run.account, &subnets), want);
    assert_eq!(
        c.resources_vpc_config().unwrap().endpoint_public_access(),
        false
    );
    // The add-on Auto Mode does not run is installed, and healthy once Auto Mode's node runs.
    let eks = aws_sdk_eks::Client::new(&run.account.sdk(REGION));
    let addons = block_on(crate::harness::all_addons(&eks, name)).unwrap();
    assert_eq!(addons.addons(), ["metrics-server"]);
    let addon = block_on(
        eks.describe_addon()
            .cluster_name(name)
            .addon_name("metrics-server")
            .send(),
    )
    .unwrap();
    assert_eq!(
        addon.addon().unwrap().status().map(|s| s.as_str()),
        Some("ACTIVE")
    );
    run.account.authorize(&profile, &[]);
    teardown(&run, &["--force", "--state", run.state().to_str().unwrap()]).success();
    assert_nothing_left(&run.account, name, REGION);
}

#[test]
fn the_example_auto_profile_is_made_protected_and_torn_down_to_nothing() {
    let run = Run::new(Account::new());
    let profile = crate::harness::root("profiles/auto.toml");
    eksboot(&run, "create", &profile).success();
    assert_auto_mode_cluster(&run.account, "auto", &["general-purpose", "system"]);
    assert_eq!(
        cluster(&run.account, "auto").deletion_protection(),
        Some(true)
    );
    // Protection is turned off after the confirmation, then everything goes.
    run.account.authorize(&profile, &[]);
    teardown(&run, &["--force", "--state", run.state().to_str().unwrap()]).success();
    assert_nothing_left(&run.account, "auto", REGION);
}
