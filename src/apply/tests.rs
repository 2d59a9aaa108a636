//! Error paths the emulator cannot produce, through an injected HTTP layer (aws-smithy-mocks):
//! access denied mid-run, and throttling.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_cloudwatchlogs::operation::create_log_group::CreateLogGroupOutput;
use aws_sdk_cloudwatchlogs::operation::describe_log_groups::DescribeLogGroupsOutput;
use aws_sdk_cloudwatchlogs::operation::put_retention_policy::PutRetentionPolicyOutput;
use aws_sdk_cloudwatchlogs::types::LogGroup;
use aws_sdk_ec2::operation::create_vpc::{CreateVpcError, CreateVpcOutput};
use aws_sdk_ec2::operation::describe_vpcs::{DescribeVpcsError, DescribeVpcsOutput};
use aws_sdk_ec2::operation::modify_vpc_attribute::ModifyVpcAttributeOutput;
use aws_smithy_mocks::{mock, mock_client, RuleMode};
use aws_smithy_types::error::ErrorMetadata;

use super::journal::{Journal, StepStatus};
use super::report::Silent;
use super::*;
use crate::plan::PlanFacts;

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

fn log_group_rules() -> Vec<aws_smithy_mocks::Rule> {
    vec![
        mock!(aws_sdk_cloudwatchlogs::Client::describe_log_groups)
            .sequence()
            .output(|| DescribeLogGroupsOutput::builder().build())
            .output(|| {
                DescribeLogGroupsOutput::builder()
                    .log_groups(
                        LogGroup::builder()
                            .log_group_name("/aws/eks/demo/cluster")
                            .arn("arn:aws:logs:us-west-2:123456789012:log-group:/aws/eks/demo/cluster:*")
                            .build(),
                    )
                    .build()
            })
            .build(),
        mock!(aws_sdk_cloudwatchlogs::Client::create_log_group)
            .then_output(|| CreateLogGroupOutput::builder().build()),
        mock!(aws_sdk_cloudwatchlogs::Client::put_retention_policy)
            .then_output(|| PutRetentionPolicyOutput::builder().build()),
    ]
}

#[tokio::test]
async fn access_denied_stops_the_run_cleanly_with_the_journal_saved() {
    let dir = tempfile::tempdir().unwrap();
    let describe = mock!(aws_sdk_ec2::Client::describe_vpcs)
        .then_output(|| DescribeVpcsOutput::builder().build());
    let create = mock!(aws_sdk_ec2::Client::create_vpc).then_error(|| {
        CreateVpcError::generic(
            ErrorMetadata::builder()
                .code("UnauthorizedOperation")
                .message("You are not authorized to perform this operation.")
                .custom("aws_request_id", "req-123")
                .build(),
        )
    });
    let logs = log_group_rules();
    let mut aws = unreachable_aws();
    aws.ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&describe, &create]);
    aws.logs = mock_client!(
        aws_sdk_cloudwatchlogs,
        RuleMode::MatchAny,
        [&logs[0], &logs[1], &logs[2]]
    );
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
        err.error.hint().contains("allow ec2:CreateVpc"),
        "{}",
        err.error.hint()
    );
    assert_eq!(create.num_calls(), 1, "access denied is not retried");

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
    let throttled = || {
        DescribeVpcsError::generic(
            ErrorMetadata::builder()
                .code("RequestLimitExceeded")
                .message("Request limit exceeded.")
                .build(),
        )
    };
    let describe = mock!(aws_sdk_ec2::Client::describe_vpcs)
        .sequence()
        .error(throttled)
        .error(throttled)
        .output(|| DescribeVpcsOutput::builder().build())
        .build();
    let create = mock!(aws_sdk_ec2::Client::create_vpc).then_output(|| {
        CreateVpcOutput::builder()
            .vpc(aws_sdk_ec2::types::Vpc::builder().vpc_id("vpc-1").build())
            .build()
    });
    let modify = mock!(aws_sdk_ec2::Client::modify_vpc_attribute)
        .then_output(|| ModifyVpcAttributeOutput::builder().build());
    let mut aws = unreachable_aws();
    aws.ec2 = mock_client!(
        aws_sdk_ec2,
        RuleMode::MatchAny,
        [&describe, &create, &modify]
    );
    let ctx = ctx(aws, dir.path());

    let summary = execute(Arc::clone(&ctx), &["vpc".into()]).await.unwrap();

    assert_eq!(summary.created, ["vpc"]);
    assert_eq!(describe.num_calls(), 3);
    assert_eq!(modify.num_calls(), 2, "DNS support and DNS hostnames");
    assert_eq!(
        ctx.journal.lock().unwrap().outputs("vpc").unwrap().id,
        "vpc-1"
    );
}
