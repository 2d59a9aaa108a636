//! Error paths the emulator cannot produce, through a canned HTTP layer: access denied
//! mid-run, and throttling.
//!
//! The canned client is ours rather than aws-smithy-mocks': that crate turns on `test-util`
//! in crates every SDK crate depends on, so `cargo test` and `cargo run` would each build the
//! SDK crates (minutes on two cores).

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;

use super::journal::{Journal, StepStatus};
use super::report::Silent;
use super::*;
use crate::plan::PlanFacts;

/// Answers each API action with the next canned `(status, body)` (the last one repeats), and
/// counts the calls.
#[derive(Debug, Clone, Default)]
struct Canned {
    state: Arc<Mutex<CannedState>>,
}

#[derive(Debug, Default)]
struct CannedState {
    answers: HashMap<String, VecDeque<(u16, String)>>,
    calls: HashMap<String, usize>,
}

impl Canned {
    fn answer(self, action: &str, status: u16, body: &str) -> Canned {
        self.state
            .lock()
            .unwrap()
            .answers
            .entry(action.to_string())
            .or_default()
            .push_back((status, body.to_string()));
        self
    }

    fn calls(&self, action: &str) -> usize {
        self.state
            .lock()
            .unwrap()
            .calls
            .get(action)
            .copied()
            .unwrap_or(0)
    }
}

/// The API action of a request: the JSON protocols name it in `x-amz-target`, the query
/// protocols in the form body.
fn action_of(request: &HttpRequest) -> String {
    if let Some(target) = request.headers().get("x-amz-target") {
        return target.rsplit('.').next().unwrap_or_default().to_string();
    }
    let body = String::from_utf8_lossy(request.body().bytes().unwrap_or_default()).to_string();
    body.split('&')
        .find_map(|pair| pair.strip_prefix("Action="))
        .unwrap_or_default()
        .to_string()
}

impl HttpConnector for Canned {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let action = action_of(&request);
        let (status, body) = {
            let mut state = self.state.lock().unwrap();
            *state.calls.entry(action.clone()).or_default() += 1;
            let queue = state
                .answers
                .get_mut(&action)
                .unwrap_or_else(|| panic!("no canned answer for {action}"));
            if queue.len() > 1 {
                queue.pop_front().unwrap()
            } else {
                queue.front().cloned().unwrap()
            }
        };
        // AWS sends the request id as a header too; the SDKs read it from there.
        let request_id = body
            .split("<RequestID>")
            .nth(1)
            .and_then(|rest| rest.split('<').next())
            .unwrap_or("r-1")
            .to_string();
        let mut response = HttpResponse::new(status.try_into().unwrap(), SdkBody::from(body));
        response
            .headers_mut()
            .insert("x-amzn-requestid", request_id);
        HttpConnectorFuture::ready(Ok(response))
    }
}

impl HttpClient for Canned {
    fn http_connector(
        &self,
        _: &HttpConnectorSettings,
        _: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(self.clone())
    }
}

/// A client of `$sdk` whose HTTP layer is `$canned`, with no retries of its own.
macro_rules! canned_client {
    ($sdk:ident, $canned:expr) => {
        $sdk::Client::from_conf(
            $sdk::Config::builder()
                .behavior_version($sdk::config::BehaviorVersion::latest())
                .region($sdk::config::Region::new("us-west-2"))
                .credentials_provider($sdk::config::Credentials::new("a", "b", None, None, "test"))
                .retry_config(aws_smithy_types::retry::RetryConfig::disabled())
                .http_client($canned.clone())
                .build(),
        )
    };
}

const EC2_NS: &str = "http://ec2.amazonaws.com/doc/2016-11-15/";

fn ec2_ok(action: &str, inner: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><{action}Response xmlns="{EC2_NS}"><requestId>r-1</requestId>{inner}</{action}Response>"#
    )
}

fn ec2_error(code: &str, message: &str, request_id: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors><RequestID>{request_id}</RequestID></Response>"#
    )
}

fn profile() -> Profile {
    Profile::parse(
        "[cluster]\nname = \"demo\"\nregion = \"us-west-2\"\n",
        Path::new("t.toml"),
    )
    .unwrap()
}

/// Clients for a closed endpoint: any call that is not mocked fails at once.
fn unreachable_aws() -> Aws {
    let config = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-west-2"))
        .endpoint_url("http://127.0.0.1:9")
        .credentials_provider(
            aws_credential_types::provider::SharedCredentialsProvider::new(
                aws_credential_types::Credentials::new("a", "b", None, None, "test"),
            ),
        )
        .build();
    Aws::from_config(config)
}

fn ctx(aws: Aws, dir: &Path) -> Arc<Ctx> {
    let profile = profile();
    let facts = PlanFacts {
        availability_zones: Some(vec!["us-west-2a".into(), "us-west-2b".into()]),
        kubernetes_version: Some("1.34".into()),
        ..Default::default()
    };
    let journal =
        Journal::create(&dir.join("state.json"), &profile, "123456789012", &facts).unwrap();
    Arc::new(Ctx {
        aws,
        plan: Plan::build(&profile, &facts),
        profile,
        account: "123456789012".into(),
        caller_principal: "arn:aws:iam::123456789012:user/alice".into(),
        run_id: journal.state.run_id.clone(),
        journal: Mutex::new(journal),
        reporter: Arc::new(Silent),
        timing: Timing {
            poll: Duration::from_millis(1),
            retry_base: Duration::from_millis(1),
            addon_health: Duration::from_millis(1),
        },
        kubernetes_version: "1.34".into(),
        creator: tokio::sync::OnceCell::new(),
        endpoint_services: tokio::sync::OnceCell::new(),
        stopping: Default::default(),
    })
}

