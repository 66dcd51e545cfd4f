#include "executor/instance_mounts.h"

#include <sys/wait.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "common/ids.h"
#include "executor/spawn.h"

namespace kumo::executor {
namespace {

namespace fs = std::filesystem;

// A package folder and an empty task root under /tmp, as tests keep their data directories.
class InstanceMounts : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!mount_namespaces_usable()) GTEST_SKIP() << "mount namespaces are not permitted here";
    dir_ = fs::temp_directory_path() / ("kumo_mounts_" + new_short_id());
    fs::create_directories(dir_ / "code");
    fs::create_directories(dir_ / "task");
    std::ofstream(dir_ / "code" / "main.py") << "original\n";
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  // Runs `script` with /bin/sh in the plan's namespace, cwd the task root; its exit code.
  int run(const std::string& script, int tmp_mb = 1) const {
    ProcessSpec ps;
    ps.argv = {"/bin/sh", "-c", script};
    ps.env = {"PATH=/usr/bin:/bin"};
    ps.cwd = (dir_ / "task").string();
    ps.mounts.enabled = true;
    ps.mounts.tmp_mb = tmp_mb;
    ps.mounts.read_only = {{(dir_ / "code").string(), (dir_ / "task").string()}};
    auto proc = spawn_process(ps);
    EXPECT_TRUE(proc.has_value()) << proc.error().message;
    if (!proc) return -1;
    int status = 0;
    waitpid(proc->pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  fs::path dir_;
};

TEST_F(InstanceMounts, TheCodeIsThereButCannotBeWritten) {
  EXPECT_EQ(run("grep -q original main.py"), 0);
  EXPECT_NE(run("echo changed > main.py"), 0);
  EXPECT_NE(run("touch new-file"), 0);
  std::ifstream in(dir_ / "code" / "main.py");
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "original");
}

TEST_F(InstanceMounts, TmpIsPrivateAndFullPastItsSize) {
  std::string marker = "/tmp/kumo_marker_" + new_short_id();
  EXPECT_EQ(run("touch " + marker), 0);
  EXPECT_FALSE(fs::exists(marker));
  EXPECT_EQ(run("head -c 1048576 /dev/zero > /tmp/fits", 2), 0);  // 1 MB fits in 2 MB
  EXPECT_NE(run("head -c 3145728 /dev/zero > /tmp/too-big", 2), 0);
}

}  // namespace
}  // namespace kumo::executor
