//! The Ask phase: the guided questions of the three tasks, for someone making their first EKS
//! cluster. Every question teaches just enough to answer it well, and defaults are the safe
//! choice. Questions go through the [`Prompter`] trait, so the flow is tested without a
//! terminal; the answers become a profile (validated by the same rules as a profile file).

mod questions;
pub mod terminal;

use std::fmt::Write as _;

pub use questions::{Answers, Discovery};

use crate::profile::{Profile, ProfileError};

/// One question: a stable id (for "edit an answer"), the label, and help that says what it is,
/// why it matters, the recommended answer, and where AWS documents it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    pub id: &'static str,
    pub label: String,
    pub help: String,
}

/// Why a question got no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Asked {
    /// Esc: go back one question.
    Back,
    /// Ctrl-C: quit without creating anything.
    Cancelled,
}

/// Something that can ask questions: a terminal, or a script in tests.
pub trait Prompter {
    fn say(&mut self, text: &str);
    fn confirm(&mut self, q: &Question, default: bool) -> Result<bool, Asked>;
    /// Free text, re-asked with the reason until `validate` accepts it.
    fn text(
        &mut self,
        q: &Question,
        default: Option<&str>,
        validate: &dyn Fn(&str) -> Result<(), String>,
    ) -> Result<String, Asked>;
    fn select(&mut self, q: &Question, options: &[String], default: usize) -> Result<usize, Asked>;
    fn multi_select(
        &mut self,
        q: &Question,
        options: &[String],
        defaults: &[usize],
    ) -> Result<Vec<usize>, Asked>;
}

/// What the person chose at the plan screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    Create,
    SaveAndQuit,
    Quit,
}

/// The greeting: what will happen, the three tasks, that nothing is created before they
/// confirm, and how to quit.
pub fn greeting() -> String {
    "Welcome to eksboot. Together we will set up an Amazon EKS cluster in three tasks:
  1. Secure the environment: who creates the cluster, encryption of secrets, add-on
     permissions, audit logs, deletion protection.
  2. Configure the VPC: the network your nodes and load balancers live in.
  3. Create the cluster: version and its support, API access, who runs the nodes (a
     managed node group, or EKS Auto Mode) and add-ons.
Nothing is created until you have seen the plan and its cost and said yes.
Help is shown under each question. Esc goes back one question; Ctrl-C quits.
"
    .to_string()
}

/// Runs the question flow (after the greeting and discovery) up to a plan the person accepts. `plan_text` renders the plan of a
/// profile (the same summary `eksboot plan` prints).
pub fn run(
    p: &mut dyn Prompter,
    discovery: &Discovery,
    preset: Answers,
    plan_text: &dyn Fn(&Profile) -> String,
) -> Result<(Profile, Choice), Asked> {
    let mut answers = preset;
    questions::ask_all(p, discovery, &mut answers)?;
    let first = if discovery.offline {
        SAVE_FOR_LATER
    } else {
        "Create it now"
    };
    review(p, discovery, answers, plan_text, first)
}

/// The plan screen's first choice when planning without credentials: it saves, never creates.
pub const SAVE_FOR_LATER: &str = "Save the profile, to create it once you have AWS credentials";

/// The fields a running cluster keeps for good (`apply` refuses them): not offered for editing
/// when changing one.
pub const FIXED_ON_A_RUNNING_CLUSTER: [&str; 10] = [
    "name",
    // A running cluster's state moves with `eksboot state push` / `state pull`.
    "state",
    "kubernetes_version",
    "creator_role",
    "secrets_key",
    "pattern",
    "vpc_cidr",
    "availability_zones",
    "nat",
    // Switching a running cluster between a node group and Auto Mode moves every workload:
    // `apply` refuses it with the way out (node pools may change).
    "node_mode",
];

/// Day two: a running cluster's answers, pre-filled from its profile, straight to the plan,
/// where any answer that may change can be edited. The first choice applies the change.
pub fn change(
    p: &mut dyn Prompter,
    discovery: &Discovery,
    current: &toml::Table,
    plan_text: &dyn Fn(&Profile) -> String,
) -> Result<(Profile, Choice), Asked> {
    let mut answers = Answers::from_table(current);
    answers.region = discovery.region.clone();
    answers.fast_path = Some(false);
    answers.fixed = FIXED_ON_A_RUNNING_CLUSTER.into_iter().collect();
    review(
        p,
        discovery,
        answers,
        plan_text,
        "Apply the changes (shows the difference first)",
    )
}

/// What the plan screen offers after its first choice.
#[derive(Clone, Copy)]
enum Next {
    First,
    Edit,
    Save,
    Quit,
}

