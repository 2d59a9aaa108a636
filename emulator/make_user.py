"""Makes an IAM user `you` in the emulator at $AWS_ENDPOINT_URL and prints the shell exports of
its keys: eksboot then acts as a principal IAM holds, as on AWS (EKS refuses access entries for
principals it does not know). Usage: eval "$(python emulator/make_user.py)"."""

import os

import boto3

iam = boto3.client(
    "iam",
    endpoint_url=os.environ["AWS_ENDPOINT_URL"],
    region_name="us-east-1",
    aws_access_key_id="bootstrap",
    aws_secret_access_key="bootstrap",
)
try:
    iam.create_user(UserName="you")
except iam.exceptions.EntityAlreadyExistsException:
    pass
key = iam.create_access_key(UserName="you")["AccessKey"]
print(f"export AWS_ACCESS_KEY_ID={key['AccessKeyId']} AWS_SECRET_ACCESS_KEY={key['SecretAccessKey']}")