/// The log group step: not there, created, then found.
fn log_group_answers() -> Canned {
    Canned::default()
        .answer("DescribeLogGroups", 200, r#"{"logGroups":[]}"#)
        .answer(
            "DescribeLogGroups",
            200,
            r#"{"logGroups":[{"logGroupName":"/aws/eks/demo/cluster","arn":"arn:aws:logs:us-west-2:123456789012:log-group:/aws/eks/demo/cluster:*"}]}"#,
        )
        .answer("CreateLogGroup", 200, "{}")
        .answer("PutRetentionPolicy", 200, "{}")
}

#[tokio::test]
async fn access_denied_stops_the_run_cleanly_with_the_journal_saved() {
    let dir = tempfile::tempdir().unwrap();
    let ec2 = Canned::default()
        .answer("DescribeVpcs", 200, &ec2_ok("DescribeVpcs", "<vpcSet/>"))
        .answer(
            "CreateVpc",
            403,
            &ec2_error(
                "UnauthorizedOperation",
                "You are not authorized to perform this operation.",
                "req-123",
            ),
        );
    let mut aws = unreachable_aws();
    aws.ec2 = canned_client!(aws_sdk_ec2, ec2);
    aws.logs = canned_client!(aws_sdk_cloudwatchlogs, log_group_answers());
    let ctx = ctx(aws, dir.path());

    let ExecuteError::Failed(err) = execute(Arc::clone(&ctx), &["log-group".into(), "vpc".into()])
        .await
        .unwrap_err()
    else {
        panic!("expected a failure")
    };

    assert_eq!(err.step, "vpc");
    assert_eq!(err.task, Task::Network);
    let StepError::Aws(aws_err) = &err.error else {
        panic!("expected an AWS error, got {err}")
    };
    assert!(matches!(
        aws_err,
        AwsError::AccessDenied {
            action: "ec2:CreateVpc",
            ..
        }
    ));
    assert_eq!(
        aws_err.failure().unwrap().request_id.as_deref(),
        Some("req-123")
    );
    assert!(
        err.to_string().contains("[network] vpc vpc (demo-vpc)"),
        "{err}"
    );
    assert!(
        err.error.hint().contains("may not call ec2:CreateVpc")
            && err.error.hint().contains("eksboot permissions"),
        "{}",
        err.error.hint()
    );
    assert_eq!(ec2.calls("CreateVpc"), 1, "access denied is not retried");

    // The journal on disk says what exists and what failed.
    drop(ctx);
    let journal = Journal::open(&dir.path().join("state.json"))
        .unwrap()
        .unwrap();
    assert_eq!(journal.status("log-group"), Some(StepStatus::Done));
    assert_eq!(
        journal.outputs("log-group").unwrap().id,
        "/aws/eks/demo/cluster"
    );
    assert_eq!(journal.status("vpc"), Some(StepStatus::Failed));
    assert!(journal.state.steps["vpc"]
        .error
        .as_deref()
        .unwrap()
        .contains("ec2:CreateVpc"));
}

#[tokio::test]
async fn throttling_is_retried_and_the_step_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let throttled = ec2_error("RequestLimitExceeded", "Request limit exceeded.", "req-9");
    let ec2 = Canned::default()
        .answer("DescribeVpcs", 503, &throttled)
        .answer("DescribeVpcs", 503, &throttled)
        .answer("DescribeVpcs", 200, &ec2_ok("DescribeVpcs", "<vpcSet/>"))
        .answer(
            "CreateVpc",
            200,
            &ec2_ok("CreateVpc", "<vpc><vpcId>vpc-1</vpcId></vpc>"),
        )
        .answer(
            "ModifyVpcAttribute",
            200,
            &ec2_ok("ModifyVpcAttribute", "<return>true</return>"),
        );
    let mut aws = unreachable_aws();
    aws.ec2 = canned_client!(aws_sdk_ec2, ec2);
    let ctx = ctx(aws, dir.path());

    let summary = execute(Arc::clone(&ctx), &["vpc".into()]).await.unwrap();

    assert_eq!(summary.created, ["vpc"]);
    assert_eq!(ec2.calls("DescribeVpcs"), 3);
    assert_eq!(
        ec2.calls("ModifyVpcAttribute"),
        2,
        "DNS support and DNS hostnames"
    );
    assert_eq!(
        ctx.journal.lock().unwrap().outputs("vpc").unwrap().id,
        "vpc-1"
    );
}

#[tokio::test]
async fn an_answer_that_is_not_an_aws_error_shows_the_status_and_the_body() {
    let dir = tempfile::tempdir().unwrap();
    let ec2 = Canned::default().answer(
        "DescribeVpcs",
        502,
        "<html><body><h1>502 Bad Gateway</h1>corporate proxy</body></html>",
    );
    let mut aws = unreachable_aws();
    aws.ec2 = canned_client!(aws_sdk_ec2, ec2);
    let ctx = ctx(aws, dir.path());
    let ExecuteError::Failed(err) = execute(Arc::clone(&ctx), &["vpc".into()])
        .await
        .unwrap_err()
    else {
        panic!("expected a failure")
    };
    let text = err.to_string();
    assert!(text.contains("ec2:DescribeVpcs"), "{text}");
    assert!(text.contains("HTTP 502"), "{text}");
    assert!(
        text.contains("502 Bad Gateway</h1>corporate proxy"),
        "{text}"
    );
    assert!(!text.contains("Unknown"), "{text}");
    assert!(err.error.hint().contains("proxy"), "{}", err.error.hint());
}
