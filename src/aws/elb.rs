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
    for chunk in found.chunks_mut(20) {
        let arns: Vec<String> = chunk.iter().map(|lb| lb.arn.clone()).collect();
        let out = aws
            .elb
            .describe_tags()
            .set_resource_arns(Some(arns))
            .send()
            .await
            .map_err(|e| classify("elasticloadbalancing:DescribeTags", e))?;
        for description in out.tag_descriptions() {
            if let Some(lb) = chunk
                .iter_mut()
                .find(|lb| Some(lb.arn.as_str()) == description.resource_arn())
            {
                lb.tags = description
                    .tags()
                    .iter()
                    .map(|t| {
                        (
                            t.key().unwrap_or_default().to_string(),
                            t.value().unwrap_or_default().to_string(),
                        )
                    })
                    .collect();
            }
        }
    }
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
