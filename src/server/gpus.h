// The server's GPU inventory, from its `gpus` setting: the config file's
// `gpus:` key or the
// --gpus flag, kept as JSON in ServeOptions::sections["gpus"]. Internal to
// src/server.
#pragma once

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "scheduler/gpu_inventory.h"

namespace kumo::server {

// `setting` is null or "auto" (the devices nvidia-smi lists; none when it is
// absent or finds none), "none", a count (2: devices 0 and 1), a list ([0, 1]
// or "0,1") of indices or UUIDs. kInvalidArgument for anything else.
Result<scheduler::GpuInventory> load_gpus(const nlohmann::json& setting);

}  // namespace kumo::server
