//! The plan: every resource `create` will make, its name, its place in the network and what it
//! depends on, plus what the plan means (cost, security checklist).
//!
//! Pure: built from a validated profile and, when known, facts read from AWS (the AZ names and
//! the Kubernetes version). It never touches the network, the clock or the terminal. Resource
//! ids are the step ids the executor and its journal use.

pub mod checklist;
pub mod cost;
pub mod diff;
pub mod iam;
pub mod network;
pub mod permissions;
pub mod upgrade;

use ipnet::Ipv4Net;
use serde::Serialize;

use crate::profile::{Nat, Pattern, Profile};
use network::{SubnetSlot, Tier};

/// The step id of an admin's access entry: keyed by the principal, not its place in the list,
/// so removing one admin leaves the others' steps alone. Readable (the principal's name) and
/// unique (a hash of the whole ARN), e.g. `access-entry-platform-admins-3f2a9c`.
pub fn access_entry_id(principal_arn: &str) -> String {
    use sha2::{Digest, Sha256};
    let name: String = principal_arn
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .take(40)
        .collect();
    let digest = Sha256::digest(principal_arn.as_bytes());
    let hash: String = digest.iter().take(3).map(|b| format!("{b:02x}")).collect();
    format!("access-entry-{name}-{hash}")
}

/// The three tasks every EKS cluster needs, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Task {
    Secure,
    Network,
    Cluster,
}

impl Task {
    pub const ALL: [Task; 3] = [Task::Secure, Task::Network, Task::Cluster];

    pub fn as_str(self) -> &'static str {
        match self {
            Task::Secure => "secure",
            Task::Network => "network",
            Task::Cluster => "cluster",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Task::Secure => "Secure the environment",
            Task::Network => "Configure the VPC",
            Task::Cluster => "Create the cluster",
        }
    }
}

/// What sort of AWS resource a step makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    IamRole,
    IamPolicy,
    KmsKey,
    LogGroup,
    Vpc,
    Subnet,
    InternetGateway,
    InternetGatewayAttachment,
    RouteTable,
    Route,
    RouteTableAssociation,
    ElasticIp,
    NatGateway,
    SecurityGroup,
    VpcEndpoint,
    EksCluster,
    AccessEntry,
    OidcProvider,
    Addon,
    LaunchTemplate,
    Nodegroup,
    /// Not planned: made by Kubernetes for Services; teardown finds them in our VPC.
    LoadBalancer,
    /// Not planned: left in our VPC by nodes (VPC CNI); teardown deletes this cluster's.
    NetworkInterface,
    /// Not planned: a PersistentVolumeClaim's EBS volume, tagged with the cluster's name.
    Volume,
    /// Not planned: the Load Balancer Controller's target groups.
    TargetGroup,
}

impl Kind {
    pub const fn as_str(self) -> &'static str {
        match self {
            Kind::IamRole => "iam-role",
            Kind::IamPolicy => "iam-policy",
            Kind::KmsKey => "kms-key",
            Kind::LogGroup => "log-group",
            Kind::Vpc => "vpc",
            Kind::Subnet => "subnet",
            Kind::InternetGateway => "internet-gateway",
            Kind::InternetGatewayAttachment => "internet-gateway-attachment",
            Kind::RouteTable => "route-table",
            Kind::Route => "route",
            Kind::RouteTableAssociation => "route-table-association",
            Kind::ElasticIp => "elastic-ip",
            Kind::NatGateway => "nat-gateway",
            Kind::SecurityGroup => "security-group",
            Kind::VpcEndpoint => "vpc-endpoint",
            Kind::EksCluster => "eks-cluster",
            Kind::AccessEntry => "access-entry",
            Kind::OidcProvider => "oidc-provider",
            Kind::Addon => "addon",
            Kind::LaunchTemplate => "launch-template",
            Kind::Nodegroup => "nodegroup",
            Kind::LoadBalancer => "load-balancer",
            Kind::NetworkInterface => "network-interface",
            Kind::Volume => "ebs-volume",
            Kind::TargetGroup => "target-group",
        }
    }
}

/// One resource of the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Resource {
    pub id: String,
    pub task: Task,
    pub kind: Kind,
    pub name: String,
    pub depends_on: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cidr: Option<Ipv4Net>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub az: Option<String>,
    /// A short human note: what it is for, or its one key setting.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// A subnet row of the layout table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SubnetRow {
    pub tier: Tier,
    pub az: String,
    pub cidr: Ipv4Net,
    pub usable_addresses: u64,
}

