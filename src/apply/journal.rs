//! The state journal: one JSON file per cluster recording every resource the moment it exists,
//! so an interrupted run resumes without duplicates and teardown removes exactly what was made.
//!
//! Written atomically after every change (temp file in the same directory, fsync, rename), mode
//! 0600, guarded by `<state>.lock` so two runs never interleave. It holds ids, never credentials.
//! A `--state s3://BUCKET/KEY` keeps it in S3 instead, for a team ([`super::shared_state`]):
//! the same API, so the executor does not know which it writes.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use super::shared_state::{Held, S3Location, SharedStateError, Store};
use crate::plan::PlanFacts;
use crate::profile::Profile;

/// The journal format this build reads and writes.
pub const JOURNAL_FORMAT: u32 = 1;

/// Where state files live under a working directory: `.eksboot`, or `.eksboot/sandbox` in the
/// sandbox (whose clusters must never be mistaken for real ones).
static STATE_DIR: std::sync::OnceLock<&'static str> = std::sync::OnceLock::new();

/// Keeps this run's state files in `dir` (relative to the working directory) instead.
pub fn use_state_dir(dir: &'static str) {
    let _ = STATE_DIR.set(dir);
}

/// The directory, relative to the working directory, that holds this run's state files.
pub fn state_dir() -> &'static str {
    STATE_DIR.get().copied().unwrap_or(".eksboot")
}

/// The default journal path: `.eksboot/<cluster>-<region>.state.json` under `dir`.
pub fn default_path(dir: &Path, cluster: &str, region: &str) -> PathBuf {
    dir.join(state_dir())
        .join(format!("{cluster}-{region}.state.json"))
}

