// The API Gateway HTTP API (payload format 2.0) mapping: the event a python3 function gets
// for an HTTP-triggered call, and the reading of its "proxy response". Pure functions, so an
// existing Lambda handler runs unchanged; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>
#include <utility>

#include <nlohmann/json.hpp>

#include "common/base64.h"  // base64_encode, beside base64_decode below

namespace kumo::api {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

struct HttpEventInput {
  std::string method;
  std::string path;   // the part after /fn/{name}, "/" at least
  std::string query;  // without '?'
  HeaderList headers;
  std::string body;
  std::string source_ip;
  std::string request_id;
  std::string function;
  int64_t time_epoch_ms = 0;
};

// The v2 event as JSON text. Binary bodies (not text, JSON, XML or a form) are base64.
std::string make_http_event(const HttpEventInput& in);

struct HttpReply {
  int status = 200;
  HeaderList headers;
  std::string body;
};

// Reads a function's result as API Gateway does: an object with "statusCode" is a proxy
// response (headers, cookies, body, isBase64Encoded); any other JSON is a 200 whose body is
// that JSON; a non-JSON content type, text that is not JSON, or JSON nested deeper than
// kMaxJsonDepth passes through as is (the invoke path refuses the last as a function error).
HttpReply read_proxy_response(std::string_view result, std::string_view content_type);

std::string base64_decode(std::string_view in);

}  // namespace kumo::api
