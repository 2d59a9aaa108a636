//! Quotas and "nodes must reach AWS" as AWS has them (emulator/aws_rules.py): eksboot's run
//! meeting a quota is refused before anything is made, the emulator refuses the same create as
//! EC2 does, and a node group whose subnets' own route table has no way to AWS fails as EKS
//! fails it. Every claim is read back from AWS through the SDK or the emulator's request log.

use std::time::{Duration, Instant};

use aws_sdk_eks::types::VpcConfigRequest;

use crate::create::Run;
use crate::harness::{block_on, error_code, root, Account};

const REGION: &str = "us-west-2";

fn stdout_of(out: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&out.get_output().stdout).to_string()
}

/// The AWS actions eksboot's requests in this account made, in order (the emulator's log).
fn actions(account: &Account) -> Vec<String> {
    account.iam_log()["requests"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["action"].as_str().map(str::to_string))
        .collect()
}

#[test]
fn a_create_meeting_the_vpc_quota_is_refused_before_anything_is_made_as_ec2_would() {
    let run = Run::new(Account::new());
    let ec2 = aws_sdk_ec2::Client::new(&run.account.sdk(REGION));
    // The default VPC and four more: the five of the default quota.
    block_on(async {
        for i in 0..4 {
            ec2.create_vpc()
                .cidr_block(format!("10.{i}.0.0/16"))
                .send()
                .await
                .unwrap();
        }
    });
    let vpcs_before = || block_on(ec2.describe_vpcs().send()).unwrap().vpcs().len();
    assert_eq!(vpcs_before(), 5);

    let out = run.create(&root("profiles/dev.toml")).code(1);
    let text = stdout_of(&out);
    assert!(
        text.contains("✗ vpcs                5 of 5 VPCs in use; the plan needs 1"),
        "{text}"
    );
    assert!(
        text.contains("L-F678F1CE"),
        "says which quota to raise: {text}"
    );
    // Nothing was made: AWS read back, and no create call in the emulator's log.
    assert_eq!(vpcs_before(), 5);
    let made: Vec<String> = actions(&run.account)
        .into_iter()
        .filter(|a| {
            let verb = a.split(':').nth(1).unwrap_or("");
            ["Create", "Allocate", "Attach", "Put", "Tag"]
                .iter()
                .any(|p| verb.starts_with(p))
        })
        .collect();
    assert!(made.is_empty(), "eksboot made something: {made:?}");
    assert!(
        actions(&run.account).contains(&"servicequotas:GetServiceQuota".to_string()),
        "preflight read the applied quota"
    );

    // The emulator agrees with the preflight: EC2 refuses the sixth VPC.
    let refused = block_on(ec2.create_vpc().cidr_block("10.9.0.0/16").send());
    assert_eq!(error_code(refused), "VpcLimitExceeded");
    assert_eq!(vpcs_before(), 5);

    // Raised in Service Quotas, the applied value is the limit for both.
    run.account.set_applied_quota("vpc", "L-F678F1CE", 6);
    let out = run
        .account
        .eksboot()
        .args(["preflight", "--profile"])
        .arg(root("profiles/dev.toml"))
        .assert()
        .success();
    assert!(
        stdout_of(&out)
            .contains("✓ vpcs                5 of 6 VPCs in use; the plan needs 1 (quota 6)"),
        "{}",
        stdout_of(&out)
    );
    block_on(ec2.create_vpc().cidr_block("10.9.0.0/16").send()).unwrap();
    let refused = block_on(ec2.create_vpc().cidr_block("10.10.0.0/16").send());
    assert_eq!(error_code(refused), "VpcLimitExceeded");
}

