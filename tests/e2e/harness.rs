//! The test harness: a real AWS emulator (moto in server mode, with eksboot's EKS extension)
//! started once per test binary, and a fresh AWS account per test.
//!
//! The Python venv is made under `target/` on first use (guarded by a file lock, since test
//! binaries run in parallel). The server watches its stdin and exits when this process dies,
//! so no run leaves servers behind. Tests isolate themselves by account: STS AssumeRole into
//! `arn:aws:iam::<unique>:role/x` returns keys that act inside that account.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// A running emulator.
pub struct Moto {
    pub endpoint: String,
    /// Held so the server's stdin stays open for as long as this process lives.
    _child: Mutex<Child>,
}

static SHARED: OnceLock<Moto> = OnceLock::new();

/// The server shared by every test of this binary.
pub fn moto() -> &'static Moto {
    SHARED.get_or_init(Moto::start)
}

fn venv_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("moto-venv")
}

fn run(cmd: &mut Command, what: &str) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run: {e}"));
    assert!(
        out.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The venv's python, creating the venv first when it is missing or outdated.
pub fn venv_python() -> PathBuf {
    let dir = venv_dir();
    let python = dir.join("bin/python");
    let requirements = Path::new(ROOT).join("emulator/requirements.txt");
    // Both files: requirements.txt includes what the sandbox installs (runtime-requirements.txt).
    let wanted = std::fs::read_to_string(&requirements).expect("requirements.txt")
        + &std::fs::read_to_string(requirements.with_file_name("runtime-requirements.txt"))
            .expect("runtime-requirements.txt");
    let marker = dir.join("eksboot-requirements.txt");
    std::fs::create_dir_all(dir.parent().unwrap()).unwrap();
    let lock = std::fs::File::create(dir.with_extension("lock")).unwrap();
    lock.lock().expect("lock the venv");
    if std::fs::read_to_string(&marker).ok().as_deref() != Some(wanted.as_str()) {
        let _ = std::fs::remove_dir_all(&dir);
        let system_python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
        run(
            Command::new(&system_python).args(["-m", "venv"]).arg(&dir),
            "creating the moto venv",
        );
        run(
            Command::new(&python)
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    "-r",
                ])
                .arg(&requirements),
            "pip install moto[server] and parliament",
        );
        std::fs::write(&marker, &wanted).unwrap();
    }
    drop(lock);
    python
}

/// The IAM evaluator (`tests/iam/evaluate.mjs` with `@cloud-copilot/iam-simulate`), installed
/// under `target/` with `npm ci` from the committed lock file on first use (and again when the
/// lock file changes). Returns the path of the script the emulator runs with node.
pub fn iam_evaluator() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("iam-eval");
    let source = Path::new(ROOT).join("tests/iam");
    std::fs::create_dir_all(&dir).unwrap();
    let lock = std::fs::File::create(dir.with_extension("lock")).unwrap();
    lock.lock().expect("lock the evaluator's install");
    let wanted = std::fs::read_to_string(source.join("package-lock.json"))
        .expect("package-lock.json")
        + &std::fs::read_to_string(source.join("package.json")).expect("package.json");
    let marker = dir.join("eksboot-installed.txt");
    if std::fs::read_to_string(&marker).ok().as_deref() != Some(wanted.as_str()) {
        for file in ["package.json", "package-lock.json"] {
            std::fs::copy(source.join(file), dir.join(file)).unwrap();
        }
        run(
            Command::new("npm")
                .args([
                    "ci",
                    "--no-audit",
                    "--no-fund",
                    "--ignore-scripts",
                    "--loglevel=error",
                ])
                .current_dir(&dir),
            "npm ci of the IAM evaluator (tests/iam)",
        );
        std::fs::write(&marker, &wanted).unwrap();
    }
    // The script itself is copied every time, so an edit takes effect without a reinstall.
    std::fs::copy(source.join("evaluate.mjs"), dir.join("evaluate.mjs")).unwrap();
    drop(lock);
    dir.join("evaluate.mjs")
}

