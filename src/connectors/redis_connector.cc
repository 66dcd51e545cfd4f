#include "connectors/redis_connector.h"

#include <fmt/format.h>
#include <hiredis/hiredis.h>
#include <sys/time.h>

#include "common/log.h"

namespace kumo::connectors {
namespace {

constexpr int kBlockMs = 500;  // XREADGROUP BLOCK; bounds the stop latency

using Reply = std::unique_ptr<redisReply, void (*)(void*)>;

Reply command(redisContext* c, const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (const auto& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  void* r = redisCommandArgv(c, static_cast<int>(args.size()), argv.data(), lens.data());
  return Reply(static_cast<redisReply*>(r), &freeReplyObject);
}

std::string str(const redisReply* r) { return std::string(r->str, r->len); }

// Why a command failed: the connection's error, or the server's error reply.
std::optional<std::string> failure(redisContext* c, const Reply& r) {
  if (r == nullptr) return c->err != 0 ? std::string(c->errstr) : "no reply";
  if (r->type == REDIS_REPLY_ERROR) return str(r.get());
  return std::nullopt;
}

// [[stream, [[id, [field, value, ...] | nil], ...]]] or nil when BLOCK timed out.
std::vector<StreamEntry> parse_entries(const redisReply* r) {
  std::vector<StreamEntry> out;
  if (r->type != REDIS_REPLY_ARRAY) return out;
  for (size_t s = 0; s < r->elements; ++s) {
    const redisReply* stream = r->element[s];
    if (stream->type != REDIS_REPLY_ARRAY || stream->elements != 2) continue;
    const redisReply* entries = stream->element[1];
    if (entries->type != REDIS_REPLY_ARRAY) continue;
    for (size_t e = 0; e < entries->elements; ++e) {
      const redisReply* entry = entries->element[e];
      if (entry->type != REDIS_REPLY_ARRAY || entry->elements != 2) continue;
      StreamEntry out_entry{str(entry->element[0]), std::nullopt};
      const redisReply* kv = entry->element[1];
      if (kv->type == REDIS_REPLY_ARRAY) {
        Fields fields;
        for (size_t i = 0; i + 1 < kv->elements; i += 2) {
          fields.emplace_back(str(kv->element[i]), str(kv->element[i + 1]));
        }
        out_entry.fields = std::move(fields);
      }
      out.push_back(std::move(out_entry));
    }
  }
  return out;
}

}  // namespace

RedisConnector::RedisConnector(ConnectorConfig config, events::EventSink& sink)
    : config_(std::move(config)), redis_(std::get<RedisConfig>(config_.broker)), sink_(sink) {}

Result<RedisConnector::Context> RedisConnector::open() {
  timeval connect_timeout{2, 0};
  Context c(redisConnectWithTimeout(redis_.host.c_str(), redis_.port, connect_timeout), &redisFree);
  auto unavailable = [&](const std::string& why) {
    return make_error(ErrorCode::kUnavailable,
                      fmt::format("{}:{}: {}", redis_.host, redis_.port, why));
  };
  if (c == nullptr) return unavailable("cannot allocate a connection");
  if (c->err != 0) return unavailable(c->errstr);
  // Longer than BLOCK, so a server that vanished without closing is noticed.
  timeval read_timeout{5, 0};
  if (redisSetTimeout(c.get(), read_timeout) != REDIS_OK) return unavailable(c->errstr);
  Reply r = command(c.get(), {"XGROUP", "CREATE", redis_.stream, redis_.group,
                              redis_.from_start ? "0" : "$", "MKSTREAM"});
  auto why = failure(c.get(), r);
  if (why && !why->starts_with("BUSYGROUP")) return unavailable("XGROUP CREATE: " + *why);
  return c;
}

Result<size_t> RedisConnector::deliver_all(redisContext* c,
                                           const std::vector<StreamEntry>& entries) {
  size_t done = 0;
  for (const StreamEntry& e : entries) {
    // An entry deleted while pending has no fields left to deliver: just settle it.
    if (e.fields && !deliver(sink_, config_.topic, redis_message(redis_.stream, e.id, *e.fields),
                             config_.name)) {
      break;
    }
    Reply r = command(c, {"XACK", redis_.stream, redis_.group, e.id});
    if (auto why = failure(c, r)) return make_error(ErrorCode::kUnavailable, "XACK: " + *why);
    ++done;
  }
  return done;
}

std::string RedisConnector::consume(redisContext* c, std::stop_token stop) {
  Backoff refused = reconnect_backoff();
  bool pending = true;  // still re-reading this consumer's unacknowledged entries
  std::string after;    // pending entries are read after this id (empty: from the start)
  while (!stop.stop_requested()) {
    std::vector<std::string> args = {"XREADGROUP",    "GROUP", redis_.group,
                                     redis_.consumer, "COUNT", std::to_string(redis_.count)};
    if (!pending) args.insert(args.end(), {"BLOCK", std::to_string(kBlockMs)});
    args.insert(args.end(), {"STREAMS", redis_.stream,
                             !pending        ? ">"
                             : after.empty() ? "0"
                                             : after});
    Reply r = command(c, args);
    if (auto why = failure(c, r)) return "XREADGROUP: " + *why;
    std::vector<StreamEntry> entries = parse_entries(r.get());
    if (pending && entries.empty()) {
      pending = false;
      continue;
    }
    auto delivered = deliver_all(c, entries);
    if (!delivered) return delivered.error().message;
    if (*delivered > 0) after = entries[*delivered - 1].id;
    if (*delivered == entries.size()) {
      refused.reset();
      continue;
    }
    // Refused: its entry stays pending; start over from the oldest pending one.
    pending = true;
    after.clear();
    if (!sleep_for(stop, refused.next())) break;
  }
  return "stopping";
}

void RedisConnector::run(std::stop_token stop) {
  Backoff backoff = reconnect_backoff();
  bool reported = false;  // one log line per outage, not per attempt
  while (!stop.stop_requested()) {
    if (auto c = open(); c) {
      spdlog::info("{}: connected", describe(config_));
      backoff.reset();
      std::string why = consume(c->get(), stop);
      if (stop.stop_requested()) break;
      spdlog::warn("{}: disconnected ({}); reconnecting", config_.name, why);
      reported = true;
    } else if (!reported) {
      spdlog::warn("{}: {}; retrying", config_.name, c.error().message);
      reported = true;
    }
    if (!sleep_for(stop, backoff.next())) break;
  }
}

}  // namespace kumo::connectors
