#include "functions/functions.h"

#include <filesystem>
#include <mutex>

#include "common/log.h"

namespace kumo::functions {

Functions::Functions(registry::Registry& registry, scheduler::Scheduler& scheduler,
                     events::Events& events, LaunchPlan plan,
                     std::vector<const registry::SpecValidator*> validators)
    : registry_(registry),
      scheduler_(scheduler),
      events_(events),
      plan_(std::move(plan)),
      validators_(std::move(validators)) {
  std::error_code ec;
  std::filesystem::create_directories(plan_.data_dir + "/logs", ec);
  std::filesystem::create_directories(plan_.data_dir + "/instances", ec);
}

void Functions::restore() {
  for (const registry::FunctionVersion& fv : registry_.list()) {
    go_live(fv);
    spdlog::info("function {} version {} restored", fv.spec.name, fv.version);
  }
}

Result<registry::FunctionVersion> Functions::deploy(std::string_view package,
                                                    const registry::Registry::SpecAdmit& admit) {
  auto checked = [this, &admit](registry::FunctionSpec& spec) -> Result<void> {
    if (admit) {
      if (auto admitted = admit(spec); !admitted) return admitted;
    }
    return validate(spec);
  };
  auto fv = registry_.deploy(package, checked);
  if (!fv) return fv.error();
  go_live(*fv);
  return fv;
}

void Functions::set_publisher(Publisher* publisher) {
  publisher_.store(publisher);
  if (publisher == nullptr) return registry_.set_numberer(nullptr);
  registry_.set_numberer([publisher](const registry::FunctionSpec& spec, const std::string& sha,
                                     std::string_view package) {
    return publisher->number(spec, sha, package);
  });
}

Result<void> Functions::remove(const std::string& name) {
  if (auto removed = registry_.remove(name); !removed) return removed;
  {
    std::unique_lock lock(mu_);
    live_.erase(name);
  }
  scheduler_.remove(name);
  events_.remove(name);
  spdlog::info("removed {}", name);
  if (Publisher* p = publisher_.load(); p != nullptr) p->removed(name);
  return {};
}

Functions::Entry Functions::find(const std::string& name) const {
  std::shared_lock lock(mu_);
  auto it = live_.find(name);
  return it == live_.end() ? nullptr : it->second;
}

std::vector<registry::FunctionVersion> Functions::list() { return registry_.list(); }

Result<std::vector<registry::FunctionVersion>> Functions::versions(const std::string& name) {
  return registry_.versions(name);
}

scheduler::PoolStats Functions::stats(const std::string& name) const {
  return scheduler_.stats(name);
}

std::vector<std::pair<std::string, scheduler::PoolStats>> Functions::pool_stats() const {
  std::vector<std::string> names;
  {
    std::shared_lock lock(mu_);
    for (const auto& [name, entry] : live_) names.push_back(name);
  }
  std::vector<std::pair<std::string, scheduler::PoolStats>> out;
  for (std::string& name : names) {
    scheduler::PoolStats stats = scheduler_.stats(name);
    out.emplace_back(std::move(name), stats);
  }
  return out;
}

std::string Functions::log_path(const std::string& name) const {
  return functions::log_path(plan_, name);
}

// In memory first, so an invocation that the new pool could serve finds the version.
void Functions::go_live(const registry::FunctionVersion& fv) {
  {
    auto entry = std::make_shared<const registry::FunctionVersion>(fv);
    std::unique_lock lock(mu_);
    live_[fv.spec.name] = std::move(entry);
  }
  scheduler_.configure(pool_config(fv, plan_));
  events_.configure(fv.spec);
}

Result<void> Functions::validate(const registry::FunctionSpec& spec) const {
  for (const registry::SpecValidator* validator : validators_) {
    if (auto valid = validator->validate(spec); !valid) return valid;
  }
  return {};
}

}  // namespace kumo::functions
