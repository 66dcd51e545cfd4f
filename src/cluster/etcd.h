// cluster::Etcd: a client of etcd's v3 API through its JSON gateway (etcd 3.4 serves
// /v3/kv/*, /v3/lease/* and /v3/watch as JSON over HTTP/1.1; Debian has no C++ gRPC client
// for it). Keys and values are bytes; the gateway's base64 and its int64-as-string fields
// stay inside this part.
//
// Calls are blocking and thread-safe (one kept-alive connection per endpoint, used under a
// lock). A call that cannot reach an endpoint tries the next one; so a put or a
// compare-and-swap whose reply was lost may have been applied: callers write values that
// make a repeat harmless (the same value, or a CAS whose loss they can read back).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/result.h"
#include "http/client.h"

namespace kumo::cluster {

struct KeyValue {
  std::string key;
  std::string value;
  int64_t create_revision = 0;
  int64_t mod_revision = 0;
  int64_t version = 0;
  int64_t lease = 0;
};

struct Range {
  std::vector<KeyValue> kvs;
  int64_t revision = 0;  // the store's revision when it was read
};

struct WatchEvent {
  enum class Type { kPut, kDelete };
  Type type = Type::kPut;
  KeyValue kv;  // for a delete, the key and the revision of the deletion
};

// What a watch reports: the events of one revision or more, in order. `compacted` means
// revisions the watch had not seen were compacted away: the watcher must read the prefix
// again (list) and goes on from `revision`.
struct WatchUpdate {
  std::vector<WatchEvent> events;
  int64_t revision = 0;
  bool compacted = false;
};

class Etcd;

// Reports changes under a prefix on a thread of its own until destroyed. Resumes after a
// broken connection or a failed-over endpoint from the last revision it reported, so no
// change is lost or reported twice (short of compaction).
class Watch {
 public:
  using Callback = std::function<void(const WatchUpdate&)>;
  ~Watch();
  Watch(const Watch&) = delete;
  Watch& operator=(const Watch&) = delete;

 private:
  friend class Etcd;
  Watch(const Etcd& etcd, std::string prefix, int64_t after_revision, Callback callback);
  void run();
  Result<void> watch_once(http::Client& client);

  const Etcd& etcd_;
  std::string prefix_;
  int64_t next_revision_;  // the first revision not yet reported; touched by the thread only
  Callback callback_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

class Etcd {
 public:
  // `urls` like "http://127.0.0.1:2379". kInvalidArgument for none or a malformed one.
  // Connects lazily: a cluster that is down fails the first call, not this one.
  static Result<std::unique_ptr<Etcd>> open(const std::vector<std::string>& urls,
                                            std::chrono::milliseconds timeout =
                                                std::chrono::seconds(5));

  // Returns the revision of the write. `lease` 0: none.
  Result<int64_t> put(std::string_view key, std::string_view value, int64_t lease = 0) const;
  // The key, or an empty range.
  Result<Range> get(std::string_view key) const;
  // Every key starting with `prefix`, in key order.
  Result<Range> list(std::string_view prefix) const;
  // How many keys were deleted (0 or 1).
  Result<int64_t> erase(std::string_view key) const;
  // Writes only if the key's mod_revision is `expected` (0: only if the key is absent).
  // false, writing nothing, when it is not.
  Result<bool> put_if(std::string_view key, std::string_view value, int64_t expected,
                      int64_t lease = 0) const;
  // Writes every (key, value) of `puts` in one transaction, only if `key`'s mod_revision is
  // `expected` (0: only if absent); false, writing nothing, when it is not.
  Result<bool> put_all_if(std::string_view key, int64_t expected,
                          const std::vector<std::pair<std::string, std::string>>& puts) const;
  // Deletes only if the key's mod_revision is `expected`; false when it is not (or absent).
  Result<bool> erase_if(std::string_view key, int64_t expected) const;

  // A lease of `ttl_seconds`; keys put with it go when it expires or is revoked.
  Result<int64_t> grant_lease(int64_t ttl_seconds) const;
  // Renews the lease; its TTL in seconds. kNotFound when it has already expired.
  Result<int64_t> keep_alive(int64_t lease) const;
  Result<void> revoke_lease(int64_t lease) const;

  // Changes under `prefix` after revision `after_revision` (a list's revision, so that list
  // and watch together miss nothing), until the Watch is destroyed.
  std::unique_ptr<Watch> watch(std::string prefix, int64_t after_revision,
                               Watch::Callback callback) const;

  // How long one watch request stays open before it is made again (and a destroyed Watch
  // notices at the latest); tests shorten it.
  void set_watch_window(std::chrono::milliseconds window) { watch_window_ = window; }

 private:
  friend class Watch;
  struct Connection {
    http::Endpoint endpoint;
    std::unique_ptr<std::mutex> mu;
    std::unique_ptr<http::Client> client;  // guarded by *mu
  };
  Etcd(std::vector<http::Endpoint> endpoints, std::chrono::milliseconds timeout);
  // POSTs a JSON body to one endpoint after another until one answers; the reply's JSON.
  Result<std::string> call(std::string_view path, const std::string& body) const;
  const std::vector<http::Endpoint>& endpoints() const { return endpoints_; }

  std::vector<http::Endpoint> endpoints_;
  mutable std::vector<Connection> connections_;
  mutable std::atomic<size_t> preferred_{0};  // the endpoint that answered last
  std::chrono::milliseconds timeout_;
  std::chrono::milliseconds watch_window_{std::chrono::seconds(2)};
};

}  // namespace kumo::cluster