/// Where a profile's cluster keeps its state: under the profile's `state = "s3://…"`, else
/// `.eksboot/<cluster>-<region>.state.json` in the current directory.
pub fn profile_state_path(profile: &Profile) -> PathBuf {
    let (cluster, region) = (&profile.cluster.name, &profile.cluster.region);
    match &profile.state {
        Some(prefix) => PathBuf::from(S3Location::under_prefix(prefix, cluster, region)),
        None => default_path(Path::new("."), cluster, region),
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct State {
    pub format: u32,
    pub cluster: String,
    pub region: String,
    pub account: String,
    /// Made once and kept on resume; tags carry it.
    pub run_id: String,
    /// The fully resolved profile, so resume needs no profile file.
    pub settings: serde_json::Value,
    pub settings_hash: String,
    #[serde(default)]
    pub availability_zones: Option<Vec<String>>,
    #[serde(default)]
    pub kubernetes_version: Option<String>,
    /// An existing secrets key, resolved from the profile's key or alias ARN by preflight.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secrets_key_arn: Option<String>,
    /// The node group's generation (see `PlanFacts::nodegroup_generation`), once replaced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nodegroup_generation: Option<u32>,
    /// When the cluster's version leaves standard support (RFC 3339), from DescribeClusterVersions
    /// at create and at each upgrade.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub standard_support_ends: Option<String>,
    /// An upgrade under way: the version it moves to (cleared when done), so a stopped upgrade
    /// continues to the same version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrade_target: Option<String>,
    /// Which apply (or upgrade) this is, for idempotency tokens: 0 for the create, one more for
    /// each apply or upgrade the user accepts, unchanged when a stopped one is resumed. A state
    /// file from before it reads as 0.
    #[serde(default)]
    pub apply_seq: u64,
    pub created_at: String,
    pub updated_at: String,
    #[serde(default)]
    pub steps: BTreeMap<String, StepRecord>,
}

impl State {
    /// What the plan needs beyond the profile, as this cluster was made (and changed).
    pub fn facts(&self) -> PlanFacts {
        PlanFacts {
            availability_zones: self.availability_zones.clone(),
            kubernetes_version: self.kubernetes_version.clone(),
            secrets_key_arn: self.secrets_key_arn.clone(),
            nodegroup_generation: self.nodegroup_generation,
            standard_support_ends: self.standard_support_ends.clone(),
        }
    }

    /// The profile this state was made for.
    pub fn profile(&self, path: &Path) -> Result<Profile, JournalError> {
        // Fields newer than the state file read with the meaning they had then.
        let mut settings = self.settings.clone();
        crate::profile::fill_legacy(&mut settings);
        let text = toml::to_string(&settings).map_err(|e| JournalError::Corrupt {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        Profile::parse(&text, path).map_err(|e| JournalError::Corrupt {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StepStatus {
    Running,
    Done,
    Failed,
}

/// What a step made: its AWS id, ARN and the attributes later steps need.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outputs {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attrs: BTreeMap<String, String>,
}

impl Outputs {
    pub fn id(id: impl Into<String>) -> Outputs {
        Outputs {
            id: id.into(),
            ..Outputs::default()
        }
    }
    pub fn with_arn(mut self, arn: impl Into<String>) -> Outputs {
        self.arn = Some(arn.into());
        self
    }
    pub fn with(mut self, key: &str, value: impl Into<String>) -> Outputs {
        self.attrs.insert(key.to_string(), value.into());
        self
    }
    pub fn attr(&self, key: &str) -> Option<&str> {
        self.attrs.get(key).map(String::as_str)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepRecord {
    pub status: StepStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outputs: Option<Outputs>,
    pub started_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// How many times the step was run again after it had finished (a resume that puts back
    /// what changed outside eksboot, in the same apply): part of its idempotency tokens, so a
    /// request it made before and finished (an add-on created, deleted outside, created
    /// again) is a new one; a stopped step resumed keeps it, and repeats its tokens.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub round: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("the state file {} is in use by another eksboot run (process {pid}{host})", path.display(), host = host.as_deref().map(|h| format!(" on {h}")).unwrap_or_default())]
    Locked {
        path: PathBuf,
        pid: u32,
        host: Option<String>,
    },
    #[error("cannot read the state file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the state file {} is damaged: {message}", path.display())]
    Corrupt { path: PathBuf, message: String },
    #[error("cannot write the state file {}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The state in S3: locked by another run, changed under this one, or unreachable.
    #[error(transparent)]
    Shared(#[from] SharedStateError),
}

/// RFC 3339 UTC timestamp, to the millisecond.
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_millis(SystemTime::now()).to_string()
}

/// An open, locked journal.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    pub state: State,
    lock: Guard,
}

/// What keeps other runs out while this one writes: an OS lock on a local file, or the lock
/// object of a state in S3 (with the ETag every write is conditional on).
#[derive(Debug)]
enum Guard {
    Local(Lock),
    Shared(Held),
}

/// The S3 address `path` names, if it is one (`s3://BUCKET/KEY`).
pub fn shared_location(path: &Path) -> Result<Option<S3Location>, JournalError> {
    match S3Location::of(path) {
        None => Ok(None),
        Some(Ok(location)) => Ok(Some(location)),
        Some(Err(why)) => Err(SharedStateError::BadAddress(why).into()),
    }
}

/// Whether a state is there (a file, or an object in S3).
pub fn exists(path: &Path) -> Result<bool, JournalError> {
    match shared_location(path)? {
        None => Ok(path.exists()),
        Some(location) => Ok(Store::connect(&location)?.read()?.is_some()),
    }
}

/// The command line of this run, as a lock in S3 names it to others.
fn command_line() -> String {
    let args: Vec<String> = std::env::args().skip(1).collect();
    format!("eksboot {}", args.join(" "))
}

impl Journal {
    /// Opens the journal at `path` if it exists, holding its lock.
    pub fn open(path: &Path) -> Result<Option<Journal>, JournalError> {
        if let Some(location) = shared_location(path)? {
            let store = Store::connect(&location)?;
            let held = store.lock(&command_line())?;
            let Some(bytes) = held.read()? else {
                return Ok(None);
            };
            let text = String::from_utf8_lossy(&bytes);
            let state = parse_state(&text, path)?;
            return Ok(Some(Journal {
                path: path.to_path_buf(),
                state,
                lock: Guard::Shared(held),
            }));
        }
        if !path.exists() {
            return Ok(None);
        }
        let lock = Lock::acquire(path)?;
        let state = read_state(path)?;
        Ok(Some(Journal {
            path: path.to_path_buf(),
            state,
            lock: Guard::Local(lock),
        }))
    }

    /// Creates a new journal for a run, holding its lock, and writes it at once.
    pub fn create(
        path: &Path,
        profile: &Profile,
        account: &str,
        facts: &PlanFacts,
    ) -> Result<Journal, JournalError> {
        let lock = match shared_location(path)? {
            Some(location) => {
                // The first write is conditional on there being no state yet, so a state made
                // meanwhile by another run is never overwritten by a new one.
                Guard::Shared(
                    Store::connect(&location)?
                        .encrypting_with(profile.state_kms_key.clone())
                        .lock(&command_line())?,
                )
            }
            None => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|source| JournalError::Write {
                        path: path.to_path_buf(),
                        source,
                    })?;
                }
                Guard::Local(Lock::acquire(path)?)
            }
        };
        let now = now_rfc3339();
        let state = State {
            format: JOURNAL_FORMAT,
            cluster: profile.cluster.name.clone(),
            region: profile.cluster.region.clone(),
            account: account.to_string(),
            run_id: new_run_id(&profile.cluster.name),
            settings: serde_json::to_value(profile).expect("profile serialises"),
            settings_hash: profile.content_hash(),
            availability_zones: facts.availability_zones.clone(),
            kubernetes_version: facts.kubernetes_version.clone(),
            secrets_key_arn: facts.secrets_key_arn.clone(),
            nodegroup_generation: None,
            standard_support_ends: facts.standard_support_ends.clone(),
            upgrade_target: None,
            apply_seq: 0,
            created_at: now.clone(),
            updated_at: now,
            steps: BTreeMap::new(),
        };
        let journal = Journal {
            path: path.to_path_buf(),
            state,
            lock,
        };
        journal.save()?;
        Ok(journal)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Encrypts the state's next writes with the profile's `state_kms_key`, when it names one
    /// (a state in S3 otherwise keeps the key it was written with).
    pub fn encrypt_with(&self, profile: &Profile) {
        if let (Guard::Shared(held), Some(key)) = (&self.lock, &profile.state_kms_key) {
            held.encrypt_with(key.clone());
        }
    }

    /// A note when the lock was taken over from a process that is gone.
    pub fn lock_note(&self) -> Option<String> {
        let Guard::Local(lock) = &self.lock else {
            return None;
        };
        lock.took_over_from.map(|pid| {
            format!(
                "took over the lock of an earlier run (process {pid}) that is no longer running"
            )
        })
    }

    /// The profile this journal was made for.
    pub fn profile(&self) -> Result<Profile, JournalError> {
        self.state.profile(&self.path)
    }

    pub fn facts(&self) -> PlanFacts {
        self.state.facts()
    }

    pub fn outputs(&self, step: &str) -> Option<&Outputs> {
        self.state
            .steps
            .get(step)
            .filter(|r| r.status == StepStatus::Done)
            .and_then(|r| r.outputs.as_ref())
    }

    pub fn status(&self, step: &str) -> Option<StepStatus> {
        self.state.steps.get(step).map(|r| r.status)
    }

    /// The record of `step`, made (as running) when there is none yet.
    fn record_mut(&mut self, step: &str, now: &str) -> &mut StepRecord {
        self.state
            .steps
            .entry(step.to_string())
            .or_insert_with(|| StepRecord {
                status: StepStatus::Running,
                outputs: None,
                started_at: now.to_string(),
                finished_at: None,
                error: None,
                round: 0,
            })
    }

    pub fn record_started(&mut self, step: &str) -> Result<(), JournalError> {
        let now = now_rfc3339();
        let record = self.record_mut(step, &now);
        if record.status == StepStatus::Done {
            record.round += 1;
        }
        record.status = StepStatus::Running;
        record.started_at = now;
        record.error = None;
        self.save()
    }

    /// Records a resource the moment it exists, even before the step finishes (a NAT gateway
    /// that is still pending), so a crash never loses track of it.
    pub fn record_outputs(
        &mut self,
        step: &str,
        outputs: &Outputs,
        done: bool,
    ) -> Result<(), JournalError> {
        let now = now_rfc3339();
        let record = self.record_mut(step, &now);
        record.outputs = Some(outputs.clone());
        if done {
            record.status = StepStatus::Done;
            record.finished_at = Some(now);
            record.error = None;
        }
        self.save()
    }

    /// Takes `profile` as the cluster's profile from now on (`apply`), saved at once.
    pub fn adopt_profile(&mut self, profile: &Profile) -> Result<(), JournalError> {
        self.state.settings = serde_json::to_value(profile).expect("profile serialises");
        self.state.settings_hash = profile.content_hash();
        self.save()
    }

    /// Drops a step whose resource is deleted (day two: the profile no longer asks for it).
    /// An apply or upgrade was accepted: a new sequence number, saved, so every request it makes
    /// carries a token no earlier one used (a resume keeps it).
    pub fn begin_apply(&mut self) -> Result<u64, JournalError> {
        self.state.apply_seq += 1;
        self.save()?;
        Ok(self.state.apply_seq)
    }

    pub fn forget(&mut self, step: &str) -> Result<(), JournalError> {
        self.state.steps.remove(step);
        self.save()
    }

    pub fn record_failed(&mut self, step: &str, error: &str) -> Result<(), JournalError> {
        let now = now_rfc3339();
        if let Some(record) = self.state.steps.get_mut(step) {
            record.status = StepStatus::Failed;
            record.finished_at = Some(now);
            record.error = Some(error.to_string());
        }
        self.save()
    }

    /// Writes the journal atomically: temp file beside it, fsync, rename; mode 0600. In S3: one
    /// PutObject (atomic there), conditional on the version this run last read or wrote.
    pub fn save(&self) -> Result<(), JournalError> {
        let mut state = self.state.clone();
        state.updated_at = now_rfc3339();
        let text = serde_json::to_string_pretty(&state).expect("state serialises");
        match &self.lock {
            Guard::Shared(held) => Ok(held.write(text.into_bytes())?),
            Guard::Local(_) => write_atomically(&self.path, text.as_bytes()).map_err(|source| {
                JournalError::Write {
                    path: self.path.clone(),
                    source,
                }
            }),
        }
    }

    /// Removes the journal (after a complete teardown): the file, or the object and its lock
    /// (earlier versions stay in a versioned bucket).
    pub fn remove(self) -> Result<(), JournalError> {
        match &self.lock {
            Guard::Shared(held) => Ok(held.delete_all()?),
            Guard::Local(_) => {
                std::fs::remove_file(&self.path).map_err(|source| JournalError::Write {
                    path: self.path.clone(),
                    source,
                })?;
                // Its lock file too (held until this returns): nothing of the cluster is left.
                match std::fs::remove_file(lock_path(&self.path)) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                        Err(JournalError::Write {
                            path: lock_path(&self.path),
                            source: e,
                        })
                    }
                    _ => Ok(()),
                }
            }
        }
    }
}

/// Reads a state file without locking it (for `status`, which changes nothing).
pub fn read_state(path: &Path) -> Result<State, JournalError> {
    if let Some(location) = shared_location(path)? {
        let Some(object) = Store::connect(&location)?.read()? else {
            return Err(JournalError::Read {
                path: path.to_path_buf(),
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "no such object in the bucket",
                ),
            });
        };
        return parse_state(&String::from_utf8_lossy(&object.bytes), path);
    }
    let text = std::fs::read_to_string(path).map_err(|source| JournalError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse_state(&text, path)
}

/// A state from its JSON text; `path` names it in errors.
fn parse_state(text: &str, path: &Path) -> Result<State, JournalError> {
    let state: State = serde_json::from_str(text).map_err(|e| JournalError::Corrupt {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    if state.format != JOURNAL_FORMAT {
        return Err(JournalError::Corrupt {
            path: path.to_path_buf(),
            message: format!(
                "format {} is not one this eksboot reads ({JOURNAL_FORMAT})",
                state.format
            ),
        });
    }
    let mut state = state;
    migrate_access_entry_ids(&mut state);
    Ok(state)
}

/// State files written before access-entry steps were keyed by principal named them by position
/// (`access-entry-admin-1`): renamed to [`crate::plan::access_entry_id`] of the principal the
/// step recorded (or, for one that never finished, the admin at that position).
pub fn migrate_access_entry_ids(state: &mut State) {
    let old: Vec<String> = state
        .steps
        .keys()
        .filter(|k| k.starts_with("access-entry-admin-"))
        .cloned()
        .collect();
    for key in old {
        let record = state.steps.remove(&key).expect("listed above");
        let position = key
            .trim_start_matches("access-entry-admin-")
            .parse::<usize>()
            .ok();
        let principal = record
            .outputs
            .as_ref()
            .map(|o| o.id.clone())
            .filter(|id| !id.is_empty())
            .or_else(|| {
                let admins = state.settings["cluster"]["admins"].as_array()?;
                admins
                    .get(position?.checked_sub(1)?)?
                    .as_str()
                    .map(str::to_string)
            });
        match principal {
            Some(p) => {
                state.steps.insert(crate::plan::access_entry_id(&p), record);
            }
            // Nothing says whose it was: keep it under its old name (teardown still sees it).
            None => {
                state.steps.insert(key, record);
            }
        }
    }
}

/// Writes `bytes` to `path` so that readers see the old or the new file, never a mix.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut temp = tempfile::NamedTempFile::new_in(dir)?;
    temp.write_all(bytes)?;
    temp.as_file().sync_all()?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        temp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    temp.persist(path).map_err(|e| e.error)?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// A run id: the cluster name's initial, the time and the process, hashed short.
fn new_run_id(cluster: &str) -> String {
    use sha2::{Digest, Sha256};
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let digest = Sha256::digest(format!("{cluster}/{nanos}/{}", std::process::id()));
    let hex: String = digest.iter().take(5).map(|b| format!("{b:02x}")).collect();
    format!("run-{hex}")
}

/// The lock beside a state file: an OS advisory lock on `<state>.lock`, held for the whole run.
/// The kernel drops it when the process ends however it ends (SIGKILL, a zombie nobody reaps),
/// so a dead run never blocks the next one, and a reused PID means nothing. The file is never
/// unlinked (two processes would then lock different inodes); the PID and host in it are only
/// there to name the holder.
#[derive(Debug)]
struct Lock {
    /// Holding the open file holds the lock; dropping it releases the lock.
    file: std::fs::File,
    took_over_from: Option<u32>,
}

impl Drop for Lock {
    /// A run that ends normally leaves the file empty, so only a run that died names itself
    /// in it to the next one.
    fn drop(&mut self) {
        let _ = self.file.set_len(0);
    }
}

fn lock_path(state: &Path) -> PathBuf {
    let mut name = state.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

fn hostname() -> Option<String> {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
}

/// Whether a process has ended or is ending: gone, a zombie, or dead (Linux `/proc`). Where
/// `/proc` cannot tell, the process is taken as running, so the lock is never taken early.
fn process_is_ending(pid: u32) -> bool {
    if !Path::new("/proc/self/stat").exists() {
        return false;
    }
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit(") ")
            .next()
            .is_some_and(|rest| rest.starts_with('Z') || rest.starts_with('X')),
    }
}

/// The PID and host a lock file names.
fn holder(text: &str) -> (Option<u32>, Option<String>) {
    let mut words = text.split_whitespace();
    let pid = words.next().and_then(|p| p.parse().ok());
    (pid, words.next().map(str::to_string))
}

impl Lock {
    fn acquire(state: &Path) -> Result<Lock, JournalError> {
        use std::io::{Read, Seek};
        let path = lock_path(state);
        let write_error = |source| JournalError::Write {
            path: path.clone(),
            source,
        };
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(write_error)?;
        let mut previous = String::new();
        // A killed run's main thread turns zombie a moment before its other threads have
        // closed their shared files, so its lock outlives it briefly: a holder on this host
        // that is ending is given that moment.
        let grace = std::time::Instant::now() + std::time::Duration::from_secs(3);
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(std::fs::TryLockError::WouldBlock) => {
                    previous.clear();
                    let _ = file.rewind();
                    let _ = file.read_to_string(&mut previous);
                    let (pid, host) = holder(&previous);
                    let here = host.is_none() || host == hostname();
                    if here
                        && pid.is_some_and(process_is_ending)
                        && std::time::Instant::now() < grace
                    {
                        std::thread::sleep(std::time::Duration::from_millis(50));
                        continue;
                    }
                    return Err(JournalError::Locked {
                        path: state.to_path_buf(),
                        pid: pid.unwrap_or(0),
                        host,
                    });
                }
                Err(std::fs::TryLockError::Error(source)) => return Err(write_error(source)),
            }
        }
        previous.clear();
        let _ = file.rewind();
        let _ = file.read_to_string(&mut previous);
        // A holder named in the file but holding no lock has ended: say so once.
        let took_over_from = holder(&previous).0.filter(|pid| *pid != std::process::id());
        let contents = format!(
            "{} {}\n",
            std::process::id(),
            hostname().unwrap_or_default()
        );
        file.set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| file.write_all(contents.as_bytes()))
            .and_then(|()| file.sync_all())
            .map_err(write_error)?;
        Ok(Lock {
            file,
            took_over_from,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile() -> Profile {
        Profile::parse(
            "[cluster]\nname = \"demo\"\nregion = \"us-west-2\"\n",
            Path::new("t.toml"),
        )
        .unwrap()
    }

    #[test]
    fn removing_a_local_journal_leaves_neither_the_state_nor_its_lock() {
        let dir = tempfile::tempdir().unwrap();
        let path = default_path(dir.path(), "demo", "us-west-2");
        let j = Journal::create(&path, &profile(), "123456789012", &PlanFacts::default()).unwrap();
        assert!(lock_path(&path).exists());
        j.remove().unwrap();
        assert!(!path.exists());
        assert!(!lock_path(&path).exists());
    }

    #[test]
    fn access_entry_steps_of_older_state_files_are_keyed_by_principal() {
        let dir = tempfile::tempdir().unwrap();
        let path = default_path(dir.path(), "demo", "us-west-2");
        let mut p = profile();
        p.cluster.admins = vec![
            "arn:aws:iam::123456789012:role/a".into(),
            "arn:aws:iam::123456789012:role/b".into(),
        ];
        {
            let mut j = Journal::create(&path, &p, "123456789012", &PlanFacts::default()).unwrap();
            // As an older eksboot wrote them: by position; the second never finished.
            j.record_started("access-entry-admin-1").unwrap();
            j.record_outputs(
                "access-entry-admin-1",
                &Outputs::id("arn:aws:iam::123456789012:role/a"),
                true,
            )
            .unwrap();
            j.record_started("access-entry-admin-2").unwrap();
        }
        let j = Journal::open(&path).unwrap().unwrap();
        let a = crate::plan::access_entry_id("arn:aws:iam::123456789012:role/a");
        let b = crate::plan::access_entry_id("arn:aws:iam::123456789012:role/b");
        assert_eq!(j.status(&a), Some(StepStatus::Done));
        assert_eq!(j.status(&b), Some(StepStatus::Running));
        assert!(!j
            .state
            .steps
            .keys()
            .any(|k| k.starts_with("access-entry-admin-")));
    }

    #[test]
    fn the_apply_sequence_starts_at_0_grows_per_accepted_apply_and_older_files_read_0() {
        let dir = tempfile::tempdir().unwrap();
        let path = default_path(dir.path(), "demo", "us-west-2");
        {
            let mut j =
                Journal::create(&path, &profile(), "123456789012", &PlanFacts::default()).unwrap();
            assert_eq!(j.state.apply_seq, 0);
            assert_eq!(j.begin_apply().unwrap(), 1);
        }
        // Saved at once: a resumed apply reopens with the same number.
        let mut j = Journal::open(&path).unwrap().unwrap();
        assert_eq!(j.state.apply_seq, 1);
        assert_eq!(j.begin_apply().unwrap(), 2);
        drop(j);
        // A state file written before the field existed.
        let mut value: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        value.as_object_mut().unwrap().remove("apply_seq");
        let older: State = serde_json::from_value(value).unwrap();
        assert_eq!(older.apply_seq, 0);
    }

    #[test]
    fn a_step_run_again_after_it_finished_takes_a_new_round_and_a_stopped_one_keeps_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let path = default_path(dir.path(), "demo", "us-west-2");
        let mut j =
            Journal::create(&path, &profile(), "123456789012", &PlanFacts::default()).unwrap();
        let round = |j: &Journal| j.state.steps["addon-coredns"].round;
        j.record_started("addon-coredns").unwrap();
        assert_eq!(round(&j), 0);
        // Stopped while running, resumed: the same round (its requests repeat their tokens).
        j.record_started("addon-coredns").unwrap();
        assert_eq!(round(&j), 0);
        j.record_outputs("addon-coredns", &Outputs::id("coredns"), true)
            .unwrap();
        // Finished, then run again (a resume putting back what was deleted outside).
        j.record_started("addon-coredns").unwrap();
        assert_eq!(round(&j), 1);
        j.record_failed("addon-coredns", "boom").unwrap();
        j.record_started("addon-coredns").unwrap();
        assert_eq!(round(&j), 1);
        drop(j);
        let j = Journal::open(&path).unwrap().unwrap();
        assert_eq!(round(&j), 1);
    }

    #[test]
    fn create_record_and_reopen_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = default_path(dir.path(), "demo", "us-west-2");
        assert!(path.ends_with(".eksboot/demo-us-west-2.state.json"));
        let facts = PlanFacts {
            availability_zones: Some(vec!["us-west-2a".into(), "us-west-2b".into()]),
            kubernetes_version: Some("1.34".into()),
            ..Default::default()
        };
        let run_id;
        {
            let mut j = Journal::create(&path, &profile(), "123456789012", &facts).unwrap();
            run_id = j.state.run_id.clone();
            j.record_started("vpc").unwrap();
            j.record_outputs(
                "vpc",
                &Outputs::id("vpc-1").with("cidr", "10.0.0.0/16"),
                true,
            )
            .unwrap();
            j.record_started("nat-1").unwrap();
            j.record_outputs("nat-1", &Outputs::id("nat-1"), false)
                .unwrap();
        }
        let j = Journal::open(&path).unwrap().unwrap();
        assert_eq!(j.state.run_id, run_id);
        assert!(run_id.starts_with("run-") && run_id.len() == 14);
        assert_eq!(j.outputs("vpc").unwrap().attr("cidr"), Some("10.0.0.0/16"));
        assert_eq!(j.status("nat-1"), Some(StepStatus::Running));
        assert!(
            j.outputs("nat-1").is_none(),
            "unfinished steps have no usable outputs"
        );
        assert_eq!(j.state.steps["nat-1"].outputs.as_ref().unwrap().id, "nat-1");
        assert_eq!(j.profile().unwrap(), profile());
        assert_eq!(j.facts(), facts);
        assert_eq!(j.state.settings_hash, profile().content_hash());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // No temp files left behind.
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}"); // state and lock
    }

    #[test]
    fn a_second_open_is_refused_while_the_first_holds_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        let first = Journal::create(&path, &profile(), "1", &PlanFacts::default()).unwrap();
        match Journal::open(&path) {
            Err(JournalError::Locked { pid, .. }) => assert_eq!(pid, std::process::id()),
            other => panic!("expected a held lock, got {other:?}"),
        }
        drop(first);
        assert!(Journal::open(&path).unwrap().is_some());
    }

    #[test]
    fn a_running_process_is_not_ending_and_a_gone_one_is() {
        assert!(!process_is_ending(std::process::id()));
        // PID max on Linux is at most 2^22, so this one never exists.
        assert!(process_is_ending(u32::MAX - 1));
    }

    #[test]
    fn a_lock_file_naming_a_live_process_that_holds_no_lock_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        drop(Journal::create(&path, &profile(), "1", &PlanFacts::default()).unwrap());
        // PID 1 is alive (and never ours), but holds no OS lock on the file.
        std::fs::write(
            lock_path(&path),
            format!("1 {}\n", hostname().unwrap_or_default()),
        )
        .unwrap();
        let j = Journal::open(&path).unwrap().unwrap();
        assert!(
            j.lock_note().unwrap().contains("process 1"),
            "{:?}",
            j.lock_note()
        );
        // The file names the new holder, and is never removed.
        let text = std::fs::read_to_string(lock_path(&path)).unwrap();
        assert!(
            text.starts_with(&format!("{} ", std::process::id())),
            "{text}"
        );
        drop(j);
        assert!(lock_path(&path).exists());
    }

    #[test]
    fn journal_holds_no_credentials() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        let j = Journal::create(&path, &profile(), "1", &PlanFacts::default()).unwrap();
        let text = std::fs::read_to_string(j.path()).unwrap().to_lowercase();
        for word in [
            "secret_access_key",
            "session_token",
            "access_key_id",
            "akia",
        ] {
            assert!(!text.contains(word));
        }
    }

    #[test]
    fn damaged_state_is_reported_not_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        std::fs::write(&path, "{not json").unwrap();
        assert!(matches!(
            Journal::open(&path),
            Err(JournalError::Corrupt { .. })
        ));
    }
}

