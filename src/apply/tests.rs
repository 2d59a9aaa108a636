//! Error paths the emulator cannot produce, through the canned HTTP layer of
//! `crate::test_support`: access denied mid-run, throttling, an answer that is not AWS's.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::canned_client;
use crate::test_support::Canned;

use super::journal::{Journal, StepStatus};
use super::report::Silent;
use super::*;
use crate::plan::PlanFacts;

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
        drain: Default::default(),
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

/// AllocateAddress, CreateVpc and the like carry no idempotency token: a retry after an answer
/// lost once AWS acted would make a second one. The SDK does not retry them; the step looks
/// the VPC up by its tags and finds the one the lost call made.
#[tokio::test]
async fn a_create_whose_answer_was_lost_is_found_by_its_tags_not_made_twice() {
    let dir = tempfile::tempdir().unwrap();
    let made = ec2_ok(
        "DescribeVpcs",
        "<vpcSet><item><vpcId>vpc-1</vpcId><cidrBlock>10.0.0.0/16</cidrBlock></item></vpcSet>",
    );
    let ec2 = Canned::default()
        .answer("DescribeVpcs", 200, &ec2_ok("DescribeVpcs", "<vpcSet/>"))
        .answer("DescribeVpcs", 200, &made)
        .answer(
            "CreateVpc",
            500,
            &ec2_error("InternalError", "An internal error has occurred", "req-5"),
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

    assert_eq!(summary.created, ["vpc"], "made by this run, not adopted");
    assert_eq!(ec2.calls("CreateVpc"), 1, "never sent twice");
    assert_eq!(ec2.calls("DescribeVpcs"), 2);
    assert_eq!(
        ctx.journal.lock().unwrap().outputs("vpc").unwrap().id,
        "vpc-1"
    );
}

/// Throttling is the transport layer's to retry (the SDK, standard mode): the step sees none.
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
