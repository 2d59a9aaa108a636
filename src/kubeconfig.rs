//! The kubeconfig: render our cluster, user and context, and merge them into an existing file
//! without touching anyone else's entries. Pure: text in, text out.
//!
//! Names are the cluster ARN for all three entries, as `aws eks update-kubeconfig` does, so the
//! two tools never make duplicates.

use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};

/// Where a kubeconfig was written and which context it holds (for the summary a create prints).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenKubeconfig {
    pub path: PathBuf,
    pub context: String,
    pub switched: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum KubeconfigError {
    #[error("the kubeconfig {} is not valid YAML: {message}", path.display())]
    Parse { path: PathBuf, message: String },
    #[error("the kubeconfig {} is not a kubeconfig: its `{field}` is not a list", path.display())]
    Shape { path: PathBuf, field: &'static str },
}

/// How kubectl gets a token for the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// `<eksboot> token --cluster NAME --region REGION` (the absolute path of this binary).
    Eksboot { command: String },
    /// `aws eks get-token`, for people who prefer the AWS CLI.
    AwsCli,
}

/// Our three entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The cluster ARN: the name of the cluster, user and context entries.
    pub name: String,
    pub cluster: String,
    pub region: String,
    pub server: String,
    pub certificate_authority_data: String,
    pub auth: Auth,
}

/// Which file to write: `--kubeconfig`, else the first path of `$KUBECONFIG`, else
/// `~/.kube/config`.
pub fn choose_path(flag: Option<&Path>, env_kubeconfig: Option<&str>, home: &Path) -> PathBuf {
    if let Some(path) = flag {
        return path.to_path_buf();
    }
    if let Some(first) =
        env_kubeconfig.and_then(|v| std::env::split_paths(v).find(|p| !p.as_os_str().is_empty()))
    {
        return first;
    }
    home.join(".kube").join("config")
}

fn empty_config() -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": [],
        "users": [],
        "contexts": [],
        "current-context": ""
    })
}

fn parse(existing: Option<&str>, path: &Path) -> Result<Value, KubeconfigError> {
    let text = existing.unwrap_or_default();
    if text.trim().is_empty() {
        return Ok(empty_config());
    }
    let value: Value = serde_saphyr::from_str(text).map_err(|e| KubeconfigError::Parse {
        path: path.to_path_buf(),
        message: e.to_string().lines().next().unwrap_or_default().to_string(),
    })?;
    match value {
        Value::Object(_) => Ok(value),
        Value::Null => Ok(empty_config()),
        _ => Err(KubeconfigError::Shape {
            path: path.to_path_buf(),
            field: "document",
        }),
    }
}

fn list<'a>(
    doc: &'a mut Map<String, Value>,
    field: &'static str,
    path: &Path,
) -> Result<&'a mut Vec<Value>, KubeconfigError> {
    let slot = doc.entry(field).or_insert_with(|| Value::Array(Vec::new()));
    if slot.is_null() {
        *slot = Value::Array(Vec::new());
    }
    slot.as_array_mut().ok_or(KubeconfigError::Shape {
        path: path.to_path_buf(),
        field,
    })
}

/// Replaces the entry called `name` in a list, or appends it.
fn upsert(items: &mut Vec<Value>, name: &str, item: Value) {
    match items.iter_mut().find(|i| i["name"] == name) {
        Some(existing) => *existing = item,
        None => items.push(item),
    }
}

fn exec(entry: &Entry) -> Value {
    let (command, args): (&str, Vec<&str>) = match &entry.auth {
        Auth::Eksboot { command } => (
            command,
            vec![
                "token",
                "--cluster",
                &entry.cluster,
                "--region",
                &entry.region,
            ],
        ),
        Auth::AwsCli => (
            "aws",
            vec![
                "--region",
                &entry.region,
                "eks",
                "get-token",
                "--cluster-name",
                &entry.cluster,
                "--output",
                "json",
            ],
        ),
    };
    json!({
        "apiVersion": "client.authentication.k8s.io/v1beta1",
        "command": command,
        "args": args,
        "interactiveMode": "Never",
        "provideClusterInfo": false
    })
}

/// The kubeconfig with our entries added or replaced; everything else kept.
pub fn merge(
    existing: Option<&str>,
    entry: &Entry,
    switch_context: bool,
    path: &Path,
) -> Result<String, KubeconfigError> {
    let mut value = parse(existing, path)?;
    let doc = value.as_object_mut().expect("parse returns an object");
    doc.entry("apiVersion").or_insert_with(|| json!("v1"));
    doc.entry("kind").or_insert_with(|| json!("Config"));
    upsert(
        list(doc, "clusters", path)?,
        &entry.name,
        json!({
            "name": entry.name,
            "cluster": {
                "server": entry.server,
                "certificate-authority-data": entry.certificate_authority_data
            }
        }),
    );
    upsert(
        list(doc, "users", path)?,
        &entry.name,
        json!({"name": entry.name, "user": {"exec": exec(entry)}}),
    );
    upsert(
        list(doc, "contexts", path)?,
        &entry.name,
        json!({"name": entry.name, "context": {"cluster": entry.name, "user": entry.name}}),
    );
    if switch_context {
        doc.insert("current-context".into(), json!(entry.name));
    }
    Ok(render(&value))
}

/// The kubeconfig without our entries; current-context cleared if it was ours.
pub fn remove(existing: &str, name: &str, path: &Path) -> Result<String, KubeconfigError> {
    let mut value = parse(Some(existing), path)?;
    let doc = value.as_object_mut().expect("parse returns an object");
    for field in ["clusters", "users", "contexts"] {
        list(doc, field, path)?.retain(|i| i["name"] != name);
    }
    if doc.get("current-context").and_then(Value::as_str) == Some(name) {
        doc.insert("current-context".into(), json!(""));
    }
    Ok(render(&value))
}

