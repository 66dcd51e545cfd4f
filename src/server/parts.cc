#include "server/parts.h"

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include <fmt/format.h>

#include "common/clock.h"
#include "common/log.h"
#include "server/gpus.h"

namespace kumo::server {
namespace {

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

// How versions become instances (functions/launch_plan.h), read from this program's place
// and environment once, so that the plan itself is a plain value.
functions::LaunchPlan launch_plan(const std::string& data_dir) {
  functions::LaunchPlan plan;
  plan.data_dir = data_dir;
  std::error_code ec;
  auto self_dir = std::filesystem::read_symlink("/proc/self/exe", ec).parent_path();
  plan.model_server = (self_dir / "kumo-model").string();
  if (const char* ort = std::getenv("KUMO_ORT_LIB"); ort != nullptr) plan.ort_lib = ort;
  return plan;
}

}  // namespace

std::string data_directory(const std::string& option) {
  std::error_code ec;
  std::filesystem::create_directories(option, ec);
  std::string dir = std::filesystem::absolute(option).lexically_normal().string();
  if (!dir.empty() && dir.back() == '/') dir.pop_back();
  return dir;
}


Result<Settings> read_settings(const ServeOptions& options) {
  auto listen = parse_listen(options.listen, options.threads);
  if (!listen) return listen.error();
  listen->limits = options.http_limits;
  if (auto cluster = check_cluster_options(options.cluster); !cluster) return cluster.error();
  auto prices = metering::make_prices(options.price_per_gb_second,
                                      options.price_per_million_requests);
  if (!prices) return prices.error();
  if (options.cpu_mb_per_vcpu < 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("cpu_mb_per_vcpu must be 0 (no CPU quota) or more, got {}",
                                  options.cpu_mb_per_vcpu));
  }
  auto routes = cloudevent_routes(options.sections);
  if (!routes) return routes.error();
  auto gpus = load_gpus(options.sections.value("gpus", nlohmann::json()));
  if (!gpus) return gpus.error();
  return Settings{std::move(*listen), *prices, std::move(*routes), std::move(*gpus)};
}

Result<std::unique_ptr<executor::ProcessLauncher>> open_launcher(
    const ServeOptions& options, const std::string& data_dir,
    auth::InstanceIdentities& identities) {
  executor::LauncherOptions launcher_options;
  launcher_options.credentials = instance_credentials(identities);
  launcher_options.python = options.python;
  launcher_options.runtime_dir = data_dir + "/runtime";
  launcher_options.group = cgroup_group(data_dir);
  apply_sandbox_options(options.sandbox, launcher_options);
  launcher_options.cpu_mb_per_vcpu = options.cpu_mb_per_vcpu;
  auto launcher = executor::ProcessLauncher::create(launcher_options);
  if (!launcher) return launcher.error();
  clear_instances(data_dir, (*launcher)->uses_cgroups());
  return launcher;
}


Result<Stores> open_stores(const std::string& data_dir, executor::ProcessLauncher& launcher) {
  const std::string path = data_dir + "/kumo.db";
  Stores out;
  auto db = store::Database::open(path);
  if (!db) return db.error();
  out.db = std::move(*db);
  auto registry = registry::Registry::open(*out.db, data_dir);
  if (!registry) return registry.error();
  out.registry = std::move(*registry);
  out.registry->set_code_in_use(
      [&launcher](const std::string& code_dir) { return launcher.code_in_use(code_dir); });
  if (auto collected = out.registry->collect_garbage(); !collected) {
    spdlog::warn("registry: collecting unused code failed: {}", collected.error().message);
  }
  auto tenants = auth::TenantStore::open(path, wall_micros());
  if (!tenants) return tenants.error();
  out.tenants = std::move(*tenants);
  auto audit = auth::AuditLog::open(path);
  if (!audit) return audit.error();
  out.audit = std::move(*audit);
  auto usage = metering::UsageStore::open(path);
  if (!usage) return usage.error();
  out.usage = std::move(*usage);
  return out;
}

Result<std::unique_ptr<Engine>> open_engine(const ServeOptions& options, Settings& settings,
                                            const std::string& data_dir,
                                            executor::Launcher& launcher, Stores& stores) {
  auto engine = std::make_unique<Engine>(launcher, *stores.usage, std::move(settings.gpus));
  auto events = events::Events::open(
      {data_dir + "/kumo.db", options.sections.value("events", nlohmann::json())},
      engine->scheduler);
  if (!events) return events.error();
  engine->events = std::move(*events);
  engine->functions = std::make_unique<functions::Functions>(
      *stores.registry, engine->scheduler, *engine->events, launch_plan(data_dir),
      std::vector<const registry::SpecValidator*>{engine->events.get(), &engine->gpu_check});
  return engine;
}

}  // namespace kumo::server
