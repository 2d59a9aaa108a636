//! Parse, set up logging, run, map errors to exit codes (0 ok, 1 failure, 2 usage, 130
//! interrupted). Nothing else.

use std::process::ExitCode;

use clap::Parser;
use eksboot::{app, cli::Cli, ui};

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    // The sandbox is entered before any thread exists: it points this process's environment
    // at the emulator (never at the user's AWS or kubectl settings).
    if cli.sandbox && !matches!(cli.command, Some(eksboot::cli::Command::Stop)) {
        let entered = eksboot::sandbox::start().and_then(eksboot::sandbox::enter);
        if let Err(e) = entered {
            ui::set_sandbox(true);
            ui::print_error(&format!("sandbox: {e}"), Some(&e.hint()));
            return ExitCode::from(1);
        }
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            ui::print_error(&format!("cannot start the async runtime: {e}"), None);
            return ExitCode::from(1);
        }
    };
    let started = std::time::Instant::now();
    match runtime.block_on(app::run(cli)) {
        Ok(code) => {
            if ui::json_mode() {
                let status = if code == ExitCode::SUCCESS {
                    "ok"
                } else {
                    "failed"
                };
                ui::print_json_line(&ui::json::run_done(status, started.elapsed(), None));
            }
            code
        }
        Err(err) => {
            if ui::json_mode() {
                let status = if err.exit_code() == 130 {
                    "interrupted"
                } else {
                    "failed"
                };
                let hint = err.hint().unwrap_or_default();
                ui::print_json_line(&ui::json::run_done(
                    status,
                    started.elapsed(),
                    Some((&err.to_string(), &hint)),
                ));
            }
            match &err {
                // One line, with what to do, for the most common first-run problem.
                app::RunError::Aws(eksboot::aws::AwsError::NoCredentials(_)) => {
                    eprintln!(
                        "error: no AWS credentials found: {}",
                        err.hint().unwrap_or_default()
                    );
                }
                _ => {
                    let message = match err.request_id() {
                        Some(id) => format!("{err} (request id {id})"),
                        None => err.to_string(),
                    };
                    ui::print_error(&message, err.hint().as_deref())
                }
            }
            ExitCode::from(err.exit_code())
        }
    }
}

fn init_logging(verbose: u8) {
    let filter = match verbose {
        // kube's client logs a failed connection as an error; eksboot handles and reports it
        // itself (an API it cannot reach is a question, not a crash): shown from -v on.
        0 => "error,kube_client=off,eksboot=warn",
        1 => "warn,eksboot=debug",
        _ => "info,eksboot=trace,aws_smithy_runtime=debug",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("EKSBOOT_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(filter)),
        )
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}
