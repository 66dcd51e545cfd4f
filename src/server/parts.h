// Internal to src/server: the parts serve() builds before it serves, each step a function
// that returns what it built or the error the server exits with. Members of each struct are
// in order of construction (so destroyed in reverse), each using only those above it.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "auth/audit.h"
#include "auth/instance_identity.h"
#include "auth/tenants.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/result.h"
#include "events/events.h"
#include "executor/process_launcher.h"
#include "functions/functions.h"
#include "functions/gpu_validator.h"
#include "http/server.h"
#include "metering/billing.h"
#include "metering/metrics.h"
#include "metering/observer_fanout.h"
#include "metering/usage_store.h"
#include "registry/registry.h"
#include "scheduler/gpu_inventory.h"
#include "scheduler/pool_scheduler.h"
#include "server/serve.h"
#include "store/sqlite.h"

namespace kumo::server {

class ScaleLogger final : public scheduler::ScaleObserver {
 public:
  void on_scale(const std::string& function, const std::string& what, int instances) override {
    spdlog::info("{}: {} ({} instances)", function, what, instances);
  }
};

// What serve() takes from its options before it opens anything; an error is a bad setting.
struct Settings {
  http::ServerOptions listen;
  metering::Prices prices;
  std::map<std::string, std::string> cloudevent_routes;
  scheduler::GpuInventory gpus;
};

// Everything durable in <data>/kumo.db; members in order of construction.
struct Stores {
  std::unique_ptr<store::Database> db;
  std::unique_ptr<registry::Registry> registry;  // borrows db
  std::unique_ptr<auth::TenantStore> tenants;
  std::unique_ptr<auth::AuditLog> audit;
  std::unique_ptr<metering::UsageStore> usage;
};

// The invocation engine and the function lifecycle over it; members in order of
// construction, each using only those above it. The scheduler reports to metering and
// metrics; /metrics asks `functions` for the pools' gauges, so nothing points back up.
struct Engine {
  Engine(executor::Launcher& launcher, metering::UsageStore& usage, scheduler::GpuInventory gpus)
      : fanout({&usage, &metrics}),
        scheduler(launcher, clock, fanout, scale_logger, {}, std::move(gpus)) {}

  metering::Metrics metrics;
  metering::ObserverFanout fanout;
  ScaleLogger scale_logger;
  SteadyClock clock;
  scheduler::PoolScheduler scheduler;
  functions::GpuValidator gpu_check{scheduler};
  std::unique_ptr<events::Events> events;
  std::unique_ptr<functions::Functions> functions;
};


// The data directory, created: absolute, with no trailing '/'.
std::string data_directory(const std::string& option);

// The settings from the options, checked (kInvalidArgument: a bad setting), before anything
// is opened; the GPU inventory is read here too (nvidia-smi when `gpus` is auto).
Result<Settings> read_settings(const ServeOptions& options);

// The launcher, after what an earlier server left under <data>/instances is gone.
Result<std::unique_ptr<executor::ProcessLauncher>> open_launcher(
    const ServeOptions& options, const std::string& data_dir,
    auth::InstanceIdentities& identities);

// Opens <data>/kumo.db's stores; the registry asks the launcher which code is in use and
// collects the rest.
Result<Stores> open_stores(const std::string& data_dir, executor::ProcessLauncher& launcher);

// The scheduler over the launcher (with settings.gpus), events, and the function lifecycle
// with its validators (events' and the GPU inventory's) and its launch plan. Nothing is
// restored yet (functions->restore()) and events are not started.
Result<std::unique_ptr<Engine>> open_engine(const ServeOptions& options, Settings& settings,
                                            const std::string& data_dir,
                                            executor::Launcher& launcher, Stores& stores);

}  // namespace kumo::server
