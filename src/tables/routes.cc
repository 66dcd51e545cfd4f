// The /api/v1/tables routes. Each handler runs one short SQLite call on the I/O thread
// (WAL, no fsync per commit), so none hands work elsewhere.
#include <fmt/format.h>

#include <charconv>

#include "tables/names.h"
#include "tables/tables.h"

namespace kumo::tables {
namespace {

using http::Request;
using http::Responder;
using ResponderPtr = std::shared_ptr<Responder>;

constexpr size_t kItemBodyLimit = 1024 * 1024;  // items over 400 KB get our own 413 message
constexpr int kDefaultLimit = 100;
constexpr int kMaxLimit = 1000;

void send_error(Responder& out, const Error& error) { out.send(http::error_response(error)); }

nlohmann::json item_json(const std::string& table, const Item& item) {
  return {
      {"table", table}, {"key", item.key}, {"item", item.value}, {"updated_us", item.updated_us}};
}

Result<int> parse_limit(const std::string& text) {
  if (text.empty()) return kDefaultLimit;
  int limit = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), limit);
  if (ec != std::errc() || end != text.data() + text.size() || limit < 1 || limit > kMaxLimit) {
    return make_error(
        ErrorCode::kInvalidArgument,
        fmt::format("limit must be a number from 1 to {}, got '{}'", kMaxLimit, text));
  }
  return limit;
}

void put_item(Tables& tables, Request&& req, Responder& out) {
  const std::string& table = req.params["table"];
  const std::string& key = req.params["key"];
  if (auto ok = check_table_name(table); !ok) return send_error(out, ok.error());
  if (auto ok = check_key(key); !ok) return send_error(out, ok.error());
  auto item = parse_item(key, req.body);
  if (!item) return send_error(out, item.error());
  auto put = tables.put(table, key, *item);
  if (!put) return send_error(out, put.error());
  out.send(http::json_response(
      put->created ? 201 : 200,
      {{"table", table}, {"key", key}, {"created", put->created}, {"changed", put->changed}}));
}

void query_items(Tables& tables, Request&& req, Responder& out) {
  const std::string& table = req.params["table"];
  if (auto ok = check_table_name(table); !ok) return send_error(out, ok.error());
  auto limit = parse_limit(req.query_param("limit"));
  if (!limit) return send_error(out, limit.error());
  auto page = tables.query(table, req.query_param("prefix"), req.query_param("after"), *limit);
  if (!page) return send_error(out, page.error());
  nlohmann::json items = nlohmann::json::array();
  for (const Item& item : page->items) {
    items.push_back({{"key", item.key}, {"item", item.value}, {"updated_us", item.updated_us}});
  }
  out.send(http::json_response(
      200, {{"table", table},
            {"items", std::move(items)},
            {"next", page->next ? nlohmann::json(*page->next) : nlohmann::json()}}));
}

void add_table_routes(Tables& tables, http::Router& router) {
  router.add("GET", "/api/v1/tables", [&tables](Request&&, ResponderPtr out) {
    auto list = tables.list_tables();
    if (!list) return send_error(*out, list.error());
    out->send(http::json_response(200, {{"tables", *list}}));
  });
  router.add("PUT", "/api/v1/tables/{table}", [&tables](Request&& req, ResponderPtr out) {
    const std::string& name = req.params["table"];
    auto created = tables.create_table(name);
    if (!created) return send_error(*out, created.error());
    out->send(http::json_response(*created ? 201 : 200, {{"name", name}, {"created", *created}}));
  });
  router.add("DELETE", "/api/v1/tables/{table}", [&tables](Request&& req, ResponderPtr out) {
    const std::string& name = req.params["table"];
    auto items = tables.drop_table(name);
    if (!items) return send_error(*out, items.error());
    out->send(http::json_response(200, {{"name", name}, {"deleted_items", *items}}));
  });
}

void add_item_routes(Tables& tables, http::Router& router) {
  const char* item_path = "/api/v1/tables/{table}/items/{key...}";
  router.add("GET", "/api/v1/tables/{table}/items", [&tables](Request&& req, ResponderPtr out) {
    query_items(tables, std::move(req), *out);
  });
  router.add(
      "PUT", item_path,
      [&tables](Request&& req, ResponderPtr out) { put_item(tables, std::move(req), *out); },
      kItemBodyLimit);
  router.add("GET", item_path, [&tables](Request&& req, ResponderPtr out) {
    const std::string& table = req.params["table"];
    if (auto ok = check_key(req.params["key"]); !ok) return send_error(*out, ok.error());
    auto item = tables.get(table, req.params["key"]);
    if (!item) return send_error(*out, item.error());
    out->send(http::json_response(200, item_json(table, *item)));
  });
  router.add("DELETE", item_path, [&tables](Request&& req, ResponderPtr out) {
    const std::string& table = req.params["table"];
    const std::string& key = req.params["key"];
    if (auto ok = check_key(key); !ok) return send_error(*out, ok.error());
    auto removed = tables.remove(table, key);
    if (!removed) return send_error(*out, removed.error());
    out->send(http::json_response(200, {{"table", table}, {"key", key}, {"deleted", true}}));
  });
}

}  // namespace

void Tables::add_routes(http::Router& router) {
  add_table_routes(*this, router);
  add_item_routes(*this, router);
}

}  // namespace kumo::tables
