//! `eksboot --sandbox` (issue 26): the whole life of a cluster against the emulator the binary
//! carries, with no AWS variables and an empty HOME. What it made is read back through the SDK
//! from the sandbox's own emulator, as the sandbox's administrator.

use std::path::{Path, PathBuf};
use std::process::Command;

use aws_credential_types::Credentials;

use crate::harness::{block_on, root, sdk_config, Account};

/// The sandbox's account (src/sandbox/identity.rs).
const ACCOUNT: &str = "111122223333";

/// A working directory and an empty HOME; the sandbox is stopped when the test ends.
struct Sandbox {
    dir: tempfile::TempDir,
    home: tempfile::TempDir,
}

impl Sandbox {
    fn new() -> Sandbox {
        let sandbox = Sandbox {
            dir: tempfile::tempdir().unwrap(),
            home: tempfile::tempdir().unwrap(),
        };
        let profiles = sandbox.dir.path().join("profiles");
        std::fs::create_dir(&profiles).unwrap();
        for name in ["dev.toml", "production.toml"] {
            std::fs::copy(root(&format!("profiles/{name}")), profiles.join(name)).unwrap();
        }
        sandbox
    }

    /// `eksboot --sandbox ARGS` with no AWS variables, HOME empty, in the working directory.
    /// The Python environment is kept in one cache for every test (as a person's cache keeps it
    /// between runs); the first sandbox test makes it, from the package index.
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("eksboot"));
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.home.path())
            .env("XDG_CACHE_HOME", sandbox_cache())
            .env("NO_COLOR", "1")
            .current_dir(self.dir.path())
            .arg("--sandbox")
            .args(args);
        cmd
    }

    /// Runs `eksboot --sandbox ARGS`; its exit code and everything it printed.
    fn run(&self, args: &[&str]) -> (i32, String) {
        let out = self.command(args).output().unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.code().unwrap_or(-1), text)
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    /// The sandbox's emulator, as its administrator sees it (what the tests' harness is in
    /// its own accounts).
    fn admin(&self) -> Account {
        let record: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(self.path(".eksboot/sandbox/emulator.json")).unwrap(),
        )
        .unwrap();
        let endpoint = format!("http://127.0.0.1:{}", record["port"]);
        let bootstrap = sdk_config(
            &endpoint,
            Credentials::new("AKIASANDBOXTEST", "secret", None, None, "test"),
            "us-east-1",
        );
        let assumed = block_on(
            aws_sdk_sts::Client::new(&bootstrap)
                .assume_role()
                .role_arn(format!("arn:aws:iam::{ACCOUNT}:role/x"))
                .role_session_name("test")
                .send(),
        )
        .unwrap();
        let c = assumed.credentials().unwrap();
        Account {
            id: ACCOUNT.into(),
            endpoint,
            credentials: Credentials::new(
                c.access_key_id(),
                c.secret_access_key(),
                Some(c.session_token().to_string()),
                None,
                "test",
            ),
            home: tempfile::tempdir().unwrap(),
            runner: (String::new(), String::new()),
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = self.command(&["stop"]).output();
    }
}

/// One Python environment for every sandbox test of this run.
fn sandbox_cache() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("sandbox-cache")
}

/// Every line says SANDBOX (blank lines aside).
fn assert_all_marked(text: &str) {
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        assert!(
            line.starts_with("SANDBOX │"),
            "unmarked line {line:?} in:\n{text}"
        );
    }
}

fn cluster(admin: &Account, name: &str) -> aws_sdk_eks::types::Cluster {
    let eks = aws_sdk_eks::Client::new(&admin.sdk("us-west-2"));
    block_on(eks.describe_cluster().name(name).send())
        .unwrap()
        .cluster()
        .unwrap()
        .clone()
}

