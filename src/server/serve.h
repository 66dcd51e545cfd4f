// `kumo serve`: builds the concrete parts, wires them and runs until SIGINT/SIGTERM.
// This is the one composition root; nothing else constructs concrete parts.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "http/server.h"
#include "server/cluster_node.h"
#include "server/sandbox_options.h"

namespace kumo::server {

struct ServeOptions {
  std::string listen = "127.0.0.1:8080";
  std::string data_dir = "./.kumo";
  std::string python = "/usr/bin/python3";
  int threads = 0;  // HTTP threads; 0 = one per core
  // An instance of `memory` MB gets memory / cpu_mb_per_vcpu of one CPU (as Lambda: 1769 MB
  // is one vCPU); 0 = no CPU quota (executor::LauncherOptions).
  int cpu_mb_per_vcpu = 1769;
  double price_per_gb_second = 0.0000166667;   // AWS Lambda x86, us-east-1
  double price_per_million_requests = 0.20;
  std::string log_level = "info";
  std::string auth = "keys";  // "keys" or "none" (auth_setup.h)
  // The AWS region functions' SDKs are told (AWS_REGION; auth/instance_identity.h).
  std::string region = "us-east-1";
  // Timeouts, connection cap and body memory budget of the HTTP server (http_limits.h).
  http::ConnectionLimits http_limits;
  SandboxOptions sandbox;  // sandbox_options.h
  ClusterOptions cluster;  // cluster_node.h; off: the single-node server
  // Sections of the config file for the event parts, as JSON: "storage", "tables",
  // "connectors", "events" (each absent = defaults).
  nlohmann::json sections = nlohmann::json::object();
};

// Reads a YAML configuration file whose keys are the option names above (listen, data,
// python, threads, auth, region, cpu_mb_per_vcpu, price_per_gb_second, price_per_million_requests,
// log_level); values it
// names override `base`; its `http:` section sets http_limits, its `cluster:` section
// cluster mode (cluster_node.h). The sections storage, tables, connectors and events are kept whole
// in `sections` for the parts that read them.
Result<ServeOptions> load_config(const std::string& path, ServeOptions base);

// Runs the server; returns the process exit code.
int serve(const ServeOptions& options);

}  // namespace kumo::server
