//! Safe and affordable by default (issue 23): a cluster from a profile with only the required
//! fields has standard support, deletion protection, self-repairing nodes and AL2023; a
//! Bottlerocket profile gets Bottlerocket's AMI type and its two encrypted gp3 volumes; apply
//! moves an existing cluster to the profile's support, protection and repair; teardown turns a
//! protected cluster's protection off after the confirmation, and deletes nothing if it cannot.
//! Read back from AWS (the emulator) through the SDK.

use std::path::{Path, PathBuf};

use crate::create::Run;
use crate::harness::{block_on, Account};
use crate::teardown::{assert_nothing_left, ours, teardown};

const REGION: &str = "us-west-2";

fn write_profile(run: &Run, text: &str) -> PathBuf {
    let path = run.dir.path().join("profile.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn eks(run: &Run) -> aws_sdk_eks::Client {
    aws_sdk_eks::Client::new(&run.account.sdk(REGION))
}

fn cluster(run: &Run, name: &str) -> aws_sdk_eks::types::Cluster {
    block_on(eks(run).describe_cluster().name(name).send())
        .unwrap()
        .cluster()
        .unwrap()
        .clone()
}

fn nodegroup(run: &Run, name: &str) -> aws_sdk_eks::types::Nodegroup {
    let eks = eks(run);
    let names = block_on(crate::harness::all_nodegroups(&eks, name))
        .unwrap()
        .nodegroups()
        .to_vec();
    assert_eq!(names.len(), 1, "{names:?}");
    block_on(
        eks.describe_nodegroup()
            .cluster_name(name)
            .nodegroup_name(&names[0])
            .send(),
    )
    .unwrap()
    .nodegroup()
    .unwrap()
    .clone()
}

fn support(c: &aws_sdk_eks::types::Cluster) -> String {
    c.upgrade_policy()
        .and_then(|u| u.support_type())
        .map(|s| s.as_str().to_string())
        .unwrap_or_default()
}

fn repair(n: &aws_sdk_eks::types::Nodegroup) -> Option<bool> {
    n.node_repair_config().and_then(|r| r.enabled())
}

/// eksboot as the runner, holding the policy printed for the profile it is given.
fn eksboot(run: &Run, command: &str, profile: &Path) -> assert_cmd::assert::Assert {
    run.account.authorize(profile, &[]);
    run.account
        .eksboot()
        .env("EKSBOOT_POLL_MS", "100")
        .env("EKSBOOT_RETRY_MS", "50")
        .args([command, "--profile", profile.to_str().unwrap(), "--state"])
        .arg(run.state())
        .args(["--yes", "--kubeconfig"])
        .arg(run.kubeconfig())
        .assert()
}

fn stdout(a: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&a.get_output().stdout).to_string()
}

#[test]
fn only_the_required_fields_give_standard_support_protection_repair_and_al2023_and_teardown_still_leaves_nothing(
) {
    let run = Run::new(Account::new());
    let profile = write_profile(
        &run,
        "version = 1\n[cluster]\nname = \"bare\"\nregion = \"us-west-2\"\n",
    );
    run.create(&profile).success();
    let c = cluster(&run, "bare");
    assert_eq!(support(&c), "STANDARD");
    assert_eq!(c.deletion_protection(), Some(true));
    let n = nodegroup(&run, "bare");
    assert_eq!(repair(&n), Some(true));
    let ami = n.ami_type().unwrap().as_str().to_string();
    assert!(ami.starts_with("AL2023_"), "{ami}");

    // Protected: EKS itself refuses to delete it.
    let refused = block_on(eks(&run).delete_cluster().name("bare").send()).unwrap_err();
    assert_eq!(
        refused.as_service_error().and_then(|e| e.meta().code()),
        Some("InvalidRequestException")
    );

    // Teardown says it turns the protection off, does so after --yes, and deletes it all.
    let out = teardown(&run, &["--state", run.state().to_str().unwrap()]).success();
    let text = stdout(&out);
    assert!(text.contains("turn off deletion protection"), "{text}");
    assert!(text.contains("Nothing is left"), "{text}");
    assert_nothing_left(&run.account, "bare", REGION);
}

