// Test helper: a real single-member etcd on loopback (Debian's etcd-server), ready to answer.
#pragma once

#include <memory>
#include <string>

#include "cluster/etcd.h"
#include "common/testing/server_process.h"

namespace kumo::cluster::testing {

struct EtcdProcess {
  std::unique_ptr<kumo::testing::ServerProcess> server;
  std::string url;  // "http://127.0.0.1:PORT"
};

// Started and answering (it has elected itself leader), or null when etcd is not installed
// or did not come up (`why` says which).
std::unique_ptr<EtcdProcess> start_etcd(std::string& why);

}  // namespace kumo::cluster::testing
