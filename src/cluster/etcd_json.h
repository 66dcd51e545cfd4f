// The JSON of etcd's v3 gateway, both ways: bytes as base64, int64 as decimal strings,
// fields that are zero left out. Pure functions, for etcd.cc and its tests.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "cluster/etcd.h"
#include "common/result.h"

namespace kumo::cluster::etcd_json {

// The range_end that makes a range cover every key starting with `prefix`: the prefix with
// its last byte below 0xff incremented (and what follows dropped); "\0" (every key) for an
// empty or all-0xff prefix.
std::string range_end_of(std::string_view prefix);

// An int64 field written as a string (or a number); 0 when absent.
Result<int64_t> int_field(const nlohmann::json& object, const char* name);

Result<KeyValue> parse_kv(const nlohmann::json& kv);
// A /v3/kv/range reply.
Result<Range> parse_range(std::string_view body);
// The header revision of a reply.
Result<int64_t> parse_revision(std::string_view body);

// One line of a /v3/watch stream.
struct WatchLine {
  bool created = false;
  bool canceled = false;
  int64_t compact_revision = 0;  // non-zero: the start revision was compacted
  WatchUpdate update;            // events, and the header's revision
};
Result<WatchLine> parse_watch_line(std::string_view line);

// An error reply's message ({"error": "...", "code": N}), or the body itself.
std::string error_message(std::string_view body);

}  // namespace kumo::cluster::etcd_json
