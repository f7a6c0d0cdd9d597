#!/usr/bin/python3
"""tests/integ/browser_cdp.py - drive headless Chromium over the DevTools
protocol against a site served by the edge, and check what a real browser
sees: every stylesheet, script, image and font loads with 200, text assets
arrive compressed with the best coding the browser offered, a reload
revalidates the page with 304 and takes hashed assets from the browser's
cache, no console error, and a screenshot that is not one colour.

usage: browser_cdp.py CHROMIUM PROFILE_DIR URL... [--spki HASH]

--spki trusts the certificates whose public key has that SHA-256 (base64;
Chromium's --ignore-certificate-errors-spki-list): the self-signed site
certificate then counts as valid, so its responses are cached like any
HTTPS site's (with --ignore-certificate-errors Chromium caches nothing).
Prints one line per check; exits 1 when any failed.
"""
import base64
import json
import os
import re
import subprocess
import sys
import time
import zlib

import websocket  # Debian's python3-websocket

TYPES = ("Document", "Stylesheet", "Script", "Image", "Font")
TEXT = re.compile(r"^(text/|application/(javascript|json|xml)|image/svg\+xml)")
# name.<10 hex>.ext: the demo keeps the default [assets] hash_length.
HASHED = re.compile(r"\.[0-9a-f]{10}\.[a-z0-9]+$")
PREFER = ("br", "zstd", "gzip")  # the edge's order at equal weight
COMPRESS_MIN = 256  # publish/compress.h: smaller files stay uncompressed

failures = 0


def check(what, ok, detail=""):
    global failures
    if not ok:
        failures += 1
    print("%s: %s%s" % ("ok" if ok else "FAIL", what,
                        "" if ok or not detail else " (%s)" % detail))


class CDP:
    """One websocket to the browser; pages as flattened sessions."""

    def __init__(self, url):
        self.ws = websocket.create_connection(url, timeout=20,
                                              suppress_origin=True)
        self.next_id = 0
        self.events = []

    def send(self, method, params=None, session=None):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        self.ws.send(json.dumps(msg))
        while True:
            m = json.loads(self.ws.recv())
            if m.get("id") == self.next_id:
                if "error" in m:
                    raise RuntimeError("%s: %s" % (method, m["error"]))
                return m.get("result", {})
            if "method" in m:
                self.events.append(m)

    def wait(self, method, timeout=20.0, quiet=0.8):
        """Read events until method arrives, then until quiet seconds
        pass without one (the page's late requests)."""
        end = time.time() + timeout
        seen = any(e["method"] == method for e in self.events)
        last = time.time()
        while time.time() < end:
            if seen and time.time() - last >= quiet:
                return True
            self.ws.settimeout(0.2)
            try:
                m = json.loads(self.ws.recv())
            except websocket.WebSocketTimeoutException:
                continue
            finally:
                self.ws.settimeout(20)
            if "method" in m:
                self.events.append(m)
                last = time.time()
                if m["method"] == method:
                    seen = True
        return seen


def requests_of(events):
    """requestId -> what the page asked for and what came back."""
    reqs = {}
    for e in events:
        p = e.get("params", {})
        rid = p.get("requestId")
        m = e["method"]
        if m == "Network.requestWillBeSent":
            r = reqs.setdefault(rid, {})
            r.update(url=p["request"]["url"], type=p.get("type"))
            ae = p["request"]["headers"].get("Accept-Encoding")
            if ae:
                r.setdefault("ae", ae)
        elif m == "Network.requestWillBeSentExtraInfo":
            h = {k.lower(): v for k, v in p.get("headers", {}).items()}
            if "accept-encoding" in h:
                reqs.setdefault(rid, {})["ae"] = h["accept-encoding"]
        elif m == "Network.responseReceived":
            r = reqs.setdefault(rid, {})
            resp = p["response"]
            r.update(url=resp["url"], type=p.get("type"),
                     status=resp["status"], mime=resp.get("mimeType", ""),
                     headers={k.lower(): v
                              for k, v in resp["headers"].items()},
                     disk=resp.get("fromDiskCache", False))
        elif m == "Network.responseReceivedExtraInfo":
            # What came over the wire: 304 for a revalidation that the
            # page-level event reports as the cached 200.
            reqs.setdefault(rid, {})["raw"] = p.get("statusCode")
        elif m == "Network.requestServedFromCache":
            reqs.setdefault(rid, {})["memory"] = True
        elif m == "Network.loadingFailed":
            reqs.setdefault(rid, {})["failed"] = p.get("errorText", "?")
    return [r for r in reqs.values() if "url" in r]


def console_errors(events):
    out = []
    for e in events:
        p = e.get("params", {})
        if e["method"] == "Log.entryAdded" and p["entry"]["level"] == "error":
            out.append(p["entry"].get("text", ""))
        elif e["method"] == "Runtime.exceptionThrown":
            out.append(p["exceptionDetails"].get("text", "exception"))
        elif (e["method"] == "Runtime.consoleAPICalled"
              and p.get("type") in ("error", "assert")):
            out.append("console.%s" % p["type"])
    return out


