// functions::Publisher: told of every deploy and removal that took effect on this node, so
// that cluster mode can share it (server/cluster_sync.h). A single node has none.
#pragma once

#include <string>
#include <string_view>

#include "registry/registry.h"

namespace kumo::functions {

class Publisher {
 public:
  virtual ~Publisher() = default;
  // A new version is live here (not called for an unchanged redeploy). `package` is the
  // tar.gz it came from. Called on the deploying thread, after the version is live.
  virtual void published(const registry::FunctionVersion& version, std::string_view package) = 0;
  // The function was removed here.
  virtual void removed(const std::string& name) = 0;
};

}  // namespace kumo::functions
