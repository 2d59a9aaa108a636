//! The seam between the engine and the terminal: the executor reports events, the UI decides
//! how to show them. Defined here so the engine never depends on the UI.

use std::time::Duration;

use super::journal::Outputs;
use super::StepError;
use crate::plan::Resource;

/// Something that happened to one step.
#[derive(Debug)]
pub enum Event<'a> {
    Started {
        resource: &'a Resource,
    },
    /// Created (or found) and now waiting for AWS, with the status AWS reports.
    Waiting {
        resource: &'a Resource,
        id: &'a str,
        status: &'a str,
        elapsed: Duration,
    },
    Done {
        resource: &'a Resource,
        outputs: &'a Outputs,
        /// It already existed and was adopted rather than created.
        adopted: bool,
        elapsed: Duration,
    },
    Failed {
        resource: &'a Resource,
        error: &'a StepError,
        elapsed: Duration,
    },
    /// Finished in an earlier run, and still there (a cheap existence check on resume).
    Skipped {
        resource: &'a Resource,
        outputs: &'a Outputs,
        elapsed: Duration,
    },
    /// Teardown removed it (or found it already gone).
    Deleted {
        resource: &'a Resource,
        elapsed: Duration,
    },
}

pub trait Reporter: Send + Sync {
    fn report(&self, event: Event<'_>);
    /// The run is over: a live display draws its last frame.
    fn finish(&self) {}
}

/// A reporter that shows nothing (for library use and tests that only look at AWS).
pub struct Silent;

impl Reporter for Silent {
    fn report(&self, _event: Event<'_>) {}
}
