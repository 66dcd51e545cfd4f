#include "common/json.h"

#include <cctype>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

namespace kumo {
namespace {

Error too_deep(size_t max_depth) {
  return make_error(ErrorCode::kInvalidArgument,
                    fmt::format("JSON nesting deeper than {} levels", max_depth));
}

}  // namespace

Result<void> check_json_depth(std::string_view text, size_t max_depth) {
  size_t depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;  // the escaped character, a quote included, does not end the string
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) return too_deep(max_depth);
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return {};
}

Result<void> check_json_value_depth(const nlohmann::json& value, size_t max_depth) {
  // Containers only, each with its own depth (1 for the outermost).
  std::vector<std::pair<const nlohmann::json*, size_t>> pending;
  if (value.is_structured()) pending.emplace_back(&value, 1);
  while (!pending.empty()) {
    auto [node, depth] = pending.back();
    pending.pop_back();
    if (depth > max_depth) return too_deep(max_depth);
    for (const auto& child : *node) {
      if (child.is_structured()) pending.emplace_back(&child, depth + 1);
    }
  }
  return {};
}

Result<nlohmann::json> parse_json(std::string_view text, size_t max_depth) {
  if (auto depth = check_json_depth(text, max_depth); !depth) return depth.error();
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    // e.what() is "[json.exception.parse_error.101] parse error at line 1, column 2: ...".
    std::string_view what = e.what();
    if (size_t at = what.find("] "); at != std::string_view::npos) what.remove_prefix(at + 2);
    return make_error(ErrorCode::kInvalidArgument, fmt::format("not JSON ({})", what));
  }
}

bool is_json_content_type(std::string_view content_type) {
  std::string type;
  for (char c : content_type.substr(0, content_type.find(';'))) {
    if (c != ' ' && c != '\t') type.push_back(static_cast<char>(std::tolower(c)));
  }
  return type == "application/json" || type.ends_with("+json");
}

}  // namespace kumo
