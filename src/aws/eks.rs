//! EKS: what the service offers.

use super::{classify, Aws, AwsError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfferedVersion {
    pub version: String,
    /// `STANDARD_SUPPORT`, `EXTENDED_SUPPORT` or `UNSUPPORTED`.
    pub status: String,
    pub default: bool,
    /// When standard support ends (RFC 3339), as EKS publishes it.
    pub end_of_standard_support: Option<String>,
}

pub async fn cluster_versions(aws: &Aws) -> Result<Vec<OfferedVersion>, AwsError> {
    let mut versions = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let out = aws
            .eks
            .describe_cluster_versions()
            .cluster_type("eks")
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(|e| classify("eks:DescribeClusterVersions", e))?;
        versions.extend(out.cluster_versions().iter().map(|v| {
            OfferedVersion {
                version: v.cluster_version().unwrap_or_default().to_string(),
                status: v
                    .version_status()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
                default: v.default_version(),
                end_of_standard_support: v
                    .end_of_standard_support_date()
                    .and_then(|d| d.fmt(aws_smithy_types::date_time::Format::DateTime).ok()),
            }
        }));
        token = out.next_token().map(str::to_string);
        if token.is_none() {
            return Ok(versions);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The cluster and what hangs off it. These run with the creator role's credentials.

use std::collections::HashMap;

use aws_sdk_eks::types::{
    AccessScope, AccessScopeType, AmiTypes, AuthenticationMode, BlockStorage, CapacityTypes,
    ComputeConfigRequest, CreateAccessConfigRequest, ElasticLoadBalancing, EncryptionConfig,
    KubernetesNetworkConfigRequest, LaunchTemplateSpecification, LogSetup, LogType, Logging,
    NodeRepairConfig, NodegroupScalingConfig, Provider, ResolveConflicts, StorageConfigRequest,
    SupportType, UpgradePolicyRequest, VpcConfigRequest,
};

/// A cluster as EKS describes it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClusterInfo {
    pub arn: String,
    /// `CREATING`, `ACTIVE`, `DELETING`, `FAILED`, `UPDATING`, `PENDING`.
    pub status: String,
    pub version: String,
    pub endpoint: String,
    pub certificate_authority: String,
    pub oidc_issuer: String,
    pub tags: HashMap<String, String>,
    pub endpoint_public: bool,
    pub endpoint_private: bool,
    pub public_access_cidrs: Vec<String>,
    /// The control-plane log types sent to CloudWatch.
    pub enabled_log_types: Vec<String>,
    /// `upgradePolicy.supportType`: `EXTENDED` (extended support, at a cost, once standard
    /// support ends) or `STANDARD` (EKS upgrades the control plane itself then); empty when EKS
    /// did not say.
    pub support_type: String,
    /// `deletionProtection`: DeleteCluster is refused while it is on (and the cluster ACTIVE).
    pub deletion_protection: bool,
    /// EKS Auto Mode's compute capability, when on: its node pools and node role.
    pub auto_mode: Option<AutoMode>,
}

/// EKS Auto Mode's settings: the built-in node pools and the role its nodes run with.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AutoMode {
    pub node_pools: Vec<String>,
    pub node_role_arn: String,
}

/// What CreateCluster is given; the decisions were made by the caller.
#[derive(Debug, Clone)]
pub struct ClusterSpec<'a> {
    pub name: &'a str,
    pub version: &'a str,
    pub role_arn: &'a str,
    pub subnet_ids: Vec<String>,
    pub security_group_id: &'a str,
    pub public_access: bool,
    pub private_access: bool,
    pub public_access_cidrs: Vec<String>,
    pub log_types: Vec<&'a str>,
    pub key_arn: &'a str,
    /// `upgradePolicy.supportType`: `STANDARD` or `EXTENDED`.
    pub support_type: &'a str,
    pub deletion_protection: bool,
    /// Auto Mode's three capabilities (compute with these pools and node role, block storage,
    /// load balancing) all on, and no self-managed add-ons bootstrapped; `None`: all off.
    pub auto_mode: Option<AutoMode>,
    pub tags: HashMap<String, String>,
    pub client_request_token: String,
}

pub async fn describe_cluster(
    eks: &aws_sdk_eks::Client,
    name: &str,
) -> Result<Option<ClusterInfo>, AwsError> {
    match eks.describe_cluster().name(name).send().await {
        Ok(out) => Ok(out.cluster().map(|c| ClusterInfo {
            arn: c.arn().unwrap_or_default().to_string(),
            status: c
                .status()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            version: c.version().unwrap_or_default().to_string(),
            endpoint: c.endpoint().unwrap_or_default().to_string(),
            certificate_authority: c
                .certificate_authority()
                .and_then(|ca| ca.data())
                .unwrap_or_default()
                .to_string(),
            oidc_issuer: c
                .identity()
                .and_then(|i| i.oidc())
                .and_then(|o| o.issuer())
                .unwrap_or_default()
                .to_string(),
            tags: c.tags().cloned().unwrap_or_default(),
            endpoint_public: c
                .resources_vpc_config()
                .map(|v| v.endpoint_public_access())
                .unwrap_or(false),
            endpoint_private: c
                .resources_vpc_config()
                .map(|v| v.endpoint_private_access())
                .unwrap_or(false),
            public_access_cidrs: c
                .resources_vpc_config()
                .map(|v| v.public_access_cidrs().to_vec())
                .unwrap_or_default(),
            enabled_log_types: c
                .logging()
                .map(|l| {
                    l.cluster_logging()
                        .iter()
                        .filter(|s| s.enabled() == Some(true))
                        .flat_map(|s| s.types().iter().map(|t| t.as_str().to_string()))
                        .collect()
                })
                .unwrap_or_default(),
            support_type: c
                .upgrade_policy()
                .and_then(|u| u.support_type())
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            deletion_protection: c.deletion_protection().unwrap_or(false),
            auto_mode: c
                .compute_config()
                .filter(|compute| compute.enabled() == Some(true))
                .map(|compute| AutoMode {
                    node_pools: compute.node_pools().to_vec(),
                    node_role_arn: compute.node_role_arn().unwrap_or_default().to_string(),
                }),
        })),
        Err(e) => match classify("eks:DescribeCluster", e) {
            err if err.is_not_found() => Ok(None),
            err => Err(err),
        },
    }
}

