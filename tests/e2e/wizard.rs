//! The wizard, driven in a pseudo-terminal as a person would, against the emulator; and what
//! happens without a terminal.

use predicates::prelude::*;
use rexpect::session::PtySession;

use crate::create::tag_filter;
use crate::harness::{block_on, Account};

const DOWN: &str = "\x1b[B";

/// `eksboot` (no arguments) in a pseudo-terminal, in `dir`, acting in `account`.
fn wizard(account: &Account, dir: &std::path::Path, args: &[&str]) -> PtySession {
    let mut cmd = account.command();
    // CI turns prompting off: a person's terminal has no CI variable.
    cmd.env_remove("CI")
        .env("TERM", "xterm")
        .env("AWS_REGION", "us-west-2")
        .env("EKSBOOT_POLL_MS", "100")
        .env("KUBECONFIG", dir.join("kubeconfig"))
        .current_dir(dir)
        .args(args);
    rexpect::session::spawn_command(cmd, Some(30_000)).unwrap()
}

fn exit_code(session: &mut PtySession) -> i32 {
    match session.process().wait().unwrap() {
        rexpect::process::WaitStatus::Exited(_, code) => code,
        other => panic!("unexpected {other:?}"),
    }
}

fn our_vpcs(account: &Account, cluster: &str) -> usize {
    let ec2 = aws_sdk_ec2::Client::new(&account.sdk("us-west-2"));
    block_on(async {
        ec2.describe_vpcs()
            .filters(tag_filter("eksboot:cluster", cluster))
            .send()
            .await
            .unwrap()
            .vpcs()
            .len()
    })
}

#[test]
fn fast_path_up_to_a_saved_profile_that_plans_the_same() {
    let account = Account::new();
    // The policy of the profile the wizard will save: the fast path's defaults for "shop".
    account.authorize_args(&["--name", "shop", "--region", "us-west-2"]);
    let dir = tempfile::tempdir().unwrap();
    let mut s = wizard(&account, dir.path(), &[]);
    s.exp_string("Create the cluster in us-west-2").unwrap();
    s.send_line("y").unwrap();
    s.exp_string(&format!("account {}", account.id)).unwrap();
    s.exp_string("Use the recommended production set-up")
        .unwrap();
    s.send_line("").unwrap();
    s.exp_string("Cluster name").unwrap();
    s.send_line("shop").unwrap();
    s.exp_string("Who may reach the public API endpoint")
        .unwrap();
    s.send_line("203.0.113.0/24").unwrap();
    // Asked once on the fast path; the default is a managed node group.
    s.exp_string("Who runs the nodes?").unwrap();
    s.send_line("").unwrap();
    s.exp_string("Security checklist").unwrap();
    s.exp_string("What next?").unwrap();
    s.send(DOWN).unwrap();
    s.send(DOWN).unwrap();
    s.send_line("").unwrap();
    s.exp_string("Saved the profile to shop.eksboot.toml")
        .unwrap();
    s.exp_eof().unwrap();
    assert_eq!(exit_code(&mut s), 0);
    assert_eq!(our_vpcs(&account, "shop"), 0, "saving creates nothing");

    // The saved profile is complete and replays: the plan names the AZs and version shown.
    let saved = dir.path().join("shop.eksboot.toml");
    let text = std::fs::read_to_string(&saved).unwrap();
    assert!(
        text.contains("name = \"shop\"") && text.contains("kubernetes_version = \"1.36\""),
        "{text}"
    );
    assert!(
        text.contains("public_access_cidrs = [\"203.0.113.0/24\"]"),
        "{text}"
    );
    let plan = account
        .eksboot()
        .arg("plan")
        .arg("--profile")
        .arg(&saved)
        .assert()
        .success();
    let plan = String::from_utf8_lossy(&plan.get_output().stdout).to_string();
    assert!(
        plan.contains("Kubernetes 1.36") && plan.contains("us-west-2c"),
        "{plan}"
    );
}

