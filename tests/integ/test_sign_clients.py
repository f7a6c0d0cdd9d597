#!/usr/bin/python3
"""tests/integ/test_sign_clients.py - what real S3 clients send verifies.

A small capturing HTTP server (loopback, port 0) answers the clients of
the README with canned S3 responses and records every request. awscli
(SigV4, signed payloads), s3cmd (SigV4, then SigV2) and libs3's s3 tool
(SigV2) put, get and list objects with awkward names against it; each
recorded request then goes through lib's verifier (tests/lib/sign_check),
body hash included. The verifier must accept every one.
SIGN_CLIENTS_VERBOSE=1 prints what each client sent. (Note libs3 sends a
space in a key as '+': SigV2 signs the path as sent, so that verifies.)
"""
import base64
import hashlib
import http.server
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

AKID, SECRET = "AKIDPIERCLIENTS", "pier+client/secret"
BUILD = os.environ.get("top_builddir", os.path.join(os.path.dirname(
    os.path.abspath(__file__)), "..", ".."))
TOOL = os.path.join(BUILD, "tests", "lib", "sign_check")
KEY = "dir/a b+c~d!ü.txt"
CONTENT = b"hello from pier's signing test\n" * 50

captured = []
lock = threading.Lock()

LIST_XML = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
    '<Name>bucket</Name><Prefix></Prefix><KeyCount>1</KeyCount>'
    '<MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated>'
    '<Contents><Key>k</Key><LastModified>2024-01-01T00:00:00.000Z'
    '</LastModified><ETag>&quot;0&quot;</ETag><Size>1</Size>'
    '<StorageClass>STANDARD</StorageClass></Contents>'
    '</ListBucketResult>').encode()
