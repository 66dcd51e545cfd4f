// CpuCgroup: an instance's share of the CPU, in proportion to its memory as Lambda allocates
// it (LauncherOptions::cpu_mb_per_vcpu MB of memory = one CPU), so that a function spinning
// in a loop cannot starve the others. limit() applies the quota (cpu_quota_us() per
// kCpuPeriodUs) once the instance is ready: its init runs unthrottled, as Lambda boosts init.
//
// cgroup v1: a folder <root>/<instance id> in the cpu hierarchy holding cpu.cfs_period_us and
// cpu.cfs_quota_us, which the child joins before exec next to its memory cgroup; the
// destructor kills what is left in it and removes it. cgroup v2: cpu.max of the instance's
// memory cgroup (prepare_cgroup_root() enables the cpu controller there); that folder is the
// MemoryCgroup's, so there is nothing to join or remove. Owned by one instance; limit() is
// safe from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "common/result.h"

namespace kumo::executor {

inline constexpr int64_t kCpuPeriodUs = 20'000;
inline constexpr int64_t kMinCpuQuotaUs = 1'000;

// The quota per kCpuPeriodUs of an instance of `memory_mb`: period * memory / mb_per_vcpu,
// at least kMinCpuQuotaUs. mb_per_vcpu must be positive.
int64_t cpu_quota_us(int64_t memory_mb, int64_t mb_per_vcpu);

// "/sys/fs/cgroup/cpu/kumo" where a v1 cpu hierarchy is mounted there, else empty.
std::string default_cpu_cgroup_root();

// Creates `root` inside an existing v1 cpu hierarchy (its parent must exist) and checks that
// a child with a quota can be made there. kUnavailable when not.
Result<void> prepare_cpu_cgroup_root(const std::string& root);

class CpuCgroup {
 public:
  // v1: makes <root>/<name> with the period set and no quota yet.
  static Result<std::unique_ptr<CpuCgroup>> create(const std::string& root, const std::string& name,
                                                   int64_t quota_us);
  // v2: the quota goes into cpu.max of the memory cgroup folder `dir`.
  static std::unique_ptr<CpuCgroup> in_memory_cgroup(std::string dir, int64_t quota_us);
  ~CpuCgroup();
  CpuCgroup(const CpuCgroup&) = delete;
  CpuCgroup& operator=(const CpuCgroup&) = delete;

  // The file a process writes its pid to, to join; empty on v2 (nothing to join).
  std::string procs_path() const;
  const std::string& dir() const { return dir_; }
  // Applies the quota; later calls do nothing. False when it cannot be written.
  bool limit();

 private:
  CpuCgroup(std::string dir, bool v1, int64_t quota_us)
      : dir_(std::move(dir)), v1_(v1), quota_us_(quota_us) {}
  std::string dir_;
  bool v1_;
  int64_t quota_us_;
  std::atomic<bool> limited_{false};
};

}  // namespace kumo::executor
