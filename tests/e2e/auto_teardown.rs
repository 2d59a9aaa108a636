//! Teardown of an EKS Auto Mode cluster (issue 24, "Teardown"): DeleteCluster takes Auto Mode's
//! instances and load balancers with it and eksboot waits until nothing tagged
//! `eks:eks-cluster-name=<cluster>` is left (instances terminated, no interface, no load
//! balancer); the volume Auto Mode made is user data, named without `--force` (nothing deleted,
//! exit 1) and deleted with it, never a volume tagged for another cluster or none; the
//! instance profile EKS leaves on the node role is emptied and deleted, never one EKS did not
//! make for this cluster (named with the way out, the role kept); and it all works from tags
//! alone, without the state file. Every claim is read back from AWS (the emulator) through the
//! SDK; eksboot runs as the runner holding only what `eksboot permissions` prints.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification, VolumeType};
use aws_sdk_elasticloadbalancingv2 as elbv2;

use crate::create::{tag_filter, Run};
use crate::harness::{block_on, Account};
use crate::teardown::{ours, teardown};

const CLUSTER: &str = "autotear";
const REGION: &str = "us-west-2";
const AUTO_TAG: &str = "eks:eks-cluster-name";

/// An Auto Mode profile: public and private subnets in two AZs, no deletion protection (the
/// teardown of a protected cluster is tested elsewhere).
fn auto_profile(run: &Run) -> PathBuf {
    let path = run.dir.path().join("auto.toml");
    std::fs::write(
        &path,
        format!(
            "version = 1\n[cluster]\nname = \"{CLUSTER}\"\nregion = \"{REGION}\"\n\
             deletion_protection = false\n[network]\npattern = \"public-and-private\"\n\
             availability_zones = 2\n[nodes]\nmode = \"auto\"\n"
        ),
    )
    .unwrap();
    path
}

fn output(out: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&out.get_output().stdout).to_string()
        + &String::from_utf8_lossy(&out.get_output().stderr)
}

fn auto_filter() -> Filter {
    tag_filter(AUTO_TAG, CLUSTER)
}

/// What Auto Mode has of this cluster now, read from AWS.
#[derive(Debug)]
struct AutoState {
    /// `(instance, state)`.
    instances: Vec<(String, String)>,
    interfaces: Vec<String>,
    /// `(volume, state)`.
    volumes: Vec<(String, String)>,
    load_balancers: Vec<String>,
    /// Instance profiles holding the node role.
    node_role_profiles: Vec<String>,
    /// Every instance profile of the account.
    profiles: BTreeSet<String>,
}

fn auto_state(account: &Account) -> AutoState {
    let config = account.sdk(REGION);
    let ec2 = aws_sdk_ec2::Client::new(&config);
    let elb = elbv2::Client::new(&config);
    let iam = aws_sdk_iam::Client::new(&config);
    block_on(async {
        let reservations = ec2
            .describe_instances()
            .filters(auto_filter())
            .send()
            .await
            .unwrap();
        let instances = reservations
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .map(|i| {
                (
                    i.instance_id().unwrap().to_string(),
                    i.state().unwrap().name().unwrap().as_str().to_string(),
                )
            })
            .collect();
        let interfaces = ec2
            .describe_network_interfaces()
            .filters(auto_filter())
            .send()
            .await
            .unwrap()
            .network_interfaces()
            .iter()
            .map(|n| n.network_interface_id().unwrap().to_string())
            .collect();
        let volumes = ec2
            .describe_volumes()
            .filters(auto_filter())
            .send()
            .await
            .unwrap()
            .volumes()
            .iter()
            .map(|v| {
                (
                    v.volume_id().unwrap().to_string(),
                    v.state().unwrap().as_str().to_string(),
                )
            })
            .collect();
        let mut load_balancers = Vec::new();
        let all = elb.describe_load_balancers().send().await.unwrap();
        for lb in all.load_balancers() {
            let arn = lb.load_balancer_arn().unwrap();
            let tags = elb.describe_tags().resource_arns(arn).send().await.unwrap();
            let tagged = tags.tag_descriptions().iter().any(|d| {
                d.tags()
                    .iter()
                    .any(|t| t.key() == Some(AUTO_TAG) && t.value() == Some(CLUSTER))
            });
            if tagged {
                load_balancers.push(lb.load_balancer_name().unwrap().to_string());
            }
        }
        let node_role_profiles = match iam
            .list_instance_profiles_for_role()
            .role_name(format!("{CLUSTER}-node"))
            .send()
            .await
        {
            Ok(out) => out
                .instance_profiles()
                .iter()
                .map(|p| p.instance_profile_name().to_string())
                .collect(),
            Err(_) => Vec::new(), // the role is gone
        };
        let profiles = iam
            .list_instance_profiles()
            .send()
            .await
            .unwrap()
            .instance_profiles()
            .iter()
            .map(|p| p.instance_profile_name().to_string())
            .collect();
        AutoState {
            instances,
            interfaces,
            volumes,
            load_balancers,
            node_role_profiles,
            profiles,
        }
    })
}