impl Moto {
    /// Starts a server of its own (for tests that change server-wide settings).
    pub fn start() -> Moto {
        let python = venv_python();
        let evaluator = iam_evaluator();
        let log = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
            "moto-{}-{}.log",
            std::process::id(),
            NEXT_SERVER.fetch_add(1, Ordering::SeqCst)
        ));
        let mut child = Command::new(python)
            .arg(Path::new(ROOT).join("emulator/eksboot_moto.py"))
            .env("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
            .env("EKSBOOT_IAM_EVALUATOR", &evaluator)
            .env(
                "EKSBOOT_MOTO_IAM_PROPAGATION_MS",
                IAM_PROPAGATION_MS.to_string(),
            )
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start moto");
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read moto's port");
        let port: u16 = line
            .strip_prefix("PORT ")
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| panic!("moto did not start (see {}): {line:?}", log.display()));
        let endpoint = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "moto never answered on {endpoint}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Moto {
            endpoint,
            _child: Mutex::new(child),
        }
    }

    /// Sets a state-manager transition (server-wide: only on a server of the test's own).
    pub fn set_transition(&self, model: &str, seconds: u32) {
        let body = format!(
            r#"{{"model_name": "{model}", "transition": {{"progression": "time", "seconds": {seconds}}}}}"#
        );
        post(
            &self.endpoint,
            "/moto-api/state-manager/set-transition",
            &body,
        );
    }
}

static NEXT_SERVER: AtomicU64 = AtomicU64::new(0);

static NEXT_POLICY: AtomicU64 = AtomicU64::new(0);

/// The IAM user every test's eksboot runs as.
pub const RUNNER: &str = "eksboot-runner";

/// How long the emulator denies calls made as a role after its policies change
/// (`EKSBOOT_MOTO_IAM_PROPAGATION_MS`); the first call after a change is denied however late it
/// comes, so every create meets it.
pub const IAM_PROPAGATION_MS: u64 = 300;
static NEXT_ACCOUNT: AtomicU64 = AtomicU64::new(100_000_000_001);

/// A minimal HTTP POST, enough for moto's JSON control API.
pub fn post(endpoint: &str, path: &str, body: &str) {
    let addr = endpoint.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(addr).expect("connect to moto");
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    BufReader::new(stream).read_line(&mut response).unwrap();
    assert!(
        response.contains(" 200 ") || response.contains(" 201 "),
        "moto control API said: {response}"
    );
}

/// A minimal HTTP GET of a JSON document from the emulator's control API.
pub fn get_json(endpoint: &str, path: &str) -> serde_json::Value {
    let addr = endpoint.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(addr).expect("connect to moto");
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut response = String::new();
    std::io::Read::read_to_string(&mut stream, &mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").expect("an HTTP answer");
    assert!(head.contains(" 200 "), "moto control API said: {head}");
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

/// The body of a chunked HTTP answer.
fn dechunk(mut rest: &str) -> String {
    let mut body = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).expect("a chunk size");
        if size == 0 {
            break;
        }
        body.push_str(&after[..size]);
        rest = &after[size + 2..];
    }
    body
}

/// One isolated AWS account on a server, with keys that act inside it.
pub struct Account {
    pub id: String,
    pub endpoint: String,
    pub credentials: Credentials,
    /// Stands in for the person's home directory: no real AWS config leaks in.
    pub home: tempfile::TempDir,
    /// The IAM user eksboot runs as (`eksboot-runner`): access key id and secret. It holds
    /// nothing until [`Account::authorize`] gives it the policy `eksboot permissions` prints.
    pub runner: (String, String),
}

impl Account {
    /// A fresh account on the shared server.
    pub fn new() -> Account {
        Account::on(moto())
    }

