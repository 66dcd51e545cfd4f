// GpuValidator: the GPU inventory's deploy-time check, as a registry::SpecValidator. A spec
// that asks for more devices than the server has (`gpu: 2` on a one-GPU server) is refused
// with kInvalidArgument, since its instances could never start. Borrows the scheduler, which
// holds the inventory and must outlive it; thread-safe as the scheduler is.
#pragma once

#include "registry/spec.h"
#include "scheduler/scheduler.h"

namespace kumo::functions {

class GpuValidator final : public registry::SpecValidator {
 public:
  explicit GpuValidator(const scheduler::Scheduler& scheduler) : scheduler_(scheduler) {}
  Result<void> validate(const registry::FunctionSpec& spec) const override;

 private:
  const scheduler::Scheduler& scheduler_;
};

}  // namespace kumo::functions
