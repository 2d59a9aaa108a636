//! Day two: `plan` against a running cluster shows the difference, `apply` makes it. Each change
//! kind is read back from AWS through the SDK; a refused field changes nothing; an apply
//! stopped half way is finished by `resume`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::create::Run;
use crate::harness::{block_on, Account};

const BASE: &str = r#"version = 1
# The cluster a team changes on day two.
[cluster]
name = "daytwo"
region = "us-west-2"
endpoint_access = "public-and-private"
public_access_cidrs = ["0.0.0.0/0"]
log_types = ["api", "audit"]
log_retention_days = 30
admins = []
addons = ["vpc-cni", "kube-proxy", "coredns", "eks-pod-identity-agent"]
oidc_provider = true
[network]
pattern = "public"
vpc_cidr = "10.20.0.0/16"
availability_zones = 2
[nodes]
instance_types = ["t3.medium"]
min_size = 1
desired_size = 2
max_size = 3
"#;

fn write_profile(run: &Run, text: &str) -> PathBuf {
    let path = run.dir.path().join("daytwo.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Runs eksboot as the runner, holding the policy printed for the profile it is given (for
/// `apply`, the changed profile's: that policy must cover what the change retires too).
fn eksboot(run: &Run, args: &[&str]) -> assert_cmd::assert::Assert {
    if let Some(at) = args.iter().position(|a| *a == "--profile") {
        run.account.authorize(Path::new(args[at + 1]), &[]);
    }
    run.account
        .eksboot()
        .env("EKSBOOT_POLL_MS", "100")
        .args(args)
        .assert()
}

fn with_state<'a>(run: &'a Run, command: &'a str, profile: &'a Path) -> Vec<String> {
    vec![
        command.to_string(),
        "--profile".into(),
        profile.to_str().unwrap().into(),
        "--state".into(),
        run.state().to_str().unwrap().into(),
    ]
}

fn create(run: &Run, profile: &Path) {
    let mut args = with_state(run, "create", profile);
    args.extend(["--yes".into(), "--kubeconfig".into()]);
    args.push(run.kubeconfig().to_str().unwrap().into());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    eksboot(run, &args).success();
}

fn apply(run: &Run, profile: &Path) -> assert_cmd::assert::Assert {
    let mut args = with_state(run, "apply", profile);
    args.extend(["--yes".into(), "--kubeconfig".into()]);
    args.push(run.kubeconfig().to_str().unwrap().into());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    eksboot(run, &args)
}

fn stdout(assert: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&assert.get_output().stdout).to_string()
}

/// The cluster as AWS holds it, in the terms a profile uses.
#[derive(Debug, PartialEq)]
struct Live {
    public_cidrs: Vec<String>,
    log_types: Vec<String>,
    retention: Option<i32>,
    admins: Vec<String>,
    addons: Vec<String>,
    oidc_providers: usize,
    scaling: (i32, i32, i32),
}

fn live(account: &Account) -> Live {
    let config = account.sdk("us-west-2");
    let eks = aws_sdk_eks::Client::new(&config);
    let logs = aws_sdk_cloudwatchlogs::Client::new(&config);
    let iam = aws_sdk_iam::Client::new(&config);
    block_on(async {
        let c = eks.describe_cluster().name("daytwo").send().await.unwrap();
        let c = c.cluster().unwrap();
        let mut public_cidrs = c
            .resources_vpc_config()
            .unwrap()
            .public_access_cidrs()
            .to_vec();
        public_cidrs.sort();
        let mut log_types: Vec<String> = c
            .logging()
            .unwrap()
            .cluster_logging()
            .iter()
            .filter(|s| s.enabled() == Some(true))
            .flat_map(|s| s.types().iter().map(|t| t.as_str().to_string()))
            .collect();
        log_types.sort();
        let retention = logs
            .describe_log_groups()
            .log_group_name_prefix("/aws/eks/daytwo/cluster")
            .send()
            .await
            .unwrap()
            .log_groups()
            .first()
            .and_then(|g| g.retention_in_days());
        let entries = crate::harness::all_access_entries(&eks, "daytwo")
            .await
            .unwrap();
        let mut admins: Vec<String> = entries
            .access_entries()
            .iter()
            .filter(|a| a.contains(":role/ops") || a.contains(":role/sre"))
            .cloned()
            .collect();
        admins.sort();
        let mut addons = crate::harness::all_addons(&eks, "daytwo")
            .await
            .unwrap()
            .addons()
            .to_vec();
        addons.sort();
        let oidc_providers = iam
            .list_open_id_connect_providers()
            .send()
            .await
            .unwrap()
            .open_id_connect_provider_list()
            .len();
        let ng = eks
            .describe_nodegroup()
            .cluster_name("daytwo")
            .nodegroup_name("daytwo-default")
            .send()
            .await
            .unwrap();
        let s = ng.nodegroup().unwrap().scaling_config().unwrap();
        Live {
            public_cidrs,
            log_types,
            retention,
            admins,
            addons,
            oidc_providers,
            scaling: (
                s.min_size().unwrap(),
                s.desired_size().unwrap(),
                s.max_size().unwrap(),
            ),
        }
    })
}

