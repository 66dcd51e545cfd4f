#include "events/events.h"

#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include <fmt/format.h>

#include "common/clock.h"
#include "common/ids.h"
#include "common/json.h"
#include "common/log.h"
#include "common/tenant_name.h"
#include "common/units.h"
#include "events/events_db.h"
#include "events/records.h"
#include "events/triggers.h"

namespace kumo::events {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

constexpr size_t kMaxMessageBytes = 256 * 1024;
constexpr size_t kMaxResultBytes = 256 * 1024;
constexpr int64_t kThrottleRetryUs = 100'000;
constexpr int kMaxCatchUpTicks = 100;

struct FunctionInfo {
  FunctionTriggers triggers;
  milliseconds timeout{30'000};
  int capacity = 1;  // invocations handed to the scheduler at once
};

struct Completion {
  InvocationRow row;
  executor::Reply reply;
  std::string streamed;  // the chunks of a streamed result
};

// What the dispatcher reads of a function in one pass, copied out from under the lock.
struct Snapshot {
  std::string name;
  FunctionInfo info;
};

int64_t us(milliseconds d) { return d.count() * 1000; }

class EventsImpl final : public Events {
 public:
  EventsImpl(std::unique_ptr<EventsDb> db, scheduler::Scheduler& sched, milliseconds retention)
      : db_(std::move(db)), sched_(sched), retention_(retention) {}
  ~EventsImpl() override { stop(); }

  Result<void> validate(const registry::FunctionSpec& spec) const override;
  void configure(const registry::FunctionSpec& spec) override;
  void remove(const std::string& function) override;
  void set_table_catalog(const TableCatalog* catalog) override {
    std::lock_guard lock(mu_);
    catalog_ = catalog;
  }
  Result<std::string> invoke_async(AsyncRequest request) override;
  Result<json> invocation(const std::string& request_id) const override;
  Result<json> messages(const std::string& topic, int64_t after, int limit) const override;
  Result<std::string> publish(const std::string& topic, Message message) override;
  Result<int> object_changed(const ObjectEvent& event) override;
  Result<int> table_changed(const TableChange& change) override;
  void start() override;
  void stop() override;

 private:
  InvocationRow new_row(const std::string& function, std::string payload, std::string source,
                        int max_attempts) const;
  int max_attempts_locked(const std::string& function) const;
  std::vector<std::string> subscribers_locked(const std::string& topic) const;
  Result<int> insert_matches(std::vector<InvocationRow> rows);
  void poke();

  // The dispatcher thread.
  void run();
  std::vector<Snapshot> snapshot() const;
  void apply_completions(const std::vector<Snapshot>& fns);
  void end_attempt(Completion& c, const FunctionInfo* info, std::vector<AttemptEnd>& ends,
                   EventsDb::FollowUps& follow);
  void bury(const InvocationRow& row, const FunctionInfo* info, const std::string& type,
            const std::string& message, EventsDb::FollowUps& follow);
  void form_batches(const std::vector<Snapshot>& fns, int64_t now);
  void fire_schedules(const std::vector<Snapshot>& fns, int64_t now);
  void dispatch(const std::vector<Snapshot>& fns, int64_t now);
  void send(const InvocationRow& row, milliseconds timeout);

  std::unique_ptr<EventsDb> db_;
  scheduler::Scheduler& sched_;
  const milliseconds retention_;

  mutable std::mutex mu_;
  std::map<std::string, FunctionInfo> functions_;  // Guarded by mu_.
  const TableCatalog* catalog_ = nullptr;          // Guarded by mu_.
  std::vector<Completion> done_;                   // Guarded by mu_.
  bool poked_ = false;                             // Guarded by mu_.
  bool stopping_ = false;                          // Guarded by mu_.
  std::condition_variable wake_;

