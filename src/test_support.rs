//! Test support: a canned HTTP layer for the SDK clients, for error paths the emulator cannot
//! produce. Ours rather than aws-smithy-mocks': that crate turns on `test-util` in crates every
//! SDK crate depends on, so `cargo test` and `cargo run` would each build the SDK crates.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;

/// Answers each API action with the next canned `(status, body)` (the last one repeats), and
/// counts the calls.
#[derive(Debug, Clone, Default)]
pub struct Canned {
    state: Arc<Mutex<CannedState>>,
}

#[derive(Debug, Default)]
struct CannedState {
    answers: HashMap<String, VecDeque<(u16, String)>>,
    calls: HashMap<String, usize>,
}

impl Canned {
    pub fn answer(self, action: &str, status: u16, body: &str) -> Canned {
        self.state
            .lock()
            .unwrap()
            .answers
            .entry(action.to_string())
            .or_default()
            .push_back((status, body.to_string()));
        self
    }

    pub fn calls(&self, action: &str) -> usize {
        self.state
            .lock()
            .unwrap()
            .calls
            .get(action)
            .copied()
            .unwrap_or(0)
    }
}

/// The API action of a request: the JSON protocols name it in `x-amz-target`, the query
/// protocols in the form body.
fn action_of(request: &HttpRequest) -> String {
    if let Some(target) = request.headers().get("x-amz-target") {
        return target.rsplit('.').next().unwrap_or_default().to_string();
    }
    let body = String::from_utf8_lossy(request.body().bytes().unwrap_or_default()).to_string();
    body.split('&')
        .find_map(|pair| pair.strip_prefix("Action="))
        .unwrap_or_default()
        .to_string()
}

impl HttpConnector for Canned {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let action = action_of(&request);
        let (status, body) = {
            let mut state = self.state.lock().unwrap();
            *state.calls.entry(action.clone()).or_default() += 1;
            let queue = state
                .answers
                .get_mut(&action)
                .unwrap_or_else(|| panic!("no canned answer for {action}"));
            if queue.len() > 1 {
                queue.pop_front().unwrap()
            } else {
                queue.front().cloned().unwrap()
            }
        };
        // AWS sends the request id as a header too; the SDKs read it from there.
        let request_id = body
            .split("<RequestID>")
            .nth(1)
            .and_then(|rest| rest.split('<').next())
            .unwrap_or("r-1")
            .to_string();
        let mut response = HttpResponse::new(status.try_into().unwrap(), SdkBody::from(body));
        response
            .headers_mut()
            .insert("x-amzn-requestid", request_id);
        HttpConnectorFuture::ready(Ok(response))
    }
}

impl HttpClient for Canned {
    fn http_connector(
        &self,
        _: &HttpConnectorSettings,
        _: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(self.clone())
    }
}

/// The production transport retries, with waits of a millisecond.
pub const FAST_RETRY: crate::aws::retry::TransportRetry = crate::aws::retry::TransportRetry {
    max_attempts: crate::aws::retry::TRANSPORT_ATTEMPTS,
    initial_backoff: std::time::Duration::from_millis(1),
    max_backoff: std::time::Duration::from_millis(20),
};

/// A client of `$sdk` whose HTTP layer is `$canned`, retrying as production does (with
/// millisecond waits).
#[macro_export]
macro_rules! canned_client {
    ($sdk:ident, $canned:expr) => {
        $sdk::Client::from_conf(
            $sdk::Config::builder()
                .behavior_version($sdk::config::BehaviorVersion::latest())
                .region($sdk::config::Region::new("us-west-2"))
                .credentials_provider($sdk::config::Credentials::new("a", "b", None, None, "test"))
                .retry_config($crate::aws::retry_config(&$crate::test_support::FAST_RETRY))
                .http_client($canned.clone())
                .build(),
        )
    };
}
