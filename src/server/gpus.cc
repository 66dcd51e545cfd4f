#include "server/gpus.h"

#include <fmt/format.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>

#include "common/log.h"

namespace kumo::server {
namespace {

constexpr const char* kQuery =
    "nvidia-smi --query-gpu=index,uuid,name,memory.total --format=csv,noheader";

bool on_path(std::string_view program) {
  const char* path = std::getenv("PATH");
  std::string_view rest = path ? path : "";
  while (!rest.empty()) {
    size_t colon = rest.find(':');
    std::filesystem::path dir(rest.substr(0, colon));
    if (!dir.empty() && access((dir / program).c_str(), X_OK) == 0) return true;
    if (colon == std::string_view::npos) break;
    rest.remove_prefix(colon + 1);
  }
  return false;
}

// Runs the query; its output, or an error with its exit status.
Result<std::string> run_nvidia_smi() {
  FILE* pipe = popen(fmt::format("{} 2>&1", kQuery).c_str(), "r");
  if (pipe == nullptr) {
    return make_error(ErrorCode::kInternal, "cannot run nvidia-smi");
  }
  std::string out;
  char buf[4096];
  size_t n = 0;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
  int status = pclose(pipe);
  if (status != 0) {
    return make_error(ErrorCode::kInternal,
                      fmt::format("nvidia-smi failed (status {}): {}", status, out));
  }
  return out;
}

// nvidia-smi's devices by index; none (with a log line saying why) when it is
// absent or fails, since a server without GPUs is an ordinary one.
scheduler::GpuInventory detect() {
  if (!on_path("nvidia-smi")) {
    spdlog::info("gpus: none (no nvidia-smi on PATH; --gpus sets them)");
    return {};
  }
  auto listed = run_nvidia_smi();
  auto gpus = listed ? scheduler::parse_nvidia_smi(*listed)
                     : Result<std::vector<scheduler::GpuInfo>>(listed.error());
  if (!gpus) {
    spdlog::warn("gpus: none ({})", gpus.error().message);
    return {};
  }
  std::vector<std::string> ids;
  for (const scheduler::GpuInfo& g : *gpus) {
    spdlog::info("gpu {}: {} ({} MiB, {})", g.index, g.name, g.memory_mib, g.uuid);
    ids.push_back(g.index);
  }
  return scheduler::GpuInventory(std::move(ids));
}

// The setting as the text parse_gpu_setting() reads.
Result<std::string> setting_text(const nlohmann::json& setting) {
  if (setting.is_null()) return std::string("auto");
  if (setting.is_string()) return setting.get<std::string>();
  if (setting.is_number_integer()) return std::to_string(setting.get<int64_t>());
  if (setting.is_array()) {
    std::string text = "device=";  // so that [1] is device 1, not a count
    bool ok = true;
    for (const auto& item : setting) {
      if (item.is_string()) {
        text += item.get<std::string>() + ",";
      } else if (item.is_number_integer()) {
        text += std::to_string(item.get<int64_t>()) + ",";
      } else {
        ok = false;
      }
    }
    if (ok) return text;
  }
  return make_error(ErrorCode::kInvalidArgument,
                    fmt::format("gpus: expected auto, none, a count or a list of devices such as "
                                "[0, 1], got {}",
                                setting.dump()));
}

}  // namespace

Result<scheduler::GpuInventory> load_gpus(const nlohmann::json& setting) {
  auto text = setting_text(setting);
  if (!text) return text.error();
  auto parsed = scheduler::parse_gpu_setting(*text);
  if (!parsed) return parsed.error();
  if (parsed->detect) return detect();
  if (!parsed->ids.empty()) {
    spdlog::info("gpus: {} (configured)", scheduler::join_devices(parsed->ids));
  }
  return scheduler::GpuInventory(std::move(parsed->ids));
}

}  // namespace kumo::server
