//! Teardown against what real AWS puts in its way: endpoints that take their time to go,
//! Classic load balancers and security groups Kubernetes made, a cluster whose deletion is
//! denied, a key whose tags cannot be read, and network interfaces nodes left behind. Every
//! claim is read back from AWS.

use std::path::PathBuf;

use crate::create::{tag_filter, Run};
use crate::harness::{block_on, root, Account, Moto};
use crate::teardown::{assert_nothing_left, ours, teardown};

fn stdout(out: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&out.get_output().stdout).to_string()
}

/// A small public cluster without nodes: quick to make, with a VPC to clutter.
fn small(run: &Run, name: &str) -> PathBuf {
    let path = run.dir.path().join("small.toml");
    std::fs::write(
        &path,
        format!(
            "[cluster]\nname = \"{name}\"\nregion = \"us-west-2\"\noidc_provider = false\n\
             [network]\npattern = \"public\"\n[nodes]\nenabled = false\n"
        ),
    )
    .unwrap();
    path
}

fn state_arg(run: &Run) -> Vec<String> {
    vec!["--state".into(), run.state().display().to_string()]
}

fn args(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[test]
fn endpoints_that_take_their_time_to_go_are_waited_out() {
    // Interface endpoints stay `deleting` and hold their subnets and security group; the
    // dependency retries alone (at a tenth of their normal pace) give up long before that.
    let server = Moto::start();
    server.set_transition("ec2::vpc_endpoint-deletion", 20);
    let run = Run::new(Account::on(&server));
    run.create(&root("profiles/private.toml")).success();
    let out = run
        .account
        .eksboot()
        .env("EKSBOOT_POLL_MS", "200")
        .env("EKSBOOT_RETRY_MS", "100")
        .args(["teardown", "--yes"])
        .args(args(&state_arg(&run)))
        .assert()
        .success();
    assert!(stdout(&out).contains("Nothing is left"), "{}", stdout(&out));
    assert_nothing_left(&run.account, "private", "eu-west-1");
    let ec2 = aws_sdk_ec2::Client::new(&run.account.sdk("eu-west-1"));
    let endpoints = block_on(ec2.describe_vpc_endpoints().send()).unwrap();
    assert!(endpoints.vpc_endpoints().iter().all(|e| e
        .state()
        .unwrap()
        .as_str()
        .eq_ignore_ascii_case("deleted")));
}

/// A Classic ELB and its `k8s-elb-…` security group, as Kubernetes makes them for a
/// `type: LoadBalancer` Service without the AWS Load Balancer Controller.
fn classic_load_balancer(run: &Run, cluster: &str) -> String {
    let config = run.account.sdk("us-west-2");
    let ec2 = aws_sdk_ec2::Client::new(&config);
    let elb = aws_sdk_elasticloadbalancing::Client::new(&config);
    let name = "a1b2c3d4e5f60718293a4b5c6d7e8f90";
    let owned = |key: &str| {
        aws_sdk_ec2::types::Tag::builder()
            .key(key)
            .value("owned")
            .build()
    };
    block_on(async {
        let subnets = ec2
            .describe_subnets()
            .filters(tag_filter("eksboot:cluster", cluster))
            .send()
            .await
            .unwrap();
        let vpc = subnets.subnets()[0].vpc_id().unwrap().to_string();
        let ids: Vec<String> = subnets
            .subnets()
            .iter()
            .map(|s| s.subnet_id().unwrap().to_string())
            .collect();
        let group = ec2
            .create_security_group()
            .group_name(format!("k8s-elb-{name}"))
            .description("Security group for Kubernetes ELB")
            .vpc_id(vpc)
            .tag_specifications(
                aws_sdk_ec2::types::TagSpecification::builder()
                    .resource_type(aws_sdk_ec2::types::ResourceType::SecurityGroup)
                    .tags(owned(&format!("kubernetes.io/cluster/{cluster}")))
                    .build(),
            )
            .send()
            .await
            .unwrap();
        elb.create_load_balancer()
            .load_balancer_name(name)
            .listeners(
                aws_sdk_elasticloadbalancing::types::Listener::builder()
                    .protocol("TCP")
                    .load_balancer_port(80)
                    .instance_port(30080)
                    .build()
                    .unwrap(),
            )
            .set_subnets(Some(ids))
            .security_groups(group.group_id().unwrap())
            .tags(
                aws_sdk_elasticloadbalancing::types::Tag::builder()
                    .key(format!("kubernetes.io/cluster/{cluster}"))
                    .value("owned")
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
    });
    name.to_string()
}

#[test]
fn a_classic_load_balancer_is_found_first_and_force_deletes_it_and_its_group() {
    let run = Run::new(Account::new());
    run.create(&small(&run, "svc")).success();
    let lb = classic_load_balancer(&run, "svc");
    let before = ours(&run.account, "svc", "us-west-2");
    let out = teardown(&run, &args(&state_arg(&run))).code(1);
    let text = stdout(&out);
    assert!(
        text.contains(&format!("load-balancer {lb}")) && text.contains("kubectl delete svc"),
        "{text}"
    );
    assert_eq!(
        ours(&run.account, "svc", "us-west-2"),
        before,
        "nothing deleted"
    );

    let mut with_force = state_arg(&run);
    with_force.push("--force".into());
    teardown(&run, &args(&with_force)).success();
    assert_nothing_left(&run.account, "svc", "us-west-2");
    let config = run.account.sdk("us-west-2");
    block_on(async {
        let elb = aws_sdk_elasticloadbalancing::Client::new(&config);
        let lbs = elb.describe_load_balancers().send().await.unwrap();
        assert!(lbs.load_balancer_descriptions().is_empty());
        let ec2 = aws_sdk_ec2::Client::new(&config);
        let groups = ec2
            .describe_security_groups()
            .filters(tag_filter("kubernetes.io/cluster/svc", "owned"))
            .send()
            .await
            .unwrap();
        assert!(
            groups.security_groups().is_empty(),
            "the k8s-elb group is gone"
        );
        let interfaces = ec2.describe_network_interfaces().send().await.unwrap();
        assert!(interfaces
            .network_interfaces()
            .iter()
            .all(|n| !n.description().unwrap_or_default().starts_with("ELB ")));
    });
}

#[test]
fn a_cluster_whose_deletion_is_denied_keeps_its_key_roles_and_logs() {
    let run = Run::new(Account::new());
    run.create(&small(&run, "stuck")).success();
    run.account.deny_delete_cluster("stuck", true);
    let out = teardown(&run, &args(&state_arg(&run))).code(1);
    let text = stdout(&out);
    assert!(
        text.contains("the cluster stuck still exists"),
        "says why it kept things:\n{text}"
    );
    let left = ours(&run.account, "stuck", "us-west-2");
    assert_eq!(left["clusters"], 1);
    assert_eq!(
        left["live keys"], 1,
        "the running cluster's key is not scheduled: {left:?}"
    );
    assert_eq!(
        left["roles"], 3,
        "creator, cluster and vpc-cni roles: {left:?}"
    );
    assert_eq!(left["log groups"], 1, "{left:?}");
    assert_eq!(left["vpcs"], 1, "{left:?}");
    assert!(run.state().exists());

    // Once the deletion is allowed, a rerun finishes.
    run.account.deny_delete_cluster("stuck", false);
    teardown(&run, &args(&state_arg(&run))).success();
    assert_nothing_left(&run.account, "stuck", "us-west-2");
}

#[test]
fn a_key_whose_tags_cannot_be_read_is_skipped_not_fatal() {
    let run = Run::new(Account::new());
    let kms = aws_sdk_kms::Client::new(&run.account.sdk("us-west-2"));
    let theirs = block_on(kms.create_key().send())
        .unwrap()
        .key_metadata()
        .unwrap()
        .key_id()
        .to_string();
    run.account.make_key_tags_unreadable(&theirs);
    run.create(&small(&run, "tags")).success();
    // As if the run had died before naming its key: teardown must find it by its tags.
    block_on(kms.delete_alias().alias_name("alias/eksboot/tags").send()).unwrap();
    std::fs::remove_file(run.state()).unwrap();
    let out = teardown(&run, &["--cluster", "tags", "--region", "us-west-2"]).success();
    let text = stdout(&out);
    assert!(
        text.contains(&format!("skipped KMS key {theirs}")),
        "{text}"
    );
    // Everything of ours is gone; the one live key left is theirs.
    for (kind, n) in ours(&run.account, "tags", "us-west-2") {
        let expected = usize::from(kind == "live keys");
        assert_eq!(n, expected, "{kind}");
    }
    let state = block_on(kms.describe_key().key_id(&theirs).send())
        .unwrap()
        .key_metadata()
        .unwrap()
        .key_state()
        .unwrap()
        .as_str()
        .to_string();
    assert_eq!(state, "Enabled", "their key is untouched");
}

#[test]
fn interfaces_nodes_left_are_deleted_and_others_are_named() {
    let run = Run::new(Account::new());
    run.create(&small(&run, "enis")).success();
    let ec2 = aws_sdk_ec2::Client::new(&run.account.sdk("us-west-2"));
    let (cni, other) = block_on(async {
        let subnets = ec2
            .describe_subnets()
            .filters(tag_filter("eksboot:cluster", "enis"))
            .send()
            .await
            .unwrap();
        let subnet = subnets.subnets()[0].subnet_id().unwrap().to_string();
        let cni = ec2
            .create_network_interface()
            .subnet_id(&subnet)
            .description("aws-K8S-i-0123456789abcdef0")
            .tag_specifications(
                aws_sdk_ec2::types::TagSpecification::builder()
                    .resource_type(aws_sdk_ec2::types::ResourceType::NetworkInterface)
                    .tags(
                        aws_sdk_ec2::types::Tag::builder()
                            .key("cluster.k8s.amazonaws.com/name")
                            .value("enis")
                            .build(),
                    )
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let other = ec2
            .create_network_interface()
            .subnet_id(&subnet)
            .description("a database someone put here")
            .send()
            .await
            .unwrap();
        (
            cni.network_interface()
                .unwrap()
                .network_interface_id()
                .unwrap()
                .to_string(),
            other
                .network_interface()
                .unwrap()
                .network_interface_id()
                .unwrap()
                .to_string(),
        )
    });
    let out = teardown(&run, &args(&state_arg(&run))).code(1);
    let text = stdout(&out);
    assert!(
        text.contains(&format!("network-interface {other}"))
            && text.contains("a database someone put here")
            && text.contains(&format!("owner {}", run.account.id)),
        "{text}"
    );
    let ids: Vec<String> = block_on(ec2.describe_network_interfaces().send())
        .unwrap()
        .network_interfaces()
        .iter()
        .map(|n| n.network_interface_id().unwrap().to_string())
        .collect();
    assert!(!ids.contains(&cni), "the node's leftover is deleted");
    assert!(ids.contains(&other), "someone else's is not");
    assert_eq!(ours(&run.account, "enis", "us-west-2")["vpcs"], 1);

    block_on(
        ec2.delete_network_interface()
            .network_interface_id(&other)
            .send(),
    )
    .unwrap();
    teardown(&run, &args(&state_arg(&run))).success();
    assert_nothing_left(&run.account, "enis", "us-west-2");
}

#[test]
fn a_key_left_untagged_by_a_stopped_run_is_found_by_its_description() {
    let run = Run::new(Account::new());
    let kms = aws_sdk_kms::Client::new(&run.account.sdk("us-west-2"));
    // Someone else's untagged key, described as eksboot's for another region: never touched.
    let theirs = block_on(
        kms.create_key()
            .description(
                "Encrypts Kubernetes secrets of EKS cluster bare in eu-west-1; made by eksboot run run-0000000000",
            )
            .send(),
    )
    .unwrap()
    .key_metadata()
    .unwrap()
    .key_id()
    .to_string();
    run.create(&small(&run, "bare")).success();
    let key = run.journal_id("secrets-key");
    // As if the run had died between CreateKey and tagging the key: no tags, no alias, and no
    // state file to name it.
    block_on(async {
        kms.untag_resource()
            .key_id(&key)
            .set_tag_keys(Some(
                [
                    "eksboot:cluster",
                    "eksboot:region",
                    "eksboot:run",
                    "eksboot:step",
                    "Name",
                ]
                .map(String::from)
                .to_vec(),
            ))
            .send()
            .await
            .unwrap();
        kms.delete_alias()
            .alias_name("alias/eksboot/bare")
            .send()
            .await
            .unwrap();
    });
    std::fs::remove_file(run.state()).unwrap();
    teardown(&run, &["--cluster", "bare", "--region", "us-west-2"]).success();
    let state = |id: &str| {
        block_on(kms.describe_key().key_id(id).send())
            .unwrap()
            .key_metadata()
            .unwrap()
            .key_state()
            .unwrap()
            .as_str()
            .to_string()
    };
    assert_eq!(
        state(&key),
        "PendingDeletion",
        "ours, found by its description"
    );
    assert_eq!(state(&theirs), "Enabled", "theirs is untouched");
    // Scheduled by IAM's leave: the key policy names the caller (the key carries no tag).
    assert!(
        run.account.iam_denials().is_empty(),
        "{:#?}",
        run.account.iam_denials()
    );
}
