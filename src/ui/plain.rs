//! Progress as plain lines, one per state change: for logs, CI and anything not a terminal.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::apply::journal::Outputs;
use crate::apply::{Event, Reporter};
use crate::plan::Resource;

/// Repeats an unchanged waiting status at most this often.
pub const HEARTBEAT: Duration = Duration::from_secs(30);

/// Prints `[task] verb kind step id (details) elapsed` lines to standard output.
#[derive(Default)]
pub struct PlainReporter {
    last_wait: Mutex<HashMap<String, (String, Instant)>>,
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
    let details = if details.is_empty() {
        String::new()
    } else {
        format!(" ({})", details.join(", "))
    };
    format!(
        "[{}] {} {} {} {}{details} {:.1}s",
        resource.task.as_str(),
        if adopted { "adopted" } else { "created" },
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
                    println!(
                        "[{}] waiting {} {} {id}: {status} {:.1}s",
                        resource.task.as_str(),
                        resource.kind.as_str(),
                        resource.id,
                        elapsed.as_secs_f64()
                    );
                }
            }
            Event::Done {
                resource,
                outputs,
                adopted,
                elapsed,
            } => println!("{}", done_line(resource, outputs, adopted, elapsed)),
            Event::Deleted { resource, elapsed } => println!(
                "[{}] deleted {} {} {:.1}s",
                resource.task.as_str(),
                resource.kind.as_str(),
                resource.id,
                elapsed.as_secs_f64()
            ),
            Event::Failed {
                resource,
                error,
                elapsed,
            } => println!(
                "[{}] failed {} {} {:.1}s: {error}",
                resource.task.as_str(),
                resource.kind.as_str(),
                resource.id,
                elapsed.as_secs_f64()
            ),
        }
    }
}
