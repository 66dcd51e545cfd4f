// ObjectStore: buckets and objects on local disk, the engine behind the S3 endpoint.
//
// Layout: each object is one file <data>/objects/<bucket>/<random id>, written atomically
// (temp file, fsync, rename); its metadata (key, size, ETag, CRC32, content type, stored
// headers, mtime) is a row in <data>/objects.db, so Head/Get/List never rehash. File names
// never derive from keys, so no key can reach outside its bucket's folder. A new version
// of a key gets a new file; the row switches in one transaction and the old file goes after,
// so a crash leaves either version whole, and orphans are swept at open().
// Multipart parts live in <data>/objects/.uploads/<upload id>/ until completed.
//
// Threading: thread-safe. File writes run outside the lock; row changes and
// "look up the row, open its file" run under it, so a reader always gets a matching pair.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"
#include "storage/checksums.h"
#include "storage/file_io.h"
#include "storage/s3_error.h"
#include "store/sqlite.h"

namespace kumo::storage {

// Headers stored with an object and sent back on Get/Head: x-amz-meta-*, cache-control,
// content-disposition, content-encoding, content-language, expires.
using StoredHeaders = std::vector<std::pair<std::string, std::string>>;

struct ObjectMeta {
  std::string content_type;  // "" reads back as binary/octet-stream
  StoredHeaders headers;
};

struct ObjectInfo {
  std::string bucket;
  std::string key;
  int64_t size = 0;
  std::string etag;   // unquoted: MD5 hex, or "<hex>-<part count>" after a multipart upload
  std::string crc32;  // base64 CRC32 of the whole object; "" when unknown
  int64_t mtime_ms = 0;
  ObjectMeta meta;
};

struct BucketInfo {
  std::string name;  // as kept: TENANT~NAME for a tenant's bucket
  int64_t created_ms = 0;
  bool public_read = false;  // anyone may GET and HEAD its objects
};

// A bucket name as an S3 client may write it: 3-63 of [a-z0-9.-], starting and ending with
// a letter or digit, no "..".
bool valid_s3_bucket_name(std::string_view name);
// A bucket name as kept: an S3 name, or TENANT~NAME with TENANT 1..63 of [a-z0-9-] and NAME
// an S3 name (auth/access.h qualify()).
bool valid_bucket_name(std::string_view name);

// One page of a listing. Keys and prefixes come in byte order.
struct ListQuery {
  std::string prefix;
  std::string delimiter;  // "" for a flat listing
  std::string after;      // list keys strictly after this one; with a delimiter, a common
                          // prefix here skips every key under it
  int max_keys = 1000;    // objects and common prefixes together
};
struct ListPage {
  std::vector<ObjectInfo> objects;
  std::vector<std::string> common_prefixes;
  bool truncated = false;
  std::string next_after;  // when truncated: the last key or prefix, `after` for the next page
};

struct PartInfo {
  int number = 0;
  int64_t size = 0;
  std::string etag;  // unquoted MD5 hex
  std::string crc32;
  int64_t mtime_ms = 0;
};
struct CompletedPart {
  int number = 0;
  std::string etag;  // as the client sent it, quoted or not
};

// An object opened for reading: its metadata and its file, a consistent pair.
struct OpenObject {
  ObjectInfo info;
  ReadFile file;
};

struct StoreOptions {
  std::string data_dir;                      // objects/ and objects.db go here
  int64_t min_part_bytes = 5 * 1024 * 1024;  // every part but the last (S3's rule)
};

// What a streamed body wrote (ObjectStore::put_streamed), as its producer reports it.
struct StoredBody {
  int64_t size = 0;
  BodyDigest digest;
};
// Writes one body to `sink` as it arrives; returns what it wrote or why it stopped.
using BodyProducer = std::function<S3Result<StoredBody>(const ByteSink& sink)>;

// Writes what `body` produces to dir/name atomically (write_atomic_from) and returns what it
// stored; nothing is left at dir/name when it fails.
S3Result<StoredBody> write_body(const std::string& dir, const std::string& name,
                                const BodyProducer& body);

class ObjectStore {
 public:
  // Opens (creating) the layout and sweeps files a crash left behind.
  static Result<std::unique_ptr<ObjectStore>> open(StoreOptions options);

