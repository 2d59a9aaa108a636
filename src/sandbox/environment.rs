//! The sandbox's Python environment and the emulator's code: made once in the user's cache
//! directory, and made again only when this binary's pinned requirements or embedded code
//! change (each lives in a directory named by a hash of what it holds).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::{io_error, SandboxError};

/// The emulator's code, embedded: a `cargo install`ed eksboot carries it too. The tests run
/// these very files from emulator/.
const CODE: [(&str, &str); 11] = [
    (
        "eksboot_moto.py",
        include_str!("../../emulator/eksboot_moto.py"),
    ),
    ("aws_rules.py", include_str!("../../emulator/aws_rules.py")),
    ("eks_auto.py", include_str!("../../emulator/eks_auto.py")),
    (
        "eks_network.py",
        include_str!("../../emulator/eks_network.py"),
    ),
    (
        "eks_safety.py",
        include_str!("../../emulator/eks_safety.py"),
    ),
    (
        "iam_builtin.py",
        include_str!("../../emulator/iam_builtin.py"),
    ),
    (
        "iam_context.py",
        include_str!("../../emulator/iam_context.py"),
    ),
    (
        "iam_enforce.py",
        include_str!("../../emulator/iam_enforce.py"),
    ),
    (
        "iam_propagation.py",
        include_str!("../../emulator/iam_propagation.py"),
    ),
    ("s3_rules.py", include_str!("../../emulator/s3_rules.py")),
    ("tokens.py", include_str!("../../emulator/tokens.py")),
];

/// The pinned packages the emulator runs on (moto and its server).
const REQUIREMENTS: &str = include_str!("../../emulator/runtime-requirements.txt");

/// The oldest Python moto 5.2 supports.
const OLDEST_PYTHON: (u32, u32) = (3, 9);

/// A ready environment: its python, and the directory holding the emulator's code.
pub struct Environment {
    pub python: PathBuf,
    pub code: PathBuf,
}

/// A short hash naming a directory by its content.
fn fingerprint<'a>(parts: impl IntoIterator<Item = &'a str>) -> String {
    let mut hash = Sha256::new();
    for part in parts {
        hash.update(part.as_bytes());
        hash.update([0]);
    }
    hash.finalize()[..6]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The fingerprint of the embedded code, kept beside a running emulator (to notice a sandbox
/// started by another eksboot build).
pub fn code_fingerprint() -> String {
    fingerprint(CODE.iter().flat_map(|(name, text)| [*name, *text]))
}

/// The user's cache directory for eksboot: `$XDG_CACHE_HOME/eksboot`, else `~/.cache/eksboot`
/// (`~/Library/Caches/eksboot` on macOS).
pub fn cache_dir() -> Result<PathBuf, SandboxError> {
    cache_dir_from(
        std::env::var_os("XDG_CACHE_HOME").map(PathBuf::from),
        std::env::var_os("HOME").map(PathBuf::from),
        cfg!(target_os = "macos"),
    )
    .ok_or_else(|| SandboxError::Io {
        path: PathBuf::from("~/.cache"),
        source: std::io::Error::other("neither XDG_CACHE_HOME nor HOME is set"),
    })
}

fn cache_dir_from(xdg: Option<PathBuf>, home: Option<PathBuf>, macos: bool) -> Option<PathBuf> {
    if let Some(xdg) = xdg.filter(|p| p.is_absolute()) {
        return Some(xdg.join("eksboot"));
    }
    let home = home.filter(|p| !p.as_os_str().is_empty())?;
    Some(if macos {
        home.join("Library/Caches/eksboot")
    } else {
        home.join(".cache/eksboot")
    })
}

/// The environment, made first when missing (once per requirements and code version).
pub fn ensure() -> Result<Environment, SandboxError> {
    let cache = cache_dir()?;
    std::fs::create_dir_all(&cache).map_err(io_error(&cache))?;
    // Two sandbox commands at once (two terminals) make it once.
    let lock_path = cache.join("sandbox.lock");
    let lock = std::fs::File::create(&lock_path).map_err(io_error(&lock_path))?;
    lock.lock().map_err(io_error(&lock_path))?;
    let venv = cache.join(format!("sandbox-python-{}", fingerprint([REQUIREMENTS])));
    let python = venv.join("bin/python");
    if !venv.join("ready").exists() {
        make_venv(&venv)?;
    }
    let code = cache.join(format!("emulator-{}", code_fingerprint()));
    if !code.join("ready").exists() {
        std::fs::create_dir_all(&code).map_err(io_error(&code))?;
        for (name, text) in CODE {
            let path = code.join(name);
            std::fs::write(&path, text).map_err(io_error(&path))?;
        }
        let ready = code.join("ready");
        std::fs::write(&ready, "").map_err(io_error(&ready))?;
    }
    drop(lock);
    Ok(Environment { python, code })
}

/// Makes the venv and installs the pinned packages into it, with progress shown.
fn make_venv(venv: &Path) -> Result<(), SandboxError> {
    let system_python = std::env::var("EKSBOOT_PYTHON").unwrap_or_else(|_| "python3".into());
    check_python(&system_python)?;
    let progress = Progress::start(
        "Making the sandbox's Python environment, once (about a minute): creating a venv",
    );
    let _ = std::fs::remove_dir_all(venv);
    let made = Command::new(&system_python)
        .args(["-m", "venv"])
        .arg(venv)
        .output()
        .map_err(|e| SandboxError::NoPython {
            command: system_python.clone(),
            reason: e.to_string(),
        })?;
    if !made.status.success() {
        let _ = std::fs::remove_dir_all(venv);
        return Err(SandboxError::NoVenv {
            output: tail(&made),
        });
    }
    let requirements = venv.join("requirements.txt");
    std::fs::write(&requirements, REQUIREMENTS).map_err(io_error(&requirements))?;
    progress.say("Making the sandbox's Python environment, once (about a minute): installing moto and its dependencies from the package index");
    let installed = Command::new(venv.join("bin/python"))
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-input",
            "-r",
        ])
        .arg(&requirements)
        .output()
        .map_err(io_error(venv))?;
    if !installed.status.success() {
        let _ = std::fs::remove_dir_all(venv);
        return Err(SandboxError::PipFailed {
            output: tail(&installed),
        });
    }
    let ready = venv.join("ready");
    std::fs::write(&ready, "").map_err(io_error(&ready))?;
    progress.finish("The sandbox's Python environment is ready (kept for next time)");
    Ok(())
}

