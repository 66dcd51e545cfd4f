#include "server/serve.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include <fmt/format.h>

#include "api/api.h"
#include "api/box_routes.h"
#include "auth/instance_identity.h"
#include "auth/tenants.h"
#include "common/clock.h"
#include "common/log.h"
#include "events/events.h"
#include "executor/process_launcher.h"
#include "http/server.h"
#include "metering/metrics.h"
#include "metering/observer_fanout.h"
#include "metering/usage_store.h"
#include "registry/registry.h"
#include "scheduler/pool_scheduler.h"
#include "server/auth_setup.h"
#include "server/data_lock.h"
#include "server/gpus.h"
#include "common/runtime_file.h"
#include "server/wiring.h"
#include "store/sqlite.h"

namespace kumo::server {
namespace {

class ScaleLogger final : public scheduler::ScaleObserver {
 public:
  void on_scale(const std::string& function, const std::string& what, int instances) override {
    spdlog::info("{}: {} ({} instances)", function, what, instances);
  }
};

Result<http::ServerOptions> parse_listen(const std::string& listen, int threads) {
  size_t colon = listen.rfind(':');
  if (colon == std::string::npos) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("--listen '{}': expected HOST:PORT", listen));
  }
  http::ServerOptions o;
  o.host = listen.substr(0, colon);
  try {
    o.port = std::stoi(listen.substr(colon + 1));
  } catch (const std::exception&) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("--listen '{}': the port is not a number", listen));
  }
  o.threads = threads;
  return o;
}

// Blocks SIGINT/SIGTERM in every thread started after this, so sigwait() can take them.
sigset_t block_stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
  return set;
}

// The cgroup folder of this data directory's instances (LauncherOptions::group): the same
// for every server run on the directory (FNV-1a of its path, stable across builds), so a
// restart finds what a killed server left.
std::string cgroup_group(const std::string& data_dir) {
  uint64_t hash = 14695981039346656037ULL;
  for (unsigned char c : data_dir) hash = (hash ^ c) * 1099511628211ULL;
  return fmt::format("data-{:016x}", hash);
}

// Without cgroups, instances left by a killed server are found by their working directory
// under <data>/instances (processes that changed it are missed: cgroups are the real way).
void kill_stale_instances_by_cwd(const std::string& instances_dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc", ec)) {
    const std::string pid_text = entry.path().filename().string();
    if (pid_text.find_first_not_of("0123456789") != std::string::npos) continue;
    fs::path cwd = fs::read_symlink(entry.path() / "cwd", ec);
    if (ec || !cwd.string().starts_with(instances_dir + "/")) continue;
    pid_t pid = static_cast<pid_t>(std::stol(pid_text));
    if (pid == getpid()) continue;
    spdlog::warn("stopping instance process {} left by an earlier server", pid);
    kill(pid, SIGKILL);
  }
}

// Left over from a server that did not stop cleanly: its instances are gone (the launcher
// has already swept their cgroups, when it has cgroups).
void clear_instances(const std::string& data_dir, bool launcher_swept) {
  std::error_code ec;
  if (!launcher_swept) kill_stale_instances_by_cwd(data_dir + "/instances");
  std::filesystem::remove_all(data_dir + "/instances", ec);
  std::filesystem::create_directories(data_dir + "/instances", ec);
}

// The config's events.cloudevents.routes: {type: topic}.
Result<std::map<std::string, std::string>> cloudevent_routes(const nlohmann::json& sections) {
  std::map<std::string, std::string> out;
  const nlohmann::json* routes = nullptr;
  if (auto e = sections.find("events"); e != sections.end() && e->is_object()) {
    if (auto c = e->find("cloudevents"); c != e->end() && c->is_object()) {
      if (auto r = c->find("routes"); r != c->end()) routes = &*r;
    }
  }
  if (routes == nullptr) return out;
  if (!routes->is_object()) {
    return make_error(ErrorCode::kInvalidArgument,
                      "events.cloudevents.routes: must be a map of CloudEvents type: topic");
  }
  for (const auto& [type, topic] : routes->items()) {
    if (!topic.is_string()) {
      return make_error(ErrorCode::kInvalidArgument,
                        fmt::format("events.cloudevents.routes.{}: must be a topic name", type));
    }
    out[type] = topic.get<std::string>();
  }
  return out;
}

