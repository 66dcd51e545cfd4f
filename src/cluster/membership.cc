#include "cluster/membership.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/json.h"

namespace kumo::cluster {
namespace {

std::string node_json(const NodeInfo& node) {
  return nlohmann::json{{"id", node.id}, {"url", node.url}}.dump();
}

// nullopt for a value this release does not understand (it is left out, not fatal).
std::optional<NodeInfo> parse_node(const std::string& value) {
  auto parsed = parse_json(value);
  if (!parsed || !parsed->is_object()) return std::nullopt;
  auto id = parsed->find("id");
  auto url = parsed->find("url");
  if (id == parsed->end() || !id->is_string() || url == parsed->end() || !url->is_string()) {
    return std::nullopt;
  }
  return NodeInfo{id->get<std::string>(), url->get<std::string>()};
}

}  // namespace

Result<std::unique_ptr<Membership>> Membership::join(const Etcd& etcd, NodeInfo self,
                                                     MembershipOptions options) {
  if (self.id.empty() || self.id.find('/') != std::string::npos) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("cluster: node id '{}' must be non-empty, without '/'", self.id));
  }
  std::unique_ptr<Membership> m(new Membership(etcd, std::move(self), std::move(options)));
  if (auto r = m->register_self(); !r) return r.error();
  if (auto r = m->load_and_watch(); !r) return r.error();
  m->renewer_ = std::thread([m = m.get()] { m->renew_loop(); });
  return m;
}

Membership::Membership(const Etcd& etcd, NodeInfo self, MembershipOptions options)
    : etcd_(etcd), self_(std::move(self)), options_(std::move(options)) {}

Membership::~Membership() {
  int64_t lease = 0;
  {
    std::lock_guard lock(mu_);
    bool renewing = !stopping_;
    stopping_ = true;
    if (renewing) lease = lease_;
  }
  cv_.notify_all();
  if (renewer_.joinable()) renewer_.join();
  if (lease != 0) {
    if (auto r = etcd_.revoke_lease(lease); !r) {
      spdlog::warn("cluster: leaving: {} (the key goes with the lease's expiry)", r.error().message);
    }
  }
  watch_.reset();
}

Result<void> Membership::register_self() {
  auto lease = etcd_.grant_lease(options_.ttl_seconds);
  if (!lease) return lease.error();
  if (auto put = etcd_.put(options_.prefix + self_.id, node_json(self_), *lease); !put) {
    return put.error();
  }
  std::lock_guard lock(mu_);
  lease_ = *lease;
  return {};
}

Result<void> Membership::load_and_watch() {
  auto listed = etcd_.list(options_.prefix);
  if (!listed) return listed.error();
  {
    std::lock_guard lock(mu_);
    nodes_.clear();
    for (const auto& kv : listed->kvs) {
      if (auto node = parse_node(kv.value)) nodes_[node->id] = *node;
    }
  }
  watch_ = etcd_.watch(options_.prefix, listed->revision,
                       [this](const WatchUpdate& update) { apply(update); });
  return {};
}

void Membership::apply(const WatchUpdate& update) {
  if (update.compacted) {
    // Changes were lost: read the set again; the watch goes on by itself.
    if (auto listed = etcd_.list(options_.prefix)) {
      std::lock_guard lock(mu_);
      nodes_.clear();
      for (const auto& kv : listed->kvs) {
        if (auto node = parse_node(kv.value)) nodes_[node->id] = *node;
      }
    }
  }
  {
    std::lock_guard lock(mu_);
    for (const auto& e : update.events) {
      std::string id = e.kv.key.substr(options_.prefix.size());
      if (e.type == WatchEvent::Type::kDelete) {
        nodes_.erase(id);
      } else if (auto node = parse_node(e.kv.value)) {
        nodes_[id] = *node;
      }
    }
  }
  notify();
}

void Membership::notify() {
  Listener listener;
  {
    std::lock_guard lock(mu_);
    listener = listener_;
  }
  if (listener) listener(nodes());
}

void Membership::renew_loop() {
  std::unique_lock lock(mu_);
  while (!cv_.wait_for(lock, options_.renew_every, [this] { return stopping_; })) {
    int64_t lease = lease_;
    lock.unlock();
    auto ttl = etcd_.keep_alive(lease);
    if (!ttl && ttl.error().code == ErrorCode::kNotFound) {
      spdlog::warn("cluster: node {}'s lease expired; joining again", self_.id);
      if (auto r = register_self(); !r) spdlog::warn("cluster: joining again: {}", r.error().message);
    } else if (!ttl) {
      spdlog::warn("cluster: renewing node {}'s lease: {}", self_.id, ttl.error().message);
    }
    lock.lock();
  }
}

std::vector<NodeInfo> Membership::nodes() const {
  std::lock_guard lock(mu_);
  std::vector<NodeInfo> out;
  for (const auto& [id, node] : nodes_) out.push_back(node);
  return out;
}

void Membership::set_listener(Listener listener) {
  std::lock_guard lock(mu_);
  listener_ = std::move(listener);
}

void Membership::stop_renewing() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (renewer_.joinable()) renewer_.join();
}

}  // namespace kumo::cluster
