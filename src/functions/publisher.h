// functions::Publisher: cluster mode's view of this node's function lifecycle
// (server/cluster_sync.h). A new version's number comes from it before the version is
// recorded (its numberer, which publishes the version); removals are told after they take
// effect. A single node has none.
#pragma once

#include <string>

#include "registry/registry.h"

namespace kumo::functions {

class Publisher {
 public:
  virtual ~Publisher() = default;
  // Numbers (and publishes) each new version before it is recorded; its error fails the
  // deploy (registry::Registry::Numberer).
  virtual Result<int> number(const registry::FunctionSpec& spec, const std::string& sha,
                             std::string_view package) = 0;
  // The function was removed here.
  virtual void removed(const std::string& name) = 0;
};

}  // namespace kumo::functions
