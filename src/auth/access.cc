#include "auth/access.h"

#include <fmt/format.h>

#include "common/clock.h"

namespace kumo::auth {
namespace {

constexpr std::string_view kBearer = "Bearer ";

std::string_view action_name(Action a) {
  switch (a) {
    case Action::kAdmin: return "administer";
    case Action::kDeploy: return "deploy";
    case Action::kInvoke: return "invoke";
    case Action::kRead: return "read";
    case Action::kWrite: return "write";
    case Action::kPublish: return "publish to";
  }
  return "use";
}

std::string resource_text(const Resource& r) {
  const char* kind = "";
  switch (r.kind) {
    case ResourceKind::kFunction: kind = "function"; break;
    case ResourceKind::kBucket: kind = "bucket"; break;
    case ResourceKind::kTable: kind = "table"; break;
    case ResourceKind::kTopic: kind = "topic"; break;
    case ResourceKind::kServer: return "the server";
  }
  if (r.name.empty()) return fmt::format("every {}", kind);
  return fmt::format("{} '{}'", kind, r.name);
}

bool plain_tenant(std::string_view tenant) { return tenant.empty() || tenant == kDefaultTenant; }

}  // namespace

std::string qualify(std::string_view tenant, std::string_view name) {
  if (plain_tenant(tenant) || name.empty()) return std::string(name);
  return fmt::format("{}{}{}", tenant, kTenantSeparator, name);
}

std::string qualify(const Caller& caller, std::string_view name) {
  return qualify(caller.tenant, name);
}

std::optional<std::string> visible_name(const Caller& caller, std::string_view internal) {
  if (caller.is_operator()) return std::string(internal);
  if (tenant_of(internal) != caller.tenant) return std::nullopt;
  return std::string(local_name(internal));
}

std::string tenant_of(std::string_view internal) {
  size_t sep = internal.find(kTenantSeparator);
  if (sep == std::string_view::npos) return std::string(kDefaultTenant);
  return std::string(internal.substr(0, sep));
}

std::string_view local_name(std::string_view internal) {
  size_t sep = internal.find(kTenantSeparator);
  return sep == std::string_view::npos ? internal : internal.substr(sep + 1);
}

Access::Access(KeyStore* keys, Clock now_us) : keys_(keys), now_us_(std::move(now_us)) {
  if (!now_us_) now_us_ = [] { return wall_micros(); };
}

Result<Caller> Access::identify(std::string_view authorization) const {
  if (keys_ == nullptr) {
    Grant admin;
    admin.verb = Verb::kAdmin;
    return Caller{"", "", {admin}};
  }
  if (authorization.empty()) {
    return make_error(ErrorCode::kUnauthenticated,
                      "this needs an API key: send `Authorization: Bearer <key>` (the CLI "
                      "sends KUMO_API_KEY)");
  }
  if (!authorization.starts_with(kBearer)) {
    return make_error(ErrorCode::kUnauthenticated,
                      "the Authorization header must be `Bearer <key>`");
  }
  auto key = keys_->authenticate(authorization.substr(kBearer.size()), now_us_());
  if (!key) return key.error();
  return Caller{key->id, key->tenant, std::move(key->scopes)};
}

Result<void> Access::permit(const Caller& caller, Action action, const Resource& resource) {
  // A tenant's key names things of its own tenant only; '~' would spell another tenant's.
  if (!caller.is_operator() && resource.name.find(kTenantSeparator) != std::string::npos) {
    return make_error(ErrorCode::kPermissionDenied,
                      fmt::format("key {} may not name '{}': names do not contain '{}'",
                                  caller.who(), resource.name.substr(0, 64), kTenantSeparator));
  }
  if (allows(caller.grants, action, resource)) return {};
  return make_error(ErrorCode::kPermissionDenied,
                    fmt::format("key {} may not {} {}", caller.who(), action_name(action),
                                resource_text(resource)));
}

Result<Caller> Access::check(std::string_view authorization, Action action,
                             const Resource& resource) const {
  auto caller = identify(authorization);
  if (!caller) return caller;
  if (auto ok = permit(*caller, action, resource); !ok) return ok.error();
  return caller;
}

http::Response refusal(const Error& error) {
  http::Response r = http::error_response(error);
  if (error.code == ErrorCode::kUnauthenticated) {
    r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"kumo\"");
  }
  return r;
}

std::optional<Caller> admit(const Access& access, const http::Request& req, Action action,
                            const Resource& resource, http::Responder& out) {
  auto caller = access.check(req.header("Authorization"), action, resource);
  if (!caller) {
    out.send(refusal(caller.error()));
    return std::nullopt;
  }
  return std::move(*caller);
}

}  // namespace kumo::auth
