//! Teardown: find everything eksboot made for a cluster (by its tags and derived names, so a
//! lost state file never means lost track of money-burning resources), then delete it in reverse
//! dependency order, independent deletions together. Deleting what is already gone is success.
//! Resources eksboot did not make (an existing creator role or key named in a profile) carry no
//! eksboot tags and are never touched.

use crate::aws::done_if_gone;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::join_all;

use crate::aws::{ec2, eks, elb, iam, kms, logs, sts, Aws, AwsError};
use crate::plan::{Kind, Resource, Task};

use super::report::{Event, Reporter};
use super::retry::PollDelay;
use super::{StepError, Timing};

/// How long to wait for one thing to disappear (VPC endpoints take minutes).
pub const GONE_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// How long to retry a deletion that something on its way out still blocks.
pub const DEPENDENCY_BUDGET: Duration = Duration::from_secs(10 * 60);

/// Who and what to tear down.
pub struct Teardown {
    pub aws: Aws,
    pub cluster: String,
    pub region: String,
    pub account: String,
    /// A creator role to assume for EKS calls (ours, or the one the profile named).
    pub creator_role_arn: Option<String>,
    pub key_deletion_days: i32,
    /// Also delete the load balancers Kubernetes made for this cluster's Services.
    pub force: bool,
    pub timing: Timing,
    pub reporter: Arc<dyn Reporter>,
}

/// Everything found that belongs to the cluster.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inventory {
    pub cluster: Option<String>,
    /// The cluster's deletion protection is on: turned off (after the confirmation) before
    /// anything is deleted.
    pub deletion_protection: bool,
    pub nodegroups: Vec<String>,
    pub addons: Vec<String>,
    pub access_entries: Vec<String>,
    pub launch_templates: Vec<String>,
    pub oidc_providers: Vec<String>,
    pub vpcs: Vec<String>,
    /// Load balancers in our VPCs (Kubernetes made them): `(arn, name, tagged for this cluster)`.
    pub load_balancers: Vec<(String, String, bool)>,
    /// Classic load balancers in our VPCs (a Service without the Load Balancer Controller):
    /// `(name, tagged for this cluster)`.
    pub classic_load_balancers: Vec<(String, bool)>,
    /// Security groups Kubernetes made for its load balancers (`k8s-elb-…`, the controller's).
    pub k8s_security_groups: Vec<String>,
    /// Target groups Kubernetes made for this cluster's Services and Ingresses: `(arn, name)`.
    pub target_groups: Vec<(String, String)>,
    /// EBS volumes Kubernetes made for this cluster's PersistentVolumeClaims.
    pub volumes: Vec<K8sVolume>,
    pub nat_gateways: Vec<String>,
    pub addresses: Vec<String>,
    pub vpc_endpoints: Vec<String>,
    /// `(gateway, attached VPCs)`.
    pub internet_gateways: Vec<(String, Vec<String>)>,
    /// `(table, association ids)`.
    pub route_tables: Vec<(String, Vec<String>)>,
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
    pub log_group: Option<String>,
    /// `(key id, whether our alias points at it)`.
    pub keys: Vec<(String, bool)>,
    /// Role names, the creator last.
    pub roles: Vec<String>,
    /// The cluster runs EKS Auto Mode (its compute capability is on).
    pub auto_mode: bool,
    /// Auto Mode's instances of this cluster (tagged [`AUTO_MODE_TAG`]) not yet terminated:
    /// EKS terminates them with the cluster, and teardown waits for it.
    pub auto_instances: Vec<String>,
    /// Auto Mode's network interfaces of this cluster: they go with their instances.
    pub auto_interfaces: Vec<String>,
    /// Auto Mode's load balancers of this cluster, `(arn, name)`: EKS deletes them with the
    /// cluster (they are never in the way, and eksboot does not delete them itself).
    pub auto_load_balancers: Vec<(String, String)>,
    /// EBS volumes Auto Mode made for this cluster (a node's disk, a claim's volume): user
    /// data, deleted with `--force` only, once the cluster and its instances are gone.
    pub auto_volumes: Vec<K8sVolume>,
    /// Instance profiles EKS made for this cluster that hold one of its roles:
    /// `(profile, role)`; the role is taken out of each and each deleted before the role.
    pub instance_profiles: Vec<(String, String)>,
    /// What the look-around could not read, said to the person.
    pub notes: Vec<String>,
}

impl Inventory {
    /// One line per resource: task, kind, id.
    pub fn lines(&self) -> Vec<(Task, Kind, String)> {
        let mut out = Vec::new();
        let mut add = |task, kind, ids: &[String]| {
            for id in ids {
                out.push((task, kind, id.clone()));
            }
        };
        add(Task::Cluster, Kind::Nodegroup, &self.nodegroups);
        let volumes: Vec<String> = self.volumes.iter().map(|v| v.id.clone()).collect();
        add(Task::Cluster, VOLUME_KIND, &volumes);
        add(Task::Cluster, Kind::LaunchTemplate, &self.launch_templates);
        add(Task::Cluster, Kind::Addon, &self.addons);
        add(Task::Cluster, Kind::AccessEntry, &self.access_entries);
        add(Task::Cluster, Kind::EksCluster, self.cluster.as_slice());
        // Auto Mode's volumes only once its instances are gone, which is after the cluster.
        let auto_volumes: Vec<String> = self.auto_volumes.iter().map(|v| v.id.clone()).collect();
        add(Task::Cluster, VOLUME_KIND, &auto_volumes);
        add(Task::Cluster, Kind::OidcProvider, &self.oidc_providers);
        let lbs: Vec<String> = self
            .load_balancers
            .iter()
            .map(|(_, n, _)| n.clone())
            .collect();
        add(Task::Network, Kind::LoadBalancer, &lbs);
        let classic: Vec<String> = self
            .classic_load_balancers
            .iter()
            .map(|(n, _)| n.clone())
            .collect();
        add(Task::Network, Kind::LoadBalancer, &classic);
        let target_groups: Vec<String> =
            self.target_groups.iter().map(|(_, n)| n.clone()).collect();
        add(Task::Network, TARGET_GROUP_KIND, &target_groups);
        add(
            Task::Network,
            Kind::SecurityGroup,
            &self.k8s_security_groups,
        );
        add(Task::Network, Kind::NatGateway, &self.nat_gateways);
        add(Task::Network, Kind::ElasticIp, &self.addresses);
        add(Task::Network, Kind::VpcEndpoint, &self.vpc_endpoints);
        let igws: Vec<String> = self
            .internet_gateways
            .iter()
            .map(|(g, _)| g.clone())
            .collect();
        add(Task::Network, Kind::InternetGateway, &igws);
        let tables: Vec<String> = self.route_tables.iter().map(|(t, _)| t.clone()).collect();
        add(Task::Network, Kind::RouteTable, &tables);
        add(Task::Network, Kind::Subnet, &self.subnets);
        add(Task::Network, Kind::SecurityGroup, &self.security_groups);
        add(Task::Network, Kind::Vpc, &self.vpcs);
        add(Task::Secure, Kind::LogGroup, self.log_group.as_slice());
        let keys: Vec<String> = self.keys.iter().map(|(k, _)| k.clone()).collect();
        add(Task::Secure, Kind::KmsKey, &keys);
        add(Task::Secure, Kind::IamRole, &self.roles);
        out
    }

    pub fn is_empty(&self) -> bool {
        self.lines().is_empty() && !self.auto_mode_left()
    }

    /// Whether Auto Mode's instances, interfaces, load balancers or instance profiles of this
    /// cluster are still there (or the cluster runs Auto Mode): teardown then waits for them.
    pub fn auto_mode_left(&self) -> bool {
        self.auto_mode
            || !self.auto_instances.is_empty()
            || !self.auto_interfaces.is_empty()
            || !self.auto_load_balancers.is_empty()
            || !self.instance_profiles.is_empty()
    }

    /// What Kubernetes made that keeps teardown from starting, each with the way out: load
    /// balancers in our VPCs not tagged for this cluster (not ours to delete; they would keep
    /// the VPC alive), and without `force` what Kubernetes made for this cluster (load
    /// balancers, their target groups, the volumes of PersistentVolumeClaims), which only
    /// Kubernetes can remove cleanly, while the cluster still runs.
    pub fn in_the_way(&self, force: bool) -> Vec<(String, String)> {
        let mut out = self.load_balancers_only_in_the_way(force);
        if force {
            return out;
        }
        // Only Kubernetes deletes these cleanly (with the objects they belong to), and only
        // while the cluster runs; once it is gone, --force is the way.
        let live = self.cluster.is_some();
        let way_out = |made_for: &str, delete: &str| {
            if live {
                format!("Kubernetes made it for {made_for} of this cluster: delete {delete} while the cluster still runs, or run teardown with --force to delete it")
            } else {
                format!("Kubernetes made it for {made_for} of this cluster, which is gone, so Kubernetes cannot delete it any more: run teardown with --force to delete it")
            }
        };
        for (_, name) in &self.target_groups {
            out.push((
                format!("{TARGET_GROUP_LABEL} {name}"),
                way_out(
                    "a Service or Ingress (through the Load Balancer Controller)",
                    "the Service or Ingress (`kubectl delete svc NAME -n NAMESPACE`, `kubectl delete ingress NAME -n NAMESPACE`)",
                ),
            ));
        }
        for v in &self.volumes {
            let claim = match &v.claim {
                Some(claim) => format!("the PersistentVolumeClaim {claim}"),
                None => "a PersistentVolumeClaim".to_string(),
            };
            out.push((
                format!("{VOLUME_LABEL} {} ({} GiB, {})", v.id, v.size_gib, v.state),
                way_out(
                    &claim,
                    "the claim (`kubectl delete pvc NAME -n NAMESPACE`; with the reclaim policy Delete its volume goes too)",
                ),
            ));
        }
        for v in &self.auto_volumes {
            let made_for = match &v.claim {
                Some(claim) => format!("the PersistentVolumeClaim {claim}"),
                None => "a node or a PersistentVolumeClaim".to_string(),
            };
            let way_out = if live {
                format!("EKS Auto Mode made it for {made_for} of this cluster and it may hold data: delete the claim while the cluster still runs (`kubectl delete pvc NAME -n NAMESPACE`), or keep a snapshot, then run teardown with --force to delete it")
            } else {
                format!("EKS Auto Mode made it for {made_for} of this cluster, which is gone, and it may hold data: keep a snapshot if you need it, then run teardown with --force to delete it")
            };
            out.push((
                format!("{VOLUME_LABEL} {} ({} GiB, {})", v.id, v.size_gib, v.state),
                way_out,
            ));
        }
        out
    }

    /// [`Inventory::in_the_way`]: the name the caller uses (load balancers were the first
    /// things found in the way; volumes and target groups are now too).
    pub fn load_balancers_in_the_way(&self, force: bool) -> Vec<(String, String)> {
        self.in_the_way(force)
    }

    fn load_balancers_only_in_the_way(&self, force: bool) -> Vec<(String, String)> {
        let all = self
            .load_balancers
            .iter()
            .map(|(_, name, ours)| (name, *ours))
            .chain(
                self.classic_load_balancers
                    .iter()
                    .map(|(n, ours)| (n, *ours)),
            );
        all.filter(|(_, ours)| !ours || !force)
            .map(|(name, ours)| {
                let way_out = if ours {
                    "Kubernetes made it for a Service of this cluster: delete the Service (`kubectl delete svc NAME -n NAMESPACE`) while the cluster still runs, or run teardown with --force to delete it".to_string()
                } else {
                    "it is not tagged for this cluster, so eksboot will not delete it: delete it yourself (EC2 console → Load Balancers), then run teardown again".to_string()
                };
                (format!("load-balancer {name}"), way_out)
            })
            .collect()
    }
}

/// What teardown did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    pub deleted: Vec<String>,
    /// Scheduled rather than deleted at once (the KMS key), with when.
    pub scheduled: Vec<String>,
    /// What could not be deleted, with why.
    pub left: Vec<(String, String)>,
}

fn has_tag(tags: &[(String, String)], key: &str, value: &str) -> bool {
    tags.iter().any(|(k, v)| k == key && v == value)
}

/// How the wait for EKS Auto Mode's instances and load balancers, and the instance profiles
/// EKS made, are named in what teardown says.
pub const AUTO_MODE_LABEL: &str = "eks-auto-mode-resources-of";
pub const INSTANCE_PROFILE_LABEL: &str = "instance-profile";

