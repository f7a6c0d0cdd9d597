#!/usr/bin/python3
"""tests/integ/test_objstore_crash.py - crash consistency: kill -9 the
store while 16 clients PUT and overwrite objects (single-part and
multipart), restart it on the same data directory, and check that every
acknowledged write is there byte for byte, that nothing partial is listed
or readable, and that recovery left no temporary file. 10 rounds.

Every body carries its own SHA-256 in its first line, so any object read
back proves itself whole. For each key the test remembers the last
acknowledged version and every version sent after it: the object must be
one of those (a write in flight at the kill may or may not have
committed, but it is never torn)."""

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import boto3
import botocore
from botocore.config import Config

PIER = os.environ["PIER"]
ROUNDS = 10
CLIENTS = 16
KEYS_PER_CLIENT = 3
work = tempfile.mkdtemp(prefix="pier-crash.")
data = os.path.join(work, "data")
passes = 0
failures = 0


def check(what, cond):
    global passes, failures
    if cond:
        passes += 1
    else:
        failures += 1
        print("FAIL: " + what, file=sys.stderr)


def start(creds):
    ready = os.path.join(work, "ready")
    if os.path.exists(ready):
        os.unlink(ready)
    out = open(os.path.join(work, "os.out"), "a")
    err = open(os.path.join(work, "os.log"), "a")
    proc = subprocess.Popen([PIER, "objstore", "--data", data, "--listen", "127.0.0.1:0",
                             "--workers", "2", "--ready-file", ready], stdout=out, stderr=err)
    for _ in range(300):
        if os.path.exists(ready):
            break
        if proc.poll() is not None:
            sys.exit("server died before it was ready:\n" +
                     open(os.path.join(work, "os.log")).read())
        time.sleep(0.1)
    addr = [l.split()[1] for l in open(ready) if l.startswith("http ")][0]
    if not creds:
        creds.update(l.strip().split("=", 1) for l in open(os.path.join(work, "os.out"))
                     if l.startswith("AWS_"))
    return proc, addr


def client(addr, creds):
    return boto3.client("s3", endpoint_url="http://" + addr, region_name="us-east-1",
                        aws_access_key_id=creds["AWS_ACCESS_KEY_ID"],
                        aws_secret_access_key=creds["AWS_SECRET_ACCESS_KEY"],
                        config=Config(s3={"addressing_style": "path"},
                                      retries={"max_attempts": 1},
                                      connect_timeout=2, read_timeout=10))


def make_body(key, version, size):
    payload = os.urandom(size)
    head = ("%s %d %s\n" % (key, version, hashlib.sha256(payload).hexdigest())).encode()
    return head + payload


def body_ok(key, body):
    """(whole, version) of a body read back."""
    nl = body.find(b"\n")
    if nl < 0:
        return False, -1
    parts = body[:nl].decode(errors="replace").split(" ")
    if len(parts) != 3 or parts[0] != key:
        return False, -1
    return hashlib.sha256(body[nl + 1:]).hexdigest() == parts[2], int(parts[1])


lock = threading.Lock()
acked = {}    # key -> last acknowledged version
pending = {}  # key -> versions sent, not (yet) acknowledged, after acked


def writer(s3, t, stop, counter):
    version = int(time.time() * 1000) * 100 + t  # grows across rounds
    i = 0
    while not stop.is_set():
        key = "k%02d-%d" % (t, i % KEYS_PER_CLIENT)
        i += 1
        version += 100
        size = [100, 4096, 70000, 300000][version % 4]
        body = make_body(key, version, size)
        with lock:
            pending.setdefault(key, set()).add(version)
        try:
            if t % 8 == 7 and size == 300000:
                # A small multipart upload (the minimum part size is 5 MiB:
                # one part, completed).
                up = s3.create_multipart_upload(Bucket="bkt", Key=key)["UploadId"]
                e = s3.upload_part(Bucket="bkt", Key=key, UploadId=up, PartNumber=1,
                                   Body=body)["ETag"]
                s3.complete_multipart_upload(Bucket="bkt", Key=key, UploadId=up,
                                             MultipartUpload={"Parts": [
                                                 {"PartNumber": 1, "ETag": e}]})
            else:
                s3.put_object(Bucket="bkt", Key=key, Body=body)
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError):
            return  # the server is gone; the version stays pending
        with lock:
            old = acked.get(key)
            acked[key] = version
            # Versions sent before this acknowledgement can no longer be
            # the object's content once this one is acknowledged: this
            # client sends one write at a time per key.
            pending[key] = {v for v in pending[key] if v > version}
            counter[0] += 1


def verify(s3, rnd):
    listed = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket="bkt"):
        listed += [(o["Key"], o["Size"]) for o in page.get("Contents", [])]
    keys = {k for k, _ in listed}
    with lock:
        lost = [k for k in acked if k not in keys]
        check("round %d: every acknowledged key is listed (missing %s)" % (rnd, lost[:3]),
              not lost)
        bad = []
        for key, size in listed:
            body = s3.get_object(Bucket="bkt", Key=key)["Body"].read()
            whole, version = body_ok(key, body)
            allowed = {acked.get(key)} | pending.get(key, set())
            if not whole or len(body) != size or version not in allowed:
                bad.append((key, whole, version in allowed))
            else:
                # What is there now is the last state of this key.
                acked[key] = version
                pending[key] = {v for v in pending.get(key, set()) if v > version}
        check("round %d: every object is whole and acknowledged or in flight (%s)"
              % (rnd, bad[:3]), not bad)
    tmp = os.listdir(os.path.join(data, "tmp"))
    check("round %d: recovery left no temporary file (%s)" % (rnd, tmp[:3]), not tmp)
    ups = s3.list_multipart_uploads(Bucket="bkt").get("Uploads", [])
    for u in ups:  # uploads cut short stay listable, and can be aborted
        s3.abort_multipart_upload(Bucket="bkt", Key=u["Key"], UploadId=u["UploadId"])


creds = {}
total = 0
try:
    for rnd in range(ROUNDS):
        proc, addr = start(creds)
        s3 = client(addr, creds)
        if rnd == 0:
            s3.create_bucket(Bucket="bkt")
        else:
            verify(s3, rnd)
        stop = threading.Event()
        counter = [0]
        threads = [threading.Thread(target=writer, args=(client(addr, creds), t, stop, counter))
                   for t in range(CLIENTS)]
        for th in threads:
            th.start()
        # Kill once writes are flowing, at a moment that varies by round.
        deadline = time.time() + 20
        while counter[0] < 20 + 7 * rnd and time.time() < deadline:
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        stop.set()
        for th in threads:
            th.join()
        total += counter[0]
        check("round %d: writes were acknowledged before the kill" % rnd, counter[0] > 0)
    proc, addr = start(creds)
    verify(client(addr, creds), ROUNDS)
    log = open(os.path.join(work, "os.log")).read()
    check("recovery ran and said so", "recovery removed" in log)
    proc.send_signal(signal.SIGTERM)
    check("server exits 0 after the last round", proc.wait(10) == 0)
finally:
    shutil.rmtree(work, ignore_errors=True)

print("%d passed, %d failed (%d acknowledged writes over %d kills)"
      % (passes, failures, total, ROUNDS))
sys.exit(1 if failures else 0)