    pub fn on(server: &Moto) -> Account {
        let id = format!("{:012}", NEXT_ACCOUNT.fetch_add(1, Ordering::SeqCst));
        let endpoint = server.endpoint.clone();
        let bootstrap = sdk_config(
            &endpoint,
            Credentials::new("AKIAEKSBOOTTEST", "secret", None, None, "eksboot-test"),
            "us-east-1",
        );
        let sts = aws_sdk_sts::Client::new(&bootstrap);
        let assumed = block_on(
            sts.assume_role()
                .role_arn(format!("arn:aws:iam::{id}:role/x"))
                .role_session_name("eksboot-test")
                .send(),
        )
        .expect("assume a role into a fresh account");
        let c = assumed.credentials().expect("credentials");
        let credentials = Credentials::new(
            c.access_key_id(),
            c.secret_access_key(),
            Some(c.session_token().to_string()),
            None,
            "eksboot-test",
        );
        // The harness acts as role `x`: EKS refuses access entries for principals IAM does not
        // hold, so the role exists, and may do anything (for tests that enforce IAM).
        let iam =
            aws_sdk_iam::Client::new(&sdk_config(&endpoint, credentials.clone(), "us-east-1"));
        let trust = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{id}:root"}},"Action":"sts:AssumeRole"}}]}}"#
        );
        block_on(
            iam.create_role()
                .role_name("x")
                .assume_role_policy_document(trust)
                .send(),
        )
        .expect("create the harness role");
        block_on(
            iam.attach_role_policy()
                .role_name("x")
                .policy_arn("arn:aws:iam::aws:policy/AdministratorAccess")
                .send(),
        )
        .expect("attach AdministratorAccess to the harness role");
        // eksboot runs as an IAM user of its own, which holds only what a test authorizes.
        let runner = block_on(async {
            iam.create_user()
                .user_name(RUNNER)
                .send()
                .await
                .expect("create the runner user");
            let key = iam
                .create_access_key()
                .user_name(RUNNER)
                .send()
                .await
                .expect("the runner's access key");
            let key = key.access_key().unwrap();
            (
                key.access_key_id().to_string(),
                key.secret_access_key().to_string(),
            )
        });
        // Every request of this account but the harness's own (role `x`) is evaluated against
        // IAM's rules, resources and conditions included (emulator/iam_enforce.py).
        post(
            &endpoint,
            "/eksboot-moto/enforce-iam",
            &format!(r#"{{"account": "{id}", "on": true}}"#),
        );
        // No wait for `x`'s new policy: the emulator never holds the harness's own requests
        // back (emulator/iam_propagation.py).
        Account {
            id,
            endpoint,
            credentials,
            home: tempfile::tempdir().unwrap(),
            runner,
        }
    }