pub async fn create_cluster(
    eks: &aws_sdk_eks::Client,
    spec: &ClusterSpec<'_>,
) -> Result<(), AwsError> {
    let vpc = VpcConfigRequest::builder()
        .set_subnet_ids(Some(spec.subnet_ids.clone()))
        .security_group_ids(spec.security_group_id)
        .endpoint_public_access(spec.public_access)
        .endpoint_private_access(spec.private_access)
        .set_public_access_cidrs(spec.public_access.then(|| spec.public_access_cidrs.clone()))
        .build();
    let logging = Logging::builder()
        .cluster_logging(
            LogSetup::builder()
                .set_types(Some(
                    spec.log_types.iter().map(|t| LogType::from(*t)).collect(),
                ))
                .enabled(true)
                .build(),
        )
        .build();
    // `resources` is deprecated in the SDK (EKS now encrypts all API data by default), but it is
    // still what asks for envelope encryption of Secrets with our key.
    #[allow(deprecated)]
    let encryption = EncryptionConfig::builder()
        .resources("secrets")
        .provider(Provider::builder().key_arn(spec.key_arn).build())
        .build();
    let access = CreateAccessConfigRequest::builder()
        .authentication_mode(AuthenticationMode::Api)
        .bootstrap_cluster_creator_admin_permissions(true)
        .build();
    // Sent only for Auto Mode: a cluster without it is created exactly as before.
    let auto = spec
        .auto_mode
        .as_ref()
        .map(|a| auto_mode_capabilities(Some(a)));
    eks.create_cluster()
        .name(spec.name)
        .set_compute_config(auto.as_ref().map(|(c, _, _)| c.clone()))
        .set_storage_config(auto.as_ref().map(|(_, s, _)| s.clone()))
        .set_kubernetes_network_config(auto.as_ref().map(|(_, _, n)| n.clone()))
        // Auto Mode runs the CNI, kube-proxy and CoreDNS itself (EKS user guide, "Create an
        // EKS Auto Mode cluster": bootstrapSelfManagedAddons false).
        .set_bootstrap_self_managed_addons(auto.as_ref().map(|_| false))
        .version(spec.version)
        .role_arn(spec.role_arn)
        .resources_vpc_config(vpc)
        .logging(logging)
        .encryption_config(encryption)
        .access_config(access)
        .upgrade_policy(
            UpgradePolicyRequest::builder()
                .support_type(SupportType::from(spec.support_type))
                .build(),
        )
        .deletion_protection(spec.deletion_protection)
        .set_tags(Some(spec.tags.clone()))
        .client_request_token(&spec.client_request_token)
        .send()
        .await
        .map_err(|e| classify("eks:CreateCluster", e))?;
    Ok(())
}

/// Auto Mode's three capabilities as one request gives them: EKS takes them all on or all off
/// together (API reference, CreateCluster and UpdateClusterConfig: "you must enable or disable
/// all three capabilities"), and node pools need the node role.
fn auto_mode_capabilities(
    auto: Option<&AutoMode>,
) -> (
    ComputeConfigRequest,
    StorageConfigRequest,
    KubernetesNetworkConfigRequest,
) {
    let on = auto.is_some();
    let compute = ComputeConfigRequest::builder()
        .enabled(on)
        .set_node_pools(auto.map(|a| a.node_pools.clone()))
        .set_node_role_arn(auto.map(|a| a.node_role_arn.clone()))
        .build();
    let storage = StorageConfigRequest::builder()
        .block_storage(BlockStorage::builder().enabled(on).build())
        .build();
    let network = KubernetesNetworkConfigRequest::builder()
        .elastic_load_balancing(ElasticLoadBalancing::builder().enabled(on).build())
        .build();
    (compute, storage, network)
}

/// Sets an Auto Mode cluster's node pools (its node role cannot change). Returns the update's id.
pub async fn update_auto_mode(
    eks: &aws_sdk_eks::Client,
    name: &str,
    auto: &AutoMode,
    client_request_token: &str,
) -> Result<String, AwsError> {
    let (compute, storage, network) = auto_mode_capabilities(Some(auto));
    let out = eks
        .update_cluster_config()
        .name(name)
        .compute_config(compute)
        .storage_config(storage)
        .kubernetes_network_config(network)
        .client_request_token(client_request_token)
        .send()
        .await
        .map_err(|e| classify("eks:UpdateClusterConfig", e))?;
    Ok(update_id(out.update()))
}

