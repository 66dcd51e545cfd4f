// ObjectStore's multipart uploads: parts are files in .uploads/<id>/ with a row each;
// completing concatenates them into one object file and switches rows in one transaction.
#include <fmt/format.h>

#include <algorithm>
#include <filesystem>

#include "common/ids.h"
#include "storage/object_store.h"
#include "storage/store_rows.h"

namespace kumo::storage {
namespace {

struct StoredPart {
  PartInfo info;
  std::string file;
};

S3Result<std::vector<StoredPart>> load_parts(store::Database& db, const std::string& upload_id) {
  auto st = db.prepare(
      "SELECT number, size, etag, crc32, mtime_ms, file FROM parts WHERE upload_id = ?1 "
      "ORDER BY number");
  if (!st) return internal_error(st.error().message);
  st->bind(1, std::string_view(upload_id));
  std::vector<StoredPart> out;
  while (true) {
    auto row = st->step();
    if (!row) return internal_error(row.error().message);
    if (!*row) break;
    out.push_back(
        {{static_cast<int>(st->int64(0)), st->int64(1), st->text(2), st->text(3), st->int64(4)},
         st->text(5)});
  }
  return out;
}

S3Result<void> run(store::Database& db, std::string_view sql, const std::string& arg) {
  auto st = db.prepare(sql);
  if (!st) return internal_error(st.error().message);
  st->bind(1, std::string_view(arg));
  if (auto r = st->run(); !r) return internal_error(r.error().message);
  return {};
}

std::string unquote(std::string_view etag) {
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') {
    etag = etag.substr(1, etag.size() - 2);
  }
  std::string out(etag);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// Checks the client's list against the stored parts; returns the stored ones it names.
S3Result<std::vector<StoredPart>> match_parts(const std::vector<CompletedPart>& wanted,
                                              const std::vector<StoredPart>& stored,
                                              int64_t min_part_bytes) {
  std::vector<StoredPart> out;
  for (size_t i = 0; i < wanted.size(); ++i) {
    if (i > 0 && wanted[i].number <= wanted[i - 1].number) {
      return s3_error("InvalidPartOrder",
                      "the list of parts was not in ascending order; list each part once, "
                      "by part number");
    }
    auto it = std::find_if(stored.begin(), stored.end(),
                           [&](const StoredPart& p) { return p.info.number == wanted[i].number; });
    if (it == stored.end() || it->info.etag != unquote(wanted[i].etag)) {
      return s3_error(
          "InvalidPart",
          fmt::format("part {} was not uploaded or its ETag does not match", wanted[i].number));
    }
    out.push_back(*it);
  }
  for (size_t i = 0; i + 1 < out.size(); ++i) {
    if (out[i].info.size < min_part_bytes) {
      return s3_error("EntityTooSmall",
                      fmt::format("part {} is {} bytes; every part but the last must be at "
                                  "least {} bytes",
                                  out[i].info.number, out[i].info.size, min_part_bytes));
    }
  }
  return out;
}

std::string multipart_etag(const std::vector<StoredPart>& parts) {
  std::string md5s;
  for (const auto& p : parts) md5s += from_hex(p.info.etag).value_or(std::string(16, '\0'));
  return fmt::format("{}-{}", to_hex(md5_raw(md5s)), parts.size());
}

}  // namespace

S3Result<ObjectMeta> ObjectStore::find_upload(const std::string& bucket, const std::string& key,
                                              const std::string& upload_id) {
  auto st = db_->prepare(
      "SELECT content_type, headers FROM uploads "
      "WHERE id = ?1 AND bucket = ?2 AND key = ?3");
  if (!st) return internal_error(st.error().message);
  st->bind(1, std::string_view(upload_id))
      .bind(2, std::string_view(bucket))
      .bind(3, std::string_view(key));
  auto row = st->step();
  if (!row) return internal_error(row.error().message);
  if (!*row) {
    return s3_error("NoSuchUpload",
                    fmt::format("the upload '{}' does not exist for '{}/{}': it may have been "
                                "completed or aborted",
                                upload_id, bucket, key));
  }
  return ObjectMeta{st->text(0), headers_from_json(st->text(1))};
}

S3Result<std::string> ObjectStore::create_upload(const std::string& bucket, const std::string& key,
                                                 const ObjectMeta& meta) {
  if (auto k = check_key(key); !k) return k.error();
  if (auto b = check_bucket(bucket); !b) return b.error();
  std::string id = new_short_id() + new_short_id();
  auto st = db_->prepare(
      "INSERT INTO uploads (id, bucket, key, content_type, headers, "
      "created_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
  if (!st) return internal_error(st.error().message);
  std::string headers = headers_to_json(meta.headers);
  st->bind(1, std::string_view(id))
      .bind(2, std::string_view(bucket))
      .bind(3, std::string_view(key))
      .bind(4, std::string_view(meta.content_type))
      .bind(5, std::string_view(headers))
      .bind(6, now_ms());
  if (auto r = st->run(); !r) return internal_error(r.error().message);
  return id;
}

S3Result<PartInfo> ObjectStore::upload_part(const std::string& bucket, const std::string& key,
                                            const std::string& upload_id, int number,
                                            std::string_view data, const BodyDigest& digest) {
  return upload_part_streamed(bucket, key, upload_id, number,
                              [&](const ByteSink& sink) -> S3Result<StoredBody> {
                                if (auto w = sink(data); !w) return w.error();
                                return StoredBody{static_cast<int64_t>(data.size()), digest};
                              });
}

S3Result<PartInfo> ObjectStore::upload_part_streamed(const std::string& bucket,
                                                     const std::string& key,
                                                     const std::string& upload_id, int number,
                                                     const BodyProducer& body) {
  if (number < 1 || number > 10000) {
    return s3_error("InvalidArgument", "part number must be an integer from 1 to 10000");
  }
  if (auto b = check_bucket(bucket); !b) return b.error();
  {
    std::lock_guard lock(mu_);
    if (auto u = find_upload(bucket, key, upload_id); !u) return u.error();
  }
  std::error_code ec;
  std::filesystem::create_directories(upload_dir(upload_id), ec);
  std::string file = fmt::format("{}-{}", number, new_short_id());
  auto stored = write_body(upload_dir(upload_id), file, body);
  if (!stored) return stored.error();
  PartInfo part{number, stored->size, stored->digest.md5_hex, stored->digest.crc32_base64,
                now_ms()};
  std::string old_file;
  {
    std::lock_guard lock(mu_);
    if (auto u = find_upload(bucket, key, upload_id); !u) {
      remove_quietly(upload_dir(upload_id) + "/" + file);
      return u.error();
    }
    auto parts = load_parts(*db_, upload_id);
    if (!parts) return parts.error();
    for (const auto& p : *parts) {
      if (p.info.number == number) old_file = p.file;
    }
    auto st = db_->prepare(
        "INSERT OR REPLACE INTO parts (upload_id, number, file, size, etag, "
        "crc32, mtime_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
    if (!st) return internal_error(st.error().message);
    st->bind(1, std::string_view(upload_id))
        .bind(2, static_cast<int64_t>(number))
        .bind(3, std::string_view(file))
        .bind(4, part.size)
        .bind(5, std::string_view(part.etag))
        .bind(6, std::string_view(part.crc32))
        .bind(7, part.mtime_ms);
    if (auto r = st->run(); !r) return internal_error(r.error().message);
  }
  if (!old_file.empty()) remove_quietly(upload_dir(upload_id) + "/" + old_file);
  return part;
}

S3Result<ObjectInfo> ObjectStore::complete_upload(const std::string& bucket, const std::string& key,
                                                  const std::string& upload_id,
                                                  const std::vector<CompletedPart>& parts) {
  if (auto b = check_bucket(bucket); !b) return b.error();
  if (parts.empty()) return s3_error("MalformedXML", "name at least one part to complete");
  ObjectMeta meta;
  std::vector<StoredPart> chosen;
  {
    std::lock_guard lock(mu_);
    auto found = find_upload(bucket, key, upload_id);
    if (!found) return found.error();
    meta = std::move(*found);
    auto stored = load_parts(*db_, upload_id);
    if (!stored) return stored.error();
    auto matched = match_parts(parts, *stored, options_.min_part_bytes);
    if (!matched) return matched.error();
    chosen = std::move(*matched);
  }
  std::vector<std::string> sources;
  int64_t size = 0;
  for (const auto& p : chosen) {
    sources.push_back(upload_dir(upload_id) + "/" + p.file);
    size += p.info.size;
  }
  Digests digests;
  std::string file = new_short_id();
  if (auto w = concat_atomic(bucket_dir(bucket), file, sources, digests); !w) return w.error();
  ObjectInfo info{
      bucket,         key, size, multipart_etag(chosen), crc32_base64(digests.crc32()), now_ms(),
      std::move(meta)};
  return finish_upload(std::move(info), file, upload_id);
}

S3Result<ObjectInfo> ObjectStore::finish_upload(ObjectInfo info, const std::string& file,
                                                const std::string& upload_id) {
  std::string old_file;
  {
    std::lock_guard lock(mu_);
    auto still = find_upload(info.bucket, info.key, upload_id);
    if (!still) {
      remove_quietly(bucket_dir(info.bucket) + "/" + file);
      return still.error();
    }
    auto found = find(info.bucket, info.key);
    if (!found) return found.error();
    if (*found) old_file = (*found)->second;
    if (auto r = db_->exec("BEGIN IMMEDIATE"); !r) return internal_error(r.error().message);
    S3Result<void> done = upsert_object(*db_, info, file);
    if (done) done = run(*db_, "DELETE FROM parts WHERE upload_id = ?1", upload_id);
    if (done) done = run(*db_, "DELETE FROM uploads WHERE id = ?1", upload_id);
    if (auto r = db_->exec(done ? "COMMIT" : "ROLLBACK"); !r && done) {
      done = internal_error(r.error().message);
    }
    if (!done) {
      remove_quietly(bucket_dir(info.bucket) + "/" + file);
      return done.error();
    }
  }
  if (!old_file.empty()) remove_quietly(bucket_dir(info.bucket) + "/" + old_file);
  std::error_code ec;
  std::filesystem::remove_all(upload_dir(upload_id), ec);
  return info;
}

S3Result<void> ObjectStore::abort_upload(const std::string& bucket, const std::string& key,
                                         const std::string& upload_id) {
  if (auto b = check_bucket(bucket); !b) return b;
  {
    std::lock_guard lock(mu_);
    if (auto u = find_upload(bucket, key, upload_id); !u) return u.error();
    if (auto r = run(*db_, "DELETE FROM parts WHERE upload_id = ?1", upload_id); !r) return r;
    if (auto r = run(*db_, "DELETE FROM uploads WHERE id = ?1", upload_id); !r) return r;
  }
  std::error_code ec;
  std::filesystem::remove_all(upload_dir(upload_id), ec);
  return {};
}

S3Result<std::vector<PartInfo>> ObjectStore::list_parts(const std::string& bucket,
                                                        const std::string& key,
                                                        const std::string& upload_id) {
  if (auto b = check_bucket(bucket); !b) return b.error();
  std::lock_guard lock(mu_);
  if (auto u = find_upload(bucket, key, upload_id); !u) return u.error();
  auto stored = load_parts(*db_, upload_id);
  if (!stored) return stored.error();
  std::vector<PartInfo> out;
  for (auto& p : *stored) out.push_back(std::move(p.info));
  return out;
}

}  // namespace kumo::storage
