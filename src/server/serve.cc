#include "server/serve.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include <fmt/format.h>

#include "api/api.h"
#include "api/box_routes.h"
#include "common/log.h"
#include "common/runtime_file.h"
#include "http/server.h"
#include "server/auth_setup.h"
#include "server/data_lock.h"
#include "server/parts.h"
#include "server/wiring.h"

namespace kumo::server {
namespace {

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

int fail(const Error& error, int exit_status) {
  spdlog::error("{}", error.message);
  return exit_status;
}

api::ApiDeps api_deps(Engine& engine, Stores& stores, const auth::Access& access,
                      const Settings& settings) {
  return api::ApiDeps{*engine.functions,
                      engine.scheduler,
                      *engine.events,
                      *stores.usage,
                      engine.metrics,
                      access,
                      settings.prices,
                      6 * 1024 * 1024,
                      size_t{256} << 20,
                      1024 * 1024,
                      settings.cloudevent_routes,
                      stores.tenants.get(),
                      stores.audit.get()};
}

// The optional parts' stop functions, run at shutdown in reverse order (server/wiring.h).
struct Parts {
  std::vector<std::function<void()>> on_stop;
  void stop() {
    for (auto it = on_stop.rbegin(); it != on_stop.rend(); ++it) (*it)();
    on_stop.clear();
  }
};

std::string kumo_url(const std::string& listen_host, int port) {
  std::string host = listen_host == "0.0.0.0" || listen_host.empty() ? "127.0.0.1" : listen_host;
  return fmt::format("http://{}:{}", host, port);
}

// Listens, then tells the launcher where instances reach Kumo: KUMO_URL, and for boxed
// functions a listener inside the box that serves the data plane only (api/box_routes.h),
// with at most kBoxMaxConnections per box, so that no function takes the server's cap.
Result<std::unique_ptr<http::Server>> start_http(http::ServerOptions listen, http::Router router,
                                                 executor::ProcessLauncher& launcher) {
  constexpr int kBoxMaxConnections = 128;
  auto box_router = std::make_shared<const http::Router>(api::box_router(router));
  auto server = std::make_unique<http::Server>(listen, std::move(router));
  if (auto started = server->start(); !started) return started.error();
  http::Server& s = *server;
  launcher.set_platform_env({{"KUMO_URL", kumo_url(listen.host, s.port())}});
  launcher.set_api_listener(s.port(), [&s, box_router](int fd) {
    return s.adopt_listener(fd, box_router, kBoxMaxConnections);
  });
  return server;
}

// Cluster mode's node (cluster_node.h), or null for the single-node server.
Result<std::unique_ptr<ClusterNode>> open_cluster(const ClusterOptions& options) {
  if (!options.enabled) return std::unique_ptr<ClusterNode>();
  return ClusterNode::open(options);
}

// Joins the cluster once the server listens, so that the address it gives answers.
Result<void> join_cluster(ClusterNode* node, const http::ServerOptions& listen,
                          const http::Server& server, functions::Functions& functions) {
  if (node == nullptr) return {};
  if (auto joined = node->join(kumo_url(listen.host, server.port()), server.port()); !joined) {
    return joined;
  }
  return node->follow(functions);
}

// Drives the scheduler's decisions over time (Scheduler::tick) until stopped.
class Ticker {
 public:
  explicit Ticker(scheduler::Scheduler& scheduler)
      : thread_([this, &scheduler] {
          while (running_) {
            scheduler.tick();
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
          }
        }) {}
  ~Ticker() { stop(); }
  void stop() {
    running_ = false;
    if (thread_.joinable()) thread_.join();
  }