/// Issue 24: the fast path's one node question, answered "EKS Auto Mode": the plan shown has no
/// node group and prices the nodes as an example; the saved profile holds only the mode and both
/// node pools under [nodes], and replays to the same plan without a terminal.
#[test]
fn fast_path_choosing_auto_mode_saves_an_auto_mode_profile() {
    let account = Account::new();
    let dir = tempfile::tempdir().unwrap();
    // The policy of the profile the wizard will save: the fast path's defaults, Auto Mode.
    let intended = dir.path().join("intended.toml");
    std::fs::write(
        &intended,
        "version = 1\n[cluster]\nname = \"robo\"\nregion = \"us-west-2\"\n[nodes]\nmode = \"auto\"\n",
    )
    .unwrap();
    account.authorize(&intended, &[]);
    let mut s = wizard(&account, dir.path(), &[]);
    s.exp_string("Create the cluster in us-west-2").unwrap();
    s.send_line("y").unwrap();
    s.exp_string("Use the recommended production set-up")
        .unwrap();
    s.send_line("").unwrap();
    s.exp_string("Cluster name").unwrap();
    s.send_line("robo").unwrap();
    s.exp_string("Who may reach the public API endpoint")
        .unwrap();
    s.send_line("203.0.113.0/24").unwrap();
    s.exp_string("Who runs the nodes?").unwrap();
    s.exp_string("EKS Auto Mode: AWS launches, patches, scales and repairs the nodes")
        .unwrap();
    s.send(DOWN).unwrap();
    s.send_line("").unwrap();
    // No node-group question: straight to the plan, priced as Auto Mode prices it.
    s.exp_string("Nodes: launched by EKS Auto Mode").unwrap();
    s.exp_string("+ nodes").unwrap();
    // (rexpect reads bytes one by one: the × before m6i.large is not one char to it.)
    s.exp_string("m6i.large: EC2 $140.16 + Auto Mode fee $16.82")
        .unwrap();
    s.exp_string("Bottlerocket, chosen and patched by AWS")
        .unwrap();
    s.exp_string("What next?").unwrap();
    s.send(DOWN).unwrap();
    s.send(DOWN).unwrap();
    s.send_line("").unwrap();
    s.exp_string("Saved the profile to robo.eksboot.toml")
        .unwrap();
    s.exp_eof().unwrap();
    assert_eq!(exit_code(&mut s), 0);
    assert_eq!(our_vpcs(&account, "robo"), 0, "saving creates nothing");

    let saved = dir.path().join("robo.eksboot.toml");
    let text = std::fs::read_to_string(&saved).unwrap();
    let nodes = text.split("[nodes]").nth(1).unwrap_or_default();
    assert_eq!(
        nodes.trim(),
        "mode = \"auto\"\nnode_pools = [\"general-purpose\", \"system\"]",
        "{text}"
    );
    assert!(
        text.contains("addons = []"),
        "Auto Mode runs the usual ones: {text}"
    );
    let plan = account
        .eksboot()
        .args(["plan", "--output", "json", "--profile"])
        .arg(&saved)
        .assert()
        .success();
    let plan: serde_json::Value = serde_json::from_slice(&plan.get_output().stdout).unwrap();
    assert_eq!(plan["nodes"]["mode"], "auto");
    let kinds: Vec<&str> = plan["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["kind"].as_str())
        .collect();
    assert!(
        !kinds.contains(&"nodegroup") && !kinds.contains(&"launch-template"),
        "{kinds:?}"
    );
    assert!(
        plan["cost"]["nodes_note"]
            .as_str()
            .unwrap()
            .contains("depend on what Auto Mode launches"),
        "{}",
        plan["cost"]
    );
    assert_eq!(plan["cost"]["complete"], false);
}

#[test]
fn an_invalid_cidr_is_asked_again_with_the_reason() {
    let account = Account::new();
    account.authorize_args(&["--name", "quit", "--region", "us-west-2"]);
    let dir = tempfile::tempdir().unwrap();
    let mut s = wizard(&account, dir.path(), &[]);
    s.exp_string("Create the cluster in us-west-2").unwrap();
    s.send_line("y").unwrap();
    s.exp_string("Use the recommended production set-up")
        .unwrap();
    s.send_line("n").unwrap();
    for question in [
        "Who creates the cluster?",
        "Give the roles eksboot creates a permissions boundary?",
        "How should Kubernetes secrets be encrypted?",
        "Where do add-ons get their AWS permissions?",
    ] {
        s.exp_string(question).unwrap();
        s.send_line("").unwrap();
    }
    s.exp_string("Which control-plane logs").unwrap();
    s.send_line("").unwrap();
    s.exp_string("How long should logs be kept?").unwrap();
    s.send_line("").unwrap();
    s.exp_string("Other cluster admins").unwrap();
    s.send_line("").unwrap();
    s.exp_string("Protect the cluster from deletion?").unwrap();
    s.send_line("").unwrap();
    s.exp_string("Where should eksboot keep this cluster's state?")
        .unwrap();
    s.send_line("").unwrap();
    s.exp_string("Which network layout?").unwrap();
    s.send_line("").unwrap();
    s.exp_string("The VPC's address range").unwrap();
    s.send_line("10.0.0.0/8").unwrap();
    s.exp_string("/8 is outside /16 to /20").unwrap();
    s.exp_string("The VPC's address range").unwrap();
    s.send_line("10.1.0.0/16").unwrap();
    s.exp_string("How many availability zones?").unwrap();
    s.send_control('c').unwrap();
    s.exp_string("nothing was created").unwrap();
    s.exp_eof().unwrap();
    assert_eq!(exit_code(&mut s), 130);
}

#[test]
fn ctrl_c_at_the_plan_creates_nothing() {
    let account = Account::new();
    account.authorize_args(&["--name", "quit", "--region", "us-west-2"]);
    let dir = tempfile::tempdir().unwrap();
    let mut s = wizard(&account, dir.path(), &["create", "--name", "quit"]);
    s.exp_string("Create the cluster in us-west-2").unwrap();
    s.send_line("y").unwrap();
    s.exp_string("Use the recommended production set-up")
        .unwrap();
    s.send_line("").unwrap();
    // The name came from --name: not asked.
    s.exp_string("Who may reach the public API endpoint")
        .unwrap();
    s.send_line("").unwrap();
    s.exp_string("Who runs the nodes?").unwrap();
    s.send_line("").unwrap();
    s.exp_string("What next?").unwrap();
    s.send_control('c').unwrap();
    s.exp_string("nothing was created").unwrap();
    s.exp_eof().unwrap();
    assert_eq!(exit_code(&mut s), 130);
    assert_eq!(our_vpcs(&account, "quit"), 0);
    assert!(!dir.path().join("quit.eksboot.toml").exists());
}

#[test]
fn without_a_terminal_a_missing_value_names_the_flag() {
    let account = Account::new();
    account
        .eksboot()
        .args(["create", "--yes", "--region", "us-west-2"])
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("cluster.name is missing")
                .and(predicate::str::contains("--name NAME")),
        );
    account
        .eksboot()
        .args(["create", "--yes", "--name", "x"])
        .env_remove("AWS_REGION")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--region REGION"));
}