/// Pure: what still stands of Auto Mode's resources after DeleteCluster, said as a status, or
/// `None` when nothing does.
pub fn auto_mode_status(
    instances: usize,
    load_balancers: usize,
    interfaces: usize,
) -> Option<String> {
    let mut parts = Vec::new();
    if instances > 0 {
        parts.push(format!("{instances} instance(s)"));
    }
    if load_balancers > 0 {
        parts.push(format!("{load_balancers} load balancer(s)"));
    }
    if interfaces > 0 {
        parts.push(format!("{interfaces} attached network interface(s)"));
    }
    (!parts.is_empty()).then(|| format!("EKS Auto Mode's {} still there", parts.join(", ")))
}

/// How the wait for the interfaces and cluster security group EKS removes itself after the
/// cluster is named in what teardown says.
pub const EKS_NETWORK_LABEL: &str = "eks-network-of";

/// The tag EKS puts on the cluster security group it makes (`eks-cluster-sg-<name>-<id>`),
/// with the cluster's name (https://docs.aws.amazon.com/eks/latest/userguide/sec-group-reqs.html).
pub const CLUSTER_SG_TAG: &str = "aws:eks:cluster-name";
const CLUSTER_SG_FILTER: &str = "tag:aws:eks:cluster-name";

/// The tag EKS puts on a managed node group's resources, with the cluster's name
/// (https://docs.aws.amazon.com/eks/latest/userguide/managed-node-groups.html).
pub const NODEGROUP_CLUSTER_TAG: &str = "eks:cluster-name";

/// Pure: whether a security group is the cluster security group EKS made.
pub fn is_cluster_security_group(tags: &[(String, String)]) -> bool {
    tags.iter().any(|(k, _)| k == CLUSTER_SG_TAG)
}

/// Pure: whether an interface is one AWS removes itself once its owner is gone: the cluster's
/// cross-account ones ("Amazon EKS <cluster>"), a managed node's (still attached), a load
/// balancer's whose load balancer is not among `live_lbs` any more.
pub fn removed_by_aws(n: &ec2::NetworkInterface, cluster: &str, live_lbs: &[String]) -> bool {
    if let Some(lb) = load_balancer_of(&n.description) {
        return !live_lbs.iter().any(|live| live == lb);
    }
    n.description == format!("Amazon EKS {cluster}")
        || (n.status != "available"
            && n.tags
                .iter()
                .any(|(k, v)| k == NODEGROUP_CLUSTER_TAG && v == cluster))
}

/// Pure: the load balancer an interface belongs to, by its description: Classic ones are
/// described `ELB <name>`, v2 ones `ELB app/<name>/<id>` or `ELB net/<name>/<id>`.
pub fn load_balancer_of(description: &str) -> Option<&str> {
    let rest = description.strip_prefix("ELB ")?;
    match rest.split_once('/') {
        Some(("app" | "net", tail)) => tail.split('/').next(),
        _ => Some(rest),
    }
}

/// Pure: what EKS still has in the VPC after the cluster, said as a status, or `None`.
pub fn eks_network_status(interfaces: usize, groups: &[String]) -> Option<String> {
    let mut parts = Vec::new();
    if interfaces > 0 {
        parts.push(format!("{interfaces} network interface(s)"));
    }
    if !groups.is_empty() {
        parts.push(format!("cluster security group {}", groups.join(", ")));
    }
    (!parts.is_empty()).then(|| format!("EKS's {} still there", parts.join(" and ")))
}

/// How volumes and target groups are named in what teardown says.
pub const VOLUME_LABEL: &str = Kind::Volume.as_str();
pub const TARGET_GROUP_LABEL: &str = Kind::TargetGroup.as_str();
/// The kinds they are listed and reported under.
const VOLUME_KIND: Kind = Kind::Volume;
const TARGET_GROUP_KIND: Kind = Kind::TargetGroup;

/// The tag EKS Auto Mode puts on everything it makes for a cluster, with the cluster's name:
/// its managed policies allow it to make instances, launch templates and fleets
/// (AmazonEKSComputePolicy), volumes and snapshots (AmazonEKSBlockStoragePolicy), load
/// balancers, target groups and security groups (AmazonEKSLoadBalancingPolicy) only with
/// `aws:RequestTag/eks:eks-cluster-name`, and EKS's service-linked role terminates the
/// instances and deletes the interfaces carrying it (AmazonEKSServiceRolePolicy):
/// <https://docs.aws.amazon.com/eks/latest/userguide/security-iam-awsmanpol.html>.
pub const AUTO_MODE_TAG: &str = "eks:eks-cluster-name";

/// The prefix of the instance profiles EKS makes: its service-linked role may create and
/// delete instance profiles named `eks*` only (AmazonEKSServiceRolePolicy, resource
/// `arn:aws:iam::*:instance-profile/eks*`; AmazonEKSComputePolicy adds roles to those only).
pub const EKS_INSTANCE_PROFILE_PREFIX: &str = "eks";

/// Pure: whether an instance profile holding one of this cluster's roles was made by EKS for
/// this cluster: named as EKS names its own (`eks*`, path included, as its ARN reads) and
/// tagged [`AUTO_MODE_TAG`] with this cluster's name, and no other cluster named in a tag.
/// Any other one is never deleted: it is named, with the way out.
pub fn instance_profile_is_ours(profile: &iam::InstanceProfile, cluster: &str) -> bool {
    let named_by_eks = profile
        .arn
        .split_once(":instance-profile/")
        .is_some_and(|(_, path_and_name)| path_and_name.starts_with(EKS_INSTANCE_PROFILE_PREFIX));
    let other = profile.tags.iter().any(|(k, v)| {
        (k == AUTO_MODE_TAG && v != cluster)
            || k.strip_prefix("kubernetes.io/cluster/")
                .is_some_and(|c| c != cluster)
    });
    named_by_eks && !other && has_tag(&profile.tags, AUTO_MODE_TAG, cluster)
}

/// An EBS volume Kubernetes made for a PersistentVolumeClaim of this cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct K8sVolume {
    pub id: String,
    pub state: String,
    pub size_gib: i32,
    /// `namespace/name` of its claim, when the provisioner recorded it.
    pub claim: Option<String>,
}

/// Whose a volume is, by the tags Kubernetes gives the volumes it provisions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VolumeOwner {
    /// Tagged for this cluster, and for no other.
    Ours,
    /// Tagged for another cluster (as well, perhaps): never ours to delete.
    Other(String),
    /// Names no cluster (the EBS CSI driver's default `ebs.csi.aws.com/cluster=true` only):
    /// nothing says which cluster made it.
    Unknown,
}

/// Pure: whose a volume is. The EBS CSI driver tags what it provisions
/// `kubernetes.io/cluster/<id>=owned` and `KubernetesCluster=<id>` only when its cluster id
/// is set (`--k8s-tag-cluster-id`, the add-on's `controller.k8sTagClusterId`; by default it
/// adds only `ebs.csi.aws.com/cluster=true`, plus any `--extra-tags`:
/// <https://github.com/kubernetes-sigs/aws-ebs-csi-driver/blob/master/docs/tagging.md>), the
/// tags the in-tree provisioner gave its volumes
/// (<https://github.com/kubernetes-sigs/aws-ebs-csi-driver/pull/932>). Only those two count,
/// and a volume that names any other cluster is never ours. EKS Auto Mode tags what it makes
/// [`AUTO_MODE_TAG`]`=<cluster>` (its node disks, and its block storage's claim volumes):
/// that counts too, and names the other cluster when it is not ours.
pub fn volume_owner(tags: &[(String, String)], cluster: &str) -> VolumeOwner {
    let own_key = format!("kubernetes.io/cluster/{cluster}");
    let mut ours = false;
    for (k, v) in tags {
        if let Some(other) = k.strip_prefix("kubernetes.io/cluster/") {
            if other != cluster {
                return VolumeOwner::Other(other.to_string());
            }
        }
        if (k == "KubernetesCluster" || k == AUTO_MODE_TAG) && v != cluster {
            return VolumeOwner::Other(v.clone());
        }
        ours |= (*k == own_key && v == "owned")
            || ((k == "KubernetesCluster" || k == AUTO_MODE_TAG) && v == cluster);
    }
    if ours {
        VolumeOwner::Ours
    } else {
        VolumeOwner::Unknown
    }
}

/// The claim a volume was made for (`namespace/name`), from the tags the CSI driver adds when
/// its provisioner passes the claim's metadata.
fn volume_claim(tags: &[(String, String)]) -> Option<String> {
    let tag = |key: &str| tags.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
    match (
        tag("kubernetes.io/created-for/pvc/namespace"),
        tag("kubernetes.io/created-for/pvc/name"),
    ) {
        (Some(ns), Some(name)) => Some(format!("{ns}/{name}")),
        (None, Some(name)) => Some(name),
        _ => None,
    }
}

/// Pure: whether a target group is this cluster's. The AWS Load Balancer Controller tags
/// everything it makes `elbv2.k8s.aws/cluster=<cluster>`
/// (<https://kubernetes-sigs.github.io/aws-load-balancer-controller/latest/guide/ingress/annotations/#resource-tags>);
/// the in-tree controller tags a Network Load Balancer Service's target groups
/// `kubernetes.io/cluster/<cluster>=owned`; and a target group of a load balancer already
/// found to be this cluster's is its too. One whose tags name another cluster never is.
pub fn target_group_is_ours(tg: &elb::TargetGroup, cluster: &str, our_lbs: &[String]) -> bool {
    let other = tg.tags.iter().any(|(k, v)| {
        (k == "elbv2.k8s.aws/cluster" && v != cluster)
            || k.strip_prefix("kubernetes.io/cluster/")
                .is_some_and(|c| c != cluster)
    });
    if other {
        return false;
    }
    has_tag(&tg.tags, "elbv2.k8s.aws/cluster", cluster)
        || has_tag(
            &tg.tags,
            &format!("kubernetes.io/cluster/{cluster}"),
            "owned",
        )
        || tg.load_balancers.iter().any(|lb| our_lbs.contains(lb))
}

impl Teardown {
    fn tag_filter(&self) -> [(&str, &str); 1] {
        [("tag:eksboot:cluster", self.cluster.as_str())]
    }

    /// The clients for EKS calls: the creator role while it exists and lets us in, else ours.
    pub async fn eks_clients(&self) -> (Aws, Option<String>) {
        let Some(role) = &self.creator_role_arn else {
            return (self.aws.clone(), None);
        };
        let name = role.rsplit('/').next().unwrap_or(role);
        match iam::get_role(&self.aws, name).await {
            Ok(Some(_)) => {}
            _ => return (self.aws.clone(), None),
        }
        match sts::assume_role(&self.aws, role, "eksboot-teardown").await {
            Ok(config) => (Aws::from_config(config), None),
            Err(e) => (
                self.aws.clone(),
                Some(format!(
                    "could not assume {role} ({e}); its trust policy names who may: continuing with your own credentials"
                )),
            ),
        }
    }

    /// Finds everything that belongs to the cluster.
    pub async fn inventory(&self, eks_aws: &Aws) -> Result<Inventory, AwsError> {
        let mut inv = Inventory::default();
        let name = self.cluster.as_str();
        self.find_cluster_parts(eks_aws, &mut inv).await?;
        let by_tag = self.tag_filter();
        inv.launch_templates = ec2::find_launch_templates(&self.aws, &by_tag)
            .await?
            .into_iter()
            .map(|t| t.id)
            .collect();
        inv.oidc_providers = iam::oidc_providers(&self.aws)
            .await?
            .into_iter()
            .filter(|(_, tags)| {
                has_tag(tags, "eksboot:cluster", name)
                    && has_tag(tags, "eksboot:region", &self.region)
            })
            .map(|(arn, _)| arn)
            .collect();
        inv.vpcs = ec2::find_vpcs(&self.aws, &by_tag)
            .await?
            .into_iter()
            .map(|v| v.id)
            .collect();
        self.find_load_balancers(&mut inv).await?;
        self.find_kubernetes_leftovers(&mut inv).await?;
        self.find_auto_mode_leftovers(&mut inv).await?;
        for vpc in &inv.vpcs {
            for nat in ec2::find_nat_gateways_in_vpc(&self.aws, vpc).await? {
                if has_tag(&nat.tags, "eksboot:cluster", name) && nat.state != "deleted" {
                    inv.nat_gateways.push(nat.id);
                }
            }
        }
        inv.addresses = ec2::find_addresses(&self.aws, &by_tag)
            .await?
            .into_iter()
            .map(|a| a.allocation_id)
            .collect();
        // Those already `deleting` too: their subnets and group are held until they are gone.
        inv.vpc_endpoints = ec2::find_vpc_endpoints(&self.aws, &by_tag)
            .await?
            .into_iter()
            .filter(|e| e.state != "deleted")
            .map(|e| e.id)
            .collect();
        inv.internet_gateways = ec2::find_internet_gateways(&self.aws, &by_tag)
            .await?
            .into_iter()
            .map(|g| (g.id, g.attached_vpcs))
            .collect();
        inv.route_tables = ec2::find_route_tables(&self.aws, &by_tag)
            .await?
            .into_iter()
            .map(|t| (t.id, t.associations.into_iter().map(|(a, _)| a).collect()))
            .collect();
        inv.subnets = ec2::find_subnets(&self.aws, &by_tag)
            .await?
            .into_iter()
            .map(|s| s.id)
            .collect();
        inv.security_groups = ec2::find_security_groups(&self.aws, &by_tag)
            .await?
            .into_iter()
            .map(|g| g.id)
            .collect();
        let group = format!("/aws/eks/{name}/cluster");
        inv.log_group = logs::find_log_group(&self.aws, &group)
            .await?
            .map(|_| group);
        self.find_keys(&mut inv).await?;
        self.find_roles(&mut inv).await?;
        Ok(inv)
    }