/// The access policies associated with a principal's access entry, or `None` without an entry.
pub async fn access_entry_policies(
    eks: &aws_sdk_eks::Client,
    cluster: &str,
    principal: &str,
) -> Result<Option<Vec<String>>, AwsError> {
    match eks
        .list_associated_access_policies()
        .cluster_name(cluster)
        .principal_arn(principal)
        .send()
        .await
    {
        Ok(out) => Ok(Some(
            out.associated_access_policies()
                .iter()
                .filter_map(|p| p.policy_arn().map(str::to_string))
                .collect(),
        )),
        Err(e) => match classify("eks:ListAssociatedAccessPolicies", e) {
            err if err.is_not_found() => Ok(None),
            err => Err(err),
        },
    }
}

pub async fn create_access_entry(
    eks: &aws_sdk_eks::Client,
    cluster: &str,
    principal: &str,
    tags: HashMap<String, String>,
) -> Result<String, AwsError> {
    let out = eks
        .create_access_entry()
        .cluster_name(cluster)
        .principal_arn(principal)
        .set_tags(Some(tags))
        .send()
        .await
        .map_err(|e| classify("eks:CreateAccessEntry", e))?;
    Ok(out
        .access_entry()
        .and_then(|a| a.access_entry_arn())
        .unwrap_or_default()
        .to_string())
}

pub async fn associate_cluster_policy(
    eks: &aws_sdk_eks::Client,
    cluster: &str,
    principal: &str,
    policy_arn: &str,
) -> Result<(), AwsError> {
    eks.associate_access_policy()
        .cluster_name(cluster)
        .principal_arn(principal)
        .policy_arn(policy_arn)
        .access_scope(
            AccessScope::builder()
                .r#type(AccessScopeType::Cluster)
                .build(),
        )
        .send()
        .await
        .map_err(|e| classify("eks:AssociateAccessPolicy", e))?;
    Ok(())
}

