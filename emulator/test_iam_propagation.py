"""Tests of iam_propagation: IAM's eventual consistency, on by default (issue 25).

Run: `python -m pytest emulator/test_iam_propagation.py` in the venv with moto[server]==5.2.5,
boto3 and pytest (the harness runs it from `cargo test`, tests/e2e/emulator.rs). It starts the
emulator as a server (eksboot_moto.py, a window of 300 ms) and talks to it with boto3, each test
in an account of its own, as the e2e harness does: role `x` (the harness's identity) sets the
account up, and a user of the account ("runner", allowed every action) makes the changes and the
requests the rules concern. Each account has its own window (the control endpoint): 0 ms by
default, so only the first-request rule acts and nothing waits; a test of the window holds it
open for 5 s and makes its requests at once (nothing depends on catching a short state). The IAM log test turns enforcement on, with the evaluator the harness
installs (target/tmp/iam-eval, or $EKSBOOT_IAM_EVALUATOR / $EKSBOOT_IAM_NODE_MODULES).
"""

import itertools
import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import testing_support  # noqa: E402

WINDOW_MS = 300
HELD_MS = 5000
REGION = "us-east-1"
ALL = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
_accounts = itertools.count(int(time.time()) % 1_000_000 * 1000 + 200_000_000_000)


def _evaluator():
    """The Node IAM evaluator, or None (see testing_support)."""
    return testing_support.node_evaluator()


@pytest.fixture(scope="module")
def server():
    env = dict(os.environ, EKSBOOT_MOTO_IAM_PROPAGATION_MS=str(WINDOW_MS), MOTO_IAM_LOAD_MANAGED_POLICIES="false")
    evaluator = _evaluator()
    if evaluator:
        env["EKSBOOT_IAM_EVALUATOR"] = evaluator
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "eksboot_moto.py")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True,
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith("PORT "), f"the emulator did not start: {line!r}"
        endpoint = f"http://127.0.0.1:{line.split()[1]}"
        yield {"endpoint": endpoint, "evaluator": evaluator}
    finally:
        proc.kill()
        proc.wait()


def _client(server, service, keys):
    return boto3.client(
        service, region_name=REGION, endpoint_url=server["endpoint"],
        aws_access_key_id=keys[0], aws_secret_access_key=keys[1], aws_session_token=keys[2],
        config=Config(retries={"max_attempts": 1}),
    )


def _keys(credentials):
    return credentials["AccessKeyId"], credentials["SecretAccessKey"], credentials["SessionToken"]


def _control(server, path, body=None):
    request = urllib.request.Request(
        server["endpoint"] + path, method="POST" if body is not None else "GET",
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        text = answer.read()
    # eksboot_moto's own control endpoints answer "ok"; iam_enforce's answer JSON.
    return json.loads(text) if text.strip().startswith(b"{") else text.decode()


def _trust(*principals):
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": list(principals)}, "Action": "sts:AssumeRole"}]})


@pytest.fixture()
def account(server):
    """A fresh account: the harness's role `x` (every action) and a user `runner`
    (every action) with keys, both made by `x`, past the window."""
    account_id = f"{next(_accounts):012d}"
    bootstrap = _client(server, "sts", ("AKIAEKSBOOTTEST", "secret", None))
    # Role `x` does not exist yet: nothing was made, so nothing to refuse (the harness's path).
    x_keys = _keys(bootstrap.assume_role(RoleArn=f"arn:aws:iam::{account_id}:role/x", RoleSessionName="tt")["Credentials"])
    iam = _client(server, "iam", x_keys)
    iam.create_role(RoleName="x", AssumeRolePolicyDocument=_trust(f"arn:aws:iam::{account_id}:root"))
    iam.put_role_policy(RoleName="x", PolicyName="all", PolicyDocument=ALL)
    # The harness's own requests are never refused, right after its own policy changed.
    iam.create_user(UserName="runner")
    key = iam.create_access_key(UserName="runner")["AccessKey"]
    iam.put_user_policy(UserName="runner", PolicyName="all", PolicyDocument=ALL)
    _window(server, account_id, 0)
    # A managed policy for the tests to attach (AWS's own are not loaded: each account would
    # take seconds to set up).
    admin = iam.create_policy(PolicyName="admin", PolicyDocument=ALL)["Policy"]["Arn"]
    runner = (key["AccessKeyId"], key["SecretAccessKey"], None)
    return {
        "id": account_id, "x": x_keys, "runner": runner,
        "runner_arn": f"arn:aws:iam::{account_id}:user/runner", "admin": admin,
        "as": lambda service, keys=runner: _client(server, service, keys),
    }


def _refused(call, **kwargs):
    with pytest.raises(ClientError) as e:
        call(**kwargs)
    return e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]