#[test]
fn flags_override_the_profile() {
    let account = Account::new();
    let out = account
        .eksboot()
        .args(["plan", "--output", "json", "--profile", "profiles/dev.toml"])
        .assert()
        .success();
    let base: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(base["network"]["pattern"], "public");
    // create with flags and no terminal builds the same profile plus the overrides.
    let dir = tempfile::tempdir().unwrap();
    let flags = [
        "--name",
        "flagged",
        "--region",
        "us-west-2",
        "--pattern",
        "public",
        "--azs",
        "2",
        "--nodes",
        "off",
        "--vpc-cidr",
        "10.42.0.0/16",
    ];
    account.authorize_args(&flags);
    account
        .eksboot()
        .env("EKSBOOT_POLL_MS", "100")
        .current_dir(dir.path())
        .args(["create", "--yes"])
        .args(flags)
        .arg("--kubeconfig")
        .arg(dir.path().join("kubeconfig"))
        .assert()
        .success();
    // AWS has what the flags asked for: the VPC's range, and no node group.
    assert_eq!(our_vpcs(&account, "flagged"), 1);
    let config = account.sdk("us-west-2");
    block_on(async {
        let vpcs = aws_sdk_ec2::Client::new(&config)
            .describe_vpcs()
            .filters(tag_filter("eksboot:cluster", "flagged"))
            .send()
            .await
            .unwrap();
        assert_eq!(vpcs.vpcs()[0].cidr_block(), Some("10.42.0.0/16"));
        let eks = aws_sdk_eks::Client::new(&config);
        let groups = crate::harness::all_nodegroups(&eks, "flagged")
            .await
            .unwrap();
        assert!(groups.nodegroups().is_empty(), "--nodes off");
    });
    assert!(dir
        .path()
        .join(".eksboot/flagged-us-west-2.state.json")
        .exists());
}

