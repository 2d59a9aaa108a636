"""Tests of iam_builtin, the in-process IAM evaluator the sandbox uses (EKSBOOT_IAM_EVALUATOR=builtin).

Run: `target/tmp/moto-venv/bin/python -m pytest -q emulator/test_iam_builtin.py` (the venv with
moto[server]==5.2.5, boto3 and pytest).

* One test per rule of AWS's policy evaluation the builtin models (identity, boundary, resource,
  KMS key and role trust policies; Action/Resource/Principal and their Not forms; wildcards,
  policy variables, every condition operator with IfExists and the set operators; malformed
  policies are Errors).
* A differential test: every hand-made check, and the real checks of a cluster's whole life
  (test_iam_context's scenario, as iam_enforce builds them) under the real policies
  `eksboot permissions` prints for each profile in profiles/, are evaluated by the builtin and by
  the Node evaluator the tests use (tests/iam/evaluate.mjs, installed in target/tmp/iam-eval, or
  $EKSBOOT_IAM_EVALUATOR / $EKSBOOT_IAM_NODE_MODULES), which must reach the same verdict
  (Allowed or not). It fails, not skips, without Node's evaluator or the eksboot binary.
"""

import itertools
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import testing_support  # noqa: E402

import iam_builtin  # noqa: E402

ACCOUNT = "123456789012"
OTHER_ACCOUNT = "210987654321"
REGION = "us-west-2"
USER = f"arn:aws:iam::{ACCOUNT}:user/runner"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/demo-creator"
SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/demo-creator/eksboot"
KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ROOT_PRINCIPAL = f"arn:aws:iam::{ACCOUNT}:root"
NEW_VPC = f"arn:aws:ec2:{REGION}:{ACCOUNT}:vpc/*"  # a resource the request creates (LITERAL_STAR)
VPC = f"arn:aws:ec2:{REGION}:{ACCOUNT}:vpc/vpc-0abc"
VOLUME = f"arn:aws:ec2:{REGION}:{ACCOUNT}:volume/vol-0abc"
CLUSTER = f"arn:aws:eks:{REGION}:{ACCOUNT}:cluster/demo"


# --------------------------------------------------------------------------
# Building checks.


def policy(*statements, version="2012-10-17"):
    document = {"Statement": list(statements)}
    if version:
        document["Version"] = version
    return document


def allow(action, resource="*", **more):
    return {"Effect": "Allow", "Action": action, "Resource": resource, **more}


def deny(action, resource="*", **more):
    return {"Effect": "Deny", "Action": action, "Resource": resource, **more}


def grant(action="*", principal=None, **more):
    """A resource-policy statement allowing `principal` (an AWS principal ARN or account)."""
    return {"Effect": "Allow", "Principal": {"AWS": principal or USER}, "Action": action, **more}


def when(operator, key, values, action="ec2:DescribeVpcs", effect="Allow"):
    return {"Effect": effect, "Action": action, "Resource": "*", "Condition": {operator: {key: values}}}


def check(action="ec2:DescribeVpcs", resource="*", identity=(), boundary=None, resource_policy=None,
          context=None, principal=USER, account=ACCOUNT, simulated=False):
    request = {
        "principal": principal,
        "action": action,
        "resource": resource,
        "account": account,
        "context": dict(context or {}),
        "identityPolicies": [{"name": f"policy{i + 1}", "policy": p} for i, p in enumerate(identity)],
        "permissionBoundaries": [{"name": "boundary", "policy": boundary}] if boundary else None,
        "resourcePolicy": resource_policy,
    }
    if simulated:
        request["ignoreUnknownContext"] = True
    return request


def on(statement, **kwargs):
    """A check whose only identity policy is `statement`."""
    return check(identity=[policy(statement)], **kwargs)


def result_of(request):
    (answer,) = iam_builtin.evaluate([request])
    return answer


@dataclass
class Case:
    name: str
    request: dict
    expected: str  # Allowed, ImplicitlyDenied, ExplicitlyDenied, Error


A, I, E, ERR = "Allowed", "ImplicitlyDenied", "ExplicitlyDenied", "Error"
CTX_TAGS = {"aws:RequestTag/eksboot:cluster": "demo", "aws:TagKeys": ["eksboot:cluster"]}


# --------------------------------------------------------------------------
# The rules, each a check with the result AWS gives; all of them are also asked of Node.

