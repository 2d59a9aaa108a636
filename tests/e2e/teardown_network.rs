//! What EKS and Elastic Load Balancing put in the cluster's subnets (issue 25): CreateCluster
//! makes the cluster security group (`eks-cluster-sg-<name>-<id>`, tagged as EKS tags it) and
//! its interfaces in the cluster's subnets; a node group's nodes hold interfaces; ALBs and NLBs
//! hold interfaces; each outlives its owner a while (emulator/eks_network.py). Teardown waits
//! for them, saying so, never deletes what is EKS's, and leaves nothing. Every claim is read
//! back from AWS; eksboot runs as the runner holding only the printed policy.

use std::path::PathBuf;

use aws_sdk_ec2::types::Filter;
use aws_sdk_elasticloadbalancingv2 as elbv2;

use crate::create::Run;
use crate::harness::{block_on, Account};
use crate::teardown::{assert_nothing_left, teardown};

const CLUSTER: &str = "netdown";
const REGION: &str = "us-west-2";
const NODES: usize = 2;

#[test]
fn the_emulators_network_rules_hold() {
    crate::harness::pytest("emulator/test_eks_network.py");
}

/// A public cluster with a node group of two nodes: no NAT gateways to wait for.
fn profile(run: &Run) -> PathBuf {
    let path = run.dir.path().join("netdown.toml");
    std::fs::write(
        &path,
        format!(
            "version = 1\n[cluster]\nname = \"{CLUSTER}\"\nregion = \"{REGION}\"\n\
             deletion_protection = false\noidc_provider = false\n\
             [network]\npattern = \"public\"\navailability_zones = 2\n\
             [nodes]\ninstance_types = [\"t3.medium\"]\nmin_size = 1\ndesired_size = {NODES}\nmax_size = 3\n"
        ),
    )
    .unwrap();
    path
}

fn filter(name: &str, value: &str) -> Filter {
    Filter::builder().name(name).values(value).build()
}

fn stdout(out: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&out.get_output().stdout).to_string()
}

/// The cluster as EKS reports it: (VPC, subnets, cluster security group).
fn cluster_network(run: &Run) -> (String, Vec<String>, String) {
    let eks = aws_sdk_eks::Client::new(&run.account.sdk(REGION));
    let cluster = block_on(eks.describe_cluster().name(CLUSTER).send()).unwrap();
    let vpc = cluster.cluster().unwrap().resources_vpc_config().unwrap();
    (
        vpc.vpc_id()
            .expect("DescribeCluster names the VPC")
            .to_string(),
        vpc.subnet_ids().to_vec(),
        vpc.cluster_security_group_id()
            .expect("DescribeCluster names the cluster security group")
            .to_string(),
    )
}

/// (description, subnet, requester-managed, tags) of every interface in the account's region.
fn interfaces(run: &Run) -> Vec<(String, String, bool, Vec<(String, String)>)> {
    let ec2 = aws_sdk_ec2::Client::new(&run.account.sdk(REGION));
    block_on(ec2.describe_network_interfaces().send())
        .unwrap()
        .network_interfaces()
        .iter()
        .map(|n| {
            (
                n.description().unwrap_or_default().to_string(),
                n.subnet_id().unwrap_or_default().to_string(),
                n.requester_managed().unwrap_or(false),
                n.tag_set()
                    .iter()
                    .map(|t| {
                        (
                            t.key().unwrap_or_default().to_string(),
                            t.value().unwrap_or_default().to_string(),
                        )
                    })
                    .collect(),
            )
        })
        .collect()
}

/// An ALB or NLB made outside eksboot in `subnets`: (ARN, the description of its interfaces).
fn load_balancer(
    run: &Run,
    name: &str,
    kind: elbv2::types::LoadBalancerTypeEnum,
    subnets: &[String],
    group: Option<&str>,
    tags: &[(&str, &str)],
) -> (String, String) {
    let elb = elbv2::Client::new(&run.account.sdk(REGION));
    let mut request = elb
        .create_load_balancer()
        .name(name)
        .r#type(kind.clone())
        .set_subnets(Some(subnets.to_vec()));
    if let Some(group) = group {
        request = request.security_groups(group);
    }
    for (k, v) in tags {
        request = request.tags(elbv2::types::Tag::builder().key(*k).value(*v).build());
    }
    let out = block_on(request.send()).unwrap();
    let arn = out.load_balancers()[0]
        .load_balancer_arn()
        .unwrap()
        .to_string();
    let prefix = match kind {
        elbv2::types::LoadBalancerTypeEnum::Network => "net",
        _ => "app",
    };
    let id = arn.rsplit('/').next().unwrap();
    (arn.clone(), format!("ELB {prefix}/{name}/{id}"))
}

