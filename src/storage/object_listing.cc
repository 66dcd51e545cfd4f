// ObjectStore::list: ListObjects(V2) over the rows, in key order. With a delimiter, every
// key that has it after the prefix folds into one common prefix, and the scan jumps past
// that prefix instead of reading each key under it.
#include <fmt/format.h>

#include "storage/object_store.h"
#include "storage/store_rows.h"

namespace kumo::storage {
namespace {

constexpr int64_t kBatch = 1000;

// Greater than every UTF-8 key that starts with `prefix`.
std::string past(const std::string& prefix) { return prefix + "\xff"; }

struct Scan {
  const ListQuery& q;
  ListPage page;
  int count = 0;
  std::string cursor;  // strictly after this
  bool done = false;
};

// Takes one row's key into the page; false when the scan must restart at scan.cursor.
bool take(Scan& s, ObjectInfo info) {
  if (!info.key.starts_with(s.q.prefix)) {
    s.done = true;
    return true;
  }
  std::string common;
  if (!s.q.delimiter.empty()) {
    size_t at = info.key.find(s.q.delimiter, s.q.prefix.size());
    if (at != std::string::npos) common = info.key.substr(0, at + s.q.delimiter.size());
  }
  if (s.count == s.q.max_keys) {
    s.page.truncated = true;
    s.done = true;
    return true;
  }
  ++s.count;
  if (!common.empty()) {
    s.cursor = past(common);
    s.page.next_after = common;
    s.page.common_prefixes.push_back(std::move(common));
    return false;
  }
  s.cursor = info.key;
  s.page.next_after = info.key;
  s.page.objects.push_back(std::move(info));
  return true;
}

}  // namespace

S3Result<ListPage> ObjectStore::list(const std::string& bucket, const ListQuery& query) {
  if (auto b = check_bucket(bucket); !b) return b.error();
  Scan s{query, {}, 0, query.after};
  // Starting after a common prefix (V1's NextMarker, our V2 token) skips every key under it.
  if (!query.delimiter.empty() && query.after.starts_with(query.prefix)) {
    size_t at = query.after.find(query.delimiter, query.prefix.size());
    if (at != std::string::npos && at + query.delimiter.size() == query.after.size()) {
      s.cursor = past(query.after);
    }
  }
  auto st = db_->prepare(fmt::format(
      "SELECT {} FROM objects WHERE bucket = ?1 AND key > ?2 AND key >= ?3 ORDER BY key "
      "LIMIT ?4",
      kObjectColumns));
  if (!st) return internal_error(st.error().message);
  while (!s.done) {
    st->reset();
    st->bind(1, std::string_view(bucket))
        .bind(2, std::string_view(s.cursor))
        .bind(3, std::string_view(query.prefix))
        .bind(4, kBatch);
    int64_t rows = 0;
    bool restart = false;
    while (!s.done && !restart) {
      auto row = st->step();
      if (!row) return internal_error(row.error().message);
      if (!*row) break;
      ++rows;
      restart = !take(s, object_from_row(*st));
    }
    if (!restart && rows < kBatch) s.done = true;
  }
  if (!s.page.truncated) s.page.next_after.clear();
  return std::move(s.page);
}

}  // namespace kumo::storage
