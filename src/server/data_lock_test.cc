// DataDirLock with real processes: one holder per directory, none after it dies.
#include "server/data_lock.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>

namespace kumo::server {
namespace {

class DataDirLockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "kumo-lock-XXXXXX").string();
    dir_ = mkdtemp(tmpl.data());
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(DataDirLockTest, ASecondHolderIsRefusedNamingTheFirstsPid) {
  auto first = DataDirLock::acquire(dir_);
  ASSERT_TRUE(first);
  pid_t child = fork();
  if (child == 0) _exit(DataDirLock::acquire(dir_) ? 0 : 3);  // another process
  int status = 0;
  waitpid(child, &status, 0);
  EXPECT_EQ(WEXITSTATUS(status), 3);
  first->reset();
  EXPECT_TRUE(DataDirLock::acquire(dir_));
}

// A server killed while a child it forked has not exec'd yet: the child must not keep the
// directory locked (it inherits the descriptor, and so would an flock).
TEST_F(DataDirLockTest, AChildOfADeadHolderDoesNotKeepTheLock) {
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  pid_t holder = fork();
  if (holder == 0) {
    auto lock = DataDirLock::acquire(dir_);
    if (!lock) _exit(1);
    pid_t lingering = fork();
    if (lingering == 0) {  // the child that lingers with the descriptor
      sleep(30);
      _exit(0);
    }
    (void)!write(ready[1], &lingering, sizeof lingering);
    pause();
  }
  close(ready[1]);
  pid_t lingering = 0;
  ASSERT_EQ(read(ready[0], &lingering, sizeof lingering), ssize_t{sizeof lingering});
  close(ready[0]);
  kill(holder, SIGKILL);
  waitpid(holder, nullptr, 0);
  auto again = DataDirLock::acquire(dir_);
  kill(lingering, SIGKILL);
  EXPECT_TRUE(again) << again.error().message;
}

}  // namespace
}  // namespace kumo::server
