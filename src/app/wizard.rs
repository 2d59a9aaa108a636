//! The wizard session on a terminal: greeting, region, discovery, questions, saved profile.

use std::path::Path;

use super::common::*;
use super::create::field;

/// What the person chose in the wizard; the command layer carries it out (the wizard itself
/// only asks, saves the profile, and returns).
pub(super) enum WizardChoice {
    /// Create the cluster of this profile, saved at `saved`.
    Create {
        profile: Profile,
        saved: PathBuf,
    },
    /// The profile was saved to create later, or a change saved to apply later.
    Saved,
    /// Apply the edited profile (saved at `profile`) to the cluster of `state`.
    Apply {
        profile: PathBuf,
        state: PathBuf,
    },
    Upgrade(StateTarget),
    Teardown(StateTarget),
}

/// The wizard: region, discovery, questions, plan; saves the profile and returns what to do.
pub(super) async fn run_wizard(
    table: &toml::Table,
    save_to: Option<&Path>,
) -> Result<WizardChoice, RunError> {
    use crate::wizard::{self, terminal::Terminal, Asked, Choice, Prompter, Question};
    let mut prompter = Terminal;
    prompter.say(&wizard::greeting());
    let cancelled = || RunError::Cancelled;
    let region = ask_region(&mut prompter, table).await?;
    let aws = Aws::connect(&region, &crate::aws::TransportRetry::from_env()).await?;
    let caller = aws::sts::caller_identity(&aws).await?;
    ui::print(&format!(
        "You are {} in account {}.\n",
        caller.arn, caller.account
    ));
    let discovery = wizard::terminal::discover(&aws, &region, &caller.account).await?;
    // Day two: clusters eksboot made here (their state files) can be changed, upgraded or torn
    // down from the wizard too.
    let made = clusters_made_here(&region, &caller.account);
    if !made.is_empty() {
        let mut options = Vec::new();
        for (cluster, _) in &made {
            options.push(format!(
                "Change {cluster}: edit its answers, see the difference and the cost, apply"
            ));
            options.push(format!("Upgrade {cluster} to the next Kubernetes version"));
            options.push(format!("Tear down {cluster}"));
        }
        options.push("Make a new cluster".to_string());
        let names: Vec<&str> = made.iter().map(|(c, _)| c.as_str()).collect();
        let i = prompter
            .select(
                &Question {
                    id: "day-two",
                    label: format!(
                        "eksboot made {} in {region} from this directory. What would you like to do?",
                        names.join(", ")
                    ),
                    help: "Changing shows the difference before anything happens; upgrading reads the cluster's upgrade insights first; tearing down asks you to type the cluster's name.".into(),
                },
                &options,
                0,
            )
            .map_err(|_| cancelled())?;
        if i < made.len() * 3 {
            let (_, state) = &made[i / 3];
            let target = StateTarget {
                state: Some(state.clone()),
                cluster: None,
                region: None,
            };
            return match i % 3 {
                0 => change_cluster(&mut prompter, &discovery, state, save_to),
                1 => Ok(WizardChoice::Upgrade(target)),
                _ => Ok(WizardChoice::Teardown(target)),
            };
        }
    }
    if discovery.availability_zones.len() < 2 {
        return Err(RunError::Usage {
            message: format!("{region} has fewer than two availability zones EKS can use"),
            hint: "pick another region (run eksboot again)".into(),
        });
    }
    let preset = wizard::Answers::from_table(table);
    // The plan shown is the plan of the profile as saved: version and AZs resolved.
    let plan_text = |profile: &Profile| {
        let resolved = wizard::resolve(profile, &discovery);
        ui::render_plan_text(&resolved, &Plan::build(&resolved, &PlanFacts::default()))
    };
    let (profile, choice) = match wizard::run(&mut prompter, &discovery, preset, &plan_text) {
        Ok(done) => done,
        Err(Asked::Back) | Err(Asked::Cancelled) => return Err(cancelled()),
    };
    let profile = wizard::resolve(&profile, &discovery);
    if choice == Choice::Quit {
        return Err(cancelled());
    }
    let path = save_to.map(Path::to_path_buf).unwrap_or_else(|| {
        wizard::default_save_path(&profile.cluster.name, Path::new("profiles").is_dir())
    });
    if path.exists() {
        let overwrite = prompter
            .confirm(
                &Question {
                    id: "overwrite",
                    label: format!("{} exists. Overwrite it?", path.display()),
                    help: "No keeps the file and stops here; pass --save-profile PATH to save elsewhere.".into(),
                },
                false,
            )
            .map_err(|_| cancelled())?;
        if !overwrite {
            return Err(cancelled());
        }
    }
    journal::write_atomically(&path, wizard::profile_file(&profile).as_bytes()).map_err(|e| {
        RunError::Usage {
            message: format!("cannot save the profile to {}: {e}", path.display()),
            hint: "pass --save-profile PATH to save it elsewhere".into(),
        }
    })?;
    ui::print(&format!(
        "Saved the profile to {0}. The same cluster again: eksboot create --profile {0} --yes\n",
        path.display()
    ));
    Ok(match choice {
        Choice::Create => WizardChoice::Create {
            profile,
            saved: path,
        },
        _ => WizardChoice::Saved,
    })
}