def _window(server, account_id, ms):
    _control(server, "/eksboot-moto/iam-propagation-window", {"account": account_id, "ms": ms})


def _refusals(server, account):
    return _control(server, f"/eksboot-moto/iam-log?account={account['id']}")["propagation"]


# ------------------------------------------------------------------------ 1. AssumeRole


def test_a_role_just_made_cannot_be_assumed_for_the_window(server, account):
    iam, sts = account["as"]("iam"), account["as"]("sts")
    _window(server, account["id"], HELD_MS)
    arn = iam.create_role(RoleName="creator", AssumeRolePolicyDocument=_trust(account["runner_arn"]))["Role"]["Arn"]
    code, message = _refused(sts.assume_role, RoleArn=arn, RoleSessionName="ss")
    assert code == "AccessDenied"
    assert message == f"User: {account['runner_arn']} is not authorized to perform: sts:AssumeRole on resource: {arn}"
    # The first refusal does not end the window.
    assert _refused(sts.assume_role, RoleArn=arn, RoleSessionName="ss")[0] == "AccessDenied"
    _window(server, account["id"], 0)  # the window is over
    assert sts.assume_role(RoleArn=arn, RoleSessionName="ss")["Credentials"]["AccessKeyId"]
    refusals = _refusals(server, account)
    assert [(r["rule"], r["action"], r["principal"], r["target"]) for r in refusals] == [
        ("new-role", "sts:AssumeRole", account["runner_arn"], arn)] * 2
    assert "ms after the change" in refusals[0]["why"]


def test_the_first_assume_role_after_create_role_is_refused_however_late(server, account):
    iam, sts = account["as"]("iam"), account["as"]("sts")
    arn = iam.create_role(RoleName="late", AssumeRolePolicyDocument=_trust(account["runner_arn"]))["Role"]["Arn"]
    assert _refused(sts.assume_role, RoleArn=arn, RoleSessionName="ss")[0] == "AccessDenied"
    assert sts.assume_role(RoleArn=arn, RoleSessionName="ss")["Credentials"]["AccessKeyId"]
    assert sts.assume_role(RoleArn=arn, RoleSessionName="ss")["Credentials"]["AccessKeyId"]
    refusals = _refusals(server, account)
    assert len(refusals) == 1 and "the first request since the change" in refusals[0]["why"]


def test_a_role_made_again_is_refused_again(server, account):
    iam, sts = account["as"]("iam"), account["as"]("sts")
    arn = iam.create_role(RoleName="again", AssumeRolePolicyDocument=_trust(account["runner_arn"]))["Role"]["Arn"]
    _refused(sts.assume_role, RoleArn=arn, RoleSessionName="ss")
    sts.assume_role(RoleArn=arn, RoleSessionName="ss")
    iam.delete_role(RoleName="again")
    iam.create_role(RoleName="again", AssumeRolePolicyDocument=_trust(account["runner_arn"]))
    assert _refused(sts.assume_role, RoleArn=arn, RoleSessionName="ss")[0] == "AccessDenied"
    assert sts.assume_role(RoleArn=arn, RoleSessionName="ss")["Credentials"]["AccessKeyId"]


def test_a_role_the_harness_made_meets_the_window_only(server, account):
    harness_iam, sts = account["as"]("iam", account["x"]), account["as"]("sts")
    _window(server, account["id"], HELD_MS)
    arn = harness_iam.create_role(RoleName="team", AssumeRolePolicyDocument=_trust(account["runner_arn"]))["Role"]["Arn"]
    assert _refused(sts.assume_role, RoleArn=arn, RoleSessionName="ss")[0] == "AccessDenied"
    _window(server, account["id"], 0)
    assert sts.assume_role(RoleArn=arn, RoleSessionName="ss")["Credentials"]["AccessKeyId"]
    other = harness_iam.create_role(RoleName="team2", AssumeRolePolicyDocument=_trust(account["runner_arn"]))["Role"]["Arn"]
    assert sts.assume_role(RoleArn=other, RoleSessionName="ss")["Credentials"]["AccessKeyId"]


