// Async invocation status, the embedded topics, and the CloudEvents ingest endpoint.
#include <boost/algorithm/string/case_conv.hpp>
#include <fmt/format.h>

#include "api/errors.h"
#include "api/routes.h"
#include "common/json.h"

namespace kumo::api {
namespace {

using boost::algorithm::to_lower_copy;
using nlohmann::json;

constexpr size_t kMaxMessage = 256 * 1024;
constexpr size_t kMaxCloudEvents = 1024 * 1024;

void send_result(const std::shared_ptr<http::Responder>& res, int status, Result<json> r) {
  if (!r) return res->send(error_reply(r.error()));
  res->send(http::json_response(status, *r));
}

// Message attributes come from `x-kumo-attr-NAME` headers.
events::Message message_from(http::Request& req) {
  events::Message m{std::move(req.body), {}};
  constexpr std::string_view kPrefix = "x-kumo-attr-";
  for (const auto& [name, value] : req.headers) {
    std::string lower = to_lower_copy(name);
    if (lower.starts_with(kPrefix) && lower.size() > kPrefix.size()) {
      m.attributes[lower.substr(kPrefix.size())] = value;
    }
  }
  return m;
}

// A body is any bytes, passed on as text, but one that is JSON is parsed by subscribers, so
// it is held to the same depth as every other JSON Kumo takes in.
Result<void> check_message_body(std::string_view body) {
  size_t start = body.find_first_not_of(" \t\r\n");
  if (start == std::string_view::npos || (body[start] != '[' && body[start] != '{')) return {};
  if (auto depth = check_json_depth(body); !depth) {
    return make_error(ErrorCode::kInvalidArgument, "the message: " + depth.error().message);
  }
  return {};
}

void publish(ApiDeps& deps, http::Request&& req, const std::shared_ptr<http::Responder>& res) {
  auto caller = auth::admit(deps.access, req, auth::Action::kPublish,
                            auth::Resource::topic(req.params["topic"]), *res);
  if (!caller) return;
  std::string topic = auth::qualify(*caller, req.params["topic"]);
  if (auto ok = check_message_body(req.body); !ok) return res->send(error_reply(ok.error()));
  auto id = deps.events.publish(topic, message_from(req));
  if (!id) return res->send(error_reply(id.error()));
  res->send(http::json_response(202, {{"topic", req.params["topic"]}, {"message_id", *id}}));
}

void list_messages(ApiDeps& deps, http::Request&& req,
                   const std::shared_ptr<http::Responder>& res) {
  auto caller = auth::admit(deps.access, req, auth::Action::kRead,
                            auth::Resource::topic(req.params["topic"]), *res);
  if (!caller) return;
  int64_t after = 0;
  int limit = 100;
  try {
    if (auto a = req.query_param("after"); !a.empty()) after = std::stoll(a);
    if (auto l = req.query_param("limit"); !l.empty()) limit = std::stoi(l);
  } catch (const std::exception&) {
    return res->send(error_reply(make_error(ErrorCode::kInvalidArgument,
                                            "after and limit must be whole numbers")));
  }
  auto listed = deps.events.messages(auth::qualify(*caller, req.params["topic"]), after, limit);
  if (listed) (*listed)["topic"] = req.params["topic"];  // as the caller knows it
  send_result(res, 200, std::move(listed));
}

// A CloudEvent (v1.0) in structured JSON form, from either HTTP mode.
Result<json> cloudevent_from_binary(const http::Request& req) {
  json ce = json::object();
  for (const auto& [name, value] : req.headers) {
    std::string lower = to_lower_copy(name);
    if (lower.starts_with("ce-")) ce[lower.substr(3)] = value;
  }
  std::string type = req.header("content-type");
  if (!type.empty()) ce["datacontenttype"] = type;
  if (req.body.empty()) return ce;
  bool is_json = type.empty() || type.find("json") != std::string::npos;
  if (!is_json) {
    ce["data"] = req.body;
    return ce;
  }
  if (auto depth = check_json_depth(req.body); !depth) {
    return make_error(ErrorCode::kInvalidArgument, "the event's data: " + depth.error().message);
  }
  auto data = parse_json(req.body);
  ce["data"] = data ? std::move(*data) : json(req.body);  // data that is not JSON: a string
  return ce;
}

Result<void> check_cloudevent(const json& ce) {
  if (!ce.is_object()) {
    return make_error(ErrorCode::kInvalidArgument, "a CloudEvent must be a JSON object");
  }
  for (const char* required : {"specversion", "id", "source", "type"}) {
    if (!ce.contains(required) || !ce[required].is_string() ||
        ce[required].get<std::string>().empty()) {
      return make_error(ErrorCode::kInvalidArgument,
                        fmt::format("the CloudEvent lacks the required attribute '{}' (binary "
                                    "mode: the ce-{} header)",
                                    required, required));
    }
  }
  if (ce["specversion"] != "1.0") {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("specversion '{}' is not supported; send 1.0",
                                  ce["specversion"].get<std::string>()));
  }
  return {};
}

std::string topic_for(const ApiDeps& deps, const std::string& type) {
  auto it = deps.cloudevent_routes.find(type);
  return it == deps.cloudevent_routes.end() ? type : it->second;
}

// The async invocation's record, to a caller that may read its function (a record of
// another tenant's function is not found).
void invocation(ApiDeps& deps, http::Request&& req, const std::shared_ptr<http::Responder>& res) {
  auto caller = deps.access.identify(req.header("Authorization"));
  if (!caller) return res->send(auth::refusal(caller.error()));
  auto record = deps.events.invocation(req.params["id"]);
  if (!record) return res->send(error_reply(record.error()));
  auto name = auth::visible_name(*caller, record->value("function", ""));
  if (!name) {
    return res->send(error_reply(make_error(
        ErrorCode::kNotFound, fmt::format("no invocation '{}'", req.params["id"].substr(0, 64)))));
  }
  if (auto ok = auth::Access::permit(*caller, auth::Action::kRead, auth::Resource::function(*name));
      !ok) {
    return res->send(auth::refusal(ok.error()));
  }
  (*record)["function"] = *name;
  res->send(http::json_response(200, *record));
}

void ingest(ApiDeps& deps, http::Request&& req, const std::shared_ptr<http::Responder>& res) {
  auto caller = deps.access.identify(req.header("Authorization"));
  if (!caller) return res->send(auth::refusal(caller.error()));
  std::string content_type = to_lower_copy(req.header("content-type"));
  std::vector<json> events;
  if (content_type.starts_with("application/cloudevents-batch+json")) {
    auto batch = parse_json(req.body);
    if (!batch || !batch->is_array()) {
      std::string why = batch ? "" : ": " + batch.error().message;
      return res->send(
          error_reply(make_error(ErrorCode::kInvalidArgument,
                                 "a CloudEvents batch must be a JSON array of events" + why)));
    }
    for (auto& e : *batch) events.push_back(std::move(e));
  } else if (content_type.starts_with("application/cloudevents+json")) {
    auto ce = parse_json(req.body);
    if (!ce) {
      return res->send(error_reply(make_error(ErrorCode::kInvalidArgument,
                                              "the structured CloudEvent: " + ce.error().message)));
    }
    events.push_back(std::move(*ce));
  } else {
    auto ce = cloudevent_from_binary(req);
    if (!ce) return res->send(error_reply(ce.error()));
    events.push_back(std::move(*ce));
  }
  for (const auto& ce : events) {
    if (auto ok = check_cloudevent(ce); !ok) return res->send(error_reply(ok.error()));
    auto topic = auth::Resource::topic(topic_for(deps, ce["type"].get<std::string>()));
    if (auto ok = auth::Access::permit(*caller, auth::Action::kPublish, topic); !ok) {
      return res->send(auth::refusal(ok.error()));
    }
  }
  json accepted = json::array();
  for (const auto& ce : events) {
    std::string type = ce["type"].get<std::string>();
    std::string topic = auth::qualify(*caller, topic_for(deps, type));
    events::Message m{ce.dump(), {{"ce_type", type},
                                  {"ce_source", ce["source"].get<std::string>()},
                                  {"ce_id", ce["id"].get<std::string>()}}};
    auto id = deps.events.publish(topic, std::move(m));
    if (!id) return res->send(error_reply(id.error()));
    accepted.push_back({{"id", ce["id"]}, {"topic", topic}, {"message_id", *id}});
  }
  res->send(http::json_response(202, {{"accepted", accepted}}));
}

}  // namespace

void add_event_routes(http::Router& router, ApiDeps& deps) {
  router.add("GET", "/api/v1/invocations/{id}",
             [&deps](http::Request&& req, std::shared_ptr<http::Responder> res) {
               invocation(deps, std::move(req), res);
             });
  router.add(
      "POST", "/api/v1/topics/{topic}",
      [&deps](http::Request&& req, std::shared_ptr<http::Responder> res) {
        publish(deps, std::move(req), res);
      },
      kMaxMessage);
  router.add("GET", "/api/v1/topics/{topic}/messages",
             [&deps](http::Request&& req, std::shared_ptr<http::Responder> res) {
               list_messages(deps, std::move(req), res);
             });
  router.add(
      "POST", "/api/v1/events",
      [&deps](http::Request&& req, std::shared_ptr<http::Responder> res) {
        ingest(deps, std::move(req), res);
      },
      kMaxCloudEvents);
}

}  // namespace kumo::api