    /// A trust policy that lets the runner (and only it) assume a role, as a team bringing its
    /// own creator role would write it.
    pub fn trust_runner(&self) -> String {
        serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": {"AWS": self.runner_arn()},
                "Action": "sts:AssumeRole"
            }]
        })
        .to_string()
    }

    /// SDK configuration acting as the runner (to try what its policy must refuse).
    pub fn runner_sdk(&self, region: &str) -> SdkConfig {
        let keys = Credentials::new(&self.runner.0, &self.runner.1, None, None, "runner");
        sdk_config(&self.endpoint, keys, region)
    }

    /// SDK configuration acting as `role`, assumed with `as_who`'s credentials.
    pub fn assume(&self, as_who: &SdkConfig, role: &str, region: &str) -> SdkConfig {
        let sts = aws_sdk_sts::Client::new(as_who);
        let out = block_on(
            sts.assume_role()
                .role_arn(role)
                .role_session_name("test")
                .send(),
        )
        .unwrap_or_else(|e| panic!("assume {role}: {e:?}"));
        let c = out.credentials().expect("credentials");
        let keys = Credentials::new(
            c.access_key_id(),
            c.secret_access_key(),
            Some(c.session_token().to_string()),
            None,
            "assumed",
        );
        sdk_config(&self.endpoint, keys, region)
    }

    /// The runner's ARN, as access entries and trust policies name it.
    pub fn runner_arn(&self) -> String {
        format!("arn:aws:iam::{}:user/{RUNNER}", self.id)
    }

    /// Gives the runner exactly the policy `eksboot permissions` prints for `profile` with
    /// `flags` (replacing what it held), as the README tells a person to.
    pub fn authorize(&self, profile: &Path, flags: &[&str]) {
        let mut args = vec!["--profile", profile.to_str().unwrap()];
        args.extend_from_slice(flags);
        self.authorize_args(&args)
    }

    /// [`Account::authorize`] for a cluster described by flags (and perhaps `--profile`), as
    /// `eksboot permissions` takes them.
    ///
    /// As the README says: `--split DIR` writes the policy in parts that each fit a managed
    /// policy, and every part is created and attached.
    pub fn authorize_args(&self, args: &[&str]) {
        let dir = tempfile::tempdir().unwrap();
        let out = bare_eksboot(&self.home)
            .arg("permissions")
            .args(args)
            .args(["--account", &self.id, "--for", "caller", "--split"])
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "eksboot permissions failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.detach_all();
        for path in String::from_utf8_lossy(&out.stdout).lines() {
            let part: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
            let name = std::path::Path::new(path)
                .file_stem()
                .unwrap()
                .to_str()
                .unwrap();
            self.attach_managed(name, &part);
        }
    }

    /// Gives the runner `policy` as its only policy.
    pub fn authorize_policy(&self, policy: &serde_json::Value) {
        self.detach_all();
        self.authorize_named("eksboot", policy);
    }

    /// Detaches every managed policy the runner holds.
    fn detach_all(&self) {
        let iam = aws_sdk_iam::Client::new(&self.sdk("us-east-1"));
        block_on(async {
            let attached = iam
                .list_attached_user_policies()
                .user_name(RUNNER)
                .send()
                .await
                .expect("list the runner's policies");
            for p in attached.attached_policies() {
                iam.detach_user_policy()
                    .user_name(RUNNER)
                    .policy_arn(p.policy_arn().unwrap())
                    .send()
                    .await
                    .expect("detach the runner's policy");
            }
        });
    }

    /// Attaches `policy` to the runner beside what it holds, as the README says: a customer
    /// managed policy (a user's inline policies may add up to 2,048 characters only, which
    /// the emulator enforces as IAM does).
    pub fn authorize_named(&self, name: &str, policy: &serde_json::Value) {
        // A managed policy holds 6,144 characters: a longer one goes in parts.
        let statements = policy["Statement"].as_array().cloned().unwrap_or_default();
        let mut parts: Vec<Vec<serde_json::Value>> = vec![vec![]];
        for statement in statements {
            let mut candidate = parts.last().unwrap().clone();
            candidate.push(statement.clone());
            let doc = serde_json::json!({"Version": "2012-10-17", "Statement": candidate});
            if doc.to_string().len() > 6144 && !parts.last().unwrap().is_empty() {
                parts.push(vec![statement]);
            } else {
                *parts.last_mut().unwrap() = candidate;
            }
        }
        for part in parts {
            let doc = serde_json::json!({"Version": "2012-10-17", "Statement": part});
            self.attach_managed(name, &doc);
        }
    }

    fn attach_managed(&self, name: &str, policy: &serde_json::Value) {
        let iam = aws_sdk_iam::Client::new(&self.sdk("us-east-1"));
        let name: String = name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        let name = format!("{name}-{}", NEXT_POLICY.fetch_add(1, Ordering::SeqCst));
        block_on(async {
            let created = iam
                .create_policy()
                .policy_name(&name)
                .policy_document(policy.to_string())
                .send()
                .await
                .expect("create the runner's policy");
            iam.attach_user_policy()
                .user_name(RUNNER)
                .policy_arn(created.policy().unwrap().arn().unwrap())
                .send()
                .await
                .expect("attach the runner's policy");
        });
    }

    /// Every request the emulator evaluated for this account, in order (the IAM log).
    pub fn iam_log(&self) -> serde_json::Value {
        get_json(
            &self.endpoint,
            &format!("/eksboot-moto/iam-log?account={}", self.id),
        )
    }

    /// The evaluated requests that were denied, as "principal action resource: why" lines.
    pub fn iam_denials(&self) -> Vec<String> {
        let log = self.iam_log();
        let mut denials = Vec::new();
        for request in log["requests"].as_array().into_iter().flatten() {
            if request["allowed"].as_bool() == Some(true) {
                continue;
            }
            for check in request["checks"].as_array().into_iter().flatten() {
                if check["result"] != "Allowed" {
                    denials.push(format!(
                        "{} {} {}: {}",
                        request["principal"].as_str().unwrap_or("?"),
                        check["action"].as_str().unwrap_or("?"),
                        check["resource"].as_str().unwrap_or("?"),
                        check["explain"].as_str().unwrap_or("")
                    ));
                }
            }
        }
        denials
    }

    /// SDK configuration acting in this account, to check AWS state independently.
    pub fn sdk(&self, region: &str) -> SdkConfig {
        sdk_config(&self.endpoint, self.credentials.clone(), region)
    }

    /// The binary under test, acting in this account as the runner user (long-term keys, no
    /// session token), with no real AWS config.
    pub fn eksboot(&self) -> assert_cmd::Command {
        let mut cmd = bare_eksboot(&self.home);
        cmd.env("AWS_ENDPOINT_URL", &self.endpoint)
            .env("AWS_ACCESS_KEY_ID", &self.runner.0)
            .env("AWS_SECRET_ACCESS_KEY", &self.runner.1);
        cmd
    }
}

impl Account {
    /// Makes one add-on of one cluster in this account misbehave: `create-failed`,
    /// `stays-degraded`, or `none` to behave again.
    pub fn set_addon_fault(&self, cluster: &str, addon: &str, fault: &str) {
        let body = format!(
            r#"{{"account": "{}", "cluster": "{cluster}", "addon": "{addon}", "fault": "{fault}"}}"#,
            self.id
        );
        post(&self.endpoint, "/eksboot-moto/addon-fault", &body);
    }

