//! `eksboot upgrade`: one minor version, control plane, add-ons and node group read back from
//! AWS; an ERROR insight refuses and `--ignore-insights` overrides; a stopped upgrade continues;
//! `status` says when standard support ends (with `EKSBOOT_NOW` as the clock).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::create::Run;
use crate::harness::{block_on, Account};

const PROFILE: &str = r#"version = 1
# The team's cluster: upgraded by eksboot, comments kept.
[cluster]
name = "upg"
region = "us-west-2"
kubernetes_version = "1.34"   # moved by `eksboot upgrade`
public_access_cidrs = ["0.0.0.0/0"]
support = "extended"   # the upgrade's extended-support cost line is part of what is checked
[network]
pattern = "public"
vpc_cidr = "10.40.0.0/16"
availability_zones = 2
[nodes]
instance_types = ["t3.medium"]
min_size = 1
desired_size = 1
max_size = 2
"#;

fn setup() -> (Run, PathBuf) {
    let run = Run::new(Account::new());
    let profile = run.dir.path().join("upg.toml");
    std::fs::write(&profile, PROFILE).unwrap();
    run.account.authorize(&profile, &[]);
    run.account
        .eksboot()
        .env("EKSBOOT_POLL_MS", "100")
        .args(["create", "--yes", "--profile"])
        .arg(&profile)
        .arg("--state")
        .arg(run.state())
        .arg("--kubeconfig")
        .arg(run.kubeconfig())
        .assert()
        .success();
    (run, profile)
}

fn upgrade(run: &Run, profile: &Path, extra: &[&str]) -> assert_cmd::assert::Assert {
    run.account
        .eksboot()
        .env("EKSBOOT_POLL_MS", "100")
        .args(["upgrade", "--yes", "--profile"])
        .arg(profile)
        .arg("--state")
        .arg(run.state())
        .args(extra)
        .assert()
}

fn status(run: &Run, now: &str) -> String {
    let out = run
        .account
        .eksboot()
        .env("EKSBOOT_NOW", now)
        .args(["status", "--state"])
        .arg(run.state())
        .assert()
        .success();
    String::from_utf8_lossy(&out.get_output().stdout).to_string()
}

/// The control plane's version, the node group's, and each add-on's version.
fn versions(account: &Account) -> (String, String, Vec<(String, String)>) {
    let eks = aws_sdk_eks::Client::new(&account.sdk("us-west-2"));
    block_on(async {
        let cluster = eks.describe_cluster().name("upg").send().await.unwrap();
        let cluster = cluster.cluster().unwrap().version().unwrap().to_string();
        let ng = eks
            .describe_nodegroup()
            .cluster_name("upg")
            .nodegroup_name("upg-default")
            .send()
            .await
            .unwrap();
        let ng = ng.nodegroup().unwrap().version().unwrap().to_string();
        let mut addons = Vec::new();
        for name in crate::harness::all_addons(&eks, "upg")
            .await
            .unwrap()
            .addons()
        {
            let a = eks
                .describe_addon()
                .cluster_name("upg")
                .addon_name(name)
                .send()
                .await
                .unwrap();
            addons.push((
                name.clone(),
                a.addon().unwrap().addon_version().unwrap().to_string(),
            ));
        }
        (cluster, ng, addons)
    })
}

/// The default version EKS offers of `addon` for `kubernetes`.
fn default_addon(account: &Account, addon: &str, kubernetes: &str) -> String {
    let eks = aws_sdk_eks::Client::new(&account.sdk("us-west-2"));
    let out = block_on(
        eks.describe_addon_versions()
            .addon_name(addon)
            .kubernetes_version(kubernetes)
            .send(),
    )
    .unwrap();
    out.addons()[0]
        .addon_versions()
        .iter()
        .find(|v| v.compatibilities().iter().any(|c| c.default_version()))
        .unwrap()
        .addon_version()
        .unwrap()
        .to_string()
}

/// The versions EKS offers of `addon` for `kubernetes`.
fn offered(account: &Account, addon: &str, kubernetes: &str) -> Vec<String> {
    let eks = aws_sdk_eks::Client::new(&account.sdk("us-west-2"));
    let out = block_on(
        eks.describe_addon_versions()
            .addon_name(addon)
            .kubernetes_version(kubernetes)
            .send(),
    )
    .unwrap();
    out.addons()[0]
        .addon_versions()
        .iter()
        .filter_map(|v| v.addon_version().map(str::to_string))
        .collect()
}