#[test]
fn create_apply_upgrade_and_teardown_as_separate_commands_leave_nothing_but_the_key() {
    let sandbox = Sandbox::new();
    let (code, text) = sandbox.run(&["create", "--profile", "profiles/dev.toml", "--yes"]);
    assert_eq!(code, 0, "{text}");
    assert_all_marked(&text);
    assert!(text.contains("kubectl will not reach it"), "{text}");
    let admin = sandbox.admin();
    let created = cluster(&admin, "dev");
    assert_eq!(created.status().unwrap().as_str(), "ACTIVE");
    assert!(sandbox
        .path(".eksboot/sandbox/dev-us-west-2.state.json")
        .exists());
    assert!(sandbox.path(".eksboot/sandbox/kubeconfig").exists());
    assert!(!sandbox.path(".eksboot/dev-us-west-2.state.json").exists());
    // eksboot acted as the sandbox user, holding what `eksboot permissions` prints.
    let iam = aws_sdk_iam::Client::new(&admin.sdk("us-east-1"));
    let attached = block_on(iam.list_attached_user_policies().user_name("you").send()).unwrap();
    assert!(
        attached
            .attached_policies()
            .iter()
            .all(|p| p.policy_name().unwrap().starts_with("eksboot-dev-caller-")),
        "{attached:?}"
    );

    // A changed profile: a longer log retention and three nodes.
    let changed = sandbox.path("profiles/dev-changed.toml");
    let text = std::fs::read_to_string(sandbox.path("profiles/dev.toml"))
        .unwrap()
        .replace("log_retention_days = 30", "log_retention_days = 90")
        .replace("desired_size = 2", "desired_size = 3");
    std::fs::write(&changed, text).unwrap();
    let (code, text) = sandbox.run(&["apply", "--profile", "profiles/dev-changed.toml", "--yes"]);
    assert_eq!(code, 0, "{text}");
    assert_all_marked(&text);
    let logs = aws_sdk_cloudwatchlogs::Client::new(&admin.sdk("us-west-2"));
    let groups = block_on(
        logs.describe_log_groups()
            .log_group_name_prefix("/aws/eks/dev/cluster")
            .send(),
    )
    .unwrap();
    assert_eq!(groups.log_groups()[0].retention_in_days(), Some(90));

    // The one cluster here: upgrade needs no --state. dev.toml takes the newest version, so
    // there is nothing newer (an older one is upgraded in the test below).
    let (code, text) = sandbox.run(&["upgrade", "--yes"]);
    assert_eq!(code, 0, "{text}");
    assert_all_marked(&text);
    assert!(text.contains("EKS offers nothing newer yet"), "{text}");
    assert_eq!(cluster(&admin, "dev").version(), created.version());

    let (code, text) = sandbox.run(&["teardown", "--yes"]);
    assert_eq!(code, 0, "{text}");
    assert_all_marked(&text);
    crate::teardown::assert_nothing_left(&admin, "dev", "us-west-2");
    let kms = aws_sdk_kms::Client::new(&admin.sdk("us-west-2"));
    let keys = block_on(kms.list_keys().send()).unwrap();
    let states: Vec<String> = keys
        .keys()
        .iter()
        .map(|k| {
            block_on(kms.describe_key().key_id(k.key_id().unwrap()).send())
                .unwrap()
                .key_metadata()
                .unwrap()
                .key_state()
                .unwrap()
                .as_str()
                .to_string()
        })
        .collect();
    assert_eq!(
        states,
        ["PendingDeletion"],
        "only the key, pending deletion"
    );

    // The person's own settings were never touched.
    assert!(!sandbox.home.path().join(".aws").exists());
    assert!(!sandbox.home.path().join(".kube").exists());

    // stop ends the emulator.
    let port = admin.endpoint.rsplit(':').next().unwrap().to_string();
    let (code, text) = sandbox.run(&["stop"]);
    assert_eq!(code, 0, "{text}");
    assert_all_marked(&text);
    assert!(
        std::net::TcpStream::connect(format!("127.0.0.1:{port}")).is_err(),
        "the emulator still answers"
    );
    assert!(!sandbox.path(".eksboot/sandbox/emulator.json").exists());
}

