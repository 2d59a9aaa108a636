use super::*;

const MINIMAL: &str = "[cluster]\nname = \"demo\"\nregion = \"us-west-2\"\n";

fn parse(text: &str) -> Result<Profile, ProfileError> {
    Profile::parse(text, Path::new("p.toml"))
}

fn ok(text: &str) -> Profile {
    parse(text).unwrap_or_else(|e| panic!("expected a valid profile, got:\n{e}"))
}

/// The problems of an invalid profile, as rendered lines.
fn problems(text: &str) -> Vec<String> {
    match parse(text) {
        Err(ProfileError::Invalid { problems, .. }) => {
            problems.iter().map(|p| p.to_string()).collect()
        }
        Err(other) => panic!("expected validation problems, got: {other}"),
        Ok(_) => panic!("expected validation problems, profile was accepted:\n{text}"),
    }
}

/// Asserts exactly one problem, on `field`, whose text contains every fragment.
fn one_problem(text: &str, field: &str, fragments: &[&str]) {
    let found = problems(text);
    assert_eq!(found.len(), 1, "expected one problem, got {found:#?}");
    assert!(
        found[0].contains(&format!(": {field}: ")),
        "{:?} should be about {field}",
        found[0]
    );
    for fragment in fragments {
        assert!(
            found[0].contains(fragment),
            "{:?} should contain {fragment:?}",
            found[0]
        );
    }
}

fn with(section: &str, line: &str) -> String {
    // Puts `line` into `section`, creating it after the minimal cluster table.
    if section == "cluster" {
        format!("{MINIMAL}{line}\n")
    } else {
        format!("{MINIMAL}[{section}]\n{line}\n")
    }
}

#[test]
fn minimal_profile_gets_the_documented_safe_defaults() {
    let p = ok(MINIMAL);
    assert_eq!(p.version, 1);
    assert_eq!(p.cluster.kubernetes_version, None);
    assert_eq!(p.cluster.endpoint_access, EndpointAccess::PublicAndPrivate);
    assert_eq!(
        p.cluster.public_access_cidrs,
        vec!["0.0.0.0/0".parse::<Ipv4Net>().unwrap()]
    );
    assert_eq!(p.cluster.log_types, ALL_LOG_TYPES.to_vec());
    assert_eq!(p.cluster.log_retention_days, 90);
    assert!(p.cluster.admins.is_empty());
    assert_eq!(p.cluster.addons, DEFAULT_ADDONS.to_vec());
    assert!(p.cluster.oidc_provider);
    assert_eq!(p.security.creator_role, CreatorRole::Create);
    assert_eq!(p.security.secrets_key, SecretsKey::Create);
    assert_eq!(p.network.pattern, Pattern::PublicAndPrivate);
    assert_eq!(p.network.vpc_cidr.to_string(), "10.0.0.0/16");
    assert_eq!(p.network.availability_zones, AzSpec::Count(2));
    assert_eq!(p.network.nat, Nat::PerAz);
    assert!(p.nodes.enabled);
    assert_eq!(p.nodes.instance_types, ["t3.medium"]);
    assert_eq!(
        (p.nodes.min_size, p.nodes.desired_size, p.nodes.max_size),
        (1, 2, 3)
    );
    assert_eq!(p.nodes.disk_size_gib, 20);
    assert_eq!(p.cluster.support, Support::Standard);
    assert!(p.cluster.deletion_protection);
    assert_eq!(p.security.addon_permissions, AddonPermissions::PodIdentity);
    assert!(p.nodes.auto_repair);
    assert_eq!(p.nodes.os, NodeOs::Al2023);
    assert_eq!(p.addon_roles(), [("vpc-cni", "AmazonEKS_CNI_Policy")]);
}

#[test]
fn private_pattern_defaults_to_no_nat_and_a_private_endpoint_without_cidrs() {
    let p = ok(&with("network", "pattern = \"private\""));
    assert_eq!(p.network.nat, Nat::None);
    assert_eq!(p.cluster.endpoint_access, EndpointAccess::Private);
    assert!(p.cluster.public_access_cidrs.is_empty());
}

#[test]
fn public_pattern_defaults_to_no_nat() {
    let p = ok(&with("network", "pattern = \"public\""));
    assert_eq!(p.network.nat, Nat::None);
    assert_eq!(p.cluster.endpoint_access, EndpointAccess::PublicAndPrivate);
}

#[test]
fn resolved_profile_round_trips_through_toml_with_every_field_written() {
    let p = ok(&with(
        "network",
        "availability_zones = [\"us-west-2a\", \"us-west-2c\"]",
    ));
    let text = p.to_toml();
    for field in [
        "version",
        "name",
        "region",
        "endpoint_access",
        "public_access_cidrs",
        "log_types",
        "log_retention_days",
        "admins",
        "addons",
        "oidc_provider",
        "creator_role",
        "secrets_key",
        "pattern",
        "vpc_cidr",
        "availability_zones",
        "nat",
        "enabled",
        "instance_types",
        "min_size",
        "desired_size",
        "max_size",
        "disk_size_gib",
        "support",
        "deletion_protection",
        "addon_permissions",
        "auto_repair",
        "os",
    ] {
        assert!(
            text.contains(&format!("{field} = ")),
            "{field} missing in:\n{text}"
        );
    }
    assert_eq!(ok(&text), p);
    assert_eq!(ok(&text).content_hash(), p.content_hash());
}

