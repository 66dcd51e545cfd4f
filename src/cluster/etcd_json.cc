#include "cluster/etcd_json.h"

#include <charconv>

#include <fmt/format.h>

#include "common/base64.h"
#include "common/json.h"

namespace kumo::cluster::etcd_json {
namespace {

using nlohmann::json;

Error bad_reply(std::string what) {
  return make_error(ErrorCode::kUnavailable, "etcd: unexpected reply: " + std::move(what));
}

// A base64 field as bytes; "" when absent.
Result<std::string> bytes_field(const json& object, const char* name) {
  auto it = object.find(name);
  if (it == object.end()) return std::string();
  if (!it->is_string()) return bad_reply(fmt::format("'{}' is not a string", name));
  auto bytes = base64_decode(it->get<std::string>());
  if (!bytes) return bad_reply(fmt::format("'{}' is not base64", name));
  return *bytes;
}

Result<json> parse_object(std::string_view body) {
  auto parsed = parse_json(body);
  if (!parsed) return bad_reply(parsed.error().message);
  if (!parsed->is_object()) return bad_reply("not a JSON object");
  return *parsed;
}

Result<int64_t> header_revision(const json& reply) {
  auto header = reply.find("header");
  if (header == reply.end() || !header->is_object()) return int64_t{0};
  return int_field(*header, "revision");
}

Result<WatchEvent> parse_event(const json& event) {
  if (!event.is_object()) return bad_reply("a watch event is not an object");
  WatchEvent out;
  auto type = event.find("type");
  if (type != event.end() && *type == "DELETE") out.type = WatchEvent::Type::kDelete;
  auto kv = event.find("kv");
  if (kv == event.end()) return bad_reply("a watch event without its kv");
  auto parsed = parse_kv(*kv);
  if (!parsed) return parsed.error();
  out.kv = std::move(*parsed);
  return out;
}

}  // namespace

std::string range_end_of(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    auto& last = reinterpret_cast<unsigned char&>(end.back());
    if (last < 0xff) {
      ++last;
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');
}

Result<int64_t> int_field(const json& object, const char* name) {
  auto it = object.find(name);
  if (it == object.end() || it->is_null()) return int64_t{0};
  if (it->is_number_integer()) return it->get<int64_t>();
  if (!it->is_string()) return bad_reply(fmt::format("'{}' is not a number", name));
  const std::string& text = it->get_ref<const std::string&>();
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) {
    return bad_reply(fmt::format("'{}' is not a number: {}", name, text));
  }
  return value;
}

Result<KeyValue> parse_kv(const json& kv) {
  if (!kv.is_object()) return bad_reply("a kv is not an object");
  KeyValue out;
  auto key = bytes_field(kv, "key");
  auto value = bytes_field(kv, "value");
  if (!key) return key.error();
  if (!value) return value.error();
  out.key = std::move(*key);
  out.value = std::move(*value);
  for (auto [name, field] : {std::pair{"create_revision", &out.create_revision},
                             std::pair{"mod_revision", &out.mod_revision},
                             std::pair{"version", &out.version}, std::pair{"lease", &out.lease}}) {
    auto n = int_field(kv, name);
    if (!n) return n.error();
    *field = *n;
  }
  return out;
}

Result<Range> parse_range(std::string_view body) {
  auto reply = parse_object(body);
  if (!reply) return reply.error();
  Range out;
  auto revision = header_revision(*reply);
  if (!revision) return revision.error();
  out.revision = *revision;
  auto kvs = reply->find("kvs");
  if (kvs == reply->end()) return out;
  if (!kvs->is_array()) return bad_reply("'kvs' is not an array");
  for (const auto& kv : *kvs) {
    auto parsed = parse_kv(kv);
    if (!parsed) return parsed.error();
    out.kvs.push_back(std::move(*parsed));
  }
  return out;
}

Result<int64_t> parse_revision(std::string_view body) {
  auto reply = parse_object(body);
  if (!reply) return reply.error();
  return header_revision(*reply);
}

Result<WatchLine> parse_watch_line(std::string_view line) {
  auto reply = parse_object(line);
  if (!reply) return reply.error();
  if (reply->contains("error")) return bad_reply(error_message(line));
  auto result = reply->find("result");
  if (result == reply->end() || !result->is_object()) return bad_reply("a watch line without 'result'");
  WatchLine out;
  out.created = result->value("created", false);
  out.canceled = result->value("canceled", false);
  auto compact = int_field(*result, "compact_revision");
  auto revision = header_revision(*result);
  if (!compact) return compact.error();
  if (!revision) return revision.error();
  out.compact_revision = *compact;
  out.update.revision = *revision;
  if (auto events = result->find("events"); events != result->end()) {
    if (!events->is_array()) return bad_reply("'events' is not an array");
    for (const auto& event : *events) {
      auto parsed = parse_event(event);
      if (!parsed) return parsed.error();
      out.update.events.push_back(std::move(*parsed));
    }
  }
  return out;
}

std::string error_message(std::string_view body) {
  auto parsed = parse_json(body);
  if (parsed && parsed->is_object()) {
    for (const char* name : {"message", "error"}) {
      auto it = parsed->find(name);
      if (it != parsed->end() && it->is_string()) return it->get<std::string>();
    }
  }
  return std::string(body.substr(0, 200));
}

}  // namespace kumo::cluster::etcd_json
