//! The only module that prints. Rendering is split from printing: `render_*` functions are pure
//! (and snapshot-tested); `print_*` write them to the terminal.

pub mod json;
pub mod plain;
pub mod tree;

use std::sync::atomic::{AtomicBool, Ordering};

/// In `--output json` mode, standard output carries only JSON events; human text moves to
/// standard error.
static JSON_MODE: AtomicBool = AtomicBool::new(false);

pub fn set_json_mode(on: bool) {
    JSON_MODE.store(on, Ordering::SeqCst);
}

pub fn json_mode() -> bool {
    JSON_MODE.load(Ordering::SeqCst)
}

static VERBOSE: AtomicBool = AtomicBool::new(false);

/// In the sandbox every line says so: nothing shown may be mistaken for a real AWS account.
static SANDBOX: AtomicBool = AtomicBool::new(false);

pub fn set_sandbox(on: bool) {
    SANDBOX.store(on, Ordering::SeqCst);
}

pub fn sandbox() -> bool {
    SANDBOX.load(Ordering::SeqCst)
}

/// The mark at the start of every line printed in the sandbox.
pub const SANDBOX_MARK: &str = "SANDBOX │ ";

/// `text` with every non-empty line marked as the sandbox's (unchanged outside it).
pub fn marked(text: &str) -> std::borrow::Cow<'_, str> {
    if !sandbox() {
        return std::borrow::Cow::Borrowed(text);
    }
    std::borrow::Cow::Owned(mark_lines(text))
}

/// Prefixes each non-empty line of `text` with [`SANDBOX_MARK`].
pub fn mark_lines(text: &str) -> String {
    text.split_inclusive('\n')
        .map(|line| {
            if line.trim().is_empty() {
                line.to_string()
            } else {
                format!("{SANDBOX_MARK}{line}")
            }
        })
        .collect()
}

/// With `-v`, log lines and a live tree would overwrite each other: plain lines then.
pub fn set_verbose(on: bool) {
    VERBOSE.store(on, Ordering::SeqCst);
}

/// Whether to draw a live tree: a terminal that wants animation, and nothing else printing.
pub fn live_display() -> bool {
    use std::io::IsTerminal;
    std::io::stdout().is_terminal()
        && std::env::var_os("CI").is_none()
        && std::env::var_os("NO_COLOR").is_none()
        && std::env::var("TERM").map_or(true, |t| t != "dumb")
        && !VERBOSE.load(Ordering::SeqCst)
        && !json_mode()
}

/// The reporter for this run: JSON events, a live tree on a terminal, or plain lines.
pub fn reporter(title: &str, total: usize) -> std::sync::Arc<dyn crate::apply::Reporter> {
    if json_mode() {
        std::sync::Arc::new(json::JsonReporter)
    } else if live_display() {
        std::sync::Arc::new(tree::TreeReporter::new(title, total))
    } else {
        std::sync::Arc::new(plain::PlainReporter::default())
    }
}

use std::fmt::Write as _;

use crate::plan::{Plan, Task};
use crate::preflight;
use crate::profile::Profile;