/// A role of the account, for admins to name.
fn make_role(account: &Account, name: &str) -> String {
    let iam = aws_sdk_iam::Client::new(&account.sdk("us-east-1"));
    let trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{}:root"}},"Action":"sts:AssumeRole"}}]}}"#,
        account.id
    );
    block_on(
        iam.create_role()
            .role_name(name)
            .assume_role_policy_document(trust)
            .send(),
    )
    .unwrap()
    .role()
    .unwrap()
    .arn()
    .to_string()
}

#[test]
fn plan_shows_the_difference_and_apply_makes_each_change_then_takes_it_back() {
    let run = Run::new(Account::new());
    let ops = make_role(&run.account, "ops");
    let profile = write_profile(&run, BASE);
    create(&run, &profile);
    let before = live(&run.account);
    assert_eq!(before.public_cidrs, ["0.0.0.0/0"]);
    assert_eq!(before.log_types, ["api", "audit"]);
    assert_eq!(before.scaling, (1, 2, 3));

    // Tighten the endpoint, more logs and shorter retention, an admin, an add-on, more nodes.
    let changed = BASE
        .replace(
            r#"public_access_cidrs = ["0.0.0.0/0"]"#,
            r#"public_access_cidrs = ["203.0.113.0/24"]"#,
        )
        .replace(
            r#"log_types = ["api", "audit"]"#,
            r#"log_types = ["api", "audit", "authenticator"]"#,
        )
        .replace("log_retention_days = 30", "log_retention_days = 90")
        .replace("admins = []", &format!("admins = [\"{ops}\"]"))
        .replace(
            r#""eks-pod-identity-agent"]"#,
            r#""eks-pod-identity-agent", "metrics-server"]"#,
        )
        .replace(
            "desired_size = 2\nmax_size = 3",
            "desired_size = 3\nmax_size = 5",
        );
    write_profile(&run, &changed);
    let args = with_state(&run, "plan", &profile);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let plan = stdout(&eksboot(&run, &args).success());
    for expected in [
        "~  cluster.public_access_cidrs",
        "~  cluster.log_types",
        "~  cluster.log_retention_days",
        "+  cluster.admins",
        "+  cluster.addons",
        "~  nodes.desired_size",
        "Make the change: eksboot apply",
    ] {
        assert!(plan.contains(expected), "{expected} in:\n{plan}");
    }
    assert_eq!(live(&run.account), before, "plan changes nothing");

    let out = apply(&run, &profile).success();
    let text = stdout(&out);
    assert!(text.contains("updated eks-cluster cluster"), "{text}");
    let after = live(&run.account);
    assert_eq!(after.public_cidrs, ["203.0.113.0/24"]);
    assert_eq!(after.log_types, ["api", "audit", "authenticator"]);
    assert_eq!(after.retention, Some(90));
    assert_eq!(after.admins, [ops.clone()]);
    assert!(after.addons.contains(&"metrics-server".to_string()));
    assert_eq!(after.scaling, (1, 3, 5));
    assert_eq!(after.oidc_providers, 1);

    // Nothing left to change: a second apply says so and asks AWS nothing at all (the
    // emulator's log of the account's requests says so, not eksboot).
    let mark = crate::requests::mark(&run.account);
    let again = stdout(&apply(&run, &profile).success());
    assert!(again.contains("No changes"), "{again}");
    crate::requests::assert_no_call_since(&run.account, mark, "an apply with nothing to do");

    // Take it back: no admin, no metrics-server, no OIDC provider, endpoint open again.
    let back = BASE.replace("oidc_provider = true", "oidc_provider = false");
    write_profile(&run, &back);
    let text = stdout(&apply(&run, &profile).success());
    assert!(text.contains("access entry deleted"), "{text}");
    let last = live(&run.account);
    assert_eq!(last.admins, Vec::<String>::new());
    assert!(!last.addons.contains(&"metrics-server".to_string()));
    assert_eq!(last.oidc_providers, 0);
    assert_eq!(last.public_cidrs, ["0.0.0.0/0"]);
    assert_eq!(last.log_types, ["api", "audit"]);
    assert_eq!(last.scaling, (1, 2, 3));
}

