//! The wizard on a real terminal: inquire prompts behind the [`Prompter`] trait, and the
//! read-only discovery that comes before the questions.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use inquire::error::InquireError;
use inquire::validator::Validation;

use super::{Asked, Discovery, Prompter, Question};
use crate::aws::{self, Aws, AwsError};
use crate::preflight;

/// Prompts on the terminal with inquire: `?` shows help, answered prompts collapse to one line,
/// Esc goes back, Ctrl-C quits.
pub struct Terminal;

fn asked(e: InquireError) -> Asked {
    match e {
        InquireError::OperationCanceled => Asked::Back,
        _ => Asked::Cancelled,
    }
}

/// A question's label as shown: in the sandbox every screen says so.
fn label(q: &Question) -> String {
    if crate::ui::sandbox() {
        format!("{}{}", crate::ui::SANDBOX_MARK, q.label)
    } else {
        q.label.clone()
    }
}

impl Prompter for Terminal {
    fn say(&mut self, text: &str) {
        crate::ui::print(text);
    }

    fn confirm(&mut self, q: &Question, default: bool) -> Result<bool, Asked> {
        inquire::Confirm::new(&label(q))
            .with_default(default)
            .with_help_message(&q.help)
            .prompt()
            .map_err(asked)
    }

    fn text(
        &mut self,
        q: &Question,
        default: Option<&str>,
        validate: &dyn Fn(&str) -> Result<(), String>,
    ) -> Result<String, Asked> {
        // inquire wants an owned validator; re-ask here with the reason instead.
        loop {
            let shown = label(q);
            let mut prompt = inquire::Text::new(&shown).with_help_message(&q.help);
            if let Some(d) = default.filter(|d| !d.is_empty()) {
                prompt = prompt.with_default(d);
            }
            let answer = prompt.prompt().map_err(asked)?;
            match validate(&answer) {
                Ok(()) => return Ok(answer),
                Err(reason) => crate::ui::print(&format!("  ✗ {reason}\n")),
            }
        }
    }

    fn select(&mut self, q: &Question, options: &[String], default: usize) -> Result<usize, Asked> {
        inquire::Select::new(&label(q), options.to_vec())
            .with_starting_cursor(default)
            .with_help_message(&q.help)
            .raw_prompt()
            .map(|o| o.index)
            .map_err(asked)
    }

    fn multi_select(
        &mut self,
        q: &Question,
        options: &[String],
        defaults: &[usize],
    ) -> Result<Vec<usize>, Asked> {
        // A question whose default is nothing (Auto Mode's extra add-ons) takes nothing too.
        let may_be_empty = defaults.is_empty();
        inquire::MultiSelect::new(&label(q), options.to_vec())
            .with_default(defaults)
            .with_help_message(&q.help)
            .with_validator(
                move |picked: &[inquire::list_option::ListOption<&String>]| {
                    Ok(if picked.is_empty() && !may_be_empty {
                        Validation::Invalid("pick at least one".into())
                    } else {
                        Validation::Valid
                    })
                },
            )
            .raw_prompt()
            .map(|picked| picked.into_iter().map(|o| o.index).collect())
            .map_err(asked)
    }
}

/// The caller's public IPv4 address, from AWS's own checkip service; `None` when it does not
/// answer within two seconds (no internet, a proxy, a slow resolver).
pub fn public_ip() -> Option<String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(ask_checkip());
    });
    rx.recv_timeout(Duration::from_secs(2)).ok().flatten()
}

fn ask_checkip() -> Option<String> {
    let addr = ("checkip.amazonaws.com", 80)
        .to_socket_addrs()
        .ok()?
        .next()?;
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: checkip.amazonaws.com\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let ip = response.split("\r\n\r\n").nth(1)?.trim().to_string();
    ip.parse::<std::net::Ipv4Addr>().ok().map(|_| ip)
}

/// Everything the questions need to know, read-only.
pub async fn discover(aws: &Aws, region: &str, account: &str) -> Result<Discovery, AwsError> {
    let zones = aws::ec2::availability_zones(aws).await?;
    let mut names: Vec<String> = zones
        .iter()
        .filter(|z| {
            z.state == "available"
                && z.zone_type == "availability-zone"
                && !preflight::EKS_UNSUPPORTED_ZONE_IDS.contains(&z.zone_id.as_str())
        })
        .map(|z| z.name.clone())
        .collect();
    names.sort();
    let mut versions: Vec<(u32, String)> = aws::eks::cluster_versions(aws)
        .await?
        .into_iter()
        .filter(|v| v.status == "STANDARD_SUPPORT" || v.status == "EXTENDED_SUPPORT")
        .map(|v| {
            let minor = v
                .version
                .split('.')
                .nth(1)
                .and_then(|m| m.parse().ok())
                .unwrap_or(0);
            (minor, v.version)
        })
        .collect();
    versions.sort_by(|a, b| b.0.cmp(&a.0));
    let vpcs = aws::ec2::find_vpcs(aws, &[]).await?;
    let clusters = aws::eks::list_clusters(&aws.eks).await?;
    let existing_roles = aws::iam::role_arns(aws).await?;
    let existing_users = aws::iam::user_arns(aws).await?;
    let existing_keys = aws::kms::key_arns(aws).await?;
    Ok(Discovery {
        region: region.to_string(),
        availability_zones: names,
        versions: versions.into_iter().map(|(_, v)| v).collect(),
        public_ip: tokio::task::spawn_blocking(public_ip).await.ok().flatten(),
        existing_vpc_cidrs: vpcs.into_iter().map(|v| v.cidr).collect(),
        existing_clusters: clusters,
        account: account.to_string(),
        existing_roles,
        existing_users,
        existing_keys,
        offline: false,
    })
}

/// What the questions know without credentials: the region and, for the suggested API
/// access range, the public address from checkip (not an AWS API call). Nothing is read from
/// an AWS account.
pub async fn discover_offline(region: &str) -> Discovery {
    let public_ip = tokio::task::spawn_blocking(public_ip).await.ok().flatten();
    Discovery::offline(region, public_ip)
}

/// Regions to offer when none is configured (typing filters the list).
pub const REGIONS: [&str; 17] = [
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "ca-central-1",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-central-1",
    "eu-north-1",
    "ap-south-1",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "sa-east-1",
    "af-south-1",
];
