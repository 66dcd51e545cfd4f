// The Open Inference Protocol (KServe v2) routes of model functions: /v2/models/{name}/...
// goes to the model function `name` through the scheduler, as the HTTP trigger sends a
// request to an exec function, so each call is an invocation: queued, scaled, metered. The
// instance (kumo-model) answers the protocol itself.
#include <fmt/format.h>

#include "api/errors.h"
#include "api/routes.h"
#include "common/ids.h"

namespace kumo::api {
namespace {

constexpr std::string_view kRequestIdHeader = "x-kumo-request-id";

executor::ReplyHandler reply_handler(const std::shared_ptr<http::Responder>& res,
                                     std::string function, std::string request_id) {
  executor::ReplyHandler h;
  h.on_done = [res, function = std::move(function),
               request_id = std::move(request_id)](executor::Reply reply) {
    http::Response r;
    if (reply.outcome == executor::Outcome::kOk) {
      r.status = reply.http_status;
      r.headers = std::move(reply.http_headers);
      r.body = std::move(reply.body);
    } else {
      r = failure_reply(reply, function, request_id);
    }
    r.headers.emplace_back(std::string(kRequestIdHeader), request_id);
    res->send(std::move(r));
  };
  return h;
}

// The model function `name`, or nullptr after answering 404.
functions::Functions::Entry find_model(const functions::Functions& functions,
                                       const std::string& name, const std::string& request_id,
                                       const std::shared_ptr<http::Responder>& res) {
  auto fv = functions.find(name);
  if (fv && fv->spec.runtime == registry::Runtime::kModel) return fv;
  std::string message =
      fv ? fmt::format(
               "function '{}' is not a model; /v2/models serves `runtime: model` "
               "functions only",
               name)
         : fmt::format("model '{}' not found; `kumo ls` lists the deployed functions", name);
  res->send(error_reply(make_error(ErrorCode::kNotFound, message), request_id));
  return nullptr;
}

void forward(ApiDeps& deps, http::Request&& req, const std::shared_ptr<http::Responder>& res) {
  auto caller = auth::admit(deps.access, req, auth::Action::kInvoke,
                            auth::Resource::function(req.params["name"]), *res);
  if (!caller) return;
  const std::string& name = req.params["name"];
  std::string request_id = new_request_id();
  auto fv = find_model(deps.functions, auth::qualify(*caller, name), request_id, res);
  if (!fv) return;
  // The instance serves the model under the function's plain name (functions/launch_plan.cc).
  std::string served(auth::local_name(fv->spec.name));
  std::string path = "/v2/models/" + http::url_encode(served);
  if (!req.params["path"].empty()) path += "/" + http::url_encode(req.params["path"], true);
  executor::Invocation inv;
  inv.request_id = request_id;
  inv.timeout = fv->spec.timeout;
  inv.http = executor::HttpCall{req.method, path, req.query, req.headers, std::move(req.body)};
  auto started = deps.scheduler.invoke(fv->spec.name, std::move(inv),
                                       reply_handler(res, fv->spec.name, request_id));
  if (!started) res->send(error_reply(started.error(), request_id));
}

}  // namespace

void add_model_routes(http::Router& router, ApiDeps& deps) {
  auto on_model = [&deps](http::Request&& req, std::shared_ptr<http::Responder> res) {
    forward(deps, std::move(req), res);
  };
  // "{path...}" also matches the bare /v2/models/{name} (metadata); the instance answers
  // /ready, /infer and /versions/{v}/... itself.
  router.add("*", "/v2/models/{name}/{path...}", on_model, deps.max_invoke_body);
}

}  // namespace kumo::api
