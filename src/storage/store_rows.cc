#include "storage/store_rows.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

namespace kumo::storage {

S3Result<void> check_key(const std::string& key) {
  if (key.empty()) return s3_error("InvalidArgument", "the object key is empty");
  if (key.size() > 1024) {
    return s3_error("KeyTooLongError",
                    fmt::format("the key is {} bytes; keys are at most 1024", key.size()));
  }
  if (key.find('\0') != std::string::npos) {
    return s3_error("InvalidArgument", "the object key contains a NUL character");
  }
  return {};
}

S3Error no_such_key(const std::string& bucket, const std::string& key) {
  return s3_error("NoSuchKey",
                  fmt::format("the key '{}' does not exist in bucket '{}'; `kumo ls-objects {}` "
                              "lists its keys",
                              key, bucket, bucket));
}

S3Error no_such_bucket(const std::string& bucket) {
  return s3_error(
      "NoSuchBucket",
      fmt::format("the bucket '{}' does not exist; `kumo mb {}` creates it", bucket, bucket));
}

std::string headers_to_json(const StoredHeaders& headers) {
  nlohmann::json j = nlohmann::json::array();
  for (const auto& [name, value] : headers) j.push_back({name, value});
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

StoredHeaders headers_from_json(const std::string& text) {
  StoredHeaders out;
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_array()) return out;
  for (const auto& pair : j) {
    if (pair.is_array() && pair.size() == 2 && pair[0].is_string() && pair[1].is_string()) {
      out.emplace_back(pair[0].get<std::string>(), pair[1].get<std::string>());
    }
  }
  return out;
}

ObjectInfo object_from_row(const store::Statement& st) {
  ObjectInfo info;
  info.bucket = st.text(0);
  info.key = st.text(1);
  info.size = st.int64(2);
  info.etag = st.text(3);
  info.crc32 = st.text(4);
  info.meta.content_type = st.text(5);
  info.meta.headers = headers_from_json(st.text(6));
  info.mtime_ms = st.int64(7);
  return info;
}

S3Result<std::optional<std::pair<ObjectInfo, std::string>>> find_object(store::Database& db,
                                                                        const std::string& bucket,
                                                                        const std::string& key) {
  auto st = db.prepare(
      fmt::format("SELECT {} FROM objects WHERE bucket = ?1 AND key = ?2", kObjectColumns));
  if (!st) return internal_error(st.error().message);
  st->bind(1, std::string_view(bucket)).bind(2, std::string_view(key));
  auto row = st->step();
  if (!row) return internal_error(row.error().message);
  if (!*row) return std::optional<std::pair<ObjectInfo, std::string>>();
  return std::optional(std::pair(object_from_row(*st), st->text(8)));
}

S3Result<void> upsert_object(store::Database& db, const ObjectInfo& info, const std::string& file) {
  auto st = db.prepare(
      "INSERT OR REPLACE INTO objects (bucket, key, file, size, etag, crc32, content_type, "
      "headers, mtime_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
  if (!st) return internal_error(st.error().message);
  std::string headers = headers_to_json(info.meta.headers);
  st->bind(1, std::string_view(info.bucket))
      .bind(2, std::string_view(info.key))
      .bind(3, std::string_view(file))
      .bind(4, info.size)
      .bind(5, std::string_view(info.etag))
      .bind(6, std::string_view(info.crc32))
      .bind(7, std::string_view(info.meta.content_type))
      .bind(8, std::string_view(headers))
      .bind(9, info.mtime_ms);
  if (auto r = st->run(); !r) return internal_error(r.error().message);
  return {};
}

S3Result<void> delete_object_row(store::Database& db, const std::string& bucket,
                                 const std::string& key) {
  // freeing(): a delete must work on a full disk (store/sqlite.h).
  auto deleted = db.freeing([&]() -> Result<void> {
    auto st = db.prepare("DELETE FROM objects WHERE bucket = ?1 AND key = ?2");
    if (!st) return st.error();
    st->bind(1, std::string_view(bucket)).bind(2, std::string_view(key));
    return st->run();
  });
  if (!deleted) return internal_error(deleted.error().message);
  return {};
}

S3Result<std::set<std::string>> referenced_files(store::Database& db) {
  std::set<std::string> out;
  for (const char* sql : {"SELECT bucket || '/' || file FROM objects",
                          "SELECT '.uploads/' || upload_id || '/' || file FROM parts"}) {
    auto st = db.prepare(sql);
    if (!st) return internal_error(st.error().message);
    while (true) {
      auto row = st->step();
      if (!row) return internal_error(row.error().message);
      if (!*row) break;
      out.insert(st->text(0));
    }
  }
  return out;
}

}  // namespace kumo::storage
