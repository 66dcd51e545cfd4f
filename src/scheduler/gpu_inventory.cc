#include "scheduler/gpu_inventory.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <set>

#include "common/check.h"

namespace kumo::scheduler {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    size_t end = s.find(sep, start);
    out.push_back(trim(s.substr(start, end - start)));
    if (end == std::string_view::npos) return out;
    start = end + 1;
  }
}

std::optional<int> to_int(std::string_view s) {
  int v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

bool valid_id(std::string_view id) {
  return !id.empty() && std::all_of(id.begin(), id.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == ':' || c == '.';
  });
}

Result<GpuSetting> parse_list(std::string_view text, std::string_view original) {
  GpuSetting out;
  std::set<std::string_view> seen;
  for (std::string_view id : split(text, ',')) {
    if (id.empty()) continue;  // "1," names device 1
    if (!valid_id(id) || !seen.insert(id).second) {
      return make_error(ErrorCode::kInvalidArgument,
                        fmt::format("gpus '{}': '{}' is not a device index or UUID, or is "
                                    "listed twice",
                                    original, id));
    }
    out.ids.emplace_back(id);
  }
  return out;
}

}  // namespace

GpuInventory::GpuInventory(std::vector<std::string> ids)
    : ids_(std::move(ids)), taken_(ids_.size(), false) {}

int GpuInventory::free_count() const {
  return static_cast<int>(std::count(taken_.begin(), taken_.end(), false));
}

std::optional<std::vector<std::string>> GpuInventory::acquire(int n) {
  if (n > free_count()) return std::nullopt;
  std::vector<std::string> out;
  for (size_t i = 0; i < ids_.size() && static_cast<int>(out.size()) < n; ++i) {
    if (!taken_[i]) {
      taken_[i] = true;
      out.push_back(ids_[i]);
    }
  }
  return out;
}

void GpuInventory::release(const std::vector<std::string>& ids) {
  for (const std::string& id : ids) {
    auto it = std::find(ids_.begin(), ids_.end(), id);
    KUMO_CHECK(it != ids_.end());
    size_t i = static_cast<size_t>(it - ids_.begin());
    KUMO_CHECK(taken_[i]);
    taken_[i] = false;
  }
  ++releases_;
}

Result<void> GpuInventory::check(const std::string& function, int wanted) const {
  if (wanted <= total()) return {};
  return make_error(ErrorCode::kInvalidArgument,
                    fmt::format("function '{}': gpu is {} but this server has {} GPU{}; lower gpu, "
                                "or start "
                                "`kumo serve` where {} devices are (its --gpus option lists them)",
                                function, wanted, total(), total() == 1 ? "" : "s", wanted));
}

std::string join_devices(const std::vector<std::string>& ids) {
  return fmt::format("{}", fmt::join(ids, ","));
}

Result<GpuSetting> parse_gpu_setting(std::string_view original) {
  std::string_view text = trim(original);
  if (text == "auto") return GpuSetting{true, {}};
  if (text == "none" || text.empty()) return GpuSetting{};
  if (text.starts_with("device=")) return parse_list(text.substr(7), original);
  if (text.find(',') != std::string_view::npos) return parse_list(text, original);
  auto count = to_int(text);
  if (!count || *count < 0 || *count > 64) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("gpus '{}': expected auto, none, a count (0..64) or a list "
                                  "of devices such as 0,1",
                                  original));
  }
  GpuSetting out;
  for (int i = 0; i < *count; ++i) out.ids.push_back(std::to_string(i));
  return out;
}

Result<std::vector<GpuInfo>> parse_nvidia_smi(std::string_view csv) {
  std::vector<GpuInfo> out;
  for (std::string_view line : split(csv, '\n')) {
    if (line.empty()) continue;
    std::vector<std::string_view> f = split(line, ',');
    std::optional<int> mib = f.size() == 4 ? to_int(split(f[3], ' ').front()) : std::nullopt;
    if (f.size() != 4 || !to_int(f[0]) || !valid_id(f[1]) || !mib) {
      return make_error(ErrorCode::kInternal,
                        fmt::format("nvidia-smi: unexpected line '{}' (expected index, uuid, "
                                    "name, memory)",
                                    line));
    }
    out.push_back({std::string(f[0]), std::string(f[1]), std::string(f[2]), *mib});
  }
  return out;
}

}  // namespace kumo::scheduler
