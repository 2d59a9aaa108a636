//! Add-on permissions through EKS Pod Identity (issue 23): vpc-cni and aws-ebs-csi-driver get
//! a role each (`<cluster>-vpc-cni`, `<cluster>-ebs-csi`), trusted by pods.eks.amazonaws.com,
//! handed over by the add-on's pod identity association; the node role keeps only what nodes
//! need; the EBS CSI driver gets the cluster's name as its cluster id. A cluster made with the
//! CNI's policy on the node role moves on `apply` in an order that never leaves the CNI without
//! permissions, read from the emulator's log of evaluated requests. Everything is read back
//! from AWS (the emulator) through the SDK, as eksboot runs with only its printed policy.

use std::path::{Path, PathBuf};

use crate::create::Run;
use crate::harness::{block_on, Account};

const REGION: &str = "us-west-2";
const CNI_POLICY: &str = "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy";
const EBS_POLICY: &str = "arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy";

fn profile_text(name: &str, cidr: &str, cluster_extra: &str, security: &str) -> String {
    format!(
        r#"version = 1
[cluster]
name = "{name}"
region = "us-west-2"
log_retention_days = 30
admins = []
oidc_provider = false
deletion_protection = false
{cluster_extra}
[security]
{security}
[network]
pattern = "public"
vpc_cidr = "{cidr}"
availability_zones = 2
[nodes]
instance_types = ["t3.medium"]
min_size = 1
desired_size = 2
max_size = 3
"#
    )
}

