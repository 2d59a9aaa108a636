//! IAM's eventual consistency, met by every create (emulator/iam_propagation.py, on by default):
//! the creator role's first AssumeRole after CreateRole, the secrets key's first CreateKey naming
//! the new roles, and the creator's first call after its policy is written are all refused, and
//! eksboot waits each out and finishes. Read from the emulator's IAM log (every request, in
//! order, and the propagation refusals it made) and from AWS, not from eksboot's output alone.

use serde_json::Value;

use crate::create::Run;
use crate::harness::{block_on, root, Account};

/// The position of the first request after `from` that `pred` accepts; panics naming `what`
/// and the requests it looked at.
fn position(log: &[Value], from: usize, what: &str, pred: impl Fn(&Value) -> bool) -> usize {
    log.iter()
        .enumerate()
        .skip(from)
        .find(|(_, r)| pred(r))
        .map(|(i, _)| i)
        .unwrap_or_else(|| {
            let seen: Vec<String> = log[from.min(log.len())..]
                .iter()
                .map(|r| {
                    format!(
                        "{} {} allowed={}",
                        r["principal"], r["action"], r["allowed"]
                    )
                })
                .collect();
            panic!("no request {what} after #{from}; the log from there: {seen:#?}")
        })
}

/// Whether one of the request's checks is `action` on a resource containing `resource_part`.
fn checks(request: &Value, action: &str, resource_part: &str) -> bool {
    request["action"] == action
        && request["checks"].as_array().into_iter().flatten().any(|c| {
            c["action"] == action && c["resource"].as_str().unwrap_or("").contains(resource_part)
        })
}

#[test]
fn a_create_meets_iam_propagation_at_each_new_role_key_policy_and_policy_write_and_waits_it_out() {
    let run = Run::new(Account::new());
    let id = run.account.id.clone();
    let out = run.create(&root("profiles/dev.toml")).success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).to_string();

    // The person sees the wait, and the run succeeds: the cluster is ACTIVE in AWS.
    assert!(
        stdout.contains("waiting for IAM to propagate"),
        "no wait for IAM shown:\n{stdout}"
    );
    let eks = aws_sdk_eks::Client::new(&run.account.sdk("us-west-2"));
    let cluster = block_on(eks.describe_cluster().name("dev").send()).expect("the cluster");
    assert_eq!(
        cluster
            .cluster()
            .and_then(|c| c.status())
            .map(|s| s.as_str()),
        Some("ACTIVE")
    );

    let log = run.account.iam_log();
    let requests = log["requests"].as_array().expect("the IAM log").clone();
    let refusals = log["propagation"]
        .as_array()
        .expect("the propagation refusals")
        .clone();
    let creator_role = format!("arn:aws:iam::{id}:role/dev-creator");
    let creator_session = format!("arn:aws:sts::{id}:assumed-role/dev-creator/");
    let refused = |r: &Value| r["allowed"] == false && r["propagation"].is_string();

    // 3. The creator's policy is written; the creator's first call after it is denied (IAM has
    // not propagated it), and the same call is then made again and allowed.
    let written = position(&requests, 0, "iam:PutRolePolicy on the creator", |r| {
        r["allowed"] == true && checks(r, "iam:PutRolePolicy", ":role/dev-creator")
    });
    let denied = position(&requests, written, "of the creator, refused", |r| {
        refused(r)
            && r["principal"]
                .as_str()
                .unwrap_or("")
                .starts_with(&creator_session)
    });
    let action = requests[denied]["action"].clone();
    assert!(
        requests[written + 1..denied].iter().all(|r| !r["principal"]
            .as_str()
            .unwrap_or("")
            .starts_with(&creator_session)),
        "the creator made an allowed call after its policy was written, before the refused one"
    );
    position(
        &requests,
        denied + 1,
        "of the creator, allowed again",
        |r| {
            r["allowed"] == true
                && r["action"] == action
                && r["principal"]
                    .as_str()
                    .unwrap_or("")
                    .starts_with(&creator_session)
        },
    );
    assert!(
        refusals.iter().any(|r| r["rule"] == "policy-change"
            && r["principal"]
                .as_str()
                .unwrap_or("")
                .starts_with(&creator_session)),
        "{refusals:#?}"
    );

    // 1. The creator role, just made, cannot be assumed at first; assumed on a retry.
    let made = position(&requests, 0, "iam:CreateRole of the creator", |r| {
        r["allowed"] == true && checks(r, "iam:CreateRole", ":role/dev-creator")
    });
    let assume_refused = position(
        &requests,
        made,
        "sts:AssumeRole of the creator, refused",
        |r| refused(r) && r["action"] == "sts:AssumeRole",
    );
    let assumed = position(&requests, assume_refused, "sts:AssumeRole, allowed", |r| {
        r["allowed"] == true && checks(r, "sts:AssumeRole", &creator_role)
    });
    assert!(assume_refused < assumed && assumed < denied);
    assert!(
        refusals
            .iter()
            .any(|r| r["rule"] == "new-role" && r["target"] == creator_role.as_str()),
        "{refusals:#?}"
    );

    // 2. The key policy names the new roles: KMS cannot see them at first (the refusal is a
    // validation error, after IAM allowed the request), and a retry makes the one key.
    let key_refusals: Vec<&Value> = refusals
        .iter()
        .filter(|r| r["rule"] == "new-principal" && r["action"] == "kms:CreateKey")
        .collect();
    assert!(!key_refusals.is_empty(), "{refusals:#?}");
    assert!(
        key_refusals[0]["why"]
            .as_str()
            .unwrap_or("")
            .contains(&creator_role),
        "{key_refusals:#?}"
    );
    let creates = requests
        .iter()
        .filter(|r| r["allowed"] == true && r["action"] == "kms:CreateKey")
        .count();
    assert_eq!(
        creates,
        key_refusals.len() + 1,
        "every refused CreateKey tried again, once made"
    );
    let kms = aws_sdk_kms::Client::new(&run.account.sdk("us-west-2"));
    let key = block_on(kms.describe_key().key_id("alias/eksboot/dev").send()).expect("the key");
    let key_id = key.key_metadata().unwrap().key_id().to_string();
    let policy = block_on(
        kms.get_key_policy()
            .key_id(&key_id)
            .policy_name("default")
            .send(),
    )
    .expect("its policy");
    assert!(
        policy.policy().unwrap_or("").contains(&creator_role),
        "the key's policy does not name the creator"
    );
    let keys = block_on(kms.list_keys().send()).expect("the keys");
    assert_eq!(keys.keys().len(), 1, "one key, not one per try");
}

/// The rules one by one, straight against the emulator with boto3 (their own pytest, run here
/// so that `cargo test` runs it).
#[test]
fn the_emulator_models_iam_propagation() {
    crate::harness::pytest("emulator/test_iam_propagation.py");
}
