// Uploads files at once with the real @aws-sdk/client-s3 (path-style, credentials from
// AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY), as
// an application would, creating the bucket when it is missing. Prints one JSON object:
// {"uploaded": [{"key", "etag"}]}. Usage: node s3_upload.mjs ENDPOINT BUCKET KEY=FILE...
import { S3Client, CreateBucketCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { readFile } from "node:fs/promises";

const [endpoint, Bucket, ...pairs] = process.argv.slice(2);
if (!endpoint || !Bucket || pairs.length === 0 || pairs.some((p) => !p.includes("="))) {
  console.error("usage: node s3_upload.mjs ENDPOINT BUCKET KEY=FILE...");
  process.exit(2);
}
const TYPES = { jpg: "image/jpeg", jpeg: "image/jpeg", png: "image/png" };
const s3 = new S3Client({
  endpoint, forcePathStyle: true, region: "us-east-1",
  // A Kumo key's id and secret when the server checks signatures (keys on).
  credentials: {
    accessKeyId: process.env.AWS_ACCESS_KEY_ID ?? "kumo",
    secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY ?? "kumo-secret",
  },
});
try {
  await s3.send(new CreateBucketCommand({ Bucket }));
} catch (e) {
  if (e.name !== "BucketAlreadyOwnedByYou") throw e;
}
const uploaded = await Promise.all(pairs.map(async (pair) => {
  const at = pair.indexOf("=");
  const Key = pair.slice(0, at);
  const Body = await readFile(pair.slice(at + 1));
  const ContentType = TYPES[Key.slice(Key.lastIndexOf(".") + 1)] ?? "application/octet-stream";
  const r = await s3.send(new PutObjectCommand({ Bucket, Key, Body, ContentType }));
  return { key: Key, etag: r.ETag };
}));
console.log(JSON.stringify({ uploaded }));
