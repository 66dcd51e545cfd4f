#include "events/triggers.h"

#include <algorithm>
#include <random>

#include <fmt/format.h>

#include "common/tenant_name.h"
#include "common/units.h"

namespace kumo::events {
namespace {

using nlohmann::json;

Error invalid(const std::string& field, const std::string& why) {
  return Error{ErrorCode::kInvalidArgument, fmt::format("{}: {}", field, why)};
}

// Checks that `m` has only the keys in `allowed`.
Result<void> known_keys(const json& m, const std::string& field,
                        std::initializer_list<const char*> allowed) {
  for (const auto& [key, value] : m.items()) {
    if (std::none_of(allowed.begin(), allowed.end(), [&](const char* a) { return key == a; })) {
      std::string names;
      for (const char* a : allowed) names += names.empty() ? a : std::string(", ") + a;
      return invalid(field, fmt::format("unknown key '{}'; use {}", key, names));
    }
  }
  return {};
}

Result<std::string> get_string(const json& m, const char* key, const std::string& field,
                               bool required) {
  auto it = m.find(key);
  if (it == m.end() || it->is_null()) {
    if (required) return invalid(field + "." + key, "is required");
    return std::string();
  }
  if (!it->is_string()) return invalid(field + "." + key, "must be a string");
  return it->get<std::string>();
}

Result<int> get_int(const json& m, const char* key, const std::string& field, int def, int lo,
                    int hi) {
  auto it = m.find(key);
  if (it == m.end()) return def;
  if (!it->is_number_integer() || *it < lo || *it > hi) {
    return invalid(field + "." + key, fmt::format("must be a whole number in {}..{}", lo, hi));
  }
  return it->get<int>();
}

Result<std::chrono::milliseconds> get_duration(const json& m, const char* key,
                                               const std::string& field,
                                               std::chrono::milliseconds def,
                                               std::chrono::milliseconds max) {
  auto it = m.find(key);
  if (it == m.end()) return def;
  std::string text = it->is_string() ? it->get<std::string>() : it->dump();
  auto d = parse_duration(text);
  if (!d || *d > max) {
    return invalid(field + "." + key,
                   fmt::format("'{}' is not a duration up to {} s, e.g. 500ms or 2s", text,
                               max.count() / 1000));
  }
  return *d;
}

// Reads `events: [a, b]` against the allowed words; returns which were named.
Result<std::vector<std::string>> get_events(const json& m, const std::string& field,
                                            std::initializer_list<const char*> allowed) {
  auto it = m.find("events");
  if (it == m.end()) return std::vector<std::string>();
  if (!it->is_array() || it->empty()) return invalid(field + ".events", "must be a non-empty list");
  std::vector<std::string> out;
  for (const auto& e : *it) {
    std::string word = e.is_string() ? e.get<std::string>() : e.dump();
    if (std::none_of(allowed.begin(), allowed.end(), [&](const char* a) { return word == a; })) {
      std::string names;
      for (const char* a : allowed) names += names.empty() ? a : std::string(", ") + a;
      return invalid(field + ".events", fmt::format("unknown event '{}'; use {}", word, names));
    }
    out.push_back(word);
  }
  return out;
}

bool named(const std::vector<std::string>& words, const char* w) {
  return std::find(words.begin(), words.end(), w) != words.end();
}

Result<void> read_queue(const json& m, const std::string& field, FunctionTriggers& out) {
  if (auto k = known_keys(m, field, {"topic", "batch_size", "batch_window"}); !k) return k;
  QueueTrigger q;
  auto topic = get_string(m, "topic", field, true);
  if (!topic) return topic.error();
  if (!valid_topic_name(*topic)) {
    return invalid(field + ".topic", fmt::format("'{}' is not a topic name (letters, digits, "
                                                 "'.', '_', '-'; up to 128)",
                                                 *topic));
  }
  q.topic = *topic;
  auto size = get_int(m, "batch_size", field, 1, 1, 1000);
  if (!size) return size.error();
  q.batch_size = *size;
  auto window = get_duration(m, "batch_window", field, std::chrono::milliseconds(0),
                             std::chrono::minutes(5));
  if (!window) return window.error();
  q.batch_window = *window;
  out.queues.push_back(std::move(q));
  return {};
}

Result<void> read_storage(const json& m, const std::string& field, FunctionTriggers& out) {
  if (auto k = known_keys(m, field, {"bucket", "events", "prefix", "suffix"}); !k) return k;
  StorageTrigger s;
  auto bucket = get_string(m, "bucket", field, true);
  if (!bucket) return bucket.error();
  s.bucket = *bucket;
  auto events = get_events(m, field, {"created", "deleted"});
  if (!events) return events.error();
  if (!events->empty()) {
    s.created = named(*events, "created");
    s.deleted = named(*events, "deleted");
  }
  auto prefix = get_string(m, "prefix", field, false);
  if (!prefix) return prefix.error();
  auto suffix = get_string(m, "suffix", field, false);
  if (!suffix) return suffix.error();
  s.prefix = *prefix;
  s.suffix = *suffix;
  out.storage.push_back(std::move(s));
  return {};
}

Result<void> read_table(const json& m, const std::string& field, FunctionTriggers& out) {
  if (auto k = known_keys(m, field, {"name", "events"}); !k) return k;
  TableTrigger t;
  auto name = get_string(m, "name", field, true);
  if (!name) return name.error();
  t.table = *name;
  auto events = get_events(m, field, {"insert", "update", "delete"});
  if (!events) return events.error();
  if (!events->empty()) {
    t.insert = named(*events, "insert");
    t.update = named(*events, "update");
    t.remove = named(*events, "delete");
  }
  out.tables.push_back(std::move(t));
  return {};
}

Result<void> read_schedule(const json& m, const std::string& field, FunctionTriggers& out) {
  if (auto k = known_keys(m, field, {"cron", "catch_up", "input"}); !k) return k;
  auto cron = get_string(m, "cron", field, true);
  if (!cron) return cron.error();
  auto schedule = Schedule::parse(*cron);
  if (!schedule) return invalid(field + ".cron", schedule.error().message);
  ScheduleTrigger s{*schedule, false, std::nullopt};
  if (auto it = m.find("catch_up"); it != m.end()) {
    if (!it->is_boolean()) return invalid(field + ".catch_up", "must be true or false");
    s.catch_up = it->get<bool>();
  }
  if (auto it = m.find("input"); it != m.end()) s.input = it->dump();
  out.schedules.push_back(std::move(s));
  return {};
}

Result<AsyncPolicy> read_async(const json& m) {
  AsyncPolicy p;
  if (m.is_null()) return p;
  if (!m.is_object()) return invalid("async", "must be a map, e.g. {retries: 2}");
  if (auto k = known_keys(m, "async", {"retries", "backoff", "on_failure", "dead_letter"}); !k)
    return k.error();
  auto retries = get_int(m, "retries", "async", 2, 0, 10);
  if (!retries) return retries.error();
  p.retries = *retries;
  auto backoff = get_duration(m, "backoff", "async", std::chrono::milliseconds(1000),
                              std::chrono::minutes(5));
  if (!backoff) return backoff.error();
  p.backoff = *backoff;
  auto on_failure = get_string(m, "on_failure", "async", false);
  if (!on_failure) return on_failure.error();
  p.on_failure = *on_failure;
  auto dead_letter = get_string(m, "dead_letter", "async", false);
  if (!dead_letter) return dead_letter.error();
  if (!dead_letter->empty()) {
    if (!valid_topic_name(*dead_letter))
      return invalid("async.dead_letter", fmt::format("'{}' is not a topic name", *dead_letter));
    p.dead_letter = *dead_letter;
  }
  return p;
}

}  // namespace

bool valid_topic_name(const std::string& name) {
  return is_internal_name(name, [](std::string_view local) {
    if (local.empty() || local.size() > 128 || !std::isalnum(static_cast<unsigned char>(local[0])))
      return false;
    return std::all_of(local.begin(), local.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
    });
  });
}

