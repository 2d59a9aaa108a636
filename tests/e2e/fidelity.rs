//! The create path as real AWS has it: add-ons that are DEGRADED until their pods find nodes,
//! add-ons that fail, a key named by its alias, and half-made resources a resume finishes.
//! Every claim is read back from AWS.

use std::path::PathBuf;

use crate::create::{tag_filter, Run};
use crate::harness::{block_on, root, Account, Moto};

fn write(run: &Run, name: &str, body: &str) -> PathBuf {
    let path = run.dir.path().join(name);
    std::fs::write(&path, body).unwrap();
    path
}

/// A small cluster with nodes and coredns, in public subnets.
fn small(run: &Run, name: &str) -> PathBuf {
    write(
        run,
        "small.toml",
        &format!(
            "[cluster]\nname = \"{name}\"\nregion = \"us-west-2\"\noidc_provider = false\n\
             addons = [\"vpc-cni\", \"coredns\"]\n[network]\npattern = \"public\"\n"
        ),
    )
}

fn addon(run: &Run, cluster: &str, name: &str) -> aws_sdk_eks::types::Addon {
    let eks = aws_sdk_eks::Client::new(&run.account.sdk("us-west-2"));
    block_on(
        eks.describe_addon()
            .cluster_name(cluster)
            .addon_name(name)
            .send(),
    )
    .unwrap()
    .addon()
    .unwrap()
    .clone()
}

/// The version EKS marks as the default of `addon` for the cluster's Kubernetes version.
fn default_version(run: &Run, cluster: &str, name: &str) -> String {
    let eks = aws_sdk_eks::Client::new(&run.account.sdk("us-west-2"));
    block_on(async {
        let c = eks.describe_cluster().name(cluster).send().await.unwrap();
        let k8s = c.cluster().unwrap().version().unwrap().to_string();
        let out = eks
            .describe_addon_versions()
            .addon_name(name)
            .kubernetes_version(&k8s)
            .send()
            .await
            .unwrap();
        let versions = out.addons()[0].addon_versions();
        assert!(versions.len() > 1, "more than one version to pick from");
        versions
            .iter()
            .find(|v| {
                v.compatibilities()
                    .iter()
                    .any(|c| c.cluster_version() == Some(k8s.as_str()) && c.default_version())
            })
            .and_then(|v| v.addon_version())
            .unwrap()
            .to_string()
    })
}

fn stderr(out: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&out.get_output().stderr).to_string()
}