/// Human text of a plan: resources by task, the subnet table, the cost, the checklist.
pub fn render_plan_text(profile: &Profile, plan: &Plan) -> String {
    let c = &profile.cluster;
    let mut out = String::new();
    let version = c
        .kubernetes_version
        .clone()
        .unwrap_or_else(|| "newest at create time".into());
    let _ = writeln!(
        out,
        "Plan for EKS cluster \"{}\" in {}\n  Kubernetes {version} · endpoint {} · {} in {} AZs · {} resources",
        c.name,
        c.region,
        c.endpoint_access,
        profile.network.pattern.describe(),
        profile.network.availability_zones.count(),
        plan.resources.len(),
    );
    if profile.state.is_some() {
        let state = crate::apply::journal::profile_state_path(profile);
        let _ = writeln!(out, "  State: {}", describe_state(profile, &state));
    }

    for (n, task) in Task::ALL.iter().enumerate() {
        let _ = writeln!(out, "\n{}. {}", n + 1, task.title());
        let rows: Vec<Vec<String>> = plan
            .in_task(*task)
            .map(|r| {
                vec![
                    r.id.clone(),
                    r.kind.as_str().to_string(),
                    r.name.clone(),
                    r.cidr.map(|c| c.to_string()).unwrap_or_default(),
                    r.az.clone().unwrap_or_default(),
                    compress_ids(&r.depends_on),
                ]
            })
            .collect();
        table(
            &mut out,
            &["STEP", "KIND", "NAME", "CIDR", "AZ", "DEPENDS ON"],
            &rows,
        );
    }

    let _ = writeln!(out, "\nSubnets");
    let rows: Vec<Vec<String>> = plan
        .subnets
        .iter()
        .map(|s| {
            vec![
                s.tier.as_str().to_string(),
                s.az.clone(),
                s.cidr.to_string(),
                s.usable_addresses.to_string(),
            ]
        })
        .collect();
    table(&mut out, &["TIER", "AZ", "CIDR", "USABLE ADDRESSES"], &rows);

    let _ = writeln!(out, "\nEstimated monthly cost ({})", plan.cost.basis);
    let mut rows: Vec<Vec<String>> = plan
        .cost
        .items
        .iter()
        .map(|i| {
            vec![
                i.item.clone(),
                // Quantity 0: not known before the cluster runs (Auto Mode's nodes).
                if i.quantity == 0 {
                    "–".to_string()
                } else {
                    i.quantity.to_string()
                },
                match (i.quantity, i.monthly_usd) {
                    (_, Some(usd)) => format!("${usd:.2}"),
                    (0, None) => "depends".to_string(),
                    (_, None) => "unknown".to_string(),
                },
                i.note.clone().unwrap_or_default(),
            ]
        })
        .collect();
    rows.push(vec![
        "Total".into(),
        String::new(),
        match plan.cost.nodes_note {
            Some(_) => format!("${:.2} + nodes", plan.cost.monthly_usd),
            None => format!("${:.2}", plan.cost.monthly_usd),
        },
        match &plan.cost.nodes_note {
            Some(note) => format!("{note}; usage-based charges come on top"),
            None if plan.cost.complete => String::new(),
            None => "known items only; usage-based charges come on top".into(),
        },
    ]);
    table(&mut out, &["ITEM", "QTY", "PER MONTH", "NOTE"], &rows);

    let _ = writeln!(out, "\nSecurity checklist");
    checklist(&mut out, plan);
    out
}

/// With EKS Auto Mode, what the monthly figure leaves out: the nodes, which depend on what Auto
/// Mode launches.
fn nodes_on_top(plan: &Plan) -> &'static str {
    if plan.cost.nodes_note.is_some() {
        " plus the nodes Auto Mode launches"
    } else {
        ""
    }
}

/// The security checklist, one line per check.
fn checklist(out: &mut String, plan: &Plan) {
    let width = plan.checklist.iter().map(|c| c.id.len()).max().unwrap_or(0);
    for check in &plan.checklist {
        let mark = match check.ok {
            Some(true) => "✓",
            Some(false) => "✗",
            None => "–",
        };
        let _ = writeln!(out, "   {mark} {:<width$} {}", check.id, check.note);
    }
}

/// Plan JSON: the resolved profile's sections, then resources, subnets, cost and checklist.
pub fn render_plan_json(profile: &Profile, plan: &Plan) -> String {
    let mut value = serde_json::to_value(profile).expect("profile serialises");
    let object = value.as_object_mut().expect("profile is an object");
    if let Some(cluster) = object.get_mut("cluster").and_then(|c| c.as_object_mut()) {
        cluster
            .entry("kubernetes_version")
            .or_insert(serde_json::Value::Null);
    }
    let plan_value = serde_json::to_value(plan).expect("plan serialises");
    if let serde_json::Value::Object(fields) = plan_value {
        object.extend(fields);
    }
    serde_json::to_string_pretty(&value).expect("json serialises") + "\n"
}

