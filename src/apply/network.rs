//! Task 2, configure the VPC: the VPC, subnets, internet gateway, route tables and routes,
//! Elastic IPs and NAT gateways, security groups and (private pattern) VPC endpoints.
//!
//! Each resource is found first by its tags (`eksboot:cluster` + `eksboot:step`), or, for
//! things that carry no tags of their own (routes, associations, attachments), on its parent.
//! NAT gateways are found by their subnet and checked by tags: tag filters are not reliable
//! for them everywhere.

use std::time::{Duration, Instant};

use crate::aws::ec2::{self, EndpointPlacement, RouteTarget};
use crate::plan::{endpoint_service_name, Kind, Resource, INTERFACE_ENDPOINTS};

use super::journal::Outputs;
use super::retry::PollDelay;
use super::retry::{create_once, find_or_create, first_found, made, request_token};
use super::{Ctx, StepError, StepResult};

/// How long a NAT gateway may take to become available (AWS says usually a few minutes).
pub const NAT_TIMEOUT: Duration = Duration::from_secs(15 * 60);
/// How long a VPC endpoint may take to become available.
pub const ENDPOINT_TIMEOUT: Duration = Duration::from_secs(10 * 60);

pub async fn run(ctx: &Ctx, res: &Resource) -> Result<StepResult, StepError> {
    match res.kind {
        Kind::Vpc => vpc(ctx, res).await,
        Kind::Subnet => subnet(ctx, res).await,
        Kind::InternetGateway => internet_gateway(ctx, res).await,
        Kind::InternetGatewayAttachment => attach_internet_gateway(ctx, res).await,
        Kind::RouteTable => route_table(ctx, res).await,
        Kind::Route => route(ctx, res).await,
        Kind::RouteTableAssociation => association(ctx, res).await,
        Kind::ElasticIp => elastic_ip(ctx, res).await,
        Kind::NatGateway => nat_gateway(ctx, res).await,
        Kind::SecurityGroup => security_group(ctx, res).await,
        Kind::VpcEndpoint => vpc_endpoint(ctx, res).await,
        other => unreachable!("no network step for {other:?}"),
    }
}

fn result(outputs: Outputs, adopted: bool) -> StepResult {
    if adopted {
        StepResult::adopted(outputs)
    } else {
        StepResult::created(outputs)
    }
}

/// The filters that find this step's resource by its tags.
fn by_tags<'a>(ctx: &'a Ctx, res: &'a Resource) -> [(&'a str, &'a str); 2] {
    [
        ("tag:eksboot:cluster", ctx.profile.cluster.name.as_str()),
        ("tag:eksboot:step", res.id.as_str()),
    ]
}

fn vpc_id(ctx: &Ctx) -> String {
    ctx.output("vpc").id
}

/// The dependency of `res` whose id starts with `prefix` (e.g. its route table).
fn dependency<'a>(res: &'a Resource, prefix: &str) -> &'a str {
    res.depends_on
        .iter()
        .find(|d| d.starts_with(prefix))
        .unwrap_or_else(|| panic!("{} has no {prefix} dependency", res.id))
}

async fn vpc(ctx: &Ctx, res: &Resource) -> Result<StepResult, StepError> {
    let base = ctx.timing.retry_base;
    let cidr = ctx.profile.network.vpc_cidr.to_string();
    let tag_filter = by_tags(ctx, res);
    let tags = ctx.tags(res);
    let (id, adopted) = create_once(
        base,
        || first_found(ec2::find_vpcs(&ctx.aws, &tag_filter), |v| Some(v.id)),
        || made(ec2::create_vpc(&ctx.aws, &cidr, &tags)),
    )
    .await?;
    ctx.record_partial(&res.id, &Outputs::id(&id))?;
    // EKS needs DNS support and DNS hostnames; setting them again is harmless.
    ec2::enable_vpc_dns(&ctx.aws, &id).await?;
    Ok(result(Outputs::id(id).with("cidr", cidr), adopted))
}