  // Dispatcher thread only.
  std::map<std::string, int> in_flight_;
  std::map<std::string, int64_t> schedule_cursor_;  // function + '\n' + expression
  int64_t last_collect_us_ = 0;
  std::thread thread_;
};

Result<void> EventsImpl::validate(const registry::FunctionSpec& spec) const {
  auto triggers = parse_triggers(spec.triggers, spec.async);
  if (!triggers) return triggers.error();
  if (triggers->async.on_failure == spec.name) {
    return make_error(ErrorCode::kInvalidArgument,
                      "async.on_failure: must name another function, not itself");
  }
  std::lock_guard lock(mu_);
  for (const auto& t : triggers->tables) {
    if (catalog_ == nullptr || !catalog_->table_exists(t.table)) {
      return make_error(ErrorCode::kInvalidArgument,
                        fmt::format("triggers: table '{}' does not exist; create it first "
                                    "(`kumo table create {}`)",
                                    t.table, t.table));
    }
  }
  return {};
}

void EventsImpl::configure(const registry::FunctionSpec& spec) {
  auto triggers = parse_triggers(spec.triggers, spec.async);
  if (!triggers) {
    spdlog::error("{}: triggers ignored: {}", spec.name, triggers.error().message);
    return;
  }
  FunctionInfo info{*triggers, spec.timeout, 1};
  // Enough to keep every instance busy plus one sent ahead each; the rest waits durably.
  info.capacity = std::max(1, std::min(spec.max_instances * spec.concurrency * 2,
                                       spec.max_instances * spec.concurrency + spec.max_queue));
  std::vector<std::string> topics;
  for (const auto& q : info.triggers.queues) topics.push_back(q.topic);
  {
    std::lock_guard lock(mu_);
    functions_[spec.name] = std::move(info);
  }
  if (auto r = db_->unsubscribe(spec.name, topics); !r) spdlog::error("{}", r.error().message);
  poke();
}

void EventsImpl::remove(const std::string& function) {
  {
    std::lock_guard lock(mu_);
    functions_.erase(function);
  }
  auto buried = db_->bury(function, fmt::format("function '{}' was removed", function));
  if (!buried) spdlog::error("{}", buried.error().message);
  poke();
}

InvocationRow EventsImpl::new_row(const std::string& function, std::string payload,
                                  std::string source, int max_attempts) const {
  InvocationRow row;
  row.request_id = new_request_id();
  row.function = function;
  row.payload = std::move(payload);
  row.source = std::move(source);
  row.max_attempts = max_attempts;
  row.created_us = row.updated_us = row.next_run_us = wall_micros();
  return row;
}

int EventsImpl::max_attempts_locked(const std::string& function) const {
  auto it = functions_.find(function);
  return it == functions_.end() ? 3 : it->second.triggers.async.retries + 1;
}

std::vector<std::string> EventsImpl::subscribers_locked(const std::string& topic) const {
  std::vector<std::string> out;
  for (const auto& [name, info] : functions_) {
    for (const auto& q : info.triggers.queues) {
      if (q.topic == topic) {
        out.push_back(name);
        break;
      }
    }
  }
  return out;
}

void EventsImpl::poke() {
  {
    std::lock_guard lock(mu_);
    poked_ = true;
  }
  wake_.notify_one();
}

Result<std::string> EventsImpl::invoke_async(AsyncRequest request) {
  InvocationRow row;
  {
    std::lock_guard lock(mu_);
    if (!functions_.contains(request.function)) {
      return make_error(ErrorCode::kNotFound,
                        fmt::format("function '{}' not found; `kumo ls` lists the deployed ones",
                                    request.function));
    }
    row = new_row(request.function, std::move(request.payload), std::move(request.source),
                  max_attempts_locked(request.function));
  }
  if (!request.request_id.empty()) row.request_id = request.request_id;
  if (auto r = db_->insert({row}); !r) return r.error();
  poke();
  return row.request_id;
}

Result<json> EventsImpl::invocation(const std::string& request_id) const {
  auto row = db_->get(request_id);
  if (!row) return row.error();
  if (!*row) {
    return make_error(ErrorCode::kNotFound,
                      fmt::format("no asynchronous invocation '{}' (finished ones are kept for "
                                  "{} h)",
                                  request_id, retention_.count() / 3'600'000));
  }
  return invocation_json(**row);
}

Result<json> EventsImpl::messages(const std::string& topic, int64_t after, int limit) const {
  if (!valid_topic_name(topic)) {
    return make_error(ErrorCode::kInvalidArgument, fmt::format("'{}' is not a topic name", topic));
  }
  auto rows = db_->messages(topic, after, std::clamp(limit, 1, 1000));
  if (!rows) return rows.error();
  json list = json::array();
  for (const auto& m : *rows) list.push_back(message_json(m));
  return json{{"topic", topic}, {"messages", list}};
}

Result<std::string> EventsImpl::publish(const std::string& topic, Message message) {
  if (!valid_topic_name(topic)) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("'{}' is not a topic name (1..128 of letters, digits, '.', '_', "
                                  "'-')",
                                  topic));
  }
  if (message.body.size() > kMaxMessageBytes) {
    return make_error(ErrorCode::kTooLarge,
                      fmt::format("the message is {} bytes; the limit is {} KiB",
                                  message.body.size(), kMaxMessageBytes / 1024));
  }
  std::vector<std::string> subscribers;
  {
    std::lock_guard lock(mu_);
    subscribers = subscribers_locked(topic);
  }
  auto published = db_->publish(topic, message, subscribers);
  if (!published) return published.error();
  if (!subscribers.empty()) poke();
  return published->second;
}

