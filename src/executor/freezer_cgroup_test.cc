// FreezerCgroup on its own, with a spinning shell in it: on v1 (a freezer folder) and on v2
// (cgroup.freeze, which needs no controller, so a hybrid machine's empty v2 tree has it).
#include "executor/freezer_cgroup.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>

#include "common/ids.h"
#include "executor/memory_cgroup.h"
#include "executor/test_support.h"

namespace kumo::executor {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

bool wait_until(const std::function<bool()>& done) {
  auto until = std::chrono::steady_clock::now() + testing::kWaitCap;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::sleep_for(milliseconds(10));
  }
  return true;
}

// CPU time (ns) the process has used so far.
int64_t cpu_ns(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/schedstat");
  int64_t ns = 0;
  in >> ns;
  return ns;
}

pid_t spawn_spinner() {
  const char* argv[] = {"sh", "-c", "while :; do :; done", nullptr};
  pid_t pid = 0;
  if (posix_spawnp(&pid, "sh", nullptr, nullptr, const_cast<char**>(argv), environ) != 0) {
    return -1;
  }
  return pid;
}

// Freezes the spinner in `freezer`, checks that it stops using CPU, then that it runs again
// once thawed, and that it dies when killed.
void expect_freezes_and_thaws(FreezerCgroup& freezer, pid_t spinner) {
  ASSERT_TRUE(freezer.freeze());
  ASSERT_TRUE(wait_until([&] { return freezer.frozen(); }));
  int64_t before = cpu_ns(spinner);
  std::this_thread::sleep_for(milliseconds(300));
  EXPECT_EQ(cpu_ns(spinner), before) << "a frozen process used CPU";
  ASSERT_TRUE(freezer.thaw());
  EXPECT_FALSE(freezer.frozen());
  EXPECT_TRUE(wait_until([&] { return cpu_ns(spinner) > before; }));
}

TEST(FreezerCgroup, AV1FolderStopsItsProcessesUntilThawedAndIsRemovedWithThem) {
  std::string root = default_freezer_cgroup_root();
  if (root.empty()) GTEST_SKIP() << "no v1 freezer hierarchy";
  root += "-test";
  if (!prepare_freezer_cgroup_root(root)) GTEST_SKIP() << "no writable v1 freezer cgroup";
  auto freezer = FreezerCgroup::create(root, "unit-" + new_short_id());
  ASSERT_TRUE(freezer) << freezer.error().message;
  std::string dir = (*freezer)->dir();
  pid_t spinner = spawn_spinner();
  ASSERT_GT(spinner, 0);
  ASSERT_TRUE(write_cgroup_file((*freezer)->procs_path(), std::to_string(spinner)));
  expect_freezes_and_thaws(**freezer, spinner);
  ASSERT_TRUE((*freezer)->freeze());
  freezer->reset();  // thaws, kills what is in it, removes it
  int status = 0;
  EXPECT_EQ(waitpid(spinner, &status, 0), spinner);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  EXPECT_FALSE(fs::exists(dir));
}

// Where cgroup v2 is mounted: the whole tree, or a hybrid machine's unified one.
std::string v2_mount() {
  for (const char* mount : {"/sys/fs/cgroup", "/sys/fs/cgroup/unified"}) {
    if (fs::exists(std::string(mount) + "/cgroup.procs") &&
        fs::exists(std::string(mount) + "/cgroup.controllers")) {
      return mount;
    }
  }
  return "";
}

TEST(FreezerCgroup, V2CgroupFreezeStopsItsProcessesUntilThawed) {
  std::string mount = v2_mount();
  if (mount.empty()) GTEST_SKIP() << "no cgroup v2 tree";
  auto made = make_cgroup_dir(mount, "kumo-freezer-test-" + new_short_id());
  if (!made) GTEST_SKIP() << made.error().message;
  std::string dir = *made;
  if (!v2_freezer_usable(dir)) {
    ::rmdir(dir.c_str());
    GTEST_SKIP() << "no cgroup.freeze (Linux 5.2 or later)";
  }
  pid_t spinner = spawn_spinner();
  ASSERT_GT(spinner, 0);
  ASSERT_TRUE(write_cgroup_file(dir + "/cgroup.procs", std::to_string(spinner)));
  {
    auto freezer = FreezerCgroup::in_memory_cgroup(dir);
    EXPECT_EQ(freezer->procs_path(), "");  // it is the memory cgroup's folder: nothing to join
    expect_freezes_and_thaws(*freezer, spinner);
    ASSERT_TRUE(freezer->freeze());
    ASSERT_TRUE(wait_until([&] { return freezer->frozen(); }));
  }
  // The folder is not the freezer's: it stays, thawed.
  EXPECT_TRUE(fs::exists(dir));
  EXPECT_EQ(testing::read_file(dir + "/cgroup.events").find("frozen 1"), std::string::npos);
  ::kill(spinner, SIGKILL);
  int status = 0;
  EXPECT_EQ(waitpid(spinner, &status, 0), spinner);
  remove_cgroup(dir);
  EXPECT_FALSE(fs::exists(dir));
}

}  // namespace
}  // namespace kumo::executor