fn render(value: &Value) -> String {
    serde_saphyr::to_string(value).expect("a JSON value always renders as YAML")
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:eks:us-west-2:123456789012:cluster/demo";

    fn entry(server: &str) -> Entry {
        Entry {
            name: ARN.into(),
            cluster: "demo".into(),
            region: "us-west-2".into(),
            server: server.into(),
            certificate_authority_data: "Q0EK".into(),
            auth: Auth::Eksboot {
                command: "/usr/local/bin/eksboot".into(),
            },
        }
    }

    fn yaml(text: &str) -> Value {
        serde_saphyr::from_str(text).unwrap()
    }

    const OTHER: &str = "apiVersion: v1
kind: Config
clusters:
- name: kind-local
  cluster:
    server: https://127.0.0.1:6443
    insecure-skip-tls-verify: true
users:
- name: kind-local
  user:
    token: abc
contexts:
- name: kind-local
  context:
    cluster: kind-local
    user: kind-local
    namespace: dev
current-context: kind-local
preferences: {}
";

    #[test]
    fn a_new_file_gets_our_three_entries_and_current_context() {
        let out = yaml(&merge(None, &entry("https://x.eks"), true, Path::new("k")).unwrap());
        assert_eq!(out["kind"], "Config");
        assert_eq!(out["clusters"][0]["name"], ARN);
        assert_eq!(out["clusters"][0]["cluster"]["server"], "https://x.eks");
        assert_eq!(
            out["clusters"][0]["cluster"]["certificate-authority-data"],
            "Q0EK"
        );
        let exec = &out["users"][0]["user"]["exec"];
        assert_eq!(exec["apiVersion"], "client.authentication.k8s.io/v1beta1");
        assert_eq!(exec["command"], "/usr/local/bin/eksboot");
        assert_eq!(
            exec["args"],
            json!(["token", "--cluster", "demo", "--region", "us-west-2"])
        );
        assert_eq!(out["contexts"][0]["context"]["user"], ARN);
        assert_eq!(out["current-context"], ARN);
    }

    #[test]
    fn other_entries_are_kept_and_ours_replaced_on_rerun() {
        let once = merge(Some(OTHER), &entry("https://old"), false, Path::new("k")).unwrap();
        let twice = merge(Some(&once), &entry("https://new"), false, Path::new("k")).unwrap();
        let out = yaml(&twice);
        assert_eq!(out["clusters"].as_array().unwrap().len(), 2);
        assert_eq!(out["users"].as_array().unwrap().len(), 2);
        assert_eq!(out["contexts"].as_array().unwrap().len(), 2);
        assert_eq!(
            out["clusters"][0]["cluster"]["insecure-skip-tls-verify"],
            true
        );
        assert_eq!(out["contexts"][0]["context"]["namespace"], "dev");
        assert_eq!(out["clusters"][1]["cluster"]["server"], "https://new");
        assert_eq!(
            out["current-context"], "kind-local",
            "--no-switch-context keeps it"
        );
        // A rerun with the same entry rewrites the same file.
        assert_eq!(
            merge(Some(&twice), &entry("https://new"), false, Path::new("k")).unwrap(),
            twice
        );
    }

    #[test]
    fn aws_cli_auth_writes_get_token() {
        let mut e = entry("https://x");
        e.auth = Auth::AwsCli;
        let out = yaml(&merge(None, &e, true, Path::new("k")).unwrap());
        let exec = &out["users"][0]["user"]["exec"];
        assert_eq!(exec["command"], "aws");
        assert_eq!(
            exec["args"],
            json!([
                "--region",
                "us-west-2",
                "eks",
                "get-token",
                "--cluster-name",
                "demo",
                "--output",
                "json"
            ])
        );
    }

    #[test]
    fn remove_takes_only_ours_and_clears_our_current_context() {
        let merged = merge(Some(OTHER), &entry("https://x"), true, Path::new("k")).unwrap();
        let out = yaml(&remove(&merged, ARN, Path::new("k")).unwrap());
        assert_eq!(out["clusters"].as_array().unwrap().len(), 1);
        assert_eq!(out["clusters"][0]["name"], "kind-local");
        assert_eq!(out["current-context"], "");
        let kept = yaml(&remove(OTHER, ARN, Path::new("k")).unwrap());
        assert_eq!(kept["current-context"], "kind-local");
    }

    #[test]
    fn broken_files_are_refused_not_overwritten() {
        assert!(matches!(
            merge(
                Some("clusters: [unclosed"),
                &entry("x"),
                true,
                Path::new("k")
            ),
            Err(KubeconfigError::Parse { .. })
        ));
        assert!(matches!(
            merge(Some("clusters: 5\n"), &entry("x"), true, Path::new("k")),
            Err(KubeconfigError::Shape {
                field: "clusters",
                ..
            })
        ));
    }

    #[test]
    fn path_choice_follows_flag_then_env_then_home() {
        let home = Path::new("/home/a");
        assert_eq!(
            choose_path(Some(Path::new("/x")), Some("/y"), home),
            PathBuf::from("/x")
        );
        assert_eq!(choose_path(None, Some("/y:/z"), home), PathBuf::from("/y"));
        assert_eq!(
            choose_path(None, Some(""), home),
            PathBuf::from("/home/a/.kube/config")
        );
        assert_eq!(
            choose_path(None, None, home),
            PathBuf::from("/home/a/.kube/config")
        );
    }
}