#[test]
fn content_hash_ignores_formatting_but_not_values() {
    let a = ok(MINIMAL);
    let b = ok("# a comment\n[cluster]\nregion = \"us-west-2\"\nname = \"demo\"\n");
    assert_eq!(a.content_hash(), b.content_hash());
    let c = ok(&with("nodes", "desired_size = 3"));
    assert_ne!(a.content_hash(), c.content_hash());
}

// ---- every validation rule: the bad value and the message ----

#[test]
fn version_other_than_one() {
    one_problem(
        &format!("version = 2\n{MINIMAL}"),
        "version",
        &["1:11", "version 2", "allowed: 1"],
    );
}

#[test]
fn name_is_required_and_region_too() {
    let found = problems("[cluster]\n");
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found
        .iter()
        .any(|p| p.contains("cluster.name: is required")));
    assert!(found
        .iter()
        .any(|p| p.contains("cluster.region: is required")));
}

#[test]
fn name_with_bad_characters() {
    one_problem(
        "[cluster]\nname = \"-demo!\"\nregion = \"us-west-2\"\n",
        "cluster.name",
        &[
            "2:8",
            "\"-demo!\" is not a valid cluster name",
            "starting with a letter or digit",
        ],
    );
}

#[test]
fn name_longer_than_55() {
    let name = "a".repeat(56);
    one_problem(
        &format!("[cluster]\nname = \"{name}\"\nregion = \"us-west-2\"\n"),
        "cluster.name",
        &["56 characters", "63", "at most 55"],
    );
    ok(&format!(
        "[cluster]\nname = \"{}\"\nregion = \"us-west-2\"\n",
        "a".repeat(55)
    ));
}

#[test]
fn malformed_region() {
    for bad in ["uswest2", "US-WEST-2", "us-west", "us-west-2a"] {
        one_problem(
            &format!("[cluster]\nname = \"demo\"\nregion = \"{bad}\"\n"),
            "cluster.region",
            &["3:10", "is not an AWS region name"],
        );
    }
    ok("[cluster]\nname = \"demo\"\nregion = \"us-gov-west-1\"\n");
}

#[test]
fn invalid_vpc_cidr() {
    one_problem(
        &with("network", "vpc_cidr = \"10.0.0.0/33\""),
        "network.vpc_cidr",
        &["5:12", "is not an IPv4 CIDR block"],
    );
    one_problem(
        &with("network", "vpc_cidr = \"10.0.3.0/16\""),
        "network.vpc_cidr",
        &["host bits set", "10.0.0.0/16"],
    );
}

#[test]
fn vpc_prefix_outside_16_to_20() {
    for bad in ["10.0.0.0/8", "10.0.0.0/24"] {
        one_problem(
            &with("network", &format!("vpc_cidr = \"{bad}\"")),
            "network.vpc_cidr",
            &["a prefix from /16 to /20"],
        );
    }
    ok(&with("network", "vpc_cidr = \"10.0.0.0/20\""));
}

#[test]
fn az_count_outside_two_to_three() {
    for bad in ["1", "4"] {
        one_problem(
            &with("network", &format!("availability_zones = {bad}")),
            "network.availability_zones",
            &["2 or 3"],
        );
    }
}

#[test]
fn duplicate_or_foreign_az_names() {
    one_problem(
        &with(
            "network",
            "availability_zones = [\"us-west-2a\", \"us-west-2a\"]",
        ),
        "network.availability_zones",
        &["\"us-west-2a\" is listed twice"],
    );
    one_problem(
        &with(
            "network",
            "availability_zones = [\"us-west-2a\", \"us-east-1b\"]",
        ),
        "network.availability_zones",
        &["\"us-east-1b\" is not an availability zone of us-west-2"],
    );
    one_problem(
        &with("network", "availability_zones = [\"us-west-2a\"]"),
        "network.availability_zones",
        &["1 AZ names given"],
    );
}

#[test]
fn availability_zones_of_the_wrong_type() {
    match parse(&with("network", "availability_zones = \"two\"")) {
        Err(ProfileError::Syntax { line, message, .. }) => {
            assert_eq!(line, 5);
            assert!(
                message.contains("a number (2 or 3) or a list of AZ names"),
                "{message}"
            );
        }
        other => panic!("expected a syntax error, got {other:?}"),
    }
}

#[test]
fn nat_with_public_or_private_pattern() {
    for pattern in ["public", "private"] {
        one_problem(
            &with(
                "network",
                &format!("pattern = \"{pattern}\"\nnat = \"per-az\""),
            ),
            "network.nat",
            &[
                "\"per-az\" needs public and private subnets",
                "allowed: \"none\"",
            ],
        );
    }
    ok(&with("network", "pattern = \"private\"\nnat = \"none\""));
}

