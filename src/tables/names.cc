#include "tables/names.h"

#include <fmt/format.h>

#include "common/json.h"
#include "common/tenant_name.h"

namespace kumo::tables {
namespace {

bool valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) >> 6) != 0x2) return false;
    }
    i += n;
  }
  return true;
}

const char* json_type_name(const nlohmann::json& v) {
  return v.is_array()     ? "an array"
         : v.is_string()  ? "a string"
         : v.is_number()  ? "a number"
         : v.is_boolean() ? "a boolean"
                          : "null";
}

}  // namespace

namespace {

bool is_local_table_name(std::string_view name) {
  auto ok_first = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  bool ok = !name.empty() && name.size() <= 63 && ok_first(name[0]);
  for (size_t i = 1; ok && i < name.size(); ++i) {
    ok = ok_first(name[i]) || name[i] == '_' || name[i] == '.' || name[i] == '-';
  }
  return ok;
}

}  // namespace

Result<void> check_table_name(std::string_view name) {
  if (is_internal_name(name, is_local_table_name)) return {};
  return make_error(ErrorCode::kInvalidArgument,
                    fmt::format("table name '{}' is invalid: use 1 to 63 of a-z, 0-9, '_', '.' "
                                "and '-', starting with a letter or digit",
                                name.substr(0, 200)));
}

Result<void> check_key(std::string_view key) {
  if (key.empty()) {
    return make_error(ErrorCode::kInvalidArgument, "the item key must not be empty");
  }
  if (key.size() > kMaxKeyBytes) {
    return make_error(
        ErrorCode::kInvalidArgument,
        fmt::format("the item key is {} bytes; the limit is {}", key.size(), kMaxKeyBytes));
  }
  if (!valid_utf8(key)) {
    return make_error(ErrorCode::kInvalidArgument, "the item key must be valid UTF-8");
  }
  return {};
}

Result<nlohmann::json> parse_item(std::string_view key, std::string_view body) {
  auto parsed = parse_json(body);
  if (!parsed) {
    return make_error(ErrorCode::kInvalidArgument,
                      "the body must be a JSON object: " + parsed.error().message);
  }
  nlohmann::json& item = *parsed;
  if (!item.is_object()) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("the body must be a JSON object, got {}", json_type_name(item)));
  }
  size_t size = key.size() + item.dump().size();
  if (size > kMaxItemBytes) {
    return make_error(ErrorCode::kTooLarge,
                      fmt::format("the item is {} bytes (key and compact JSON); the limit is "
                                  "{} (400 KB, as in DynamoDB)",
                                  size, kMaxItemBytes));
  }
  return std::move(item);
}

std::string prefix_end(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty() && static_cast<unsigned char>(end.back()) == 0xff) end.pop_back();
  if (!end.empty()) end.back() = static_cast<char>(static_cast<unsigned char>(end.back()) + 1);
  return end;
}

}  // namespace kumo::tables
