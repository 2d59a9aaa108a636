"""Tests of s3_rules' SSE-KMS (issue 27) and of the KMS checks iam_context implies for it.

Run: `python -m pytest emulator/test_s3_rules.py` in the venv with moto[server]==5.2.5, boto3
and pytest. It starts the emulator as a server (eksboot_moto.py) and talks to it with boto3, each
test in an account of its own, as the e2e harness does: role `x` (the harness's identity, never
evaluated) sets the account up. The permission tests turn IAM enforcement on, with the evaluator
the harness installs (target/tmp/iam-eval, or $EKSBOOT_IAM_EVALUATOR / $EKSBOOT_IAM_NODE_MODULES),
and the checks' context keys are also asserted one by one, in-process.
"""

import itertools
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path
from types import SimpleNamespace

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import testing_support  # noqa: E402

REGION = "us-west-2"
OTHER_REGION = "us-east-1"
ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
_accounts = itertools.count(int(time.time()) % 1_000_000 * 1000 + 300_000_000_000)


def _evaluator():
    """The Node IAM evaluator, or None (see testing_support)."""
    return testing_support.node_evaluator()


@pytest.fixture(scope="module")
def server():
    env = dict(
        os.environ,
        EKSBOOT_MOTO_IAM_PROPAGATION_MS="0",
        MOTO_IAM_LOAD_MANAGED_POLICIES="false",
    )
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
        yield {"endpoint": f"http://127.0.0.1:{line.split()[1]}", "evaluator": evaluator}
    finally:
        proc.kill()
        proc.wait()


def _client(server, service, keys, region=REGION):
    return boto3.client(
        service, region_name=region, endpoint_url=server["endpoint"],
        aws_access_key_id=keys[0], aws_secret_access_key=keys[1], aws_session_token=keys[2],
        config=Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"}),
    )


