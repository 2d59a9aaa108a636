//! Teardown finds what Kubernetes made for the cluster that outlives it and keeps billing: the
//! EBS volumes of PersistentVolumeClaims (tagged for the cluster by the EBS CSI driver with its
//! cluster id set, or by the in-tree provisioner) and the Load Balancer Controller's target
//! groups. Without --force it names them with the way out and deletes nothing; with --force it
//! deletes them, and never a volume or target group that names another cluster or none. Every
//! claim is read back from AWS; eksboot runs as the runner holding only the printed policy.

use std::collections::BTreeSet;
use std::path::PathBuf;

use aws_sdk_ec2::types::{ResourceType, Tag, TagSpecification, VolumeType};
use aws_sdk_elasticloadbalancingv2 as elbv2;

use crate::create::{tag_filter, Run};
use crate::harness::{block_on, Account};
use crate::teardown::{assert_nothing_left, ours, teardown};

const CLUSTER: &str = "vols";
const REGION: &str = "us-west-2";

/// A small public cluster without nodes: quick to make.
fn small(run: &Run) -> PathBuf {
    let path = run.dir.path().join("small.toml");
    std::fs::write(
        &path,
        format!(
            "[cluster]\nname = \"{CLUSTER}\"\nregion = \"{REGION}\"\noidc_provider = false\n\
             [network]\npattern = \"public\"\n[nodes]\nenabled = false\n"
        ),
    )
    .unwrap();
    path
}

fn stdout(out: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&out.get_output().stdout).to_string()
}

/// What Kubernetes (and others) left, made as the harness's own identity.
struct Leftovers {
    /// Volumes of this cluster's claims: the CSI driver's tags with its cluster id set, and
    /// the in-tree provisioner's `KubernetesCluster`.
    ours_csi: String,
    ours_legacy: String,
    /// The Load Balancer Controller's target group for this cluster.
    our_target_group: (String, String),
    /// Volumes that are not this cluster's: the CSI driver's default tag only (no cluster
    /// named), another cluster's whose name starts like ours, and one tagged for this
    /// cluster and another.
    unknown: String,
    other: String,
    conflicting: String,
    /// Another cluster's target group.
    other_target_group: String,
}

fn tags(pairs: &[(&str, &str)]) -> TagSpecification {
    let mut spec = TagSpecification::builder().resource_type(ResourceType::Volume);
    for (k, v) in pairs {
        spec = spec.tags(Tag::builder().key(*k).value(*v).build());
    }
    spec.build()
}

fn leave_kubernetes_things(run: &Run) -> Leftovers {
    let config = run.account.sdk(REGION);
    let ec2 = aws_sdk_ec2::Client::new(&config);
    let elb = elbv2::Client::new(&config);
    let owned = format!("kubernetes.io/cluster/{CLUSTER}");
    block_on(async {
        // Unencrypted: an encrypted one would bring the account's aws/ebs key into being, and
        // `assert_nothing_left` counts every live key.
        let volume = |spec: TagSpecification| {
            let ec2 = ec2.clone();
            async move {
                ec2.create_volume()
                    .availability_zone(format!("{REGION}a"))
                    .size(8)
                    .volume_type(VolumeType::Gp3)
                    .tag_specifications(spec)
                    .send()
                    .await
                    .unwrap()
                    .volume_id()
                    .unwrap()
                    .to_string()
            }
        };
        let ours_csi = volume(tags(&[
            ("ebs.csi.aws.com/cluster", "true"),
            ("CSIVolumeName", "pvc-0b6a6e0c"),
            (&owned, "owned"),
            ("kubernetes.io/created-for/pvc/namespace", "shop"),
            ("kubernetes.io/created-for/pvc/name", "data-db-0"),
        ]))
        .await;
        let ours_legacy = volume(tags(&[("KubernetesCluster", CLUSTER)])).await;
        let unknown = volume(tags(&[
            ("ebs.csi.aws.com/cluster", "true"),
            ("CSIVolumeName", "pvc-9f1d"),
        ]))
        .await;
        let other = volume(tags(&[
            ("kubernetes.io/cluster/vols-2", "owned"),
            ("KubernetesCluster", "vols-2"),
        ]))
        .await;
        let conflicting = volume(tags(&[(&owned, "owned"), ("KubernetesCluster", "web")])).await;

        let vpc = ec2
            .describe_vpcs()
            .filters(tag_filter("eksboot:cluster", CLUSTER))
            .send()
            .await
            .unwrap()
            .vpcs()[0]
            .vpc_id()
            .unwrap()
            .to_string();
        let target_group = |name: &'static str, cluster: &'static str| {
            let elb = elb.clone();
            let vpc = vpc.clone();
            async move {
                let out = elb
                    .create_target_group()
                    .name(name)
                    .protocol(elbv2::types::ProtocolEnum::Http)
                    .port(80)
                    .vpc_id(vpc)
                    .target_type(elbv2::types::TargetTypeEnum::Ip)
                    .tags(
                        elbv2::types::Tag::builder()
                            .key("elbv2.k8s.aws/cluster")
                            .value(cluster)
                            .build(),
                    )
                    .tags(
                        elbv2::types::Tag::builder()
                            .key("ingress.k8s.aws/stack")
                            .value("shop/web")
                            .build(),
                    )
                    .send()
                    .await
                    .unwrap();
                let tg = &out.target_groups()[0];
                (
                    tg.target_group_arn().unwrap().to_string(),
                    tg.target_group_name().unwrap().to_string(),
                )
            }
        };
        let our_target_group = target_group("k8s-shop-web-1a2b3c4d5e", CLUSTER).await;
        let other_target_group = target_group("k8s-other-web-9f8e7d6c5b", "web").await.0;
        Leftovers {
            ours_csi,
            ours_legacy,
            our_target_group,
            unknown,
            other,
            conflicting,
            other_target_group,
        }
    })
}

