// Internal names: inside Kumo a tenant's function, bucket, table or topic NAME is kept as
// `TENANT~NAME`; the tenant `default` (and the operator) use plain names (auth/access.h says
// why). These helpers let any part check and take apart such a name without depending on
// auth. Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace kumo {

inline constexpr char kTenantSeparator = '~';
inline constexpr std::string_view kDefaultTenantName = "default";

// A tenant's name: 1..63 of a-z, 0-9 and '-', starting with a letter or digit.
bool is_valid_tenant_name(std::string_view name);

// The tenant part of an internal name ("" for a plain name) and the rest.
struct NameParts {
  std::string_view tenant;
  std::string_view local;
};
NameParts split_internal_name(std::string_view internal);

// The name without its tenant part: what a function is shown of its own tenant's things.
inline std::string_view local_part(std::string_view internal) {
  return split_internal_name(internal).local;
}

// The tenant an internal name belongs to: `default` for a plain name.
inline std::string_view tenant_part(std::string_view internal) {
  std::string_view t = split_internal_name(internal).tenant;
  return t.empty() ? kDefaultTenantName : t;
}

// The internal name of `tenant`'s thing `local`: plain for "" (the operator) and `default`.
std::string qualify_name(std::string_view tenant, std::string_view local);

// True when `internal` is a plain name or TENANT~NAME with a valid tenant, and `local_ok`
// accepts the name part (which then contains no '~').
template <typename LocalCheck>
bool is_internal_name(std::string_view internal, LocalCheck&& local_ok) {
  NameParts parts = split_internal_name(internal);
  if (parts.local.find(kTenantSeparator) != std::string_view::npos) return false;
  if (internal.find(kTenantSeparator) != std::string_view::npos &&
      !is_valid_tenant_name(parts.tenant)) {
    return false;
  }
  return local_ok(parts.local);
}

}  // namespace kumo