/// Facts from AWS that make a plan concrete. Offline, none are known.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlanFacts {
    /// The AZ names chosen, in plan order (AZ 1 first).
    pub availability_zones: Option<Vec<String>>,
    /// The Kubernetes version resolved at create time.
    pub kubernetes_version: Option<String>,
    /// An existing secrets key named in the profile (by key or alias ARN), resolved to its key
    /// ARN: the encryption config and the creator policy need the key, not its alias.
    pub secrets_key_arn: Option<String>,
    /// Which node group this is: 1 (or none) for the first, counting up each time `apply`
    /// replaces it (new instance types). The first is `<cluster>-default`, step `nodegroup`; a
    /// replacement is `<cluster>-nodes-<n>`, step `nodegroup-<n>`.
    pub nodegroup_generation: Option<u32>,
    /// When the cluster's Kubernetes version leaves EKS standard support (RFC 3339).
    pub standard_support_ends: Option<String>,
}

/// Interface VPC endpoints the `private` pattern needs so nodes reach AWS without internet:
/// image pulls (ecr.api, ecr.dkr, with S3 through the gateway endpoint), node bootstrap (ec2,
/// sts), logs, Pod Identity (eks-auth), and Session Manager (ssm, ssmmessages, ec2messages).
pub const INTERFACE_ENDPOINTS: [&str; 9] = [
    "ec2",
    "ecr.api",
    "ecr.dkr",
    "sts",
    "logs",
    "eks-auth",
    "ssm",
    "ssmmessages",
    "ec2messages",
];

/// Add-ons that run as DaemonSets and are healthy with no nodes at all. Every other add-on
/// (coredns, aws-ebs-csi-driver, metrics-server, …) runs pods that need nodes to be healthy.
pub const ADDONS_WITHOUT_NODES: [&str; 3] = ["vpc-cni", "kube-proxy", "eks-pod-identity-agent"];

/// The name of a managed policy (with its path) from its ARN: `policy/team/b` gives `team/b`.
pub fn policy_name(arn: &str) -> &str {
    arn.split_once(":policy/").map_or(arn, |(_, name)| name)
}

/// The step that checks the access entry EKS makes for Auto Mode's node role.
pub const NODE_ACCESS_ENTRY: &str = "access-entry-nodes";

/// Whether the cluster is given a subnet (a subnet step id). Auto Mode's default node class
/// launches nodes in the cluster's subnets (EKS user guide, "Create a Node Class for Amazon
/// EKS": `subnetSelectorTerms` default to the cluster's), so with public and private subnets
/// the cluster gets the private ones only and no node lands in a public subnet.
pub fn cluster_uses_subnet(profile: &Profile, subnet_step: &str) -> bool {
    !(profile.auto_mode()
        && profile.network.pattern == Pattern::PublicAndPrivate
        && subnet_step.starts_with("subnet-public-"))
}

/// Whether an add-on's pods need nodes before it can be healthy.
pub fn addon_needs_nodes(name: &str) -> bool {
    !ADDONS_WITHOUT_NODES.contains(&name)
}

/// The add-ons that may get a role of their own through EKS Pod Identity: the add-on, the
/// suffix of its role's name (`<cluster>-<suffix>`), and the Kubernetes service account (in
/// `kube-system`) its pods run as, which the pod identity association names: `aws-node` for
/// the VPC CNI (<https://docs.aws.amazon.com/eks/latest/userguide/cni-iam-role.html>),
/// `ebs-csi-controller-sa` for the EBS CSI driver's controller
/// (<https://docs.aws.amazon.com/eks/latest/userguide/ebs-csi.html>).
pub const ADDON_IDENTITIES: [(&str, &str, &str); 2] = [
    ("vpc-cni", "vpc-cni", "aws-node"),
    ("aws-ebs-csi-driver", "ebs-csi", "ebs-csi-controller-sa"),
];

/// The suffixes of every add-on role name eksboot may make (`<cluster>-vpc-cni`, …): teardown
/// and `apply` retire them whatever the profile says now.
pub fn addon_role_suffixes() -> impl Iterator<Item = &'static str> {
    ADDON_IDENTITIES.iter().map(|(_, suffix, _)| *suffix)
}

/// The name of an add-on's Pod Identity role, if the add-on can have one.
pub fn addon_role_name(cluster: &str, addon: &str) -> Option<String> {
    ADDON_IDENTITIES
        .iter()
        .find(|(a, _, _)| *a == addon)
        .map(|(_, suffix, _)| format!("{cluster}-{suffix}"))
}

/// The step id of an add-on's Pod Identity role: `addon-role-vpc-cni`, `addon-role-ebs-csi`.
pub fn addon_role_step(addon: &str) -> Option<String> {
    ADDON_IDENTITIES
        .iter()
        .find(|(a, _, _)| *a == addon)
        .map(|(_, suffix, _)| format!("addon-role-{suffix}"))
}

