"""Sets up moto's server for keytrail's credential tests, then uploads a trail through S3.

    tests/s3/moto.sh python tests/s3/moto_setup.py ENDPOINT BUCKET DIR

Creates, unauthenticated (the server checks nothing before INITIAL_NO_AUTH_ACTION_COUNT=SETUP
requests): the user `assumer`, who may only call sts:AssumeRole; the role `trail-reader`, which
trusts `assumer` and may only read S3; the users `reader` (may only read S3) and `writer` (may
use S3). Then, as `writer` (every request checked from here on), creates BUCKET and uploads every
file under DIR, keys as relative paths. Prints the keys and the role's ARN as JSON.
"""
import json
import pathlib
import sys

import boto3

# Requests made before the server checks signatures and policies: keep equal to the calls below.
SETUP = 11

endpoint, bucket, tree = sys.argv[1], sys.argv[2], pathlib.Path(sys.argv[3])
region = "us-east-1"
anyone = dict(aws_access_key_id="setup", aws_secret_access_key="setup")
iam = boto3.client("iam", endpoint_url=endpoint, region_name=region, **anyone)


def policy(actions):
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}],
        }
    )


def user(name, actions):  # 3 requests
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="only", PolicyDocument=policy(actions))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return {"id": key["AccessKeyId"], "secret": key["SecretAccessKey"]}


read = ["s3:GetObject", "s3:ListBucket"]
assumer = user("assumer", ["sts:AssumeRole"])
reader = user("reader", read)
writer = user("writer", ["s3:*"])
account = "123456789012"  # moto's default account
trust = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{account}:user/assumer"},
            "Action": "sts:AssumeRole",
        }
    ],
}
role = iam.create_role(RoleName="trail-reader", AssumeRolePolicyDocument=json.dumps(trust))
iam.put_role_policy(RoleName="trail-reader", PolicyName="read", PolicyDocument=policy(read))

s3 = boto3.client(
    "s3",
    endpoint_url=endpoint,
    region_name=region,
    aws_access_key_id=writer["id"],
    aws_secret_access_key=writer["secret"],
)
s3.create_bucket(Bucket=bucket)
uploaded = 0
for f in sorted(p for p in tree.rglob("*") if p.is_file()):
    s3.put_object(Bucket=bucket, Key=f.relative_to(tree).as_posix(), Body=f.read_bytes())
    uploaded += 1
print(
    json.dumps(
        {
            "setup_requests": SETUP,
            "assumer": assumer,
            "reader": reader,
            "writer": writer,
            "role_arn": role["Role"]["Arn"],
            "uploaded": uploaded,
        }
    )
)
