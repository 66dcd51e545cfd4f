// What a route handler sees: the parsed Request, the Response it answers with, and the
// Responder through which it answers, now or later, whole or streamed.
//
// A Handler runs on one of the server's I/O threads and must not block it: slow work goes
// elsewhere and answers through the Responder (shared_ptr, thread-safe) when done. Beast-free.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>

#include "common/result.h"
#include "http/body_reader.h"
#include "http/types.h"

namespace kumo::http {

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string target;  // as sent: path and query, still percent-encoded
  std::string path;    // target before '?', still percent-encoded
  std::string query;   // after '?', without it; empty when none
  Headers headers;
  std::string body;
  // Set on a route added with Router::add_streaming() when the request has a body: `body`
  // is then empty and the handler reads the body from here.
  std::shared_ptr<BodyReader> body_reader;
  std::map<std::string, std::string> params;  // route captures, percent-decoded
  std::string remote_address;                 // peer IP, for logs and sourceIp
  int remote_port = 0;                        // peer port: tells connections apart

  // First value of a header, case-insensitive; "" when absent.
  std::string header(std::string_view name) const;
  // A decoded query-string parameter; "" when absent.
  std::string query_param(std::string_view name) const;
};

struct Response {
  int status = 200;
  Headers headers;
  std::string body;
};

// A JSON body with content-type application/json.
Response json_response(int status, const nlohmann::json& body);

// The platform's error shape: {"error": {"type", "message", "request_id"?}}.
Response error_response(int status, std::string_view type, std::string_view message,
                        std::string_view request_id = "");

// The HTTP status of an error code (kInvalidArgument 400, kNotFound 404, ..., kInternal 500),
// and the error as a response in the shape above.
int status_of(ErrorCode code);
Response error_response(const Error& error, std::string_view request_id = "");

// Answers one request. Exactly one of send() or start_stream()..finish() per request; calls
// after that are ignored. Every method may be called from any thread, also after the handler
// returned: the work is handed to the connection's I/O thread, in call order per thread.
// Dropping the last reference without answering sends a 500 (or cuts an unfinished stream),
// so a forgotten answer never hangs a client.
class Responder {
 public:
  virtual ~Responder() = default;

  virtual void send(Response response) = 0;
  // Starts a chunked reply; each write_chunk() goes to the socket at once (for SSE and
  // streamed function output), finish() ends it and keep-alive carries on.
  virtual void start_stream(int status, Headers headers) = 0;
  virtual void write_chunk(std::string data) = 0;
  virtual void finish() = 0;
  // True once the client went away or the server closed the connection; a streaming
  // producer stops then, even one that has nothing to write.
  virtual bool closed() const = 0;
  // Backpressure for a stream. False while the chunks written and not yet taken by the
  // socket are under kStreamWindow (also once the connection is closed). Otherwise true,
  // and `resume` runs once, on a server thread (it must not block), when they have drained
  // below half of it or the connection closed: a producer that got true makes no more
  // chunks until then. The default has no bound.
  virtual bool wait_for_room(std::function<void()> /*resume*/) { return false; }
};

// What a stream may hold unsent before wait_for_room() asks its producer to wait.
inline constexpr size_t kStreamWindow = 1024 * 1024;

using Handler = std::function<void(Request&&, std::shared_ptr<Responder>)>;

}  // namespace kumo::http
