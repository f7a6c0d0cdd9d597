#!/usr/bin/python3
"""tests/fuzz/make_awschunk_seeds.py - write valid aws-chunked bodies to
tests/fuzz/corpus/awschunk/, signed with fuzz_awschunk.c's fixed key, so
that the fuzzer starts from bodies that get past every signature check.

Input layout (see fuzz_awschunk.c): mode byte, slice byte, body.
"""
import base64
import hashlib
import hmac
import os
import struct
import sys
import zlib

DATE, DAY = "20240101T000000Z", "20240101"
SCOPE = DAY + "/us-east-1/s3/aws4_request"
EMPTY = hashlib.sha256(b"").hexdigest()


def h(key, msg):
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


KEY = h(h(h(h(b"AWS4fuzz-secret", DAY), "us-east-1"), "s3"), "aws4_request")


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF


def checksum(kind, data):
    if kind == 1:
        raw = struct.pack(">I", zlib.crc32(data))
    elif kind == 2:
        raw = struct.pack(">I", crc32c(data))
    elif kind == 3:
        raw = hashlib.sha1(data).digest()
    else:
        raw = hashlib.sha256(data).digest()
    name = {1: "crc32", 2: "crc32c", 3: "sha1", 4: "sha256"}[kind]
    return "x-amz-checksum-" + name, base64.b64encode(raw).decode()


def body(mode, kind, chunks):
    """mode 0: signed chunks; 1: signed chunks + signed trailer;
    2: unsigned chunks + trailer."""
    out, prev = b"", "0" * 64
    for c in chunks + [b""]:
        if mode in (0, 1):
            sts = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", DATE, SCOPE, prev,
                             EMPTY, hashlib.sha256(c).hexdigest()])
            prev = hmac.new(KEY, sts.encode(), hashlib.sha256).hexdigest()
            out += b"%x;chunk-signature=%s\r\n" % (len(c), prev.encode())
        else:
            out += b"%x\r\n" % len(c)
        if c:
            out += c + b"\r\n"
    if mode == 0:
        return out + b"\r\n"
    trailer = ""
    if kind:
        name, value = checksum(kind, b"".join(chunks))
        trailer = "%s:%s\n" % (name, value)
        out += ("%s:%s\r\n" % (name, value)).encode()
    if mode == 1:
        sts = "\n".join(["AWS4-HMAC-SHA256-TRAILER", DATE, SCOPE, prev,
                         hashlib.sha256(trailer.encode()).hexdigest()])
        sig = hmac.new(KEY, sts.encode(), hashlib.sha256).hexdigest()
        out += ("x-amz-trailer-signature:%s\r\n" % sig).encode()
    return out + b"\r\n"


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(__file__), "corpus", "awschunk")
    os.makedirs(outdir, exist_ok=True)
    chunks = [b"hello ", b"aws-chunked ", b"world"]
    seeds = {
        "signed": (0, 0, chunks),
        "signed-empty": (0, 0, []),
        "signed-trailer-crc32c": (1, 2, chunks),
        "signed-trailer-sha256": (1, 4, [b"x" * 100]),
        "unsigned-crc32": (2, 1, chunks),
        "unsigned-sha1": (2, 3, [b"abc"]),
        "unsigned-none": (2, 0, [b"abc"]),
    }
    for name, (mode, kind, cs) in seeds.items():
        with open(os.path.join(outdir, name), "wb") as f:
            f.write(bytes([mode | kind << 2, 3]) + body(mode, kind, cs))


if __name__ == "__main__":
    main()
