// What checking S3 requests costs on the hot path: GetObject of a 1 KiB object over a
// kept-alive connection from an http::Client, against a server without keys (--auth none),
// and against one with keys, the request carrying `Authorization: Bearer <key>` or a SigV4
// header signature (what boto3 and the SDKs send). Both servers share one S3Service and
// object store; rounds alternate so that every path sees the same noise. Then the check
// alone (storage's identify_s3) for both kinds of credential.
// Usage: s3_auth_bench [requests per round, default 2000] [rounds, default 5]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "auth/testing/sigv4_sign.h"
#include "common/ids.h"
#include "http/client.h"
#include "http/server.h"
#include "storage/s3_auth.h"
#include "storage/s3_service.h"

namespace {

using namespace kumo;
using Clock = std::chrono::steady_clock;

class NoEvents final : public events::EventSink {
 public:
  Result<std::string> publish(const std::string&, events::Message) override { return "id"; }
  Result<int> object_changed(const events::ObjectEvent&) override { return 0; }
  Result<int> table_changed(const events::TableChange&) override { return 0; }
};

double p50_us(int n, const std::function<void()>& op) {
  std::vector<double> us;
  us.reserve(n);
  for (int i = 0; i < n; ++i) {
    auto start = Clock::now();
    op();
    us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
  }
  std::nth_element(us.begin(), us.begin() + n / 2, us.end());
  return us[n / 2];
}

std::unique_ptr<http::Server> serve(const std::shared_ptr<storage::S3Service>& service,
                                    const auth::Access& access) {
  http::Router router;
  storage::add_storage_routes(router, service, access);
  auto server =
      std::make_unique<http::Server>(http::ServerOptions{"127.0.0.1", 0, 2}, std::move(router));
  if (!server->start()) std::exit(1);
  return server;
}

std::string amz_now() {
  std::time_t t = std::time(nullptr);
  char buf[20];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", std::gmtime(&t));
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  int n = argc > 1 ? std::atoi(argv[1]) : 2000;
  int rounds = argc > 2 ? std::atoi(argv[2]) : 5;
  auto dir = std::filesystem::temp_directory_path() / ("kumo-s3-bench-" + new_short_id());
  std::filesystem::create_directories(dir);
  auto keys = std::move(
      auth::KeyStore::open((dir / "kumo.db").string(), auth::SealingKey::generate()).value());
  auto made = keys->create({"bench", "", auth::parse_grants("admin").value(), {}},
                           std::chrono::duration_cast<std::chrono::microseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count());
  auto token = auth::parse_token(made.value().token).value();
  NoEvents events;
  auto service = std::make_shared<storage::S3Service>(
      std::move(storage::ObjectStore::open({dir.string()}).value()), events,
      storage::StorageOptions{});
  auth::Access open(nullptr);
  auth::Access checked(keys.get());
  auto open_server = serve(service, open);
  auto keyed_server = serve(service, checked);
  http::Client open_client({"127.0.0.1", open_server->port()});
  http::Client keyed_client({"127.0.0.1", keyed_server->port()});
  (void)open_client.request("PUT", "/s3/bench");
  (void)open_client.request("PUT", "/s3/bench/obj", std::string(1024, 'x'));

  http::Headers bearer{{"Authorization", "Bearer " + made->token}};
  std::string host = "127.0.0.1:" + std::to_string(keyed_server->port());
  auth::testing::S3Signer signer{token.id, token.secret, amz_now()};
  auto sigv4 = auth::testing::sign_s3(signer, "GET", host, "/s3/bench/obj", "",
                                      auth::testing::sha256_hex(""))
                   .headers;
  auto get = [](http::Client& c, const http::Headers& h) {
    return [&c, &h] {
      auto r = c.request("GET", "/s3/bench/obj", {}, h);
      if (!r || r->status != 200) {
        std::fprintf(stderr, "GET failed: %d %s\n", r ? r->status : 0, r ? r->body.c_str() : "");
        std::exit(1);
      }
    };
  };
  std::printf("GET /s3/bench/obj (1 KiB), kept-alive, p50 of %d per round\n", n);
  std::printf("round  no keys (us)  Bearer (us)  SigV4 (us)\n");
  for (int r = 0; r < rounds; ++r) {
    double a = p50_us(n, get(open_client, {}));
    double b = p50_us(n, get(keyed_client, bearer));
    double c = p50_us(n, get(keyed_client, sigv4));
    std::printf("%5d  %12.1f  %11.1f  %10.1f\n", r + 1, a, b, c);
  }
  // The check alone, in process: what a request spends in identify_s3().
  http::Request req;
  req.method = "GET";
  req.path = "/s3/bench/obj";
  req.target = req.path;
  req.headers = sigv4;
  auto identify = [&](const http::Request& r) {
    return [&checked, &r] {
      if (!storage::identify_s3(checked, r)) std::exit(1);
    };
  };
  http::Request bearer_req = req;
  bearer_req.headers = bearer;
  std::printf("identify_s3 alone, p50 of %d: Bearer %.1f us, SigV4 %.1f us\n", n,
              p50_us(n, identify(bearer_req)), p50_us(n, identify(req)));
  keyed_server->stop();
  open_server->stop();
  service->stop();
  std::filesystem::remove_all(dir);
  return 0;
}
