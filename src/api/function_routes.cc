// Deploy, list, describe and remove functions.
#include <fmt/format.h>

#include "api/errors.h"
#include "api/routes.h"
#include "api/tenant_spec.h"
#include "common/log.h"

namespace kumo::api {
namespace {

using nlohmann::json;

json instances_json(const scheduler::PoolStats& s) {
  return {{"total", s.total()}, {"busy", s.busy},        {"idle", s.idle},
          {"starting", s.starting}, {"queued", s.queued}, {"desired", s.desired}};
}

// `name`: the function's name as the caller knows it (auth::visible_name).
json summary_json(const std::string& name, const registry::FunctionVersion& fv,
                  const scheduler::PoolStats& stats) {
  return {{"name", name},
          {"version", fv.version},
          {"runtime", registry::runtime_name(fv.spec.runtime)},
          {"memory_mb", fv.spec.memory_mb},
          {"sha256", fv.sha256},
          {"created_at_us", fv.created_at_us},
          {"instances", instances_json(stats)}};
}

void deploy(ApiDeps& deps, http::Request&& req, const std::shared_ptr<http::Responder>& res) {
  constexpr std::string_view kAction = "function.deploy";
  auto caller = deps.access.identify(req.header("Authorization"));
  if (!caller) {
    if (deps.audit != nullptr) {
      auth::record_unidentified(*deps.audit, req, kAction, "", caller.error());
    }
    return res->send(auth::refusal(caller.error()));
  }
  // The key's grants are checked against the name in the package's kumo.yaml; then every
  // name in the spec becomes the caller's tenant's (tenant_spec.h).
  std::string name;  // as the caller wrote it, for the audit log
  auto admit = [&caller, &name](registry::FunctionSpec& spec) -> Result<void> {
    name = spec.name;
    if (auto ok = auth::Access::permit(*caller, auth::Action::kDeploy,
                                       auth::Resource::function(spec.name));
        !ok) {
      return ok;
    }
    return qualify_spec(*caller, spec);
  };
  auto fv = deps.functions.deploy(req.body, admit);
  if (!fv) return reply_change_error(deps, *caller, kAction, name, req, fv.error(), *res);
  std::string shown = auth::visible_name(*caller, fv->spec.name).value_or(fv->spec.name);
  json body = summary_json(shown, *fv, deps.functions.stats(fv->spec.name));
  body["package_bytes"] = fv->package_bytes;
  body["spec"] = visible_spec_json(*caller, fv->spec);
  body["unchanged"] = fv->unchanged;
  record_change(deps, *caller, kAction, name, req, fv->unchanged ? 200 : 201);
  res->send(http::json_response(fv->unchanged ? 200 : 201, body));
}

// The caller's tenant's functions by their plain names; the operator's list has them all.
void list(ApiDeps& deps, const auth::Caller& caller, const std::shared_ptr<http::Responder>& res) {
  json functions = json::array();
  for (const auto& fv : deps.functions.list()) {
    auto name = auth::visible_name(caller, fv.spec.name);
    if (!name) continue;
    functions.push_back(summary_json(*name, fv, deps.functions.stats(fv.spec.name)));
  }
  res->send(http::json_response(200, {{"functions", functions}}));
}

void describe(ApiDeps& deps, const auth::Caller& caller, const std::string& name,
              const std::shared_ptr<http::Responder>& res) {
  auto versions = deps.functions.versions(name);
  if (!versions) return res->send(error_reply(versions.error()));
  const registry::FunctionVersion& fv = versions->back();  // the latest: numbers only grow
  json body =
      summary_json(auth::visible_name(caller, name).value_or(name), fv, deps.functions.stats(name));
  body["spec"] = visible_spec_json(caller, fv.spec);
  json vs = json::array();
  for (const auto& v : *versions) {
    vs.push_back({{"version", v.version}, {"sha256", v.sha256}, {"created_at_us", v.created_at_us}});
  }
  body["versions"] = vs;
  res->send(http::json_response(200, body));
}

void remove(ApiDeps& deps, const http::Request& req, const std::shared_ptr<http::Responder>& res) {
  constexpr std::string_view kAction = "function.remove";
  const std::string& written = req.params.at("name");
  auto caller = auth::admit_change(deps.access, deps.audit, req, auth::Action::kDeploy,
                                   auth::Resource::function(written), kAction, *res);
  if (!caller) return;
  std::string name = auth::qualify(*caller, written);
  auto removed = deps.functions.remove(name);
  if (!removed) {
    return reply_change_error(deps, *caller, kAction, written, req, removed.error(), *res);
  }
  record_change(deps, *caller, kAction, written, req, 200);
  res->send(http::json_response(200, {{"name", written}, {"deleted", true}}));
}

}  // namespace

void add_function_routes(http::Router& router, ApiDeps& deps, WorkPool& background) {
  // Hashing and unpacking a package can take seconds: off the HTTP thread.
  router.add(
      "POST", "/api/v1/functions",
      [&deps, &background](http::Request&& req, std::shared_ptr<http::Responder> res) {
        background.submit(
            [&deps, req = std::move(req), res]() mutable { deploy(deps, std::move(req), res); });
      },
      deps.max_package);
  router.add("GET", "/api/v1/functions",
             [&deps](http::Request&& req, std::shared_ptr<http::Responder> res) {
               auto caller = auth::admit(deps.access, req, auth::Action::kRead,
                                         auth::Resource::function(""), *res);
               if (caller) list(deps, *caller, res);
             });
  router.add("GET", "/api/v1/functions/{name}",
             [&deps](http::Request&& req, std::shared_ptr<http::Responder> res) {
               const std::string& name = req.params["name"];
               auto caller = auth::admit(deps.access, req, auth::Action::kRead,
                                         auth::Resource::function(name), *res);
               if (caller) describe(deps, *caller, auth::qualify(*caller, name), res);
             });
  router.add("DELETE", "/api/v1/functions/{name}",
             [&deps](http::Request&& req, std::shared_ptr<http::Responder> res) {
               remove(deps, req, res);
             });
}

}  // namespace kumo::api