/// The default version of an add-on for a Kubernetes version, or `None` if EKS has no such add-on.
pub async fn default_addon_version(
    eks: &aws_sdk_eks::Client,
    addon: &str,
    kubernetes_version: &str,
) -> Result<Option<String>, AwsError> {
    let out = eks
        .describe_addon_versions()
        .addon_name(addon)
        .kubernetes_version(kubernetes_version)
        .send()
        .await
        .map_err(|e| classify("eks:DescribeAddonVersions", e))?;
    let versions: Vec<_> = out
        .addons()
        .iter()
        .filter(|a| a.addon_name() == Some(addon))
        .flat_map(|a| a.addon_versions())
        .collect();
    let default = versions.iter().find(|v| {
        v.compatibilities()
            .iter()
            .any(|c| c.cluster_version() == Some(kubernetes_version) && c.default_version())
    });
    Ok(default
        .or(versions.first())
        .and_then(|v| v.addon_version())
        .map(str::to_string))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddonInfo {
    pub arn: String,
    /// `CREATING`, `ACTIVE`, `DEGRADED`, `CREATE_FAILED`, …
    pub status: String,
    pub version: String,
    /// Health issues EKS reports, as `code: message`.
    pub issues: Vec<String>,
    /// The ARNs of the pod identity associations the add-on owns.
    pub pod_identity_associations: Vec<String>,
    /// Its `configurationValues` (empty when none).
    pub configuration_values: String,
}

/// An add-on's pod identity association as sent: `(service account, role ARN)`.
pub type AddonIdentity = (String, String);

fn addon_identities(
    associations: &[AddonIdentity],
) -> Result<Vec<aws_sdk_eks::types::AddonPodIdentityAssociations>, AwsError> {
    associations
        .iter()
        .map(|(service_account, role_arn)| {
            aws_sdk_eks::types::AddonPodIdentityAssociations::builder()
                .service_account(service_account)
                .role_arn(role_arn)
                .build()
                .map_err(|e| AwsError::Other {
                    action: "eks:CreateAddon",
                    failure: crate::aws::Failure {
                        code: "InvalidParameter".into(),
                        message: e.to_string(),
                        request_id: None,
                    },
                })
        })
        .collect()
}

pub async fn describe_addon(
    eks: &aws_sdk_eks::Client,
    cluster: &str,
    addon: &str,
) -> Result<Option<AddonInfo>, AwsError> {
    match eks
        .describe_addon()
        .cluster_name(cluster)
        .addon_name(addon)
        .send()
        .await
    {
        Ok(out) => Ok(out.addon().map(|a| AddonInfo {
            arn: a.addon_arn().unwrap_or_default().to_string(),
            status: a
                .status()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            version: a.addon_version().unwrap_or_default().to_string(),
            issues: a
                .health()
                .map(|h| h.issues())
                .unwrap_or_default()
                .iter()
                .map(|i| {
                    format!(
                        "{}: {}",
                        i.code().map(|c| c.as_str()).unwrap_or("Unknown"),
                        i.message().unwrap_or_default()
                    )
                })
                .collect(),
            pod_identity_associations: a.pod_identity_associations().to_vec(),
            configuration_values: a.configuration_values().unwrap_or_default().to_string(),
        })),
        Err(e) => match classify("eks:DescribeAddon", e) {
            err if err.is_not_found() => Ok(None),
            err => Err(err),
        },
    }
}

/// Creates an add-on, overwriting the self-managed one EKS already runs, with its pod identity
/// associations (none: not sent) and its configuration, if any.
#[allow(clippy::too_many_arguments)]
pub async fn create_addon(
    eks: &aws_sdk_eks::Client,
    cluster: &str,
    addon: &str,
    version: &str,
    associations: &[AddonIdentity],
    configuration: Option<&str>,
    tags: HashMap<String, String>,
    client_request_token: &str,
) -> Result<(), AwsError> {
    let identities = addon_identities(associations)?;
    eks.create_addon()
        .cluster_name(cluster)
        .client_request_token(client_request_token)
        .addon_name(addon)
        .addon_version(version)
        .resolve_conflicts(ResolveConflicts::Overwrite)
        .set_pod_identity_associations((!identities.is_empty()).then_some(identities))
        .set_configuration_values(configuration.map(str::to_string))
        .set_tags(Some(tags))
        .send()
        .await
        .map_err(|e| classify("eks:CreateAddon", e))?;
    Ok(())
}

/// Sets an add-on's pod identity associations (the whole list: UpdateAddon replaces the
/// add-on's associations with the ones given,
/// <https://docs.aws.amazon.com/eks/latest/APIReference/API_UpdateAddon.html>) and, when given,
/// its configuration, keeping its version. Returns the update's id.
pub async fn update_addon_identity(
    eks: &aws_sdk_eks::Client,
    cluster: &str,
    addon: &str,
    associations: &[AddonIdentity],
    configuration: Option<&str>,
    client_request_token: &str,
) -> Result<String, AwsError> {
    let identities = addon_identities(associations)?;
    let out = eks
        .update_addon()
        .cluster_name(cluster)
        .addon_name(addon)
        .set_pod_identity_associations(Some(identities))
        .set_configuration_values(configuration.map(str::to_string))
        .resolve_conflicts(ResolveConflicts::Overwrite)
        .client_request_token(client_request_token)
        .send()
        .await
        .map_err(|e| classify("eks:UpdateAddon", e))?;
    Ok(update_id(out.update()))
}

/// The service account and role a pod identity association (by its ARN) names, `None` once
/// it is gone.
pub async fn pod_identity_association(
    eks: &aws_sdk_eks::Client,
    cluster: &str,
    association_arn: &str,
) -> Result<Option<AddonIdentity>, AwsError> {
    let id = association_arn
        .rsplit('/')
        .next()
        .unwrap_or(association_arn);
    match eks
        .describe_pod_identity_association()
        .cluster_name(cluster)
        .association_id(id)
        .send()
        .await
    {
        Ok(out) => Ok(out.association().map(|a| {
            (
                a.service_account().unwrap_or_default().to_string(),
                a.role_arn().unwrap_or_default().to_string(),
            )
        })),
        Err(e) => match classify("eks:DescribePodIdentityAssociation", e) {
            err if err.is_not_found() => Ok(None),
            err => Err(err),
        },
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodegroupInfo {
    pub arn: String,
    pub status: String,
    /// (min, desired, max)
    pub scaling: (i32, i32, i32),
    /// The launch template version the nodes run, when it has one.
    pub launch_template_version: Option<String>,
    pub instance_types: Vec<String>,
    /// The Kubernetes version the nodes run.
    pub version: String,
    /// `amiType`: AL2023_x86_64_STANDARD, BOTTLEROCKET_ARM_64, ...
    pub ami_type: String,
    /// `nodeRepairConfig.enabled` (off when EKS does not say).
    pub auto_repair: bool,
}

pub async fn describe_nodegroup(
    eks: &aws_sdk_eks::Client,
    cluster: &str,
    name: &str,
) -> Result<Option<NodegroupInfo>, AwsError> {
    match eks
        .describe_nodegroup()
        .cluster_name(cluster)
        .nodegroup_name(name)
        .send()
        .await
    {
        Ok(out) => Ok(out.nodegroup().map(|n| NodegroupInfo {
            arn: n.nodegroup_arn().unwrap_or_default().to_string(),
            status: n
                .status()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            scaling: n
                .scaling_config()
                .map(|c| {
                    (
                        c.min_size().unwrap_or(0),
                        c.desired_size().unwrap_or(0),
                        c.max_size().unwrap_or(0),
                    )
                })
                .unwrap_or_default(),
            launch_template_version: n
                .launch_template()
                .and_then(|t| t.version())
                .map(str::to_string),
            instance_types: n.instance_types().to_vec(),
            version: n.version().unwrap_or_default().to_string(),
            ami_type: n
                .ami_type()
                .map(|t| t.as_str().to_string())
                .unwrap_or_default(),
            auto_repair: n
                .node_repair_config()
                .and_then(|r| r.enabled())
                .unwrap_or(false),
        })),
        Err(e) => match classify("eks:DescribeNodegroup", e) {
            err if err.is_not_found() => Ok(None),
            err => Err(err),
        },
    }
}

/// What CreateNodegroup is given.
#[derive(Debug, Clone)]
pub struct NodegroupSpec<'a> {
    pub cluster: &'a str,
    pub name: &'a str,
    pub subnet_ids: Vec<String>,
    pub node_role_arn: &'a str,
    pub instance_types: Vec<String>,
    pub min: i32,
    pub desired: i32,
    pub max: i32,
    pub ami_type: &'a str,
    pub launch_template_id: &'a str,
    pub launch_template_version: &'a str,
    /// `nodeRepairConfig.enabled`: EKS replaces unhealthy nodes.
    pub auto_repair: bool,
    pub tags: HashMap<String, String>,
    pub client_request_token: String,
}

pub async fn create_nodegroup(
    eks: &aws_sdk_eks::Client,
    spec: &NodegroupSpec<'_>,
) -> Result<(), AwsError> {
    eks.create_nodegroup()
        .cluster_name(spec.cluster)
        .nodegroup_name(spec.name)
        .set_subnets(Some(spec.subnet_ids.clone()))
        .node_role(spec.node_role_arn)
        .set_instance_types(Some(spec.instance_types.clone()))
        .scaling_config(
            NodegroupScalingConfig::builder()
                .min_size(spec.min)
                .desired_size(spec.desired)
                .max_size(spec.max)
                .build(),
        )
        .ami_type(AmiTypes::from(spec.ami_type))
        .capacity_type(CapacityTypes::OnDemand)
        .launch_template(
            LaunchTemplateSpecification::builder()
                .id(spec.launch_template_id)
                .version(spec.launch_template_version)
                .build(),
        )
        .node_repair_config(
            NodeRepairConfig::builder()
                .enabled(spec.auto_repair)
                .build(),
        )
        .set_tags(Some(spec.tags.clone()))
        .client_request_token(&spec.client_request_token)
        .send()
        .await
        .map_err(|e| classify("eks:CreateNodegroup", e))?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Teardown: lists and deletes. Deleting what is already gone is reported as `NotFound`.

/// Every page of a List call: `page` sends one request with the token (None first) and
/// returns its items and the next token. EKS answers List calls in pages ("nextToken ... the
/// value to use when paginating output", e.g.
/// https://docs.aws.amazon.com/eks/latest/APIReference/API_ListNodegroups.html); a cluster that
/// is gone lists nothing.
async fn all_pages<F, Fut>(mut page: F) -> Result<Vec<String>, AwsError>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: std::future::Future<Output = Result<(Vec<String>, Option<String>), AwsError>>,
{
    let mut items = Vec::new();
    let mut token: Option<String> = None;
    loop {
        match page(token.take()).await {
            Ok((found, next)) => {
                items.extend(found);
                match next {
                    Some(t) if !t.is_empty() => token = Some(t),
                    _ => return Ok(items),
                }
            }
            Err(err) if err.is_not_found() && items.is_empty() => return Ok(Vec::new()),
            Err(err) => return Err(err),
        }
    }
}

pub async fn list_nodegroups(
    eks: &aws_sdk_eks::Client,
    cluster: &str,
) -> Result<Vec<String>, AwsError> {
    all_pages(|token| async move {
        let out = eks
            .list_nodegroups()
            .cluster_name(cluster)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| classify("eks:ListNodegroups", e))?;
        Ok((
            out.nodegroups().to_vec(),
            out.next_token().map(str::to_string),
        ))
    })
    .await
}

pub async fn list_addons(
    eks: &aws_sdk_eks::Client,
    cluster: &str,
) -> Result<Vec<String>, AwsError> {
    all_pages(|token| async move {
        let out = eks
            .list_addons()
            .cluster_name(cluster)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| classify("eks:ListAddons", e))?;
        Ok((out.addons().to_vec(), out.next_token().map(str::to_string)))
    })
    .await
}

pub async fn list_access_entries(
    eks: &aws_sdk_eks::Client,
    cluster: &str,
) -> Result<Vec<String>, AwsError> {
    all_pages(|token| async move {
        let out = eks
            .list_access_entries()
            .cluster_name(cluster)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| classify("eks:ListAccessEntries", e))?;
        Ok((
            out.access_entries().to_vec(),
            out.next_token().map(str::to_string),
        ))
    })
    .await
}

