// Internal to src/storage: the SQL behind ObjectStore, one function per statement, and the
// checks and errors the store shares between its files. Callers hold the store's lock
// where the contract of ObjectStore asks for it.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <utility>

#include "storage/object_store.h"
#include "store/sqlite.h"

namespace kumo::storage {

// KeyTooLongError past 1024 bytes; InvalidArgument for an empty key or one with a NUL.
S3Result<void> check_key(const std::string& key);
S3Error no_such_key(const std::string& bucket, const std::string& key);
S3Error no_such_bucket(const std::string& bucket);

std::string headers_to_json(const StoredHeaders& headers);
StoredHeaders headers_from_json(const std::string& text);

// The object's row and its file name, or nullopt.
S3Result<std::optional<std::pair<ObjectInfo, std::string>>> find_object(store::Database& db,
                                                                        const std::string& bucket,
                                                                        const std::string& key);
S3Result<void> upsert_object(store::Database& db, const ObjectInfo& info, const std::string& file);
S3Result<void> delete_object_row(store::Database& db, const std::string& bucket,
                                 const std::string& key);

// Columns of an object row as read by the SELECTs here, in this order.
inline constexpr const char* kObjectColumns =
    "bucket, key, size, etag, crc32, content_type, headers, mtime_ms, file";
ObjectInfo object_from_row(const store::Statement& st);

// Every file a row points at, relative to objects/: "<bucket>/<file>" and
// ".uploads/<upload id>/<file>".
S3Result<std::set<std::string>> referenced_files(store::Database& db);

}  // namespace kumo::storage
