#include "events/subscriptions.h"

#include <algorithm>

namespace kumo::events {

FunctionInfo function_info(const registry::FunctionSpec& spec, FunctionTriggers triggers) {
  FunctionInfo info{std::move(triggers), spec.timeout, 1};
  int slots = spec.max_instances * spec.concurrency;
  info.capacity = std::max(1, std::min(slots * 2, slots + spec.max_queue));
  return info;
}

void Subscriptions::put(const std::string& function, FunctionInfo info) {
  std::lock_guard lock(mu_);
  functions_[function] = std::move(info);
}

void Subscriptions::erase(const std::string& function) {
  std::lock_guard lock(mu_);
  functions_.erase(function);
}

bool Subscriptions::contains(const std::string& function) const {
  std::lock_guard lock(mu_);
  return functions_.contains(function);
}

std::map<std::string, FunctionInfo> Subscriptions::snapshot() const {
  std::lock_guard lock(mu_);
  return functions_;
}

std::vector<std::string> Subscriptions::subscribers(const std::string& topic) const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const auto& [name, info] : functions_) {
    auto& queues = info.triggers.queues;
    if (std::any_of(queues.begin(), queues.end(), [&](auto& q) { return q.topic == topic; })) {
      out.push_back(name);
    }
  }
  return out;
}

int Subscriptions::max_attempts(const std::string& function) const {
  std::lock_guard lock(mu_);
  auto it = functions_.find(function);
  return it == functions_.end() ? 3 : it->second.max_attempts();
}

std::vector<Match> Subscriptions::storage_matches(const ObjectEvent& event) const {
  std::lock_guard lock(mu_);
  std::vector<Match> out;
  for (const auto& [name, info] : functions_) {
    for (const auto& t : info.triggers.storage) {
      bool kind = event.kind == ObjectEvent::Kind::kCreated ? t.created : t.deleted;
      if (kind && t.bucket == event.bucket && event.key.starts_with(t.prefix) &&
          event.key.ends_with(t.suffix)) {
        out.push_back({name, info.max_attempts()});
        break;
      }
    }
  }
  return out;
}

std::vector<Match> Subscriptions::table_matches(const TableChange& change) const {
  std::lock_guard lock(mu_);
  std::vector<Match> out;
  for (const auto& [name, info] : functions_) {
    for (const auto& t : info.triggers.tables) {
      bool kind = change.kind == TableChange::Kind::kInsert   ? t.insert
                  : change.kind == TableChange::Kind::kModify ? t.update
                                                              : t.remove;
      if (kind && t.table == change.table) {
        out.push_back({name, info.max_attempts()});
        break;
      }
    }
  }
  return out;
}

}  // namespace kumo::events