CASES = [
    # Evaluation logic: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
    Case("identity allow", on(allow("ec2:DescribeVpcs")), A),
    Case("no policy", check(), I),
    Case("other action only", on(allow("ec2:DescribeSubnets")), I),
    Case("explicit deny wins", check(identity=[policy(allow("*")), policy(deny("ec2:*"))]), E),
    Case("deny in the same policy wins", check(identity=[policy(allow("ec2:*"), deny("ec2:DescribeVpcs"))]), E),
    Case("NotAction allows the others", on({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}), A),
    Case("NotAction excludes its own", on({"Effect": "Allow", "NotAction": "ec2:Describe*", "Resource": "*"}), I),
    Case("deny NotAction spares the named", check(identity=[policy(allow("*"), {"Effect": "Deny", "NotAction": "ec2:DescribeVpcs", "Resource": "*"})]), A),
    Case("NotResource allows other resources", on({"Effect": "Allow", "Action": "iam:GetRole", "NotResource": f"arn:aws:iam::{ACCOUNT}:role/admin*"}, action="iam:GetRole", resource=ROLE), A),
    Case("NotResource excludes its own", on({"Effect": "Allow", "Action": "iam:GetRole", "NotResource": f"arn:aws:iam::{ACCOUNT}:role/demo-*"}, action="iam:GetRole", resource=ROLE), I),
    # Wildcards: actions case-insensitive, ARNs case-sensitive.
    Case("action case-insensitive", on(allow("EC2:describevpcs")), A),
    Case("action ? wildcard", on(allow("ec2:Describe?pcs")), A),
    Case("action wildcard in the middle", on(allow("ec2:Desc*Vpcs")), A),
    Case("action of another service", on(allow("eks:DescribeVpcs")), I),
    Case("resource wildcard", on(allow("iam:GetRole", f"arn:aws:iam::{ACCOUNT}:role/demo-*"), action="iam:GetRole", resource=ROLE), A),
    Case("resource ? wildcard", on(allow("iam:GetRole", f"arn:aws:iam::{ACCOUNT}:role/demo-creato?"), action="iam:GetRole", resource=ROLE), A),
    Case("resource is case-sensitive", on(allow("iam:GetRole", f"arn:aws:iam::{ACCOUNT}:role/Demo-creator"), action="iam:GetRole", resource=ROLE), I),
    Case("resource of another account", on(allow("iam:GetRole", f"arn:aws:iam::{OTHER_ACCOUNT}:role/*"), action="iam:GetRole", resource=ROLE), I),
    Case("resource region wildcard", on(allow("ec2:DeleteVolume", f"arn:aws:ec2:*:{ACCOUNT}:volume/*"), action="ec2:DeleteVolume", resource=VOLUME), A),
    Case("s3 object", on(allow("s3:GetObject", "arn:aws:s3:::state-bucket/clusters/*"), action="s3:GetObject", resource="arn:aws:s3:::state-bucket/clusters/demo.json"), A),
    Case("s3 other bucket", on(allow("s3:GetObject", "arn:aws:s3:::state-bucket/*"), action="s3:GetObject", resource="arn:aws:s3:::state-bucket-2/x"), I),
    Case("log group with its :* suffix", on(allow("logs:PutRetentionPolicy", f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/eks/demo/*"), action="logs:PutRetentionPolicy", resource=f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/eks/demo/cluster"), A),
    # A new resource's ARN ends in a literal `*` (evaluate.mjs's LITERAL_STAR).
    Case("new resource: vpc/* matches", on(allow("ec2:CreateVpc", f"arn:aws:ec2:{REGION}:{ACCOUNT}:vpc/*"), action="ec2:CreateVpc", resource=NEW_VPC), A),
    Case("new resource: * matches", on(allow("ec2:CreateVpc"), action="ec2:CreateVpc", resource=NEW_VPC), A),
    Case("new resource: vpc/? matches the star", on(allow("ec2:CreateVpc", f"arn:aws:ec2:{REGION}:{ACCOUNT}:vpc/?"), action="ec2:CreateVpc", resource=NEW_VPC), A),
    Case("new resource: vpc/vpc-* does not", on(allow("ec2:CreateVpc", f"arn:aws:ec2:{REGION}:{ACCOUNT}:vpc/vpc-*"), action="ec2:CreateVpc", resource=NEW_VPC), I),
    Case("new resource: a deny on vpc/vpc-* does not apply", check(identity=[policy(allow("ec2:CreateVpc"), deny("ec2:CreateVpc", f"arn:aws:ec2:{REGION}:{ACCOUNT}:vpc/vpc-*"))], action="ec2:CreateVpc", resource=NEW_VPC), A),
    Case("no-resource action: a specific ARN does not cover *", on(allow("ec2:DescribeVpcs", VPC)), I),
    Case("no-resource action: NotResource of an ARN covers *", on({"Effect": "Allow", "Action": "ec2:DescribeVpcs", "NotResource": VPC}), A),
    # Policy variables: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html
    Case("${aws:username}", on(allow("iam:GetUser", f"arn:aws:iam::{ACCOUNT}:user/${{aws:username}}"), action="iam:GetUser", resource=USER, context={"aws:username": "runner"}), A),
    Case("${aws:username} of another", on(allow("iam:GetUser", f"arn:aws:iam::{ACCOUNT}:user/${{aws:username}}"), action="iam:GetUser", resource=USER, context={"aws:username": "someone"}), I),
    Case("${aws:username} absent", on(allow("iam:GetUser", f"arn:aws:iam::{ACCOUNT}:user/${{aws:username}}"), action="iam:GetUser", resource=USER), I),
    Case("${aws:PrincipalTag/x} in a resource", on(allow("iam:GetRole", f"arn:aws:iam::{ACCOUNT}:role/${{aws:PrincipalTag/project}}-*"), action="iam:GetRole", resource=ROLE, context={"aws:PrincipalTag/project": "demo"}), A),
    Case("variable default", on(allow("iam:GetRole", f"arn:aws:iam::{ACCOUNT}:role/${{aws:PrincipalTag/project, 'demo'}}-*"), action="iam:GetRole", resource=ROLE), A),
    Case("variable in a condition", on(when("StringEquals", "aws:ResourceTag/owner", "${aws:username}", action="iam:GetRole") | {"Resource": "*"}, action="iam:GetRole", resource=ROLE, context={"aws:username": "runner", "aws:ResourceTag/owner": "runner"}), A),
    Case("${*} in StringLike matches only a star", on(when("StringLike", "aws:PrincipalTag/team", "a${*}"), context={"aws:PrincipalTag/team": "ab"}), I),
    Case("a multivalued key is no variable", on(allow("iam:GetRole", f"arn:aws:iam::{ACCOUNT}:role/${{aws:TagKeys}}"), action="iam:GetRole", resource=ROLE, context={"aws:TagKeys": ["demo-creator"]}), I),
    # Conditions: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
    Case("StringEquals", on(when("StringEquals", "aws:PrincipalTag/team", "eks"), context={"aws:PrincipalTag/team": "eks"}), A),
    Case("StringEquals is case-sensitive", on(when("StringEquals", "aws:PrincipalTag/team", "EKS"), context={"aws:PrincipalTag/team": "eks"}), I),
    Case("StringEquals takes no wildcard", on(when("StringEquals", "aws:PrincipalTag/team", "e*"), context={"aws:PrincipalTag/team": "eks"}), I),
    Case("StringEquals absent", on(when("StringEquals", "aws:PrincipalTag/team", "eks")), I),
    Case("StringEqualsIfExists absent", on(when("StringEqualsIfExists", "aws:PrincipalTag/team", "eks")), A),
    Case("StringEqualsIfExists present, other", on(when("StringEqualsIfExists", "aws:PrincipalTag/team", "eks"), context={"aws:PrincipalTag/team": "ops"}), I),
    Case("StringNotEquals", on(when("StringNotEquals", "aws:PrincipalTag/team", ["ops", "sec"]), context={"aws:PrincipalTag/team": "eks"}), A),
    Case("StringNotEquals one of", on(when("StringNotEquals", "aws:PrincipalTag/team", ["ops", "eks"]), context={"aws:PrincipalTag/team": "eks"}), I),
    Case("StringNotEquals absent matches", on(when("StringNotEquals", "aws:PrincipalTag/team", "ops")), A),
    Case("StringEqualsIgnoreCase", on(when("StringEqualsIgnoreCase", "aws:PrincipalTag/team", "EKS"), context={"aws:PrincipalTag/team": "eks"}), A),
    Case("StringNotEqualsIgnoreCase", on(when("StringNotEqualsIgnoreCase", "aws:PrincipalTag/team", "EKS"), context={"aws:PrincipalTag/team": "eks"}), I),
    Case("StringLike", on(when("StringLike", "aws:PrincipalTag/team", "e?s*"), context={"aws:PrincipalTag/team": "eks-team"}), A),
    Case("StringNotLike", on(when("StringNotLike", "aws:PrincipalTag/team", "e*"), context={"aws:PrincipalTag/team": "eks"}), I),
    Case("values are OR'd", on(when("StringEquals", "aws:PrincipalTag/team", ["ops", "eks"]), context={"aws:PrincipalTag/team": "eks"}), A),
    Case("keys are AND'd", on(allow("ec2:DescribeVpcs", Condition={"StringEquals": {"aws:PrincipalTag/team": "eks", "aws:PrincipalTag/env": "dev"}}), context={"aws:PrincipalTag/team": "eks", "aws:PrincipalTag/env": "prod"}), I),
    Case("operators are AND'd", on(allow("ec2:DescribeVpcs", Condition={"StringEquals": {"aws:PrincipalTag/team": "eks"}, "Bool": {"aws:SecureTransport": "false"}}), context={"aws:PrincipalTag/team": "eks", "aws:SecureTransport": "true"}), I),
    Case("condition keys are case-insensitive", on(when("StringEquals", "AWS:principaltag/TEAM", "eks"), context={"aws:PrincipalTag/team": "eks"}), A),
    Case("operators are case-insensitive", on(when("stringequals", "aws:PrincipalTag/team", "eks"), context={"aws:PrincipalTag/team": "eks"}), A),
    Case("NumericLessThan", on(when("NumericLessThan", "aws:MultiFactorAuthAge", "3600"), context={"aws:MultiFactorAuthAge": "120"}), A),
    Case("NumericGreaterThanEquals", on(when("NumericGreaterThanEquals", "aws:MultiFactorAuthAge", "3600"), context={"aws:MultiFactorAuthAge": "120"}), I),
    Case("NumericEquals decimal", on(when("NumericEquals", "aws:MultiFactorAuthAge", "120.0"), context={"aws:MultiFactorAuthAge": "120"}), A),
    Case("NumericNotEquals", on(when("NumericNotEquals", "aws:MultiFactorAuthAge", "120"), context={"aws:MultiFactorAuthAge": "121"}), A),
    Case("NumericLessThanEquals", on(when("NumericLessThanEquals", "ec2:VolumeSize", "8", action="ec2:DeleteVolume"), action="ec2:DeleteVolume", resource=VOLUME, context={"ec2:VolumeSize": "8"}), A),
    Case("NumericGreaterThan not a number", on(when("NumericGreaterThan", "aws:MultiFactorAuthAge", "10"), context={"aws:MultiFactorAuthAge": "soon"}), I),
    Case("DateLessThan", on(when("DateLessThan", "aws:CurrentTime", "2030-01-01T00:00:00Z"), context={"aws:CurrentTime": "2026-05-01T12:00:00Z"}), A),
    Case("DateGreaterThan", on(when("DateGreaterThan", "aws:CurrentTime", "2030-01-01T00:00:00Z"), context={"aws:CurrentTime": "2026-05-01T12:00:00Z"}), I),
    Case("DateEquals day", on(when("DateEquals", "aws:CurrentTime", "2026-05-01T12:00:00Z"), context={"aws:CurrentTime": "2026-05-01T12:00:00Z"}), A),
    Case("DateNotEquals", on(when("DateNotEquals", "aws:CurrentTime", "2026-05-01T12:00:00Z"), context={"aws:CurrentTime": "2026-05-01T12:00:01Z"}), A),
    Case("DateGreaterThanEquals epoch", on(when("DateGreaterThanEquals", "aws:EpochTime", "1700000000"), context={"aws:EpochTime": "1800000000"}), A),
    Case("DateLessThanEquals epoch", on(when("DateLessThanEquals", "aws:EpochTime", "1700000000"), context={"aws:EpochTime": "1800000000"}), I),
    Case("Bool", on(when("Bool", "aws:SecureTransport", "true"), context={"aws:SecureTransport": "true"}), A),
    Case("Bool false", on(when("Bool", "aws:MultiFactorAuthPresent", "true"), context={"aws:MultiFactorAuthPresent": "false"}), I),
    Case("Bool JSON true", on(when("Bool", "aws:SecureTransport", True), context={"aws:SecureTransport": "true"}), A),
    Case("BoolIfExists absent", on(when("BoolIfExists", "aws:MultiFactorAuthPresent", "true")), A),
    Case("deny BoolIfExists false absent", check(identity=[policy(allow("*"), when("BoolIfExists", "aws:MultiFactorAuthPresent", "false", effect="Deny"))]), E),
    Case("BinaryEquals", on(when("BinaryEquals", "aws:PrincipalTag/blob", "QmluYXJ5"), context={"aws:PrincipalTag/blob": "QmluYXJ5"}), A),
    Case("BinaryEquals other", on(when("BinaryEquals", "aws:PrincipalTag/blob", "QmluYXJ5"), context={"aws:PrincipalTag/blob": "QmluYXJ6"}), I),
    Case("IpAddress", on(when("IpAddress", "aws:SourceIp", "10.0.0.0/8"), context={"aws:SourceIp": "10.1.2.3"}), A),
    Case("IpAddress outside", on(when("IpAddress", "aws:SourceIp", "10.0.0.0/8"), context={"aws:SourceIp": "192.168.1.1"}), I),
    Case("IpAddress one address", on(when("IpAddress", "aws:SourceIp", "192.168.1.1"), context={"aws:SourceIp": "192.168.1.1"}), A),
    Case("IpAddress IPv6", on(when("IpAddress", "aws:SourceIp", "2001:db8::/32"), context={"aws:SourceIp": "2001:db8::1"}), A),
    Case("NotIpAddress", on(when("NotIpAddress", "aws:SourceIp", ["10.0.0.0/8", "172.16.0.0/12"]), context={"aws:SourceIp": "192.168.1.1"}), A),
    Case("NotIpAddress inside", on(when("NotIpAddress", "aws:SourceIp", "10.0.0.0/8"), context={"aws:SourceIp": "10.1.2.3"}), I),
    Case("ArnLike", on(when("ArnLike", "aws:PrincipalArn", f"arn:aws:iam::{ACCOUNT}:user/run*"), context={"aws:PrincipalArn": USER}), A),
    Case("ArnEquals with ?", on(when("ArnEquals", "aws:PrincipalArn", f"arn:aws:iam::{ACCOUNT}:user/runne?"), context={"aws:PrincipalArn": USER}), A),
    Case("ArnLike wildcard stays in its part", on(when("ArnLike", "aws:PrincipalArn", "arn:aws:iam::*"), context={"aws:PrincipalArn": USER}), I),
    Case("ArnLike across accounts", on(when("ArnLike", "aws:PrincipalArn", "arn:aws:iam::*:user/runner"), context={"aws:PrincipalArn": USER}), A),
    Case("ArnNotLike", on(when("ArnNotLike", "aws:PrincipalArn", f"arn:aws:iam::{ACCOUNT}:role/*"), context={"aws:PrincipalArn": USER}), A),
    Case("ArnNotEquals same", on(when("ArnNotEquals", "aws:PrincipalArn", USER), context={"aws:PrincipalArn": USER}), I),
    Case("ArnLike not an ARN", on(when("ArnLike", "aws:PrincipalArn", "arn:aws:iam::*:user/*"), context={"aws:PrincipalArn": "runner"}), I),
    Case("Null true absent", on(when("Null", "aws:PrincipalTag/team", "true")), A),
    Case("Null true present", on(when("Null", "aws:PrincipalTag/team", "true"), context={"aws:PrincipalTag/team": "eks"}), I),
    Case("Null false present", on(when("Null", "aws:PrincipalTag/team", "false"), context={"aws:PrincipalTag/team": "eks"}), A),
    Case("deny Null absent", check(identity=[policy(allow("*"), when("Null", "aws:PrincipalTag/team", "true", effect="Deny"))]), E),
    # Set operators: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html
    Case("ForAllValues subset", on(when("ForAllValues:StringEquals", "aws:TagKeys", ["eksboot:cluster", "Name"]), context={"aws:TagKeys": ["eksboot:cluster"]}), A),
    Case("ForAllValues extra value", on(when("ForAllValues:StringEquals", "aws:TagKeys", ["Name"]), context={"aws:TagKeys": ["eksboot:cluster", "Name"]}), I),
    Case("ForAllValues absent holds", on(when("ForAllValues:StringEquals", "aws:TagKeys", ["Name"])), A),
    Case("ForAnyValue intersect", on(when("ForAnyValue:StringLike", "aws:TagKeys", ["eksboot:*"]), context={"aws:TagKeys": ["Name", "eksboot:cluster"]}), A),
    Case("ForAnyValue absent fails", on(when("ForAnyValue:StringEquals", "aws:TagKeys", ["Name"])), I),
    Case("ForAnyValue none", on(when("ForAnyValue:StringEquals", "aws:TagKeys", ["a", "b"]), context={"aws:TagKeys": ["c"]}), I),
    Case("ForAllValues StringNotEquals", on(when("ForAllValues:StringNotEquals", "aws:TagKeys", ["forbidden"]), context={"aws:TagKeys": ["a", "b"]}), A),
    Case("ForAnyValue StringNotLike", on(when("ForAnyValue:StringNotLike", "aws:CalledVia", ["cloudformation.*"]), context={"aws:CalledVia": ["cloudformation.amazonaws.com", "athena.amazonaws.com"]}), A),
    Case("deny ForAnyValue on tag keys", check(identity=[policy(allow("*"), when("ForAnyValue:StringEquals", "aws:TagKeys", ["eksboot:cluster"], effect="Deny"))], context=CTX_TAGS), E),
    Case("a multivalued key needs a set operator", on(when("StringEquals", "aws:TagKeys", "eksboot:cluster"), context=CTX_TAGS), I),
    Case("a multivalued key never matches a negated one either", on(when("StringNotEquals", "aws:TagKeys", "Name"), context=CTX_TAGS), I),
    Case("request tag on create", on(allow("ec2:CreateVpc", f"arn:aws:ec2:{REGION}:{ACCOUNT}:vpc/*", Condition={"StringEquals": {"aws:RequestTag/eksboot:cluster": "demo"}}), action="ec2:CreateVpc", resource=NEW_VPC, context=CTX_TAGS), A),
    Case("request tag on create, other cluster", on(allow("ec2:CreateVpc", f"arn:aws:ec2:{REGION}:{ACCOUNT}:vpc/*", Condition={"StringEquals": {"aws:RequestTag/eksboot:cluster": "prod"}}), action="ec2:CreateVpc", resource=NEW_VPC, context=CTX_TAGS), I),
    # Permissions boundaries: https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html
    Case("boundary allows", check(identity=[policy(allow("*"))], boundary=policy(allow("ec2:*"))), A),
    Case("boundary does not allow", check(identity=[policy(allow("*"))], boundary=policy(allow("iam:*"))), I),
    Case("boundary alone grants nothing", check(boundary=policy(allow("*"))), I),
    Case("boundary denies", check(identity=[policy(allow("*"))], boundary=policy(allow("*"), deny("ec2:DescribeVpcs"))), E),
    Case("boundary with NotAction", check(identity=[policy(allow("*"))], boundary=policy({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})), A),
    # Resource policies within the account: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic_policies_resource.html
    Case("s3 bucket policy naming the user", check("s3:GetObject", "arn:aws:s3:::state-bucket/k", resource_policy=policy(grant("s3:GetObject", Resource="arn:aws:s3:::state-bucket/*"))), A),
    Case("s3 bucket policy naming the account only", check("s3:GetObject", "arn:aws:s3:::state-bucket/k", resource_policy=policy(grant("s3:GetObject", ROOT_PRINCIPAL, Resource="arn:aws:s3:::state-bucket/*"))), I),
    Case("s3 bucket policy naming another user", check("s3:GetObject", "arn:aws:s3:::state-bucket/k", resource_policy=policy(grant("s3:GetObject", f"arn:aws:iam::{ACCOUNT}:user/other", Resource="arn:aws:s3:::state-bucket/*"))), I),
    Case("s3 bucket policy deny", check("s3:GetObject", "arn:aws:s3:::state-bucket/k", identity=[policy(allow("s3:*"))], resource_policy=policy({"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::state-bucket/*"})), E),
    Case("s3 bucket policy deny for the account", check("s3:GetObject", "arn:aws:s3:::state-bucket/k", identity=[policy(allow("s3:*"))], resource_policy=policy({"Effect": "Deny", "Principal": {"AWS": ACCOUNT}, "Action": "s3:*", "Resource": "arn:aws:s3:::state-bucket/*"})), E),
    Case("s3 bucket policy deny with a failing condition", check("s3:GetObject", "arn:aws:s3:::state-bucket/k", identity=[policy(allow("s3:*"))], resource_policy=policy({"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::state-bucket/*", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}), context={"aws:SecureTransport": "true"}), A),
    Case("resource policy naming the user passes a boundary", check("s3:GetObject", "arn:aws:s3:::state-bucket/k", boundary=policy(allow("ec2:*")), resource_policy=policy(grant("s3:GetObject", Resource="arn:aws:s3:::state-bucket/*"))), A),
    Case("NotPrincipal allow", check("s3:GetObject", "arn:aws:s3:::state-bucket/k", resource_policy=policy({"Effect": "Allow", "NotPrincipal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/other"}, "Action": "s3:GetObject", "Resource": "*"})), A),
    Case("NotPrincipal deny spares the named", check("s3:GetObject", "arn:aws:s3:::state-bucket/k", identity=[policy(allow("s3:*"))], resource_policy=policy({"Effect": "Deny", "NotPrincipal": {"AWS": USER}, "Action": "s3:*", "Resource": "*"})), A),
    Case("NotPrincipal deny denies a principal with a boundary", check("s3:GetObject", "arn:aws:s3:::state-bucket/k", identity=[policy(allow("s3:*"))], boundary=policy(allow("*")), resource_policy=policy({"Effect": "Deny", "NotPrincipal": {"AWS": USER}, "Action": "s3:*", "Resource": "*"})), E),
    # KMS: a key policy must allow (https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html).
    Case("kms key policy naming the account lets IAM decide", check("kms:Decrypt", KEY, identity=[policy(allow("kms:Decrypt"))], resource_policy=policy(grant("kms:*", ROOT_PRINCIPAL, Resource="*"))), A),
    Case("kms key policy naming the account, no IAM policy", check("kms:Decrypt", KEY, resource_policy=policy(grant("kms:*", ROOT_PRINCIPAL, Resource="*"))), I),
    Case("kms key policy naming the account as a number", check("kms:Decrypt", KEY, identity=[policy(allow("kms:*"))], resource_policy=policy(grant("kms:*", ACCOUNT, Resource="*"))), A),
    Case("kms key policy naming the user, no IAM policy", check("kms:Decrypt", KEY, resource_policy=policy(grant("kms:Decrypt", Resource="*"))), A),
    Case("kms key policy not naming the caller", check("kms:Decrypt", KEY, identity=[policy(allow("kms:*"))], resource_policy=policy(grant("kms:*", f"arn:aws:iam::{ACCOUNT}:role/admin", Resource="*"))), I),
    Case("kms key without a policy", check("kms:Decrypt", KEY, identity=[policy(allow("kms:*"))]), I),
    Case("kms key policy for another action", check("kms:Decrypt", KEY, identity=[policy(allow("kms:*"))], resource_policy=policy(grant("kms:DescribeKey", ROOT_PRINCIPAL, Resource="*"))), I),
    Case("kms key policy naming a role lets its sessions", check("kms:Decrypt", KEY, principal=SESSION, resource_policy=policy(grant("kms:Decrypt", ROLE, Resource="*"))), A),
    Case("kms key policy account with a condition", check("kms:Decrypt", KEY, identity=[policy(allow("kms:*"))], resource_policy=policy(grant("kms:*", ROOT_PRINCIPAL, Resource="*", Condition={"StringEquals": {"kms:CallerAccount": ACCOUNT}})), context={"kms:CallerAccount": ACCOUNT}), A),
    Case("kms key policy explicit deny", check("kms:Decrypt", KEY, identity=[policy(allow("kms:*"))], resource_policy=policy(grant("kms:*", ROOT_PRINCIPAL, Resource="*"), {"Effect": "Deny", "Principal": {"AWS": USER}, "Action": "kms:Decrypt", "Resource": "*"})), E),
    Case("kms list on * needs no key policy", on(allow("kms:ListKeys"), action="kms:ListKeys"), A),
    Case("kms alias/aws/ is reserved", on(allow("kms:*"), action="kms:CreateAlias", resource=f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/aws/ebs"), I),
    Case("kms own alias", on(allow("kms:*"), action="kms:CreateAlias", resource=f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/eksboot/demo"), A),
    # Role trust policies at sts:AssumeRole: https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_compare-resource-policies.html
    Case("trust naming the user, no IAM policy", check("sts:AssumeRole", ROLE, resource_policy=policy(grant("sts:AssumeRole"))), A),
    Case("trust naming the account lets IAM decide", check("sts:AssumeRole", ROLE, identity=[policy(allow("sts:AssumeRole", ROLE))], resource_policy=policy(grant("sts:AssumeRole", ROOT_PRINCIPAL))), A),
    Case("trust naming the account, no IAM policy", check("sts:AssumeRole", ROLE, resource_policy=policy(grant("sts:AssumeRole", ROOT_PRINCIPAL))), I),
    Case("trust naming another principal", check("sts:AssumeRole", ROLE, identity=[policy(allow("sts:AssumeRole"))], resource_policy=policy(grant("sts:AssumeRole", f"arn:aws:iam::{ACCOUNT}:user/other"))), I),
    Case("trust naming a service", check("sts:AssumeRole", ROLE, identity=[policy(allow("sts:AssumeRole"))], resource_policy=policy({"Effect": "Allow", "Principal": {"Service": "eks.amazonaws.com"}, "Action": "sts:AssumeRole"})), I),
    Case("trust naming the role lets its session", check("sts:AssumeRole", f"arn:aws:iam::{ACCOUNT}:role/other", principal=SESSION, resource_policy=policy(grant("sts:AssumeRole", ROLE))), A),
    Case("trust with a condition", check("sts:AssumeRole", ROLE, resource_policy=policy(grant("sts:AssumeRole", Condition={"StringEquals": {"sts:ExternalId": "x1"}})), context={"sts:ExternalId": "x2"}), I),
    Case("assume a role of unknown trust: IAM decides", check("sts:AssumeRole", ROLE, identity=[policy(allow("sts:AssumeRole", ROLE))]), A),
    # Across accounts both sides must allow.
    Case("cross-account: only identity", check("s3:GetObject", "arn:aws:s3:::theirs/k", identity=[policy(allow("s3:*"))], account=OTHER_ACCOUNT), I),
    Case("cross-account: both", check("s3:GetObject", "arn:aws:s3:::theirs/k", identity=[policy(allow("s3:*"))], account=OTHER_ACCOUNT, resource_policy=policy(grant("s3:GetObject", ROOT_PRINCIPAL, Resource="*"))), A),
    Case("cross-account: only the resource policy", check("s3:GetObject", "arn:aws:s3:::theirs/k", account=OTHER_ACCOUNT, resource_policy=policy(grant("s3:GetObject", Resource="*"))), I),
    # IAM's own limits.
    Case("an AWS managed policy cannot change", on(allow("iam:*"), action="iam:CreatePolicyVersion", resource="arn:aws:iam::aws:policy/AdministratorAccess"), I),
    # Malformed policies: an Error, counted as a denial (Node agrees).
    Case("Effect must be exact", on({"Effect": "allow", "Action": "*", "Resource": "*"}), ERR),
    Case("Principal in an identity policy", on({"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}), ERR),
    Case("an identity statement needs a Resource", on({"Effect": "Allow", "Action": "*"}), ERR),
    Case("Action and NotAction together", on({"Effect": "Allow", "Action": "*", "NotAction": "iam:*", "Resource": "*"}), ERR),
    Case("action without a service", on(allow("DescribeVpcs:x:y")), ERR),
    Case("unknown set operator", on(when("ForSomeValues:StringEquals", "aws:TagKeys", "x")), ERR),
    Case("bad Version", check(identity=[policy(allow("*"), version="2020-01-01")]), ERR),
]

# Where the builtin reads AWS's documentation and evaluate.mjs (iam-simulate) reads otherwise,
# with Node's result, asserted below so a change on either side shows.
DIVERGENCES = [
    # An operator AWS does not document: an Error, never a statement that silently does not
    # apply (iam-simulate lets a Deny with a typo pass).
    (Case("unknown operator in a Deny", check(identity=[policy(allow("*"), when("StringEqualz", "aws:PrincipalTag/team", "x", effect="Deny"))]), ERR), A),
    # "${...}" is a variable only in a 2012-10-17 policy; in an older one it is literal text.
    (Case("no variables in a 2008-10-17 policy", check("iam:GetUser", USER, identity=[policy(allow("iam:GetUser", f"arn:aws:iam::{ACCOUNT}:user/${{aws:username}}"), version="2008-10-17")], context={"aws:username": "runner"}), I), A),
    # A Resource that is neither "*" nor an ARN: IAM refuses to store it (iam-simulate reads
    # "role" as a short ARN matching everything).
    (Case("a Resource that is no ARN", on(allow("iam:GetRole", "role"), action="iam:GetRole", resource=ROLE), ERR), A),
    # ${*}, ${?} and ${$} are predefined variables standing for the character itself
    # (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html), in
    # StringEquals too, where iam-simulate keeps them as text.
    (Case("${*} is a literal star", on(when("StringEquals", "aws:PrincipalTag/team", "a${*}"), context={"aws:PrincipalTag/team": "a*"}), A), I),
    (Case("${?} and ${$}", on(when("StringEquals", "aws:PrincipalTag/team", "${?}${$}"), context={"aws:PrincipalTag/team": "?$"}), A), I),
]

# Operators the builtin refuses where Node merely finds no match: the same verdict (not allowed).
UNKNOWN_OPERATOR_IN_ALLOW = Case("unknown operator in an Allow", on(when("StringEqualz", "aws:PrincipalTag/team", "x")), ERR)


@pytest.mark.parametrize("case", CASES + [c for c, _ in DIVERGENCES] + [UNKNOWN_OPERATOR_IN_ALLOW], ids=lambda c: c.name)
def test_rule(case):
    answer = result_of(case.request)
    assert answer["result"] == case.expected, answer["explain"]


# --------------------------------------------------------------------------
# Explanations and the protocol.


def test_explain_names_the_denying_statement():
    request = check(identity=[policy(allow("*")), policy(deny("ec2:*") | {"Sid": "NoEc2"})])
    assert result_of(request)["explain"] == 'with an explicit deny in an identity-based policy policy2 (statement "NoEc2")'
    request = check(identity=[policy(allow("*"))], boundary=policy(allow("*"), deny("ec2:*")))
    assert result_of(request)["explain"] == "with an explicit deny in a permissions boundary boundary (statement #2)"


def test_explain_says_no_policy_allows_with_the_near_misses():
    request = on(allow("iam:GetRole", f"arn:aws:iam::{ACCOUNT}:role/prod-*", Sid="Roles") | {
        "Condition": {"StringEquals": {"aws:ResourceTag/eksboot:cluster": "prod"}}},
        action="iam:GetRole", resource=ROLE, context={"aws:ResourceTag/eksboot:cluster": "demo"})
    explain = result_of(request)["explain"]
    assert explain.startswith("no identity-based policy allows the iam:GetRole action: policy1 statement \"Roles\": ")
    assert f'its Resource ["arn:aws:iam::{ACCOUNT}:role/prod-*"] does not match {ROLE}' in explain
    assert 'condition StringEquals aws:ResourceTag/eksboot:cluster ["prod"] not met (the request context has "demo")' in explain
    assert result_of(check())["explain"] == "no identity-based policy allows the ec2:DescribeVpcs action: no statement names the action"


def test_explain_names_the_boundary_or_key_policy_that_does_not_allow():
    blocked = check(identity=[policy(allow("*"))], boundary=policy(allow("iam:*")))
    assert result_of(blocked)["explain"] == (
        "no permissions boundary allows the ec2:DescribeVpcs action: no statement names the action")
    key = check("kms:Decrypt", KEY, identity=[policy(allow("kms:*"))],
                resource_policy=policy(grant("kms:Decrypt", f"arn:aws:iam::{ACCOUNT}:role/admin", Resource="*")))
    assert result_of(key)["explain"] == (
        f"no resource-based policy allows the kms:Decrypt action: statement #1: its Principal does not name {USER}")


def test_explain_of_an_allow_names_the_statement():
    assert result_of(on(allow("ec2:*") | {"Sid": "Ec2"}))["explain"] == 'allowed by identity-based policy policy1 statement "Ec2"'


def test_an_error_says_what_is_wrong_and_is_never_allowed():
    answer = result_of(UNKNOWN_OPERATOR_IN_ALLOW.request)
    assert answer["result"] == "Error"
    assert "unknown condition operator 'StringEqualz'" in answer["explain"]
    assert result_of({"action": "ec2:DescribeVpcs"})["result"] == "Error"
    assert result_of(check(action="DescribeVpcs"))["result"] == "Error"
    assert result_of(check(context={"aws:PrincipalTag/x": {"a": 1}}))["result"] == "Error"
    assert result_of(check(identity=["{not json"]))["result"] == "Error"


def test_policies_come_as_documents_json_text_or_named():
    document = policy(allow("ec2:*"))
    for given in (document, json.dumps(document), {"name": "n", "policy": json.dumps(document)}):
        assert result_of(check() | {"identityPolicies": given})["result"] == "Allowed"


def test_answers_come_in_order_one_per_check():
    answers = iam_builtin.evaluate([on(allow("ec2:*")), check(), on({"Effect": "x"})])
    assert [a["result"] for a in answers] == ["Allowed", "ImplicitlyDenied", "Error"]
    assert iam_builtin.evaluate([]) == []


def test_simulate_custom_policy_asks_about_resource_patterns():
    """iam:SimulateCustomPolicy (ignoreUnknownContext): a `*` in its resource is a wildcard, and
    the question is whether some resource it covers is allowed."""
    nodegroups = f"arn:aws:eks:{REGION}:{ACCOUNT}:nodegroup/demo/*"
    creator = policy(allow("eks:DescribeNodegroup", nodegroups))

    def simulated(boundary, resource=nodegroups):
        return result_of(check("eks:DescribeNodegroup", resource, identity=[creator], boundary=boundary, simulated=True))

    assert simulated(policy(allow("*")))["result"] == "Allowed"
    assert simulated(policy(allow("eks:*", f"arn:aws:eks:{REGION}:{ACCOUNT}:nodegroup/*")))["result"] == "Allowed"
    assert simulated(policy(allow("eks:*", f"arn:aws:eks:{REGION}:{ACCOUNT}:nodegroup/prod/*")))["result"] == "ImplicitlyDenied"
    assert simulated(policy(allow("*"), deny("eks:*", f"arn:aws:eks:{REGION}:{ACCOUNT}:nodegroup/*")))["result"] == "ExplicitlyDenied"
    # A key without a ResourcePolicy has KMS's default policy: the identity's policies decide.
    kms = check("kms:DescribeKey", KEY, identity=[policy(allow("kms:DescribeKey"))], simulated=True)
    assert result_of(kms)["result"] == "Allowed"


# --------------------------------------------------------------------------
# The emulator's selection of the evaluator.


def test_enforce_uses_the_builtin_when_asked(monkeypatch):
    import iam_enforce

    monkeypatch.setenv(iam_enforce.ENV_EVALUATOR, "builtin")

    def no_node(checks):
        raise AssertionError("the Node evaluator was asked")

    monkeypatch.setattr(iam_enforce._evaluator, "ask", no_node)
    results = iam_enforce.evaluate([on(allow("ec2:*")), check()])
    assert [r["result"] for r in results] == ["Allowed", "ImplicitlyDenied"]
    status, answer = iam_enforce.control("/eksboot-moto/enforce-iam", {"account": OTHER_ACCOUNT, "on": True})
    assert (status, answer) == (200, {"account": OTHER_ACCOUNT, "on": True})
    iam_enforce.control("/eksboot-moto/enforce-iam", {"account": OTHER_ACCOUNT, "on": False})


def test_the_emulator_enforces_iam_with_the_builtin_evaluator():
    """The sandbox's setup: the emulator with EKSBOOT_IAM_EVALUATOR=builtin and no Node at all
    enforces an account's IAM, in AWS's error shape."""
    import time
    import urllib.request

    import boto3
    from botocore.config import Config
    from botocore.exceptions import ClientError

    env = dict(os.environ, EKSBOOT_IAM_EVALUATOR="builtin", EKSBOOT_MOTO_IAM_PROPAGATION_MS="0",
               MOTO_IAM_LOAD_MANAGED_POLICIES="false", PATH="/nonexistent")
    proc = subprocess.Popen([sys.executable, str(HERE / "eksboot_moto.py")], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("PORT "), f"the emulator did not start: {line!r}"
        endpoint = f"http://127.0.0.1:{line.split()[1]}"

        def client(service, keys):
            return boto3.client(service, region_name=REGION, endpoint_url=endpoint, aws_access_key_id=keys[0],
                                aws_secret_access_key=keys[1], aws_session_token=keys[2],
                                config=Config(retries={"max_attempts": 1}))

        account = f"{int(time.time()) % 1_000_000 * 1000 + 400_000_000_000:012d}"
        bootstrap = client("sts", ("AKIAEKSBOOTTEST", "secret", None))
        creds = bootstrap.assume_role(RoleArn=f"arn:aws:iam::{account}:role/x", RoleSessionName="tt")["Credentials"]
        iam = client("iam", (creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"]))
        iam.create_role(RoleName="x", AssumeRolePolicyDocument=json.dumps(policy(grant("sts:AssumeRole", f"arn:aws:iam::{account}:root"))))
        iam.put_role_policy(RoleName="x", PolicyName="all", PolicyDocument=json.dumps(policy(allow("*"))))
        iam.create_user(UserName="runner")
        iam.put_user_policy(UserName="runner", PolicyName="p", PolicyDocument=json.dumps(policy(allow("ec2:DescribeVpcs"))))
        key = iam.create_access_key(UserName="runner")["AccessKey"]
        request = urllib.request.Request(endpoint + "/eksboot-moto/enforce-iam", method="POST",
                                         data=json.dumps({"account": account, "on": True}).encode())
        with urllib.request.urlopen(request, timeout=30) as answer:
            assert json.loads(answer.read()) == {"account": account, "on": True}
        ec2 = client("ec2", (key["AccessKeyId"], key["SecretAccessKey"], None))
        ec2.describe_vpcs()
        with pytest.raises(ClientError) as denied:
            ec2.describe_subnets()
        error = denied.value.response["Error"]
        assert error["Code"] == "UnauthorizedOperation"
        assert (f"User: arn:aws:iam::{account}:user/runner is not authorized to perform: ec2:DescribeSubnets "
                "on resource: * because no identity-based policy allows the ec2:DescribeSubnets action") in error["Message"]
    finally:
        proc.kill()
        proc.wait()


# --------------------------------------------------------------------------
# The same verdicts as the Node evaluator.


def _node_evaluator():
    """The Node IAM evaluator, or None (see testing_support)."""
    return testing_support.node_evaluator()


class NodeEvaluator:
    """evaluate.mjs as iam_enforce runs it: one JSON line per batch of checks."""

    BATCH = 100

    def __init__(self, path):
        self._ids = itertools.count(1)
        self._proc = subprocess.Popen(
            ["node", path], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            cwd=os.path.dirname(os.path.abspath(path)), text=True, bufsize=1,
        )

    def evaluate(self, checks):
        results = []
        for start in range(0, len(checks), self.BATCH):
            batch = checks[start:start + self.BATCH]
            request_id = next(self._ids)
            self._proc.stdin.write(json.dumps({"id": request_id, "checks": batch}) + "\n")
            self._proc.stdin.flush()
            answer = json.loads(self._proc.stdout.readline())
            assert answer["id"] == request_id and len(answer["results"]) == len(batch), answer
            results += answer["results"]
        return results

    def close(self):
        self._proc.stdin.close()
        self._proc.wait(timeout=30)


@pytest.fixture(scope="module")
def node():
    path = _node_evaluator()
    assert path and Path(path).is_file() and shutil.which("node"), (
        "the Node IAM evaluator is needed to compare against: `npm ci` in target/tmp/iam-eval (the "
        "e2e harness installs it there from tests/iam), or set EKSBOOT_IAM_EVALUATOR to evaluate.mjs "
        "or EKSBOOT_IAM_NODE_MODULES to a node_modules with @cloud-copilot/iam-simulate; and Node on PATH"
    )
    evaluator = NodeEvaluator(path)
    yield evaluator
    evaluator.close()


def _verdict(result):
    return "Allowed" if result == "Allowed" else "not allowed"


def _disagreements(checks, node_results):
    builtin_results = iam_builtin.evaluate(checks)
    found = []
    for request, mine, theirs in zip(checks, builtin_results, node_results):
        if _verdict(mine["result"]) != _verdict(theirs["result"]):
            found.append(
                f"{request['action']} on {request['resource']} as {request['principal']}: builtin "
                f"{mine['result']} ({mine['explain']}), Node {theirs['result']} ({theirs['explain']})"
            )
    return found


def test_hand_made_checks_agree_with_node(node):
    checks = [case.request for case in CASES + [UNKNOWN_OPERATOR_IN_ALLOW]]
    node_results = node.evaluate(checks)
    assert not _disagreements(checks, node_results), "\n".join(_disagreements(checks, node_results))
    # Node reaches the expected result itself (Error and denials may differ in kind only).
    wrong = [f"{case.name}: Node {r['result']} ({r['explain']})"
             for case, r in zip(CASES, node_results) if _verdict(r["result"]) != _verdict(case.expected)]
    assert not wrong, "\n".join(wrong)


def test_divergences_from_node_are_the_documented_ones(node):
    node_results = node.evaluate([case.request for case, _ in DIVERGENCES])
    found = {case.name: r["result"] for (case, _), r in zip(DIVERGENCES, node_results)}
    assert found == {case.name: theirs for case, theirs in DIVERGENCES}


# The real checks: a cluster's life as iam_context builds it (test_iam_context's scenario), under
# the policies eksboot prints.

PROFILES = sorted((ROOT / "profiles").glob("*.toml"))
EKSBOOT = Path(os.environ.get("EKSBOOT_BIN") or ROOT / "target/debug/eksboot")


def _printed_policy(profile, *flags):
    assert EKSBOOT.is_file(), f"{EKSBOOT} is missing: `cargo build` first (or set EKSBOOT_BIN)"
    out = subprocess.run(
        [str(EKSBOOT), "permissions", "--account", ACCOUNT, "--profile", str(profile), *flags],
        capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 0, f"eksboot permissions --profile {profile} {flags}: {out.stderr}"
    return json.loads(out.stdout)


@pytest.fixture(scope="module")
def printed_policies():
    """(label, caller policy, creator policy) per profile: as printed, and for the scenario's
    cluster (`demo` in us-west-2), whose resources the scenario's checks name."""
    assert len(PROFILES) >= 3, PROFILES
    found = []
    for profile in PROFILES:
        found.append((profile.stem, _printed_policy(profile, "--for", "caller"), None))
        demo = ("--name", "demo", "--region", REGION)
        found.append((f"{profile.stem} as demo", _printed_policy(profile, "--for", "caller", *demo),
                      _printed_policy(profile, "--for", "creator", *demo)))
    return found


@pytest.fixture(scope="module")
def scenario_checks():
    """Every check of every request of test_iam_context's cluster life, recorded as its `life`
    fixture records them (and removed from its record again, which its own tests index)."""
    import test_iam_context as scenario
    from moto import mock_aws
    from moto.core.responses import BaseResponse

    start = len(scenario.RECORD)
    original = BaseResponse.call_action
    BaseResponse.call_action = scenario._recording_call_action
    try:
        with mock_aws():
            scenario._drive()
    finally:
        BaseResponse.call_action = original
    recorded = scenario.RECORD[start:]
    del scenario.RECORD[start:]
    checks = [c for _, _, found in recorded if not isinstance(found, Exception) for c in found]
    assert len(checks) > 150, len(checks)
    return checks


def _requests(checks, principal_arn, kind, identity, boundary):
    """The evaluator's requests for `checks` made by this principal, as iam_enforce builds them."""
    import iam_enforce

    name = principal_arn.rsplit("/", 1)[-1]
    principal = iam_enforce.Principal(
        principal_arn, ROLE if kind == "AssumedRole" else principal_arn, kind,
        f"AIDAEXAMPLE:{name}", name if kind == "User" else None, identity, boundary, {"team": "eks"},
    )
    requests = []
    for found in checks:
        with_time = iam_enforce._mentions_time(identity, boundary, found.resource_policy)
        context = iam_enforce.global_keys(principal, ACCOUNT, REGION, not found.why, with_time)
        context.update(found.context or {})
        requests.append({
            "principal": principal_arn, "action": found.action, "resource": found.resource,
            "account": ACCOUNT, "context": context, "identityPolicies": identity,
            "permissionBoundaries": boundary, "resourcePolicy": found.resource_policy,
        })
    return requests


def test_real_checks_agree_with_node(node, printed_policies, scenario_checks):
    unique = {}
    for found in scenario_checks:
        unique.setdefault(json.dumps([found.action, found.resource, found.context, found.resource_policy, bool(found.why)], sort_keys=True), found)
    checks = list(unique.values())
    requests = []
    for label, caller, creator in printed_policies:
        identity = [{"name": f"eksboot {label} caller", "policy": caller}]
        requests += _requests(checks, USER, "User", identity, None)
        if creator is not None:
            # The creator role's session, under a boundary (the caller's policy): a boundary,
            # role-session principals, and the trust policies naming the user, at once.
            role_identity = [{"name": f"eksboot {label} creator", "policy": creator}]
            boundary = [{"name": f"{label} boundary", "policy": caller}]
            requests += _requests(checks, SESSION, "AssumedRole", role_identity, boundary)
    node_results = node.evaluate(requests)
    node_errors = [f"{r['action']} on {r['resource']}: {n['explain']}" for r, n in zip(requests, node_results) if n["result"] == "Error"]
    assert not node_errors, "Node cannot evaluate these checks:\n" + "\n".join(node_errors[:20])
    disagreements = _disagreements(requests, node_results)
    assert not disagreements, f"{len(disagreements)} of {len(requests)} disagree:\n" + "\n".join(disagreements[:20])
    allowed = sum(r["result"] == "Allowed" for r in node_results)
    # Both verdicts are well represented, or the comparison would prove little.
    assert allowed > len(requests) // 5 and len(requests) - allowed > len(requests) // 5, (allowed, len(requests))
