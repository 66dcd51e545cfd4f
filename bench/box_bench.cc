// Where the box's start-up time goes: spawn_process() of /bin/true until its exit, in rounds
// that alternate between (a) no box, (b) the box with the host's network (`network: true`),
// (c) the full box (a network namespace of its own) and (d) the full box with the seccomp
// filter, so that all see the same noise; and (e) making the API listener in a box's network
// namespace (listen_in_netns on a boxed `sleep`, timed alone). (b) - (a) is the namespaces, the new root and the uid; (c) - (b) is a
// network namespace; (d) - (c) the filter; (e) what a fresh instance adds before it is
// reachable. Needs root. Usage: box_bench [spawns per round, default 200] [rounds, default 5]
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "executor/netns.h"
#include "executor/sandbox.h"
#include "executor/seccomp_filter.h"
#include "executor/spawn.h"

namespace {

using namespace kumo::executor;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(p * static_cast<double>(v.size() - 1))];
}

SpawnedProcess spawn_or_die(const ProcessSpec& spec) {
  auto proc = spawn_process(spec);
  if (!proc) {
    std::fprintf(stderr, "spawn failed: %s\n", proc.error().message.c_str());
    std::exit(1);
  }
  return std::move(*proc);
}

// Microseconds from spawn to the exit of /bin/true (and the reap); with `listener`, only
// what listen_in_netns takes in the box of a process that waits.
double spawn_once(const ProcessSpec& spec, bool listener) {
  if (!listener) {
    auto start = Clock::now();
    SpawnedProcess proc = spawn_or_die(spec);
    waitpid(proc.pid, nullptr, 0);
    return std::chrono::duration<double, std::micro>(Clock::now() - start).count();
  }
  ProcessSpec waits = spec;
  waits.argv = {"/bin/sleep", "10"};
  SpawnedProcess proc = spawn_or_die(waits);
  auto start = Clock::now();
  bool made = static_cast<bool>(listen_in_netns(proc.pid, 8080));
  double us = std::chrono::duration<double, std::micro>(Clock::now() - start).count();
  ::kill(proc.pid, SIGKILL);
  waitpid(proc.pid, nullptr, 0);
  if (!made) {
    std::fprintf(stderr, "listen_in_netns failed\n");
    std::exit(1);
  }
  return us;
}

}  // namespace

int main(int argc, char** argv) {
  int per_round = argc > 1 ? std::atoi(argv[1]) : 200;
  int rounds = argc > 2 ? std::atoi(argv[2]) : 5;
  if (!sandbox_unavailable_reason().empty()) {
    std::fprintf(stderr, "no box here: %s\n", sandbox_unavailable_reason().c_str());
    return 1;
  }
  auto filter = SeccompFilter::build();
  if (!filter) return 1;
  std::string dir = fs::temp_directory_path() / ("kumo-box-bench-" + std::to_string(getpid()));
  fs::create_directories(dir + "/code");
  fs::create_directories(dir + "/root");

  ProcessSpec bare;
  bare.argv = {"/bin/true"};
  bare.cwd = "/";
  ProcessSpec host_net = bare;
  host_net.cwd = kTaskRoot;
  host_net.box_root = dir + "/root";
  host_net.sandbox.enabled = true;
  host_net.sandbox.network = true;
  host_net.sandbox.uid = sandbox_uid("bench");
  host_net.sandbox.code_dir = host_net.sandbox.runtime_dir = dir + "/code";
  ProcessSpec own_net = host_net;
  own_net.sandbox.network = false;
  ProcessSpec filtered = own_net;
  filtered.sandbox.seccomp = &*filter;

  struct Row {
    const char* label;
    const ProcessSpec* spec;
    bool listener;
    std::vector<double> us;
  };
  std::vector<Row> rows = {{"(a) no box", &bare, false, {}},
                           {"(b) box, host network", &host_net, false, {}},
                           {"(c) box, own network", &own_net, false, {}},
                           {"(d) (c) + seccomp", &filtered, false, {}},
                           {"(e) API listener alone", &filtered, true, {}}};
  std::printf("load average: ");
  std::fflush(stdout);
  std::system("cat /proc/loadavg");
  for (int r = 0; r < rounds; ++r) {
    for (Row& row : rows) {
      for (int i = 0; i < per_round; ++i) row.us.push_back(spawn_once(*row.spec, row.listener));
    }
  }
  double base = percentile(rows[0].us, 0.5);
  std::printf("\nspawn of /bin/true to its exit, us (%d spawns each)\n", per_round * rounds);
  std::printf("%-24s | %8s %8s | %10s\n", "", "p50", "p99", "p50 - (a)");
  for (const Row& row : rows) {
    double p50 = percentile(row.us, 0.5);
    std::printf("%-24s | %8.0f %8.0f | %+10.0f\n", row.label, p50, percentile(row.us, 0.99),
                row.listener ? p50 : p50 - base);
  }
  fs::remove_all(dir);
  return 0;
}
