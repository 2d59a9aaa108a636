//! Offline behaviour: plan output (snapshots), help, and bad input. `plan` must make no AWS call
//! at all: most tests point AWS at a closed port, and one runs with working credentials and
//! counts the requests the emulator received.

use predicates::prelude::*;

use crate::harness::{bare_eksboot, root};

fn offline() -> (assert_cmd::Command, tempfile::TempDir) {
    let home = tempfile::tempdir().unwrap();
    let mut cmd = bare_eksboot(&home);
    // Any AWS call would fail: no credentials, and an endpoint where nothing listens.
    cmd.env("AWS_ENDPOINT_URL", "http://127.0.0.1:9");
    (cmd, home)
}

fn plan(profile: &str, output: &str) -> String {
    let (mut cmd, _home) = offline();
    let out = cmd
        .args(["plan", "--profile", profile, "--output", output])
        .assert()
        .success();
    String::from_utf8(out.get_output().stdout.clone()).unwrap()
}

#[test]
fn plan_snapshots_of_the_example_profiles() {
    for name in ["dev", "production", "private", "auto"] {
        let profile = format!("profiles/{name}.toml");
        insta::assert_snapshot!(format!("plan_{name}_text"), plan(&profile, "text"));
        let json = plan(&profile, "json");
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        insta::assert_json_snapshot!(format!("plan_{name}_json"), value);
    }
}

#[test]
fn plan_json_follows_the_contract() {
    let value: serde_json::Value =
        serde_json::from_str(&plan("profiles/production.toml", "json")).unwrap();
    assert_eq!(value["cluster"]["name"], "production");
    assert_eq!(value["cluster"]["region"], "us-east-1");
    assert_eq!(value["network"]["nat"], "per-az");
    let resources = value["resources"].as_array().unwrap();
    let ids: Vec<&str> = resources
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    for r in resources {
        assert!(["secure", "network", "cluster"].contains(&r["task"].as_str().unwrap()));
        assert!(r["kind"].is_string() && r["name"].is_string());
        for dep in r["depends_on"].as_array().unwrap() {
            assert!(
                ids.contains(&dep.as_str().unwrap()),
                "unknown dependency {dep}"
            );
        }
    }
    let nat = resources.iter().find(|r| r["id"] == "nat-1").unwrap();
    assert_eq!(nat["kind"], "nat-gateway");
    assert_eq!(nat["name"], "production-nat-1");
    assert_eq!(
        nat["depends_on"],
        serde_json::json!(["subnet-public-1", "eip-1", "igw-attach"])
    );
    assert_eq!(value["subnets"][0]["tier"], "private");
    assert_eq!(value["subnets"][0]["az"], "AZ 1");
    assert_eq!(value["subnets"][0]["cidr"], "10.20.0.0/18");
    assert!(value["cost"]["monthly_usd"].as_f64().unwrap() > 73.0);
    assert_eq!(
        value["cost"]["basis"],
        "us-east-1 on-demand list prices, 2026-11"
    );
    assert_eq!(value["cost"]["items"][0]["item"], "EKS control plane");
    let checklist: Vec<&str> = value["checklist"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        checklist,
        [
            "creator-role",
            "role-boundary",
            "secrets-encryption",
            "audit-logging",
            "endpoint-access",
            "private-nodes",
            "nat-per-az",
            "access-entries",
            "imdsv2",
            "pod-identity",
            "addon-permissions",
            "deletion-protection",
            "support-policy",
            "node-auto-repair",
            "node-os"
        ]
    );
    // Absent version stays absent (null), and shows in text as "newest at create time".
    let dev: serde_json::Value = serde_json::from_str(&plan("profiles/dev.toml", "json")).unwrap();
    assert!(dev["cluster"]["kubernetes_version"].is_null());
    assert!(plan("profiles/dev.toml", "text").contains("Kubernetes newest at create time"));
}

#[test]
fn plan_with_a_missing_file_exits_2_with_one_line_naming_it() {
    let (mut cmd, _home) = offline();
    let out = cmd
        .args(["plan", "--profile", "profiles/nope.toml"])
        .assert()
        .code(2);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("profiles/nope.toml"), "{stderr}");
}

#[test]
fn plan_with_an_unreadable_or_non_toml_file_exits_2_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage.toml");
    std::fs::write(&garbage, "this is { not toml").unwrap();
    for path in [dir.path().to_path_buf(), garbage] {
        let (mut cmd, _home) = offline();
        let out = cmd.arg("plan").arg("--profile").arg(&path).assert().code(2);
        let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(&path.display().to_string()), "{stderr}");
    }
}

