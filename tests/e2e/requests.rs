//! What AWS was asked, read from the emulator's ordered log of each account's requests
//! (emulator/iam_enforce.py records every request it evaluates, allowed or not). Claims such
//! as "no AWS call" or "nothing was changed" come from here, never from eksboot's own output.

use crate::harness::Account;

/// One request the emulator received for the account, in arrival order.
#[derive(Debug, Clone)]
pub struct Call {
    /// `service:Action`, as IAM names it.
    pub action: String,
    /// Who made it (an ARN): shown when a claim about the calls fails.
    pub principal: String,
}

/// Where the account's log stands now: calls made after it are [`since`] this mark.
pub fn mark(account: &Account) -> usize {
    all(account).len()
}

/// Every call the account's log holds, oldest first.
pub fn all(account: &Account) -> Vec<Call> {
    let log = account.iam_log();
    log["requests"]
        .as_array()
        .map(|requests| {
            requests
                .iter()
                .map(|r| Call {
                    action: r["action"].as_str().unwrap_or("?").to_string(),
                    principal: r["principal"].as_str().unwrap_or("?").to_string(),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The calls made after `mark`, oldest first.
pub fn since(account: &Account, mark: usize) -> Vec<Call> {
    all(account).into_iter().skip(mark).collect()
}

/// Whether an action only reads: Describe*, List*, Get*, and the calls that hand out
/// credentials (sts:AssumeRole) or check them, which change nothing in the account.
pub fn reads_only(action: &str) -> bool {
    let name = action.split_once(':').map_or(action, |(_, name)| name);
    ["Describe", "List", "Get", "Simulate", "Lookup"]
        .iter()
        .any(|prefix| name.starts_with(prefix))
        || action == "sts:AssumeRole"
}

/// The actions among `calls` that change something in AWS, in order.
pub fn changes(calls: &[Call]) -> Vec<String> {
    calls
        .iter()
        .filter(|c| !reads_only(&c.action))
        .map(|c| format!("{} by {}", c.action, c.principal))
        .collect()
}

/// Asserts that AWS was asked nothing at all after `mark`.
pub fn assert_no_call_since(account: &Account, mark: usize, what: &str) {
    let calls = since(account, mark);
    assert!(
        calls.is_empty(),
        "{what} should call AWS not at all, but called {calls:?}"
    );
}

/// Asserts that `what` read AWS after `mark` but changed nothing: every call since only read.
pub fn assert_no_change_since(account: &Account, mark: usize, what: &str) {
    let calls = since(account, mark);
    assert!(
        !calls.is_empty(),
        "{what}: the emulator logged no call at all, yet it reads AWS"
    );
    let changed = changes(&calls);
    assert!(
        changed.is_empty(),
        "{what} should change nothing in AWS, but called {changed:?}"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_changes_are_told_apart_by_action_name() {
        for read in [
            "eks:DescribeCluster",
            "ec2:DescribeVpcs",
            "eks:ListAddons",
            "iam:GetRole",
            "sts:GetCallerIdentity",
            "sts:AssumeRole",
        ] {
            assert!(reads_only(read), "{read}");
        }
        for change in [
            "eks:UpdateClusterConfig",
            "ec2:CreateTags",
            "iam:PutRolePolicy",
            "kms:ScheduleKeyDeletion",
            "eks:TagResource",
        ] {
            assert!(!reads_only(change), "{change}");
        }
    }
}
