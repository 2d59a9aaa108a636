//! The state journal kept in S3 (`s3://BUCKET/KEY`), for a cluster a team shares.
//!
//! The lock is an object beside the state (`KEY.lock`) made with a conditional write
//! (`If-None-Match: *`): S3 lets exactly one writer make it, so two runs never interleave, on
//! one machine or many. It names its holder and is removed at the end of the run; a holder that
//! died leaves it, and only `eksboot unlock` (asking first) removes it. Every write of the state
//! is conditional on the ETag last read or written (`If-Match`), so a run working from a stale
//! copy fails instead of overwriting, even when a lock was broken by hand.
//!
//! The journal's API is synchronous (it is written under a mutex from many steps); the S3 calls
//! here run on the current Tokio runtime, blocking only the calling worker thread.

use std::future::Future;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::aws::s3::{self, Condition};
use crate::aws::{Aws, AwsError, TransportRetry};

pub use crate::profile::state::S3Location;

/// Who holds a lock: written into the lock object, shown to whoever finds it held.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    /// What `eksboot unlock` takes to remove this lock.
    pub id: String,
    pub user: String,
    pub host: String,
    pub pid: u32,
    pub command: String,
    /// RFC 3339.
    pub since: String,
}

impl Holder {
    /// This process, running `command`.
    pub fn this_process(command: &str) -> Holder {
        use sha2::{Digest, Sha256};
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let host = std::fs::read_to_string("/etc/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_default();
        let digest = Sha256::digest(format!("{host}/{}/{nanos}", std::process::id()));
        Holder {
            id: digest.iter().take(8).map(|b| format!("{b:02x}")).collect(),
            user: std::env::var("USER").unwrap_or_default(),
            host,
            pid: std::process::id(),
            command: command.to_string(),
            since: super::journal::now_rfc3339(),
        }
    }

    /// One line: who, where, doing what, since when.
    pub fn describe(&self) -> String {
        let user = if self.user.is_empty() {
            "someone".to_string()
        } else {
            self.user.clone()
        };
        format!(
            "{user} on {} (process {}) running `{}` since {}",
            if self.host.is_empty() {
                "?"
            } else {
                &self.host
            },
            self.pid,
            self.command,
            self.since
        )
    }
}

/// What can go wrong with a state in S3, in words that say what to do.
#[derive(Debug, thiserror::Error)]
pub enum SharedStateError {
    #[error("{0}")]
    BadAddress(String),
    #[error("the state {location} is in use by another eksboot run: {}. If that run is gone (its machine stopped, it was killed), remove its lock: eksboot unlock --state {location} {}", holder.describe(), holder.id)]
    Locked {
        location: S3Location,
        holder: Holder,
    },
    #[error("the state {location} is locked, but its lock cannot be read ({why}); look at s3://{}/{}", location.bucket, location.lock_key())]
    UnreadableLock { location: S3Location, why: String },
    #[error("the state {location} changed in S3 since this run read it (its ETag no longer matches: another run wrote it, or someone broke this run's lock): nothing was overwritten. Run the command again to start from what is there now")]
    Stale { location: S3Location },
    #[error("the state {location}: {source}")]
    Aws {
        location: S3Location,
        #[source]
        source: AwsError,
    },
}

/// Runs `future` to completion from synchronous code, on a small runtime of its own (one
/// thread, made once). The journal is written under a mutex that steps of the main runtime wait
/// on; running the S3 calls there could leave every worker waiting on that mutex while the call
/// holding it waits for a worker. Here the calls never need the main runtime.
pub fn block_on<F>(future: F) -> F::Output
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    static RUNTIME: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    let runtime = RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("eksboot-state")
            .enable_all()
            .build()
            .expect("a Tokio runtime for the state in S3")
    });
    let (done, answer) = std::sync::mpsc::channel();
    runtime.spawn(async move {
        let _ = done.send(future.await);
    });
    answer
        .recv()
        .expect("the state runtime runs every call it is given to the end")
}

/// An S3 client for the bucket holding a state, in the bucket's own region.
#[derive(Debug, Clone)]
pub struct Store {
    pub location: S3Location,
    s3: aws_sdk_s3::Client,
    /// The KMS key new writes are encrypted with (the profile's `state_kms_key`); `None`: the
    /// key of the state as last read, else the bucket's default encryption.
    kms_key: Option<String>,
}

