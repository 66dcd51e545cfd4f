#include "cluster/etcd.h"

#include <fmt/format.h>

#include "cluster/etcd_json.h"
#include "common/base64.h"
#include "common/json.h"

namespace kumo::cluster {
namespace {

using nlohmann::json;

// Replies are small except ranges; a catalogue of a few thousand functions fits well under.
constexpr uint64_t kMaxReply = 64u << 20;

std::string b64(std::string_view bytes) { return base64_encode(bytes); }

json put_request(std::string_view key, std::string_view value, int64_t lease) {
  json put = {{"key", b64(key)}, {"value", b64(value)}};
  if (lease != 0) put["lease"] = std::to_string(lease);
  return put;
}

// A compare on the key's mod_revision; for 0, on its create_revision (absent keys have 0).
json revision_compare(std::string_view key, int64_t expected) {
  if (expected == 0) {
    return {{"key", b64(key)}, {"target", "CREATE"}, {"result", "EQUAL"}, {"create_revision", "0"}};
  }
  return {{"key", b64(key)},
          {"target", "MOD"},
          {"result", "EQUAL"},
          {"mod_revision", std::to_string(expected)}};
}

Result<bool> txn_succeeded(const std::string& body) {
  auto reply = parse_json(body);
  if (!reply || !reply->is_object()) return make_error(ErrorCode::kUnavailable, "etcd: bad txn reply");
  return reply->value("succeeded", false);
}

}  // namespace

Result<std::unique_ptr<Etcd>> Etcd::open(const std::vector<std::string>& urls,
                                         std::chrono::milliseconds timeout) {
  if (urls.empty()) return make_error(ErrorCode::kInvalidArgument, "etcd: no endpoints given");
  std::vector<http::Endpoint> endpoints;
  for (const auto& url : urls) {
    auto endpoint = http::parse_base_url(url);
    if (!endpoint) {
      return make_error(ErrorCode::kInvalidArgument,
                        fmt::format("etcd: endpoint '{}': {}", url, endpoint.error().message));
    }
    endpoints.push_back(*endpoint);
  }
  return std::unique_ptr<Etcd>(new Etcd(std::move(endpoints), timeout));
}

Etcd::Etcd(std::vector<http::Endpoint> endpoints, std::chrono::milliseconds timeout)
    : endpoints_(std::move(endpoints)), timeout_(timeout) {
  for (const auto& endpoint : endpoints_) {
    connections_.push_back({endpoint, std::make_unique<std::mutex>(),
                            std::make_unique<http::Client>(endpoint)});
  }
}

Result<std::string> Etcd::call(std::string_view path, const std::string& body) const {
  const http::Headers headers{{"Content-Type", "application/json"}};
  Error last = make_error(ErrorCode::kUnavailable, "etcd: no endpoint answered");
  size_t first = preferred_.load();
  for (size_t i = 0; i < connections_.size(); ++i) {
    size_t at = (first + i) % connections_.size();
    Connection& c = connections_[at];
    Result<http::ClientResponse> r = [&] {
      std::lock_guard lock(*c.mu);
      return c.client->request("POST", path, body, headers, timeout_, kMaxReply);
    }();
    if (!r) {
      last = make_error(r.error().code, "etcd: " + r.error().message);
      continue;  // unreachable or too slow: the next member may answer
    }
    preferred_ = at;
    if (r->status == 200) return std::move(r->body);
    ErrorCode code = r->status == 404 ? ErrorCode::kNotFound
                     : r->status < 500 ? ErrorCode::kInvalidArgument
                                       : ErrorCode::kUnavailable;
    last = make_error(code, fmt::format("etcd {}: {} {}", path, r->status,
                                        etcd_json::error_message(r->body)));
    if (r->status < 500) return last;  // the request itself is wrong: no point elsewhere
  }
  return last;
}

Result<int64_t> Etcd::put(std::string_view key, std::string_view value, int64_t lease) const {
  auto body = call("/v3/kv/put", put_request(key, value, lease).dump());
  if (!body) return body.error();
  return etcd_json::parse_revision(*body);
}

Result<Range> Etcd::get(std::string_view key) const {
  auto body = call("/v3/kv/range", json{{"key", b64(key)}}.dump());
  if (!body) return body.error();
  return etcd_json::parse_range(*body);
}

Result<Range> Etcd::list(std::string_view prefix) const {
  json request = {{"key", b64(prefix)}, {"range_end", b64(etcd_json::range_end_of(prefix))}};
  auto body = call("/v3/kv/range", request.dump());
  if (!body) return body.error();
  return etcd_json::parse_range(*body);
}

Result<int64_t> Etcd::erase(std::string_view key) const {
  auto body = call("/v3/kv/deleterange", json{{"key", b64(key)}}.dump());
  if (!body) return body.error();
  auto reply = parse_json(*body);
  if (!reply || !reply->is_object()) return make_error(ErrorCode::kUnavailable, "etcd: bad reply");
  return etcd_json::int_field(*reply, "deleted");
}

Result<bool> Etcd::put_if(std::string_view key, std::string_view value, int64_t expected,
                          int64_t lease) const {
  json txn = {{"compare", json::array({revision_compare(key, expected)})},
              {"success", json::array({{{"request_put", put_request(key, value, lease)}}})}};
  auto body = call("/v3/kv/txn", txn.dump());
  if (!body) return body.error();
  return txn_succeeded(*body);
}

Result<bool> Etcd::put_all_if(std::string_view key, int64_t expected,
                              const std::vector<std::pair<std::string, std::string>>& puts) const {
  json success = json::array();
  for (const auto& [k, v] : puts) success.push_back({{"request_put", put_request(k, v, 0)}});
  json txn = {{"compare", json::array({revision_compare(key, expected)})}, {"success", success}};
  auto body = call("/v3/kv/txn", txn.dump());
  if (!body) return body.error();
  return txn_succeeded(*body);
}

Result<bool> Etcd::erase_if(std::string_view key, int64_t expected) const {
  if (expected == 0) return false;  // an absent key has nothing to delete
  json txn = {{"compare", json::array({revision_compare(key, expected)})},
              {"success", json::array({{{"request_delete_range", {{"key", b64(key)}}}}})}};
  auto body = call("/v3/kv/txn", txn.dump());
  if (!body) return body.error();
  return txn_succeeded(*body);
}

Result<int64_t> Etcd::grant_lease(int64_t ttl_seconds) const {
  auto body = call("/v3/lease/grant", json{{"TTL", std::to_string(ttl_seconds)}}.dump());
  if (!body) return body.error();
  auto reply = parse_json(*body);
  if (!reply || !reply->is_object()) return make_error(ErrorCode::kUnavailable, "etcd: bad reply");
  return etcd_json::int_field(*reply, "ID");
}

Result<int64_t> Etcd::keep_alive(int64_t lease) const {
  auto body = call("/v3/lease/keepalive", json{{"ID", std::to_string(lease)}}.dump());
  if (!body) return body.error();
  // A stream of one reply: {"result": {"ID": ..., "TTL": ...}}; no TTL once expired.
  auto reply = parse_json(body->substr(0, body->find('\n')));
  if (!reply || !reply->is_object() || !reply->contains("result")) {
    return make_error(ErrorCode::kUnavailable, "etcd: bad keepalive reply");
  }
  auto ttl = etcd_json::int_field((*reply)["result"], "TTL");
  if (ttl && *ttl <= 0) {
    return make_error(ErrorCode::kNotFound, fmt::format("etcd: lease {} has expired", lease));
  }
  return ttl;
}

Result<void> Etcd::revoke_lease(int64_t lease) const {
  auto body = call("/v3/lease/revoke", json{{"ID", std::to_string(lease)}}.dump());
  if (!body) return body.error();
  return {};
}

std::unique_ptr<Watch> Etcd::watch(std::string prefix, int64_t after_revision,
                                   Watch::Callback callback) const {
  return std::unique_ptr<Watch>(
      new Watch(*this, std::move(prefix), after_revision, std::move(callback)));
}

}  // namespace kumo::cluster
