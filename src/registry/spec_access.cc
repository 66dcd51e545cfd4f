#include "registry/spec_access.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>

namespace kumo::registry {
namespace {

Error invalid(std::string_view field, std::string_view why) {
  return make_error(ErrorCode::kInvalidArgument, fmt::format("{}: {}", field, why));
}

// What a message may quote of a value from outside: printable, and not too long.
std::string shown(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 64)) out += std::isprint(static_cast<unsigned char>(c)) ? c : '?';
  return s.size() > 64 ? out + "..." : out;
}

Result<std::vector<auth::Grant>> check_permissions(std::string_view text) {
  if (text.find_first_not_of(" ,\t\r\n") == std::string_view::npos) {
    return std::vector<auth::Grant>{};
  }
  auto grants = auth::parse_grants(text);
  if (!grants) return invalid("permissions", grants.error().message);
  for (const auth::Grant& g : *grants) {
    if (g.verb == auth::Verb::kAdmin) {
      return invalid("permissions", "admin is not for functions; name what the function needs, "
                                    "e.g. read:bucket/in, write:table/results");
    }
  }
  return std::move(*grants);
}

// "https://app.example.com[:8443]": a scheme, "://" and a host, nothing after it.
bool is_origin(std::string_view s) {
  if (s == "*") return true;
  if (s.empty() || s.size() > kMaxCorsOriginLength) return false;
  size_t sep = s.find("://");
  if (sep == std::string_view::npos || sep == 0 || sep + 3 == s.size()) return false;
  for (char c : s.substr(0, sep)) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '-' && c != '.') {
      return false;
    }
  }
  for (char c : s.substr(sep + 3)) {
    bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == ':' ||
              c == '[' || c == ']' || c == '_';
    if (!ok) return false;
  }
  return true;
}

// An HTTP header name (RFC 9110's token), or "*".
bool is_header_name(std::string_view s) {
  if (s.empty() || s.size() > kMaxCorsHeaderLength) return false;
  if (s == "*") return true;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) ||
           std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
  });
}

constexpr std::array<std::string_view, 8> kCorsMethods = {"*",   "GET",   "HEAD",   "POST",
                                                          "PUT", "PATCH", "DELETE", "OPTIONS"};

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

enum class ListKind { kOrigins, kMethods, kHeaders };

// Checks and normalizes one of the lists (methods upper case, header names lower case).
Result<std::vector<std::string>> check_list(std::string_view field, std::vector<std::string> in,
                                            ListKind kind) {
  size_t max = kind == ListKind::kOrigins   ? kMaxCorsOrigins
               : kind == ListKind::kMethods ? kCorsMethods.size()
                                            : kMaxCorsHeaders;
  if (in.size() > max) {
    return invalid(field, fmt::format("at most {} entries, got {}", max, in.size()));
  }
  std::vector<std::string> out;
  for (std::string& item : in) {
    if (kind == ListKind::kOrigins && !is_origin(item)) {
      return invalid(field, fmt::format("'{}' is not \"*\" or an origin such as "
                                        "https://app.example.com (at most {} characters)",
                                        shown(item), kMaxCorsOriginLength));
    }
    if (kind == ListKind::kMethods) {
      item = upper(std::move(item));
      if (std::find(kCorsMethods.begin(), kCorsMethods.end(), item) == kCorsMethods.end()) {
        return invalid(field, fmt::format("'{}' is not one of *, GET, HEAD, POST, PUT, PATCH, "
                                          "DELETE, OPTIONS",
                                          shown(item)));
      }
    }
    if (kind == ListKind::kHeaders) {
      if (!is_header_name(item)) {
        return invalid(field, fmt::format("'{}' is not a header name (at most {} characters)",
                                          shown(item), kMaxCorsHeaderLength));
      }
      item = lower(std::move(item));
    }
    if (std::find(out.begin(), out.end(), item) == out.end()) out.push_back(std::move(item));
  }
  return out;
}

Result<void> check_cors(Cors& cors) {
  struct ListField {
    const char* name;
    std::vector<std::string> Cors::*member;
    ListKind kind;
  };
  for (const ListField& f : {ListField{"cors.allow_origins", &Cors::allow_origins,
                                       ListKind::kOrigins},
                             ListField{"cors.allow_methods", &Cors::allow_methods,
                                       ListKind::kMethods},
                             ListField{"cors.allow_headers", &Cors::allow_headers,
                                       ListKind::kHeaders},
                             ListField{"cors.expose_headers", &Cors::expose_headers,
                                       ListKind::kHeaders}}) {
    auto checked = check_list(f.name, std::move(cors.*f.member), f.kind);
    if (!checked) return checked.error();
    cors.*f.member = std::move(*checked);
  }
  if (cors.max_age_s < 0 || cors.max_age_s > kMaxCorsMaxAge) {
    return invalid("cors.max_age",
                   fmt::format("must be 0..{} seconds, got {}", kMaxCorsMaxAge, cors.max_age_s));
  }
  bool any_origin = std::find(cors.allow_origins.begin(), cors.allow_origins.end(), "*") !=
                    cors.allow_origins.end();
  if (cors.allow_credentials && any_origin) {
    return invalid("cors.allow_credentials",
                   "cannot be true with the origin \"*\" (browsers refuse it); list the origins");
  }
  return {};
}

Result<std::vector<std::string>> yaml_strings(const YAML::Node& n, std::string_view field) {
  if (!n.IsSequence()) return invalid(field, "must be a list, e.g. [\"https://app.example.com\"]");
  std::vector<std::string> out;
  for (const auto& item : n) {
    if (!item.IsScalar()) return invalid(field, "must be a list of strings");
    out.push_back(item.Scalar());
  }
  return out;
}