#[test]
fn unknown_enum_words_list_what_is_allowed() {
    one_problem(
        &with("network", "pattern = \"hybrid\""),
        "network.pattern",
        &[
            "\"hybrid\" is not a known value",
            "\"public\", \"private\", \"public-and-private\"",
        ],
    );
    one_problem(
        &with("network", "nat = \"double\""),
        "network.nat",
        &["\"per-az\", \"single\", \"none\""],
    );
    one_problem(
        &with("cluster", "endpoint_access = \"open\""),
        "cluster.endpoint_access",
        &["\"public\", \"private\", \"public-and-private\""],
    );
}

#[test]
fn private_pattern_with_public_endpoint() {
    one_problem(
        &format!("{MINIMAL}endpoint_access = \"public\"\n[network]\npattern = \"private\"\n"),
        "cluster.endpoint_access",
        &["nodes without internet can only reach a private endpoint"],
    );
    ok(&format!(
        "{MINIMAL}endpoint_access = \"public-and-private\"\n[network]\npattern = \"private\"\n"
    ));
}

#[test]
fn public_endpoint_restricted_while_nodes_are_private() {
    one_problem(
        &with(
            "cluster",
            "endpoint_access = \"public\"\npublic_access_cidrs = [\"203.0.113.0/24\"]",
        ),
        "cluster.public_access_cidrs",
        &["NAT addresses", "public-and-private"],
    );
    // Fine when nodes are public, when nodes are off, or when the endpoint is also private.
    ok(&format!(
        "{MINIMAL}endpoint_access = \"public\"\npublic_access_cidrs = [\"203.0.113.0/24\"]\n[network]\npattern = \"public\"\n"
    ));
    ok(&format!(
        "{MINIMAL}endpoint_access = \"public\"\npublic_access_cidrs = [\"203.0.113.0/24\"]\n[nodes]\nenabled = false\n"
    ));
    ok(&with(
        "cluster",
        "endpoint_access = \"public-and-private\"\npublic_access_cidrs = [\"203.0.113.0/24\"]",
    ));
}

#[test]
fn no_nat_with_public_and_private_and_nodes() {
    one_problem(
        &with("network", "nat = \"none\""),
        "network.nat",
        &["cannot pull images", "\"per-az\""],
    );
    ok(&format!(
        "{MINIMAL}[network]\nnat = \"none\"\n[nodes]\nenabled = false\n"
    ));
}

#[test]
fn mixed_cpu_architectures() {
    one_problem(
        &with("nodes", "instance_types = [\"m6i.large\", \"m7g.large\"]"),
        "nodes.instance_types",
        &["mixes x86_64 and arm64"],
    );
    ok(&with(
        "nodes",
        "instance_types = [\"m7g.large\", \"c7g.large\", \"t4g.medium\"]",
    ));
}

#[test]
fn public_cidrs_written_out_with_private_endpoint() {
    one_problem(
        &with(
            "cluster",
            "endpoint_access = \"private\"\npublic_access_cidrs = [\"0.0.0.0/0\"]",
        ),
        "cluster.public_access_cidrs",
        &["the endpoint is private"],
    );
    let p = ok(&with("cluster", "endpoint_access = \"private\""));
    assert!(p.cluster.public_access_cidrs.is_empty());
}

#[test]
fn invalid_public_access_cidr_points_at_the_element() {
    one_problem(
        &with(
            "cluster",
            "public_access_cidrs = [\"1.2.3.4/32\", \"nope\"]",
        ),
        "cluster.public_access_cidrs",
        &["4:38", "\"nope\" is not an IPv4 CIDR block"],
    );
}

#[test]
fn unknown_log_type() {
    one_problem(
        &with("cluster", "log_types = [\"api\", \"kubelet\"]"),
        "cluster.log_types",
        &[
            "\"kubelet\" is not an EKS control-plane log type",
            "\"controllerManager\"",
        ],
    );
}

#[test]
fn retention_cloudwatch_does_not_accept() {
    one_problem(
        &with("cluster", "log_retention_days = 42"),
        "cluster.log_retention_days",
        &["42 is not a retention period", "3653"],
    );
    ok(&with("cluster", "log_retention_days = 731"));
}

#[test]
fn malformed_arns() {
    one_problem(
        &with("cluster", "admins = [\"arn:aws:iam::123:role/x\"]"),
        "cluster.admins",
        &["is not an IAM user or role ARN"],
    );
    one_problem(
        &with("security", "creator_role = \"my-role\""),
        "security.creator_role",
        &["is not an IAM role ARN", "\"create\""],
    );
    one_problem(
        &with("security", "secrets_key = \"arn:aws:s3:::bucket\""),
        "security.secrets_key",
        &["is not a KMS key ARN"],
    );
    one_problem(
        &with(
            "security",
            "secrets_key = \"arn:aws:kms:eu-west-1:123456789012:key/abc\"",
        ),
        "security.secrets_key",
        &["the key is in eu-west-1, but the cluster is in us-west-2"],
    );
    let p = ok(&format!(
        "{MINIMAL}admins = [\"arn:aws:iam::123456789012:user/alice\", \"arn:aws:iam::123456789012:role/team/ops\"]\n\
         [security]\ncreator_role = \"arn:aws:iam::123456789012:role/creator\"\n\
         secrets_key = \"arn:aws:kms:us-west-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab\"\n"
    ));
    assert_eq!(
        p.security.creator_role.existing_arn(),
        Some("arn:aws:iam::123456789012:role/creator")
    );
}

