//! Draining before a node group is deleted (issue 22): eksboot cordons the node group's nodes
//! and evicts their pods through the Kubernetes Eviction API, PodDisruptionBudgets honoured,
//! before DeleteNodegroup. Checked against the test API server (what was cordoned, evicted,
//! refused) and the emulator (which node groups exist, and their status at the first cordon).

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::create::Run;
use crate::harness::{block_on, Account, KubeApi};

const REGION: &str = "us-west-2";
const PROFILE: &str = r#"version = 1
[cluster]
name = "drained"
region = "us-west-2"
endpoint_access = "public-and-private"
public_access_cidrs = ["0.0.0.0/0"]
addons = ["vpc-cni", "kube-proxy", "coredns"]
oidc_provider = false
[network]
pattern = "public"
vpc_cidr = "10.30.0.0/16"
availability_zones = 2
[nodes]
instance_types = ["t3.medium"]
min_size = 1
desired_size = 2
max_size = 3
"#;

fn write_profile(run: &Run, text: &str) -> PathBuf {
    let path = run.dir.path().join("drained.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// The cluster's node groups and their status, read from EKS.
fn nodegroups(account: &Account) -> Vec<(String, String)> {
    let eks = aws_sdk_eks::Client::new(&account.sdk(REGION));
    let names = block_on(
        eks.list_nodegroups()
            .cluster_name("drained")
            .into_paginator()
            .items()
            .send()
            .collect::<Vec<_>>(),
    );
    let mut out = Vec::new();
    for name in names {
        let name = name.unwrap();
        let ng = block_on(
            eks.describe_nodegroup()
                .cluster_name("drained")
                .nodegroup_name(&name)
                .send(),
        )
        .unwrap();
        let status = ng
            .nodegroup()
            .and_then(|n| n.status())
            .map(|s| s.as_str().to_string())
            .unwrap_or_default();
        out.push((name, status));
    }
    out.sort();
    out
}

/// A created cluster whose DescribeCluster points at a fresh test API server, with two nodes of
/// its node group: web-1 (ReplicaSet, protected by budget `web`), aws-node-1 (DaemonSet) and a
/// static pod's mirror on the first, a bare pod on the second; web-2 runs on a node elsewhere.
fn cluster_with_workloads() -> (Run, PathBuf, KubeApi, String) {
    let run = Run::new(Account::new());
    let profile = write_profile(&run, PROFILE);
    run.create(&profile).success();
    let groups = nodegroups(&run.account);
    assert_eq!(groups.len(), 1, "{groups:?}");
    let old = groups[0].0.clone();
    let api = KubeApi::start();
    api.serve_cluster(&run.account, REGION, "drained");
    api.add_node("ip-10-30-0-11", &old);
    api.add_node("ip-10-30-1-12", &old);
    api.add_node("ip-10-30-9-99", "elsewhere");
    api.add_pod("web-1", "ip-10-30-0-11", "web", Some("ReplicaSet"), false);
    api.add_pod(
        "aws-node-1",
        "ip-10-30-0-11",
        "aws-node",
        Some("DaemonSet"),
        false,
    );
    api.add_pod(
        "kube-proxy-static",
        "ip-10-30-0-11",
        "kube-proxy",
        None,
        true,
    );
    api.add_pod("debug", "ip-10-30-1-12", "debug", None, false);
    api.add_pod("web-2", "ip-10-30-9-99", "web", Some("ReplicaSet"), false);
    // Two healthy `web` pods and a budget of two: evicting web-1 is refused until a third runs.
    api.add_pdb("web", "web", 2);
    (run, profile, api, old)
}

fn apply_command(run: &Run, profile: &std::path::Path, extra: &[&str]) -> std::process::Command {
    run.account.authorize(profile, &[]);
    let mut cmd = run.account.command();
    cmd.env("EKSBOOT_POLL_MS", "100")
        .arg("apply")
        .arg("--profile")
        .arg(profile)
        .arg("--state")
        .arg(run.state())
        .args(["--yes", "--kubeconfig"])
        .arg(run.kubeconfig())
        .args(extra);
    cmd
}

fn names(events: &[serde_json::Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["pod"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn a_replacement_drains_the_old_node_group_through_the_eviction_api_waiting_for_a_budget() {
    let (run, profile, api, old) = cluster_with_workloads();
    api.record_nodegroups_at_cordon(&run.account, REGION, "drained");
    write_profile(
        &run,
        &PROFILE.replace(r#"["t3.medium"]"#, r#"["m6i.large"]"#),
    );
    let mut child = apply_command(&run, &profile, &["--drain-timeout", "5m"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    // The budget refuses web-1: eksboot keeps asking, and the old node group stays.
    let deadline = Instant::now() + Duration::from_secs(180);
    while api.events("refused").is_empty() {
        assert!(
            child.try_wait().unwrap().is_none(),
            "apply ended before any eviction was refused: {:?}",
            child.wait_with_output()
        );
        assert!(
            Instant::now() < deadline,
            "no eviction was refused within 3 minutes"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        child.try_wait().unwrap().is_none(),
        "apply did not wait for the budget"
    );
    assert!(
        nodegroups(&run.account)
            .iter()
            .any(|(n, s)| *n == old && s == "ACTIVE"),
        "the old node group was deleted while a budget refused"
    );

    // A third web pod runs elsewhere (as its ReplicaSet would make it): the budget allows one.
    api.add_pod("web-3", "ip-10-30-9-99", "web", Some("ReplicaSet"), false);
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "apply: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // Both old nodes cordoned, the other node not; at the first cordon the new node group was
    // ACTIVE beside the old one.
    let cordoned: Vec<String> = api
        .events("cordon")
        .iter()
        .map(|e| e["node"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(cordoned, ["ip-10-30-0-11", "ip-10-30-1-12"]);
    let at_cordon = &api.events("nodegroups")[0];
    let statuses = at_cordon["statuses"]
        .as_object()
        .unwrap_or_else(|| panic!("{at_cordon}"));
    assert_eq!(statuses.len(), 2, "{at_cordon}");
    assert!(statuses.values().all(|s| s == "ACTIVE"), "{at_cordon}");
    // Every pod but the DaemonSet's and the static one was evicted through the API; web-1
    // only after the budget refused it.
    let evicted = names(&api.events("evicted"));
    assert_eq!(
        evicted.iter().filter(|n| *n == "web-1").count(),
        1,
        "{evicted:?}"
    );
    assert!(evicted.contains(&"debug".to_string()), "{evicted:?}");
    assert!(
        !evicted
            .iter()
            .any(|n| n == "aws-node-1" || n == "kube-proxy-static"),
        "{evicted:?}"
    );
    let refused = names(&api.events("refused"));
    assert!(refused.iter().all(|n| n == "web-1"), "{refused:?}");
    let left = api.state()["pods"].clone();
    for pod in [
        "default/aws-node-1",
        "default/kube-proxy-static",
        "default/web-2",
        "default/web-3",
    ] {
        assert!(
            left.as_array().unwrap().iter().any(|p| p == pod),
            "{pod} is gone: {left}"
        );
    }
    // Every API call carried eksboot's EKS token.
    let log = std::fs::read_to_string(api.log.path()).unwrap();
    assert!(
        log.lines()
            .filter(|l| !l.is_empty())
            .all(|l| l.starts_with("Bearer k8s-aws-v1.")),
        "{log}"
    );

    // Only the new node group is left in EKS.
    let groups = nodegroups(&run.account);
    assert_eq!(groups.len(), 1, "{groups:?}");
    assert_ne!(groups[0].0, old);
}

#[test]
fn a_budget_that_keeps_refusing_stops_the_run_until_force() {
    let (run, profile, api, old) = cluster_with_workloads();
    let off = PROFILE.replace("[nodes]\n", "[nodes]\nenabled = false\n");
    write_profile(&run, &off);
    let out = apply_command(&run, &profile, &["--drain-timeout", "2s"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("PodDisruptionBudget web"), "{stderr}");
    assert!(stderr.contains("default/web-1"), "{stderr}");
    assert!(stderr.contains("--force"), "{stderr}");
    assert_eq!(
        nodegroups(&run.account),
        [(old.clone(), "ACTIVE".to_string())]
    );
    assert!(!api.events("refused").is_empty());

    let out = apply_command(&run, &profile, &["--drain-timeout", "1s", "--force"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(nodegroups(&run.account).is_empty());
    // The budget still held web-1: it was never evicted.
    assert!(!names(&api.events("evicted")).contains(&"web-1".to_string()));
}

#[test]
fn an_api_eksboot_cannot_reach_stops_apply_before_any_change_unless_force() {
    let run = Run::new(Account::new());
    let profile = write_profile(&run, PROFILE);
    run.create(&profile).success();
    let old = nodegroups(&run.account)[0].0.clone();
    // The emulator's own endpoint (a made-up eks.amazonaws.com name) answers nobody.
    let off = PROFILE
        .replace("[nodes]\n", "[nodes]\nenabled = false\n")
        .replace(r#"["0.0.0.0/0"]"#, r#"["198.51.100.0/24"]"#);
    write_profile(&run, &off);
    let out = apply_command(&run, &profile, &[]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("cannot drain the node group"), "{stderr}");
    assert!(stderr.contains("--force"), "{stderr}");
    // Nothing changed: the node group and the endpoint's CIDRs are as they were.
    assert_eq!(nodegroups(&run.account), [(old, "ACTIVE".to_string())]);
    let eks = aws_sdk_eks::Client::new(&run.account.sdk(REGION));
    let cluster = block_on(eks.describe_cluster().name("drained").send()).unwrap();
    let cidrs = cluster
        .cluster()
        .unwrap()
        .resources_vpc_config()
        .unwrap()
        .public_access_cidrs()
        .to_vec();
    assert_eq!(cidrs, ["0.0.0.0/0"]);

    let out = apply_command(&run, &profile, &["--force"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("EKS drains"), "{stdout}");
    assert!(nodegroups(&run.account).is_empty());
}
