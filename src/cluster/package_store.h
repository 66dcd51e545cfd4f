// cluster::PackageStore: function packages by content hash, kept in NATS JetStream so that
// any node can fetch what another deployed and a package outlives the node that stored it.
//
// Debian's libnats (3.4) has no object-store API, so this is a small layout of our own over
// one JetStream stream (file storage, `replicas` copies):
//
//   kumo.packages.<sha256>.<n>     chunk n (0, 1, ...) of at most kChunkBytes
//   kumo.packages.<sha256>.meta    {"sha256", "size", "chunks"}, written last
//
// Every subject keeps one message (MaxMsgsPerSubject = 1), so storing a package again
// changes nothing; a reader gets each subject's message directly (no consumer), and checks
// the whole against its sha256, so a damaged or half-written package is never handed out.
//
// Not thread-safe: one per thread (or a lock around it).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace kumo::cluster {

struct PackageStoreOptions {
  std::string url;                     // "nats://host:4222"
  std::string stream = "KUMO_PACKAGES";
  int replicas = 1;                    // 3 on a three-server NATS cluster
  uint64_t max_package_bytes = 256u << 20;
};

class PackageStore {
 public:
  static constexpr size_t kChunkBytes = 512 * 1024;  // under NATS's default 1 MiB payload

  // Connects and makes the stream when it does not exist. kUnavailable when NATS cannot be
  // reached or has no JetStream.
  static Result<std::unique_ptr<PackageStore>> open(const PackageStoreOptions& options);
  ~PackageStore();
  PackageStore(const PackageStore&) = delete;
  PackageStore& operator=(const PackageStore&) = delete;

  // Stores `bytes` under their sha256 (returned, lower-case hex). kTooLarge past the limit.
  Result<std::string> put(std::string_view bytes);
  // The package; kNotFound when it was never stored (or its meta is not there yet),
  // kInternal when what is stored does not hash to `sha256`.
  Result<std::string> get(const std::string& sha256);

 private:
  struct Connection;
  explicit PackageStore(PackageStoreOptions options);
  Result<void> publish(const std::string& subject, std::string_view data);
  // The last message on `subject`: its data, or nullopt when there is none.
  Result<std::optional<std::string>> last(const std::string& subject);

  PackageStoreOptions options_;
  std::unique_ptr<Connection> nats_;
};

}  // namespace kumo::cluster
