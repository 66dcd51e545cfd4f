#include "http/client.h"

#include <fmt/format.h>
#include <unistd.h>

#include <array>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <charconv>
#include <cstdint>
#include <limits>
#include <optional>

namespace kumo::http {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;
using Deadline = std::chrono::steady_clock::time_point;
using OutRequest = bhttp::request<bhttp::string_body>;

// Errors after which a kept-alive connection was simply closed by the server while idle:
// the request never reached it, so one retry on a fresh connection is safe.
bool is_stale(const beast::error_code& ec) {
  return ec == bhttp::error::end_of_stream || ec == net::error::eof ||
         ec == net::error::connection_reset || ec == net::error::broken_pipe ||
         ec == net::error::connection_aborted || ec == net::error::bad_descriptor ||
         ec == net::error::not_connected;
}

std::string host_header(const Endpoint& ep) {
  bool v6 = ep.host.find(':') != std::string::npos;
  return v6 ? fmt::format("[{}]:{}", ep.host, ep.port) : fmt::format("{}:{}", ep.host, ep.port);
}

OutRequest build_request(const Endpoint& ep, std::string_view method, std::string_view target,
                         std::string_view body, const Headers& headers) {
  OutRequest req;
  auto verb = bhttp::string_to_verb({method.data(), method.size()});
  if (verb == bhttp::verb::unknown) {
    req.method_string({method.data(), method.size()});
  } else {
    req.method(verb);
  }
  req.target({target.data(), target.size()});
  req.version(11);
  req.set(bhttp::field::host, host_header(ep));
  req.set(bhttp::field::user_agent, "kumo");
  for (const auto& [name, value] : headers) req.set(name, value);
  req.body().assign(body.data(), body.size());
  req.prepare_payload();
  return req;
}

template <typename Fields>
Headers copy_headers(const Fields& fields) {
  Headers out;
  for (const auto& field : fields) {
    out.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  return out;
}

}  // namespace

std::string ClientResponse::header(std::string_view name) const {
  return find_header(headers, name);
}

Result<Endpoint> parse_base_url(std::string_view url) {
  auto bad = [&](std::string_view why) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("'{}': {}; expected http://HOST:PORT", url, why));
  };
  if (url.starts_with("https://")) return bad("https is not supported");
  if (!url.starts_with("http://")) return bad("not an http:// URL");
  std::string_view rest = url.substr(7);
  while (rest.ends_with('/')) rest.remove_suffix(1);
  if (rest.find('/') != std::string_view::npos) return bad("a base URL has no path");
  Endpoint ep;
  std::string_view port_text;
  if (rest.starts_with('[')) {
    size_t close = rest.find(']');
    if (close == std::string_view::npos) return bad("unclosed '[' in the host");
    ep.host = std::string(rest.substr(1, close - 1));
    rest = rest.substr(close + 1);
    if (!rest.empty() && rest[0] != ':') return bad("junk after the host");
    if (!rest.empty()) port_text = rest.substr(1);
  } else {
    size_t colon = rest.find(':');
    ep.host = std::string(rest.substr(0, colon));
    if (colon != std::string_view::npos) port_text = rest.substr(colon + 1);
  }
  if (ep.host.empty()) return bad("missing host");
  if (!port_text.empty() || rest.ends_with(':')) {
    auto [end, ec] =
        std::from_chars(port_text.data(), port_text.data() + port_text.size(), ep.port);
    if (ec != std::errc() || end != port_text.data() + port_text.size() || ep.port < 1 ||
        ep.port > 65535) {
      return bad("the port must be 1..65535");
    }
  }
  return ep;
}

struct Client::State {
  State(Endpoint e, SocketOpener o) : endpoint(std::move(e)), open_socket(std::move(o)) {}

  // Runs one asynchronous operation to completion on the private io_context; the stream's
  // expiry (set by the caller) turns into beast::error::timeout.
  template <typename Start>
  beast::error_code run(Start&& start) {
    beast::error_code result;
    start([&result](beast::error_code ec, auto&&...) { result = ec; });
    ioc.restart();
    ioc.run();
    return result;
  }

  beast::error_code connect(Deadline deadline) {
    tcp::resolver resolver(ioc);
    beast::error_code ec;
    auto results = resolver.resolve(endpoint.host, std::to_string(endpoint.port), ec);
    if (ec) return ec;
    stream.expires_at(deadline);
    if (open_socket) {
      ec = open_given_socket(results.begin()->endpoint().protocol());
      if (ec) return ec;
      // One endpoint: connecting to a range would close the given socket between tries.
      ec = run([&](auto handler) {
        stream.async_connect(results.begin()->endpoint(), std::move(handler));
      });
    } else {
      ec = run([&](auto handler) { stream.async_connect(results, std::move(handler)); });
    }
    if (ec) return ec;
    stream.socket().set_option(tcp::no_delay(true), ec);
    buffer.clear();
    connected = true;
    return {};
  }

