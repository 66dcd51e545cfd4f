// The /api/v1/tables routes. Each handler runs one short SQLite call on the I/O thread
// (WAL, no fsync per commit), so none hands work elsewhere.
#include <fmt/format.h>

#include <charconv>

#include "auth/access.h"
#include "auth/audit.h"
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

// The table's name inside Kumo when the caller may do `action` on it; nullopt after answering.
std::optional<std::string> admit_table(const auth::Access& access, const Request& req,
                                       auth::Action action, Responder& out) {
  const std::string& table = req.params.at("table");
  auto caller = auth::admit(access, req, action, auth::Resource::table(table), out);
  if (!caller) return std::nullopt;
  return auth::qualify(*caller, table);
}

// Creating and deleting a table: the caller, when it may; a refusal is answered and recorded.
std::optional<auth::Caller> admit_table_change(const auth::Access& access, auth::AuditLog* audit,
                                         const Request& req, std::string_view action,
                                         Responder& out) {
  return auth::admit_change(access, audit, req, auth::Action::kWrite,
                            auth::Resource::table(req.params.at("table")), action, out);
}

// Answers a table change and records its outcome.
void send_change(auth::AuditLog* audit, const auth::Caller& caller, const Request& req,
                 std::string_view action, Responder& out, http::Response response,
                 std::string_view detail = {}) {
  if (audit != nullptr) {
    audit->record(caller, action, req.params.at("table"), req.remote_address, response.status,
                  detail);
  }
  out.send(std::move(response));
}

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

void put_item(Tables& tables, const auth::Access& access, Request&& req, Responder& out) {
  const std::string& key = req.params["key"];
  if (auto ok = check_table_name(req.params["table"]); !ok) return send_error(out, ok.error());
  if (auto ok = check_key(key); !ok) return send_error(out, ok.error());
  auto table = admit_table(access, req, auth::Action::kWrite, out);
  if (!table) return;
  auto item = parse_item(key, req.body);
  if (!item) return send_error(out, item.error());
  auto put = tables.put(*table, key, *item);
  if (!put) return send_error(out, put.error());
  out.send(http::json_response(
      put->created ? 201 : 200,
      {{"table", req.params["table"]}, {"key", key}, {"created", put->created}, {"changed", put->changed}}));
}

void query_items(Tables& tables, const auth::Access& access, Request&& req, Responder& out) {
  const std::string& table = req.params["table"];
  if (auto ok = check_table_name(table); !ok) return send_error(out, ok.error());
  auto internal = admit_table(access, req, auth::Action::kRead, out);
  if (!internal) return;
  auto limit = parse_limit(req.query_param("limit"));
  if (!limit) return send_error(out, limit.error());
  auto page = tables.query(*internal, req.query_param("prefix"), req.query_param("after"), *limit);
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

void add_table_routes(Tables& tables, const auth::Access& access, auth::AuditLog* audit,
                      http::Router& router) {
  router.add("GET", "/api/v1/tables", [&tables, &access](Request&& req, ResponderPtr out) {
    auto caller = auth::admit(access, req, auth::Action::kRead, auth::Resource::table(""), *out);
    if (!caller) return;
    auto list = tables.list_tables();
    if (!list) return send_error(*out, list.error());
    // The caller's tenant's tables, by the names it knows them; the operator's list has all.
    nlohmann::json visible = nlohmann::json::array();
    for (nlohmann::json& t : *list) {
      auto name = auth::visible_name(*caller, t.value("name", ""));
      if (!name) continue;
      t["name"] = *name;
      visible.push_back(std::move(t));
    }
    out->send(http::json_response(200, {{"tables", std::move(visible)}}));
  });
  router.add("PUT", "/api/v1/tables/{table}", [&tables, &access, audit](Request&& req,
                                                                        ResponderPtr out) {
    constexpr std::string_view kAction = "table.create";
    const std::string& name = req.params["table"];
    if (auto ok = check_table_name(name); !ok) return send_error(*out, ok.error());
    auto caller = admit_table_change(access, audit, req, kAction, *out);
    if (!caller) return;
    auto created = tables.create_table(auth::qualify(*caller, name));
    if (!created) {
      return send_change(audit, *caller, req, kAction, *out,
                         http::error_response(created.error()), created.error().message);
    }
    send_change(audit, *caller, req, kAction, *out,
                http::json_response(*created ? 201 : 200, {{"name", name}, {"created", *created}}));
  });
  router.add("DELETE", "/api/v1/tables/{table}", [&tables, &access, audit](Request&& req,
                                                                           ResponderPtr out) {
    constexpr std::string_view kAction = "table.delete";
    const std::string& name = req.params["table"];
    if (auto ok = check_table_name(name); !ok) return send_error(*out, ok.error());
    auto caller = admit_table_change(access, audit, req, kAction, *out);
    if (!caller) return;
    auto items = tables.drop_table(auth::qualify(*caller, name));
    if (!items) {
      return send_change(audit, *caller, req, kAction, *out,
                         http::error_response(items.error()), items.error().message);
    }
    send_change(audit, *caller, req, kAction, *out,
                http::json_response(200, {{"name", name}, {"deleted_items", *items}}));
  });
}

void add_item_routes(Tables& tables, const auth::Access& access, http::Router& router) {
  const char* item_path = "/api/v1/tables/{table}/items/{key...}";
  router.add("GET", "/api/v1/tables/{table}/items",
             [&tables, &access](Request&& req, ResponderPtr out) {
               query_items(tables, access, std::move(req), *out);
             });
  router.add(
      "PUT", item_path,
      [&tables, &access](Request&& req, ResponderPtr out) {
        put_item(tables, access, std::move(req), *out);
      },
      kItemBodyLimit);
  router.add("GET", item_path, [&tables, &access](Request&& req, ResponderPtr out) {
    const std::string& table = req.params["table"];
    if (auto ok = check_table_name(table); !ok) return send_error(*out, ok.error());
    if (auto ok = check_key(req.params["key"]); !ok) return send_error(*out, ok.error());
    auto internal = admit_table(access, req, auth::Action::kRead, *out);
    if (!internal) return;
    auto item = tables.get(*internal, req.params["key"]);
    if (!item) return send_error(*out, item.error());
    out->send(http::json_response(200, item_json(table, *item)));
  });
  router.add("DELETE", item_path, [&tables, &access](Request&& req, ResponderPtr out) {
    const std::string& table = req.params["table"];
    const std::string& key = req.params["key"];
    if (auto ok = check_table_name(table); !ok) return send_error(*out, ok.error());
    if (auto ok = check_key(key); !ok) return send_error(*out, ok.error());
    auto internal = admit_table(access, req, auth::Action::kWrite, *out);
    if (!internal) return;
    auto removed = tables.remove(*internal, key);
    if (!removed) return send_error(*out, removed.error());
    out->send(http::json_response(200, {{"table", table}, {"key", key}, {"deleted", true}}));
  });
}

}  // namespace

void Tables::add_routes(http::Router& router, const auth::Access& access,
                        auth::AuditLog* audit) {
  add_table_routes(*this, access, audit, router);
  add_item_routes(*this, access, router);
}

}  // namespace kumo::tables
