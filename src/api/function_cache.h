// FunctionCache: the latest version of each deployed function, in memory, so the invoke path
// does not query SQLite. Updated by deploy and rm. Thread-safe (a shared mutex: many readers).
#pragma once

#include <map>
#include <memory>
#include <shared_mutex>
#include <string>

#include "registry/registry.h"

namespace kumo::api {

class FunctionCache {
 public:
  using Entry = std::shared_ptr<const registry::FunctionVersion>;

  Entry find(const std::string& name) const {
    std::shared_lock lock(mu_);
    auto it = entries_.find(name);
    return it == entries_.end() ? nullptr : it->second;
  }
  void put(const registry::FunctionVersion& fv) {
    auto entry = std::make_shared<const registry::FunctionVersion>(fv);
    std::unique_lock lock(mu_);
    entries_[fv.spec.name] = std::move(entry);
  }
  void erase(const std::string& name) {
    std::unique_lock lock(mu_);
    entries_.erase(name);
  }

 private:
  mutable std::shared_mutex mu_;
  std::map<std::string, Entry> entries_;  // Guarded by mu_.
};

}  // namespace kumo::api