/// The dotted names of the fields whose values differ between two settings documents.
pub fn changed_fields(old: &serde_json::Value, new: &serde_json::Value) -> Vec<String> {
    fn walk(prefix: &str, old: &serde_json::Value, new: &serde_json::Value, out: &mut Vec<String>) {
        match (old, new) {
            (serde_json::Value::Object(a), serde_json::Value::Object(b)) => {
                let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
                for key in keys {
                    let path = if prefix.is_empty() {
                        key.clone()
                    } else {
                        format!("{prefix}.{key}")
                    };
                    let null = serde_json::Value::Null;
                    walk(
                        &path,
                        a.get(key).unwrap_or(&null),
                        b.get(key).unwrap_or(&null),
                        out,
                    );
                }
            }
            (a, b) if a != b => out.push(prefix.to_string()),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk("", old, new, &mut out);
    out
}

#[cfg(test)]
mod diff_tests {
    use super::changed_fields;
    use serde_json::json;

    #[test]
    fn changed_fields_names_leaves_by_path() {
        let old = json!({"cluster": {"name": "a", "admins": []}, "nodes": {"max_size": 3}});
        let new = json!({"cluster": {"name": "a", "admins": ["x"], "kubernetes_version": "1.33"}, "nodes": {"max_size": 4}});
        assert_eq!(
            changed_fields(&old, &new),
            [
                "cluster.admins",
                "cluster.kubernetes_version",
                "nodes.max_size"
            ]
        );
        assert!(changed_fields(&old, &old).is_empty());
    }
}