async fn subnet(ctx: &Ctx, res: &Resource) -> Result<StepResult, StepError> {
    let base = ctx.timing.retry_base;
    let public = res.id.starts_with("subnet-public-");
    let cidr = res.cidr.expect("subnets have a CIDR").to_string();
    let az = res.az.clone().expect("subnets have an AZ");
    let tag_filter = by_tags(ctx, res);
    let mut tags = ctx.tags(res);
    let role = if public {
        "kubernetes.io/role/elb"
    } else {
        "kubernetes.io/role/internal-elb"
    };
    tags.push((role.into(), "1".into()));
    tags.push((
        format!("kubernetes.io/cluster/{}", ctx.profile.cluster.name),
        "shared".into(),
    ));
    let vpc = vpc_id(ctx);
    let (id, adopted) = create_once(
        base,
        || first_found(ec2::find_subnets(&ctx.aws, &tag_filter), |s| Some(s.id)),
        || made(ec2::create_subnet(&ctx.aws, &vpc, &cidr, &az, &tags)),
    )
    .await?;
    ctx.record_partial(&res.id, &Outputs::id(&id))?;
    if public {
        ec2::map_public_ip_on_launch(&ctx.aws, &id).await?;
    }
    Ok(result(
        Outputs::id(id).with("cidr", cidr).with("az", az),
        adopted,
    ))
}

async fn internet_gateway(ctx: &Ctx, res: &Resource) -> Result<StepResult, StepError> {
    let base = ctx.timing.retry_base;
    let tag_filter = by_tags(ctx, res);
    let tags = ctx.tags(res);
    let (id, adopted) = create_once(
        base,
        || {
            first_found(ec2::find_internet_gateways(&ctx.aws, &tag_filter), |g| {
                Some(g.id)
            })
        },
        || made(ec2::create_internet_gateway(&ctx.aws, &tags)),
    )
    .await?;
    Ok(result(Outputs::id(id), adopted))
}

async fn attach_internet_gateway(ctx: &Ctx, _res: &Resource) -> Result<StepResult, StepError> {
    let igw = ctx.output("igw").id;
    let vpc = vpc_id(ctx);
    let by_id = [("internet-gateway-id", igw.as_str())];
    let ((), attached) = find_or_create(
        || async {
            let found = ec2::find_internet_gateways(&ctx.aws, &by_id).await?;
            Ok(found
                .iter()
                .any(|g| g.attached_vpcs.contains(&vpc))
                .then_some(()))
        },
        || made(ec2::attach_internet_gateway(&ctx.aws, &igw, &vpc)),
    )
    .await?;
    Ok(result(Outputs::id(&igw).with("vpc", vpc), attached))
}

async fn route_table(ctx: &Ctx, res: &Resource) -> Result<StepResult, StepError> {
    let tag_filter = by_tags(ctx, res);
    let tags = ctx.tags(res);
    let vpc = vpc_id(ctx);
    let token = request_token(
        ctx,
        &res.id,
        &serde_json::json!({"action": "CreateRouteTable", "vpc": vpc, "tags": tags}),
    )
    .value();
    let (id, adopted) = find_or_create(
        || {
            first_found(ec2::find_route_tables(&ctx.aws, &tag_filter), |t| {
                Some(t.id)
            })
        },
        || made(ec2::create_route_table(&ctx.aws, &vpc, &tags, &token)),
    )
    .await?;
    Ok(result(Outputs::id(id), adopted))
}

/// The default route of a route table: to the internet gateway or to a NAT gateway.
async fn route(ctx: &Ctx, res: &Resource) -> Result<StepResult, StepError> {
    let table = ctx.output(dependency(res, "route-table-")).id;
    let (target_step, is_nat) = match res.depends_on.iter().find(|d| d.starts_with("nat-")) {
        Some(nat) => (nat.as_str(), true),
        None => ("igw", false),
    };
    let target = ctx.output(target_step).id;
    let destination = "0.0.0.0/0";
    let by_id = [("route-table-id", table.as_str())];
    let via = if is_nat {
        RouteTarget::NatGateway(&target)
    } else {
        RouteTarget::InternetGateway(&target)
    };
    let ((), exists) = find_or_create(
        || async {
            let found = ec2::find_route_tables(&ctx.aws, &by_id).await?;
            Ok(found
                .iter()
                .flat_map(|t| &t.routes)
                .any(|(dest, via)| dest == destination && *via == target)
                .then_some(()))
        },
        || made(ec2::create_route(&ctx.aws, &table, destination, via)),
    )
    .await?;
    Ok(result(
        Outputs::id(format!("{table}:{destination}")).with("target", target),
        exists,
    ))
}

async fn association(ctx: &Ctx, res: &Resource) -> Result<StepResult, StepError> {
    let table = ctx.output(dependency(res, "route-table-")).id;
    let subnet = ctx.output(dependency(res, "subnet-")).id;
    let by_id = [("route-table-id", table.as_str())];
    let (id, adopted) = find_or_create(
        || async {
            let found = ec2::find_route_tables(&ctx.aws, &by_id).await?;
            Ok(found
                .iter()
                .flat_map(|t| &t.associations)
                .find(|(_, s)| *s == subnet)
                .map(|(id, _)| id.clone()))
        },
        || made(ec2::associate_route_table(&ctx.aws, &table, &subnet)),
    )
    .await?;
    Ok(result(
        Outputs::id(id)
            .with("route_table", table)
            .with("subnet", subnet),
        adopted,
    ))
}

