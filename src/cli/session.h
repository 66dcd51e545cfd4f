// Session: how a `kumo` subcommand talks to a Kumo server, and how it fails.
//
// Options holds the global flags (--url) filled in by CLI11; a Session is made from them
// when a subcommand runs. It owns one http::Client, adds the Authorization header when
// KUMO_API_KEY is set, and turns every failure into a one-line "error: ..." on stderr
// plus a CLI::RuntimeError carrying the exit code (see commands.h for the codes).
// A Session is used by one thread.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "http/client.h"

namespace kumo::cli {

// Exit codes a script can rely on.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;       // the server or the function reported an error
inline constexpr int kExitUsage = 2;        // bad flags or arguments
inline constexpr int kExitUnreachable = 3;  // no server answered at the URL

inline constexpr std::string_view kDefaultUrl = "http://127.0.0.1:8080";

// Global flags, bound to CLI11 options; read when a subcommand's callback runs.
struct Options {
  std::string url;  // --url, else $KUMO_URL, else kDefaultUrl (resolved in Session::open)
};

// Prints "error: <message>" to stderr and throws CLI::RuntimeError(exit_code).
[[noreturn]] void fail(int exit_code, std::string_view message);

// The one-line message for a non-2xx reply: the "message" of the server's
// {"error": {...}} body, else the status and the start of the body. `hint` is appended
// after "; " for a 404 when the message does not already say what to do.
std::string error_message(int status, std::string_view body, std::string_view hint = {});

class Session {
 public:
  // Resolves the URL (fails with kExitUsage when it is malformed) and reads KUMO_API_KEY.
  static std::unique_ptr<Session> open(const Options& options);

  Session(std::string url, http::Endpoint endpoint, std::string api_key);

  // Sends a request; fails (and so never returns) when the server cannot be reached or
  // answers non-2xx. `not_found_hint` is added to a 404's message.
  http::ClientResponse call(std::string_view method, std::string_view target,
                            std::string_view body = {}, http::Headers headers = {},
                            std::chrono::milliseconds timeout = std::chrono::seconds(60),
                            std::string_view not_found_hint = {});

  // Like call(), but hands the reply body to `out` as it arrives. A non-2xx reply's
  // error body is held back and reported through fail() instead of given to `out`.
  void stream(std::string_view method, std::string_view target, std::string_view body,
              http::Headers headers, std::chrono::milliseconds timeout,
              std::string_view not_found_hint, const std::function<void(std::string_view)>& out);

  const std::string& url() const { return url_; }

 private:
  http::Headers with_auth(http::Headers headers) const;
  [[noreturn]] void fail_transport(const Error& error) const;
  void check_status(int status, std::string_view body, std::string_view hint) const;

  std::string url_;
  std::string api_key_;
  http::Client client_;
};

// Percent-encodes one path segment or query value (a function name typed by a person).
std::string url_escape(std::string_view text);

// Writes `text` to stdout, adding a final newline when it lacks one.
void print_line(std::string_view text);

// Parses a reply body as JSON; fails with kExitFailed when the server sent something else.
nlohmann::json parse_reply(std::string_view body);

// `kumo ls` and similar hint at the next step on a 404 of a named function.
inline constexpr std::string_view kListHint = "`kumo ls` lists the deployed ones";

}  // namespace kumo::cli
