#include "common/runtime_file.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/log.h"

namespace kumo {

std::optional<std::string> runtime_dir() {
  if (const char* xdg = std::getenv("XDG_RUNTIME_DIR"); xdg != nullptr && *xdg == '/') {
    return std::string(xdg) + "/kumo";
  }
  if (const char* home = std::getenv("HOME"); home != nullptr && *home == '/') {
    return std::string(home) + "/.local/share/kumo/runtime";
  }
  return std::nullopt;
}

std::optional<std::string> write_runtime_file(int port, const std::string& url,
                                              const std::string& data_dir) {
  auto dir = runtime_dir();
  if (!dir) return std::nullopt;
  std::error_code ec;
  std::filesystem::create_directories(*dir, ec);
  std::string path = fmt::format("{}/server-{}.json", *dir, port);
  std::string tmp = fmt::format("{}.{}", path, getpid());
  nlohmann::json j = {{"url", url}, {"data_dir", data_dir}, {"pid", getpid()}};
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << j.dump() << "\n";
    if (!out.flush()) {
      spdlog::warn("cannot write {}: the CLI will not find this server's key by itself", tmp);
      std::filesystem::remove(tmp, ec);
      return std::nullopt;
    }
  }
  std::filesystem::rename(tmp, path, ec);
  if (ec) return std::nullopt;
  return path;
}

void remove_runtime_file(const std::string& path) {
  std::ifstream in(path);
  nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
  if (j.is_object() && j.value("pid", 0) == getpid()) {
    std::error_code ec;
    std::filesystem::remove(path, ec);
  }
}

}  // namespace kumo