/// Whether an update call was refused because another update of the same resource is running
/// (someone else's, or a stopped run's): EKS runs one update at a time per cluster, node group
/// or add-on and answers ResourceInUseException ("The specified resource is in use"), or, for a
/// cluster, InvalidRequestException "An update is already in progress"
/// (https://docs.aws.amazon.com/eks/latest/APIReference/API_UpdateClusterConfig.html,
/// https://docs.aws.amazon.com/eks/latest/APIReference/API_UpdateAddon.html).
pub fn is_update_in_progress(err: &AwsError) -> bool {
    let Some(f) = err.failure() else {
        return false;
    };
    let message = f.message.to_lowercase();
    match f.code.as_str() {
        "ResourceInUseException" | "ResourceInUse" => true,
        "InvalidRequestException" => {
            message.contains("in progress")
                || message.contains("resourceinuse")
                || message.contains("is in use")
                || message.contains("has status updating")
                || message.contains("in updating state")
        }
        _ => false,
    }
}

pub async fn delete_nodegroup(
    eks: &aws_sdk_eks::Client,
    cluster: &str,
    name: &str,
) -> Result<(), AwsError> {
    eks.delete_nodegroup()
        .cluster_name(cluster)
        .nodegroup_name(name)
        .send()
        .await
        .map_err(|e| classify("eks:DeleteNodegroup", e))?;
    Ok(())
}

/// DeleteAddon. Without `preserve` EKS removes the add-on's software from the cluster; with it
/// EKS stops managing the add-on and its software keeps running (teardown, which deletes the
/// cluster anyway, uses [`delete_addon`]).
pub async fn delete_addon(
    eks: &aws_sdk_eks::Client,
    cluster: &str,
    name: &str,
) -> Result<(), AwsError> {
    delete_addon_keeping(eks, cluster, name, false).await
}

