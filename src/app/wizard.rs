//! The wizard session on a terminal: greeting, region, discovery, questions, saved profile.

use std::path::Path;

use super::create::field;
use super::*;

/// The wizard: region, discovery, questions, plan; saves the profile. `None` when the person
/// saved it to create later.
pub(super) async fn run_wizard(
    table: &toml::Table,
    save_to: Option<&Path>,
) -> Result<Option<Profile>, RunError> {
    use crate::wizard::{self, terminal::Terminal, Asked, Choice, Prompter, Question};
    let mut prompter = Terminal;
    prompter.say(&wizard::greeting());
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
    let aws = Aws::connect(&region, &crate::aws::TransportRetry::from_env()).await?;
    let caller = aws::sts::caller_identity(&aws).await?;
    ui::print(&format!(
        "You are {} in account {}.\n",
        caller.arn, caller.account
    ));
    let discovery = wizard::terminal::discover(&aws, &region, &caller.account).await?;
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
        Choice::Create => Some(profile),
        _ => None,
    })
}
