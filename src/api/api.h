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
#include "functions/functions.h"
#include "http/server.h"
#include "metering/billing.h"
#include "metering/metrics.h"
#include "metering/usage_store.h"
#include "scheduler/scheduler.h"

namespace kumo {
class WorkPool;
}

namespace kumo::api {

struct ApiDeps {
  functions::Functions& functions;  // deploy, remove, find, list (functions/functions.h)
  scheduler::Scheduler& scheduler;  // invocations
  events::Events& events;
  metering::UsageStore& usage;
  metering::Metrics& metrics;
  const auth::Access& access;  // every route asks it first (auth/access.h)
  metering::Prices prices;
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

// Builds the router over the deps.
class Api {
 public:
  explicit Api(ApiDeps deps);
  ~Api();
  http::Router router();

 private:
  ApiDeps deps_;
  // One thread, so deploys run in submission order; destroyed first: joins before deps_ go.
  std::unique_ptr<WorkPool> background_;
};

}  // namespace kumo::api
