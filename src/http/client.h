// http::Client: a blocking HTTP/1.1 client for the CLI and for forwarding to `exec`
// function instances. One Client holds one keep-alive connection to one host:port and
// reconnects when the server closed it. Not thread-safe: use one Client per thread.
// Beast stays behind the pimpl so including this header is cheap.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"
#include "http/types.h"

namespace kumo::http {

struct ClientResponse {
  int status = 0;
  Headers headers;
  std::string body;
  // First value of a header, case-insensitive; empty when absent.
  std::string header(std::string_view name) const;
};

// Parses "http://host:port" (no TLS). kInvalidArgument on anything else.
struct Endpoint {
  std::string host;
  int port = 80;
};
Result<Endpoint> parse_base_url(std::string_view url);

// Makes the socket a Client connects with, in place of its own: a new stream socket of the
// endpoint's address family, which the client then owns. For a server reachable only through
// sockets made in another network namespace (executor/netns.h).
using SocketOpener = std::function<Result<int>()>;

class Client {
 public:
  explicit Client(Endpoint endpoint, SocketOpener open_socket = nullptr);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Sends one request and reads the whole response. kUnavailable when the server cannot be
  // reached or the connection breaks; kTimeout past `timeout`; kTooLarge (and the
  // connection is closed) when the response body is over `max_body`.
  Result<ClientResponse> request(std::string_view method, std::string_view target,
                                 std::string_view body = {}, const Headers& headers = {},
                                 std::chrono::milliseconds timeout = std::chrono::seconds(60),
                                 uint64_t max_body = UINT64_MAX);

  // Like request(), but hands the body to `on_data` as it arrives (chunked or not), for
  // `kumo logs -f` and streamed replies. The returned response has an empty body.
  Result<ClientResponse> stream(std::string_view method, std::string_view target,
                                std::string_view body, const Headers& headers,
                                const std::function<void(std::string_view)>& on_data,
                                std::chrono::milliseconds timeout = std::chrono::hours(24));

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace kumo::http
