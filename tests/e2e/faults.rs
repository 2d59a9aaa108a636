//! A flaky, busy API changes nothing. Through the fault-injecting proxy
//! (`tests/moto/fault_proxy.py`): requests throttled, answered 503 or reset before AWS sees
//! them; answers lost after AWS acted; several clusters created at once under an account rate
//! limit. Each comes out with exactly the resources a clean run makes (read through the SDK),
//! and teardown through the same faults leaves nothing. eksboot runs with its production retry
//! settings (only the waits are shortened).

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::create::Run;
use crate::harness::{root, Account, FaultProxy, Faults, Moto};
use crate::teardown::{assert_nothing_left, ours};

/// One in ten requests faulted before AWS sees it.
fn ten_percent_faults(seed: u64) -> Faults {
    Faults {
        seed,
        fault_rate: 0.10,
        latency_ms: 5,
        ..Faults::default()
    }
}

/// Three in a hundred answers lost after AWS acted.
fn three_percent_lost(seed: u64) -> Faults {
    Faults {
        seed,
        lost_rate: 0.03,
        ..Faults::default()
    }
}

/// The example profiles: (file, cluster, region).
const PROFILES: [(&str, &str, &str); 3] = [
    ("profiles/dev.toml", "dev", "us-west-2"),
    ("profiles/production.toml", "production", "us-east-1"),
    ("profiles/private.toml", "private", "eu-west-1"),
];

fn profile(file: &str) -> (&'static str, &'static str, &'static str) {
    *PROFILES.iter().find(|p| p.0 == file).unwrap()
}

/// `eksboot ARGS` in `run`'s account through `proxy`, with the scaled waits every test uses.
/// The runner holds the printed policy of the profile in `args`.
fn via(run: &Run, proxy: &FaultProxy, args: &[&str]) -> assert_cmd::assert::Assert {
    if let Some(at) = args.iter().position(|a| *a == "--profile") {
        run.account.authorize(Path::new(args[at + 1]), &[]);
    }
    run.account
        .eksboot_via(proxy)
        .env("EKSBOOT_POLL_MS", "100")
        .args(args)
        .timeout(Duration::from_secs(240))
        .assert()
}

/// The arguments of a create of `file` in `run`.
fn create_args(run: &Run, file: &str) -> Vec<String> {
    vec![
        "create".into(),
        "--yes".into(),
        "--profile".into(),
        root(file).to_str().unwrap().into(),
        "--state".into(),
        run.state().to_str().unwrap().into(),
        "--kubeconfig".into(),
        run.kubeconfig().to_str().unwrap().into(),
    ]
}

fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// What a clean create of `file` leaves in a fresh account, and the requests it took.
fn clean_create(
    server: &Moto,
    file: &str,
) -> (std::collections::BTreeMap<&'static str, usize>, u64) {
    let (_, cluster, region) = profile(file);
    let run = Run::new(Account::on(server));
    let proxy = FaultProxy::start(&server.endpoint, Faults::default());
    via(&run, &proxy, &strs(&create_args(&run, file))).success();
    (ours(&run.account, cluster, region), proxy.stats().requests)
}

