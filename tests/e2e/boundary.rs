//! `security.permissions_boundary`: every role eksboot creates carries it, the printed policy
//! lets the runner write those roles only with it (and never remove it or rewrite the boundary),
//! preflight refuses a boundary that blocks what the creator needs, and `apply` sets it on a
//! running cluster's roles. AWS is read back through the SDK.

use std::path::PathBuf;

use serde_json::json;

use crate::create::Run;
use crate::harness::{block_on, root, Account};
use crate::teardown::{assert_nothing_left, ours};

/// A customer managed policy made by the account's administrator (the harness), for use as a
/// boundary; returns its ARN.
fn boundary_policy(account: &Account, name: &str, document: serde_json::Value) -> String {
    let iam = aws_sdk_iam::Client::new(&account.sdk("us-east-1"));
    block_on(
        iam.create_policy()
            .policy_name(name)
            .policy_document(document.to_string())
            .send(),
    )
    .unwrap()
    .policy()
    .unwrap()
    .arn()
    .unwrap()
    .to_string()
}

/// A boundary that allows everything: the ceiling is the roles' own policies.
fn open_boundary(account: &Account) -> String {
    boundary_policy(
        account,
        "eks-boundary",
        json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "*", "Resource": "*"}
        ]}),
    )
}

/// dev.toml, with `security.permissions_boundary` set when `boundary` is given.
fn dev_with_boundary(run: &Run, boundary: Option<&str>) -> PathBuf {
    let base = std::fs::read_to_string(root("profiles/dev.toml")).unwrap();
    let mut table: toml::Table = base.parse().unwrap();
    if let Some(arn) = boundary {
        table
            .entry("security")
            .or_insert_with(|| toml::Value::Table(Default::default()))
            .as_table_mut()
            .unwrap()
            .insert("permissions_boundary".into(), arn.into());
    }
    let path = run.dir.path().join(if boundary.is_some() {
        "bounded.toml"
    } else {
        "unbounded.toml"
    });
    std::fs::write(&path, toml::to_string(&table).unwrap()).unwrap();
    path
}

fn boundary_of(account: &Account, role: &str) -> Option<String> {
    let iam = aws_sdk_iam::Client::new(&account.sdk("us-east-1"));
    block_on(iam.get_role().role_name(role).send())
        .unwrap()
        .role()
        .unwrap()
        .permissions_boundary()
        .and_then(|b| b.permissions_boundary_arn())
        .map(str::to_string)
}

fn eksboot(run: &Run, args: &[&str]) -> std::process::Output {
    run.account
        .eksboot()
        .env("EKSBOOT_POLL_MS", "100")
        .args(args)
        .arg("--state")
        .arg(run.state())
        .output()
        .unwrap()
}