/// Day two from the wizard: with a state file here for a cluster in the region, the wizard
/// offers to change it (answers pre-filled, the difference shown, applied), upgrade it, tear it
/// down, or make a new one.
#[test]
fn the_wizard_knows_the_cluster_exists_and_changes_upgrades_and_tears_it_down() {
    let account = Account::new();
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("dt.toml");
    std::fs::write(
        &profile,
        "version = 1\n[cluster]\nname = \"dt\"\nregion = \"us-west-2\"\nkubernetes_version = \"1.35\"\nlog_retention_days = 30\n[network]\npattern = \"public\"\nvpc_cidr = \"10.50.0.0/16\"\navailability_zones = 2\n[nodes]\ninstance_types = [\"t3.medium\"]\nmin_size = 1\ndesired_size = 1\nmax_size = 2\n",
    )
    .unwrap();
    account.authorize(&profile, &[]);
    account
        .eksboot()
        .current_dir(dir.path())
        .env("EKSBOOT_POLL_MS", "100")
        .args([
            "create",
            "--yes",
            "--profile",
            "dt.toml",
            "--kubeconfig",
            "kubeconfig",
        ])
        .assert()
        .success();
    let menu = "eksboot made dt in us-west-2 from this directory";

    // Change: straight to the plan, edit the retention, see the difference, apply.
    let mut s = wizard(&account, dir.path(), &[]);
    s.exp_string("Create the cluster in us-west-2").unwrap();
    s.send_line("y").unwrap();
    s.exp_string(menu).unwrap();
    s.send_line("").unwrap();
    s.exp_string("What next?").unwrap();
    s.send(DOWN).unwrap();
    s.send_line("").unwrap();
    s.exp_string("Which answer?").unwrap();
    s.send("log_retention").unwrap();
    s.send_line("").unwrap();
    s.exp_string("How long should logs be kept?").unwrap();
    s.send("60 days").unwrap();
    s.send_line("").unwrap();
    s.exp_string("What next?").unwrap();
    s.send_line("").unwrap();
    s.exp_string("Saved the profile to dt.eksboot.toml")
        .unwrap();
    s.exp_string("cluster.log_retention_days").unwrap();
    // (rexpect reads bytes one by one: the arrow between 30 and 60 is not one char to it.)
    s.exp_string("60  log group retention set").unwrap();
    s.exp_string("Apply these changes now?").unwrap();
    s.send_line("y").unwrap();
    s.exp_string("is ready in").unwrap();
    s.exp_eof().unwrap();
    assert_eq!(exit_code(&mut s), 0);
    let logs = aws_sdk_cloudwatchlogs::Client::new(&account.sdk("us-west-2"));
    let retention = block_on(
        logs.describe_log_groups()
            .log_group_name_prefix("/aws/eks/dt/cluster")
            .send(),
    )
    .unwrap()
    .log_groups()[0]
        .retention_in_days();
    assert_eq!(retention, Some(60));

    // Upgrade.
    let mut s = wizard(&account, dir.path(), &[]);
    s.exp_string("Create the cluster in us-west-2").unwrap();
    s.send_line("y").unwrap();
    s.exp_string(menu).unwrap();
    s.send(DOWN).unwrap();
    s.send_line("").unwrap();
    s.exp_string("Upgrade of cluster \"dt\" in us-west-2: Kubernetes 1.35")
        .unwrap();
    s.exp_string("Upgrade dt to Kubernetes 1.36 now?").unwrap();
    s.send_line("y").unwrap();
    s.exp_string("is upgraded").unwrap();
    s.exp_eof().unwrap();
    assert_eq!(exit_code(&mut s), 0);
    let eks = aws_sdk_eks::Client::new(&account.sdk("us-west-2"));
    let version = block_on(eks.describe_cluster().name("dt").send())
        .unwrap()
        .cluster()
        .and_then(|c| c.version().map(str::to_string));
    assert_eq!(version.as_deref(), Some("1.36"));

    // Or a new cluster beside it.
    let mut s = wizard(&account, dir.path(), &[]);
    s.exp_string("Create the cluster in us-west-2").unwrap();
    s.send_line("y").unwrap();
    s.exp_string(menu).unwrap();
    s.exp_string("Make a new cluster").unwrap();
    for _ in 0..3 {
        s.send(DOWN).unwrap();
    }
    s.send_line("").unwrap();
    s.exp_string("Use the recommended production set-up")
        .unwrap();
    s.send_control('c').unwrap();
    s.exp_eof().unwrap();

    // Tear down: typing the name.
    let mut s = wizard(&account, dir.path(), &[]);
    s.exp_string("Create the cluster in us-west-2").unwrap();
    s.send_line("y").unwrap();
    s.exp_string(menu).unwrap();
    s.send(DOWN).unwrap();
    s.send(DOWN).unwrap();
    s.send_line("").unwrap();
    s.exp_string("Type the cluster name (dt)").unwrap();
    s.send_line("dt").unwrap();
    s.exp_string("Nothing is left").unwrap();
    s.exp_eof().unwrap();
    assert_eq!(exit_code(&mut s), 0);
    assert_eq!(our_vpcs(&account, "dt"), 0);

    // With nothing left here, the wizard goes straight to a new cluster.
    let mut s = wizard(&account, dir.path(), &[]);
    s.exp_string("Create the cluster in us-west-2").unwrap();
    s.send_line("y").unwrap();
    s.exp_string("Use the recommended production set-up")
        .unwrap();
    s.send_control('c').unwrap();
    s.exp_eof().unwrap();
}
