// cluster::Membership: which Kumo nodes are alive, by etcd lease. Each node puts
// `<prefix><id>` (its address, as JSON) under a lease of its own and renews it; a node that
// stops renewing (killed, hung, cut off) loses its key when the lease expires, within
// `ttl` of its last renewal, and every other node's watch sees it go.
//
// Thread-safe. Renewal runs on a thread of its own; a renewal that finds the lease already
// expired (a long pause) joins again under a new lease.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "cluster/etcd.h"
#include "common/result.h"

namespace kumo::cluster {

struct NodeInfo {
  std::string id;   // unique in the cluster; also the key's last part
  std::string url;  // where its gateway answers, e.g. "http://10.0.0.5:8080"
  bool operator==(const NodeInfo&) const = default;
};

struct MembershipOptions {
  std::string prefix = "kumo/nodes/";
  int64_t ttl_seconds = 3;  // etcd grants at least its own minimum (about 2 s)
  std::chrono::milliseconds renew_every{1000};
};

class Membership {
 public:
  using Listener = std::function<void(const std::vector<NodeInfo>&)>;

  // Joins: the node's key is written before this returns, and the nodes already there are
  // known. kInvalidArgument for an empty id or one with '/'; etcd's errors otherwise.
  static Result<std::unique_ptr<Membership>> join(const Etcd& etcd, NodeInfo self,
                                                  MembershipOptions options = {});
  // Leaves at once (revokes the lease), as a clean stop does.
  ~Membership();
  Membership(const Membership&) = delete;
  Membership& operator=(const Membership&) = delete;

  // The live nodes, this one included, by id.
  std::vector<NodeInfo> nodes() const;
  // Called (on the watch's thread) with the live nodes after every change.
  void set_listener(Listener listener);
  // Stops renewing without leaving, as a killed node would: its key goes when the lease
  // expires. For tests of failure detection.
  void stop_renewing();

 private:
  Membership(const Etcd& etcd, NodeInfo self, MembershipOptions options);
  Result<void> register_self();
  Result<void> load_and_watch();
  void apply(const WatchUpdate& update);
  void renew_loop();
  void notify();

  const Etcd& etcd_;
  const NodeInfo self_;
  const MembershipOptions options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, NodeInfo> nodes_;  // guarded by mu_
  Listener listener_;                      // guarded by mu_
  int64_t lease_ = 0;                      // guarded by mu_
  bool stopping_ = false;                  // guarded by mu_
  std::unique_ptr<Watch> watch_;
  std::thread renewer_;
};

}  // namespace kumo::cluster
