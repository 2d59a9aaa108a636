//! A cluster a team shares: the state in S3, locked with S3's conditional writes. Every claim
//! reads S3 (or EKS) back through the SDK: the object, its lock, what another run is told.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::create::Run;
use crate::harness::{block_on, Account};

pub(crate) const REGION: &str = "us-west-2";

/// The test's bucket: S3 bucket names are global, and the tests run at once in one emulator.
pub(crate) fn bucket(account: &Account) -> String {
    format!("team-eksboot-{}", account.id)
}

/// S3 as the harness sees it (path-style addresses: the emulator has no per-bucket hosts).
pub(crate) fn s3(account: &Account) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::config::Builder::from(&account.sdk(REGION))
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

/// A private, versioned bucket in the cluster's region, as the README's set-up makes it.
pub(crate) fn make_bucket(account: &Account, block_public: bool) {
    let s3 = s3(account);
    block_on(async {
        s3.create_bucket()
            .bucket(bucket(account))
            .create_bucket_configuration(
                aws_sdk_s3::types::CreateBucketConfiguration::builder()
                    .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::UsWest2)
                    .build(),
            )
            .send()
            .await
            .unwrap();
        if block_public {
            s3.put_public_access_block()
                .bucket(bucket(account))
                .public_access_block_configuration(
                    aws_sdk_s3::types::PublicAccessBlockConfiguration::builder()
                        .block_public_acls(true)
                        .ignore_public_acls(true)
                        .block_public_policy(true)
                        .restrict_public_buckets(true)
                        .build(),
                )
                .send()
                .await
                .unwrap();
        }
        s3.put_bucket_versioning()
            .bucket(bucket(account))
            .versioning_configuration(
                aws_sdk_s3::types::VersioningConfiguration::builder()
                    .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                    .build(),
            )
            .send()
            .await
            .unwrap();
    });
}

/// The object at `key`, if any (bytes as text).
pub(crate) fn object(account: &Account, key: &str) -> Option<String> {
    let s3 = s3(account);
    block_on(async {
        match s3
            .get_object()
            .bucket(bucket(account))
            .key(key)
            .send()
            .await
        {
            Ok(out) => Some(
                String::from_utf8(out.body.collect().await.unwrap().into_bytes().to_vec()).unwrap(),
            ),
            Err(e) => {
                assert_eq!(crate::harness::error_code(Err::<(), _>(e)), "NoSuchKey");
                None
            }
        }
    })
}

pub(crate) const KEY: &str = "team/shared-us-west-2.state.json";
pub(crate) const LOCK: &str = "team/shared-us-west-2.state.json.lock";

pub(crate) fn address(account: &Account) -> String {
    format!("s3://{}/{KEY}", bucket(account))
}

/// A small cluster whose state lives in the bucket.
pub(crate) fn profile(run: &Run, retention: u32) -> PathBuf {
    let path = run.dir.path().join("shared.toml");
    std::fs::write(
        &path,
        format!(
            "version = 1\nstate = \"s3://{}/team\"\n[cluster]\nname = \"shared\"\n\
             region = \"{REGION}\"\noidc_provider = false\nlog_retention_days = {retention}\n\
             addons = [\"vpc-cni\"]\ndeletion_protection = false\n\
             [network]\npattern = \"public\"\n[nodes]\nenabled = false\n",
            bucket(&run.account)
        ),
    )
    .unwrap();
    path
}

/// [`profile`] without `state`: its state is on this machine unless `--state` says otherwise.
fn local_profile(run: &Run) -> PathBuf {
    let path = run.dir.path().join("local.toml");
    std::fs::write(
        &path,
        std::fs::read_to_string(profile(run, 30)).unwrap().replace(
            &format!("state = \"s3://{}/team\"\n", bucket(&run.account)),
            "",
        ),
    )
    .unwrap();
    path
}

/// eksboot in `dir` (its working directory) with `home` as HOME: another machine, in effect.
pub(crate) fn eksboot_in(run: &Run, dir: &Path, home: &Path) -> std::process::Command {
    let mut cmd = run.account.command();
    cmd.current_dir(dir)
        .env("HOME", home)
        .env("EKSBOOT_POLL_MS", "100")
        .env("EKSBOOT_RETRY_MS", "50");
    cmd
}

