//! `--sandbox`: the whole life of a cluster rehearsed on this machine, at no cost, against
//! eksboot's own AWS emulator (moto with eksboot's extension and its AWS rules, the very code the
//! tests run, embedded in this binary).
//!
//! - `environment`: the Python environment (made once in the user's cache directory) and the
//!   emulator's code, written out from the binary.
//! - `emulator`: the emulator process, running in the background between commands; its pid,
//!   port and the sandbox identity's keys are kept in `.eksboot/sandbox/emulator.json`.
//! - `identity`: the sandbox account, its administrator (the emulator's exempt role) and the
//!   IAM user eksboot acts as, holding only what `eksboot permissions` prints.
//!
//! A sandbox run never reads or writes the user's AWS configuration or kubeconfig: the process
//! environment is pointed at the emulator and at files under `.eksboot/sandbox/` before anything
//! else runs.

mod emulator;
mod environment;
mod identity;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

pub use identity::ACCOUNT;

/// Where a sandbox keeps everything, relative to the working directory.
pub const DIR: &str = ".eksboot/sandbox";

/// Why the sandbox cannot run, and what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("the sandbox needs python3, and `{command}` could not be run: {reason}")]
    NoPython { command: String, reason: String },
    #[error("python3 cannot make a virtual environment: {output}")]
    NoVenv { output: String },
    #[error("installing the emulator's Python packages failed: {output}")]
    PipFailed { output: String },
    #[error("the sandbox's emulator did not start: {reason}")]
    DidNotStart { reason: String, log: PathBuf },
    #[error("the sandbox's emulator answered unexpectedly while {doing}: {reason}")]
    Emulator { doing: String, reason: String },
    #[error("cannot use {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl SandboxError {
    /// What to do next.
    pub fn hint(&self) -> String {
        match self {
            SandboxError::NoPython { .. } => "install Python 3 (Debian/Ubuntu: sudo apt install python3 python3-venv; macOS: brew install python), or set EKSBOOT_PYTHON to a python3 binary".into(),
            SandboxError::NoVenv { .. } => "install venv support: on Debian/Ubuntu, sudo apt install python3-venv (or the python3.X-venv package of your Python)".into(),
            SandboxError::PipFailed { .. } => "pip needs the Python package index (pypi.org): check the network, or set PIP_INDEX_URL to a mirror; then run the same command again".into(),
            SandboxError::DidNotStart { log, .. } => format!("its log is {}; `eksboot --sandbox stop` clears the sandbox, then try again", log.display()),
            SandboxError::Emulator { .. } => "`eksboot --sandbox stop` clears the sandbox; then run the command again".into(),
            SandboxError::Io { .. } => "check that the directory is writable".into(),
        }
    }
}

pub(crate) fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> SandboxError + '_ {
    move |source| SandboxError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A running sandbox: where its emulator answers and who eksboot is in it.
#[derive(Debug, Clone)]
pub struct Session {
    pub endpoint: String,
    pub access_key_id: String,
    pub secret_access_key: String,
}

static SESSION: OnceLock<Session> = OnceLock::new();

/// The sandbox this process runs in, if any.
pub fn session() -> Option<&'static Session> {
    SESSION.get()
}

/// Makes sure the sandbox runs (environment made, emulator started, identity there) and
/// returns it. Called before the async runtime starts: it blocks, with progress shown.
pub fn start() -> Result<Session, SandboxError> {
    let dir = PathBuf::from(DIR);
    std::fs::create_dir_all(&dir).map_err(io_error(&dir))?;
    if let Some(running) = emulator::find_running(&dir) {
        return Ok(running.session());
    }
    let env = environment::ensure()?;
    let running = emulator::start(&env, &dir)?;
    Ok(running.session())
}

/// Points this process at the sandbox: the emulator's endpoint, the sandbox identity's keys,
/// no AWS configuration or kubeconfig of the user's, and state files under `.eksboot/sandbox/`.
///
/// Must run before any other thread exists (it sets environment variables).
pub fn enter(session: Session) -> Result<(), SandboxError> {
    let dir = std::fs::canonicalize(DIR).map_err(io_error(Path::new(DIR)))?;
    let empty_config = dir.join("aws-config");
    if !empty_config.exists() {
        std::fs::write(&empty_config, "").map_err(io_error(&empty_config))?;
    }
    for var in [
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_ROLE_ARN",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    ] {
        std::env::remove_var(var);
    }
    let settings: [(&str, std::ffi::OsString); 8] = [
        ("AWS_ENDPOINT_URL", session.endpoint.clone().into()),
        ("AWS_ACCESS_KEY_ID", session.access_key_id.clone().into()),
        (
            "AWS_SECRET_ACCESS_KEY",
            session.secret_access_key.clone().into(),
        ),
        ("AWS_CONFIG_FILE", empty_config.clone().into()),
        ("AWS_SHARED_CREDENTIALS_FILE", empty_config.into()),
        ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ("KUBECONFIG", dir.join("kubeconfig").into()),
        // The emulator's waits last seconds: poll often enough that they look as they do on AWS.
        (
            "EKSBOOT_POLL_MS",
            std::env::var_os("EKSBOOT_POLL_MS").unwrap_or_else(|| "250".into()),
        ),
    ];
    for (var, value) in settings {
        std::env::set_var(var, value);
    }
    if std::env::var_os("EKSBOOT_RETRY_MS").is_none() {
        std::env::set_var("EKSBOOT_RETRY_MS", "100");
    }
    crate::apply::journal::use_state_dir(DIR);
    crate::ui::set_sandbox(true);
    let _ = SESSION.set(session);
    Ok(())
}

/// Gives the sandbox identity exactly what `eksboot permissions` prints for `profile`
/// (replacing what it held), as the README tells a person to do on AWS.
///
/// The admins the profile names in the sandbox account are made first when missing (a team's
/// roles exist in its own account, not in a fresh sandbox); returns the ARNs made.
pub async fn authorize(profile: &crate::profile::Profile) -> Result<Vec<String>, SandboxError> {
    let Some(session) = session() else {
        return Ok(Vec::new());
    };
    let made = identity::make_named_admins(&session.endpoint, profile).await?;
    identity::authorize(&session.endpoint, profile).await?;
    Ok(made)
}

/// `eksboot --sandbox stop`: ends the emulator and clears what described its clusters (state
/// files, kubeconfig): with the emulator gone, those clusters are gone too.
pub fn stop() -> Result<String, SandboxError> {
    let dir = PathBuf::from(DIR);
    let stopped = emulator::stop(&dir)?;
    let mut cleared = Vec::new();
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for entry in entries.filter_map(Result::ok) {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().to_string();
            if name.ends_with(".state.json") || name.ends_with(".lock") || name == "kubeconfig" {
                std::fs::remove_file(&path).map_err(io_error(&path))?;
                cleared.push(name);
            }
        }
    }
    let said = if stopped {
        "Stopped the sandbox's emulator: its clusters are gone with it."
    } else if cleared.is_empty() {
        "The sandbox was not running; nothing to stop."
    } else {
        "The sandbox was not running."
    };
    Ok(if cleared.is_empty() {
        said.to_string()
    } else {
        format!("{said} Removed {}.", cleared.join(", "))
    })
}
