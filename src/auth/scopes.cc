#include "auth/scopes.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>

namespace kumo::auth {
namespace {

constexpr size_t kMaxNameLength = 128;

struct VerbInfo {
  Verb verb;
  std::string_view name;
};
constexpr std::array<VerbInfo, 6> kVerbs{{{Verb::kAdmin, "admin"},
                                          {Verb::kDeploy, "deploy"},
                                          {Verb::kInvoke, "invoke"},
                                          {Verb::kRead, "read"},
                                          {Verb::kWrite, "write"},
                                          {Verb::kPublish, "publish"}}};

struct KindInfo {
  ResourceKind kind;
  std::string_view name;
};
constexpr std::array<KindInfo, 4> kKinds{{{ResourceKind::kFunction, "function"},
                                          {ResourceKind::kBucket, "bucket"},
                                          {ResourceKind::kTable, "table"},
                                          {ResourceKind::kTopic, "topic"}}};

std::string_view verb_name(Verb v) {
  for (const auto& info : kVerbs) {
    if (info.verb == v) return info.name;
  }
  return "?";
}

std::string_view kind_name(ResourceKind k) {
  for (const auto& info : kKinds) {
    if (info.kind == k) return info.name;
  }
  return "server";
}

// The kinds a verb applies to, as typed after the colon.
bool verb_applies_to(Verb v, ResourceKind k) {
  switch (v) {
    case Verb::kAdmin:
      return true;
    case Verb::kDeploy:
    case Verb::kInvoke:
      return k == ResourceKind::kFunction;
    case Verb::kRead:
      return true;
    case Verb::kWrite:
      return k == ResourceKind::kBucket || k == ResourceKind::kTable;
    case Verb::kPublish:
      return k == ResourceKind::kTopic;
  }
  return false;
}

std::string_view kinds_of(Verb v) {
  switch (v) {
    case Verb::kDeploy:
    case Verb::kInvoke:
      return "function/";
    case Verb::kWrite:
      return "bucket/ and table/";
    case Verb::kPublish:
      return "topic/";
    default:
      return "function/, bucket/, table/ and topic/";
  }
}

bool name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

Error bad(std::string_view grant, std::string_view why) {
  return make_error(ErrorCode::kInvalidArgument, fmt::format("scope '{}': {}", grant, why));
}

// An error message for text that may hold anything: printable ASCII, at most 60 characters.
std::string quoted(std::string_view text) {
  std::string out;
  for (char c : text.substr(0, 60)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  if (text.size() > 60) out += "...";
  return out;
}

Result<void> check_pattern(std::string_view grant, std::string_view pattern) {
  std::string_view name = pattern;
  if (name.ends_with('*')) name.remove_suffix(1);
  if (pattern.empty()) return bad(grant, "the resource name is empty");
  if (name.size() > kMaxNameLength) {
    return bad(grant,
               fmt::format("the resource name is longer than {} characters", kMaxNameLength));
  }
  if (!std::all_of(name.begin(), name.end(), name_char)) {
    return bad(grant,
               "a resource name is letters, digits, '.', '_' and '-', with an optional "
               "'*' at the end only");
  }
  return {};
}

bool name_matches(const std::string& pattern, const std::string& name) {
  if (pattern == "*") return true;  // also the empty name: every resource of the kind
  if (name.empty()) return false;
  if (pattern.ends_with('*')) {
    return std::string_view(name).starts_with(
        std::string_view(pattern).substr(0, pattern.size() - 1));
  }
  return pattern == name;
}

bool verb_allows(Verb v, Action a, ResourceKind k) {
  switch (v) {
    case Verb::kAdmin:
      return true;
    case Verb::kDeploy:
      return k == ResourceKind::kFunction &&
             (a == Action::kDeploy || a == Action::kInvoke || a == Action::kRead);
    case Verb::kInvoke:
      return k == ResourceKind::kFunction && a == Action::kInvoke;
    case Verb::kRead:
      return a == Action::kRead;
    case Verb::kWrite:
      return (k == ResourceKind::kBucket || k == ResourceKind::kTable) &&
             (a == Action::kWrite || a == Action::kRead);
    case Verb::kPublish:
      return k == ResourceKind::kTopic && a == Action::kPublish;
  }
  return false;
}

}  // namespace

Result<Grant> parse_grant(std::string_view text) {
  if (text.size() > kMaxGrantLength) {
    return bad(quoted(text), fmt::format("longer than {} characters", kMaxGrantLength));
  }
  std::string shown = quoted(text);
  auto colon = text.find(':');
  std::string_view verb_text = text.substr(0, colon);
  const VerbInfo* verb = nullptr;
  for (const auto& info : kVerbs) {
    if (info.name == verb_text) verb = &info;
  }
  if (!verb) {
    return bad(shown, fmt::format("unknown verb '{}'; one of admin, deploy, invoke, read, "
                                  "write, publish",
                                  quoted(verb_text)));
  }
  Grant grant{verb->verb, false, ResourceKind::kFunction, ""};
  if (colon == std::string_view::npos) return grant;
  if (verb->verb == Verb::kAdmin)
    return bad(shown, "admin covers everything and takes no resource");
  std::string_view rest = text.substr(colon + 1);
  auto slash = rest.find('/');
  if (slash == std::string_view::npos) {
    return bad(shown, "expected KIND/NAME after ':', e.g. read:bucket/photos");
  }
  std::string_view kind_text = rest.substr(0, slash);
  const KindInfo* kind = nullptr;
  for (const auto& info : kKinds) {
    if (info.name == kind_text) kind = &info;
  }
  if (!kind) {
    return bad(shown, fmt::format("unknown resource kind '{}'; one of function, bucket, table, "
                                  "topic",
                                  quoted(kind_text)));
  }
  if (!verb_applies_to(verb->verb, kind->kind)) {
    return bad(shown, fmt::format("{} applies to {}, not {}/", verb->name, kinds_of(verb->verb),
                                  kind->name));
  }
  std::string_view pattern = rest.substr(slash + 1);
  if (auto ok = check_pattern(shown, pattern); !ok) return ok.error();
  grant.scoped = true;
  grant.kind = kind->kind;
  grant.pattern = std::string(pattern);
  return grant;
}

Result<std::vector<Grant>> parse_grants(std::string_view text) {
  if (text.size() > kMaxGrantsText) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("scopes: longer than {} characters", kMaxGrantsText));
  }
  std::vector<Grant> out;
  size_t i = 0;
  while (i < text.size()) {
    auto sep = [](char c) { return c == ',' || c == ' ' || c == '\t' || c == '\n'; };
    if (sep(text[i])) {
      ++i;
      continue;
    }
    size_t end = i;
    while (end < text.size() && !sep(text[end])) ++end;
    auto grant = parse_grant(text.substr(i, end - i));
    if (!grant) return grant.error();
    if (std::find(out.begin(), out.end(), *grant) == out.end()) out.push_back(std::move(*grant));
    if (out.size() > kMaxGrants) {
      return make_error(ErrorCode::kInvalidArgument,
                        fmt::format("scopes: more than {} grants", kMaxGrants));
    }
    i = end;
  }
  if (out.empty()) {
    return make_error(ErrorCode::kInvalidArgument,
                      "scopes: none given; e.g. read, invoke:function/resize or admin");
  }
  return out;
}

std::string to_string(const Grant& grant) {
  std::string out(verb_name(grant.verb));
  if (grant.scoped) out += fmt::format(":{}/{}", kind_name(grant.kind), grant.pattern);
  return out;
}

std::string to_string(const std::vector<Grant>& grants) {
  std::string out;
  for (const auto& g : grants) {
    if (!out.empty()) out += ',';
    out += to_string(g);
  }
  return out;
}

bool allows(const std::vector<Grant>& grants, Action action, const Resource& resource) {
  for (const auto& g : grants) {
    if (g.verb == Verb::kAdmin) return true;
    if (action == Action::kAdmin) continue;
    if (!verb_allows(g.verb, action, resource.kind)) continue;
    if (!g.scoped) return true;
    if (g.kind == resource.kind && name_matches(g.pattern, resource.name)) return true;
  }
  return false;
}

}  // namespace kumo::auth