fn addon_version(account: &Account, addon: &str) -> String {
    versions(account)
        .2
        .into_iter()
        .find(|(n, _)| n == addon)
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("no {addon}"))
}

/// Moves an add-on through the emulator, as someone would by hand, and waits for it.
fn set_addon(account: &Account, addon: &str, version: &str) -> Result<(), String> {
    let eks = aws_sdk_eks::Client::new(&account.sdk("us-west-2"));
    block_on(async {
        eks.update_addon()
            .cluster_name("upg")
            .addon_name(addon)
            .addon_version(version)
            .send()
            .await
            .map_err(|e| {
                format!(
                    "{:?}",
                    aws_sdk_eks::error::ProvideErrorMetadata::message(&e)
                )
            })?;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let a = eks
                .describe_addon()
                .cluster_name("upg")
                .addon_name(addon)
                .send()
                .await
                .unwrap();
            if a.addon().unwrap().status().map(|s| s.as_str()) != Some("UPDATING") {
                return Ok(());
            }
            assert!(Instant::now() < deadline, "{addon} stays UPDATING");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
}

/// A POST to the emulator's control API.
fn control(account: &Account, path: &str, body: &str) {
    crate::harness::post(&account.endpoint, path, body);
}

#[test]
fn an_upgrade_moves_control_plane_add_ons_and_nodes_and_records_the_version() {
    let (run, profile) = setup();
    let before = status(&run, "2026-10-01T00:00:00Z");
    assert!(
        before.contains("Kubernetes 1.34: standard support ends 2026-12-02 (in 62 days)"),
        "{before}"
    );
    assert!(before.contains("warning"), "{before}");
    let quiet = status(&run, "2026-01-01T00:00:00Z");
    assert!(
        quiet.contains("standard support until 2026-12-02"),
        "{quiet}"
    );
    assert!(!quiet.contains("warning"), "{quiet}");

    let out = upgrade(&run, &profile, &[]).success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(text.contains("Kubernetes 1.34 → 1.35"), "{text}");
    assert!(text.contains("$365 a month more"), "{text}");
    assert!(text.contains("Upgrade insights"), "{text}");

    let (cluster, nodes, addons) = versions(&run.account);
    assert_eq!(cluster, "1.35");
    assert_eq!(nodes, "1.35");
    // `--addons compatible`: a version 1.35 supports is kept, the others move (here to 1.35's
    // default); every add-on runs a version 1.35 offers.
    for (name, version) in &addons {
        assert!(
            offered(&run.account, name, "1.35").contains(version),
            "{name} {version} runs on 1.35"
        );
    }
    assert_eq!(
        addon_version(&run.account, "kube-proxy"),
        default_addon(&run.account, "kube-proxy", "1.35")
    );
    assert!(
        text.contains("vpc-cni v1.19.6-eksbuild.1 → v1.20.4-eksbuild.1"),
        "{text}"
    );
    assert!(
        addons.contains(&("coredns".into(), "v1.12.1-eksbuild.2".into())),
        "coredns kept: {addons:?}"
    );
    // The profile says 1.35 now, everything else as it was; the state file too.
    let updated = std::fs::read_to_string(&profile).unwrap();
    assert_eq!(updated, PROFILE.replace("\"1.34\"", "\"1.35\""));
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.state()).unwrap()).unwrap();
    assert_eq!(state["settings"]["cluster"]["kubernetes_version"], "1.35");
    assert!(state.get("upgrade_target").is_none());
    let after = status(&run, "2026-10-01T00:00:00Z");
    assert!(
        after.contains("Kubernetes 1.35: standard support until 2027-03-27"),
        "{after}"
    );
    // The profile and the cluster agree again: nothing to apply, and AWS is asked nothing (the
    // emulator's log of the account's requests).
    let mark = crate::requests::mark(&run.account);
    run.account
        .eksboot()
        .args(["apply", "--yes", "--profile"])
        .arg(&profile)
        .arg("--state")
        .arg(run.state())
        .assert()
        .success()
        .stdout(predicates::str::contains("No changes"));
    crate::requests::assert_no_call_since(&run.account, mark, "an apply after the upgrade");
}

#[test]
fn an_error_insight_refuses_and_ignore_insights_goes_ahead() {
    let (run, profile) = setup();
    run.account.set_insight("upg", "deprecated-apis", "ERROR");
    let out = upgrade(&run, &profile, &[]).code(1);
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(
        stdout.contains("✗ Deprecated APIs removed in Kubernetes v1.35 [ERROR]"),
        "{stdout}"
    );
    assert!(
        stdout.contains("recommendation: Update manifests"),
        "{stdout}"
    );
    assert!(stderr.contains("--ignore-insights"), "{stderr}");
    assert_eq!(versions(&run.account).0, "1.34", "nothing changed");
    upgrade(&run, &profile, &["--ignore-insights"]).success();
    assert_eq!(versions(&run.account).0, "1.35");
}

