// Drives Kumo's S3 endpoint with the real @aws-sdk/client-s3 (path-style, credentials from
// AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)
// and prints what it observed as one JSON object, for test_storage.py to check.
// Usage: node s3_client.mjs ENDPOINT BUCKET     (ENDPOINT is $KUMO_URL/s3)
import {
  S3Client, CreateBucketCommand, ListBucketsCommand, PutObjectCommand, GetObjectCommand,
  HeadObjectCommand, ListObjectsV2Command, DeleteObjectCommand, DeleteObjectsCommand,
  CopyObjectCommand, CreateMultipartUploadCommand, UploadPartCommand,
  CompleteMultipartUploadCommand, AbortMultipartUploadCommand,
} from "@aws-sdk/client-s3";
import { createHash, randomBytes } from "node:crypto";
import { Readable } from "node:stream";

const [endpoint, Bucket] = process.argv.slice(2);
if (!endpoint || !Bucket) {
  console.error("usage: node s3_client.mjs ENDPOINT BUCKET");
  process.exit(2);
}
const s3 = new S3Client({
  endpoint, forcePathStyle: true, region: "us-east-1",
  // A Kumo key's id and secret when the server checks signatures (keys on).
  credentials: {
    accessKeyId: process.env.AWS_ACCESS_KEY_ID ?? "kumo",
    secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY ?? "kumo-secret",
  },
});
const send = (command) => s3.send(command);
const md5 = (buf) => createHash("md5").update(buf).digest("hex");
// The S3 error a call ends with, or null when it succeeds.
async function errorOf(promise) {
  try {
    await promise;
    return null;
  } catch (e) {
    return { name: e.name, status: e.$metadata?.httpStatusCode, message: e.message };
  }
}
async function bodyOf(key, extra = {}) {
  const r = await send(new GetObjectCommand({ Bucket, Key: key, ...extra }));
  return { r, bytes: Buffer.from(await r.Body.transformToByteArray()) };
}

const out = {};
out.create = (await send(new CreateBucketCommand({ Bucket }))).$metadata.httpStatusCode;
out.create_again = await errorOf(send(new CreateBucketCommand({ Bucket })));
out.buckets = (await send(new ListBucketsCommand({}))).Buckets.map((b) => b.Name);

// PutObject: a string, a Buffer, a stream (sent aws-chunked with a CRC32 trailer).
const put = await send(new PutObjectCommand({
  Bucket, Key: "docs/hello.txt", Body: "hello world", ContentType: "text/plain",
  Metadata: { owner: "ada" },
}));
out.put_etag = put.ETag;
const binary = randomBytes(300 * 1024);
await send(new PutObjectCommand({ Bucket, Key: "bin/data.bin", Body: binary }));
await send(new PutObjectCommand({
  Bucket, Key: "docs/stream.txt", ContentLength: 13,
  Body: Readable.from([Buffer.from("streamed "), Buffer.from("body")]),
}));
const odd = "unicode/ünï cødé +plus&amp.txt";
await send(new PutObjectCommand({ Bucket, Key: odd, Body: "odd" }));

// GetObject whole (the SDK validates the CRC32 it gets back) and with ranges.
const hello = await bodyOf("docs/hello.txt");
out.get = {
  body: hello.bytes.toString(), type: hello.r.ContentType, meta: hello.r.Metadata,
  etag: hello.r.ETag, crc32: hello.r.ChecksumCRC32, length: hello.r.ContentLength,
};
out.binary_md5_matches = md5((await bodyOf("bin/data.bin")).bytes) === md5(binary);
out.stream_body = (await bodyOf("docs/stream.txt")).bytes.toString();
out.odd_body = (await bodyOf(odd)).bytes.toString();
const ranged = await bodyOf("docs/hello.txt", { Range: "bytes=6-10" });
out.range = { body: ranged.bytes.toString(), content_range: ranged.r.ContentRange };
out.suffix_range = (await bodyOf("docs/hello.txt", { Range: "bytes=-5" })).bytes.toString();

const head = await send(new HeadObjectCommand({ Bucket, Key: "bin/data.bin" }));
out.head = { length: head.ContentLength, etag: head.ETag, modified: !!head.LastModified };

