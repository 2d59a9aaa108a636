//! Progress as newline-delimited JSON events on standard output, so other tools can follow a
//! run (`--output json`). Human text goes to standard error in this mode.

use std::time::{Duration, SystemTime};

use serde_json::{json, Value};

use crate::apply::{Event, Reporter, StepError};
use crate::plan::Resource;

#[derive(Default)]
pub struct JsonReporter;

fn base(event: &str, resource: &Resource, elapsed: Duration) -> serde_json::Map<String, Value> {
    let mut map = serde_json::Map::new();
    map.insert(
        "ts".into(),
        json!(humantime::format_rfc3339_millis(SystemTime::now()).to_string()),
    );
    map.insert("event".into(), json!(event));
    map.insert("task".into(), json!(resource.task.as_str()));
    map.insert("step".into(), json!(resource.id));
    map.insert("kind".into(), json!(resource.kind.as_str()));
    map.insert(
        "elapsed_s".into(),
        json!((elapsed.as_secs_f64() * 1000.0).round() / 1000.0),
    );
    map
}

/// The `error` object of a failure: code, message, request id, hint.
pub fn error_json(error: &StepError) -> Value {
    let (code, message, request_id) = match error {
        StepError::Aws(e) => match e.failure() {
            Some(f) => (f.code.clone(), f.message.clone(), f.request_id.clone()),
            None => (
                format!("{e:?}")
                    .split('(')
                    .next()
                    .unwrap_or("Aws")
                    .to_string(),
                e.to_string(),
                None,
            ),
        },
        StepError::Journal(_) => ("StateFile".into(), error.to_string(), None),
        StepError::Conflict { .. } => ("Conflict".into(), error.to_string(), None),
        StepError::TimedOut(_) => ("TimedOut".into(), error.to_string(), None),
        StepError::Broken(_) => ("Failed".into(), error.to_string(), None),
        StepError::Interrupted => ("Interrupted".into(), error.to_string(), None),
    };
    json!({"code": code, "message": message, "request_id": request_id, "hint": error.hint()})
}

/// One event line.
pub fn render(event: &Event<'_>) -> String {
    let map = match event {
        Event::Started { resource } => base("step_started", resource, Duration::ZERO),
        Event::Waiting {
            resource,
            id,
            status,
            elapsed,
        } => {
            let mut m = base("step_waiting", resource, *elapsed);
            m.insert("id".into(), json!(id));
            m.insert("status".into(), json!(status));
            m
        }
        Event::Done {
            resource,
            outputs,
            adopted,
            elapsed,
        } => {
            let mut m = base(
                if *adopted {
                    "step_adopted"
                } else {
                    "step_done"
                },
                resource,
                *elapsed,
            );
            m.insert("id".into(), json!(outputs.id));
            m.insert(
                "status".into(),
                json!(outputs.attr("status").unwrap_or(if *adopted {
                    "adopted"
                } else {
                    "created"
                })),
            );
            m
        }
        Event::Failed {
            resource,
            error,
            elapsed,
        } => {
            let mut m = base("step_failed", resource, *elapsed);
            m.insert("status".into(), json!("failed"));
            m.insert("error".into(), error_json(error));
            m
        }
        Event::Skipped {
            resource,
            outputs,
            elapsed,
        } => {
            let mut m = base("step_skipped", resource, *elapsed);
            m.insert("id".into(), json!(outputs.id));
            m.insert("status".into(), json!("exists"));
            m
        }
        Event::Deleted { resource, elapsed } => {
            let mut m = base("step_deleted", resource, *elapsed);
            m.insert("id".into(), json!(resource.id));
            m.insert("status".into(), json!("deleted"));
            m
        }
    };
    Value::Object(map).to_string()
}

/// The last event of a run.
pub fn run_done(status: &str, elapsed: Duration, error: Option<(&str, &str)>) -> String {
    let mut value = json!({
        "ts": humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
        "event": "run_done",
        "status": status,
        "elapsed_s": (elapsed.as_secs_f64() * 1000.0).round() / 1000.0,
    });
    if let Some((message, hint)) = error {
        value["error"] = json!({"message": message, "hint": hint});
    }
    value.to_string()
}

impl Reporter for JsonReporter {
    fn report(&self, event: Event<'_>) {
        println!("{}", render(&event));
    }
}
