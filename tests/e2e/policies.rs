//! Every identity policy eksboot writes passes parliament (the IAM policy linter) with no
//! finding of MEDIUM severity or above. Trust and key policies are checked by structure in the
//! unit tests: parliament reads them as malformed identity policies.

use std::process::Command;

use eksboot::plan::iam::{creator_inline_policy, CreatorScope};

use crate::harness::{bare_eksboot, root, venv_python};

const LINT: &str = r#"
import json, sys
from parliament import analyze_policy_string, enhance_finding
policy = analyze_policy_string(sys.stdin.read())
for f in policy.findings:
    enhance_finding(f)
bad = [f for f in policy.findings if f.severity in ("MEDIUM", "HIGH", "CRITICAL")]
print(json.dumps([{"issue": f.issue, "severity": f.severity, "detail": str(f.detail), "location": str(f.location)} for f in policy.findings]))
sys.exit(1 if bad else 0)
"#;

/// Whether parliament finds nothing of MEDIUM or above, and what it found.
fn lint(policy: &serde_json::Value) -> (bool, String) {
    let mut child = Command::new(venv_python())
        .args(["-c", LINT])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(policy.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let findings = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), findings)
}

#[test]
fn the_linter_does_flag_a_careless_policy() {
    let careless = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Action": "eks:CreateCluster",
            "Resource": "arn:aws:eks:us-west-2:123456789012:cluster/demo"
        }]
    });
    let (ok, findings) = lint(&careless);
    assert!(!ok, "parliament should object: {findings}");
}

#[test]
fn creator_inline_policy_passes_parliament() {
    for (node_role, oidc) in [
        (Some("arn:aws:iam::123456789012:role/demo-node"), true),
        (None, false),
    ] {
        let (ok, findings) = lint(&creator_inline_policy(&CreatorScope {
            region: "us-west-2",
            account: "123456789012",
            cluster: "demo",
            cluster_role_arn: "arn:aws:iam::123456789012:role/demo-cluster",
            node_role_arn: node_role,
            key_arn: Some(
                "arn:aws:kms:us-west-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            ),
            oidc_provider: oidc,
            launch_template_arn: node_role
                .map(|_| "arn:aws:ec2:us-west-2:123456789012:launch-template/lt-0123456789abcdef0"),
        }));
        assert!(ok, "parliament findings of MEDIUM or above: {findings}");
    }
}

#[test]
fn the_printed_policies_pass_parliament_for_every_example() {
    let home = tempfile::tempdir().unwrap();
    for profile in ["dev", "production", "private"] {
        for (who, flags) in [
            ("caller", vec![]),
            ("caller", vec!["--nodes", "off"]),
            ("creator", vec![]),
        ] {
            let out = bare_eksboot(&home)
                .arg("permissions")
                .arg("--profile")
                .arg(root(&format!("profiles/{profile}.toml")))
                .args(["--account", "123456789012", "--for", who])
                .args(&flags)
                .assert()
                .success();
            let policy: serde_json::Value =
                serde_json::from_slice(&out.get_output().stdout).unwrap();
            let (ok, findings) = lint(&policy);
            assert!(
                ok,
                "{profile} {who} {flags:?}: parliament findings of MEDIUM or above: {findings}"
            );
        }
    }
}
