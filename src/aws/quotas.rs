//! Service Quotas: the quota values applied to this account.

use super::{classify, Aws, AwsError};

/// The applied value of a quota, or `None` when Service Quotas holds no applied value for it
/// (NoSuchResourceException: the account runs on the AWS default).
pub async fn applied(aws: &Aws, service: &str, code: &str) -> Result<Option<f64>, AwsError> {
    match aws
        .quotas
        .get_service_quota()
        .service_code(service)
        .quota_code(code)
        .send()
        .await
    {
        Ok(out) => Ok(out.quota().and_then(|q| q.value())),
        Err(e) => match classify("servicequotas:GetServiceQuota", e) {
            err if err
                .failure()
                .is_some_and(|f| f.code == "NoSuchResourceException") =>
            {
                Ok(None)
            }
            err => Err(err),
        },
    }
}