#[test]
fn a_field_fixed_at_creation_is_refused_and_nothing_changes() {
    let run = Run::new(Account::new());
    let profile = write_profile(&run, BASE);
    create(&run, &profile);
    let state_before = std::fs::read_to_string(run.state()).unwrap();
    let before = live(&run.account);
    write_profile(
        &run,
        &BASE
            .replace("10.20.0.0/16", "10.30.0.0/16")
            .replace("log_retention_days = 30", "log_retention_days = 90"),
    );
    let out = apply(&run, &profile).code(2);
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(err.contains("network.vpc_cidr"), "{err}");
    assert!(err.contains("eksboot teardown"), "the way out: {err}");
    assert_eq!(live(&run.account), before);
    assert_eq!(std::fs::read_to_string(run.state()).unwrap(), state_before);

    // create with the changed profile says the field cannot change, and the way out...
    let args = with_state(&run, "create", &profile);
    let mut args: Vec<&str> = args.iter().map(String::as_str).collect();
    args.push("--yes");
    let out = eksboot(&run, &args).code(2);
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(
        err.contains("network.vpc_cidr cannot change on a running cluster")
            && err.contains("eksboot teardown"),
        "{err}"
    );
    // ...and, for a change apply can make, points to plan and apply.
    write_profile(
        &run,
        &BASE.replace("log_retention_days = 30", "log_retention_days = 90"),
    );
    let out = eksboot(&run, &args).code(2);
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(
        err.contains("eksboot plan --profile") && err.contains("eksboot apply --profile"),
        "{err}"
    );
}

#[test]
fn an_apply_stopped_half_way_is_finished_by_resume() {
    let run = Run::new(Account::new());
    let profile = write_profile(&run, BASE);
    create(&run, &profile);
    write_profile(
        &run,
        &BASE
            .replace(
                r#"public_access_cidrs = ["0.0.0.0/0"]"#,
                r#"public_access_cidrs = ["198.51.100.0/24"]"#,
            )
            .replace(
                r#""eks-pod-identity-agent"]"#,
                r#""eks-pod-identity-agent", "metrics-server"]"#,
            ),
    );
    run.account.authorize(&profile, &[]);
    // The cluster's update stays InProgress until released: no window to catch.
    run.account.hold_updates("us-west-2", "daytwo", true);
    let mut child = run
        .account
        .command()
        .env("EKSBOOT_POLL_MS", "100")
        .args(with_state(&run, "apply", &profile))
        .args(["--yes", "--kubeconfig"])
        .arg(run.kubeconfig())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Stopped once the cluster's update has started (the cluster is UPDATING).
    let eks = aws_sdk_eks::Client::new(&run.account.sdk("us-west-2"));
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let status = block_on(eks.describe_cluster().name("daytwo").send())
            .unwrap()
            .cluster()
            .and_then(|c| c.status().map(|s| s.as_str().to_string()));
        if status.as_deref() == Some("UPDATING") {
            break;
        }
        assert!(Instant::now() < deadline, "the cluster was never UPDATING");
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    run.account.hold_updates("us-west-2", "daytwo", false);
    assert!(
        !live(&run.account)
            .addons
            .contains(&"metrics-server".to_string()),
        "stopped before the add-on"
    );
    eksboot(
        &run,
        &[
            "resume",
            "--yes",
            "--state",
            run.state().to_str().unwrap(),
            "--kubeconfig",
            run.kubeconfig().to_str().unwrap(),
        ],
    )
    .success();
    let after = live(&run.account);
    assert_eq!(after.public_cidrs, ["198.51.100.0/24"]);
    assert!(after.addons.contains(&"metrics-server".to_string()));
}