/// DeleteAddon with its `preserve` flag: `true` leaves the add-on's software running.
pub async fn delete_addon_keeping(
    eks: &aws_sdk_eks::Client,
    cluster: &str,
    name: &str,
    preserve: bool,
) -> Result<(), AwsError> {
    eks.delete_addon()
        .cluster_name(cluster)
        .addon_name(name)
        .preserve(preserve)
        .send()
        .await
        .map_err(|e| classify("eks:DeleteAddon", e))?;
    Ok(())
}

pub async fn delete_access_entry(
    eks: &aws_sdk_eks::Client,
    cluster: &str,
    principal: &str,
) -> Result<(), AwsError> {
    eks.delete_access_entry()
        .cluster_name(cluster)
        .principal_arn(principal)
        .send()
        .await
        .map_err(|e| classify("eks:DeleteAccessEntry", e))?;
    Ok(())
}

pub async fn delete_cluster(eks: &aws_sdk_eks::Client, name: &str) -> Result<(), AwsError> {
    eks.delete_cluster()
        .name(name)
        .send()
        .await
        .map_err(|e| classify("eks:DeleteCluster", e))?;
    Ok(())
}

/// Cluster names in the region.
pub async fn list_clusters(eks: &aws_sdk_eks::Client) -> Result<Vec<String>, AwsError> {
    let mut names = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let out = eks
            .list_clusters()
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(|e| classify("eks:ListClusters", e))?;
        names.extend(out.clusters().iter().cloned());
        token = out.next_token().map(str::to_string);
        if token.is_none() {
            return Ok(names);
        }
    }
}

/// Changes a running cluster's endpoint access (one kind of update per call, as EKS requires).
/// Returns the update's id.
pub async fn update_endpoint_access(
    eks: &aws_sdk_eks::Client,
    name: &str,
    public: bool,
    private: bool,
    public_cidrs: Vec<String>,
    client_request_token: &str,
) -> Result<String, AwsError> {
    let vpc = VpcConfigRequest::builder()
        .endpoint_public_access(public)
        .endpoint_private_access(private)
        .set_public_access_cidrs(public.then_some(public_cidrs))
        .build();
    let out = eks
        .update_cluster_config()
        .name(name)
        .resources_vpc_config(vpc)
        .client_request_token(client_request_token)
        .send()
        .await
        .map_err(|e| classify("eks:UpdateClusterConfig", e))?;
    Ok(update_id(out.update()))
}

/// Turns control-plane log types on and off. Returns the update's id.
pub async fn update_logging(
    eks: &aws_sdk_eks::Client,
    name: &str,
    enable: &[String],
    disable: &[String],
    client_request_token: &str,
) -> Result<String, AwsError> {
    let setup = |types: &[String], on: bool| {
        LogSetup::builder()
            .set_types(Some(
                types.iter().map(|t| LogType::from(t.as_str())).collect(),
            ))
            .enabled(on)
            .build()
    };
    let mut logging = Logging::builder();
    if !enable.is_empty() {
        logging = logging.cluster_logging(setup(enable, true));
    }
    if !disable.is_empty() {
        logging = logging.cluster_logging(setup(disable, false));
    }
    let out = eks
        .update_cluster_config()
        .name(name)
        .logging(logging.build())
        .client_request_token(client_request_token)
        .send()
        .await
        .map_err(|e| classify("eks:UpdateClusterConfig", e))?;
    Ok(update_id(out.update()))
}

/// Sets the cluster's upgrade policy (`STANDARD` or `EXTENDED` support): an
/// UpgradePolicyUpdate. Returns the update's id.
pub async fn update_support_type(
    eks: &aws_sdk_eks::Client,
    name: &str,
    support_type: &str,
    client_request_token: &str,
) -> Result<String, AwsError> {
    let out = eks
        .update_cluster_config()
        .name(name)
        .upgrade_policy(
            UpgradePolicyRequest::builder()
                .support_type(SupportType::from(support_type))
                .build(),
        )
        .client_request_token(client_request_token)
        .send()
        .await
        .map_err(|e| classify("eks:UpdateClusterConfig", e))?;
    Ok(update_id(out.update()))
}

/// Turns the cluster's deletion protection on or off (EKS accepts it only on an ACTIVE
/// cluster). Returns the update's id.
pub async fn update_deletion_protection(
    eks: &aws_sdk_eks::Client,
    name: &str,
    on: bool,
    client_request_token: &str,
) -> Result<String, AwsError> {
    let out = eks
        .update_cluster_config()
        .name(name)
        .deletion_protection(on)
        .client_request_token(client_request_token)
        .send()
        .await
        .map_err(|e| classify("eks:UpdateClusterConfig", e))?;
    Ok(update_id(out.update()))
}

/// Turns a node group's auto repair on or off. Returns the update's id.
pub async fn update_nodegroup_repair(
    eks: &aws_sdk_eks::Client,
    cluster: &str,
    nodegroup: &str,
    on: bool,
    client_request_token: &str,
) -> Result<String, AwsError> {
    let out = eks
        .update_nodegroup_config()
        .cluster_name(cluster)
        .nodegroup_name(nodegroup)
        .node_repair_config(NodeRepairConfig::builder().enabled(on).build())
        .client_request_token(client_request_token)
        .send()
        .await
        .map_err(|e| classify("eks:UpdateNodegroupConfig", e))?;
    Ok(update_id(out.update()))
}

