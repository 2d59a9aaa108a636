//! A shared state's safeguards: encrypted with the key the profile names, the bucket checked
//! before anything is made, exactly the grants it needs, and `plan` without credentials. Every
//! claim reads S3 back through the SDK.

use std::path::{Path, PathBuf};

use crate::create::Run;
use crate::harness::{bare_eksboot, block_on, Account};
use crate::shared_state::{
    address, bucket, create, eksboot_in, held_apply, make_bucket, object, output, profile, s3, KEY,
    LOCK, REGION,
};

/// A symmetric KMS key in the bucket's region, made as the account's administrator.
fn state_key(account: &Account) -> String {
    let kms = aws_sdk_kms::Client::new(&account.sdk(REGION));
    block_on(kms.create_key().description("eksboot state").send())
        .unwrap()
        .key_metadata()
        .unwrap()
        .arn()
        .unwrap()
        .to_string()
}

/// [`profile`] with `state_kms_key` naming `key`.
fn profile_with_key(run: &Run, key: &str) -> PathBuf {
    let path = run.dir.path().join("shared-kms.toml");
    let text = std::fs::read_to_string(profile(run, 30)).unwrap();
    let (head, rest) = text.split_once("[cluster]").unwrap();
    std::fs::write(
        &path,
        format!("{head}state_kms_key = \"{key}\"\n[cluster]{rest}"),
    )
    .unwrap();
    path
}

fn preflight(run: &Run, profile: &Path) -> (i32, String) {
    let mut cmd = eksboot_in(run, run.dir.path(), run.account.home.path());
    cmd.args(["preflight", "--profile"]).arg(profile);
    output(cmd)
}

/// The KMS key S3 says encrypts `key`, if any.
fn encrypted_with(account: &Account, key: &str) -> Option<String> {
    let head = block_on(
        s3(account)
            .head_object()
            .bucket(bucket(account))
            .key(key)
            .send(),
    )
    .unwrap();
    assert_eq!(
        head.server_side_encryption().map(|e| e.as_str()),
        head.ssekms_key_id().map(|_| "aws:kms"),
        "a key id comes with SSE-KMS"
    );
    head.ssekms_key_id().map(str::to_string)
}

#[test]
fn a_state_key_encrypts_the_state_and_only_its_grant_lets_the_caller_write() {
    let run = Run::new(Account::new());
    make_bucket(&run.account, true);
    let key = state_key(&run.account);
    let with_key = profile_with_key(&run, &key);
    // Granted for the bucket but not the key: the write of the lock is refused, said by preflight.
    run.account.authorize(&profile(&run, 30), &[]);
    let (code, text) = preflight(&run, &with_key);
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("cannot be written") && text.contains("eksboot permissions"),
        "{text}"
    );
    assert_eq!(object(&run.account, LOCK), None, "nothing written");
    // With the grants `permissions` prints for the profile naming the key: preflight passes,
    // and its probe of the lock is gone again.
    run.account.authorize(&with_key, &[]);
    let (code, text) = preflight(&run, &with_key);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("takes a write") && text.contains("blocks all public access"),
        "{text}"
    );
    assert_eq!(object(&run.account, LOCK), None, "the probe is removed");
    let (code, text) = create(&run, &with_key);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("encrypted with the KMS key"), "{text}");
    assert_eq!(encrypted_with(&run.account, KEY), Some(key.clone()));
    // Read back from elsewhere (S3 decrypts it with the caller's grant on the key).
    let elsewhere = tempfile::tempdir().unwrap();
    let mut status = eksboot_in(&run, elsewhere.path(), elsewhere.path());
    status.args(["status", "--state", &address(&run.account)]);
    let (code, text) = output(status);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("shared"), "{text}");
    // A later run's lock, taken before that run reads the state, is encrypted as the state is.
    let changed = run.dir.path().join("shared-kms-changed.toml");
    std::fs::write(
        &changed,
        std::fs::read_to_string(&with_key).unwrap().replace(
            "oidc_provider = false",
            "oidc_provider = false\nlog_types = [\"api\"]",
        ),
    )
    .unwrap();
    let apply = held_apply(&run, &changed);
    assert_eq!(encrypted_with(&run.account, LOCK), Some(key.clone()));
    run.account.hold_updates(REGION, "shared", false);
    let out = apply.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(encrypted_with(&run.account, KEY), Some(key));
}

/// The statement of `policy` with the id `sid`.
fn statement<'a>(policy: &'a serde_json::Value, sid: &str) -> &'a serde_json::Value {
    policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["Sid"] == sid)
        .unwrap_or_else(|| panic!("no {sid} in {policy}"))
}

#[test]
fn permissions_for_a_state_given_on_the_command_line_name_that_object_and_its_lock() {
    let home = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("p.toml");
    std::fs::write(
        &profile,
        "version = 1\n[cluster]\nname = \"web\"\nregion = \"eu-west-1\"\n[network]\npattern = \"public\"\n",
    )
    .unwrap();
    let policy = |extra: &[&str]| -> serde_json::Value {
        let out = bare_eksboot(&home)
            .args(["permissions", "--account", "123456789012", "--profile"])
            .arg(&profile)
            .args(extra)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let local = policy(&[]);
    assert!(
        !local.to_string().contains("arn:aws:s3:::"),
        "a local state needs no S3: {local}"
    );
    let shared = policy(&["--state", "s3://team-eksboot/web/web.state.json"]);
    assert_eq!(
        statement(&shared, "SharedStateObjects")["Resource"],
        serde_json::json!([
            "arn:aws:s3:::team-eksboot/web/web.state.json",
            "arn:aws:s3:::team-eksboot/web/web.state.json.lock"
        ])
    );
    assert_eq!(
        statement(&shared, "SharedStateListOwnKeys")["Resource"],
        "arn:aws:s3:::team-eksboot"
    );
    assert!(
        !shared.to_string().contains("SharedStateKey"),
        "no key named, no KMS grant: {shared}"
    );
}

#[test]
fn plan_of_a_shared_state_without_credentials_plans_a_new_cluster_and_says_why() {
    let home = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("p.toml");
    std::fs::write(
        &profile,
        "version = 1\nstate = \"s3://team-eksboot/web\"\n[cluster]\nname = \"web\"\n\
         region = \"eu-west-1\"\n[network]\npattern = \"public\"\n",
    )
    .unwrap();
    let out = bare_eksboot(&home)
        .args(["plan", "--profile"])
        .arg(&profile)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(
        stdout.contains("Plan for EKS cluster \"web\"")
            && stdout.contains("s3://team-eksboot/web/web-eu-west-1.state.json"),
        "{stdout}"
    );
    assert!(
        stderr.contains("could not be read") && stderr.contains("no AWS credentials"),
        "{stderr}"
    );
    // Asked for explicitly, an unreadable state is an error, not a plan.
    let out = bare_eksboot(&home)
        .args(["plan", "--profile"])
        .arg(&profile)
        .args(["--state", "s3://team-eksboot/web/web-eu-west-1.state.json"])
        .output()
        .unwrap();
    assert!(!out.status.success(), "{out:?}");
}
