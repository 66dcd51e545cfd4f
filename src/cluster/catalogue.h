// cluster::FunctionCatalogue: the deployed functions of a cluster, in etcd, which every node
// watches (docs/cluster.md). One key per function holds its latest version:
//
//   kumo/functions/<name>  {"name", "version", "spec", "sha256", "package_bytes", "created_at_us"}
//   kumo/versions/<name>   the last version number given, kept after a remove
//
// Version numbers are given by compare-and-swap on the counter, in the same transaction as
// the function's key, so two nodes deploying one name at once get different numbers and
// the later one wins; a number never repeats, as on a single node. The spec travels as the
// JSON the registry stores; the package itself is found by its sha256 (elsewhere).
//
// Thread-safe (the Etcd client is).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cluster/etcd.h"
#include "common/result.h"

namespace kumo::cluster {

struct CatalogueEntry {
  std::string name;
  int version = 0;
  std::string spec_json;
  std::string sha256;
  int64_t package_bytes = 0;
  int64_t created_at_us = 0;
  bool operator==(const CatalogueEntry&) const = default;
};

// A change a watcher sees: the function's new latest version, or its removal (no entry).
struct CatalogueChange {
  std::string name;
  std::optional<CatalogueEntry> entry;
};

struct CatalogueListing {
  std::vector<CatalogueEntry> entries;  // by name
  int64_t revision = 0;                 // watch from here to miss nothing
};

class FunctionCatalogue {
 public:
  explicit FunctionCatalogue(const Etcd& etcd, std::string prefix = "kumo/");

  // Publishes a new latest version of `name`; `version` in the argument is ignored and the
  // returned entry carries the number given. The same sha256 and spec as the latest is not
  // a new version: that entry comes back unchanged.
  Result<CatalogueEntry> publish(CatalogueEntry entry);
  // kNotFound when no such function is published.
  Result<void> remove(const std::string& name);
  Result<std::optional<CatalogueEntry>> find(const std::string& name) const;
  Result<CatalogueListing> list() const;
  // Every change after `after_revision` (a listing's), in order, until destroyed. An entry
  // that does not parse is reported as a removal (a newer release's format, say), so that
  // a node never runs what it cannot read. `compacted`: list again.
  std::unique_ptr<Watch> watch(int64_t after_revision,
                               std::function<void(const CatalogueChange&)> on_change,
                               std::function<void()> on_compacted) const;

 private:
  std::string function_key(const std::string& name) const;
  std::string counter_key(const std::string& name) const;

  const Etcd& etcd_;
  const std::string prefix_;
};

// The JSON of one entry, both ways; nullopt for a value that is not one.
std::string entry_json(const CatalogueEntry& entry);
std::optional<CatalogueEntry> parse_entry(const std::string& value);

}  // namespace kumo::cluster