/// The node group's names, instance types and launch template version, and the template's
/// newest root volume size, read from AWS.
fn nodes(
    account: &Account,
) -> (
    Vec<(String, Vec<String>, Option<String>)>,
    Option<(i64, i32)>,
) {
    let config = account.sdk("us-west-2");
    let eks = aws_sdk_eks::Client::new(&config);
    let ec2 = aws_sdk_ec2::Client::new(&config);
    block_on(async {
        let mut groups = Vec::new();
        let names = crate::harness::all_nodegroups(&eks, "daytwo")
            .await
            .unwrap();
        for name in names.nodegroups() {
            let n = eks
                .describe_nodegroup()
                .cluster_name("daytwo")
                .nodegroup_name(name)
                .send()
                .await
                .unwrap();
            let n = n.nodegroup().unwrap();
            groups.push((
                name.clone(),
                n.instance_types().to_vec(),
                n.launch_template()
                    .and_then(|t| t.version())
                    .map(str::to_string),
            ));
        }
        let templates = ec2
            .describe_launch_templates()
            .filters(crate::create::tag_filter("eksboot:cluster", "daytwo"))
            .send()
            .await
            .unwrap();
        let disk = match templates.launch_templates().first() {
            None => None,
            Some(t) => {
                let v = ec2
                    .describe_launch_template_versions()
                    .launch_template_id(t.launch_template_id().unwrap())
                    .versions("$Latest")
                    .send()
                    .await
                    .unwrap();
                v.launch_template_versions().first().map(|v| {
                    (
                        v.version_number().unwrap(),
                        v.launch_template_data().unwrap().block_device_mappings()[0]
                            .ebs()
                            .unwrap()
                            .volume_size()
                            .unwrap(),
                    )
                })
            }
        };
        (groups, disk)
    })
}

fn node_role_exists(account: &Account) -> bool {
    let iam = aws_sdk_iam::Client::new(&account.sdk("us-east-1"));
    block_on(iam.get_role().role_name("daytwo-node").send()).is_ok()
}

