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

/// `eksboot` in a pseudo-terminal with no AWS credentials anywhere, as on a fresh machine: no
/// AWS variables, HOME an empty directory whose AWS config and credentials files are empty, no
/// instance metadata; run in `dir`.
fn wizard_without_credentials(
    home: &std::path::Path,
    dir: &std::path::Path,
    args: &[&str],
) -> PtySession {
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("eksboot"));
    bare_environment(&mut cmd, home);
    cmd.current_dir(dir).args(args);
    rexpect::session::spawn_command(cmd, Some(30_000)).unwrap()
}

/// Clears the environment but for PATH, then sets only what a person's terminal and an empty
/// AWS set-up give: a HOME, empty AWS config files inside it, no instance metadata.
fn bare_environment(cmd: &mut std::process::Command, home: &std::path::Path) {
    for file in ["aws-config", "aws-credentials"] {
        std::fs::write(home.join(file), "").unwrap();
    }
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("TERM", "xterm")
        .env("NO_COLOR", "1")
        .env("HOME", home)
        .env("AWS_CONFIG_FILE", home.join("aws-config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", home.join("aws-credentials"))
        .env("AWS_EC2_METADATA_DISABLED", "true");
}

/// What the terminal showed, as text: rexpect hands bytes over one char each (so `✓` is three
/// chars), and the terminal adds carriage returns and inquire's escape sequences.
fn screen_text(captured: &str) -> String {
    let bytes: Vec<u8> = captured.chars().map(|c| c as u32 as u8).collect();
    let text = String::from_utf8_lossy(&bytes).replace('\r', "");
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\x1b' {
            out.push(c);
            continue;
        }
        // ESC [ parameters final-byte: a control sequence; skip it whole.
        if chars.peek() == Some(&'[') {
            chars.next();
            for c in chars.by_ref() {
                if ('@'..='~').contains(&c) {
                    break;
                }
            }
        } else {
            chars.next();
        }
    }
    out
}

/// The lines of a plan that must agree wherever it is shown: the one with the resource count,
/// the cost total, and the security checklist.
fn plan_summary(plan: &str) -> (String, String, Vec<String>) {
    let resources = plan
        .lines()
        .find(|l| l.starts_with("  Kubernetes ") && l.ends_with(" resources"))
        .unwrap_or_else(|| panic!("no resource count line in:\n{plan}"))
        .to_string();
    let total = plan
        .lines()
        .find(|l| l.trim_start().starts_with("Total "))
        .unwrap_or_else(|| panic!("no cost total in:\n{plan}"))
        .to_string();
    let checklist: Vec<String> = plan
        .lines()
        .skip_while(|l| *l != "Security checklist")
        .skip(1)
        .take_while(|l| l.starts_with("   ") && !l.trim().is_empty())
        .map(str::to_string)
        .collect();
    assert!(!checklist.is_empty(), "no checklist in:\n{plan}");
    (resources, total, checklist)
}

