//! Task 3 against the emulator, checked through the SDK: the cluster has every setting asked
//! for, access entries, OIDC provider, add-ons and node group are right, and the kubeconfig is
//! one the real kubectl accepts (and uses, with our token, against a local HTTPS endpoint).

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use eksboot::kubeconfig::{self, Auth, Entry};
use serde_json::Value;

use crate::create::{tag_filter, Run};
use crate::harness::{block_on, root, venv_python, Account, Moto};

/// What a profile asks of the cluster.
struct Expect<'a> {
    cluster: &'a str,
    region: &'a str,
    version: &'a str,
    public: bool,
    private: bool,
    cidrs: &'a [&'a str],
    node_tier: Option<&'a str>,
    admins: &'a [&'a str],
    addons: &'a [&'a str],
    ami: &'a str,
    disk: i32,
}

fn check_cluster(run: &Run, e: &Expect) {
    let config = run.account.sdk(e.region);
    let eks = aws_sdk_eks::Client::new(&config);
    let ec2 = aws_sdk_ec2::Client::new(&config);
    let iam = aws_sdk_iam::Client::new(&config);
    let kms = aws_sdk_kms::Client::new(&config);
    let account = &run.account.id;
    block_on(async {
        let c = eks.describe_cluster().name(e.cluster).send().await.unwrap();
        let c = c.cluster().unwrap();
        assert_eq!(c.status().unwrap().as_str(), "ACTIVE");
        assert_eq!(c.version(), Some(e.version));
        assert_eq!(
            c.role_arn(),
            Some(format!("arn:aws:iam::{account}:role/{}-cluster", e.cluster).as_str())
        );
        let vpc = c.resources_vpc_config().unwrap();
        let subnets = ec2
            .describe_subnets()
            .filters(tag_filter("eksboot:cluster", e.cluster))
            .send()
            .await
            .unwrap();
        let all: BTreeSet<String> = subnets
            .subnets()
            .iter()
            .map(|s| s.subnet_id().unwrap().to_string())
            .collect();
        assert_eq!(
            vpc.subnet_ids().iter().cloned().collect::<BTreeSet<_>>(),
            all,
            "all the VPC's subnets"
        );
        let sg = ec2
            .describe_security_groups()
            .filters(tag_filter("eksboot:cluster", e.cluster))
            .filters(tag_filter("eksboot:step", "cluster-sg"))
            .send()
            .await
            .unwrap();
        assert_eq!(
            vpc.security_group_ids(),
            [sg.security_groups()[0].group_id().unwrap()]
        );
        assert_eq!(vpc.endpoint_public_access(), e.public);
        assert_eq!(vpc.endpoint_private_access(), e.private);
        if e.public {
            assert_eq!(vpc.public_access_cidrs(), e.cidrs);
        }
        let logging = &c.logging().unwrap().cluster_logging()[0];
        assert_eq!(logging.enabled(), Some(true));
        let types: BTreeSet<&str> = logging.types().iter().map(|t| t.as_str()).collect();
        assert_eq!(
            types,
            [
                "api",
                "audit",
                "authenticator",
                "controllerManager",
                "scheduler"
            ]
            .into_iter()
            .collect()
        );
        let key = kms
            .describe_key()
            .key_id(format!("alias/eksboot/{}", e.cluster))
            .send()
            .await
            .unwrap();
        let encryption = &c.encryption_config()[0];
        assert_eq!(
            encryption.provider().unwrap().key_arn(),
            key.key_metadata().unwrap().arn()
        );
        #[allow(deprecated)]
        let resources = encryption.resources();
        assert_eq!(resources, ["secrets"]);
        let access = c.access_config().unwrap();
        assert_eq!(access.authentication_mode().unwrap().as_str(), "API");
        assert_eq!(c.tags().unwrap()["eksboot:cluster"], e.cluster);

        check_access_and_oidc(&eks, &iam, e, account, c).await;
        check_addons(&eks, e).await;
        check_nodegroup(&eks, &ec2, e, account, &subnets).await;
    });
}

