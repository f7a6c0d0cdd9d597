"""tests/integ/s3_moto.py - moto's S3 server, with signature checks, for
tests/integ/test_s3client_moto.sh.

usage: python3 s3_moto.py --ready-file PATH

Starts moto's threaded server on 127.0.0.1 port 0 with authentication on
(INITIAL_NO_AUTH_ACTION_COUNT: only the set-up calls below go unsigned),
makes an IAM user with an access key allowed everything and a bucket
"pier", then writes the ready file ("pid PID", "s3 HOST:PORT",
"key ID SECRET") through a rename and serves until SIGTERM.
"""
import os
import signal
import sys
import threading

# Three unauthenticated actions: create the user, its key, its policy.
os.environ["INITIAL_NO_AUTH_ACTION_COUNT"] = "3"

import boto3  # noqa: E402
from moto.server import ThreadedMotoServer  # noqa: E402


def main():
    if len(sys.argv) != 3 or sys.argv[1] != "--ready-file":
        print("usage: s3_moto.py --ready-file PATH", file=sys.stderr)
        return 2
    ready = sys.argv[2]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = "http://%s:%d" % (host, port)
    anon = dict(endpoint_url=endpoint, region_name="us-east-1",
                aws_access_key_id="setup", aws_secret_access_key="setup")
    iam = boto3.client("iam", **anon)
    iam.create_user(UserName="pier")
    key = iam.create_access_key(UserName="pier")["AccessKey"]
    iam.put_user_policy(
        UserName="pier", PolicyName="all",
        PolicyDocument='{"Version": "2012-10-17", "Statement": [{"Effect": '
                       '"Allow", "Action": "*", "Resource": "*"}]}')
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                      aws_access_key_id=key["AccessKeyId"],
                      aws_secret_access_key=key["SecretAccessKey"])
    s3.create_bucket(Bucket="pier")

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with open(ready + ".tmp", "w") as f:
        f.write("pid %d\ns3 %s:%d\nkey %s %s\n" % (
            os.getpid(), host, port, key["AccessKeyId"],
            key["SecretAccessKey"]))
    os.rename(ready + ".tmp", ready)
    while not stop.wait(0.2):
        pass
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
