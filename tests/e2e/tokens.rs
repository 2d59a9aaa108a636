//! Client request tokens in the emulator (`tests/moto/tokens.py`): a repeat with the same
//! parameters gets the first result; with others, EC2's IdempotentParameterMismatch and, for
//! EKS (undocumented), the first result unchanged. Shared with the fault proxy. Its pytest runs
//! moto in-process with `tokens.install()`.

#[test]
fn the_emulator_remembers_client_request_tokens_as_aws_does() {
    let out = std::process::Command::new(crate::harness::venv_python())
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
        .arg(crate::harness::root("tests/moto/test_tokens.py"))
        .current_dir(crate::harness::root(""))
        .output()
        .expect("run pytest");
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains(" passed") && !text.contains("skipped"),
        "{text}"
    );
}