async fn elastic_ip(ctx: &Ctx, res: &Resource) -> Result<StepResult, StepError> {
    let base = ctx.timing.retry_base;
    let tag_filter = by_tags(ctx, res);
    let tags = ctx.tags(res);
    let (address, adopted) = create_once(
        base,
        || first_found(ec2::find_addresses(&ctx.aws, &tag_filter), Some),
        || made(ec2::allocate_address(&ctx.aws, &tags)),
    )
    .await?;
    Ok(result(
        Outputs::id(address.allocation_id).with("public_ip", address.public_ip),
        adopted,
    ))
}

/// A NAT gateway in its AZ's public subnet, waited for until available.
async fn nat_gateway(ctx: &Ctx, res: &Resource) -> Result<StepResult, StepError> {
    let subnet = ctx.output(dependency(res, "subnet-public-")).id;
    let allocation = ctx.output(dependency(res, "eip-")).id;
    let cluster = ctx.profile.cluster.name.as_str();
    let in_subnet = ec2::find_nat_gateways_in_subnet(&ctx.aws, &subnet).await?;
    let ours = in_subnet.into_iter().find(|n| {
        let tag = |k: &str| {
            n.tags
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        };
        tag("eksboot:cluster") == Some(cluster)
            && tag("eksboot:step") == Some(res.id.as_str())
            && (n.state == "pending" || n.state == "available")
    });
    let adopted = ours.is_some();
    let id = match ours {
        Some(n) => n.id,
        None => {
            let tags = ctx.tags(res);
            let token = request_token(
                ctx,
                &res.id,
                &serde_json::json!({
                    "action": "CreateNatGateway",
                    "subnet": subnet,
                    "allocation": allocation,
                    "tags": tags,
                }),
            )
            .value();
            ec2::create_nat_gateway(&ctx.aws, &subnet, &allocation, &tags, &token).await?
        }
    };
    // Recorded before waiting: a run killed now still knows this NAT gateway exists.
    ctx.record_partial(&res.id, &Outputs::id(&id).with("subnet", &subnet))?;
    wait_for_nat(ctx, res, &id).await?;
    Ok(result(
        Outputs::id(id)
            .with("subnet", subnet)
            .with("allocation", allocation),
        adopted,
    ))
}

async fn wait_for_nat(ctx: &Ctx, res: &Resource, id: &str) -> Result<(), StepError> {
    wait_for_available(ctx, res, id, NAT_TIMEOUT, || async {
        Ok(ec2::describe_nat_gateway(&ctx.aws, id)
            .await?
            .map(|n| (n.state, n.failure.unwrap_or_default())))
    })
    .await
}

/// Polls an EC2 resource until it is `available`, reporting `pending` as waiting; any other
/// state (or its absence) fails the step with AWS's reason.
async fn wait_for_available<F, Fut>(
    ctx: &Ctx,
    res: &Resource,
    id: &str,
    timeout: Duration,
    mut look: F,
) -> Result<(), StepError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Option<(String, String)>, StepError>>,
{
    let started = Instant::now();
    let mut poll = PollDelay::new(ctx.timing.poll);
    loop {
        ctx.check_stopping()?;
        let (state, reason) = look()
            .await?
            .unwrap_or_else(|| ("gone".to_string(), String::new()));
        match state.as_str() {
            "available" => return Ok(()),
            "pending" => ctx.waiting(res, id, "pending", started),
            _ => {
                return Err(StepError::Broken(format!(
                    "{} {id} is {state} {reason}",
                    res.kind.as_str()
                )));
            }
        }
        if started.elapsed() > timeout {
            return Err(StepError::TimedOut(format!(
                "{} {id} is still pending after {} minutes",
                res.kind.as_str(),
                timeout.as_secs() / 60
            )));
        }
        poll.sleep().await;
    }
}

