#include "common/tenant_name.h"

namespace kumo {

bool is_valid_tenant_name(std::string_view name) {
  if (name.empty() || name.size() > 63 || name[0] == '-') return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return true;
}

std::string qualify_name(std::string_view tenant, std::string_view local) {
  if (tenant.empty() || tenant == kDefaultTenantName) return std::string(local);
  std::string out(tenant);
  out += kTenantSeparator;
  out += local;
  return out;
}

NameParts split_internal_name(std::string_view internal) {
  size_t sep = internal.find(kTenantSeparator);
  if (sep == std::string_view::npos) return {{}, internal};
  return {internal.substr(0, sep), internal.substr(sep + 1)};
}

}  // namespace kumo
