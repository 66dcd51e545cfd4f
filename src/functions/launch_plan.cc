#include "functions/launch_plan.h"

#include <algorithm>
#include <chrono>

#include "auth/access.h"
#include "auth/scopes.h"

namespace kumo::functions {
namespace {

// Single-quoted for the shell that runs an exec handler.
std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// A model function is an exec instance running kumo-model, so the engine lives in the
// instance and metering, scaling and logs work as for any function. It takes a whole batch at
// once, or there would be nothing to batch.
void plan_model(const registry::FunctionSpec& spec, const LaunchPlan& plan,
                executor::LaunchSpec& launch) {
  launch.runtime = executor::Runtime::kExec;
  // The model's path is relative to the instance's working dir, where its package is
  // (code_dir itself may be out of the instance's sight, under its private /tmp).
  launch.handler = "exec " + quote(plan.model_server) + " --model " + quote("./" + spec.handler) +
                   " --name " + quote(std::string(auth::local_name(spec.name))) +
                   " --max-batch " + std::to_string(spec.batch_max_size) + " --max-delay-us " +
                   std::to_string(std::chrono::microseconds(spec.batch_max_delay).count()) +
                   " --port \"$PORT\"";
  launch.concurrency = std::max(spec.concurrency, spec.batch_max_size);
  if (plan.ort_lib && !launch.env.contains("KUMO_ORT_LIB")) {
    launch.env["KUMO_ORT_LIB"] = *plan.ort_lib;
  }
}

}  // namespace

std::string log_path(const LaunchPlan& plan, const std::string& function) {
  return plan.data_dir + "/logs/" + function + ".log";
}

scheduler::PoolConfig pool_config(const registry::FunctionVersion& fv, const LaunchPlan& plan) {
  const registry::FunctionSpec& spec = fv.spec;
  scheduler::PoolConfig config;
  executor::LaunchSpec& launch = config.launch;
  launch.function = spec.name;
  launch.version = fv.version;
  launch.runtime = spec.runtime == registry::Runtime::kExec ? executor::Runtime::kExec
                                                            : executor::Runtime::kPython3;
  launch.handler = spec.handler;
  launch.code_dir = fv.code_dir;
  launch.instances_root = plan.data_dir + "/instances";
  launch.log_path = log_path(plan, spec.name);
  launch.memory_mb = spec.memory_mb;
  launch.ephemeral_mb = spec.ephemeral_storage_mb;
  launch.timeout = spec.timeout;
  launch.concurrency = spec.concurrency;
  launch.env = spec.env;
  launch.permissions = auth::to_string(spec.access.permissions);
  launch.zygote = spec.zygote;
  launch.network = spec.network;
  launch.batch_max_size = spec.batch_max_size;
  launch.batch_max_delay = spec.batch_max_delay;
  if (spec.runtime == registry::Runtime::kModel) plan_model(spec, plan, launch);
  config.gpu = spec.gpu;
  config.min_instances = spec.min_instances;
  config.max_instances = spec.max_instances;
  config.max_queue = spec.max_queue;
  config.idle_timeout = spec.idle_timeout;
  return config;
}

}  // namespace kumo::functions
