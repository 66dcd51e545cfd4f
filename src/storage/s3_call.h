// Internal to src/storage: one S3 request as the service's handlers see it.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "auth/access.h"
#include "auth/sigv4.h"
#include "http/handler.h"

namespace kumo::storage {

struct S3Call {
  http::Request req;
  std::map<std::string, std::string> query;  // decoded
  std::string bucket;        // as kept (TENANT~NAME for a tenant's); "" for ListBuckets
  std::string shown_bucket;  // as the client named it: what replies and errors show
  std::string key;           // "" for bucket operations
  std::string request_id;
  std::optional<auth::Caller> caller;      // nullopt: an anonymous request
  std::optional<auth::Verified> streaming;  // the seed of signed aws-chunked chunks

  bool has(std::string_view name) const { return query.count(std::string(name)) > 0; }
  std::string q(std::string_view name) const {
    auto it = query.find(std::string(name));
    return it == query.end() ? std::string() : it->second;
  }
  std::string resource() const {
    return key.empty() ? "/" + shown_bucket : "/" + shown_bucket + "/" + key;
  }
  const auth::Verified* seed() const { return streaming ? &*streaming : nullptr; }
};

}  // namespace kumo::storage
