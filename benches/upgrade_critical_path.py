"""Benchmark: `eksboot upgrade` of profiles/production.toml (Kubernetes 1.33 → 1.34) against
its critical path.

  1. With every emulated wait at zero, the upgrade's wall time is eksboot's own time, wall0
     (insights, compatibility checks, the creator policy, every call and journal write).
  2. With an update taking UPDATE_S (the control plane's, and the node group's) and an add-on
     taking ADDON_S to become ACTIVE again, the waits that must follow each other are the
     control plane's update, then the longer of the add-ons (together) and the node group:
         ideal = wall0 + UPDATE_S + max(ADDON_S, UPDATE_S)
Target: wall time within 10% of ideal.

Run from the repository root (after `cargo test` has made the venv):
    cargo build --release
    target/tmp/moto-venv/bin/python benches/upgrade_critical_path.py
(`EKSBOOT_BIN=target/debug/eksboot` measures the debug build instead.)
"""

import sys

from emulator import Emulator

UPDATE_S, ADDON_S = 6, 3
MODELS = ("eks::cluster", "eks::nodegroup", "eks::addon", "ec2::nat_gateway", "ec2::vpc_endpoint",
          "eks::update", "eks::insights-refresh")


def upgrade_wall(update_s, addon_s):
    emulator = Emulator({model: 0 for model in MODELS})
    emulator.create("production.toml")
    emulator.set_transitions({"eks::update": update_s, "eks::addon": addon_s})
    wall = emulator.upgrade()
    emulator.stop()
    return wall


def main():
    wall0 = upgrade_wall(0, 0)
    wall = upgrade_wall(UPDATE_S, ADDON_S)
    ideal = wall0 + UPDATE_S + max(ADDON_S, UPDATE_S)
    overhead = (wall - ideal) / ideal * 100
    print(f"eksboot's own time with every wait at zero (wall0): {wall0:.2f} s")
    print(f"ideal: {wall0:.2f} + {UPDATE_S} (control plane) + max({ADDON_S} add-ons, {UPDATE_S} node group) = {ideal:.2f} s")
    print(f"wall time: {wall:.2f} s ({overhead:+.1f}% against the ideal; target within 10%)")
    sys.exit(0 if overhead <= 10 else 1)


if __name__ == "__main__":
    main()