#[test]
fn a_stopped_upgrade_continues_to_the_same_version() {
    let (run, profile) = setup();
    // The control plane's update stays InProgress until released: no window to catch.
    run.account.hold_updates("us-west-2", "upg", true);
    let mut child = run
        .account
        .command()
        .env("EKSBOOT_POLL_MS", "100")
        .args(["upgrade", "--yes", "--state"])
        .arg(run.state())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Stopped while the control plane is moving: EKS still reports the old version then.
    let eks = aws_sdk_eks::Client::new(&run.account.sdk("us-west-2"));
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let c = block_on(eks.describe_cluster().name("upg").send()).unwrap();
        let c = c.cluster().unwrap();
        if c.status().map(|s| s.as_str()) == Some("UPDATING") {
            assert_eq!(c.version(), Some("1.34"), "the old version while updating");
            break;
        }
        assert!(Instant::now() < deadline, "the upgrade never started");
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    run.account.hold_updates("us-west-2", "upg", false);
    assert_ne!(versions(&run.account).1, "1.35", "stopped before the nodes");
    let out = upgrade(&run, &profile, &[]).success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(
        text.contains("continuing an upgrade that stopped"),
        "{text}"
    );
    let (cluster, nodes, _) = versions(&run.account);
    assert_eq!((cluster.as_str(), nodes.as_str()), ("1.35", "1.35"));
}

/// Node groups a version behind their control plane (moved by hand) are brought to it first:
/// EKS would refuse the control plane's update otherwise.
#[test]
fn node_groups_behind_the_control_plane_are_brought_to_it_first() {
    let (run, profile) = setup();
    let eks = aws_sdk_eks::Client::new(&run.account.sdk("us-west-2"));
    block_on(async {
        let up = eks
            .update_cluster_version()
            .name("upg")
            .version("1.35")
            .send()
            .await
            .unwrap();
        crate::emulator::update_done(&eks, "upg", up.update().unwrap().id().unwrap()).await;
    });
    let (cluster, nodes, _) = versions(&run.account);
    assert_eq!((cluster.as_str(), nodes.as_str()), ("1.35", "1.34"));
    let out = upgrade(&run, &profile, &[]).success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(text.contains("Kubernetes 1.35"), "{text}");
    let (cluster, nodes, _) = versions(&run.account);
    assert_eq!((cluster.as_str(), nodes.as_str()), ("1.36", "1.36"));
}

/// A state file from before support dates were kept: `status` reads the date from EKS; with
/// `--output json` it is one more line.
#[test]
fn status_reads_the_support_date_from_eks_for_an_older_state_file() {
    let (run, _) = setup();
    let mut state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.state()).unwrap()).unwrap();
    assert_eq!(state["standard_support_ends"], "2026-12-02T00:00:00Z");
    state
        .as_object_mut()
        .unwrap()
        .remove("standard_support_ends");
    std::fs::write(run.state(), state.to_string()).unwrap();
    let text = status(&run, "2026-11-20T00:00:00Z");
    assert!(
        text.contains("warning: Kubernetes 1.34: standard support ends 2026-12-02 (in 12 days)"),
        "{text}"
    );
    let out = run
        .account
        .eksboot()
        .env("EKSBOOT_NOW", "2026-11-20T00:00:00Z")
        .args(["status", "--output", "json", "--state"])
        .arg(run.state())
        .assert()
        .success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    let line: serde_json::Value = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["event"] == "kubernetes_version")
        .unwrap_or_else(|| panic!("no version line in:\n{stdout}"));
    assert_eq!(line["event"], "kubernetes_version");
    assert_eq!(line["version"], "1.34");
    assert_eq!(line["warning"], true);
}

