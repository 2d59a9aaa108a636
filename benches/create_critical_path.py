"""Benchmark: a full `eksboot create` of profiles/production.toml against its critical path.

The critical path is measured, not guessed from eksboot's own output:
  1. a run with every emulated wait at zero gives eksboot's own time, wall0 (API calls,
     journal writes, everything serialized anywhere, before or after the cluster);
  2. a run with realistic waits made short (cluster 12 s, node group 4 s, add-ons healthy 2 s
     after the nodes, NAT gateways 3 s, which finish before the cluster) is compared with
         ideal = wall0 + cluster + node group + add-ons
     since those three waits must follow each other, and everything else can hide under them.
Target: wall time within 10% of ideal.

Run from the repository root (after `cargo test` has made the venv):
    cargo build --release
    target/tmp/moto-venv/bin/python benches/create_critical_path.py
"""

import sys

from emulator import Emulator

CLUSTER_S, NODEGROUP_S, ADDONS_S, NAT_S = 12, 4, 2, 3
MODELS = ("eks::cluster", "eks::nodegroup", "eks::addon", "ec2::nat_gateway", "ec2::vpc_endpoint")


def main():
    zero = Emulator({model: 0 for model in MODELS})
    wall0 = zero.create("production.toml")
    zero.stop()
    scaled = Emulator(
        {"eks::cluster": CLUSTER_S, "eks::nodegroup": NODEGROUP_S, "eks::addon": 0,
         "ec2::nat_gateway": NAT_S, "ec2::vpc_endpoint": 0},
        addon_ready_s=ADDONS_S,
    )
    wall = scaled.create("production.toml")
    scaled.stop()
    ideal = wall0 + CLUSTER_S + NODEGROUP_S + ADDONS_S
    overhead = (wall - ideal) / ideal * 100
    print(f"eksboot's own time with every wait at zero (wall0): {wall0:.2f} s")
    print(f"ideal: {wall0:.2f} + {CLUSTER_S} (cluster) + {NODEGROUP_S} (node group) + {ADDONS_S} (add-ons) = {ideal:.2f} s")
    print(f"wall time: {wall:.2f} s ({overhead:+.1f}% against the ideal; target within 10%)")
    sys.exit(0 if overhead <= 10 else 1)


if __name__ == "__main__":
    main()