/// Issue 26: on a machine without AWS credentials the wizard says so and offers three ways on.
/// Plan only asks the questions with nothing read from AWS (a role and an admin nobody can look
/// up are taken, zones are counted, the version is not asked), saves the profile, and
/// `eksboot plan` of it, still without credentials, shows the resources, cost and checklist
/// the wizard showed.
#[test]
fn without_credentials_plan_only_saves_a_profile_that_plans_the_same() {
    let home = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut s = wizard_without_credentials(home.path(), dir.path(), &[]);
    s.exp_string("Which AWS region?").unwrap();
    s.send("us-west-2").unwrap();
    s.send_line("").unwrap();
    s.exp_string("No AWS credentials were found").unwrap();
    s.exp_string("How would you like to go on?").unwrap();
    s.exp_string("Show how to set up AWS credentials").unwrap();
    s.exp_string("Plan only").unwrap();
    s.exp_string("The sandbox").unwrap();
    s.send(DOWN).unwrap();
    s.send_line("").unwrap();
    s.exp_string("Planning without AWS").unwrap();
    s.exp_string("Use the recommended production set-up")
        .unwrap();
    s.send_line("n").unwrap();
    // An existing role nobody can look up without credentials: its form is checked, no more.
    s.exp_string("Who creates the cluster?").unwrap();
    s.send(DOWN).unwrap();
    s.send_line("").unwrap();
    s.exp_string("The role's ARN").unwrap();
    s.send_line("arn:aws:iam::123456789012:role/eks-creator")
        .unwrap();
    for question in [
        "Give the roles eksboot creates a permissions boundary?",
        "How should Kubernetes secrets be encrypted?",
        "Where do add-ons get their AWS permissions?",
        "Which control-plane logs",
        "How long should logs be kept?",
    ] {
        s.exp_string(question).unwrap();
        s.send_line("").unwrap();
    }
    s.exp_string("Other cluster admins").unwrap();
    s.send_line("arn:aws:iam::123456789012:user/alice").unwrap();
    for question in [
        "Protect the cluster from deletion?",
        "Where should eksboot keep this cluster's state?",
        "Which network layout?",
        "The VPC's address range",
    ] {
        s.exp_string(question).unwrap();
        s.send_line("").unwrap();
    }
    // Counted, not named: the names come at create time.
    s.exp_string("How many availability zones?").unwrap();
    s.exp_string("2 (named at create time)").unwrap();
    s.send("\x1b[A").unwrap();
    s.send_line("").unwrap();
    s.exp_string("NAT gateways").unwrap();
    s.send_line("").unwrap();
    s.exp_string("Cluster name").unwrap();
    s.send_line("shop").unwrap();
    // No version question: the newest at create time.
    let between = s
        .exp_string("What happens when this version's standard support ends?")
        .unwrap();
    assert!(!between.contains("Kubernetes version"), "{between}");
    s.send_line("").unwrap();
    s.exp_string("Where can the Kubernetes API be reached from?")
        .unwrap();
    s.send_line("").unwrap();
    s.exp_string("Who may reach the public API endpoint")
        .unwrap();
    s.send_line("203.0.113.0/24").unwrap();
    for question in [
        "Who runs the nodes?",
        "Nodes: which instance type?",
        "Which operating system on the nodes?",
        "How many nodes?",
        "Let EKS replace nodes that turn unhealthy?",
        "Which EKS add-ons?",
        "Register the cluster's OIDC issuer",
    ] {
        s.exp_string(question).unwrap();
        s.send_line("").unwrap();
    }
    s.exp_string("Plan for EKS cluster").unwrap();
    let shown = screen_text(&s.exp_string("What next?").unwrap());
    // At the plan, the first choice saves: nothing can be created without credentials.
    let menu = s.exp_string("Quit without creating anything").unwrap();
    assert!(
        menu.contains("Save the profile, to create it once you have AWS credentials")
            && !menu.contains("Create it now"),
        "{menu}"
    );
    s.send_line("").unwrap();
    s.exp_string("Saved the profile to shop.eksboot.toml. Nothing was created.")
        .unwrap();
    s.exp_string("eksboot create --profile shop.eksboot.toml")
        .unwrap();
    s.exp_eof().unwrap();
    assert_eq!(exit_code(&mut s), 0);

    let saved = std::fs::read_to_string(dir.path().join("shop.eksboot.toml")).unwrap();
    for line in [
        "availability_zones = 2",
        "creator_role = \"arn:aws:iam::123456789012:role/eks-creator\"",
        "admins = [\"arn:aws:iam::123456789012:user/alice\"]",
    ] {
        assert!(saved.contains(line), "{line} not in:\n{saved}");
    }
    assert!(!saved.contains("kubernetes_version"), "{saved}");

    // The saved profile's plan, without credentials, is the plan the wizard showed.
    let mut plan = std::process::Command::new(assert_cmd::cargo::cargo_bin("eksboot"));
    bare_environment(&mut plan, home.path());
    let out = plan
        .current_dir(dir.path())
        .args(["plan", "--profile", "shop.eksboot.toml"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let planned = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(plan_summary(&shown), plan_summary(&planned));
    assert!(
        planned.contains("Kubernetes newest at create time"),
        "{planned}"
    );
    for made in [".aws", ".kube"] {
        assert!(!home.path().join(made).exists(), "~/{made} was made");
    }
}

/// Issue 26: "how to set them up" lists the usual ways, one line each, and ends (exit 0)
/// saying to run eksboot again; nothing is written to the home directory.
#[test]
fn without_credentials_how_to_set_them_up_lists_the_ways_and_exits() {
    let home = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut s = wizard_without_credentials(home.path(), dir.path(), &[]);
    s.exp_string("Which AWS region?").unwrap();
    s.send("eu-west-1").unwrap();
    s.send_line("").unwrap();
    s.exp_string("How would you like to go on?").unwrap();
    s.send_line("").unwrap();
    s.exp_string("Ways to give eksboot AWS credentials")
        .unwrap();
    for way in [
        "aws configure sso",
        "aws sso login --profile NAME",
        "aws configure ",
        "export AWS_PROFILE=NAME",
        "AWS_SECRET_ACCESS_KEY",
        "AWS CloudShell",
        "Then run eksboot again.",
    ] {
        s.exp_string(way).unwrap();
    }
    s.exp_eof().unwrap();
    assert_eq!(exit_code(&mut s), 0);
    for made in [".aws", ".kube"] {
        assert!(!home.path().join(made).exists(), "~/{made} was made");
    }
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

/// Issue 26: an expired SSO session is named with the SDK's own words and the exact login
/// command for the profile in use.
#[test]
fn without_credentials_an_expired_sso_session_gets_the_login_command() {
    let home = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("eksboot"));
    bare_environment(&mut cmd, home.path());
    std::fs::write(
        home.path().join("aws-config"),
        "[profile dev]\nsso_session = work\nsso_account_id = 123456789012\nsso_role_name = Admin\nregion = us-west-2\n[sso-session work]\nsso_start_url = https://example.awsapps.com/start\nsso_region = us-east-1\nsso_registration_scopes = sso:account:access\n",
    )
    .unwrap();
    // The token `aws sso login` cached, expired: ~/.aws/sso/cache/<sha1 of the session>.json.
    let cache = home.path().join(".aws/sso/cache");
    std::fs::create_dir_all(&cache).unwrap();
    // (SHA-1 of "work", the session's name, in hex.)
    std::fs::write(
        cache.join("e274eeff768c6396088ec6eb091f4bf4d47ab1e0.json"),
        r#"{"accessToken": "x", "expiresAt": "2020-01-01T00:00:00Z", "region": "us-east-1", "startUrl": "https://example.awsapps.com/start"}"#,
    )
    .unwrap();
    cmd.env("AWS_PROFILE", "dev").current_dir(dir.path());
    let mut s = rexpect::session::spawn_command(cmd, Some(30_000)).unwrap();
    s.exp_string("Create the cluster in us-west-2 (from your AWS settings)?")
        .unwrap();
    s.send_line("y").unwrap();
    s.exp_string("The AWS SDK says: ").unwrap();
    s.exp_string("the SSO token has expired").unwrap();
    s.exp_string("run `aws sso login --profile dev`, then eksboot again")
        .unwrap();
    s.exp_string("How would you like to go on?").unwrap();
    s.send_control('c').unwrap();
    s.exp_string("nothing was created").unwrap();
    s.exp_eof().unwrap();
    assert_eq!(exit_code(&mut s), 130);
}