// ListObjectsV2: prefix, delimiter, pagination.
for (let i = 0; i < 5; i++) {
  await send(new PutObjectCommand({ Bucket, Key: `pages/item-${i}`, Body: `${i}` }));
}
const top = await send(new ListObjectsV2Command({ Bucket, Delimiter: "/" }));
out.list_top = {
  prefixes: (top.CommonPrefixes ?? []).map((p) => p.Prefix),
  keys: (top.Contents ?? []).map((c) => c.Key),
};
const docs = await send(new ListObjectsV2Command({ Bucket, Prefix: "docs/" }));
out.list_docs = docs.Contents.map((c) => ({ key: c.Key, size: c.Size, etag: c.ETag }));
const paged = [];
let token;
let pages = 0;
do {
  const page = await send(new ListObjectsV2Command({
    Bucket, Prefix: "pages/", MaxKeys: 2, ContinuationToken: token,
  }));
  paged.push(...page.Contents.map((c) => c.Key));
  token = page.IsTruncated ? page.NextContinuationToken : undefined;
  pages++;
} while (token);
out.list_pages = { keys: paged, pages };

// Multipart: about 12 MiB in 5 MiB parts.
const big = randomBytes(12 * 1024 * 1024 + 123);
const partSize = 5 * 1024 * 1024;
const { UploadId } = await send(new CreateMultipartUploadCommand({
  Bucket, Key: "big/blob.bin", ContentType: "application/x-test",
}));
const parts = [];
for (let n = 1, at = 0; at < big.length; n++, at += partSize) {
  const r = await send(new UploadPartCommand({
    Bucket, Key: "big/blob.bin", UploadId, PartNumber: n, Body: big.subarray(at, at + partSize),
  }));
  parts.push({ PartNumber: n, ETag: r.ETag });
}
out.bad_order = await errorOf(send(new CompleteMultipartUploadCommand({
  Bucket, Key: "big/blob.bin", UploadId, MultipartUpload: { Parts: [...parts].reverse() },
})));
out.bad_part = await errorOf(send(new CompleteMultipartUploadCommand({
  Bucket, Key: "big/blob.bin", UploadId,
  MultipartUpload: { Parts: [{ PartNumber: 1, ETag: '"00000000000000000000000000000000"' }] },
})));
const done = await send(new CompleteMultipartUploadCommand({
  Bucket, Key: "big/blob.bin", UploadId, MultipartUpload: { Parts: parts },
}));
const bigBack = await bodyOf("big/blob.bin");
out.multipart = {
  parts: parts.length, etag: done.ETag, md5_matches: md5(bigBack.bytes) === md5(big),
  length: bigBack.r.ContentLength, type: bigBack.r.ContentType,
};
const aborted = await send(new CreateMultipartUploadCommand({ Bucket, Key: "big/aborted" }));
await send(new AbortMultipartUploadCommand({
  Bucket, Key: "big/aborted", UploadId: aborted.UploadId,
}));
out.after_abort = await errorOf(send(new UploadPartCommand({
  Bucket, Key: "big/aborted", UploadId: aborted.UploadId, PartNumber: 1, Body: "x",
})));

// CopyObject and DeleteObjects.
await send(new CopyObjectCommand({ Bucket, Key: "docs/copy.txt", CopySource: `${Bucket}/docs/hello.txt` }));
out.copy_body = (await bodyOf("docs/copy.txt")).bytes.toString();
const deleted = await send(new DeleteObjectsCommand({
  Bucket, Delete: { Objects: [{ Key: "pages/item-0" }, { Key: "pages/item-1" }] },
}));
out.deleted = (deleted.Deleted ?? []).map((d) => d.Key);

// Errors.
out.no_such_bucket = await errorOf(send(new GetObjectCommand({ Bucket: "no-such-bucket", Key: "k" })));
out.no_such_key = await errorOf(send(new GetObjectCommand({ Bucket, Key: "missing" })));
out.head_missing = await errorOf(send(new HeadObjectCommand({ Bucket, Key: "missing" })));
out.bad_range = await errorOf(send(new GetObjectCommand({ Bucket, Key: "docs/hello.txt", Range: "bytes=100-" })));
out.bad_bucket_name = await errorOf(send(new CreateBucketCommand({ Bucket: "Not_Valid" })));

// DeleteObject, then the key is gone.
out.delete = (await send(new DeleteObjectCommand({ Bucket, Key: "docs/stream.txt" }))).$metadata.httpStatusCode;
out.after_delete = await errorOf(send(new GetObjectCommand({ Bucket, Key: "docs/stream.txt" })));

console.log(JSON.stringify(out));
