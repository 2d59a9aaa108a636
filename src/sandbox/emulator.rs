//! The emulator process: started in the background (its own process group, so a Ctrl-C in the
//! terminal leaves it running for the next command), found again from
//! `.eksboot/sandbox/emulator.json`, and stopped by `eksboot --sandbox stop`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::environment::{code_fingerprint, Environment, Progress};
use super::{io_error, SandboxError, Session};

/// What a sandbox command needs to find the running emulator again.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Running {
    pub pid: u32,
    pub port: u16,
    /// The embedded code's fingerprint it runs (another eksboot build may have started it).
    pub code: String,
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl Running {
    pub fn session(&self) -> Session {
        Session {
            endpoint: format!("http://127.0.0.1:{}", self.port),
            access_key_id: self.access_key_id.clone(),
            secret_access_key: self.secret_access_key.clone(),
        }
    }
}

/// How long each of AWS's waiting states lasts in the sandbox: seconds, not minutes, but long
/// enough that the progress tree shows every wait as it would on AWS.
const TRANSITION_MS: &str = "1500";

fn record_path(dir: &Path) -> PathBuf {
    dir.join("emulator.json")
}

/// Whether `pid` is a live process (signal 0 checks without signalling).
fn alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: kill with signal 0 only checks that the process exists and may be signalled.
    unsafe { libc::kill(pid, 0) == 0 }
}

/// The emulator this directory's sandbox started, if it still runs and answers.
pub fn find_running(dir: &Path) -> Option<Running> {
    let text = std::fs::read_to_string(record_path(dir)).ok()?;
    let running: Running = serde_json::from_str(&text).ok()?;
    let answers = std::net::TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], running.port)),
        Duration::from_secs(2),
    )
    .is_ok();
    if !(alive(running.pid) && answers) {
        return None;
    }
    if running.code != code_fingerprint() {
        eprintln!(
            "{}note: the sandbox's emulator was started by another eksboot build; `eksboot --sandbox stop` starts it afresh (its clusters go with it)",
            crate::ui::SANDBOX_MARK
        );
    }
    Some(running)
}

/// Starts the emulator in the background and sets up the sandbox identity in it.
pub fn start(env: &Environment, dir: &Path) -> Result<Running, SandboxError> {
    let progress = Progress::start("Starting the sandbox's AWS emulator");
    let log_path = dir.join("emulator.log");
    let log = std::fs::File::create(&log_path).map_err(io_error(&log_path))?;
    let err_log = log.try_clone().map_err(io_error(&log_path))?;
    let mut command = Command::new(&env.python);
    command
        .arg(env.code.join("eksboot_moto.py"))
        .arg("--no-stdin-watch")
        .current_dir(&env.code)
        .env("EKSBOOT_IAM_EVALUATOR", "builtin")
        .env("EKSBOOT_MOTO_TRANSITION_MS", TRANSITION_MS)
        .env("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(err_log);
    {
        use std::os::unix::process::CommandExt;
        command.process_group(0);
    }
    let mut child = command.spawn().map_err(|e| SandboxError::DidNotStart {
        reason: e.to_string(),
        log: log_path.clone(),
    })?;
    let port = wait_for_port(&mut child, &log_path)?;
    let endpoint = format!("http://127.0.0.1:{port}");
    progress.say(
        "Starting the sandbox's AWS emulator: making the sandbox account and your identity in it",
    );
    let keys = super::identity::bootstrap_blocking(&endpoint)?;
    let running = Running {
        pid: child.id(),
        port,
        code: code_fingerprint(),
        access_key_id: keys.0,
        secret_access_key: keys.1,
    };
    let record = record_path(dir);
    crate::apply::journal::write_atomically(
        &record,
        serde_json::to_string_pretty(&running)
            .expect("serialises")
            .as_bytes(),
    )
    .map_err(io_error(&record))?;
    progress.finish(&format!(
        "The sandbox's AWS emulator runs on {endpoint} (pid {}); `eksboot --sandbox stop` ends it",
        running.pid
    ));
    Ok(running)
}

/// The port the emulator prints (`PORT n`) once it serves.
fn wait_for_port(child: &mut std::process::Child, log: &Path) -> Result<u16, SandboxError> {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if let Ok(file) = std::fs::File::open(log) {
            for line in BufReader::new(file).lines().map_while(Result::ok) {
                if let Some(port) = line
                    .strip_prefix("PORT ")
                    .and_then(|p| p.trim().parse().ok())
                {
                    return Ok(port);
                }
            }
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(SandboxError::DidNotStart {
                reason: format!("it exited ({status})"),
                log: log.to_path_buf(),
            });
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            return Err(SandboxError::DidNotStart {
                reason: "it did not serve within 90 s".into(),
                log: log.to_path_buf(),
            });
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Ends the emulator of this directory's sandbox; whether one was running.
pub fn stop(dir: &Path) -> Result<bool, SandboxError> {
    let record = record_path(dir);
    let Ok(text) = std::fs::read_to_string(&record) else {
        return Ok(false);
    };
    let _ = std::fs::remove_file(&record);
    let Ok(running) = serde_json::from_str::<Running>(&text) else {
        return Ok(false);
    };
    if !alive(running.pid) {
        return Ok(false);
    }
    let pid = libc::pid_t::try_from(running.pid).expect("a live pid fits");
    // SAFETY: signals the process this sandbox started (recorded pid, checked alive).
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(5);
    while alive(running.pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    if alive(running.pid) {
        // SAFETY: as above; it did not end on SIGTERM.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    Ok(true)
}