Result<FunctionTriggers> parse_triggers(const json& triggers, const json& async) {
  FunctionTriggers out;
  auto policy = read_async(async);
  if (!policy) return policy.error();
  out.async = *policy;
  if (triggers.is_null()) return out;
  if (!triggers.is_array()) return invalid("triggers", "must be a list");
  for (size_t i = 0; i < triggers.size(); ++i) {
    const json& item = triggers[i];
    if (!item.is_object() || item.size() != 1) continue;  // the registry checked the shape
    const std::string kind = item.begin().key();
    const json& body = item.begin().value();
    std::string field = fmt::format("triggers[{}].{}", i, kind);
    if (!body.is_object()) return invalid(field, "must be a map");
    Result<void> r;
    if (kind == "queue") r = read_queue(body, field, out);
    if (kind == "storage") r = read_storage(body, field, out);
    if (kind == "table") r = read_table(body, field, out);
    if (kind == "schedule") r = read_schedule(body, field, out);
    if (!r) return r.error();
  }
  return out;
}

std::chrono::milliseconds retry_delay(std::chrono::milliseconds backoff, int attempt) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  double base = static_cast<double>(backoff.count());
  for (int i = 2; i < attempt && base < 300'000; ++i) base *= 2;
  base = std::min(base, 300'000.0);
  std::uniform_real_distribution<double> jitter(0.5, 1.5);
  return std::chrono::milliseconds(static_cast<int64_t>(base * jitter(rng)));
}

}  // namespace kumo::events
