// Internal to src/server: what serve() hands each optional part when it wires it in. Each
// part has one wire_*() function in its own file here; it adds its routes to the router,
// starts what it runs, and registers how to stop it.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "auth/access.h"
#include "auth/audit.h"
#include "common/result.h"
#include "events/sink.h"
#include "http/router.h"

namespace kumo::server {

struct Wiring {
  std::string data_dir;          // absolute, no trailing '/'
  nlohmann::json config;         // the config file's section for this part (null when absent)
  http::Router& router;          // add routes here; the server starts after every wire_*()
  events::EventSink& events;     // hand events here
  const auth::Access& access;    // every route the part adds asks it first
  // Run at shutdown in reverse order of registration, after the listener stops and before
  // instances stop. Threads a part started must be joined here.
  std::vector<std::function<void()>>& on_stop;
  // Where a part records control-plane changes (creating and deleting buckets and tables);
  // null records nothing.
  auth::AuditLog* audit = nullptr;
};

// Each returns an error (the server then exits with it) for a bad config section or a
// resource it cannot open.
Result<void> wire_storage(Wiring& w);                                   // wire_storage.cc
Result<void> wire_tables(Wiring& w, events::TableCatalog*& catalog);    // wire_tables.cc
Result<void> wire_connectors(Wiring& w);                                // wire_connectors.cc

}  // namespace kumo::server