 private:
  std::atomic<bool> running_{true};
  std::thread thread_;  // after running_, which it reads
};

// Until SIGINT or SIGTERM: the server runs, advertised in the runtime file.
void serve_until_signal(sigset_t stop_signals, const http::ServerOptions& listen, int port,
                        const std::string& data_dir) {
  spdlog::info("kumo listening on http://{}:{} (data in {})", listen.host, port, data_dir);
  auto runtime_file = write_runtime_file(port, kumo_url(listen.host, port), data_dir);
  int sig = 0;
  sigwait(&stop_signals, &sig);
  spdlog::info("stopping (signal {})", sig);
  if (runtime_file) remove_runtime_file(*runtime_file);
}

// Stops in the order of dependence: the parts' threads (no more events in), events (no
// more invocations from it), then every instance.
void stop_engine(Parts& parts, Engine& engine, Ticker* ticker) {
  parts.stop();
  engine.events->stop();
  if (ticker != nullptr) ticker->stop();
  engine.scheduler.shutdown();
}

// Restores the deployed functions, then adds the optional parts (their routes, threads and
// stop functions). Functions come first: a connector may hand over messages the moment it
// connects, and a topic's subscribers are the functions configured by then.
Result<void> wire(const ServeOptions& options, const std::string& data_dir, http::Router& router,
                  Engine& engine, Stores& stores, const auth::Access& access, Parts& parts) {
  engine.functions->restore();
  return wire_parts(options.sections, data_dir, router, *engine.events, access, *stores.audit,
                    parts.on_stop);
}

}  // namespace

// The composition root: builds each part in order of dependence, serves until a signal,
// and stops them in reverse.
int serve(const ServeOptions& options) {
  init_logging(options.log_level);
  sigset_t stop_signals = block_stop_signals();
  auto settings = read_settings(options);
  if (!settings) return fail(settings.error(), 2);
  const std::string data_dir = data_directory(options.data_dir);
  // First of all: a second server on this directory must change nothing in it.
  auto data_lock = DataDirLock::acquire(data_dir);
  if (!data_lock) return fail(data_lock.error(), 1);
  auto keys = open_auth(options.auth, data_dir, settings->listen.host);
  if (!keys) return fail(keys.error(), 2);
  auth::Access access(keys->get());
  // Each instance's own credential, for the function's permissions (auth/instance_identity.h).
  auth::InstanceIdentities identities(keys->get(), options.region, wall_micros);
  auto launcher = open_launcher(options, data_dir, identities);
  if (!launcher) return fail(launcher.error(), 1);
  auto stores = open_stores(data_dir, **launcher);
  if (!stores) return fail(stores.error(), 1);
  auto engine = open_engine(options, *settings, data_dir, **launcher, *stores);
  if (!engine) return fail(engine.error(), 1);
  auto cluster = open_cluster(options.cluster);
  if (!cluster) return fail(cluster.error(), 2);
  api::Api api_layer(api_deps(**engine, *stores, access, *settings));
  http::Router router = api_layer.router();
  add_cluster_routes(router, access, cluster->get());
  Parts parts;
  if (auto wired = wire(options, data_dir, router, **engine, *stores, access, parts); !wired) {
    parts.stop();
    return fail(wired.error(), 2);
  }
  (*engine)->events->start();
  auto http_server = start_http(settings->listen, std::move(router), **launcher);
  if (!http_server) {
    stop_engine(parts, **engine, nullptr);
    return fail(http_server.error(), 1);
  }
  Ticker ticker((*engine)->scheduler);
  if (auto joined = join_cluster(cluster->get(), settings->listen, **http_server,
                                 *(*engine)->functions);
      !joined) {
    (*http_server)->stop();
    stop_engine(parts, **engine, &ticker);
    return fail(joined.error(), 1);
  }
  serve_until_signal(stop_signals, settings->listen, (*http_server)->port(), data_dir);
  if (*cluster) (*cluster)->leave();  // first, so that the other nodes see it go at once
  (*http_server)->stop();
  stop_engine(parts, **engine, &ticker);
  if (auto flushed = stores->usage->flush(); !flushed) spdlog::error("{}", flushed.error().message);
  spdlog::info("stopped");
  return 0;
}

}  // namespace kumo::server
