// GpuInventory: the accelerator devices of this server and which of them are
// free.
//
// The server builds it once (from nvidia-smi or its configuration) and hands it
// to the PoolScheduler, which owns it from then on. A pool takes the devices of
// an instance when it starts the instance and gives them back when it lets go
// of the instance (exit, crash, OOM, timeout, idle reclaim, removal), so two
// live instances never share a device. Not thread-safe: PoolScheduler guards it
// with its mutex.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace kumo::scheduler {

class GpuInventory {
 public:
  GpuInventory() = default;  // no devices
  // `ids` are what CUDA_VISIBLE_DEVICES names: indices ("0") or UUIDs
  // ("GPU-...").
  explicit GpuInventory(std::vector<std::string> ids);

  int total() const { return static_cast<int>(ids_.size()); }
  int free_count() const;
  const std::vector<std::string>& ids() const { return ids_; }

  // Takes `n` free devices, in inventory order; nullopt (and nothing taken)
  // when fewer are free.
  std::optional<std::vector<std::string>> acquire(int n);
  // Gives devices back. Giving back a device that is not taken is a bug.
  void release(const std::vector<std::string>& ids);
  // Counts release() calls, so a caller can tell cheaply that devices came
  // free.
  uint64_t releases() const { return releases_; }

  // kInvalidArgument when `function` asks for more devices than this server
  // has.
  Result<void> check(const std::string& function, int wanted) const;

 private:
  std::vector<std::string> ids_;
  std::vector<bool> taken_;
  uint64_t releases_ = 0;
};

// "0,1" for CUDA_VISIBLE_DEVICES.
std::string join_devices(const std::vector<std::string>& ids);

// What an operator wrote for the server's devices (`--gpus`, the config's
// `gpus:`): "auto" (ask nvidia-smi), "none", a count ("2": devices 0 and 1) or
// a list of indices or UUIDs ("0,2", "GPU-8d3c...,GPU-11ab..."). A single id
// needs a trailing comma or the Docker form "device=1", since a lone number is
// a count.
struct GpuSetting {
  bool detect = false;           // "auto"
  std::vector<std::string> ids;  // otherwise the devices (empty for "none" or "0")
};
Result<GpuSetting> parse_gpu_setting(std::string_view text);

// One device as nvidia-smi lists it.
struct GpuInfo {
  std::string index;
  std::string uuid;
  std::string name;
  int64_t memory_mib = 0;
};
// Parses the output of `nvidia-smi --query-gpu=index,uuid,name,memory.total
// --format=csv,noheader` ("0, GPU-8d3c..., NVIDIA H100 80GB HBM3, 81559 MiB"
// per line).
Result<std::vector<GpuInfo>> parse_nvidia_smi(std::string_view csv);

}  // namespace kumo::scheduler