// The launcher's view of the instances' identities: it passes each instance's spec, id and
// address of Kumo; the permissions travel in the spec as text.
executor::InstanceCredentials instance_credentials(auth::InstanceIdentities& identities) {
  executor::InstanceCredentials out;
  out.issue = [&identities](const executor::LaunchSpec& spec, const std::string& instance_id,
                            const std::string& kumo_url) {
    return identities.issue(spec.function, spec.permissions, instance_id, kumo_url);
  };
  out.release = [&identities](const std::string& instance_id) {
    identities.release(instance_id);
  };
  return out;
}

// Storage, tables and connectors, each with its config section.
Result<void> wire_parts(const nlohmann::json& sections, const std::string& data_dir,
                        http::Router& router, events::Events& ev, const auth::Access& access,
                        auth::AuditLog& audit, std::vector<std::function<void()>>& on_stop) {
  auto section = [&sections](const char* name) {
    return sections.value(name, nlohmann::json());
  };
  Wiring storage{data_dir, section("storage"), router, ev, access, on_stop, &audit};
  if (auto r = wire_storage(storage); !r) return r;
  Wiring tables{data_dir, section("tables"), router, ev, access, on_stop, &audit};
  events::TableCatalog* catalog = nullptr;
  if (auto r = wire_tables(tables, catalog); !r) return r;
  ev.set_table_catalog(catalog);
  Wiring connectors{data_dir, section("connectors"), router, ev, access, on_stop};
  return wire_connectors(connectors);
}

}  // namespace