# ------------------------------------------------------------------------ 2. key policies


def _key_policy(account, *principals):
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "admin", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account['id']}:root"},
         "Action": "kms:*", "Resource": "*"},
        {"Sid": "use", "Effect": "Allow", "Principal": {"AWS": list(principals)},
         "Action": ["kms:Encrypt", "kms:Decrypt"], "Resource": "*"},
    ]})


def test_a_key_policy_naming_a_role_just_made_is_refused_for_the_window(server, account):
    iam, kms = account["as"]("iam"), account["as"]("kms")
    _window(server, account["id"], HELD_MS)
    arn = iam.create_role(RoleName="user-of-key", Path="/team/", AssumeRolePolicyDocument=_trust(account["runner_arn"]))["Role"]["Arn"]
    policy = _key_policy(account, arn, account["runner_arn"])
    before = len(kms.list_keys()["Keys"])
    code, message = _refused(kms.create_key, Policy=policy, Description="k")
    assert (code, message) == ("MalformedPolicyDocumentException", "Policy contains a statement with one or more invalid principals.")
    assert _refused(kms.create_key, Policy=policy, Description="k")[0] == "MalformedPolicyDocumentException"
    assert len(kms.list_keys()["Keys"]) == before, "a refused CreateKey made a key"
    _window(server, account["id"], 0)
    key = kms.create_key(Policy=policy, Description="k")["KeyMetadata"]["KeyId"]
    assert json.loads(kms.get_key_policy(KeyId=key, PolicyName="default")["Policy"]) == json.loads(policy)
    refusals = _refusals(server, account)
    assert [(r["rule"], r["action"]) for r in refusals] == [("new-principal", "kms:CreateKey")] * 2
    assert arn in refusals[0]["why"] and "ms after the change" in refusals[0]["why"]


def test_the_first_key_policy_naming_a_new_user_is_refused_however_late(server, account):
    iam, kms = account["as"]("iam"), account["as"]("kms")
    # The runner, made by the harness, meets the window only: its first key policy is taken.
    key = kms.create_key(Policy=_key_policy(account, account["runner_arn"]))["KeyMetadata"]["KeyId"]
    user = iam.create_user(UserName="newcomer")["User"]["Arn"]
    policy = _key_policy(account, user)
    code, _ = _refused(kms.put_key_policy, KeyId=key, PolicyName="default", Policy=policy)
    assert code == "MalformedPolicyDocumentException"
    assert user not in kms.get_key_policy(KeyId=key, PolicyName="default")["Policy"]
    kms.put_key_policy(KeyId=key, PolicyName="default", Policy=policy)
    assert user in kms.get_key_policy(KeyId=key, PolicyName="default")["Policy"]
    assert [(r["rule"], r["action"]) for r in _refusals(server, account)] == [("new-principal", "kms:PutKeyPolicy")]


# ------------------------------------------------------------------------ 3. a role's permissions change


def _assumed(account, role_arn):
    """A session of a role the runner made (its first AssumeRole is refused)."""
    sts = account["as"]("sts")
    assert _refused(sts.assume_role, RoleArn=role_arn, RoleSessionName="ss")[0] == "AccessDenied"
    return _keys(sts.assume_role(RoleArn=role_arn, RoleSessionName="ss")["Credentials"])