/// The Kubernetes service account an add-on's pod identity association is for.
pub fn addon_service_account(addon: &str) -> Option<&'static str> {
    ADDON_IDENTITIES
        .iter()
        .find(|(a, _, _)| *a == addon)
        .map(|(_, _, sa)| *sa)
}

/// The `configurationValues` eksboot gives an add-on, if any: the EBS CSI driver gets this
/// cluster's name as its cluster id (`controller.k8sTagClusterId` in the add-on's configuration
/// schema, `aws eks describe-addon-configuration --addon-name aws-ebs-csi-driver`), so the
/// volumes it makes carry `kubernetes.io/cluster/<name>=owned` and `KubernetesCluster=<name>`
/// and teardown finds them; without it they carry no cluster name
/// (<https://github.com/kubernetes-sigs/aws-ebs-csi-driver/blob/master/docs/tagging.md>).
pub fn addon_configuration(cluster: &str, addon: &str) -> Option<String> {
    (addon == "aws-ebs-csi-driver")
        .then(|| serde_json::json!({"controller": {"k8sTagClusterId": cluster}}).to_string())
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    pub resources: Vec<Resource>,
    pub subnets: Vec<SubnetRow>,
    pub cost: cost::Cost,
    pub checklist: Vec<checklist::Check>,
}

impl Plan {
    pub fn build(profile: &Profile, facts: &PlanFacts) -> Plan {
        let slots = network::layout(
            profile.network.vpc_cidr,
            profile.network.pattern,
            profile.network.availability_zones.count(),
        );
        let az_label = |index: usize| az_label(profile, facts, index);
        let mut resources = Builder::new(profile, &slots, &az_label).build();
        if let Some(n) = facts.nodegroup_generation.filter(|n| *n > 1) {
            for r in resources.iter_mut().filter(|r| r.kind == Kind::Nodegroup) {
                r.id = format!("nodegroup-{n}");
                r.name = format!("{}-nodes-{n}", profile.cluster.name);
            }
        }
        let subnets = slots
            .iter()
            .map(|s| SubnetRow {
                tier: s.tier,
                az: az_label(s.az_index),
                cidr: s.cidr,
                usable_addresses: network::usable_addresses(s.cidr),
            })
            .collect();
        let cost = cost::estimate_with(profile, &resources, facts.standard_support_ends.as_deref());
        let checklist = checklist::evaluate_with(profile, facts.standard_support_ends.as_deref());
        Plan {
            resources,
            subnets,
            cost,
            checklist,
        }
    }

    /// The node group's step id, if the plan has one.
    pub fn nodegroup_step(&self) -> Option<&str> {
        self.resources
            .iter()
            .find(|r| r.kind == Kind::Nodegroup)
            .map(|r| r.id.as_str())
    }

    pub fn resource(&self, id: &str) -> Option<&Resource> {
        self.resources.iter().find(|r| r.id == id)
    }

    pub fn count_kind(&self, kind: Kind) -> usize {
        self.resources.iter().filter(|r| r.kind == kind).count()
    }

    pub fn in_task(&self, task: Task) -> impl Iterator<Item = &Resource> {
        self.resources.iter().filter(move |r| r.task == task)
    }
}

/// The AZ of slot `index` (1-based): its name when known, else "AZ n".
fn az_label(profile: &Profile, facts: &PlanFacts, index: usize) -> String {
    let known = facts
        .availability_zones
        .as_ref()
        .or(match &profile.network.availability_zones {
            crate::profile::AzSpec::Names(names) => Some(names),
            crate::profile::AzSpec::Count(_) => None,
        });
    known
        .and_then(|names| names.get(index - 1).cloned())
        .unwrap_or_else(|| format!("AZ {index}"))
}

/// Service name → the step-id fragment (`ecr.api` → `ecr-api`).
/// The endpoint service name for `service` (e.g. `ecr.api`) among those the region offers:
/// AWS names them `com.amazonaws.REGION.SERVICE`, but not everywhere (China has
/// `cn.com.amazonaws.…` names), so the name is looked up, never built.
pub fn endpoint_service_name(offered: &[String], region: &str, service: &str) -> Option<String> {
    let suffix = format!(".{region}.{service}");
    let mut matching: Vec<&String> = offered.iter().filter(|n| n.ends_with(&suffix)).collect();
    matching.sort_by_key(|n| !n.starts_with("com.amazonaws."));
    matching.first().map(|n| n.to_string())
}

pub fn endpoint_id(service: &str) -> String {
    format!("endpoint-{}", service.replace('.', "-"))
}

