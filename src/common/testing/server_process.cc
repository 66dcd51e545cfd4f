#include "common/testing/server_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

extern char** environ;

namespace kumo::testing {
namespace {

namespace fs = std::filesystem;

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) {
    s.replace(at, from.size(), to);
  }
  return s;
}

bool accepts_connections(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  close(fd);
  return ok;
}

}  // namespace

std::optional<std::string> find_program(const std::string& name) {
  std::string dirs = std::getenv("PATH") != nullptr ? std::getenv("PATH") : "";
  std::stringstream in(dirs + ":/usr/sbin:/usr/bin");
  for (std::string dir; std::getline(in, dir, ':');) {
    if (dir.empty()) continue;
    std::string path = dir + "/" + name;
    if (access(path.c_str(), X_OK) == 0) return path;
  }
  return std::nullopt;
}

int free_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

std::unique_ptr<ServerProcess> ServerProcess::start(const std::string& program,
                                                    std::vector<std::string> args,
                                                    const std::string& config) {
  return start_on(free_port(), program, std::move(args), config);
}

std::unique_ptr<ServerProcess> ServerProcess::start_on(int port, const std::string& program,
                                                       std::vector<std::string> args,
                                                       const std::string& config) {
  auto path = find_program(program);
  if (!path) return nullptr;
  std::unique_ptr<ServerProcess> owned(new ServerProcess());
  ServerProcess& p = *owned;
  p.port_ = port;
  std::string tmpl = (fs::temp_directory_path() / ("kumo-server-" + program + "-XXXXXX")).string();
  p.dir_ = mkdtemp(tmpl.data());
  auto fill = [&](const std::string& s) {
    return replace_all(replace_all(s, "{port}", std::to_string(p.port_)), "{dir}", p.dir_);
  };
  if (!config.empty()) std::ofstream(p.dir_ + "/broker.conf") << fill(config);
  std::vector<std::string> argv_s = {*path};
  for (const auto& a : args) argv_s.push_back(fill(a));
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  std::string log_path = p.dir_ + "/broker.log";
  posix_spawn_file_actions_addopen(&actions, 1, log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  int rc = posix_spawn(&p.pid_, path->c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) p.pid_ = -1;
  for (int i = 0; i < 100 && p.pid_ > 0 && !accepts_connections(p.port_); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return owned;
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  std::error_code ec;
  if (!dir_.empty()) fs::remove_all(dir_, ec);
}

std::string ServerProcess::log() const {
  std::ifstream in(dir_ + "/broker.log");
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace kumo::testing