/// python3 runs and is new enough.
fn check_python(python: &str) -> Result<(), SandboxError> {
    let out = Command::new(python)
        .args(["-c", "import sys; print('%d %d' % sys.version_info[:2])"])
        .output()
        .map_err(|e| SandboxError::NoPython {
            command: python.to_string(),
            reason: e.to_string(),
        })?;
    let version: Vec<u32> = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter_map(|n| n.parse().ok())
        .collect();
    match version.as_slice() {
        [major, minor] if (*major, *minor) >= OLDEST_PYTHON => Ok(()),
        [major, minor] => Err(SandboxError::NoPython {
            command: python.to_string(),
            reason: format!(
                "it is Python {major}.{minor}; the emulator needs {}.{} or later",
                OLDEST_PYTHON.0, OLDEST_PYTHON.1
            ),
        }),
        _ => Err(SandboxError::NoPython {
            command: python.to_string(),
            reason: tail(&out),
        }),
    }
}

/// The last lines a failed command printed.
fn tail(out: &std::process::Output) -> String {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(8)..].join("\n")
}

/// A spinner on a terminal, plain lines elsewhere; every line marked as the sandbox's.
pub struct Progress {
    bar: Option<indicatif::ProgressBar>,
}

impl Progress {
    pub fn start(message: &str) -> Progress {
        use std::io::IsTerminal;
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new_spinner();
            bar.set_style(
                indicatif::ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
                    .expect("valid template"),
            );
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        let progress = Progress { bar };
        progress.say(message);
        progress
    }

    pub fn say(&self, message: &str) {
        let line = format!("{}{message}", crate::ui::SANDBOX_MARK);
        match &self.bar {
            Some(bar) => bar.set_message(line),
            None => eprintln!("{line}"),
        }
    }

    pub fn finish(self, message: &str) {
        let line = format!("{}{message}", crate::ui::SANDBOX_MARK);
        match &self.bar {
            Some(bar) => bar.finish_with_message(line),
            None => eprintln!("{line}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_follows_xdg_then_home_by_platform() {
        let home = Some(PathBuf::from("/home/a"));
        assert_eq!(
            cache_dir_from(Some("/x/cache".into()), home.clone(), false),
            Some(PathBuf::from("/x/cache/eksboot"))
        );
        // A relative XDG_CACHE_HOME is ignored, as the XDG specification says.
        assert_eq!(
            cache_dir_from(Some("rel".into()), home.clone(), false),
            Some(PathBuf::from("/home/a/.cache/eksboot"))
        );
        assert_eq!(
            cache_dir_from(None, home, true),
            Some(PathBuf::from("/home/a/Library/Caches/eksboot"))
        );
        assert_eq!(cache_dir_from(None, None, false), None);
    }

    #[test]
    fn a_new_requirement_or_code_makes_a_new_directory() {
        assert_ne!(fingerprint(["moto==5.2.5"]), fingerprint(["moto==5.2.6"]));
        assert_eq!(fingerprint(["a", "b"]).len(), 12);
        // Names and contents are kept apart: ("ab", "") is not ("a", "b").
        assert_ne!(fingerprint(["ab", ""]), fingerprint(["a", "b"]));
    }

    #[test]
    fn the_embedded_code_is_the_emulator_the_tests_run() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("emulator");
        for (name, text) in CODE {
            assert_eq!(std::fs::read_to_string(dir.join(name)).unwrap(), text);
        }
        // Every module the emulator imports from its own directory is embedded.
        let embedded: Vec<&str> = CODE
            .iter()
            .map(|(n, _)| n.trim_end_matches(".py"))
            .collect();
        for (name, text) in CODE {
            for line in text.lines() {
                let line = line.trim_start();
                let module = line
                    .strip_prefix("import ")
                    .or_else(|| line.strip_prefix("from "))
                    .and_then(|rest| rest.split([' ', '.', ',']).next())
                    .unwrap_or_default();
                if dir.join(format!("{module}.py")).exists() {
                    assert!(
                        embedded.contains(&module),
                        "{name} imports {module}, which is not embedded"
                    );
                }
            }
        }
    }
}