#[test]
fn elastic_ips_internet_and_nat_gateways_past_their_quota_are_refused_as_ec2_does() {
    let account = Account::new();
    let ec2 = aws_sdk_ec2::Client::new(&account.sdk(REGION));
    block_on(async {
        for _ in 0..5 {
            ec2.allocate_address().send().await.unwrap();
            ec2.create_internet_gateway().send().await.unwrap();
        }
        assert_eq!(
            error_code(ec2.allocate_address().send().await),
            "AddressLimitExceeded"
        );
        assert_eq!(
            error_code(ec2.create_internet_gateway().send().await),
            "InternetGatewayLimitExceeded"
        );
        assert_eq!(
            ec2.describe_addresses()
                .send()
                .await
                .unwrap()
                .addresses()
                .len(),
            5
        );

        // NAT gateways per AZ: one allowed here; another AZ has its own.
        account.set_applied_quota("vpc", "L-FE5A380F", 1);
        let vpc = ec2
            .create_vpc()
            .cidr_block("10.0.0.0/16")
            .send()
            .await
            .unwrap();
        let vpc = vpc.vpc().unwrap().vpc_id().unwrap().to_string();
        let mut subnets = Vec::new();
        for (i, az) in ["us-west-2a", "us-west-2b"].iter().enumerate() {
            let s = ec2
                .create_subnet()
                .vpc_id(&vpc)
                .cidr_block(format!("10.0.{i}.0/24"))
                .availability_zone(*az)
                .send()
                .await
                .unwrap();
            subnets.push(s.subnet().unwrap().subnet_id().unwrap().to_string());
        }
        let addresses = ec2.describe_addresses().send().await.unwrap();
        let allocations: Vec<String> = addresses
            .addresses()
            .iter()
            .map(|a| a.allocation_id().unwrap().to_string())
            .collect();
        let nat = |subnet: &str, allocation: &str| {
            ec2.create_nat_gateway()
                .subnet_id(subnet)
                .allocation_id(allocation)
                .send()
        };
        nat(&subnets[0], &allocations[0]).await.unwrap();
        assert_eq!(
            error_code(nat(&subnets[0], &allocations[1]).await),
            "NatGatewayLimitExceeded"
        );
        nat(&subnets[1], &allocations[1]).await.unwrap();
    });
}

/// An EKS cluster role and node role, a VPC with an internet gateway, a public subnet holding
/// an `available` NAT gateway, and two private subnets with a route table of their own that
/// has no default route; a second table of the VPC routes 0.0.0.0/0 to the NAT gateway.
struct PrivateNet {
    cluster_role: String,
    node_role: String,
    private: Vec<String>,
    own_table: String,
    nat: String,
}

async fn private_net(account: &Account) -> PrivateNet {
    let iam = aws_sdk_iam::Client::new(&account.sdk("us-east-1"));
    let ec2 = aws_sdk_ec2::Client::new(&account.sdk(REGION));
    let mut roles = Vec::new();
    for (name, service) in [
        ("cluster", "eks.amazonaws.com"),
        ("node", "ec2.amazonaws.com"),
    ] {
        let trust = serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]
        });
        let role = iam
            .create_role()
            .role_name(name)
            .assume_role_policy_document(trust.to_string())
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
    let subnet = |cidr: &'static str, az: &'static str| {
        let ec2 = ec2.clone();
        let vpc = vpc.clone();
        async move {
            let s = ec2
                .create_subnet()
                .vpc_id(vpc)
                .cidr_block(cidr)
                .availability_zone(az)
                .send()
                .await
                .unwrap();
            s.subnet().unwrap().subnet_id().unwrap().to_string()
        }
    };
    let public = subnet("10.0.100.0/24", "us-west-2a").await;
    let private = vec![
        subnet("10.0.1.0/24", "us-west-2a").await,
        subnet("10.0.2.0/24", "us-west-2b").await,
    ];
    let table = || async {
        let t = ec2.create_route_table().vpc_id(&vpc).send().await.unwrap();
        t.route_table()
            .unwrap()
            .route_table_id()
            .unwrap()
            .to_string()
    };
    let public_table = table().await;
    ec2.create_route()
        .route_table_id(&public_table)
        .destination_cidr_block("0.0.0.0/0")
        .gateway_id(&igw)
        .send()
        .await
        .unwrap();
    ec2.associate_route_table()
        .route_table_id(&public_table)
        .subnet_id(&public)
        .send()
        .await
        .unwrap();
    let allocation = ec2.allocate_address().send().await.unwrap();
    let nat = ec2
        .create_nat_gateway()
        .subnet_id(&public)
        .allocation_id(allocation.allocation_id().unwrap())
        .send()
        .await
        .unwrap();
    let nat = nat
        .nat_gateway()
        .unwrap()
        .nat_gateway_id()
        .unwrap()
        .to_string();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let d = ec2
            .describe_nat_gateways()
            .nat_gateway_ids(&nat)
            .send()
            .await
            .unwrap();
        let state = d.nat_gateways()[0].state().map(|s| s.as_str().to_string());
        if state.as_deref() == Some("available") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "NAT gateway {nat} still {state:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The NAT route, in a table the private subnets are not associated with.
    let other_table = table().await;
    ec2.create_route()
        .route_table_id(&other_table)
        .destination_cidr_block("0.0.0.0/0")
        .nat_gateway_id(&nat)
        .send()
        .await
        .unwrap();
    let own_table = table().await;
    for s in &private {
        ec2.associate_route_table()
            .route_table_id(&own_table)
            .subnet_id(s)
            .send()
            .await
            .unwrap();
    }
    PrivateNet {
        cluster_role: roles[0].clone(),
        node_role: roles[1].clone(),
        private,
        own_table,
        nat,
    }
}