#[test]
fn plan_of_an_invalid_profile_lists_every_problem() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        "[cluster]\nname = \"bad name\"\nregion = \"us-west-2\"\nlog_types = [\"kubelet\"]\n\
         [network]\npattern = \"private\"\nnat = \"single\"\n",
    )
    .unwrap();
    let (mut cmd, _home) = offline();
    cmd.arg("plan")
        .arg("--profile")
        .arg(&path)
        .assert()
        .code(2)
        .stdout("")
        .stderr(
            predicate::str::contains("has 3 problems")
                .and(predicate::str::contains("bad.toml:2:8: cluster.name"))
                .and(predicate::str::contains("bad.toml:4:14: cluster.log_types"))
                .and(predicate::str::contains("bad.toml:7:7: network.nat"))
                .and(predicate::str::contains("hint:")),
        );
}

#[test]
fn help_explains_itself_with_examples() {
    for args in [
        vec!["--help"],
        vec!["plan", "--help"],
        vec!["permissions", "--help"],
        vec!["preflight", "--help"],
        vec!["create", "--help"],
        vec!["apply", "--help"],
        vec!["upgrade", "--help"],
        vec!["resume", "--help"],
        vec!["status", "--help"],
        vec!["teardown", "--help"],
        vec!["token", "--help"],
    ] {
        let (mut cmd, _home) = offline();
        let out = cmd.args(&args).assert().success();
        let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
        assert!(text.contains("Examples:"), "{args:?}:\n{text}");
        let name = format!("help_{}", args.join("_").replace("--", ""));
        insta::assert_snapshot!(name, text);
    }
}

#[test]
fn permissions_prints_a_policy_offline_and_names_what_is_missing() {
    let (mut cmd, _home) = offline();
    let out = cmd
        .args([
            "permissions",
            "--profile",
            "profiles/dev.toml",
            "--account",
            "123456789012",
        ])
        .assert()
        .success();
    let policy: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let text = policy.to_string();
    assert!(
        text.contains("arn:aws:iam::123456789012:role/dev-creator"),
        "{text}"
    );
    assert!(text.contains("ec2:CreateVpc"), "{text}");
    // No credentials and no --account: any account, said on stderr.
    let (mut cmd, _home) = offline();
    let out = cmd
        .args([
            "permissions",
            "--name",
            "demo",
            "--region",
            "eu-west-1",
            "--nodes",
            "off",
        ])
        .assert()
        .success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(text.contains("arn:aws:iam::*:role/demo-creator"), "{text}");
    // Without nodes no node role is made; one left by an earlier apply may still be retired.
    let policy: serde_json::Value = serde_json::from_str(&text).unwrap();
    for statement in policy["Statement"].as_array().unwrap() {
        let actions = statement["Action"].to_string();
        if actions.contains("iam:CreateRole") || actions.contains("iam:AttachRolePolicy") {
            assert!(
                !statement["Resource"].to_string().contains("demo-node"),
                "no node role is made without nodes: {statement}"
            );
        }
    }
    assert!(String::from_utf8_lossy(&out.get_output().stderr).contains("--account"));
    // The creator's policy, for an existing role.
    let (mut cmd, _home) = offline();
    let out = cmd
        .args([
            "permissions",
            "--profile",
            "profiles/dev.toml",
            "--account",
            "123456789012",
            "--for",
            "creator",
        ])
        .assert()
        .success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(
        text.contains("ec2:RunInstances") && text.contains("eks:CreateCluster"),
        "{text}"
    );
    let (mut cmd, _home) = offline();
    cmd.args(["permissions", "--region", "eu-west-1"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--name NAME"));
}

#[test]
fn bare_eksboot_explains_what_it_will_do() {
    let (mut cmd, _home) = offline();
    cmd.assert().code(2).stdout(
        predicate::str::contains("Secure the environment")
            .and(predicate::str::contains("eksboot plan --profile")),
    );
}

#[test]
fn example_profiles_exist() {
    for name in ["dev", "production", "private", "auto"] {
        assert!(root(&format!("profiles/{name}.toml")).exists());
    }
}

#[test]
fn plan_with_credentials_present_asks_aws_nothing() {
    // Credentials that work and an emulator that logs every request of the account: `plan`
    // could call AWS here, and the emulator's count says it did not.
    let account = crate::harness::Account::new();
    let profile = root("profiles/production.toml");
    account.authorize(&profile, &[]);
    let before = crate::requests::mark(&account);
    for output in ["text", "json"] {
        account
            .eksboot()
            .args(["plan", "--profile"])
            .arg(&profile)
            .args(["--output", output])
            .assert()
            .success();
    }
    let asked = crate::requests::since(&account, before);
    assert!(asked.is_empty(), "plan called AWS: {asked:?}");
    // The count can fail: a command that reads AWS (a teardown finding nothing to remove) shows
    // up in the same log.
    let _ = account
        .eksboot()
        .args([
            "teardown",
            "--yes",
            "--cluster",
            "production",
            "--region",
            "us-east-1",
        ])
        .assert();
    assert!(
        !crate::requests::since(&account, before).is_empty(),
        "a teardown's reads reached the emulator's log"
    );
}
