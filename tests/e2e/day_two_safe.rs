//! Day two that cannot hurt a running cluster (issue 22): a removed add-on's software keeps
//! running, a desired size set outside eksboot survives an unrelated apply, and removing
//! yourself from `cluster.admins` keeps your access. Read back from AWS (the emulator) through
//! the SDK and the emulator's control API.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::create::Run;
use crate::harness::{block_on, get_json, Account};

const BASE: &str = r#"version = 1
[cluster]
name = "safe"
region = "us-west-2"
log_retention_days = 30
admins = []
addons = ["vpc-cni", "kube-proxy", "coredns", "metrics-server"]
oidc_provider = false
[network]
pattern = "public"
vpc_cidr = "10.21.0.0/16"
availability_zones = 2
[nodes]
instance_types = ["t3.medium"]
min_size = 1
desired_size = 2
max_size = 5
"#;

fn write_profile(run: &Run, text: &str) -> PathBuf {
    let path = run.dir.path().join("safe.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// eksboot as the runner, holding the policy printed for the profile it is given.
fn eksboot(run: &Run, command: &str, profile: &Path) -> assert_cmd::assert::Assert {
    run.account.authorize(profile, &[]);
    run.account
        .eksboot()
        .env("EKSBOOT_POLL_MS", "100")
        .args([command, "--profile", profile.to_str().unwrap(), "--state"])
        .arg(run.state())
        .args(["--yes", "--kubeconfig"])
        .arg(run.kubeconfig())
        .assert()
}

fn eks(run: &Run) -> aws_sdk_eks::Client {
    aws_sdk_eks::Client::new(&run.account.sdk("us-west-2"))
}

#[test]
fn a_removed_addon_is_no_longer_managed_and_its_software_keeps_running() {
    let run = Run::new(Account::new());
    let profile = write_profile(&run, BASE);
    eksboot(&run, "create", &profile).success();
    write_profile(&run, &BASE.replace(r#", "metrics-server""#, ""));
    let out = eksboot(&run, "apply", &profile).success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(text.contains("its software keeps running"), "{text}");
    let addons = block_on(crate::harness::all_addons(&eks(&run), "safe"))
        .unwrap()
        .addons()
        .to_vec();
    assert!(
        !addons.contains(&"metrics-server".to_string()),
        "{addons:?}"
    );
    let deleted = get_json(
        &run.account.endpoint,
        &format!("/eksboot-moto/deleted-addons?account={}", run.account.id),
    );
    assert_eq!(
        deleted["deletions"],
        serde_json::json!([{"cluster": "safe", "addon": "metrics-server", "preserve": true}]),
    );
}

#[test]
fn a_desired_size_set_outside_eksboot_survives_an_unrelated_apply() {
    let run = Run::new(Account::new());
    let profile = write_profile(&run, BASE);
    eksboot(&run, "create", &profile).success();
    let admin = eks(&run);
    let scaling = || {
        let ng = block_on(
            admin
                .describe_nodegroup()
                .cluster_name("safe")
                .nodegroup_name("safe-default")
                .send(),
        )
        .unwrap();
        let ng = ng.nodegroup().unwrap().clone();
        let s = ng.scaling_config().unwrap();
        (
            ng.status()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            (
                s.min_size().unwrap(),
                s.desired_size().unwrap(),
                s.max_size().unwrap(),
            ),
        )
    };
    // A cluster autoscaler scales it to 4 (UpdateNodegroupConfig as someone else).
    block_on(
        admin
            .update_nodegroup_config()
            .cluster_name("safe")
            .nodegroup_name("safe-default")
            .scaling_config(
                aws_sdk_eks::types::NodegroupScalingConfig::builder()
                    .desired_size(4)
                    .build(),
            )
            .send(),
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, sizes) = scaling();
        if status == "ACTIVE" && sizes.1 == 4 {
            break;
        }
        assert!(Instant::now() < deadline, "still {status} {sizes:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
    // An unrelated change: the log retention.
    write_profile(
        &run,
        &BASE.replace("log_retention_days = 30", "log_retention_days = 90"),
    );
    eksboot(&run, "apply", &profile).success();
    assert_eq!(
        scaling().1,
        (1, 4, 5),
        "the autoscaled desired size is kept"
    );
    // A smaller max: min and max follow the profile, desired clamped into them.
    write_profile(
        &run,
        &BASE
            .replace("log_retention_days = 30", "log_retention_days = 90")
            .replace("max_size = 5", "max_size = 3"),
    );
    eksboot(&run, "apply", &profile).success();
    assert_eq!(scaling().1, (1, 3, 3));
    // The profile's desired size changed: it is set.
    write_profile(
        &run,
        &BASE
            .replace("log_retention_days = 30", "log_retention_days = 90")
            .replace("max_size = 5", "max_size = 3")
            .replace("desired_size = 2", "desired_size = 1"),
    );
    eksboot(&run, "apply", &profile).success();
    assert_eq!(scaling().1, (1, 1, 3));
}

#[test]
fn removing_yourself_from_admins_keeps_your_access() {
    let run = Run::new(Account::new());
    let me = run.account.runner_arn();
    let with_me = BASE.replace("admins = []", &format!("admins = [\"{me}\"]"));
    let profile = write_profile(&run, &with_me);
    eksboot(&run, "create", &profile).success();
    write_profile(&run, BASE);
    let out = eksboot(&run, "apply", &profile).success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(
        text.contains("you keep access through eksboot's own access entry"),
        "{text}"
    );
    let entries = block_on(crate::harness::all_access_entries(&eks(&run), "safe"))
        .unwrap()
        .access_entries()
        .to_vec();
    assert!(entries.contains(&me), "{me} in {entries:?}");
}

/// Deleting a removed add-on's software is an explicit choice: refused for coredns while the
/// cluster has nodes (exit 2, nothing changed), made for metrics-server (preserve off).
#[test]
fn deleting_an_addons_software_is_asked_for_and_refused_for_dns_while_nodes_run() {
    let run = Run::new(Account::new());
    let profile = write_profile(&run, BASE);
    eksboot(&run, "create", &profile).success();
    write_profile(&run, &BASE.replace(r#", "coredns", "metrics-server""#, ""));
    run.account.authorize(&profile, &[]);
    let apply = |extra: &[&str]| {
        run.account
            .eksboot()
            .env("EKSBOOT_POLL_MS", "100")
            .args([
                "apply",
                "--yes",
                "--profile",
                profile.to_str().unwrap(),
                "--state",
            ])
            .arg(run.state())
            .arg("--kubeconfig")
            .arg(run.kubeconfig())
            .args(extra)
            .assert()
    };
    let out = apply(&["--delete-addon-software", "coredns"]).code(2);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(
        stderr.contains("coredns") && stderr.contains("--force"),
        "{stderr}"
    );
    let addons = block_on(crate::harness::all_addons(&eks(&run), "safe"))
        .unwrap()
        .addons()
        .to_vec();
    assert!(
        addons.contains(&"coredns".to_string()),
        "nothing changed: {addons:?}"
    );
    apply(&["--delete-addon-software", "metrics-server"]).success();
    let deleted = get_json(
        &run.account.endpoint,
        &format!("/eksboot-moto/deleted-addons?account={}", run.account.id),
    );
    let deletions = deleted["deletions"].as_array().unwrap();
    assert!(
        deletions.contains(
            &serde_json::json!({"cluster": "safe", "addon": "metrics-server", "preserve": false})
        ) && deletions.contains(
            &serde_json::json!({"cluster": "safe", "addon": "coredns", "preserve": true})
        ),
        "{deletions:?}"
    );
}

/// On a terminal, apply asks about each removed add-on's software (default: keep it running),
/// and does not offer it for coredns while nodes run. Answered as a person would, in a
/// pseudo-terminal; read back from the emulator's record of DeleteAddon's `preserve`.
#[test]
fn on_a_terminal_apply_asks_whether_a_removed_addons_software_goes_too() {
    let run = Run::new(Account::new());
    let profile = write_profile(&run, BASE);
    eksboot(&run, "create", &profile).success();
    write_profile(&run, &BASE.replace(r#", "coredns", "metrics-server""#, ""));
    run.account.authorize(&profile, &[]);
    let mut cmd = run.account.command();
    cmd.env_remove("CI")
        .env("TERM", "xterm")
        .env("EKSBOOT_POLL_MS", "100")
        .args(["apply", "--profile", profile.to_str().unwrap(), "--state"])
        .arg(run.state())
        .arg("--kubeconfig")
        .arg(run.kubeconfig());
    let mut session = rexpect::session::spawn_command(cmd, Some(60_000)).unwrap();
    session
        .exp_string("Add-on metrics-server leaves cluster.addons")
        .unwrap();
    session.send_line("y").unwrap();
    session.exp_string("Apply these changes now?").unwrap();
    session.send_line("y").unwrap();
    session.exp_eof().unwrap();
    let deleted = get_json(
        &run.account.endpoint,
        &format!("/eksboot-moto/deleted-addons?account={}", run.account.id),
    );
    let deletions = deleted["deletions"].as_array().unwrap();
    assert_eq!(deletions.len(), 2, "{deletions:?}");
    assert!(
        deletions.contains(
            &serde_json::json!({"cluster": "safe", "addon": "metrics-server", "preserve": false})
        ) && deletions.contains(
            &serde_json::json!({"cluster": "safe", "addon": "coredns", "preserve": true})
        ),
        "{deletions:?}"
    );
}