#[test]
fn stop_without_the_sandbox_is_a_usage_error_a_second_stop_is_harmless_and_named_admins_are_made() {
    let sandbox = Sandbox::new();
    let out = Command::new(assert_cmd::cargo::cargo_bin("eksboot"))
        .arg("stop")
        .current_dir(sandbox.dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("eksboot --sandbox stop"));
    let (code, text) = sandbox.run(&["stop"]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("was not running"), "{text}");
    // A team's admin role, named by the profile, is made in the fresh sandbox account.
    let (code, text) = sandbox.run(&["preflight", "--profile", "profiles/production.toml"]);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("made arn:aws:iam::111122223333:role/platform-admins"),
        "{text}"
    );
    let iam = aws_sdk_iam::Client::new(&sandbox.admin().sdk("us-east-1"));
    block_on(iam.get_role().role_name("platform-admins").send()).unwrap();
}

#[test]
fn an_older_kubernetes_version_is_upgraded_in_the_sandbox_as_on_eks() {
    let sandbox = Sandbox::new();
    let text = std::fs::read_to_string(sandbox.path("profiles/dev.toml"))
        .unwrap()
        .replace(
            "name = \"dev\"",
            "name = \"old\"\nkubernetes_version = \"1.35\"",
        );
    std::fs::write(sandbox.path("profiles/old.toml"), text).unwrap();
    let (code, text) = sandbox.run(&["create", "--profile", "profiles/old.toml", "--yes"]);
    assert_eq!(code, 0, "{text}");
    let admin = sandbox.admin();
    assert_eq!(cluster(&admin, "old").version(), Some("1.35"));
    let (code, text) = sandbox.run(&["upgrade", "--profile", "profiles/old.toml", "--yes"]);
    assert_eq!(code, 0, "{text}");
    assert_all_marked(&text);
    assert_eq!(cluster(&admin, "old").version(), Some("1.36"));
    let eks = aws_sdk_eks::Client::new(&admin.sdk("us-west-2"));
    let nodegroup = block_on(
        eks.describe_nodegroup()
            .cluster_name("old")
            .nodegroup_name("old-default")
            .send(),
    )
    .unwrap();
    assert_eq!(nodegroup.nodegroup().unwrap().version(), Some("1.36"));
    // The profile follows (the version is updated in place).
    assert!(std::fs::read_to_string(sandbox.path("profiles/old.toml"))
        .unwrap()
        .contains("kubernetes_version = \"1.36\""));
}

#[test]
fn the_wizard_in_the_sandbox_goes_on_to_a_created_cluster_in_a_terminal() {
    let sandbox = Sandbox::new();
    let mut cmd = sandbox.command(&[]);
    cmd.env_remove("NO_COLOR").env("TERM", "xterm");
    let mut s = rexpect::session::spawn_command(cmd, Some(180_000)).unwrap();
    s.exp_string("This is the sandbox").unwrap();
    // No AWS settings are read: the region is asked.
    s.exp_string("Which AWS region?").unwrap();
    s.send_line("").unwrap();
    s.exp_string("arn:aws:iam::111122223333:user/you").unwrap();
    let before = s
        .exp_string("Use the recommended production set-up")
        .unwrap();
    assert!(
        before.contains("SANDBOX"),
        "the screen says SANDBOX: {before:?}"
    );
    s.send_line("").unwrap();
    let before = s.exp_string("Cluster name").unwrap();
    assert!(before.contains("SANDBOX"), "{before:?}");
    s.send_line("sbx").unwrap();
    s.exp_string("Who may reach the public API endpoint")
        .unwrap();
    s.send_line("203.0.113.0/24").unwrap();
    s.exp_string("Who runs the nodes?").unwrap();
    s.send_line("").unwrap();
    s.exp_string("What next?").unwrap();
    s.send_line("").unwrap();
    s.exp_string("Cluster \"sbx\" is ready").unwrap();
    s.exp_string("kubectl will not reach it").unwrap();
    s.exp_eof().unwrap();
    match s.process().wait().unwrap() {
        rexpect::process::WaitStatus::Exited(_, code) => assert_eq!(code, 0),
        other => panic!("unexpected {other:?}"),
    }
    let admin = sandbox.admin();
    assert_eq!(cluster(&admin, "sbx").status().unwrap().as_str(), "ACTIVE");
    assert!(sandbox.path("profiles/sbx.toml").exists());
    assert!(!sandbox.home.path().join(".aws").exists());
    assert!(!sandbox.home.path().join(".kube").exists());
}