async fn security_group(ctx: &Ctx, res: &Resource) -> Result<StepResult, StepError> {
    let vpc = vpc_id(ctx);
    let tags_filter = by_tags(ctx, res);
    let filters = [tags_filter[0], tags_filter[1], ("vpc-id", vpc.as_str())];
    let endpoints = res.id == "endpoints-sg";
    let tags = ctx.tags(res);
    let description = if endpoints {
        "VPC endpoints: HTTPS from inside the VPC only; made by eksboot"
    } else {
        "EKS cluster: no inbound, all outbound; made by eksboot"
    };
    // A group's name is unique in its VPC: a create the SDK repeated after a lost answer is
    // told it exists, and the group found by its tags is ours.
    let (id, adopted) = find_or_create(
        || {
            first_found(ec2::find_security_groups(&ctx.aws, &filters), |g| {
                Some(g.id)
            })
        },
        || {
            made(ec2::create_security_group(
                &ctx.aws,
                &vpc,
                &res.name,
                description,
                &tags,
            ))
        },
    )
    .await?;
    if endpoints {
        // Also on a group adopted from a run that died before adding its rule; a rule that is
        // already there is success.
        ctx.record_partial(&res.id, &Outputs::id(&id))?;
        let cidr = ctx.profile.network.vpc_cidr.to_string();
        crate::aws::done_if_exists(ec2::allow_tcp_from(&ctx.aws, &id, 443, &cidr).await)?;
    }
    Ok(result(Outputs::id(id), adopted))
}

async fn vpc_endpoint(ctx: &Ctx, res: &Resource) -> Result<StepResult, StepError> {
    let region = &ctx.profile.cluster.region;
    let tag_filter = by_tags(ctx, res);
    let found = ec2::find_vpc_endpoints(&ctx.aws, &tag_filter).await?;
    let live = found.into_iter().find(|e| {
        !matches!(
            e.state.as_str(),
            "deleted" | "deleting" | "failed" | "rejected"
        )
    });
    if let Some(endpoint) = live {
        ctx.record_partial(&res.id, &Outputs::id(&endpoint.id))?;
        wait_for_endpoint(ctx, res, &endpoint.id).await?;
        return Ok(result(
            Outputs::id(endpoint.id).with("service", endpoint.service),
            true,
        ));
    }
    let vpc = vpc_id(ctx);
    let azs = ctx.profile.network.availability_zones.count();
    let short = if res.id == "endpoint-s3" {
        "s3"
    } else {
        INTERFACE_ENDPOINTS
            .iter()
            .find(|s| crate::plan::endpoint_id(s) == res.id)
            .expect("a planned interface endpoint")
    };
    let offered = ctx
        .endpoint_services
        .get_or_try_init(|| ec2::endpoint_service_names(&ctx.aws))
        .await?;
    let service = endpoint_service_name(offered, region, short).ok_or_else(|| {
        StepError::Conflict {
            message: format!("{region} offers no VPC endpoint service for {short}"),
            hint: "the private pattern needs it: choose a region that offers it, or the public-and-private pattern".into(),
        }
    })?;
    let (placement_tables, placement_subnets) = if res.id == "endpoint-s3" {
        let tables = (1..=azs)
            .map(|az| ctx.output(&format!("route-table-private-{az}")).id)
            .collect::<Vec<_>>();
        (tables, Vec::new())
    } else {
        let subnets = (1..=azs)
            .map(|az| ctx.output(&format!("subnet-private-{az}")).id)
            .collect::<Vec<_>>();
        (Vec::new(), subnets)
    };
    let security_group = if placement_subnets.is_empty() {
        String::new()
    } else {
        ctx.output("endpoints-sg").id
    };
    let placement = if res.id == "endpoint-s3" {
        EndpointPlacement::Gateway {
            route_tables: &placement_tables,
        }
    } else {
        EndpointPlacement::Interface {
            subnets: &placement_subnets,
            security_group: &security_group,
        }
    };
    let tags = ctx.tags(res);
    let token = request_token(
        ctx,
        &res.id,
        &serde_json::json!({
            "action": "CreateVpcEndpoint",
            "vpc": vpc,
            "service": service,
            "route_tables": placement_tables,
            "subnets": placement_subnets,
            "security_group": security_group,
            "tags": tags,
        }),
    )
    .value();
    let id = ec2::create_vpc_endpoint(&ctx.aws, &vpc, &service, placement, &tags, &token).await?;
    // Nodes reach AWS through the endpoints: the node group waits for them to be available.
    ctx.record_partial(&res.id, &Outputs::id(&id))?;
    wait_for_endpoint(ctx, res, &id).await?;
    Ok(result(Outputs::id(id).with("service", service), false))
}

async fn wait_for_endpoint(ctx: &Ctx, res: &Resource, id: &str) -> Result<(), StepError> {
    wait_for_available(ctx, res, id, ENDPOINT_TIMEOUT, || async {
        Ok(ec2::describe_vpc_endpoint(&ctx.aws, id)
            .await?
            .map(|e| (e.state, String::new())))
    })
    .await
}
