"""Tests of tokens: client request tokens remembered as AWS does, in the emulator and the proxy.

Run: `python -m pytest emulator/test_tokens.py` in the venv with moto[server]==5.2.5, boto3
and pytest. moto runs in-process (mock_aws) with eksboot_moto's EKS operations and
`tokens.install()`; every request goes through moto's `call_action` as in the server.
"""

import json
import os
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

os.environ.setdefault("EKSBOOT_MOTO_TRANSITION_MS", "0")
os.environ.setdefault("EKSBOOT_MOTO_ADDON_READY_MS", "0")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-west-2")

import boto3  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402
from moto import mock_aws  # noqa: E402

import eksboot_moto  # noqa: E402,F401  (the EKS operations moto lacks)
import fault_proxy  # noqa: E402
import tokens  # noqa: E402

REGION = "us-west-2"
CLUSTER = "demo"

tokens.install()
tokens.install()  # installing twice wraps once


@pytest.fixture()
def aws():
    tokens.MEMORY.reset()
    with mock_aws():
        yield {s: boto3.client(s, region_name=REGION) for s in ("ec2", "eks", "iam")}


def _vpc(ec2, cidr="10.0.0.0/16"):
    return ec2.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"]


def _route_tables(ec2, vpc):
    return ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["RouteTables"]


def test_an_ec2_repeat_gets_the_first_result_and_makes_nothing_twice(aws):
    ec2 = aws["ec2"]
    vpc = _vpc(ec2)
    before = len(_route_tables(ec2, vpc))
    first = ec2.create_route_table(VpcId=vpc, ClientToken="t-1")["RouteTable"]["RouteTableId"]
    again = ec2.create_route_table(VpcId=vpc, ClientToken="t-1")["RouteTable"]["RouteTableId"]
    assert again == first
    assert len(_route_tables(ec2, vpc)) == before + 1
    # Another token is another request.
    other = ec2.create_route_table(VpcId=vpc, ClientToken="t-2")["RouteTable"]["RouteTableId"]
    assert other != first
    assert len(_route_tables(ec2, vpc)) == before + 2


def test_an_ec2_token_repeated_with_other_parameters_is_an_idempotent_parameter_mismatch(aws):
    ec2 = aws["ec2"]
    vpc, other_vpc = _vpc(ec2), _vpc(ec2, "10.1.0.0/16")
    ec2.create_route_table(VpcId=vpc, ClientToken="t-1")
    with pytest.raises(ClientError) as e:
        ec2.create_route_table(VpcId=other_vpc, ClientToken="t-1")
    assert e.value.response["Error"]["Code"] == "IdempotentParameterMismatch"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert len(_route_tables(ec2, other_vpc)) == 1  # only its main route table


def test_a_failed_request_is_not_remembered(aws):
    ec2 = aws["ec2"]
    with pytest.raises(ClientError):
        ec2.create_route_table(VpcId="vpc-00000000000000000", ClientToken="t-1")
    vpc = _vpc(ec2)
    # The same token with other parameters: a new request, since the first one failed.
    made = ec2.create_route_table(VpcId=vpc, ClientToken="t-1")["RouteTable"]
    assert made["VpcId"] == vpc


def test_tokens_are_kept_per_action(aws):
    ec2 = aws["ec2"]
    vpc = _vpc(ec2)
    ec2.create_route_table(VpcId=vpc, ClientToken="shared")
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.0.0/24")["Subnet"]["SubnetId"]
    eip = ec2.allocate_address(Domain="vpc")["AllocationId"]
    nat = ec2.create_nat_gateway(SubnetId=subnet, AllocationId=eip, ClientToken="shared")
    assert nat["NatGateway"]["NatGatewayId"].startswith("nat-")