LOCATION_XML = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<LocationConstraint xmlns="http://s3.amazonaws.com/doc/2006-03-01/"/>'
).encode()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _any(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        if self.headers.get("Expect", "").lower() == "100-continue":
            pass  # BaseHTTPRequestHandler answered it already
        with lock:
            captured.append({
                "client": getattr(self.server, "client", "?"),
                "method": self.command,
                "target": self.path,
                "headers": [[k, v] for k, v in self.headers.items()],
                "body": body,
            })
        path, _, query = self.path.partition("?")
        out, ctype = b"", "application/xml"
        if self.command == "GET" and ("location" in query.split("&")):
            out = LOCATION_XML
        elif self.command == "GET" and path.rstrip("/").count("/") <= 1:
            out = LIST_XML
        elif self.command in ("GET", "HEAD"):
            out, ctype = CONTENT, "application/octet-stream"
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("ETag", '"%s"' % hashlib.md5(
            body if self.command == "PUT" else out).hexdigest())
        self.send_header("Last-Modified", "Mon, 01 Jan 2024 00:00:00 GMT")
        self.send_header("x-amz-request-id", "0")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(out)

    do_GET = do_PUT = do_HEAD = do_DELETE = do_POST = _any


def run(cmd, env=None, client="?"):
    server.client = client
    e = dict(os.environ)
    e.update(env or {})
    try:
        subprocess.run(cmd, env=e, timeout=60, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        print("timeout: %s" % cmd[:3], file=sys.stderr)


def main():
    global server
    for tool in ("/usr/bin/aws", "/usr/bin/s3cmd", "/usr/bin/s3"):
        if not os.access(tool, os.X_OK):
            # A missing client is an install bug, never a skip.
            print("FAIL: %s is not installed (scripts/install-deps)" % tool)
            sys.exit(1)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    endpoint = "127.0.0.1:%d" % port

    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "src.txt")
        with open(src, "wb") as f:
            f.write(CONTENT)
        aws_env = {"AWS_ACCESS_KEY_ID": AKID, "AWS_SECRET_ACCESS_KEY": SECRET,
                   "AWS_DEFAULT_REGION": "us-east-1",
                   "AWS_CONFIG_FILE": os.path.join(tmp, "none"),
                   "AWS_SHARED_CREDENTIALS_FILE": os.path.join(tmp, "none"),
                   "AWS_EC2_METADATA_DISABLED": "true", "HOME": tmp}
        aws = ["/usr/bin/aws", "--endpoint-url", "http://" + endpoint]
        run(aws + ["s3api", "put-object", "--bucket", "bucket", "--key", KEY,
                   "--body", src, "--content-type", "text/plain",
                   "--metadata", "note=two  spaces"], aws_env, "awscli")
        run(aws + ["s3api", "get-object", "--bucket", "bucket", "--key", KEY,
                   os.path.join(tmp, "out1")], aws_env, "awscli")
        run(aws + ["s3api", "list-objects-v2", "--bucket", "bucket",
                   "--prefix", "dir/a b+"], aws_env, "awscli")
        run(aws + ["s3", "cp", src, "s3://bucket/" + KEY], aws_env, "awscli")

        for sigv2 in (False, True):
            cfg = os.path.join(tmp, "s3cfg")
            with open(cfg, "w") as f:
                f.write("[default]\naccess_key = %s\nsecret_key = %s\n"
                        "host_base = %s\nhost_bucket = %s\nuse_https = False\n"
                        "signature_v2 = %s\nbucket_location = us-east-1\n"
                        % (AKID, SECRET, endpoint, endpoint, sigv2))
            s3cmd = ["/usr/bin/s3cmd", "-c", cfg, "--no-progress"]
            client = "s3cmd-v2" if sigv2 else "s3cmd-v4"
            run(s3cmd + ["put", src, "s3://bucket/" + KEY], {"HOME": tmp},
                client)
            run(s3cmd + ["get", "--force", "s3://bucket/" + KEY,
                         os.path.join(tmp, "out2")], {"HOME": tmp}, client)
            run(s3cmd + ["ls", "s3://bucket/dir/"], {"HOME": tmp}, client)

        s3_env = {"S3_ACCESS_KEY_ID": AKID, "S3_SECRET_ACCESS_KEY": SECRET,
                  "S3_HOSTNAME": endpoint}
        run(["/usr/bin/s3", "-u", "-r", "0", "put", "bucket/" + KEY,
             "filename=" + src, "contentType=text/plain",
             "x-amz-meta-note=one"], s3_env, "libs3")
        run(["/usr/bin/s3", "-u", "-r", "0", "get", "bucket/" + KEY,
             "filename=" + os.path.join(tmp, "out3")], s3_env, "libs3")
        run(["/usr/bin/s3", "-u", "-r", "0", "list", "bucket",
             "prefix=dir/"], s3_env, "libs3")
    server.shutdown()

    cases = []
    for c in captured:
        path, _, query = c["target"].partition("?")
        cases.append({
            "method": c["method"], "path": path, "query": query,
            "headers": c["headers"], "now": int(time.time()), "akid": AKID,
            "secret": SECRET, "region": "us-east-1", "prefix": "",
            "body": base64.b64encode(c["body"]).decode(),
        })
    res = subprocess.run([TOOL], input="".join(json.dumps(c) + "\n"
                                               for c in cases),
                         capture_output=True, text=True, check=True)
    results = [json.loads(x) for x in res.stdout.splitlines()]
    assert len(results) == len(cases), res.stderr
    failed, per_client = 0, {}
    for c, r in zip(captured, results):
        per_client[c["client"]] = per_client.get(c["client"], 0) + 1
        if not (r["ok"] and r["body_ok"] and r["akid"] == AKID):
            failed += 1
            print("FAIL %s %s %s: %s" % (c["client"], c["method"],
                                         c["target"], r), file=sys.stderr)
    for client in ("awscli", "s3cmd-v4", "s3cmd-v2", "libs3"):
        if per_client.get(client, 0) < 3:
            failed += 1
            print("FAIL %s sent only %d requests" % (
                client, per_client.get(client, 0)), file=sys.stderr)
    if os.environ.get("SIGN_CLIENTS_VERBOSE"):
        for c in captured:
            print(c["client"], c["method"], c["target"],
                  [v for k, v in c["headers"] if k.lower() in (
                      "authorization", "x-amz-content-sha256")])
    print("%d passed, %d failed (requests per client: %s)" % (
        len(results) - failed, failed, per_client))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