#[test]
fn coredns_is_degraded_until_its_pods_find_nodes_then_active_at_the_default_version() {
    // The add-on is held DEGRADED (its pods unscheduled) until the test lets them run: the test
    // sees DEGRADED in DescribeAddon, with the nodes ACTIVE and eksboot still waiting.
    let run = Run::new(Account::new());
    run.account
        .set_addon_fault("dns", "coredns", "stays-degraded");
    let mut child = run.spawn_create(&small(&run, "dns"));
    let eks = aws_sdk_eks::Client::new(&run.account.sdk("us-west-2"));
    let seen = || {
        block_on(async {
            let nodes = eks
                .list_nodegroups()
                .cluster_name("dns")
                .send()
                .await
                .ok()?;
            let group = nodes.nodegroups().first()?.clone();
            let group = eks
                .describe_nodegroup()
                .cluster_name("dns")
                .nodegroup_name(group)
                .send()
                .await
                .ok()?;
            let addon = eks
                .describe_addon()
                .cluster_name("dns")
                .addon_name("coredns")
                .send()
                .await
                .ok()?;
            let addon = addon.addon()?;
            let issues: Vec<String> = addon
                .health()
                .map(|h| h.issues())
                .unwrap_or_default()
                .iter()
                .filter_map(|i| i.code().map(|c| c.as_str().to_string()))
                .collect();
            Some(format!(
                "node group {}, coredns {} {issues:?}",
                group.nodegroup()?.status()?.as_str(),
                addon.status()?.as_str()
            ))
        })
    };
    let want = r#"node group ACTIVE, coredns DEGRADED ["InsufficientNumberOfReplicas"]"#;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let mut last = seen();
    while last.as_deref() != Some(want) {
        if std::time::Instant::now() > deadline || child.try_wait().unwrap().is_some() {
            let _ = child.kill();
            panic!("never saw {want} with eksboot waiting; last saw {last:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
        last = seen();
    }
    assert!(
        child.try_wait().unwrap().is_none(),
        "eksboot still waits for coredns while it is DEGRADED"
    );
    run.account.set_addon_fault("dns", "coredns", "none");
    assert!(
        child.wait().unwrap().success(),
        "the create finishes once coredns is healthy"
    );
    let coredns = addon(&run, "dns", "coredns");
    assert_eq!(coredns.status().unwrap().as_str(), "ACTIVE");
    assert_eq!(
        coredns.addon_version().unwrap(),
        default_version(&run, "dns", "coredns")
    );
    assert_eq!(
        addon(&run, "dns", "vpc-cni").addon_version().unwrap(),
        default_version(&run, "dns", "vpc-cni")
    );
}

#[test]
fn an_add_on_that_fails_to_create_fails_the_step_naming_its_health_issue() {
    let run = Run::new(Account::new());
    run.account
        .set_addon_fault("broken", "coredns", "create-failed");
    let out = run.create(&small(&run, "broken")).code(1);
    let text = stderr(&out);
    assert!(
        text.contains("coredns failed to create: ConfigurationConflict"),
        "{text}"
    );
    assert_eq!(
        addon(&run, "broken", "coredns").status().unwrap().as_str(),
        "CREATE_FAILED"
    );
}

#[test]
fn an_add_on_still_degraded_after_its_budget_fails_and_a_resume_waits_again() {
    let run = Run::new(Account::new());
    run.account
        .set_addon_fault("slow", "coredns", "stays-degraded");
    let profile = small(&run, "slow");
    run.account.authorize(&profile, &[]);
    let out = run
        .account
        .eksboot()
        .env("EKSBOOT_POLL_MS", "100")
        .env("EKSBOOT_RETRY_MS", "50")
        .env("EKSBOOT_ADDON_HEALTH_MS", "1500")
        .args(["create", "--yes", "--profile"])
        .arg(&profile)
        .arg("--state")
        .arg(run.state())
        .arg("--kubeconfig")
        .arg(run.kubeconfig())
        .assert()
        .code(1);
    let text = stderr(&out);
    assert!(
        text.contains("coredns is still DEGRADED") && text.contains("InsufficientNumberOfReplicas"),
        "{text}"
    );
    // The pods get scheduled after all: the same command finishes.
    run.account.set_addon_fault("slow", "coredns", "none");
    run.create(&profile).success();
    assert_eq!(
        addon(&run, "slow", "coredns").status().unwrap().as_str(),
        "ACTIVE"
    );
}

#[test]
fn a_key_named_by_its_alias_encrypts_with_the_key_itself() {
    let run = Run::new(Account::new());
    let config = run.account.sdk("us-west-2");
    let kms = aws_sdk_kms::Client::new(&config);
    let key_arn = block_on(async {
        let key = kms.create_key().send().await.unwrap();
        let meta = key.key_metadata().unwrap();
        kms.create_alias()
            .alias_name("alias/team-secrets")
            .target_key_id(meta.key_id())
            .send()
            .await
            .unwrap();
        meta.arn().unwrap().to_string()
    });
    let id = &run.account.id;
    let profile = write(
        &run,
        "aliased.toml",
        &format!(
            "[cluster]\nname = \"aliased\"\nregion = \"us-west-2\"\noidc_provider = false\n\
             [security]\nsecrets_key = \"arn:aws:kms:us-west-2:{id}:alias/team-secrets\"\n\
             [network]\npattern = \"public\"\n[nodes]\nenabled = false\n"
        ),
    );
    run.create(&profile).success();
    block_on(async {
        let eks = aws_sdk_eks::Client::new(&config);
        let c = eks.describe_cluster().name("aliased").send().await.unwrap();
        let encryption = c.cluster().unwrap().encryption_config();
        let provider = encryption[0].provider().unwrap();
        assert_eq!(
            provider.key_arn(),
            Some(key_arn.as_str()),
            "the key, not its alias"
        );
        let iam = aws_sdk_iam::Client::new(&config);
        let policy = iam
            .get_role_policy()
            .role_name("aliased-creator")
            .policy_name("eksboot-create-cluster")
            .send()
            .await
            .unwrap();
        let text = percent_encoding::percent_decode_str(policy.policy_document())
            .decode_utf8_lossy()
            .to_string();
        let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
        let key_statement = doc["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["Sid"] == "UseTheSecretsKey")
            .unwrap();
        assert_eq!(key_statement["Resource"], key_arn.as_str());
    });
}

#[test]
fn a_security_group_adopted_without_its_rule_gets_it_on_resume() {
    let run = Run::new(Account::new());
    let profile = root("profiles/private.toml");
    run.create(&profile).success();
    let ec2 = aws_sdk_ec2::Client::new(&run.account.sdk("eu-west-1"));
    let group = |ec2: &aws_sdk_ec2::Client| {
        block_on(
            ec2.describe_security_groups()
                .filters(tag_filter("eksboot:step", "endpoints-sg"))
                .filters(tag_filter("eksboot:cluster", "private"))
                .send(),
        )
        .unwrap()
        .security_groups()[0]
            .clone()
    };
    let sg = group(&ec2);
    assert_eq!(sg.ip_permissions().len(), 1, "HTTPS from the VPC");
    // As if the first run had died between making the group and adding its rule.
    block_on(
        ec2.revoke_security_group_ingress()
            .group_id(sg.group_id().unwrap())
            .set_ip_permissions(Some(sg.ip_permissions().to_vec()))
            .send(),
    )
    .unwrap();
    assert!(group(&ec2).ip_permissions().is_empty());
    run.create(&profile).success();
    let rules = group(&ec2).ip_permissions().to_vec();
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0].from_port(), Some(443));
    assert_eq!(rules[0].ip_ranges()[0].cidr_ip(), Some("10.30.0.0/16"));
}

#[test]
fn the_node_group_waits_for_slow_interface_endpoints() {
    // Nodes in the private pattern reach AWS only through the endpoints: launched before they
    // are available, they never join (the emulator fails such a node group).
    let server = Moto::start();
    server.set_transition("ec2::vpc_endpoint", 3);
    let run = Run::new(Account::on(&server));
    run.create(&root("profiles/private.toml")).success();
    let eks = aws_sdk_eks::Client::new(&run.account.sdk("eu-west-1"));
    let group = block_on(
        eks.describe_nodegroup()
            .cluster_name("private")
            .nodegroup_name("private-default")
            .send(),
    )
    .unwrap();
    assert_eq!(
        group.nodegroup().unwrap().status().unwrap().as_str(),
        "ACTIVE"
    );
}
