//! `eksboot preflight` against the emulator: read-only checks, each ✓ or ✗ with a hint.

use predicates::prelude::*;

use crate::harness::{bare_eksboot, block_on, root, Account};

fn write_profile(dir: &tempfile::TempDir, body: &str) -> std::path::PathBuf {
    let path = dir.path().join("p.toml");
    std::fs::write(&path, body).unwrap();
    path
}

/// Preflight as the runner, holding the policy `eksboot permissions` prints for the profile.
fn preflight(account: &Account, profile: &std::path::Path) -> assert_cmd::assert::Assert {
    account.authorize(profile, &[]);
    account
        .eksboot()
        .arg("preflight")
        .arg("--profile")
        .arg(profile)
        .assert()
}

fn stdout_of(out: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&out.get_output().stdout).to_string()
}

/// Everything a preflight could have created, counted through the SDK.
fn assert_account_untouched(account: &Account, region: &str) {
    let config = account.sdk(region);
    let ec2 = aws_sdk_ec2::Client::new(&config);
    let iam = aws_sdk_iam::Client::new(&config);
    let kms = aws_sdk_kms::Client::new(&config);
    let eks = aws_sdk_eks::Client::new(&config);
    block_on(async {
        let vpcs = ec2.describe_vpcs().send().await.unwrap();
        assert!(vpcs.vpcs().iter().all(|v| v.is_default() == Some(true)));
        assert!(ec2
            .describe_addresses()
            .send()
            .await
            .unwrap()
            .addresses()
            .is_empty());
        // Only the harness's own role `x`.
        let roles = iam.list_roles().send().await.unwrap();
        let names: Vec<&str> = roles.roles().iter().map(|r| r.role_name()).collect();
        assert_eq!(names, ["x"]);
        assert!(kms.list_keys().send().await.unwrap().keys().is_empty());
        assert!(eks
            .list_clusters()
            .send()
            .await
            .unwrap()
            .clusters()
            .is_empty());
    });
}

#[test]
fn example_profiles_pass_and_say_who_you_are() {
    let account = Account::new();
    let out = preflight(&account, &root("profiles/dev.toml")).success();
    let text = stdout_of(&out);
    assert!(
        text.contains(&format!("✓ credentials"))
            && text.contains(&format!("(account {})", account.id)),
        "{text}"
    );
    assert!(text.contains("✓ region"), "{text}");
    assert!(
        text.contains("✓ availability-zones  us-west-2a, us-west-2b"),
        "{text}"
    );
    assert!(
        text.contains("✓ kubernetes-version  1.36 (the newest in standard support)"),
        "{text}"
    );
    assert!(text.contains("✓ elastic-ips         0 of 5"), "{text}");
    assert!(text.contains("✓ vpcs"), "{text}");
    assert!(text.contains("✓ internet-gateways"), "{text}");
    assert!(text.contains("All 8 checks passed."), "{text}");
    assert_account_untouched(&account, "us-west-2");

    // us-east-1e is use1-az3, which EKS rejects: a count skips it.
    let out = preflight(&account, &root("profiles/production.toml")).success();
    let text = stdout_of(&out);
    assert!(
        text.contains("us-east-1a, us-east-1b, us-east-1c"),
        "{text}"
    );
    assert!(text.contains("✓ kubernetes-version  1.33"), "{text}");
    assert!(text.contains("the plan needs 3"), "{text}");
    // production.toml names an admin of another account: a warning, not a failure.
    assert!(
        text.contains("! admins") && text.contains("111122223333:role/platform-admins"),
        "{text}"
    );
    assert_account_untouched(&account, "us-east-1");

    preflight(&account, &root("profiles/private.toml")).success();
}