  // Makes the stream's socket with open_socket; its failure is kept for to_error().
  beast::error_code open_given_socket(const tcp& protocol) {
    open_error.reset();
    auto fd = open_socket();
    if (!fd) {
      open_error = fd.error().message;
      return net::error::not_connected;
    }
    beast::error_code ec;
    stream.socket().assign(protocol, *fd, ec);
    if (ec) ::close(*fd);
    return ec;
  }

  void disconnect() {
    beast::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream.close();
    buffer.clear();
    connected = false;
  }

  // Sends `req` and reads the response: all of it (`whole`) or its header. Retries once on
  // a fresh connection when the kept one turns out closed.
  template <typename Body>
  beast::error_code exchange(const OutRequest& req, Deadline deadline,
                             std::optional<bhttp::response_parser<Body>>& parser, bool whole,
                             uint64_t max_body = std::numeric_limits<std::uint64_t>::max()) {
    for (int attempt = 0;; ++attempt) {
      bool reused = connected;
      if (!connected) {
        if (auto ec = connect(deadline)) return ec;
      }
      stream.expires_at(deadline);
      auto write_ec = run([&](auto h) { bhttp::async_write(stream, req, std::move(h)); });
      // Read even after a failed write: a server may answer early (413) and close.
      parser.emplace();
      parser->body_limit(max_body);  // never none: that misbehaves in 1.74
      // A HEAD reply's Content-Length describes a body that never comes.
      parser->skip(req.method() == bhttp::verb::head);
      auto ec = whole
                    ? run([&](auto h) { bhttp::async_read(stream, buffer, *parser, std::move(h)); })
                    : run([&](auto h) {
                        bhttp::async_read_header(stream, buffer, *parser, std::move(h));
                      });
      if (!ec) return {};
      disconnect();
      if (ec == bhttp::error::body_limit) return ec;
      beast::error_code first = write_ec ? write_ec : ec;
      if (reused && attempt == 0 && is_stale(first)) continue;
      return first;
    }
  }

  Error to_error(const beast::error_code& ec, std::chrono::milliseconds timeout) const {
    if (ec == bhttp::error::body_limit) {
      return make_error(ErrorCode::kTooLarge,
                        fmt::format("the response from http://{} is over the size limit",
                                    host_header(endpoint)));
    }
    if (ec == beast::error::timeout) {
      return make_error(ErrorCode::kTimeout, fmt::format("no answer from http://{} within {} ms",
                                                         host_header(endpoint), timeout.count()));
    }
    return make_error(ErrorCode::kUnavailable,
                      fmt::format("cannot reach http://{}: {}", host_header(endpoint),
                                  open_error ? *open_error : ec.message()));
  }

  Endpoint endpoint;
  SocketOpener open_socket;
  std::optional<std::string> open_error;  // why open_socket failed in the last connect
  net::io_context ioc{1};
  beast::tcp_stream stream{ioc};
  beast::flat_buffer buffer;
  bool connected = false;
};

Client::Client(Endpoint endpoint, SocketOpener open_socket)
    : state_(std::make_unique<State>(std::move(endpoint), std::move(open_socket))) {}

Client::~Client() = default;

Result<ClientResponse> Client::request(std::string_view method, std::string_view target,
                                       std::string_view body, const Headers& headers,
                                       std::chrono::milliseconds timeout, uint64_t max_body) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  auto req = build_request(state_->endpoint, method, target, body, headers);
  std::optional<bhttp::response_parser<bhttp::string_body>> parser;
  if (auto ec = state_->exchange(req, deadline, parser, true, max_body)) {
    return state_->to_error(ec, timeout);
  }
  auto& msg = parser->get();
  ClientResponse out;
  out.status = static_cast<int>(msg.result_int());
  out.headers = copy_headers(msg.base());
  out.body = std::move(msg.body());
  if (!msg.keep_alive()) state_->disconnect();
  return out;
}

Result<ClientResponse> Client::stream(std::string_view method, std::string_view target,
                                      std::string_view body, const Headers& headers,
                                      const std::function<void(std::string_view)>& on_data,
                                      std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  auto req = build_request(state_->endpoint, method, target, body, headers);
  std::optional<bhttp::response_parser<bhttp::buffer_body>> parser;
  if (auto ec = state_->exchange(req, deadline, parser, false)) {
    return state_->to_error(ec, timeout);
  }
  std::array<char, 16 * 1024> buf;
  while (!parser->is_done()) {
    parser->get().body().data = buf.data();
    parser->get().body().size = buf.size();
    // read_some hands back whatever arrived, so each chunk reaches on_data without waiting
    // for the buffer to fill.
    auto ec = state_->run([&](auto h) {
      bhttp::async_read_some(state_->stream, state_->buffer, *parser, std::move(h));
    });
    if (ec == bhttp::error::need_buffer) ec = {};
    if (ec) {
      state_->disconnect();
      return state_->to_error(ec, timeout);
    }
    size_t n = buf.size() - parser->get().body().size;
    if (n > 0) on_data(std::string_view(buf.data(), n));
  }
  auto& msg = parser->get();
  ClientResponse out;
  out.status = static_cast<int>(msg.result_int());
  out.headers = copy_headers(msg.base());
  if (!msg.keep_alive()) state_->disconnect();
  return out;
}

}  // namespace kumo::http
