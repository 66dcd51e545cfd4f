// Router: maps (method, path) to a Handler and its body limit.
//
// Patterns are literal segments, "{name}" for exactly one segment, and a final "{name...}"
// for the rest of the path (possibly empty, slashes included; "/fn/{name}/{path...}" also
// matches "/fn/x"). The most specific pattern wins (literal over {x} over {x...}, compared
// segment by segment), then the first added. Build it before Server::start(); afterwards it
// is read-only and safe to share between threads.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "http/handler.h"

namespace kumo::http {

inline constexpr size_t kDefaultMaxBody = 6 * 1024 * 1024;

class Router {
 public:
  struct Route;

  struct Match {
    const Route* route = nullptr;  // null: see status
    int status = 404;              // 200 matched, 404 unknown path, 405 wrong method
    std::map<std::string, std::string> params;
    std::string allow;  // for 405: the methods the path accepts, "GET, POST"
  };

  // `method` is "GET", "POST", ... or "*" for any. A malformed pattern is a bug (aborts).
  void add(std::string method, std::string pattern, Handler handler,
           size_t max_body = kDefaultMaxBody);
  // The same for a handler that reads the body itself, as it arrives (Request::body_reader,
  // http/body_reader.h), up to `max_body`: for uploads too large to hold in memory.
  void add_streaming(std::string method, std::string pattern, Handler handler, size_t max_body);

  // `path` is percent-encoded as on the wire; params come back decoded. HEAD falls back to
  // a GET route.
  Match match(std::string_view method, std::string_view path) const;

  // A copy in which every route that `allowed(method, pattern)` refuses answers with
  // `refused` instead of its own handler (its body read and dropped up to 64 KiB; larger
  // ones get 413): for listeners that must reach only part of the API.
  static constexpr size_t kRefusedMaxBody = 64 * 1024;
  using RouteFilter = std::function<bool(std::string_view method, std::string_view pattern)>;
  Router restricted(const RouteFilter& allowed, const Handler& refused) const;

  struct Segment {
    enum class Kind { kLiteral, kParam, kRest };
    Kind kind;
    std::string text;  // literal text or param name
  };
  struct Route {
    std::string method;
    std::vector<Segment> segments;
    Handler handler;
    size_t max_body;
    size_t order;
    bool stream_body = false;  // add_streaming()
    std::string pattern;       // as given to add()
  };

 private:
  std::vector<Route> routes_;  // sorted most specific first
};

}  // namespace kumo::http