    /// Denies (or allows again) DeleteCluster of one cluster in this account.
    pub fn deny_delete_cluster(&self, cluster: &str, deny: bool) {
        let body = format!(
            r#"{{"account": "{}", "cluster": "{cluster}", "deny": {deny}}}"#,
            self.id
        );
        post(&self.endpoint, "/eksboot-moto/deny-delete-cluster", &body);
    }

    /// Raises (or sets) a quota's applied value in this account, as Service Quotas reports it.
    pub fn set_applied_quota(&self, service: &str, code: &str, value: u32) {
        let body = format!(
            r#"{{"account": "{}", "service": "{service}", "code": "{code}", "value": {value}}}"#,
            self.id
        );
        post(&self.endpoint, "/eksboot-moto/applied-quota", &body);
    }

    /// Sets one upgrade-readiness insight (`deprecated-apis`, `kubelet-skew`) of a cluster in
    /// this account to PASSING, WARNING or ERROR.
    pub fn set_insight(&self, cluster: &str, insight: &str, status: &str) {
        let body = format!(
            r#"{{"account": "{}", "cluster": "{cluster}", "insight": "{insight}", "status": "{status}"}}"#,
            self.id
        );
        post(&self.endpoint, "/eksboot-moto/insight", &body);
    }

    /// Makes one key's tags unreadable (its key policy denies kms:ListResourceTags).
    pub fn make_key_tags_unreadable(&self, key: &str) {
        let body = format!(r#"{{"account": "{}", "key": "{key}"}}"#, self.id);
        post(&self.endpoint, "/eksboot-moto/unreadable-key-tags", &body);
    }

    /// The binary as a plain process (to kill it, signal it, or give it a terminal), with the
    /// same environment as [`Account::eksboot`].
    pub fn command(&self) -> std::process::Command {
        let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("eksboot"));
        for (key, value) in self.eksboot().get_envs() {
            match value {
                Some(v) => cmd.env(key, v),
                None => cmd.env_remove(key),
            };
        }
        cmd
    }
}

/// The binary with a clean environment: no credentials, no AWS config, short retry waits.
pub fn bare_eksboot(home: &tempfile::TempDir) -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::cargo_bin("eksboot").unwrap();
    for var in [
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_ENDPOINT_URL",
        "AWS_ROLE_ARN",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "KUBECONFIG",
        "EKSBOOT_LOG",
    ] {
        cmd.env_remove(var);
    }
    for file in ["aws-config", "aws-credentials"] {
        std::fs::write(home.path().join(file), "").unwrap();
    }
    cmd.current_dir(Path::new(ROOT))
        .env("HOME", home.path())
        .env("AWS_CONFIG_FILE", home.path().join("aws-config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            home.path().join("aws-credentials"),
        )
        .env("AWS_EC2_METADATA_DISABLED", "true")
        // The production retry layer, with its waits shortened (as every test does).
        .env("EKSBOOT_RETRY_MS", "50")
        .env("AWS_REGION", "us-east-1")
        .env("NO_COLOR", "1")
        .timeout(Duration::from_secs(300));
    cmd
}

pub fn sdk_config(endpoint: &str, credentials: Credentials, region: &str) -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new(region.to_string()))
        .credentials_provider(
            aws_credential_types::provider::SharedCredentialsProvider::new(credentials),
        )
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .build()
}

/// Runs a future to completion on a small runtime of its own.
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

/// The path of a file under the crate root.
pub fn root(path: &str) -> PathBuf {
    Path::new(ROOT).join(path)
}

/// What the fault-injecting proxy (`emulator/fault_proxy.py`) does to requests.
#[derive(Debug, Clone, Copy, Default)]
pub struct Faults {
    pub seed: u64,
    /// Share of requests answered with a fault before AWS sees them.
    pub fault_rate: f64,
    /// Share of requests AWS acts on whose answer is then lost.
    pub lost_rate: f64,
    /// Each request waits up to this long first.
    pub latency_ms: u64,
    /// Requests per second the account may make (0: no limit).
    pub rate_limit: u32,
    /// Only these faults (`throttle`, `unavailable`, `reset`); all when empty.
    pub kinds: &'static str,
    /// Actions (comma-separated, as the proxy names them) whose first answer is lost.
    pub lose_first: &'static str,
}