#[test]
fn teardown_waits_for_the_interfaces_eks_and_load_balancers_hold_and_leaves_nothing() {
    let run = Run::new(Account::new());
    run.create(&profile(&run)).success();
    let (vpc, subnets, cluster_group) = cluster_network(&run);
    let ec2 = aws_sdk_ec2::Client::new(&run.account.sdk(REGION));
    check_cluster_group(&ec2, &cluster_group, &vpc);
    check_eks_and_node_interfaces(&run, &subnets);
    let hand_made = outside_load_balancers(&run, &ec2, &vpc, &subnets);
    // The hand-made one is not this cluster's: teardown names it and deletes nothing.
    let state = run.state().display().to_string();
    let out = teardown(&run, &["--state", &state, "--force"]).code(1);
    let text = stdout(&out);
    assert!(text.contains("load-balancer hand-made"), "{text}");
    let eks = aws_sdk_eks::Client::new(&run.account.sdk(REGION));
    assert!(
        block_on(eks.describe_cluster().name(CLUSTER).send()).is_ok(),
        "the cluster is still there"
    );

    // Deleted by hand, its interfaces stay a while; the controller's load balancer goes with
    // --force. Teardown waits for every interface AWS removes itself and for the cluster
    // group, and never deletes that group itself.
    let elb = elbv2::Client::new(&run.account.sdk(REGION));
    block_on(
        elb.delete_load_balancer()
            .load_balancer_arn(&hand_made)
            .send(),
    )
    .unwrap();
    let out = teardown(&run, &["--state", &state, "--force"]).success();
    let text = stdout(&out);
    assert!(text.contains("Nothing is left"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.contains(&format!("waiting eks-cluster {CLUSTER}"))
                && l.contains("network interface(s) and cluster security group")
                && l.contains(&format!("{cluster_group} still there"))),
        "it waited for EKS's interfaces and group, saying so:\n{text}"
    );

    check_network_gone(&run, &ec2, &vpc, &cluster_group);
    check_no_denial_nor_group_deletion(&run, &cluster_group);
}

/// The cluster security group, named and tagged as EKS does, in the cluster's VPC.
fn check_cluster_group(ec2: &aws_sdk_ec2::Client, cluster_group: &str, vpc: &str) {
    let group = block_on(
        ec2.describe_security_groups()
            .group_ids(cluster_group)
            .send(),
    )
    .unwrap()
    .security_groups()[0]
        .clone();
    assert_eq!(group.vpc_id(), Some(vpc));
    let prefix = format!("eks-cluster-sg-{CLUSTER}-");
    let group_name = group.group_name().unwrap();
    assert!(
        group_name.starts_with(&prefix) && group_name[prefix.len()..].parse::<u64>().is_ok(),
        "{group_name}"
    );
    let tag = |key: &str| {
        group
            .tags()
            .iter()
            .find(|t| t.key() == Some(key))
            .and_then(|t| t.value())
            .map(str::to_string)
    };
    assert_eq!(
        tag(&format!("kubernetes.io/cluster/{CLUSTER}")).as_deref(),
        Some("owned")
    );
    assert_eq!(tag("aws:eks:cluster-name").as_deref(), Some(CLUSTER));
}

/// EKS's cross-account interfaces in at least two of the cluster's subnets; the nodes'.
fn check_eks_and_node_interfaces(run: &Run, subnets: &[String]) {
    let found = interfaces(run);
    let eks: Vec<_> = found
        .iter()
        .filter(|(d, ..)| *d == format!("Amazon EKS {CLUSTER}"))
        .collect();
    assert!((2..=4).contains(&eks.len()), "{found:?}");
    let eks_subnets: std::collections::BTreeSet<_> = eks.iter().map(|(_, s, ..)| s).collect();
    assert!(eks_subnets.len() >= 2, "{found:?}");
    assert!(eks
        .iter()
        .all(|(_, s, managed, _)| subnets.contains(s) && *managed));
    let nodes = found
        .iter()
        .filter(|(.., tags)| {
            tags.iter()
                .any(|(k, v)| k == "eks:cluster-name" && v == CLUSTER)
                && tags.iter().any(|(k, _)| k == "eks:nodegroup-name")
        })
        .count();
    assert_eq!(nodes, NODES, "{found:?}");
}

