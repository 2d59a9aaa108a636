"""Tests of eks_network: the cluster security group and interfaces EKS makes, node groups' node
interfaces, ALBs' and NLBs' interfaces, each outliving its owner a while (issue 25).

Run: `python -m pytest emulator/test_eks_network.py` in the venv with moto[server]==5.2.5,
boto3 and pytest. moto runs in-process (mock_aws) with eksboot_moto's operations. Waiting states
are instant (EKSBOOT_MOTO_TRANSITION_MS=0); the interfaces' linger is set per test (a long one to
see the refusal, none to see the release), so nothing depends on timing.
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
os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "false")

import boto3  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402
from moto import mock_aws  # noqa: E402

import eks_network  # noqa: E402
import eksboot_moto  # noqa: E402,F401  (installs the rules)

REGION = "us-west-2"


def _trust(service):
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
        }
    )


@pytest.fixture()
def aws(monkeypatch):
    # Long enough that nothing is released while a test looks, until it sets it to 0.
    monkeypatch.setattr(eks_network, "ENI_LINGER_SECONDS", 3600.0)
    with mock_aws():
        c = {s: boto3.client(s, region_name=REGION) for s in ("ec2", "eks", "iam", "elbv2")}
        vpc = c["ec2"].create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        c["vpc"] = vpc
        c["subnets"] = [
            c["ec2"].create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"{REGION}{az}")["Subnet"]["SubnetId"]
            for i, az in enumerate("abc")
        ]
        c["cluster_role"] = c["iam"].create_role(RoleName="cluster", AssumeRolePolicyDocument=_trust("eks.amazonaws.com"))["Role"]["Arn"]
        c["node_role"] = c["iam"].create_role(RoleName="node", AssumeRolePolicyDocument=_trust("ec2.amazonaws.com"))["Role"]["Arn"]
        yield c


def _refused(call, **kwargs):
    with pytest.raises(ClientError) as e:
        call(**kwargs)
    return e.value.response["Error"]["Code"]


def _interfaces(aws, **filters):
    f = [{"Name": "vpc-id", "Values": [aws["vpc"]]}] + [{"Name": k, "Values": [v]} for k, v in filters.items()]
    return aws["ec2"].describe_network_interfaces(Filters=f)["NetworkInterfaces"]


def _groups(aws):
    return aws["ec2"].describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [aws["vpc"]]}])["SecurityGroups"]


def _active_cluster(aws, name="demo", subnets=None):
    aws["eks"].create_cluster(
        name=name, roleArn=aws["cluster_role"], resourcesVpcConfig={"subnetIds": subnets or aws["subnets"]}
    )
    assert aws["eks"].describe_cluster(name=name)["cluster"]["status"] == "ACTIVE"
    return aws["eks"].describe_cluster(name=name)["cluster"]


def _delete_cluster(aws, name="demo"):
    aws["eks"].delete_cluster(name=name)
    assert _refused(aws["eks"].describe_cluster, name=name) == "ResourceNotFoundException"


def _delete_network(aws):
    for subnet in aws["subnets"]:
        aws["ec2"].delete_subnet(SubnetId=subnet)
    aws["ec2"].delete_vpc(VpcId=aws["vpc"])


def test_create_cluster_makes_the_cluster_security_group_tagged_as_eks_tags_it(aws):
    cluster = _active_cluster(aws)
    group_id = cluster["resourcesVpcConfig"]["clusterSecurityGroupId"]
    assert cluster["resourcesVpcConfig"]["vpcId"] == aws["vpc"]
    (group,) = [g for g in _groups(aws) if g["GroupId"] == group_id]
    assert group["GroupName"].startswith("eks-cluster-sg-demo-")
    assert group["GroupName"][len("eks-cluster-sg-demo-"):].isdigit()
    tags = {t["Key"]: t["Value"] for t in group["Tags"]}
    assert tags["kubernetes.io/cluster/demo"] == "owned"
    assert tags["aws:eks:cluster-name"] == "demo"


def test_the_cluster_interfaces_are_in_its_subnets_requester_managed_and_in_use(aws):
    cluster = _active_cluster(aws)
    group_id = cluster["resourcesVpcConfig"]["clusterSecurityGroupId"]
    enis = _interfaces(aws, description="Amazon EKS demo")
    assert 2 <= len(enis) <= 4
    assert len({e["SubnetId"] for e in enis}) >= 2
    assert {e["SubnetId"] for e in enis} <= set(aws["subnets"])
    for e in enis:
        assert e["RequesterManaged"] is True
        assert e["Status"] == "in-use"
        assert group_id in [g["GroupId"] for g in e["Groups"]]


def test_a_cluster_in_two_subnets_has_two_interfaces_in_different_subnets(aws):
    _active_cluster(aws, subnets=aws["subnets"][:2])
    enis = _interfaces(aws, description="Amazon EKS demo")
    assert sorted(e["SubnetId"] for e in enis) == sorted(aws["subnets"][:2])


def test_the_cluster_network_outlives_the_cluster_then_eks_deletes_it(aws, monkeypatch):
    cluster = _active_cluster(aws)
    group_id = cluster["resourcesVpcConfig"]["clusterSecurityGroupId"]
    _delete_cluster(aws)
    # The first calls after the cluster is gone meet EKS's interfaces and group.
    assert _refused(aws["ec2"].delete_subnet, SubnetId=aws["subnets"][0]) == "DependencyViolation"
    assert _refused(aws["ec2"].delete_security_group, GroupId=group_id) == "DependencyViolation"
    assert _refused(aws["ec2"].delete_vpc, VpcId=aws["vpc"]) == "DependencyViolation"
    assert len(_interfaces(aws, description="Amazon EKS demo")) == 3
    # The interfaces are EKS's: in use, not the account's to delete.
    eni = _interfaces(aws, description="Amazon EKS demo")[0]["NetworkInterfaceId"]
    assert _refused(aws["ec2"].delete_network_interface, NetworkInterfaceId=eni) == "InvalidNetworkInterface.InUse"
    monkeypatch.setattr(eks_network, "ENI_LINGER_SECONDS", 0.0)
    assert _interfaces(aws, description="Amazon EKS demo") == []
    assert [g for g in _groups(aws) if g["GroupId"] == group_id] == []
    _delete_network(aws)


def test_node_group_nodes_hold_interfaces_until_a_while_after_the_node_group(aws, monkeypatch):
    cluster = _active_cluster(aws)
    group_id = cluster["resourcesVpcConfig"]["clusterSecurityGroupId"]
    aws["eks"].create_nodegroup(
        clusterName="demo",
        nodegroupName="workers",
        nodeRole=aws["node_role"],
        subnets=aws["subnets"][:2],
        scalingConfig={"minSize": 1, "maxSize": 4, "desiredSize": 3},
    )
    nodes = _interfaces(aws, **{"tag:eks:nodegroup-name": "workers"})
    assert len(nodes) == 3
    assert {e["SubnetId"] for e in nodes} == set(aws["subnets"][:2])
    for e in nodes:
        tags = {t["Key"]: t["Value"] for t in e["TagSet"]}
        assert tags["eks:cluster-name"] == "demo"
        assert e["Status"] == "in-use"
        assert [g["GroupId"] for g in e["Groups"]] == [group_id]
    aws["eks"].delete_nodegroup(clusterName="demo", nodegroupName="workers")
    assert _refused(aws["eks"].describe_nodegroup, clusterName="demo", nodegroupName="workers") == "ResourceNotFoundException"
    # The node group is gone; its nodes' interfaces are not yet.
    assert len(_interfaces(aws, **{"tag:eks:nodegroup-name": "workers"})) == 3
    monkeypatch.setattr(eks_network, "ENI_LINGER_SECONDS", 0.0)
    assert _interfaces(aws, **{"tag:eks:nodegroup-name": "workers"}) == []
    # The cluster's own stay while it runs.
    assert len(_interfaces(aws, description="Amazon EKS demo")) == 3


@pytest.mark.parametrize("kind,prefix", [("application", "app"), ("network", "net")])
def test_load_balancers_hold_interfaces_until_a_while_after_they_are_deleted(aws, monkeypatch, kind, prefix):
    sg = aws["ec2"].create_security_group(GroupName="lb", Description="lb", VpcId=aws["vpc"])["GroupId"]
    lb = aws["elbv2"].create_load_balancer(Name="web", Subnets=aws["subnets"][:2], SecurityGroups=[sg], Type=kind)
    lb = lb["LoadBalancers"][0]
    lb_id = lb["LoadBalancerArn"].rsplit("/", 1)[-1]
    enis = _interfaces(aws, description=f"ELB {prefix}/web/{lb_id}")
    assert sorted(e["SubnetId"] for e in enis) == sorted(aws["subnets"][:2])
    assert all(e["RequesterManaged"] and e["Status"] == "in-use" for e in enis)
    aws["elbv2"].delete_load_balancer(LoadBalancerArn=lb["LoadBalancerArn"])
    assert _refused(aws["ec2"].delete_subnet, SubnetId=aws["subnets"][0]) == "DependencyViolation"
    assert _refused(aws["ec2"].delete_security_group, GroupId=sg) == "DependencyViolation"
    monkeypatch.setattr(eks_network, "ENI_LINGER_SECONDS", 0.0)
    assert _interfaces(aws, description=f"ELB {prefix}/web/{lb_id}") == []
    aws["ec2"].delete_security_group(GroupId=sg)
    _delete_network(aws)


def test_an_interface_not_in_use_is_deleted_as_before(aws):
    eni = aws["ec2"].create_network_interface(SubnetId=aws["subnets"][0])["NetworkInterface"]["NetworkInterfaceId"]
    aws["ec2"].delete_network_interface(NetworkInterfaceId=eni)
    assert _interfaces(aws) == []


def test_a_cluster_eks_refuses_makes_no_network(aws):
    ghost = aws["cluster_role"].replace("role/cluster", "role/ghost")
    code = _refused(aws["eks"].create_cluster, name="demo", roleArn=ghost, resourcesVpcConfig={"subnetIds": aws["subnets"]})
    assert code == "InvalidParameterException"
    assert _interfaces(aws) == []
    assert [g["GroupName"] for g in _groups(aws)] == ["default"]
