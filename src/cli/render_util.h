// Internal helpers of the render*.cc files: lenient field access on server replies (a
// missing field reads as empty or zero, so an older server still renders) and the guard
// that turns a JSON exception into a Result. Not for use outside src/cli.
#pragma once

#include <fmt/format.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "common/result.h"

namespace kumo::cli {

inline std::string str_field(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return {};
  return it->is_string() ? it->get<std::string>() : it->dump();
}

inline int64_t int_field(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<int64_t>() : 0;
}

inline double double_field(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<double>() : 0.0;
}

// Runs `render`, turning a JSON exception (a reply of the wrong shape) into kInternal.
template <typename F>
Result<std::string> guarded(std::string_view what, F&& render) {
  try {
    return render();
  } catch (const nlohmann::json::exception& e) {
    return make_error(ErrorCode::kInternal,
                      fmt::format("the server's {} reply has an unexpected shape ({}); is the "
                                  "CLI older than the server?",
                                  what, e.what()));
  }
}

}  // namespace kumo::cli
