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
    assert_eq!(defaults.checklist.len(), 9);
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