def test_the_first_request_of_a_role_after_each_policy_change_is_denied_in_every_service(server, account):
    iam = account["as"]("iam")
    arn = iam.create_role(RoleName="worker", AssumeRolePolicyDocument=_trust(account["runner_arn"]))["Role"]["Arn"]
    keys = _assumed(account, arn)
    iam.put_role_policy(RoleName="worker", PolicyName="all", PolicyDocument=ALL)
    session = f"arn:aws:sts::{account['id']}:assumed-role/worker/ss"
    eks, ec2 = account["as"]("eks", keys), account["as"]("ec2", keys)
    code, message = _refused(eks.list_clusters)
    assert code == "AccessDeniedException"
    assert message == f"User: {session} is not authorized to perform: eks:ListClusters because no identity-based policy allows the eks:ListClusters action"
    assert eks.list_clusters()["clusters"] == []
    ec2.describe_vpcs()
    # Every later change is met again, by whichever service is asked first.
    iam.attach_role_policy(RoleName="worker", PolicyArn=account["admin"])
    assert _refused(ec2.describe_vpcs)[0] == "UnauthorizedOperation"
    eks.list_clusters()
    iam.put_role_permissions_boundary(RoleName="worker", PermissionsBoundary=account["admin"])
    assert _refused(account["as"]("kms", keys).list_keys)[0] == "AccessDeniedException"
    ec2.describe_vpcs()
    assert [(r["rule"], r["action"], r["principal"]) for r in _refusals(server, account)][1:] == [
        ("policy-change", "eks:ListClusters", session),
        ("policy-change", "ec2:DescribeVpcs", session),
        ("policy-change", "kms:ListKeys", session),
    ]


def test_a_role_is_denied_for_the_window_after_its_policy_changes(server, account):
    iam = account["as"]("iam")
    arn = iam.create_role(RoleName="windowed", AssumeRolePolicyDocument=_trust(account["runner_arn"]))["Role"]["Arn"]
    keys = _assumed(account, arn)
    _window(server, account["id"], HELD_MS)
    iam.put_role_policy(RoleName="windowed", PolicyName="all", PolicyDocument=ALL)
    eks = account["as"]("eks", keys)
    assert _refused(eks.list_clusters)[0] == "AccessDeniedException"
    assert _refused(eks.list_clusters)[0] == "AccessDeniedException"
    _window(server, account["id"], 0)
    assert eks.list_clusters()["clusters"] == []


def test_the_harness_role_is_never_denied(server, account):
    _window(server, account["id"], HELD_MS)
    harness = account["as"]("iam", account["x"])
    harness.put_role_policy(RoleName="x", PolicyName="more", PolicyDocument=ALL)
    account["as"]("eks", account["x"]).list_clusters()
    account["as"]("ec2", account["x"]).describe_vpcs()
    assert _refusals(server, account) == []


def test_a_role_changed_by_the_harness_meets_the_window_only(server, account):
    iam = account["as"]("iam")
    arn = iam.create_role(RoleName="team-creator", AssumeRolePolicyDocument=_trust(account["runner_arn"]))["Role"]["Arn"]
    keys = _assumed(account, arn)
    harness = account["as"]("iam", account["x"])
    harness.attach_role_policy(RoleName="team-creator", PolicyArn=account["admin"])
    eks = account["as"]("eks", keys)
    assert eks.list_clusters()["clusters"] == []
    _window(server, account["id"], HELD_MS)
    harness.put_role_policy(RoleName="team-creator", PolicyName="more", PolicyDocument=ALL)
    assert _refused(eks.list_clusters)[0] == "AccessDeniedException"


# ------------------------------------------------------------------------ the IAM log


def test_refused_requests_are_in_the_iam_log_before_the_allowed_retry(server, account):
    assert server["evaluator"], (
        "the IAM evaluator is not installed: run `cargo test --test e2e emulator::` once "
        "(it installs target/tmp/iam-eval), or set EKSBOOT_IAM_EVALUATOR"
    )
    _control(server, "/eksboot-moto/enforce-iam", {"account": account["id"], "on": True})
    iam, sts = account["as"]("iam"), account["as"]("sts")
    arn = iam.create_role(RoleName="logged", AssumeRolePolicyDocument=_trust(account["runner_arn"]))["Role"]["Arn"]
    _refused(sts.assume_role, RoleArn=arn, RoleSessionName="ss")
    sts.assume_role(RoleArn=arn, RoleSessionName="ss")
    log = _control(server, f"/eksboot-moto/iam-log?account={account['id']}")["requests"]
    assumes = [r for r in log if r["action"] == "sts:AssumeRole"]
    assert [r["allowed"] for r in assumes] == [False, True], assumes
    refused, allowed = assumes
    assert refused["principal"] == account["runner_arn"]
    assert refused["checks"] == [] and "role logged was made" in refused["propagation"]
    assert allowed["checks"] and "propagation" not in allowed
    assert log.index(refused) < log.index(allowed)
    assert [r["rule"] for r in _refusals(server, account)] == ["new-role"]