/// A running fault-injecting proxy in front of an emulator.
pub struct FaultProxy {
    pub endpoint: String,
    _child: Child,
}

impl FaultProxy {
    pub fn start(upstream: &str, faults: Faults) -> FaultProxy {
        let mut child = Command::new(venv_python())
            .arg(Path::new(ROOT).join("emulator/fault_proxy.py"))
            .args(["--upstream", upstream])
            .args(["--seed", &faults.seed.to_string()])
            .args(["--fault-rate", &faults.fault_rate.to_string()])
            .args(["--lost-rate", &faults.lost_rate.to_string()])
            .args(["--latency-ms", &faults.latency_ms.to_string()])
            .args(["--rate-limit", &faults.rate_limit.to_string()])
            .args(["--lose-first", faults.lose_first])
            .args(if faults.kinds.is_empty() {
                vec![]
            } else {
                vec!["--fault-kinds", faults.kinds]
            })
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the fault proxy");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("read the proxy's port");
        let port: u16 = line
            .strip_prefix("PORT ")
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| panic!("the fault proxy did not start: {line:?}"));
        FaultProxy {
            endpoint: format!("http://127.0.0.1:{port}"),
            _child: child,
        }
    }

    /// What the proxy has seen since it started (or was last reset), in total and per phase.
    pub fn stats(&self) -> ProxyStats {
        let (head, body) = self.control("GET", "/eksboot-proxy/stats", "");
        assert!(head.contains(" 200 "), "the proxy said: {head}");
        let v: serde_json::Value = serde_json::from_str(&body).expect("stats are JSON");
        let mut stats = ProxyStats::from_json(&v);
        stats.phases = v["phases"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(name, p)| (name.clone(), ProxyStats::from_json(p)))
            .collect();
        stats
    }

    /// Counts what follows in `phase` (`create`, `teardown`, ...): [`ProxyStats::phase`] reads it.
    pub fn phase(&self, phase: &str) {
        let (head, _) = self.control("POST", "/eksboot-proxy/phase", phase);
        assert!(head.contains(" 200 "), "the proxy said: {head}");
    }

    /// One request to the proxy's control API: (status line and headers, body).
    fn control(&self, method: &str, path: &str, body: &str) -> (String, String) {
        let addr = self.endpoint.trim_start_matches("http://");
        let mut stream = std::net::TcpStream::connect(addr).expect("connect to the proxy");
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut response = String::new();
        std::io::Read::read_to_string(&mut stream, &mut response).unwrap();
        let (head, body) = response.split_once("\r\n\r\n").expect("an HTTP answer");
        (head.to_string(), body.to_string())
    }
}

impl Drop for FaultProxy {
    /// Stops and reaps the proxy (it would exit when its stdin closes, but stay a zombie).
    fn drop(&mut self) {
        let _ = self._child.kill();
        let _ = self._child.wait();
    }
}

/// What a fault proxy has seen.
#[derive(Debug, Clone, Default)]
pub struct ProxyStats {
    pub requests: u64,
    /// Faults injected before AWS saw the request, by kind (and `rate-limited`).
    pub faults: std::collections::BTreeMap<String, u64>,
    /// The same by action and kind (`"CreateVpc throttle"`).
    pub fault_actions: std::collections::BTreeMap<String, u64>,
    /// Answers AWS gave after acting (2xx) that the caller never got.
    pub lost: u64,
    /// Lost answers by how they were lost: `reset` (the connection closed before any byte of
    /// the answer) or `500` (an internal error in its place).
    pub lost_by: std::collections::BTreeMap<String, u64>,
    /// Lost answers by action.
    pub lost_actions: std::collections::BTreeMap<String, u64>,
    pub replayed: u64,
    pub peak_per_second: u64,
    /// Actions of `--lose-first` not yet called (total only).
    pub lose_first_pending: Vec<String>,
    /// The same, per phase ([`FaultProxy::phase`]); empty in a phase's own stats.
    pub phases: std::collections::BTreeMap<String, ProxyStats>,
}