    /// The cluster, if eksboot made it, with its node groups, add-ons and access entries (the
    /// creator role's own entry aside), and whether it is protected or runs Auto Mode.
    async fn find_cluster_parts(&self, eks_aws: &Aws, inv: &mut Inventory) -> Result<(), AwsError> {
        let name = self.cluster.as_str();
        if let Some(c) = eks::describe_cluster(&eks_aws.eks, name).await? {
            if c.tags.get("eksboot:cluster").map(String::as_str) == Some(name) {
                inv.cluster = Some(name.to_string());
                // EKS deletes a protected cluster that is CREATING, FAILED or DELETING; any
                // other needs its protection off first
                // (https://docs.aws.amazon.com/eks/latest/userguide/deletion-protection.html).
                inv.deletion_protection =
                    c.deletion_protection && !matches!(c.status.as_str(), "FAILED" | "DELETING");
                inv.auto_mode = c.auto_mode.is_some();
                if inv.deletion_protection {
                    inv.notes.push(format!(
                        "{PROTECTION_OFF} of cluster {name} first (eks:UpdateClusterConfig, waited for), once you confirm; nothing is deleted if that is refused"
                    ));
                }
                inv.nodegroups = eks::list_nodegroups(&eks_aws.eks, name).await?;
                inv.addons = eks::list_addons(&eks_aws.eks, name).await?;
                let creator = self.creator_role_arn.clone().unwrap_or_default();
                let creator_name = creator.rsplit('/').next().unwrap_or_default();
                inv.access_entries = eks::list_access_entries(&eks_aws.eks, name)
                    .await?
                    .into_iter()
                    .filter(|p| !(p.ends_with(&format!(":role/{creator_name}")) || *p == creator))
                    .collect();
            }
        }
        Ok(())
    }

    /// The load balancers in our VPCs: Auto Mode's (EKS deletes them with the cluster), and
    /// Kubernetes' others (with whether they are tagged for this cluster), with their groups.
    async fn find_load_balancers(&self, inv: &mut Inventory) -> Result<(), AwsError> {
        let name = self.cluster.as_str();
        if !inv.vpcs.is_empty() {
            let cluster_tag = format!("kubernetes.io/cluster/{name}");
            let (auto, others): (Vec<_>, Vec<_>) = elb::load_balancers_in(&self.aws, &inv.vpcs)
                .await?
                .into_iter()
                .partition(|lb| has_tag(&lb.tags, AUTO_MODE_TAG, name));
            // Auto Mode's: EKS deletes them with the cluster, and teardown waits for that.
            inv.auto_load_balancers = auto.into_iter().map(|lb| (lb.arn, lb.name)).collect();
            inv.load_balancers = others
                .into_iter()
                .map(|lb| {
                    let ours = lb.tags.iter().any(|(k, v)| {
                        (k == "elbv2.k8s.aws/cluster" && v == name) || *k == cluster_tag
                    });
                    (lb.arn, lb.name, ours)
                })
                .collect();
            inv.classic_load_balancers = elb::classic_load_balancers_in(&self.aws, &inv.vpcs)
                .await?
                .into_iter()
                .map(|lb| {
                    let ours = lb
                        .tags
                        .iter()
                        .any(|(k, v)| *k == cluster_tag && v == "owned");
                    (lb.name, ours)
                })
                .collect();
            let owned = [(format!("tag:{cluster_tag}"), "owned".to_string())];
            let controller = [("tag:elbv2.k8s.aws/cluster".to_string(), name.to_string())];
            for filter in [owned, controller] {
                let pairs = [(filter[0].0.as_str(), filter[0].1.as_str())];
                for group in ec2::find_security_groups(&self.aws, &pairs).await? {
                    // EKS's cluster security group carries kubernetes.io/cluster/<name>=owned
                    // too: it is EKS's to delete, with the cluster (waited for, never deleted).
                    if inv.vpcs.contains(&group.vpc_id)
                        && !inv.k8s_security_groups.contains(&group.id)
                        && !is_cluster_security_group(&group.tags)
                    {
                        inv.k8s_security_groups.push(group.id);
                    }
                }
            }
        }
        Ok(())
    }

