#include "api/api.h"

#include <filesystem>

#include "common/work_pool.h"
#include "api/routes.h"
#include "api/errors.h"
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
  launch.ephemeral_mb = spec.ephemeral_storage_mb;
  launch.timeout = spec.timeout;
  launch.concurrency = spec.concurrency;
  launch.env = spec.env;
  launch.permissions = auth::to_string(spec.access.permissions);
  launch.zygote = spec.zygote;
  launch.network = spec.network;
  launch.batch_max_size = spec.batch_max_size;
  launch.batch_max_delay = spec.batch_max_delay;
  if (spec.runtime == registry::Runtime::kModel) {
    // A model function is an exec instance running kumo-model (next to this program), so
    // the engine lives in the instance and metering, scaling and logs work as for any
    // function. It takes a whole batch at once, or there would be nothing to batch.
    auto quote = [](const std::string& s) {
      std::string q = "'";
      for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
      return q + "'";
    };
    std::error_code ec;
    auto self_dir = std::filesystem::read_symlink("/proc/self/exe", ec).parent_path();
    launch.runtime = executor::Runtime::kExec;
    // The model's path is relative to the instance's working dir, where its package is
    // (code_dir itself may be out of the instance's sight, under its private /tmp).
    launch.handler = "exec " + quote((self_dir / "kumo-model").string()) + " --model " +
                     quote("./" + spec.handler) + " --name " +
                     quote(std::string(auth::local_name(spec.name))) +
                     " --max-batch " + std::to_string(spec.batch_max_size) + " --max-delay-us " +
                     std::to_string(std::chrono::microseconds(spec.batch_max_delay).count()) +
                     " --port \"$PORT\"";
    launch.concurrency = std::max(spec.concurrency, spec.batch_max_size);
    const char* ort = std::getenv("KUMO_ORT_LIB");
    if (ort != nullptr && !launch.env.contains("KUMO_ORT_LIB")) launch.env["KUMO_ORT_LIB"] = ort;
  }
  config.gpu = spec.gpu;
  config.min_instances = spec.min_instances;
  config.max_instances = spec.max_instances;
  config.max_queue = spec.max_queue;
  config.idle_timeout = spec.idle_timeout;
  return config;
}

void record_change(const ApiDeps& deps, const auth::Caller& caller, std::string_view action,
                   std::string_view target, const http::Request& req, int status,
                   std::string_view detail) {
  if (deps.audit != nullptr) {
    deps.audit->record(caller, action, target, req.remote_address, status, detail);
  }
}

void reply_change_error(const ApiDeps& deps, const auth::Caller& caller, std::string_view action,
                        std::string_view target, const http::Request& req, const Error& error,
                        http::Responder& out) {
  bool refused = error.code == ErrorCode::kUnauthenticated ||
                 error.code == ErrorCode::kPermissionDenied;
  http::Response r = refused ? auth::refusal(error) : error_reply(error);
  record_change(deps, caller, action, target, req, r.status, error.message);
  out.send(std::move(r));
}

Api::Api(ApiDeps deps)
    : deps_(std::move(deps)),
      cache_(std::make_unique<FunctionCache>()),
      background_(std::make_unique<WorkPool>(1)) {
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
  add_tenant_routes(router, deps_);
  add_key_routes(router, deps_);
  add_audit_routes(router, deps_);
  return router;
}

}  // namespace kumo::api