impl ProxyStats {
    fn from_json(v: &serde_json::Value) -> ProxyStats {
        let counts = |v: &serde_json::Value| {
            v.as_object()
                .unwrap()
                .iter()
                .map(|(k, n)| (k.clone(), n.as_u64().unwrap()))
                .collect()
        };
        ProxyStats {
            requests: v["requests"].as_u64().unwrap(),
            faults: counts(&v["faults"]),
            fault_actions: counts(&v["fault_actions"]),
            lost: v["lost"].as_u64().unwrap(),
            lost_by: counts(&v["lost_by"]),
            lost_actions: counts(&v["lost_actions"]),
            replayed: v["replayed"].as_u64().unwrap(),
            peak_per_second: v["peak_per_second"].as_u64().unwrap(),
            lose_first_pending: v["lose_first_pending"]
                .as_array()
                .map(|a| a.iter().map(|a| a.as_str().unwrap().to_string()).collect())
                .unwrap_or_default(),
            phases: Default::default(),
        }
    }

    /// What happened in `phase` (nothing if the phase was never begun).
    pub fn phase(&self, phase: &str) -> ProxyStats {
        self.phases.get(phase).cloned().unwrap_or_default()
    }
}

impl Account {
    /// The binary acting in this account through `proxy`.
    pub fn eksboot_via(&self, proxy: &FaultProxy) -> assert_cmd::Command {
        let mut cmd = self.eksboot();
        cmd.env("AWS_ENDPOINT_URL", &proxy.endpoint);
        cmd
    }

    /// [`Account::command`] through `proxy`.
    pub fn command_via(&self, proxy: &FaultProxy) -> std::process::Command {
        let mut cmd = self.command();
        cmd.env("AWS_ENDPOINT_URL", &proxy.endpoint);
        cmd
    }
}

/// Runs one of the emulator's own pytest files (emulator/test_*.py) in the venv, with the
/// IAM evaluator's node_modules at hand; fails on any failure or skip.
pub fn pytest(file: &str) {
    let evaluator = iam_evaluator();
    let out = Command::new(venv_python())
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
        .arg(root(file))
        .env(
            "EKSBOOT_IAM_NODE_MODULES",
            evaluator.parent().unwrap().join("node_modules"),
        )
        .current_dir(root(""))
        .output()
        .expect("run pytest");
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains(" passed") && !text.contains("skipped"),
        "{text}"
    );
}

/// The test Kubernetes API server (`tests/kube/fake_apiserver.py`): an EKS cluster's API with
/// nodes, pods, PodDisruptionBudgets and the Eviction API, set up by the test.
pub struct KubeApi {
    pub endpoint: String,
    /// Base64 PEM, as DescribeCluster's `certificateAuthority.data`.
    pub ca: String,
    control: String,
    pub log: tempfile::NamedTempFile,
    child: Child,
}

impl KubeApi {
    pub fn start() -> KubeApi {
        let log = tempfile::NamedTempFile::new().unwrap();
        let mut child = Command::new(venv_python())
            .arg(root("tests/kube/fake_apiserver.py"))
            .arg(log.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the test Kubernetes API server");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut field = |prefix: &str| {
            let line = lines.next().expect("a line from the API server").unwrap();
            line.strip_prefix(prefix)
                .unwrap_or_else(|| panic!("expected {prefix:?}, got {line:?}"))
                .to_string()
        };
        let port = field("PORT ");
        let ca = field("CA ");
        let control = field("CONTROL ");
        KubeApi {
            endpoint: format!("https://127.0.0.1:{port}"),
            ca,
            control: format!("http://127.0.0.1:{control}"),
            log,
            child,
        }
    }

    /// Makes DescribeCluster of `cluster` in `account` answer with this server's endpoint and
    /// CA (the emulator's `cluster-endpoint` control endpoint).
    pub fn serve_cluster(&self, account: &Account, region: &str, cluster: &str) {
        let body = serde_json::json!({
            "account": account.id, "region": region, "cluster": cluster,
            "endpoint": self.endpoint, "ca": self.ca,
        });
        post(
            &account.endpoint,
            "/eksboot-moto/cluster-endpoint",
            &body.to_string(),
        );
    }

    /// A node, with the label EKS puts on a managed node group's nodes.
    pub fn add_node(&self, name: &str, nodegroup: &str) {
        let body = serde_json::json!({
            "name": name, "labels": {"eks.amazonaws.com/nodegroup": nodegroup},
        });
        post(&self.control, "/nodes", &body.to_string());
    }

    /// A pod on `node`: `owner` is its controller's kind (`ReplicaSet`, `DaemonSet`), `mirror`
    /// marks a static pod's API copy.
    pub fn add_pod(&self, name: &str, node: &str, app: &str, owner: Option<&str>, mirror: bool) {
        let body = serde_json::json!({
            "namespace": "default", "name": name, "node": node, "labels": {"app": app},
            "owner": owner, "mirror": mirror,
        });
        post(&self.control, "/pods", &body.to_string());
    }