struct Builder<'a> {
    profile: &'a Profile,
    slots: &'a [SubnetSlot],
    az_label: &'a dyn Fn(usize) -> String,
    resources: Vec<Resource>,
}

impl<'a> Builder<'a> {
    fn new(
        profile: &'a Profile,
        slots: &'a [SubnetSlot],
        az_label: &'a dyn Fn(usize) -> String,
    ) -> Self {
        Builder {
            profile,
            slots,
            az_label,
            resources: Vec::new(),
        }
    }

    fn name(&self, suffix: &str) -> String {
        format!("{}-{suffix}", self.profile.cluster.name)
    }

    fn add(
        &mut self,
        task: Task,
        kind: Kind,
        id: &str,
        name: String,
        deps: &[&str],
    ) -> &mut Resource {
        self.resources.push(Resource {
            id: id.to_string(),
            task,
            kind,
            name,
            depends_on: deps.iter().map(|d| d.to_string()).collect(),
            cidr: None,
            az: None,
            detail: None,
        });
        self.resources.last_mut().expect("just pushed")
    }

    fn azs(&self) -> usize {
        self.profile.network.availability_zones.count()
    }

    fn build(mut self) -> Vec<Resource> {
        self.secure();
        self.network();
        self.cluster();
        self.resources
    }

    fn secure(&mut self) {
        let p = self.profile;
        let creates_creator = p.security.creator_role.existing_arn().is_none();
        let creates_key = p.security.secrets_key.existing_arn().is_none();
        // Every role eksboot creates gets the boundary, named in its description.
        let bounded = |detail: &str| match &p.security.permissions_boundary {
            Some(arn) => format!("{detail}; permissions boundary {}", policy_name(arn)),
            None => detail.to_string(),
        };
        if creates_creator {
            let name = self.name("creator");
            self.add(Task::Secure, Kind::IamRole, "creator-role", name, &[])
                .detail = Some(bounded("creates the cluster and is its first admin"));
        }
        let name = self.name("cluster");
        let what = if p.auto_mode() {
            "EKS service role: AmazonEKSClusterPolicy and Auto Mode's compute, block storage, load balancing and networking policies"
        } else {
            "EKS service role: AmazonEKSClusterPolicy"
        };
        self.add(Task::Secure, Kind::IamRole, "cluster-role", name, &[])
            .detail = Some(bounded(what));
        if p.has_nodes() {
            let name = self.name("node");
            let what = if p.auto_mode() {
                "Auto Mode's nodes: EKS worker (minimal), ECR pull policies"
            } else if iam::node_role_policies(p).contains(&iam::CNI_POLICY) {
                "worker nodes: EKS worker, ECR pull, CNI, SSM policies"
            } else {
                "worker nodes: EKS worker, ECR pull, SSM policies (the CNI has its own role)"
            };
            self.add(Task::Secure, Kind::IamRole, "node-role", name, &[])
                .detail = Some(bounded(what));
        }
        // A role per add-on that calls AWS, handed to its pods by EKS Pod Identity.
        for (addon, policy) in p.addon_roles() {
            let (Some(id), Some(name)) = (
                addon_role_step(addon),
                addon_role_name(&p.cluster.name, addon),
            ) else {
                continue;
            };
            self.add(Task::Secure, Kind::IamRole, &id, name, &[]).detail =
                Some(bounded(&format!("{addon} through Pod Identity: {policy}")));
        }
        if creates_key {
            let mut deps = vec!["cluster-role"];
            if creates_creator {
                deps.insert(0, "creator-role");
            }
            let name = format!("alias/eksboot/{}", p.cluster.name);
            self.add(Task::Secure, Kind::KmsKey, "secrets-key", name, &deps)
                .detail = Some("encrypts Kubernetes secrets; rotation on".into());
        }
        if creates_creator {
            let mut deps = vec!["creator-role", "cluster-role"];
            if p.has_nodes() {
                deps.push("node-role");
            }
            if creates_key {
                deps.push("secrets-key");
            }
            if p.node_group() {
                // It lets the creator launch nodes with this template only, by the template's ARN.
                deps.push("launch-template");
            }
            let name = self.name("creator");
            self.add(Task::Secure, Kind::IamPolicy, "creator-policy", name, &deps)
                .detail = Some("least-privilege inline policy of the creator role".into());
        }
        let name = format!("/aws/eks/{}/cluster", p.cluster.name);
        self.add(Task::Secure, Kind::LogGroup, "log-group", name, &[])
            .detail = Some(format!(
            "control-plane logs, kept {} days",
            p.cluster.log_retention_days
        ));
    }

