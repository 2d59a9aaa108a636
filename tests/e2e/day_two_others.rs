//! Day two next to other tools (issue 22, item 8): an update someone else started is waited for
//! before eksboot's own is made; every List call reads all pages; `status --live` reads the
//! cluster's upgrade policy, and offline `status` says it read only the state file. Read back
//! from AWS (the emulator) through the SDK and its control API.

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::create::Run;
use crate::harness::{block_on, post, Account};

const REGION: &str = "us-west-2";

fn profile_text(name: &str, cidr: &str) -> String {
    format!(
        r#"version = 1
[cluster]
name = "{name}"
region = "{REGION}"
kubernetes_version = "1.34"
support = "extended"
log_types = ["api", "audit"]
admins = []
addons = ["vpc-cni", "kube-proxy", "coredns", "metrics-server", "eks-pod-identity-agent"]
oidc_provider = false
[network]
pattern = "public"
vpc_cidr = "{cidr}"
availability_zones = 2
[nodes]
instance_types = ["t3.medium"]
min_size = 1
desired_size = 1
max_size = 2
"#
    )
}

fn write(run: &Run, text: &str) -> PathBuf {
    let path = run.dir.path().join("others.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn create(run: &Run, profile: &Path) {
    run.create(profile).success();
}

fn eks(run: &Run) -> aws_sdk_eks::Client {
    aws_sdk_eks::Client::new(&run.account.sdk(REGION))
}

/// Starts (`hold: true`) or releases an update made outside eksboot, on the cluster, one of its
/// node groups, or an add-on. `at_next_update`: it starts when eksboot's next update of that
/// resource arrives, just before it (the resource was ACTIVE when eksboot looked), so EKS
/// refuses eksboot's with ResourceInUseException.
fn outside_update(
    account: &Account,
    cluster: &str,
    part: Option<(&str, &str)>,
    hold: bool,
    at_next_update: bool,
) {
    let mut body = serde_json::json!({
        "account": account.id,
        "region": REGION,
        "cluster": cluster,
        "hold": hold,
    });
    if let Some((kind, name)) = part {
        body[kind] = serde_json::json!(name);
    }
    if at_next_update {
        body["at"] = serde_json::json!("next-update");
    }
    post(
        &account.endpoint,
        "/eksboot-moto/outside-update",
        &body.to_string(),
    );
}

fn cluster_status(run: &Run, name: &str) -> (String, Vec<String>) {
    let out = block_on(eks(run).describe_cluster().name(name).send()).unwrap();
    let c = out.cluster().unwrap();
    let logs = c
        .logging()
        .unwrap()
        .cluster_logging()
        .iter()
        .filter(|s| s.enabled() == Some(true))
        .flat_map(|s| s.types().iter().map(|t| t.as_str().to_string()))
        .collect();
    (c.status().unwrap().as_str().to_string(), logs)
}

fn nodegroup(run: &Run, cluster: &str) -> (String, (i32, i32, i32)) {
    let out = block_on(
        eks(run)
            .describe_nodegroup()
            .cluster_name(cluster)
            .nodegroup_name(format!("{cluster}-default"))
            .send(),
    )
    .unwrap();
    let ng = out.nodegroup().unwrap();
    let s = ng.scaling_config().unwrap();
    (
        ng.status().unwrap().as_str().to_string(),
        (
            s.min_size().unwrap(),
            s.desired_size().unwrap(),
            s.max_size().unwrap(),
        ),
    )
}

/// `eksboot apply` as a child process, its output in a file.
fn spawn_apply(run: &Run, profile: &Path) -> (Child, PathBuf) {
    run.account.authorize(profile, &[]);
    let log = run.dir.path().join("apply.out");
    let child = run
        .account
        .command()
        .env("EKSBOOT_POLL_MS", "100")
        .args(["apply", "--yes", "--profile"])
        .arg(profile)
        .arg("--state")
        .arg(run.state())
        .arg("--kubeconfig")
        .arg(run.kubeconfig())
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(std::fs::File::create(run.dir.path().join("apply.err")).unwrap())
        .spawn()
        .unwrap();
    (child, log)
}

/// Waits (with a deadline) until `done`, while eksboot runs.
fn until(child: &mut Child, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(90);
    while !done() {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("eksboot exited ({status}) before {what}");
        }
        assert!(Instant::now() < deadline, "no {what} after 90 s");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Holds `check` true for `hold`, asserting eksboot keeps waiting (has not exited) meanwhile.
fn still_waiting(child: &mut Child, hold: Duration, mut check: impl FnMut()) {
    let until = Instant::now() + hold;
    while Instant::now() < until {
        assert!(
            child.try_wait().unwrap().is_none(),
            "eksboot did not wait for the update started outside it"
        );
        check();
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn finish(mut child: Child, log: &Path, run: &Run) -> String {
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("apply did not finish after the release");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let out = std::fs::read_to_string(log).unwrap();
    let err = std::fs::read_to_string(run.dir.path().join("apply.err")).unwrap();
    assert!(status.success(), "apply failed:\n{out}\n{err}");
    out
}

#[test]
fn updates_started_outside_eksboot_are_waited_for_then_eksboots_own_are_made() {
    let run = Run::new(Account::new());
    let profile = write(&run, &profile_text("busy", "10.61.0.0/16"));
    create(&run, &profile);
    assert_eq!(nodegroup(&run, "busy").1, (1, 1, 2));

    // Someone else updates the cluster and then the node group, each just before eksboot's own
    // update arrives (EKS refuses eksboot's: ResourceInUseException), and holds it UPDATING.
    outside_update(&run.account, "busy", None, true, true);
    outside_update(
        &run.account,
        "busy",
        Some(("nodegroup", "busy-default")),
        true,
        true,
    );

    // The profile turns on one more log type and raises the node group's maximum.
    let changed = profile_text("busy", "10.61.0.0/16")
        .replace(r#"["api", "audit"]"#, r#"["api", "audit", "scheduler"]"#)
        .replace("max_size = 2", "max_size = 3");
    write(&run, &changed);
    let (mut child, log) = spawn_apply(&run, &profile);

    // The other update of the cluster starts (eksboot's is refused) ...
    until(&mut child, "the cluster's other update", || {
        cluster_status(&run, "busy").0 == "UPDATING"
    });
    // ... and eksboot waits while it runs: its own update is not made.
    still_waiting(&mut child, Duration::from_secs(4), || {
        let (status, logs) = cluster_status(&run, "busy");
        assert_eq!(status, "UPDATING");
        assert!(!logs.contains(&"scheduler".to_string()), "{logs:?}");
    });
    outside_update(&run.account, "busy", None, false, false);

    // Then eksboot's own cluster update is made; the node group's other update starts as
    // eksboot's resize arrives, and eksboot waits again.
    until(&mut child, "eksboot's own cluster update", || {
        cluster_status(&run, "busy")
            .1
            .contains(&"scheduler".to_string())
    });
    until(&mut child, "the node group's other update", || {
        nodegroup(&run, "busy").0 == "UPDATING"
    });
    still_waiting(&mut child, Duration::from_secs(3), || {
        let (status, sizes) = nodegroup(&run, "busy");
        assert_eq!(status, "UPDATING");
        assert_eq!(
            sizes.2, 2,
            "the node group is resized only after the other update"
        );
    });
    outside_update(
        &run.account,
        "busy",
        Some(("nodegroup", "busy-default")),
        false,
        false,
    );
    let out = finish(child, &log, &run);

    let (status, logs) = cluster_status(&run, "busy");
    assert_eq!(status, "ACTIVE");
    assert!(
        ["api", "audit", "scheduler"]
            .iter()
            .all(|t| logs.contains(&t.to_string())),
        "{logs:?}"
    );
    assert_eq!(
        nodegroup(&run, "busy"),
        ("ACTIVE".to_string(), (1, 1, 3)),
        "{out}"
    );
}

/// An add-on update started by someone else during `upgrade`: eksboot's is refused, the upgrade
/// waits for the other, then moves the add-on.
#[test]
fn an_upgrade_waits_for_an_addon_update_started_outside_eksboot() {
    let run = Run::new(Account::new());
    let profile = write(&run, &profile_text("addon-busy", "10.62.0.0/16"));
    create(&run, &profile);
    // Another tool's update of kube-proxy lands just before eksboot's own (EKS refuses
    // eksboot's: ResourceInUseException) and is held.
    outside_update(
        &run.account,
        "addon-busy",
        Some(("addon", "kube-proxy")),
        true,
        true,
    );
    let log = run.dir.path().join("upgrade.out");
    let mut child = run
        .account
        .command()
        .env("EKSBOOT_POLL_MS", "100")
        .args(["upgrade", "--yes", "--profile"])
        .arg(&profile)
        .arg("--state")
        .arg(run.state())
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(std::fs::File::create(run.dir.path().join("apply.err")).unwrap())
        .spawn()
        .unwrap();
    let eks = eks(&run);
    let kube_proxy = || {
        let a = block_on(
            eks.describe_addon()
                .cluster_name("addon-busy")
                .addon_name("kube-proxy")
                .send(),
        )
        .unwrap();
        let a = a.addon().unwrap();
        (
            a.status().unwrap().as_str().to_string(),
            a.addon_version().unwrap().to_string(),
        )
    };
    let before = kube_proxy().1;
    // kube-proxy moves after the control plane (1.35 does not offer its version): its update is
    // refused, and the upgrade waits while the other one runs, kube-proxy on its version.
    until(&mut child, "kube-proxy's other update", || {
        kube_proxy().0 == "UPDATING"
    });
    still_waiting(&mut child, Duration::from_secs(4), || {
        assert_eq!(kube_proxy(), ("UPDATING".to_string(), before.clone()));
    });
    outside_update(
        &run.account,
        "addon-busy",
        Some(("addon", "kube-proxy")),
        false,
        false,
    );
    let out = finish(child, &log, &run);
    let c = block_on(eks.describe_cluster().name("addon-busy").send()).unwrap();
    assert_eq!(c.cluster().unwrap().version(), Some("1.35"), "{out}");
    let (status, after) = kube_proxy();
    assert_eq!(status, "ACTIVE");
    assert_ne!(
        after, before,
        "kube-proxy moved to a version 1.35 offers: {out}"
    );
}

/// Every item of every page, read with the SDK's paginator.
fn all_addons(eks: &aws_sdk_eks::Client, cluster: &str) -> Vec<String> {
    block_on(async {
        let mut found = Vec::new();
        let mut pages = eks
            .list_addons()
            .cluster_name(cluster)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            found.extend(page.unwrap().addons().iter().cloned());
        }
        found
    })
}

fn status(run: &Run, live: bool) -> String {
    let mut cmd = run.account.eksboot();
    // Twelve days before 1.35 leaves standard support (the emulator's table): status warns.
    cmd.env("EKSBOOT_NOW", "2027-03-15T00:00:00Z")
        .args(["status", "--state"])
        .arg(run.state());
    if live {
        cmd.arg("--live");
    }
    let out = cmd.assert().success();
    String::from_utf8_lossy(&out.get_output().stdout).to_string()
}

#[test]
fn lists_are_read_whole_and_status_follows_the_upgrade_policy() {
    let run = Run::new(Account::new());
    // 1.35: still in standard support, so the policy can move to STANDARD (EKS refuses that
    // past the end of standard support, and so does the emulator).
    let profile = write(
        &run,
        &profile_text("pages", "10.63.0.0/16").replace(r#""1.34""#, r#""1.35""#),
    );
    create(&run, &profile);
    let eks = eks(&run);
    // More than a page of each: five add-ons (eksboot's), three more node groups and three more
    // access entries made outside eksboot.
    let first = block_on(eks.list_addons().cluster_name("pages").send()).unwrap();
    assert!(
        first.next_token().is_some() && first.addons().len() < 5,
        "the emulator answers in pages: {first:?}"
    );
    assert_eq!(all_addons(&eks, "pages").len(), 5);
    let iam = aws_sdk_iam::Client::new(&run.account.sdk(REGION));
    let ng = block_on(
        eks.describe_nodegroup()
            .cluster_name("pages")
            .nodegroup_name("pages-default")
            .send(),
    )
    .unwrap();
    let ng = ng.nodegroup().unwrap().clone();
    let mut principals = Vec::new();
    for i in 0..3 {
        let user = format!("pages-admin-{i}");
        let arn = block_on(iam.create_user().user_name(&user).send())
            .unwrap()
            .user()
            .unwrap()
            .arn()
            .to_string();
        block_on(
            eks.create_access_entry()
                .cluster_name("pages")
                .principal_arn(&arn)
                .send(),
        )
        .unwrap();
        principals.push(arn);
        block_on(
            eks.create_nodegroup()
                .cluster_name("pages")
                .nodegroup_name(format!("extra-{i}"))
                .node_role(ng.node_role().unwrap())
                .set_subnets(Some(ng.subnets().to_vec()))
                .send(),
        )
        .unwrap();
    }

    // The support line: EXTENDED (what CreateCluster gives without an upgrade policy) costs
    // extended support; STANDARD does not, and says EKS upgrades the control plane itself.
    let extended = status(&run, true);
    assert!(
        extended.contains("Kubernetes 1.35: standard support ends 2027-03-27 (in 12 days)"),
        "{extended}"
    );
    assert!(extended.contains("$365 a month more"), "{extended}");
    block_on(
        eks.update_cluster_config()
            .name("pages")
            .upgrade_policy(
                aws_sdk_eks::types::UpgradePolicyRequest::builder()
                    .support_type(aws_sdk_eks::types::SupportType::Standard)
                    .build(),
            )
            .send(),
    )
    .unwrap();
    let standard = status(&run, true);
    assert!(
        standard.contains("Kubernetes 1.35: standard support ends 2027-03-27 (in 12 days)"),
        "{standard}"
    );
    assert!(!standard.contains("a month more"), "{standard}");
    assert!(
        standard.contains("at the end of standard support EKS upgrades the control plane itself"),
        "{standard}"
    );
    // Offline: what the state file knows, and that AWS was not asked.
    let offline = status(&run, false);
    assert!(offline.contains("Kubernetes 1.35"), "{offline}");
    assert!(offline.contains("from the state file"), "{offline}");
    assert!(offline.contains("`status --live` asks EKS"), "{offline}");
    assert!(
        !offline.contains("STANDARD"),
        "offline status cannot know the policy: {offline}"
    );

    // Teardown finds every node group, add-on and access entry (several pages each) and deletes
    // the cluster, which EKS refuses while a node group is left.
    run.account.authorize(&profile, &[]);
    let out = run
        .account
        .eksboot()
        .env("EKSBOOT_POLL_MS", "100")
        .args(["teardown", "--yes", "--state"])
        .arg(run.state())
        .assert()
        .success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    for name in [
        "extra-0",
        "extra-1",
        "extra-2",
        "pages-default",
        "vpc-cni",
        "kube-proxy",
        "coredns",
        "metrics-server",
        "eks-pod-identity-agent",
    ] {
        assert!(text.contains(name), "{name} listed for deletion:\n{text}");
    }
    for arn in &principals {
        assert!(
            text.contains(arn.as_str()),
            "{arn} listed for deletion:\n{text}"
        );
    }
    let gone = block_on(eks.describe_cluster().name("pages").send());
    assert_eq!(
        crate::harness::error_code(gone),
        "ResourceNotFoundException",
        "the cluster is deleted"
    );
}
