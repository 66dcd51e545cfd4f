#include "auth/instance_identity.h"

#include <fmt/format.h>

#include "auth/access.h"
#include "auth/scopes.h"

namespace kumo::auth {
namespace {

constexpr size_t kMaxKeyName = 64;
constexpr const char* kNoAuthKey = "kumo-auth-off";

// "instance <function> <id>", the function's name shortened to fit a key's name.
std::string key_name(const std::string& function, const std::string& instance_id) {
  std::string prefix = "instance ";
  size_t room = kMaxKeyName - prefix.size() - 1 - std::min(instance_id.size(), size_t{32});
  return prefix + function.substr(0, room) + " " + instance_id.substr(0, 32);
}

InstanceIdentities::Env aws_env(const std::string& key_id, const std::string& secret,
                                const std::string& region, const std::string& kumo_url) {
  InstanceIdentities::Env env{
      {"AWS_ACCESS_KEY_ID", key_id},     {"AWS_SECRET_ACCESS_KEY", secret},
      {"AWS_SESSION_TOKEN", key_id},     {"AWS_REGION", region},
      {"AWS_DEFAULT_REGION", region},
  };
  if (!kumo_url.empty()) {
    env["AWS_ENDPOINT_URL"] = kumo_url;
    env["AWS_ENDPOINT_URL_S3"] = kumo_url + "/s3";
  }
  return env;
}

}  // namespace

InstanceIdentities::InstanceIdentities(KeyStore* keys, std::string region, Clock now_us)
    : keys_(keys), region_(std::move(region)), now_us_(std::move(now_us)) {}

Result<InstanceIdentities::Env> InstanceIdentities::issue(const std::string& function,
                                                          const std::string& permissions,
                                                          const std::string& instance_id,
                                                          const std::string& kumo_url) {
  if (permissions.find_first_not_of(" ,") == std::string::npos) return Env{};
  auto grants = parse_grants(permissions);
  if (!grants) return grants.error();
  for (const Grant& g : *grants) {
    if (g.verb == Verb::kAdmin) {
      return make_error(ErrorCode::kInvalidArgument,
                        fmt::format("function '{}': admin is not for functions", function));
    }
  }
  if (keys_ == nullptr) return aws_env(kNoAuthKey, kNoAuthKey, region_, kumo_url);
  KeySpec spec{key_name(std::string(local_name(function)), instance_id), tenant_of(function),
               std::move(*grants), std::nullopt};
  auto made = keys_->create_ephemeral(spec, now_us_());
  if (!made) return made.error();
  auto parts = parse_token(made->token);
  if (!parts) {  // a token create_ephemeral just made always parses
    keys_->drop_ephemeral(made->record.id);
    return parts.error();
  }
  {
    std::lock_guard lock(mu_);
    auto [it, fresh] = key_of_.try_emplace(instance_id, made->record.id);
    if (!fresh) {
      keys_->drop_ephemeral(it->second);
      it->second = made->record.id;
    }
  }
  Env env = aws_env(parts->id, parts->secret, region_, kumo_url);
  env["KUMO_API_KEY"] = made->token;
  return env;
}

void InstanceIdentities::release(const std::string& instance_id) {
  std::string key_id;
  {
    std::lock_guard lock(mu_);
    auto it = key_of_.find(instance_id);
    if (it == key_of_.end()) return;
    key_id = std::move(it->second);
    key_of_.erase(it);
  }
  if (keys_ != nullptr) keys_->drop_ephemeral(key_id);
}

size_t InstanceIdentities::live() const {
  std::lock_guard lock(mu_);
  return key_of_.size();
}

}  // namespace kumo::auth