    fn subnet_id(tier: Tier, az_index: usize) -> String {
        format!("subnet-{}-{az_index}", tier.as_str())
    }

    fn network(&mut self) {
        let p = self.profile;
        let pattern = p.network.pattern;
        let name = self.name("vpc");
        let vpc = self.add(Task::Network, Kind::Vpc, "vpc", name, &[]);
        vpc.cidr = Some(p.network.vpc_cidr);
        vpc.detail = Some("DNS support and hostnames on".into());

        for slot in self.slots {
            let id = Self::subnet_id(slot.tier, slot.az_index);
            let name = self.name(&format!("{}-{}", slot.tier.as_str(), slot.az_index));
            let az = (self.az_label)(slot.az_index);
            let subnet = self.add(Task::Network, Kind::Subnet, &id, name, &["vpc"]);
            subnet.cidr = Some(slot.cidr);
            subnet.az = Some(az);
            subnet.detail = Some(match slot.tier {
                Tier::Public => {
                    "public IPs on launch; tagged for internet-facing load balancers".into()
                }
                Tier::Private => "tagged for internal load balancers".into(),
            });
        }

        if pattern.has_public_subnets() {
            self.public_tier();
        }
        let nat_count = self.nat_gateways();
        if pattern.has_private_subnets() {
            self.private_tier(nat_count);
        }
        if pattern == Pattern::Private {
            self.endpoints();
        }

        let name = self.name("cluster-sg");
        self.add(
            Task::Network,
            Kind::SecurityGroup,
            "cluster-sg",
            name,
            &["vpc"],
        )
        .detail = Some("no inbound rules; all outbound allowed".into());
    }

    /// The internet gateway, its route table and the public subnets' associations.
    fn public_tier(&mut self) {
        let name = self.name("igw");
        self.add(Task::Network, Kind::InternetGateway, "igw", name, &[]);
        let name = self.name("igw");
        self.add(
            Task::Network,
            Kind::InternetGatewayAttachment,
            "igw-attach",
            name,
            &["igw", "vpc"],
        );
        let name = self.name("public");
        self.add(
            Task::Network,
            Kind::RouteTable,
            "route-table-public",
            name,
            &["vpc"],
        );
        let name = self.name("public");
        self.add(
            Task::Network,
            Kind::Route,
            "route-public-internet",
            name,
            &["route-table-public", "igw-attach"],
        )
        .detail = Some("0.0.0.0/0 → internet gateway".into());
        for az in 1..=self.azs() {
            let subnet = Self::subnet_id(Tier::Public, az);
            let name = self.name("public");
            self.add(
                Task::Network,
                Kind::RouteTableAssociation,
                &format!("rta-public-{az}"),
                name,
                &["route-table-public", &subnet],
            );
        }
    }

    /// The NAT gateways (one per AZ, one, or none) with their addresses; returns how many.
    fn nat_gateways(&mut self) -> usize {
        let p = self.profile;
        let pattern = p.network.pattern;
        let nat_count = match (pattern, p.network.nat) {
            (Pattern::PublicAndPrivate, Nat::PerAz) => self.azs(),
            (Pattern::PublicAndPrivate, Nat::Single) => 1,
            _ => 0,
        };
        for az in 1..=nat_count {
            let name = self.name(&format!("nat-{az}"));
            let eip = format!("eip-{az}");
            self.add(Task::Network, Kind::ElasticIp, &eip, name.clone(), &[])
                .detail = Some(format!("public address of NAT gateway {az}"));
            let subnet = Self::subnet_id(Tier::Public, az);
            let label = (self.az_label)(az);
            let nat = self.add(
                Task::Network,
                Kind::NatGateway,
                &format!("nat-{az}"),
                name,
                &[&subnet, &eip, "igw-attach"],
            );
            nat.az = Some(label);
        }
        nat_count
    }

    /// A route table per private subnet, through its AZ's NAT gateway (or the single one).
    fn private_tier(&mut self, nat_count: usize) {
        for az in 1..=self.azs() {
            let table = format!("route-table-private-{az}");
            let name = self.name(&format!("private-{az}"));
            self.add(
                Task::Network,
                Kind::RouteTable,
                &table,
                name.clone(),
                &["vpc"],
            )
            .az = Some((self.az_label)(az));
            if nat_count > 0 {
                let nat = format!("nat-{}", if nat_count == 1 { 1 } else { az });
                self.add(
                    Task::Network,
                    Kind::Route,
                    &format!("route-private-{az}-nat"),
                    name.clone(),
                    &[&table, &nat],
                )
                .detail = Some(format!("0.0.0.0/0 → {}", self.name(&nat)));
            }
            let subnet = Self::subnet_id(Tier::Private, az);
            self.add(
                Task::Network,
                Kind::RouteTableAssociation,
                &format!("rta-private-{az}"),
                name,
                &[&table, &subnet],
            );
        }
    }

