//! Day two: what the profile no longer asks for. After the executor has brought every planned
//! step to the profile, the steps the journal still holds but the plan dropped (an admin
//! removed, an add-on no longer wanted, the OIDC provider turned off, a node group replaced by
//! one with other instance types, or nodes turned off) are deleted, each waited for, and
//! forgotten by the journal. A run stopped half way finds the rest next time: the set
//! is always the journal's steps minus the plan's.

use std::time::Instant;

use crate::aws::{done_if_gone, ec2, eks, iam, AwsError};
use crate::plan::{Kind, Resource, Task};

use super::cluster::{as_creator, ADDON_TIMEOUT, NODEGROUP_TIMEOUT};
use super::retry::PollDelay;
use super::{Ctx, Event, StepError};

/// What a dropped step was, from its id, in the order they are removed: the node group first
/// (its nodes use the launch template and the node role), the role last.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Dropped {
    Nodegroup {
        step: String,
    },
    AccessEntry {
        step: String,
    },
    Addon {
        step: String,
    },
    /// An add-on's Pod Identity role, after the add-on (whose association names it) is gone.
    AddonRole {
        step: String,
    },
    OidcProvider {
        step: String,
    },
    LaunchTemplate {
        step: String,
    },
    NodeRole {
        step: String,
    },
}