/// The volumes and target groups that exist now (read back from AWS).
fn existing(run: &Run) -> (BTreeSet<String>, BTreeSet<String>) {
    let config = run.account.sdk(REGION);
    block_on(async {
        let ec2 = aws_sdk_ec2::Client::new(&config);
        let volumes = ec2
            .describe_volumes()
            .send()
            .await
            .unwrap()
            .volumes()
            .iter()
            .map(|v| v.volume_id().unwrap().to_string())
            .collect();
        let elb = elbv2::Client::new(&config);
        let groups = elb
            .describe_target_groups()
            .send()
            .await
            .unwrap()
            .target_groups()
            .iter()
            .map(|t| t.target_group_arn().unwrap().to_string())
            .collect();
        (volumes, groups)
    })
}

fn refused(code: Option<&str>) -> bool {
    matches!(
        code,
        Some("AccessDenied" | "AccessDeniedException" | "UnauthorizedOperation")
    )
}

#[test]
fn teardown_names_kubernetes_volumes_and_target_groups_then_force_deletes_only_those() {
    let run = Run::new(Account::new());
    run.create(&small(&run)).success();
    let left = leave_kubernetes_things(&run);
    let state = run.state().display().to_string();
    let before = ours(&run.account, CLUSTER, REGION);
    let (volumes_before, groups_before) = existing(&run);
    for v in [
        &left.ours_csi,
        &left.ours_legacy,
        &left.unknown,
        &left.other,
        &left.conflicting,
    ] {
        assert!(volumes_before.contains(v), "{v} was made");
    }

    // Without --force: both kinds named, with the way out; nothing deleted.
    let out = teardown(&run, &["--state", &state]).code(1);
    let text = stdout(&out);
    for expected in [
        format!("ebs-volume {}", left.ours_csi),
        format!("ebs-volume {}", left.ours_legacy),
        format!("target-group {}", left.our_target_group.1),
        "shop/data-db-0".to_string(),
        "kubectl delete pvc".to_string(),
        "kubectl delete ingress".to_string(),
        "--force".to_string(),
    ] {
        assert!(text.contains(&expected), "{expected} not said:\n{text}");
    }
    let refusal = text
        .split("Before anything is deleted:")
        .nth(1)
        .unwrap_or_default();
    for theirs in [&left.unknown, &left.other, &left.conflicting] {
        assert!(
            !refusal.contains(theirs.as_str()),
            "{theirs} named:\n{text}"
        );
    }
    assert!(
        text.contains(&format!("skipped EBS volume {}", left.conflicting)) && text.contains("web"),
        "the volume tagged for two clusters is said to be skipped:\n{text}"
    );
    assert_eq!(
        ours(&run.account, CLUSTER, REGION),
        before,
        "nothing deleted"
    );
    assert_eq!(
        existing(&run),
        (volumes_before.clone(), groups_before.clone()),
        "no volume or target group deleted"
    );

    // The printed policy itself reaches no volume or target group that is not this cluster's.
    let runner = run.account.runner_sdk(REGION);
    block_on(async {
        let ec2 = aws_sdk_ec2::Client::new(&runner);
        for theirs in [&left.unknown, &left.other] {
            let e = ec2
                .delete_volume()
                .volume_id(theirs)
                .send()
                .await
                .expect_err("another cluster's volume");
            assert!(
                refused(aws_sdk_ec2::error::ProvideErrorMetadata::code(&e)),
                "{e:?}"
            );
        }
        let elb = elbv2::Client::new(&runner);
        let e = elb
            .delete_target_group()
            .target_group_arn(&left.other_target_group)
            .send()
            .await
            .expect_err("another cluster's target group");
        assert!(
            refused(elbv2::error::ProvideErrorMetadata::code(&e)),
            "{e:?}"
        );
    });
    let provoked = run.account.iam_denials().len();
    assert_eq!(provoked, 3, "{:#?}", run.account.iam_denials());

    // With --force: this cluster's volumes and target group go with everything else; the
    // others stay; nothing eksboot did was denied.
    let out = teardown(&run, &["--state", &state, "--force"]).success();
    let text = stdout(&out);
    assert!(text.contains("Nothing is left"), "{text}");
    assert_nothing_left(&run.account, CLUSTER, REGION);
    let (volumes_after, groups_after) = existing(&run);
    assert!(!volumes_after.contains(&left.ours_csi), "{volumes_after:?}");
    assert!(
        !volumes_after.contains(&left.ours_legacy),
        "{volumes_after:?}"
    );
    for theirs in [&left.unknown, &left.other, &left.conflicting] {
        assert!(volumes_after.contains(theirs), "{theirs} was deleted");
    }
    assert!(!groups_after.contains(&left.our_target_group.0));
    assert!(groups_after.contains(&left.other_target_group));
    let denials = run.account.iam_denials();
    assert_eq!(denials.len(), provoked, "teardown was denied: {denials:#?}");
}

