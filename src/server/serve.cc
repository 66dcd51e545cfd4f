#include "server/serve.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include <fmt/format.h>

#include "api/api.h"
#include "common/log.h"
#include "executor/process_launcher.h"
#include "http/server.h"
#include "metering/metrics.h"
#include "metering/observer_fanout.h"
#include "metering/usage_store.h"
#include "registry/registry.h"
#include "scheduler/pool_scheduler.h"
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

// A server killed with SIGKILL leaves its instances running. Each ran with its working
// directory under <data>/instances, which is how they are found again here and stopped.
void kill_stale_instances(const std::string& instances_dir) {
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

// Left over from a server that did not stop cleanly: its instances are gone.
void clear_instances(const std::string& data_dir) {
  std::error_code ec;
  kill_stale_instances(data_dir + "/instances");
  std::filesystem::remove_all(data_dir + "/instances", ec);
  std::filesystem::create_directories(data_dir + "/instances", ec);
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
  std::error_code ec;
  std::filesystem::create_directories(options.data_dir, ec);
  std::string data_dir = std::filesystem::absolute(options.data_dir).lexically_normal().string();
  if (!data_dir.empty() && data_dir.back() == '/') data_dir.pop_back();
  clear_instances(data_dir);

  auto db = store::Database::open(data_dir + "/kumo.db");
  if (!db) return spdlog::error("{}", db.error().message), 1;
  auto registry = registry::Registry::open(**db, data_dir);
  if (!registry) return spdlog::error("{}", registry.error().message), 1;
  auto usage = metering::UsageStore::open(data_dir + "/kumo.db");
  if (!usage) return spdlog::error("{}", usage.error().message), 1;

  executor::LauncherOptions launcher_options;
  launcher_options.python = options.python;
  launcher_options.runtime_dir = data_dir + "/runtime";
  auto launcher_or = executor::ProcessLauncher::create(launcher_options);
  if (!launcher_or) return spdlog::error("{}", launcher_or.error().message), 1;
  executor::ProcessLauncher& launcher = **launcher_or;

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
  scheduler::PoolScheduler sched(launcher, clock, fanout, scale_logger);
  sched_ptr = &sched;

  api::Api api_layer(api::ApiDeps{reg, sched, **usage, metrics, *prices, data_dir});
  api_layer.configure_deployed();
  http::Server http_server(*listen, api_layer.router());
  if (auto started = http_server.start(); !started) {
    spdlog::error("{}", started.error().message);
    sched.shutdown();
    return 1;
  }
  spdlog::info("kumo listening on http://{}:{} (data in {})", listen->host, http_server.port(),
               data_dir);

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
  http_server.stop();
  running = false;
  ticker.join();
  sched.shutdown();
  if (auto flushed = (*usage)->flush(); !flushed) spdlog::error("{}", flushed.error().message);
  spdlog::info("stopped");
  return 0;
}

}  // namespace kumo::server
