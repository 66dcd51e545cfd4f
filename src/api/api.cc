#include "api/api.h"

#include <filesystem>

#include "api/background.h"
#include "api/routes.h"
#include "common/log.h"

namespace kumo::api {

std::string log_path(const std::string& data_dir, const std::string& function) {
  return data_dir + "/logs/" + function + ".log";
}

scheduler::PoolConfig pool_config(const registry::FunctionVersion& fv,
                                  const std::string& data_dir) {
  const registry::FunctionSpec& spec = fv.spec;
  scheduler::PoolConfig config;
  executor::LaunchSpec& launch = config.launch;
  launch.function = spec.name;
  launch.version = fv.version;
  launch.runtime = spec.runtime == registry::Runtime::kExec ? executor::Runtime::kExec
                                                            : executor::Runtime::kPython3;
  launch.handler = spec.handler;
  launch.code_dir = fv.code_dir;
  launch.instances_root = data_dir + "/instances";
  launch.log_path = log_path(data_dir, spec.name);
  launch.memory_mb = spec.memory_mb;
  launch.timeout = spec.timeout;
  launch.concurrency = spec.concurrency;
  launch.env = spec.env;
  launch.zygote = spec.zygote;
  launch.batch_max_size = spec.batch_max_size;
  launch.batch_max_delay = spec.batch_max_delay;
  config.gpu = spec.gpu;
  config.min_instances = spec.min_instances;
  config.max_instances = spec.max_instances;
  config.max_queue = spec.max_queue;
  config.idle_timeout = spec.idle_timeout;
  return config;
}

Api::Api(ApiDeps deps)
    : deps_(std::move(deps)),
      cache_(std::make_unique<FunctionCache>()),
      background_(std::make_unique<Background>()) {
  std::error_code ec;
  std::filesystem::create_directories(deps_.data_dir + "/logs", ec);
  std::filesystem::create_directories(deps_.data_dir + "/instances", ec);
}

Api::~Api() = default;

void Api::configure_deployed() {
  for (const registry::FunctionVersion& fv : deps_.registry.list()) {
    cache_->put(fv);
    deps_.scheduler.configure(pool_config(fv, deps_.data_dir));
    deps_.events.configure(fv.spec);
    spdlog::info("function {} version {} restored", fv.spec.name, fv.version);
  }
}

http::Router Api::router() {
  http::Router router;
  add_function_routes(router, deps_, *cache_, *background_);
  add_invoke_routes(router, deps_, *cache_);
  add_ops_routes(router, deps_, *cache_);
  add_event_routes(router, deps_);
  add_model_routes(router, deps_, *cache_);
  return router;
}

}  // namespace kumo::api