/// The access entries (the creator's bootstrap entry, the caller and the admins, once each) and
/// the OIDC provider for the cluster's issuer.
async fn check_access_and_oidc(
    eks: &aws_sdk_eks::Client,
    iam: &aws_sdk_iam::Client,
    e: &Expect<'_>,
    account: &str,
    c: &aws_sdk_eks::types::Cluster,
) {
    // Access entries: the creator's bootstrap entry, the caller and the admins, once each.
    let entries = crate::harness::all_access_entries(&eks, e.cluster)
        .await
        .unwrap();
    let mut want: BTreeSet<String> = [
        format!("arn:aws:iam::{account}:role/{}-creator", e.cluster),
        format!("arn:aws:iam::{account}:user/eksboot-runner"),
    ]
    .into_iter()
    .collect();
    want.extend(e.admins.iter().map(|a| a.to_string()));
    assert_eq!(
        entries
            .access_entries()
            .iter()
            .cloned()
            .collect::<BTreeSet<_>>(),
        want
    );
    assert_eq!(
        entries.access_entries().len(),
        want.len(),
        "no duplicate entries"
    );
    for principal in &want {
        let policies = eks
            .list_associated_access_policies()
            .cluster_name(e.cluster)
            .principal_arn(principal)
            .send()
            .await
            .unwrap();
        let admin = policies
            .associated_access_policies()
            .iter()
            .find(|p| {
                p.policy_arn()
                    == Some("arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy")
            })
            .unwrap_or_else(|| panic!("{principal} is not a cluster admin"));
        assert_eq!(
            admin.access_scope().unwrap().r#type().unwrap().as_str(),
            "cluster"
        );
    }

    // The OIDC provider for the cluster's issuer.
    let issuer = c.identity().unwrap().oidc().unwrap().issuer().unwrap();
    let arn = format!(
        "arn:aws:iam::{account}:oidc-provider/{}",
        issuer.trim_start_matches("https://")
    );
    let provider = iam
        .get_open_id_connect_provider()
        .open_id_connect_provider_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(provider.client_id_list(), ["sts.amazonaws.com"]);
    assert!(provider
        .tags()
        .iter()
        .any(|t| t.key() == "eksboot:cluster" && t.value() == e.cluster));
}

/// The add-ons, each at its default version.
async fn check_addons(eks: &aws_sdk_eks::Client, e: &Expect<'_>) {
    // Add-ons at their default version.
    let addons = crate::harness::all_addons(&eks, e.cluster).await.unwrap();
    let got: BTreeSet<&str> = addons.addons().iter().map(String::as_str).collect();
    assert_eq!(got, e.addons.iter().copied().collect());
    for name in e.addons {
        let a = eks
            .describe_addon()
            .cluster_name(e.cluster)
            .addon_name(*name)
            .send()
            .await
            .unwrap();
        let versions = eks
            .describe_addon_versions()
            .addon_name(*name)
            .kubernetes_version(e.version)
            .send()
            .await
            .unwrap();
        // The one version marked default for this Kubernetes version (not the newest).
        let default = versions.addons()[0]
            .addon_versions()
            .iter()
            .find(|v| {
                v.compatibilities()
                    .iter()
                    .any(|c| c.cluster_version() == Some(e.version) && c.default_version())
            })
            .and_then(|v| v.addon_version());
        assert_eq!(a.addon().unwrap().addon_version(), default, "{name}");
    }
}

