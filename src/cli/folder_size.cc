#include "cli/folder_size.h"

#include <fmt/format.h>

#include <array>
#include <filesystem>

namespace kumo::cli {
namespace {

namespace fs = std::filesystem;

// The folders registry::pack_directory() leaves out (registry/package.h).
bool skipped_folder(const fs::path& name) {
  static const std::array<std::string, 4> kSkip = {".git", "__pycache__", "node_modules", ".kumo"};
  for (const auto& s : kSkip) {
    if (name == s) return true;
  }
  return false;
}

}  // namespace

Result<uint64_t> folder_bytes(const std::string& dir) {
  std::error_code ec;
  uint64_t total = 0;
  fs::recursive_directory_iterator it(dir, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    fs::file_status st = it->symlink_status(ec);
    if (ec) break;
    if (fs::is_directory(st) && skipped_folder(it->path().filename())) {
      it.disable_recursion_pending();
    } else if (fs::is_regular_file(st)) {
      total += it->file_size(ec);
      if (ec) break;
    }
  }
  if (ec) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("cannot read the folder '{}': {}", dir, ec.message()));
  }
  return total;
}

}  // namespace kumo::cli
