// The invoke endpoint and the HTTP trigger: both hand one invocation to the scheduler and
// answer when it completes, streaming when the function streams.
#include <fmt/format.h>

#include "api/cors.h"
#include "api/errors.h"
#include "api/http_event.h"
#include "api/routes.h"
#include "common/clock.h"
#include "common/ids.h"
#include "common/json.h"

namespace kumo::api {
namespace {

using executor::Outcome;
using executor::Reply;

constexpr std::string_view kRequestIdHeader = "x-kumo-request-id";

http::Response with_headers(http::Response r, const http::Headers& extra) {
  r.headers.insert(r.headers.end(), extra.begin(), extra.end());
  return r;
}

// Turns a successful Reply into the response the caller sees.
using OkMapper = std::function<http::Response(Reply&)>;

http::Response invoke_ok(Reply& reply) {
  http::Response r;
  if (reply.http_status != 0) {  // exec functions answer in HTTP already
    r.status = reply.http_status;
    r.headers = reply.http_headers;
  } else {
    r.headers.emplace_back("content-type", reply.content_type.empty() ? "application/json"
                                                                      : reply.content_type);
  }
  r.body = std::move(reply.body);
  return r;
}

http::Response trigger_ok(Reply& reply) {
  if (reply.http_status != 0) return invoke_ok(reply);
  HttpReply h = read_proxy_response(reply.body, reply.content_type);
  return http::Response{h.status, std::move(h.headers), std::move(h.body)};
}

// A JSON result nested deeper than kMaxJsonDepth is the function's error (502): Kumo and its
// clients would parse it, and deep nesting crashes recursive parsers.
void refuse_deep_result(Reply& reply) {
  if (reply.outcome != Outcome::kOk || reply.streamed || reply.http_status != 0) return;
  if (!reply.content_type.empty() && !is_json_content_type(reply.content_type)) return;
  if (auto depth = check_json_depth(reply.body); !depth) {
    reply.outcome = Outcome::kError;
    reply.error_type = "Runtime.MarshalError";
    reply.error_message = "the function's result: " + depth.error().message;
    reply.body.clear();
  }
}

// `extra`: headers every reply gets (CORS).
executor::ReplyHandler make_handler(std::shared_ptr<http::Responder> res, std::string function,
                                    std::string request_id, OkMapper ok, http::Headers extra) {
  executor::ReplyHandler h;
  h.on_stream_start = [res, request_id, extra](std::string_view content_type) {
    http::Headers headers = {{"content-type", std::string(content_type)},
                             {std::string(kRequestIdHeader), request_id},
                             {"cache-control", "no-cache"}};
    headers.insert(headers.end(), extra.begin(), extra.end());
    // Tells a proxy in front (nginx) not to buffer the stream either.
    headers.emplace_back("x-accel-buffering", "no");
    res->start_stream(200, std::move(headers));
  };
  h.on_chunk = [res](std::string_view chunk) { res->write_chunk(std::string(chunk)); };
  // Backpressure: a client that reads slowly (or not at all) holds the function back
  // instead of growing the server's buffers; one that left stops it.
  h.wait = [res](std::function<void()> resume) { return res->wait_for_room(std::move(resume)); };
  h.gone = [res] { return res->closed(); };
  h.on_done = [res, function = std::move(function), request_id = std::move(request_id),
               ok = std::move(ok), extra = std::move(extra)](Reply reply) {
    if (reply.streamed) return res->finish();
    refuse_deep_result(reply);
    http::Response r = reply.outcome == Outcome::kOk ? ok(reply)
                                                     : failure_reply(reply, function, request_id);
    r.headers.insert(r.headers.end(), extra.begin(), extra.end());
    r.headers.emplace_back(std::string(kRequestIdHeader), request_id);
    res->send(std::move(r));
  };
  return h;
}

void dispatch(ApiDeps& deps, const registry::FunctionVersion& fv, executor::Invocation inv,
              const std::shared_ptr<http::Responder>& res, OkMapper ok,
              http::Headers extra = {}) {
  std::string request_id = inv.request_id;
  auto handler = make_handler(res, fv.spec.name, request_id, std::move(ok), extra);
  auto started = deps.scheduler.invoke(fv.spec.name, std::move(inv), std::move(handler));
  if (!started) res->send(with_headers(error_reply(started.error(), request_id), extra));
}

// The function's latest version, or nullptr after answering 404.
functions::Functions::Entry find_or_404(const functions::Functions& functions,
                                        const std::string& name, const std::string& request_id,
                                        const std::shared_ptr<http::Responder>& res) {
  auto fv = functions.find(name);
  if (!fv) {
    res->send(error_reply(
        make_error(ErrorCode::kNotFound,
                   fmt::format("function '{}' not found; `kumo ls` lists the deployed ones", name)),
        request_id));
  }
  return fv;
}

// Queues the invocation durably (committed before the 202) for the events dispatcher.
void invoke_async(ApiDeps& deps, const std::string& function, const std::string& request_id,
                  std::string body, const std::shared_ptr<http::Responder>& res) {
  if (body.size() > deps.max_async_body) {
    return res->send(error_reply(
        make_error(ErrorCode::kTooLarge,
                   fmt::format("an asynchronous invocation's event is limited to {} KiB; this "
                               "one is {} KiB",
                               deps.max_async_body / 1024, body.size() / 1024)),
        request_id));
  }
  events::AsyncRequest request{function, body.empty() ? "{}" : std::move(body), request_id,
                               "api"};
  auto queued = deps.events.invoke_async(std::move(request));
  if (!queued) return res->send(error_reply(queued.error(), request_id));
  http::Response r = http::json_response(202, {{"request_id", *queued}});
  r.headers.emplace_back(std::string(kRequestIdHeader), *queued);
  res->send(std::move(r));
}

void invoke(ApiDeps& deps, http::Request&& req, const std::shared_ptr<http::Responder>& res) {
  auto caller = auth::admit(deps.access, req, auth::Action::kInvoke,
                            auth::Resource::function(req.params["name"]), *res);
  if (!caller) return;
  std::string request_id = new_request_id();
  auto fv =
      find_or_404(deps.functions, auth::qualify(*caller, req.params["name"]), request_id, res);
  if (!fv) return;
  if (auto depth = check_json_depth(req.body); !depth) {
    return res->send(error_reply(
        make_error(ErrorCode::kInvalidArgument, "the invocation's event: " + depth.error().message),
        request_id));
  }
  if (!req.body.empty() && !nlohmann::json::accept(req.body)) {  // accept() does not recurse
    return res->send(error_reply(
        make_error(ErrorCode::kInvalidArgument,
                   "the request body is not JSON; an invocation's event must be a JSON value"),
        request_id));
  }
  if (req.header("x-kumo-invocation-type") == "async") {
    return invoke_async(deps, fv->spec.name, request_id, std::move(req.body), res);
  }
  executor::Invocation inv;
  inv.request_id = request_id;
  inv.payload = req.body.empty() ? "{}" : std::move(req.body);
  inv.timeout = fv->spec.timeout;
  dispatch(deps, *fv, std::move(inv), res, invoke_ok);
}

// The internal name a path's NAME stands for by itself: `TENANT~NAME` is the tenant's
// function, a plain NAME the default tenant's.
std::string absolute_name(std::string_view name) {
  size_t sep = name.find(auth::kTenantSeparator);
  if (sep == std::string_view::npos) return std::string(name);
  return auth::qualify(name.substr(0, sep), name.substr(sep + 1));
}

bool is_public(const functions::Functions::Entry& fv) {
  return fv && fv->spec.access.http_auth == registry::HttpAuth::kNone;
}

http::Headers cors_of(const functions::Functions::Entry& fv, const http::Request& req) {
  if (!fv || !fv->spec.access.cors) return {};
  return reply_headers(*fv->spec.access.cors, req.header("Origin"));
}

// Who may call an HTTP trigger. A function with `auth: none` answers anyone; any other
// needs a key with invoke scope on it. With a key, NAME is the caller's own function (a
// tenant's key may also write its own TENANT~NAME); a public function is found by its
// absolute name (absolute_name) too. Answers 401, 403 or 404 and returns null when the
// request goes no further.
functions::Functions::Entry admit_trigger(ApiDeps& deps, const http::Request& req,
                                          const std::string& request_id,
                                          const std::shared_ptr<http::Responder>& res) {
  const std::string name = req.params.at("name");
  auto caller = deps.access.identify(req.header("Authorization"));
  if (caller) {
    bool absolute = name.find(auth::kTenantSeparator) != std::string::npos;
    std::string meant = absolute ? absolute_name(name) : auth::qualify(*caller, name);
    if (auto fv = deps.functions.find(meant)) {
      if (is_public(fv)) return fv;
      bool own = !caller->is_operator() && auth::tenant_of(meant) == caller->tenant;
      auto ok = auth::Access::permit(
          *caller, auth::Action::kInvoke,
          auth::Resource::function(own ? std::string(auth::local_name(meant)) : name));
      if (ok) return fv;
      res->send(with_headers(auth::refusal(ok.error()), cors_of(fv, req)));
      return nullptr;
    }
  }
  auto fv = deps.functions.find(absolute_name(name));
  if (is_public(fv)) return fv;
  if (!caller) {
    res->send(with_headers(auth::refusal(caller.error()), cors_of(fv, req)));
    return nullptr;
  }
  if (auto ok = auth::Access::permit(*caller, auth::Action::kInvoke,
                                     auth::Resource::function(name));
      !ok) {
    res->send(auth::refusal(ok.error()));
    return nullptr;
  }
  return find_or_404(deps.functions, auth::qualify(*caller, name), request_id, res);
}

// The caller's Kumo key is Kumo's business, not the function's: it never reaches it.
http::Headers without_kumo_key(http::Headers headers) {
  std::erase_if(headers, [](const auto& h) {
    if (!http::iequals(h.first, "authorization")) return false;
    std::string_view v = h.second;
    return v.starts_with("Bearer ") && auth::parse_token(v.substr(7)).has_value();
  });
  return headers;
}

void trigger(ApiDeps& deps, http::Request&& req, const std::shared_ptr<http::Responder>& res) {
  // A browser's preflight carries no credential: Kumo answers it for a function with CORS
  // settings, before any check of a key.
  if (is_preflight(req)) {
    auto fv = deps.functions.find(absolute_name(req.params["name"]));
    if (fv && fv->spec.access.cors) return res->send(preflight_reply(*fv->spec.access.cors, req));
  }
  std::string request_id = new_request_id();
  auto fv = admit_trigger(deps, req, request_id, res);
  if (!fv) return;
  const std::string& name = fv->spec.name;
  executor::Invocation inv;
  inv.request_id = request_id;
  inv.timeout = fv->spec.timeout;
  std::string path = "/" + req.params["path"];
  http::Headers cors = cors_of(fv, req);  // before the request's headers move on
  http::Headers headers = without_kumo_key(std::move(req.headers));
  if (fv->spec.runtime == registry::Runtime::kExec) {
    inv.http = executor::HttpCall{req.method, path, req.query, std::move(headers),
                                  std::move(req.body)};
  } else {
    HttpEventInput in{req.method, path,        req.query, std::move(headers),
                      std::move(req.body), req.remote_address, request_id, name,
                      wall_micros() / 1000};
    inv.payload = make_http_event(in);
  }
  dispatch(deps, *fv, std::move(inv), res, trigger_ok, std::move(cors));
}

}  // namespace

void add_invoke_routes(http::Router& router, ApiDeps& deps) {
  router.add(
      "POST", "/api/v1/functions/{name}/invoke",
      [&deps](http::Request&& req, std::shared_ptr<http::Responder> res) {
        invoke(deps, std::move(req), res);
      },
      deps.max_invoke_body);
  auto on_trigger = [&deps](http::Request&& req, std::shared_ptr<http::Responder> res) {
    trigger(deps, std::move(req), res);
  };
  router.add("*", "/fn/{name}/{path...}", on_trigger, deps.max_invoke_body);
}

}  // namespace kumo::api
