#include "storage/object_store.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "common/ids.h"
#include "storage/store_rows.h"

namespace kumo::storage {
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS buckets (
  name        TEXT PRIMARY KEY,  -- TENANT~NAME for a tenant's bucket (auth/access.h)
  created_ms  INTEGER NOT NULL,
  public_read INTEGER NOT NULL DEFAULT 0  -- 1: anyone may GET and HEAD its objects
);
CREATE TABLE IF NOT EXISTS objects (
  bucket       TEXT NOT NULL,
  key          TEXT NOT NULL,
  file         TEXT NOT NULL,
  size         INTEGER NOT NULL,
  etag         TEXT NOT NULL,
  crc32        TEXT NOT NULL,
  content_type TEXT NOT NULL,
  headers      TEXT NOT NULL,
  mtime_ms     INTEGER NOT NULL,
  PRIMARY KEY (bucket, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS uploads (
  id           TEXT PRIMARY KEY,
  bucket       TEXT NOT NULL,
  key          TEXT NOT NULL,
  content_type TEXT NOT NULL,
  headers      TEXT NOT NULL,
  created_ms   INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS parts (
  upload_id TEXT NOT NULL,
  number    INTEGER NOT NULL,
  file      TEXT NOT NULL,
  size      INTEGER NOT NULL,
  etag      TEXT NOT NULL,
  crc32     TEXT NOT NULL,
  mtime_ms  INTEGER NOT NULL,
  PRIMARY KEY (upload_id, number)
) WITHOUT ROWID;
)sql";

bool lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// Data made before buckets had public_read lacks the column; its buckets are private.
Result<void> migrate(store::Database& db) {
  auto st = db.prepare("SELECT 1 FROM pragma_table_info('buckets') WHERE name = 'public_read'");
  if (!st) return st.error();
  auto row = st->step();
  if (!row) return row.error();
  if (*row) return {};
  return db.exec("ALTER TABLE buckets ADD COLUMN public_read INTEGER NOT NULL DEFAULT 0");
}

}  // namespace

bool valid_s3_bucket_name(std::string_view name) {
  if (name.size() < 3 || name.size() > 63) return false;
  if (!lower_alnum(name.front()) || !lower_alnum(name.back())) return false;
  for (char c : name) {
    if (!lower_alnum(c) && c != '-' && c != '.') return false;
  }
  return name.find("..") == std::string_view::npos;
}

bool valid_bucket_name(std::string_view name) {
  size_t sep = name.find('~');
  if (sep == std::string_view::npos) return valid_s3_bucket_name(name);
  std::string_view tenant = name.substr(0, sep);
  bool tenant_ok =
      !tenant.empty() && tenant.size() <= 63 &&
      std::all_of(tenant.begin(), tenant.end(), [](char c) { return lower_alnum(c) || c == '-'; });
  return tenant_ok && valid_s3_bucket_name(name.substr(sep + 1));
}

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Result<std::unique_ptr<ObjectStore>> ObjectStore::open(StoreOptions options) {
  std::error_code ec;
  std::filesystem::create_directories(options.data_dir + "/objects/.uploads", ec);
  if (ec) {
    return make_error(ErrorCode::kInternal,
                      fmt::format("cannot create {}/objects: {}", options.data_dir, ec.message()));
  }
  auto db = store::Database::open(options.data_dir + "/objects.db");
  if (!db) return db.error();
  auto made = (*db)->exec(kSchema);
  if (made) made = migrate(**db);
  if (!made) {
    return make_error(made.error().code,
                      "cannot create the object tables: " + made.error().message);
  }
  std::unique_ptr<ObjectStore> s(new ObjectStore(std::move(options), std::move(*db)));
  s->sweep();
  return s;
}

ObjectStore::ObjectStore(StoreOptions options, std::unique_ptr<store::Database> db)
    : options_(std::move(options)), db_(std::move(db)) {}

std::string ObjectStore::bucket_dir(const std::string& bucket) const {
  return options_.data_dir + "/objects/" + bucket;
}

std::string ObjectStore::upload_dir(const std::string& upload_id) const {
  return options_.data_dir + "/objects/.uploads/" + upload_id;
}

bool ObjectStore::bucket_exists(const std::string& name) {
  auto st = db_->prepare("SELECT 1 FROM buckets WHERE name = ?1");
  if (!st) return false;
  st->bind(1, std::string_view(name));
  auto row = st->step();
  return row && *row;
}

S3Result<void> ObjectStore::check_bucket(const std::string& bucket) {
  if (bucket_exists(bucket)) return {};
  return no_such_bucket(bucket);
}

S3Result<void> ObjectStore::create_bucket(const std::string& name, bool public_read) {
  if (!valid_bucket_name(name)) {
    return s3_error("InvalidBucketName",
                    fmt::format("'{}' is not a valid bucket name: use 3-63 lower-case letters, "
                                "digits, '-' and '.', starting and ending with a letter or digit",
                                name));
  }
  std::lock_guard lock(mu_);
  if (bucket_exists(name)) {
    return s3_error("BucketAlreadyOwnedByYou", fmt::format("the bucket '{}' already exists", name));
  }
  std::error_code ec;
  std::filesystem::create_directories(bucket_dir(name), ec);
  if (ec)
    return internal_error(fmt::format("cannot create {}: {}", bucket_dir(name), ec.message()));
  auto st = db_->prepare("INSERT INTO buckets (name, created_ms, public_read) VALUES (?1, ?2, ?3)");
  if (!st) return internal_error(st.error().message);
  st->bind(1, std::string_view(name)).bind(2, now_ms()).bind(3, int64_t{public_read ? 1 : 0});
  if (auto r = st->run(); !r) return internal_error(r.error().message);
  return {};
}

S3Result<void> ObjectStore::delete_bucket(const std::string& name) {
  std::lock_guard lock(mu_);
  if (auto b = check_bucket(name); !b) return b;
  for (const char* table : {"objects", "uploads"}) {
    auto st = db_->prepare(fmt::format("SELECT 1 FROM {} WHERE bucket = ?1 LIMIT 1", table));
    if (!st) return internal_error(st.error().message);
    st->bind(1, std::string_view(name));
    auto row = st->step();
    if (!row) return internal_error(row.error().message);
    if (*row) {
      return s3_error("BucketNotEmpty",
                      fmt::format("the bucket '{}' still holds objects or unfinished uploads; "
                                  "delete them first",
                                  name));
    }
  }
  auto st = db_->prepare("DELETE FROM buckets WHERE name = ?1");
  if (!st) return internal_error(st.error().message);
  st->bind(1, std::string_view(name));
  if (auto r = st->run(); !r) return internal_error(r.error().message);
  std::error_code ec;
  std::filesystem::remove_all(bucket_dir(name), ec);
  return {};
}

S3Result<std::vector<BucketInfo>> ObjectStore::list_buckets() {
  auto st = db_->prepare("SELECT name, created_ms, public_read FROM buckets ORDER BY name");
  if (!st) return internal_error(st.error().message);
  std::vector<BucketInfo> out;
  while (true) {
    auto row = st->step();
    if (!row) return internal_error(row.error().message);
    if (!*row) break;
    out.push_back({st->text(0), st->int64(1), st->int64(2) != 0});
  }
  return out;
}

S3Result<bool> ObjectStore::public_read(const std::string& name) {
  auto st = db_->prepare("SELECT public_read FROM buckets WHERE name = ?1");
  if (!st) return internal_error(st.error().message);
  st->bind(1, std::string_view(name));
  auto row = st->step();
  if (!row) return internal_error(row.error().message);
  if (!*row) return no_such_bucket(name);
  return st->int64(0) != 0;
}

S3Result<void> ObjectStore::set_public_read(const std::string& name, bool public_read) {
  std::lock_guard lock(mu_);
  auto st = db_->prepare("UPDATE buckets SET public_read = ?2 WHERE name = ?1");
  if (!st) return internal_error(st.error().message);
  st->bind(1, std::string_view(name)).bind(2, int64_t{public_read ? 1 : 0});
  if (auto r = st->run(); !r) return internal_error(r.error().message);
  if (db_->changes() == 0) return no_such_bucket(name);
  return {};
}

S3Result<ObjectInfo> ObjectStore::put(const std::string& bucket, const std::string& key,
                                      std::string_view data, ObjectMeta meta,
                                      const BodyDigest& digest) {
  return put_streamed(bucket, key, std::move(meta),
                      [&](const ByteSink& sink) -> S3Result<StoredBody> {
                        if (auto w = sink(data); !w) return w.error();
                        return StoredBody{static_cast<int64_t>(data.size()), digest};
                      });
}

S3Result<StoredBody> write_body(const std::string& dir, const std::string& name,
                                const BodyProducer& body) {
  StoredBody stored;
  auto written = write_atomic_from(dir, name, [&](const ByteSink& sink) {
    auto produced = body(sink);
    if (!produced) return S3Result<void>(produced.error());
    stored = std::move(*produced);
    return S3Result<void>();
  });
  if (!written) return written.error();
  return stored;
}

S3Result<ObjectInfo> ObjectStore::put_streamed(const std::string& bucket, const std::string& key,
                                               ObjectMeta meta, const BodyProducer& body) {
  if (auto k = check_key(key); !k) return k.error();
  if (auto b = check_bucket(bucket); !b) return b.error();
  std::string file = new_short_id();
  auto stored = write_body(bucket_dir(bucket), file, body);
  if (!stored) return stored.error();
  ObjectInfo info{bucket,
                  key,
                  stored->size,
                  stored->digest.md5_hex,
                  stored->digest.crc32_base64,
                  now_ms(),
                  std::move(meta)};
  return commit(std::move(info), file);
}

S3Result<ObjectInfo> ObjectStore::commit(ObjectInfo info, const std::string& file) {
  std::string old_file;
  {
    std::lock_guard lock(mu_);
    if (auto b = check_bucket(info.bucket); !b) {
      remove_quietly(bucket_dir(info.bucket) + "/" + file);
      return b.error();
    }
    auto found = find(info.bucket, info.key);
    if (!found) return found.error();
    if (*found) old_file = (*found)->second;
    if (auto r = upsert_object(*db_, info, file); !r) return r.error();
  }
  if (!old_file.empty()) remove_quietly(bucket_dir(info.bucket) + "/" + old_file);
  return info;
}

S3Result<std::optional<std::pair<ObjectInfo, std::string>>> ObjectStore::find(
    const std::string& bucket, const std::string& key) {
  return find_object(*db_, bucket, key);
}

S3Result<ObjectInfo> ObjectStore::head(const std::string& bucket, const std::string& key) {
  if (auto b = check_bucket(bucket); !b) return b.error();
  auto found = find(bucket, key);
  if (!found) return found.error();
  if (!*found) return no_such_key(bucket, key);
  return std::move((*found)->first);
}

S3Result<OpenObject> ObjectStore::open_object(const std::string& bucket, const std::string& key) {
  if (auto b = check_bucket(bucket); !b) return b.error();
  std::lock_guard lock(mu_);
  auto found = find(bucket, key);
  if (!found) return found.error();
  if (!*found) return no_such_key(bucket, key);
  auto file = ReadFile::open(bucket_dir(bucket) + "/" + (*found)->second);
  if (!file) return file.error();
  return OpenObject{std::move((*found)->first), std::move(*file)};
}

S3Result<std::optional<ObjectInfo>> ObjectStore::remove(const std::string& bucket,
                                                        const std::string& key) {
  if (auto b = check_bucket(bucket); !b) return b.error();
  std::optional<std::pair<ObjectInfo, std::string>> gone;
  {
    std::lock_guard lock(mu_);
    auto found = find(bucket, key);
    if (!found) return found.error();
    if (!*found) return std::optional<ObjectInfo>();
    if (auto r = delete_object_row(*db_, bucket, key); !r) return r.error();
    gone = std::move(**found);
  }
  remove_quietly(bucket_dir(bucket) + "/" + gone->second);
  return std::optional<ObjectInfo>(std::move(gone->first));
}

S3Result<ObjectInfo> ObjectStore::copy(const std::string& src_bucket, const std::string& src_key,
                                       const std::string& bucket, const std::string& key,
                                       std::optional<ObjectMeta> meta) {
  if (auto k = check_key(key); !k) return k.error();
  if (auto b = check_bucket(bucket); !b) return b.error();
  auto src = open_object(src_bucket, src_key);
  if (!src) return src.error();
  auto data = src->file.read(0, src->info.size);
  if (!data) return data.error();
  std::string file = new_short_id();
  if (auto w = write_atomic(bucket_dir(bucket), file, *data); !w) return w.error();
  ObjectInfo info = src->info;
  info.bucket = bucket;
  info.key = key;
  info.mtime_ms = now_ms();
  if (meta) info.meta = std::move(*meta);
  return commit(std::move(info), file);
}

// Removes what a crash left: temp files, object files no row points at, and part folders
// of uploads that are gone.
void ObjectStore::sweep() {
  namespace fs = std::filesystem;
  std::error_code ec;
  auto referenced = referenced_files(*db_);
  if (!referenced) return spdlog::warn("storage: not sweeping: {}", referenced.error().message);
  std::vector<fs::path> stale;
  for (const auto& f : fs::recursive_directory_iterator(options_.data_dir + "/objects", ec)) {
    if (!f.is_regular_file(ec)) continue;
    std::string rel = fs::relative(f.path(), options_.data_dir + "/objects", ec).string();
    if (referenced->count(rel) == 0) stale.push_back(f.path());
  }
  for (const auto& path : stale) {
    spdlog::info("storage: removing {}, left by an interrupted write", path.string());
    remove_quietly(path.string());
  }
  for (const auto& u : fs::directory_iterator(options_.data_dir + "/objects/.uploads", ec)) {
    if (fs::is_empty(u.path(), ec)) fs::remove(u.path(), ec);
  }
}

}  // namespace kumo::storage
