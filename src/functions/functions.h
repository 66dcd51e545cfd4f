// Functions: the function lifecycle, in one place. Deploying a package records a version in
// the registry, remembers it in memory (so the invoke path never queries SQLite), configures
// its pool in the scheduler and its triggers in events; remove() undoes all of that; restore()
// does it again at server start for every function the registry holds. "What happens when I
// deploy?" is answered here (docs/architecture.md).
//
// Knows nothing of HTTP or keys: the caller (api) admits the caller and passes an `admit`
// callback that may refuse the spec or rewrite its names (the caller's tenant) before the
// validators see it.
//
// Ownership: borrows the registry, scheduler, events and validators, which must outlive it.
// Thread-safety: every method is safe from any thread. Deploys of the same function should
// come one at a time (the api runs them on one thread), so their pools configure in order.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"
#include "events/events.h"
#include "functions/launch_plan.h"
#include "functions/publisher.h"
#include "registry/registry.h"
#include "scheduler/scheduler.h"

namespace kumo::functions {

class Functions {
 public:
  using Entry = std::shared_ptr<const registry::FunctionVersion>;

  // Creates plan.data_dir's logs/ and instances/ folders when missing.
  Functions(registry::Registry& registry, scheduler::Scheduler& scheduler,
            events::Events& events, LaunchPlan plan,
            std::vector<const registry::SpecValidator*> validators);

  // Configures a pool and triggers for every function the registry holds (server start,
  // before events start). Call once, before serving.
  void restore();

  // Deploys a package (tar.gz with kumo.yaml): `admit` (optional) sees the parsed spec first,
  // then every validator; the first error refuses the deploy and leaves nothing deployed.
  // Otherwise the version is live when this returns (its pool and triggers configured). A
  // redeploy of the latest version's package and spec returns it marked `unchanged`.
  // Errors are the registry's (kInvalidArgument, kTooLarge) and the validators'.
  Result<registry::FunctionVersion> deploy(std::string_view package,
                                           const registry::Registry::SpecAdmit& admit = nullptr);

  // Forgets the function: the registry marks it removed, its pool stops (queued requests end
  // as FunctionRemoved), its triggers go. kNotFound when it is not deployed.
  Result<void> remove(const std::string& name);

  // The latest version of a deployed function (in memory); null when there is none.
  Entry find(const std::string& name) const;
  // The latest version of every deployed function, sorted by name.
  std::vector<registry::FunctionVersion> list();
  // Every version of a deployed function, oldest first; kNotFound if unknown.
  Result<std::vector<registry::FunctionVersion>> versions(const std::string& name);

  // Has `publisher` (which must outlive this, or be unset first; null: none) number every
  // later new version and hear of every removal.
  void set_publisher(Publisher* publisher);

  // The function's live pool counts (zeros when it has no pool).
  scheduler::PoolStats stats(const std::string& name) const;
  // Every deployed function's pool counts, sorted by name (metrics' gauges).
  std::vector<std::pair<std::string, scheduler::PoolStats>> pool_stats() const;
  // The file the function's instances log to.
  std::string log_path(const std::string& name) const;

 private:
  void go_live(const registry::FunctionVersion& fv);
  Result<void> validate(const registry::FunctionSpec& spec) const;

  registry::Registry& registry_;
  scheduler::Scheduler& scheduler_;
  events::Events& events_;
  const LaunchPlan plan_;
  const std::vector<const registry::SpecValidator*> validators_;
  mutable std::shared_mutex mu_;
  std::map<std::string, Entry> live_;  // Guarded by mu_.
  std::atomic<Publisher*> publisher_{nullptr};
};

}  // namespace kumo::functions