#[test]
fn a_zone_eks_rejects_and_a_version_eks_lacks_fail_with_hints() {
    let account = Account::new();
    let dir = tempfile::tempdir().unwrap();
    let path = write_profile(
        &dir,
        "[cluster]\nname = \"demo\"\nregion = \"us-east-1\"\nkubernetes_version = \"1.20\"\n\
         [network]\navailability_zones = [\"us-east-1a\", \"us-east-1e\"]\n",
    );
    let out = preflight(&account, &path).code(1);
    let text = stdout_of(&out);
    assert!(
        text.contains("✗ availability-zones  us-east-1e (use1-az3) cannot host EKS control planes"),
        "{text}"
    );
    assert!(
        text.contains("hint: use these instead: us-east-1b, us-east-1c"),
        "{text}"
    );
    assert!(
        text.contains("✗ kubernetes-version  Kubernetes 1.20 is not offered by EKS"),
        "{text}"
    );
    assert!(
        text.contains("hint: set cluster.kubernetes_version to one of 1.36, 1.35, 1.34"),
        "{text}"
    );
    assert!(text.contains("2 of 9 checks failed"), "{text}");
}

#[test]
fn elastic_ip_headroom_counts_what_the_account_already_uses() {
    let account = Account::new();
    let ec2 = aws_sdk_ec2::Client::new(&account.sdk("us-east-1"));
    block_on(async {
        for _ in 0..3 {
            ec2.allocate_address()
                .domain(aws_sdk_ec2::types::DomainType::Vpc)
                .send()
                .await
                .unwrap();
        }
    });
    let out = preflight(&account, &root("profiles/production.toml")).code(1);
    let text = stdout_of(&out);
    assert!(
        text.contains("✗ elastic-ips         3 of 5 Elastic IP addresses in use; the plan needs 3"),
        "{text}"
    );
    assert!(text.contains("Service Quotas"), "{text}");
    assert!(text.contains("L-0263D0A3"), "the quota's code: {text}");

    // An account whose Elastic IP quota was raised to 10 has room: the applied value counts.
    account.set_applied_quota("ec2", "L-0263D0A3", 10);
    let out = preflight(&account, &root("profiles/production.toml")).success();
    let text = stdout_of(&out);
    assert!(
        text.contains("✓ elastic-ips         3 of 10 Elastic IP addresses in use; the plan needs 3 (quota 10)"),
        "{text}"
    );
    assert!(text.contains("✓ nat-gateways"), "{text}");
}

#[test]
fn vpc_headroom_counts_the_default_vpc_too() {
    let account = Account::new();
    let ec2 = aws_sdk_ec2::Client::new(&account.sdk("us-west-2"));
    block_on(async {
        for i in 0..4 {
            ec2.create_vpc()
                .cidr_block(format!("10.{i}.0.0/16"))
                .send()
                .await
                .unwrap();
        }
    });
    let out = preflight(&account, &root("profiles/dev.toml")).code(1);
    assert!(stdout_of(&out).contains("✗ vpcs                5 of 5 VPCs in use; the plan needs 1"));
}

#[test]
fn existing_role_and_key_must_exist() {
    let account = Account::new();
    let dir = tempfile::tempdir().unwrap();
    let role_arn = format!("arn:aws:iam::{}:role/team/eks-creator", account.id);
    let body = |key: &str| {
        format!(
            "[cluster]\nname = \"demo\"\nregion = \"us-west-2\"\n[security]\ncreator_role = \"{role_arn}\"\nsecrets_key = \"{key}\"\n"
        )
    };
    let missing_key = format!(
        "arn:aws:kms:us-west-2:{}:key/00000000-0000-0000-0000-000000000000",
        account.id
    );
    let path = write_profile(&dir, &body(&missing_key));
    let out = preflight(&account, &path).code(1);
    let text = stdout_of(&out);
    assert!(
        text.contains(&format!("✗ creator-role        {role_arn} does not exist")),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "✗ secrets-key         {missing_key} does not exist"
        )),
        "{text}"
    );

    let config = account.sdk("us-west-2");
    let key_arn = block_on(async {
        aws_sdk_iam::Client::new(&config)
            .create_role()
            .role_name("eks-creator")
            .path("/team/")
            .assume_role_policy_document(account.trust_runner())
            .send()
            .await
            .unwrap();
        aws_sdk_kms::Client::new(&config)
            .create_key()
            .send()
            .await
            .unwrap()
            .key_metadata()
            .unwrap()
            .arn()
            .unwrap()
            .to_string()
    });
    let path = write_profile(&dir, &body(&key_arn));
    let out = preflight(&account, &path).success();
    let text = stdout_of(&out);
    assert!(
        text.contains(&format!("✓ creator-role        {role_arn} exists")),
        "{text}"
    );
    assert!(
        text.contains("✓ secrets-key") && text.contains("All 11 checks passed"),
        "{text}"
    );
}

