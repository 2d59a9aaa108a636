//! Progress on a terminal: a live tree of resources grouped by the three tasks, one line per
//! resource with a spinner, its status and timer while it runs, ✓ or ✗ when it ends, and a
//! header with the overall time and how many steps are done. Concurrent steps update together.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::apply::{Event, Reporter};
use crate::plan::{Resource, Task};

use super::format_duration;
use super::plain::done_line;

pub struct TreeReporter {
    multi: MultiProgress,
    header: ProgressBar,
    /// The last line of each task's group, so new lines keep their group together.
    last_in_task: Mutex<HashMap<Task, ProgressBar>>,
    bars: Mutex<HashMap<String, ProgressBar>>,
    title: String,
    total: usize,
    done: AtomicUsize,
    started: Instant,
    animate: bool,
}

fn running_style() -> ProgressStyle {
    ProgressStyle::with_template("    {spinner} {msg} {elapsed}")
        .expect("valid template")
        .tick_chars("⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏ ")
}

fn finished_style() -> ProgressStyle {
    ProgressStyle::with_template("    {msg}").expect("valid template")
}

impl TreeReporter {
    /// A tree on standard output for `total` steps.
    pub fn new(title: &str, total: usize) -> TreeReporter {
        TreeReporter::with_target(title, total, ProgressDrawTarget::stdout(), true)
    }

    /// A tree on any draw target (tests use an in-memory terminal); `tick` animates spinners.
    pub fn with_target(
        title: &str,
        total: usize,
        target: ProgressDrawTarget,
        tick: bool,
    ) -> TreeReporter {
        let multi = MultiProgress::with_draw_target(target);
        let header = multi.add(ProgressBar::new_spinner());
        header.set_style(ProgressStyle::with_template("{msg}").expect("valid template"));
        let mut last = HashMap::new();
        for (n, task) in Task::ALL.iter().enumerate() {
            let line = multi.add(ProgressBar::new_spinner());
            line.set_style(finished_style_plain());
            line.finish_with_message(format!("{}. {}", n + 1, task.title()));
            last.insert(*task, line);
        }
        let reporter = TreeReporter {
            multi,
            header,
            last_in_task: Mutex::new(last),
            bars: Mutex::new(HashMap::new()),
            title: title.to_string(),
            total,
            done: AtomicUsize::new(0),
            started: Instant::now(),
            animate: tick,
        };
        reporter.refresh_header();
        if tick {
            reporter
                .header
                .enable_steady_tick(Duration::from_millis(500));
        }
        reporter
    }

    fn refresh_header(&self) {
        let sandbox = if super::sandbox() {
            "SANDBOX (nothing reaches AWS) — "
        } else {
            ""
        };
        self.header.set_message(format!(
            "{sandbox}{} — {} of {} steps done — {}",
            self.title,
            self.done.load(Ordering::SeqCst),
            self.total,
            format_duration(self.started.elapsed())
        ));
    }

    fn bar(&self, resource: &Resource) -> ProgressBar {
        let mut bars = self.bars.lock().expect("tree lock");
        if let Some(bar) = bars.get(&resource.id) {
            return bar.clone();
        }
        let mut last = self.last_in_task.lock().expect("tree lock");
        let after = last
            .get(&resource.task)
            .expect("every task has a line")
            .clone();
        let bar = self.multi.insert_after(&after, ProgressBar::new_spinner());
        bar.set_style(running_style());
        last.insert(resource.task, bar.clone());
        bars.insert(resource.id.clone(), bar.clone());
        bar
    }

    /// What the tree shows now, without the animation (for tests).
    pub fn multi(&self) -> &MultiProgress {
        &self.multi
    }
}

fn finished_style_plain() -> ProgressStyle {
    ProgressStyle::with_template("  {msg}").expect("valid template")
}

/// A plain line without its `[task] ` prefix (the tree groups by task already).
fn without_task(line: &str) -> &str {
    line.split_once("] ").map_or(line, |(_, rest)| rest)
}

impl Reporter for TreeReporter {
    /// Ends the display with a last header line.
    fn finish(&self) {
        self.refresh_header();
        self.header.finish();
    }