def _nodegroup(aws):
    """A cluster with a node group whose nodes can reach AWS (public subnets, a default route)."""
    ec2, eks, iam = aws["ec2"], aws["eks"], aws["iam"]
    vpc = _vpc(ec2)
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    rtb = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=rtb, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    subnets = []
    for i, az in enumerate(("us-west-2a", "us-west-2b")):
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=az)["Subnet"]["SubnetId"]
        ec2.modify_subnet_attribute(SubnetId=subnet, MapPublicIpOnLaunch={"Value": True})
        ec2.associate_route_table(RouteTableId=rtb, SubnetId=subnet)
        subnets.append(subnet)
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "eks.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    role = iam.create_role(RoleName="demo-role", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    # The node role trusts EC2 (EKS refuses one that does not, emulator/aws_rules.py).
    node_trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    node_role = iam.create_role(RoleName="demo-node", AssumeRolePolicyDocument=json.dumps(node_trust))["Role"]["Arn"]
    eks.create_cluster(
        name=CLUSTER,
        version="1.34",
        roleArn=role,
        resourcesVpcConfig={"subnetIds": subnets},
        accessConfig={"authenticationMode": "API"},
        clientRequestToken="cluster-1",
    )
    eks.describe_cluster(name=CLUSTER)
    eks.create_nodegroup(
        clusterName=CLUSTER,
        nodegroupName="nodes",
        nodeRole=node_role,
        subnets=subnets,
        scalingConfig={"minSize": 1, "maxSize": 6, "desiredSize": 3},
        clientRequestToken="nodegroup-1",
    )
    eks.describe_nodegroup(clusterName=CLUSTER, nodegroupName="nodes")
    return node_role, subnets


def _size(eks):
    scaling = eks.describe_nodegroup(clusterName=CLUSTER, nodegroupName="nodes")["nodegroup"]["scalingConfig"]
    return scaling["minSize"], scaling["desiredSize"], scaling["maxSize"]


def _resize(eks, desired, token):
    return eks.update_nodegroup_config(
        clusterName=CLUSTER,
        nodegroupName="nodes",
        scalingConfig={"minSize": 1, "maxSize": 6, "desiredSize": desired},
        clientRequestToken=token,
    )["update"]["id"]


def _settle(eks, update):
    # Transitions are instant (EKSBOOT_MOTO_TRANSITION_MS=0): a read advances them.
    eks.describe_update(name=CLUSTER, updateId=update, nodegroupName="nodes")
    eks.describe_nodegroup(clusterName=CLUSTER, nodegroupName="nodes")


def test_an_eks_token_reused_with_other_parameters_returns_the_first_result_and_changes_nothing(aws):
    eks = aws["eks"]
    _nodegroup(aws)
    first = _resize(eks, 5, "size-token")
    _settle(eks, first)
    assert _size(eks) == (1, 5, 6)
    # The same request again (a lost answer retried): the same update, nothing new.
    assert _resize(eks, 5, "size-token") == first
    # The token reused for another size (3): EKS documents nothing; the harmful reading is the
    # first call's result, and the node group keeps 5.
    assert _resize(eks, 3, "size-token") == first
    assert _size(eks) == (1, 5, 6)
    # A fresh token is a new request: it takes effect.
    second = _resize(eks, 3, "size-token-2")
    assert second != first
    _settle(eks, second)
    assert _size(eks) == (1, 3, 6)


def test_an_eks_create_repeated_with_its_token_is_answered_not_refused(aws):
    eks = aws["eks"]
    role, subnets = _nodegroup(aws)
    again = eks.create_nodegroup(
        clusterName=CLUSTER,
        nodegroupName="nodes",
        nodeRole=role,
        subnets=subnets,
        scalingConfig={"minSize": 1, "maxSize": 6, "desiredSize": 3},
        clientRequestToken="nodegroup-1",
    )
    assert again["nodegroup"]["nodegroupName"] == "nodes"
    # Without the token's memory the name is taken.
    with pytest.raises(ClientError) as e:
        eks.create_nodegroup(
            clusterName=CLUSTER,
            nodegroupName="nodes",
            nodeRole=role,
            subnets=subnets,
            scalingConfig={"minSize": 1, "maxSize": 6, "desiredSize": 3},
            clientRequestToken="nodegroup-2",
        )
    assert e.value.response["Error"]["Code"] == "ResourceInUseException"


