#include "functions/gpu_validator.h"

namespace kumo::functions {

Result<void> GpuValidator::validate(const registry::FunctionSpec& spec) const {
  scheduler::PoolConfig config;
  config.launch.function = spec.name;
  config.gpu = spec.gpu;
  return scheduler_.check(config);
}

}  // namespace kumo::functions
