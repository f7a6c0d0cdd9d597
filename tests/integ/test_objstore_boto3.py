#!/usr/bin/python3
"""tests/integ/test_objstore_boto3.py - pier objstore through boto3 (1.26):
buckets, put/get/head with metadata, ListObjects v1 and v2 with
pagination, delimiters and UTF-8 binary order, DeleteObjects (with the
2024 conditions: ETag, LastModifiedTime, Size; and DeleteObject's
If-Match and x-amz-if-match-* headers), multipart
(and its refusals), copy with directives and source conditions, presigned
URLs (and their expiry), conditional PUT (If-None-Match: *, If-Match, two
racing writers), conditional GET, ranges, response-* overrides; and the
signed streaming mode (STREAMING-AWS4-HMAC-SHA256-PAYLOAD), which no
Debian client sends, from a raw client that signs every chunk.

The server starts on port 0 with --ready-file and stops by PID (SIGTERM,
exit status 0 required), as tests/integ/lib.sh does for shell tests."""

import base64
import concurrent.futures
import datetime
import hashlib
import hmac
import http.client
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import boto3
import botocore
from botocore.config import Config

PIER = os.environ["PIER"]
work = tempfile.mkdtemp(prefix="pier-boto3.")
passes = 0
failures = 0


def check(what, cond):
    global passes, failures
    if cond:
        passes += 1
    else:
        failures += 1
        print("FAIL: " + what, file=sys.stderr)


def code_of(fn, *args, **kw):
    """The S3 error code (or HTTP status for bodiless answers) fn raises."""
    try:
        fn(*args, **kw)
    except botocore.exceptions.ClientError as e:
        return e.response["Error"]["Code"]
    return None


def start():
    ready = os.path.join(work, "ready")
    out = open(os.path.join(work, "os.out"), "w")
    err = open(os.path.join(work, "os.log"), "w")
    wrap = []
    if os.environ.get("PIER_VALGRIND") == "1":
        wrap = ["valgrind", "--leak-check=full", "--errors-for-leak-kinds=definite", "-q"]
    proc = subprocess.Popen(wrap + [PIER, "objstore", "--data", os.path.join(work, "data"),
                                    "--listen", "127.0.0.1:0", "--workers", "2",
                                    "--ready-file", ready], stdout=out, stderr=err)
    for _ in range(300):
        if os.path.exists(ready):
            break
        if proc.poll() is not None:
            sys.exit("server died before it was ready")
        time.sleep(0.1)
    addr = [l.split()[1] for l in open(ready) if l.startswith("http ")][0]
    env = dict(l.strip().split("=", 1) for l in open(os.path.join(work, "os.out"))
               if l.startswith("AWS_"))
    return proc, addr, env


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        rc = proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        check("server stops on SIGTERM", False)
        return
    check("server exits 0", rc == 0)
    log = open(os.path.join(work, "os.log")).read()
    check("no sanitizer report", "AddressSanitizer" not in log and "runtime error:" not in log
          and "definitely lost: " not in log.replace("definitely lost: 0", ""))


proc, addr, creds = start()
endpoint = "http://" + addr
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                  aws_access_key_id=creds["AWS_ACCESS_KEY_ID"],
                  aws_secret_access_key=creds["AWS_SECRET_ACCESS_KEY"],
                  config=Config(s3={"addressing_style": "path"},
                                retries={"max_attempts": 1}))
