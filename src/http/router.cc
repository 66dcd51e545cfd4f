#include "http/router.h"

#include <algorithm>
#include <utility>

#include "common/check.h"

namespace kumo::http {
namespace {

using Segment = Router::Segment;

std::vector<Segment> parse_pattern(std::string_view pattern) {
  KUMO_CHECK(!pattern.empty() && pattern[0] == '/');
  std::vector<Segment> out;
  size_t pos = 1;
  while (pos <= pattern.size()) {
    size_t slash = pattern.find('/', pos);
    std::string_view seg =
        pattern.substr(pos, slash == std::string_view::npos ? slash : slash - pos);
    KUMO_CHECK(out.empty() || out.back().kind != Segment::Kind::kRest);
    if (seg.size() > 5 && seg.front() == '{' && seg.ends_with("...}")) {
      out.push_back({Segment::Kind::kRest, std::string(seg.substr(1, seg.size() - 5))});
    } else if (seg.size() > 2 && seg.front() == '{' && seg.back() == '}') {
      out.push_back({Segment::Kind::kParam, std::string(seg.substr(1, seg.size() - 2))});
    } else {
      out.push_back({Segment::Kind::kLiteral, std::string(seg)});
    }
    if (slash == std::string_view::npos) break;
    pos = slash + 1;
  }
  return out;
}

// Literal < param < rest, segment by segment; a prefix sorts first, so "/fn/{name}" comes
// before "/fn/{name}/{path...}".
bool more_specific(const Router::Route& a, const Router::Route& b) {
  size_t n = std::min(a.segments.size(), b.segments.size());
  for (size_t i = 0; i < n; ++i) {
    if (a.segments[i].kind != b.segments[i].kind) {
      return a.segments[i].kind < b.segments[i].kind;
    }
  }
  if (a.segments.size() != b.segments.size()) return a.segments.size() < b.segments.size();
  return a.order < b.order;
}

// Matches `path` (without the leading '/') against a route; fills params on success.
bool match_path(const Router::Route& route, std::string_view path,
                std::map<std::string, std::string>& params) {
  size_t pos = 0;
  for (size_t i = 0; i < route.segments.size(); ++i) {
    const Segment& seg = route.segments[i];
    if (seg.kind == Segment::Kind::kRest) {
      params[seg.text] = url_decode(pos <= path.size() ? path.substr(pos) : "");
      return true;
    }
    if (pos > path.size()) return false;  // the path ran out before the pattern
    size_t slash = path.find('/', pos);
    std::string_view part = path.substr(pos, slash == std::string_view::npos ? slash : slash - pos);
    if (seg.kind == Segment::Kind::kLiteral) {
      if (part != seg.text) return false;
    } else {
      if (part.empty()) return false;
      params[seg.text] = url_decode(part);
    }
    pos = slash == std::string_view::npos ? path.size() + 1 : slash + 1;
  }
  return pos > path.size();
}

bool method_matches(const Router::Route& route, std::string_view method) {
  return route.method == "*" || route.method == method;
}

}  // namespace

void Router::add(std::string method, std::string pattern, Handler handler, size_t max_body) {
  Route route{std::move(method), parse_pattern(pattern), std::move(handler), max_body,
              routes_.size(), false, pattern};
  auto at = std::upper_bound(routes_.begin(), routes_.end(), route, more_specific);
  routes_.insert(at, std::move(route));
}

void Router::add_streaming(std::string method, std::string pattern, Handler handler,
                           size_t max_body) {
  Route route{std::move(method), parse_pattern(pattern), std::move(handler), max_body,
              routes_.size(), true, pattern};
  auto at = std::upper_bound(routes_.begin(), routes_.end(), route, more_specific);
  routes_.insert(at, std::move(route));
}

Router Router::restricted(const RouteFilter& allowed, const Handler& refused) const {
  Router out;
  out.routes_ = routes_;  // already in order
  for (Route& route : out.routes_) {
    if (allowed(route.method, route.pattern)) continue;
    route.handler = refused;
    route.max_body = std::min<size_t>(route.max_body, kRefusedMaxBody);
    route.stream_body = false;
  }
  return out;
}

Router::Match Router::match(std::string_view method, std::string_view path) const {
  Match result;
  std::string_view rest = path.empty() ? path : path.substr(1);
  const Route* fallback = nullptr;  // a GET route answering HEAD
  std::map<std::string, std::string> fallback_params;
  std::map<std::string, std::string> params;
  for (const Route& route : routes_) {
    params.clear();
    if (!match_path(route, rest, params)) continue;
    if (method_matches(route, method)) {
      result.route = &route;
      result.status = 200;
      result.params = std::move(params);
      return result;
    }
    if (method == "HEAD" && route.method == "GET" && fallback == nullptr) {
      fallback = &route;
      fallback_params = std::move(params);
    }
    result.status = 405;
    if (result.allow.find(route.method) == std::string::npos) {
      result.allow += result.allow.empty() ? route.method : ", " + route.method;
    }
  }
  if (fallback != nullptr) {
    result.route = fallback;
    result.status = 200;
    result.params = std::move(fallback_params);
    result.allow.clear();
  }
  return result;
}

}  // namespace kumo::http