/// Waits (with a deadline) until the node group leaves CREATING; its status and health issues.
async fn settled(eks: &aws_sdk_eks::Client, cluster: &str, name: &str) -> (String, Vec<String>) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = eks
            .describe_nodegroup()
            .cluster_name(cluster)
            .nodegroup_name(name)
            .send()
            .await
            .unwrap();
        let ng = out.nodegroup().unwrap();
        let status = ng.status().unwrap().as_str().to_string();
        let issues: Vec<String> = ng
            .health()
            .map(|h| h.issues())
            .unwrap_or_default()
            .iter()
            .map(|i| {
                format!(
                    "{}: {}",
                    i.code().map(|c| c.as_str()).unwrap_or("?"),
                    i.message().unwrap_or("")
                )
            })
            .collect();
        if status != "CREATING" {
            return (status, issues);
        }
        assert!(
            Instant::now() < deadline,
            "node group {name} still {status} after 60 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[test]
fn private_nodes_whose_own_route_table_lacks_the_nat_route_fail_to_join_as_on_eks() {
    let account = Account::new();
    let eks = aws_sdk_eks::Client::new(&account.sdk(REGION));
    let ec2 = aws_sdk_ec2::Client::new(&account.sdk(REGION));
    block_on(async {
        let net = private_net(&account).await;
        eks.create_cluster()
            .name("private")
            .role_arn(&net.cluster_role)
            .resources_vpc_config(
                VpcConfigRequest::builder()
                    .set_subnet_ids(Some(net.private.clone()))
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let c = eks.describe_cluster().name("private").send().await.unwrap();
            let status = c.cluster().unwrap().status().unwrap().as_str().to_string();
            if status == "ACTIVE" {
                break;
            }
            assert!(Instant::now() < deadline, "cluster still {status}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let nodegroup = |name: &'static str| {
            eks.create_nodegroup()
                .cluster_name("private")
                .nodegroup_name(name)
                .node_role(&net.node_role)
                .set_subnets(Some(net.private.clone()))
                .send()
        };
        // The NAT route in another table of the VPC does not help.
        nodegroup("stranded").await.unwrap();
        let (status, issues) = settled(&eks, "private", "stranded").await;
        assert_eq!(status, "CREATE_FAILED");
        assert_eq!(
            issues,
            ["NodeCreationFailure: Instances failed to join the kubernetes cluster"]
        );
        // In the subnets' own table, the route lets the nodes join.
        ec2.create_route()
            .route_table_id(&net.own_table)
            .destination_cidr_block("0.0.0.0/0")
            .nat_gateway_id(&net.nat)
            .send()
            .await
            .unwrap();
        nodegroup("joined").await.unwrap();
        let (status, issues) = settled(&eks, "private", "joined").await;
        assert_eq!((status.as_str(), issues.len()), ("ACTIVE", 0), "{issues:?}");
    });
}