    /// The private pattern's way to AWS without internet: VPC endpoints and their group.
    fn endpoints(&mut self) {
        let p = self.profile;
        let name = self.name("endpoints-sg");
        self.add(
            Task::Network,
            Kind::SecurityGroup,
            "endpoints-sg",
            name,
            &["vpc"],
        )
        .detail = Some(format!("allows 443 from {} only", p.network.vpc_cidr));
        let tables: Vec<String> = (1..=self.azs())
            .map(|az| format!("route-table-private-{az}"))
            .collect();
        let mut deps: Vec<&str> = vec!["vpc"];
        deps.extend(tables.iter().map(String::as_str));
        let name = self.name("s3");
        self.add(Task::Network, Kind::VpcEndpoint, "endpoint-s3", name, &deps)
            .detail = Some("gateway endpoint for S3 (image layers)".into());
        let subnets: Vec<String> = (1..=self.azs())
            .map(|az| Self::subnet_id(Tier::Private, az))
            .collect();
        for service in INTERFACE_ENDPOINTS {
            let mut deps: Vec<&str> = vec!["endpoints-sg"];
            deps.extend(subnets.iter().map(String::as_str));
            let name = self.name(&service.replace('.', "-"));
            self.add(
                Task::Network,
                Kind::VpcEndpoint,
                &endpoint_id(service),
                name,
                &deps,
            )
            .detail = Some(format!("interface endpoint for {service}, private DNS"));
        }
    }

    fn cluster(&mut self) {
        let p = self.profile;
        let has = |resources: &[Resource], id: &str| resources.iter().any(|r| r.id == id);

        let mut deps: Vec<String> = ["creator-policy", "cluster-role", "secrets-key", "log-group"]
            .iter()
            .filter(|id| has(&self.resources, id))
            .map(|s| s.to_string())
            .collect();
        deps.extend(
            self.slots
                .iter()
                .map(|s| Self::subnet_id(s.tier, s.az_index))
                .filter(|id| cluster_uses_subnet(p, id)),
        );
        deps.push("cluster-sg".into());
        if p.auto_mode() {
            // Auto Mode's compute capability names the node role.
            deps.push("node-role".into());
        }
        let dep_refs: Vec<&str> = deps.iter().map(String::as_str).collect();
        let version = match &p.cluster.kubernetes_version {
            Some(v) => format!("Kubernetes {v}"),
            None => "Kubernetes: newest at create time".into(),
        };
        let name = p.cluster.name.clone();
        let auto = if p.auto_mode() {
            let subnets = if p.network.pattern == Pattern::PublicAndPrivate {
                " in the private subnets"
            } else {
                ""
            };
            format!(
                "; EKS Auto Mode (node pools {}){subnets}",
                p.nodes.node_pools.join(", ")
            )
        } else {
            String::new()
        };
        self.add(Task::Cluster, Kind::EksCluster, "cluster", name, &dep_refs)
            .detail = Some(format!(
            "{version}; endpoint {}; secrets encrypted; {} log types{auto}",
            p.cluster.endpoint_access,
            p.cluster.log_types.len()
        ));
        self.access();
        if p.node_group() {
            self.node_group();
        }
        self.addons();
    }

    /// Who may use the cluster: you, the profile's admins, Auto Mode's nodes (EKS's own
    /// entry, only checked), and the OIDC issuer for IRSA.
    fn access(&mut self) {
        let p = self.profile;
        self.add(
            Task::Cluster,
            Kind::AccessEntry,
            "access-entry-caller",
            "you (the identity running eksboot)".into(),
            &["cluster"],
        )
        .detail = Some("cluster admin".into());
        for admin in &p.cluster.admins {
            self.add(
                Task::Cluster,
                Kind::AccessEntry,
                &access_entry_id(admin),
                admin.clone(),
                &["cluster"],
            )
            .detail = Some("cluster admin".into());
        }
        if p.auto_mode() {
            // EKS makes the node role's access entry (type EC2) itself: eksboot only checks.
            self.add(
                Task::Cluster,
                Kind::AccessEntry,
                NODE_ACCESS_ENTRY,
                "Auto Mode's nodes (the node role)".into(),
                &["cluster"],
            )
            .detail = Some("made by EKS (type EC2); eksboot checks it is there".into());
        }
        if p.cluster.oidc_provider {
            self.add(
                Task::Cluster,
                Kind::OidcProvider,
                "oidc-provider",
                "the cluster's OIDC issuer".into(),
                &["cluster"],
            )
            .detail = Some("IAM roles for service accounts (IRSA)".into());
        }
    }