impl Store {
    /// Connects with the usual AWS settings, then to the bucket's region.
    pub fn connect(location: &S3Location) -> Result<Store, SharedStateError> {
        let location = location.clone();
        block_on(async move {
            let wrap = |source| SharedStateError::Aws {
                location: location.clone(),
                source,
            };
            let retry = TransportRetry::from_env();
            let region = crate::aws::default_region()
                .await
                .unwrap_or_else(|| "us-east-1".to_string());
            let aws = Aws::connect(&region, &retry).await.map_err(wrap)?;
            let probe = s3::client(&aws.config);
            let bucket_region = s3::bucket_region(&probe, &location.bucket)
                .await
                .map_err(wrap)?;
            let s3 = if bucket_region == region {
                probe
            } else {
                let aws = Aws::connect(&bucket_region, &retry).await.map_err(wrap)?;
                s3::client(&aws.config)
            };
            Ok(Store {
                location: location.clone(),
                s3,
                kms_key: None,
            })
        })
    }

    /// Encrypts what this store writes with `kms_key` (SSE-KMS), when one is named.
    pub fn encrypting_with(mut self, kms_key: Option<String>) -> Store {
        self.kms_key = kms_key;
        self
    }

    /// What one call needs, owned (the call runs on the state's own runtime).
    fn parts(&self, key: &str) -> (aws_sdk_s3::Client, String, String) {
        (
            self.s3.clone(),
            self.location.bucket.clone(),
            key.to_string(),
        )
    }

    /// The S3 client, in the bucket's region.
    pub fn client(&self) -> &aws_sdk_s3::Client {
        &self.s3
    }

    fn wrap(&self, source: AwsError) -> SharedStateError {
        SharedStateError::Aws {
            location: self.location.clone(),
            source,
        }
    }

    /// The state object, if there is one.
    pub fn read(&self) -> Result<Option<s3::Object>, SharedStateError> {
        let (s3, bucket, key) = self.parts(&self.location.key);
        block_on(async move { s3::get(&s3, &bucket, &key).await }).map_err(|e| self.wrap(e))
    }

    /// Writes the state if `condition` holds, encrypted with `kms_key` when one is named; the
    /// new ETag. A condition that does not hold is [`SharedStateError::Stale`].
    pub fn write(
        &self,
        bytes: Vec<u8>,
        condition: &Condition,
        kms_key: Option<String>,
    ) -> Result<String, SharedStateError> {
        let (s3, bucket, key) = self.parts(&self.location.key);
        let condition = condition.clone();
        block_on(
            async move { s3::put(&s3, &bucket, &key, bytes, &condition, kms_key.as_deref()).await },
        )
        .map_err(|e| match precondition_failed(&e) {
            true => SharedStateError::Stale {
                location: self.location.clone(),
            },
            false => self.wrap(e),
        })
    }

    /// Deletes the state object.
    pub fn delete(&self) -> Result<(), SharedStateError> {
        let (s3, bucket, key) = self.parts(&self.location.key);
        block_on(async move { s3::delete(&s3, &bucket, &key).await }).map_err(|e| self.wrap(e))
    }

    /// Who holds the lock now, if anyone.
    pub fn holder(&self) -> Result<Option<Holder>, SharedStateError> {
        let (s3, bucket, key) = self.parts(&self.location.lock_key());
        let lock =
            block_on(async move { s3::get(&s3, &bucket, &key).await }).map_err(|e| self.wrap(e))?;
        match lock {
            None => Ok(None),
            Some(object) => serde_json::from_slice(&object.bytes)
                .map(Some)
                .map_err(|e| SharedStateError::UnreadableLock {
                    location: self.location.clone(),
                    why: e.to_string(),
                }),
        }
    }

    /// Takes the lock for this process running `command`, or says who holds it. The lock is
    /// encrypted as the state is: with the store's key, else with the key the state object
    /// already has (a run that opens a state learns its key only from the object).
    pub fn lock(&self, command: &str) -> Result<Held, SharedStateError> {
        let holder = Holder::this_process(command);
        let body = serde_json::to_vec_pretty(&holder).expect("a holder serialises");
        let (s3, bucket, key) = self.parts(&self.location.lock_key());
        let kms_key = match &self.kms_key {
            Some(key) => Some(key.clone()),
            None => self.read()?.and_then(|state| state.kms_key),
        };
        let held_key = kms_key.clone();
        let made = block_on(async move {
            s3::put(
                &s3,
                &bucket,
                &key,
                body,
                &Condition::Absent,
                kms_key.as_deref(),
            )
            .await
        });
        match made {
            Ok(_) => Ok(Held {
                store: self.clone(),
                holder,
                etag: Mutex::new(None),
                kms_key: Mutex::new(held_key),
                released: Mutex::new(false),
            }),
            Err(e) if precondition_failed(&e) => match self.holder()? {
                Some(holder) => Err(SharedStateError::Locked {
                    location: self.location.clone(),
                    holder,
                }),
                // Released between our write and our read: one more try.
                None => self.lock(command),
            },
            Err(e) => Err(self.wrap(e)),
        }
    }