def png_colours(data):
    """The number of distinct pixels of an 8-bit RGB/RGBA PNG (capped)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, w = 8, b"", 0
    while pos < len(data):
        n = int.from_bytes(data[pos:pos + 4], "big")
        kind = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h = int.from_bytes(body[:4], "big"), int.from_bytes(body[4:8], "big")
            depth, ctype, interlace = body[8], body[9], body[12]
            assert depth == 8 and ctype in (2, 6) and interlace == 0, "PNG kind"
            bpp = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw = zlib.decompress(idat)
    stride = w * bpp
    prev = bytearray(stride)
    colours = set()
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + ((a + b) >> 1)) & 255
            elif f == 4:
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                pr = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pr) & 255
        for x in range(0, stride, bpp * 4):  # every 4th pixel is enough
            colours.add(bytes(line[x:x + bpp]))
        prev = line
        if len(colours) > 64:
            break
    return len(colours)


def best_coding(accept):
    offered = [c.strip().split(";")[0] for c in (accept or "").split(",")]
    for c in PREFER:
        if c in offered:
            return c
    return None


def visit(cdp, url, tag):
    target = cdp.send("Target.createTarget", {"url": "about:blank"})["targetId"]
    s = cdp.send("Target.attachToTarget",
                 {"targetId": target, "flatten": True})["sessionId"]
    for domain in ("Network", "Page", "Log", "Runtime"):
        cdp.send(domain + ".enable", {}, s)
    cdp.send("Emulation.setDeviceMetricsOverride",
             {"width": 640, "height": 480, "deviceScaleFactor": 1,
              "mobile": False}, s)

    cdp.events = []
    cdp.send("Page.navigate", {"url": url}, s)
    check("%s: page loaded" % tag, cdp.wait("Page.loadEventFired"))
    first = [r for r in requests_of(cdp.events) if r.get("type") in TYPES]
    errors = console_errors(cdp.events)
    kinds = {r["type"] for r in first}
    for k in TYPES:
        check("%s: a %s was loaded" % (tag, k), k in kinds, sorted(kinds))
    fonts = [r for r in first if r.get("type") == "Font"]
    check("%s: the font has a hashed name" % tag,
          fonts and all(HASHED.search(r["url"]) for r in fonts),
          [r["url"] for r in fonts])
    face = cdp.send("Runtime.evaluate",
                    {"expression": "document.fonts.ready.then(() =>"
                                   " [...document.fonts].some(f =>"
                                   " f.family.replace(/\"/g, '') == 'Pier Sans'"
                                   " && f.status == 'loaded'))",
                     "awaitPromise": True, "returnByValue": True}, s)
    check("%s: the page renders in its web font" % tag,
          face.get("result", {}).get("value") is True, face)
    for r in first:
        check("%s: %s %s 200" % (tag, r["type"], r["url"]),
              r.get("status") == 200 and "failed" not in r,
              r.get("failed") or r.get("status"))
        h = r.get("headers", {})
        if TEXT.match(r.get("mime", "")) and "vary" in h:
            want = best_coding(r.get("ae"))
            got = h.get("content-encoding")
            check("%s: %s compressed with %s (offered: %s)"
                  % (tag, r["url"], want, r.get("ae")),
                  want is not None and got == want, got)
        elif TEXT.match(r.get("mime", "")):
            size = int(h.get("content-length", "-1"))
            check("%s: %s uncompressed only because it is small (%d bytes)"
                  % (tag, r["url"], size),
                  0 <= size < COMPRESS_MIN and "content-encoding" not in h)

    cdp.events = []
    cdp.send("Page.reload", {}, s)
    check("%s: page reloaded" % tag, cdp.wait("Page.loadEventFired"))
    again = [r for r in requests_of(cdp.events) if r.get("type") in TYPES]
    errors += console_errors(cdp.events)
    docs = [r for r in again if r["type"] == "Document"]
    check("%s: reload revalidates the page with 304" % tag,
          len(docs) == 1 and docs[0].get("raw") == 304,
          [d.get("raw") for d in docs])
    hashed = [r for r in again
              if HASHED.search(r["url"].split("?")[0]) and r["type"] != "Document"]
    check("%s: hashed assets requested on reload" % tag, len(hashed) > 0)
    for r in hashed:
        check("%s: %s from the browser cache" % (tag, r["url"]),
              r.get("memory") or r.get("disk") or "raw" not in r,
              "over the network: %s" % r.get("raw"))
    for r in again:
        if r not in hashed and r["type"] != "Document":
            check("%s: %s revalidated or cached" % (tag, r["url"]),
                  r.get("raw") == 304 or r.get("memory") or r.get("disk")
                  or "raw" not in r, r.get("raw"))
    check("%s: no console error" % tag, not errors, errors)

    shot = base64.b64decode(cdp.send("Page.captureScreenshot",
                                     {"format": "png"}, s)["data"])
    n = png_colours(shot)
    check("%s: screenshot is not blank" % tag, n > 1, "%d colour" % n)
    cdp.send("Target.closeTarget", {"targetId": target})


def main():
    chromium, profile, urls = sys.argv[1], sys.argv[2], []
    spki = None
    rest = sys.argv[3:]
    while rest:
        a = rest.pop(0)
        if a == "--spki":
            spki = rest.pop(0)
        else:
            urls.append(a)
    args = [chromium, "--headless", "--no-sandbox", "--disable-gpu",
            "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--disable-extensions",
            "--user-data-dir=" + profile, "--remote-debugging-port=0",
            "--remote-allow-origins=*", "about:blank"]
    if spki:
        args.insert(1, "--ignore-certificate-errors-spki-list=" + spki)
    log = open(os.path.join(profile, "..", "chromium.txt"), "w")
    proc = subprocess.Popen(args, stdout=log, stderr=log)
    try:
        port_file = os.path.join(profile, "DevToolsActivePort")
        for _ in range(300):
            if os.path.exists(port_file):
                lines = open(port_file).read().split("\n")
                if len(lines) >= 2 and lines[1]:
                    break
            if proc.poll() is not None:
                print("FAIL: chromium exited with %d" % proc.returncode)
                return 1
            time.sleep(0.1)
        else:
            print("FAIL: chromium wrote no DevToolsActivePort")
            return 1
        cdp = CDP("ws://127.0.0.1:%s%s" % (lines[0], lines[1]))
        for url in urls:
            visit(cdp, url, url.split(":")[0])
        cdp.ws.close()
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