/// Create, a rerun that must find everything, and teardown, all through `faults`; the account
/// must hold what a clean create makes, then nothing.
fn through(file: &str, faults: Faults) -> crate::harness::ProxyStats {
    let server = crate::harness::moto();
    let (_, cluster, region) = profile(file);
    let (expected, clean_requests) = clean_create(server, file);

    let run = Run::new(Account::on(server));
    let proxy = FaultProxy::start(&server.endpoint, faults);
    let out = via(&run, &proxy, &strs(&create_args(&run, file)));
    let out = out.get_output();
    assert!(
        out.status.success(),
        "create through faults failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let created = proxy.stats();
    assert_eq!(
        ours(&run.account, cluster, region),
        expected,
        "exactly what a clean create makes, through {faults:?}"
    );
    eprintln!(
        "{file} through {faults:?}: {} requests ({} clean), faults {:?}, lost {}, replayed {}",
        created.requests, clean_requests, created.faults, created.lost, created.replayed
    );

    let teardown = via(
        &run,
        &proxy,
        &[
            "teardown",
            "--yes",
            "--state",
            run.state().to_str().unwrap(),
            "--kubeconfig",
            run.kubeconfig().to_str().unwrap(),
        ],
    );
    let out = teardown.get_output();
    assert!(
        out.status.success(),
        "teardown through faults failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_nothing_left(&run.account, cluster, region);
    let all = proxy.stats();
    assert!(all.faulted() > 0, "the proxy faulted nothing: {all:?}");
    all
}

#[test]
fn dev_through_ten_percent_faults() {
    through("profiles/dev.toml", ten_percent_faults(11));
}

#[test]
fn production_through_ten_percent_faults() {
    through("profiles/production.toml", ten_percent_faults(12));
}

#[test]
fn private_through_ten_percent_faults() {
    through("profiles/private.toml", ten_percent_faults(13));
}

#[test]
fn dev_through_lost_answers() {
    through("profiles/dev.toml", three_percent_lost(21));
}

#[test]
fn production_through_lost_answers() {
    through("profiles/production.toml", three_percent_lost(22));
}

#[test]
fn private_through_lost_answers() {
    through("profiles/private.toml", three_percent_lost(23));
}

/// Every call that makes, attaches or deletes something, with its first answer lost after
/// AWS acted (a 500 or a reset, as the proxy draws): the paths a 3 % rate reaches only by luck.
const EVERY_CHANGE: &str = "CreateVpc,CreateSubnet,CreateInternetGateway,AttachInternetGateway,\
CreateRouteTable,CreateRoute,AssociateRouteTable,AllocateAddress,CreateNatGateway,\
CreateSecurityGroup,AuthorizeSecurityGroupIngress,CreateVpcEndpoint,CreateLaunchTemplate,\
CreateRole,AttachRolePolicy,PutRolePolicy,CreateKey,CreateAlias,CreateLogGroup,\
CreateOpenIDConnectProvider,POST /clusters,POST /clusters/*/node-groups,\
POST /clusters/*/addons,POST /clusters/*/access-entries,\
POST /clusters/*/access-entries/*/access-policies,\
DELETE /clusters/*,DELETE /clusters/*/node-groups/*,DELETE /clusters/*/addons/*,\
DeleteNatGateway,ReleaseAddress,DeleteVpcEndpoints,DeleteSubnet,DeleteRouteTable,\
DisassociateRouteTable,DetachInternetGateway,DeleteInternetGateway,DeleteSecurityGroup,\
DeleteVpc,DeleteLaunchTemplate,DeleteRole,DetachRolePolicy,DeleteRolePolicy,\
ScheduleKeyDeletion,DeleteAlias,DeleteLogGroup,DeleteOpenIDConnectProvider";

fn every_first_answer_lost(seed: u64) -> Faults {
    Faults {
        seed,
        lose_first: EVERY_CHANGE,
        ..Faults::default()
    }
}

/// Each of `actions` was called, so its first answer was lost.
fn assert_lost(stats: &crate::harness::ProxyStats, actions: &[&str]) {
    for action in actions {
        assert!(
            !stats.lose_first_pending.iter().any(|a| a == action),
            "{action} was never called: {:?}",
            stats.lose_first_pending
        );
    }
}

/// What both the production and the private profile make and delete.
const COMMON_CHANGES: [&str; 20] = [
    "CreateVpc",
    "CreateSubnet",
    "CreateRouteTable",
    "AssociateRouteTable",
    "CreateSecurityGroup",
    "CreateLaunchTemplate",
    "CreateRole",
    "PutRolePolicy",
    "CreateKey",
    "CreateAlias",
    "CreateLogGroup",
    "POST /clusters",
    "POST /clusters/*/node-groups",
    "POST /clusters/*/addons",
    "POST /clusters/*/access-entries",
    "DELETE /clusters/*",
    "DeleteSubnet",
    "DeleteVpc",
    "DeleteRole",
    "ScheduleKeyDeletion",
];

#[test]
fn production_with_every_first_answer_lost() {
    let stats = through("profiles/production.toml", every_first_answer_lost(61));
    assert_lost(&stats, &COMMON_CHANGES);
    assert_lost(
        &stats,
        &[
            "CreateInternetGateway",
            "AttachInternetGateway",
            "CreateRoute",
            "AllocateAddress",
            "CreateNatGateway",
            "DeleteNatGateway",
            "ReleaseAddress",
        ],
    );
}

#[test]
fn private_with_every_first_answer_lost() {
    let stats = through("profiles/private.toml", every_first_answer_lost(62));
    assert_lost(&stats, &COMMON_CHANGES);
    assert_lost(&stats, &["CreateVpcEndpoint", "DeleteVpcEndpoints"]);
}

/// A create through faults and lost answers, killed with SIGKILL twice and resumed: exactly
/// one of each, then a teardown through the same faults to nothing.
#[test]
fn a_create_killed_and_resumed_through_faults_makes_exactly_one_of_each() {
    let server = crate::harness::moto();
    let file = "profiles/production.toml";
    let (_, cluster, region) = profile(file);
    let (expected, _) = clean_create(server, file);
    let run = Run::new(Account::on(server));
    let proxy = FaultProxy::start(
        &server.endpoint,
        Faults {
            seed: 31,
            fault_rate: 0.10,
            lost_rate: 0.03,
            ..Faults::default()
        },
    );
    run.account.authorize(&root(file), &[]);
    let create = create_args(&run, file);
    let resume: Vec<String> = vec![
        "resume".into(),
        "--yes".into(),
        "--state".into(),
        run.state().to_str().unwrap().into(),
        "--kubeconfig".into(),
        run.kubeconfig().to_str().unwrap().into(),
    ];
    // Killed once a few resources are recorded, and again once many are.
    for (i, recorded) in [4, 20].into_iter().enumerate() {
        let args = if i == 0 || !run.state().exists() {
            &create
        } else {
            &resume
        };
        let mut child = run
            .account
            .command_via(&proxy)
            .env("EKSBOOT_POLL_MS", "100")
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        while run.done_steps() < recorded && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        assert!(run.done_steps() >= recorded, "the run got nowhere");
    }
    assert!(
        ours(&run.account, cluster, region).values().sum::<usize>() > 0,
        "the kills landed after something was made"
    );
    let args = if run.state().exists() {
        &resume
    } else {
        &create
    };
    via(&run, &proxy, &strs(args)).success();
    assert_eq!(ours(&run.account, cluster, region), expected);
    via(
        &run,
        &proxy,
        &[
            "teardown",
            "--yes",
            "--state",
            run.state().to_str().unwrap(),
        ],
    )
    .success();
    assert_nothing_left(&run.account, cluster, region);
}

/// Three profiles created at once by three processes in one account, through a proxy that
/// limits the account's request rate (and faults some requests): all finish, each exactly
/// once; preflight retries throttling like every other step.
#[test]
fn three_clusters_at_once_under_a_rate_limit_each_finish_exactly_once() {
    let server = crate::harness::moto();
    let expected: Vec<_> = PROFILES
        .iter()
        .map(|(file, _, _)| clean_create(server, file).0)
        .collect();
    let account = Account::on(server);
    let runs: Vec<Run> = PROFILES
        .iter()
        .map(|_| Run {
            account: Account {
                id: account.id.clone(),
                endpoint: account.endpoint.clone(),
                credentials: account.credentials.clone(),
                home: tempfile::tempdir().unwrap(),
                runner: account.runner.clone(),
            },
            dir: tempfile::tempdir().unwrap(),
        })
        .collect();
    // One runner makes all three: it holds the three printed policies.
    for (file, _, _) in PROFILES {
        let policy = crate::least_privilege::printed_policy(&account, &root(file), &[], "caller");
        account.authorize_named(file, &policy);
    }
    let proxy = FaultProxy::start(
        &server.endpoint,
        Faults {
            seed: 41,
            fault_rate: 0.03,
            // Well below what three creates ask for (about 30 requests a second on average, each
            // now evaluated by IAM's rules first), so the limit is met however busy the machine.
            rate_limit: 15,
            ..Faults::default()
        },
    );
    let started = Instant::now();
    let children: Vec<_> = runs
        .iter()
        .zip(PROFILES)
        .map(|(run, (file, _, _))| {
            // Polls every 500 ms (real runs: 10 s), so that the waits of three creates do not
            // alone ask more than the limit every second of the run: bursts are throttled,
            // and the SDK's bounded backoff must carry each call through them.
            run.account
                .command_via(&proxy)
                .env("EKSBOOT_POLL_MS", "500")
                // Backoff from 400 ms (real runs: 1 s; other tests: 50 ms): six attempts then
                // span several seconds of the bucket's refills, as they do against AWS, instead
                // of all landing inside one throttled second on a busy machine.
                .env("EKSBOOT_RETRY_MS", "400")
                .args(create_args(run, file))
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for (child, (file, _, _)) in children.into_iter().zip(PROFILES) {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{file} failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let stats = proxy.stats();
    eprintln!(
        "three at once: {:.1} s, {} requests, peak {} per second, faults {:?}",
        started.elapsed().as_secs_f64(),
        stats.requests,
        stats.peak_per_second,
        stats.faults
    );
    assert!(
        stats.faults.get("rate-limited").copied().unwrap_or(0) > 0,
        "the rate limit was reached: {stats:?}"
    );
    for ((_, cluster, region), want) in PROFILES.iter().zip(&expected) {
        assert_eq!(&ours(&account, cluster, region), want, "{cluster}");
    }
}

/// The request budget (README): a create of `profiles/production.toml` under 10 % faults makes
/// at most 1.5 times the requests of a clean one.
#[test]
fn a_create_under_ten_percent_faults_stays_within_its_request_budget() {
    let server = crate::harness::moto();
    let file = "profiles/production.toml";
    let (_, clean) = clean_create(server, file);
    let run = Run::new(Account::on(server));
    let proxy = FaultProxy::start(&server.endpoint, ten_percent_faults(51));
    via(&run, &proxy, &strs(&create_args(&run, file))).success();
    let faulted = proxy.stats().requests;
    eprintln!("requests per create of {file}: {clean} clean, {faulted} under 10 % faults");
    assert!(
        faulted as f64 <= clean as f64 * 1.5,
        "{faulted} requests under faults against {clean} clean"
    );
}

/// Every service's throttling answer, as the proxy sends it, reads as throttling: eksboot's
/// preflight retries it as many times as `AWS_MAX_ATTEMPTS` says, then names it with its hint;
/// the SDK reads each service's own format.
#[test]
fn throttling_in_each_service_format_is_retried_then_named() {
    let server = crate::harness::moto();
    let run = Run::new(Account::on(server));
    let proxy = FaultProxy::start(
        &server.endpoint,
        Faults {
            fault_rate: 1.0,
            kinds: "throttle",
            ..Faults::default()
        },
    );
    run.account
        .authorize(&root("profiles/production.toml"), &[]);
    let out = run
        .account
        .eksboot_via(&proxy)
        .env("AWS_MAX_ATTEMPTS", "3")
        .args(["preflight", "--profile"])
        .arg(root("profiles/production.toml"))
        .assert()
        .failure();
    let text = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(
        text.contains("sts:GetCallerIdentity: throttled by AWS"),
        "{text}"
    );
    assert!(text.contains("rate-limiting this account"), "{text}");
    let stats = proxy.stats();
    assert_eq!(stats.requests, 3, "tried AWS_MAX_ATTEMPTS times: {stats:?}");
    // And each format, read back through the SDK with retries off.
    crate::harness::block_on(async {
        let config = crate::harness::sdk_config(
            &proxy.endpoint,
            run.account.credentials.clone(),
            "us-east-1",
        );
        use aws_smithy_types::error::metadata::ProvideErrorMetadata;
        let code = |e: Option<&str>| e.unwrap_or("none").to_string();
        let ec2 = aws_sdk_ec2::Client::new(&config);
        let e = ec2.describe_vpcs().send().await.unwrap_err();
        assert_eq!(code(e.code()), "RequestLimitExceeded");
        let iam = aws_sdk_iam::Client::new(&config);
        let e = iam.list_roles().send().await.unwrap_err();
        assert_eq!(code(e.code()), "Throttling");
        let sts = aws_sdk_sts::Client::new(&config);
        let e = sts.get_caller_identity().send().await.unwrap_err();
        assert_eq!(code(e.code()), "Throttling");
        let kms = aws_sdk_kms::Client::new(&config);
        let e = kms.list_keys().send().await.unwrap_err();
        assert_eq!(code(e.code()), "ThrottlingException");
        let eks = aws_sdk_eks::Client::new(&config);
        let e = eks.list_clusters().send().await.unwrap_err();
        assert_eq!(code(e.code()), "ThrottlingException");
        assert_eq!(e.raw_response().unwrap().status().as_u16(), 429);
    });
}