int serve(const ServeOptions& options) {
  init_logging(options.log_level);
  sigset_t stop_signals = block_stop_signals();
  auto listen = parse_listen(options.listen, options.threads);
  if (!listen) return spdlog::error("{}", listen.error().message), 2;
  auto prices = metering::make_prices(options.price_per_gb_second,
                                      options.price_per_million_requests);
  if (!prices) return spdlog::error("{}", prices.error().message), 2;
  if (options.cpu_mb_per_vcpu < 0) {
    spdlog::error("cpu_mb_per_vcpu must be 0 (no CPU quota) or more, got {}",
                  options.cpu_mb_per_vcpu);
    return 2;
  }
  std::error_code ec;
  std::filesystem::create_directories(options.data_dir, ec);
  std::string data_dir = std::filesystem::absolute(options.data_dir).lexically_normal().string();
  if (!data_dir.empty() && data_dir.back() == '/') data_dir.pop_back();
  // First of all: a second server on this directory must change nothing in it.
  auto data_lock = DataDirLock::acquire(data_dir);
  if (!data_lock) return spdlog::error("{}", data_lock.error().message), 1;
  auto keys = open_auth(options.auth, data_dir, listen->host);
  if (!keys) return spdlog::error("{}", keys.error().message), 2;
  auth::Access access(keys->get());
  // Each instance's own credential, for the function's permissions (auth/instance_identity.h).
  auth::InstanceIdentities identities(keys->get(), options.region, wall_micros);
  executor::LauncherOptions launcher_options;
  launcher_options.credentials = instance_credentials(identities);
  launcher_options.python = options.python;
  launcher_options.runtime_dir = data_dir + "/runtime";
  launcher_options.group = cgroup_group(data_dir);
  apply_sandbox_options(options.sandbox, launcher_options);
  launcher_options.cpu_mb_per_vcpu = options.cpu_mb_per_vcpu;
  auto launcher_or = executor::ProcessLauncher::create(launcher_options);
  if (!launcher_or) return spdlog::error("{}", launcher_or.error().message), 1;
  executor::ProcessLauncher& launcher = **launcher_or;
  clear_instances(data_dir, launcher.uses_cgroups());

  auto db = store::Database::open(data_dir + "/kumo.db");
  if (!db) return spdlog::error("{}", db.error().message), 1;
  auto registry = registry::Registry::open(**db, data_dir);
  if (!registry) return spdlog::error("{}", registry.error().message), 1;
  (*registry)->set_code_in_use(
      [&launcher](const std::string& code_dir) { return launcher.code_in_use(code_dir); });
  if (auto collected = (*registry)->collect_garbage(); !collected) {
    spdlog::warn("registry: collecting unused code failed: {}", collected.error().message);
  }
  auto tenants = auth::TenantStore::open(data_dir + "/kumo.db", wall_micros());
  if (!tenants) return spdlog::error("{}", tenants.error().message), 1;
  auto audit = auth::AuditLog::open(data_dir + "/kumo.db");
  if (!audit) return spdlog::error("{}", audit.error().message), 1;
  auto usage = metering::UsageStore::open(data_dir + "/kumo.db");
  if (!usage) return spdlog::error("{}", usage.error().message), 1;

  std::atomic<scheduler::Scheduler*> sched_ptr{nullptr};
  registry::Registry& reg = **registry;
  metering::Metrics metrics([&reg, &sched_ptr] {
    std::vector<std::pair<std::string, scheduler::PoolStats>> out;
    scheduler::Scheduler* s = sched_ptr.load();
    if (s == nullptr) return out;
    for (const auto& fv : reg.list()) out.emplace_back(fv.spec.name, s->stats(fv.spec.name));
    return out;
  });
  metering::ObserverFanout fanout({usage->get(), &metrics});
  ScaleLogger scale_logger;
  SteadyClock clock;
  auto gpus = load_gpus(options.sections.value("gpus", nlohmann::json()));
  if (!gpus) return spdlog::error("{}", gpus.error().message), 2;
  scheduler::PoolScheduler sched(launcher, clock, fanout, scale_logger, {}, std::move(*gpus));
  sched_ptr = &sched;

  auto events = events::Events::open(
      {data_dir + "/kumo.db", options.sections.value("events", nlohmann::json())}, sched);
  if (!events) return spdlog::error("{}", events.error().message), 1;
  events::Events& ev = **events;
  reg.set_spec_check([&ev, &sched](const registry::FunctionSpec& spec) -> Result<void> {
    if (auto valid = ev.validate(spec); !valid) return valid;
    return check_gpus(sched, spec);
  });

  api::ApiDeps deps{reg, sched, ev, **usage, metrics, access, *prices, data_dir,
                    6 * 1024 * 1024, size_t{256} << 20, 1024 * 1024, {}};
  deps.tenants = tenants->get();
  if (auto routes = cloudevent_routes(options.sections); routes) {
    deps.cloudevent_routes = *routes;
  } else {
    return spdlog::error("{}", routes.error().message), 2;
  }
  deps.audit = audit->get();
  api::Api api_layer(deps);
  http::Router router = api_layer.router();
  std::vector<std::function<void()>> on_stop;
  auto stop_parts = [&on_stop] {
    for (auto it = on_stop.rbegin(); it != on_stop.rend(); ++it) (*it)();
    on_stop.clear();
  };
  // Functions first: a connector may hand over messages the moment it connects, and a
  // topic's subscribers are the functions configured by then.
  api_layer.configure_deployed();
  if (auto wired = wire_parts(options.sections, data_dir, router, ev, access, **audit, on_stop);
      !wired) {
    spdlog::error("{}", wired.error().message);
    stop_parts();
    return 2;
  }
  ev.start();
  listen->limits = options.http_limits;
  // Boxed functions reach the data plane only (api/box_routes.h), with at most this many
  // connections per box, so that no function takes the server's whole connection cap.
  constexpr int kBoxMaxConnections = 128;
  auto box_router = std::make_shared<const http::Router>(api::box_router(router));
  http::Server http_server(*listen, std::move(router));
  if (auto started = http_server.start(); !started) {
    spdlog::error("{}", started.error().message);
    stop_parts();
    ev.stop();
    sched.shutdown();
    return 1;
  }
  std::string host = listen->host == "0.0.0.0" || listen->host.empty() ? "127.0.0.1" : listen->host;
  launcher.set_platform_env({{"KUMO_URL", fmt::format("http://{}:{}", host, http_server.port())}});
  // A boxed function reaches the API at the same address, inside its own network namespace.
  launcher.set_api_listener(http_server.port(),
                            [&http_server, box_router](int fd) {
                              return http_server.adopt_listener(fd, box_router,
                                                                kBoxMaxConnections);
                            });
  spdlog::info("kumo listening on http://{}:{} (data in {})", listen->host, http_server.port(),
               data_dir);
  auto runtime_file = write_runtime_file(
      http_server.port(), fmt::format("http://{}:{}", host, http_server.port()), data_dir);

  std::atomic<bool> running{true};
  std::thread ticker([&] {
    while (running) {
      sched.tick();
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });
  int sig = 0;
  sigwait(&stop_signals, &sig);
  spdlog::info("stopping (signal {})", sig);
  if (runtime_file) remove_runtime_file(*runtime_file);
  http_server.stop();
  stop_parts();
  ev.stop();
  running = false;
  ticker.join();
  sched.shutdown();
  if (auto flushed = (*usage)->flush(); !flushed) spdlog::error("{}", flushed.error().message);
  spdlog::info("stopped");
  return 0;
}

}  // namespace kumo::server