    /// The managed node group and its launch template; the group waits for the nodes' way out.
    fn node_group(&mut self) {
        let p = self.profile;
        let name = self.name("nodes");
        self.add(
            Task::Cluster,
            Kind::LaunchTemplate,
            "launch-template",
            name,
            &[],
        )
        .detail = Some(format!(
            "IMDSv2 required, hop limit 1; encrypted gp3 root volume of {} GiB",
            p.nodes.disk_size_gib
        ));
        // Nodes need a way out before they can join: the NAT routes, the internet route,
        // or the VPC endpoints.
        let mut deps: Vec<String> = vec![
            "cluster".into(),
            "node-role".into(),
            "launch-template".into(),
        ];
        let egress: Vec<String> = self
            .resources
            .iter()
            .filter(|r| {
                r.task == Task::Network
                    && match p.network.pattern {
                        Pattern::Public => {
                            r.id == "route-public-internet" || r.id.starts_with("rta-public-")
                        }
                        Pattern::PublicAndPrivate => {
                            r.id.starts_with("route-private-") || r.id.starts_with("rta-private-")
                        }
                        Pattern::Private => {
                            r.kind == Kind::VpcEndpoint || r.id.starts_with("rta-private-")
                        }
                    }
            })
            .map(|r| r.id.clone())
            .collect();
        deps.extend(egress);
        let dep_refs: Vec<&str> = deps.iter().map(String::as_str).collect();
        let name = self.name("default");
        let tier = if p.nodes_in_private_subnets() {
            "private"
        } else {
            "public"
        };
        self.add(Task::Cluster, Kind::Nodegroup, "nodegroup", name, &dep_refs)
            .detail = Some(format!(
            "{} × {} in the {tier} subnets (min {}, max {})",
            p.nodes.desired_size,
            p.nodes.instance_types.join("/"),
            p.nodes.min_size,
            p.nodes.max_size
        ));
    }

    /// The add-ons, each after its Pod Identity role; nodes after the CNI's role.
    fn addons(&mut self) {
        let p = self.profile;
        let roles = p.addon_roles();
        for addon in &p.cluster.addons {
            let mut detail = if addon_needs_nodes(addon) {
                if p.has_nodes() {
                    "default version; healthy once nodes run"
                } else {
                    "default version; healthy once nodes exist (none planned)"
                }
            } else {
                "default version"
            }
            .to_string();
            let mut deps = vec!["cluster".to_string()];
            if roles.iter().any(|(a, _)| a == addon) {
                if let (Some(step), Some(sa)) =
                    (addon_role_step(addon), addon_service_account(addon))
                {
                    detail.push_str(&format!("; service account {sa} gets its role"));
                    deps.push(step);
                }
            }
            if addon_configuration(&p.cluster.name, addon).is_some() {
                detail.push_str("; cluster id set, so its volumes carry the cluster's name");
            }
            let dep_refs: Vec<&str> = deps.iter().map(String::as_str).collect();
            self.add(
                Task::Cluster,
                Kind::Addon,
                &format!("addon-{addon}"),
                addon.clone(),
                &dep_refs,
            )
            .detail = Some(detail);
        }
        // Nodes start once the CNI's role is in place, so no aws-node pod ever runs without
        // its permissions (the node role no longer holds them).
        if roles.iter().any(|(a, _)| *a == "vpc-cni") {
            for r in self
                .resources
                .iter_mut()
                .filter(|r| r.kind == Kind::Nodegroup)
            {
                r.depends_on.push("addon-vpc-cni".into());
            }
        }
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod boundary_tests {
    use super::*;

    fn profile(security: &str) -> Profile {
        Profile::parse(
            &format!(
                "[cluster]\nname = \"demo\"\nregion = \"us-west-2\"\n[security]\n{security}\n"
            ),
            std::path::Path::new("t.toml"),
        )
        .unwrap()
    }

    fn details(p: &Profile) -> Vec<(String, String)> {
        Plan::build(p, &PlanFacts::default())
            .resources
            .iter()
            .filter(|r| r.kind == Kind::IamRole)
            .map(|r| (r.id.clone(), r.detail.clone().unwrap_or_default()))
            .collect()
    }

    #[test]
    fn every_role_eksboot_creates_names_its_boundary() {
        // The creator, cluster, node and vpc-cni roles (Pod Identity, the default).
        let plain = details(&profile(""));
        assert_eq!(plain.len(), 4);
        assert!(
            plain.iter().all(|(_, d)| !d.contains("boundary")),
            "{plain:?}"
        );

        let bounded = details(&profile(
            "permissions_boundary = \"arn:aws:iam::123456789012:policy/team/eks-boundary\"",
        ));
        let ids: Vec<&str> = bounded.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "creator-role",
                "cluster-role",
                "node-role",
                "addon-role-vpc-cni"
            ]
        );
        assert!(
            bounded
                .iter()
                .all(|(_, d)| d.ends_with("; permissions boundary team/eks-boundary")),
            "{bounded:?}"
        );

        // A brought creator role is not in the plan, so it is never given the boundary.
        let brought = details(&profile(
            "creator_role = \"arn:aws:iam::123456789012:role/mine\"\npermissions_boundary = \"arn:aws:iam::123456789012:policy/b\"",
        ));
        let ids: Vec<&str> = brought.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(ids, ["cluster-role", "node-role", "addon-role-vpc-cni"]);
    }

