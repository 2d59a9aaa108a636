//! A flaky, busy API changes nothing. Through the fault-injecting proxy
//! (`emulator/fault_proxy.py`): requests throttled, answered 503 or reset before AWS sees
//! them; answers lost after AWS acted; several clusters created at once under an account rate
//! limit. Each comes out with exactly the resources a clean run makes (read through the SDK),
//! and teardown through the same faults leaves nothing. eksboot runs with its production retry
//! settings (only the waits are shortened).
//!
//! The proxy counts per phase (create, teardown), and each test asserts that both phases met
//! every fault it claims: a test cannot pass because its faults all fell on the create. Each
//! request's faults are drawn from the test's seed and the request's own key, so a seed replays
//! a run however its requests interleave: each test prints its seeds, and `EKSBOOT_TEST_SEED=N`
//! runs it with seed N instead.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::create::Run;
use crate::harness::{root, Account, FaultProxy, Faults, Moto, ProxyStats};
use crate::teardown::{assert_nothing_left, ours};

/// The seeds a test runs with: `defaults`, or the one `EKSBOOT_TEST_SEED` names (to replay a
/// failure); printed either way.
fn seeds(test: &str, defaults: &[u64]) -> Vec<u64> {
    let seeds = match std::env::var("EKSBOOT_TEST_SEED") {
        Ok(seed) => vec![seed
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("EKSBOOT_TEST_SEED is not a number: {seed:?}"))],
        Err(_) => defaults.to_vec(),
    };
    eprintln!("{test}: seeds {seeds:?} (replay one with EKSBOOT_TEST_SEED=<seed>)");
    seeds
}

/// The one seed of a test that runs once.
fn seed(test: &str, default: u64) -> u64 {
    seeds(test, &[default])[0]
}

/// One in ten requests faulted before AWS sees it.
fn ten_percent_faults(seed: u64) -> Faults {
    Faults {
        seed,
        fault_rate: 0.10,
        latency_ms: 5,
        ..Faults::default()
    }
}

/// One in ten answers lost after AWS acted: enough that create and teardown (each about a
/// hundred answers AWS acted on) both meet some, whatever the seed (at 3 %, one in thirty
/// phases met none).
fn ten_percent_lost(seed: u64) -> Faults {
    Faults {
        seed,
        lost_rate: 0.10,
        ..Faults::default()
    }
}

/// The phases a create-then-teardown test counts apart.
const PHASES: [&str; 2] = ["create", "teardown"];