/// A profile value in one line: strings bare, nothing as a dash, the rest as JSON.
fn show(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Null => "–".into(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The plan of a change to a running cluster: each change by task, what cannot change, the
/// cost before and after, and the security checklist after.
pub fn render_diff_text(
    profile: &Profile,
    plan: &Plan,
    diff: &crate::plan::diff::Diff,
    against: &str,
) -> String {
    let c = &profile.cluster;
    let mut out = format!(
        "Changes to EKS cluster \"{}\" in {}, against {against}\n",
        c.name, c.region
    );
    if diff.is_empty() {
        let _ = writeln!(out, "\nNo changes: the cluster matches this profile.");
        return out;
    }
    for (n, task) in Task::ALL.iter().enumerate() {
        let rows: Vec<Vec<String>> = diff
            .in_task(*task)
            .map(|change| {
                let values = match change.action {
                    crate::plan::diff::Action::Add if change.before.is_null() => {
                        show(&change.after)
                    }
                    crate::plan::diff::Action::Remove if change.after.is_null() => {
                        show(&change.before)
                    }
                    _ => format!("{} → {}", show(&change.before), show(&change.after)),
                };
                vec![
                    change.action.symbol().to_string(),
                    change.field.clone(),
                    values,
                    change.effect.clone(),
                ]
            })
            .collect();
        if rows.is_empty() {
            continue;
        }
        let _ = writeln!(out, "\n{}. {}", n + 1, task.title());
        table(&mut out, &["", "FIELD", "CHANGE", "WHAT HAPPENS"], &rows);
    }
    if !diff.refused.is_empty() {
        let _ = writeln!(out, "\nCannot change on a running cluster");
        for r in &diff.refused {
            let _ = writeln!(
                out,
                "   ✗ {}: {} → {}\n       {}; way out: {}",
                r.field,
                show(&r.before),
                show(&r.after),
                r.reason,
                r.way_out
            );
        }
    }
    let delta = diff.monthly_cost_after - diff.monthly_cost_before;
    let _ = writeln!(
        out,
        "\nEstimated monthly cost: ${:.2} → ${:.2}{} ({}{:.2} a month; {})",
        diff.monthly_cost_before,
        diff.monthly_cost_after,
        nodes_on_top(plan),
        if delta < 0.0 { "-$" } else { "+$" },
        delta.abs(),
        plan.cost.basis
    );
    let _ = writeln!(out, "\nSecurity checklist after the change");
    checklist(&mut out, plan);
    out
}

/// Plan JSON with the change to a running cluster beside it (`diff`, README: Day two).
pub fn render_diff_json(profile: &Profile, plan: &Plan, diff: &crate::plan::diff::Diff) -> String {
    let mut value: serde_json::Value =
        serde_json::from_str(&render_plan_json(profile, plan)).expect("plan JSON parses");
    value["diff"] = serde_json::to_value(diff).expect("diff serialises");
    serde_json::to_string_pretty(&value).expect("json serialises") + "\n"
}

/// Preflight results, one line per check with a hint under each failure.
pub fn render_preflight(profile: &Profile, report: &preflight::Report) -> String {
    let mut out = format!(
        "Preflight for cluster \"{}\" in {} (read-only: nothing is created)\n",
        profile.cluster.name, profile.cluster.region
    );
    for check in &report.checks {
        let mark = match (check.ok, &check.hint) {
            (false, _) => "✗",
            (true, Some(_)) => "!",
            (true, None) => "✓",
        };
        let _ = writeln!(out, "  {mark} {:<19} {}", check.name, check.summary);
        if let Some(hint) = &check.hint {
            let _ = writeln!(out, "      hint: {hint}");
        }
    }
    let failed = report.checks.iter().filter(|c| !c.ok).count();
    if failed == 0 {
        let _ = writeln!(out, "All {} checks passed.", report.checks.len());
    } else {
        let _ = writeln!(
            out,
            "{failed} of {} checks failed: fix them and run preflight again.",
            report.checks.len()
        );
    }
    out
}

/// What a bare `eksboot` says when it cannot ask (no terminal).
pub fn render_welcome() -> String {
    "eksboot takes you from an empty AWS account to a working, secured Amazon EKS cluster in three tasks:
  1. Secure the environment: a dedicated cluster-creator role, the cluster and node roles,
     a KMS key for Kubernetes secrets, and control-plane logs in CloudWatch.
  2. Configure the VPC: public, private, or public and private subnets (recommended),
     NAT gateways, route tables and a locked-down security group.
  3. Create the cluster: encrypted secrets, logging, access entries, add-ons and a managed
     node group; then a kubeconfig so `kubectl` works right away.

Run `eksboot` in a terminal and a guided wizard asks about each task (nothing is created before
you have seen the plan and said yes). Without a terminal, describe the cluster in a profile
(examples in profiles/) and:
  eksboot plan --profile profiles/dev.toml          every resource, the subnets, the monthly cost
                                                    and a security checklist (no AWS calls)
  eksboot preflight --profile profiles/dev.toml     read-only checks against your AWS account
  eksboot create --profile profiles/dev.toml        create it all (asks first; rerun to resume)

`eksboot help create` and README.md explain each field and option.
"
    .to_string()
}

/// What `create` says before it starts: what, where, how much, and what is not yet safe.
pub fn render_create_intro(
    profile: &Profile,
    plan: &Plan,
    facts: &crate::plan::PlanFacts,
    steps: usize,
    state: &std::path::Path,
) -> String {
    let c = &profile.cluster;
    let mut out = format!(
        "Creating EKS cluster \"{}\" in {} ({steps} resources; AZs {}; Kubernetes {})\n",
        c.name,
        c.region,
        facts
            .availability_zones
            .as_ref()
            .map_or_else(|| "to be chosen".to_string(), |azs| azs.join(", ")),
        facts.kubernetes_version.as_deref().unwrap_or("newest"),
    );
    let _ = writeln!(
        out,
        "  estimated cost once the cluster runs: ${:.2}/month{} ({})",
        plan.cost.monthly_usd,
        nodes_on_top(plan),
        plan.cost.basis
    );
    for check in plan.checklist.iter().filter(|c| c.ok == Some(false)) {
        let _ = writeln!(out, "  ✗ {}: {}", check.id, check.note);
    }
    let _ = writeln!(out, "  state file: {}", describe_state(profile, state));
    out
}

/// Where the state lives and, in S3, how it is kept: a teammate reading the plan learns that
/// runs take turns and which key protects the object.
fn describe_state(profile: &Profile, state: &std::path::Path) -> String {
    if !state.to_string_lossy().starts_with("s3://") {
        return state.display().to_string();
    }
    let encryption = match &profile.state_kms_key {
        Some(key) => format!("encrypted with the KMS key {key}"),
        None => "encrypted as the bucket's default encryption says".to_string(),
    };
    format!(
        "{} (shared; locked while a run uses it; {encryption})",
        state.display()
    )
}

/// The end of a create: what was made and how long it took, the cost, the kubeconfig, and what
/// to do next.
pub fn render_create_done(
    profile: &Profile,
    plan: &Plan,
    summary: &crate::apply::Summary,
    kubeconfig: &crate::kubeconfig::WrittenKubeconfig,
    state: &std::path::Path,
) -> String {
    let changed = if summary.updated.is_empty() {
        String::new()
    } else {
        format!(
            " ({} of them changed to match the profile)",
            summary.updated.len()
        )
    };
    let mut out = format!(
        "\nCluster \"{}\" is ready in {}: {} created, {} already there{changed}, in {}.\n",
        profile.cluster.name,
        profile.cluster.region,
        summary.created.len(),
        summary.adopted.len(),
        format_duration(summary.elapsed),
    );
    let _ = writeln!(
        out,
        "  estimated cost: ${:.2}/month{} ({}; usage-based charges come on top)",
        plan.cost.monthly_usd,
        nodes_on_top(plan),
        plan.cost.basis
    );
    let _ = writeln!(out, "  kubeconfig: {}", kubeconfig.path.display());
    let _ = writeln!(
        out,
        "  context: {}{}",
        kubeconfig.context,
        if kubeconfig.switched {
            " (now current)"
        } else {
            ""
        }
    );
    let _ = writeln!(out, "  state file: {}", describe_state(profile, state));
    let _ = writeln!(out, "\nNext:");
    if sandbox() {
        let _ = writeln!(
            out,
            "  This cluster lives in the sandbox's emulator: there is no Kubernetes API behind it,\n  so kubectl will not reach it (the kubeconfig above is written for the rehearsal only)."
        );
        let which = format!("--state {}", state.display());
        let next = [
            (
                format!("eksboot --sandbox status {which}"),
                "what exists, step by step",
            ),
            (
                format!("eksboot --sandbox teardown {which}"),
                "delete it all when you are done",
            ),
            (
                "eksboot --sandbox stop".to_string(),
                "end the sandbox (its clusters go with it)",
            ),
        ];
        let width = next
            .iter()
            .map(|(command, _)| command.len())
            .max()
            .unwrap_or(0);
        for (command, what) in next {
            let _ = writeln!(out, "  {command:width$}  {what}");
        }
        return out;
    }
    if !kubeconfig.switched {
        let _ = writeln!(out, "  kubectl config use-context {}", kubeconfig.context);
    }
    let which = format!("--state {}", state.display());
    let _ = writeln!(
        out,
        "  kubectl get nodes                      see your nodes"
    );
    let _ = writeln!(out, "  eksboot status {which}    what exists, step by step");
    let _ = writeln!(
        out,
        "  eksboot teardown {which}  delete it all when you are done"
    );
    out
}

/// `1m 05s`, or `3.2s` under a minute.
pub fn format_duration(d: std::time::Duration) -> String {
    let secs = d.as_secs_f64();
    if secs < 60.0 {
        format!("{secs:.1}s")
    } else {
        format!("{}m {:02}s", d.as_secs() / 60, d.as_secs() % 60)
    }
}

/// What teardown found, before it deletes anything.
pub fn render_inventory(
    cluster: &str,
    region: &str,
    inventory: &crate::apply::teardown::Inventory,
) -> String {
    let lines = inventory.lines();
    if lines.is_empty() {
        return format!("Nothing of cluster \"{cluster}\" in {region} is left to delete.\n");
    }
    let mut out = format!(
        "Teardown of cluster \"{cluster}\" in {region} will delete {} resources:\n",
        lines.len()
    );
    for (task, kind, id) in lines {
        let _ = writeln!(out, "  [{}] {} {id}", task.as_str(), kind.as_str());
    }
    for note in &inventory.notes {
        let _ = writeln!(out, "  note: {note}");
    }
    out
}

/// Load balancers that keep teardown from starting, each with the way out.
pub fn render_load_balancers_in_the_way(items: &[(String, String)]) -> String {
    let mut out = String::from("\nBefore anything is deleted:\n");
    for (what, way_out) in items {
        let _ = writeln!(out, "  ✗ {what}: {way_out}");
    }
    out
}

/// The end of a teardown: deleted, scheduled, and what is left with why.
pub fn render_teardown_done(
    outcome: &crate::apply::teardown::Outcome,
    state: &std::path::Path,
) -> String {
    let mut out = format!("\nDeleted {} resources.\n", outcome.deleted.len());
    for scheduled in &outcome.scheduled {
        let _ = writeln!(out, "Scheduled: {scheduled}");
    }
    if outcome.left.is_empty() {
        let _ = writeln!(
            out,
            "Nothing is left; the state file {} is removed.",
            state.display()
        );
    } else {
        let _ = writeln!(out, "Could not delete {} resources:", outcome.left.len());
        for (what, why) in &outcome.left {
            let _ = writeln!(out, "  ✗ {what}: {why}");
        }
        let _ = writeln!(
            out,
            "The state file stays; fix the above and run teardown again to finish."
        );
    }
    out
}

/// done, running, failed, or pending (no record yet).
fn status_word(record: Option<&crate::apply::journal::StepRecord>) -> &'static str {
    use crate::apply::journal::StepStatus;
    match record.map(|s| s.status) {
        Some(StepStatus::Done) => "done",
        Some(StepStatus::Running) => "running",
        Some(StepStatus::Failed) => "failed",
        None => "pending",
    }
}

/// Each step of a state file, in plan order, with its status and id.
pub fn render_status(
    plan: &Plan,
    state: &crate::apply::journal::State,
    path: &std::path::Path,
    live: Option<&std::collections::BTreeSet<String>>,
) -> String {
    use crate::apply::journal::StepStatus;
    let mut out = format!(
        "Cluster \"{}\" in {} (account {}, run {}), from {}\n",
        state.cluster,
        state.region,
        state.account,
        state.run_id,
        path.display()
    );
    let rows: Vec<Vec<String>> = plan
        .resources
        .iter()
        .map(|r| {
            let record = state.steps.get(&r.id);
            let status = status_word(record);
            let id = record
                .and_then(|s| s.outputs.as_ref())
                .map(|o| o.id.clone())
                .unwrap_or_default();
            let mut row = vec![
                r.task.as_str().to_string(),
                r.id.clone(),
                status.to_string(),
                id.clone(),
            ];
            if let Some(existing) = live {
                // Parts with no listing of their own live and die with their parent.
                let part = matches!(
                    r.kind,
                    crate::plan::Kind::IamPolicy
                        | crate::plan::Kind::InternetGatewayAttachment
                        | crate::plan::Kind::Route
                        | crate::plan::Kind::RouteTableAssociation
                );
                row.push(if id.is_empty() {
                    String::new()
                } else if part {
                    "with its parent".into()
                } else if existing.contains(&id) {
                    "exists".into()
                } else {
                    "not found".into()
                });
            }
            row
        })
        .collect();
    let headers: &[&str] = if live.is_some() {
        &["TASK", "STEP", "STATUS", "ID", "IN AWS"]
    } else {
        &["TASK", "STEP", "STATUS", "ID"]
    };
    table(&mut out, headers, &rows);
    let done = state
        .steps
        .values()
        .filter(|s| s.status == StepStatus::Done)
        .count();
    let _ = writeln!(out, "{done} of {} steps done.", plan.resources.len());
    out
}

/// `status --output json`: one object per step.
pub fn render_status_json(
    plan: &Plan,
    state: &crate::apply::journal::State,
    live: Option<&std::collections::BTreeSet<String>>,
) -> Vec<String> {
    plan.resources
        .iter()
        .map(|r| {
            let record = state.steps.get(&r.id);
            let status = status_word(record);
            let id = record
                .and_then(|s| s.outputs.as_ref())
                .map(|o| o.id.clone());
            let mut value = serde_json::json!({
                "event": "step_status",
                "task": r.task.as_str(),
                "step": r.id,
                "kind": r.kind.as_str(),
                "status": status,
                "id": id,
            });
            if let (Some(existing), Some(id)) = (live, &id) {
                value["exists"] = serde_json::json!(existing.contains(id));
            }
            value.to_string()
        })
        .collect()
}

/// Asks the person to type the cluster's name; anything else is no.
pub fn confirm_name(cluster: &str) -> bool {
    inquire::Text::new(&marked(&format!(
        "Type the cluster name ({cluster}) to delete all of the above:"
    )))
    .prompt()
    .is_ok_and(|typed| typed.trim() == cluster)
}

/// Asks a yes/no question on the terminal; anything but yes (or Esc, Ctrl-C) is no.
pub fn confirm(question: &str) -> bool {
    inquire::Confirm::new(&marked(question))
        .with_default(false)
        .prompt()
        .unwrap_or(false)
}

/// Prints human text: to standard output, or to standard error in JSON mode.
pub fn print(text: &str) {
    let text = marked(text);
    if json_mode() {
        eprint!("{text}");
    } else {
        print_stdout(&text);
    }
}

/// Writes to standard output; a reader that went away (`| head`) is not an error.
pub fn print_stdout(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

/// Prints one JSON line to standard output.
pub fn print_json_line(line: &str) {
    println!("{line}");
}

/// Prints an error and what to do next, on standard error.
pub fn print_error(message: &str, hint: Option<&str>) {
    eprint!("{}", marked(&format!("error: {message}\n")));
    if let Some(hint) = hint {
        eprint!("{}", marked(&format!("hint: {hint}\n")));
    }
}

/// Prints a note on standard error (marked in the sandbox, like every line).
pub fn note(text: &str) {
    eprint!("{}", marked(&format!("{text}\n")));
}

/// Left-aligned columns, three spaces of indent, empty trailing columns trimmed.
fn table(out: &mut String, headers: &[&str], rows: &[Vec<String>]) {
    let widths: Vec<usize> = (0..headers.len())
        .map(|i| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .chain(std::iter::once(headers[i].chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: Vec<&str>| {
        let mut text = String::from("   ");
        for (i, cell) in cells.iter().enumerate() {
            text.push_str(cell);
            if i + 1 < cells.len() {
                let pad = widths[i] - cell.chars().count() + 2;
                text.extend(std::iter::repeat_n(' ', pad));
            }
        }
        text.trim_end().to_string()
    };
    let _ = writeln!(out, "{}", line(headers.to_vec()));
    for row in rows {
        let _ = writeln!(out, "{}", line(row.iter().map(String::as_str).collect()));
    }
}

/// `subnet-private-1, subnet-private-2, vpc` → `subnet-private-{1,2}, vpc`.
pub fn compress_ids(ids: &[String]) -> String {
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    for id in ids {
        let (stem, number) = match id.rsplit_once('-') {
            Some((stem, n)) if n.chars().all(|c| c.is_ascii_digit()) && !n.is_empty() => {
                (stem.to_string(), Some(n.to_string()))
            }
            _ => (id.clone(), None),
        };
        match (number, groups.last_mut()) {
            (Some(n), Some((last, numbers))) if *last == stem && !numbers.is_empty() => {
                numbers.push(n)
            }
            (Some(n), _) => groups.push((stem, vec![n])),
            (None, _) => groups.push((stem, Vec::new())),
        }
    }
    groups
        .into_iter()
        .map(|(stem, numbers)| match numbers.len() {
            0 => stem,
            1 => format!("{stem}-{}", numbers[0]),
            _ => format!("{stem}-{{{}}}", numbers.join(",")),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    #[test]
    fn sandbox_lines_are_each_marked_and_blank_lines_stay_blank() {
        assert_eq!(
            super::mark_lines("Plan\n\n  a\nlast"),
            "SANDBOX │ Plan\n\nSANDBOX │   a\nSANDBOX │ last"
        );
    }

    use super::*;

    fn day_two() -> (Profile, Profile) {
        let path = std::path::Path::new("p.toml");
        let before = Profile::parse(
            "[cluster]\nname = \"demo\"\nregion = \"us-west-2\"\nkubernetes_version = \"1.34\"\nadmins = [\"arn:aws:iam::123456789012:role/ops\"]\n[nodes]\ninstance_types = [\"t3.large\"]\n",
            path,
        )
        .unwrap();
        let after = Profile::parse(
            "[cluster]\nname = \"demo\"\nregion = \"us-west-2\"\nkubernetes_version = \"1.34\"\nadmins = [\"arn:aws:iam::123456789012:role/sre\"]\npublic_access_cidrs = [\"203.0.113.0/24\"]\nlog_retention_days = 30\naddons = [\"vpc-cni\", \"kube-proxy\", \"coredns\", \"eks-pod-identity-agent\", \"metrics-server\"]\n[network]\nvpc_cidr = \"10.9.0.0/16\"\n[nodes]\ninstance_types = [\"m6i.large\"]\ndesired_size = 3\nmax_size = 6\n",
            path,
        )
        .unwrap();
        (before, after)
    }

    #[test]
    fn a_day_two_plan_shows_each_change_refusal_and_cost() {
        let (before, after) = day_two();
        let plan = Plan::build(&after, &crate::plan::PlanFacts::default());
        let diff = crate::plan::diff::diff(&before, &after);
        insta::assert_snapshot!(render_diff_text(
            &after,
            &plan,
            &diff,
            ".eksboot/demo-us-west-2.state.json"
        ));
        let json: serde_json::Value =
            serde_json::from_str(&render_diff_json(&after, &plan, &diff)).unwrap();
        insta::assert_json_snapshot!(json["diff"]);
        assert_eq!(
            json["cluster"]["name"], "demo",
            "the plan's object is all there"
        );
    }

    #[test]
    fn an_old_clusters_move_to_the_safe_defaults_is_shown_field_by_field() {
        // A state file from before issue 23's fields: their old meaning, to the new defaults.
        let path = std::path::Path::new("p.toml");
        let mut settings =
            serde_json::to_value(Profile::parse("[cluster]\nname = \"demo\"\nregion = \"us-west-2\"\nkubernetes_version = \"1.34\"\n", path).unwrap())
                .unwrap();
        for (section, key, _) in crate::profile::LEGACY_MEANINGS {
            settings[section].as_object_mut().unwrap().remove(key);
        }
        crate::profile::fill_legacy(&mut settings);
        let before = Profile::parse(&toml::to_string(&settings).unwrap(), path).unwrap();
        let after = Profile::parse(
            "[cluster]\nname = \"demo\"\nregion = \"us-west-2\"\nkubernetes_version = \"1.34\"\n[nodes]\nos = \"bottlerocket\"\n",
            path,
        )
        .unwrap();
        let plan = Plan::build(&after, &crate::plan::PlanFacts::default());
        let diff = crate::plan::diff::diff(&before, &after);
        insta::assert_snapshot!(render_diff_text(
            &after,
            &plan,
            &diff,
            ".eksboot/demo-us-west-2.state.json"
        ));
    }

    #[test]
    fn an_unchanged_profile_says_so() {
        let (before, _) = day_two();
        let plan = Plan::build(&before, &crate::plan::PlanFacts::default());
        let diff = crate::plan::diff::diff(&before, &before);
        let text = render_diff_text(&before, &plan, &diff, "x.state.json");
        assert!(text.contains("No changes"), "{text}");
    }

    #[test]
    fn numbered_ids_are_grouped() {
        let ids: Vec<String> = [
            "creator-policy",
            "subnet-private-1",
            "subnet-private-2",
            "subnet-public-1",
            "cluster-sg",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            compress_ids(&ids),
            "creator-policy, subnet-private-{1,2}, subnet-public-1, cluster-sg"
        );
    }
}
