// ClusterSync: a cluster-mode node's functions follow the cluster's catalogue (docs/cluster.md).
// A new version deployed here is published before it is recorded: the package to the
// PackageStore (NATS JetStream), then the entry to the FunctionCatalogue (etcd), whose
// version number the registry records; if either fails, so does the deploy. A removal here
// is published after it. Every node lists the catalogue at start and then watches it,
// deploying locally each version it lacks (the package fetched by its hash, the spec exactly
// as published, tenant names included, under the catalogue's number) and removing what was
// removed. A thread applying the catalogue never publishes.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "cluster/catalogue.h"
#include "cluster/package_store.h"
#include "functions/functions.h"

namespace kumo::server {

class ClusterSync final : public functions::Publisher {
 public:
  ClusterSync(functions::Functions& functions, cluster::FunctionCatalogue& catalogue,
              std::unique_ptr<cluster::PackageStore> packages);
  ~ClusterSync() override;

  // Applies the catalogue as it is, then follows its changes on the watch's thread.
  Result<void> start();

  Result<int> number(const registry::FunctionSpec& spec, const std::string& sha,
                     std::string_view package) override;
  void removed(const std::string& name) override;

 private:
  void apply(const cluster::CatalogueChange& change);
  Result<void> deploy(const cluster::CatalogueEntry& entry);

  functions::Functions& functions_;
  cluster::FunctionCatalogue& catalogue_;
  std::mutex packages_mu_;  // PackageStore is one connection, not thread-safe
  std::unique_ptr<cluster::PackageStore> packages_;
  std::unique_ptr<cluster::Watch> watch_;  // last: stops first
};

}  // namespace kumo::server