def _control(server, path, body=None):
    request = urllib.request.Request(
        server["endpoint"] + path, method="POST" if body is not None else "GET",
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        text = answer.read()
    return json.loads(text) if text.strip().startswith(b"{") else text.decode()


@pytest.fixture()
def account(server):
    """A fresh account with the harness's role `x`, a bucket in REGION and a KMS key there."""
    account_id = f"{next(_accounts):012d}"
    bootstrap = _client(server, "sts", ("AKIAEKSBOOTTEST", "secret", None))
    creds = bootstrap.assume_role(RoleArn=f"arn:aws:iam::{account_id}:role/x", RoleSessionName="tt")["Credentials"]
    x_keys = (creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    iam = _client(server, "iam", x_keys)
    iam.create_role(RoleName="x", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"}, "Action": "sts:AssumeRole"}]}))
    iam.put_role_policy(RoleName="x", PolicyName="all", PolicyDocument=json.dumps(ALL))
    bucket = f"state-{uuid.uuid4().hex[:12]}"
    s3 = _client(server, "s3", x_keys)
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    kms = _client(server, "kms", x_keys)
    key = kms.create_key(Description="eksboot state")["KeyMetadata"]
    return SimpleNamespace(
        id=account_id, x=x_keys, bucket=bucket, s3=s3, kms=kms, key_arn=key["Arn"], key_id=key["KeyId"],
        client=lambda service, keys=x_keys, region=REGION: _client(server, service, keys, region),
    )


def _put(s3, bucket, key, body=b"state", kms_key=None, **extra):
    if kms_key:
        extra.update(ServerSideEncryption="aws:kms", SSEKMSKeyId=kms_key)
    return s3.put_object(Bucket=bucket, Key=key, Body=body, **extra)


def _refused(call, *args, **kwargs):
    """(HTTP status, error code, message) of a call that must fail."""
    with pytest.raises(ClientError) as e:
        call(*args, **kwargs)
    answer = e.value.response
    return answer["ResponseMetadata"]["HTTPStatusCode"], answer["Error"]["Code"], answer["Error"]["Message"]


# ------------------------------------------------------------------------ the key, as KMS has it


def test_put_with_a_key_kms_does_not_have_is_refused(account):
    missing = f"arn:aws:kms:{REGION}:{account.id}:key/{uuid.uuid4()}"
    status, code, message = _refused(_put, account.s3, account.bucket, "state.json", kms_key=missing)
    assert (status, code) == (400, "KMS.NotFoundException")
    assert message == f"Key '{missing}' does not exist"
    with pytest.raises(ClientError):
        account.s3.head_object(Bucket=account.bucket, Key="state.json")


def test_put_with_a_key_in_another_region_than_the_bucket_is_refused(account):
    other = account.client("kms", region=OTHER_REGION).create_key()["KeyMetadata"]["Arn"]
    assert f":kms:{OTHER_REGION}:" in other
    status, code, message = _refused(_put, account.s3, account.bucket, "state.json", kms_key=other)
    assert (status, code) == (400, "KMS.NotFoundException")
    assert message == f"Invalid arn {OTHER_REGION}"


def test_put_then_get_keeps_the_key_and_answers_its_arn(account):
    put = _put(account.s3, account.bucket, "state.json", kms_key=account.key_arn)
    assert put["ServerSideEncryption"] == "aws:kms" and put["SSEKMSKeyId"] == account.key_arn
    got = account.s3.get_object(Bucket=account.bucket, Key="state.json")
    assert got["Body"].read() == b"state"
    assert got["ServerSideEncryption"] == "aws:kms"
    assert got["SSEKMSKeyId"] == account.key_arn
    head = account.s3.head_object(Bucket=account.bucket, Key="state.json")
    assert (head["ServerSideEncryption"], head["SSEKMSKeyId"]) == ("aws:kms", account.key_arn)


def test_a_key_named_by_id_or_alias_is_kept_as_its_arn(account):
    account.kms.create_alias(AliasName="alias/eksboot-state", TargetKeyId=account.key_id)
    for name in (account.key_id, "alias/eksboot-state"):
        put = _put(account.s3, account.bucket, "lock", kms_key=name)
        assert put["SSEKMSKeyId"] == account.key_arn, name
        assert account.s3.get_object(Bucket=account.bucket, Key="lock")["SSEKMSKeyId"] == account.key_arn


def test_a_disabled_key_refuses_uploads_and_downloads_but_not_heads(account):
    _put(account.s3, account.bucket, "state.json", kms_key=account.key_arn)
    account.kms.disable_key(KeyId=account.key_id)
    expected = (400, "KMS.DisabledException", f"{account.key_arn} is disabled.")
    assert _refused(account.s3.get_object, Bucket=account.bucket, Key="state.json") == expected
    assert _refused(_put, account.s3, account.bucket, "state.json", kms_key=account.key_arn) == expected
    assert account.s3.head_object(Bucket=account.bucket, Key="state.json")["SSEKMSKeyId"] == account.key_arn
    account.kms.enable_key(KeyId=account.key_id)
    assert account.s3.get_object(Bucket=account.bucket, Key="state.json")["Body"].read() == b"state"


def test_a_key_pending_deletion_refuses_uploads_and_downloads(account):
    _put(account.s3, account.bucket, "state.json", kms_key=account.key_arn)
    account.kms.schedule_key_deletion(KeyId=account.key_id, PendingWindowInDays=7)
    expected = (400, "KMS.KMSInvalidStateException", f"{account.key_arn} is pending deletion.")
    assert _refused(account.s3.get_object, Bucket=account.bucket, Key="state.json") == expected
    assert _refused(_put, account.s3, account.bucket, "lock", kms_key=account.key_arn) == expected


def test_an_asymmetric_key_is_refused(account):
    signing = account.kms.create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["Arn"]
    status, code, _ = _refused(_put, account.s3, account.bucket, "state.json", kms_key=signing)
    assert (status, code) == (400, "KMS.InvalidKeyUsageException")


def test_a_key_id_without_sse_kms_is_an_invalid_argument(account):
    status, code, _ = _refused(
        account.s3.put_object, Bucket=account.bucket, Key="state.json", Body=b"x", SSEKMSKeyId=account.key_arn
    )
    assert (status, code) == (400, "InvalidArgument")


def test_the_buckets_default_kms_key_is_checked_too(account):
    account.s3.put_bucket_encryption(Bucket=account.bucket, ServerSideEncryptionConfiguration={"Rules": [
        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": account.key_arn}}]})
    put = _put(account.s3, account.bucket, "state.json")
    assert (put["ServerSideEncryption"], put["SSEKMSKeyId"]) == ("aws:kms", account.key_arn)
    account.kms.disable_key(KeyId=account.key_id)
    assert _refused(_put, account.s3, account.bucket, "state.json")[1] == "KMS.DisabledException"
    # SSE-S3 named in the request overrides the default: no key involved.
    assert _put(account.s3, account.bucket, "plain", ServerSideEncryption="AES256")["ServerSideEncryption"] == "AES256"


# ------------------------------------------------------------------------ permissions, enforced


def _user(account, name, statements):
    """A user of the account with one inline policy, and an S3 client signed by it."""
    iam = account.client("iam")
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": statements}))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return account.client("s3", keys=(key["AccessKeyId"], key["SecretAccessKey"], None))


def _s3_on(account):
    return {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:ListBucket"],
            "Resource": [f"arn:aws:s3:::{account.bucket}", f"arn:aws:s3:::{account.bucket}/*"]}


@pytest.fixture()
def enforced(server, account):
    assert server["evaluator"], (
        "the IAM evaluator is not installed: run `cargo test --test e2e emulator::` once "
        "(it installs target/tmp/iam-eval), or set EKSBOOT_IAM_EVALUATOR"
    )
    _control(server, "/eksboot-moto/enforce-iam", {"account": account.id, "on": True})
    return account


def test_s3_without_kms_is_denied_sse_kms_but_allowed_without_it(enforced):
    account = enforced
    s3 = _user(account, "s3only", [_s3_on(account)])
    _put(s3, account.bucket, "plain.json")  # the bucket's default, SSE-S3
    assert s3.get_object(Bucket=account.bucket, Key="plain.json")["Body"].read() == b"state"
    status, code, message = _refused(_put, s3, account.bucket, "state.json", kms_key=account.key_arn)
    assert (status, code) == (403, "AccessDenied")
    assert f"not authorized to perform: kms:GenerateDataKey on resource: {account.key_arn}" in message
    assert "(checked by s3 at PutObject:" in message
    # An object the harness stored under the key: reading it needs kms:Decrypt.
    _put(account.s3, account.bucket, "state.json", kms_key=account.key_arn)
    status, code, message = _refused(s3.get_object, Bucket=account.bucket, Key="state.json")
    assert (status, code) == (403, "AccessDenied")
    assert f"not authorized to perform: kms:Decrypt on resource: {account.key_arn}" in message


def test_kms_granted_through_s3_with_its_context_keys_is_allowed(enforced):
    account = enforced
    via = {
        "StringEquals": {"kms:ViaService": f"s3.{REGION}.amazonaws.com", "kms:CallerAccount": account.id},
        "ForAnyValue:StringEquals": {"kms:EncryptionContextKeys": "aws:s3:arn"},
    }
    s3 = _user(account, "state-user", [_s3_on(account), {
        "Effect": "Allow", "Action": ["kms:GenerateDataKey", "kms:Decrypt"], "Resource": account.key_arn,
        "Condition": via}])
    _put(s3, account.bucket, "state.json", kms_key=account.key_arn)
    got = s3.get_object(Bucket=account.bucket, Key="state.json")
    assert (got["Body"].read(), got["SSEKMSKeyId"]) == (b"state", account.key_arn)
    # The same grant for S3 in another Region does not apply to this bucket's requests.
    elsewhere = _user(account, "elsewhere", [_s3_on(account), {
        "Effect": "Allow", "Action": ["kms:GenerateDataKey", "kms:Decrypt"], "Resource": account.key_arn,
        "Condition": {"StringEquals": {"kms:ViaService": f"s3.{OTHER_REGION}.amazonaws.com"}}}])
    status, code, message = _refused(_put, elsewhere, account.bucket, "state.json", kms_key=account.key_arn)
    assert (status, code) == (403, "AccessDenied") and "kms:ViaService" in message, message


def test_a_missing_key_is_not_found_even_without_kms_permissions(enforced):
    account = enforced
    s3 = _user(account, "s3only", [_s3_on(account)])
    missing = f"arn:aws:kms:{REGION}:{account.id}:key/{uuid.uuid4()}"
    assert _refused(_put, s3, account.bucket, "state.json", kms_key=missing)[:2] == (400, "KMS.NotFoundException")


def test_the_iam_log_names_the_implied_checks(server, enforced):
    account = enforced
    s3 = _user(account, "logged", [{"Effect": "Allow", "Action": ["s3:*", "kms:*"], "Resource": "*"}])
    _control(server, "/eksboot-moto/iam-log-reset", {"account": account.id})
    _put(s3, account.bucket, "state.json", kms_key=account.key_arn)
    s3.get_object(Bucket=account.bucket, Key="state.json")
    log = _control(server, f"/eksboot-moto/iam-log?account={account.id}")["requests"]
    checks = {r["action"]: [(c["action"], c["resource"], bool(c["why"])) for c in r["checks"]] for r in log}
    obj = f"arn:aws:s3:::{account.bucket}/state.json"
    assert checks["s3:PutObject"] == [("s3:PutObject", obj, False), ("kms:GenerateDataKey", account.key_arn, True)]
    assert checks["s3:GetObject"] == [("s3:GetObject", obj, False), ("kms:Decrypt", account.key_arn, True)]


# ------------------------------------------------------------------------ the checks, in-process


@pytest.fixture()
def in_process():
    """moto in-process with a bucket in REGION, a key there, and an object stored under it."""
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    from moto import mock_aws
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends

    import s3_rules

    s3_rules.install()
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket="state", CreateBucketConfiguration={"LocationConstraint": REGION})
        key = boto3.client("kms", region_name=REGION).create_key()["KeyMetadata"]["Arn"]
        s3.put_object(Bucket="state", Key="dev/state.json", Body=b"{}", ServerSideEncryption="aws:kms", SSEKMSKeyId=key)
        s3.put_object(Bucket="state", Key="dev/plain.json", Body=b"{}")
        yield SimpleNamespace(account=DEFAULT_ACCOUNT_ID, key=key, backend=s3_backends[DEFAULT_ACCOUNT_ID]["aws"])


def _checks_of(env, action, key, headers=None, method="GET"):
    import iam_context

    response = SimpleNamespace(
        bucket_name="state", path=f"/state/{key}", headers=headers or {}, method=method,
        backend=env.backend, querystring={},
    )
    principal = f"arn:aws:iam::{env.account}:user/runner"
    return iam_context.checks_for(response, "s3", action, principal, env.account, REGION)


def test_put_with_sse_kms_implies_generate_data_key_with_s3s_context(in_process):
    headers = {"x-amz-server-side-encryption": "aws:kms", "x-amz-server-side-encryption-aws-kms-key-id": in_process.key}
    put, kms = _checks_of(in_process, "PutObject", "dev/state.json.lock", headers)
    assert (put.action, put.resource) == ("s3:PutObject", "arn:aws:s3:::state/dev/state.json.lock")
    assert put.context == {
        "s3:x-amz-server-side-encryption": "aws:kms",
        "s3:x-amz-server-side-encryption-aws-kms-key-id": in_process.key,
    }
    assert (kms.action, kms.resource) == ("kms:GenerateDataKey", in_process.key)
    assert kms.context["kms:ViaService"] == f"s3.{REGION}.amazonaws.com"
    assert kms.context["kms:CallerAccount"] == in_process.account
    assert kms.context["kms:EncryptionContextKeys"] == ["aws:s3:arn"]
    assert kms.resource_policy["Statement"][0]["Principal"] == {"AWS": f"arn:aws:iam::{in_process.account}:root"}
    assert "UsingKMSEncryption" in kms.why


def test_get_of_an_sse_kms_object_implies_decrypt_and_head_does_not(in_process):
    get, kms = _checks_of(in_process, "GetObject", "dev/state.json")
    assert get.action == "s3:GetObject"
    assert (kms.action, kms.resource) == ("kms:Decrypt", in_process.key)
    assert kms.context["kms:ViaService"] == f"s3.{REGION}.amazonaws.com"
    assert kms.context["kms:CallerAccount"] == in_process.account
    assert [c.action for c in _checks_of(in_process, "GetObject", "dev/state.json", method="HEAD")] == ["s3:GetObject"]


def test_objects_without_sse_kms_imply_nothing_more(in_process):
    assert [c.action for c in _checks_of(in_process, "GetObject", "dev/plain.json")] == ["s3:GetObject"]
    assert [c.action for c in _checks_of(in_process, "PutObject", "dev/plain.json")] == ["s3:PutObject"]
    aes = {"x-amz-server-side-encryption": "AES256"}
    assert [c.action for c in _checks_of(in_process, "PutObject", "dev/plain.json", aes)] == ["s3:PutObject"]


def test_a_key_kms_does_not_have_implies_no_kms_check(in_process):
    missing = f"arn:aws:kms:{REGION}:{in_process.account}:key/{uuid.uuid4()}"
    headers = {"x-amz-server-side-encryption": "aws:kms", "x-amz-server-side-encryption-aws-kms-key-id": missing}
    assert [c.action for c in _checks_of(in_process, "PutObject", "x", headers)] == ["s3:PutObject"]


def test_the_encryption_context_key_waits_for_the_evaluator(in_process):
    """iam_context leaves kms:EncryptionContext:aws:s3:arn out while the evaluator refuses it
    (EVALUATOR_TAKES_ENCRYPTION_CONTEXT): this fails when that changes, to turn it on."""
    import iam_context

    evaluator = _evaluator()
    assert evaluator and shutil.which("node"), "the IAM evaluator and Node are needed"
    put_headers = {"x-amz-server-side-encryption": "aws:kms", "x-amz-server-side-encryption-aws-kms-key-id": in_process.key}
    kms = _checks_of(in_process, "PutObject", "dev/state.json", put_headers)[1]
    assert (iam_context.S3_ENCRYPTION_CONTEXT_KEY in kms.context) == iam_context.EVALUATOR_TAKES_ENCRYPTION_CONTEXT
    context = dict(kms.context, **{iam_context.S3_ENCRYPTION_CONTEXT_KEY: "arn:aws:s3:::state/dev/state.json"})
    check = {
        "principal": f"arn:aws:iam::{in_process.account}:user/runner", "action": kms.action,
        "resource": kms.resource, "account": in_process.account, "context": context,
        "identityPolicies": [{"name": "all", "policy": ALL}], "permissionBoundaries": None,
        "resourcePolicy": kms.resource_policy,
    }
    out = subprocess.run(
        ["node", evaluator], input=json.dumps({"id": 1, "checks": [check]}) + "\n",
        capture_output=True, text=True, timeout=60, cwd=os.path.dirname(evaluator),
    )
    result = json.loads(out.stdout.strip().splitlines()[0])["results"][0]
    takes_it = result["result"] != "Error"
    assert takes_it == iam_context.EVALUATOR_TAKES_ENCRYPTION_CONTEXT, (
        f"the evaluator now {'takes' if takes_it else 'refuses'} {iam_context.S3_ENCRYPTION_CONTEXT_KEY}: "
        f"set iam_context.EVALUATOR_TAKES_ENCRYPTION_CONTEXT = {takes_it} ({result})"
    )