/// `eksboot --sandbox plan` with a fresh cache and `python` standing in for python3: exit 1 and
/// what it printed.
fn first_run_with(python: &Path, extra_env: &[(&str, &str)]) -> (i32, String) {
    let sandbox = Sandbox::new();
    let cache = tempfile::tempdir().unwrap();
    let mut cmd = sandbox.command(&["plan", "--profile", "profiles/dev.toml"]);
    cmd.env("XDG_CACHE_HOME", cache.path())
        .env("EKSBOOT_PYTHON", python);
    for (key, value) in extra_env {
        cmd.env(key, value);
    }
    let out = cmd.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

/// A stand-in python3 that runs, but whose venv module fails as Debian's does without the
/// python3-venv package.
fn python_without_venv(dir: &Path) -> PathBuf {
    let path = dir.join("python3");
    std::fs::write(
        &path,
        "#!/bin/sh\nif [ \"$1\" = \"-m\" ] && [ \"$2\" = \"venv\" ]; then\n  echo 'The virtual environment was not created successfully because ensurepip is not available.' >&2\n  exit 1\nfi\nexec python3 \"$@\"\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

#[test]
fn without_python_venv_or_the_package_index_the_sandbox_says_which_and_how_to_get_it() {
    let (code, text) = first_run_with(Path::new("/nonexistent/python3"), &[]);
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("the sandbox needs python3") && text.contains("apt install python3"),
        "{text}"
    );
    let dir = tempfile::tempdir().unwrap();
    let (code, text) = first_run_with(&python_without_venv(dir.path()), &[]);
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("ensurepip is not available") && text.contains("python3-venv"),
        "{text}"
    );
    // No package index: pip fails, and the hint names the index and the way to a mirror.
    let (code, text) = first_run_with(
        Path::new("python3"),
        &[
            ("PIP_INDEX_URL", "http://127.0.0.1:9/simple"),
            ("PIP_RETRIES", "0"),
            ("PIP_TIMEOUT", "2"),
        ],
    );
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("installing the emulator's Python packages failed")
            && text.contains("PIP_INDEX_URL"),
        "{text}"
    );
    assert_all_marked(&text);
}

/// Issue 26: with no credentials, the wizard's third way on is the sandbox: the same wizard
/// goes on there, on the same terminal.
#[test]
fn without_credentials_the_wizard_offers_the_sandbox_and_goes_on_there() {
    let sandbox = Sandbox::new();
    // The plain wizard (no --sandbox), with no credentials anywhere.
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("eksboot"));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", sandbox.home.path())
        .env("XDG_CACHE_HOME", sandbox_cache())
        .env("TERM", "xterm")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .current_dir(sandbox.dir.path());
    let mut s = rexpect::session::spawn_command(cmd, Some(120_000)).unwrap();
    s.exp_string("Which AWS region?").unwrap();
    s.send_line("").unwrap();
    s.exp_string("How would you like to go on?").unwrap();
    s.exp_string("The sandbox").unwrap();
    s.send("\x1b[B").unwrap();
    s.send("\x1b[B").unwrap();
    s.send_line("").unwrap();
    s.exp_string("This is the sandbox").unwrap();
    s.exp_string("Which AWS region?").unwrap();
    s.send_line("").unwrap();
    s.exp_string("arn:aws:iam::111122223333:user/you").unwrap();
    s.exp_string("Use the recommended production set-up")
        .unwrap();
    s.send_control('c').unwrap();
    s.exp_eof().unwrap();
    assert!(sandbox.path(".eksboot/sandbox/emulator.json").exists());
    assert!(!sandbox.home.path().join(".aws").exists());
}