pub(crate) fn output(mut cmd: std::process::Command) -> (i32, String) {
    let out = cmd.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

pub(crate) fn create(run: &Run, profile: &Path) -> (i32, String) {
    let mut cmd = eksboot_in(run, run.dir.path(), run.account.home.path());
    cmd.args(["create", "--yes", "--profile"])
        .arg(profile)
        .arg("--kubeconfig")
        .arg(run.kubeconfig());
    output(cmd)
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !done() {
        assert!(Instant::now() < deadline, "no {what} within 120 s");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_create_keeps_its_state_in_s3_and_a_teardown_from_elsewhere_leaves_no_state_object() {
    let run = Run::new(Account::new());
    make_bucket(&run.account, true);
    // The profile says nothing of S3: `--state` names the object, for permissions and create.
    let profile = local_profile(&run);
    run.account
        .authorize(&profile, &["--state", &address(&run.account)]);
    let mut create = eksboot_in(&run, run.dir.path(), run.account.home.path());
    create
        .args([
            "create",
            "--yes",
            "--state",
            &address(&run.account),
            "--profile",
        ])
        .arg(&profile)
        .arg("--kubeconfig")
        .arg(run.kubeconfig());
    let (code, text) = output(create);
    assert_eq!(code, 0, "{text}");
    let state: serde_json::Value =
        serde_json::from_str(&object(&run.account, KEY).expect("the state object")).unwrap();
    assert_eq!(state["cluster"], "shared");
    assert_eq!(object(&run.account, LOCK), None, "the lock is released");
    assert!(
        !run.dir.path().join(".eksboot").exists(),
        "nothing under .eksboot/"
    );
    // Another working directory and HOME: status and teardown from the S3 address alone.
    let elsewhere = tempfile::tempdir().unwrap();
    let mut status = eksboot_in(&run, elsewhere.path(), elsewhere.path());
    status.args(["status", "--state", &address(&run.account)]);
    let (code, text) = output(status);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("shared"), "{text}");
    let mut teardown = eksboot_in(&run, elsewhere.path(), elsewhere.path());
    teardown
        .args([
            "teardown",
            "--yes",
            "--state",
            &address(&run.account),
            "--kubeconfig",
        ])
        .arg(run.kubeconfig());
    let (code, text) = output(teardown);
    assert_eq!(code, 0, "{text}");
    assert_eq!(object(&run.account, KEY), None, "no state object left");
    assert_eq!(object(&run.account, LOCK), None, "no lock left");
    crate::teardown::assert_nothing_left(&run.account, "shared", REGION);
}

#[test]
fn a_bucket_open_to_the_public_is_refused_before_anything_is_made() {
    let run = Run::new(Account::new());
    make_bucket(&run.account, false);
    let profile = profile(&run, 30);
    run.account.authorize(&profile, &[]);
    // preflight says so first, and its other checks still run (its probe of the lock is gone).
    let mut preflight = eksboot_in(&run, run.dir.path(), run.account.home.path());
    preflight.args(["preflight", "--profile"]).arg(&profile);
    let (code, checked) = output(preflight);
    assert_eq!(code, 1, "{checked}");
    assert!(checked.contains("takes a write"), "{checked}");
    assert_eq!(object(&run.account, LOCK), None, "the probe is removed");
    let (code, text) = create(&run, &profile);
    assert_eq!(code, 1, "{text}");
    for said in [&checked, &text] {
        assert!(
            said.contains("does not block all public access")
                && said.contains("put-public-access-block --bucket team-eksboot-"),
            "{said}"
        );
    }
    assert_eq!(object(&run.account, KEY), None);
    assert_eq!(object(&run.account, LOCK), None, "the lock is released");
    assert_eq!(
        crate::teardown::ours(&run.account, "shared", REGION)["vpcs"],
        0
    );
}

/// Starts `apply` of `profile` in the background, held in its cluster update.
pub(crate) fn held_apply(run: &Run, profile: &Path) -> std::process::Child {
    run.account.hold_updates(REGION, "shared", true);
    let mut cmd = eksboot_in(run, run.dir.path(), run.account.home.path());
    cmd.args(["apply", "--yes", "--profile"])
        .arg(profile)
        .arg("--kubeconfig")
        .arg(run.kubeconfig())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let child = cmd.spawn().unwrap();
    let eks = aws_sdk_eks::Client::new(&run.account.sdk(REGION));
    wait_for("cluster update under way", || {
        block_on(eks.describe_cluster().name("shared").send())
            .ok()
            .and_then(|c| c.cluster().and_then(|c| c.status().cloned()))
            .is_some_and(|s| s.as_str() == "UPDATING")
    });
    child
}

/// A cluster created with its state in S3, and its profile changed (retention and log types):
/// an apply of it updates the cluster's config.
fn created_then_changed(run: &Run) -> PathBuf {
    make_bucket(&run.account, true);
    let before = profile(run, 30);
    run.account.authorize(&before, &[]);
    assert_eq!(create(run, &before).0, 0);
    let changed = profile(run, 90);
    std::fs::write(
        &changed,
        std::fs::read_to_string(&changed).unwrap().replace(
            "oidc_provider = false",
            "oidc_provider = false\nlog_types = [\"api\"]",
        ),
    )
    .unwrap();
    changed
}

#[test]
fn a_second_apply_meets_the_lock_naming_its_holder_and_goes_ahead_after() {
    let run = Run::new(Account::new());
    let profile_90 = created_then_changed(&run);
    let mut first = held_apply(&run, &profile_90);
    let lock: serde_json::Value =
        serde_json::from_str(&object(&run.account, LOCK).expect("the first run's lock")).unwrap();
    let id = lock["id"].as_str().unwrap().to_string();
    // Another person, another directory: refused, naming the holder and the lock.
    let elsewhere = tempfile::tempdir().unwrap();
    let mut second = eksboot_in(&run, elsewhere.path(), elsewhere.path());
    second
        .args([
            "apply",
            "--yes",
            "--state",
            &address(&run.account),
            "--profile",
        ])
        .arg(&profile_90)
        .arg("--kubeconfig")
        .arg(elsewhere.path().join("config"));
    let (code, text) = output(second);
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("in use by another eksboot run")
            && text.contains(&format!("process {}", first.id()))
            && text.contains(&format!(
                "eksboot unlock --state {} {id}",
                address(&run.account)
            )),
        "{text}"
    );
    run.account.hold_updates(REGION, "shared", false);
    assert!(first.wait().unwrap().success());
    assert_eq!(object(&run.account, LOCK), None);
    // Once it is done, the second goes ahead (nothing left to change).
    let mut again = eksboot_in(&run, elsewhere.path(), elsewhere.path());
    again
        .args([
            "apply",
            "--yes",
            "--state",
            &address(&run.account),
            "--profile",
        ])
        .arg(&profile_90)
        .arg("--kubeconfig")
        .arg(elsewhere.path().join("config"));
    let (code, text) = output(again);
    assert_eq!(code, 0, "{text}");
}

#[test]
fn a_killed_run_leaves_its_lock_unlock_removes_it_and_resume_elsewhere_finishes() {
    let run = Run::new(Account::new());
    make_bucket(&run.account, true);
    let profile = profile(&run, 30);
    run.account.authorize(&profile, &[]);
    let mut cmd = eksboot_in(&run, run.dir.path(), run.account.home.path());
    cmd.args(["create", "--yes", "--profile"])
        .arg(&profile)
        .arg("--kubeconfig")
        .arg(run.kubeconfig())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut child = cmd.spawn().unwrap();
    // Killed at an event: once the state in S3 records a step done.
    wait_for("a step recorded done in S3", || {
        object(&run.account, KEY).is_some_and(|text| text.contains("\"done\""))
    });
    child.kill().unwrap();
    child.wait().unwrap();
    let lock: serde_json::Value =
        serde_json::from_str(&object(&run.account, LOCK).expect("the killed run's lock")).unwrap();
    let id = lock["id"].as_str().unwrap().to_string();
    let elsewhere = tempfile::tempdir().unwrap();
    let resume = || {
        let mut cmd = eksboot_in(&run, elsewhere.path(), elsewhere.path());
        cmd.args([
            "resume",
            "--yes",
            "--state",
            &address(&run.account),
            "--kubeconfig",
        ])
        .arg(elsewhere.path().join("config"));
        output(cmd)
    };
    let (code, text) = resume();
    assert_eq!(
        code, 1,
        "a dead run's lock is never broken by itself:\n{text}"
    );
    assert!(text.contains(&id), "{text}");
    let mut unlock = eksboot_in(&run, elsewhere.path(), elsewhere.path());
    unlock.args(["unlock", "--yes", "--state", &address(&run.account), &id]);
    let (code, text) = output(unlock);
    assert_eq!(code, 0, "{text}");
    assert_eq!(object(&run.account, LOCK), None);
    let (code, text) = resume();
    assert_eq!(code, 0, "{text}");
    assert_eq!(
        crate::teardown::ours(&run.account, "shared", REGION)["clusters"],
        1
    );
}

#[test]
fn a_write_from_a_stale_copy_fails_and_loses_nothing() {
    let run = Run::new(Account::new());
    let profile_90 = created_then_changed(&run);
    let first = held_apply(&run, &profile_90);
    // Someone breaks the lock by hand and writes the state meanwhile.
    let s3 = s3(&run.account);
    let mut theirs: serde_json::Value =
        serde_json::from_str(&object(&run.account, KEY).unwrap()).unwrap();
    theirs["updated_at"] = serde_json::json!("written by hand");
    let theirs = serde_json::to_string_pretty(&theirs).unwrap();
    block_on(async {
        s3.delete_object()
            .bucket(bucket(&run.account))
            .key(LOCK)
            .send()
            .await
            .unwrap();
        s3.put_object()
            .bucket(bucket(&run.account))
            .key(KEY)
            .body(theirs.clone().into_bytes().into())
            .send()
            .await
            .unwrap();
    });
    run.account.hold_updates(REGION, "shared", false);
    let out = first.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("ETag no longer matches"), "{text}");
    assert_eq!(
        object(&run.account, KEY).as_deref(),
        Some(theirs.as_str()),
        "what was there is kept, not overwritten"
    );
}

