//! The cluster's own Kubernetes API, reached with eksboot's EKS token and the endpoint and CA
//! that DescribeCluster gives: just what draining a node group needs (find its nodes, cordon
//! them, list their pods, evict through the Eviction API). No decisions here: which pods to
//! evict and how long to wait live in `apply::drain`.

use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, EvictParams, ListParams};
use kube::config::{
    AuthInfo, Cluster, Context, KubeConfigOptions, Kubeconfig, NamedAuthInfo, NamedCluster,
    NamedContext,
};

/// How long to wait for a TCP/TLS connection: a private endpoint seen from outside its VPC
/// resolves to addresses nothing answers on.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const READ_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum KubeError {
    /// No answer at all: wrong network, private endpoint, DNS.
    #[error("cannot reach the Kubernetes API at {endpoint}: {reason}")]
    Unreachable { endpoint: String, reason: String },
    /// The API answered with an error status.
    #[error("the Kubernetes API answered {what} with {code} {reason}: {message}")]
    Refused {
        what: String,
        code: u16,
        reason: String,
        message: String,
    },
    #[error("cannot set up a Kubernetes client for {endpoint}: {reason}")]
    Config { endpoint: String, reason: String },
}

/// A client for one cluster's API.
pub struct Kube {
    client: kube::Client,
    endpoint: String,
}

/// A node, as the drain needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeInfo {
    pub name: String,
    pub unschedulable: bool,
}

/// A pod, as the drain needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodInfo {
    pub namespace: String,
    pub name: String,
    /// The kinds of its controlling owners (`ReplicaSet`, `DaemonSet`, ...).
    pub owner_kinds: Vec<String>,
    /// A static pod's API copy (`kubernetes.io/config.mirror`): the kubelet owns it.
    pub mirror: bool,
    /// Already being deleted (`deletionTimestamp` set).
    pub terminating: bool,
}

/// What an eviction request came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Eviction {
    Evicted,
    /// The pod no longer exists.
    Gone,
    /// 429: a PodDisruptionBudget forbids it now; the API's causes (they name the budget).
    Refused {
        causes: Vec<String>,
    },
}

/// A client for `endpoint` trusting `ca_data` (base64 PEM, as DescribeCluster returns it),
/// sending `token` as the bearer token (none: anonymous, enough for `/version`).
pub async fn connect(
    endpoint: &str,
    ca_data: &str,
    token: Option<String>,
) -> Result<Kube, KubeError> {
    let config_error = |reason: String| KubeError::Config {
        endpoint: endpoint.to_string(),
        reason,
    };
    let kubeconfig = Kubeconfig {
        clusters: vec![NamedCluster {
            name: "eks".into(),
            cluster: Some(Cluster {
                server: Some(endpoint.to_string()),
                certificate_authority_data: Some(ca_data.to_string()),
                ..Cluster::default()
            }),
            ..NamedCluster::default()
        }],
        auth_infos: vec![NamedAuthInfo {
            name: "eksboot".into(),
            auth_info: Some(AuthInfo {
                token: token.map(Into::into),
                ..AuthInfo::default()
            }),
            ..NamedAuthInfo::default()
        }],
        contexts: vec![NamedContext {
            name: "eks".into(),
            context: Some(Context {
                cluster: "eks".into(),
                user: Some("eksboot".into()),
                ..Context::default()
            }),
            ..NamedContext::default()
        }],
        current_context: Some("eks".into()),
        ..Kubeconfig::default()
    };
    let mut config =
        kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
            .await
            .map_err(|e| config_error(e.to_string()))?;
    config.connect_timeout = Some(CONNECT_TIMEOUT);
    config.read_timeout = Some(READ_TIMEOUT);
    let client = kube::Client::try_from(config).map_err(|e| config_error(e.to_string()))?;
    Ok(Kube {
        client,
        endpoint: endpoint.to_string(),
    })
}