#[test]
fn a_bottlerocket_profile_gets_bottlerocket_and_its_two_encrypted_gp3_volumes() {
    let run = Run::new(Account::new());
    let profile = write_profile(
        &run,
        r#"version = 1
[cluster]
name = "rocket"
region = "us-west-2"
deletion_protection = false
[network]
pattern = "public"
vpc_cidr = "10.31.0.0/16"
availability_zones = 2
[nodes]
instance_types = ["t3.medium"]
disk_size_gib = 40
os = "bottlerocket"
"#,
    );
    run.create(&profile).success();
    let n = nodegroup(&run, "rocket");
    assert_eq!(n.ami_type().unwrap().as_str(), "BOTTLEROCKET_x86_64");
    let template = n.launch_template().unwrap();
    let ec2 = aws_sdk_ec2::Client::new(&run.account.sdk(REGION));
    let versions = block_on(
        ec2.describe_launch_template_versions()
            .launch_template_id(template.id().unwrap())
            .versions(template.version().unwrap())
            .send(),
    )
    .unwrap();
    let data = versions.launch_template_versions()[0]
        .launch_template_data()
        .unwrap()
        .clone();
    let volumes: Vec<(String, i32, String, bool)> = data
        .block_device_mappings()
        .iter()
        .map(|m| {
            let ebs = m.ebs().unwrap();
            (
                m.device_name().unwrap().to_string(),
                ebs.volume_size().unwrap(),
                ebs.volume_type().unwrap().as_str().to_string(),
                ebs.encrypted().unwrap(),
            )
        })
        .collect();
    assert_eq!(volumes.len(), 2, "{volumes:?}");
    assert_eq!(volumes[0].0, "/dev/xvda");
    assert!(volumes[0].1 >= 2, "{volumes:?}");
    assert_eq!(
        volumes[1],
        ("/dev/xvdb".to_string(), 40, "gp3".to_string(), true)
    );
    assert!(volumes.iter().all(|v| v.2 == "gp3" && v.3), "{volumes:?}");
    let metadata = data.metadata_options().unwrap();
    assert_eq!(metadata.http_put_response_hop_limit(), Some(1));
    assert_eq!(metadata.http_tokens().unwrap().as_str(), "required");
    assert!(data.user_data().is_none());
    // Unprotected as written: teardown has nothing to turn off.
    let out = teardown(&run, &["--state", run.state().to_str().unwrap()]).success();
    assert!(!stdout(&out).contains("turn off deletion protection"));
    assert_nothing_left(&run.account, "rocket", REGION);
}

const DAY_TWO: &str = r#"version = 1
[cluster]
name = "moving"
region = "us-west-2"
oidc_provider = false
[network]
pattern = "public"
vpc_cidr = "10.32.0.0/16"
availability_zones = 2
[nodes]
instance_types = ["t3.medium"]
"#;

#[test]
fn apply_moves_a_cluster_to_the_profiles_support_protection_and_repair() {
    let run = Run::new(Account::new());
    let old = DAY_TWO.replace(
        "oidc_provider = false\n",
        "oidc_provider = false\nsupport = \"extended\"\ndeletion_protection = false\n",
    ) + "auto_repair = false\n";
    let profile = write_profile(&run, &old);
    eksboot(&run, "create", &profile).success();
    let c = cluster(&run, "moving");
    assert_eq!(
        (support(&c), c.deletion_protection()),
        ("EXTENDED".into(), Some(false))
    );
    assert_eq!(repair(&nodegroup(&run, "moving")), Some(false));

    // The new defaults: standard, protected, repaired.
    write_profile(&run, DAY_TWO);
    eksboot(&run, "apply", &profile).success();
    let c = cluster(&run, "moving");
    assert_eq!(
        (support(&c), c.deletion_protection()),
        ("STANDARD".into(), Some(true))
    );
    assert_eq!(repair(&nodegroup(&run, "moving")), Some(true));
    // One UpdateClusterConfig per kind, each an update EKS recorded.
    let updates = block_on(eks(&run).list_updates().name("moving").send()).unwrap();
    let mut kinds = Vec::new();
    for id in updates.update_ids() {
        let u = block_on(
            eks(&run)
                .describe_update()
                .name("moving")
                .update_id(id)
                .send(),
        )
        .unwrap();
        kinds.push(u.update().unwrap().r#type().unwrap().as_str().to_string());
    }
    assert!(
        kinds.contains(&"UpgradePolicyUpdate".to_string()),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&"DeletionProtectionUpdate".to_string()),
        "{kinds:?}"
    );
    // A second apply has nothing left to do.
    eksboot(&run, "apply", &profile).success();
    let out = teardown(&run, &["--state", run.state().to_str().unwrap()]).success();
    assert!(stdout(&out).contains("Nothing is left"));
    assert_nothing_left(&run.account, "moving", REGION);
}

