// Rendering of the keys and audit replies (render.h).
#include <fmt/format.h>

#include <utility>

#include "cli/render.h"
#include "cli/render_util.h"

namespace kumo::cli {
namespace {

using nlohmann::json;

constexpr int64_t kMicrosPerSecond = 1'000'000;

std::string tenant_cell(const json& j) {
  std::string tenant = str_field(j, "tenant");
  return tenant.empty() ? "(operator)" : tenant;
}

// An audit record's tenant; unknown ("-") for a 401, whose key was not proven.
std::string audit_tenant_cell(const json& record) {
  return int_field(record, "status") == 401 ? "-" : tenant_cell(record);
}

std::string scopes_text(const json& key) {
  const json& scopes = key.at("scopes");
  if (scopes.is_string()) return scopes.get<std::string>();
  std::vector<std::string> grants;
  for (const json& g : scopes) grants.push_back(g.get<std::string>());
  return fmt::format("{}", fmt::join(grants, ","));
}

// "in 30d", "in 3h", "in 5m", "in 40s", rounded to the unit; "expired" once past.
std::string format_until(int64_t then_us, int64_t now_us) {
  int64_t s = (then_us - now_us) / kMicrosPerSecond;
  if (s <= 0) return "expired";
  for (auto [unit, suffix] : {std::pair<int64_t, char>{86'400, 'd'}, {3600, 'h'}, {60, 'm'}}) {
    if (s >= unit) return fmt::format("in {}{}", (s + unit / 2) / unit, suffix);
  }
  return fmt::format("in {}s", s);
}

bool is_set(const json& j, const char* key) { return j.contains(key) && j.at(key).is_number(); }

}  // namespace

Result<std::string> render_key_list(const json& reply, int64_t now_us, const Style& style) {
  return guarded("keys", [&]() -> std::string {
    const json& keys = reply.at("keys");
    if (keys.empty()) return "no keys; make one with `kumo keys create NAME --scopes read`\n";
    Table table({"ID", "TENANT", "NAME", "SCOPES", "CREATED", "LAST USED", "EXPIRES", "REVOKED"});
    for (const json& k : keys) {
      table.add_row(
          {str_field(k, "id"), tenant_cell(k), str_field(k, "name"), scopes_text(k),
           format_relative(int_field(k, "created_us"), now_us),
           is_set(k, "last_used_us") ? format_relative(int_field(k, "last_used_us"), now_us)
                                     : "never",
           is_set(k, "expires_us") ? format_until(int_field(k, "expires_us"), now_us) : "never",
           is_set(k, "revoked_us") ? format_relative(int_field(k, "revoked_us"), now_us) : "-"});
    }
    return table.render(style);
  });
}

Result<std::string> render_new_key(const json& reply, int64_t now_us, const Style& style) {
  return guarded("new key", [&]() -> std::string {
    std::string token = reply.at("token").get<std::string>();
    std::string tenant = str_field(reply, "tenant");
    std::string owner = tenant.empty() ? "the operator" : "tenant " + tenant;
    std::string expiry = "never expires";
    if (is_set(reply, "expires_us")) {
      expiry = fmt::format("expires {} ({})", format_utc(int_field(reply, "expires_us")),
                           format_until(int_field(reply, "expires_us"), now_us));
    }
    return fmt::format(
        "{} key {} \"{}\" of {}: {}; {}\n"
        "Its token, shown only this once (keep it secret):\n\n  {}\n\n"
        "Use it with:\n  export KUMO_API_KEY={}\n",
        style.green("created"), str_field(reply, "id"), str_field(reply, "name"), owner,
        scopes_text(reply), expiry, style.bold(token), token);
  });
}

Result<std::string> render_audit(const json& reply, const Style& style) {
  return guarded("audit", [&]() -> std::string {
    const json& records = reply.at("records");
    if (records.empty()) return "no audit records in that period\n";
    Table table({"TIME", "KEY", "TENANT", "ACTION", "TARGET", "FROM", "STATUS"},
                {Align::kLeft, Align::kLeft, Align::kLeft, Align::kLeft, Align::kLeft, Align::kLeft,
                 Align::kRight});
    for (const json& r : records) {
      table.add_row({format_utc(int_field(r, "time_us")), str_field(r, "key_id"),
                     audit_tenant_cell(r), str_field(r, "action"), str_field(r, "target"),
                     str_field(r, "remote"), std::to_string(int_field(r, "status"))});
    }
    std::string out = table.render(style);
    // Why the refused and failed calls failed, below the table where long lines do no harm.
    for (const json& r : records) {
      std::string detail = str_field(r, "detail");
      if (detail.empty()) continue;
      out += fmt::format("{} {} {}: {}\n", style.dim(format_utc(int_field(r, "time_us"))),
                         str_field(r, "action"), str_field(r, "target"), detail);
    }
    return out;
  });
}

}  // namespace kumo::cli
