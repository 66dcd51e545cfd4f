// Internal to api: each file adds one group of routes. Not for use outside src/api.
#pragma once

#include "api/api.h"
#include "common/work_pool.h"

namespace kumo::api {

void add_function_routes(http::Router& router, ApiDeps& deps, WorkPool& background);
void add_invoke_routes(http::Router& router, ApiDeps& deps);
void add_ops_routes(http::Router& router, ApiDeps& deps);
void add_event_routes(http::Router& router, ApiDeps& deps);
void add_model_routes(http::Router& router, ApiDeps& deps);
void add_tenant_routes(http::Router& router, ApiDeps& deps);  // none when deps.tenants is null
void add_key_routes(http::Router& router, ApiDeps& deps);    // key_routes.cc
void add_audit_routes(http::Router& router, ApiDeps& deps);  // audit_routes.cc

// Records the outcome of a control-plane call that admit_change() let through in the audit
// log (when the server keeps one): `status` as answered, `detail` the error's message.
void record_change(const ApiDeps& deps, const auth::Caller& caller, std::string_view action,
                   std::string_view target, const http::Request& req, int status,
                   std::string_view detail = {});
// Answers `error` (a 401/403 as auth::refusal, else error_reply) and records it.
void reply_change_error(const ApiDeps& deps, const auth::Caller& caller, std::string_view action,
                        std::string_view target, const http::Request& req, const Error& error,
                        http::Responder& out);

}  // namespace kumo::api
