//! Client request tokens in the emulator (`emulator/tokens.py`): a repeat with the same
//! parameters gets the first result; with others, EC2's IdempotentParameterMismatch and, for
//! EKS (undocumented), the first result unchanged. Shared with the fault proxy. Its pytest runs
//! moto in-process with `tokens.install()`.

#[test]
fn the_emulator_remembers_client_request_tokens_as_aws_does() {
    crate::harness::pytest("emulator/test_tokens.py");
}
