"""Tests of aws_rules: rules AWS has that moto lacks (issue 25), on by default.

Run: `python -m pytest emulator/test_aws_rules.py` in the venv with moto[server]==5.2.5, boto3
and pytest. moto runs in-process (mock_aws) with eksboot_moto's operations, so every request goes
through moto's `call_action` as in the server. Waiting states are instant
(EKSBOOT_MOTO_TRANSITION_MS=0).
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
def aws():
    with mock_aws():
        c = {s: boto3.client(s, region_name=REGION) for s in ("ec2", "eks", "iam")}
        vpc = c["ec2"].create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        c["vpc"] = vpc
        c["subnets"] = [
            c["ec2"].create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"{REGION}{az}")["Subnet"]["SubnetId"]
            for i, az in enumerate("ab")
        ]
        c["cluster_role"] = c["iam"].create_role(RoleName="cluster", AssumeRolePolicyDocument=_trust("eks.amazonaws.com"))["Role"]["Arn"]
        c["node_role"] = c["iam"].create_role(RoleName="node", AssumeRolePolicyDocument=_trust("ec2.amazonaws.com"))["Role"]["Arn"]
        c["account"] = c["cluster_role"].split(":")[4]
        yield c


def _refused(call, **kwargs):
    with pytest.raises(ClientError) as e:
        call(**kwargs)
    return e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]


def _cluster(aws, name="demo", **over):
    request = {"name": name, "roleArn": aws["cluster_role"], "resourcesVpcConfig": {"subnetIds": aws["subnets"]}}
    request.update(over)
    return request


# ------------------------------------------------------------------------ CreateCluster


def test_create_cluster_refuses_a_role_iam_lacks_and_makes_nothing(aws):
    ghost = f"arn:aws:iam::{aws['account']}:role/ghost"
    code, message = _refused(aws["eks"].create_cluster, **_cluster(aws, roleArn=ghost))
    assert code == "InvalidParameterException"
    assert message == (
        f"Role with arn: {ghost}, could not be assumed because it does not exist or the trusted entity is not correct"
    )
    assert aws["eks"].list_clusters()["clusters"] == []


def test_create_cluster_refuses_a_role_that_does_not_trust_eks(aws):
    # The node role trusts EC2, not EKS.
    code, message = _refused(aws["eks"].create_cluster, **_cluster(aws, roleArn=aws["node_role"]))
    assert code == "InvalidParameterException"
    assert "could not be assumed because it does not exist or the trusted entity is not correct" in message
    assert aws["node_role"] in message
    assert aws["eks"].list_clusters()["clusters"] == []


def test_create_cluster_refuses_a_subnet_ec2_lacks(aws):
    code, message = _refused(
        aws["eks"].create_cluster, **_cluster(aws, resourcesVpcConfig={"subnetIds": [aws["subnets"][0], "subnet-1"]})
    )
    assert code == "InvalidParameterException"
    assert message.startswith("The subnet ID 'subnet-1' does not exist")
    assert "InvalidSubnetID.NotFound" in message
    assert aws["eks"].list_clusters()["clusters"] == []


def test_create_cluster_refuses_a_subnet_of_another_region(aws):
    other = boto3.client("ec2", region_name="us-east-1")
    vpc = other.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    elsewhere = other.create_subnet(VpcId=vpc, CidrBlock="10.1.0.0/24")["Subnet"]["SubnetId"]
    code, _ = _refused(aws["eks"].create_cluster, **_cluster(aws, resourcesVpcConfig={"subnetIds": [elsewhere]}))
    assert code == "InvalidParameterException"


def test_create_cluster_takes_a_real_role_and_subnets(aws):
    cluster = aws["eks"].create_cluster(**_cluster(aws))["cluster"]
    assert cluster["roleArn"] == aws["cluster_role"]
    assert aws["eks"].list_clusters()["clusters"] == ["demo"]


def test_a_trust_policy_listing_several_services_or_a_path_is_taken(aws):
    doc = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Deny", "Principal": {"Service": "eks.amazonaws.com"}, "Action": "sts:AssumeRole"},
            {
                "Effect": "Allow",
                "Principal": {"Service": ["ec2.amazonaws.com", "eks.amazonaws.com"]},
                "Action": ["sts:AssumeRole", "sts:TagSession"],
            },
        ],
    }
    role = aws["iam"].create_role(RoleName="both", Path="/eks/", AssumeRolePolicyDocument=json.dumps(doc))["Role"]["Arn"]
    assert ":role/eks/both" in role
    aws["eks"].create_cluster(**_cluster(aws, roleArn=role))


# ------------------------------------------------------------------------ CreateNodegroup


def _nodegroup(aws, **over):
    request = {
        "clusterName": "demo",
        "nodegroupName": "nodes",
        "nodeRole": aws["node_role"],
        "subnets": aws["subnets"],
        "scalingConfig": {"minSize": 1, "maxSize": 2, "desiredSize": 1},
    }
    request.update(over)
    return request


def test_create_nodegroup_refuses_a_missing_or_untrusting_role_and_unknown_subnets(aws):
    eks = aws["eks"]
    eks.create_cluster(**_cluster(aws))
    eks.describe_cluster(name="demo")  # ACTIVE at once (transitions are instant here)
    ghost = f"arn:aws:iam::{aws['account']}:role/ghost"
    code, message = _refused(eks.create_nodegroup, **_nodegroup(aws, nodeRole=ghost))
    assert code == "InvalidParameterException" and ghost in message and "does not exist" in message
    # The cluster role trusts EKS, not EC2: nodes could not use it.
    code, message = _refused(eks.create_nodegroup, **_nodegroup(aws, nodeRole=aws["cluster_role"]))
    assert code == "InvalidParameterException"
    assert message == (
        "Following required service principals [ec2.amazonaws.com] were not found in the trust "
        f"relationships of nodeRole {aws['cluster_role']}"
    )
    code, message = _refused(eks.create_nodegroup, **_nodegroup(aws, subnets=["subnet-deadbeef"]))
    assert code == "InvalidParameterException" and message.startswith("The subnet ID 'subnet-deadbeef' does not exist")
    assert eks.list_nodegroups(clusterName="demo")["nodegroups"] == []
    # With a real role and real subnets it is made.
    eks.create_nodegroup(**_nodegroup(aws))
    assert eks.list_nodegroups(clusterName="demo")["nodegroups"] == ["nodes"]


# ------------------------------------------------------------------------ DetachInternetGateway


MAPPED = "has some mapped public address(es). Please unmap those public address(es) before detaching the gateway."


def _gateway(aws):
    ec2 = aws["ec2"]
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=aws["vpc"])
    return igw


def _detach_refused(aws, igw):
    code, message = _refused(aws["ec2"].detach_internet_gateway, InternetGatewayId=igw, VpcId=aws["vpc"])
    assert code == "DependencyViolation"
    assert message == f"Network {aws['vpc']} {MAPPED}"
    attached = aws["ec2"].describe_internet_gateways(InternetGatewayIds=[igw])["InternetGateways"][0]["Attachments"]
    assert [a["VpcId"] for a in attached] == [aws["vpc"]], "still attached"


def _detached(aws, igw):
    aws["ec2"].detach_internet_gateway(InternetGatewayId=igw, VpcId=aws["vpc"])
    attached = aws["ec2"].describe_internet_gateways(InternetGatewayIds=[igw])["InternetGateways"][0]["Attachments"]
    assert attached == []


def test_detach_is_refused_while_a_nat_gateway_holds_its_address(aws):
    ec2 = aws["ec2"]
    igw = _gateway(aws)
    allocation = ec2.allocate_address(Domain="vpc")["AllocationId"]
    nat = ec2.create_nat_gateway(SubnetId=aws["subnets"][0], AllocationId=allocation)["NatGateway"]["NatGatewayId"]
    _detach_refused(aws, igw)
    ec2.delete_nat_gateway(NatGatewayId=nat)
    # Deleted (instant here), the NAT gateway no longer maps the address, even before it is
    # released; an allocated address that is not associated maps nothing.
    assert ec2.describe_nat_gateways(NatGatewayIds=[nat])["NatGateways"][0]["State"] == "deleted"
    _detached(aws, igw)
    ec2.release_address(AllocationId=allocation)


def test_detach_is_refused_while_a_deleting_nat_gateway_holds_its_address():
    # A NAT gateway that is `deleting` still holds its address.
    from moto.moto_api import state_manager

    with mock_aws():
        state_manager.set_transition("ec2::nat_gateway-deletion", {"progression": "manual", "times": 1000})
        try:
            ec2 = boto3.client("ec2", region_name=REGION)
            vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
            subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.0.0/24")["Subnet"]["SubnetId"]
            igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
            ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
            allocation = ec2.allocate_address(Domain="vpc")["AllocationId"]
            nat = ec2.create_nat_gateway(SubnetId=subnet, AllocationId=allocation)["NatGateway"]["NatGatewayId"]
            ec2.delete_nat_gateway(NatGatewayId=nat)
            assert ec2.describe_nat_gateways(NatGatewayIds=[nat])["NatGateways"][0]["State"] == "deleting"
            with pytest.raises(ClientError) as e:
                ec2.detach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
            assert e.value.response["Error"]["Code"] == "DependencyViolation"
        finally:
            state_manager.unset_transition("ec2::nat_gateway-deletion")


def test_detach_is_refused_while_an_elastic_ip_is_associated_with_an_instance(aws):
    ec2 = aws["ec2"]
    igw = _gateway(aws)
    image = ec2.describe_images()["Images"][0]["ImageId"]
    instance = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, SubnetId=aws["subnets"][0])["Instances"][0]
    assert not instance.get("PublicIpAddress"), "the subnet does not auto-assign"
    # An instance without a public address maps nothing.
    allocation = ec2.allocate_address(Domain="vpc")["AllocationId"]
    association = ec2.associate_address(AllocationId=allocation, InstanceId=instance["InstanceId"])["AssociationId"]
    _detach_refused(aws, igw)
    ec2.disassociate_address(AssociationId=association)
    _detached(aws, igw)


def test_detach_is_refused_while_an_elastic_ip_is_associated_with_an_interface(aws):
    ec2 = aws["ec2"]
    igw = _gateway(aws)
    eni = ec2.create_network_interface(SubnetId=aws["subnets"][1])["NetworkInterface"]["NetworkInterfaceId"]
    allocation = ec2.allocate_address(Domain="vpc")["AllocationId"]
    association = ec2.associate_address(AllocationId=allocation, NetworkInterfaceId=eni)["AssociationId"]
    _detach_refused(aws, igw)
    ec2.disassociate_address(AssociationId=association)
    _detached(aws, igw)


def test_detach_is_refused_until_an_instance_with_a_public_ip_is_terminated(aws):
    ec2 = aws["ec2"]
    igw = _gateway(aws)
    ec2.modify_subnet_attribute(SubnetId=aws["subnets"][0], MapPublicIpOnLaunch={"Value": True})
    image = ec2.describe_images()["Images"][0]["ImageId"]
    instance = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, SubnetId=aws["subnets"][0])["Instances"][0]
    assert instance.get("PublicIpAddress")
    _detach_refused(aws, igw)
    ec2.terminate_instances(InstanceIds=[instance["InstanceId"]])
    _detached(aws, igw)


def test_addresses_in_another_vpc_do_not_block_the_detach(aws):
    ec2 = aws["ec2"]
    igw = _gateway(aws)
    other = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=other, CidrBlock="10.9.0.0/24")["Subnet"]["SubnetId"]
    allocation = ec2.allocate_address(Domain="vpc")["AllocationId"]
    ec2.create_nat_gateway(SubnetId=subnet, AllocationId=allocation)
    ec2.allocate_address(Domain="vpc")  # allocated, associated with nothing
    _detached(aws, igw)


# ------------------------------------------------------------------------ Quotas


def _quota(account, service, code, value):
    import eksboot_moto

    eksboot_moto._applied_quotas[(account, service, code)] = value


def test_create_vpc_past_the_quota_is_refused_the_default_vpc_counting(aws):
    ec2 = aws["ec2"]
    # The default VPC and the fixture's make two of the default five.
    assert len(ec2.describe_vpcs()["Vpcs"]) == 2
    for i in range(3):
        ec2.create_vpc(CidrBlock=f"10.{i + 1}.0.0/16")
    code, message = _refused(ec2.create_vpc, CidrBlock="10.9.0.0/16")
    assert (code, message) == ("VpcLimitExceeded", "The maximum number of VPCs has been reached.")
    assert len(ec2.describe_vpcs()["Vpcs"]) == 5, "nothing made"
    # The applied value Service Quotas gives is the limit (as eksboot's preflight reads it).
    _quota(aws["account"], "vpc", "L-F678F1CE", 6)
    quotas = boto3.client("service-quotas", region_name=REGION)
    assert quotas.get_service_quota(ServiceCode="vpc", QuotaCode="L-F678F1CE")["Quota"]["Value"] == 6
    ec2.create_vpc(CidrBlock="10.9.0.0/16")
    assert _refused(ec2.create_vpc, CidrBlock="10.10.0.0/16")[0] == "VpcLimitExceeded"
    # Per Region: another Region has its own five.
    boto3.client("ec2", region_name="eu-west-1").create_vpc(CidrBlock="10.0.0.0/16")


def test_allocate_address_past_the_quota_is_refused_until_one_is_released(aws):
    ec2 = aws["ec2"]
    allocations = [ec2.allocate_address(Domain="vpc")["AllocationId"] for _ in range(5)]
    code, message = _refused(ec2.allocate_address, Domain="vpc")
    assert (code, message) == ("AddressLimitExceeded", "The maximum number of addresses has been reached.")
    assert len(ec2.describe_addresses()["Addresses"]) == 5
    ec2.release_address(AllocationId=allocations[0])
    ec2.allocate_address(Domain="vpc")
    _quota(aws["account"], "ec2", "L-0263D0A3", 7)
    ec2.allocate_address(Domain="vpc")
    ec2.allocate_address(Domain="vpc")
    assert _refused(ec2.allocate_address, Domain="vpc")[0] == "AddressLimitExceeded"


def test_create_internet_gateway_past_the_quota_is_refused(aws):
    ec2 = aws["ec2"]
    for _ in range(5):
        ec2.create_internet_gateway()
    code, message = _refused(ec2.create_internet_gateway)
    assert (code, message) == ("InternetGatewayLimitExceeded", "The maximum number of internet gateways has been reached.")
    assert len(ec2.describe_internet_gateways()["InternetGateways"]) == 5


def test_nat_gateways_are_counted_per_availability_zone_deleting_ones_included():
    from moto.moto_api import state_manager

    with mock_aws():
        state_manager.set_transition("ec2::nat_gateway-deletion", {"progression": "manual", "times": 1000})
        try:
            ec2 = boto3.client("ec2", region_name=REGION)
            vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
            a, b = (
                ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"{REGION}{az}")["Subnet"]["SubnetId"]
                for i, az in enumerate("ab")
            )
            account = boto3.client("sts").get_caller_identity()["Account"]
            _quota(account, "ec2", "L-0263D0A3", 20)
            _quota(account, "vpc", "L-FE5A380F", 2)

            def nat(subnet):
                allocation = ec2.allocate_address(Domain="vpc")["AllocationId"]
                return ec2.create_nat_gateway(SubnetId=subnet, AllocationId=allocation)["NatGateway"]["NatGatewayId"]

            first = nat(a)
            nat(a)
            code, message = _refused(ec2.create_nat_gateway, SubnetId=a, AllocationId=ec2.allocate_address(Domain="vpc")["AllocationId"])
            assert code == "NatGatewayLimitExceeded", message
            assert "limit of 2 NAT gateways" in message
            nat(b)  # another AZ has its own quota
            # A deleting NAT gateway still counts.
            ec2.delete_nat_gateway(NatGatewayId=first)
            assert ec2.describe_nat_gateways(NatGatewayIds=[first])["NatGateways"][0]["State"] == "deleting"
            assert _refused(ec2.create_nat_gateway, SubnetId=a, AllocationId=ec2.allocate_address(Domain="vpc")["AllocationId"])[0] == "NatGatewayLimitExceeded"
        finally:
            state_manager.unset_transition("ec2::nat_gateway-deletion")


# ------------------------------------------------------------------------ Nodes reach AWS


def _ready_cluster(aws):
    aws["eks"].create_cluster(**_cluster(aws))
    aws["eks"].describe_cluster(name="demo")


def _node_health(aws, name="nodes"):
    group = aws["eks"].describe_nodegroup(clusterName="demo", nodegroupName=name)["nodegroup"]
    return group["status"], group.get("health", {}).get("issues", [])


def _own_table(aws, subnets):
    ec2 = aws["ec2"]
    table = ec2.create_route_table(VpcId=aws["vpc"])["RouteTable"]["RouteTableId"]
    for subnet in subnets:
        ec2.associate_route_table(RouteTableId=table, SubnetId=subnet)
    return table


def test_a_route_to_a_nat_gateway_in_another_table_of_the_vpc_does_not_help(aws):
    ec2 = aws["ec2"]
    _ready_cluster(aws)
    igw = _gateway(aws)
    public = ec2.create_subnet(VpcId=aws["vpc"], CidrBlock="10.0.9.0/24", AvailabilityZone=f"{REGION}a")["Subnet"]["SubnetId"]
    allocation = ec2.allocate_address(Domain="vpc")["AllocationId"]
    nat = ec2.create_nat_gateway(SubnetId=public, AllocationId=allocation)["NatGateway"]["NatGatewayId"]
    # The NAT route is in a table of the VPC the node subnets are not associated with (and the
    # main table has none): nodes cannot reach AWS.
    other = ec2.create_route_table(VpcId=aws["vpc"])["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=other, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nat)
    own = _own_table(aws, aws["subnets"])
    aws["eks"].create_nodegroup(**_nodegroup(aws))
    status, issues = _node_health(aws)
    assert status == "CREATE_FAILED"
    assert [(i["code"], i["message"]) for i in issues] == [
        ("NodeCreationFailure", "Instances failed to join the kubernetes cluster")
    ]
    # In the subnets' own table, the same route lets them join.
    ec2.create_route(RouteTableId=own, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nat)
    aws["eks"].create_nodegroup(**_nodegroup(aws, nodegroupName="joined"))
    assert _node_health(aws, "joined") == ("ACTIVE", [])
    # The main route table serves subnets without an association of their own.
    ec2.delete_route(RouteTableId=own, DestinationCidrBlock="0.0.0.0/0")
    for assoc in ec2.describe_route_tables(RouteTableIds=[own])["RouteTables"][0]["Associations"]:
        ec2.disassociate_route_table(AssociationId=assoc["RouteTableAssociationId"])
    main = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [aws["vpc"]]}, {"Name": "association.main", "Values": ["true"]}])["RouteTables"][0]["RouteTableId"]
    ec2.create_route(RouteTableId=main, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    for subnet in aws["subnets"]:
        ec2.modify_subnet_attribute(SubnetId=subnet, MapPublicIpOnLaunch={"Value": True})
    aws["eks"].create_nodegroup(**_nodegroup(aws, nodegroupName="public"))
    assert _node_health(aws, "public") == ("ACTIVE", [])


def test_a_nat_gateway_still_pending_does_not_carry_traffic():
    from moto.moto_api import state_manager

    with mock_aws():
        state_manager.set_transition("ec2::nat_gateway", {"progression": "manual", "times": 1000})
        try:
            c = {s: boto3.client(s, region_name=REGION) for s in ("ec2", "eks", "iam")}
            ec2 = c["ec2"]
            vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
            subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24")["Subnet"]["SubnetId"] for i in range(2)]
            c.update(vpc=vpc, subnets=subnets)
            c["cluster_role"] = c["iam"].create_role(RoleName="cluster", AssumeRolePolicyDocument=_trust("eks.amazonaws.com"))["Role"]["Arn"]
            c["node_role"] = c["iam"].create_role(RoleName="node", AssumeRolePolicyDocument=_trust("ec2.amazonaws.com"))["Role"]["Arn"]
            _ready_cluster(c)
            _gateway(c)
            allocation = ec2.allocate_address(Domain="vpc")["AllocationId"]
            nat = ec2.create_nat_gateway(SubnetId=subnets[0], AllocationId=allocation)["NatGateway"]["NatGatewayId"]
            table = _own_table(c, subnets[1:])
            ec2.create_route(RouteTableId=table, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nat)
            assert ec2.describe_nat_gateways(NatGatewayIds=[nat])["NatGateways"][0]["State"] == "pending"
            c["eks"].create_nodegroup(**_nodegroup(c, subnets=subnets[1:]))
            assert _node_health(c)[0] == "CREATE_FAILED"
        finally:
            state_manager.unset_transition("ec2::nat_gateway")


def test_an_internet_gateway_route_needs_public_addresses_mapped(aws):
    ec2 = aws["ec2"]
    _ready_cluster(aws)
    igw = _gateway(aws)
    table = _own_table(aws, aws["subnets"])
    ec2.create_route(RouteTableId=table, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    aws["eks"].create_nodegroup(**_nodegroup(aws))
    status, issues = _node_health(aws)
    assert status == "CREATE_FAILED"
    assert [i["code"] for i in issues] == ["Ec2SubnetInvalidConfiguration"]
    assert "does not automatically assign public IP addresses" in issues[0]["message"]


ENDPOINTS = ("ec2", "ecr.api", "ecr.dkr", "sts")


def _endpoints(aws, table, skip=(), s3_tables=None):
    ec2 = aws["ec2"]
    for service in ENDPOINTS:
        if service not in skip:
            ec2.create_vpc_endpoint(
                VpcId=aws["vpc"], ServiceName=f"com.amazonaws.{REGION}.{service}", VpcEndpointType="Interface",
                SubnetIds=aws["subnets"], PrivateDnsEnabled=True,
            )
    if "s3" not in skip:
        ec2.create_vpc_endpoint(
            VpcId=aws["vpc"], ServiceName=f"com.amazonaws.{REGION}.s3", VpcEndpointType="Gateway",
            RouteTableIds=s3_tables if s3_tables is not None else [table],
        )


@pytest.mark.parametrize("missing", ENDPOINTS + ("s3",))
def test_without_a_default_route_every_endpoint_nodes_need_must_exist(aws, missing):
    _ready_cluster(aws)
    table = _own_table(aws, aws["subnets"])
    _endpoints(aws, table, skip=(missing,))
    # Endpoints nodes do not need to join do not stand in for one they need.
    aws["ec2"].create_vpc_endpoint(
        VpcId=aws["vpc"], ServiceName=f"com.amazonaws.{REGION}.logs", VpcEndpointType="Interface", SubnetIds=aws["subnets"]
    )
    aws["eks"].create_nodegroup(**_nodegroup(aws))
    status, issues = _node_health(aws)
    assert status == "CREATE_FAILED", missing
    assert [i["code"] for i in issues] == ["NodeCreationFailure"]


def test_with_every_endpoint_available_nodes_join_the_s3_one_on_their_own_table(aws):
    _ready_cluster(aws)
    table = _own_table(aws, aws["subnets"])
    other = aws["ec2"].create_route_table(VpcId=aws["vpc"])["RouteTable"]["RouteTableId"]
    # The S3 gateway endpoint on another table of the VPC does not reach the nodes.
    _endpoints(aws, table, s3_tables=[other])
    aws["eks"].create_nodegroup(**_nodegroup(aws))
    assert _node_health(aws)[0] == "CREATE_FAILED"
    s3 = aws["ec2"].describe_vpc_endpoints(Filters=[{"Name": "service-name", "Values": [f"com.amazonaws.{REGION}.s3"]}])["VpcEndpoints"][0]
    aws["ec2"].modify_vpc_endpoint(VpcEndpointId=s3["VpcEndpointId"], AddRouteTableIds=[table])
    aws["eks"].create_nodegroup(**_nodegroup(aws, nodegroupName="joined"))
    assert _node_health(aws, "joined") == ("ACTIVE", [])


def test_an_endpoint_still_pending_does_not_count():
    from moto.moto_api import state_manager

    with mock_aws():
        state_manager.set_transition("ec2::vpc_endpoint", {"progression": "manual", "times": 1000})
        try:
            c = {s: boto3.client(s, region_name=REGION) for s in ("ec2", "eks", "iam")}
            ec2 = c["ec2"]
            c["vpc"] = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
            c["subnets"] = [ec2.create_subnet(VpcId=c["vpc"], CidrBlock=f"10.0.{i}.0/24")["Subnet"]["SubnetId"] for i in range(2)]
            c["cluster_role"] = c["iam"].create_role(RoleName="cluster", AssumeRolePolicyDocument=_trust("eks.amazonaws.com"))["Role"]["Arn"]
            c["node_role"] = c["iam"].create_role(RoleName="node", AssumeRolePolicyDocument=_trust("ec2.amazonaws.com"))["Role"]["Arn"]
            _ready_cluster(c)
            table = _own_table(c, c["subnets"])
            _endpoints(c, table)
            c["eks"].create_nodegroup(**_nodegroup(c))
            assert _node_health(c)[0] == "CREATE_FAILED"
        finally:
            state_manager.unset_transition("ec2::vpc_endpoint")