/// The journal's steps that the plan no longer has, in the order they are removed. Steps of
/// kinds `apply` does not remove are left alone.
pub fn dropped_steps<'a>(
    recorded: impl IntoIterator<Item = &'a String>,
    planned: &[Resource],
) -> Vec<Dropped> {
    recorded
        .into_iter()
        .filter(|id| !planned.iter().any(|r| &r.id == *id))
        .filter_map(|id| {
            let step = id.clone();
            if id.starts_with("access-entry-") && id != "access-entry-caller" {
                Some(Dropped::AccessEntry { step })
            } else if id.starts_with("addon-role-") {
                Some(Dropped::AddonRole { step })
            } else if id.starts_with("addon-") {
                Some(Dropped::Addon { step })
            } else if id == "oidc-provider" {
                Some(Dropped::OidcProvider { step })
            } else if id == "nodegroup" || id.starts_with("nodegroup-") {
                Some(Dropped::Nodegroup { step })
            } else if id == "launch-template" {
                Some(Dropped::LaunchTemplate { step })
            } else if id == "node-role" {
                Some(Dropped::NodeRole { step })
            } else {
                None
            }
        })
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// The attribute `apply --delete-addon-software NAME` journals on an add-on's step: its
/// software is deleted with it (DeleteAddon without `preserve`).
pub const DELETE_SOFTWARE: &str = "delete_software";

/// The principals whose access entries stay: the caller's (as this run knows it, and as the
/// caller's step recorded it) and every admin the plan still has. An admins change never
/// deletes an entry one of them shares.
fn wanted_principals(
    ctx: &Ctx,
    steps: &std::collections::BTreeMap<String, super::journal::StepRecord>,
) -> Vec<String> {
    let mut wanted = vec![ctx.caller_principal.clone()];
    wanted.extend(
        steps
            .get("access-entry-caller")
            .and_then(|r| r.outputs.as_ref())
            .map(|o| o.id.clone()),
    );
    wanted.extend(
        ctx.plan
            .resources
            .iter()
            .filter(|r| r.kind == Kind::AccessEntry && r.id != "access-entry-caller")
            .map(|r| r.name.clone()),
    );
    wanted
}

/// Deletes what the profile dropped (see the module doc). Returns the steps removed.
pub async fn retire_dropped(ctx: &Ctx) -> Result<Vec<String>, StepError> {
    let dropped = {
        let journal = ctx.journal.lock().expect("journal lock");
        dropped_steps(journal.state.steps.keys(), &ctx.plan.resources)
    };
    let mut removed = Vec::new();
    for item in dropped {
        ctx.check_stopping()?;
        let (step, kind, task) = match &item {
            Dropped::AccessEntry { step } => (step, Kind::AccessEntry, Task::Cluster),
            Dropped::Addon { step } => (step, Kind::Addon, Task::Cluster),
            Dropped::AddonRole { step } => (step, Kind::IamRole, Task::Secure),
            Dropped::OidcProvider { step } => (step, Kind::OidcProvider, Task::Cluster),
            Dropped::Nodegroup { step } => (step, Kind::Nodegroup, Task::Cluster),
            Dropped::LaunchTemplate { step } => (step, Kind::LaunchTemplate, Task::Cluster),
            Dropped::NodeRole { step } => (step, Kind::IamRole, Task::Secure),
        };
        let outputs = {
            let journal = ctx.journal.lock().expect("journal lock");
            journal.state.steps[step]
                .outputs
                .clone()
                .unwrap_or_default()
        };
        let resource = Resource {
            task,
            kind,
            id: step.clone(),
            name: outputs.id.clone(),
            depends_on: Vec::new(),
            cidr: None,
            az: None,
            detail: None,
        };
        let started = Instant::now();
        ctx.reporter.report(Event::Started {
            resource: &resource,
        });
        let result = retire(ctx, &resource, &item, &outputs).await;
        match result {
            Ok(deleted) => {
                ctx.journal.lock().expect("journal lock").forget(step)?;
                if deleted {
                    ctx.reporter.report(Event::Deleted {
                        resource: &resource,
                        elapsed: started.elapsed(),
                    });
                } else {
                    // Still in AWS, now as another step's (you, or an admin named again).
                    ctx.reporter.report(Event::Skipped {
                        resource: &resource,
                        outputs: &outputs,
                        elapsed: started.elapsed(),
                    });
                }
                removed.push(step.clone());
            }
            Err(error) => {
                ctx.reporter.report(Event::Failed {
                    resource: &resource,
                    error: &error,
                    elapsed: started.elapsed(),
                });
                return Err(error);
            }
        }
    }
    Ok(removed)
}

/// Polls `look` (the status, `None` once gone) until the thing is gone, reporting its status.
async fn wait_gone<F, Fut>(
    ctx: &Ctx,
    res: &Resource,
    name: &str,
    timeout: std::time::Duration,
    mut look: F,
) -> Result<(), StepError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Option<String>, StepError>>,
{
    let started = Instant::now();
    let mut poll = PollDelay::new(ctx.timing.poll);
    while let Some(status) = look().await? {
        ctx.check_stopping()?;
        ctx.waiting(res, name, &status, started);
        if started.elapsed() > timeout {
            return Err(StepError::TimedOut(format!(
                "{} {name} is still {status} after {} minutes",
                res.kind.as_str(),
                timeout.as_secs() / 60
            )));
        }
        poll.sleep().await;
    }
    Ok(())
}

/// Deletes one dropped thing; `false` when it stays because another step still wants it.
async fn retire(
    ctx: &Ctx,
    res: &Resource,
    item: &Dropped,
    outputs: &super::journal::Outputs,
) -> Result<bool, StepError> {
    let creator = as_creator(ctx).await?;
    let cluster = ctx.profile.cluster.name.as_str();
    let never = |_: &AwsError| false;
    match item {
        Dropped::AccessEntry { .. } => {
            let principal = outputs.id.as_str();
            // One entry per principal: one still wanted (yours, or an admin named again) stays.
            let wanted = {
                let journal = ctx.journal.lock().expect("journal lock");
                wanted_principals(ctx, &journal.state.steps)
            };
            if wanted.iter().any(|w| w == principal) {
                return Ok(false);
            }
            ctx.creator_call(res, never, || async {
                done_if_gone(eks::delete_access_entry(&creator.eks, cluster, principal).await)
            })
            .await?;
        }
        Dropped::OidcProvider { .. } => {
            let arn = outputs.arn.clone().unwrap_or_default();
            ctx.creator_call(res, never, || async {
                done_if_gone(iam::delete_oidc_provider(&creator.iam, &arn).await)
            })
            .await?;
        }
        Dropped::Nodegroup { .. } => {
            let name = outputs.id.as_str();
            // Drained first (PodDisruptionBudgets honoured), unless EKS is already deleting it
            // (a resumed run) or it is gone.
            let live = ctx
                .creator_call(res, never, || {
                    eks::describe_nodegroup(&creator.eks, cluster, name)
                })
                .await?;
            if live.is_some_and(|n| n.status != "DELETING") {
                super::drain::drain_nodegroup(ctx, res, name).await?;
            }
            ctx.creator_call(res, never, || async {
                done_if_gone(eks::delete_nodegroup(&creator.eks, cluster, name).await)
            })
            .await?;
            // The nodes drain and terminate: gone when EKS no longer knows the node group.
            wait_gone(ctx, res, name, NODEGROUP_TIMEOUT, || async {
                Ok(ctx
                    .creator_call(res, never, || {
                        eks::describe_nodegroup(&creator.eks, cluster, name)
                    })
                    .await?
                    .map(|n| n.status))
            })
            .await?;
        }
        Dropped::LaunchTemplate { .. } => {
            done_if_gone(ec2::delete_launch_template(&ctx.aws, &outputs.id).await)?;
        }
        Dropped::NodeRole { .. } | Dropped::AddonRole { .. } => {
            done_if_gone(iam::delete_role(&ctx.aws, &outputs.id).await)?;
        }
        Dropped::Addon { .. } => {
            let name = outputs.id.as_str();
            // EKS stops managing it and its software keeps running, unless the user asked for
            // its software to go too (`apply --delete-addon-software NAME`, journaled).
            let preserve = outputs.attr(DELETE_SOFTWARE) != Some("true");
            ctx.creator_call(res, never, || async {
                done_if_gone(eks::delete_addon_keeping(&creator.eks, cluster, name, preserve).await)
            })
            .await?;
            // Deleting takes a while: the add-on is gone when EKS no longer knows it.
            wait_gone(ctx, res, name, ADDON_TIMEOUT, || async {
                Ok(ctx
                    .creator_call(res, never, || {
                        eks::describe_addon(&creator.eks, cluster, name)
                    })
                    .await?
                    .map(|a| a.status))
            })
            .await?;
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Plan, PlanFacts};
    use crate::profile::Profile;

    #[test]
    fn what_the_plan_dropped_is_retired_and_nothing_else() {
        let profile = Profile::parse(
            "[cluster]\nname = \"demo\"\nregion = \"us-west-2\"\noidc_provider = false\naddons = [\"vpc-cni\"]\n",
            std::path::Path::new("t.toml"),
        )
        .unwrap();
        let plan = Plan::build(&profile, &PlanFacts::default());
        let gone_admin = crate::plan::access_entry_id("arn:aws:iam::123456789012:role/gone");
        let recorded: Vec<String> = [
            "vpc",
            "cluster",
            "access-entry-caller",
            gone_admin.as_str(),
            "addon-vpc-cni",
            "addon-metrics-server",
            "addon-role-ebs-csi",
            "oidc-provider",
            "nodegroup-old",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            dropped_steps(&recorded, &plan.resources),
            [
                Dropped::Nodegroup {
                    step: "nodegroup-old".into()
                },
                Dropped::AccessEntry { step: gone_admin },
                Dropped::Addon {
                    step: "addon-metrics-server".into()
                },
                // A role is never taken for an add-on, and goes after the add-ons.
                Dropped::AddonRole {
                    step: "addon-role-ebs-csi".into()
                },
                Dropped::OidcProvider {
                    step: "oidc-provider".into()
                },
            ]
        );
    }
}