#[test]
fn push_and_pull_move_a_local_state_and_back() {
    let run = Run::new(Account::new());
    make_bucket(&run.account, true);
    let local_profile = local_profile(&run);
    // Permissions for the shared profile (a superset: its S3 grants).
    run.account.authorize(&profile(&run, 30), &[]);
    let (code, text) = create(&run, &local_profile);
    assert_eq!(code, 0, "{text}");
    let local = run.dir.path().join(".eksboot/shared-us-west-2.state.json");
    let before = std::fs::read_to_string(&local).unwrap();
    let mut push = eksboot_in(&run, run.dir.path(), run.account.home.path());
    push.args(["state", "push", "--state"])
        .arg(&local)
        .args(["--to", &address(&run.account)]);
    let (code, text) = output(push);
    assert_eq!(code, 0, "{text}");
    assert!(!local.exists(), "moved, not copied");
    let pushed: serde_json::Value =
        serde_json::from_str(&object(&run.account, KEY).unwrap()).unwrap();
    assert_eq!(
        pushed,
        serde_json::from_str::<serde_json::Value>(&before).unwrap()
    );
    // Pushing again is refused: a state is there.
    std::fs::write(&local, &before).unwrap();
    let mut again = eksboot_in(&run, run.dir.path(), run.account.home.path());
    again
        .args(["state", "push", "--state"])
        .arg(&local)
        .args(["--to", &address(&run.account)]);
    let (code, text) = output(again);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("already holds a state"), "{text}");
    std::fs::remove_file(&local).unwrap();
    let mut pull = eksboot_in(&run, run.dir.path(), run.account.home.path());
    pull.args(["state", "pull", "--state", &address(&run.account), "--to"])
        .arg(&local);
    let (code, text) = output(pull);
    assert_eq!(code, 0, "{text}");
    assert_eq!(object(&run.account, KEY), None);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&std::fs::read_to_string(&local).unwrap())
            .unwrap(),
        serde_json::from_str::<serde_json::Value>(&before).unwrap()
    );
}
