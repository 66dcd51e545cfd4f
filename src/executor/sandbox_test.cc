// Instances in the box (sandbox.h): real python3 processes launched by a ProcessLauncher, each
// reporting what it sees from inside. Skipped where the machine cannot build the box.
#include "executor/sandbox.h"

#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "executor/process_launcher.h"
#include "executor/spawn.h"
#include "executor/test_support.h"

namespace kumo::executor {
namespace {

using nlohmann::json;
using testing::RecordingObserver;
using testing::ReplyRecorder;

// What the handler reports about its own process and surroundings.
constexpr const char* kInspect = R"(import errno, os, socket
def status(key):
    for line in open('/proc/self/status'):
        if line.startswith(key + ':'):
            return line.split(':', 1)[1].strip()
def attempt(fn):
    try:
        fn()
        return 0
    except OSError as e:
        return e.errno
def handle(event, context):
    tmp = os.statvfs('/tmp')
    return {
        'uid': os.getuid(), 'gid': os.getgid(), 'groups': os.getgroups(), 'pid': os.getpid(),
        'procs': sorted(int(p) for p in os.listdir('/proc') if p.isdigit()),
        'cap_eff': status('CapEff'), 'cap_bnd': status('CapBnd'),
        'no_new_privs': status('NoNewPrivs'), 'seccomp': status('Seccomp'),
        'host': socket.gethostname(), 'cwd': os.getcwd(),
        'ifaces': sorted(name for _, name in socket.if_nameindex()),
        'shadow': len(open('/etc/shadow', 'rb').read()),
        'tmp_mb': tmp.f_blocks * tmp.f_frsize // 2**20,
        'sees': [p for p in event.get('paths', []) if os.path.exists(p)],
        'write_code': attempt(lambda: open('/var/task/main.py', 'a')),
        'write_usr': attempt(lambda: open('/usr/kumo-test', 'w')),
        'devices': sorted(os.listdir('/dev')),
    }
)";

class SandboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!sandbox_unavailable_reason().empty()) {
      GTEST_SKIP() << "no box here: " << sandbox_unavailable_reason();
    }
    LauncherOptions o;
    o.runtime_dir = dir_.path() + "/runtime";
    o.use_cgroups = false;
    auto launcher = ProcessLauncher::create(o);
    ASSERT_TRUE(launcher) << launcher.error().message;
    launcher_ = std::move(*launcher);
    ASSERT_TRUE(launcher_->sandboxed()) << launcher_->refusal();
  }

  LaunchSpec spec(const std::string& code) {
    dir_.write("code/main.py", code);
    LaunchSpec s;
    s.function = "boxed";
    s.version = 1;
    s.handler = "main.handle";
    s.code_dir = dir_.path() + "/code";
    s.instances_root = dir_.path() + "/instances";
    s.log_path = dir_.path() + "/logs/boxed.log";
    s.ephemeral_mb = 600;
    return s;
  }

  std::unique_ptr<Instance> start(const LaunchSpec& s) {
    if (s.zygote) {
      EXPECT_TRUE(launcher_->start_template(s, testing::kWaitCap));
    }
    observers_.push_back(std::make_unique<RecordingObserver>());
    auto instance = launcher_->launch(s, *observers_.back());
    EXPECT_TRUE(instance) << instance.error().message;
    if (!instance) return nullptr;
    EXPECT_TRUE(observers_.back()->wait_ready()) << testing::read_file(s.log_path);
    return std::move(*instance);
  }

  json call(Instance& instance, const json& event = json::object()) {
    ReplyRecorder recorder;
    instance.invoke(testing::make_invocation(event.dump()), recorder.handler());
    auto reply = recorder.wait();
    EXPECT_TRUE(reply);
    if (!reply) return nullptr;
    EXPECT_EQ(reply->outcome, Outcome::kOk) << reply->error_type << ": " << reply->error_message;
    return json::parse(reply->body, nullptr, false);
  }

  // The host paths an instance must not see: the launcher's folders and this test's process.
  json host_paths() const {
    return {dir_.path() + "/code", dir_.path() + "/instances", dir_.path() + "/runtime",
            "/proc/" + std::to_string(getpid())};
  }

  void expect_boxed(const json& got) {
    uid_t uid = sandbox_uid("boxed");
    EXPECT_EQ(got["uid"], uid);
    EXPECT_EQ(got["gid"], uid);
    EXPECT_EQ(got["groups"], json::array());
    EXPECT_EQ(got["cap_eff"], "0000000000000000");
    EXPECT_EQ(got["cap_bnd"], "0000000000000000");
    EXPECT_EQ(got["no_new_privs"], "1");
    EXPECT_EQ(got["seccomp"], "2");  // a filter
    EXPECT_EQ(got["host"], "kumo");
    EXPECT_EQ(got["cwd"], kTaskRoot);
    EXPECT_EQ(got["shadow"], 0);
    EXPECT_EQ(got["tmp_mb"], 600);
    EXPECT_EQ(got["sees"], json::array());
    // Not its files (EACCES) on a read-only mount (EROFS): either answer denies.
    for (const char* write : {"write_code", "write_usr"}) {
      int err = got[write].get<int>();
      EXPECT_TRUE(err == EACCES || err == EROFS) << write << ": " << err;
    }
    EXPECT_EQ(got["devices"], json({"fd", "full", "null", "pts", "random", "shm", "stderr",
                                    "stdin", "stdout", "urandom", "zero"}));
  }

  testing::TempDir dir_;
  std::unique_ptr<ProcessLauncher> launcher_;
  std::vector<std::unique_ptr<RecordingObserver>> observers_;
};