#[test]
fn a_denied_turn_off_deletes_nothing_and_names_the_action() {
    let run = Run::new(Account::new());
    let profile = write_profile(&run, DAY_TWO);
    eksboot(&run, "create", &profile).success();
    let before = ours(&run.account, "moving", REGION);
    // Whoever turns the protection off (the creator role) may not: an explicit deny.
    let iam = aws_sdk_iam::Client::new(&run.account.sdk("us-east-1"));
    let deny = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Deny", "Action": "eks:UpdateClusterConfig", "Resource": "*"}]
    });
    block_on(
        iam.put_role_policy()
            .role_name("moving-creator")
            .policy_name("no-protection-off")
            .policy_document(deny.to_string())
            .send(),
    )
    .unwrap();
    // Past IAM's propagation (the emulator denies a changed role's calls for a moment).
    std::thread::sleep(std::time::Duration::from_secs(2));
    let out = teardown(&run, &["--state", run.state().to_str().unwrap()]).failure();
    let text = stdout(&out);
    assert!(text.contains("eks:UpdateClusterConfig"), "{text}");
    assert!(text.contains("nothing was deleted"), "{text}");
    // Nothing deleted, still protected, the state file kept.
    assert_eq!(ours(&run.account, "moving", REGION), before);
    assert_eq!(cluster(&run, "moving").deletion_protection(), Some(true));
    assert!(run.state().exists());

    // Allowed again: teardown finishes.
    block_on(
        iam.delete_role_policy()
            .role_name("moving-creator")
            .policy_name("no-protection-off")
            .send(),
    )
    .unwrap();
    std::thread::sleep(std::time::Duration::from_secs(2));
    teardown(&run, &["--state", run.state().to_str().unwrap()]).success();
    assert_nothing_left(&run.account, "moving", REGION);
}

#[test]
fn standard_support_past_its_end_is_refused_with_the_way_out() {
    let run = Run::new(Account::new());
    let old = DAY_TWO.replace(
        "oidc_provider = false\n",
        "oidc_provider = false\nkubernetes_version = \"1.31\"\nsupport = \"extended\"\ndeletion_protection = false\n",
    );
    let profile = write_profile(&run, &old);
    eksboot(&run, "create", &profile).success();
    assert_eq!(support(&cluster(&run, "moving")), "EXTENDED");
    // 1.31 left standard support in the emulator's table: EKS refuses STANDARD.
    write_profile(&run, &old.replace("support = \"extended\"\n", ""));
    let out = eksboot(&run, "apply", &profile).failure();
    let text = format!(
        "{}{}",
        stdout(&out),
        String::from_utf8_lossy(&out.get_output().stderr)
    );
    assert!(text.contains("eksboot upgrade"), "{text}");
    assert!(text.contains("standard support"), "{text}");
    assert_eq!(support(&cluster(&run, "moving")), "EXTENDED");
}

#[test]
fn a_new_node_os_replaces_the_node_group_on_bottlerocket_volumes() {
    let run = Run::new(Account::new());
    let old = DAY_TWO.replace(
        "oidc_provider = false\n",
        "oidc_provider = false\ndeletion_protection = false\n",
    );
    let profile = write_profile(&run, &old);
    eksboot(&run, "create", &profile).success();
    let before = nodegroup(&run, "moving");
    assert!(before.ami_type().unwrap().as_str().starts_with("AL2023_"));
    // The old node group is drained through the cluster's API (here the test API server).
    let api = crate::harness::KubeApi::start();
    api.serve_cluster(&run.account, REGION, "moving");
    write_profile(&run, &(old.clone() + "os = \"bottlerocket\"\n"));
    eksboot(&run, "apply", &profile).success();
    let after = nodegroup(&run, "moving");
    assert_ne!(after.nodegroup_name(), before.nodegroup_name());
    assert_eq!(after.ami_type().unwrap().as_str(), "BOTTLEROCKET_x86_64");
    // The new node group runs a template version with Bottlerocket's two volumes.
    let template = after.launch_template().unwrap();
    let ec2 = aws_sdk_ec2::Client::new(&run.account.sdk(REGION));
    let versions = block_on(
        ec2.describe_launch_template_versions()
            .launch_template_id(template.id().unwrap())
            .versions(template.version().unwrap())
            .send(),
    )
    .unwrap();
    let devices: Vec<String> = versions.launch_template_versions()[0]
        .launch_template_data()
        .unwrap()
        .block_device_mappings()
        .iter()
        .map(|m| m.device_name().unwrap().to_string())
        .collect();
    assert_eq!(devices, ["/dev/xvda", "/dev/xvdb"]);
}