#[test]
fn no_credentials_is_one_clear_line_and_exit_1() {
    let home = tempfile::tempdir().unwrap();
    let out = bare_eksboot(&home)
        .env("AWS_ENDPOINT_URL", &crate::harness::moto().endpoint)
        .args(["preflight", "--profile"])
        .arg(root("profiles/dev.toml"))
        .assert()
        .code(1)
        .stdout("");
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("no AWS credentials found"), "{stderr}");
    assert!(stderr.contains("aws configure"), "{stderr}");
    assert!(
        !stderr.contains("panicked") && !stderr.contains("{"),
        "{stderr}"
    );
}

#[test]
fn an_invalid_profile_fails_before_any_aws_call() {
    let home = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = write_profile(&dir, "[cluster]\nname = \"x\"\n");
    bare_eksboot(&home)
        .arg("preflight")
        .arg("--profile")
        .arg(&path)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("cluster.region: is required"));
}

#[test]
fn an_admin_iam_does_not_hold_is_refused_before_anything_is_made() {
    let run = crate::create::Run::new(Account::new());
    let id = run.account.id.clone();
    // IAM holds role ops under /team/ only: the ARN without the path is not it.
    let iam = aws_sdk_iam::Client::new(&run.account.sdk("us-east-1"));
    block_on(
        iam.create_role()
            .role_name("ops")
            .path("/team/")
            .assume_role_policy_document(r#"{"Version":"2012-10-17","Statement":[]}"#)
            .send(),
    )
    .unwrap();
    let path = write_profile(
        &run.dir,
        &format!(
            "[cluster]\nname = \"demo\"\nregion = \"us-west-2\"\n\
             admins = [\"arn:aws:iam::{id}:role/team/ops\", \"arn:aws:iam::{id}:role/ops\"]\n"
        ),
    );
    let out = run.create(&path).code(1);
    let text = stdout_of(&out);
    assert!(
        text.contains(&format!(
            "✗ admins              not in IAM: arn:aws:iam::{id}:role/ops"
        )) && text.contains("create it or remove it from cluster.admins"),
        "{text}"
    );
    assert!(!text.contains("role/team/ops,"), "{text}");
    // Nothing was made: no VPC of ours, no cluster, no key.
    let config = run.account.sdk("us-west-2");
    block_on(async {
        let vpcs = aws_sdk_ec2::Client::new(&config)
            .describe_vpcs()
            .send()
            .await
            .unwrap();
        assert!(vpcs.vpcs().iter().all(|v| v.is_default() == Some(true)));
        let keys = aws_sdk_kms::Client::new(&config)
            .list_keys()
            .send()
            .await
            .unwrap();
        assert!(keys.keys().is_empty());
        let clusters = aws_sdk_eks::Client::new(&config)
            .list_clusters()
            .send()
            .await
            .unwrap();
        assert!(clusters.clusters().is_empty());
    });
}

#[test]
fn the_caller_listed_in_admins_gets_one_access_entry() {
    let run = crate::create::Run::new(Account::new());
    let me = run.account.runner_arn();
    let path = write_profile(
        &run.dir,
        &format!(
            "[cluster]\nname = \"me\"\nregion = \"us-west-2\"\nadmins = [\"{me}\"]\n\
             [network]\npattern = \"public\"\n[nodes]\nenabled = false\n"
        ),
    );
    run.create(&path).success();
    let eks = aws_sdk_eks::Client::new(&run.account.sdk("us-west-2"));
    let entries = block_on(crate::harness::all_access_entries(&eks, "me")).unwrap();
    let mine = entries
        .access_entries()
        .iter()
        .filter(|e| **e == me)
        .count();
    assert_eq!(mine, 1, "{:?}", entries.access_entries());
    let policies = block_on(
        eks.list_associated_access_policies()
            .cluster_name("me")
            .principal_arn(&me)
            .send(),
    )
    .unwrap();
    assert_eq!(policies.associated_access_policies().len(), 1);
}
