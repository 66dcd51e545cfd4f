// A function spec between a tenant's names and Kumo's: deploy qualifies every name a spec
// gives (auth/access.h: TENANT~NAME inside Kumo), and replies show them back as the caller
// knows them. Internal to api. Pure functions; thread-safe.
#pragma once

#include <nlohmann/json.hpp>

#include "auth/access.h"
#include "common/result.h"
#include "registry/spec.h"

namespace kumo::api {

// Rewrites every name in `spec` that names a Kumo thing to its internal name for the
// caller's tenant: the function, each trigger's topic, bucket and table, and async's
// dead_letter topic and on_failure function. `permissions:` grants stay local names. A
// tenant's key (the default tenant's too) may not write '~' in any of them:
// kInvalidArgument naming the field. The operator's names are kept as written.
Result<void> qualify_spec(const auth::Caller& caller, registry::FunctionSpec& spec);

// The spec as JSON (registry::spec_to_json) with the names qualify_spec() rewrote shown as
// the caller knows them: plain for a tenant, as kept for the operator.
nlohmann::json visible_spec_json(const auth::Caller& caller, const registry::FunctionSpec& spec);

}  // namespace kumo::api