fn write_profile(run: &Run, text: &str) -> PathBuf {
    let path = run.dir.path().join("profile.toml");
    std::fs::write(&path, text).unwrap();
    path
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

fn eks(run: &Run) -> aws_sdk_eks::Client {
    aws_sdk_eks::Client::new(&run.account.sdk(REGION))
}

fn iam(run: &Run) -> aws_sdk_iam::Client {
    aws_sdk_iam::Client::new(&run.account.sdk(REGION))
}

fn attached(run: &Run, role: &str) -> Vec<String> {
    block_on(
        iam(run)
            .list_attached_role_policies()
            .role_name(role)
            .send(),
    )
    .unwrap()
    .attached_policies()
    .iter()
    .filter_map(|p| p.policy_arn().map(str::to_string))
    .collect()
}

fn addon(run: &Run, cluster: &str, name: &str) -> aws_sdk_eks::types::Addon {
    block_on(
        eks(run)
            .describe_addon()
            .cluster_name(cluster)
            .addon_name(name)
            .send(),
    )
    .unwrap()
    .addon()
    .unwrap()
    .clone()
}

/// The (service account, namespace, role ARN) of each association an add-on owns, read by ARN.
fn associations(run: &Run, cluster: &str, name: &str) -> Vec<(String, String, String)> {
    let eks = eks(run);
    addon(run, cluster, name)
        .pod_identity_associations()
        .iter()
        .map(|arn| {
            let id = arn.rsplit('/').next().unwrap();
            let a = block_on(
                eks.describe_pod_identity_association()
                    .cluster_name(cluster)
                    .association_id(id)
                    .send(),
            )
            .unwrap()
            .association()
            .unwrap()
            .clone();
            (
                a.service_account().unwrap_or_default().to_string(),
                a.namespace().unwrap_or_default().to_string(),
                a.role_arn().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn role_arn(run: &Run, name: &str) -> String {
    format!("arn:aws:iam::{}:role/{name}", run.account.id)
}

/// The role's trust policy lets EKS Pod Identity assume it and tag the session, and nothing else.
fn assert_pod_identity_trust(run: &Run, role: &str) {
    let got = block_on(iam(run).get_role().role_name(role).send()).unwrap();
    let document = got.role().unwrap().assume_role_policy_document().unwrap();
    // IAM answers with the document URL-encoded.
    let trust = crate::create::decode(document);
    let statements = trust["Statement"].as_array().unwrap();
    assert_eq!(statements.len(), 1, "{trust}");
    assert_eq!(
        statements[0]["Principal"]["Service"], "pods.eks.amazonaws.com",
        "{trust}"
    );
    assert_eq!(
        statements[0]["Action"],
        serde_json::json!(["sts:AssumeRole", "sts:TagSession"]),
        "{trust}"
    );
}

#[test]
fn the_cni_and_the_ebs_csi_driver_get_their_own_roles_and_the_node_role_keeps_only_what_nodes_need()
{
    let run = Run::new(Account::new());
    let text = profile_text(
        "ids",
        "10.61.0.0/16",
        r#"addons = ["vpc-cni", "kube-proxy", "coredns", "eks-pod-identity-agent", "aws-ebs-csi-driver"]"#,
        "",
    );
    let profile = write_profile(&run, &text);
    eksboot(&run, "create", &profile).success();

    // vpc-cni: its service account aws-node, in kube-system, uses ids-vpc-cni, which holds the
    // CNI's policy and trusts EKS Pod Identity.
    assert_eq!(
        associations(&run, "ids", "vpc-cni"),
        [(
            "aws-node".to_string(),
            "kube-system".to_string(),
            role_arn(&run, "ids-vpc-cni")
        )]
    );
    assert_eq!(attached(&run, "ids-vpc-cni"), [CNI_POLICY]);
    assert_pod_identity_trust(&run, "ids-vpc-cni");

    // The EBS CSI driver's controller uses ids-ebs-csi, and knows the cluster's name.
    assert_eq!(
        associations(&run, "ids", "aws-ebs-csi-driver"),
        [(
            "ebs-csi-controller-sa".to_string(),
            "kube-system".to_string(),
            role_arn(&run, "ids-ebs-csi")
        )]
    );
    assert_eq!(attached(&run, "ids-ebs-csi"), [EBS_POLICY]);
    assert_pod_identity_trust(&run, "ids-ebs-csi");
    let config: serde_json::Value = serde_json::from_str(
        addon(&run, "ids", "aws-ebs-csi-driver")
            .configuration_values()
            .unwrap_or("{}"),
    )
    .unwrap();
    assert_eq!(config["controller"]["k8sTagClusterId"], "ids", "{config}");

    // Add-ons without a role get no association; the node role lacks the CNI's policy.
    assert!(addon(&run, "ids", "coredns")
        .pod_identity_associations()
        .is_empty());
    let node = attached(&run, "ids-node");
    assert!(!node.iter().any(|p| p == CNI_POLICY), "{node:?}");
    for needed in [
        "AmazonEKSWorkerNodePolicy",
        "AmazonEC2ContainerRegistryPullOnly",
        "AmazonSSMManagedInstanceCore",
    ] {
        assert!(
            node.iter().any(|p| p.ends_with(&format!("/{needed}"))),
            "{needed} missing: {node:?}"
        );
    }
    // Nothing was denied: the printed policies cover it.
    assert_eq!(run.account.iam_denials(), Vec::<String>::new());

    // Teardown takes the add-on roles with everything else.
    crate::teardown::teardown(&run, &["--state", run.state().to_str().unwrap()]).success();
    for role in ["ids-vpc-cni", "ids-ebs-csi"] {
        assert_eq!(
            crate::harness::error_code(block_on(iam(&run).get_role().role_name(role).send())),
            "NoSuchEntity",
            "{role} left behind"
        );
    }
    crate::teardown::assert_nothing_left(&run.account, "ids", REGION);
}

/// The index in the IAM log of the first request matching `pred`, after `from`.
fn position(
    log: &[serde_json::Value],
    from: usize,
    what: &str,
    pred: impl Fn(&serde_json::Value) -> bool,
) -> usize {
    log.iter()
        .enumerate()
        .skip(from)
        .find(|(_, r)| r["allowed"] == true && pred(r))
        .map(|(i, _)| i)
        .unwrap_or_else(|| panic!("no allowed request {what} after #{from}"))
}

fn on(request: &serde_json::Value, action: &str, resource_part: &str) -> bool {
    request["action"] == action
        && request["checks"].as_array().into_iter().flatten().any(|c| {
            c["action"] == action && c["resource"].as_str().unwrap_or("").contains(resource_part)
        })
}

#[test]
fn a_cluster_made_with_the_cni_on_the_node_role_moves_to_pod_identity_in_the_safe_order() {
    let run = Run::new(Account::new());
    let old = profile_text(
        "mv",
        "10.62.0.0/16",
        "",
        r#"addon_permissions = "node-role""#,
    );
    let profile = write_profile(&run, &old);
    eksboot(&run, "create", &profile).success();
    // As made before: the CNI's policy on the node role, no role of its own.
    assert!(attached(&run, "mv-node").iter().any(|p| p == CNI_POLICY));
    assert!(associations(&run, "mv", "vpc-cni").is_empty());
    assert_eq!(
        crate::harness::error_code(block_on(
            iam(&run).get_role().role_name("mv-vpc-cni").send()
        )),
        "NoSuchEntity"
    );

    // The line removed: the default (Pod Identity, the agent being listed) applies.
    write_profile(&run, &profile_text("mv", "10.62.0.0/16", "", ""));
    let plan = run
        .account
        .eksboot()
        .args(["plan", "--profile", profile.to_str().unwrap(), "--state"])
        .arg(run.state())
        .assert()
        .success();
    let shown = String::from_utf8_lossy(&plan.get_output().stdout).to_string();
    assert!(shown.contains("security.addon_permissions"), "{shown}");
    let before = run.account.iam_log()["requests"]
        .as_array()
        .map_or(0, Vec::len);
    eksboot(&run, "apply", &profile).success();

    // Read back: the move is done.
    assert_eq!(
        associations(&run, "mv", "vpc-cni"),
        [(
            "aws-node".to_string(),
            "kube-system".to_string(),
            role_arn(&run, "mv-vpc-cni")
        )]
    );
    assert_eq!(attached(&run, "mv-vpc-cni"), [CNI_POLICY]);
    let node = attached(&run, "mv-node");
    assert!(!node.iter().any(|p| p == CNI_POLICY), "{node:?}");

    // In the order that never leaves the CNI without permissions: the role (with its policy),
    // the association, every node rolled (and the roll waited for), only then the detach.
    let log = run.account.iam_log()["requests"]
        .as_array()
        .unwrap()
        .clone();
    let role = position(&log, before, "CreateRole mv-vpc-cni", |r| {
        on(r, "iam:CreateRole", ":role/mv-vpc-cni")
    });
    let policy = position(&log, role, "AttachRolePolicy mv-vpc-cni", |r| {
        on(r, "iam:AttachRolePolicy", ":role/mv-vpc-cni")
    });
    let association = position(&log, policy, "UpdateAddon vpc-cni with its role", |r| {
        on(r, "eks:UpdateAddon", ":addon/mv/vpc-cni/")
            && on(r, "eks:UpdateAddon", ":podidentityassociation/mv/")
    });
    let roll = position(&log, association, "UpdateNodegroupVersion", |r| {
        on(r, "eks:UpdateNodegroupVersion", ":nodegroup/mv/")
    });
    let waited = position(&log, roll, "DescribeUpdate of the roll", |r| {
        on(r, "eks:DescribeUpdate", ":nodegroup/mv/")
    });
    let detach = position(&log, waited, "DetachRolePolicy from mv-node", |r| {
        on(r, "iam:DetachRolePolicy", ":role/mv-node")
    });
    // And nothing detached the policy earlier.
    assert!(
        !log[before..detach]
            .iter()
            .any(|r| on(r, "iam:DetachRolePolicy", ":role/mv-node")),
        "the CNI's policy left the node role before the nodes were rolled"
    );
    assert!(role < policy && policy < association && association < roll && roll < detach);
    assert_eq!(run.account.iam_denials(), Vec::<String>::new());

    // A second apply has nothing left to move: no roll, no detach.
    let settled = run.account.iam_log()["requests"]
        .as_array()
        .map_or(0, Vec::len);
    eksboot(&run, "apply", &profile).success();
    let log = run.account.iam_log()["requests"]
        .as_array()
        .unwrap()
        .clone();
    assert!(
        !log[settled..].iter().any(|r| {
            on(r, "eks:UpdateNodegroupVersion", ":nodegroup/mv/")
                || on(r, "eks:UpdateAddon", ":addon/mv/vpc-cni/")
        }),
        "a settled cluster was rolled again"
    );
}