#[test]
fn node_changes_roll_replace_remove_and_bring_back_the_node_group() {
    let run = Run::new(Account::new());
    let profile = write_profile(&run, BASE);
    create(&run, &profile);
    let (groups, disk) = nodes(&run.account);
    assert_eq!(groups.len(), 1);
    let (first_version, first_disk) = disk.unwrap();

    // A bigger disk: a new launch template version, and the nodes rolled onto it.
    let bigger = BASE.replace("max_size = 3\n", "max_size = 3\ndisk_size_gib = 80\n");
    write_profile(&run, &bigger);
    let text = stdout(&apply(&run, &profile).success());
    assert!(text.contains("root volume 80 GiB"), "{text}");
    let (groups, disk) = nodes(&run.account);
    let (version, size) = disk.unwrap();
    assert_ne!(size, first_disk);
    assert_eq!(size, 80);
    assert!(version > first_version);
    assert_eq!(groups[0].2.as_deref(), Some(version.to_string().as_str()));

    // Other instance types: a new node group, the old one drained (through the cluster's API,
    // here the test API server) and deleted after it is ACTIVE.
    let api = crate::harness::KubeApi::start();
    api.serve_cluster(&run.account, "us-west-2", "daytwo");
    let other = bigger.replace(r#"["t3.medium"]"#, r#"["m6i.large"]"#);
    write_profile(&run, &other);
    let plan_args = with_state(&run, "plan", &profile);
    let plan_args: Vec<&str> = plan_args.iter().map(String::as_str).collect();
    let plan = stdout(&eksboot(&run, &plan_args).success());
    assert!(plan.contains("±  nodes.instance_types"), "{plan}");
    apply(&run, &profile).success();
    let (groups, _) = nodes(&run.account);
    assert_eq!(groups.len(), 1, "{groups:?}");
    assert_eq!(groups[0].0, "daytwo-nodes-2");
    assert_eq!(groups[0].1, ["m6i.large"]);

    // Nodes off: the node group, its launch template and role go.
    let off = other.replace("[nodes]\n", "[nodes]\nenabled = false\n");
    write_profile(&run, &off);
    apply(&run, &profile).success();
    let (groups, disk) = nodes(&run.account);
    assert!(groups.is_empty(), "{groups:?}");
    assert_eq!(disk, None, "the launch template is deleted");
    assert!(!node_role_exists(&run.account));

    // And on again.
    write_profile(&run, &other);
    apply(&run, &profile).success();
    let (groups, _) = nodes(&run.account);
    assert_eq!(groups.len(), 1, "{groups:?}");
    assert_eq!(groups[0].1, ["m6i.large"]);
    assert!(node_role_exists(&run.account));

    crate::teardown::teardown(&run, &["--state", run.state().to_str().unwrap()]).success();
    crate::teardown::assert_nothing_left(&run.account, "daytwo", "us-west-2");
}

#[test]
fn plan_live_shows_what_changed_outside_eksboot_and_resume_puts_it_back() {
    let run = Run::new(Account::new());
    let profile = write_profile(&run, BASE);
    create(&run, &profile);
    // By hand, beside eksboot: the endpoint opened wider, an add-on removed.
    let eks = aws_sdk_eks::Client::new(&run.account.sdk("us-west-2"));
    block_on(async {
        eks.update_cluster_config()
            .name("daytwo")
            .resources_vpc_config(
                aws_sdk_eks::types::VpcConfigRequest::builder()
                    .endpoint_public_access(true)
                    .public_access_cidrs("0.0.0.0/0")
                    .public_access_cidrs("192.0.2.0/24")
                    .build(),
            )
            .send()
            .await
            .unwrap();
        eks.delete_addon()
            .cluster_name("daytwo")
            .addon_name("coredns")
            .send()
            .await
            .unwrap();
        // EKS lists it while it is being deleted.
        let deadline = Instant::now() + Duration::from_secs(30);
        while eks
            .describe_addon()
            .cluster_name("daytwo")
            .addon_name("coredns")
            .send()
            .await
            .is_ok()
        {
            assert!(Instant::now() < deadline, "coredns never went");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    let args = with_state(&run, "plan", &profile);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mark = crate::requests::mark(&run.account);
    let stored = stdout(&eksboot(&run, &args).success());
    assert!(stored.contains("No changes"), "{stored}");
    // `plan` against the stored state asks AWS nothing at all.
    crate::requests::assert_no_call_since(&run.account, mark, "plan without --live");
    let mut live_args = args.clone();
    live_args.push("--live");
    let drift = stdout(&eksboot(&run, &live_args).success());
    assert!(drift.contains("against AWS"), "{drift}");
    assert!(
        drift.contains("~  cluster.public_access_cidrs") && drift.contains("192.0.2.0/24"),
        "{drift}"
    );
    assert!(
        drift.contains("+  cluster.addons") && drift.contains("coredns"),
        "{drift}"
    );
    let mut json_args = live_args.clone();
    json_args.extend(["--output", "json"]);
    let json: serde_json::Value =
        serde_json::from_str(&stdout(&eksboot(&run, &json_args).success())).unwrap();
    let fields: Vec<&str> = json["diff"]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["cluster.public_access_cidrs", "cluster.addons"]);

    // apply has nothing to change in the profile, and says how to put AWS back.
    let text = stdout(&apply(&run, &profile).success());
    assert!(text.contains("eksboot resume"), "{text}");
    eksboot(
        &run,
        &[
            "resume",
            "--yes",
            "--state",
            run.state().to_str().unwrap(),
            "--kubeconfig",
            run.kubeconfig().to_str().unwrap(),
        ],
    )
    .success();
    let back = live(&run.account);
    assert_eq!(back.public_cidrs, ["0.0.0.0/0"]);
    assert!(back.addons.contains(&"coredns".to_string()));
    let mark = crate::requests::mark(&run.account);
    let again = stdout(&eksboot(&run, &live_args).success());
    assert!(again.contains("No changes"), "{again}");
    crate::requests::assert_no_change_since(&run.account, mark, "plan --live");
}