/// Each of `PHASES` met every fault `faults` claims: faults drawn before AWS sees a request,
/// and answers lost after AWS acted. Each kind of fault drawn before AWS (throttle, 503,
/// reset) is met in the run as a whole: a phase meets about ten, too few for each of three
/// kinds to be sure in each phase, and those that fall on a poll depend on how many polls the
/// machine's speed made.
fn assert_each_phase_met(stats: &ProxyStats, faults: &Faults) {
    let seed = faults.seed;
    for phase in PHASES {
        let met = stats.phase(phase);
        if faults.fault_rate > 0.0 {
            assert!(
                met.faults.values().sum::<u64>() > 0,
                "seed {seed}: the {phase} met no fault: {met:?}"
            );
        }
        if faults.lost_rate > 0.0 {
            assert!(
                met.lost > 0,
                "seed {seed}: the {phase} lost no answer AWS acted on: {met:?}"
            );
        }
    }
    if faults.fault_rate > 0.0 {
        let kinds: Vec<&str> = if faults.kinds.is_empty() {
            vec!["throttle", "unavailable", "reset"]
        } else {
            faults.kinds.split(',').collect()
        };
        for kind in kinds {
            assert!(
                stats.faults.get(kind).copied().unwrap_or(0) > 0,
                "seed {seed}: the run met no {kind}: {:?}",
                stats.faults
            );
        }
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

/// The requests of an undisturbed run, per phase.
#[derive(Debug, Clone, Copy)]
struct Clean {
    create: u64,
    teardown: u64,
}

/// What a clean create of `file` leaves in a fresh account and the requests it took; with
/// `teardown`, the clean run is then torn down through the proxy too, and counted.
fn clean_run(
    server: &Moto,
    file: &str,
    teardown: bool,
) -> (std::collections::BTreeMap<&'static str, usize>, Clean) {
    let (_, cluster, region) = profile(file);
    let run = Run::new(Account::on(server));
    let proxy = FaultProxy::start(&server.endpoint, Faults::default());
    proxy.phase("create");
    via(&run, &proxy, &strs(&create_args(&run, file))).success();
    let made = ours(&run.account, cluster, region);
    if teardown {
        proxy.phase("teardown");
        via(&run, &proxy, &strs(&teardown_args(&run))).success();
        assert_nothing_left(&run.account, cluster, region);
    }
    let stats = proxy.stats();
    let clean = Clean {
        create: stats.phase("create").requests,
        teardown: stats.phase("teardown").requests,
    };
    (made, clean)
}

/// What a clean create of `file` leaves, and the requests it took.
fn clean_create(
    server: &Moto,
    file: &str,
) -> (std::collections::BTreeMap<&'static str, usize>, u64) {
    let (made, clean) = clean_run(server, file, false);
    (made, clean.create)
}

fn teardown_args(run: &Run) -> Vec<String> {
    vec![
        "teardown".into(),
        "--yes".into(),
        "--state".into(),
        run.state().to_str().unwrap().into(),
        "--kubeconfig".into(),
        run.kubeconfig().to_str().unwrap().into(),
    ]
}

/// The request budget (README): under faults, each phase makes at most 1.5 times the
/// requests of a clean one.
fn assert_within_budget(stats: &ProxyStats, clean: Clean, seed: u64) {
    for (phase, clean) in [("create", clean.create), ("teardown", clean.teardown)] {
        let faulted = stats.phase(phase).requests;
        eprintln!("seed {seed}: {phase}: {faulted} requests under faults, {clean} clean");
        assert!(
            clean > 0 && faulted as f64 <= clean as f64 * 1.5,
            "seed {seed}: the {phase} made {faulted} requests under faults against {clean} clean"
        );
    }
}

/// Create and teardown, each through `faults` and counted as its own phase; the account must
/// hold what a clean create makes, then nothing; each phase met every fault `faults` claims.
fn through(file: &str, faults: Faults) -> ProxyStats {
    let server = crate::harness::moto();
    let (expected, clean) = clean_create(server, file);
    through_against(server, file, faults, &expected, clean)
}

/// [`through`], against a clean create already made.
fn through_against(
    server: &Moto,
    file: &str,
    faults: Faults,
    expected: &std::collections::BTreeMap<&'static str, usize>,
    clean_requests: u64,
) -> ProxyStats {
    let (_, cluster, region) = profile(file);
    let seed = faults.seed;
    let run = Run::new(Account::on(server));
    let proxy = FaultProxy::start(&server.endpoint, faults);
    let started = Instant::now();
    proxy.phase("create");
    let out = via(&run, &proxy, &strs(&create_args(&run, file)));
    let out = out.get_output();
    assert!(
        out.status.success(),
        "seed {seed}: create through faults failed:\n{}\n{}\nthe proxy saw: {:?}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        proxy.stats().phase("create")
    );
    assert_eq!(
        &ours(&run.account, cluster, region),
        expected,
        "seed {seed}: exactly what a clean create makes, through {faults:?}"
    );

    proxy.phase("teardown");
    let teardown = via(&run, &proxy, &strs(&teardown_args(&run)));
    let out = teardown.get_output();
    assert!(
        out.status.success(),
        "seed {seed}: teardown through faults failed:\n{}\n{}\nthe proxy saw: {:?}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        proxy.stats().phase("teardown")
    );
    assert_nothing_left(&run.account, cluster, region);
    let all = proxy.stats();
    eprintln!(
        "{file} seed {seed}: create and teardown through faults in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    for phase in PHASES {
        let p = all.phase(phase);
        eprintln!(
            "{file} seed {seed}, {phase}: {} requests ({clean_requests} in a clean create), \
             faults {:?} {:?}, lost {} {:?} {:?}, replayed {}",
            p.requests, p.faults, p.fault_actions, p.lost, p.lost_by, p.lost_actions, p.replayed
        );
    }
    assert_each_phase_met(&all, &faults);
    all
}

#[test]
fn dev_through_ten_percent_faults() {
    let seed = seed("dev_through_ten_percent_faults", 11);
    through("profiles/dev.toml", ten_percent_faults(seed));
}

#[test]
fn private_through_ten_percent_faults() {
    let seed = seed("private_through_ten_percent_faults", 13);
    through("profiles/private.toml", ten_percent_faults(seed));
}

/// The request budget (README): `profiles/production.toml` created and torn down under 10 %
/// faults, with three seeds: each create and each teardown makes at most 1.5 times the requests
/// of a clean one, and comes out exactly as a clean one does.
#[test]
fn production_through_ten_percent_faults_stays_within_its_request_budget() {
    let test = "production_through_ten_percent_faults_stays_within_its_request_budget";
    let server = crate::harness::moto();
    let file = "profiles/production.toml";
    let (expected, clean) = clean_run(server, file, true);
    // The seeds run at once, each in its own account behind its own proxy: most of a run is
    // waiting for AWS, and the test should not take three times as long as one.
    std::thread::scope(|scope| {
        for seed in seeds(test, &[12, 51, 52]) {
            let expected = &expected;
            scope.spawn(move || {
                let stats = through_against(
                    server,
                    file,
                    ten_percent_faults(seed),
                    expected,
                    clean.create,
                );
                assert_within_budget(&stats, clean, seed);
            });
        }
    });
}

#[test]
fn dev_through_lost_answers() {
    let seed = seed("dev_through_lost_answers", 21);
    through("profiles/dev.toml", ten_percent_lost(seed));
}

#[test]
fn production_through_lost_answers() {
    let seed = seed("production_through_lost_answers", 22);
    through("profiles/production.toml", ten_percent_lost(seed));
}

#[test]
fn private_through_lost_answers() {
    let seed = seed("private_through_lost_answers", 23);
    through("profiles/private.toml", ten_percent_lost(seed));
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

/// Each of `actions` had an answer lost in `phase`: AWS acted on it and eksboot never heard.
fn assert_lost(stats: &ProxyStats, phase: &str, actions: &[&str]) {
    let lost = &stats.phase(phase).lost_actions;
    for action in actions {
        assert!(
            lost.contains_key(*action),
            "no answer to {action} was lost in the {phase}: lost {lost:?}, never acted on {:?}",
            stats.lose_first_pending
        );
    }
}

/// What both the production and the private profile make, then delete.
const COMMON_CREATES: [&str; 15] = [
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
];
const COMMON_DELETES: [&str; 5] = [
    "DELETE /clusters/*",
    "DeleteSubnet",
    "DeleteVpc",
    "DeleteRole",
    "ScheduleKeyDeletion",
];

#[test]
fn production_with_every_first_answer_lost() {
    let seed = seed("production_with_every_first_answer_lost", 61);
    let stats = through("profiles/production.toml", every_first_answer_lost(seed));
    assert_lost(&stats, "create", &COMMON_CREATES);
    assert_lost(
        &stats,
        "create",
        &[
            "CreateInternetGateway",
            "AttachInternetGateway",
            "CreateRoute",
            "AllocateAddress",
            "CreateNatGateway",
        ],
    );
    assert_lost(&stats, "teardown", &COMMON_DELETES);
    assert_lost(&stats, "teardown", &["DeleteNatGateway", "ReleaseAddress"]);
}

#[test]
fn private_with_every_first_answer_lost() {
    let seed = seed("private_with_every_first_answer_lost", 62);
    let stats = through("profiles/private.toml", every_first_answer_lost(seed));
    assert_lost(&stats, "create", &COMMON_CREATES);
    assert_lost(&stats, "create", &["CreateVpcEndpoint"]);
    assert_lost(&stats, "teardown", &COMMON_DELETES);
    assert_lost(&stats, "teardown", &["DeleteVpcEndpoints"]);
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
    let faults = Faults {
        seed: seed(
            "a_create_killed_and_resumed_through_faults_makes_exactly_one_of_each",
            31,
        ),
        fault_rate: 0.10,
        lost_rate: 0.10,
        ..Faults::default()
    };
    let proxy = FaultProxy::start(&server.endpoint, faults);
    proxy.phase("create");
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
        assert!(
            run.done_steps() >= recorded,
            "seed {}: the run did not record {recorded} steps in 60 s: {}",
            faults.seed,
            run.done_steps()
        );
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
    assert_eq!(
        ours(&run.account, cluster, region),
        expected,
        "seed {}",
        faults.seed
    );
    proxy.phase("teardown");
    via(&run, &proxy, &strs(&teardown_args(&run))).success();
    assert_nothing_left(&run.account, cluster, region);
    assert_each_phase_met(&proxy.stats(), &faults);
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
            seed: seed(
                "three_clusters_at_once_under_a_rate_limit_each_finish_exactly_once",
                41,
            ),
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

/// The proxy's own tests (`emulator/test_fault_proxy.py`): an answer AWS refused is never
/// counted lost, faults are counted per phase, and a seed replays the same faults however the
/// requests interleave.
#[test]
fn the_fault_proxy_counts_only_what_happened() {
    crate::harness::pytest("emulator/test_fault_proxy.py");
}
