// Scopes: what a key may do, as grants a person types and reads, and the one check every route
// makes (allows). Pure values and functions: no state, thread-safe.
//
// Grammar. A grant is `VERB` or `VERB:KIND/NAME`; a list of grants is separated by commas
// and/or spaces ("read, write:bucket/photos").
//   VERB  admin | deploy | invoke | read | write | publish
//   KIND  function | bucket | table | topic
//   NAME  1..128 of a-z A-Z 0-9 . _ - ; a trailing `*` makes it a prefix ("uploads-*", "*")
// A bare verb covers every resource of the kinds it applies to; `VERB:KIND/NAME` covers only
// the resources of that kind whose name matches. `admin` takes no resource.
//
// Semantics (what allows(grants, action, resource) answers; any one grant suffices):
//   admin    everything, including kAdmin actions (keys, tenants, audit, server-wide settings).
//   deploy   on functions: kDeploy (create, update, roll back, remove), kInvoke and kRead.
//   invoke   on functions: kInvoke.
//   read     kRead on anything of the tenant: functions (specs, logs, usage), buckets
//            (objects, listings), tables (items), topics, and kServer things (usage of all).
//   write    on buckets and tables: kWrite (put/delete objects and items, create/delete the
//            bucket or table) and kRead — write implies read of the same resource.
//   publish  on topics: kPublish.
// A resource with an empty name stands for "all of that kind" (listing functions, usage of
// every function): only a grant that covers every name of the kind allows it (a bare verb, or
// a `*` pattern). Routes that list may instead filter the items by allows() on each one.
// Whose resources (the tenant) is not decided here: a key only ever reaches its own tenant's.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace kumo::auth {

enum class Verb { kAdmin, kDeploy, kInvoke, kRead, kWrite, kPublish };

enum class ResourceKind { kFunction, kBucket, kTable, kTopic, kServer };

// What a route is about to do.
enum class Action { kAdmin, kDeploy, kInvoke, kRead, kWrite, kPublish };

struct Resource {
  ResourceKind kind = ResourceKind::kServer;
  std::string name;  // empty: every resource of the kind

  static Resource server() { return {ResourceKind::kServer, ""}; }
  static Resource function(std::string n) { return {ResourceKind::kFunction, std::move(n)}; }
  static Resource bucket(std::string n) { return {ResourceKind::kBucket, std::move(n)}; }
  static Resource table(std::string n) { return {ResourceKind::kTable, std::move(n)}; }
  static Resource topic(std::string n) { return {ResourceKind::kTopic, std::move(n)}; }
};

struct Grant {
  Verb verb = Verb::kRead;
  bool scoped = false;  // false: the bare verb; true: only `kind`/`pattern`
  ResourceKind kind = ResourceKind::kFunction;
  std::string pattern;  // a name, or a prefix ending in '*'

  bool operator==(const Grant&) const = default;
};

constexpr size_t kMaxGrants = 64;
constexpr size_t kMaxGrantLength = 160;
constexpr size_t kMaxGrantsText = 4096;

// One grant ("read:bucket/photos"). Errors (kInvalidArgument) quote the grant and say what
// is wrong with it.
Result<Grant> parse_grant(std::string_view text);

// A list of grants; at least one, at most kMaxGrants, kMaxGrantsText characters in all.
// Duplicates are dropped; the order is kept.
Result<std::vector<Grant>> parse_grants(std::string_view text);

// The grammar's form: parse_grant(to_string(g)) == g.
std::string to_string(const Grant& grant);
// Grants joined by ","; parse_grants() reads it back.
std::string to_string(const std::vector<Grant>& grants);

// True when one of the grants allows `action` on `resource` (see the table above).
bool allows(const std::vector<Grant>& grants, Action action, const Resource& resource);

}  // namespace kumo::auth