    #[test]
    fn add_on_roles_come_before_their_add_ons_and_nodes_wait_for_the_cni_s() {
        let with = |extra: &str| {
            Profile::parse(
                &format!("[cluster]\nname = \"demo\"\nregion = \"us-west-2\"\n{extra}"),
                std::path::Path::new("t.toml"),
            )
            .unwrap()
        };
        let p = with(
            "addons = [\"vpc-cni\", \"coredns\", \"eks-pod-identity-agent\", \"aws-ebs-csi-driver\"]",
        );
        let plan = Plan::build(&p, &PlanFacts::default());
        let cni = plan.resource("addon-role-vpc-cni").expect("the CNI's role");
        assert_eq!((cni.kind, cni.task), (Kind::IamRole, Task::Secure));
        assert_eq!(cni.name, "demo-vpc-cni");
        assert!(cni
            .detail
            .as_deref()
            .unwrap()
            .contains("AmazonEKS_CNI_Policy"));
        let ebs = plan
            .resource("addon-role-ebs-csi")
            .expect("the EBS CSI driver's role");
        assert_eq!(ebs.name, "demo-ebs-csi");
        assert!(plan
            .resource("addon-vpc-cni")
            .unwrap()
            .depends_on
            .contains(&"addon-role-vpc-cni".to_string()));
        let driver = plan.resource("addon-aws-ebs-csi-driver").unwrap();
        assert!(driver
            .depends_on
            .contains(&"addon-role-ebs-csi".to_string()));
        assert!(driver.detail.as_deref().unwrap().contains("cluster id"));
        // coredns calls no AWS API: no role, no extra dependency.
        assert_eq!(
            plan.resource("addon-coredns").unwrap().depends_on,
            ["cluster"]
        );
        // Nodes start once the CNI has its role; the node role is said to lack the CNI's policy.
        assert!(plan
            .resource("nodegroup")
            .unwrap()
            .depends_on
            .contains(&"addon-vpc-cni".to_string()));
        assert!(!plan
            .resource("node-role")
            .unwrap()
            .detail
            .as_deref()
            .unwrap()
            .contains("CNI,"));

        // With the node role: no add-on role, the node role keeps the CNI's policy, nodes
        // wait for nothing new.
        let old = with("addons = [\"vpc-cni\", \"aws-ebs-csi-driver\"]");
        let plan = Plan::build(&old, &PlanFacts::default());
        assert_eq!(plan.count_kind(Kind::IamRole), 3);
        assert!(!plan
            .resource("nodegroup")
            .unwrap()
            .depends_on
            .contains(&"addon-vpc-cni".to_string()));
        assert!(plan
            .resource("node-role")
            .unwrap()
            .detail
            .as_deref()
            .unwrap()
            .contains("CNI,"));
        // The EBS CSI driver still gets its cluster id.
        assert_eq!(
            addon_configuration("demo", "aws-ebs-csi-driver").as_deref(),
            Some(r#"{"controller":{"k8sTagClusterId":"demo"}}"#)
        );
        assert_eq!(addon_configuration("demo", "vpc-cni"), None);
        assert_eq!(addon_service_account("vpc-cni"), Some("aws-node"));
        assert_eq!(
            addon_service_account("aws-ebs-csi-driver"),
            Some("ebs-csi-controller-sa")
        );
        assert_eq!(
            addon_role_suffixes().collect::<Vec<_>>(),
            ["vpc-cni", "ebs-csi"]
        );
    }

    #[test]
    fn policy_names_keep_their_path() {
        assert_eq!(policy_name("arn:aws:iam::123456789012:policy/b"), "b");
        assert_eq!(policy_name("arn:aws:iam::aws:policy/job/x"), "job/x");
        assert_eq!(policy_name("odd"), "odd");
    }
}
