#include "server/cluster_sync.h"

#include <spdlog/spdlog.h>

#include "common/clock.h"
#include "common/json.h"
#include "registry/spec.h"

namespace kumo::server {
namespace {

// Set while this thread applies the catalogue: what it deploys is already published.
thread_local bool applying = false;
// The catalogue's number for the version this thread is applying.
thread_local int applying_version = 0;

}  // namespace

ClusterSync::ClusterSync(functions::Functions& functions, cluster::FunctionCatalogue& catalogue,
                         std::unique_ptr<cluster::PackageStore> packages)
    : functions_(functions), catalogue_(catalogue), packages_(std::move(packages)) {}

ClusterSync::~ClusterSync() { watch_.reset(); }

Result<void> ClusterSync::start() {
  auto listed = catalogue_.list();
  if (!listed) return listed.error();
  for (const auto& entry : listed->entries) apply({entry.name, entry});
  watch_ = catalogue_.watch(
      listed->revision, [this](const cluster::CatalogueChange& c) { apply(c); },
      [] { spdlog::warn("cluster: catalogue changes were compacted away; restart to resync"); });
  spdlog::info("cluster: {} function(s) in the catalogue", listed->entries.size());
  return {};
}

void ClusterSync::apply(const cluster::CatalogueChange& change) {
  applying = true;
  if (!change.entry) {
    if (functions_.find(change.name)) {
      if (auto r = functions_.remove(change.name); !r) {
        spdlog::warn("cluster: removing {}: {}", change.name, r.error().message);
      }
    }
  } else if (auto local = functions_.find(change.name);
             !local || local->sha256 != change.entry->sha256) {
    if (auto r = deploy(*change.entry); !r) {
      spdlog::warn("cluster: deploying {} ({}): {}", change.name, change.entry->sha256,
                   r.error().message);
    }
  }
  applying = false;
}

Result<void> ClusterSync::deploy(const cluster::CatalogueEntry& entry) {
  auto spec_json = parse_json(entry.spec_json);
  if (!spec_json) return spec_json.error();
  auto spec = registry::spec_from_json(*spec_json);
  if (!spec) return spec.error();
  if (spec->name != entry.name) {
    return make_error(ErrorCode::kInvalidArgument,
                      "the entry's spec names another function: " + spec->name);
  }
  std::string package;
  {
    std::lock_guard lock(packages_mu_);
    auto got = packages_->get(entry.sha256);
    if (!got) return got.error();
    package = std::move(*got);
  }
  // The spec as published (the package's kumo.yaml with its tenant's names), and its number.
  applying_version = entry.version;
  auto fv = functions_.deploy(package, [&spec](registry::FunctionSpec& s) -> Result<void> {
    s = *spec;
    return {};
  });
  applying_version = 0;
  if (!fv) return fv.error();
  spdlog::info("cluster: deployed {} version {} from the catalogue", entry.name, fv->version);
  return {};
}

Result<int> ClusterSync::number(const registry::FunctionSpec& spec, const std::string& sha,
                                std::string_view package) {
  if (applying) return applying_version;
  {
    std::lock_guard lock(packages_mu_);
    auto stored = packages_->put(package);
    if (!stored) return stored.error();
  }
  auto entry = catalogue_.publish({spec.name, 0, registry::spec_to_json(spec).dump(), sha,
                                   static_cast<int64_t>(package.size()), wall_micros()});
  if (!entry) return entry.error();
  return entry->version;
}

void ClusterSync::removed(const std::string& name) {
  if (applying) return;
  if (auto r = catalogue_.remove(name); !r && r.error().code != ErrorCode::kNotFound) {
    spdlog::error("cluster: {} was removed on this node only: {}", name, r.error().message);
  }
}

}  // namespace kumo::server