def test_an_eks_update_of_the_endpoint_with_a_reused_token_does_nothing(aws):
    eks = aws["eks"]
    _nodegroup(aws)
    first = eks.update_cluster_config(
        name=CLUSTER, resourcesVpcConfig={"endpointPublicAccess": False, "endpointPrivateAccess": True},
        clientRequestToken="endpoint",
    )["update"]["id"]
    eks.describe_update(name=CLUSTER, updateId=first)
    eks.describe_cluster(name=CLUSTER)
    reused = eks.update_cluster_config(
        name=CLUSTER, resourcesVpcConfig={"endpointPublicAccess": True, "endpointPrivateAccess": True},
        clientRequestToken="endpoint",
    )["update"]["id"]
    assert reused == first
    config = eks.describe_cluster(name=CLUSTER)["cluster"]["resourcesVpcConfig"]
    assert config["endpointPublicAccess"] is False


def test_memory_is_per_account_service_action_and_token():
    memory = tokens.Memory()
    key = ("111111111111", "eks", "UpdateNodegroupConfig", "t")
    digest = tokens.canonical({"body": {"scalingConfig": {"desiredSize": 5, "minSize": 1}}})
    assert memory.recall(key, digest) == (tokens.NEW, None)
    memory.remember(key, digest, "answer-1")
    memory.remember(key, digest, "answer-2")  # the first answer is kept
    assert memory.recall(key, digest) == (tokens.REPLAY, "answer-1")
    # The same content in another key order is the same request.
    same = tokens.canonical({"body": {"scalingConfig": {"minSize": 1, "desiredSize": 5}}})
    assert memory.recall(key, same) == (tokens.REPLAY, "answer-1")
    other = tokens.canonical({"body": {"scalingConfig": {"desiredSize": 3, "minSize": 1}}})
    assert memory.recall(key, other) == (tokens.REPLAY, "answer-1")  # EKS: the harmful reading
    ec2_key = ("111111111111", "ec2", "CreateNatGateway", "t")
    memory.remember(ec2_key, digest, "nat-1")
    assert memory.recall(ec2_key, other) == (tokens.MISMATCH, "nat-1")
    for unseen in (
        ("222222222222", "eks", "UpdateNodegroupConfig", "t"),
        ("111111111111", "eks", "UpdateClusterConfig", "t"),
        ("111111111111", "eks", "UpdateNodegroupConfig", "u"),
    ):
        assert memory.recall(unseen, digest) == (tokens.NEW, None)
    memory.reset()
    assert memory.recall(key, digest) == (tokens.NEW, None)


def test_the_fault_proxy_reads_requests_with_the_shared_rules():
    assert fault_proxy.idempotency_token is tokens.wire_token
    a = b"Action=CreateNatGateway&SubnetId=subnet-1&AllocationId=eipalloc-1&ClientToken=t"
    b = b"Action=CreateNatGateway&AllocationId=eipalloc-1&SubnetId=subnet-1&ClientToken=t"
    c = b"Action=CreateNatGateway&SubnetId=subnet-2&AllocationId=eipalloc-1&ClientToken=t"
    assert tokens.wire_token("ec2", a) == "t"
    digest = lambda body: tokens.canonical(tokens.wire_params("ec2", "/", body))  # noqa: E731
    assert digest(a) == digest(b) != digest(c)
    # EKS: the token left out, the path (which names the node group) kept.
    body = json.dumps({"scalingConfig": {"desiredSize": 5}, "clientRequestToken": "t"}).encode()
    assert tokens.wire_token("eks", body) == "t"
    one = tokens.wire_params("eks", "/clusters/demo/node-groups/a/update-config", body)
    two = tokens.wire_params("eks", "/clusters/demo/node-groups/b/update-config", body)
    assert "clientRequestToken" not in one["body"] and tokens.canonical(one) != tokens.canonical(two)
    # The proxy answers EC2's mismatch as EC2 documents it.
    status, _, answer = fault_proxy.mismatch_answer("ec2")
    assert status == 400 and b"IdempotentParameterMismatch" in answer
