#include "connectors/nats_connector.h"

#include <fmt/format.h>
#include <nats/nats.h>

#include <cstdlib>

#include "common/log.h"
#include "connectors/messages.h"

namespace kumo::connectors {
namespace {

constexpr int64_t kFetchWaitMs = 500;  // how long a fetch waits; bounds the stop latency
constexpr int64_t kNakDelayMs = 1000;  // a refused message comes back after this

// The library's last error text without its "(file.c:line): " prefix, else the status text.
Error nats_error(const std::string& what, natsStatus s,
                 jsErrCode jerr = static_cast<jsErrCode>(0)) {
  const char* last = nats_GetLastError(nullptr);
  std::string detail = last != nullptr ? last : "";
  if (size_t at = detail.find("): "); detail.starts_with("(") && at != std::string::npos) {
    detail.erase(0, at + 3);
  }
  if (detail.empty()) detail = natsStatus_GetText(s);
  if (jerr != 0) detail += fmt::format(" (JetStream error {})", static_cast<int>(jerr));
  return make_error(ErrorCode::kUnavailable, fmt::format("{}: {}", what, detail));
}

Fields headers_of(natsMsg* msg) {
  Fields out;
  const char** keys = nullptr;
  int nkeys = 0;
  if (natsMsgHeader_Keys(msg, &keys, &nkeys) != NATS_OK) return out;
  for (int i = 0; i < nkeys; ++i) {
    const char** values = nullptr;
    int nvalues = 0;
    if (natsMsgHeader_Values(msg, keys[i], &values, &nvalues) != NATS_OK) continue;
    for (int j = 0; j < nvalues; ++j) out.emplace_back(keys[i], values[j]);
    free(static_cast<void*>(values));
  }
  free(static_cast<void*>(keys));
  return out;
}

}  // namespace

// Everything one connection owns, released in reverse order of creation.
struct NatsConnector::Session {
  natsOptions* opts = nullptr;
  natsConnection* conn = nullptr;
  jsCtx* js = nullptr;
  natsSubscription* sub = nullptr;
  ~Session() {
    if (sub != nullptr) natsSubscription_Destroy(sub);
    if (js != nullptr) jsCtx_Destroy(js);
    if (conn != nullptr) {
      (void)natsConnection_FlushTimeout(conn, 1000);  // sends the last acks
      natsConnection_Destroy(conn);
    }
    if (opts != nullptr) natsOptions_Destroy(opts);
  }
};

NatsConnector::NatsConnector(ConnectorConfig config, events::EventSink& sink)
    : config_(std::move(config)), nats_(std::get<NatsConfig>(config_.broker)), sink_(sink) {}

Result<void> NatsConnector::open(Session& s) {
  natsStatus st = natsOptions_Create(&s.opts);
  if (st == NATS_OK) st = natsOptions_SetURL(s.opts, nats_.url.c_str());
  if (st == NATS_OK) st = natsOptions_SetName(s.opts, "kumo");
  // run() reconnects, so that the stream and consumer are checked again after an outage.
  if (st == NATS_OK) st = natsOptions_SetAllowReconnect(s.opts, false);
  if (st == NATS_OK) st = natsOptions_SetTimeout(s.opts, 2000);
  if (st == NATS_OK) st = natsConnection_Connect(&s.conn, s.opts);
  if (st == NATS_OK) st = natsConnection_JetStream(&s.js, s.conn, nullptr);
  if (st != NATS_OK) return nats_error("connect to " + nats_.url, st);
  if (auto r = ensure_stream(s); !r) return r;
  if (auto r = ensure_consumer(s); !r) return r;
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = nats_.stream.c_str();
  so.Consumer = nats_.durable.c_str();
  jsErrCode jerr = static_cast<jsErrCode>(0);
  st = js_PullSubscribe(&s.sub, s.js, nullptr, nats_.durable.c_str(), nullptr, &so, &jerr);
  if (st != NATS_OK) return nats_error("subscribe as " + nats_.durable, st, jerr);
  return {};
}

Result<void> NatsConnector::ensure_stream(Session& s) {
  jsCtx* js = s.js;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  jsStreamInfo* si = nullptr;
  natsStatus st = js_GetStreamInfo(&si, js, nats_.stream.c_str(), nullptr, &jerr);
  jsStreamInfo_Destroy(si);
  if (st == NATS_NOT_FOUND) {
    std::vector<const char*> subjects;
    for (const auto& subject : nats_.subjects) subjects.push_back(subject.c_str());
    jsStreamConfig cfg;
    jsStreamConfig_Init(&cfg);
    cfg.Name = nats_.stream.c_str();
    cfg.Subjects = subjects.data();
    cfg.SubjectsLen = static_cast<int>(subjects.size());
    cfg.Storage = js_FileStorage;
    st = js_AddStream(nullptr, js, &cfg, nullptr, &jerr);
    if (st == NATS_OK) spdlog::info("{}: created stream {}", config_.name, nats_.stream);
  }
  if (st != NATS_OK) return nats_error("stream " + nats_.stream, st, jerr);
  return {};
}

Result<void> NatsConnector::ensure_consumer(Session& s) {
  jsCtx* js = s.js;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  jsConsumerInfo* ci = nullptr;
  natsStatus st =
      js_GetConsumerInfo(&ci, js, nats_.stream.c_str(), nats_.durable.c_str(), nullptr, &jerr);
  jsConsumerInfo_Destroy(ci);
  if (st == NATS_NOT_FOUND) {
    jsConsumerConfig cc;
    jsConsumerConfig_Init(&cc);
    cc.Durable = nats_.durable.c_str();
    cc.AckPolicy = js_AckExplicit;
    st = js_AddConsumer(nullptr, js, nats_.stream.c_str(), &cc, nullptr, &jerr);
  }
  if (st != NATS_OK) return nats_error("durable consumer " + nats_.durable, st, jerr);
  return {};
}

bool NatsConnector::settle(void* raw, bool try_delivery) {
  natsMsg* msg = static_cast<natsMsg*>(raw);
  if (try_delivery) {
    jsMsgMetaData* meta = nullptr;
    uint64_t seq = 0;
    if (natsMsg_GetMetaData(&meta, msg) == NATS_OK) {
      seq = meta->Sequence.Stream;
      jsMsgMetaData_Destroy(meta);
    }
    std::string data(natsMsg_GetData(msg), static_cast<size_t>(natsMsg_GetDataLength(msg)));
    auto message = nats_message(natsMsg_GetSubject(msg), seq, headers_of(msg), std::move(data));
    if (deliver(sink_, config_.topic, std::move(message), config_.name)) {
      (void)natsMsg_Ack(msg, nullptr);  // a lost ack means a redelivery, which is allowed
      return true;
    }
  }
  (void)natsMsg_NakWithDelay(msg, kNakDelayMs, nullptr);
  return false;
}

std::string NatsConnector::consume(Session& s, std::stop_token stop) {
  Backoff refused = reconnect_backoff();
  while (!stop.stop_requested()) {
    natsMsgList list{};
    jsErrCode jerr = static_cast<jsErrCode>(0);
    natsStatus st = natsSubscription_Fetch(&list, s.sub, nats_.batch, kFetchWaitMs, &jerr);
    if (natsConnection_IsClosed(s.conn)) {
      natsMsgList_Destroy(&list);
      return "connection closed";
    }
    if (st == NATS_TIMEOUT) continue;
    if (st != NATS_OK) return nats_error("fetch", st, jerr).message;
    // After the first refusal the rest of the batch goes back too (nak), to come again later.
    bool accepted = true;
    for (int i = 0; i < list.Count; ++i) accepted = settle(list.Msgs[i], accepted);
    natsMsgList_Destroy(&list);
    if (accepted) {
      refused.reset();
    } else if (!sleep_for(stop, refused.next())) {
      break;
    }
  }
  return "stopping";
}

void NatsConnector::run(std::stop_token stop) {
  Backoff backoff = reconnect_backoff();
  bool reported = false;  // one log line per outage, not per attempt
  while (!stop.stop_requested()) {
    {
      Session session;
      if (auto opened = open(session); opened) {
        spdlog::info("{}: connected", describe(config_));
        backoff.reset();
        std::string why = consume(session, stop);
        if (stop.stop_requested()) break;
        spdlog::warn("{}: disconnected ({}); reconnecting", config_.name, why);
        reported = true;
      } else if (!reported) {
        spdlog::warn("{}: {}; retrying", config_.name, opened.error().message);
        reported = true;
      }
    }
    if (!sleep_for(stop, backoff.next())) break;
  }
}

}  // namespace kumo::connectors