    fn report(&self, event: Event<'_>) {
        match event {
            Event::Started { resource } => {
                let bar = self.bar(resource);
                bar.set_message(format!("{} {} …", resource.kind.as_str(), resource.id));
                if self.animate {
                    bar.enable_steady_tick(Duration::from_millis(120));
                }
            }
            Event::Waiting {
                resource,
                id,
                status,
                ..
            } => {
                self.bar(resource).set_message(format!(
                    "{} {} {id}: {status}",
                    resource.kind.as_str(),
                    resource.id
                ));
            }
            Event::Done {
                resource,
                outputs,
                adopted,
                elapsed,
            } => {
                let bar = self.bar(resource);
                bar.set_style(finished_style());
                bar.finish_with_message(format!(
                    "✓ {}",
                    without_task(&done_line(resource, outputs, adopted, elapsed))
                ));
                self.done.fetch_add(1, Ordering::SeqCst);
            }
            Event::Skipped {
                resource,
                outputs,
                elapsed,
            } => {
                let bar = self.bar(resource);
                bar.set_style(finished_style());
                let line = done_line(resource, outputs, true, elapsed).replacen(
                    "] adopted ",
                    "] exists ",
                    1,
                );
                bar.finish_with_message(format!("✓ {}", without_task(&line)));
                self.done.fetch_add(1, Ordering::SeqCst);
            }
            Event::Deleted { resource, elapsed } => {
                let bar = self.bar(resource);
                bar.set_style(finished_style());
                bar.finish_with_message(format!(
                    "✓ deleted {} {} {:.1}s",
                    resource.kind.as_str(),
                    resource.id,
                    elapsed.as_secs_f64()
                ));
                self.done.fetch_add(1, Ordering::SeqCst);
            }
            Event::Failed {
                resource,
                error,
                elapsed,
            } => {
                let bar = self.bar(resource);
                bar.set_style(finished_style());
                bar.finish_with_message(format!(
                    "✗ {} {} {:.1}s\n        {error}\n        hint: {}",
                    resource.kind.as_str(),
                    resource.id,
                    elapsed.as_secs_f64(),
                    error.hint()
                ));
            }
        }
        self.refresh_header();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apply::journal::Outputs;
    use crate::apply::StepError;
    use crate::plan::{Plan, PlanFacts};
    use crate::profile::Profile;
    use indicatif::InMemoryTerm;

    #[test]
    fn the_tree_groups_resources_by_task_and_marks_the_end_of_each() {
        let profile = Profile::parse(
            "[cluster]\nname = \"demo\"\nregion = \"us-west-2\"\n[network]\npattern = \"public\"\n",
            std::path::Path::new("t.toml"),
        )
        .unwrap();
        let plan = Plan::build(&profile, &PlanFacts::default());
        let term = InMemoryTerm::new(24, 100);
        let tree = TreeReporter::with_target(
            "eksboot create demo",
            plan.resources.len(),
            ProgressDrawTarget::term_like(Box::new(term.clone())),
            false,
        );
        let res = |id: &str| plan.resource(id).unwrap();
        let ms = Duration::from_millis;
        tree.report(Event::Started {
            resource: res("vpc"),
        });
        tree.report(Event::Started {
            resource: res("creator-role"),
        });
        tree.report(Event::Done {
            resource: res("vpc"),
            outputs: &Outputs::id("vpc-0abc"),
            adopted: false,
            elapsed: ms(400),
        });
        tree.report(Event::Started {
            resource: res("cluster"),
        });
        tree.report(Event::Waiting {
            resource: res("cluster"),
            id: "demo",
            status: "CREATING — control plane creating, usually 8–12 min",
            elapsed: ms(1000),
        });
        tree.report(Event::Done {
            resource: res("creator-role"),
            outputs: &Outputs::id("demo-creator"),
            adopted: true,
            elapsed: ms(200),
        });
        let error = StepError::Broken("NAT gateway nat-1 is failed".into());
        tree.report(Event::Started {
            resource: res("igw"),
        });
        tree.report(Event::Failed {
            resource: res("igw"),
            error: &error,
            elapsed: ms(300),
        });
        tree.finish();
        let screen = term.contents();
        // Timers depend on the clock: the header's total and the running lines' elapsed.
        insta::with_settings!({filters => vec![
            (r"(?m)— [0-9.]+s$", "— <elapsed>"),
            (r"(?m) [0-9]+s$", " <elapsed>"),
            ("[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]", "<spinner>"),
        ]}, {
            insta::assert_snapshot!(screen);
        });
    }
}
