// The `kumo` binary: `kumo serve` runs the platform; every other subcommand is the CLI.
#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "server/http_limits.h"
#include "server/sandbox_options.h"
#include "server/serve.h"

int main(int argc, char** argv) {
  CLI::App app{"Kumo: a self-hosted serverless platform for AI/ML functions"};
  app.require_subcommand(1);

  kumo::server::ServeOptions options;
  std::string config;
  CLI::App* serve = app.add_subcommand("serve", "Run the platform on this machine");
  serve->add_option("--listen", options.listen, "HOST:PORT to listen on")->capture_default_str();
  serve->add_option("--data", options.data_dir, "data directory")->capture_default_str();
  serve->add_option("--config", config, "YAML file with these options");
  serve->add_option("--python", options.python, "interpreter for python3 functions")
      ->capture_default_str();
  serve->add_option("--threads", options.threads, "HTTP threads (0: one per core)");
  serve->add_option("--cpu-mb-per-vcpu", options.cpu_mb_per_vcpu,
                    "MB of a function's memory per CPU it gets (0: no CPU quota)")
      ->capture_default_str();
  serve->add_option("--price-gb-s", options.price_per_gb_second, "price per GB-second, USD")
      ->capture_default_str();
  serve->add_option("--price-per-million", options.price_per_million_requests,
                    "price per million requests, USD")
      ->capture_default_str();
  serve->add_option("--auth", options.auth,
                    "keys (API keys; the first start writes <data>/admin.key) or none (no "
                    "checks; loopback only)")
      ->capture_default_str();
  serve->add_option("--log-level", options.log_level, "debug, info, warn or error")
      ->capture_default_str();
  kumo::server::add_http_limit_flags(*serve, options.http_limits);
  bool check_sandbox = false;
  kumo::server::add_sandbox_flags(*serve, options.sandbox, check_sandbox);
  std::string gpus;
  serve->add_option("--gpus", gpus,
                    "GPUs functions may use: auto (nvidia-smi), none, a count or a list (0,1)");
  bool cluster = false;
  std::string etcd, nats, node_id, advertise;
  serve->add_flag("--cluster", cluster, "Run as a node of a cluster (needs --etcd)");
  serve->add_option("--etcd", etcd, "cluster mode: etcd endpoints, http://HOST:2379[,...]");
  serve->add_option("--nats", nats, "cluster mode: NATS with JetStream, nats://HOST:4222");
  serve->add_option("--node-id", node_id, "cluster mode: this node's id (default HOSTNAME-PORT)");
  serve->add_option("--advertise", advertise,
                    "cluster mode: the URL other nodes reach this one at (default: --listen)");
  serve->callback([&] {
    if (check_sandbox) throw CLI::RuntimeError(kumo::server::check_sandbox());
    if (!config.empty()) {
      auto loaded = kumo::server::load_config(config, options);
      if (!loaded) {
        std::fprintf(stderr, "error: %s\n", loaded.error().message.c_str());
        throw CLI::RuntimeError(2);
      }
      options = *loaded;
    }
    if (!gpus.empty()) options.sections["gpus"] = gpus;  // the flag wins over the file
    kumo::server::apply_cluster_flags(cluster, etcd, nats, node_id, advertise,
                                      options.cluster);
    int code = kumo::server::serve(options);
    if (code != 0) throw CLI::RuntimeError(code);
  });

  kumo::cli::add_client_commands(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return kumo::cli::exit_code(app, e);
  }
  return 0;
}