/// The plan of `answers`, then what next: `first` (create, apply, or offline save), edit an
/// answer, save and quit, or quit. Offline `first` saves, so "save and quit" is not repeated
/// and the choice is [`Choice::SaveAndQuit`]: planning without credentials never creates.
fn review(
    p: &mut dyn Prompter,
    discovery: &Discovery,
    mut answers: Answers,
    plan_text: &dyn Fn(&Profile) -> String,
    first: &str,
) -> Result<(Profile, Choice), Asked> {
    loop {
        let profile = match answers.to_profile() {
            Ok(profile) => profile,
            Err(problems) => {
                // The questions validate as they go; this is a safety net, never a dead end.
                p.say(&format!("Some answers do not fit together:\n{problems}\n"));
                questions::ask_all_again(p, discovery, &mut answers)?;
                continue;
            }
        };
        p.say(&plan_text(&profile));
        let mut menu = vec![(first, Next::First), ("Edit an answer", Next::Edit)];
        if !discovery.offline {
            menu.push(("Save the profile and quit", Next::Save));
        }
        menu.push(("Quit without creating anything", Next::Quit));
        let labels: Vec<String> = menu.iter().map(|(label, _)| label.to_string()).collect();
        let help = if discovery.offline {
            "Saving writes the profile; once you have AWS credentials, `eksboot create --profile FILE` makes this very cluster (after the checks that need your account). Edit returns to one question."
        } else {
            "Create makes everything above (you can stop it with Ctrl-C and resume later). Edit returns to one question. Saving writes the profile so `eksboot create --profile FILE --yes` makes this very cluster later."
        };
        let q = Question {
            id: "plan",
            label: "What next?".into(),
            help: help.into(),
        };
        match menu[p.select(&q, &labels, 0)?].1 {
            Next::First if discovery.offline => return Ok((profile, Choice::SaveAndQuit)),
            Next::First => return Ok((profile, Choice::Create)),
            Next::Edit => {
                let ids = questions::answered(&answers);
                let labels: Vec<String> = ids.iter().map(|(_, label)| label.clone()).collect();
                let q = Question {
                    id: "edit",
                    label: "Which answer?".into(),
                    help: "Pick the question to answer again; you come back to the plan after."
                        .into(),
                };
                match p.select(&q, &labels, 0) {
                    Ok(i) => questions::ask_one(p, discovery, &mut answers, ids[i].0)?,
                    Err(Asked::Back) => continue,
                    Err(e) => return Err(e),
                }
            }
            Next::Save => return Ok((profile, Choice::SaveAndQuit)),
            Next::Quit => return Ok((profile, Choice::Quit)),
        }
    }
}

/// The profile with what discovery decided written in: the Kubernetes version (the newest
/// when not chosen) and the AZ names, so the saved file replays the very same cluster.
/// Offline nothing was discovered: the count of zones and the unset version stay, for create
/// to decide.
pub fn resolve(profile: &Profile, discovery: &Discovery) -> Profile {
    let mut resolved = profile.clone();
    if discovery.offline {
        return resolved;
    }
    if resolved.cluster.kubernetes_version.is_none() {
        resolved.cluster.kubernetes_version = discovery.versions.first().cloned();
    }
    if let crate::profile::AzSpec::Count(n) = resolved.network.availability_zones {
        if discovery.availability_zones.len() >= usize::from(n) {
            resolved.network.availability_zones = crate::profile::AzSpec::Names(
                discovery.availability_zones[..usize::from(n)].to_vec(),
            );
        }
    }
    resolved
}

/// Where to save a profile: `profiles/<name>.toml` when `profiles/` exists here, else
/// `./<name>.eksboot.toml`.
pub fn default_save_path(name: &str, profiles_dir_exists: bool) -> std::path::PathBuf {
    if profiles_dir_exists {
        std::path::Path::new("profiles").join(format!("{name}.toml"))
    } else {
        std::path::PathBuf::from(format!("{name}.eksboot.toml"))
    }
}

/// The saved profile: every field written out, resolved, with a header saying how to replay it.
pub fn profile_file(profile: &Profile) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# eksboot profile, written by the wizard. Replay it with:\n#   eksboot create --profile <this file> --yes\n"
    );
    out.push_str(&profile.to_toml());
    out
}

/// A profile error as lines for the person (no file names: the answers were typed).
pub fn explain(e: &ProfileError) -> String {
    match e {
        ProfileError::Invalid { problems, .. } => problems
            .iter()
            .map(|p| format!("  {}: {}", p.field, p.message))
            .collect::<Vec<_>>()
            .join("\n"),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests;