/// Resizes a node group. Returns the update's id.
pub async fn update_nodegroup_scaling(
    eks: &aws_sdk_eks::Client,
    cluster: &str,
    nodegroup: &str,
    (min, desired, max): (i32, i32, i32),
    client_request_token: &str,
) -> Result<String, AwsError> {
    let out = eks
        .update_nodegroup_config()
        .cluster_name(cluster)
        .nodegroup_name(nodegroup)
        .scaling_config(
            NodegroupScalingConfig::builder()
                .min_size(min)
                .desired_size(desired)
                .max_size(max)
                .build(),
        )
        .client_request_token(client_request_token)
        .send()
        .await
        .map_err(|e| classify("eks:UpdateNodegroupConfig", e))?;
    Ok(update_id(out.update()))
}

/// An update's status (`InProgress`, `Successful`, `Failed`, `Cancelled`) and its errors.
pub async fn describe_update(
    eks: &aws_sdk_eks::Client,
    cluster: &str,
    nodegroup: Option<&str>,
    update_id: &str,
) -> Result<(String, String), AwsError> {
    let out = eks
        .describe_update()
        .name(cluster)
        .set_nodegroup_name(nodegroup.map(str::to_string))
        .update_id(update_id)
        .send()
        .await
        .map_err(|e| classify("eks:DescribeUpdate", e))?;
    let update = out.update();
    let status = update
        .and_then(|u| u.status())
        .map(|s| s.as_str().to_string())
        .unwrap_or_default();
    let errors = update
        .map(|u| {
            u.errors()
                .iter()
                .map(|e| e.error_message().unwrap_or_default().to_string())
                .collect::<Vec<_>>()
                .join("; ")
        })
        .unwrap_or_default();
    Ok((status, errors))
}

/// Rolls a node group onto another version of its launch template. Returns the update's id.
pub async fn update_nodegroup_template(
    eks: &aws_sdk_eks::Client,
    cluster: &str,
    nodegroup: &str,
    (template_id, version): (&str, &str),
    client_request_token: &str,
) -> Result<String, AwsError> {
    let out = eks
        .update_nodegroup_version()
        .cluster_name(cluster)
        .nodegroup_name(nodegroup)
        .launch_template(
            LaunchTemplateSpecification::builder()
                .id(template_id)
                .version(version)
                .build(),
        )
        .client_request_token(client_request_token)
        .send()
        .await
        .map_err(|e| classify("eks:UpdateNodegroupVersion", e))?;
    Ok(update_id(out.update()))
}

fn update_id(update: Option<&aws_sdk_eks::types::Update>) -> String {
    update.and_then(|u| u.id()).unwrap_or_default().to_string()
}

/// Moves the control plane to `version` (the next minor). Returns the update's id.
pub async fn update_cluster_version(
    eks: &aws_sdk_eks::Client,
    name: &str,
    version: &str,
    force: bool,
    client_request_token: &str,
) -> Result<String, AwsError> {
    // `force`: "the update proceeds even if cluster insight checks detect issues"
    // (https://docs.aws.amazon.com/eks/latest/APIReference/API_UpdateClusterVersion.html).
    let out = eks
        .update_cluster_version()
        .name(name)
        .version(version)
        .set_force(force.then_some(true))
        .client_request_token(client_request_token)
        .send()
        .await
        .map_err(|e| classify("eks:UpdateClusterVersion", e))?;
    Ok(update_id(out.update()))
}

/// Moves a node group's nodes to the Kubernetes `version`. Returns the update's id.
pub async fn update_nodegroup_kubernetes(
    eks: &aws_sdk_eks::Client,
    cluster: &str,
    nodegroup: &str,
    version: &str,
    client_request_token: &str,
) -> Result<String, AwsError> {
    let out = eks
        .update_nodegroup_version()
        .cluster_name(cluster)
        .nodegroup_name(nodegroup)
        .version(version)
        .client_request_token(client_request_token)
        .send()
        .await
        .map_err(|e| classify("eks:UpdateNodegroupVersion", e))?;
    Ok(update_id(out.update()))
}

/// Moves an add-on to `version`, keeping any configuration someone changed on the cluster.
pub async fn update_addon(
    eks: &aws_sdk_eks::Client,
    cluster: &str,
    addon: &str,
    version: &str,
    client_request_token: &str,
) -> Result<String, AwsError> {
    let out = eks
        .update_addon()
        .cluster_name(cluster)
        .addon_name(addon)
        .addon_version(version)
        .resolve_conflicts(ResolveConflicts::Preserve)
        .client_request_token(client_request_token)
        .send()
        .await
        .map_err(|e| classify("eks:UpdateAddon", e))?;
    Ok(update_id(out.update()))
}