#[test]
fn node_sizes_out_of_order() {
    one_problem(
        &with("nodes", "min_size = 3\ndesired_size = 2\nmax_size = 4"),
        "nodes",
        &[
            "min 3, desired 2, max 4",
            "0 ≤ min_size ≤ desired_size ≤ max_size",
        ],
    );
    one_problem(
        &with("nodes", "desired_size = 5\nmax_size = 4"),
        "nodes",
        &["out of order"],
    );
    ok(&with(
        "nodes",
        "min_size = 0\ndesired_size = 0\nmax_size = 1",
    ));
}

#[test]
fn max_size_zero() {
    one_problem(
        &with("nodes", "min_size = 0\ndesired_size = 0\nmax_size = 0"),
        "nodes.max_size",
        &["at least one node"],
    );
}

#[test]
fn negative_sizes() {
    let found = problems(&with("nodes", "min_size = -1"));
    assert!(
        found
            .iter()
            .any(|p| p.contains("nodes.min_size: -1 is out of range")),
        "{found:?}"
    );
}

#[test]
fn empty_or_malformed_instance_types() {
    one_problem(
        &with("nodes", "instance_types = []"),
        "nodes.instance_types",
        &["is empty"],
    );
    one_problem(
        &with("nodes", "instance_types = [\"large\"]"),
        "nodes.instance_types",
        &["\"large\" is not an EC2 instance type"],
    );
}

#[test]
fn addons_unknown_names_allowed_empty_not() {
    let p = ok(&with(
        "cluster",
        "addons = [\"vpc-cni\", \"aws-ebs-csi-driver\", \"something-new\"]",
    ));
    assert_eq!(p.cluster.addons.len(), 3);
    one_problem(
        &with("cluster", "addons = [\"vpc-cni\", \"\"]"),
        "cluster.addons",
        &["contains an empty name"],
    );
}

#[test]
fn kubernetes_version_format() {
    one_problem(
        &with("cluster", "kubernetes_version = \"latest\""),
        "cluster.kubernetes_version",
        &["is not a Kubernetes minor version"],
    );
    assert_eq!(
        ok(&with("cluster", "kubernetes_version = \"1.33\""))
            .cluster
            .kubernetes_version
            .as_deref(),
        Some("1.33")
    );
}

#[test]
fn small_disks() {
    one_problem(
        &with("nodes", "disk_size_gib = 8"),
        "nodes.disk_size_gib",
        &["needs 20"],
    );
}

#[test]
fn unknown_keys_are_errors_with_position() {
    match parse(&with("network", "vpc_cird = \"10.0.0.0/16\"")) {
        Err(e @ ProfileError::Syntax { .. }) => {
            let text = e.to_string();
            assert!(text.starts_with("p.toml:5:1:"), "{text}");
            assert!(text.contains("unknown field `vpc_cird`"), "{text}");
            assert!(text.contains("vpc_cidr"), "{text}");
        }
        other => panic!("expected a syntax error, got {other:?}"),
    }
    assert!(matches!(
        parse(&format!("{MINIMAL}[extra]\n")),
        Err(ProfileError::Syntax { .. })
    ));
}

