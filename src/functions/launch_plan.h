// The launch plan: how a deployed version becomes a pool of instances. pool_config() is a
// pure function of the version and a LaunchPlan, which the server fills once at start from
// its options and environment (where its data lives, where kumo-model is, KUMO_ORT_LIB), so
// nothing here reads the environment. Values only; thread-safe.
#pragma once

#include <optional>
#include <string>

#include "registry/registry.h"
#include "scheduler/scheduler.h"

namespace kumo::functions {

struct LaunchPlan {
  // Absolute, no trailing '/': instances work under data_dir/instances, and each function
  // logs to data_dir/logs/<name>.log.
  std::string data_dir;
  // The program a model function's instances run (kumo-model, next to kumo).
  std::string model_server = "kumo-model";
  // KUMO_ORT_LIB for model instances whose spec does not set it; nullopt: none.
  std::optional<std::string> ort_lib;
};

// Where the function's instances write their log.
std::string log_path(const LaunchPlan& plan, const std::string& function);

// The pool for this version: its launch command, limits, environment and scaling settings.
// A model function becomes an exec instance running plan.model_server on its model file.
scheduler::PoolConfig pool_config(const registry::FunctionVersion& fv, const LaunchPlan& plan);

}  // namespace kumo::functions