Result<bool> yaml_bool(const YAML::Node& n, std::string_view field) {
  if (!n.IsScalar() || (n.Scalar() != "true" && n.Scalar() != "false")) {
    return invalid(field, "must be true or false");
  }
  return n.Scalar() == "true";
}

Result<int> yaml_int(const YAML::Node& n, std::string_view field) {
  std::string text = n.IsScalar() ? n.Scalar() : std::string();
  int v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
    return invalid(field, fmt::format("must be an integer, got '{}'", shown(text)));
  }
  return v;
}

Result<Cors> read_cors_yaml(const YAML::Node& n) {
  if (!n.IsMap()) {
    return invalid("cors", "must be a map, e.g. {allow_origins: [\"https://app.example.com\"]}");
  }
  Cors cors;
  for (const auto& kv : n) {
    std::string key = kv.first.Scalar();
    std::string field = "cors." + key;
    if (key == "allow_origins" || key == "allow_methods" || key == "allow_headers" ||
        key == "expose_headers") {
      auto list = yaml_strings(kv.second, field);
      if (!list) return list.error();
      (key == "allow_origins"   ? cors.allow_origins
       : key == "allow_methods" ? cors.allow_methods
       : key == "allow_headers" ? cors.allow_headers
                                : cors.expose_headers) = std::move(*list);
    } else if (key == "max_age") {
      auto v = yaml_int(kv.second, field);
      if (!v) return v.error();
      cors.max_age_s = *v;
    } else if (key == "allow_credentials") {
      auto v = yaml_bool(kv.second, field);
      if (!v) return v.error();
      cors.allow_credentials = *v;
    } else {
      return invalid(field, "unknown field; use allow_origins, allow_methods, allow_headers, "
                            "expose_headers, max_age, allow_credentials");
    }
  }
  if (auto r = check_cors(cors); !r) return r.error();
  return cors;
}

Result<HttpAuth> read_http_auth(std::string_view text) {
  if (text == "key") return HttpAuth::kKey;
  if (text == "none") return HttpAuth::kNone;
  return invalid("auth", fmt::format("'{}' is not key (callers of its HTTP trigger need a key "
                                     "with invoke scope) or none (anyone may call it)",
                                     shown(text)));
}

}  // namespace

const char* http_auth_name(HttpAuth a) { return a == HttpAuth::kNone ? "none" : "key"; }

Result<void> read_access_yaml(const YAML::Node& root, AccessSpec& out) {
  if (const YAML::Node& p = root["permissions"]; p && !p.IsNull()) {
    std::string text;
    if (p.IsScalar()) {
      text = p.Scalar();
    } else if (p.IsSequence()) {
      for (const auto& item : p) {
        if (!item.IsScalar()) return invalid("permissions", "must be a list of grants");
        text += item.Scalar() + ",";
        if (text.size() > auth::kMaxGrantsText + 1) break;  // parse_grants reports the size
      }
    } else {
      return invalid("permissions", "must be a list of grants, e.g. [read:bucket/in]");
    }
    auto grants = check_permissions(text);
    if (!grants) return grants.error();
    out.permissions = std::move(*grants);
  }
  if (const YAML::Node& a = root["auth"]) {
    auto mode = read_http_auth(a.IsScalar() ? a.Scalar() : std::string());
    if (!mode) return mode.error();
    out.http_auth = *mode;
  }
  if (const YAML::Node& c = root["cors"]; c && !c.IsNull()) {
    auto cors = read_cors_yaml(c);
    if (!cors) return cors.error();
    out.cors = std::move(*cors);
  }
  return {};
}

Result<void> read_access_json(const nlohmann::json& j, AccessSpec& out) {
  try {
    if (auto p = j.find("permissions"); p != j.end() && !p->is_null()) {
      std::string text;
      for (const auto& g : *p) text += g.get<std::string>() + ",";
      auto grants = check_permissions(text);
      if (!grants) return grants.error();
      out.permissions = std::move(*grants);
    }
    if (auto a = j.find("auth"); a != j.end()) {
      auto mode = read_http_auth(a->get<std::string>());
      if (!mode) return mode.error();
      out.http_auth = *mode;
    }
    if (auto c = j.find("cors"); c != j.end() && c->is_object()) {
      Cors cors;
      cors.allow_origins = c->value("allow_origins", cors.allow_origins);
      cors.allow_methods = c->value("allow_methods", cors.allow_methods);
      cors.allow_headers = c->value("allow_headers", cors.allow_headers);
      cors.expose_headers = c->value("expose_headers", cors.expose_headers);
      cors.max_age_s = c->value("max_age", cors.max_age_s);
      cors.allow_credentials = c->value("allow_credentials", cors.allow_credentials);
      if (auto r = check_cors(cors); !r) return r.error();
      out.cors = std::move(cors);
    }
    return {};
  } catch (const nlohmann::json::exception& e) {
    return make_error(ErrorCode::kInvalidArgument, fmt::format("spec JSON: {}", e.what()));
  }
}

void write_access_json(const AccessSpec& access, nlohmann::json& j) {
  nlohmann::json grants = nlohmann::json::array();
  for (const auth::Grant& g : access.permissions) grants.push_back(auth::to_string(g));
  j["permissions"] = std::move(grants);
  j["auth"] = http_auth_name(access.http_auth);
  if (!access.cors) {
    j["cors"] = nullptr;
    return;
  }
  const Cors& c = *access.cors;
  j["cors"] = {{"allow_origins", c.allow_origins},   {"allow_methods", c.allow_methods},
               {"allow_headers", c.allow_headers},   {"expose_headers", c.expose_headers},
               {"max_age", c.max_age_s},             {"allow_credentials", c.allow_credentials}};
}

}  // namespace kumo::registry