impl Kube {
    fn classify(&self, what: &str, error: kube::Error) -> KubeError {
        match error {
            kube::Error::Api(status) => KubeError::Refused {
                what: what.to_string(),
                code: status.code,
                reason: status.reason.clone(),
                message: status.message.clone(),
            },
            other => KubeError::Unreachable {
                endpoint: self.endpoint.clone(),
                reason: crate::aws::error_chain(&other),
            },
        }
    }

    /// Whether the API answers at all (any HTTP answer counts, also 401/403).
    pub async fn probe(&self) -> Result<(), KubeError> {
        // Bounded as a whole: name resolution is not covered by the connect timeout.
        let answer = tokio::time::timeout(
            CONNECT_TIMEOUT + READ_TIMEOUT,
            self.client.apiserver_version(),
        )
        .await;
        match answer {
            Err(_) => Err(KubeError::Unreachable {
                endpoint: self.endpoint.clone(),
                reason: "no answer in time".into(),
            }),
            Ok(Ok(_) | Err(kube::Error::Api(_))) => Ok(()),
            Ok(Err(e)) => Err(self.classify("GET /version", e)),
        }
    }

    /// The nodes carrying `label=value`.
    pub async fn nodes_labelled(
        &self,
        label: &str,
        value: &str,
    ) -> Result<Vec<NodeInfo>, KubeError> {
        let nodes: Api<Node> = Api::all(self.client.clone());
        let list = nodes
            .list(&ListParams::default().labels(&format!("{label}={value}")))
            .await
            .map_err(|e| self.classify("list nodes", e))?;
        Ok(list
            .items
            .into_iter()
            .map(|n| NodeInfo {
                name: n.metadata.name.unwrap_or_default(),
                unschedulable: n.spec.and_then(|s| s.unschedulable).unwrap_or(false),
            })
            .collect())
    }

    /// Marks the node unschedulable, as `kubectl cordon` does.
    pub async fn cordon(&self, node: &str) -> Result<(), KubeError> {
        let nodes: Api<Node> = Api::all(self.client.clone());
        nodes
            .cordon(node)
            .await
            .map_err(|e| self.classify(&format!("cordon {node}"), e))?;
        Ok(())
    }

    /// Every pod scheduled on `node`, in every namespace.
    pub async fn pods_on(&self, node: &str) -> Result<Vec<PodInfo>, KubeError> {
        let pods: Api<Pod> = Api::all(self.client.clone());
        let list = pods
            .list(&ListParams::default().fields(&format!("spec.nodeName={node}")))
            .await
            .map_err(|e| self.classify(&format!("list pods on {node}"), e))?;
        Ok(list
            .items
            .into_iter()
            .map(|p| PodInfo {
                namespace: p.metadata.namespace.clone().unwrap_or_default(),
                name: p.metadata.name.clone().unwrap_or_default(),
                owner_kinds: p
                    .metadata
                    .owner_references
                    .iter()
                    .flatten()
                    .filter(|o| o.controller == Some(true))
                    .map(|o| o.kind.clone())
                    .collect(),
                mirror: p
                    .metadata
                    .annotations
                    .as_ref()
                    .is_some_and(|a| a.contains_key("kubernetes.io/config.mirror")),
                terminating: p.metadata.deletion_timestamp.is_some(),
            })
            .collect())
    }

    /// Asks the Eviction API to evict one pod (PodDisruptionBudgets are checked by the API).
    pub async fn evict(&self, namespace: &str, name: &str) -> Result<Eviction, KubeError> {
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), namespace);
        match pods.evict(name, &EvictParams::default()).await {
            Ok(_) => Ok(Eviction::Evicted),
            Err(kube::Error::Api(status)) if status.code == 404 => Ok(Eviction::Gone),
            Err(kube::Error::Api(status)) if status.code == 429 => {
                let mut causes: Vec<String> = status
                    .details
                    .iter()
                    .flat_map(|d| d.causes.iter().map(|c| c.message.clone()))
                    .filter(|m| !m.is_empty())
                    .collect();
                if causes.is_empty() {
                    causes.push(status.message.clone());
                }
                Ok(Eviction::Refused { causes })
            }
            Err(e) => Err(self.classify(&format!("evict {namespace}/{name}"), e)),
        }
    }
}
