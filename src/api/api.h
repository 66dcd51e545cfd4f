// The REST control plane and invoke endpoints: builds the http::Router over the parts the
// server wires together. This is the only place that maps errors and outcomes to HTTP
// statuses. The ApiDeps references must outlive the router; handlers are thread-safe.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "auth/access.h"
#include "auth/tenants.h"
#include "auth/audit.h"
#include "events/events.h"
#include "http/server.h"
#include "metering/billing.h"
#include "metering/metrics.h"
#include "metering/usage_store.h"
#include "registry/registry.h"
#include "scheduler/scheduler.h"

namespace kumo {
class WorkPool;
}

namespace kumo::api {

class FunctionCache;

struct ApiDeps {
  registry::Registry& registry;
  scheduler::Scheduler& scheduler;
  events::Events& events;
  metering::UsageStore& usage;
  metering::Metrics& metrics;
  const auth::Access& access;  // every route asks it first (auth/access.h)
  metering::Prices prices;
  std::string data_dir;
  size_t max_invoke_body = 6 * 1024 * 1024;
  size_t max_package = 256 * 1024 * 1024;
  size_t max_async_body = 1024 * 1024;
  // CloudEvents type -> topic; a type with no route goes to the topic named like it.
  std::map<std::string, std::string> cloudevent_routes;
  // The tenants (/api/v1/tenants); null leaves those routes out. Must outlive the router.
  auth::TenantStore* tenants = nullptr;
  // Control-plane changes are recorded here; null records nothing. Must outlive the router.
  auth::AuditLog* audit = nullptr;
};

// Where a function's instances live and log, under the data directory.
scheduler::PoolConfig pool_config(const registry::FunctionVersion& fv, const std::string& data_dir);

// Configures a pool for every deployed function (server start) and returns the router.
class Api {
 public:
  explicit Api(ApiDeps deps);
  ~Api();
  void configure_deployed();
  http::Router router();

 private:
  ApiDeps deps_;
  std::unique_ptr<FunctionCache> cache_;
  // One thread, so deploys run in submission order; destroyed first: joins before deps_ go.
  std::unique_ptr<WorkPool> background_;
};

}  // namespace kumo::api
