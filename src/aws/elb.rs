//! Elastic Load Balancing, v2 and Classic: the load balancers Kubernetes makes for Services,
//! which keep a VPC from being deleted.

use super::{classify, Aws, AwsError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadBalancer {
    pub arn: String,
    pub name: String,
    pub vpc_id: String,
    pub tags: Vec<(String, String)>,
}

/// Load balancers in any of `vpcs`, with their tags.
pub async fn load_balancers_in(aws: &Aws, vpcs: &[String]) -> Result<Vec<LoadBalancer>, AwsError> {
    let mut found = Vec::new();
    let mut pages = aws.elb.describe_load_balancers().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| classify("elasticloadbalancing:DescribeLoadBalancers", e))?;
        for lb in page.load_balancers() {
            let vpc = lb.vpc_id().unwrap_or_default();
            if vpcs.iter().any(|v| v == vpc) {
                found.push(LoadBalancer {
                    arn: lb.load_balancer_arn().unwrap_or_default().to_string(),
                    name: lb.load_balancer_name().unwrap_or_default().to_string(),
                    vpc_id: vpc.to_string(),
                    tags: Vec::new(),
                });
            }
        }
    }
    let arns: Vec<String> = found.iter().map(|lb| lb.arn.clone()).collect();
    let mut tags = tags_of(aws, arns).await?;
    for lb in &mut found {
        lb.tags = tags.remove(&lb.arn).unwrap_or_default();
    }
    Ok(found)
}

/// Load balancers (v2) anywhere in the region tagged `key=value`, with their tags: EKS Auto
/// Mode's, tagged `eks:eks-cluster-name` with their cluster's name.
pub async fn load_balancers_tagged(
    aws: &Aws,
    key: &str,
    value: &str,
) -> Result<Vec<LoadBalancer>, AwsError> {
    let mut found = Vec::new();
    let mut pages = aws.elb.describe_load_balancers().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| classify("elasticloadbalancing:DescribeLoadBalancers", e))?;
        for lb in page.load_balancers() {
            found.push(LoadBalancer {
                arn: lb.load_balancer_arn().unwrap_or_default().to_string(),
                name: lb.load_balancer_name().unwrap_or_default().to_string(),
                vpc_id: lb.vpc_id().unwrap_or_default().to_string(),
                tags: Vec::new(),
            });
        }
    }
    let arns: Vec<String> = found.iter().map(|lb| lb.arn.clone()).collect();
    let mut tags = tags_of(aws, arns).await?;
    for lb in &mut found {
        lb.tags = tags.remove(&lb.arn).unwrap_or_default();
    }
    found.retain(|lb| lb.tags.iter().any(|(k, v)| k == key && v == value));
    Ok(found)
}

pub async fn delete_load_balancer(aws: &Aws, arn: &str) -> Result<(), AwsError> {
    aws.elb
        .delete_load_balancer()
        .load_balancer_arn(arn)
        .send()
        .await
        .map_err(|e| classify("elasticloadbalancing:DeleteLoadBalancer", e))?;
    Ok(())
}

/// Classic load balancers in any of `vpcs`, with their tags.
pub async fn classic_load_balancers_in(
    aws: &Aws,
    vpcs: &[String],
) -> Result<Vec<LoadBalancer>, AwsError> {
    let mut found = Vec::new();
    let mut pages = aws
        .elb_classic
        .describe_load_balancers()
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| classify("elasticloadbalancing:DescribeLoadBalancers", e))?;
        for lb in page.load_balancer_descriptions() {
            let vpc = lb.vpc_id().unwrap_or_default();
            if vpcs.iter().any(|v| v == vpc) {
                let name = lb.load_balancer_name().unwrap_or_default().to_string();
                found.push(LoadBalancer {
                    arn: name.clone(),
                    name,
                    vpc_id: vpc.to_string(),
                    tags: Vec::new(),
                });
            }
        }
    }
    for chunk in found.chunks_mut(20) {
        let names: Vec<String> = chunk.iter().map(|lb| lb.name.clone()).collect();
        let out = aws
            .elb_classic
            .describe_tags()
            .set_load_balancer_names(Some(names))
            .send()
            .await
            .map_err(|e| classify("elasticloadbalancing:DescribeTags", e))?;
        for description in out.tag_descriptions() {
            if let Some(lb) = chunk
                .iter_mut()
                .find(|lb| Some(lb.name.as_str()) == description.load_balancer_name())
            {
                lb.tags = description
                    .tags()
                    .iter()
                    .map(|t| {
                        (
                            t.key().to_string(),
                            t.value().unwrap_or_default().to_string(),
                        )
                    })
                    .collect();
            }
        }
    }
    Ok(found)
}