/// The node group in the right subnets, with the launch template's IMDSv2 and volume.
async fn check_nodegroup(
    eks: &aws_sdk_eks::Client,
    ec2: &aws_sdk_ec2::Client,
    e: &Expect<'_>,
    account: &str,
    subnets: &aws_sdk_ec2::operation::describe_subnets::DescribeSubnetsOutput,
) {
    // The node group in the right subnets, with the launch template's IMDSv2 and volume.
    let Some(tier) = e.node_tier else { return };
    let ng = eks
        .describe_nodegroup()
        .cluster_name(e.cluster)
        .nodegroup_name(format!("{}-default", e.cluster))
        .send()
        .await
        .unwrap();
    let ng = ng.nodegroup().unwrap();
    assert_eq!(ng.status().unwrap().as_str(), "ACTIVE");
    assert_eq!(
        ng.node_role(),
        Some(format!("arn:aws:iam::{account}:role/{}-node", e.cluster).as_str())
    );
    assert_eq!(ng.ami_type().unwrap().as_str(), e.ami);
    let tier_subnets: BTreeSet<String> = subnets
        .subnets()
        .iter()
        .filter(|s| {
            s.tags()
                .iter()
                .any(|t| t.key() == Some("eksboot:step") && t.value().unwrap().starts_with(tier))
        })
        .map(|s| s.subnet_id().unwrap().to_string())
        .collect();
    assert_eq!(
        ng.subnets().iter().cloned().collect::<BTreeSet<_>>(),
        tier_subnets
    );
    let template = ng.launch_template().unwrap();
    let versions = ec2
        .describe_launch_template_versions()
        .launch_template_id(template.id().unwrap())
        .send()
        .await
        .unwrap();
    let data = versions.launch_template_versions()[0]
        .launch_template_data()
        .unwrap();
    let metadata = data.metadata_options().unwrap();
    assert_eq!(
        metadata.http_tokens().unwrap().as_str(),
        "required",
        "IMDSv2 required"
    );
    assert_eq!(metadata.http_put_response_hop_limit(), Some(1));
    let ebs = data.block_device_mappings()[0].ebs().unwrap();
    assert_eq!(ebs.encrypted(), Some(true));
    assert_eq!(ebs.volume_type().unwrap().as_str(), "gp3");
    assert_eq!(ebs.volume_size(), Some(e.disk));
    assert!(data.image_id().is_none() && data.user_data().is_none());
    assert!(data.security_group_ids().is_empty());
    let templates = ec2
        .describe_launch_templates()
        .launch_template_ids(template.id().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(
        templates.launch_templates()[0].launch_template_name(),
        Some(format!("{}-nodes", e.cluster).as_str())
    );
}

/// kubectl itself accepts the kubeconfig eksboot wrote.
fn check_kubeconfig_with_kubectl(run: &Run, cluster_arn: &str) {
    let kubectl = |args: &[&str]| {
        let out = Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(run.kubeconfig())
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "kubectl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let view: Value = serde_json::from_str(&kubectl(&["config", "view", "-o", "json"])).unwrap();
    assert_eq!(
        view["users"][0]["user"]["exec"]["apiVersion"],
        "client.authentication.k8s.io/v1beta1"
    );
    assert!(kubectl(&["config", "get-contexts", "-o", "name"])
        .lines()
        .any(|l| l == cluster_arn));
    assert_eq!(kubectl(&["config", "current-context"]).trim(), cluster_arn);
    let mode = std::fs::metadata(run.kubeconfig()).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(mode.permissions().mode() & 0o777, 0o600);
}

#[test]
fn production_cluster_has_every_setting_and_a_working_kubeconfig() {
    let run = Run::new(Account::new());
    crate::create::create_twice(&run, &root("profiles/production.toml"), "us-east-1");
    check_cluster(
        &run,
        &Expect {
            cluster: "production",
            region: "us-east-1",
            version: "1.33",
            public: true,
            private: true,
            cidrs: &["203.0.113.0/24"],
            node_tier: Some("subnet-private-"),
            admins: &["arn:aws:iam::111122223333:role/platform-admins"],
            addons: &["vpc-cni", "kube-proxy", "coredns", "eks-pod-identity-agent"],
            ami: "AL2023_x86_64_STANDARD",
            disk: 50,
        },
    );
    check_kubeconfig_with_kubectl(
        &run,
        &format!(
            "arn:aws:eks:us-east-1:{}:cluster/production",
            run.account.id
        ),
    );
}

#[test]
fn dev_cluster_puts_nodes_in_public_subnets_with_the_newest_version() {
    let run = Run::new(Account::new());
    crate::create::create_twice(&run, &root("profiles/dev.toml"), "us-west-2");
    check_cluster(
        &run,
        &Expect {
            cluster: "dev",
            region: "us-west-2",
            version: "1.36",
            public: true,
            private: true,
            cidrs: &["0.0.0.0/0"],
            node_tier: Some("subnet-public-"),
            admins: &[],
            addons: &["vpc-cni", "kube-proxy", "coredns", "eks-pod-identity-agent"],
            ami: "AL2023_x86_64_STANDARD",
            disk: 20,
        },
    );
    check_kubeconfig_with_kubectl(
        &run,
        &format!("arn:aws:eks:us-west-2:{}:cluster/dev", run.account.id),
    );
}

#[test]
fn private_cluster_has_a_private_endpoint_and_graviton_nodes() {
    let run = Run::new(Account::new());
    crate::create::create_twice(&run, &root("profiles/private.toml"), "eu-west-1");
    check_cluster(
        &run,
        &Expect {
            cluster: "private",
            region: "eu-west-1",
            version: "1.36",
            public: false,
            private: true,
            cidrs: &[],
            node_tier: Some("subnet-private-"),
            admins: &[],
            addons: &["vpc-cni", "kube-proxy", "coredns", "eks-pod-identity-agent"],
            ami: "AL2023_ARM_64_STANDARD",
            disk: 20,
        },
    );
}

#[test]
fn without_nodes_add_ons_that_need_them_are_created_and_reported_waiting() {
    let run = Run::new(Account::new());
    let profile = run.dir.path().join("nonodes.toml");
    std::fs::write(
        &profile,
        "[cluster]\nname = \"bare\"\nregion = \"us-west-2\"\naddons = [\"vpc-cni\", \"coredns\"]\noidc_provider = false\n\
         [network]\npattern = \"public\"\n[nodes]\nenabled = false\n",
    )
    .unwrap();
    let out = run.create(&profile).success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(text.contains("healthy once nodes exist"), "{text}");
    let config = run.account.sdk("us-west-2");
    block_on(async {
        let eks = aws_sdk_eks::Client::new(&config);
        let addons = crate::harness::all_addons(&eks, "bare").await.unwrap();
        assert_eq!(addons.addons().len(), 2);
        assert!(crate::harness::all_nodegroups(&eks, "bare")
            .await
            .unwrap()
            .nodegroups()
            .is_empty());
        let iam = aws_sdk_iam::Client::new(&config);
        assert!(iam
            .list_open_id_connect_providers()
            .send()
            .await
            .unwrap()
            .open_id_connect_provider_list()
            .is_empty());
        assert_eq!(
            crate::harness::error_code(iam.get_role().role_name("bare-node").send().await),
            "NoSuchEntity",
            "no node role without nodes"
        );
    });
}

#[test]
fn the_cluster_starts_before_nat_is_ready_and_nodes_wait_for_both() {
    let server = Moto::start();
    server.set_transition("eks::cluster", 3);
    server.set_transition("eks::nodegroup", 2);
    server.set_transition("ec2::nat_gateway", 2);
    let run = Run::new(Account::on(&server));
    let out = run.create(&root("profiles/production.toml")).success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    let at = |needle: &str| {
        text.find(needle)
            .unwrap_or_else(|| panic!("no {needle:?} in:\n{text}"))
    };
    let last = |needle: &str| {
        text.rfind(needle)
            .unwrap_or_else(|| panic!("no {needle:?} in:\n{text}"))
    };
    let cluster_creating = at("waiting eks-cluster cluster production: CREATING");
    let first_nat_ready = at("created nat-gateway");
    let last_nat_ready = last("created nat-gateway");
    let cluster_ready = at("created eks-cluster cluster");
    let nodegroup_waiting = at("waiting nodegroup nodegroup");
    assert!(
        cluster_creating < first_nat_ready,
        "the cluster was created before any NAT gateway was available:\n{text}"
    );
    assert!(
        nodegroup_waiting > cluster_ready && nodegroup_waiting > last_nat_ready,
        "the node group came after both:\n{text}"
    );
    assert!(
        text.contains("control plane creating, usually 8–12 min"),
        "{text}"
    );
}

#[test]
fn kubectl_runs_our_token_command_and_sends_the_token() {
    let log = tempfile::NamedTempFile::new().unwrap();
    let mut server = Command::new(venv_python())
        .arg(root("tests/kube/fake_apiserver.py"))
        .arg(log.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(server.stdout.take().unwrap()).lines();
    let port = lines
        .next()
        .unwrap()
        .unwrap()
        .trim_start_matches("PORT ")
        .to_string();
    let ca = lines
        .next()
        .unwrap()
        .unwrap()
        .trim_start_matches("CA ")
        .to_string();

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config");
    let entry = Entry {
        name: "arn:aws:eks:us-west-2:123456789012:cluster/demo".into(),
        cluster: "demo".into(),
        region: "us-west-2".into(),
        server: format!("https://127.0.0.1:{port}"),
        certificate_authority_data: ca,
        auth: Auth::Eksboot {
            command: assert_cmd::cargo::cargo_bin("eksboot")
                .display()
                .to_string(),
        },
    };
    std::fs::write(&path, kubeconfig::merge(None, &entry, true, &path).unwrap()).unwrap();
    let out = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(&path)
        .args(["get", "--raw", "/version"])
        .env("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
        .env("AWS_SECRET_ACCESS_KEY", "secret")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", dir.path().join("none"))
        .env("AWS_SHARED_CREDENTIALS_FILE", dir.path().join("none"))
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .output()
        .unwrap();
    drop(server.stdin.take());
    let _ = server.wait();
    assert!(
        out.status.success(),
        "kubectl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("v1.34.0-eks"));
    let seen = std::fs::read_to_string(log.path()).unwrap();
    let bearer = seen
        .lines()
        .find(|l| l.starts_with("Bearer "))
        .expect("a bearer token was sent");
    let token = bearer.trim_start_matches("Bearer ");
    assert!(token.starts_with("k8s-aws-v1."));
    use base64::Engine;
    let url = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token.trim_start_matches("k8s-aws-v1."))
        .unwrap();
    let url = String::from_utf8(url).unwrap();
    assert!(
        url.starts_with(
            "https://sts.us-west-2.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15"
        ),
        "{url}"
    );
    assert!(
        url.contains("X-Amz-SignedHeaders=host%3Bx-k8s-aws-id"),
        "{url}"
    );
    assert!(url.contains("X-Amz-Expires=60"), "{url}");
}

#[test]
fn an_existing_creator_role_is_assumed_and_becomes_the_bootstrap_admin() {
    let run = Run::new(Account::new());
    let account = run.account.id.clone();
    let iam = aws_sdk_iam::Client::new(&run.account.sdk("us-west-2"));
    block_on(async {
        iam.create_role()
            .role_name("team-eks-creator")
            .path("/platform/")
            .assume_role_policy_document(run.account.trust_runner())
            .send()
            .await
            .unwrap();
    });
    let profile = run.dir.path().join("existing.toml");
    std::fs::write(
        &profile,
        format!(
            "[cluster]\nname = \"mine\"\nregion = \"us-west-2\"\n[security]\n\
             creator_role = \"arn:aws:iam::{account}:role/platform/team-eks-creator\"\n\
             [network]\npattern = \"public\"\n"
        ),
    )
    .unwrap();
    crate::least_privilege::attach_printed_creator_policy(
        &run.account,
        "team-eks-creator",
        &profile,
    );
    run.create(&profile).success();
    block_on(async {
        assert_eq!(
            crate::harness::error_code(iam.get_role().role_name("mine-creator").send().await),
            "NoSuchEntity",
            "no role of our own"
        );
        let eks = aws_sdk_eks::Client::new(&run.account.sdk("us-west-2"));
        let entries = crate::harness::all_access_entries(&eks, "mine")
            .await
            .unwrap();
        let entries: BTreeSet<&str> = entries
            .access_entries()
            .iter()
            .map(String::as_str)
            .collect();
        assert!(
            entries.contains(format!("arn:aws:iam::{account}:role/team-eks-creator").as_str()),
            "{entries:?}"
        );
        assert!(
            entries.contains(format!("arn:aws:iam::{account}:user/eksboot-runner").as_str()),
            "{entries:?}"
        );
        // The key policy lets the existing creator use the key.
        let kms = aws_sdk_kms::Client::new(&run.account.sdk("us-west-2"));
        let key = kms
            .describe_key()
            .key_id("alias/eksboot/mine")
            .send()
            .await
            .unwrap();
        let policy = kms
            .get_key_policy()
            .key_id(key.key_metadata().unwrap().key_id())
            .policy_name("default")
            .send()
            .await
            .unwrap();
        assert!(policy.policy().unwrap().contains(&format!(
            "arn:aws:iam::{account}:role/platform/team-eks-creator"
        )));
    });
}

#[test]
fn output_json_gives_one_event_per_line_on_stdout() {
    let run = Run::new(Account::new());
    run.account.authorize(&root("profiles/dev.toml"), &[]);
    let out = run
        .account
        .eksboot()
        .env("EKSBOOT_POLL_MS", "100")
        .args(["create", "--yes", "--output", "json", "--profile"])
        .arg(root("profiles/dev.toml"))
        .arg("--state")
        .arg(run.state())
        .arg("--kubeconfig")
        .arg(run.kubeconfig())
        .assert()
        .success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    let events: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    for e in &events {
        assert!(e["ts"].as_str().unwrap().ends_with('Z'));
        assert!(e["elapsed_s"].is_number());
    }
    let done: Vec<&Value> = events
        .iter()
        .filter(|e| e["event"] == "step_done")
        .collect();
    assert_eq!(done.len(), 26, "every step of the dev plan");
    let vpc = done.iter().find(|e| e["step"] == "vpc").unwrap();
    assert_eq!(vpc["task"], "network");
    assert_eq!(vpc["kind"], "vpc");
    assert!(vpc["id"].as_str().unwrap().starts_with("vpc-"));
    assert!(events
        .iter()
        .any(|e| e["event"] == "step_started" && e["step"] == "cluster"));
    let last = events.last().unwrap();
    assert_eq!(last["event"], "run_done");
    assert_eq!(last["status"], "ok");
    // The human summary went to stderr.
    assert!(String::from_utf8_lossy(&out.get_output().stderr).contains("is ready in"));

    // Teardown in JSON too.
    let out = run
        .account
        .eksboot()
        .env("EKSBOOT_POLL_MS", "100")
        .args(["teardown", "--yes", "--output", "json", "--state"])
        .arg(run.state())
        .assert()
        .success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    let deleted = stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| e["event"] == "step_deleted")
        .count();
    assert!(deleted >= 20, "{stdout}");
    crate::teardown::assert_nothing_left(&run.account, "dev", "us-west-2");
}