Result<int> EventsImpl::insert_matches(std::vector<InvocationRow> rows) {
  if (rows.empty()) return 0;
  if (auto r = db_->insert(rows); !r) return r.error();
  poke();
  return static_cast<int>(rows.size());
}

Result<int> EventsImpl::object_changed(const ObjectEvent& event) {
  std::string payload = json{{"Records", json::array({event.record})}}.dump();
  std::vector<InvocationRow> rows;
  std::unique_lock lock(mu_);
  for (const auto& [name, info] : functions_) {
    for (const auto& t : info.triggers.storage) {
      bool kind = event.kind == ObjectEvent::Kind::kCreated ? t.created : t.deleted;
      if (kind && t.bucket == event.bucket && event.key.starts_with(t.prefix) &&
          event.key.ends_with(t.suffix)) {
        rows.push_back(new_row(name, payload, "storage:" + event.bucket,
                               info.triggers.async.retries + 1));
        break;
      }
    }
  }
  lock.unlock();  // insert_matches() pokes the dispatcher, which takes mu_
  return insert_matches(std::move(rows));
}

Result<int> EventsImpl::table_changed(const TableChange& change) {
  std::string payload = json{{"Records", json::array({change.record})}}.dump();
  std::vector<InvocationRow> rows;
  std::unique_lock lock(mu_);
  for (const auto& [name, info] : functions_) {
    for (const auto& t : info.triggers.tables) {
      bool kind = change.kind == TableChange::Kind::kInsert   ? t.insert
                  : change.kind == TableChange::Kind::kModify ? t.update
                                                              : t.remove;
      if (kind && t.table == change.table) {
        rows.push_back(new_row(name, payload, "table:" + change.table,
                               info.triggers.async.retries + 1));
        break;
      }
    }
  }
  lock.unlock();  // insert_matches() pokes the dispatcher, which takes mu_
  return insert_matches(std::move(rows));
}

void EventsImpl::start() {
  auto recovered = db_->recover();
  if (!recovered) spdlog::error("{}", recovered.error().message);
  if (recovered && *recovered > 0) {
    spdlog::info("requeued {} async invocations that were running when the server stopped",
                 *recovered);
  }
  thread_ = std::thread([this] { run(); });
}

void EventsImpl::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void EventsImpl::run() {
  while (true) {
    {
      std::unique_lock lock(mu_);
      wake_.wait_for(lock, milliseconds(50),
                     [this] { return poked_ || stopping_ || !done_.empty(); });
      if (stopping_) return;
      poked_ = false;
    }
    int64_t now = wall_micros();
    std::vector<Snapshot> fns = snapshot();
    apply_completions(fns);
    form_batches(fns, now);
    fire_schedules(fns, now);
    dispatch(fns, wall_micros());  // later than `now`: batches formed just now are due
    if (now - last_collect_us_ > 600'000'000) {
      last_collect_us_ = now;
      if (auto r = db_->collect(now - us(retention_)); !r) spdlog::error("{}", r.error().message);
    }
  }
}