    /// A PodDisruptionBudget keeping `min_available` pods labelled `app=<app>`.
    pub fn add_pdb(&self, name: &str, app: &str, min_available: u32) {
        let body = serde_json::json!({
            "namespace": "default", "name": name, "selector": {"app": app},
            "minAvailable": min_available,
        });
        post(&self.control, "/pdbs", &body.to_string());
    }

    /// At each cordon, the server reads the statuses of `cluster`'s node groups from the
    /// emulator (as the account's read-back identity) into its event log.
    pub fn record_nodegroups_at_cordon(&self, account: &Account, region: &str, cluster: &str) {
        let body = serde_json::json!({
            "endpoint": account.endpoint, "region": region, "cluster": cluster,
            "access_key": account.credentials.access_key_id(),
            "secret": account.credentials.secret_access_key(),
            "session_token": account.credentials.session_token(),
        });
        post(&self.control, "/on-cordon", &body.to_string());
    }

    /// `{"nodes": {name: Node}, "pods": ["ns/name"], "events": [...]}`.
    pub fn state(&self) -> serde_json::Value {
        get_json(&self.control, "/state")
    }

    /// The events of one kind (`cordon`, `evicted`, `refused`, `nodegroups`).
    pub fn events(&self, kind: &str) -> Vec<serde_json::Value> {
        self.state()["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"] == kind)
            .cloned()
            .collect()
    }
}

impl Drop for KubeApi {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// EKS's List calls answer in pages (`nextToken`), and the emulator's pages are small (two
// items): a test reads every page, as eksboot does. Each returns the pages as one output.
macro_rules! all_pages {
    ($name:ident, $op:ident, $output:ty, $error:ty, $field:ident, $setter:ident) => {
        pub async fn $name(
            eks: &aws_sdk_eks::Client,
            cluster: impl Into<String>,
        ) -> Result<$output, aws_sdk_eks::error::SdkError<$error>> {
            let cluster = cluster.into();
            let mut items = Vec::new();
            let mut token: Option<String> = None;
            loop {
                let page = eks
                    .$op()
                    .cluster_name(&cluster)
                    .set_next_token(token.take())
                    .send()
                    .await?;
                items.extend(page.$field().iter().cloned());
                match page.next_token() {
                    Some(t) if !t.is_empty() => token = Some(t.to_string()),
                    _ => break,
                }
            }
            Ok(<$output>::builder().$setter(Some(items)).build())
        }
    };
}

all_pages!(
    all_addons,
    list_addons,
    aws_sdk_eks::operation::list_addons::ListAddonsOutput,
    aws_sdk_eks::operation::list_addons::ListAddonsError,
    addons,
    set_addons
);
all_pages!(
    all_nodegroups,
    list_nodegroups,
    aws_sdk_eks::operation::list_nodegroups::ListNodegroupsOutput,
    aws_sdk_eks::operation::list_nodegroups::ListNodegroupsError,
    nodegroups,
    set_nodegroups
);
all_pages!(
    all_access_entries,
    list_access_entries,
    aws_sdk_eks::operation::list_access_entries::ListAccessEntriesOutput,
    aws_sdk_eks::operation::list_access_entries::ListAccessEntriesError,
    access_entries,
    set_access_entries
);

impl Account {
    /// Holds every update eksboot (or anyone) starts on `cluster` and its node groups
    /// InProgress until released (`hold = false`): a test that stops eksboot mid-update waits
    /// for the update with no window to catch.
    pub fn hold_updates(&self, region: &str, cluster: &str, hold: bool) {
        let body = serde_json::json!({
            "account": self.id, "region": region, "cluster": cluster, "hold": hold,
        });
        post(
            &self.endpoint,
            "/eksboot-moto/hold-updates",
            &body.to_string(),
        );
    }
}

/// The error code of a call expected to fail, so a test names the failure it expects (a call
/// that succeeded, or failed without a code, fails the test with what it got).
pub fn error_code<T: std::fmt::Debug, E>(result: Result<T, E>) -> String
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::fmt::Debug,
{
    match result {
        Ok(got) => panic!("expected an error, the call succeeded: {got:?}"),
        Err(e) => e
            .code()
            .map(str::to_string)
            .unwrap_or_else(|| panic!("an error without a code: {e:?}")),
    }
}