fn assert_ok(out: &std::process::Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn is_denied<T, E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::fmt::Debug>(
    what: &str,
    result: Result<T, E>,
) {
    match result {
        Ok(_) => panic!("{what} was allowed"),
        Err(e) => assert!(
            matches!(e.code(), Some("AccessDenied")),
            "{what}: expected AccessDenied, got {e:?}"
        ),
    }
}

#[test]
fn every_role_carries_the_boundary_and_the_runner_cannot_do_without_it() {
    let run = Run::new(Account::new());
    let boundary = open_boundary(&run.account);
    let profile = dev_with_boundary(&run, Some(&boundary));
    run.account.authorize(&profile, &[]);
    let iam = aws_sdk_iam::Client::new(&run.account.runner_sdk("us-east-1"));
    let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"Service": "eks.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
    .to_string();
    // Holding the printed policy, the runner cannot make this cluster's roles without it.
    is_denied(
        "creating the creator role without the boundary",
        block_on(
            iam.create_role()
                .role_name("dev-creator")
                .assume_role_policy_document(&trust)
                .send(),
        ),
    );
    let out = eksboot(
        &run,
        &["create", "--yes", "--profile", profile.to_str().unwrap()],
    );
    assert_ok(&out, "create with a boundary");
    for role in ["dev-creator", "dev-cluster", "dev-node"] {
        assert_eq!(
            boundary_of(&run.account, role).as_deref(),
            Some(boundary.as_str()),
            "{role}"
        );
    }
    // Nor take it off, put another in its place, or rewrite the boundary policy.
    is_denied(
        "removing the creator role's boundary",
        block_on(
            iam.delete_role_permissions_boundary()
                .role_name("dev-creator")
                .send(),
        ),
    );
    let other = open_boundary_named(&run.account, "wider");
    is_denied(
        "replacing the creator role's boundary",
        block_on(
            iam.put_role_permissions_boundary()
                .role_name("dev-creator")
                .permissions_boundary(&other)
                .send(),
        ),
    );
    is_denied(
        "rewriting the boundary policy",
        block_on(
            iam.create_policy_version()
                .policy_arn(&boundary)
                .policy_document(
                    json!({"Version": "2012-10-17", "Statement": [
                        {"Effect": "Allow", "Action": "*", "Resource": "*"}]})
                    .to_string(),
                )
                .set_as_default(true)
                .send(),
        ),
    );
    let out = eksboot(&run, &["teardown", "--yes"]);
    assert_ok(&out, "teardown");
    assert_nothing_left(&run.account, "dev", "us-west-2");
}

fn open_boundary_named(account: &Account, name: &str) -> String {
    boundary_policy(
        account,
        name,
        json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "*", "Resource": "*"}
        ]}),
    )
}

#[test]
fn a_boundary_that_blocks_what_the_creator_needs_is_refused_before_anything_exists() {
    let run = Run::new(Account::new());
    let boundary = boundary_policy(
        &run.account,
        "no-pass-role",
        json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "*", "Resource": "*"},
            {"Effect": "Deny", "Action": "iam:PassRole", "Resource": "*"}
        ]}),
    );
    let profile = dev_with_boundary(&run, Some(&boundary));
    run.account.authorize(&profile, &[]);
    let out = eksboot(
        &run,
        &["create", "--yes", "--profile", profile.to_str().unwrap()],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("✗ role-boundary") && stdout.contains("iam:PassRole"),
        "{stdout}"
    );
    let made = ours(&run.account, "dev", "us-west-2");
    assert!(made.values().all(|n| *n == 0), "nothing was made: {made:?}");
}

#[test]
fn apply_puts_a_new_boundary_on_a_running_clusters_roles() {
    let run = Run::new(Account::new());
    let plain = dev_with_boundary(&run, None);
    run.account.authorize(&plain, &[]);
    assert_ok(
        &eksboot(
            &run,
            &["create", "--yes", "--profile", plain.to_str().unwrap()],
        ),
        "create",
    );
    assert_eq!(boundary_of(&run.account, "dev-creator"), None);
    let boundary = open_boundary(&run.account);
    let bounded = dev_with_boundary(&run, Some(&boundary));
    run.account.authorize(&bounded, &[]);
    let plan = eksboot(&run, &["plan", "--profile", bounded.to_str().unwrap()]);
    assert_ok(&plan, "plan");
    assert!(
        String::from_utf8_lossy(&plan.stdout).contains("permissions_boundary"),
        "{}",
        String::from_utf8_lossy(&plan.stdout)
    );
    assert_ok(
        &eksboot(
            &run,
            &["apply", "--yes", "--profile", bounded.to_str().unwrap()],
        ),
        "apply",
    );
    for role in ["dev-creator", "dev-cluster", "dev-node"] {
        assert_eq!(
            boundary_of(&run.account, role).as_deref(),
            Some(boundary.as_str()),
            "{role}"
        );
    }
    assert_ok(&eksboot(&run, &["teardown", "--yes"]), "teardown");
    assert_nothing_left(&run.account, "dev", "us-west-2");
}