    /// The secrets key: by its alias, else by its tags, else (a run stopped before tagging it)
    /// by the description eksboot gives it; one whose tags cannot be read is noted, not taken.
    async fn find_keys(&self, inv: &mut Inventory) -> Result<(), AwsError> {
        let name = self.cluster.as_str();
        let alias = format!("alias/eksboot/{name}");
        let aliased = kms::describe_key(&self.aws, &alias).await?;
        match aliased {
            // Our alias, on a live key, or on a key already waiting for deletion (the alias
            // still has to go).
            Some(k) => inv.keys.push((k.id, true)),
            None => {
                // No alias: a key whose alias was never made, found by its tags; or one made
                // by a run stopped between CreateKey and tagging it, found untagged by the
                // description eksboot gives it (naming this cluster and region, any run).
                let region = self.region.as_str();
                let ours = |d: &str| super::secure::key_description_run(d, name, region).is_some();
                let ours: &(dyn Fn(&str) -> bool + Sync) = &ours;
                let keys = kms::find_keys(&self.aws, "eksboot:cluster", name, Some(ours)).await?;
                for key in &keys.unreadable {
                    inv.notes.push(format!(
                        "skipped KMS key {key}: its policy does not let you read its tags or description (kms:ListResourceTags, kms:DescribeKey), so it cannot be one eksboot made for you to delete"
                    ));
                }
                for id in keys.found.iter().chain(&keys.described) {
                    if let Some(k) = kms::describe_key(&self.aws, id).await? {
                        if k.state != "PendingDeletion" {
                            inv.keys.push((k.id, false));
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// The roles eksboot made (tagged for this cluster and region), the creator last, and the
    /// instance profiles Auto Mode left holding the node role.
    async fn find_roles(&self, inv: &mut Inventory) -> Result<(), AwsError> {
        let name = self.cluster.as_str();
        // The add-ons' Pod Identity roles too (`<cluster>-vpc-cni`, ...); the creator last.
        let suffixes = ["node", "cluster"]
            .into_iter()
            .chain(crate::plan::addon_role_suffixes())
            .chain(["creator"]);
        for suffix in suffixes {
            let role = format!("{name}-{suffix}");
            if let Some(found) = iam::get_role(&self.aws, &role).await? {
                if found.tag("eksboot:cluster") == Some(name)
                    && found.tag("eksboot:region") == Some(self.region.as_str())
                {
                    inv.roles.push(role);
                }
            }
        }
        // The instance profiles holding the node role of an Auto Mode cluster: EKS leaves its
        // own there after the cluster is gone, and IAM refuses to delete a role still in one
        // (DeleteConflict). (Looked for again before the role is deleted, whatever the mode.)
        let node_role = format!("{name}-node");
        if inv.roles.contains(&node_role) && inv.auto_mode_left() {
            let (ours, foreign) = self.instance_profiles_of(&node_role).await?;
            for profile in ours {
                inv.notes.push(format!(
                    "instance profile {profile}: EKS made it for this cluster with the role {node_role} in it; the role is taken out of it and it is deleted before the role"
                ));
                inv.instance_profiles.push((profile, node_role.clone()));
            }
            for profile in foreign {
                inv.notes.push(format!(
                    "instance profile {profile} holds the role {node_role}, and nothing says EKS made it for this cluster: eksboot leaves both; {}",
                    foreign_profile_way_out(&profile, &node_role)
                ));
            }
        }
        Ok(())
    }

    /// The instance profiles holding `role`: `(this cluster's, any other)`, by name. One whose
    /// tags cannot be read (iam:GetInstanceProfile denied) is never taken for this cluster's.
    async fn instance_profiles_of(
        &self,
        role: &str,
    ) -> Result<(Vec<String>, Vec<String>), AwsError> {
        let mut ours = Vec::new();
        let mut foreign = Vec::new();
        for (profile, arn) in iam::instance_profiles_for_role(&self.aws, role).await? {
            let named_by_eks = arn
                .split_once(":instance-profile/")
                .is_some_and(|(_, rest)| rest.starts_with(EKS_INSTANCE_PROFILE_PREFIX));
            // Only EKS's own names are read further (its tags say which cluster).
            let found = if named_by_eks {
                match iam::instance_profile(&self.aws, &profile).await {
                    Ok(None) => continue, // gone meanwhile
                    Ok(Some(p)) => Some(p),
                    Err(AwsError::AccessDenied { .. }) => None,
                    Err(e) => return Err(e),
                }
            } else {
                None
            };
            match found {
                Some(p) if instance_profile_is_ours(&p, &self.cluster) => ours.push(profile),
                _ => foreign.push(profile),
            }
        }
        Ok((ours, foreign))
    }

    /// What EKS Auto Mode made for this cluster, found by [`AUTO_MODE_TAG`] wherever it is
    /// (the state file is not needed): its interfaces and volumes always (reads eksboot makes
    /// anyway), its instances when the cluster runs Auto Mode or its interfaces are there (an
    /// instance always has one).
    async fn find_auto_mode_leftovers(&self, inv: &mut Inventory) -> Result<(), AwsError> {
        let name = self.cluster.as_str();
        let tag = format!("tag:{AUTO_MODE_TAG}");
        let by_tag = [(tag.as_str(), name)];
        let (interfaces, volumes) = tokio::join!(
            ec2::find_network_interfaces(&self.aws, &by_tag),
            ec2::find_volumes(&self.aws, &by_tag)
        );
        inv.auto_interfaces = interfaces?.into_iter().map(|n| n.id).collect();
        for v in volumes? {
            if matches!(v.state.as_str(), "deleting" | "deleted") {
                continue;
            }
            match volume_owner(&v.tags, name) {
                VolumeOwner::Ours => inv.auto_volumes.push(K8sVolume {
                    claim: volume_claim(&v.tags),
                    id: v.id,
                    state: v.state,
                    size_gib: v.size_gib,
                }),
                VolumeOwner::Other(other) => inv.notes.push(format!(
                    "skipped EBS volume {}: it is also tagged for cluster {other}, so eksboot will not delete it",
                    v.id
                )),
                VolumeOwner::Unknown => {}
            }
        }
        if inv.auto_mode || !inv.auto_interfaces.is_empty() {
            inv.auto_instances = self.auto_instances().await?;
        }
        if !inv.auto_instances.is_empty() || !inv.auto_load_balancers.is_empty() {
            inv.notes.push(format!(
                "EKS Auto Mode's {} instance(s) and {} load balancer(s) of this cluster go with it (EKS deletes them); teardown waits until nothing tagged {AUTO_MODE_TAG}={name} is left",
                inv.auto_instances.len(),
                inv.auto_load_balancers.len()
            ));
        }
        Ok(())
    }

    /// Auto Mode's instances of this cluster that are not terminated yet.
    async fn auto_instances(&self) -> Result<Vec<String>, AwsError> {
        let tag = format!("tag:{AUTO_MODE_TAG}");
        Ok(
            ec2::find_instances(&self.aws, &[(tag.as_str(), self.cluster.as_str())])
                .await?
                .into_iter()
                .filter(|i| i.state != "terminated")
                .map(|i| i.id)
                .collect(),
        )
    }

    /// What Kubernetes made for the cluster outside its VPC's interfaces: the target groups of
    /// its load balancers and the volumes of its claims. Looked for whether or not the VPC is
    /// still there (they outlive it, and keep billing).
    async fn find_kubernetes_leftovers(&self, inv: &mut Inventory) -> Result<(), AwsError> {
        let name = self.cluster.as_str();
        let our_lbs: Vec<String> = inv
            .load_balancers
            .iter()
            .filter(|(_, _, ours)| *ours)
            .map(|(arn, _, _)| arn.clone())
            .collect();
        let owned_key = format!("tag:kubernetes.io/cluster/{name}");
        let owned = [(owned_key.as_str(), "owned")];
        let legacy = [("tag:KubernetesCluster", name)];
        // Three independent reads: together.
        let (groups, owned, legacy) = tokio::join!(
            elb::target_groups(&self.aws),
            ec2::find_volumes(&self.aws, &owned),
            ec2::find_volumes(&self.aws, &legacy)
        );
        inv.target_groups = groups?
            .into_iter()
            .filter(|tg| target_group_is_ours(tg, name, &our_lbs))
            .map(|tg| (tg.arn, tg.name))
            .collect();
        for found in [owned?, legacy?] {
            for v in found {
                // Auto Mode's are found (and deleted, after the cluster) on their own.
                if matches!(v.state.as_str(), "deleting" | "deleted")
                    || inv.volumes.iter().any(|known| known.id == v.id)
                    || v.tags.iter().any(|(k, _)| k == AUTO_MODE_TAG)
                {
                    continue;
                }
                match volume_owner(&v.tags, name) {
                    VolumeOwner::Ours => inv.volumes.push(K8sVolume {
                        claim: volume_claim(&v.tags),
                        id: v.id,
                        state: v.state,
                        size_gib: v.size_gib,
                    }),
                    VolumeOwner::Other(other) => {
                        let note = format!(
                            "skipped EBS volume {}: it is also tagged for cluster {other}, so eksboot will not delete it",
                            v.id
                        );
                        if !inv.notes.contains(&note) {
                            inv.notes.push(note);
                        }
                    }
                    VolumeOwner::Unknown => {}
                }
            }
        }
        Ok(())
    }

    /// Deletes everything in `inv`, in reverse dependency order. The caller has already refused
    /// to start while load balancers are in the way ([`Inventory::load_balancers_in_the_way`]).
    pub async fn delete(&self, eks_aws: &Aws, inv: &Inventory) -> Outcome {
        let mut out = Outcome::default();

        // A protected cluster: its protection off first, or nothing at all is deleted.
        if let (true, Some(cluster)) = (inv.deletion_protection, &inv.cluster) {
            if let Err(error) = self.turn_off_deletion_protection(eks_aws, cluster).await {
                return protection_kept(inv, cluster, &error);
            }
        }

        // Load balancers Kubernetes made for this cluster (with --force), first: their
        // interfaces sit in our subnets, and their security groups in our VPC.
        let lbs_gone = self.delete_kubernetes_load_balancers(inv, &mut out).await;

        self.delete_cluster_parts(eks_aws, inv, &mut out).await;
        // Never pull the key, roles, logs or network from under a running cluster.
        if !self.delete_cluster_and_wait(eks_aws, inv, &mut out).await {
            return out;
        }

        // EKS removes its own interfaces and the cluster security group a while after the
        // cluster: waited for while the NAT gateways and endpoints go.
        let (eks_network, ()) = tokio::join!(
            self.wait_eks_network_gone(inv),
            self.delete_egress(inv, &mut out)
        );

        // What else still sits in our VPCs: interfaces this cluster's nodes left behind are
        // deleted; anything else is named, and the VPC's parts wait for it.
        let mut blocking = if lbs_gone {
            Vec::new()
        } else {
            vec!["load balancers Kubernetes made (above)".to_string()]
        };
        if let Err(left) = eks_network {
            out.left.push(left);
            blocking.push("EKS's network interfaces or cluster security group (above)".into());
        }
        blocking.extend(self.clear_leftover_interfaces(inv, &mut out).await);
        if !blocking.is_empty() {
            let reason = format!("still used by {}", blocking.join(", "));
            for (_, kind, id) in network_parts(inv) {
                out.left
                    .push((format!("{} {id}", kind.as_str()), reason.clone()));
            }
            self.delete_security_resources(inv, &mut out).await;
            return out;
        }

        self.delete_vpc_parts(inv, &mut out).await;
        self.delete_security_resources(inv, &mut out).await;
        out
    }

    /// The node groups, then the launch templates, add-ons, access entries and (with --force)
    /// the claims' volumes.
    async fn delete_cluster_parts(&self, eks_aws: &Aws, inv: &Inventory, out: &mut Outcome) {
        let name = self.cluster.as_str();
        // The node group first: the cluster cannot go while it exists.
        let nodegroups = inv.nodegroups.iter().map(|ng| {
            self.delete_one(Task::Cluster, Kind::Nodegroup, ng, async move {
                done_if_gone(eks::delete_nodegroup(&eks_aws.eks, name, ng).await)?;
                self.wait_gone(Task::Cluster, Kind::Nodegroup, ng, || async move {
                    Ok(eks::describe_nodegroup(&eks_aws.eks, name, ng)
                        .await?
                        .map(|n| n.status))
                })
                .await
            })
        });
        let nodegroups = join_all(nodegroups).await;
        // Their nodes are gone with them, and with the nodes the volumes' attachments.
        let nodes_gone = nodegroups.iter().all(Result::is_ok);
        self.collect(out, nodegroups);

        // Volumes of the cluster's claims (with --force), once detached: a volume attached
        // to a node is `in-use` until the node is gone, and DeleteVolume refuses it then
        // (VolumeInUse).
        let volumes = inv
            .volumes
            .iter()
            .map(|v| self.delete_detached_volume(v, nodes_gone));

        let templates = inv.launch_templates.iter().map(|id| {
            self.delete_one(Task::Cluster, Kind::LaunchTemplate, id, async move {
                done_if_gone(ec2::delete_launch_template(&self.aws, id).await)
                    .map_err(StepError::from)
            })
        });
        let addons = inv.addons.iter().map(|addon| {
            self.delete_one(Task::Cluster, Kind::Addon, addon, async move {
                done_if_gone(eks::delete_addon(&eks_aws.eks, name, addon).await)?;
                self.wait_gone(Task::Cluster, Kind::Addon, addon, || async move {
                    Ok(eks::describe_addon(&eks_aws.eks, name, addon)
                        .await?
                        .map(|a| a.status))
                })
                .await
            })
        });
        let entries = inv.access_entries.iter().map(|principal| {
            self.delete_one(Task::Cluster, Kind::AccessEntry, principal, async move {
                done_if_gone(eks::delete_access_entry(&eks_aws.eks, name, principal).await)
                    .map_err(StepError::from)
            })
        });
        let (a, b, c, d) = tokio::join!(
            join_all(templates),
            join_all(addons),
            join_all(entries),
            join_all(volumes)
        );
        self.collect(out, a);
        self.collect(out, b);
        self.collect(out, c);
        self.collect(out, d);
    }

    /// The cluster (waited for while it is still CREATING, then until it is gone), Auto Mode's
    /// instances and load balancers after it, and (with --force) Auto Mode's volumes. False when
    /// the cluster or Auto Mode's resources are still there: what depends on them is kept.
    async fn delete_cluster_and_wait(
        &self,
        eks_aws: &Aws,
        inv: &Inventory,
        out: &mut Outcome,
    ) -> bool {
        let name = self.cluster.as_str();
        if let Some(cluster) = &inv.cluster {
            let result = self
                .delete_one(Task::Cluster, Kind::EksCluster, cluster, async move {
                    // A cluster still being created cannot be deleted yet: wait for it.
                    self.wait_while(
                        Task::Cluster,
                        Kind::EksCluster,
                        cluster,
                        "CREATING",
                        || async move {
                            Ok(eks::describe_cluster(&eks_aws.eks, cluster)
                                .await?
                                .map(|c| c.status))
                        },
                    )
                    .await?;
                    done_if_gone(eks::delete_cluster(&eks_aws.eks, cluster).await)?;
                    self.wait_gone(Task::Cluster, Kind::EksCluster, cluster, || async move {
                        Ok(eks::describe_cluster(&eks_aws.eks, cluster)
                            .await?
                            .map(|c| c.status))
                    })
                    .await
                })
                .await;
            let live = result.is_err();
            self.collect(out, vec![result]);
            if live {
                // Never pull the key, roles, logs or network from under a running cluster.
                let reason = format!(
                    "kept: the cluster {cluster} still exists and uses it; fix what stopped its deletion (above), then run teardown again"
                );
                for (_, kind, id) in remaining_after_cluster(inv) {
                    out.left
                        .push((format!("{} {id}", kind.as_str()), reason.clone()));
                }
                return false;
            }
        }

        // EKS Auto Mode's instances and load balancers go after the cluster: wait for them
        // (they hold the subnets, and the volumes stay attached until the instances are gone).
        if inv.auto_mode_left() {
            let result = self
                .delete_as(
                    Task::Cluster,
                    Kind::EksCluster,
                    AUTO_MODE_LABEL,
                    name,
                    async { self.wait_auto_mode_gone(inv).await },
                )
                .await;
            if result.is_err() {
                self.collect(out, vec![result]);
                let reason = format!(
                    "kept: EKS Auto Mode's instances or load balancers of {name} are still there (above); run teardown again once EKS has removed them"
                );
                for (_, kind, id) in remaining_after_cluster(inv) {
                    out.left
                        .push((format!("{} {id}", kind.as_str()), reason.clone()));
                }
                return false;
            }
            self.collect(out, vec![result]);
        }
        // Auto Mode's volumes (with --force), now detached.
        let auto_volumes = inv
            .auto_volumes
            .iter()
            .map(|v| self.delete_detached_volume(v, true));
        let auto_volumes = join_all(auto_volumes).await;
        self.collect(out, auto_volumes);
        true
    }

    /// NAT gateways and endpoints together (both deleted slowly by AWS), the OIDC provider, then
    /// the Elastic IPs the NAT gateways used.
    async fn delete_egress(&self, inv: &Inventory, out: &mut Outcome) {
        // NAT gateways and endpoints together (both deleted slowly by AWS), and the OIDC
        // provider; then what they used.
        let oidc = inv.oidc_providers.iter().map(|arn| {
            self.delete_one(Task::Cluster, Kind::OidcProvider, arn, async move {
                done_if_gone(iam::delete_oidc_provider(&self.aws.iam, arn).await)
                    .map_err(StepError::from)
            })
        });
        let nats = inv.nat_gateways.iter().map(|id| {
            self.delete_one(Task::Network, Kind::NatGateway, id, async move {
                done_if_gone(ec2::delete_nat_gateway(&self.aws, id).await)?;
                self.wait_gone(Task::Network, Kind::NatGateway, id, || async move {
                    Ok(ec2::describe_nat_gateway(&self.aws, id)
                        .await?
                        .map(|n| n.state)
                        .filter(|s| s != "deleted"))
                })
                .await
            })
        });
        let endpoints = inv.vpc_endpoints.iter().map(|id| {
            self.delete_one(Task::Network, Kind::VpcEndpoint, id, async move {
                // Deleting one already `deleting` is harmless; either way, wait until it is
                // gone: until then it holds its subnets and security group.
                done_if_gone(ec2::delete_vpc_endpoint(&self.aws, id).await)?;
                self.wait_gone(Task::Network, Kind::VpcEndpoint, id, || async move {
                    Ok(ec2::describe_vpc_endpoint(&self.aws, id)
                        .await?
                        .map(|e| e.state)
                        .filter(|s| s != "deleted"))
                })
                .await
            })
        });
        let (a, b, c) = tokio::join!(join_all(oidc), join_all(nats), join_all(endpoints));
        self.collect(out, a);
        self.collect(out, b);
        self.collect(out, c);

        let addresses = inv.addresses.iter().map(|id| {
            self.delete_one(Task::Network, Kind::ElasticIp, id, async move {
                self.retry_in_use(|| ec2::release_address(&self.aws, id))
                    .await
            })
        });
        let addresses = join_all(addresses).await;
        self.collect(out, addresses);
    }

    /// The internet gateways and route tables, the subnets and security groups, then the VPCs
    /// (naming what still blocks one).
    async fn delete_vpc_parts(&self, inv: &Inventory, out: &mut Outcome) {
        let gateways = inv.internet_gateways.iter().map(|(igw, vpcs)| {
            self.delete_one(Task::Network, Kind::InternetGateway, igw, async move {
                for vpc in vpcs {
                    self.retry_in_use(|| ec2::detach_internet_gateway(&self.aws, igw, vpc))
                        .await?;
                }
                self.retry_in_use(|| ec2::delete_internet_gateway(&self.aws, igw))
                    .await
            })
        });
        let tables = inv.route_tables.iter().map(|(table, associations)| {
            self.delete_one(Task::Network, Kind::RouteTable, table, async move {
                for association in associations {
                    done_if_gone(ec2::disassociate_route_table(&self.aws, association).await)?;
                }
                self.retry_in_use(|| ec2::delete_route_table(&self.aws, table))
                    .await
            })
        });
        let (b, c) = tokio::join!(join_all(gateways), join_all(tables));
        self.collect(out, b);
        self.collect(out, c);

        let subnets = inv.subnets.iter().map(|id| {
            self.delete_one(Task::Network, Kind::Subnet, id, async move {
                self.retry_in_use(|| ec2::delete_subnet(&self.aws, id))
                    .await
            })
        });
        let groups = inv.security_groups.iter().map(|id| {
            self.delete_one(Task::Network, Kind::SecurityGroup, id, async move {
                self.retry_in_use(|| ec2::delete_security_group(&self.aws, id))
                    .await
            })
        });
        let (a, b) = tokio::join!(join_all(subnets), join_all(groups));
        self.collect(out, a);
        self.collect(out, b);

        for vpc in &inv.vpcs {
            let result = self
                .delete_one(Task::Network, Kind::Vpc, vpc, async move {
                    match self.retry_in_use(|| ec2::delete_vpc(&self.aws, vpc)).await {
                        Err(StepError::Aws(AwsError::DependencyViolation { .. })) => {
                            Err(self.what_blocks(vpc).await)
                        }
                        other => other,
                    }
                })
                .await;
            self.collect(out, vec![result]);
        }
    }

    /// Deletes a volume once it is detached (`nodes_gone`: what it may be attached to is gone,
    /// so an `in-use` volume is waited for rather than refused).
    async fn delete_detached_volume(
        &self,
        v: &K8sVolume,
        nodes_gone: bool,
    ) -> Result<String, (String, String)> {
        self.delete_as(Task::Cluster, VOLUME_KIND, VOLUME_LABEL, &v.id, async move {
            if !nodes_gone && v.state == "in-use" {
                return Err(StepError::Conflict {
                    message: format!("{VOLUME_LABEL} {} is still attached to a node", v.id),
                    hint: "the node group's deletion failed (above): fix that, then run teardown again".into(),
                });
            }
            self.poll(Task::Cluster, VOLUME_KIND, &v.id, "attached", || async move {
                Ok(ec2::describe_volume(&self.aws, &v.id)
                    .await?
                    .map(|now| now.state)
                    .filter(|s| matches!(s.as_str(), "in-use" | "creating")))
            })
            .await?;
            self.retry_while_busy(&["VolumeInUse"], || ec2::delete_volume(&self.aws, &v.id))
                .await
        })
        .await
    }

    /// Waits until EKS has removed what Auto Mode made for the cluster (DeleteCluster
    /// terminates its instances and deletes its load balancers, a while after the cluster is
    /// gone: <https://docs.aws.amazon.com/eks/latest/userguide/delete-cluster.html>): no
    /// instance tagged [`AUTO_MODE_TAG`] with the cluster's name left but terminated ones, no
    /// such load balancer, and no such interface still attached (a detached one is deleted
    /// with the VPC's leftovers).
    async fn wait_auto_mode_gone(&self, inv: &Inventory) -> Result<(), StepError> {
        let name = self.cluster.as_str();
        let tag = format!("tag:{AUTO_MODE_TAG}");
        let tag = tag.as_str();
        let instances_too = inv.auto_mode || !inv.auto_instances.is_empty();
        self.poll(
            Task::Cluster,
            Kind::EksCluster,
            name,
            "holding EKS Auto Mode's resources",
            || async move {
                let instances = if instances_too {
                    self.auto_instances().await?.len()
                } else {
                    0
                };
                let by_tag = [(tag, name)];
                let (lbs, interfaces) = tokio::join!(
                    elb::load_balancers_tagged(&self.aws, AUTO_MODE_TAG, name),
                    ec2::find_network_interfaces(&self.aws, &by_tag)
                );
                let lbs = lbs?.len();
                let interfaces = interfaces?
                    .iter()
                    .filter(|n| n.status != "available")
                    .count();
                Ok(auto_mode_status(instances, lbs, interfaces))
            },
        )
        .await
    }

    /// Takes `role` out of the instance profiles EKS made for this cluster and deletes them,
    /// looked up again now (Auto Mode may have made one since the inventory). An instance
    /// profile EKS did not make for this cluster is never touched: the role is then kept,
    /// with the way out.
    async fn clear_instance_profiles(&self, role: &str, out: &mut Outcome) -> Result<(), String> {
        let (ours, foreign) = self
            .instance_profiles_of(role)
            .await
            .map_err(|e| format!("{e} (hint: {})", StepError::from(e.clone()).hint()))?;
        let removals = ours.iter().map(|profile| {
            self.delete_as(
                Task::Secure,
                Kind::IamRole,
                INSTANCE_PROFILE_LABEL,
                profile,
                async move {
                    iam::remove_role_from_instance_profile(&self.aws, profile, role).await?;
                    self.retry_in_use(|| iam::delete_instance_profile(&self.aws, profile))
                        .await
                },
            )
        });
        let removals = join_all(removals).await;
        let failed = removals.iter().any(Result::is_err);
        self.collect(out, removals);
        if let Some(profile) = foreign.first() {
            return Err(format!(
                "kept: it is in the instance profile{} {}, which nothing says EKS made for this cluster, so eksboot leaves {}; {}",
                if foreign.len() > 1 { "s" } else { "" },
                foreign.join(", "),
                if foreign.len() > 1 { "them" } else { "it" },
                foreign_profile_way_out(profile, role)
            ));
        }
        if failed {
            return Err("kept: it is still in an instance profile that could not be deleted (above); run teardown again".into());
        }
        Ok(())
    }

    /// Turns the cluster's deletion protection off (UpdateClusterConfig, waited for until the
    /// update succeeds and the cluster is ACTIVE again). EKS accepts it only on an ACTIVE
    /// cluster: one still CREATING or UPDATING (someone else's update) is waited for first.
    pub async fn turn_off_deletion_protection(
        &self,
        eks_aws: &Aws,
        cluster: &str,
    ) -> Result<(), StepError> {
        let eks = &eks_aws.eks;
        let busy = || async move {
            Ok(eks::describe_cluster(eks, cluster)
                .await?
                .map(|c| c.status)
                .filter(|s| matches!(s.as_str(), "CREATING" | "UPDATING" | "PENDING")))
        };
        let token = format!(
            "eksboot-teardown-{}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos()
        );
        let started = Instant::now();
        let update = loop {
            self.poll(Task::Cluster, Kind::EksCluster, cluster, "busy", busy)
                .await?;
            match eks::describe_cluster(eks, cluster).await? {
                Some(c) if c.deletion_protection && c.status == "ACTIVE" => {}
                // Gone, off already, or in a state EKS deletes even when protected.
                _ => return Ok(()),
            }
            match eks::update_deletion_protection(eks, cluster, false, &token).await {
                Ok(id) => break id,
                // Another update runs (one at a time per cluster): waited for, then again.
                Err(e) if eks::is_update_in_progress(&e) && started.elapsed() < GONE_TIMEOUT => {
                    PollDelay::new(self.timing.poll).sleep().await;
                }
                Err(e) => return Err(e.into()),
            }
        };
        self.poll(
            Task::Cluster,
            Kind::EksCluster,
            cluster,
            PROTECTION_OFF,
            || async {
                let (status, _) = eks::describe_update(eks, cluster, None, &update).await?;
                Ok((status == "InProgress").then(|| format!("UPDATING — {PROTECTION_OFF}")))
            },
        )
        .await?;
        let (status, errors) = eks::describe_update(eks, cluster, None, &update).await?;
        if status != "Successful" {
            return Err(StepError::Broken(format!(
                "the update to {PROTECTION_OFF} ({update}) is {status}: {errors}"
            )));
        }
        self.poll(Task::Cluster, Kind::EksCluster, cluster, "busy", busy)
            .await
    }

    /// With --force: deletes the load balancers Kubernetes made for this cluster, waits until
    /// their network interfaces are gone, then deletes their security groups. Whether nothing
    /// of them is left in the way.
    async fn delete_kubernetes_load_balancers(&self, inv: &Inventory, out: &mut Outcome) -> bool {
        let v2 = inv
            .load_balancers
            .iter()
            .filter(|(_, _, ours)| *ours)
            .map(|(arn, lb, _)| {
                self.delete_one(Task::Network, Kind::LoadBalancer, lb, async move {
                    done_if_gone(elb::delete_load_balancer(&self.aws, arn).await)?;
                    self.wait_interfaces_gone(inv, lb).await
                })
            });
        let classic = inv
            .classic_load_balancers
            .iter()
            .filter(|(_, ours)| *ours)
            .map(|(lb, _)| {
                self.delete_one(Task::Network, Kind::LoadBalancer, lb, async move {
                    done_if_gone(elb::delete_classic_load_balancer(&self.aws, lb).await)?;
                    self.wait_interfaces_gone(inv, lb).await
                })
            });
        let (a, b) = tokio::join!(join_all(v2), join_all(classic));
        let failed = a.iter().chain(&b).any(Result::is_err);
        self.collect(out, a);
        self.collect(out, b);
        // Their target groups once their listeners are gone with them: ELB refuses to delete
        // a target group a listener or rule uses (ResourceInUse).
        if failed {
            for (_, tg) in &inv.target_groups {
                out.left.push((
                    format!("{TARGET_GROUP_LABEL} {tg}"),
                    "kept: a load balancer that may use it could not be deleted (above); run teardown again once it is gone".into(),
                ));
            }
            return false;
        }
        let target_groups = inv.target_groups.iter().map(|(arn, tg)| {
            self.delete_as(
                Task::Network,
                TARGET_GROUP_KIND,
                TARGET_GROUP_LABEL,
                tg,
                async move {
                    self.retry_while_busy(&["ResourceInUse"], || {
                        elb::delete_target_group(&self.aws, arn)
                    })
                    .await
                },
            )
        });
        let target_groups = join_all(target_groups).await;
        self.collect(out, target_groups);
        let groups = inv.k8s_security_groups.iter().map(|id| {
            self.delete_one(Task::Network, Kind::SecurityGroup, id, async move {
                self.retry_in_use(|| ec2::delete_security_group(&self.aws, id))
                    .await
            })
        });
        let groups = join_all(groups).await;
        let failed = groups.iter().any(Result::is_err);
        self.collect(out, groups);
        !failed
    }

    /// Waits until no network interface of load balancer `lb` is left in our VPCs (AWS
    /// releases them a while after the load balancer is deleted).
    async fn wait_interfaces_gone(&self, inv: &Inventory, lb: &str) -> Result<(), StepError> {
        self.wait_gone(Task::Network, Kind::LoadBalancer, lb, || async move {
            let mut left = 0;
            for vpc in &inv.vpcs {
                left += ec2::network_interfaces_in_vpc(&self.aws, vpc)
                    .await?
                    .iter()
                    .filter(|n| is_load_balancer_interface(&n.description, lb))
                    .count();
            }
            Ok((left > 0).then(|| format!("{left} network interface(s) still attached")))
        })
        .await
    }

    /// Waits until AWS has removed what it removes itself in our VPCs once the cluster is
    /// gone: the cluster's cross-account interfaces ("Amazon EKS <name>") and its managed
    /// nodes' interfaces, the interfaces of load balancers that are gone (Auto Mode's, or one
    /// deleted by hand), and the cluster security group. EKS deletes its own a while after the
    /// cluster (https://docs.aws.amazon.com/eks/latest/userguide/sec-group-reqs.html), Elastic
    /// Load Balancing a load balancer's a while after it: eksboot waits (for at most
    /// [`GONE_TIMEOUT`], saying what is still there), it never deletes them.
    async fn wait_eks_network_gone(&self, inv: &Inventory) -> Result<(), (String, String)> {
        if inv.vpcs.is_empty() {
            return Ok(());
        }
        let name = self.cluster.as_str();
        let look = || async move {
            let mut interfaces = Vec::new();
            for vpc in &inv.vpcs {
                interfaces.extend(ec2::network_interfaces_in_vpc(&self.aws, vpc).await?);
            }
            // The load balancers still there, read only when an interface names one.
            let live = if interfaces
                .iter()
                .any(|n| load_balancer_of(&n.description).is_some())
            {
                let (v2, classic) = tokio::join!(
                    elb::load_balancers_in(&self.aws, &inv.vpcs),
                    elb::classic_load_balancers_in(&self.aws, &inv.vpcs)
                );
                v2?.into_iter().chain(classic?).map(|lb| lb.name).collect()
            } else {
                Vec::new()
            };
            let interfaces = interfaces
                .iter()
                .filter(|n| removed_by_aws(n, name, &live))
                .count();
            let groups: Vec<String> =
                ec2::find_security_groups(&self.aws, &[(CLUSTER_SG_FILTER, name)])
                    .await?
                    .into_iter()
                    .filter(|g| inv.vpcs.contains(&g.vpc_id))
                    .map(|g| g.id)
                    .collect();
            Ok::<_, AwsError>(eks_network_status(interfaces, &groups))
        };
        // Said as waiting lines (none when nothing is there), not as a deletion: AWS deletes
        // them, eksboot only waits.
        self.poll(
            Task::Cluster,
            Kind::EksCluster,
            name,
            "holding network interfaces or a security group AWS removes itself",
            look,
        )
        .await
        .map_err(|error| {
            (
                format!("{EKS_NETWORK_LABEL} {name}"),
                format!("{error} (hint: {})", error.hint()),
            )
        })
    }

    /// Interfaces left in our VPCs once everything eksboot made that has interfaces is gone:
    /// this cluster's (VPC CNI's, by tag or description) are deleted once `available`; what
    /// else is there is named. Returns what still blocks the VPC.
    async fn clear_leftover_interfaces(&self, inv: &Inventory, out: &mut Outcome) -> Vec<String> {
        let mut blocking = Vec::new();
        for vpc in &inv.vpcs {
            let interfaces = match ec2::network_interfaces_in_vpc(&self.aws, vpc).await {
                Ok(found) => found,
                Err(e) => {
                    blocking.push(format!("network interfaces that could not be listed ({e})"));
                    continue;
                }
            };
            for n in interfaces {
                match leftover_verdict(&n, &self.cluster) {
                    Leftover::Ours => {
                        let r = self
                            .delete_one(Task::Network, Kind::NetworkInterface, &n.id, async {
                                done_if_gone(ec2::delete_network_interface(&self.aws, &n.id).await)
                                    .map_err(StepError::from)
                            })
                            .await;
                        if r.is_err() {
                            blocking.push(format!("network interface {}", n.id));
                        }
                        self.collect(out, vec![r]);
                    }
                    Leftover::OursInUse => {
                        blocking.push(format!("network interface {}", n.id));
                        out.left.push((
                            format!("network-interface {}", n.id),
                            format!("\"{}\" is still in use (a node of this cluster may still be shutting down): run teardown again in a few minutes", n.description),
                        ));
                    }
                    Leftover::Foreign => {
                        blocking.push(format!("network interface {}", n.id));
                        out.left.push((
                            format!("network-interface {}", n.id),
                            format!(
                                "\"{}\" (owner {}, {}) is not this cluster's: delete it or what made it (EC2 console → Network Interfaces), then run teardown again",
                                n.description, n.owner, n.status
                            ),
                        ));
                    }
                }
            }
        }
        blocking
    }

    /// The log group, the key (scheduled), the roles with the creator last; then the late
    /// log group check.
    async fn delete_security_resources(&self, inv: &Inventory, out: &mut Outcome) {
        let name = self.cluster.as_str();
        // Security last: the log group, the key (scheduled), the roles with the creator last.
        if let Some(group) = &inv.log_group {
            let r = self
                .delete_one(Task::Secure, Kind::LogGroup, group, async move {
                    done_if_gone(logs::delete_log_group(&self.aws, group).await)
                        .map_err(StepError::from)
                })
                .await;
            self.collect(out, vec![r]);
        }
        for (key, aliased) in &inv.keys {
            let alias = format!("alias/eksboot/{name}");
            let started = Instant::now();
            let res = item(Task::Secure, Kind::KmsKey, key);
            self.reporter.report(Event::Started { resource: &res });
            let result: Result<Option<String>, AwsError> = async {
                if *aliased {
                    done_if_gone(kms::delete_alias(&self.aws, &alias).await)?;
                }
                match kms::schedule_key_deletion(&self.aws, key, self.key_deletion_days).await {
                    Ok(when) => Ok(when),
                    // Already scheduled: nothing more to do.
                    Err(e)
                        if e.failure()
                            .is_some_and(|f| f.code == "KMSInvalidStateException") =>
                    {
                        Ok(None)
                    }
                    Err(e) => Err(e),
                }
            }
            .await;
            match result {
                Ok(when) => {
                    self.reporter.report(Event::Deleted {
                        resource: &res,
                        elapsed: started.elapsed(),
                    });
                    out.scheduled.push(format!(
                        "KMS key {key}: deletion scheduled in {} days{} (the alias is gone, so the name can be reused now)",
                        self.key_deletion_days,
                        when.map(|w| format!(", on {w}")).unwrap_or_default()
                    ));
                }
                Err(e) => {
                    let error = StepError::from(e);
                    self.reporter.report(Event::Failed {
                        resource: &res,
                        error: &error,
                        elapsed: started.elapsed(),
                    });
                    out.left.push((format!("kms-key {key}"), error.to_string()));
                }
            }
        }
        let (others, creator): (Vec<&String>, Vec<&String>) =
            inv.roles.iter().partition(|r| !r.ends_with("-creator"));
        // The node role out of the instance profiles EKS made for it first: IAM refuses to
        // delete a role still in one (DeleteConflict).
        let node_role = format!("{name}-node");
        let mut kept = Vec::new();
        for role in others.iter().filter(|r| ***r == node_role) {
            if let Err(reason) = self.clear_instance_profiles(role, out).await {
                out.left
                    .push((format!("{} {role}", Kind::IamRole.as_str()), reason));
                kept.push((*role).clone());
            }
        }
        let others: Vec<&String> = others.into_iter().filter(|r| !kept.contains(r)).collect();
        let roles = others.into_iter().map(|role| {
            self.delete_one(Task::Secure, Kind::IamRole, role, async move {
                done_if_gone(iam::delete_role(&self.aws, role).await).map_err(StepError::from)
            })
        });
        self.collect(out, join_all(roles).await);
        for role in creator {
            let r = self
                .delete_one(Task::Secure, Kind::IamRole, role, async move {
                    done_if_gone(iam::delete_role(&self.aws, role).await).map_err(StepError::from)
                })
                .await;
            self.collect(out, vec![r]);
        }

        // EKS writes late logs and re-creates the group: look once more at the very end.
        let group = format!("/aws/eks/{name}/cluster");
        if inv.cluster.is_some() || inv.log_group.is_some() {
            if let Ok(Some(_)) = logs::find_log_group(&self.aws, &group).await {
                let r = self
                    .delete_one(Task::Secure, Kind::LogGroup, &group, async {
                        done_if_gone(logs::delete_log_group(&self.aws, &group).await)
                            .map_err(StepError::from)
                    })
                    .await;
                self.collect(out, vec![r]);
            }
        }
    }

    /// Runs one deletion, reporting it; `Ok(label)` when deleted, `Err((label, reason))` else.
    async fn delete_one<F>(
        &self,
        task: Task,
        kind: Kind,
        id: &str,
        work: F,
    ) -> Result<String, (String, String)>
    where
        F: Future<Output = Result<(), StepError>>,
    {
        self.delete_as(task, kind, kind.as_str(), id, work).await
    }

    /// [`Teardown::delete_one`], said as `label` (what is not a planned kind of its own).
    async fn delete_as<F>(
        &self,
        task: Task,
        kind: Kind,
        label: &str,
        id: &str,
        work: F,
    ) -> Result<String, (String, String)>
    where
        F: Future<Output = Result<(), StepError>>,
    {
        let res = item(task, kind, id);
        let started = Instant::now();
        self.reporter.report(Event::Started { resource: &res });
        match work.await {
            Ok(()) => {
                self.reporter.report(Event::Deleted {
                    resource: &res,
                    elapsed: started.elapsed(),
                });
                Ok(format!("{label} {id}"))
            }
            Err(error) => {
                self.reporter.report(Event::Failed {
                    resource: &res,
                    error: &error,
                    elapsed: started.elapsed(),
                });
                Err((
                    format!("{label} {id}"),
                    format!("{error} (hint: {})", error.hint()),
                ))
            }
        }
    }

    fn collect(&self, out: &mut Outcome, results: Vec<Result<String, (String, String)>>) {
        for r in results {
            match r {
                Ok(label) => out.deleted.push(label),
                Err(left) => out.left.push(left),
            }
        }
    }

    /// Retries while AWS still sees a dependency that is on its way out (interfaces of a NAT
    /// gateway, endpoint or load balancer just deleted), for [`DEPENDENCY_BUDGET`]; throttling
    /// is retried too; gone already is success.
    async fn retry_in_use<F, Fut>(&self, mut op: F) -> Result<(), StepError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<(), AwsError>>,
    {
        let started = Instant::now();
        let mut delay = self.timing.retry_base;
        loop {
            match op().await {
                Ok(()) => return Ok(()),
                Err(e) if e.is_not_found() => return Ok(()),
                // Throttling is the SDK's to retry, not this budget's.
                Err(e @ AwsError::DependencyViolation { .. })
                    if started.elapsed() < DEPENDENCY_BUDGET =>
                {
                    tracing::debug!(action = e.action(), ?delay, "still in use: {e}");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(15));
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Retries while AWS answers one of the `busy` codes (what uses it is on its way out: a
    /// volume's node, a target group's load balancer), for [`DEPENDENCY_BUDGET`]; gone already
    /// is success.
    async fn retry_while_busy<F, Fut>(&self, busy: &[&str], mut op: F) -> Result<(), StepError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<(), AwsError>>,
    {
        let started = Instant::now();
        let mut delay = self.timing.retry_base;
        loop {
            match op().await {
                Ok(()) => return Ok(()),
                Err(e) if e.is_not_found() => return Ok(()),
                Err(e)
                    if e.failure().is_some_and(|f| busy.contains(&f.code.as_str()))
                        && started.elapsed() < DEPENDENCY_BUDGET =>
                {
                    tracing::debug!(action = e.action(), ?delay, "still in use: {e}");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(15));
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Waits while a resource is in `status` (reported as waiting); any other status, or its
    /// absence, ends the wait.
    async fn wait_while<F, Fut>(
        &self,
        task: Task,
        kind: Kind,
        id: &str,
        status: &str,
        mut look: F,
    ) -> Result<(), StepError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<Option<String>, AwsError>>,
    {
        self.poll(task, kind, id, status, || {
            let seen = look();
            async move { Ok(seen.await?.filter(|now| now == status)) }
        })
        .await
    }

    /// Waits until a resource is gone (`look` answers `None`, or AWS says not found).
    async fn wait_gone<F, Fut>(
        &self,
        task: Task,
        kind: Kind,
        id: &str,
        look: F,
    ) -> Result<(), StepError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<Option<String>, AwsError>>,
    {
        self.poll(task, kind, id, "being deleted", look).await
    }

    /// Polls `look` until it answers `None` (or not found), reporting each status it answers
    /// as waiting, for at most [`GONE_TIMEOUT`] (then "… is still `still`").
    async fn poll<F, Fut>(
        &self,
        task: Task,
        kind: Kind,
        id: &str,
        still: &str,
        mut look: F,
    ) -> Result<(), StepError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<Option<String>, AwsError>>,
    {
        let res = item(task, kind, id);
        let started = Instant::now();
        let mut poll = PollDelay::new(self.timing.poll);
        loop {
            let last = match look().await {
                Ok(None) => return Ok(()),
                Err(e) if e.is_not_found() => return Ok(()),
                Err(e) => return Err(e.into()),
                Ok(Some(status)) => {
                    self.reporter.report(Event::Waiting {
                        resource: &res,
                        id,
                        status: &status,
                        elapsed: started.elapsed(),
                    });
                    status
                }
            };
            if started.elapsed() > GONE_TIMEOUT {
                return Err(StepError::TimedOut(format!(
                    "{} {id} is still {still} after {} minutes (last seen: {last})",
                    kind.as_str(),
                    GONE_TIMEOUT.as_secs() / 60
                )));
            }
            poll.sleep().await;
        }
    }

    /// Says what still uses a VPC: usually load balancers or ENIs Kubernetes made.
    async fn what_blocks(&self, vpc: &str) -> StepError {
        let interfaces = ec2::network_interfaces_in_vpc(&self.aws, vpc)
            .await
            .unwrap_or_default();
        let list: Vec<String> = interfaces
            .iter()
            .map(|n| {
                format!(
                    "{} ({})",
                    n.id,
                    if n.description.is_empty() {
                        &n.interface_type
                    } else {
                        &n.description
                    }
                )
            })
            .collect();
        let load_balancers = interfaces.iter().any(|n| n.description.starts_with("ELB "));
        StepError::Conflict {
            message: format!(
                "the VPC {vpc} is still in use by {}",
                if list.is_empty() {
                    "resources eksboot did not make".to_string()
                } else {
                    list.join(", ")
                }
            ),
            hint: if load_balancers {
                "these are load balancers Kubernetes made for Services: run `kubectl delete svc --all-namespaces --field-selector spec.type=LoadBalancer` (or delete them in the EC2 console), then run teardown again".into()
            } else {
                "delete what is listed (in the EC2 console or with the AWS CLI), then run teardown again".into()
            },
        }
    }
}

/// The way out for an instance profile EKS did not make for this cluster that holds `role`.
pub fn foreign_profile_way_out(profile: &str, role: &str) -> String {
    format!(
        "take the role out of it yourself (`aws iam remove-role-from-instance-profile --instance-profile-name {profile} --role-name {role}`, and delete the profile if nothing uses it), then run teardown again"
    )
}

/// What teardown does first to a protected cluster, as said in its list and progress.
pub const PROTECTION_OFF: &str = "turn off deletion protection";

/// The outcome when the cluster's deletion protection could not be turned off: nothing
/// deleted, the cluster named with the action that failed, everything else kept.
fn protection_kept(inv: &Inventory, cluster: &str, error: &StepError) -> Outcome {
    let mut out = Outcome::default();
    let denied = error
        .aws()
        .is_some_and(|e| matches!(e, AwsError::AccessDenied { .. }));
    out.left.push((
        format!("{} {cluster}", Kind::EksCluster.as_str()),
        format!(
            "could not {PROTECTION_OFF} (eks:UpdateClusterConfig{}): {error}; nothing was deleted (hint: {})",
            if denied { ", denied" } else { "" },
            if denied {
                "allow eks:UpdateClusterConfig on this cluster to whoever runs teardown (the creator role, or you), or turn the protection off yourself, then run teardown again".to_string()
            } else {
                error.hint()
            }
        ),
    ));
    let reason = format!("kept: the cluster {cluster} is still protected from deletion");
    for (_, kind, id) in inv.lines() {
        if kind == Kind::EksCluster {
            continue;
        }
        out.left
            .push((format!("{} {id}", kind.as_str()), reason.clone()));
    }
    out
}

fn remaining_after_cluster(inv: &Inventory) -> Vec<(Task, Kind, String)> {
    let lines = inv.lines();
    let after = lines
        .iter()
        .position(|(_, kind, _)| *kind == Kind::EksCluster)
        .map_or(0, |i| i + 1);
    lines[after..]
        .iter()
        .filter(|(_, kind, id)| {
            *kind != Kind::LoadBalancer
                && !(*kind == TARGET_GROUP_KIND && inv.target_groups.iter().any(|(_, n)| n == id))
        })
        .cloned()
        .collect()
}

/// The VPC's own parts: what waits while something else sits in the VPC.
fn network_parts(inv: &Inventory) -> Vec<(Task, Kind, String)> {
    inv.lines()
        .into_iter()
        .filter(|(_, kind, id)| {
            matches!(
                kind,
                Kind::InternetGateway | Kind::RouteTable | Kind::Subnet | Kind::Vpc
            ) || (*kind == Kind::SecurityGroup && inv.security_groups.contains(id))
        })
        .collect()
}

/// Whether a network interface belongs to load balancer `lb`: Classic ones are described
/// `ELB <name>`, v2 ones `ELB app/<name>/<id>` or `ELB net/<name>/<id>`.
pub fn is_load_balancer_interface(description: &str, lb: &str) -> bool {
    match description.strip_prefix("ELB ") {
        Some(rest) => {
            rest == lb
                || rest.split('/').nth(1).is_some_and(|name| {
                    name == lb && (rest.starts_with("app/") || rest.starts_with("net/"))
                })
        }
        None => false,
    }
}

/// What to do with an interface left in the VPC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leftover {
    /// This cluster's (VPC CNI made it for a node), detached: delete it.
    Ours,
    /// This cluster's, still attached: wait.
    OursInUse,
    /// Someone else's: name it.
    Foreign,
}

/// Pure: whose a leftover interface is. The VPC CNI tags its interfaces
/// `cluster.k8s.amazonaws.com/name` and describes them `aws-K8S-…`; EKS Auto Mode tags its
/// own [`AUTO_MODE_TAG`], managed nodes theirs [`NODEGROUP_CLUSTER_TAG`].
pub fn leftover_verdict(n: &ec2::NetworkInterface, cluster: &str) -> Leftover {
    let tagged = n.tags.iter().any(|(k, v)| {
        (k == "cluster.k8s.amazonaws.com/name" || k == AUTO_MODE_TAG || k == NODEGROUP_CLUSTER_TAG)
            && v == cluster
    });
    let cni = n.description.starts_with("aws-K8S-");
    match (tagged || cni, n.status.as_str()) {
        (true, "available") => Leftover::Ours,
        (true, _) => Leftover::OursInUse,
        (false, _) => Leftover::Foreign,
    }
}

fn item(task: Task, kind: Kind, id: &str) -> Resource {
    Resource {
        id: id.to_string(),
        task,
        kind,
        name: id.to_string(),
        depends_on: Vec::new(),
        cidr: None,
        az: None,
        detail: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn interface(description: &str, status: &str, tags: &[(&str, &str)]) -> ec2::NetworkInterface {
        ec2::NetworkInterface {
            id: "eni-1".into(),
            description: description.into(),
            interface_type: "interface".into(),
            requester: String::new(),
            owner: "123456789012".into(),
            status: status.into(),
            tags: tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn leftover_interfaces_of_this_cluster_are_deleted_others_named() {
        let cni = interface("aws-K8S-i-0abc", "available", &[]);
        assert_eq!(leftover_verdict(&cni, "demo"), Leftover::Ours);
        let tagged = interface(
            "",
            "available",
            &[("cluster.k8s.amazonaws.com/name", "demo")],
        );
        assert_eq!(leftover_verdict(&tagged, "demo"), Leftover::Ours);
        let attached = interface("aws-K8S-i-0abc", "in-use", &[]);
        assert_eq!(leftover_verdict(&attached, "demo"), Leftover::OursInUse);
        let other_cluster = interface(
            "",
            "available",
            &[("cluster.k8s.amazonaws.com/name", "web")],
        );
        assert_eq!(leftover_verdict(&other_cluster, "demo"), Leftover::Foreign);
        assert_eq!(
            leftover_verdict(&interface("my database", "in-use", &[]), "demo"),
            Leftover::Foreign
        );
    }

    #[test]
    fn interfaces_aws_removes_are_eks_and_those_of_load_balancers_gone() {
        let live = ["web".to_string()];
        let is = |n: &ec2::NetworkInterface| removed_by_aws(n, "demo", &live);
        assert!(is(&interface("Amazon EKS demo", "in-use", &[])));
        assert!(is(&interface("Amazon EKS demo", "available", &[])));
        assert!(!is(&interface("Amazon EKS demo2", "in-use", &[])));
        assert!(is(&interface(
            "",
            "in-use",
            &[("eks:cluster-name", "demo")]
        )));
        // A detached node interface will not go by itself: a leftover, deleted as ours.
        let detached = interface("", "available", &[("eks:cluster-name", "demo")]);
        assert!(!is(&detached));
        assert_eq!(leftover_verdict(&detached, "demo"), Leftover::Ours);
        assert!(!is(&interface(
            "",
            "in-use",
            &[("eks:cluster-name", "web")]
        )));
        // A load balancer's: waited for once the load balancer is gone, never while it lives.
        assert!(is(&interface("ELB app/k8s-auto/0abc", "in-use", &[])));
        assert!(is(&interface("ELB net/k8s-nlb/0abc", "in-use", &[])));
        assert!(is(&interface("ELB gone-classic", "in-use", &[])));
        assert!(!is(&interface("ELB app/web/0abc", "in-use", &[])));
        assert!(!is(&interface("ELB web", "in-use", &[])));
        assert!(!is(&interface("aws-K8S-i-1", "in-use", &[])));
        assert_eq!(load_balancer_of("ELB app/web/0abc"), Some("web"));
        assert_eq!(load_balancer_of("ELB web"), Some("web"));
        assert_eq!(load_balancer_of("Amazon EKS web"), None);
    }

    #[test]
    fn eks_network_status_names_what_is_still_there() {
        assert_eq!(eks_network_status(0, &[]), None);
        assert_eq!(
            eks_network_status(3, &["sg-1".into()]).as_deref(),
            Some("EKS's 3 network interface(s) and cluster security group sg-1 still there")
        );
        assert_eq!(
            eks_network_status(0, &["sg-1".into()]).as_deref(),
            Some("EKS's cluster security group sg-1 still there")
        );
        assert!(is_cluster_security_group(&tags(&[(
            "aws:eks:cluster-name",
            "demo"
        )])));
        assert!(!is_cluster_security_group(&tags(&[(
            "kubernetes.io/cluster/demo",
            "owned"
        )])));
    }

    #[test]
    fn load_balancer_interfaces_are_recognised_by_description() {
        assert!(is_load_balancer_interface("ELB a1b2c3", "a1b2c3"));
        assert!(is_load_balancer_interface(
            "ELB app/k8s-web/50dc6c495c0c9188",
            "k8s-web"
        ));
        assert!(is_load_balancer_interface(
            "ELB net/k8s-api/1234",
            "k8s-api"
        ));
        assert!(!is_load_balancer_interface("ELB a1b2c3d", "a1b2c3"));
        assert!(!is_load_balancer_interface("aws-K8S-i-1", "a1b2c3"));
    }

    #[test]
    fn load_balancers_in_the_way_refuse_before_anything_is_deleted() {
        let inv = Inventory {
            load_balancers: vec![("arn:lb/1".into(), "k8s-web".into(), true)],
            classic_load_balancers: vec![("a1b2".into(), true), ("theirs".into(), false)],
            ..Default::default()
        };
        let without_force = inv.load_balancers_in_the_way(false);
        assert_eq!(without_force.len(), 3);
        assert!(without_force[0].1.contains("kubectl delete svc"));
        assert!(without_force[0].1.contains("--force"));
        let with_force = inv.load_balancers_in_the_way(true);
        assert_eq!(with_force.len(), 1, "{with_force:?}");
        assert!(with_force[0].0.contains("theirs") && with_force[0].1.contains("not tagged"));
    }

    fn tags(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn only_volumes_tagged_for_this_cluster_alone_are_ours() {
        let owned = tags(&[
            ("kubernetes.io/cluster/demo", "owned"),
            ("ebs.csi.aws.com/cluster", "true"),
            ("CSIVolumeName", "pvc-1"),
        ]);
        assert_eq!(volume_owner(&owned, "demo"), VolumeOwner::Ours);
        let legacy = tags(&[("KubernetesCluster", "demo")]);
        assert_eq!(volume_owner(&legacy, "demo"), VolumeOwner::Ours);
        // The CSI driver's default tag names no cluster.
        let csi_default = tags(&[
            ("ebs.csi.aws.com/cluster", "true"),
            ("CSIVolumeName", "pvc-2"),
        ]);
        assert_eq!(volume_owner(&csi_default, "demo"), VolumeOwner::Unknown);
        assert_eq!(volume_owner(&[], "demo"), VolumeOwner::Unknown);
        // Shared, not owned: the cluster uses it but did not make it.
        let shared = tags(&[("kubernetes.io/cluster/demo", "shared")]);
        assert_eq!(volume_owner(&shared, "demo"), VolumeOwner::Unknown);
        // Another cluster's, even one whose name starts like ours, or named as well as ours.
        let other = tags(&[("kubernetes.io/cluster/demo-2", "owned")]);
        assert_eq!(
            volume_owner(&other, "demo"),
            VolumeOwner::Other("demo-2".into())
        );
        let both = tags(&[
            ("kubernetes.io/cluster/demo", "owned"),
            ("KubernetesCluster", "web"),
        ]);
        assert_eq!(
            volume_owner(&both, "demo"),
            VolumeOwner::Other("web".into())
        );
    }

    #[test]
    fn a_volume_names_its_claim_when_the_provisioner_recorded_it() {
        let t = tags(&[
            ("kubernetes.io/created-for/pvc/namespace", "shop"),
            ("kubernetes.io/created-for/pvc/name", "data-db-0"),
        ]);
        assert_eq!(volume_claim(&t).as_deref(), Some("shop/data-db-0"));
        assert_eq!(volume_claim(&tags(&[("CSIVolumeName", "pvc-1")])), None);
    }

    fn target_group(tags_: &[(&str, &str)], lbs: &[&str]) -> elb::TargetGroup {
        elb::TargetGroup {
            arn: "arn:tg/1".into(),
            name: "k8s-default-web-1".into(),
            vpc_id: "vpc-1".into(),
            load_balancers: lbs.iter().map(|s| s.to_string()).collect(),
            tags: tags(tags_),
        }
    }

    #[test]
    fn target_groups_of_this_cluster_by_tag_or_by_load_balancer() {
        let ours = ["arn:lb/ours".to_string()];
        let lbc = target_group(&[("elbv2.k8s.aws/cluster", "demo")], &[]);
        assert!(target_group_is_ours(&lbc, "demo", &ours));
        let in_tree = target_group(&[("kubernetes.io/cluster/demo", "owned")], &[]);
        assert!(target_group_is_ours(&in_tree, "demo", &ours));
        let behind_ours = target_group(&[], &["arn:lb/ours"]);
        assert!(target_group_is_ours(&behind_ours, "demo", &ours));
        let untagged = target_group(&[], &["arn:lb/theirs"]);
        assert!(!target_group_is_ours(&untagged, "demo", &ours));
        let other = target_group(&[("elbv2.k8s.aws/cluster", "web")], &["arn:lb/ours"]);
        assert!(!target_group_is_ours(&other, "demo", &ours));
        let other_in_tree = target_group(&[("kubernetes.io/cluster/web", "owned")], &[]);
        assert!(!target_group_is_ours(&other_in_tree, "demo", &ours));
    }

    #[test]
    fn volumes_and_target_groups_are_in_the_way_without_force_only() {
        let inv = Inventory {
            cluster: Some("demo".into()),
            target_groups: vec![("arn:tg/1".into(), "k8s-default-web-1".into())],
            volumes: vec![K8sVolume {
                id: "vol-1".into(),
                state: "available".into(),
                size_gib: 8,
                claim: Some("shop/data-db-0".into()),
            }],
            ..Default::default()
        };
        let refused = inv.in_the_way(false);
        let names: Vec<&str> = refused.iter().map(|(what, _)| what.as_str()).collect();
        assert_eq!(
            names,
            [
                "target-group k8s-default-web-1",
                "ebs-volume vol-1 (8 GiB, available)"
            ]
        );
        assert!(
            refused[0].1.contains("kubectl delete ingress") && refused[0].1.contains("--force")
        );
        assert!(
            refused[1].1.contains("shop/data-db-0") && refused[1].1.contains("kubectl delete pvc")
        );
        assert!(inv.in_the_way(true).is_empty());
        assert_eq!(inv.load_balancers_in_the_way(false), refused);
        // Once the cluster is gone, only --force can remove them.
        let gone = Inventory {
            cluster: None,
            ..inv.clone()
        };
        for (_, way_out) in gone.in_the_way(false) {
            assert!(
                way_out.contains("which is gone") && way_out.contains("--force"),
                "{way_out}"
            );
            assert!(!way_out.contains("kubectl"), "{way_out}");
        }
    }

    #[test]
    fn volumes_go_before_the_cluster_and_target_groups_with_the_load_balancers() {
        let inv = Inventory {
            cluster: Some("demo".into()),
            volumes: vec![K8sVolume {
                id: "vol-1".into(),
                state: "in-use".into(),
                size_gib: 8,
                claim: None,
            }],
            target_groups: vec![("arn:tg/1".into(), "k8s-default-web-1".into())],
            vpcs: vec!["vpc-1".into()],
            ..Default::default()
        };
        let lines: Vec<String> = inv.lines().into_iter().map(|(_, _, id)| id).collect();
        let at = |id: &str| lines.iter().position(|l| l == id).unwrap();
        assert!(at("vol-1") < at("demo"), "{lines:?}");
        let kept: Vec<String> = remaining_after_cluster(&inv)
            .into_iter()
            .map(|(_, _, id)| id)
            .collect();
        assert_eq!(
            kept,
            ["vpc-1"],
            "deleted before the cluster, never kept for it"
        );
    }

    #[test]
    fn a_live_cluster_keeps_everything_after_it() {
        let inv = Inventory {
            cluster: Some("demo".into()),
            nodegroups: vec!["demo-default".into()],
            vpcs: vec!["vpc-1".into()],
            log_group: Some("/aws/eks/demo/cluster".into()),
            keys: vec![("k-1".into(), true)],
            roles: vec!["demo-cluster".into(), "demo-creator".into()],
            ..Default::default()
        };
        let kept: Vec<String> = remaining_after_cluster(&inv)
            .into_iter()
            .map(|(_, kind, id)| format!("{} {id}", kind.as_str()))
            .collect();
        assert_eq!(
            kept,
            [
                "vpc vpc-1",
                "log-group /aws/eks/demo/cluster",
                "kms-key k-1",
                "iam-role demo-cluster",
                "iam-role demo-creator"
            ]
        );
    }

    fn profile(arn: &str, tags_: &[(&str, &str)]) -> iam::InstanceProfile {
        iam::InstanceProfile {
            name: arn.rsplit('/').next().unwrap().into(),
            arn: arn.into(),
            tags: tags(tags_),
        }
    }

    #[test]
    fn only_instance_profiles_eks_made_for_this_cluster_are_ours() {
        let arn = "arn:aws:iam::123456789012:instance-profile/eks-us-west-2-demo-1a2b3c";
        let ours = profile(arn, &[("eks:eks-cluster-name", "demo")]);
        assert!(instance_profile_is_ours(&ours, "demo"));
        // EKS's naming under a path of its own counts too.
        let with_path = profile(
            "arn:aws:iam::123456789012:instance-profile/eks/demo-1",
            &[("eks:eks-cluster-name", "demo")],
        );
        assert!(instance_profile_is_ours(&with_path, "demo"));
        // Another cluster's (even one whose name starts like ours), untagged, not named as
        // EKS names its own, or naming another cluster as well: never.
        for (p, why) in [
            (
                profile(arn, &[("eks:eks-cluster-name", "demo-2")]),
                "other cluster",
            ),
            (profile(arn, &[]), "untagged"),
            (
                profile(
                    "arn:aws:iam::123456789012:instance-profile/my-nodes",
                    &[("eks:eks-cluster-name", "demo")],
                ),
                "not EKS's name",
            ),
            (
                profile(
                    arn,
                    &[
                        ("eks:eks-cluster-name", "demo"),
                        ("kubernetes.io/cluster/web", "owned"),
                    ],
                ),
                "also another cluster's",
            ),
        ] {
            assert!(!instance_profile_is_ours(&p, "demo"), "{why}");
        }
        let way_out = foreign_profile_way_out("my-nodes", "demo-node");
        assert!(
            way_out.contains("remove-role-from-instance-profile --instance-profile-name my-nodes --role-name demo-node"),
            "{way_out}"
        );
    }

    #[test]
    fn auto_mode_volumes_are_ours_by_their_tag_and_never_another_clusters() {
        let node_disk = tags(&[
            ("eks:eks-cluster-name", "demo"),
            ("eks:kubernetes-node-pool-name", "general-purpose"),
        ]);
        assert_eq!(volume_owner(&node_disk, "demo"), VolumeOwner::Ours);
        let other = tags(&[("eks:eks-cluster-name", "demo-2")]);
        assert_eq!(
            volume_owner(&other, "demo"),
            VolumeOwner::Other("demo-2".into())
        );
        let mixed = tags(&[
            ("eks:eks-cluster-name", "demo"),
            ("kubernetes.io/cluster/web", "owned"),
        ]);
        assert_eq!(
            volume_owner(&mixed, "demo"),
            VolumeOwner::Other("web".into())
        );
    }

    #[test]
    fn auto_mode_interfaces_left_detached_are_deleted_attached_ones_waited_for() {
        let tagged = [("eks:eks-cluster-name", "demo")];
        assert_eq!(
            leftover_verdict(&interface("", "available", &tagged), "demo"),
            Leftover::Ours
        );
        assert_eq!(
            leftover_verdict(&interface("", "in-use", &tagged), "demo"),
            Leftover::OursInUse
        );
        assert_eq!(
            leftover_verdict(
                &interface("", "available", &[("eks:eks-cluster-name", "web")]),
                "demo"
            ),
            Leftover::Foreign
        );
    }

    #[test]
    fn auto_mode_status_names_what_is_still_there() {
        assert_eq!(auto_mode_status(0, 0, 0), None);
        assert_eq!(
            auto_mode_status(2, 1, 0).as_deref(),
            Some("EKS Auto Mode's 2 instance(s), 1 load balancer(s) still there")
        );
        assert_eq!(
            auto_mode_status(0, 0, 3).as_deref(),
            Some("EKS Auto Mode's 3 attached network interface(s) still there")
        );
    }

    #[test]
    fn auto_mode_volumes_need_force_and_go_after_the_cluster() {
        let inv = Inventory {
            cluster: Some("demo".into()),
            auto_mode: true,
            auto_instances: vec!["i-1".into()],
            auto_load_balancers: vec![("arn:lb/auto".into(), "k8s-auto".into())],
            auto_volumes: vec![K8sVolume {
                id: "vol-auto".into(),
                state: "in-use".into(),
                size_gib: 80,
                claim: None,
            }],
            vpcs: vec!["vpc-1".into()],
            roles: vec!["demo-node".into()],
            ..Default::default()
        };
        // Auto Mode's load balancers are EKS's to delete: never in the way.
        let refused = inv.in_the_way(false);
        assert_eq!(refused.len(), 1, "{refused:?}");
        assert_eq!(refused[0].0, "ebs-volume vol-auto (80 GiB, in-use)");
        assert!(
            refused[0].1.contains("EKS Auto Mode made it") && refused[0].1.contains("--force"),
            "{}",
            refused[0].1
        );
        assert!(inv.in_the_way(true).is_empty());
        let gone = Inventory {
            cluster: None,
            ..inv.clone()
        };
        assert!(gone.in_the_way(false)[0].1.contains("which is gone"));
        // Listed after the cluster, so kept with everything after it if the cluster stays.
        let lines: Vec<String> = inv.lines().into_iter().map(|(_, _, id)| id).collect();
        let at = |id: &str| lines.iter().position(|l| l == id).unwrap();
        assert!(at("demo") < at("vol-auto"), "{lines:?}");
        let kept: Vec<String> = remaining_after_cluster(&inv)
            .into_iter()
            .map(|(_, _, id)| id)
            .collect();
        assert_eq!(kept, ["vol-auto", "vpc-1", "demo-node"]);
        // Nothing listed but Auto Mode's instances: still not empty (teardown waits for them).
        let only_instances = Inventory {
            auto_instances: vec!["i-1".into()],
            ..Default::default()
        };
        assert!(!only_instances.is_empty());
        assert!(Inventory::default().is_empty());
    }

    #[test]
    fn a_protection_that_stays_on_keeps_everything_and_names_the_action() {
        let inv = Inventory {
            cluster: Some("demo".into()),
            deletion_protection: true,
            nodegroups: vec!["demo-default".into()],
            vpcs: vec!["vpc-1".into()],
            ..Default::default()
        };
        let denied = StepError::Aws(AwsError::AccessDenied {
            action: "eks:UpdateClusterConfig",
            failure: crate::aws::Failure {
                code: "AccessDeniedException".into(),
                message: "explicit deny".into(),
                request_id: None,
            },
            by_creator: true,
        });
        let out = protection_kept(&inv, "demo", &denied);
        assert!(out.deleted.is_empty());
        let left: Vec<&str> = out.left.iter().map(|(what, _)| what.as_str()).collect();
        assert_eq!(
            left,
            ["eks-cluster demo", "nodegroup demo-default", "vpc vpc-1"]
        );
        assert!(
            out.left[0].1.contains("eks:UpdateClusterConfig, denied"),
            "{:?}",
            out.left[0]
        );
        assert!(
            out.left[0].1.contains("nothing was deleted"),
            "{:?}",
            out.left[0]
        );
        assert!(
            out.left[1].1.contains("still protected"),
            "{:?}",
            out.left[1]
        );
    }
}