  // InvalidBucketName unless valid_bucket_name(); BucketAlreadyOwnedByYou when it exists.
  S3Result<void> create_bucket(const std::string& name, bool public_read = false);
  // NoSuchBucket; BucketNotEmpty while it holds objects or unfinished uploads.
  S3Result<void> delete_bucket(const std::string& name);
  bool bucket_exists(const std::string& name);
  S3Result<std::vector<BucketInfo>> list_buckets();
  // Whether anyone may read the bucket's objects (kept in objects.db); NoSuchBucket.
  S3Result<bool> public_read(const std::string& name);
  S3Result<void> set_public_read(const std::string& name, bool public_read);

  // `digest` is that of `data` (the caller has it from verifying the request).
  S3Result<ObjectInfo> put(const std::string& bucket, const std::string& key, std::string_view data,
                           ObjectMeta meta, const BodyDigest& digest);
  // put() of a body written as it arrives: `body` is given the sink of the file being
  // written; nothing is stored unless it succeeds.
  S3Result<ObjectInfo> put_streamed(const std::string& bucket, const std::string& key,
                                    ObjectMeta meta, const BodyProducer& body);
  // NoSuchBucket, NoSuchKey.
  S3Result<ObjectInfo> head(const std::string& bucket, const std::string& key);
  S3Result<OpenObject> open_object(const std::string& bucket, const std::string& key);
  // The removed object, or nullopt when there was none (not an error, as in S3).
  S3Result<std::optional<ObjectInfo>> remove(const std::string& bucket, const std::string& key);
  // Copies an object; `meta` replaces the source's when given.
  S3Result<ObjectInfo> copy(const std::string& src_bucket, const std::string& src_key,
                            const std::string& bucket, const std::string& key,
                            std::optional<ObjectMeta> meta);
  S3Result<ListPage> list(const std::string& bucket, const ListQuery& query);

  // Multipart uploads (multipart.cc). Each takes the bucket and key the upload was made
  // for; NoSuchUpload when the id is unknown or belongs to another key.
  S3Result<std::string> create_upload(const std::string& bucket, const std::string& key,
                                      const ObjectMeta& meta);
  // InvalidArgument for a part number outside 1..10000.
  S3Result<PartInfo> upload_part(const std::string& bucket, const std::string& key,
                                 const std::string& upload_id, int number, std::string_view data,
                                 const BodyDigest& digest);
  S3Result<PartInfo> upload_part_streamed(const std::string& bucket, const std::string& key,
                                          const std::string& upload_id, int number,
                                          const BodyProducer& body);
  // InvalidPartOrder, InvalidPart (unknown part or ETag mismatch), EntityTooSmall.
  S3Result<ObjectInfo> complete_upload(const std::string& bucket, const std::string& key,
                                       const std::string& upload_id,
                                       const std::vector<CompletedPart>& parts);
  S3Result<void> abort_upload(const std::string& bucket, const std::string& key,
                              const std::string& upload_id);
  S3Result<std::vector<PartInfo>> list_parts(const std::string& bucket, const std::string& key,
                                             const std::string& upload_id);

 private:
  ObjectStore(StoreOptions options, std::unique_ptr<store::Database> db);
  std::string bucket_dir(const std::string& bucket) const;
  std::string upload_dir(const std::string& upload_id) const;
  S3Result<void> check_bucket(const std::string& bucket);
  S3Result<std::optional<std::pair<ObjectInfo, std::string>>> find(const std::string& bucket,
                                                                   const std::string& key);
  // Points the key's row at `file` (already in place); removes the previous file.
  S3Result<ObjectInfo> commit(ObjectInfo info, const std::string& file);
  // The upload's stored metadata; NoSuchUpload. Call under mu_.
  S3Result<ObjectMeta> find_upload(const std::string& bucket, const std::string& key,
                                   const std::string& upload_id);
  // Commits a completed upload: the object row in, the upload's rows out, one transaction.
  S3Result<ObjectInfo> finish_upload(ObjectInfo info, const std::string& file,
                                     const std::string& upload_id);
  void sweep();

  const StoreOptions options_;
  std::unique_ptr<store::Database> db_;
  std::mutex mu_;  // serializes row changes and row-plus-file lookups
};

// Milliseconds since the Unix epoch, now.
int64_t now_ms();

}  // namespace kumo::storage
