// tests/node/sdkjs.mjs - pier objstore with the AWS SDK for JavaScript v3
// (@aws-sdk/client-s3, its default checksums on) over plain http; run by
// tests/integ/test_objstore_sdkjs.sh.
//   node sdkjs.mjs ENDPOINT BUCKET
// Credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY. A
// streamed body of known length goes as STREAMING-UNSIGNED-PAYLOAD-TRAILER
// (aws-chunked, x-amz-checksum-crc32 in the trailer): the request log of
// every PutObject is checked for it. Prints "ok NAME" per check, exits 1
// on the first failure.
import { createHash, randomBytes } from "node:crypto";
import { Readable } from "node:stream";

import {
    AbortMultipartUploadCommand,
    CompleteMultipartUploadCommand,
    CreateBucketCommand,
    CreateMultipartUploadCommand,
    DeleteObjectCommand,
    DeleteObjectsCommand,
    GetObjectCommand,
    HeadObjectCommand,
    ListMultipartUploadsCommand,
    ListObjectsV2Command,
    PutObjectCommand,
    S3Client,
    UploadPartCommand,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";

const [endpoint, bucket] = process.argv.slice(2);
if (!endpoint || !bucket) {
    console.error("usage: node sdkjs.mjs ENDPOINT BUCKET");
    process.exit(2);
}

// What went over the wire, per operation: the payload mode and trailer.
const seen = [];
const client = new S3Client({
    endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    maxAttempts: 1,
    // The defaults, said out loud: the test is about them.
    requestChecksumCalculation: "WHEN_SUPPORTED",
    responseChecksumValidation: "WHEN_SUPPORTED",
});
client.middlewareStack.add(
    (next, context) => async (args) => {
        const h = args.request.headers || {};
        seen.push({
            op: context.commandName,
            sha: h["x-amz-content-sha256"],
            trailer: h["x-amz-trailer"],
            encoding: h["content-encoding"],
        });
        return next(args);
    },
    { step: "finalizeRequest", priority: "low", name: "pierRecord" },
);

let failed = false;
function check(name, cond, detail) {
    if (cond) {
        console.log(`ok ${name}`);
        return;
    }
    console.error(`FAIL: ${name}${detail !== undefined ? `: ${detail}` : ""}`);
    failed = true;
    process.exitCode = 1;
}

const md5 = (b) => createHash("md5").update(b).digest("hex");
const bytesOf = async (body) => Buffer.from(await body.transformToByteArray());

// A stream of buf in pieces, so the SDK cannot hash it up front.
function streamOf(buf, piece = 64 * 1024) {
    let off = 0;
    return new Readable({
        read() {
            if (off >= buf.length) {
                this.push(null);
                return;
            }
            this.push(buf.subarray(off, off + piece));
            off += piece;
        },
    });
}

async function expectError(name, code, fn) {
    try {
        await fn();
        check(name, false, "no error");
    } catch (e) {
        check(name, e.name === code || e.Code === code, `${e.name} ${e.message}`);
    }
}

try {
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
    check("CreateBucket", true);

    // PutObject, a streamed body: the unsigned-trailer form.
    const small = randomBytes(200 * 1024 + 17);
    seen.length = 0;
    const put = await client.send(
        new PutObjectCommand({
            Bucket: bucket,
            Key: "dir/stream.bin",
            Body: streamOf(small),
            ContentLength: small.length,
            ContentType: "application/x-test",
            Metadata: { origin: "sdkjs" },
        }),
    );
    const p = seen.find((s) => s.op === "PutObjectCommand");
    check(
        "PutObject went as STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        p && p.sha === "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        JSON.stringify(p),
    );
    check(
        "PutObject sent x-amz-checksum-crc32 in the trailer",
        p && p.trailer === "x-amz-checksum-crc32" && /aws-chunked/.test(p.encoding || ""),
        JSON.stringify(p),
    );
    check("PutObject ETag is the MD5", put.ETag === `"${md5(small)}"`, put.ETag);

    // PutObject, a buffer body (checksum in a header).
    const text = Buffer.from("hello from the AWS SDK for JavaScript\n");
    await client.send(
        new PutObjectCommand({ Bucket: bucket, Key: "dir/hello.txt", Body: text }),
    );
    check("PutObject of a buffer", true);
    const keyU = "unicode/é ü 漢字 %2F ../x";
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: keyU, Body: "u" }));

    // GetObject, HeadObject, Range.
    let got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: "dir/stream.bin" }));
    check("GetObject bytes", (await bytesOf(got.Body)).equals(small));
    check("GetObject Content-Type", got.ContentType === "application/x-test", got.ContentType);
    check("GetObject metadata", got.Metadata && got.Metadata.origin === "sdkjs", JSON.stringify(got.Metadata));
    got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: "dir/hello.txt" }));
    check("GetObject of the buffer", (await bytesOf(got.Body)).equals(text));
    got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: keyU }));
    check("GetObject of a unicode key", (await bytesOf(got.Body)).toString() === "u");
    got = await client.send(
        new GetObjectCommand({ Bucket: bucket, Key: "dir/stream.bin", Range: "bytes=100-199" }),
    );
    check("GetObject Range", (await bytesOf(got.Body)).equals(small.subarray(100, 200)));
    const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: "dir/stream.bin" }));
    check("HeadObject size", head.ContentLength === small.length, head.ContentLength);
    await expectError("GetObject of a missing key", "NoSuchKey", () =>
        client.send(new GetObjectCommand({ Bucket: bucket, Key: "nope" })),
    );

    // Multipart through lib-storage: 12 MiB in 5 MiB parts, streamed.
    const big = randomBytes(12 * 1024 * 1024 + 3);
    seen.length = 0;
    const up = new Upload({
        client,
        params: { Bucket: bucket, Key: "big/upload.bin", Body: streamOf(big, 256 * 1024) },
        partSize: 5 * 1024 * 1024,
        queueSize: 2,
    });
    const done = await up.done();
    const parts = seen.filter((s) => s.op === "UploadPartCommand").length;
    check("Upload went multipart in 3 parts", parts === 3, parts);
    check("multipart ETag", /^"[0-9a-f]{32}-3"$/.test(done.ETag || ""), done.ETag);
    got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: "big/upload.bin" }));
    check("multipart object bytes", md5(await bytesOf(got.Body)) === md5(big));

    // Multipart by hand, one part streamed (unsigned trailer), then abort
    // another upload and see the list empty.
    const mp = await client.send(
        new CreateMultipartUploadCommand({ Bucket: bucket, Key: "big/hand.bin" }),
    );
    const p1 = big.subarray(0, 5 * 1024 * 1024);
    const p2 = big.subarray(5 * 1024 * 1024, 6 * 1024 * 1024);
    const r1 = await client.send(
        new UploadPartCommand({
            Bucket: bucket, Key: "big/hand.bin", UploadId: mp.UploadId, PartNumber: 1,
            Body: streamOf(p1), ContentLength: p1.length,
        }),
    );
    const r2 = await client.send(
        new UploadPartCommand({
            Bucket: bucket, Key: "big/hand.bin", UploadId: mp.UploadId, PartNumber: 2, Body: p2,
        }),
    );
    await client.send(
        new CompleteMultipartUploadCommand({
            Bucket: bucket, Key: "big/hand.bin", UploadId: mp.UploadId,
            MultipartUpload: {
                Parts: [
                    { PartNumber: 1, ETag: r1.ETag, ChecksumCRC32: r1.ChecksumCRC32 },
                    { PartNumber: 2, ETag: r2.ETag, ChecksumCRC32: r2.ChecksumCRC32 },
                ],
            },
        }),
    );
    got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: "big/hand.bin" }));
    check("hand multipart bytes", md5(await bytesOf(got.Body)) === md5(big.subarray(0, 6 * 1024 * 1024)));
    const ab = await client.send(
        new CreateMultipartUploadCommand({ Bucket: bucket, Key: "big/aborted.bin" }),
    );
    let lu = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
    check("ListMultipartUploads shows the open upload",
        (lu.Uploads || []).some((u) => u.UploadId === ab.UploadId), JSON.stringify(lu.Uploads));
    const top = await client.send(
        new CreateMultipartUploadCommand({ Bucket: bucket, Key: "top.bin" }),
    );
    lu = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket, Delimiter: "/" }));
    check("ListMultipartUploads rolls big/ up",
        JSON.stringify((lu.CommonPrefixes || []).map((c) => c.Prefix)) === '["big/"]'
            && (lu.Uploads || []).length === 1 && lu.Uploads[0].Key === "top.bin",
        JSON.stringify(lu));
    lu = await client.send(
        new ListMultipartUploadsCommand({ Bucket: bucket, Delimiter: "/", MaxUploads: 1 }),
    );
    check("ListMultipartUploads page ends on the prefix",
        lu.IsTruncated && lu.NextKeyMarker === "big/", JSON.stringify(lu));
    lu = await client.send(
        new ListMultipartUploadsCommand({
            Bucket: bucket, Delimiter: "/", MaxUploads: 1, KeyMarker: lu.NextKeyMarker,
        }),
    );
    check("ListMultipartUploads next page",
        !lu.IsTruncated && (lu.Uploads || []).length === 1 && lu.Uploads[0].UploadId === top.UploadId,
        JSON.stringify(lu));
    for (const [Key, UploadId] of [["big/aborted.bin", ab.UploadId], ["top.bin", top.UploadId]]) {
        await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key, UploadId }));
    }
    lu = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
    check("no upload left after abort", (lu.Uploads || []).length === 0, JSON.stringify(lu.Uploads));

    // ListObjectsV2 with a delimiter and pagination.
    let l = await client.send(new ListObjectsV2Command({ Bucket: bucket, Delimiter: "/" }));
    const prefixes = (l.CommonPrefixes || []).map((c) => c.Prefix).sort();
    check("ListObjectsV2 common prefixes", JSON.stringify(prefixes) === '["big/","dir/","unicode/"]', JSON.stringify(prefixes));
    const all = [];
    let token;
    do {
        l = await client.send(
            new ListObjectsV2Command({ Bucket: bucket, MaxKeys: 2, ContinuationToken: token }),
        );
        for (const o of l.Contents || []) all.push(o.Key);
        token = l.NextContinuationToken;
    } while (l.IsTruncated);
    check("ListObjectsV2 pages give every key once",
        JSON.stringify(all) === JSON.stringify(["big/hand.bin", "big/upload.bin", "dir/hello.txt", "dir/stream.bin", keyU]),
        JSON.stringify(all));

    // DeleteObject, DeleteObjects (their checksums are on by default too).
    await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: "dir/hello.txt" }));
    await expectError("deleted key is gone", "NoSuchKey", () =>
        client.send(new GetObjectCommand({ Bucket: bucket, Key: "dir/hello.txt" })),
    );
    const del = await client.send(
        new DeleteObjectsCommand({
            Bucket: bucket,
            Delete: { Objects: all.filter((k) => k !== "dir/hello.txt").map((Key) => ({ Key })) },
        }),
    );
    check("DeleteObjects deleted 4", (del.Deleted || []).length === 4 && !(del.Errors || []).length,
        JSON.stringify(del));
    l = await client.send(new ListObjectsV2Command({ Bucket: bucket }));
    check("bucket empty at the end", (l.KeyCount || 0) === 0, l.KeyCount);
} catch (e) {
    check("no unexpected error", false, `${e.name}: ${e.message}`);
}
process.exit(failed ? 1 : 0);
