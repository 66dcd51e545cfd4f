// Cluster mode's presence of this node (docs/cluster.md): with `--cluster`, the server
// opens etcd, joins the membership under its node id once it listens, and leaves first when
// it stops, so that the others see it go at once. Without it nothing here runs and the
// server is the single-node one, unchanged.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "auth/access.h"
#include "cluster/etcd.h"
#include "cluster/membership.h"
#include "common/result.h"
#include "functions/functions.h"
#include "http/router.h"
#include "server/cluster_sync.h"

namespace kumo::server {

struct ClusterOptions {
  bool enabled = false;
  std::vector<std::string> etcd;  // "http://host:2379", one or more members
  std::string nats;               // "nats://host:4222": packages; empty: functions not shared
  std::string node_id;            // default: <hostname>-<port>
  std::string advertise;          // where other nodes reach this one; default: the listen address
};

// The `cluster:` section of the config file: {etcd: [urls] or "url,url", nats, node_id,
// advertise}.
// Its presence turns cluster mode on. kInvalidArgument naming the bad key.
Result<ClusterOptions> parse_cluster_section(const nlohmann::json& section);

// The command line's cluster flags over the file's (each given one wins); `etcd` is
// comma-separated.
void apply_cluster_flags(bool cluster, const std::string& etcd, const std::string& nats,
                         const std::string& node_id, const std::string& advertise,
                         ClusterOptions& options);

// Checks the options (cluster mode needs etcd endpoints) before anything is opened.
Result<void> check_cluster_options(const ClusterOptions& options);

class ClusterNode {
 public:
  // Opens the etcd client; contacts nothing yet.
  static Result<std::unique_ptr<ClusterNode>> open(const ClusterOptions& options);
  // Joins as `node_id` (or <hostname>-<port>), reachable at `advertise` (or `listen_url`).
  Result<void> join(const std::string& listen_url, int port);
  // Shares this node's functions with the cluster and follows the cluster's (cluster_sync.h),
  // when the options name NATS; `functions` must outlive this node or its leave().
  Result<void> follow(functions::Functions& functions);
  // Leaves the membership and stops following, now (idempotent).
  void leave();

  const std::string& id() const { return id_; }
  std::vector<cluster::NodeInfo> nodes() const;

 private:
  explicit ClusterNode(ClusterOptions options, std::unique_ptr<cluster::Etcd> etcd)
      : options_(std::move(options)), etcd_(std::move(etcd)) {}
  ClusterOptions options_;
  std::string id_;
  std::unique_ptr<cluster::Etcd> etcd_;
  std::unique_ptr<cluster::FunctionCatalogue> catalogue_;  // these use the ones above
  functions::Functions* functions_ = nullptr;
  std::unique_ptr<ClusterSync> sync_;
  std::unique_ptr<cluster::Membership> membership_;
};

// GET /api/v1/cluster (the operator's): {"mode": "single"} or {"mode": "cluster", "node":
// id, "nodes": [{"id", "url"}]}. `node` null: single-node mode.
void add_cluster_routes(http::Router& router, const auth::Access& access,
                        const ClusterNode* node);

}  // namespace kumo::server
