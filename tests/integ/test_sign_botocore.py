#!/usr/bin/python3
"""tests/integ/test_sign_botocore.py - requests signed by botocore (the
signer of awscli and boto3) go through lib's verifier and aws-chunked
decoder (tests/lib/sign_check): SigV4 header (signed and unsigned payload,
STREAMING-UNSIGNED-PAYLOAD-TRAILER bodies framed by botocore's
AwsChunkedWrapper), SigV4 presigned URLs, SigV2 header (path-style and
virtual-hosted) and SigV2 presigned URLs, over awkward keys and queries;
then tampered copies, which must be refused.
"""
import base64
import hashlib
import io
import json
import os
import subprocess
import sys
import time
from urllib.parse import quote, urlsplit

from botocore.auth import (HmacV1Auth, HmacV1QueryAuth, S3SigV4Auth,
                           S3SigV4QueryAuth)
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.httpchecksum import (AwsChunkedWrapper, Crc32Checksum,
                                   Sha256Checksum)

AKID, SECRET = "AKIDPIERTEST", "pier/secret+key=="
CREDS = Credentials(AKID, SECRET)
BUILD = os.environ.get("top_builddir", os.path.join(os.path.dirname(
    os.path.abspath(__file__)), "..", ".."))
TOOL = os.path.join(BUILD, "tests", "lib", "sign_check")
BASE = "http://127.0.0.1:9000"

KEYS = [
    "photos/puppy.jpg",
    "a b/c+d~e!f'g(h)i*j,k;l:m@n&o$p",
    "ünïcödé/✓ 日本",
    "dir//./x/../y",
    "trailing/",
    "percent%2Fslash",
    "",
]
QUERIES = [
    "",
    "uploads",
    "acl",
    "list-type=2&prefix=a%20b&delimiter=%2F&continuation-token=ab%2B%2F%3D",
    "partNumber=3&uploadId=x%20y",
    "versionId=v1&response-content-type=text%2Fplain%3B%20charset%3Dutf-8",
    "tagging&x-id=PutObjectTagging",
]


def url_of(bucket, key, query, virtual=False):
    path = "/" + quote(key, safe="/~") if virtual else \
        "/" + bucket + ("/" + quote(key, safe="/~") if key else "")
    host = bucket + ".localhost:9000" if virtual else "127.0.0.1:9000"
    return "http://%s%s%s" % (host, path, "?" + query if query else "")


def case_of(req, body=None, prefix="", extra=None):
    split = urlsplit(req.url)
    headers = [[k, v if isinstance(v, str) else v.decode()]
               for k, v in req.headers.items()]
    if not any(k.lower() == "host" for k, _ in headers):
        headers.insert(0, ["Host", split.netloc])
    case = {
        "method": req.method, "path": split.path, "query": split.query,
        "headers": headers, "now": int(time.time()), "akid": AKID,
        "secret": SECRET, "region": "us-east-1", "prefix": prefix,
    }
    if body is not None:
        case["body"] = base64.b64encode(body).decode()
    case.update(extra or {})
    return case


def v4_header(method, url, body=b"", headers=None, context=None):
    req = AWSRequest(method=method, url=url, data=body,
                     headers=dict(headers or {}))
    req.context.update(context or {})
    S3SigV4Auth(CREDS, "s3", "us-east-1").add_auth(req)
    return req


def v4_presign(method, url):
    req = AWSRequest(method=method, url=url)
    S3SigV4QueryAuth(CREDS, "s3", "us-east-1", expires=3600).add_auth(req)
    return req


def v2_header(method, url, body=b"", headers=None, auth_path=None):
    req = AWSRequest(method=method, url=url, data=body,
                     headers=dict(headers or {}))
    if auth_path is not None:
        req.auth_path = auth_path
    HmacV1Auth(CREDS).add_auth(req)
    return req


def v2_presign(method, url, auth_path=None):
    req = AWSRequest(method=method, url=url)
    if auth_path is not None:
        req.auth_path = auth_path
    HmacV1QueryAuth(CREDS, expires=3600).add_auth(req)
    return req


def chunked(data, checksum_cls, name, chunk_size):
    return AwsChunkedWrapper(io.BytesIO(data), checksum_cls=checksum_cls,
                             checksum_name=name,
                             chunk_size=chunk_size).read()