    /// Removes the lock `id` names (`eksboot unlock`); refused when another lock is there now.
    pub fn unlock(&self, id: &str) -> Result<Option<Holder>, SharedStateError> {
        match self.holder()? {
            Some(holder) if holder.id == id => {
                let (s3, bucket, key) = self.parts(&self.location.lock_key());
                block_on(async move { s3::delete(&s3, &bucket, &key).await })
                    .map_err(|e| self.wrap(e))?;
                Ok(Some(holder))
            }
            _ => Ok(None),
        }
    }
}

/// Whether S3 refused a conditional write: `PreconditionFailed` (412), or
/// `ConditionalRequestConflict` (409) when another conditional write to the key was under way
/// (https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html).
pub fn precondition_failed(err: &AwsError) -> bool {
    err.failure()
        .is_some_and(|f| f.code == "PreconditionFailed" || f.code == "ConditionalRequestConflict")
}

/// The lock this run holds, and the ETag of the state as this run last read or wrote it.
#[derive(Debug)]
pub struct Held {
    pub store: Store,
    pub holder: Holder,
    etag: Mutex<Option<String>>,
    /// The KMS key the next write uses: the store's, else the one the state was read with.
    kms_key: Mutex<Option<String>>,
    released: Mutex<bool>,
}

impl Held {
    /// The state object, remembering its ETag (and its KMS key, unless this run names one) for
    /// the next write, so a state keeps the key it was written with.
    pub fn read(&self) -> Result<Option<Vec<u8>>, SharedStateError> {
        let object = self.store.read()?;
        *self.etag.lock().expect("etag lock") = object.as_ref().map(|o| o.etag.clone());
        if self.store.kms_key.is_none() {
            *self.kms_key.lock().expect("key lock") =
                object.as_ref().and_then(|o| o.kms_key.clone());
        }
        Ok(object.map(|o| o.bytes))
    }

    /// From now on, writes the state encrypted with `kms_key` (a profile naming a new key).
    pub fn encrypt_with(&self, kms_key: String) {
        *self.kms_key.lock().expect("key lock") = Some(kms_key);
    }

    /// Writes the state: only over the version this run last saw (or where none is yet).
    pub fn write(&self, bytes: Vec<u8>) -> Result<(), SharedStateError> {
        let mut etag = self.etag.lock().expect("etag lock");
        let condition = match etag.as_ref() {
            Some(tag) => Condition::Unchanged(tag.clone()),
            None => Condition::Absent,
        };
        let kms_key = self.kms_key.lock().expect("key lock").clone();
        *etag = Some(self.store.write(bytes, &condition, kms_key)?);
        Ok(())
    }

    /// Deletes the state, then the lock (a complete teardown).
    pub fn delete_all(&self) -> Result<(), SharedStateError> {
        self.store.delete()?;
        self.release()
    }

    /// Removes the lock if it is still ours.
    pub fn release(&self) -> Result<(), SharedStateError> {
        let mut released = self.released.lock().expect("release lock");
        if *released {
            return Ok(());
        }
        self.store.unlock(&self.holder.id)?;
        *released = true;
        Ok(())
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        if let Err(e) = self.release() {
            tracing::warn!("could not remove the lock of {}: {e}", self.store.location);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_holder_says_who_where_what_and_since_when() {
        let holder = Holder {
            id: "0123456789abcdef".into(),
            user: "ana".into(),
            host: "laptop".into(),
            pid: 42,
            command: "apply".into(),
            since: "2026-12-03T10:00:00.000Z".into(),
        };
        assert_eq!(
            holder.describe(),
            "ana on laptop (process 42) running `apply` since 2026-12-03T10:00:00.000Z"
        );
        let error = SharedStateError::Locked {
            location: S3Location::parse("s3://b/k").unwrap().unwrap(),
            holder,
        };
        assert!(error
            .to_string()
            .ends_with("eksboot unlock --state s3://b/k 0123456789abcdef"));
    }

    #[test]
    fn only_a_refused_condition_counts_as_precondition_failed() {
        let failure = |code: &str| AwsError::Other {
            action: "s3:PutObject",
            failure: crate::aws::Failure {
                code: code.into(),
                message: String::new(),
                request_id: None,
            },
        };
        assert!(precondition_failed(&failure("PreconditionFailed")));
        assert!(precondition_failed(&failure("ConditionalRequestConflict")));
        assert!(!precondition_failed(&failure("AccessDenied")));
    }
}
