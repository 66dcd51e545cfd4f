// InstanceIdentities: the credential each function instance acts with when it calls Kumo,
// as a Lambda execution role's session credentials: an ephemeral key (keys.h; in memory
// only) of the function's tenant whose grants are exactly the function's `permissions:`,
// made when the instance starts and dropped when it ends. The instance gets it in the
// variables every AWS SDK reads, and as KUMO_API_KEY for Kumo's own API:
//   KUMO_API_KEY           the key's token (Authorization: Bearer ...)
//   AWS_ACCESS_KEY_ID      the key's id
//   AWS_SECRET_ACCESS_KEY  the token's secret part (what SigV4 signs with)
//   AWS_SESSION_TOKEN      the key's id again (SDKs send it with temporary credentials;
//                          Kumo's S3 endpoint ignores it)
//   AWS_REGION, AWS_DEFAULT_REGION  the server's region
//   AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_S3  where the instance reaches Kumo, and its S3 API
// A function without permissions gets none of these: it can call nothing of Kumo's, and
// its own `env` may name credentials for somewhere else. Without authentication (`--auth
// none`) a function with permissions gets the AWS variables with a placeholder key, since
// Kumo checks nothing then and SDKs refuse to sign without one.
//
// Tokens are never logged. Thread-safe. The KeyStore (null: authentication is off) must
// outlive this.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>

#include "auth/keys.h"
#include "common/result.h"

namespace kumo::auth {

inline constexpr const char* kDefaultRegion = "us-east-1";

class InstanceIdentities {
 public:
  using Clock = std::function<int64_t()>;  // wall microseconds
  using Env = std::map<std::string, std::string>;

  InstanceIdentities(KeyStore* keys, std::string region, Clock now_us);

  // The variables of instance `instance_id` of `function` (an internal, tenant-qualified
  // name) with grants `permissions` (scopes.h's text; empty: none), which reaches Kumo at
  // `kumo_url`. kInvalidArgument for grants that do not parse or name admin; kConflict when
  // the store holds as many instance keys as it may. Issuing twice for one instance id
  // replaces (and drops) the first key.
  Result<Env> issue(const std::string& function, const std::string& permissions,
                    const std::string& instance_id, const std::string& kumo_url);
  // Drops the instance's key at once; unknown ids are ignored.
  void release(const std::string& instance_id);
  // How many instances hold a key now.
  size_t live() const;

 private:
  KeyStore* keys_;
  const std::string region_;
  Clock now_us_;
  mutable std::mutex mu_;
  std::map<std::string, std::string> key_of_;  // instance id -> key id. Guarded by mu_.
};

}  // namespace kumo::auth