std::vector<Snapshot> EventsImpl::snapshot() const {
  std::lock_guard lock(mu_);
  std::vector<Snapshot> out;
  for (const auto& [name, info] : functions_) out.push_back({name, info});
  return out;
}

void EventsImpl::apply_completions(const std::vector<Snapshot>& fns) {
  std::vector<Completion> done;
  {
    std::lock_guard lock(mu_);
    done.swap(done_);
  }
  if (done.empty()) return;
  std::vector<AttemptEnd> ends;
  EventsDb::FollowUps follow;
  for (auto& c : done) {
    in_flight_[c.row.function] -= 1;
    const FunctionInfo* info = nullptr;
    for (const auto& f : fns) {
      if (f.name == c.row.function) info = &f.info;
    }
    end_attempt(c, info, ends, follow);
  }
  // Dead letters go to whoever subscribes to their topic now.
  {
    std::lock_guard lock(mu_);
    for (auto& m : follow.messages) m.subscribers = subscribers_locked(m.topic);
    for (auto& row : follow.invocations) row.max_attempts = max_attempts_locked(row.function);
  }
  if (auto r = db_->finish(ends, follow); !r) {
    spdlog::error("recording async results: {}", r.error().message);
  }
  if (!follow.invocations.empty() || !follow.messages.empty()) poke();
}

// A JSON result nested deeper than kMaxJsonDepth is the function's error: it is kept to be
// shown and sent on (on_failure, destinations), which parse it again.
void refuse_deep_result(executor::Reply& reply) {
  if (reply.outcome != executor::Outcome::kOk || reply.streamed) return;
  if (!reply.content_type.empty() && !is_json_content_type(reply.content_type)) return;
  if (auto depth = check_json_depth(reply.body); !depth) {
    reply.outcome = executor::Outcome::kError;
    reply.error_type = "Runtime.MarshalError";
    reply.error_message = "the function's result: " + depth.error().message;
    reply.body.clear();
  }
}

void EventsImpl::end_attempt(Completion& c, const FunctionInfo* info,
                             std::vector<AttemptEnd>& ends, EventsDb::FollowUps& follow) {
  const InvocationRow& row = c.row;
  executor::Reply& reply = c.reply;
  int64_t now = wall_micros();
  AttemptEnd end{row.request_id, "", false, 0, "", "", ""};
  if (reply.outcome == executor::Outcome::kThrottled || !reply.started) {
    // It never ran: back to the queue without using an attempt.
    end.state = "queued";
    end.refund_attempt = true;
    end.next_run_us = now + kThrottleRetryUs;
    ends.push_back(end);
    return;
  }
  refuse_deep_result(reply);
  if (reply.outcome == executor::Outcome::kOk) {
    end.state = "succeeded";
    std::string result = reply.streamed ? std::move(c.streamed) : std::move(reply.body);
    if (result.size() > kMaxResultBytes) {
      result = json(fmt::format("(a {} byte result, over the {} KiB kept)", result.size(),
                                kMaxResultBytes / 1024))
                   .dump();
    }
    end.result = result;
    ends.push_back(end);
    auto failed_ids = row.messages.empty() ? std::vector<std::string>() : batch_item_failures(result);
    if (failed_ids.empty()) return;
    // SQS's partial batch response: only the items it names are retried.
    std::vector<int64_t> seqs = json::parse(row.messages, nullptr, false).get<std::vector<int64_t>>();
    auto msgs = db_->messages_by_seq(seqs);
    if (!msgs) return spdlog::error("{}", msgs.error().message);
    std::vector<StoredMessage> failed;
    for (auto& m : *msgs) {
      if (std::find(failed_ids.begin(), failed_ids.end(), m.id) != failed_ids.end())
        failed.push_back(std::move(m));
    }
    if (failed.empty()) return;
    InvocationRow retry = row;
    retry.request_id = new_request_id();
    retry.state = row.attempts < row.max_attempts ? "failed" : "dead";
    retry.payload = queue_event(failed, row.attempts + 1).dump();
    json failed_seqs = json::array();
    for (const auto& m : failed) failed_seqs.push_back(m.seq);
    retry.messages = failed_seqs.dump();
    retry.created_us = retry.updated_us = now;
    retry.error_type = "BatchItemFailure";
    retry.error_message = fmt::format("the handler reported {} of the batch failed", failed.size());
    if (retry.state == "dead") {
      bury(retry, info, retry.error_type, retry.error_message, follow);
    } else {
      milliseconds backoff = info ? info->triggers.async.backoff : milliseconds(1000);
      retry.next_run_us = now + us(retry_delay(backoff, row.attempts + 1));
    }
    follow.invocations.push_back(std::move(retry));
    return;
  }
  end.error_type = reply.error_type.empty() ? executor::outcome_name(reply.outcome)
                                            : reply.error_type;
  end.error_message = reply.error_message;
  if (row.attempts < row.max_attempts && info != nullptr) {
    end.state = "failed";
    end.next_run_us = now + us(retry_delay(info->triggers.async.backoff, row.attempts + 1));
  } else {
    end.state = "dead";
    bury(row, info, end.error_type, end.error_message, follow);
  }
  ends.push_back(end);
}

