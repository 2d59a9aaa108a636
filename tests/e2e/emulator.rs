//! The emulator extension itself: the EKS operations moto lacks behave like EKS, and waiting
//! states pass through the state manager. Checked through the SDK, on a server of its own
//! (transitions are server-wide).

use std::time::Duration;

use aws_sdk_eks::types::{
    AccessScope, AccessScopeType, AuthenticationMode, CreateAccessConfigRequest, VpcConfigRequest,
};

use crate::harness::{block_on, Account};

/// Waits until cluster `name` is ACTIVE.
pub async fn cluster_active(eks: &aws_sdk_eks::Client, name: &str) {
    loop {
        let c = eks.describe_cluster().name(name).send().await.unwrap();
        if c.cluster().and_then(|c| c.status()).map(|s| s.as_str()) == Some("ACTIVE") {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until update `id` of cluster `name` is Successful.
pub async fn update_done(eks: &aws_sdk_eks::Client, name: &str, id: &str) {
    loop {
        let u = eks
            .describe_update()
            .name(name)
            .update_id(id)
            .send()
            .await
            .unwrap();
        if u.update().and_then(|u| u.status()).map(|s| s.as_str()) == Some("Successful") {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// What CreateCluster and CreateNodegroup need to exist, as EKS checks it (emulator/aws_rules.py):
/// a cluster role trusting eks.amazonaws.com, a node role trusting ec2.amazonaws.com, and two
/// subnets of a VPC whose default route leads to an internet gateway (so nodes reach AWS).
pub struct Real {
    pub cluster_role: String,
    pub node_role: String,
    pub subnets: Vec<String>,
}

/// Makes `Real` in `account` through the SDK (IAM, and EC2 in us-west-2).
pub async fn real_roles_and_subnets(account: &Account) -> Real {
    let iam = aws_sdk_iam::Client::new(&account.sdk("us-east-1"));
    let ec2 = aws_sdk_ec2::Client::new(&account.sdk("us-west-2"));
    let trust = |service: &str| {
        serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]
        })
        .to_string()
    };
    let mut roles = Vec::new();
    for (name, service) in [
        ("eks-cluster", "eks.amazonaws.com"),
        ("eks-node", "ec2.amazonaws.com"),
    ] {
        let role = iam
            .create_role()
            .role_name(name)
            .assume_role_policy_document(trust(service))
            .send()
            .await
            .unwrap();
        roles.push(role.role().unwrap().arn().to_string());
    }
    let vpc = ec2
        .create_vpc()
        .cidr_block("10.0.0.0/16")
        .send()
        .await
        .unwrap();
    let vpc = vpc.vpc().unwrap().vpc_id().unwrap().to_string();
    let igw = ec2.create_internet_gateway().send().await.unwrap();
    let igw = igw
        .internet_gateway()
        .unwrap()
        .internet_gateway_id()
        .unwrap()
        .to_string();
    ec2.attach_internet_gateway()
        .internet_gateway_id(&igw)
        .vpc_id(&vpc)
        .send()
        .await
        .unwrap();
    let table = ec2.create_route_table().vpc_id(&vpc).send().await.unwrap();
    let table = table
        .route_table()
        .unwrap()
        .route_table_id()
        .unwrap()
        .to_string();
    ec2.create_route()
        .route_table_id(&table)
        .destination_cidr_block("0.0.0.0/0")
        .gateway_id(&igw)
        .send()
        .await
        .unwrap();
    let mut subnets = Vec::new();
    for (i, az) in ["us-west-2a", "us-west-2b"].iter().enumerate() {
        let subnet = ec2
            .create_subnet()
            .vpc_id(&vpc)
            .cidr_block(format!("10.0.{i}.0/24"))
            .availability_zone(*az)
            .send()
            .await
            .unwrap();
        let subnet = subnet.subnet().unwrap().subnet_id().unwrap().to_string();
        ec2.associate_route_table()
            .route_table_id(&table)
            .subnet_id(&subnet)
            .send()
            .await
            .unwrap();
        // Public subnets map public addresses, or nodes in them cannot reach AWS.
        ec2.modify_subnet_attribute()
            .subnet_id(&subnet)
            .map_public_ip_on_launch(
                aws_sdk_ec2::types::AttributeBooleanValue::builder()
                    .value(true)
                    .build(),
            )
            .send()
            .await
            .unwrap();
        subnets.push(subnet);
    }
    Real {
        cluster_role: roles[0].clone(),
        node_role: roles[1].clone(),
        subnets,
    }
}

#[test]
fn eks_extension_keeps_state_and_raises_real_errors() {
    let account = Account::new();
    // The cluster stays CREATING (then DELETING) until released: no window to catch.
    let hold = |kind: &str, hold: bool| {
        crate::harness::post(
            &account.endpoint,
            "/eksboot-moto/hold-creation",
            &format!(
                r#"{{"account": "{}", "kind": "{kind}", "hold": {hold}}}"#,
                account.id
            ),
        )
    };
    hold("cluster", true);
    hold("cluster-deletion", true);
    let config = account.sdk("us-west-2");
    let eks = aws_sdk_eks::Client::new(&config);
    block_on(async {
        let real = real_roles_and_subnets(&account).await;
        let versions = eks.describe_cluster_versions().send().await.unwrap();
        assert!(versions
            .cluster_versions()
            .iter()
            .any(|v| v.cluster_version() == Some("1.33")));

        let missing = crate::harness::all_access_entries(&eks, "nope")
            .await
            .unwrap_err();
        assert_eq!(
            aws_smithy_types::error::metadata::ProvideErrorMetadata::code(&missing),
            Some("ResourceNotFoundException")
        );

        let created = eks
            .create_cluster()
            .name("demo")
            .role_arn(&real.cluster_role)
            .resources_vpc_config(
                VpcConfigRequest::builder()
                    .set_subnet_ids(Some(real.subnets.clone()))
                    .build(),
            )
            .access_config(
                CreateAccessConfigRequest::builder()
                    .authentication_mode(AuthenticationMode::Api)
                    .bootstrap_cluster_creator_admin_permissions(true)
                    .build(),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(
            created.cluster().unwrap().status().unwrap().as_str(),
            "CREATING"
        );
        // A cluster still being created cannot be deleted, as in EKS.
        let in_use = eks.delete_cluster().name("demo").send().await.unwrap_err();
        assert_eq!(
            aws_smithy_types::error::metadata::ProvideErrorMetadata::code(&in_use),
            Some("ResourceInUseException")
        );
        // Add-ons need an ACTIVE cluster, as in EKS.
        let early = eks
            .create_addon()
            .cluster_name("demo")
            .addon_name("vpc-cni")
            .send()
            .await;
        assert_eq!(crate::harness::error_code(early), "InvalidRequestException");
        hold("cluster", false);
        eventually("the cluster becomes ACTIVE", || async {
            let out = eks.describe_cluster().name("demo").send().await.unwrap();
            match out.cluster().and_then(|c| c.status()).map(|s| s.as_str()) {
                Some("ACTIVE") => Ok(()),
                other => Err(format!("{other:?}")),
            }
        })
        .await;
        let cluster = eks.describe_cluster().name("demo").send().await.unwrap();
        let cluster = cluster.cluster().unwrap();
        assert_eq!(cluster.status().unwrap().as_str(), "ACTIVE");
        assert_eq!(
            cluster.access_config().unwrap().authentication_mode(),
            Some(&AuthenticationMode::Api)
        );

        // The creator's bootstrap entry, normalised from the assumed role to its IAM role.
        let entries = crate::harness::all_access_entries(&eks, "demo")
            .await
            .unwrap();
        assert_eq!(
            entries.access_entries(),
            [format!("arn:aws:iam::{}:role/x", account.id)]
        );

        access_entries_and_addons_of(&eks, &account).await;

        // Deleting the cluster takes its access entries and add-ons with it.
        eks.delete_cluster().name("demo").send().await.unwrap();
        let deleting = eks.describe_cluster().name("demo").send().await.unwrap();
        assert_eq!(
            deleting.cluster().unwrap().status().unwrap().as_str(),
            "DELETING"
        );
        hold("cluster-deletion", false);
        eventually("the deleted cluster is gone", || async {
            match eks.describe_cluster().name("demo").send().await {
                Ok(out) => Err(format!("{:?}", out.cluster().and_then(|c| c.status()))),
                Err(e) => match crate::harness::error_code(Err::<(), _>(e)).as_str() {
                    "ResourceNotFoundException" => Ok(()),
                    other => Err(other.to_string()),
                },
            }
        })
        .await;
    });
}

/// Access entries as EKS keeps them: a principal IAM lacks is refused, one IAM holds or of
/// another account is taken, and add-ons come and go with the cluster's entries.
async fn access_entries_and_addons_of(eks: &aws_sdk_eks::Client, account: &Account) {
    // EKS refuses a principal its account's IAM does not hold; another account's is taken.
    let ghost = format!("arn:aws:iam::{}:role/nobody", account.id);
    let err = eks
        .create_access_entry()
        .cluster_name("demo")
        .principal_arn(&ghost)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        aws_smithy_types::error::metadata::ProvideErrorMetadata::message(
            err.as_service_error().unwrap()
        ),
        Some("The specified principalArn is invalid: invalid principal.")
    );
    eks.create_access_entry()
        .cluster_name("demo")
        .principal_arn("arn:aws:iam::999999999999:role/elsewhere")
        .send()
        .await
        .unwrap();
    let admin = format!("arn:aws:iam::{}:role/admins", account.id);
    aws_sdk_iam::Client::new(&account.sdk("us-east-1"))
        .create_role()
        .role_name("admins")
        .assume_role_policy_document(r#"{"Version":"2012-10-17","Statement":[]}"#)
        .send()
        .await
        .unwrap();
    eks.create_access_entry()
        .cluster_name("demo")
        .principal_arn(&admin)
        .send()
        .await
        .unwrap();
    eks.associate_access_policy()
        .cluster_name("demo")
        .principal_arn(&admin)
        .policy_arn("arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy")
        .access_scope(
            AccessScope::builder()
                .r#type(AccessScopeType::Cluster)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let policies = eks
        .list_associated_access_policies()
        .cluster_name("demo")
        .principal_arn(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(policies.associated_access_policies().len(), 1);

    let versions = eks
        .describe_addon_versions()
        .kubernetes_version("1.34")
        .addon_name("coredns")
        .send()
        .await
        .unwrap();
    assert!(!versions.addons()[0].addon_versions().is_empty());
    eks.create_addon()
        .cluster_name("demo")
        .addon_name("coredns")
        .resolve_conflicts(aws_sdk_eks::types::ResolveConflicts::Overwrite)
        .send()
        .await
        .unwrap();
    assert_eq!(
        crate::harness::all_addons(&eks, "demo")
            .await
            .unwrap()
            .addons(),
        ["coredns"]
    );
}

/// NAT gateways are `pending` before they are `available`, and their address cannot be released
/// while one holds it, deleting or not (each state waited for with a deadline, never slept for).
#[test]
fn nat_gateways_are_pending_first_and_hold_their_address() {
    let account = Account::new();
    // The account's NAT gateways stay `pending` until released: no window to catch.
    let hold = |hold: bool| {
        crate::harness::post(
            &account.endpoint,
            "/eksboot-moto/hold-nat",
            &format!(r#"{{"account": "{}", "hold": {hold}}}"#, account.id),
        )
    };
    hold(true);
    let ec2 = aws_sdk_ec2::Client::new(&account.sdk("us-west-2"));
    block_on(async {
        // NAT gateways are pending before they are available.
        let vpc = ec2
            .create_vpc()
            .cidr_block("10.0.0.0/16")
            .send()
            .await
            .unwrap();
        let vpc_id = vpc.vpc().unwrap().vpc_id().unwrap();
        let subnet = ec2
            .create_subnet()
            .vpc_id(vpc_id)
            .cidr_block("10.0.0.0/24")
            .send()
            .await
            .unwrap();
        let eip = ec2.allocate_address().send().await.unwrap();
        let nat = ec2
            .create_nat_gateway()
            .subnet_id(subnet.subnet().unwrap().subnet_id().unwrap())
            .allocation_id(eip.allocation_id().unwrap())
            .send()
            .await
            .unwrap();
        let nat_id = nat
            .nat_gateway()
            .unwrap()
            .nat_gateway_id()
            .unwrap()
            .to_string();
        let state =
            |out: aws_sdk_ec2::operation::describe_nat_gateways::DescribeNatGatewaysOutput| {
                out.nat_gateways()[0].state().unwrap().as_str().to_string()
            };
        let first = ec2
            .describe_nat_gateways()
            .nat_gateway_ids(&nat_id)
            .send()
            .await
            .unwrap();
        assert_eq!(state(first), "pending");
        hold(false);
        eventually("the NAT gateway becomes available", || async {
            let out = ec2
                .describe_nat_gateways()
                .nat_gateway_ids(&nat_id)
                .send()
                .await
                .unwrap();
            match state(out) {
                s if s == "available" => Ok(()),
                s => Err(s),
            }
        })
        .await;

        // Its address cannot be released while the NAT gateway holds it, deleting or not.
        let allocation = eip.allocation_id().unwrap();
        let held = ec2
            .release_address()
            .allocation_id(allocation)
            .send()
            .await
            .unwrap_err();
        assert_eq!(
            aws_smithy_types::error::metadata::ProvideErrorMetadata::code(&held),
            Some("AuthFailure")
        );
        ec2.delete_nat_gateway()
            .nat_gateway_id(&nat_id)
            .send()
            .await
            .unwrap();
        // Deleted, it lets go of the address (refused while it is still deleting).
        eventually(
            "the address is released once the NAT gateway is gone",
            || async {
                match ec2.release_address().allocation_id(allocation).send().await {
                    Ok(_) => Ok(()),
                    Err(e) => Err(crate::harness::error_code(Err::<(), _>(e))),
                }
            },
        )
        .await;
    });
}

/// Waits up to 30 s for `check` to pass, polling every 100 ms; fails with what it last saw.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        match check().await {
            Ok(()) => return,
            Err(seen) if std::time::Instant::now() > deadline => {
                panic!("{what}: still not after 30 s; last seen: {seen}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// UpdateClusterConfig as EKS does it: an update InProgress then Successful, the cluster
/// UPDATING meanwhile and refusing a second update, VPC config merged, logging per log type.
#[test]
fn cluster_updates_take_a_while_and_come_one_at_a_time() {
    use aws_sdk_eks::types::{LogSetup, LogType, Logging};
    use aws_smithy_types::error::metadata::ProvideErrorMetadata;
    let account = Account::new();
    let eks = aws_sdk_eks::Client::new(&account.sdk("us-west-2"));
    block_on(async {
        let real = real_roles_and_subnets(&account).await;
        let setup = |types: &[LogType], on: bool| {
            LogSetup::builder()
                .set_types(Some(types.to_vec()))
                .enabled(on)
                .build()
        };
        eks.create_cluster()
            .name("upd")
            .role_arn(&real.cluster_role)
            .resources_vpc_config(
                VpcConfigRequest::builder()
                    .set_subnet_ids(Some(real.subnets.clone()))
                    .endpoint_public_access(true)
                    .endpoint_private_access(true)
                    .public_access_cidrs("0.0.0.0/0")
                    .build(),
            )
            .logging(
                Logging::builder()
                    .cluster_logging(setup(&[LogType::Api, LogType::Audit], true))
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let status = || async {
            eks.describe_cluster()
                .name("upd")
                .send()
                .await
                .unwrap()
                .cluster()
                .unwrap()
                .clone()
        };
        cluster_active(&eks, "upd").await;
        // The update stays InProgress until released: UPDATING is seen, never raced.
        account.hold_updates("us-west-2", "upd", true);
        let update = eks
            .update_cluster_config()
            .name("upd")
            .resources_vpc_config(
                VpcConfigRequest::builder()
                    .public_access_cidrs("203.0.113.0/24")
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let update = update.update().unwrap();
        assert_eq!(update.status().unwrap().as_str(), "InProgress");
        assert_eq!(status().await.status().unwrap().as_str(), "UPDATING");
        // Merged: the endpoint flags stay as they were.
        let vpc = status().await.resources_vpc_config().unwrap().clone();
        assert!(vpc.endpoint_private_access() && vpc.endpoint_public_access());
        assert_eq!(vpc.public_access_cidrs(), ["203.0.113.0/24"]);
        let busy = eks
            .update_cluster_config()
            .name("upd")
            .logging(
                Logging::builder()
                    .cluster_logging(setup(&[LogType::Scheduler], true))
                    .build(),
            )
            .send()
            .await
            .unwrap_err();
        assert_eq!(busy.code(), Some("ResourceInUseException"));
        account.hold_updates("us-west-2", "upd", false);
        update_done(&eks, "upd", update.id().unwrap()).await;
        assert_eq!(status().await.status().unwrap().as_str(), "ACTIVE");
        // Logging per type: scheduler on, audit off, api untouched.
        eks.update_cluster_config()
            .name("upd")
            .logging(
                Logging::builder()
                    .cluster_logging(setup(&[LogType::Scheduler], true))
                    .cluster_logging(setup(&[LogType::Audit], false))
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let enabled: Vec<String> = status()
            .await
            .logging()
            .unwrap()
            .cluster_logging()
            .iter()
            .filter(|s| s.enabled() == Some(true))
            .flat_map(|s| s.types().iter().map(|t| t.as_str().to_string()))
            .collect();
        assert_eq!(enabled, ["api", "scheduler"]);
    });
}

/// Version updates as EKS allows them: one minor version up at a time, never down; node groups
/// never ahead of the control plane, and the control plane never past node groups behind it.
#[test]
fn version_updates_go_one_minor_up_with_the_nodes_never_apart() {
    use aws_smithy_types::error::metadata::ProvideErrorMetadata;
    let account = Account::new();
    let eks = aws_sdk_eks::Client::new(&account.sdk("us-west-2"));
    block_on(async {
        let real = real_roles_and_subnets(&account).await;
        eks.create_cluster()
            .name("ver")
            .version("1.34")
            .role_arn(&real.cluster_role)
            .resources_vpc_config(
                VpcConfigRequest::builder()
                    .set_subnet_ids(Some(real.subnets.clone()))
                    .build(),
            )
            .send()
            .await
            .unwrap();
        cluster_active(&eks, "ver").await;
        eks.create_nodegroup()
            .cluster_name("ver")
            .nodegroup_name("ng")
            .node_role(&real.node_role)
            .set_subnets(Some(real.subnets.clone()))
            .send()
            .await
            .unwrap();
        let ng = eks
            .describe_nodegroup()
            .cluster_name("ver")
            .nodegroup_name("ng")
            .send()
            .await
            .unwrap();
        assert_eq!(
            ng.nodegroup().unwrap().version(),
            Some("1.34"),
            "its control plane's"
        );
        for wrong in ["1.36", "1.33"] {
            let e = eks
                .update_cluster_version()
                .name("ver")
                .version(wrong)
                .send()
                .await
                .unwrap_err();
            assert_eq!(e.code(), Some("InvalidParameterException"), "{wrong}");
        }
        let ahead = eks
            .update_nodegroup_version()
            .cluster_name("ver")
            .nodegroup_name("ng")
            .version("1.35")
            .send()
            .await
            .unwrap_err();
        assert_eq!(ahead.code(), Some("InvalidParameterException"));
        let up = eks
            .update_cluster_version()
            .name("ver")
            .version("1.35")
            .send()
            .await
            .unwrap();
        update_done(&eks, "ver", up.update().unwrap().id().unwrap()).await;
        cluster_active(&eks, "ver").await;
        // The node group is now a version behind: the control plane may not move again.
        let behind = eks
            .update_cluster_version()
            .name("ver")
            .version("1.36")
            .send()
            .await
            .unwrap_err();
        assert_eq!(behind.code(), Some("InvalidRequestException"));
        let nodes = eks
            .update_nodegroup_version()
            .cluster_name("ver")
            .nodegroup_name("ng")
            .version("1.35")
            .send()
            .await
            .unwrap();
        assert_eq!(
            nodes.update().unwrap().status().unwrap().as_str(),
            "InProgress"
        );
    });
}

/// The emulator's authorization table (emulator/iam_context.py) builds each request's
/// resources and condition keys as the Service Authorization Reference lists them, covers every
/// call eksboot makes, and every check it emits is valid for its action (its own pytest, run
/// here so that `cargo test` runs it).
#[test]
fn the_emulators_authorization_table_covers_every_call_and_checks_as_aws_does() {
    crate::harness::pytest("emulator/test_iam_context.py");
}

/// EKS Auto Mode in the emulator (emulator/eks_auto.py, issue 24): CreateCluster and
/// UpdateClusterConfig hold the three capabilities and refuse what EKS refuses; an ACTIVE
/// cluster launches a tagged node with its interface, volume, instance profile and EC2 access
/// entry; DeleteCluster terminates the node after a while, keeps the volume, deletes the
/// cluster's load balancers and leaves the instance profile on the node role (its own pytest,
/// run here so that `cargo test` runs it).
#[test]
fn the_emulator_runs_eks_auto_mode_as_aws_does() {
    crate::harness::pytest("emulator/test_auto_mode.py");
}

/// Rules AWS has that moto lacks (emulator/aws_rules.py, issue 25): CreateCluster and
/// CreateNodegroup refuse roles and subnets that do not exist and roles that do not trust the
/// service; DetachInternetGateway is refused while public addresses are mapped in the VPC (its
/// own pytest, run here so that `cargo test` runs it).
#[test]
fn the_emulator_refuses_what_aws_refuses_for_roles_subnets_and_mapped_addresses() {
    crate::harness::pytest("emulator/test_aws_rules.py");
}

/// S3 as a shared state meets it (emulator/s3_rules.py, issue 27): objects encrypted with a
/// KMS key only when the key exists, is enabled and the caller may use it through S3.
#[test]
fn the_emulator_encrypts_s3_objects_with_kms_as_s3_does() {
    crate::harness::pytest("emulator/test_s3_rules.py");
}

/// The sandbox's IAM evaluator (emulator/iam_builtin.py, issue 26), which needs no Node: it
/// gives the tests' evaluator's verdict on every check of a cluster's life and on a check per
/// rule, and the emulator uses it when asked.
#[test]
fn the_sandboxs_iam_evaluator_agrees_with_the_tests_evaluator() {
    crate::harness::pytest("emulator/test_iam_builtin.py");
}
