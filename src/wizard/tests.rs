//! The question flow, driven by a script that fails the test on an unexpected or unasked
//! question.

use std::collections::VecDeque;

use super::*;
use crate::profile::{EndpointAccess, Nat, Pattern};

#[derive(Debug, Clone)]
enum Reply {
    Yes,
    No,
    Text(&'static str),
    Pick(usize),
    Picks(Vec<usize>),
    Back,
    CtrlC,
}

struct Script {
    steps: VecDeque<(&'static str, Reply)>,
    said: Vec<String>,
    rejected: Vec<String>,
    /// Every question asked: `(id, label, help)`.
    asked: Vec<(String, String, String)>,
    /// The options of every choice offered: `(id, options)`.
    offered: Vec<(String, Vec<String>)>,
}

impl Script {
    fn new(steps: Vec<(&'static str, Reply)>) -> Script {
        Script {
            steps: steps.into(),
            said: Vec::new(),
            rejected: Vec::new(),
            asked: Vec::new(),
            offered: Vec::new(),
        }
    }
    fn next(&mut self, q: &Question) -> Reply {
        self.asked
            .push((q.id.to_string(), q.label.clone(), q.help.clone()));
        let id = q.id;
        let (want, reply) = self
            .steps
            .pop_front()
            .unwrap_or_else(|| panic!("unexpected question {id}: the script is finished"));
        assert_eq!(want, id, "expected question {want}, was asked {id}");
        reply
    }
    fn done(&self) {
        assert!(
            self.steps.is_empty(),
            "questions never asked: {:?}",
            self.steps
        );
    }
}

impl Prompter for Script {
    fn say(&mut self, text: &str) {
        self.said.push(text.to_string());
    }
    fn confirm(&mut self, q: &Question, _default: bool) -> Result<bool, Asked> {
        match self.next(q) {
            Reply::Yes => Ok(true),
            Reply::No => Ok(false),
            Reply::Back => Err(Asked::Back),
            Reply::CtrlC => Err(Asked::Cancelled),
            other => panic!("{} is a yes/no question, not {other:?}", q.id),
        }
    }
    fn text(
        &mut self,
        q: &Question,
        default: Option<&str>,
        validate: &dyn Fn(&str) -> Result<(), String>,
    ) -> Result<String, Asked> {
        loop {
            let answer = match self.next(q) {
                Reply::Text("") => default.unwrap_or_default().to_string(),
                Reply::Text(t) => t.to_string(),
                Reply::Back => return Err(Asked::Back),
                Reply::CtrlC => return Err(Asked::Cancelled),
                other => panic!("{} takes text, not {other:?}", q.id),
            };
            match validate(&answer) {
                Ok(()) => return Ok(answer),
                Err(reason) => self.rejected.push(reason),
            }
        }
    }
    fn select(
        &mut self,
        q: &Question,
        options: &[String],
        _default: usize,
    ) -> Result<usize, Asked> {
        self.offered.push((q.id.to_string(), options.to_vec()));
        match self.next(q) {
            Reply::Pick(i) => {
                assert!(i < options.len(), "{} has {} options", q.id, options.len());
                Ok(i)
            }
            Reply::Back => Err(Asked::Back),
            Reply::CtrlC => Err(Asked::Cancelled),
            other => panic!("{} is a choice, not {other:?}", q.id),
        }
    }
    fn multi_select(
        &mut self,
        q: &Question,
        options: &[String],
        defaults: &[usize],
    ) -> Result<Vec<usize>, Asked> {
        self.offered.push((q.id.to_string(), options.to_vec()));
        match self.next(q) {
            Reply::Picks(p) => Ok(p),
            Reply::Text("") => Ok(defaults.to_vec()),
            Reply::Back => Err(Asked::Back),
            Reply::CtrlC => Err(Asked::Cancelled),
            other => panic!("{} is a multiple choice, not {other:?}", q.id),
        }
    }
}

fn discovery() -> Discovery {
    Discovery {
        region: "us-west-2".into(),
        availability_zones: vec![
            "us-west-2a".into(),
            "us-west-2b".into(),
            "us-west-2c".into(),
        ],
        versions: vec!["1.35".into(), "1.34".into(), "1.33".into()],
        public_ip: Some("198.51.100.7".into()),
        existing_vpc_cidrs: vec!["172.31.0.0/16".into()],
        existing_clusters: vec!["taken".into()],
        account: "123456789012".into(),
        existing_roles: vec!["arn:aws:iam::123456789012:role/ops".into()],
        existing_users: vec!["arn:aws:iam::123456789012:user/alice".into()],
        existing_keys: Vec::new(),
        offline: false,
    }
}

fn plan_text(profile: &Profile) -> String {
    format!("PLAN {}", profile.cluster.name)
}

use Reply::*;

#[test]
fn fast_path_asks_only_the_name_the_cidr_and_who_runs_the_nodes() {
    let mut s = Script::new(vec![
        ("fast_path", Yes),
        ("name", Text("taken")),
        ("name", Text("bad name")),
        ("name", Text("shop")),
        ("public_access_cidrs", Text("")),
        ("node_mode", Pick(0)),
        ("plan", Pick(0)),
    ]);
    let (profile, choice) = run(&mut s, &discovery(), Answers::default(), &plan_text).unwrap();
    s.done();
    assert_eq!(choice, Choice::Create);
    assert_eq!(profile.cluster.name, "shop");
    assert_eq!(profile.network.pattern, Pattern::PublicAndPrivate);
    assert_eq!(profile.network.availability_zones.count(), 3);
    assert_eq!(profile.network.nat, Nat::PerAz);
    assert_eq!(
        profile.cluster.endpoint_access,
        EndpointAccess::PublicAndPrivate
    );
    assert_eq!(
        profile.cluster.public_access_cidrs[0].to_string(),
        "198.51.100.7/32"
    );
    assert_eq!(profile.cluster.log_types.len(), 5);
    assert_eq!(s.rejected.len(), 2, "{:?}", s.rejected);
    assert!(s.rejected[0].contains("already exists"));
    assert!(s.said.iter().any(|t| t.contains("PLAN shop")));
}

#[test]
fn fast_path_in_a_two_zone_region_uses_two_and_says_so() {
    let mut d = discovery();
    d.availability_zones.truncate(2);
    let mut s = Script::new(vec![
        ("fast_path", Yes),
        ("name", Text("duo")),
        ("public_access_cidrs", Text("")),
        ("node_mode", Pick(0)),
        ("plan", Pick(0)),
    ]);
    let (profile, _) = run(&mut s, &d, Answers::default(), &plan_text).unwrap();
    assert_eq!(profile.network.availability_zones.count(), 2);
    assert!(s.said.iter().any(|t| t.contains("only 2 usable")));
}

fn full_path(pattern: usize) -> Vec<(&'static str, Reply)> {
    let mut steps = vec![
        ("fast_path", No),
        ("creator_role", Pick(0)),
        ("permissions_boundary", Pick(0)),
        ("secrets_key", Pick(0)),
        ("addon_permissions", Pick(0)),
        ("log_types", Picks(vec![0, 1])),
        ("log_retention_days", Pick(5)),
        ("admins", Text("arn:aws:iam::123456789012:role/nobody")),
        (
            "admins",
            Text("arn:aws:iam::123456789012:user/alice, arn:aws:iam::999999999999:role/auditor"),
        ),
        ("deletion_protection", Yes),
        ("state", Pick(0)),
        ("pattern", Pick(pattern)),
        ("vpc_cidr", Text("10.0.0.0/8")),
        ("vpc_cidr", Text("10.1.0.0/16")),
        ("availability_zones", Pick(0)),
    ];
    if pattern == 0 {
        steps.push(("nat", Pick(1)));
    }
    steps.push(("name", Text("web")));
    steps.push(("kubernetes_version", Pick(1)));
    steps.push(("support", Pick(0)));
    if pattern != 2 {
        steps.push(("endpoint_access", Pick(0)));
        steps.push(("public_access_cidrs", Text("203.0.113.0/24")));
    }
    steps.push(("node_mode", Pick(0)));
    steps.push(("nodes", Pick(3)));
    steps.push(("node_os", Pick(0)));
    steps.push(("node_sizes", Text("3, 2, 1")));
    steps.push(("node_sizes", Text("2, 3, 5")));
    steps.push(("auto_repair", Yes));
    steps.push(("addons", Text("")));
    steps.push(("oidc_provider", No));
    steps.push(("plan", Pick(2)));
    steps
}

#[test]
fn each_pattern_through_the_three_tasks() {
    for (pick, pattern) in [
        (0, Pattern::PublicAndPrivate),
        (1, Pattern::Public),
        (2, Pattern::Private),
    ] {
        let mut s = Script::new(full_path(pick));
        let (profile, choice) = run(&mut s, &discovery(), Answers::default(), &plan_text).unwrap();
        s.done();
        assert_eq!(choice, Choice::SaveAndQuit);
        assert_eq!(profile.network.pattern, pattern);
        assert_eq!(profile.network.vpc_cidr.to_string(), "10.1.0.0/16");
        assert_eq!(profile.network.availability_zones.count(), 2);
        assert_eq!(profile.cluster.kubernetes_version.as_deref(), Some("1.34"));
        assert_eq!(profile.cluster.log_retention_days, 30);
        assert_eq!(profile.cluster.log_types.len(), 2);
        assert_eq!(profile.nodes.instance_types, ["m7g.large"]);
        assert_eq!(
            (
                profile.nodes.min_size,
                profile.nodes.desired_size,
                profile.nodes.max_size
            ),
            (2, 3, 5)
        );
        assert!(!profile.cluster.oidc_provider);
        // An admin IAM does not hold is refused at the question; another account's is taken.
        assert!(
            s.rejected[0].contains("there is no arn:aws:iam::123456789012:role/nobody"),
            "{:?}",
            s.rejected
        );
        assert_eq!(
            profile.cluster.admins,
            [
                "arn:aws:iam::123456789012:user/alice",
                "arn:aws:iam::999999999999:role/auditor"
            ]
        );
        assert!(
            s.rejected[1].contains("/8 is outside /16 to /20"),
            "{:?}",
            s.rejected
        );
        match pattern {
            Pattern::PublicAndPrivate => assert_eq!(profile.network.nat, Nat::Single),
            Pattern::Private => {
                assert_eq!(profile.cluster.endpoint_access, EndpointAccess::Private);
                assert!(profile.cluster.public_access_cidrs.is_empty());
            }
            Pattern::Public => assert_eq!(profile.network.nat, Nat::None),
        }
    }
}

#[test]
fn editing_an_answer_from_the_plan_returns_to_the_plan() {
    let mut s = Script::new(vec![
        ("fast_path", Yes),
        ("name", Text("first")),
        ("public_access_cidrs", Text("")),
        ("node_mode", Pick(0)),
        ("plan", Pick(1)),
        ("edit", Pick(0)),
        ("name", Text("second")),
        ("plan", Pick(0)),
    ]);
    let (profile, _) = run(&mut s, &discovery(), Answers::default(), &plan_text).unwrap();
    s.done();
    assert_eq!(profile.cluster.name, "second");
    assert!(s.said.iter().any(|t| t.contains("PLAN first")));
    assert!(s.said.iter().any(|t| t.contains("PLAN second")));
}

#[test]
fn esc_goes_back_one_question_and_ctrl_c_quits() {
    let mut s = Script::new(vec![
        ("fast_path", No),
        ("creator_role", Pick(0)),
        ("permissions_boundary", Back),
        ("creator_role", Pick(1)),
        ("creator_role_arn", Text("not-an-arn")),
        (
            "creator_role_arn",
            Text("arn:aws:iam::123456789012:role/nobody"),
        ),
        (
            "creator_role_arn",
            Text("arn:aws:iam::123456789012:role/ops"),
        ),
        ("permissions_boundary", Pick(0)),
        ("secrets_key", CtrlC),
    ]);
    assert_eq!(
        run(&mut s, &discovery(), Answers::default(), &plan_text).unwrap_err(),
        Asked::Cancelled
    );
    s.done();
    assert!(s.rejected[0].contains("not an IAM role ARN"));
    assert!(
        s.rejected[1].contains("no role arn:aws:iam::123456789012:role/nobody"),
        "{:?}",
        s.rejected
    );
}

#[test]
fn values_given_by_flags_are_not_asked() {
    let preset = Answers {
        name: Some("given".into()),
        fixed: ["name"].into_iter().collect(),
        ..Answers::default()
    };
    let mut s = Script::new(vec![
        ("fast_path", Yes),
        ("public_access_cidrs", Text("")),
        ("node_mode", Pick(0)),
        ("plan", Pick(3)),
    ]);
    let (profile, choice) = run(&mut s, &discovery(), preset, &plan_text).unwrap();
    s.done();
    assert_eq!(profile.cluster.name, "given");
    assert_eq!(choice, Choice::Quit);
}

#[test]
fn saved_profile_replays_the_same_plan() {
    let mut s = Script::new(full_path(0));
    let (profile, _) = run(&mut s, &discovery(), Answers::default(), &plan_text).unwrap();
    let text = profile_file(&profile);
    let again = Profile::parse(&text, std::path::Path::new("saved.toml")).unwrap();
    assert_eq!(again, profile);
    assert_eq!(
        default_save_path("web", true),
        std::path::Path::new("profiles/web.toml")
    );
    assert_eq!(
        default_save_path("web", false),
        std::path::Path::new("web.eksboot.toml")
    );
}

#[test]
fn the_saved_profile_produces_exactly_the_plan_shown() {
    use crate::plan::{Plan, PlanFacts};
    let mut s = Script::new(vec![
        ("fast_path", Yes),
        ("name", Text("shop")),
        ("public_access_cidrs", Text("")),
        ("node_mode", Pick(0)),
        ("plan", Pick(2)),
    ]);
    let d = discovery();
    let shown = |p: &Profile| {
        let r = resolve(p, &d);
        crate::ui::render_plan_text(&r, &Plan::build(&r, &PlanFacts::default()))
    };
    let (profile, _) = run(&mut s, &d, Answers::default(), &shown).unwrap();
    let saved = profile_file(&resolve(&profile, &d));
    let replayed = Profile::parse(&saved, std::path::Path::new("shop.toml")).unwrap();
    let replayed_plan =
        crate::ui::render_plan_text(&replayed, &Plan::build(&replayed, &PlanFacts::default()));
    assert!(
        s.said.contains(&replayed_plan),
        "the plan shown differs from the saved profile's plan"
    );
    assert_eq!(replayed.cluster.kubernetes_version.as_deref(), Some("1.35"));
    assert!(
        saved.contains("availability_zones = [\"us-west-2a\", \"us-west-2b\", \"us-west-2c\"]"),
        "{saved}"
    );
}

#[test]
fn az_names_given_by_flags_are_kept() {
    let mut table = toml::Table::new();
    let mut network = toml::Table::new();
    network.insert(
        "availability_zones".into(),
        toml::Value::Array(vec!["us-west-2b".into(), "us-west-2c".into()]),
    );
    table.insert("network".into(), network.into());
    let preset = Answers::from_table(&table);
    assert!(preset.fixed.contains("availability_zones"));
    let mut s = Script::new(vec![
        ("fast_path", Yes),
        ("name", Text("named")),
        ("public_access_cidrs", Text("")),
        ("node_mode", Pick(0)),
        ("plan", Pick(0)),
    ]);
    let (profile, _) = run(&mut s, &discovery(), preset, &plan_text).unwrap();
    assert_eq!(
        profile.network.availability_zones,
        crate::profile::AzSpec::Names(vec!["us-west-2b".into(), "us-west-2c".into()])
    );
}

#[test]
fn the_boundary_is_asked_in_the_security_task_and_none_is_the_default() {
    let mut s = Script::new(full_path(0));
    let (profile, _) = run(&mut s, &discovery(), Answers::default(), &plan_text).unwrap();
    s.done();
    assert_eq!(profile.security.permissions_boundary, None);
    assert!(!profile_file(&profile).contains("permissions_boundary"));
    let (_, label, help) = s
        .asked
        .iter()
        .find(|(id, _, _)| id == "permissions_boundary")
        .unwrap();
    assert_eq!(
        label,
        "Give the roles eksboot creates a permissions boundary?"
    );
    assert!(
        help.starts_with("A ceiling on what eksboot's roles can ever be given, for accounts where role creation is delegated."),
        "{help}"
    );
    assert!(!help.contains("Your own creator role"), "{help}");
    // Right after who creates the cluster, before the secrets key.
    let order: Vec<&str> = s.asked.iter().map(|(id, _, _)| id.as_str()).collect();
    assert_eq!(
        order[1..4],
        ["creator_role", "permissions_boundary", "secrets_key"]
    );
}

#[test]
fn a_boundary_arn_is_checked_as_it_is_typed_and_saved() {
    let mut steps = full_path(0);
    let at = steps
        .iter()
        .position(|(id, _)| *id == "permissions_boundary")
        .unwrap();
    steps.splice(
        at..=at,
        [
            ("permissions_boundary", Pick(1)),
            (
                "permissions_boundary_arn",
                Text("arn:aws:iam::123456789012:role/eks-boundary"),
            ),
            (
                "permissions_boundary_arn",
                Text("arn:aws-cn:iam::123456789012:policy/eks-boundary"),
            ),
            (
                "permissions_boundary_arn",
                Text(" arn:aws:iam::123456789012:policy/eks-boundary "),
            ),
        ],
    );
    let mut s = Script::new(steps);
    let (profile, _) = run(&mut s, &discovery(), Answers::default(), &plan_text).unwrap();
    s.done();
    assert_eq!(
        profile.security.permissions_boundary.as_deref(),
        Some("arn:aws:iam::123456789012:policy/eks-boundary")
    );
    assert!(
        s.rejected[0].contains("is not an IAM managed policy ARN"),
        "{:?}",
        s.rejected
    );
    assert!(
        s.rejected[1].contains("aws-cn partition"),
        "{:?}",
        s.rejected
    );
    let saved = profile_file(&profile);
    assert!(
        saved.contains("permissions_boundary = \"arn:aws:iam::123456789012:policy/eks-boundary\""),
        "{saved}"
    );
    assert_eq!(
        Profile::parse(&saved, std::path::Path::new("s.toml")).unwrap(),
        profile
    );
}

#[test]
fn with_a_brought_creator_role_the_boundary_help_says_that_role_keeps_its_own() {
    let mut s = Script::new(vec![
        ("fast_path", No),
        ("creator_role", Pick(1)),
        (
            "creator_role_arn",
            Text("arn:aws:iam::123456789012:role/ops"),
        ),
        ("permissions_boundary", CtrlC),
    ]);
    assert_eq!(
        run(&mut s, &discovery(), Answers::default(), &plan_text).unwrap_err(),
        Asked::Cancelled
    );
    s.done();
    let (_, _, help) = s.asked.last().unwrap();
    assert!(
        help.contains("Your own creator role is not given it"),
        "{help}"
    );
}

#[test]
fn a_boundary_given_by_the_profile_is_kept_and_not_asked_and_editable_on_day_two() {
    let arn = "arn:aws:iam::123456789012:policy/eks-boundary";
    let mut table = toml::Table::new();
    let mut security = toml::Table::new();
    security.insert("permissions_boundary".into(), arn.into());
    table.insert("security".into(), security.into());
    let preset = Answers::from_table(&table);
    assert!(preset.fixed.contains("permissions_boundary"));
    let mut s = Script::new(vec![
        ("fast_path", Yes),
        ("name", Text("kept")),
        ("public_access_cidrs", Text("")),
        ("node_mode", Pick(0)),
        ("plan", Pick(0)),
    ]);
    let (profile, _) = run(&mut s, &discovery(), preset, &plan_text).unwrap();
    s.done();
    assert_eq!(profile.security.permissions_boundary.as_deref(), Some(arn));

    // Day two: a running cluster's profile without a boundary; the boundary may be added.
    let current: toml::Table = toml::from_str(&ok_profile_text()).unwrap();
    let mut s = Script::new(vec![
        ("plan", Pick(1)),
        ("edit", Pick(0)),
        ("permissions_boundary", Pick(1)),
        ("permissions_boundary_arn", Text(arn)),
        ("plan", Pick(0)),
    ]);
    let (changed, choice) = change(&mut s, &discovery(), &current, &plan_text).unwrap();
    s.done();
    assert_eq!(choice, Choice::Create);
    assert_eq!(changed.security.permissions_boundary.as_deref(), Some(arn));
}

/// A running cluster's saved profile (no boundary).
fn ok_profile_text() -> String {
    let mut s = Script::new(full_path(0));
    let (profile, _) = run(&mut s, &discovery(), Answers::default(), &plan_text).unwrap();
    profile_file(&profile)
}

/// `full_path(0)` with the replies to some questions replaced.
fn full_path_with(replies: Vec<(&'static str, Reply)>) -> Vec<(&'static str, Reply)> {
    let mut steps = full_path(0);
    for (id, reply) in replies {
        let at = steps.iter().position(|(s, _)| *s == id).unwrap();
        steps[at].1 = reply;
    }
    steps
}

#[test]
fn the_fast_path_asks_nothing_new_and_takes_the_safe_defaults() {
    use crate::profile::{AddonPermissions, NodeOs, Support};
    let mut s = Script::new(vec![
        ("fast_path", Yes),
        ("name", Text("safe")),
        ("public_access_cidrs", Text("")),
        ("node_mode", Pick(0)),
        ("plan", Pick(0)),
    ]);
    let (profile, _) = run(&mut s, &discovery(), Answers::default(), &plan_text).unwrap();
    s.done();
    assert_eq!(profile.cluster.support, Support::Standard);
    assert!(profile.cluster.deletion_protection);
    assert_eq!(
        profile.security.addon_permissions,
        AddonPermissions::PodIdentity
    );
    assert!(profile.nodes.auto_repair);
    assert_eq!(profile.nodes.os, NodeOs::Al2023);
}

#[test]
fn the_safety_questions_come_in_their_tasks_each_with_its_why_and_are_saved() {
    use crate::profile::{AddonPermissions, NodeOs, Support};
    let mut s = Script::new(full_path_with(vec![
        ("addon_permissions", Pick(1)),
        ("deletion_protection", No),
        ("support", Pick(1)),
        ("node_os", Pick(1)),
        ("auto_repair", No),
    ]));
    let (profile, _) = run(&mut s, &discovery(), Answers::default(), &plan_text).unwrap();
    s.done();
    assert_eq!(
        profile.security.addon_permissions,
        AddonPermissions::NodeRole
    );
    assert!(!profile.cluster.deletion_protection);
    assert_eq!(profile.cluster.support, Support::Extended);
    assert_eq!(profile.nodes.os, NodeOs::Bottlerocket);
    assert!(!profile.nodes.auto_repair);
    // Task 1 (secure) has add-on permissions and deletion protection; task 3 the others.
    let order: Vec<&str> = s.asked.iter().map(|(id, _, _)| id.as_str()).collect();
    let at = |id: &str| order.iter().position(|o| *o == id).unwrap();
    assert!(at("secrets_key") < at("addon_permissions") && at("addon_permissions") < at("pattern"));
    assert!(at("admins") < at("deletion_protection") && at("deletion_protection") < at("pattern"));
    assert_eq!(at("support"), at("kubernetes_version") + 1);
    assert!(at("nodes") < at("node_os") && at("node_os") < at("auto_repair"));
    assert!(at("auto_repair") < at("addons"));
    let help = |id: &str| s.asked.iter().find(|(q, _, _)| q == id).unwrap().2.clone();
    assert!(help("addon_permissions").contains("every pod on a node can use the CNI's permissions"));
    assert!(help("deletion_protection").contains("EKS then refuses to delete the cluster"));
    assert!(help("support").contains("EKS then upgrades the control plane itself"));
    assert!(help("support").contains("$0.60 instead of $0.10 an hour"));
    assert!(help("node_os").contains("minimal and immutable"));
    assert!(help("auto_repair").contains("replaces one that stays unhealthy"));
    // The saved profile writes every answer and replays it.
    let saved = profile_file(&profile);
    for line in [
        "support = \"extended\"",
        "deletion_protection = false",
        "addon_permissions = \"node-role\"",
        "auto_repair = false",
        "os = \"bottlerocket\"",
    ] {
        assert!(saved.contains(line), "{line} in {saved}");
    }
    assert_eq!(
        Profile::parse(&saved, std::path::Path::new("s.toml")).unwrap(),
        profile
    );
    // Without nodes, the node questions are not asked.
    let mut steps = full_path(0);
    steps.retain(|(id, _)| !matches!(*id, "node_os" | "node_sizes" | "auto_repair"));
    let at = steps.iter().position(|(id, _)| *id == "nodes").unwrap();
    steps[at].1 = Pick(4);
    let mut s = Script::new(steps);
    let (profile, _) = run(&mut s, &discovery(), Answers::default(), &plan_text).unwrap();
    s.done();
    assert!(!profile.nodes.enabled);
}

#[test]
fn dropping_the_pod_identity_agent_asks_whether_to_keep_it() {
    use crate::profile::AddonPermissions;
    // Keep it: the agent is put back.
    let mut steps = full_path_with(vec![("addons", Picks(vec![0, 1, 2]))]);
    let at = steps.iter().position(|(id, _)| *id == "addons").unwrap();
    steps.insert(at + 1, ("pod_identity_agent", Yes));
    let mut s = Script::new(steps.clone());
    let (profile, _) = run(&mut s, &discovery(), Answers::default(), &plan_text).unwrap();
    s.done();
    assert!(profile
        .cluster
        .addons
        .iter()
        .any(|a| a == "eks-pod-identity-agent"));
    assert_eq!(
        profile.security.addon_permissions,
        AddonPermissions::PodIdentity
    );
    // No: the add-ons' permissions go to the node role, said so.
    steps[at + 1].1 = No;
    let mut s = Script::new(steps);
    let (profile, _) = run(&mut s, &discovery(), Answers::default(), &plan_text).unwrap();
    s.done();
    assert!(!profile
        .cluster
        .addons
        .iter()
        .any(|a| a == "eks-pod-identity-agent"));
    assert_eq!(
        profile.security.addon_permissions,
        AddonPermissions::NodeRole
    );
    assert!(
        s.said.iter().any(|t| t.contains("from the node role")),
        "{:?}",
        s.said
    );
    // With the node role chosen, nothing is asked.
    let mut s = Script::new(full_path_with(vec![
        ("addon_permissions", Pick(1)),
        ("addons", Picks(vec![0, 1, 2])),
    ]));
    run(&mut s, &discovery(), Answers::default(), &plan_text).unwrap();
    s.done();
}

#[test]
fn a_running_clusters_safety_answers_are_kept_and_editable() {
    let mut current: toml::Table = toml::from_str(&ok_profile_text()).unwrap();
    current["cluster"]
        .as_table_mut()
        .unwrap()
        .insert("deletion_protection".into(), false.into());
    current["nodes"]
        .as_table_mut()
        .unwrap()
        .insert("os".into(), "bottlerocket".into());
    current["nodes"]
        .as_table_mut()
        .unwrap()
        .insert("disk_size_gib".into(), 50.into());
    // Nothing edited: the answers are those of the running cluster.
    let mut s = Script::new(vec![("plan", Pick(0))]);
    let (kept, _) = change(&mut s, &discovery(), &current, &plan_text).unwrap();
    s.done();
    assert!(!kept.cluster.deletion_protection);
    assert_eq!(kept.nodes.os, crate::profile::NodeOs::Bottlerocket);
    assert_eq!(kept.nodes.disk_size_gib, 50, "not asked, and not reset");
    // Edited: deletion protection turned on.
    let mut answers = Answers::from_table(&current);
    answers.fast_path = Some(false);
    answers.fixed = FIXED_ON_A_RUNNING_CLUSTER.into_iter().collect();
    let labels = super::questions::answered(&answers);
    let at = labels
        .iter()
        .position(|(id, _)| *id == "deletion_protection")
        .unwrap();
    assert_eq!(labels[at].1, "deletion_protection: no");
    let mut s = Script::new(vec![
        ("plan", Pick(1)),
        ("edit", Pick(at)),
        ("deletion_protection", Yes),
        ("plan", Pick(0)),
    ]);
    let (changed, _) = change(&mut s, &discovery(), &current, &plan_text).unwrap();
    s.done();
    assert!(changed.cluster.deletion_protection);
}

#[test]
fn task_one_ends_asking_where_the_state_lives_and_a_bucket_is_checked_and_saved() {
    let mut steps = full_path(0);
    let at = steps.iter().position(|(id, _)| *id == "state").unwrap();
    steps[at].1 = Pick(1);
    steps.insert(at + 1, ("state_bucket", Text("s3://Team_State")));
    steps.insert(at + 2, ("state_bucket", Text("s3://team-state/clusters/")));
    let mut s = Script::new(steps);
    let (profile, _) = run(&mut s, &discovery(), Answers::default(), &plan_text).unwrap();
    s.done();
    assert!(
        s.rejected
            .iter()
            .any(|r| r.contains("is not an S3 bucket address")),
        "{:?}",
        s.rejected
    );
    assert_eq!(profile.state.as_deref(), Some("s3://team-state/clusters"));
    let order: Vec<&str> = s.asked.iter().map(|(id, _, _)| id.as_str()).collect();
    let at = |id: &str| order.iter().position(|o| *o == id).unwrap();
    assert_eq!(
        at("state"),
        at("deletion_protection") + 1,
        "the last of task 1"
    );
    assert!(help_of(&s, "state").contains("one run at a time"));
    let saved = profile_file(&profile);
    assert!(
        saved.contains("state = \"s3://team-state/clusters\""),
        "{saved}"
    );
    assert_eq!(
        Profile::parse(&saved, std::path::Path::new("s.toml")).unwrap(),
        profile
    );
    // On this machine (the default): no `state` in the profile.
    let mut s = Script::new(full_path(0));
    let (local, _) = run(&mut s, &discovery(), Answers::default(), &plan_text).unwrap();
    assert_eq!(local.state, None);
    // A profile that names a bucket (and its key) keeps both, unasked.
    let mut given: toml::Table = toml::from_str(&ok_profile_text()).unwrap();
    given.insert("state".into(), "s3://team-state".into());
    let key = "arn:aws:kms:us-west-2:123456789012:key/abc";
    given.insert("state_kms_key".into(), key.into());
    let mut s = Script::new(vec![("plan", Pick(0))]);
    let (kept, _) = change(&mut s, &discovery(), &given, &plan_text).unwrap();
    s.done();
    assert_eq!(kept.state.as_deref(), Some("s3://team-state"));
    assert_eq!(kept.state_kms_key.as_deref(), Some(key));
}

// ---- EKS Auto Mode (issue 24) ----

/// `full_path(0)` choosing Auto Mode: the node pools instead of the node group's questions.
fn auto_path(pools: Reply, addons: Reply) -> Vec<(&'static str, Reply)> {
    let mut steps = full_path(0);
    steps.retain(|(id, _)| !matches!(*id, "nodes" | "node_os" | "node_sizes" | "auto_repair"));
    let at = steps.iter().position(|(id, _)| *id == "node_mode").unwrap();
    steps[at].1 = Pick(1);
    steps.insert(at + 1, ("node_pools", pools));
    let at = steps.iter().position(|(id, _)| *id == "addons").unwrap();
    steps[at].1 = addons;
    steps
}

fn help_of(s: &Script, id: &str) -> String {
    s.asked.iter().find(|(q, _, _)| q == id).unwrap().2.clone()
}

#[test]
fn who_runs_the_nodes_is_asked_in_task_three_with_what_each_means_and_whom_it_suits() {
    let mut s = Script::new(full_path(0));
    let (profile, _) = run(&mut s, &discovery(), Answers::default(), &plan_text).unwrap();
    s.done();
    assert!(!profile.auto_mode() && profile.node_group());
    let order: Vec<&str> = s.asked.iter().map(|(id, _, _)| id.as_str()).collect();
    let at = |id: &str| order.iter().position(|o| *o == id).unwrap();
    assert!(at("public_access_cidrs") < at("node_mode") && at("node_mode") + 1 == at("nodes"));
    let help = help_of(&s, "node_mode");
    for what in [
        // Who patches, scales and repairs, what it costs, what can no longer be tuned, for whom.
        "you move them to new versions with `eksboot upgrade`, and you pay EC2 only",
        "launches nodes as pods need them and removes idle ones (scaling), patches them",
        "repairs them",
        "a management fee of about 12 % per instance-hour",
        "You can no longer choose instance types, sizes, disk or OS here",
        "Suits steady workloads and teams that want to tune their nodes",
        "Suits a first cluster and small teams that want little day-two work",
        "Needs Kubernetes 1.29 or later",
    ] {
        assert!(help.contains(what), "{what} in {help}");
    }
    let (_, options) = s.offered.iter().find(|(id, _)| id == "node_mode").unwrap();
    assert!(options[0].starts_with("A managed node group") && options[0].ends_with("(default)"));
    assert!(options[1].starts_with("EKS Auto Mode"));
}

#[test]
fn auto_mode_asks_the_node_pools_and_no_node_group_question_and_saves_only_mode_and_pools() {
    let mut s = Script::new(auto_path(Picks(vec![]), Text("")));
    // An empty choice is asked again, with the reason.
    let at = s
        .steps
        .iter()
        .position(|(id, _)| *id == "node_pools")
        .unwrap();
    s.steps.insert(at + 1, ("node_pools", Picks(vec![0])));
    let (profile, _) = run(&mut s, &discovery(), Answers::default(), &plan_text).unwrap();
    s.done();
    assert!(
        s.said
            .iter()
            .any(|t| t.contains("Choose at least one node pool")),
        "{:?}",
        s.said
    );
    assert!(profile.auto_mode() && !profile.node_group());
    assert_eq!(profile.nodes.node_pools, ["general-purpose"]);
    // Auto Mode runs the usual add-ons: none by default, and they are not offered.
    assert!(
        profile.cluster.addons.is_empty(),
        "{:?}",
        profile.cluster.addons
    );
    let (_, offered) = s.offered.iter().find(|(id, _)| id == "addons").unwrap();
    assert_eq!(offered, &["metrics-server"]);
    assert!(help_of(&s, "addons").contains("Auto Mode runs pod networking (vpc-cni), kube-proxy, coredns, the EBS CSI driver and the Pod Identity agent itself"));
    let (_, pools) = s.offered.iter().find(|(id, _)| id == "node_pools").unwrap();
    assert_eq!(pools, &["general-purpose", "system"]);
    // The saved profile has only the mode and the pools under [nodes], and replays.
    let saved = profile_file(&profile);
    let nodes = saved.split("[nodes]").nth(1).unwrap();
    assert_eq!(
        nodes.trim(),
        "mode = \"auto\"\nnode_pools = [\"general-purpose\"]",
        "{saved}"
    );
    assert_eq!(
        Profile::parse(&saved, std::path::Path::new("s.toml")).unwrap(),
        profile
    );
    // An add-on Auto Mode does not run may be chosen.
    let mut s = Script::new(auto_path(Text(""), Picks(vec![0])));
    let (profile, _) = run(&mut s, &discovery(), Answers::default(), &plan_text).unwrap();
    s.done();
    assert_eq!(profile.nodes.node_pools, ["general-purpose", "system"]);
    assert_eq!(profile.cluster.addons, ["metrics-server"]);
}

#[test]
fn the_fast_path_asks_who_runs_the_nodes_once_and_takes_both_pools() {
    let mut s = Script::new(vec![
        ("fast_path", Yes),
        ("name", Text("auto")),
        ("public_access_cidrs", Text("")),
        ("node_mode", Pick(1)),
        ("plan", Pick(0)),
    ]);
    let (profile, _) = run(&mut s, &discovery(), Answers::default(), &plan_text).unwrap();
    s.done();
    assert!(profile.auto_mode());
    assert_eq!(profile.nodes.node_pools, ["general-purpose", "system"]);
    assert!(profile.cluster.addons.is_empty());
    assert_eq!(profile.network.pattern, Pattern::PublicAndPrivate);
    assert_eq!(profile.network.availability_zones.count(), 3);
    assert!(s.said.iter().any(|t| t.contains("PLAN auto")));
}

#[test]
fn auto_mode_moves_a_version_older_than_it_supports_to_the_newest_and_says_so() {
    let mut d = discovery();
    d.versions = vec!["1.35".into(), "1.28".into()];
    let mut steps = auto_path(Text(""), Text(""));
    let at = steps
        .iter()
        .position(|(id, _)| *id == "kubernetes_version")
        .unwrap();
    steps[at].1 = Pick(1);
    let mut s = Script::new(steps);
    let (profile, _) = run(&mut s, &d, Answers::default(), &plan_text).unwrap();
    s.done();
    assert_eq!(profile.cluster.kubernetes_version.as_deref(), Some("1.35"));
    assert!(
        s.said
            .iter()
            .any(|t| t
                .contains("EKS Auto Mode needs Kubernetes 1.29 or later: the version is now 1.35")),
        "{:?}",
        s.said
    );
}

#[test]
fn switching_to_auto_mode_from_the_plan_drops_the_add_ons_it_runs_itself() {
    // Managed first, with the default add-ons; then "Edit an answer" → who runs the nodes.
    let mut steps = full_path(0);
    let last = steps.len() - 1;
    steps[last].1 = Pick(1);
    steps.extend([
        // The 19th answered question: after the 18 of tasks 1 to 3 before it.
        ("edit", Pick(18)),
        ("node_mode", Pick(1)),
        ("plan", Pick(0)),
    ]);
    let mut s = Script::new(steps);
    let (profile, _) = run(&mut s, &discovery(), Answers::default(), &plan_text).unwrap();
    s.done();
    assert!(profile.auto_mode());
    assert_eq!(profile.nodes.node_pools, ["general-purpose", "system"]);
    assert!(
        profile.cluster.addons.is_empty(),
        "{:?}",
        profile.cluster.addons
    );
    // The edit list named the answer.
    let (_, labels) = s.offered.iter().find(|(id, _)| id == "edit").unwrap();
    assert_eq!(labels[18], "node_mode: managed node group");
}

#[test]
fn a_running_auto_mode_clusters_pools_are_editable_but_not_its_mode() {
    let mut s = Script::new(auto_path(Picks(vec![1]), Text("")));
    let (profile, _) = run(&mut s, &discovery(), Answers::default(), &plan_text).unwrap();
    let current: toml::Table = toml::from_str(&profile_file(&profile)).unwrap();
    let mut answers = Answers::from_table(&current);
    answers.fast_path = Some(false);
    answers.fixed = FIXED_ON_A_RUNNING_CLUSTER.into_iter().collect();
    let labels = super::questions::answered(&answers);
    assert!(
        !labels.iter().any(|(id, _)| *id == "node_mode"),
        "{labels:?}"
    );
    let at = labels
        .iter()
        .position(|(id, _)| *id == "node_pools")
        .unwrap();
    assert_eq!(labels[at].1, "node_pools: system");
    let mut s = Script::new(vec![
        ("plan", Pick(1)),
        ("edit", Pick(at)),
        ("node_pools", Picks(vec![0, 1])),
        ("plan", Pick(0)),
    ]);
    let (changed, _) = change(&mut s, &discovery(), &current, &plan_text).unwrap();
    s.done();
    assert!(changed.auto_mode());
    assert_eq!(changed.nodes.node_pools, ["general-purpose", "system"]);
}

/// Issue 26: planning without credentials, as `Discovery::offline` knows it.
fn offline() -> Discovery {
    Discovery::offline("us-west-2", Some("198.51.100.7".into()))
}

/// The full path offline: no version question; a role, a key and an admin nobody can look up
/// are taken once their form is right.
fn offline_full_path() -> Vec<(&'static str, Reply)> {
    vec![
        ("fast_path", No),
        ("creator_role", Pick(1)),
        ("creator_role_arn", Text("not-an-arn")),
        (
            "creator_role_arn",
            Text("arn:aws:iam::123456789012:role/eks-creator"),
        ),
        ("permissions_boundary", Pick(0)),
        ("secrets_key", Pick(1)),
        (
            "secrets_key_arn",
            Text("arn:aws:kms:us-west-2:123456789012:key/1234abcd"),
        ),
        ("addon_permissions", Pick(0)),
        ("log_types", Text("")),
        ("log_retention_days", Pick(5)),
        ("admins", Text("someone")),
        ("admins", Text("arn:aws:iam::123456789012:user/alice")),
        ("deletion_protection", Yes),
        ("state", Pick(0)),
        ("pattern", Pick(0)),
        ("vpc_cidr", Text("")),
        ("availability_zones", Pick(0)),
        ("nat", Pick(0)),
        ("name", Text("shop")),
        ("support", Pick(0)),
        ("endpoint_access", Pick(0)),
        ("public_access_cidrs", Text("")),
        ("node_mode", Pick(0)),
        ("nodes", Pick(0)),
        ("node_os", Pick(0)),
        ("node_sizes", Text("")),
        ("auto_repair", Yes),
        ("addons", Text("")),
        ("oidc_provider", Yes),
        ("plan", Pick(0)),
    ]
}

#[test]
fn offline_zones_are_offered_as_counts_without_names() {
    let mut s = Script::new(offline_full_path());
    let (profile, _) = run(&mut s, &offline(), Answers::default(), &plan_text).unwrap();
    s.done();
    let (_, zones) = s
        .offered
        .iter()
        .find(|(id, _)| id == "availability_zones")
        .unwrap();
    assert_eq!(
        zones,
        &["2 (named at create time)", "3 (named at create time)"]
    );
    assert_eq!(
        profile.network.availability_zones,
        crate::profile::AzSpec::Count(2)
    );
}

#[test]
fn offline_the_version_is_not_asked_and_left_to_create_time() {
    let mut s = Script::new(offline_full_path());
    let (profile, _) = run(&mut s, &offline(), Answers::default(), &plan_text).unwrap();
    s.done();
    assert!(
        !s.asked.iter().any(|(id, _, _)| id == "kubernetes_version"),
        "{:?}",
        s.asked
    );
    assert_eq!(profile.cluster.kubernetes_version, None);
    assert!(!profile_file(&profile).contains("kubernetes_version"));
}

#[test]
fn offline_role_key_and_admin_arns_are_checked_for_form_only() {
    let mut s = Script::new(offline_full_path());
    let (profile, _) = run(&mut s, &offline(), Answers::default(), &plan_text).unwrap();
    s.done();
    // Only the malformed answers were refused; none for not being found in the account.
    assert_eq!(s.rejected.len(), 2, "{:?}", s.rejected);
    assert!(
        s.rejected[0].contains("not an IAM role ARN"),
        "{:?}",
        s.rejected
    );
    assert!(
        s.rejected[1].contains("not an IAM user or role ARN"),
        "{:?}",
        s.rejected
    );
    assert_eq!(
        profile.security.creator_role.existing_arn(),
        Some("arn:aws:iam::123456789012:role/eks-creator")
    );
    assert_eq!(
        profile.cluster.admins,
        ["arn:aws:iam::123456789012:user/alice"]
    );
    let saved = profile_file(&profile);
    assert!(
        saved.contains("secrets_key = \"arn:aws:kms:us-west-2:123456789012:key/1234abcd\""),
        "{saved}"
    );
    // Each such question says why it was not looked up.
    for id in ["creator_role_arn", "secrets_key_arn", "admins", "name"] {
        let (_, _, help) = s.asked.iter().find(|(asked, _, _)| asked == id).unwrap();
        assert!(
            help.contains("`eksboot preflight` checks it"),
            "{id}: {help}"
        );
    }
}

/// The recommended set-up offline, up to the plan's first choice.
fn offline_fast_path() -> Script {
    Script::new(vec![
        ("fast_path", Yes),
        ("name", Text("shop")),
        ("public_access_cidrs", Text("")),
        ("node_mode", Pick(0)),
        ("plan", Pick(0)),
    ])
}

#[test]
fn offline_resolve_keeps_the_count_and_the_unset_version() {
    let mut s = offline_fast_path();
    let d = offline();
    let (profile, _) = run(&mut s, &d, Answers::default(), &plan_text).unwrap();
    let resolved = resolve(&profile, &d);
    assert_eq!(
        resolved.network.availability_zones,
        crate::profile::AzSpec::Count(3)
    );
    assert_eq!(resolved.cluster.kubernetes_version, None);
    assert!(profile_file(&resolved).contains("availability_zones = 3"));
    // The recommended set-up counts three zones, without the "only N usable" note.
    assert!(!s.said.iter().any(|t| t.contains("usable")), "{:?}", s.said);
    assert_eq!(
        s.rejected,
        Vec::<String>::new(),
        "the suggested address is the public IP"
    );
    assert_eq!(
        resolved.cluster.public_access_cidrs[0].to_string(),
        "198.51.100.7/32"
    );
}

#[test]
fn offline_the_plan_screens_first_choice_saves_and_never_creates() {
    let mut s = offline_fast_path();
    let (_, choice) = run(&mut s, &offline(), Answers::default(), &plan_text).unwrap();
    assert_eq!(choice, Choice::SaveAndQuit);
    let (_, menu) = s.offered.iter().find(|(id, _)| id == "plan").unwrap();
    assert_eq!(
        menu,
        &[
            SAVE_FOR_LATER,
            "Edit an answer",
            "Quit without creating anything"
        ]
    );
    // The last choice still quits.
    let mut s = Script::new(vec![
        ("fast_path", Yes),
        ("name", Text("shop")),
        ("public_access_cidrs", Text("")),
        ("node_mode", Pick(0)),
        ("plan", Pick(2)),
    ]);
    let (_, choice) = run(&mut s, &offline(), Answers::default(), &plan_text).unwrap();
    assert_eq!(choice, Choice::Quit);
}