/// A state file written before these fields existed: the cluster was made as eksboot made them
/// then (extended support, no protection, no repair, the CNI policy on the node role), and the
/// state's stored profile lacks the fields. The same profile file (which never wrote them)
/// resumes without "the profile changed" and changes nothing; `plan` shows each move to the new
/// defaults; `apply` makes them; teardown leaves nothing. Read from AWS.
#[test]
fn a_state_file_from_before_the_fields_resumes_then_apply_moves_it_to_the_new_defaults() {
    let run = Run::new(Account::new());
    let profile_text = DAY_TWO
        .replace("\"moving\"", "\"legacy\"")
        .replace("10.32.", "10.33.");
    let old = profile_text.replace(
        "oidc_provider = false\n",
        "oidc_provider = false\nsupport = \"extended\"\ndeletion_protection = false\n[security]\naddon_permissions = \"node-role\"\n",
    ) + "auto_repair = false\n";
    let profile = write_profile(&run, &old);
    eksboot(&run, "create", &profile).success();
    // The state file as an older eksboot wrote it: no trace of the fields.
    let mut state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.state()).unwrap()).unwrap();
    for (section, key) in [
        ("cluster", "support"),
        ("cluster", "deletion_protection"),
        ("security", "addon_permissions"),
        ("nodes", "auto_repair"),
        ("nodes", "os"),
    ] {
        state["settings"][section]
            .as_object_mut()
            .unwrap()
            .remove(key);
    }
    std::fs::write(run.state(), serde_json::to_string_pretty(&state).unwrap()).unwrap();
    let node_policies = |run: &Run| {
        let iam = aws_sdk_iam::Client::new(&run.account.sdk(REGION));
        block_on(
            iam.list_attached_role_policies()
                .role_name("legacy-node")
                .send(),
        )
        .unwrap()
        .attached_policies()
        .iter()
        .map(|p| p.policy_name().unwrap().to_string())
        .collect::<Vec<_>>()
    };
    let before = |run: &Run| {
        let c = cluster(run, "legacy");
        (
            support(&c),
            c.deletion_protection(),
            repair(&nodegroup(run, "legacy")),
            node_policies(run).contains(&"AmazonEKS_CNI_Policy".to_string()),
        )
    };
    assert_eq!(
        before(&run),
        ("EXTENDED".into(), Some(false), Some(false), true)
    );

    // The profile file never wrote the fields: a resume goes on, and moves nothing.
    write_profile(&run, &profile_text);
    let out = eksboot(&run, "create", &profile).success();
    assert!(stdout(&out).contains(" 0 created"), "{}", stdout(&out));
    assert_eq!(
        before(&run),
        ("EXTENDED".into(), Some(false), Some(false), true)
    );

    // plan shows each move to the new defaults; apply makes them.
    let plan = run
        .account
        .eksboot()
        .args(["plan", "--profile", profile.to_str().unwrap(), "--state"])
        .arg(run.state())
        .assert()
        .success();
    let plan = stdout(&plan);
    for field in [
        "cluster.support",
        "cluster.deletion_protection",
        "security.addon_permissions",
        "nodes.auto_repair",
    ] {
        assert!(plan.contains(field), "{field} in:\n{plan}");
    }
    eksboot(&run, "apply", &profile).success();
    let c = cluster(&run, "legacy");
    assert_eq!(support(&c), "STANDARD");
    assert_eq!(c.deletion_protection(), Some(true));
    assert_eq!(repair(&nodegroup(&run, "legacy")), Some(true));
    assert!(!node_policies(&run).contains(&"AmazonEKS_CNI_Policy".to_string()));
    let addon = block_on(
        eks(&run)
            .describe_addon()
            .cluster_name("legacy")
            .addon_name("vpc-cni")
            .send(),
    )
    .unwrap();
    assert_eq!(
        addon.addon().unwrap().pod_identity_associations().len(),
        1,
        "vpc-cni has its role through Pod Identity"
    );
    let out = teardown(&run, &["--state", run.state().to_str().unwrap()]).success();
    assert!(stdout(&out).contains("Nothing is left"));
    assert_nothing_left(&run.account, "legacy", REGION);
}
