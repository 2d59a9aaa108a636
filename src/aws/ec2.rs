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

/// Elastic IP addresses allocated in the region.
pub async fn count_addresses(aws: &Aws) -> Result<usize, AwsError> {
    let out = aws
        .ec2
        .describe_addresses()
        .send()
        .await
        .map_err(|e| classify("ec2:DescribeAddresses", e))?;
    Ok(out.addresses().len())
}

/// VPCs in the region, the default one included (it counts against the quota too).
pub async fn count_vpcs(aws: &Aws) -> Result<usize, AwsError> {
    let mut count = 0;
    let mut pages = aws.ec2.describe_vpcs().into_paginator().send();
    while let Some(page) = pages.next().await {
        count += page
            .map_err(|e| classify("ec2:DescribeVpcs", e))?
            .vpcs()
            .len();
    }
    Ok(count)
}
