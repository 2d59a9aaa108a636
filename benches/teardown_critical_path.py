"""Benchmark: `eksboot teardown` against its critical path, for profiles/production.toml (NAT
gateways) and profiles/private.toml (interface endpoints).

Which deletions may run together, and which may not:
  * the node group must be gone before the cluster can be deleted (EKS refuses);
  * add-ons, access entries and the launch template go beside the node group;
  * the network (NAT gateways, endpoints, then subnets, groups, the VPC), the key, the roles and
    the log group wait until the cluster is gone: teardown never pulls them from under a cluster
    that might survive (its deletion can fail), and nodes drain through the NAT gateways;
  * NAT gateways and endpoints are deleted together; subnets and security groups wait for them,
    then the VPC for those.
So the critical path is  wall0 + node group + cluster + max(NAT, endpoints), where wall0 is
the same teardown with every wait at zero (eksboot's own calls). Target: within 10%.

Run from the repository root (after `cargo test` has made the venv):
    cargo build --release
    target/tmp/moto-venv/bin/python benches/teardown_critical_path.py
"""

import sys

from emulator import Emulator

NODEGROUP_S, CLUSTER_S, NAT_S, ENDPOINT_S = 4, 6, 3, 3
MODELS = ("eks::cluster", "eks::nodegroup", "eks::addon", "ec2::nat_gateway", "ec2::vpc_endpoint")
DELETIONS = ("eks::nodegroup-deletion", "eks::cluster-deletion", "eks::addon-deletion",
             "ec2::nat_gateway-deletion", "ec2::vpc_endpoint-deletion")


def teardown_time(profile, scaled):
    waits = {model: 0 for model in MODELS + DELETIONS}
    if scaled:
        waits.update({"eks::nodegroup-deletion": NODEGROUP_S, "eks::cluster-deletion": CLUSTER_S,
                      "ec2::nat_gateway-deletion": NAT_S, "ec2::vpc_endpoint-deletion": ENDPOINT_S})
    emulator = Emulator(waits)
    emulator.create(profile)
    wall = emulator.teardown()
    emulator.stop()
    return wall


def main():
    worst = 0.0
    for profile, network_s in [("production.toml", NAT_S), ("private.toml", ENDPOINT_S)]:
        wall0 = teardown_time(profile, scaled=False)
        wall = teardown_time(profile, scaled=True)
        ideal = wall0 + NODEGROUP_S + CLUSTER_S + network_s
        overhead = (wall - ideal) / ideal * 100
        worst = max(worst, overhead)
        print(f"{profile}: wall0 {wall0:.2f} s; ideal {wall0:.2f} + {NODEGROUP_S} + {CLUSTER_S} + {network_s} = {ideal:.2f} s; "
              f"wall {wall:.2f} s ({overhead:+.1f}%)")
    print(f"target within 10%: {'met' if worst <= 10 else 'missed'}")
    sys.exit(0 if worst <= 10 else 1)


if __name__ == "__main__":
    main()