try:
    # ---- buckets ----
    s3.create_bucket(Bucket="bkt")
    check("head_bucket", s3.head_bucket(Bucket="bkt")["ResponseMetadata"]["HTTPStatusCode"] == 200)
    check("list_buckets", [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["bkt"])
    check("get_bucket_location", s3.get_bucket_location(Bucket="bkt").get("LocationConstraint") is None)
    check("create twice: BucketAlreadyOwnedByYou",
          code_of(s3.create_bucket, Bucket="bkt") == "BucketAlreadyOwnedByYou")
    check("NoSuchBucket", code_of(s3.list_objects_v2, Bucket="nobkt") == "NoSuchBucket")
    check("head of a missing bucket: 404", code_of(s3.head_bucket, Bucket="nobkt") == "404")

    # ---- put, get, head, metadata ----
    body = os.urandom(70000)
    r = s3.put_object(Bucket="bkt", Key="a/obj", Body=body, ContentType="text/x-pier",
                      CacheControl="max-age=9", ContentDisposition="attachment",
                      ContentLanguage="fr", ContentEncoding="identity",
                      Metadata={"color": "blue", "n": "1"})
    check("put ETag is the MD5", r["ETag"] == '"%s"' % hashlib.md5(body).hexdigest())
    g = s3.get_object(Bucket="bkt", Key="a/obj")
    check("get body", g["Body"].read() == body)
    check("stored headers", (g["ContentType"], g["CacheControl"], g["ContentDisposition"],
                             g["ContentLanguage"], g["ContentEncoding"]) ==
          ("text/x-pier", "max-age=9", "attachment", "fr", "identity"))
    check("user metadata", g["Metadata"] == {"color": "blue", "n": "1"})
    check("request id on answers", len(g["ResponseMetadata"]["RequestId"]) == 16)
    h = s3.head_object(Bucket="bkt", Key="a/obj")
    check("head length", h["ContentLength"] == len(body))
    check("NoSuchKey", code_of(s3.get_object, Bucket="bkt", Key="nope") == "NoSuchKey")
    check("empty object", s3.put_object(Bucket="bkt", Key="empty", Body=b"")["ETag"] ==
          '"d41d8cd98f00b204e9800998ecf8427e"')
    check("empty object reads back", s3.get_object(Bucket="bkt", Key="empty")["Body"].read() == b"")
    md5x = base64.b64encode(hashlib.md5(b"x").digest()).decode()
    check("Content-MD5 checked", s3.put_object(Bucket="bkt", Key="md5", Body=b"x",
                                               ContentMD5=md5x) is not None)
    check("bad Content-MD5 is BadDigest",
          code_of(s3.put_object, Bucket="bkt", Key="md5", Body=b"y",
                  ContentMD5=md5x) == "BadDigest")
    check("BadDigest stored nothing", s3.get_object(Bucket="bkt", Key="md5")["Body"].read() == b"x")

    # ---- odd keys ----
    odd = ["../../etc/passwd", "a//b", "sp ace+plus", "%2F..%2F", "ünï/cödé", "q?x=1&y", "#frag",
           "tab\tkey", "x" * 1024]
    for k in odd:
        s3.put_object(Bucket="bkt", Key="odd/" + k if len(k) < 1000 else k, Body=k.encode())
    check("odd keys read back verbatim",
          all(s3.get_object(Bucket="bkt", Key=("odd/" + k if len(k) < 1000 else k))["Body"].read()
              == k.encode() for k in odd))
    check("1025-byte key: KeyTooLongError",
          code_of(s3.put_object, Bucket="bkt", Key="k" * 1025, Body=b"") == "KeyTooLongError")
    check("nothing escaped DIR", not os.path.exists(os.path.join(work, "etc")))

    # ---- listing ----
    keys = ["l/" + k for k in ["a", "A", "z", "é", "éx", "a/1", "a/2", "b/1", "b/c/d", "c",
                               "\u4e2d", "~", "0"]]
    for k in keys:
        s3.put_object(Bucket="bkt", Key=k, Body=b"1")
    want = sorted(keys, key=lambda k: k.encode())
    got = [o["Key"] for o in s3.list_objects_v2(Bucket="bkt", Prefix="l/")["Contents"]]
    check("v2 lists in UTF-8 binary order", got == want)
    for size in (1, 2, 5):
        got = []
        for page in s3.get_paginator("list_objects_v2").paginate(
                Bucket="bkt", Prefix="l/", PaginationConfig={"PageSize": size}):
            got += [o["Key"] for o in page.get("Contents", [])]
        check("v2 pages of %d" % size, got == want)
        got, prefixes = [], []
        for page in s3.get_paginator("list_objects").paginate(
                Bucket="bkt", Prefix="l/", Delimiter="/", PaginationConfig={"PageSize": size}):
            got += [o["Key"] for o in page.get("Contents", [])]
            prefixes += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
        check("v1 with delimiter, pages of %d: keys" % size,
              got == [k for k in want if "/" not in k[2:]])
        check("v1 with delimiter, pages of %d: prefixes" % size, prefixes == ["l/a/", "l/b/"])
    r = s3.list_objects_v2(Bucket="bkt", Prefix="l/", StartAfter="l/c", FetchOwner=True,
                           MaxKeys=2)
    check("start-after", [o["Key"] for o in r["Contents"]] == [k for k in want if k.encode() > b"l/c"][:2])
    check("fetch-owner", "Owner" in r["Contents"][0])
    check("truncated with a token", r["IsTruncated"] and "NextContinuationToken" in r)
    check("bad continuation token: InvalidArgument",
          code_of(s3.list_objects_v2, Bucket="bkt", ContinuationToken="zz") == "InvalidArgument")
    r = s3.list_objects(Bucket="bkt", Prefix="l/", EncodingType="url")
    check("encoding-type=url encodes keys", "l/%C3%A9" in [o["Key"] for o in r["Contents"]])

    # ---- DeleteObjects ----
    r = s3.delete_objects(Bucket="bkt", Delete={"Objects": [{"Key": "l/a"}, {"Key": "l/zzz"}]})
    check("delete_objects verbose", sorted(d["Key"] for d in r["Deleted"]) == ["l/a", "l/zzz"])
    r = s3.delete_objects(Bucket="bkt", Delete={"Objects": [{"Key": "l/A"}], "Quiet": True})
    check("delete_objects quiet", "Deleted" not in r and "Errors" not in r)
    check("deleted keys are gone", code_of(s3.head_object, Bucket="bkt", Key="l/A") == "404")
    check("delete of a missing key is 204",
          s3.delete_object(Bucket="bkt", Key="nope")["ResponseMetadata"]["HTTPStatusCode"] == 204)

    # ---- conditional deletes (S3, 2024): ETag, LastModifiedTime and Size
    # per <Object>, If-Match and x-amz-if-match-* headers. botocore 1.29
    # knows none of them: the body and headers are set just before
    # signing, as a newer SDK would send them. ----
    s3.put_object(Bucket="bkt", Key="cd/a", Body=b"alpha")
    s3.put_object(Bucket="bkt", Key="cd/b", Body=b"beta")
    listed = {o["Key"]: o for o in
              s3.list_objects_v2(Bucket="bkt", Prefix="cd/")["Contents"]}
    time.sleep(0.01)
    s3.copy_object(Bucket="bkt", Key="cd/a", CopySource="bkt/cd/a",
                   MetadataDirective="REPLACE", ContentType="text/plain")
    cond = {}

    def set_delete(request, **kwargs):
        # Headers append (email.message): delete first to replace.
        if "xml" in cond:
            request.data = cond["xml"]
            del request.headers["Content-MD5"]
            request.headers["Content-MD5"] = base64.b64encode(
                hashlib.md5(cond["xml"]).digest()).decode()
        for k, v in cond.get("headers", {}).items():
            del request.headers[k]
            request.headers[k] = v
    s3.meta.events.register("before-sign.s3.DeleteObjects", set_delete)
    s3.meta.events.register("before-sign.s3.DeleteObject", set_delete)

    def iso(o):  # LastModified as botocore serialises a timestamp
        return o["LastModified"].isoformat()
    cond["xml"] = (
        "<Delete><Quiet>true</Quiet>"
        "<Object><Key>cd/a</Key><LastModifiedTime>%s</LastModifiedTime></Object>"
        "<Object><Key>cd/b</Key><ETag>%s</ETag><Size>4</Size>"
        "<LastModifiedTime>%s</LastModifiedTime></Object>"
        "<Object><Key>cd/none</Key><LastModifiedTime>%s</LastModifiedTime></Object>"
        "<Object><Key>cd/none2</Key><ETag>\"00\"</ETag></Object>"
        "</Delete>" % (iso(listed["cd/a"]), listed["cd/b"]["ETag"].replace('"', "&quot;"),
                       iso(listed["cd/b"]), iso(listed["cd/b"]))).encode()
    r = s3.delete_objects(Bucket="bkt", Delete={"Objects": [{"Key": "x"}], "Quiet": True})
    errors = {e["Key"]: e["Code"] for e in r.get("Errors", [])}
    check("conditional DeleteObjects: a key written since its listing: PreconditionFailed",
          errors.get("cd/a") == "PreconditionFailed")
    check("conditional DeleteObjects: ETag on a missing key: NoSuchKey",
          errors.get("cd/none2") == "NoSuchKey")
    check("conditional DeleteObjects: only those two errors (quiet)",
          sorted(errors) == ["cd/a", "cd/none2"] and "Deleted" not in r)
    check("conditional DeleteObjects: the changed key stays",
          s3.head_object(Bucket="bkt", Key="cd/a")["ContentLength"] == 5)
    check("conditional DeleteObjects: the matching key goes",
          code_of(s3.head_object, Bucket="bkt", Key="cd/b") == "404")
    del cond["xml"]
    now = s3.head_object(Bucket="bkt", Key="cd/a")
    for name, hdrs in (
            ("If-Match", {"If-Match": '"0123"'}),
            ("x-amz-if-match-size", {"x-amz-if-match-size": "6"}),
            ("x-amz-if-match-last-modified-time",
             {"x-amz-if-match-last-modified-time": iso(listed["cd/a"])})):
        cond["headers"] = hdrs
        check("conditional DeleteObject: %s differs: PreconditionFailed" % name,
              code_of(s3.delete_object, Bucket="bkt", Key="cd/a") == "PreconditionFailed")
    cond["headers"] = {"x-amz-if-match-size": "five"}
    check("conditional DeleteObject: a bad size: InvalidArgument",
          code_of(s3.delete_object, Bucket="bkt", Key="cd/a") == "InvalidArgument")
    cond["headers"] = {"If-Match": now["ETag"], "x-amz-if-match-size": "5",
                       "x-amz-if-match-last-modified-time": now["ResponseMetadata"][
                           "HTTPHeaders"]["last-modified"]}
    check("conditional DeleteObject: all hold (an HTTP-date: to the second): 204",
          s3.delete_object(Bucket="bkt", Key="cd/a")["ResponseMetadata"]["HTTPStatusCode"] == 204)
    check("conditional DeleteObject: gone", code_of(s3.head_object, Bucket="bkt", Key="cd/a") == "404")
    cond["headers"] = {"If-Match": "*"}
    check("conditional DeleteObject: If-Match on a missing key: NoSuchKey",
          code_of(s3.delete_object, Bucket="bkt", Key="cd/a") == "NoSuchKey")
    cond["headers"] = {"x-amz-if-match-size": "5"}
    check("conditional DeleteObject: a size on a missing key: 204",
          s3.delete_object(Bucket="bkt", Key="cd/a")["ResponseMetadata"]["HTTPStatusCode"] == 204)
    cond.clear()

    # ---- multipart ----
    p1, p2 = os.urandom(5 * 1024 * 1024), os.urandom(1000)
    up = s3.create_multipart_upload(Bucket="bkt", Key="mp", ContentType="app/x")["UploadId"]
    e2 = s3.upload_part(Bucket="bkt", Key="mp", UploadId=up, PartNumber=2, Body=p2)["ETag"]
    e1 = s3.upload_part(Bucket="bkt", Key="mp", UploadId=up, PartNumber=1, Body=p1)["ETag"]
    parts = s3.list_parts(Bucket="bkt", Key="mp", UploadId=up)["Parts"]
    check("list_parts", [(p["PartNumber"], p["Size"]) for p in parts] == [(1, len(p1)), (2, len(p2))])
    ups = s3.list_multipart_uploads(Bucket="bkt")["Uploads"]
    check("list_multipart_uploads", [(u["Key"], u["UploadId"]) for u in ups] == [("mp", up)])
    check("InvalidPartOrder", code_of(
        s3.complete_multipart_upload, Bucket="bkt", Key="mp", UploadId=up,
        MultipartUpload={"Parts": [{"PartNumber": 2, "ETag": e2}, {"PartNumber": 1, "ETag": e1}]})
        == "InvalidPartOrder")
    check("InvalidPart", code_of(
        s3.complete_multipart_upload, Bucket="bkt", Key="mp", UploadId=up,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e2}]}) == "InvalidPart")
    check("EntityTooSmall", code_of(
        s3.complete_multipart_upload, Bucket="bkt", Key="mp", UploadId=up,
        MultipartUpload={"Parts": [{"PartNumber": 2, "ETag": e2}, {"PartNumber": 3, "ETag": e2}]})
        in ("EntityTooSmall", "InvalidPart"))
    r = s3.complete_multipart_upload(
        Bucket="bkt", Key="mp", UploadId=up,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]})
    want_etag = '"%s-2"' % hashlib.md5(hashlib.md5(p1).digest() + hashlib.md5(p2).digest()).hexdigest()
    check("multipart ETag", r["ETag"] == want_etag)
    g = s3.get_object(Bucket="bkt", Key="mp")
    check("multipart body", g["Body"].read() == p1 + p2)
    check("multipart metadata", g["ContentType"] == "app/x")
    check("completed upload is gone: NoSuchUpload",
          code_of(s3.list_parts, Bucket="bkt", Key="mp", UploadId=up) == "NoSuchUpload")
    up = s3.create_multipart_upload(Bucket="bkt", Key="mp2")["UploadId"]
    s3.upload_part(Bucket="bkt", Key="mp2", UploadId=up, PartNumber=1, Body=b"x")
    s3.abort_multipart_upload(Bucket="bkt", Key="mp2", UploadId=up)
    check("aborted upload is gone", code_of(s3.upload_part, Bucket="bkt", Key="mp2", UploadId=up,
                                            PartNumber=1, Body=b"x") == "NoSuchUpload")
    # boto3's managed transfer goes multipart past its threshold.
    big = os.path.join(work, "big")
    with open(big, "wb") as f:
        f.write(os.urandom(12 * 1024 * 1024))
    s3.upload_file(big, "bkt", "managed", Config=boto3.s3.transfer.TransferConfig(
        multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024))
    check("managed multipart ETag", s3.head_object(Bucket="bkt", Key="managed")["ETag"].endswith('-3"'))
    s3.download_file("bkt", "managed", big + ".back")
    check("managed round trip", open(big, "rb").read() == open(big + ".back", "rb").read())

    # ---- copy ----
    src_etag = s3.head_object(Bucket="bkt", Key="a/obj")["ETag"]
    r = s3.copy_object(Bucket="bkt", Key="c/1", CopySource={"Bucket": "bkt", "Key": "a/obj"})
    check("copy ETag", r["CopyObjectResult"]["ETag"] == src_etag)
    check("COPY keeps metadata", s3.head_object(Bucket="bkt", Key="c/1")["Metadata"]["color"] == "blue")
    s3.copy_object(Bucket="bkt", Key="c/2", CopySource="bkt/a/obj", MetadataDirective="REPLACE",
                   ContentType="x/y", Metadata={"color": "red"})
    h = s3.head_object(Bucket="bkt", Key="c/2")
    check("REPLACE", (h["ContentType"], h["Metadata"]) == ("x/y", {"color": "red"}))
    check("copy-source-if-match ok", s3.copy_object(Bucket="bkt", Key="c/3", CopySource="bkt/a/obj",
                                                    CopySourceIfMatch=src_etag) is not None)
    check("copy-source-if-match fails", code_of(
        s3.copy_object, Bucket="bkt", Key="c/4", CopySource="bkt/a/obj",
        CopySourceIfMatch='"0"') == "PreconditionFailed")
    check("copy-source-if-none-match fails", code_of(
        s3.copy_object, Bucket="bkt", Key="c/4", CopySource="bkt/a/obj",
        CopySourceIfNoneMatch=src_etag) == "PreconditionFailed")
    future = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)
    past = datetime.datetime(2000, 1, 1, tzinfo=datetime.timezone.utc)
    check("copy-source-if-modified-since fails", code_of(
        s3.copy_object, Bucket="bkt", Key="c/4", CopySource="bkt/a/obj",
        CopySourceIfModifiedSince=future) == "PreconditionFailed")
    check("copy-source-if-unmodified-since fails", code_of(
        s3.copy_object, Bucket="bkt", Key="c/4", CopySource="bkt/a/obj",
        CopySourceIfUnmodifiedSince=past) == "PreconditionFailed")
    check("failed copies wrote nothing", code_of(s3.head_object, Bucket="bkt", Key="c/4") == "404")
    check("copy from a missing key: NoSuchKey", code_of(
        s3.copy_object, Bucket="bkt", Key="c/5", CopySource="bkt/nope") == "NoSuchKey")

    # ---- conditional PUT, through headers added before signing ----
    extra = {}

    def add_headers(request, **kwargs):
        for k, v in extra.items():
            request.headers[k] = v
    s3.meta.events.register("before-sign.s3.PutObject", add_headers)
    extra = {"If-None-Match": "*"}
    check("If-None-Match * creates", s3.put_object(Bucket="bkt", Key="live/s", Body=b"d1") is not None)
    check("If-None-Match * on an existing key: PreconditionFailed",
          code_of(s3.put_object, Bucket="bkt", Key="live/s", Body=b"d2") == "PreconditionFailed")
    e = s3.head_object(Bucket="bkt", Key="live/s")["ETag"]
    extra = {"If-Match": e}
    check("If-Match flips", s3.put_object(Bucket="bkt", Key="live/s", Body=b"d2") is not None)
    check("If-Match stale: PreconditionFailed",
          code_of(s3.put_object, Bucket="bkt", Key="live/s", Body=b"d3") == "PreconditionFailed")
    check("If-Match on a missing key: NoSuchKey",
          code_of(s3.put_object, Bucket="bkt", Key="live/none", Body=b"d3") == "NoSuchKey")
    # Racing writers flip from the same ETag: exactly one wins.
    e = s3.head_object(Bucket="bkt", Key="live/s")["ETag"]
    extra = {"If-Match": e}
    clients = [boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                            aws_access_key_id=creds["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=creds["AWS_SECRET_ACCESS_KEY"],
                            config=Config(s3={"addressing_style": "path"},
                                          retries={"max_attempts": 1}))
               for _ in range(8)]
    for c in clients:
        c.meta.events.register("before-sign.s3.PutObject", add_headers)
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        results = list(ex.map(lambda i: code_of(clients[i].put_object, Bucket="bkt",
                                                Key="live/s", Body=b"racer%d" % i), range(8)))
    check("racing If-Match writers: one wins", results.count(None) == 1)
    check("... the others get PreconditionFailed", results.count("PreconditionFailed") == 7)
    extra = {}

    # ---- conditional GET, ranges, overrides ----
    e = s3.head_object(Bucket="bkt", Key="a/obj")["ETag"]
    check("If-Match ok", s3.get_object(Bucket="bkt", Key="a/obj", IfMatch=e) is not None)
    check("If-Match fails: 412", code_of(s3.get_object, Bucket="bkt", Key="a/obj", IfMatch='"x"')
          == "PreconditionFailed")
    check("If-None-Match matches: 304", code_of(s3.get_object, Bucket="bkt", Key="a/obj",
                                                IfNoneMatch=e) == "304")
    check("If-Modified-Since future: 304", code_of(s3.get_object, Bucket="bkt", Key="a/obj",
                                                   IfModifiedSince=future) == "304")
    check("If-Unmodified-Since past: 412", code_of(s3.get_object, Bucket="bkt", Key="a/obj",
                                                   IfUnmodifiedSince=past) == "PreconditionFailed")
    check("If-Modified-Since past: 200", s3.get_object(Bucket="bkt", Key="a/obj",
                                                       IfModifiedSince=past) is not None)
    r = s3.get_object(Bucket="bkt", Key="a/obj", Range="bytes=10-19")
    check("range", r["Body"].read() == body[10:20] and r["ContentRange"] == "bytes 10-19/70000")
    check("suffix range", s3.get_object(Bucket="bkt", Key="a/obj", Range="bytes=-5")["Body"].read()
          == body[-5:])
    check("open range", s3.get_object(Bucket="bkt", Key="a/obj", Range="bytes=69990-")["Body"].read()
          == body[69990:])
    check("range past the end: InvalidRange",
          code_of(s3.get_object, Bucket="bkt", Key="a/obj", Range="bytes=70000-") == "InvalidRange")
    r = s3.get_object(Bucket="bkt", Key="a/obj", ResponseContentType="image/png",
                      ResponseContentDisposition="inline", ResponseCacheControl="no-store")
    check("response-* overrides", (r["ContentType"], r["ContentDisposition"], r["CacheControl"])
          == ("image/png", "inline", "no-store"))

    # ---- presigned URLs: boto3 1.26 presigns with SigV2 by default ----
    s3v4 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id=creds["AWS_ACCESS_KEY_ID"],
                        aws_secret_access_key=creds["AWS_SECRET_ACCESS_KEY"],
                        config=Config(s3={"addressing_style": "path"}, signature_version="s3v4",
                                      retries={"max_attempts": 1}))
    for name, c in (("v2", s3), ("v4", s3v4)):
        url = c.generate_presigned_url("get_object", Params={"Bucket": "bkt", "Key": "a/obj"},
                                       ExpiresIn=60)
        check("presigned %s GET" % name, urllib.request.urlopen(url).read() == body)
        url = c.generate_presigned_url("put_object", Params={"Bucket": "bkt", "Key": "presigned"},
                                       ExpiresIn=60)
        # No Content-Type: SigV2 signs it, and the URL was made without one.
        conn = http.client.HTTPConnection(addr, timeout=10)
        conn.request("PUT", url[len(endpoint):], body=b"via presign " + name.encode())
        resp = conn.getresponse()
        resp.read()
        conn.close()
        check("presigned %s PUT" % name, resp.status == 200)
        check("presigned %s PUT stored" % name,
              s3.get_object(Bucket="bkt", Key="presigned")["Body"].read()
              == b"via presign " + name.encode())
    url = s3v4.generate_presigned_url("get_object", Params={"Bucket": "bkt", "Key": "a/obj"},
                                      ExpiresIn=60)
    try:
        urllib.request.urlopen(url.replace("X-Amz-Signature=", "X-Amz-Signature=0"))
        check("tampered presigned v4 URL refused", False)
    except urllib.error.HTTPError as e:
        check("tampered presigned v4 URL: 403", e.code == 403)
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "bkt", "Key": "a/obj"},
                                    ExpiresIn=1)
    time.sleep(2)
    try:
        urllib.request.urlopen(url)
        check("expired presigned URL refused", False)
    except urllib.error.HTTPError as e:
        check("expired presigned URL: 403 AccessDenied", e.code == 403 and b"AccessDenied" in e.read())

    # ---- aws-chunked, signed chunk by chunk ----
    def hm(k, m):
        return hmac.new(k, m.encode(), hashlib.sha256).digest()

    def chunked_put(key, payload, chunk, tamper=None, declared=None):
        now = datetime.datetime.now(datetime.timezone.utc)
        amz_date, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
        scope = day + "/us-east-1/s3/aws4_request"
        skey = hm(hm(hm(hm(("AWS4" + creds["AWS_SECRET_ACCESS_KEY"]).encode(), day),
                        "us-east-1"), "s3"), "aws4_request")
        pieces = [payload[i:i + chunk] for i in range(0, len(payload), chunk)] + [b""]
        sig_len = len(";chunk-signature=") + 64
        length = sum(len("%x" % len(p)) + sig_len + 4 + len(p) for p in pieces)
        headers = {"content-encoding": "aws-chunked", "content-length": str(length),
                   "host": addr, "x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
                   "x-amz-date": amz_date,
                   "x-amz-decoded-content-length": str(declared if declared is not None
                                                       else len(payload))}
        names = sorted(headers)
        canon = "\n".join(["PUT", "/bkt/" + key, "",
                           "".join("%s:%s\n" % (n, headers[n]) for n in names),
                           ";".join(names), "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"])
        sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                         hashlib.sha256(canon.encode()).hexdigest()])
        prev = hmac.new(skey, sts.encode(), hashlib.sha256).hexdigest()
        headers["authorization"] = ("AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, "
                                    "Signature=%s" % (creds["AWS_ACCESS_KEY_ID"], scope,
                                                      ";".join(names), prev))
        body = b""
        for i, p in enumerate(pieces):
            csts = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", amz_date, scope, prev,
                              hashlib.sha256(b"").hexdigest(), hashlib.sha256(p).hexdigest()])
            prev = hmac.new(skey, csts.encode(), hashlib.sha256).hexdigest()
            if tamper == i:
                p = bytes([p[0] ^ 1]) + p[1:]
            body += b"%x;chunk-signature=%s\r\n" % (len(p), prev.encode()) + p + b"\r\n"
        c = http.client.HTTPConnection(addr, timeout=10)
        c.request("PUT", "/bkt/" + key, body=body, headers=headers)
        r = c.getresponse()
        out = (r.status, r.read())
        c.close()
        return out

    payload = os.urandom(200000)
    st, _ = chunked_put("chunked/ok", payload, 65536)
    check("aws-chunked signed PUT: 200", st == 200)
    g = s3.get_object(Bucket="bkt", Key="chunked/ok")
    check("aws-chunked body decoded", g["Body"].read() == payload)
    check("aws-chunked ETag is the decoded MD5", g["ETag"] == '"%s"' % hashlib.md5(payload).hexdigest())
    check("aws-chunked not stored as Content-Encoding", "ContentEncoding" not in g)
    st, b = chunked_put("chunked/bad", payload, 65536, tamper=1)
    check("tampered chunk: SignatureDoesNotMatch", st == 403 and b"SignatureDoesNotMatch" in b)
    check("tampered chunk stored nothing", code_of(s3.head_object, Bucket="bkt",
                                                   Key="chunked/bad") == "404")
    st, b = chunked_put("chunked/short", payload, 65536, declared=len(payload) + 1)
    check("wrong decoded length refused", st == 400)
    check("... and stored nothing", code_of(s3.head_object, Bucket="bkt",
                                            Key="chunked/short") == "404")

    # ---- deleting the bucket ----
    check("BucketNotEmpty", code_of(s3.delete_bucket, Bucket="bkt") == "BucketNotEmpty")
    s3.create_bucket(Bucket="gone")
    check("delete_bucket", s3.delete_bucket(Bucket="gone")["ResponseMetadata"]["HTTPStatusCode"] == 204)
finally:
    stop(proc)
    shutil.rmtree(work, ignore_errors=True)

print("%d passed, %d failed" % (passes, failures))
sys.exit(1 if failures else 0)