#[test]
fn force_waits_for_a_volume_attached_to_a_node_until_the_node_is_gone() {
    let run = Run::new(Account::new());
    run.create(&small(&run)).success();
    let left = leave_kubernetes_things(&run);
    let config = run.account.sdk(REGION);
    let ec2 = aws_sdk_ec2::Client::new(&config);
    // A node (in the default VPC: the point is its attachment) with the claim's volume.
    let node = block_on(async {
        let image = ec2
            .describe_images()
            .owners("amazon")
            .send()
            .await
            .unwrap()
            .images()[0]
            .image_id()
            .unwrap()
            .to_string();
        let node = ec2
            .run_instances()
            .image_id(image)
            .instance_type(aws_sdk_ec2::types::InstanceType::T3Medium)
            .placement(
                aws_sdk_ec2::types::Placement::builder()
                    .availability_zone(format!("{REGION}a"))
                    .build(),
            )
            .min_count(1)
            .max_count(1)
            .send()
            .await
            .unwrap()
            .instances()[0]
            .instance_id()
            .unwrap()
            .to_string();
        ec2.attach_volume()
            .volume_id(&left.ours_csi)
            .instance_id(&node)
            .device("/dev/xvdf")
            .send()
            .await
            .unwrap();
        node
    });
    let state_of = |id: &str| {
        block_on(ec2.describe_volumes().volume_ids(id).send())
            .ok()
            .and_then(|out| out.volumes().first().and_then(|v| v.state().cloned()))
            .map(|s| s.as_str().to_string())
    };
    assert_eq!(state_of(&left.ours_csi).as_deref(), Some("in-use"));

    let child = run
        .account
        .command()
        .env("EKSBOOT_POLL_MS", "100")
        .env("EKSBOOT_RETRY_MS", "50")
        .args(["teardown", "--yes", "--force", "--kubeconfig"])
        .arg(run.kubeconfig())
        .arg("--state")
        .arg(run.state())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Teardown is past its look-around once the target group is gone (deleted first, with
    // the load balancers); the attached volume then holds it. Give it a moment to wait, and
    // check it did not delete the volume from under its node.
    let started = std::time::Instant::now();
    while existing(&run).1.contains(&left.our_target_group.0) {
        assert!(started.elapsed().as_secs() < 60, "teardown never started");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert_eq!(
        state_of(&left.ours_csi).as_deref(),
        Some("in-use"),
        "still attached while its node runs"
    );
    // The node goes (as a node group's do when it is deleted): its volumes are detached.
    block_on(ec2.terminate_instances().instance_ids(&node).send()).unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains(&format!("{}: in-use", left.ours_csi)),
        "it waited for the volume, saying so:\n{text}"
    );
    assert_eq!(state_of(&left.ours_csi), None, "the volume is gone");
    assert_eq!(state_of(&left.ours_legacy), None);
    assert!(state_of(&left.unknown).is_some() && state_of(&left.other).is_some());
    assert_nothing_left(&run.account, CLUSTER, REGION);
}
