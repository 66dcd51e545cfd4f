// The access fields of a function's spec: what its instances may do in Kumo (`permissions:`,
// its identity), who may call its HTTP trigger (`auth:`) and which browser origins may
// (`cors:`). Parsed from kumo.yaml and from the persisted JSON alike, validated in both.
// Pure values and functions; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "auth/scopes.h"
#include "common/result.h"

namespace YAML {
class Node;
}

namespace kumo::registry {

// Who may call the function's HTTP trigger (/fn/NAME/...), as Lambda function URLs'
// AuthType: kKey (AWS_IAM) needs a key with invoke scope on the function, kNone (NONE) lets
// anyone call it. The invoke API always needs a key.
enum class HttpAuth { kKey, kNone };

const char* http_auth_name(HttpAuth a);

// CORS for the HTTP trigger, as Lambda function URLs' Cors: Kumo answers preflight
// requests itself and adds the Access-Control-* headers to replies for allowed origins.
struct Cors {
  std::vector<std::string> allow_origins;   // "*" or origins: "https://app.example.com"
  std::vector<std::string> allow_methods;   // "*" or GET, HEAD, POST, PUT, PATCH, DELETE
  std::vector<std::string> allow_headers;   // "*" or header names
  std::vector<std::string> expose_headers;  // "*" or header names
  int max_age_s = 0;                        // 0..86400: how long a browser keeps a preflight
  bool allow_credentials = false;           // never with the origin "*"

  bool operator==(const Cors&) const = default;
};

inline constexpr size_t kMaxCorsOrigins = 100;
inline constexpr size_t kMaxCorsOriginLength = 253;
inline constexpr size_t kMaxCorsHeaders = 100;
inline constexpr size_t kMaxCorsHeaderLength = 256;
inline constexpr int kMaxCorsMaxAge = 86400;

struct AccessSpec {
  // What the function's instances may do in Kumo, in the grammar of keys (auth/scopes.h),
  // never `admin`. Empty (the default): nothing, and its instances get no credential.
  std::vector<auth::Grant> permissions;
  HttpAuth http_auth = HttpAuth::kKey;
  std::optional<Cors> cors;
};

// Reads `permissions`, `auth` and `cors` from a kumo.yaml root into `out`; kInvalidArgument
// naming the field.
Result<void> read_access_yaml(const YAML::Node& root, AccessSpec& out);
// The same from the persisted JSON (spec_to_json's keys: permissions as a list of grants,
// auth, cors or null).
Result<void> read_access_json(const nlohmann::json& j, AccessSpec& out);
// Adds the keys read_access_json reads to `j`.
void write_access_json(const AccessSpec& access, nlohmann::json& j);

}  // namespace kumo::registry