// After the last attempt: the dead-letter topic, and the on_failure function if named.
void EventsImpl::bury(const InvocationRow& row, const FunctionInfo* info,
                      const std::string& type, const std::string& message,
                      EventsDb::FollowUps& follow) {
  spdlog::warn("{}: async invocation {} is dead after {} attempts: {}: {}", row.function,
               row.request_id, row.attempts, type, message);
  std::string topic = info ? info->triggers.async.dead_letter : kDeadLetterTopic;
  // A tenant's failures stay in its tenant: its own dead-letter topic by default.
  if (topic == kDeadLetterTopic) {
    topic = qualify_name(split_internal_name(row.function).tenant, topic);
  }
  if (row.source != "queue:" + topic) {  // a dead letter's own failure is not re-posted
    if (!row.messages.empty()) {
      std::vector<int64_t> seqs =
          json::parse(row.messages, nullptr, false).get<std::vector<int64_t>>();
      auto msgs = db_->messages_by_seq(seqs);
      if (msgs) {
        for (auto& m : *msgs) {
          json attrs = json::parse(m.attributes, nullptr, false);
          Message dl{m.body, attrs.is_object() ? attrs.get<std::map<std::string, std::string>>()
                                               : std::map<std::string, std::string>()};
          dl.attributes["kumo_function"] = local_part(row.function);
          dl.attributes["kumo_request_id"] = row.request_id;
          dl.attributes["kumo_error_type"] = type;
          dl.attributes["kumo_source_topic"] = local_part(m.topic);
          follow.messages.push_back({topic, std::move(dl), {}});
        }
      }
    } else {
      follow.messages.push_back({topic, dead_letter(row, type, message), {}});
    }
  }
  if (info && !info->triggers.async.on_failure.empty()) {
    InvocationRow call = new_row(info->triggers.async.on_failure,
                                 failure_record(row, type, message).dump(),
                                 "on_failure:" + row.function, 1);
    follow.invocations.push_back(std::move(call));
  }
}

void EventsImpl::form_batches(const std::vector<Snapshot>& fns, int64_t now) {
  constexpr int kMaxBatchesPerPass = 256;
  for (const auto& f : fns) {
    for (const auto& q : f.info.triggers.queues) {
      auto p = db_->pending(f.name, q.topic);
      if (!p) return spdlog::error("{}", p.error().message);
      // Full batches now; a short one only once its oldest message waited the window.
      int batches = std::min(kMaxBatchesPerPass, p->count / q.batch_size);
      if (batches == 0 && p->count > 0 && now - p->oldest_us >= us(q.batch_window)) batches = 1;
      if (batches == 0) continue;
      int max_attempts = f.info.triggers.async.retries + 1;
      auto make = [&](const std::vector<StoredMessage>& batch) {
        InvocationRow row = new_row(f.name, queue_event(batch, 1).dump(), "queue:" + q.topic,
                                    max_attempts);
        json seqs = json::array();
        for (const auto& m : batch) seqs.push_back(m.seq);
        row.messages = seqs.dump();
        return row;
      };
      auto taken = db_->take_batches(f.name, q.topic, q.batch_size, batches, make);
      if (!taken) return spdlog::error("{}", taken.error().message);
      if (batches == kMaxBatchesPerPass) poke();  // more may be waiting
    }
  }
}

