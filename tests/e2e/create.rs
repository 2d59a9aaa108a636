//! `eksboot create` tasks 1 and 2 against the emulator, checked through the SDK: every resource
//! exists once with the settings asked for; a rerun creates nothing; bad input creates nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use aws_sdk_ec2::types::Filter;
use predicates::prelude::*;
use serde_json::Value;

use crate::harness::{bare_eksboot, block_on, root, Account};

/// A create run in a fresh account, with its state file in a temp dir.
pub struct Run {
    pub account: Account,
    pub dir: tempfile::TempDir,
}

impl Run {
    pub fn new(account: Account) -> Run {
        Run {
            account,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn state(&self) -> PathBuf {
        self.dir.path().join("state.json")
    }

    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.path().join("kube").join("config")
    }

    /// The state file as JSON, if it is there and whole (none before it exists or while it is
    /// written); `journal` when it must be.
    pub fn journal_if_written(&self) -> Option<serde_json::Value> {
        let text = std::fs::read_to_string(self.state()).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// How many steps the state file records as done (0 before it exists or while it is
    /// written): tests that kill eksboot kill it at such an event, never after a fixed time.
    pub fn done_steps(&self) -> usize {
        self.journal_if_written()
            .and_then(|j| {
                j["steps"]
                    .as_object()
                    .map(|steps| steps.values().filter(|s| s["status"] == "done").count())
            })
            .unwrap_or(0)
    }

    /// Creates `profile` as the runner, holding the policy `eksboot permissions` prints for it.
    pub fn create(&self, profile: &Path) -> assert_cmd::assert::Assert {
        self.account.authorize(profile, &[]);
        self.account
            .eksboot()
            .env("EKSBOOT_POLL_MS", "100")
            .env("EKSBOOT_RETRY_MS", "50")
            .arg("create")
            .arg("--profile")
            .arg(profile)
            .arg("--yes")
            .arg("--state")
            .arg(self.state())
            .arg("--kubeconfig")
            .arg(self.kubeconfig())
            .assert()
    }

    /// Starts creating `profile` as the runner in the background (output dropped): for tests
    /// that watch AWS, or stop eksboot, while it runs.
    pub fn spawn_create(&self, profile: &Path) -> std::process::Child {
        self.account.authorize(profile, &[]);
        self.account
            .command()
            .env("EKSBOOT_POLL_MS", "100")
            .env("EKSBOOT_RETRY_MS", "50")
            .args(["create", "--yes", "--profile"])
            .arg(profile)
            .arg("--state")
            .arg(self.state())
            .arg("--kubeconfig")
            .arg(self.kubeconfig())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    }

    pub fn journal(&self) -> Value {
        serde_json::from_str(&std::fs::read_to_string(self.state()).unwrap()).unwrap()
    }

    pub fn journal_id(&self, step: &str) -> String {
        let j = self.journal();
        j["steps"][step]["outputs"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("{step} not in the journal"))
            .to_string()
    }
}

pub fn tag_filter(key: &str, value: &str) -> Filter {
    Filter::builder()
        .name(format!("tag:{key}"))
        .values(value)
        .build()
}

fn tags_map(tags: &[aws_sdk_ec2::types::Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .map(|t| (t.key().unwrap().to_string(), t.value().unwrap().to_string()))
        .collect()
}

/// Every resource that can carry tags has the four eksboot tags and a Name.
fn assert_tagged(tags: &BTreeMap<String, String>, cluster: &str, region: &str, step: &str) {
    assert_eq!(
        tags.get("eksboot:cluster").map(String::as_str),
        Some(cluster),
        "{tags:?}"
    );
    assert_eq!(
        tags.get("eksboot:region").map(String::as_str),
        Some(region),
        "{tags:?}"
    );
    assert_eq!(
        tags.get("eksboot:step").map(String::as_str),
        Some(step),
        "{tags:?}"
    );
    assert!(
        tags.get("eksboot:run")
            .is_some_and(|r| r.starts_with("run-")),
        "{tags:?}"
    );
    assert!(tags.contains_key("Name"), "{tags:?}");
}

pub fn decode(doc: &str) -> Value {
    let text = percent_encoding::percent_decode_str(doc)
        .decode_utf8_lossy()
        .to_string();
    serde_json::from_str(&text).unwrap()
}

/// Task 1, checked through IAM, KMS and CloudWatch Logs.
fn check_secure(run: &Run, cluster: &str, region: &str, retention: i32, admins: &[&str]) {
    let config = run.account.sdk(region);
    let iam = aws_sdk_iam::Client::new(&config);
    let kms = aws_sdk_kms::Client::new(&config);
    let logs = aws_sdk_cloudwatchlogs::Client::new(&config);
    let account = &run.account.id;
    block_on(async {
        // Creator: only the caller and the admins may assume it.
        let creator = iam
            .get_role()
            .role_name(format!("{cluster}-creator"))
            .send()
            .await
            .unwrap();
        let creator = creator.role().unwrap();
        let trust = decode(creator.assume_role_policy_document().unwrap());
        let st = &trust["Statement"][0];
        assert_eq!(
            st["Principal"]["AWS"],
            format!("arn:aws:iam::{account}:root")
        );
        let mut principals = vec![format!("arn:aws:iam::{account}:user/eksboot-runner")];
        principals.extend(admins.iter().map(|a| a.to_string()));
        assert_eq!(
            st["Condition"]["ArnEquals"]["aws:PrincipalArn"],
            serde_json::json!(principals)
        );
        let tags: BTreeMap<String, String> = creator
            .tags()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .collect();
        assert_eq!(tags["eksboot:cluster"], cluster);
        let inline = iam
            .get_role_policy()
            .role_name(format!("{cluster}-creator"))
            .policy_name("eksboot-create-cluster")
            .send()
            .await
            .unwrap();
        let inline = decode(inline.policy_document());
        assert!(inline["Statement"].as_array().unwrap().len() >= 7);
        assert!(inline
            .to_string()
            .contains(&format!(":cluster/{cluster}\"")));

        // Cluster and node roles: trusted services and attached managed policies.
        for (role, service, policies) in [
            (
                "cluster",
                "eks.amazonaws.com",
                vec!["AmazonEKSClusterPolicy"],
            ),
            (
                "node",
                "ec2.amazonaws.com",
                // The CNI's permissions are its own role's (Pod Identity), not every pod's.
                vec![
                    "AmazonEKSWorkerNodePolicy",
                    "AmazonEC2ContainerRegistryPullOnly",
                    "AmazonSSMManagedInstanceCore",
                ],
            ),
            (
                "vpc-cni",
                "pods.eks.amazonaws.com",
                vec!["AmazonEKS_CNI_Policy"],
            ),
        ] {
            let name = format!("{cluster}-{role}");
            let got = iam.get_role().role_name(&name).send().await.unwrap();
            let trust = decode(got.role().unwrap().assume_role_policy_document().unwrap());
            assert_eq!(trust["Statement"][0]["Principal"]["Service"], service);
            let attached = iam
                .list_attached_role_policies()
                .role_name(&name)
                .send()
                .await
                .unwrap();
            let mut names: Vec<&str> = attached
                .attached_policies()
                .iter()
                .map(|p| p.policy_name().unwrap())
                .collect();
            names.sort();
            let mut want = policies.clone();
            want.sort();
            assert_eq!(names, want, "{name}");
        }

        // Key: alias, rotation, policy naming our roles, tags.
        let key = kms
            .describe_key()
            .key_id(format!("alias/eksboot/{cluster}"))
            .send()
            .await
            .unwrap();
        let key = key.key_metadata().unwrap();
        assert_eq!(key.key_spec().unwrap().as_str(), "SYMMETRIC_DEFAULT");
        assert_eq!(key.key_usage().unwrap().as_str(), "ENCRYPT_DECRYPT");
        let rotation = kms
            .get_key_rotation_status()
            .key_id(key.key_id())
            .send()
            .await
            .unwrap();
        assert!(rotation.key_rotation_enabled());
        let policy = kms
            .get_key_policy()
            .key_id(key.key_id())
            .policy_name("default")
            .send()
            .await
            .unwrap();
        let policy: Value = serde_json::from_str(policy.policy().unwrap()).unwrap();
        assert_eq!(
            policy["Statement"][1]["Principal"]["AWS"],
            serde_json::json!([
                format!("arn:aws:iam::{account}:role/{cluster}-creator"),
                format!("arn:aws:iam::{account}:role/{cluster}-cluster")
            ])
        );
        let key_tags = kms
            .list_resource_tags()
            .key_id(key.key_id())
            .send()
            .await
            .unwrap();
        assert!(key_tags
            .tags()
            .iter()
            .any(|t| t.tag_key() == "eksboot:cluster" && t.tag_value() == cluster));
        assert_eq!(run.journal_id("secrets-key"), key.key_id());

        check_log_group(&logs, cluster, retention).await;
    });
}

/// The control-plane log group, with its retention and tags.
async fn check_log_group(logs: &aws_sdk_cloudwatchlogs::Client, cluster: &str, retention: i32) {
    let name = format!("/aws/eks/{cluster}/cluster");
    let groups = logs
        .describe_log_groups()
        .log_group_name_prefix(&name)
        .send()
        .await
        .unwrap();
    let group = &groups.log_groups()[0];
    assert_eq!(group.retention_in_days(), Some(retention));
    let tags = logs
        .list_tags_for_resource()
        .resource_arn(group.arn().unwrap().trim_end_matches(":*"))
        .send()
        .await
        .unwrap();
    assert_eq!(tags.tags().unwrap()["eksboot:cluster"], cluster);
}

/// What task 2 made, as AWS reports it.
#[derive(Debug, Default)]
pub struct Network {
    pub vpc: String,
    pub public_subnets: BTreeMap<String, String>, // id → AZ
    pub private_subnets: BTreeMap<String, String>, // id → AZ
    pub nat_az: BTreeMap<String, String>,         // NAT id → AZ
}

fn check_network(
    run: &Run,
    cluster: &str,
    region: &str,
    pattern: &str,
    cidrs: &[(&str, &str)],
) -> Network {
    let ec2 = aws_sdk_ec2::Client::new(&run.account.sdk(region));
    let ours = tag_filter("eksboot:cluster", cluster);
    let mut net = Network::default();
    block_on(async {
        let vpcs = ec2
            .describe_vpcs()
            .filters(ours.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(vpcs.vpcs().len(), 1, "exactly one VPC");
        let vpc = &vpcs.vpcs()[0];
        net.vpc = vpc.vpc_id().unwrap().to_string();
        assert_eq!(run.journal_id("vpc"), net.vpc);
        assert_tagged(&tags_map(vpc.tags()), cluster, region, "vpc");
        check_vpc_dns(&ec2, &net.vpc).await;

        check_subnets(run, &ec2, &ours, cluster, region, cidrs, &mut net).await;

        let igws = ec2
            .describe_internet_gateways()
            .filters(ours.clone())
            .send()
            .await
            .unwrap();
        let nats = ec2
            .describe_nat_gateways()
            .filter(Filter::builder().name("vpc-id").values(&net.vpc).build())
            .send()
            .await
            .unwrap();
        let nats: Vec<_> = nats
            .nat_gateways()
            .iter()
            .filter(|n| n.state().unwrap().as_str() != "deleted")
            .collect();
        for n in &nats {
            let subnet = n.subnet_id().unwrap();
            assert!(
                net.public_subnets.contains_key(subnet),
                "NAT gateways sit in public subnets"
            );
            net.nat_az.insert(
                n.nat_gateway_id().unwrap().to_string(),
                net.public_subnets[subnet].clone(),
            );
            assert_tagged(
                &tags_map(n.tags()),
                cluster,
                region,
                &tags_map(n.tags())["eksboot:step"],
            );
        }
        let addresses = ec2
            .describe_addresses()
            .filters(ours.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(
            addresses.addresses().len(),
            nats.len(),
            "one Elastic IP per NAT gateway"
        );

        let tables = ec2
            .describe_route_tables()
            .filters(ours.clone())
            .send()
            .await
            .unwrap();
        let default_route = |t: &aws_sdk_ec2::types::RouteTable| {
            t.routes()
                .iter()
                .find(|r| r.destination_cidr_block() == Some("0.0.0.0/0"))
                .map(|r| {
                    r.gateway_id()
                        .or(r.nat_gateway_id())
                        .unwrap_or_default()
                        .to_string()
                })
        };
        let associated = |t: &aws_sdk_ec2::types::RouteTable| -> Vec<String> {
            t.associations()
                .iter()
                .filter_map(|a| a.subnet_id().map(str::to_string))
                .collect()
        };
        match pattern {
            "public" | "public-and-private" => {
                assert_eq!(igws.internet_gateways().len(), 1);
                let igw = &igws.internet_gateways()[0];
                assert_eq!(igw.attachments()[0].vpc_id(), Some(net.vpc.as_str()));
                let public = tables
                    .route_tables()
                    .iter()
                    .find(|t| tags_map(t.tags())["eksboot:step"] == "route-table-public")
                    .unwrap();
                assert_eq!(default_route(public).as_deref(), igw.internet_gateway_id());
                let mut assoc = associated(public);
                assoc.sort();
                assert_eq!(
                    assoc,
                    net.public_subnets.keys().cloned().collect::<Vec<_>>()
                );
            }
            _ => {
                assert!(igws.internet_gateways().is_empty());
                assert!(nats.is_empty());
            }
        }
        // One private route table per AZ; its default route goes to the NAT in its own AZ.
        let private_tables: Vec<_> = tables
            .route_tables()
            .iter()
            .filter(|t| tags_map(t.tags())["eksboot:step"].starts_with("route-table-private-"))
            .collect();
        assert_eq!(private_tables.len(), net.private_subnets.len());
        for t in private_tables {
            let assoc = associated(t);
            assert_eq!(assoc.len(), 1);
            let az = &net.private_subnets[&assoc[0]];
            match default_route(t) {
                Some(nat) => assert_eq!(&net.nat_az[&nat], az, "private egress stays in its AZ"),
                None => assert!(nats.is_empty(), "no default route only without NAT"),
            }
        }

        check_cluster_sg(run, &ec2, &ours, cluster).await;
    });
    net
}

/// The VPC resolves names: DNS support and DNS hostnames on (EKS needs both).
async fn check_vpc_dns(ec2: &aws_sdk_ec2::Client, vpc: &str) {
    for attribute in [
        aws_sdk_ec2::types::VpcAttributeName::EnableDnsSupport,
        aws_sdk_ec2::types::VpcAttributeName::EnableDnsHostnames,
    ] {
        let a = ec2
            .describe_vpc_attribute()
            .vpc_id(vpc)
            .attribute(attribute.clone())
            .send()
            .await
            .unwrap();
        let on = a
            .enable_dns_support()
            .or(a.enable_dns_hostnames())
            .and_then(|v| v.value());
        assert_eq!(on, Some(true), "{attribute:?}");
    }
}

/// The subnets: one per tier and AZ with the planned CIDRs, tagged for Kubernetes, public ones
/// mapping public IPs; AZ n of each tier is the same AZ, and the AZs differ.
async fn check_subnets(
    run: &Run,
    ec2: &aws_sdk_ec2::Client,
    ours: &aws_sdk_ec2::types::Filter,
    cluster: &str,
    region: &str,
    cidrs: &[(&str, &str)],
    net: &mut Network,
) {
    let subnets = ec2
        .describe_subnets()
        .filters(ours.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(subnets.subnets().len(), cidrs.len());
    let mut azs_seen = BTreeMap::new();
    for s in subnets.subnets() {
        let tags = tags_map(s.tags());
        let step = tags["eksboot:step"].clone();
        assert_tagged(&tags, cluster, region, &step);
        let want = cidrs
            .iter()
            .find(|(id, _)| *id == step)
            .unwrap_or_else(|| panic!("unexpected {step}"));
        assert_eq!(s.cidr_block(), Some(want.1), "{step}");
        assert_eq!(run.journal_id(&step), s.subnet_id().unwrap());
        assert_eq!(tags[&format!("kubernetes.io/cluster/{cluster}")], "shared");
        let az = s.availability_zone().unwrap().to_string();
        if step.starts_with("subnet-public-") {
            assert_eq!(tags["kubernetes.io/role/elb"], "1");
            assert_eq!(s.map_public_ip_on_launch(), Some(true), "{step}");
            net.public_subnets
                .insert(s.subnet_id().unwrap().to_string(), az.clone());
        } else {
            assert_eq!(tags["kubernetes.io/role/internal-elb"], "1");
            assert_ne!(s.map_public_ip_on_launch(), Some(true));
            net.private_subnets
                .insert(s.subnet_id().unwrap().to_string(), az.clone());
        }
        // AZ n of each tier is the same AZ, and the AZs differ.
        let index = step.rsplit('-').next().unwrap().to_string();
        let previous = azs_seen.insert(index.clone(), az.clone());
        assert!(
            previous.is_none() || previous == Some(az),
            "AZ {index} differs between tiers"
        );
    }
    let distinct: std::collections::BTreeSet<_> = azs_seen.values().collect();
    assert_eq!(distinct.len(), azs_seen.len());
}

/// The cluster security group: no inbound, the single allow-all outbound rule.
async fn check_cluster_sg(
    run: &Run,
    ec2: &aws_sdk_ec2::Client,
    ours: &aws_sdk_ec2::types::Filter,
    cluster: &str,
) {
    // The cluster security group: no inbound, the single allow-all outbound rule.
    let sgs = ec2
        .describe_security_groups()
        .filters(ours.clone())
        .filters(tag_filter("eksboot:step", "cluster-sg"))
        .send()
        .await
        .unwrap();
    assert_eq!(sgs.security_groups().len(), 1);
    let sg = &sgs.security_groups()[0];
    assert_eq!(
        sg.group_name(),
        Some(format!("{cluster}-cluster-sg").as_str())
    );
    assert!(sg.ip_permissions().is_empty(), "no inbound rules");
    assert_eq!(sg.ip_permissions_egress().len(), 1);
    let egress = &sg.ip_permissions_egress()[0];
    assert_eq!(egress.ip_protocol(), Some("-1"));
    assert_eq!(egress.ip_ranges()[0].cidr_ip(), Some("0.0.0.0/0"));
    assert_eq!(run.journal_id("cluster-sg"), sg.group_id().unwrap());
}

/// Resource counts in the account, to show a rerun creates nothing.
pub fn census(account: &Account, region: &str) -> Vec<usize> {
    let config = account.sdk(region);
    let ec2 = aws_sdk_ec2::Client::new(&config);
    let iam = aws_sdk_iam::Client::new(&config);
    let kms = aws_sdk_kms::Client::new(&config);
    let eks = aws_sdk_eks::Client::new(&config);
    let logs = aws_sdk_cloudwatchlogs::Client::new(&config);
    block_on(async {
        vec![
            ec2.describe_vpcs().send().await.unwrap().vpcs().len(),
            ec2.describe_subnets().send().await.unwrap().subnets().len(),
            ec2.describe_route_tables()
                .send()
                .await
                .unwrap()
                .route_tables()
                .len(),
            ec2.describe_internet_gateways()
                .send()
                .await
                .unwrap()
                .internet_gateways()
                .len(),
            ec2.describe_addresses()
                .send()
                .await
                .unwrap()
                .addresses()
                .len(),
            ec2.describe_nat_gateways()
                .send()
                .await
                .unwrap()
                .nat_gateways()
                .len(),
            ec2.describe_security_groups()
                .send()
                .await
                .unwrap()
                .security_groups()
                .len(),
            ec2.describe_vpc_endpoints()
                .send()
                .await
                .unwrap()
                .vpc_endpoints()
                .len(),
            iam.list_roles().send().await.unwrap().roles().len(),
            kms.list_keys().send().await.unwrap().keys().len(),
            ec2.describe_launch_templates()
                .send()
                .await
                .unwrap()
                .launch_templates()
                .len(),
            iam.list_open_id_connect_providers()
                .send()
                .await
                .unwrap()
                .open_id_connect_provider_list()
                .len(),
            logs.describe_log_groups()
                .send()
                .await
                .unwrap()
                .log_groups()
                .len(),
            kms.list_aliases()
                .send()
                .await
                .unwrap()
                .aliases()
                .iter()
                .filter(|a| !a.alias_name().unwrap_or_default().starts_with("alias/aws/"))
                .count(),
            eks_parts(&eks).await,
        ]
    })
}

/// Clusters, node groups, add-ons and access entries, summed: one number that changes when
/// any of them is made twice.
async fn eks_parts(eks: &aws_sdk_eks::Client) -> usize {
    let clusters = eks.list_clusters().send().await.unwrap();
    let mut n = clusters.clusters().len();
    for c in clusters.clusters() {
        n += crate::harness::all_nodegroups(&eks, c)
            .await
            .unwrap()
            .nodegroups()
            .len();
        n += crate::harness::all_addons(&eks, c)
            .await
            .unwrap()
            .addons()
            .len();
        n += crate::harness::all_access_entries(&eks, c)
            .await
            .unwrap()
            .access_entries()
            .len();
    }
    n
}

/// What issue 23's defaults make, read from EKS: standard support, deletion protection as the
/// profile says, node repair on, AL2023 nodes, and vpc-cni's permissions through its own Pod
/// Identity role (`<cluster>-vpc-cni`), not the node role.
fn check_safe_defaults(run: &Run, cluster: &str, region: &str, protected: bool) {
    let eks = aws_sdk_eks::Client::new(&run.account.sdk(region));
    let iam = aws_sdk_iam::Client::new(&run.account.sdk(region));
    block_on(async {
        let c = eks.describe_cluster().name(cluster).send().await.unwrap();
        let c = c.cluster().unwrap();
        assert_eq!(
            c.upgrade_policy()
                .and_then(|p| p.support_type())
                .map(|s| s.as_str()),
            Some("STANDARD")
        );
        assert_eq!(c.deletion_protection(), Some(protected), "{cluster}");
        let ng = eks
            .describe_nodegroup()
            .cluster_name(cluster)
            .nodegroup_name(format!("{cluster}-default"))
            .send()
            .await
            .unwrap();
        let ng = ng.nodegroup().unwrap();
        assert_eq!(
            ng.node_repair_config().and_then(|r| r.enabled()),
            Some(true)
        );
        let ami = ng
            .ami_type()
            .map(|a| a.as_str().to_string())
            .unwrap_or_default();
        assert!(ami.starts_with("AL2023_"), "{ami}");
        let addon = eks
            .describe_addon()
            .cluster_name(cluster)
            .addon_name("vpc-cni")
            .send()
            .await
            .unwrap();
        let associations = addon.addon().unwrap().pod_identity_associations().to_vec();
        assert_eq!(associations.len(), 1, "{associations:?}");
        let listed = eks
            .list_pod_identity_associations()
            .cluster_name(cluster)
            .send()
            .await
            .unwrap();
        let association = listed
            .associations()
            .iter()
            .find(|a| a.service_account() == Some("aws-node"))
            .expect("aws-node's association");
        let described = eks
            .describe_pod_identity_association()
            .cluster_name(cluster)
            .association_id(association.association_id().unwrap())
            .send()
            .await
            .unwrap();
        assert!(described
            .association()
            .and_then(|a| a.role_arn())
            .unwrap()
            .ends_with(&format!(":role/{cluster}-vpc-cni")));
        let node_policies = iam
            .list_attached_role_policies()
            .role_name(format!("{cluster}-node"))
            .send()
            .await
            .unwrap();
        assert!(!node_policies
            .attached_policies()
            .iter()
            .any(|p| p.policy_name() == Some("AmazonEKS_CNI_Policy")));
    });
}

pub fn create_twice(run: &Run, profile: &Path, region: &str) {
    let out = run.create(profile).success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(text.contains("is ready in"), "{text}");
    assert!(text.contains("[network] created subnet "), "{text}");
    assert!(text.contains("kubectl get nodes"), "{text}");
    let kubeconfig = std::fs::read_to_string(run.kubeconfig()).unwrap();
    let before = census(&run.account, region);
    let again = run.create(profile).success();
    let text = String::from_utf8_lossy(&again.get_output().stdout).to_string();
    assert!(
        text.contains(" 0 created"),
        "a rerun creates nothing:\n{text}"
    );
    assert!(!text.contains("] created "), "{text}");
    assert!(
        text.contains("[network] exists vpc vpc "),
        "finished steps are checked and skipped:\n{text}"
    );
    assert_eq!(
        census(&run.account, region),
        before,
        "a rerun creates nothing"
    );
    assert_eq!(
        std::fs::read_to_string(run.kubeconfig()).unwrap(),
        kubeconfig,
        "a rerun rewrites the same kubeconfig"
    );
}

#[test]
fn production_profile_public_and_private_with_nat_per_az() {
    let run = Run::new(Account::new());
    create_twice(&run, &root("profiles/production.toml"), "us-east-1");
    check_secure(
        &run,
        "production",
        "us-east-1",
        365,
        &["arn:aws:iam::111122223333:role/platform-admins"],
    );
    check_safe_defaults(&run, "production", "us-east-1", true);
    let net = check_network(
        &run,
        "production",
        "us-east-1",
        "public-and-private",
        &[
            ("subnet-private-1", "10.20.0.0/18"),
            ("subnet-private-2", "10.20.64.0/18"),
            ("subnet-private-3", "10.20.128.0/18"),
            ("subnet-public-1", "10.20.192.0/21"),
            ("subnet-public-2", "10.20.200.0/21"),
            ("subnet-public-3", "10.20.208.0/21"),
        ],
    );
    assert_eq!(net.nat_az.len(), 3, "one NAT gateway per AZ");
    let azs: std::collections::BTreeSet<_> = net.nat_az.values().collect();
    assert_eq!(azs.len(), 3);
    // The journal lists the same ids AWS has.
    for (nat, _) in &net.nat_az {
        let j = run.journal();
        assert!(j["steps"]
            .as_object()
            .unwrap()
            .values()
            .any(|s| s["outputs"]["id"] == *nat));
    }
    assert!(std::fs::metadata(run.state()).is_ok());
}

#[test]
fn dev_profile_public_subnets_only() {
    let run = Run::new(Account::new());
    create_twice(&run, &root("profiles/dev.toml"), "us-west-2");
    check_secure(&run, "dev", "us-west-2", 30, &[]);
    check_safe_defaults(&run, "dev", "us-west-2", false);
    let net = check_network(
        &run,
        "dev",
        "us-west-2",
        "public",
        &[
            ("subnet-public-1", "10.10.0.0/18"),
            ("subnet-public-2", "10.10.64.0/18"),
        ],
    );
    assert!(net.private_subnets.is_empty() && net.nat_az.is_empty());
}

#[test]
fn private_profile_has_endpoints_and_no_internet_path() {
    let run = Run::new(Account::new());
    create_twice(&run, &root("profiles/private.toml"), "eu-west-1");
    check_secure(&run, "private", "eu-west-1", 90, &[]);
    check_safe_defaults(&run, "private", "eu-west-1", true);
    let net = check_network(
        &run,
        "private",
        "eu-west-1",
        "private",
        &[
            ("subnet-private-1", "10.30.0.0/18"),
            ("subnet-private-2", "10.30.64.0/18"),
            ("subnet-private-3", "10.30.128.0/18"),
        ],
    );
    let ec2 = aws_sdk_ec2::Client::new(&run.account.sdk("eu-west-1"));
    block_on(async {
        let endpoints = ec2
            .describe_vpc_endpoints()
            .filters(tag_filter("eksboot:cluster", "private"))
            .send()
            .await
            .unwrap();
        let mut services: Vec<String> = endpoints
            .vpc_endpoints()
            .iter()
            .map(|e| {
                e.service_name()
                    .unwrap()
                    .trim_start_matches("com.amazonaws.eu-west-1.")
                    .to_string()
            })
            .collect();
        services.sort();
        assert_eq!(
            services,
            [
                "ec2",
                "ec2messages",
                "ecr.api",
                "ecr.dkr",
                "eks-auth",
                "logs",
                "s3",
                "ssm",
                "ssmmessages",
                "sts"
            ]
        );
        for e in endpoints.vpc_endpoints() {
            if e.service_name().unwrap().ends_with(".s3") {
                assert_eq!(e.vpc_endpoint_type().unwrap().as_str(), "Gateway");
                assert_eq!(e.route_table_ids().len(), 3);
            } else {
                assert_eq!(e.vpc_endpoint_type().unwrap().as_str(), "Interface");
                assert_eq!(e.private_dns_enabled(), Some(true));
                let mut subnets: Vec<String> = e.subnet_ids().to_vec();
                subnets.sort();
                assert_eq!(
                    subnets,
                    net.private_subnets.keys().cloned().collect::<Vec<_>>()
                );
            }
        }
        let sg = ec2
            .describe_security_groups()
            .filters(tag_filter("eksboot:step", "endpoints-sg"))
            .filters(tag_filter("eksboot:cluster", "private"))
            .send()
            .await
            .unwrap();
        let sg = &sg.security_groups()[0];
        assert_eq!(sg.ip_permissions().len(), 1);
        let rule = &sg.ip_permissions()[0];
        assert_eq!((rule.from_port(), rule.to_port()), (Some(443), Some(443)));
        assert_eq!(rule.ip_ranges().len(), 1);
        assert_eq!(
            rule.ip_ranges()[0].cidr_ip(),
            Some("10.30.0.0/16"),
            "HTTPS from the VPC only"
        );
    });
}

#[test]
fn nat_gateways_of_all_azs_are_created_together() {
    // The account's new NAT gateways stay `pending` until the test releases them: made one after
    // another (each waited for before the next), the second would never come.
    let run = Run::new(Account::new());
    let hold = |hold: bool| {
        crate::harness::post(
            &run.account.endpoint,
            "/eksboot-moto/hold-nat",
            &format!(r#"{{"account": "{}", "hold": {hold}}}"#, run.account.id),
        )
    };
    hold(true);
    let mut child = run.spawn_create(&root("profiles/production.toml"));
    let ec2 = aws_sdk_ec2::Client::new(&run.account.sdk("us-east-1"));
    let pending = || {
        block_on(async {
            let nats = ec2.describe_nat_gateways().send().await.unwrap();
            nats.nat_gateways()
                .iter()
                .filter(|n| n.state().map(|s| s.as_str()) == Some("pending"))
                .count()
        })
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let mut seen = pending();
    while seen < 3 {
        if std::time::Instant::now() > deadline || child.try_wait().unwrap().is_some() {
            hold(false);
            let _ = child.kill();
            panic!("the NAT gateways of the three AZs were never pending together: {seen} were");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
        seen = pending();
    }
    hold(false);
    let status = child.wait().unwrap();
    assert!(
        status.success(),
        "the create finished once the NAT gateways were available"
    );
    let available = block_on(async {
        let nats = ec2.describe_nat_gateways().send().await.unwrap();
        nats.nat_gateways()
            .iter()
            .filter(|n| n.state().map(|s| s.as_str()) == Some("available"))
            .count()
    });
    assert_eq!(available, 3);
}

#[test]
fn an_invalid_profile_creates_nothing() {
    let account = Account::new();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, "[cluster]\nname = \"demo\"\nregion = \"us-west-2\"\n[network]\nvpc_cidr = \"10.0.0.0/8\"\n").unwrap();
    account
        .eksboot()
        .current_dir(dir.path())
        .arg("create")
        .arg("--profile")
        .arg(&path)
        .arg("--yes")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("network.vpc_cidr"));
    assert_eq!(
        census(&account, "us-west-2"),
        census(&Account::new(), "us-west-2"),
        "nothing was created"
    );
    assert!(
        !dir.path().join(".eksboot").exists(),
        "no state file for an invalid profile"
    );
}

#[test]
fn missing_credentials_is_one_line_and_creates_nothing() {
    let home = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = bare_eksboot(&home)
        .env("AWS_ENDPOINT_URL", &crate::harness::moto().endpoint)
        .current_dir(dir.path())
        .args(["create", "--yes", "--profile"])
        .arg(root("profiles/dev.toml"))
        .assert()
        .code(1);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("no AWS credentials found"));
}

#[test]
fn without_yes_and_without_a_terminal_create_refuses() {
    let account = Account::new();
    let dir = tempfile::tempdir().unwrap();
    account
        .eksboot()
        .current_dir(dir.path())
        .args(["create", "--profile"])
        .arg(root("profiles/dev.toml"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--yes"));
    assert_eq!(
        census(&account, "us-west-2"),
        census(&Account::new(), "us-west-2")
    );
}

#[test]
fn a_changed_profile_is_refused_on_resume_naming_the_fields() {
    let run = Run::new(Account::new());
    run.create(&root("profiles/dev.toml")).success();
    let changed = run.dir.path().join("dev.toml");
    let text = std::fs::read_to_string(root("profiles/dev.toml"))
        .unwrap()
        .replace("max_size = 3", "max_size = 5");
    std::fs::write(&changed, text).unwrap();
    run.create(&changed)
        .code(2)
        .stderr(predicate::str::contains("nodes.max_size"));
}

#[test]
fn the_default_state_file_lives_under_dot_eksboot() {
    let account = Account::new();
    account.authorize(&root("profiles/dev.toml"), &[]);
    let dir = tempfile::tempdir().unwrap();
    account
        .eksboot()
        .env("EKSBOOT_POLL_MS", "100")
        .current_dir(dir.path())
        .args(["create", "--yes", "--profile"])
        .arg(root("profiles/dev.toml"))
        .assert()
        .success();
    let state = dir.path().join(".eksboot/dev-us-west-2.state.json");
    let meta = std::fs::metadata(&state).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    // The lock file stays (never unlinked), empty once its run ended normally, and unlocked.
    let lock =
        std::fs::File::open(dir.path().join(".eksboot/dev-us-west-2.state.json.lock")).unwrap();
    assert_eq!(
        lock.metadata().unwrap().len(),
        0,
        "a clean exit names no holder"
    );
    lock.try_lock().expect("lock released");
    let text = std::fs::read_to_string(state).unwrap();
    assert!(
        !text.contains(account.runner.1.as_str()),
        "no credentials in the journal"
    );
}

#[test]
fn an_existing_log_group_is_adopted_with_retention_and_tags() {
    let run = Run::new(Account::new());
    let logs = aws_sdk_cloudwatchlogs::Client::new(&run.account.sdk("us-west-2"));
    block_on(async {
        logs.create_log_group()
            .log_group_name("/aws/eks/dev/cluster")
            .send()
            .await
            .unwrap();
    });
    let out = run.create(&root("profiles/dev.toml")).success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(
        text.contains("[secure] adopted log-group log-group"),
        "{text}"
    );
    check_secure(&run, "dev", "us-west-2", 30, &[]);
}

#[test]
fn a_role_name_taken_by_someone_else_is_refused_before_anything_is_made() {
    let run = Run::new(Account::new());
    let iam = aws_sdk_iam::Client::new(&run.account.sdk("us-west-2"));
    block_on(async {
        iam.create_role()
            .role_name("dev-node")
            .assume_role_policy_document(
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
            )
            .send()
            .await
            .unwrap();
    });
    let out = run.create(&root("profiles/dev.toml")).code(1);
    let text = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(
        text.contains("✗ role-names") && text.contains("dev-node"),
        "{text}"
    );
    let ec2 = aws_sdk_ec2::Client::new(&run.account.sdk("us-west-2"));
    block_on(async {
        let vpcs = ec2
            .describe_vpcs()
            .filters(tag_filter("eksboot:cluster", "dev"))
            .send()
            .await
            .unwrap();
        assert!(vpcs.vpcs().is_empty(), "nothing was created");
    });
}

#[test]
fn plain_output_of_a_full_create() {
    let run = Run::new(Account::new());
    let out = run.create(&root("profiles/dev.toml")).success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    // Steps run concurrently, so their lines come in varying order: sort those.
    // Waiting lines depend on timing; the finished ones do not.
    let (mut steps, rest): (Vec<&str>, Vec<&str>) = text
        .lines()
        .filter(|l| !l.contains("] waiting "))
        .partition(|l| l.starts_with('['));
    steps.sort();
    let mut shown = rest[..5].join("\n");
    shown.push_str("\n");
    shown.push_str(&steps.join("\n"));
    shown.push_str("\n");
    shown.push_str(&rest[5..].join("\n"));
    insta::with_settings!({filters => vec![
        (r"\b(vpc|subnet|igw|rtb|rtbassoc|sg|eipalloc|nat|lt)-[0-9a-f]{8,}", "$1-<id>"),
        (r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "<key-id>"),
        (r"\b\d{12}\b", "<account>"),
        (r"id/[A-Za-z0-9]+", "id/<issuer>"),
        (r"\d+\.\d+s\b", "<t>"),
        (r"/tmp/\.tmp[A-Za-z0-9]+", "<tmp>"),
    ]}, {
        insta::assert_snapshot!(shown);
    });
}

#[test]
fn a_state_file_in_use_is_refused_naming_the_holder() {
    let run = Run::new(Account::new());
    // This test process holds the OS lock, as a running eksboot would.
    let lock = std::fs::File::create(run.dir.path().join("state.json.lock")).unwrap();
    lock.lock().unwrap();
    std::fs::write(
        run.dir.path().join("state.json.lock"),
        format!("{} {}\n", std::process::id(), hostname()),
    )
    .unwrap();
    let profile = root("profiles/dev.toml");
    let out = run.create(&profile).code(1);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(
        stderr.contains(&format!(
            "in use by another eksboot run (process {}",
            std::process::id()
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("hint: wait for the other run to finish"),
        "{stderr}"
    );
    // Released, the same command goes ahead.
    drop(lock);
    run.create(&profile).success();
}

#[test]
fn a_run_killed_and_never_reaped_does_not_block_the_next() {
    // In a container whose init reaps nothing, a SIGKILLed run lingers as a zombie: its PID
    // still exists, but the kernel released its lock.
    let run = Run::new(Account::new());
    let mut child = run.spawn_create(&root("profiles/dev.toml"));
    // Killed at an event, not a time: once the journal records a step done.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while run.done_steps() < 1 {
        assert!(
            std::time::Instant::now() < deadline,
            "the run never finished a step"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // SIGKILL, and no wait(): the process stays a zombie until this test ends.
    sigkill(child.id());
    let pid = child.id();
    // `kill` returns once the signal is sent; the process is a zombie (its files, and so its
    // lock, released) a moment later.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let state = || {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| s.rsplit(") ").next().map(|rest| rest.starts_with('Z')))
    };
    while state() != Some(true) {
        assert!(
            std::time::Instant::now() < deadline,
            "the killed run never became a zombie"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = run
        .account
        .eksboot()
        .env("EKSBOOT_POLL_MS", "100")
        .args(["resume", "--yes", "--state"])
        .arg(run.state())
        .arg("--kubeconfig")
        .arg(run.kubeconfig())
        .assert()
        .success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(
        text.contains(&format!("process {pid}")),
        "says whose lock it took:\n{text}"
    );
    assert_eq!(
        crate::teardown::ours(&run.account, "dev", "us-west-2")["clusters"],
        1
    );
    let _ = child.wait();
}

/// SIGKILL by PID through the `kill` command (no libc binding in the tests).
fn sigkill(pid: u32) {
    let status = std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default()
}
