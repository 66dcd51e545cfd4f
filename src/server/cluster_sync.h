// ClusterSync: a cluster-mode node's functions follow the cluster's catalogue (docs/cluster.md).
// A deploy or removal here is published: the package to the PackageStore (NATS JetStream),
// the entry to the FunctionCatalogue (etcd). Every node lists the catalogue at start and then
// watches it, deploying locally each version it lacks (the package fetched by its hash, the
// spec exactly as published, tenant names included) and removing what was removed.
//
// Publishing what it applies changes nothing (the same package and spec is not a new
// version), and a thread applying never publishes. Version numbers are still each node's
// own: the catalogue's are not yet recorded by the registry.
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

  void published(const registry::FunctionVersion& version, std::string_view package) override;
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