void EventsImpl::fire_schedules(const std::vector<Snapshot>& fns, int64_t now) {
  using namespace std::chrono;
  for (const auto& f : fns) {
    for (const auto& s : f.info.triggers.schedules) {
      std::string key = f.name + "\n" + s.schedule.text();
      auto cursor = schedule_cursor_.find(key);
      if (cursor == schedule_cursor_.end()) {
        auto last = db_->schedule_last(f.name, s.schedule.text());
        if (!last) return spdlog::error("{}", last.error().message);
        int64_t start = !*last ? now : s.catch_up ? **last : std::max(**last, now);
        if (!*last) (void)db_->set_schedule_last(f.name, s.schedule.text(), now);
        cursor = schedule_cursor_.emplace(key, start).first;
      }
      for (int i = 0; i < kMaxCatchUpTicks; ++i) {
        SysTime after{microseconds(cursor->second)};
        int64_t tick = duration_cast<microseconds>(s.schedule.next_after(after).time_since_epoch())
                           .count();
        if (tick > now) break;
        std::string payload =
            s.input ? *s.input : schedule_event(f.name, s.schedule.text(), tick).dump();
        InvocationRow row = new_row(f.name, payload, "schedule:" + s.schedule.text(),
                                    f.info.triggers.async.retries + 1);
        if (auto r = db_->fire_schedule(f.name, s.schedule.text(), tick, row); !r) {
          spdlog::error("{}", r.error().message);
          break;
        }
        cursor->second = tick;
      }
    }
  }
}

void EventsImpl::dispatch(const std::vector<Snapshot>& fns, int64_t now) {
  for (const auto& f : fns) {
    int free = f.info.capacity - in_flight_[f.name];
    if (free <= 0) continue;
    auto rows = db_->claim(f.name, now, free);
    if (!rows) {
      spdlog::error("{}", rows.error().message);
      continue;
    }
    for (const auto& row : *rows) {
      in_flight_[f.name] += 1;
      send(row, f.info.timeout);
    }
  }
}

void EventsImpl::send(const InvocationRow& row, milliseconds timeout) {
  executor::Invocation inv;
  inv.request_id = row.request_id;
  inv.payload = row.payload;
  inv.timeout = timeout;
  inv.attempt = row.attempts;
  auto streamed = std::make_shared<std::string>();
  executor::ReplyHandler handler;
  handler.on_chunk = [streamed](std::string_view chunk) {
    if (streamed->size() < kMaxResultBytes + 1) streamed->append(chunk);
  };
  handler.on_done = [this, row, streamed](executor::Reply reply) {
    {
      std::lock_guard lock(mu_);
      done_.push_back({row, std::move(reply), std::move(*streamed)});
    }
    wake_.notify_one();
  };
  auto started = sched_.invoke(row.function, std::move(inv), handler);
  if (!started) {
    executor::Reply reply;
    bool throttled = started.error().code == ErrorCode::kThrottled;
    reply.outcome = throttled ? executor::Outcome::kThrottled : executor::Outcome::kCrash;
    reply.error_type = throttled ? "Throttled" : "FunctionNotFound";
    reply.error_message = started.error().message;
    handler.on_done(std::move(reply));
  }
}

}  // namespace

Events::~Events() = default;

Result<std::unique_ptr<Events>> Events::open(const EventsOptions& options,
                                             scheduler::Scheduler& scheduler) {
  milliseconds retention = std::chrono::hours(24);
  if (options.config.is_object() && options.config.contains("retention")) {
    const json& r = options.config["retention"];
    auto d = parse_duration(r.is_string() ? r.get<std::string>() : r.dump());
    if (!d) {
      return make_error(ErrorCode::kInvalidArgument,
                        "events.retention: not a duration, e.g. 24h");
    }
    retention = *d;
  }
  auto db = EventsDb::open(options.db_path);
  if (!db) return db.error();
  return std::unique_ptr<Events>(new EventsImpl(std::move(*db), scheduler, retention));
}

}  // namespace kumo::events