def build_cases():
    good = []  # (label, case, expected form, expected payload)
    for key in KEYS:
        for query in QUERIES:
            url = url_of("bucket", key, query)
            label = "%r?%s" % (key, query)
            body = ("body of " + key).encode()
            good.append(("v4 " + label, case_of(
                v4_header("PUT", url, body,
                          {"Content-Type": "text/plain",
                           "x-amz-meta-Note": "  two   spaces "}),
                body), 1, 1))
            good.append(("v4 unsigned " + label, case_of(
                v4_header("GET", url.replace("http:", "https:"),
                          context={"client_config": Config(
                              s3={"payload_signing_enabled": False})})),
                1, 2))
            good.append(("v4 presign " + label,
                         case_of(v4_presign("GET", url)), 2, 2))
            good.append(("v2 " + label, case_of(
                v2_header("PUT", url, body,
                          {"Content-Type": "text/plain",
                           "Content-MD5": base64.b64encode(
                               hashlib.md5(body).digest()).decode(),
                           "x-amz-meta-a": "1", "X-Amz-Meta-A": "2"})),
                3, 2))
            good.append(("v2 presign " + label,
                         case_of(v2_presign("GET", url)), 4, 2))
            # Virtual-hosted: the bucket is in Host; SigV2 needs it as
            # the resource prefix.
            vurl = url_of("bucket", key, query, virtual=True)
            vpath = "/bucket" + urlsplit(vurl).path
            good.append(("v4 virtual " + label, case_of(
                v4_header("GET", vurl)), 1, 1))
            good.append(("v2 virtual " + label, case_of(
                v2_header("GET", vurl, auth_path=vpath),
                prefix="/bucket"), 3, 2))
            good.append(("v2 presign virtual " + label, case_of(
                v2_presign("GET", vurl, auth_path=vpath),
                prefix="/bucket"), 4, 2))
    # aws-chunked bodies as botocore frames them, several chunk sizes.
    data = bytes(range(256)) * 300
    for cls, name in ((Crc32Checksum, "x-amz-checksum-crc32"),
                      (Sha256Checksum, "x-amz-checksum-sha256")):
        for chunk_size in (1, 1000, 8192, 65536, 1 << 20):
            framed = chunked(data, cls, name, chunk_size)
            req = v4_header(
                "PUT", url_of("bucket", "chunked", ""),
                headers={"Content-Encoding": "aws-chunked",
                         "X-Amz-Trailer": name,
                         "X-Amz-Decoded-Content-Length": str(len(data)),
                         "Content-Length": str(len(framed))},
                context={"checksum": {"request_algorithm": {
                    "in": "trailer", "algorithm": name[15:],
                    "name": name}}})
            good.append(("chunked %s %d" % (name, chunk_size),
                         case_of(req, framed,
                                 extra={"decoded_length": len(data),
                                        "want_sha256": hashlib.sha256(
                                            data).hexdigest()}), 1, 5))
    return good


def tampered(case):
    """Copies of a good case that must be refused, with the S3 codes."""
    out = []
    c = json.loads(json.dumps(case))
    c["path"] = c["path"] + "x"
    out.append((c, {"SignatureDoesNotMatch"}))
    c = json.loads(json.dumps(case))
    c["secret"] = "another secret"
    out.append((c, {"SignatureDoesNotMatch"}))
    c = json.loads(json.dumps(case))
    c["akid"] = "SOMEONEELSE"
    out.append((c, {"InvalidAccessKeyId"}))
    c = json.loads(json.dumps(case))
    c["now"] += 7200
    out.append((c, {"RequestTimeTooSkewed", "AccessDenied"}))
    return out


def main():
    good = build_cases()
    bad = []
    for i, (label, case, _, _) in enumerate(good):
        if i % 7 == 0 and "chunked" not in label:
            bad.extend((label, c, codes) for c, codes in tampered(case))
    lines = [json.dumps(c) for _, c, _, _ in good]
    lines += [json.dumps(c) for _, c, _ in bad]
    res = subprocess.run([TOOL], input="\n".join(lines) + "\n",
                         capture_output=True, text=True, check=True)
    results = [json.loads(x) for x in res.stdout.splitlines()]
    assert len(results) == len(lines), res.stderr
    failed = 0
    for (label, case, form, payload), r in zip(good, results):
        ok = r["ok"] and r["form"] == form and r["payload"] == payload \
            and r["akid"] == AKID
        if "body" in case:
            ok = ok and r["body_ok"]
        if "want_sha256" in case:
            ok = ok and r["body_sha256"] == case["want_sha256"]
        if not ok:
            failed += 1
            print("FAIL %s: %s" % (label, r), file=sys.stderr)
    for (label, case, codes), r in zip(bad, results[len(good):]):
        if r["ok"] or r["code"] not in codes:
            failed += 1
            print("FAIL tampered %s: %s" % (label, r), file=sys.stderr)
    print("%d passed, %d failed (%d signed by botocore %s, %d tampered)" % (
        len(lines) - failed, failed, len(good),
        __import__("botocore").__version__, len(bad)))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