#[test]
fn wrong_types_and_broken_toml_name_the_position() {
    match parse(&with("nodes", "min_size = \"one\"")) {
        Err(ProfileError::Syntax { line, .. }) => assert_eq!(line, 5),
        other => panic!("{other:?}"),
    }
    match parse("[cluster\nname = 1") {
        Err(e @ ProfileError::Syntax { .. }) => assert!(e.to_string().starts_with("p.toml:1:")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn every_problem_is_reported_not_just_the_first() {
    let text = "version = 3\n[cluster]\nname = \"bad name\"\nregion = \"nowhere\"\nlog_retention_days = 2\n\
                [network]\nvpc_cidr = \"10.0.0.0/8\"\n[nodes]\ninstance_types = []\n";
    let found = problems(text);
    assert_eq!(found.len(), 6, "{found:#?}");
    let rendered = parse(text).unwrap_err().to_string();
    assert!(rendered.starts_with("p.toml has 6 problems:"), "{rendered}");
    // Sorted by position, each naming the file.
    assert!(rendered.lines().skip(1).all(|l| l.starts_with("  p.toml:")));
    assert!(found[0].starts_with("1:11: version"));
}

#[test]
fn line_column_counts_characters() {
    assert_eq!(line_column("ab\ncdé\nx", 0), (1, 1));
    assert_eq!(line_column("ab\ncdé\nx", 3), (2, 1));
    assert_eq!(line_column("ab\ncdé\nx", 7), (2, 4));
    assert_eq!(line_column("ab\ncdé\nx", 8), (3, 1));
}

#[test]
fn shipped_example_profiles_are_valid() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles");
    let dev = Profile::load(&dir.join("dev.toml")).unwrap();
    assert_eq!(dev.network.pattern, Pattern::Public);
    assert_eq!(dev.network.availability_zones.count(), 2);
    let prod = Profile::load(&dir.join("production.toml")).unwrap();
    assert_eq!(prod.network.pattern, Pattern::PublicAndPrivate);
    assert_eq!(prod.network.availability_zones.count(), 3);
    assert_eq!(prod.network.nat, Nat::PerAz);
    assert_eq!(
        prod.cluster.endpoint_access,
        EndpointAccess::PublicAndPrivate
    );
    assert!(prod
        .cluster
        .public_access_cidrs
        .iter()
        .all(|c| c.prefix_len() > 0));
    let private = Profile::load(&dir.join("private.toml")).unwrap();
    assert_eq!(private.network.pattern, Pattern::Private);
    assert_eq!(private.cluster.endpoint_access, EndpointAccess::Private);
}

#[test]
fn permissions_boundary_is_a_managed_policy_of_the_clusters_partition() {
    assert_eq!(ok(MINIMAL).security.permissions_boundary, None);
    for arn in [
        "arn:aws:iam::123456789012:policy/eks-boundary",
        "arn:aws:iam::123456789012:policy/team/platform/eks-boundary",
        "arn:aws:iam::aws:policy/PowerUserAccess",
    ] {
        let p = ok(&with(
            "security",
            &format!("permissions_boundary = \"{arn}\""),
        ));
        assert_eq!(p.security.permissions_boundary.as_deref(), Some(arn));
    }
    // China's partition for a China region.
    let cn = "[cluster]\nname = \"demo\"\nregion = \"cn-north-1\"\n[security]\npermissions_boundary = \"arn:aws-cn:iam::123456789012:policy/b\"\n";
    assert!(ok(cn).security.permissions_boundary.is_some());

    for bad in [
        "arn:aws:iam::123456789012:role/eks-boundary",
        "arn:aws:iam::123456789012:policy/",
        "arn:aws:iam::123456789012:policy/trailing/",
        "arn:aws:iam:us-west-2:123456789012:policy/b",
        "arn:aws:s3:::bucket",
        "arn:aws:iam::12345:policy/b",
        "eks-boundary",
    ] {
        one_problem(
            &with("security", &format!("permissions_boundary = \"{bad}\"")),
            "security.permissions_boundary",
            &[
                "is not an IAM managed policy ARN",
                "5:24",
                "arn:aws:iam::123456789012:policy/",
            ],
        );
    }
    one_problem(
        &with(
            "security",
            "permissions_boundary = \"arn:aws-cn:iam::123456789012:policy/b\"",
        ),
        "security.permissions_boundary",
        &["aws-cn partition", "us-west-2 is in aws"],
    );
    let wrong_type = parse(&with("security", "permissions_boundary = 3")).unwrap_err();
    assert!(wrong_type.to_string().contains("5:24"), "{wrong_type}");
}

#[test]
fn permissions_boundary_is_written_only_when_set() {
    let none = ok(MINIMAL);
    assert!(!none.to_toml().contains("permissions_boundary"));
    let arn = "arn:aws:iam::123456789012:policy/eks-boundary";
    let with_boundary = ok(&with(
        "security",
        &format!("permissions_boundary = \"{arn}\""),
    ));
    let text = with_boundary.to_toml();
    assert!(
        text.contains(&format!("permissions_boundary = \"{arn}\"")),
        "{text}"
    );
    assert_eq!(ok(&text), with_boundary);
    assert_ne!(with_boundary.content_hash(), none.content_hash());
}

/// A state file keeps the profile it was made from; resume and teardown read it back. A profile
/// without a boundary serialises as it did before the field existed (the fields of issue 23
/// aside: an older state lacks those too and reads their old meaning, see `fill_legacy`).
#[test]
fn a_profile_without_a_boundary_hashes_as_before_the_field_existed() {
    use sha2::{Digest, Sha256};
    // The minimal profile as the previous release serialised it for its content hash.
    let before = r#"{"version":1,"cluster":{"name":"demo","region":"us-west-2","endpoint_access":"public-and-private","public_access_cidrs":["0.0.0.0/0"],"log_types":["api","audit","authenticator","controllerManager","scheduler"],"log_retention_days":90,"admins":[],"addons":["vpc-cni","kube-proxy","coredns","eks-pod-identity-agent"],"oidc_provider":true},"security":{"creator_role":"create","secrets_key":"create"},"network":{"pattern":"public-and-private","vpc_cidr":"10.0.0.0/16","availability_zones":2,"nat":"per-az"},"nodes":{"enabled":true,"instance_types":["t3.medium"],"min_size":1,"desired_size":2,"max_size":3,"disk_size_gib":20}}"#;
    let old_hash = format!("{:x}", Sha256::digest(before.as_bytes()));
    // Without the newer fields, the minimal profile serialises exactly as then.
    let without_newer = |profile: &Profile| {
        let mut value = serde_json::to_value(profile).unwrap();
        for (section, key, _) in LEGACY_MEANINGS {
            value[section].as_object_mut().unwrap().shift_remove(key);
        }
        serde_json::to_string(&value).unwrap()
    };
    assert_eq!(without_newer(&ok(MINIMAL)), before);
    // A state file keeps those settings; resume and teardown read them back as a profile
    // (the old meanings filled in, JSON to TOML, then parsed): no boundary, nothing else moved.
    let mut settings: serde_json::Value = serde_json::from_str(before).unwrap();
    fill_legacy(&mut settings);
    let stored = ok(&toml::to_string(&settings).unwrap());
    assert_eq!(stored.security.permissions_boundary, None);
    assert_eq!(without_newer(&stored), before);
    // The hash covers the newer fields: a stored profile with their old meaning is not the
    // new profile (create and resume tell the two apart by the fields the file writes).
    assert_ne!(stored.content_hash(), old_hash);
    assert_ne!(stored.content_hash(), ok(MINIMAL).content_hash());
}

// ---- the safe-defaults fields (issue 23) ----

#[test]
fn the_safety_fields_parse_and_their_words_are_checked() {
    let p = ok(&format!(
        "{MINIMAL}support = \"extended\"\ndeletion_protection = false\naddons = [\"vpc-cni\", \"eks-pod-identity-agent\", \"aws-ebs-csi-driver\"]\n[security]\naddon_permissions = \"node-role\"\n[nodes]\ninstance_types = [\"m7g.large\"]\nauto_repair = false\nos = \"bottlerocket\"\n"
    ));
    assert_eq!(p.cluster.support, Support::Extended);
    assert_eq!(p.cluster.support.eks_name(), "EXTENDED");
    assert!(!p.cluster.deletion_protection);
    assert_eq!(p.security.addon_permissions, AddonPermissions::NodeRole);
    assert!(p.addon_roles().is_empty(), "no roles with the node role");
    assert!(!p.nodes.auto_repair);
    assert_eq!(p.nodes.os, NodeOs::Bottlerocket);
    assert_eq!(
        p.nodes
            .os
            .ami_type(instance_arch(&p.nodes.instance_types[0])),
        "BOTTLEROCKET_ARM_64"
    );
    assert_eq!(
        NodeOs::Bottlerocket.ami_type("x86_64"),
        "BOTTLEROCKET_x86_64"
    );
    assert_eq!(NodeOs::Al2023.ami_type("arm64"), "AL2023_ARM_64_STANDARD");
    // Every new field round-trips through the saved form.
    assert_eq!(ok(&p.to_toml()), p);

    one_problem(
        &with("cluster", "support = \"forever\""),
        "cluster.support",
        &[
            "\"forever\" is not a known value",
            "\"standard\", \"extended\"",
        ],
    );
    one_problem(
        &with("nodes", "os = \"ubuntu\""),
        "nodes.os",
        &["\"al2023\", \"bottlerocket\""],
    );
    one_problem(
        &with("security", "addon_permissions = \"irsa\""),
        "security.addon_permissions",
        &["\"pod-identity\", \"node-role\""],
    );
    let typed = parse(&with("cluster", "deletion_protection = \"yes\""))
        .unwrap_err()
        .to_string();
    assert!(typed.contains("expected a boolean"), "{typed}");
}

#[test]
fn pod_identity_is_the_default_with_its_agent_and_needs_it_when_written() {
    // With the agent (the default add-ons): every add-on that calls AWS gets a role.
    let p = ok(&with(
        "cluster",
        "addons = [\"vpc-cni\", \"coredns\", \"eks-pod-identity-agent\", \"aws-ebs-csi-driver\"]",
    ));
    assert_eq!(p.security.addon_permissions, AddonPermissions::PodIdentity);
    assert_eq!(
        p.addon_roles(),
        [
            ("vpc-cni", "AmazonEKS_CNI_Policy"),
            ("aws-ebs-csi-driver", "AmazonEBSCSIDriverPolicy")
        ]
    );
    // Without it: the node role, unless pod-identity is written (then refused, with the fix).
    let p = ok(&with("cluster", "addons = [\"vpc-cni\", \"coredns\"]"));
    assert_eq!(p.security.addon_permissions, AddonPermissions::NodeRole);
    one_problem(
        &format!(
            "{MINIMAL}addons = [\"vpc-cni\", \"coredns\"]\n[security]\naddon_permissions = \"pod-identity\"\n"
        ),
        "security.addon_permissions",
        &[
            "\"pod-identity\" needs \"eks-pod-identity-agent\" in cluster.addons",
            "add \"eks-pod-identity-agent\" to cluster.addons, or \"node-role\"",
        ],
    );
}

#[test]
fn a_state_written_before_the_fields_reads_their_old_meaning() {
    // A state file's stored profile from before: none of the newer fields.
    let old = ok(MINIMAL);
    let mut settings = serde_json::to_value(&old).unwrap();
    for (section, key, _) in LEGACY_MEANINGS {
        settings[section].as_object_mut().unwrap().shift_remove(key);
    }
    let filled = fill_legacy(&mut settings);
    assert_eq!(
        filled,
        [
            "cluster.support",
            "cluster.deletion_protection",
            "security.addon_permissions",
            "nodes.auto_repair",
            "nodes.os",
            "nodes.mode"
        ]
    );
    let read = ok(&toml::to_string(&settings).unwrap());
    assert_eq!(read.cluster.support, Support::Extended);
    assert!(!read.cluster.deletion_protection);
    assert_eq!(read.security.addon_permissions, AddonPermissions::NodeRole);
    assert!(!read.nodes.auto_repair);
    assert_eq!(read.nodes.os, NodeOs::Al2023);
    // Everything else is what it was.
    let mut back = read.clone();
    back.cluster.support = old.cluster.support;
    back.cluster.deletion_protection = old.cluster.deletion_protection;
    back.security.addon_permissions = old.security.addon_permissions;
    back.nodes.auto_repair = old.nodes.auto_repair;
    assert_eq!(back, old);
    // A field the state has keeps its value; a second fill changes nothing.
    let mut newer = serde_json::to_value(&old).unwrap();
    newer["cluster"].as_object_mut().unwrap().remove("support");
    assert_eq!(fill_legacy(&mut newer), ["cluster.support"]);
    assert_eq!(newer["cluster"]["deletion_protection"], true);
    assert!(fill_legacy(&mut newer).is_empty());
}

// ---- EKS Auto Mode (issue 24) ----

const AUTO: &str = "[cluster]\nname = \"demo\"\nregion = \"us-west-2\"\n[nodes]\nmode = \"auto\"\n";

#[test]
fn managed_is_the_default_mode_and_node_pools_belong_to_auto_mode() {
    let p = ok(MINIMAL);
    assert_eq!(p.nodes.mode, NodeMode::Managed);
    assert!(p.nodes.node_pools.is_empty());
    assert!(p.node_group() && p.has_nodes() && !p.auto_mode());
    one_problem(
        &with("nodes", "node_pools = [\"system\"]"),
        "nodes.node_pools",
        &["Auto Mode's", "set nodes.mode = \"auto\""],
    );
    one_problem(
        &with("nodes", "mode = \"fargate\""),
        "nodes.mode",
        &["\"fargate\" is not a known value", "\"managed\", \"auto\""],
    );
}

#[test]
fn auto_mode_defaults_to_both_node_pools_no_add_ons_and_pod_identity() {
    let p = ok(AUTO);
    assert!(p.auto_mode() && p.has_nodes() && !p.node_group());
    assert_eq!(p.nodes.node_pools, ["general-purpose", "system"]);
    assert!(p.cluster.addons.is_empty());
    assert_eq!(p.security.addon_permissions, AddonPermissions::PodIdentity);
    assert!(p.addon_roles().is_empty());
    // Written in any order, the pools are kept in EKS's order; others may be listed.
    let p = ok("[cluster]\nname = \"demo\"\nregion = \"us-west-2\"\naddons = [\"metrics-server\"]\n[nodes]\nmode = \"auto\"\nnode_pools = [\"system\", \"general-purpose\"]\n");
    assert_eq!(p.nodes.node_pools, ["general-purpose", "system"]);
    assert_eq!(p.cluster.addons, ["metrics-server"]);
}

#[test]
fn auto_mode_refuses_each_node_group_field_with_its_reason() {
    let text = format!(
        "{AUTO}instance_types = [\"m5.large\"]\nmin_size = 1\ndesired_size = 2\nmax_size = 3\ndisk_size_gib = 50\nauto_repair = true\nos = \"bottlerocket\"\nenabled = true\n"
    );
    let found = problems(&text);
    assert_eq!(found.len(), 8, "{found:#?}");
    for (field, why) in [
        ("instance_types", "chooses instance types"),
        ("min_size", "scales nodes"),
        ("desired_size", "scales nodes"),
        ("max_size", "scales nodes"),
        ("disk_size_gib", "node class"),
        ("auto_repair", "repairs its nodes"),
        ("os", "Bottlerocket"),
        ("enabled", "always runs nodes"),
    ] {
        assert!(
            found.iter().any(
                |p| p.contains(&format!(": nodes.{field}: is chosen by Auto Mode"))
                    && p.contains(why)
            ),
            "nodes.{field}: {found:#?}"
        );
    }
}

#[test]
fn auto_mode_refuses_empty_unknown_or_repeated_pools_its_own_add_ons_and_old_versions() {
    one_problem(
        &format!("{AUTO}node_pools = []\n"),
        "nodes.node_pools",
        &["is empty"],
    );
    one_problem(
        &format!("{AUTO}node_pools = [\"gpu\"]\n"),
        "nodes.node_pools",
        &["\"gpu\" is not one of Auto Mode's built-in node pools"],
    );
    one_problem(
        &format!("{AUTO}node_pools = [\"system\", \"system\"]\n"),
        "nodes.node_pools",
        &["listed twice"],
    );
    let text = "[cluster]\nname = \"demo\"\nregion = \"us-west-2\"\naddons = [\"coredns\", \"metrics-server\"]\n[nodes]\nmode = \"auto\"\n";
    one_problem(
        text,
        "cluster.addons",
        &["\"coredns\" is run by Auto Mode itself"],
    );
    let text = "[cluster]\nname = \"demo\"\nregion = \"us-west-2\"\nkubernetes_version = \"1.28\"\n[nodes]\nmode = \"auto\"\n";
    one_problem(
        text,
        "cluster.kubernetes_version",
        &["1.28 is older than EKS Auto Mode supports", "1.29 or later"],
    );
    let text =
        "[cluster]\nname = \"demo\"\nregion = \"us-west-2\"\nkubernetes_version = \"1.28\"\n";
    assert_eq!(ok(text).cluster.kubernetes_version.as_deref(), Some("1.28"));
}

#[test]
fn an_auto_mode_profile_saves_only_mode_and_pools_and_reads_back_the_same() {
    let p = ok(&format!("{AUTO}node_pools = [\"general-purpose\"]\n"));
    let saved = p.to_toml();
    let nodes = saved.split("[nodes]").nth(1).unwrap();
    assert_eq!(
        nodes.trim(),
        "mode = \"auto\"\nnode_pools = [\"general-purpose\"]",
        "{saved}"
    );
    assert_eq!(ok(&saved), p);
    // Its stored settings (a state file's) fill no old meaning into the nodes.
    let mut settings = serde_json::to_value(&p).unwrap();
    assert!(fill_legacy(&mut settings).is_empty());
    assert_eq!(ok(&toml::to_string(&settings).unwrap()), p);
    // A managed profile writes its mode too.
    assert!(ok(MINIMAL)
        .to_toml()
        .contains("[nodes]\nmode = \"managed\"\n"));
}

#[test]
fn a_state_key_is_a_key_arn_beside_a_state_in_s3_and_not_part_of_the_cluster() {
    let key = "arn:aws:kms:eu-west-1:123456789012:key/0b1c-22";
    let with_key = ok(&format!(
        "state = \"s3://team-eksboot\"\nstate_kms_key = \"{key}\"\n{MINIMAL}"
    ));
    assert_eq!(with_key.state_kms_key.as_deref(), Some(key));
    assert_eq!(with_key.content_hash(), ok(MINIMAL).content_hash());
    let saved = toml::to_string(&with_key).unwrap();
    assert!(
        saved.contains(&format!("state_kms_key = \"{key}\"\n")),
        "{saved}"
    );
    for (bad, says) in [
        (
            "arn:aws:kms:eu-west-1:123456789012:alias/state",
            "is an alias",
        ),
        ("alias/state", "is not a KMS key ARN"),
        ("arn:aws:s3:::team-eksboot", "is not a KMS key ARN"),
        (
            "arn:aws:kms:eu-west-1:123456789012:key/",
            "is not a KMS key ARN",
        ),
    ] {
        let text = format!("state = \"s3://team-eksboot\"\nstate_kms_key = \"{bad}\"\n{MINIMAL}");
        let problems = problems(&text);
        assert!(
            problems
                .iter()
                .any(|p| p.contains("state_kms_key") && p.contains(says)),
            "{bad}: {problems:?}"
        );
    }
    let alone = problems(&format!("state_kms_key = \"{key}\"\n{MINIMAL}"));
    assert!(alone.iter().any(|p| p.contains("no `state")), "{alone:?}");
}

#[test]
fn state_in_s3_is_an_address_kept_out_of_the_clusters_hash() {
    let local = ok(MINIMAL);
    assert_eq!(local.state, None);
    let shared = ok(&format!(
        "state = \"s3://team-eksboot/clusters/\"\n{MINIMAL}"
    ));
    assert_eq!(shared.state.as_deref(), Some("s3://team-eksboot/clusters"));
    // Where the state lives is not what the cluster is: moving it changes nothing.
    assert_eq!(shared.content_hash(), local.content_hash());
    assert_eq!(
        crate::apply::journal::profile_state_path(&shared),
        Path::new("s3://team-eksboot/clusters/demo-us-west-2.state.json")
    );
    assert_eq!(
        crate::apply::journal::profile_state_path(&local),
        Path::new("./.eksboot/demo-us-west-2.state.json")
    );
    // Saved with the profile, and read back the same.
    let saved = toml::to_string(&shared).unwrap();
    assert!(
        saved.starts_with("version = 1\nstate = \"s3://team-eksboot/clusters\"\n"),
        "{saved}"
    );
    for bad in [
        "team-eksboot",
        "s3://",
        "s3://Team_Bucket/x",
        "https://x.s3.amazonaws.com/y",
    ] {
        one_problem(
            &format!("state = \"{bad}\"\n{MINIMAL}"),
            "state",
            &["not an S3 bucket address", "s3://BUCKET/PREFIX"],
        );
    }
}
