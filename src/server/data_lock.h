// DataDirLock: the one server per data directory. `kumo serve` takes an exclusive POSIX
// record lock (fcntl F_SETLK) on <data>/lock before it touches anything else there (instances, cgroups, the SQLite file)
// and holds it for the life of the process; the file holds the holder's pid, which a second
// server names when it is refused. The kernel drops the lock when the process ends, however
// it ends (a kill -9 included), so a stale file never blocks a restart. The lock is the
// process's own, never a child's: unlike flock(), a child forked from the server still
// between clone and exec when the server dies does not keep the directory locked; and the
// descriptor is close-on-exec. Nothing else in the server may open <data>/lock: closing any
// descriptor of the file would drop a POSIX lock.
// Owned by serve(); not thread-safe (made once, at start).
#pragma once

#include <memory>
#include <string>

#include "common/result.h"

namespace kumo::server {

class DataDirLock {
 public:
  // Locks `data_dir` (which must exist). kUnavailable, naming the running server's pid,
  // when another process holds it; nothing in the folder is changed then.
  static Result<std::unique_ptr<DataDirLock>> acquire(const std::string& data_dir);
  ~DataDirLock();
  DataDirLock(const DataDirLock&) = delete;
  DataDirLock& operator=(const DataDirLock&) = delete;

 private:
  explicit DataDirLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace kumo::server
