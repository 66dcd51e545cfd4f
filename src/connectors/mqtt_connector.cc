#include "connectors/mqtt_connector.h"

#include <mosquitto.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <mutex>

#include "common/log.h"
#include "connectors/messages.h"

namespace kumo::connectors {
namespace {

constexpr int kLoopWaitMs = 250;  // bounds the stop latency

void init_library_once() {
  static std::once_flag once;
  std::call_once(once, [] { mosquitto_lib_init(); });
}

using Client = std::unique_ptr<mosquitto, decltype(&mosquitto_destroy)>;

}  // namespace

MqttConnector::MqttConnector(ConnectorConfig config, events::EventSink& sink)
    : config_(std::move(config)), mqtt_(std::get<MqttConfig>(config_.broker)), sink_(sink) {}

void MqttConnector::on_connect(mosquitto* mosq, void* self_ptr, int rc) {
  auto* self = static_cast<MqttConnector*>(self_ptr);
  if (rc != 0) {
    if (!self->reported_) {
      spdlog::warn("{}: broker refused the connection: {}; retrying", self->config_.name,
                   mosquitto_connack_string(rc));
    }
    self->reported_ = true;
    return;
  }
  // Subscribing again on every connection is harmless and covers a broker that lost the
  // session (restarted without persistence).
  int sub = mosquitto_subscribe(mosq, nullptr, self->mqtt_.subscribe.c_str(), self->mqtt_.qos);
  if (sub != MOSQ_ERR_SUCCESS) {
    spdlog::warn("{}: subscribe failed: {}", self->config_.name, mosquitto_strerror(sub));
    (void)mosquitto_disconnect(mosq);
    return;
  }
}

void MqttConnector::on_subscribe(mosquitto*, void* self_ptr, int, int count, const int* granted) {
  auto* self = static_cast<MqttConnector*>(self_ptr);
  if (count < 1 || granted[0] > 2) {  // 0x80: the broker refused the subscription
    spdlog::warn("{}: the broker refused the subscription to {}", self->config_.name,
                 self->mqtt_.subscribe);
    return;
  }
  self->connected_ = true;
  self->reported_ = false;
  spdlog::info("{}: connected", describe(self->config_));
}

void MqttConnector::on_message(mosquitto*, void* self_ptr, const mosquitto_message* msg) {
  auto* self = static_cast<MqttConnector*>(self_ptr);
  std::string payload(static_cast<const char*>(msg->payload), static_cast<size_t>(msg->payloadlen));
  events::Message message = mqtt_message(msg->topic, msg->qos, msg->retain, std::move(payload));
  // The broker already has its PUBACK: this copy is the only one left, so keep trying.
  Backoff backoff = reconnect_backoff();
  while (!deliver(self->sink_, self->config_.topic, message, self->config_.name)) {
    if (!sleep_for(self->stop_, backoff.next())) {
      spdlog::error("{}: stopping with an uncommitted message from {}; it is lost",
                    self->config_.name, msg->topic);
      return;
    }
  }
}

std::string MqttConnector::serve(mosquitto* mosq, std::stop_token stop) {
  while (!stop.stop_requested()) {
    int rc = mosquitto_loop(mosq, kLoopWaitMs, 1);
    if (rc != MOSQ_ERR_SUCCESS) return mosquitto_strerror(rc);
  }
  (void)mosquitto_disconnect(mosq);
  return "stopping";
}

void MqttConnector::run(std::stop_token stop) {
  init_library_once();
  stop_ = stop;
  Client client(mosquitto_new(mqtt_.client_id.c_str(), /*clean_session=*/false, this),
                &mosquitto_destroy);
  if (client == nullptr) {
    spdlog::error("{}: cannot create an MQTT client", config_.name);
    return;
  }
  mosquitto_connect_callback_set(client.get(), &MqttConnector::on_connect);
  mosquitto_subscribe_callback_set(client.get(), &MqttConnector::on_subscribe);
  mosquitto_message_callback_set(client.get(), &MqttConnector::on_message);

  Backoff backoff = reconnect_backoff();
  bool first = true;
  while (!stop.stop_requested()) {
    connected_ = false;
    int rc = first
                 ? mosquitto_connect(client.get(), mqtt_.host.c_str(), mqtt_.port, mqtt_.keepalive)
                 : mosquitto_reconnect(client.get());
    if (rc == MOSQ_ERR_SUCCESS) {
      first = false;
      std::string why = serve(client.get(), stop);
      if (stop.stop_requested()) break;
      if (connected_) {
        spdlog::warn("{}: disconnected ({}); reconnecting", config_.name, why);
        backoff.reset();
      } else if (!reported_) {
        spdlog::warn("{}: connection to {}:{} ended: {}; retrying", config_.name, mqtt_.host,
                     mqtt_.port, why);
      }
      reported_ = true;
    } else if (!reported_) {
      spdlog::warn("{}: connect to {}:{}: {}; retrying", config_.name, mqtt_.host, mqtt_.port,
                   rc == MOSQ_ERR_ERRNO ? std::strerror(errno) : mosquitto_strerror(rc));
      reported_ = true;
    }
    if (!sleep_for(stop, backoff.next())) break;
  }
}

}  // namespace kumo::connectors