/// Waits until the emulator's Auto Mode has launched its node for the cluster.
fn wait_for_the_node(account: &Account) -> AutoState {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let state = auto_state(account);
        if state.instances.iter().any(|(_, s)| s == "running") && !state.volumes.is_empty() {
            return state;
        }
        assert!(
            Instant::now() < deadline,
            "Auto Mode never launched a node: {state:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A load balancer Auto Mode's load balancing made for a Service, in the cluster's public
/// subnets, tagged as AmazonEKSLoadBalancingPolicy requires (made as the harness).
fn auto_load_balancer(account: &Account) -> String {
    let config = account.sdk(REGION);
    let ec2 = aws_sdk_ec2::Client::new(&config);
    let elb = elbv2::Client::new(&config);
    block_on(async {
        // The public subnets (tagged for internet-facing load balancers), one per AZ.
        let ids: Vec<String> = ec2
            .describe_subnets()
            .filters(tag_filter("eksboot:cluster", CLUSTER))
            .filters(tag_filter("kubernetes.io/role/elb", "1"))
            .send()
            .await
            .unwrap()
            .subnets()
            .iter()
            .map(|s| s.subnet_id().unwrap().to_string())
            .collect();
        assert_eq!(ids.len(), 2, "{ids:?}");
        let name = "k8s-shop-web-a1b2c3d4e5";
        elb.create_load_balancer()
            .name(name)
            .set_subnets(Some(ids))
            .tags(
                elbv2::types::Tag::builder()
                    .key(AUTO_TAG)
                    .value(CLUSTER)
                    .build(),
            )
            .tags(
                elbv2::types::Tag::builder()
                    .key("service.eks.amazonaws.com/stack")
                    .value("shop/web")
                    .build(),
            )
            .send()
            .await
            .unwrap();
        name.to_string()
    })
}

/// Volumes that are not this cluster's: another Auto Mode cluster's (its name starts like
/// ours) and one naming no cluster.
fn other_volumes(account: &Account) -> Vec<String> {
    let ec2 = aws_sdk_ec2::Client::new(&account.sdk(REGION));
    let volume = |tags: Vec<(&'static str, String)>| {
        let ec2 = ec2.clone();
        async move {
            let mut spec = TagSpecification::builder().resource_type(ResourceType::Volume);
            for (k, v) in tags {
                spec = spec.tags(Tag::builder().key(k).value(v).build());
            }
            // Unencrypted: an encrypted one would bring the account's aws/ebs key into being,
            // and `assert_nothing_left` counts every live key.
            ec2.create_volume()
                .availability_zone(format!("{REGION}a"))
                .size(8)
                .volume_type(VolumeType::Gp3)
                .tag_specifications(spec.build())
                .send()
                .await
                .unwrap()
                .volume_id()
                .unwrap()
                .to_string()
        }
    };
    block_on(async {
        vec![
            volume(vec![
                (AUTO_TAG, format!("{CLUSTER}-2")),
                ("eks:kubernetes-node-pool-name", "general-purpose".into()),
            ])
            .await,
            volume(vec![("Name", "backups".into())]).await,
        ]
    })
}

/// An instance profile eksboot never made nor EKS for this cluster, holding the node role (a
/// person's, for a machine of their own).
fn foreign_instance_profile(account: &Account) -> String {
    let iam = aws_sdk_iam::Client::new(&account.sdk(REGION));
    let name = "my-build-box";
    block_on(async {
        iam.create_instance_profile()
            .instance_profile_name(name)
            .send()
            .await
            .unwrap();
        iam.add_role_to_instance_profile()
            .instance_profile_name(name)
            .role_name(format!("{CLUSTER}-node"))
            .send()
            .await
            .unwrap();
    });
    name.to_string()
}

/// Nothing of the cluster's is left (`crate::teardown::ours`), live keys counted here without
/// the account's default EBS key: Auto Mode's default node class encrypts its volumes, which
/// brings `alias/aws/ebs` into being; that key is AWS's (AWS managed, never deleted,
/// <https://docs.aws.amazon.com/ebs/latest/userguide/ebs-encryption.html#ebs-encryption-key>),
/// not the cluster's, though the emulator's KMS lists it like any other.
fn assert_nothing_left(account: &Account) {
    let kms = aws_sdk_kms::Client::new(&account.sdk(REGION));
    let live_keys = block_on(async {
        let ebs_default = kms
            .describe_key()
            .key_id("alias/aws/ebs")
            .send()
            .await
            .ok()
            .and_then(|k| k.key_metadata().map(|m| m.key_id().to_string()));
        let mut live = 0;
        for k in kms.list_keys().send().await.unwrap().keys() {
            let id = k.key_id().unwrap();
            if Some(id) == ebs_default.as_deref() {
                continue;
            }
            let meta = kms.describe_key().key_id(id).send().await.unwrap();
            if meta.key_metadata().unwrap().key_state().unwrap().as_str() != "PendingDeletion" {
                live += 1;
            }
        }
        live
    });
    let left: Vec<_> = ours(account, CLUSTER, REGION)
        .into_iter()
        .map(|(what, n)| match what {
            "live keys" => (what, live_keys),
            _ => (what, n),
        })
        .filter(|(_, n)| *n > 0)
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

fn role_exists(account: &Account, role: &str) -> bool {
    let iam = aws_sdk_iam::Client::new(&account.sdk(REGION));
    block_on(iam.get_role().role_name(role).send()).is_ok()
}

fn cluster_exists(account: &Account) -> bool {
    let eks = aws_sdk_eks::Client::new(&account.sdk(REGION));
    block_on(eks.describe_cluster().name(CLUSTER).send()).is_ok()
}

fn existing_volumes(account: &Account) -> BTreeSet<String> {
    let ec2 = aws_sdk_ec2::Client::new(&account.sdk(REGION));
    block_on(ec2.describe_volumes().send())
        .unwrap()
        .volumes()
        .iter()
        .map(|v| v.volume_id().unwrap().to_string())
        .collect()
}

#[test]
fn an_auto_mode_cluster_goes_to_nothing_its_volume_with_force_only_and_never_what_is_not_its() {
    let run = Run::new(Account::new());
    let profile = auto_profile(&run);
    run.create(&profile).success();

    // What Auto Mode made, as the emulator's AWS makes it: a node, its interface and volume,
    // the instance profile on the node role; and a load balancer for a Service.
    let before = wait_for_the_node(&run.account);
    assert_eq!(before.volumes.len(), 1, "{before:?}");
    let auto_volume = before.volumes[0].0.clone();
    assert!(!before.interfaces.is_empty(), "{before:?}");
    assert_eq!(before.node_role_profiles.len(), 1, "{before:?}");
    let eks_profile = before.node_role_profiles[0].clone();
    assert!(eks_profile.starts_with("eks"), "{eks_profile}");
    let lb = auto_load_balancer(&run.account);
    let others = other_volumes(&run.account);

    // Without --force: the volume is named with the way out, and nothing at all is deleted.
    let state = run.state();
    let out = teardown(&run, &["--state", state.to_str().unwrap()]).code(1);
    let text = output(&out);
    assert!(text.contains(&auto_volume), "{text}");
    assert!(text.contains("EKS Auto Mode made it"), "{text}");
    assert!(text.contains("--force"), "{text}");
    assert!(
        !text.contains(&lb),
        "Auto Mode's load balancer is EKS's to delete: {text}"
    );
    assert!(cluster_exists(&run.account));
    let held = auto_state(&run.account);
    assert!(
        held.instances.iter().any(|(_, s)| s == "running"),
        "{held:?}"
    );
    assert_eq!(held.load_balancers, [lb.as_str()]);
    assert_eq!(held.node_role_profiles, [eks_profile.as_str()]);
    assert!(state.exists());

    // With --force, from tags alone (the state file lost), and an instance profile holding the
    // node role that EKS did not make: everything else goes, that one and the role stay, named.
    let foreign = foreign_instance_profile(&run.account);
    std::fs::remove_file(&state).unwrap();
    let out = teardown(&run, &["--force", "--cluster", CLUSTER, "--region", REGION]).code(1);
    let text = output(&out);
    assert!(text.contains(&foreign), "{text}");
    assert!(
        text.contains(&format!(
            "remove-role-from-instance-profile --instance-profile-name {foreign} --role-name {CLUSTER}-node"
        )),
        "{text}"
    );
    assert!(!cluster_exists(&run.account));
    let after = auto_state(&run.account);
    assert!(
        after.instances.iter().all(|(_, s)| s == "terminated"),
        "{after:?}"
    );
    assert!(after.interfaces.is_empty(), "{after:?}");
    assert!(after.load_balancers.is_empty(), "{after:?}");
    assert!(after.volumes.is_empty(), "{after:?}");
    assert!(!after.profiles.contains(&eks_profile), "{after:?}");
    assert!(after.profiles.contains(&foreign), "{after:?}");
    assert_eq!(after.node_role_profiles, [foreign.as_str()]);
    assert!(role_exists(&run.account, &format!("{CLUSTER}-node")));
    assert!(!role_exists(&run.account, &format!("{CLUSTER}-cluster")));

    // Once the person takes the role out of their profile, the rerun finishes: nothing left,
    // their profile and the volumes that were never this cluster's untouched.
    let iam = aws_sdk_iam::Client::new(&run.account.sdk(REGION));
    block_on(
        iam.remove_role_from_instance_profile()
            .instance_profile_name(&foreign)
            .role_name(format!("{CLUSTER}-node"))
            .send(),
    )
    .unwrap();
    teardown(&run, &["--force", "--cluster", CLUSTER, "--region", REGION]).success();
    assert_nothing_left(&run.account);
    assert!(!role_exists(&run.account, &format!("{CLUSTER}-node")));
    let after = auto_state(&run.account);
    assert!(after.profiles.contains(&foreign), "{after:?}");
    assert!(!after.profiles.contains(&eks_profile), "{after:?}");
    let volumes = existing_volumes(&run.account);
    assert!(!volumes.contains(&auto_volume), "{volumes:?}");
    for v in &others {
        assert!(
            volumes.contains(v),
            "{v} is not this cluster's: {volumes:?}"
        );
    }
    let denials = run.account.iam_denials();
    assert!(denials.is_empty(), "denied: {denials:#?}");
}
