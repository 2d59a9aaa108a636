//! Progress as plain lines, one per state change: for logs, CI and anything not a terminal.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::apply::journal::Outputs;
use crate::apply::{Event, Reporter};
use crate::plan::Resource;

/// Repeats an unchanged waiting status at most this often.
pub const HEARTBEAT: Duration = Duration::from_secs(30);

/// Prints `[task] verb kind step id (details) elapsed` lines (to standard output by default).
pub struct PlainReporter {
    last_wait: Mutex<HashMap<String, (String, Instant)>>,
    out: Mutex<Box<dyn std::io::Write + Send>>,
}

impl Default for PlainReporter {
    fn default() -> Self {
        PlainReporter::to(Box::new(std::io::stdout()))
    }
}

impl PlainReporter {
    /// Lines go to `out` instead (tests).
    pub fn to(out: Box<dyn std::io::Write + Send>) -> PlainReporter {
        PlainReporter {
            last_wait: Mutex::new(HashMap::new()),
            out: Mutex::new(out),
        }
    }

    fn line(&self, text: &str) {
        let mut out = self.out.lock().expect("reporter lock");
        let _ = writeln!(out, "{}", super::marked(text));
        let _ = out.flush();
    }
}

/// One line for a finished step, e.g.
/// `[network] created subnet subnet-private-1 subnet-0abc (10.0.0.0/18, us-west-2a) 0.4s`.
pub fn done_line(
    resource: &Resource,
    outputs: &Outputs,
    adopted: bool,
    elapsed: Duration,
) -> String {
    let mut details: Vec<String> = Vec::new();
    if let Some(cidr) = resource.cidr {
        details.push(cidr.to_string());
    }
    if let Some(az) = outputs
        .attr("az")
        .map(str::to_string)
        .or(resource.az.clone())
    {
        details.push(az);
    }
    if let Some(status) = outputs.attr("status") {
        details.push(status.to_string());
    }
    let updated = outputs.attr("updated");
    if let Some(what) = updated {
        details.push(what.to_string());
    }
    let details = if details.is_empty() {
        String::new()
    } else {
        format!(" ({})", details.join(", "))
    };
    format!(
        "[{}] {} {} {} {}{details} {:.1}s",
        resource.task.as_str(),
        match (updated, adopted) {
            (Some(_), _) => "updated",
            (None, true) => "adopted",
            (None, false) => "created",
        },
        resource.kind.as_str(),
        resource.id,
        outputs.id,
        elapsed.as_secs_f64()
    )
}

impl Reporter for PlainReporter {
    fn report(&self, event: Event<'_>) {
        match event {
            Event::Started { .. } => {}
            Event::Waiting {
                resource,
                id,
                status,
                elapsed,
            } => {
                let mut last = self.last_wait.lock().expect("reporter lock");
                let now = Instant::now();
                let show = match last.get(&resource.id) {
                    Some((previous, at)) => {
                        previous != status || now.duration_since(*at) >= HEARTBEAT
                    }
                    None => true,
                };
                if show {
                    last.insert(resource.id.clone(), (status.to_string(), now));
                    self.line(&format!(
                        "[{}] waiting {} {} {id}: {status} {:.1}s",
                        resource.task.as_str(),
                        resource.kind.as_str(),
                        resource.id,
                        elapsed.as_secs_f64()
                    ));
                }
            }
            Event::Done {
                resource,
                outputs,
                adopted,
                elapsed,
            } => self.line(&done_line(resource, outputs, adopted, elapsed)),
            Event::Skipped {
                resource,
                outputs,
                elapsed,
            } => self.line(&done_line(resource, outputs, true, elapsed).replacen(
                "] adopted ",
                "] exists ",
                1,
            )),
            Event::Deleted { resource, elapsed } => self.line(&format!(
                "[{}] deleted {} {} {:.1}s",
                resource.task.as_str(),
                resource.kind.as_str(),
                resource.id,
                elapsed.as_secs_f64()
            )),
            Event::Failed {
                resource,
                error,
                elapsed,
            } => self.line(&format!(
                "[{}] failed {} {} {:.1}s: {error}",
                resource.task.as_str(),
                resource.kind.as_str(),
                resource.id,
                elapsed.as_secs_f64()
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::plan::{Plan, PlanFacts};
    use crate::profile::Profile;

    /// A writer the test can read back.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn one_line_per_state_change_and_no_repeats_of_the_same_wait() {
        let profile = Profile::parse(
            "[cluster]\nname = \"demo\"\nregion = \"us-west-2\"\n",
            std::path::Path::new("t.toml"),
        )
        .unwrap();
        let plan = Plan::build(&profile, &PlanFacts::default());
        let nat = plan.resource("nat-1").unwrap();
        let out = Shared::default();
        let reporter = PlainReporter::to(Box::new(out.clone()));
        let wait = |status: &'static str, ms: u64| Event::Waiting {
            resource: nat,
            id: "nat-0abc",
            status,
            elapsed: Duration::from_millis(ms),
        };
        reporter.report(Event::Started { resource: nat });
        reporter.report(wait("pending", 100));
        reporter.report(wait("pending", 200));
        reporter.report(wait("pending", 300));
        reporter.report(wait("available soon", 400));
        reporter.report(Event::Done {
            resource: nat,
            outputs: &Outputs::id("nat-0abc"),
            adopted: false,
            elapsed: Duration::from_millis(500),
        });
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        assert_eq!(
            text,
            "[network] waiting nat-gateway nat-1 nat-0abc: pending 0.1s\n\
             [network] waiting nat-gateway nat-1 nat-0abc: available soon 0.4s\n\
             [network] created nat-gateway nat-1 nat-0abc (AZ 1) 0.5s\n"
        );
        assert!(!text.contains('\x1b'), "no escape codes");
    }
}