pub async fn delete_classic_load_balancer(aws: &Aws, name: &str) -> Result<(), AwsError> {
    aws.elb_classic
        .delete_load_balancer()
        .load_balancer_name(name)
        .send()
        .await
        .map_err(|e| classify("elasticloadbalancing:DeleteLoadBalancer", e))?;
    Ok(())
}

/// A target group (the AWS Load Balancer Controller makes one per Service port or Ingress
/// backend; the in-tree controller one per port of a Network Load Balancer Service).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetGroup {
    pub arn: String,
    pub name: String,
    pub vpc_id: String,
    /// The load balancers whose listeners or rules forward to it.
    pub load_balancers: Vec<String>,
    pub tags: Vec<(String, String)>,
}

/// Every target group of the region, with its tags (target groups outlive their VPC's load
/// balancers, so they are not looked for by VPC alone).
pub async fn target_groups(aws: &Aws) -> Result<Vec<TargetGroup>, AwsError> {
    let mut found = Vec::new();
    let mut pages = aws.elb.describe_target_groups().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| classify("elasticloadbalancing:DescribeTargetGroups", e))?;
        for tg in page.target_groups() {
            found.push(TargetGroup {
                arn: tg.target_group_arn().unwrap_or_default().to_string(),
                name: tg.target_group_name().unwrap_or_default().to_string(),
                vpc_id: tg.vpc_id().unwrap_or_default().to_string(),
                load_balancers: tg.load_balancer_arns().to_vec(),
                tags: Vec::new(),
            });
        }
    }
    let arns: Vec<String> = found.iter().map(|tg| tg.arn.clone()).collect();
    let mut tags = tags_of(aws, arns).await?;
    for tg in &mut found {
        tg.tags = tags.remove(&tg.arn).unwrap_or_default();
    }
    Ok(found)
}

/// Deletes a target group; ELB refuses one a listener or rule still uses (`ResourceInUse`).
pub async fn delete_target_group(aws: &Aws, arn: &str) -> Result<(), AwsError> {
    aws.elb
        .delete_target_group()
        .target_group_arn(arn)
        .send()
        .await
        .map_err(|e| classify("elasticloadbalancing:DeleteTargetGroup", e))?;
    Ok(())
}

/// The tags of ELBv2 resources (load balancers, target groups) by ARN. DescribeTags takes at
/// most 20 resources a call.
async fn tags_of(
    aws: &Aws,
    arns: Vec<String>,
) -> Result<std::collections::HashMap<String, Vec<(String, String)>>, AwsError> {
    let mut tags = std::collections::HashMap::new();
    for chunk in arns.chunks(20) {
        let out = aws
            .elb
            .describe_tags()
            .set_resource_arns(Some(chunk.to_vec()))
            .send()
            .await
            .map_err(|e| classify("elasticloadbalancing:DescribeTags", e))?;
        for description in out.tag_descriptions() {
            let pairs = description
                .tags()
                .iter()
                .map(|t| {
                    (
                        t.key().unwrap_or_default().to_string(),
                        t.value().unwrap_or_default().to_string(),
                    )
                })
                .collect();
            tags.insert(
                description.resource_arn().unwrap_or_default().to_string(),
                pairs,
            );
        }
    }
    Ok(tags)
}