TEST_F(SandboxTest, AFreshInstanceIsPidOneOfItsOwnBoxAsItsFunctionsUser) {
  LaunchSpec s = spec(kInspect);
  s.zygote = false;
  auto instance = start(s);
  ASSERT_TRUE(instance);
  json got = call(*instance, {{"paths", host_paths()}});
  expect_boxed(got);
  EXPECT_EQ(got["pid"], 1);
  EXPECT_EQ(got["procs"], json({1}));
  EXPECT_EQ(got["ifaces"], json({"lo"}));
}

TEST_F(SandboxTest, ForkedInstancesLandInTheTemplatesBox) {
  LaunchSpec s = spec(kInspect);
  auto a = start(s);
  auto b = start(s);
  ASSERT_TRUE(a && b);
  json got_a = call(*a, {{"paths", host_paths()}});
  json got_b = call(*b);
  expect_boxed(got_a);
  EXPECT_NE(got_a["pid"], 1);  // the template is pid 1 of the version's namespace
  EXPECT_NE(got_a["pid"], got_b["pid"]);
  EXPECT_EQ(got_a["procs"].front(), 1);
  EXPECT_EQ(got_a["ifaces"], json({"lo"}));
  // Stopped from outside although the template reports its own pids.
  b->stop();
  ASSERT_TRUE(observers_.back()->wait_exit());
  EXPECT_EQ(call(*a)["pid"], got_a["pid"]);
}

TEST_F(SandboxTest, NetworkTrueKeepsTheHostsNetwork) {
  LaunchSpec s = spec(kInspect);
  s.zygote = false;
  s.network = true;
  auto instance = start(s);
  ASSERT_TRUE(instance);
  json got = call(*instance);
  expect_boxed(got);
  EXPECT_GT(got["ifaces"].size(), 1u) << got["ifaces"];
}

TEST_F(SandboxTest, AnExecInstanceServesFromItsOwnLoopback) {
  dir_.write("code/serve.py", R"(import http.server, json, os
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers['Content-Length']))
        body = json.dumps({'uid': os.getuid(), 'pid': os.getpid()}).encode()
        self.send_response(200)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)
http.server.HTTPServer(('127.0.0.1', int(os.environ['PORT'])), H).serve_forever()
)");
  LaunchSpec s = spec("");
  s.runtime = Runtime::kExec;
  s.handler = "exec /usr/bin/python3 serve.py";
  s.zygote = false;
  auto instance = start(s);
  ASSERT_TRUE(instance);
  json got = call(*instance);
  EXPECT_EQ(got["uid"], sandbox_uid("boxed"));
  EXPECT_EQ(got["pid"], 1);  // sh exec'd the server in place of itself
}

// The box's /dev holds the minimal set plus the devices the plan names (an instance holding
// GPUs gets the NVIDIA driver's files this way).
TEST(SandboxDevicesTest, TheBoxSeesOnlyItsMinimalDevicesAndTheOnesItIsGiven) {
  if (!sandbox_unavailable_reason().empty()) GTEST_SKIP() << sandbox_unavailable_reason();
  testing::TempDir dir;
  std::filesystem::create_directories(dir.path() + "/code");
  std::filesystem::create_directories(dir.path() + "/root");
  ProcessSpec ps;
  ps.argv = {"/bin/ls", "/dev"};
  ps.cwd = kTaskRoot;
  ps.sandbox.enabled = true;
  ps.sandbox.uid = sandbox_uid("devices");
  ps.sandbox.code_dir = ps.sandbox.runtime_dir = dir.path() + "/code";
  ps.sandbox.tmp_mb = 1;
  ps.sandbox.devices = {"/dev/tty", "/etc/passwd"};  // not a device: ignored
  ps.box_root = dir.path() + "/root";
  auto proc = spawn_process(ps);
  ASSERT_TRUE(proc) << proc.error().message;
  std::string out;
  char buf[4096];
  pollfd pfd{proc->stdout_fd.get(), POLLIN, 0};
  while (::poll(&pfd, 1, 30'000) > 0) {
    ssize_t n = ::read(proc->stdout_fd.get(), buf, sizeof(buf));
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  int status = 0;
  ::waitpid(proc->pid, &status, 0);
  EXPECT_EQ(out,
            "fd\nfull\nnull\npts\nrandom\nshm\nstderr\nstdin\nstdout\ntty\nurandom\nzero\n");
  EXPECT_TRUE(std::filesystem::is_empty(dir.path() + "/root"));  // assembled out of sight
}

}  // namespace
}  // namespace kumo::executor
