"""Benchmark: a full `eksboot create` of profiles/production.toml against the emulator, with
realistic waiting made short: cluster 12 s, node group 4 s, NAT gateways 3 s, polling every
200 ms. Reports the wall time against the critical path, which is

    prefix (everything the cluster needs: IAM roles, key, policy, subnets, security group)
  + 12 s (the control plane)
  + 4 s (the node group, which also waits for NAT gateways, but those finish first)

Target: wall time within 10% of the critical path, i.e. nothing waits on what it does not
need, and independent steps run together.

Run from the repository root (after `cargo test` has made the venv, and a release build):
    cargo build --release
    target/tmp/moto-venv/bin/python benches/create_critical_path.py
"""

import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLUSTER_S, NODEGROUP_S, NAT_S = 12, 4, 3


def post(endpoint, path, body):
    request = urllib.request.Request(
        endpoint + path, data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json"},
    )
    urllib.request.urlopen(request).read()


def main():
    binary = os.path.join(ROOT, "target", "release", "eksboot")
    if not os.path.exists(binary):
        sys.exit("build it first: cargo build --release")
    server = subprocess.Popen(
        [sys.executable, os.path.join(ROOT, "tests", "moto", "eksboot_moto.py")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        env={**os.environ, "MOTO_IAM_LOAD_MANAGED_POLICIES": "true"},
    )
    port = server.stdout.readline().decode().split()[1]
    endpoint = f"http://127.0.0.1:{port}"
    for model, seconds in [("eks::cluster", CLUSTER_S), ("eks::nodegroup", NODEGROUP_S), ("ec2::nat_gateway", NAT_S)]:
        post(endpoint, "/moto-api/state-manager/set-transition",
             {"model_name": model, "transition": {"progression": "time", "seconds": seconds}})
    work = tempfile.mkdtemp()
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_MAX_ATTEMPTS": "1", "AWS_EC2_METADATA_DISABLED": "true", "EKSBOOT_POLL_MS": "200",
        "AWS_CONFIG_FILE": os.path.join(work, "none"), "AWS_SHARED_CREDENTIALS_FILE": os.path.join(work, "none"),
    }
    env.pop("AWS_PROFILE", None)
    started = time.monotonic()
    run = subprocess.Popen(
        [binary, "create", "--yes", "--profile", os.path.join(ROOT, "profiles", "production.toml"),
         "--state", os.path.join(work, "state.json"), "--kubeconfig", os.path.join(work, "kubeconfig")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
    )
    prefix = None
    for raw in run.stdout:
        line = raw.decode()
        if prefix is None and line.startswith("[cluster] waiting eks-cluster"):
            prefix = time.monotonic() - started
    code = run.wait()
    wall = time.monotonic() - started
    server.stdin.close()
    server.wait()
    if code != 0 or prefix is None:
        sys.exit(f"create failed (exit {code})")
    critical = prefix + CLUSTER_S + NODEGROUP_S
    overhead = (wall - critical) / critical * 100
    print(f"prefix (IAM + VPC, until the cluster is requested): {prefix:.2f} s")
    print(f"critical path: {prefix:.2f} + {CLUSTER_S} + {NODEGROUP_S} = {critical:.2f} s")
    print(f"wall time: {wall:.2f} s ({overhead:+.1f}% against the critical path; target within 10%)")
    sys.exit(0 if overhead <= 10 else 1)


if __name__ == "__main__":
    main()