/// Load balancers made outside eksboot in the cluster's subnets: the Load Balancer Controller's
/// (tagged for this cluster, with its security group), and one made by hand (its ARN returned).
fn outside_load_balancers(
    run: &Run,
    ec2: &aws_sdk_ec2::Client,
    vpc: &str,
    subnets: &[String],
) -> String {
    let lb_group = block_on(
        ec2.create_security_group()
            .group_name("k8s-shop-web-1a2b3c")
            .description("[k8s] Managed SecurityGroup for LoadBalancer")
            .vpc_id(vpc)
            .tag_specifications(
                aws_sdk_ec2::types::TagSpecification::builder()
                    .resource_type(aws_sdk_ec2::types::ResourceType::SecurityGroup)
                    .tags(
                        aws_sdk_ec2::types::Tag::builder()
                            .key("elbv2.k8s.aws/cluster")
                            .value(CLUSTER)
                            .build(),
                    )
                    .build(),
            )
            .send(),
    )
    .unwrap()
    .group_id()
    .unwrap()
    .to_string();
    let (_, controller_enis) = load_balancer(
        run,
        "k8s-shop-web-1a2b3c",
        elbv2::types::LoadBalancerTypeEnum::Application,
        subnets,
        Some(&lb_group),
        &[
            ("elbv2.k8s.aws/cluster", CLUSTER),
            ("ingress.k8s.aws/stack", "shop/web"),
        ],
    );
    let (hand_made, hand_made_enis) = load_balancer(
        run,
        "hand-made",
        elbv2::types::LoadBalancerTypeEnum::Network,
        subnets,
        None,
        &[],
    );
    let found = interfaces(run);
    for description in [&controller_enis, &hand_made_enis] {
        let n = found.iter().filter(|(d, ..)| d == description).count();
        assert_eq!(n, subnets.len(), "{description}: {found:?}");
    }

    hand_made
}

/// Read back: no interface, no load balancer, no cluster group, no subnet, no VPC.
fn check_network_gone(run: &Run, ec2: &aws_sdk_ec2::Client, vpc: &str, cluster_group: &str) {
    let elb = elbv2::Client::new(&run.account.sdk(REGION));
    assert_eq!(interfaces(run), vec![], "interfaces left");
    let lbs = block_on(elb.describe_load_balancers().send()).unwrap();
    assert!(lbs.load_balancers().is_empty(), "{lbs:?}");
    let groups = block_on(
        ec2.describe_security_groups()
            .filters(filter("group-id", cluster_group))
            .send(),
    )
    .unwrap();
    assert!(groups.security_groups().is_empty(), "{groups:?}");
    let left = block_on(
        ec2.describe_security_groups()
            .filters(filter("vpc-id", vpc))
            .send(),
    )
    .unwrap();
    assert!(left.security_groups().is_empty(), "{left:?}");
    let subnets_left =
        block_on(ec2.describe_subnets().filters(filter("vpc-id", vpc)).send()).unwrap();
    assert!(subnets_left.subnets().is_empty(), "{subnets_left:?}");
    let vpcs = block_on(ec2.describe_vpcs().filters(filter("vpc-id", vpc)).send()).unwrap();
    assert!(vpcs.vpcs().is_empty(), "{vpcs:?}");
    assert_nothing_left(&run.account, CLUSTER, REGION);
}

/// Nothing eksboot did was denied, and it never asked to delete EKS's group.
fn check_no_denial_nor_group_deletion(run: &Run, cluster_group: &str) {
    assert_eq!(run.account.iam_denials(), Vec::<String>::new());
    let log = run.account.iam_log();
    let asked: Vec<_> = log["requests"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|r| r["checks"].as_array().into_iter().flatten())
        .filter(|c| {
            c["action"] == "ec2:DeleteSecurityGroup"
                && c["resource"]
                    .as_str()
                    .is_some_and(|r| r.contains(cluster_group))
        })
        .collect();
    assert!(asked.is_empty(), "{asked:?}");
}