/// The region: the profile's or flag's, else the one in the person's AWS settings if they
/// confirm it, else picked from the list.
async fn ask_region(
    prompter: &mut crate::wizard::terminal::Terminal,
    table: &toml::Table,
) -> Result<String, RunError> {
    use crate::wizard::{self, Prompter, Question};
    let cancelled = || RunError::Cancelled;
    let region = match field(table, "cluster", "region").and_then(|v| v.as_str()) {
        Some(r) => r.to_string(),
        None => {
            let suggested = aws::default_region().await;
            let use_suggested = match &suggested {
                Some(r) => prompter
                    .confirm(
                        &Question {
                            id: "region",
                            label: format!("Create the cluster in {r} (from your AWS settings)?"),
                            help: "The AWS region holds the cluster and everything around it. Pick one close to your users.".into(),
                        },
                        true,
                    )
                    .map_err(|_| cancelled())?,
                None => false,
            };
            if use_suggested {
                suggested.expect("checked")
            } else {
                let options: Vec<String> = wizard::terminal::REGIONS
                    .iter()
                    .map(|r| r.to_string())
                    .collect();
                let i = prompter
                    .select(
                        &Question {
                            id: "region",
                            label: "Which AWS region?".into(),
                            help: "Type to filter. Pick one close to your users.".into(),
                        },
                        &options,
                        3,
                    )
                    .map_err(|_| cancelled())?;
                options[i].clone()
            }
        }
    };
    Ok(region)
}

/// The state files in `.eksboot/` here of clusters in `region` of `account`: (cluster, path).
fn clusters_made_here(region: &str, account: &str) -> Vec<(String, std::path::PathBuf)> {
    let Ok(entries) = std::fs::read_dir(".eksboot") else {
        return Vec::new();
    };
    let mut found: Vec<(String, std::path::PathBuf)> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.ends_with(&format!("-{region}.state.json")))
        })
        .filter_map(|p| {
            let state = journal::read_state(&p).ok()?;
            (state.region == region && state.account == account).then(|| (state.cluster, p))
        })
        .collect();
    found.sort();
    found
}

/// Day two from the wizard: the cluster's answers pre-filled, edited, saved as its profile,
/// then `apply` (which shows the difference and the cost change, and asks).
fn change_cluster(
    prompter: &mut crate::wizard::terminal::Terminal,
    discovery: &crate::wizard::Discovery,
    state: &Path,
    save_to: Option<&Path>,
) -> Result<WizardChoice, RunError> {
    use crate::wizard::{self, Asked, Choice};
    let current = journal::read_state(state)?.profile(state)?;
    let table: toml::Table = toml::Table::try_from(&current).map_err(|e| RunError::Usage {
        message: format!("cannot read the profile stored in {}: {e}", state.display()),
        hint: "use `eksboot plan` and `eksboot apply --profile FILE` instead".into(),
    })?;
    let plan_text = |profile: &Profile| {
        ui::render_plan_text(profile, &Plan::build(profile, &PlanFacts::default()))
    };
    let (profile, choice) = match wizard::change(prompter, discovery, &table, &plan_text) {
        Ok(done) => done,
        Err(Asked::Back) | Err(Asked::Cancelled) => return Err(RunError::Cancelled),
    };
    if choice == Choice::Quit {
        return Err(RunError::Cancelled);
    }
    let path = save_to.map(Path::to_path_buf).unwrap_or_else(|| {
        wizard::default_save_path(&profile.cluster.name, Path::new("profiles").is_dir())
    });
    journal::write_atomically(&path, wizard::profile_file(&profile).as_bytes()).map_err(|e| {
        RunError::Usage {
            message: format!("cannot save the profile to {}: {e}", path.display()),
            hint: "pass --save-profile PATH to save it elsewhere".into(),
        }
    })?;
    ui::print(&format!("Saved the profile to {}.\n", path.display()));
    if choice != Choice::Create {
        ui::print(&format!(
            "Apply it later: eksboot apply --profile {} --state {}\n",
            path.display(),
            state.display()
        ));
        return Ok(WizardChoice::Saved);
    }
    Ok(WizardChoice::Apply {
        profile: path,
        state: state.to_path_buf(),
    })
}
