//! EC2: regions, availability zones, and what the account already uses.

use super::{classify, Aws, AwsError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegionInfo {
    pub name: String,
    /// `opt-in-not-required`, `opted-in` or `not-opted-in`.
    pub opt_in_status: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zone {
    pub name: String,
    pub zone_id: String,
    /// `availability-zone`, `local-zone` or `wavelength-zone`.
    pub zone_type: String,
    pub state: String,
}

pub async fn regions(aws: &Aws) -> Result<Vec<RegionInfo>, AwsError> {
    let out = aws
        .ec2
        .describe_regions()
        .all_regions(true)
        .send()
        .await
        .map_err(|e| classify("ec2:DescribeRegions", e))?;
    Ok(out
        .regions()
        .iter()
        .map(|r| RegionInfo {
            name: r.region_name().unwrap_or_default().to_string(),
            opt_in_status: r.opt_in_status().unwrap_or_default().to_string(),
        })
        .collect())
}

pub async fn availability_zones(aws: &Aws) -> Result<Vec<Zone>, AwsError> {
    let out = aws
        .ec2
        .describe_availability_zones()
        .send()
        .await
        .map_err(|e| classify("ec2:DescribeAvailabilityZones", e))?;
    Ok(out
        .availability_zones()
        .iter()
        .map(|z| Zone {
            name: z.zone_name().unwrap_or_default().to_string(),
            zone_id: z.zone_id().unwrap_or_default().to_string(),
            zone_type: z.zone_type().unwrap_or("availability-zone").to_string(),
            state: z
                .state()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
        })
        .collect())
}

// ---------------------------------------------------------------------------------------------
// The VPC and what lives in it. Every create takes its tags at creation (TagSpecifications).

use aws_sdk_ec2::types::{
    AttributeBooleanValue, DomainType, Filter, IpPermission, IpRange, ResourceType, Tag,
    TagSpecification, VpcEndpointType,
};

/// `(name, value)` pairs, e.g. `("tag:eksboot:step", "vpc")` or `("vpc-id", "vpc-1")`.
pub type Filters<'a> = &'a [(&'a str, &'a str)];
pub type Tags = [(String, String)];

fn filters(pairs: Filters) -> Vec<Filter> {
    pairs
        .iter()
        .map(|(name, value)| Filter::builder().name(*name).values(*value).build())
        .collect()
}

fn tag_spec(kind: ResourceType, tags: &Tags) -> TagSpecification {
    TagSpecification::builder()
        .resource_type(kind)
        .set_tags(Some(
            tags.iter()
                .map(|(k, v)| Tag::builder().key(k).value(v).build())
                .collect(),
        ))
        .build()
}

fn tags_of(tags: &[Tag]) -> Vec<(String, String)> {
    tags.iter()
        .map(|t| {
            (
                t.key().unwrap_or_default().to_string(),
                t.value().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vpc {
    pub id: String,
    pub cidr: String,
    pub tags: Vec<(String, String)>,
}

pub async fn find_vpcs(aws: &Aws, by: Filters<'_>) -> Result<Vec<Vpc>, AwsError> {
    let mut vpcs = Vec::new();
    let mut pages = aws
        .ec2
        .describe_vpcs()
        .set_filters(Some(filters(by)))
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        vpcs.extend(
            page.map_err(|e| classify("ec2:DescribeVpcs", e))?
                .vpcs()
                .to_vec(),
        );
    }
    Ok(vpcs
        .iter()
        .map(|v| Vpc {
            id: v.vpc_id().unwrap_or_default().to_string(),
            cidr: v.cidr_block().unwrap_or_default().to_string(),
            tags: tags_of(v.tags()),
        })
        .collect())
}

pub async fn create_vpc(aws: &Aws, cidr: &str, tags: &Tags) -> Result<String, AwsError> {
    let out = aws
        .ec2
        .create_vpc()
        .cidr_block(cidr)
        .tag_specifications(tag_spec(ResourceType::Vpc, tags))
        .customize()
        .config_override(no_sdk_retries())
        .send()
        .await
        .map_err(|e| classify("ec2:CreateVpc", e))?;
    Ok(out
        .vpc()
        .and_then(|v| v.vpc_id())
        .unwrap_or_default()
        .to_string())
}

/// Turns on DNS support and DNS hostnames (one attribute per call, as EC2 requires).
pub async fn enable_vpc_dns(aws: &Aws, vpc_id: &str) -> Result<(), AwsError> {
    let on = AttributeBooleanValue::builder().value(true).build();
    aws.ec2
        .modify_vpc_attribute()
        .vpc_id(vpc_id)
        .enable_dns_support(on.clone())
        .send()
        .await
        .map_err(|e| classify("ec2:ModifyVpcAttribute", e))?;
    aws.ec2
        .modify_vpc_attribute()
        .vpc_id(vpc_id)
        .enable_dns_hostnames(on)
        .send()
        .await
        .map_err(|e| classify("ec2:ModifyVpcAttribute", e))?;
    Ok(())
}

pub async fn delete_vpc(aws: &Aws, vpc_id: &str) -> Result<(), AwsError> {
    aws.ec2
        .delete_vpc()
        .vpc_id(vpc_id)
        .send()
        .await
        .map_err(|e| classify("ec2:DeleteVpc", e))?;
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subnet {
    pub id: String,
    pub cidr: String,
    pub az: String,
    pub vpc_id: String,
}

fn subnet_of(s: &aws_sdk_ec2::types::Subnet) -> Subnet {
    Subnet {
        id: s.subnet_id().unwrap_or_default().to_string(),
        cidr: s.cidr_block().unwrap_or_default().to_string(),
        az: s.availability_zone().unwrap_or_default().to_string(),
        vpc_id: s.vpc_id().unwrap_or_default().to_string(),
    }
}

/// Subnets by id (their AZs, for counting NAT gateways per AZ).
pub async fn subnets_by_id(aws: &Aws, ids: &[String]) -> Result<Vec<Subnet>, AwsError> {
    let out = aws
        .ec2
        .describe_subnets()
        .set_subnet_ids(Some(ids.to_vec()))
        .send()
        .await
        .map_err(|e| classify("ec2:DescribeSubnets", e))?;
    Ok(out.subnets().iter().map(subnet_of).collect())
}

pub async fn find_subnets(aws: &Aws, by: Filters<'_>) -> Result<Vec<Subnet>, AwsError> {
    let out = aws
        .ec2
        .describe_subnets()
        .set_filters(Some(filters(by)))
        .send()
        .await
        .map_err(|e| classify("ec2:DescribeSubnets", e))?;
    Ok(out.subnets().iter().map(subnet_of).collect())
}

pub async fn create_subnet(
    aws: &Aws,
    vpc_id: &str,
    cidr: &str,
    az: &str,
    tags: &Tags,
) -> Result<String, AwsError> {
    let out = aws
        .ec2
        .create_subnet()
        .vpc_id(vpc_id)
        .cidr_block(cidr)
        .availability_zone(az)
        .tag_specifications(tag_spec(ResourceType::Subnet, tags))
        .customize()
        .config_override(no_sdk_retries())
        .send()
        .await
        .map_err(|e| classify("ec2:CreateSubnet", e))?;
    Ok(out
        .subnet()
        .and_then(|s| s.subnet_id())
        .unwrap_or_default()
        .to_string())
}

pub async fn map_public_ip_on_launch(aws: &Aws, subnet_id: &str) -> Result<(), AwsError> {
    aws.ec2
        .modify_subnet_attribute()
        .subnet_id(subnet_id)
        .map_public_ip_on_launch(AttributeBooleanValue::builder().value(true).build())
        .send()
        .await
        .map_err(|e| classify("ec2:ModifySubnetAttribute", e))?;
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InternetGateway {
    pub id: String,
    pub attached_vpcs: Vec<String>,
    pub tags: Vec<(String, String)>,
}

pub async fn find_internet_gateways(
    aws: &Aws,
    by: Filters<'_>,
) -> Result<Vec<InternetGateway>, AwsError> {
    let out = aws
        .ec2
        .describe_internet_gateways()
        .set_filters(Some(filters(by)))
        .send()
        .await
        .map_err(|e| classify("ec2:DescribeInternetGateways", e))?;
    Ok(out
        .internet_gateways()
        .iter()
        .map(|g| InternetGateway {
            id: g.internet_gateway_id().unwrap_or_default().to_string(),
            attached_vpcs: g
                .attachments()
                .iter()
                .filter_map(|a| a.vpc_id().map(str::to_string))
                .collect(),
            tags: tags_of(g.tags()),
        })
        .collect())
}

pub async fn create_internet_gateway(aws: &Aws, tags: &Tags) -> Result<String, AwsError> {
    let out = aws
        .ec2
        .create_internet_gateway()
        .tag_specifications(tag_spec(ResourceType::InternetGateway, tags))
        .customize()
        .config_override(no_sdk_retries())
        .send()
        .await
        .map_err(|e| classify("ec2:CreateInternetGateway", e))?;
    Ok(out
        .internet_gateway()
        .and_then(|g| g.internet_gateway_id())
        .unwrap_or_default()
        .to_string())
}

pub async fn attach_internet_gateway(aws: &Aws, igw: &str, vpc: &str) -> Result<(), AwsError> {
    aws.ec2
        .attach_internet_gateway()
        .internet_gateway_id(igw)
        .vpc_id(vpc)
        .send()
        .await
        .map_err(|e| classify("ec2:AttachInternetGateway", e))?;
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteTable {
    pub id: String,
    /// `(destination CIDR, target id)`: gateway or NAT gateway.
    pub routes: Vec<(String, String)>,
    /// `(association id, subnet id)`.
    pub associations: Vec<(String, String)>,
}

pub async fn find_route_tables(aws: &Aws, by: Filters<'_>) -> Result<Vec<RouteTable>, AwsError> {
    let out = aws
        .ec2
        .describe_route_tables()
        .set_filters(Some(filters(by)))
        .send()
        .await
        .map_err(|e| classify("ec2:DescribeRouteTables", e))?;
    Ok(out
        .route_tables()
        .iter()
        .map(|t| RouteTable {
            id: t.route_table_id().unwrap_or_default().to_string(),
            routes: t
                .routes()
                .iter()
                .map(|r| {
                    (
                        r.destination_cidr_block().unwrap_or_default().to_string(),
                        r.gateway_id()
                            .or(r.nat_gateway_id())
                            .unwrap_or_default()
                            .to_string(),
                    )
                })
                .collect(),
            associations: t
                .associations()
                .iter()
                .filter_map(|a| {
                    Some((
                        a.route_table_association_id()?.to_string(),
                        a.subnet_id()?.to_string(),
                    ))
                })
                .collect(),
        })
        .collect())
}

pub async fn create_route_table(
    aws: &Aws,
    vpc: &str,
    tags: &Tags,
    client_token: &str,
) -> Result<String, AwsError> {
    let out = aws
        .ec2
        .create_route_table()
        .vpc_id(vpc)
        .client_token(client_token)
        .tag_specifications(tag_spec(ResourceType::RouteTable, tags))
        .send()
        .await
        .map_err(|e| classify("ec2:CreateRouteTable", e))?;
    Ok(out
        .route_table()
        .and_then(|t| t.route_table_id())
        .unwrap_or_default()
        .to_string())
}

/// Where a route sends traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteTarget<'a> {
    InternetGateway(&'a str),
    NatGateway(&'a str),
}

pub async fn create_route(
    aws: &Aws,
    table: &str,
    destination: &str,
    target: RouteTarget<'_>,
) -> Result<(), AwsError> {
    let request = aws
        .ec2
        .create_route()
        .route_table_id(table)
        .destination_cidr_block(destination);
    let request = match target {
        RouteTarget::InternetGateway(id) => request.gateway_id(id),
        RouteTarget::NatGateway(id) => request.nat_gateway_id(id),
    };
    request
        .send()
        .await
        .map_err(|e| classify("ec2:CreateRoute", e))?;
    Ok(())
}

pub async fn associate_route_table(
    aws: &Aws,
    table: &str,
    subnet: &str,
) -> Result<String, AwsError> {
    let out = aws
        .ec2
        .associate_route_table()
        .route_table_id(table)
        .subnet_id(subnet)
        .send()
        .await
        .map_err(|e| classify("ec2:AssociateRouteTable", e))?;
    Ok(out.association_id().unwrap_or_default().to_string())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    pub allocation_id: String,
    pub public_ip: String,
    pub tags: Vec<(String, String)>,
}

pub async fn find_addresses(aws: &Aws, by: Filters<'_>) -> Result<Vec<Address>, AwsError> {
    let out = aws
        .ec2
        .describe_addresses()
        .set_filters(Some(filters(by)))
        .send()
        .await
        .map_err(|e| classify("ec2:DescribeAddresses", e))?;
    Ok(out
        .addresses()
        .iter()
        .map(|a| Address {
            allocation_id: a.allocation_id().unwrap_or_default().to_string(),
            public_ip: a.public_ip().unwrap_or_default().to_string(),
            tags: tags_of(a.tags()),
        })
        .collect())
}

pub async fn allocate_address(aws: &Aws, tags: &Tags) -> Result<Address, AwsError> {
    let out = aws
        .ec2
        .allocate_address()
        .domain(DomainType::Vpc)
        .tag_specifications(tag_spec(ResourceType::ElasticIp, tags))
        .customize()
        .config_override(no_sdk_retries())
        .send()
        .await
        .map_err(|e| classify("ec2:AllocateAddress", e))?;
    Ok(Address {
        allocation_id: out.allocation_id().unwrap_or_default().to_string(),
        public_ip: out.public_ip().unwrap_or_default().to_string(),
        tags: tags.to_vec(),
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatGateway {
    pub id: String,
    /// `pending`, `available`, `deleting`, `deleted` or `failed`.
    pub state: String,
    pub subnet_id: String,
    pub tags: Vec<(String, String)>,
    pub failure: Option<String>,
}

/// Every NAT gateway of the region that counts against the NAT gateway quota: "NAT gateways in
/// the pending, active, and deleting states count against your quota"
/// (https://docs.aws.amazon.com/vpc/latest/userguide/amazon-vpc-limits.html#vpc-limits-gateways).
pub async fn live_nat_gateways(aws: &Aws) -> Result<Vec<NatGateway>, AwsError> {
    let out = aws
        .ec2
        .describe_nat_gateways()
        .filter(
            Filter::builder()
                .name("state")
                .values("pending")
                .values("available")
                .values("deleting")
                .build(),
        )
        .send()
        .await
        .map_err(|e| classify("ec2:DescribeNatGateways", e))?;
    Ok(out.nat_gateways().iter().map(nat_of).collect())
}

fn nat_of(n: &aws_sdk_ec2::types::NatGateway) -> NatGateway {
    NatGateway {
        id: n.nat_gateway_id().unwrap_or_default().to_string(),
        state: n
            .state()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        subnet_id: n.subnet_id().unwrap_or_default().to_string(),
        tags: tags_of(n.tags()),
        failure: n.failure_message().map(str::to_string),
    }
}

/// NAT gateways in a subnet (tag filters are not reliable for NAT gateways everywhere).
pub async fn find_nat_gateways_in_subnet(
    aws: &Aws,
    subnet_id: &str,
) -> Result<Vec<NatGateway>, AwsError> {
    let out = aws
        .ec2
        .describe_nat_gateways()
        .filter(
            Filter::builder()
                .name("subnet-id")
                .values(subnet_id)
                .build(),
        )
        .send()
        .await
        .map_err(|e| classify("ec2:DescribeNatGateways", e))?;
    Ok(out.nat_gateways().iter().map(nat_of).collect())
}

pub async fn describe_nat_gateway(aws: &Aws, id: &str) -> Result<Option<NatGateway>, AwsError> {
    match aws
        .ec2
        .describe_nat_gateways()
        .nat_gateway_ids(id)
        .send()
        .await
    {
        Ok(out) => Ok(out.nat_gateways().first().map(nat_of)),
        Err(e) => match classify("ec2:DescribeNatGateways", e) {
            err if err.is_not_found() => Ok(None),
            err => Err(err),
        },
    }
}

pub async fn create_nat_gateway(
    aws: &Aws,
    subnet: &str,
    allocation_id: &str,
    tags: &Tags,
    client_token: &str,
) -> Result<String, AwsError> {
    let out = aws
        .ec2
        .create_nat_gateway()
        .subnet_id(subnet)
        .allocation_id(allocation_id)
        .client_token(client_token)
        .tag_specifications(tag_spec(ResourceType::Natgateway, tags))
        .send()
        .await
        .map_err(|e| classify("ec2:CreateNatGateway", e))?;
    Ok(out
        .nat_gateway()
        .and_then(|n| n.nat_gateway_id())
        .unwrap_or_default()
        .to_string())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityGroup {
    pub id: String,
    pub name: String,
    pub vpc_id: String,
    pub tags: Vec<(String, String)>,
}

pub async fn find_security_groups(
    aws: &Aws,
    by: Filters<'_>,
) -> Result<Vec<SecurityGroup>, AwsError> {
    let out = aws
        .ec2
        .describe_security_groups()
        .set_filters(Some(filters(by)))
        .send()
        .await
        .map_err(|e| classify("ec2:DescribeSecurityGroups", e))?;
    Ok(out
        .security_groups()
        .iter()
        .map(|g| SecurityGroup {
            id: g.group_id().unwrap_or_default().to_string(),
            name: g.group_name().unwrap_or_default().to_string(),
            vpc_id: g.vpc_id().unwrap_or_default().to_string(),
            tags: tags_of(g.tags()),
        })
        .collect())
}

/// Creates a security group; AWS gives it the single allow-all outbound rule and no inbound.
pub async fn create_security_group(
    aws: &Aws,
    vpc: &str,
    name: &str,
    description: &str,
    tags: &Tags,
) -> Result<String, AwsError> {
    let out = aws
        .ec2
        .create_security_group()
        .vpc_id(vpc)
        .group_name(name)
        .description(description)
        .tag_specifications(tag_spec(ResourceType::SecurityGroup, tags))
        .send()
        .await
        .map_err(|e| classify("ec2:CreateSecurityGroup", e))?;
    Ok(out.group_id().unwrap_or_default().to_string())
}

/// Allows TCP `port` in from `cidr` only.
pub async fn allow_tcp_from(aws: &Aws, group: &str, port: i32, cidr: &str) -> Result<(), AwsError> {
    aws.ec2
        .authorize_security_group_ingress()
        .group_id(group)
        .ip_permissions(
            IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(port)
                .to_port(port)
                .ip_ranges(IpRange::builder().cidr_ip(cidr).build())
                .build(),
        )
        .send()
        .await
        .map_err(|e| classify("ec2:AuthorizeSecurityGroupIngress", e))?;
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VpcEndpoint {
    pub id: String,
    pub state: String,
    pub service: String,
}

pub async fn find_vpc_endpoints(aws: &Aws, by: Filters<'_>) -> Result<Vec<VpcEndpoint>, AwsError> {
    let out = aws
        .ec2
        .describe_vpc_endpoints()
        .set_filters(Some(filters(by)))
        .send()
        .await
        .map_err(|e| classify("ec2:DescribeVpcEndpoints", e))?;
    Ok(out.vpc_endpoints().iter().map(vpc_endpoint_of).collect())
}

fn vpc_endpoint_of(e: &aws_sdk_ec2::types::VpcEndpoint) -> VpcEndpoint {
    VpcEndpoint {
        id: e.vpc_endpoint_id().unwrap_or_default().to_string(),
        state: e
            .state()
            .map(|s| s.as_str().to_lowercase())
            .unwrap_or_default(),
        service: e.service_name().unwrap_or_default().to_string(),
    }
}

/// One VPC endpoint by id, or `None` once it is gone.
pub async fn describe_vpc_endpoint(aws: &Aws, id: &str) -> Result<Option<VpcEndpoint>, AwsError> {
    match aws
        .ec2
        .describe_vpc_endpoints()
        .vpc_endpoint_ids(id)
        .send()
        .await
    {
        Ok(out) => Ok(out.vpc_endpoints().first().map(vpc_endpoint_of)),
        Err(e) => match classify("ec2:DescribeVpcEndpoints", e) {
            err if err.is_not_found() => Ok(None),
            err => Err(err),
        },
    }
}

/// Every endpoint service name the region offers (`com.amazonaws.REGION.sts`, and in China
/// also `cn.com.amazonaws.…`), all pages.
pub async fn endpoint_service_names(aws: &Aws) -> Result<Vec<String>, AwsError> {
    let mut names = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let out = aws
            .ec2
            .describe_vpc_endpoint_services()
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| classify("ec2:DescribeVpcEndpointServices", e))?;
        names.extend(out.service_names().iter().cloned());
        match out.next_token() {
            Some(next) if !next.is_empty() => token = Some(next.to_string()),
            _ => return Ok(names),
        }
    }
}

/// What kind of VPC endpoint to create and where it attaches.
#[derive(Debug, Clone, Copy)]
pub enum EndpointPlacement<'a> {
    /// A gateway endpoint, added to these route tables.
    Gateway { route_tables: &'a [String] },
    /// An interface endpoint in these subnets, behind this security group, with private DNS.
    Interface {
        subnets: &'a [String],
        security_group: &'a str,
    },
}

pub async fn create_vpc_endpoint(
    aws: &Aws,
    vpc: &str,
    service_name: &str,
    placement: EndpointPlacement<'_>,
    tags: &Tags,
    client_token: &str,
) -> Result<String, AwsError> {
    let request = aws
        .ec2
        .create_vpc_endpoint()
        .vpc_id(vpc)
        .client_token(client_token)
        .service_name(service_name)
        .tag_specifications(tag_spec(ResourceType::VpcEndpoint, tags));
    let request = match placement {
        EndpointPlacement::Gateway { route_tables } => request
            .vpc_endpoint_type(VpcEndpointType::Gateway)
            .set_route_table_ids(Some(route_tables.to_vec())),
        EndpointPlacement::Interface {
            subnets,
            security_group,
        } => request
            .vpc_endpoint_type(VpcEndpointType::Interface)
            .set_subnet_ids(Some(subnets.to_vec()))
            .security_group_ids(security_group)
            .private_dns_enabled(true),
    };
    let out = request
        .send()
        .await
        .map_err(|e| classify("ec2:CreateVpcEndpoint", e))?;
    Ok(out
        .vpc_endpoint()
        .and_then(|e| e.vpc_endpoint_id())
        .unwrap_or_default()
        .to_string())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaunchTemplate {
    pub id: String,
    pub latest_version: i64,
}

pub async fn find_launch_templates(
    aws: &Aws,
    by: Filters<'_>,
) -> Result<Vec<LaunchTemplate>, AwsError> {
    let out = aws
        .ec2
        .describe_launch_templates()
        .set_filters(Some(filters(by)))
        .send()
        .await
        .map_err(|e| classify("ec2:DescribeLaunchTemplates", e))?;
    Ok(out
        .launch_templates()
        .iter()
        .map(|t| LaunchTemplate {
            id: t.launch_template_id().unwrap_or_default().to_string(),
            latest_version: t.latest_version_number().unwrap_or(1),
        })
        .collect())
}

/// One EBS volume a node launch template maps: its device name and size in GiB. Every one is
/// encrypted gp3, deleted with its instance.
pub type NodeVolume = (String, i32);

/// What a node launch template holds: IMDSv2 required with hop limit 1, and the node's
/// volumes, each encrypted gp3. No image, user data or security groups: EKS supplies those
/// (for Bottlerocket too: with an EKS AMI type, EKS writes its TOML settings itself).
pub fn node_template_data(volumes: &[NodeVolume]) -> aws_sdk_ec2::types::RequestLaunchTemplateData {
    use aws_sdk_ec2::types::{
        LaunchTemplateBlockDeviceMappingRequest, LaunchTemplateEbsBlockDeviceRequest,
        LaunchTemplateHttpTokensState, LaunchTemplateInstanceMetadataEndpointState,
        LaunchTemplateInstanceMetadataOptionsRequest, RequestLaunchTemplateData, VolumeType,
    };
    let mappings = volumes
        .iter()
        .map(|(device, gib)| {
            LaunchTemplateBlockDeviceMappingRequest::builder()
                .device_name(device)
                .ebs(
                    LaunchTemplateEbsBlockDeviceRequest::builder()
                        .volume_size(*gib)
                        .volume_type(VolumeType::Gp3)
                        .encrypted(true)
                        .delete_on_termination(true)
                        .build(),
                )
                .build()
        })
        .collect();
    RequestLaunchTemplateData::builder()
        .metadata_options(
            LaunchTemplateInstanceMetadataOptionsRequest::builder()
                .http_tokens(LaunchTemplateHttpTokensState::Required)
                .http_put_response_hop_limit(1)
                .http_endpoint(LaunchTemplateInstanceMetadataEndpointState::Enabled)
                .build(),
        )
        .set_block_device_mappings(Some(mappings))
        .build()
}

/// The newest version of a launch template and the volumes it maps, `(device, GiB)`.
pub async fn launch_template_volumes(
    aws: &Aws,
    id: &str,
) -> Result<Option<(i64, Vec<NodeVolume>)>, AwsError> {
    let out = aws
        .ec2
        .describe_launch_template_versions()
        .launch_template_id(id)
        .versions("$Latest")
        .send()
        .await
        .map_err(|e| classify("ec2:DescribeLaunchTemplateVersions", e))?;
    Ok(out.launch_template_versions().first().map(|v| {
        let volumes = v
            .launch_template_data()
            .map(|d| d.block_device_mappings())
            .unwrap_or_default()
            .iter()
            .map(|m| {
                (
                    m.device_name().unwrap_or_default().to_string(),
                    m.ebs().and_then(|e| e.volume_size()).unwrap_or(0),
                )
            })
            .collect();
        (v.version_number().unwrap_or(1), volumes)
    }))
}

/// The newest version of a launch template and its data volume's size in GiB (`disk_size_gib`:
/// the last volume it maps, the root volume on AL2023, `/dev/xvdb` on Bottlerocket).
pub async fn launch_template_disk(aws: &Aws, id: &str) -> Result<Option<(i64, i32)>, AwsError> {
    Ok(launch_template_volumes(aws, id)
        .await?
        .map(|(version, volumes)| (version, volumes.last().map(|v| v.1).unwrap_or(0))))
}

/// A new version of a node launch template mapping `volumes`. Returns its number.
pub async fn add_node_template_version(
    aws: &Aws,
    id: &str,
    volumes: &[NodeVolume],
    client_token: &str,
) -> Result<i64, AwsError> {
    let out = aws
        .ec2
        .create_launch_template_version()
        .launch_template_id(id)
        .client_token(client_token)
        .launch_template_data(node_template_data(volumes))
        .send()
        .await
        .map_err(|e| classify("ec2:CreateLaunchTemplateVersion", e))?;
    Ok(out
        .launch_template_version()
        .and_then(|v| v.version_number())
        .unwrap_or(1))
}

/// A node launch template (see [`node_template_data`]).
pub async fn create_node_template(
    aws: &Aws,
    name: &str,
    volumes: &[NodeVolume],
    tags: &Tags,
    client_token: &str,
) -> Result<LaunchTemplate, AwsError> {
    let data = node_template_data(volumes);
    let out = aws
        .ec2
        .create_launch_template()
        .launch_template_name(name)
        .client_token(client_token)
        .launch_template_data(data)
        .tag_specifications(tag_spec(ResourceType::LaunchTemplate, tags))
        .send()
        .await
        .map_err(|e| classify("ec2:CreateLaunchTemplate", e))?;
    let t = out.launch_template();
    Ok(LaunchTemplate {
        id: t
            .and_then(|t| t.launch_template_id())
            .unwrap_or_default()
            .to_string(),
        latest_version: t.and_then(|t| t.latest_version_number()).unwrap_or(1),
    })
}

// ---------------------------------------------------------------------------------------------
// Teardown.

pub async fn delete_launch_template(aws: &Aws, id: &str) -> Result<(), AwsError> {
    aws.ec2
        .delete_launch_template()
        .launch_template_id(id)
        .send()
        .await
        .map_err(|e| classify("ec2:DeleteLaunchTemplate", e))?;
    Ok(())
}

pub async fn find_nat_gateways_in_vpc(
    aws: &Aws,
    vpc_id: &str,
) -> Result<Vec<NatGateway>, AwsError> {
    let out = aws
        .ec2
        .describe_nat_gateways()
        .filter(Filter::builder().name("vpc-id").values(vpc_id).build())
        .send()
        .await
        .map_err(|e| classify("ec2:DescribeNatGateways", e))?;
    Ok(out.nat_gateways().iter().map(nat_of).collect())
}

pub async fn delete_nat_gateway(aws: &Aws, id: &str) -> Result<(), AwsError> {
    aws.ec2
        .delete_nat_gateway()
        .nat_gateway_id(id)
        .send()
        .await
        .map_err(|e| classify("ec2:DeleteNatGateway", e))?;
    Ok(())
}

pub async fn release_address(aws: &Aws, allocation_id: &str) -> Result<(), AwsError> {
    aws.ec2
        .release_address()
        .allocation_id(allocation_id)
        .send()
        .await
        .map_err(|e| classify("ec2:ReleaseAddress", e))?;
    Ok(())
}

pub async fn delete_vpc_endpoint(aws: &Aws, id: &str) -> Result<(), AwsError> {
    let out = aws
        .ec2
        .delete_vpc_endpoints()
        .vpc_endpoint_ids(id)
        .send()
        .await
        .map_err(|e| classify("ec2:DeleteVpcEndpoints", e))?;
    if let Some(failed) = out.unsuccessful().first() {
        let error = failed.error();
        return Err(super::classify_code(
            "ec2:DeleteVpcEndpoints",
            super::Failure {
                code: error
                    .and_then(|e| e.code())
                    .unwrap_or("Unknown")
                    .to_string(),
                message: error
                    .and_then(|e| e.message())
                    .unwrap_or_default()
                    .to_string(),
                request_id: None,
            },
        ));
    }
    Ok(())
}

pub async fn detach_internet_gateway(aws: &Aws, igw: &str, vpc: &str) -> Result<(), AwsError> {
    aws.ec2
        .detach_internet_gateway()
        .internet_gateway_id(igw)
        .vpc_id(vpc)
        .send()
        .await
        .map_err(|e| classify("ec2:DetachInternetGateway", e))?;
    Ok(())
}

pub async fn delete_internet_gateway(aws: &Aws, igw: &str) -> Result<(), AwsError> {
    aws.ec2
        .delete_internet_gateway()
        .internet_gateway_id(igw)
        .send()
        .await
        .map_err(|e| classify("ec2:DeleteInternetGateway", e))?;
    Ok(())
}

/// Disassociates a route table; a denied repeat of an association that is gone (its first
/// answer lost) is "not found" ([`super::gone_when_denied`]).
pub async fn disassociate_route_table(aws: &Aws, association: &str) -> Result<(), AwsError> {
    let result = aws
        .ec2
        .disassociate_route_table()
        .association_id(association)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| classify("ec2:DisassociateRouteTable", e));
    super::gone_when_denied(result, route_table_association_exists(aws, association)).await
}

async fn route_table_association_exists(aws: &Aws, association: &str) -> Result<bool, AwsError> {
    let out = aws
        .ec2
        .describe_route_tables()
        .filters(
            Filter::builder()
                .name("association.route-table-association-id")
                .values(association)
                .build(),
        )
        .send()
        .await
        .map_err(|e| classify("ec2:DescribeRouteTables", e))?;
    Ok(!out.route_tables().is_empty())
}

pub async fn delete_route_table(aws: &Aws, id: &str) -> Result<(), AwsError> {
    aws.ec2
        .delete_route_table()
        .route_table_id(id)
        .send()
        .await
        .map_err(|e| classify("ec2:DeleteRouteTable", e))?;
    Ok(())
}

pub async fn delete_subnet(aws: &Aws, id: &str) -> Result<(), AwsError> {
    aws.ec2
        .delete_subnet()
        .subnet_id(id)
        .send()
        .await
        .map_err(|e| classify("ec2:DeleteSubnet", e))?;
    Ok(())
}

pub async fn delete_security_group(aws: &Aws, id: &str) -> Result<(), AwsError> {
    aws.ec2
        .delete_security_group()
        .group_id(id)
        .send()
        .await
        .map_err(|e| classify("ec2:DeleteSecurityGroup", e))?;
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkInterface {
    pub id: String,
    pub description: String,
    pub interface_type: String,
    pub requester: String,
    /// The account that owns it.
    pub owner: String,
    /// `available` (attached to nothing) or `in-use`, …
    pub status: String,
    pub tags: Vec<(String, String)>,
}

/// Network interfaces in a VPC: what still uses it.
pub async fn network_interfaces_in_vpc(
    aws: &Aws,
    vpc_id: &str,
) -> Result<Vec<NetworkInterface>, AwsError> {
    let out = aws
        .ec2
        .describe_network_interfaces()
        .filters(Filter::builder().name("vpc-id").values(vpc_id).build())
        .send()
        .await
        .map_err(|e| classify("ec2:DescribeNetworkInterfaces", e))?;
    Ok(out
        .network_interfaces()
        .iter()
        .map(|n| NetworkInterface {
            id: n.network_interface_id().unwrap_or_default().to_string(),
            description: n.description().unwrap_or_default().to_string(),
            interface_type: n
                .interface_type()
                .map(|t| t.as_str().to_string())
                .unwrap_or_default(),
            requester: n.requester_id().unwrap_or_default().to_string(),
            owner: n.owner_id().unwrap_or_default().to_string(),
            status: n
                .status()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            tags: n
                .tag_set()
                .iter()
                .map(|t| {
                    (
                        t.key().unwrap_or_default().to_string(),
                        t.value().unwrap_or_default().to_string(),
                    )
                })
                .collect(),
        })
        .collect())
}

/// Network interfaces matching `by` (e.g. `("tag:eks:eks-cluster-name", "demo")`), every page.
pub async fn find_network_interfaces(
    aws: &Aws,
    by: Filters<'_>,
) -> Result<Vec<NetworkInterface>, AwsError> {
    let mut found = Vec::new();
    let mut pages = aws
        .ec2
        .describe_network_interfaces()
        .set_filters(Some(filters(by)))
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| classify("ec2:DescribeNetworkInterfaces", e))?;
        found.extend(page.network_interfaces().iter().map(interface_of));
    }
    Ok(found)
}

fn interface_of(n: &aws_sdk_ec2::types::NetworkInterface) -> NetworkInterface {
    NetworkInterface {
        id: n.network_interface_id().unwrap_or_default().to_string(),
        description: n.description().unwrap_or_default().to_string(),
        interface_type: n
            .interface_type()
            .map(|t| t.as_str().to_string())
            .unwrap_or_default(),
        requester: n.requester_id().unwrap_or_default().to_string(),
        owner: n.owner_id().unwrap_or_default().to_string(),
        status: n
            .status()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        tags: tags_of(n.tag_set()),
    }
}

/// An EC2 instance (EKS Auto Mode's nodes, found by their tags).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    pub id: String,
    /// `pending`, `running`, `shutting-down`, `terminated`, `stopping` or `stopped`.
    pub state: String,
    pub tags: Vec<(String, String)>,
}

/// Instances matching `by` (e.g. `("tag:eks:eks-cluster-name", "demo")`), every page,
/// terminated ones included (EC2 lists them for about an hour).
pub async fn find_instances(aws: &Aws, by: Filters<'_>) -> Result<Vec<Instance>, AwsError> {
    let mut found = Vec::new();
    let mut pages = aws
        .ec2
        .describe_instances()
        .set_filters(Some(filters(by)))
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| classify("ec2:DescribeInstances", e))?;
        for reservation in page.reservations() {
            found.extend(reservation.instances().iter().map(|i| {
                Instance {
                    id: i.instance_id().unwrap_or_default().to_string(),
                    state: i
                        .state()
                        .and_then(|s| s.name())
                        .map(|n| n.as_str().to_string())
                        .unwrap_or_default(),
                    tags: tags_of(i.tags()),
                }
            }));
        }
    }
    Ok(found)
}

pub async fn delete_network_interface(aws: &Aws, id: &str) -> Result<(), AwsError> {
    aws.ec2
        .delete_network_interface()
        .network_interface_id(id)
        .send()
        .await
        .map_err(|e| classify("ec2:DeleteNetworkInterface", e))?;
    Ok(())
}

/// This call only, without the SDK's retries (see [`crate::aws::no_retries`]).
fn no_sdk_retries() -> aws_sdk_ec2::config::Builder {
    aws_sdk_ec2::config::Builder::default().retry_config(crate::aws::no_retries())
}

// ---------------------------------------------------------------------------------------------
// EBS volumes Kubernetes made for PersistentVolumeClaims (found and deleted by teardown).

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Volume {
    pub id: String,
    /// `creating`, `available`, `in-use`, `deleting`, `deleted` or `error`.
    pub state: String,
    pub size_gib: i32,
    pub tags: Vec<(String, String)>,
}

fn volume_of(v: &aws_sdk_ec2::types::Volume) -> Volume {
    Volume {
        id: v.volume_id().unwrap_or_default().to_string(),
        state: v
            .state()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        size_gib: v.size().unwrap_or_default(),
        tags: tags_of(v.tags()),
    }
}

/// Volumes matching `by` (e.g. `("tag:KubernetesCluster", "demo")`), every page.
pub async fn find_volumes(aws: &Aws, by: Filters<'_>) -> Result<Vec<Volume>, AwsError> {
    let mut found = Vec::new();
    let mut pages = aws
        .ec2
        .describe_volumes()
        .set_filters(Some(filters(by)))
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| classify("ec2:DescribeVolumes", e))?;
        found.extend(page.volumes().iter().map(volume_of));
    }
    Ok(found)
}

/// One volume, or `None` once it is gone.
pub async fn describe_volume(aws: &Aws, id: &str) -> Result<Option<Volume>, AwsError> {
    match aws.ec2.describe_volumes().volume_ids(id).send().await {
        Ok(out) => Ok(out.volumes().first().map(volume_of)),
        Err(e) => match classify("ec2:DescribeVolumes", e) {
            e if e.is_not_found() => Ok(None),
            e => Err(e),
        },
    }
}

/// Deletes a volume; EC2 refuses one still attached (`VolumeInUse`).
pub async fn delete_volume(aws: &Aws, id: &str) -> Result<(), AwsError> {
    aws.ec2
        .delete_volume()
        .volume_id(id)
        .send()
        .await
        .map_err(|e| classify("ec2:DeleteVolume", e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_template_maps_each_volume_encrypted_gp3_with_imdsv2_and_no_user_data() {
        let data = node_template_data(&[("/dev/xvda".into(), 4), ("/dev/xvdb".into(), 50)]);
        let mappings: Vec<_> = data
            .block_device_mappings()
            .iter()
            .map(|m| {
                let ebs = m.ebs().unwrap();
                (
                    m.device_name().unwrap().to_string(),
                    ebs.volume_size(),
                    ebs.volume_type().map(|t| t.as_str().to_string()),
                    ebs.encrypted(),
                    ebs.delete_on_termination(),
                )
            })
            .collect();
        assert_eq!(
            mappings,
            vec![
                (
                    "/dev/xvda".into(),
                    Some(4),
                    Some("gp3".into()),
                    Some(true),
                    Some(true)
                ),
                (
                    "/dev/xvdb".into(),
                    Some(50),
                    Some("gp3".into()),
                    Some(true),
                    Some(true)
                ),
            ]
        );
        let metadata = data.metadata_options().unwrap();
        assert_eq!(metadata.http_tokens().map(|t| t.as_str()), Some("required"));
        assert_eq!(metadata.http_put_response_hop_limit(), Some(1));
        assert!(data.user_data().is_none());
        assert!(data.image_id().is_none());
    }
}