/// The versions of an add-on EKS offers for a Kubernetes version, and its default there.
pub async fn addon_offer(
    eks: &aws_sdk_eks::Client,
    addon: &str,
    kubernetes_version: &str,
) -> Result<crate::plan::upgrade::AddonOffer, AwsError> {
    let mut offer = crate::plan::upgrade::AddonOffer::default();
    let mut token: Option<String> = None;
    loop {
        let out = eks
            .describe_addon_versions()
            .addon_name(addon)
            .kubernetes_version(kubernetes_version)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| classify("eks:DescribeAddonVersions", e))?;
        for v in out
            .addons()
            .iter()
            .filter(|a| a.addon_name() == Some(addon))
            .flat_map(|a| a.addon_versions())
        {
            let Some(version) = v.addon_version() else {
                continue;
            };
            let here: Vec<_> = v
                .compatibilities()
                .iter()
                .filter(|c| c.cluster_version() == Some(kubernetes_version))
                .collect();
            if here.is_empty() && !v.compatibilities().is_empty() {
                continue;
            }
            if here.iter().any(|c| c.default_version()) {
                offer.default = Some(version.to_string());
            }
            offer.versions.push(version.to_string());
        }
        match out.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_string()),
            _ => break,
        }
    }
    Ok(offer)
}

/// Asks EKS to check the cluster's upgrade readiness again.
pub async fn start_insights_refresh(eks: &aws_sdk_eks::Client, name: &str) -> Result<(), AwsError> {
    eks.start_insights_refresh()
        .cluster_name(name)
        .send()
        .await
        .map_err(|e| classify("eks:StartInsightsRefresh", e))?;
    Ok(())
}

/// The insights refresh's status: `IN_PROGRESS`, `FAILED` or `COMPLETED`.
pub async fn insights_refresh_status(
    eks: &aws_sdk_eks::Client,
    name: &str,
) -> Result<String, AwsError> {
    let out = eks
        .describe_insights_refresh()
        .cluster_name(name)
        .send()
        .await
        .map_err(|e| classify("eks:DescribeInsightsRefresh", e))?;
    Ok(out
        .status()
        .map(|s| s.as_str().to_string())
        .unwrap_or_default())
}

/// One upgrade-readiness insight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Insight {
    pub id: String,
    pub name: String,
    /// `PASSING`, `WARNING`, `ERROR` or `UNKNOWN`.
    pub status: String,
    pub reason: String,
    pub description: String,
    pub recommendation: String,
}

/// The cluster's UPGRADE_READINESS insights for the Kubernetes version `target` (summaries: no
/// recommendation yet), every page. EKS lists insights for more than one version
/// (https://docs.aws.amazon.com/eks/latest/userguide/cluster-insights.html).
pub async fn upgrade_insights(
    eks: &aws_sdk_eks::Client,
    name: &str,
    target: &str,
) -> Result<Vec<Insight>, AwsError> {
    use aws_sdk_eks::types::{Category, InsightsFilter};
    let mut found = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let out = eks
            .list_insights()
            .cluster_name(name)
            .filter(
                InsightsFilter::builder()
                    .categories(Category::UpgradeReadiness)
                    .kubernetes_versions(target)
                    .build(),
            )
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| classify("eks:ListInsights", e))?;
        found.extend(
            out.insights()
                .iter()
                // Kept to the target even if a filter were ignored.
                .filter(|i| i.kubernetes_version().is_none_or(|v| v == target))
                .map(|i| Insight {
                    id: i.id().unwrap_or_default().to_string(),
                    name: i.name().unwrap_or_default().to_string(),
                    status: i
                        .insight_status()
                        .and_then(|s| s.status())
                        .map(|s| s.as_str().to_string())
                        .unwrap_or_default(),
                    reason: i
                        .insight_status()
                        .and_then(|s| s.reason())
                        .unwrap_or_default()
                        .to_string(),
                    description: i.description().unwrap_or_default().to_string(),
                    recommendation: String::new(),
                }),
        );
        match out.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_string()),
            _ => break,
        }
    }
    Ok(found)
}

/// One insight in full, with its recommendation.
pub async fn describe_insight(
    eks: &aws_sdk_eks::Client,
    name: &str,
    id: &str,
) -> Result<Insight, AwsError> {
    let out = eks
        .describe_insight()
        .cluster_name(name)
        .id(id)
        .send()
        .await
        .map_err(|e| classify("eks:DescribeInsight", e))?;
    let i = out.insight();
    Ok(Insight {
        id: id.to_string(),
        name: i.and_then(|i| i.name()).unwrap_or_default().to_string(),
        status: i
            .and_then(|i| i.insight_status())
            .and_then(|s| s.status())
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        reason: i
            .and_then(|i| i.insight_status())
            .and_then(|s| s.reason())
            .unwrap_or_default()
            .to_string(),
        description: i
            .and_then(|i| i.description())
            .unwrap_or_default()
            .to_string(),
        recommendation: i
            .and_then(|i| i.recommendation())
            .unwrap_or_default()
            .to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::{classify_code, Failure};

    fn error(code: &str, message: &str) -> AwsError {
        classify_code(
            "eks:UpdateNodegroupConfig",
            Failure {
                code: code.into(),
                message: message.into(),
                request_id: None,
            },
        )
    }

    #[test]
    fn an_update_already_running_is_told_from_other_refusals() {
        assert!(is_update_in_progress(&error(
            "ResourceInUseException",
            "The specified resource is in use"
        )));
        assert!(is_update_in_progress(&error(
            "InvalidRequestException",
            "An update is already in progress for this cluster"
        )));
        assert!(!is_update_in_progress(&error(
            "InvalidRequestException",
            "Cluster 'x' is not in ACTIVE status"
        )));
        assert!(!is_update_in_progress(&error(
            "InvalidParameterException",
            "Minimum capacity, desired and maximum are out of order."
        )));
        assert!(!is_update_in_progress(&error(
            "ResourceNotFoundException",
            "gone"
        )));
    }
}
