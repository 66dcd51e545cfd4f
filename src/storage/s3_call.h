// Internal to src/storage: one S3 request as the service's handlers see it.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "http/handler.h"

namespace kumo::storage {

struct S3Call {
  http::Request req;
  std::map<std::string, std::string> query;  // decoded
  std::string bucket;                        // "" for the service (ListBuckets)
  std::string key;                           // "" for bucket operations
  std::string request_id;

  bool has(std::string_view name) const { return query.count(std::string(name)) > 0; }
  std::string q(std::string_view name) const {
    auto it = query.find(std::string(name));
    return it == query.end() ? std::string() : it->second;
  }
  std::string resource() const { return key.empty() ? "/" + bucket : "/" + bucket + "/" + key; }
};

}  // namespace kumo::storage