/// vpc-cni two minor versions behind: EKS moves it one at a time, and 1.35 does not offer the
/// middle one, so it steps before the control plane moves and again after; add-ons 1.35 supports
/// are left as they are.
#[test]
fn vpc_cni_two_minors_behind_steps_twice_and_compatible_add_ons_stay() {
    let (run, profile) = setup();
    set_addon(&run.account, "vpc-cni", "v1.18.6-eksbuild.3").unwrap();
    // EKS refuses the jump of two minor versions (the rule the steps follow).
    let refused = set_addon(&run.account, "vpc-cni", "v1.20.4-eksbuild.1").unwrap_err();
    assert!(refused.contains("1 minor version at a time"), "{refused}");
    let coredns = addon_version(&run.account, "coredns");
    let agent = addon_version(&run.account, "eks-pod-identity-agent");
    let out = upgrade(&run, &profile, &[]).success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(
        text.contains("vpc-cni v1.18.6-eksbuild.3 → v1.20.4-eksbuild.1, one minor version at a time: v1.19.6-eksbuild.1 (before the control plane), then v1.20.4-eksbuild.1"),
        "{text}"
    );
    assert_eq!(addon_version(&run.account, "vpc-cni"), "v1.20.4-eksbuild.1");
    assert_eq!(addon_version(&run.account, "coredns"), coredns, "untouched");
    assert_eq!(
        addon_version(&run.account, "eks-pod-identity-agent"),
        agent,
        "untouched"
    );
    assert!(
        text.contains(&format!("coredns {coredns}")),
        "kept, said: {text}"
    );
    assert_eq!(versions(&run.account).0, "1.35");
    // `--addons default` moves a supported add-on to the new default (never down).
    let out = upgrade(&run, &profile, &["--addons", "default"]).success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(
        text.contains(&format!("coredns {coredns} → v1.12.3-eksbuild.1")),
        "{text}"
    );
    assert_eq!(addon_version(&run.account, "coredns"), "v1.12.3-eksbuild.1");
    assert_eq!(addon_version(&run.account, "vpc-cni"), "v1.21.1-eksbuild.1");
}

/// EKS lists insights for more than one version: an ERROR about the version after the target
/// does not block this upgrade; it blocks the next one (EKS itself refuses without `force`), and
/// --ignore-insights sends `force`. A failed refresh is said.
#[test]
fn an_error_insight_for_a_later_version_does_not_block() {
    let (run, profile) = setup();
    run.account
        .set_insight("upg", "deprecated-apis@1.36", "ERROR");
    let out = upgrade(&run, &profile, &[]).success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(
        text.contains("Upgrade insights for Kubernetes 1.35"),
        "{text}"
    );
    assert!(!text.contains("v1.36 [ERROR]"), "{text}");
    assert_eq!(versions(&run.account).0, "1.35");

    // 1.35 → 1.36: blocked by eksboot's gate; EKS itself refuses UpdateClusterVersion too.
    let out = upgrade(&run, &profile, &[]).code(1);
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(
        stdout.contains("✗ Deprecated APIs removed in Kubernetes v1.36 [ERROR]"),
        "{stdout}"
    );
    let eks = aws_sdk_eks::Client::new(&run.account.sdk("us-west-2"));
    let refused = block_on(
        eks.update_cluster_version()
            .name("upg")
            .version("1.36")
            .send(),
    )
    .unwrap_err();
    assert_eq!(
        aws_sdk_eks::error::ProvideErrorMetadata::code(&refused),
        Some("InvalidStateException")
    );
    control(
        &run.account,
        "/eksboot-moto/insights-refresh-fault",
        &format!(r#"{{"account": "{}", "cluster": "upg"}}"#, run.account.id),
    );
    let out = upgrade(&run, &profile, &["--ignore-insights"]).success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(text.contains("refresh FAILED"), "{text}");
    assert_eq!(versions(&run.account).0, "1.36", "force was sent");
}

/// A rerun whose control plane already moved (past an ERROR insight, with --ignore-insights)
/// does not check the gate again: it finishes without --ignore-insights.
#[test]
fn a_rerun_after_the_control_plane_moved_finishes() {
    let (run, profile) = setup();
    run.account
        .set_insight("upg", "deprecated-apis@1.35", "ERROR");
    let mut child = run
        .account
        .command()
        .env("EKSBOOT_POLL_MS", "100")
        .args(["upgrade", "--yes", "--ignore-insights", "--state"])
        .arg(run.state())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let eks = aws_sdk_eks::Client::new(&run.account.sdk("us-west-2"));
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let c = block_on(eks.describe_cluster().name("upg").send()).unwrap();
        if c.cluster().unwrap().version() == Some("1.35") {
            break;
        }
        assert!(Instant::now() < deadline, "the control plane never moved");
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    let out = upgrade(&run, &profile, &[]).success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(text.contains("not checked again"), "{text}");
    let (cluster, nodes, _) = versions(&run.account);
    assert_eq!((cluster.as_str(), nodes.as_str()), ("1.35", "1.35"));
}
