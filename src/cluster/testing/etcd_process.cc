#include "cluster/testing/etcd_process.h"

#include <chrono>
#include <thread>

namespace kumo::cluster::testing {

std::unique_ptr<EtcdProcess> start_etcd(std::string& why) {
  std::string peer = "http://127.0.0.1:" + std::to_string(kumo::testing::free_port());
  auto server = kumo::testing::ServerProcess::start(
      "etcd", {"--name", "kumo-test", "--data-dir", "{dir}/data", "--listen-client-urls",
               "http://127.0.0.1:{port}", "--advertise-client-urls", "http://127.0.0.1:{port}",
               "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
               "--initial-cluster", "kumo-test=" + peer});
  if (!server) {
    why = "etcd is not installed (apt-get install etcd-server)";
    return nullptr;
  }
  auto out = std::make_unique<EtcdProcess>();
  out->url = "http://127.0.0.1:" + std::to_string(server->port());
  out->server = std::move(server);
  auto etcd = Etcd::open({out->url});
  // etcd accepts connections a moment before it has elected itself leader.
  for (int i = 0; i < 300; ++i) {
    if ((*etcd)->get("ready")) return out;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  why = "etcd did not answer within 30 s: " + out->server->log();
  return nullptr;
}

}  // namespace kumo::cluster::testing
