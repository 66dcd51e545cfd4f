#include "api/api.h"

#include "common/work_pool.h"
#include "api/routes.h"
#include "api/errors.h"
#include "common/log.h"

namespace kumo::api {

void record_change(const ApiDeps& deps, const auth::Caller& caller, std::string_view action,
                   std::string_view target, const http::Request& req, int status,
                   std::string_view detail) {
  if (deps.audit != nullptr) {
    deps.audit->record(caller, action, target, req.remote_address, status, detail);
  }
}

void reply_change_error(const ApiDeps& deps, const auth::Caller& caller, std::string_view action,
                        std::string_view target, const http::Request& req, const Error& error,
                        http::Responder& out) {
  bool refused = error.code == ErrorCode::kUnauthenticated ||
                 error.code == ErrorCode::kPermissionDenied;
  http::Response r = refused ? auth::refusal(error) : error_reply(error);
  record_change(deps, caller, action, target, req, r.status, error.message);
  out.send(std::move(r));
}

Api::Api(ApiDeps deps) : deps_(std::move(deps)), background_(std::make_unique<WorkPool>(1)) {}

Api::~Api() = default;

http::Router Api::router() {
  http::Router router;
  add_function_routes(router, deps_, *background_);
  add_invoke_routes(router, deps_);
  add_ops_routes(router, deps_);
  add_event_routes(router, deps_);
  add_model_routes(router, deps_);
  add_tenant_routes(router, deps_);
  add_key_routes(router, deps_);
  add_audit_routes(router, deps_);
  return router;
}

}  // namespace kumo::api
