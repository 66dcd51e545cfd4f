// The rules for table names, item keys and items, checked before anything is stored.
// Errors are kInvalidArgument (400) or kTooLarge (413) with a message that says what to fix.
// Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "common/result.h"

namespace kumo::tables {

inline constexpr size_t kMaxKeyBytes = 1024;
// DynamoDB's item limit, counted here as the key plus the item's compact JSON.
inline constexpr size_t kMaxItemBytes = 400 * 1024;

// [a-z0-9][a-z0-9_.-]{0,62}, optionally after its tenant: TENANT~NAME, the name inside Kumo
// (common/tenant_name.h). A tenant's key cannot name a table with '~' (auth::Access::permit).
Result<void> check_table_name(std::string_view name);
// Non-empty valid UTF-8, at most kMaxKeyBytes.
Result<void> check_key(std::string_view key);
// Parses a request body as an item: a JSON object within kMaxItemBytes (with its key),
// nested at most kMaxJsonDepth (common/json.h) deep.
Result<nlohmann::json> parse_item(std::string_view key, std::string_view body);

// The smallest string greater than every string that starts with `prefix` (byte order), or
// "" when there is none (the prefix is empty or all 0xff bytes).
std::string prefix_end(std::string_view prefix);

}  // namespace kumo::tables
