#include "cluster/package_store.h"

#include <nats/nats.h>

#include <fmt/format.h>

#include "common/digest.h"
#include "common/json.h"

namespace kumo::cluster {
namespace {

Error nats_error(const std::string& what, natsStatus s, jsErrCode jerr = jsErrCode(0)) {
  std::string detail = natsStatus_GetText(s);
  if (const char* last = nats_GetLastError(nullptr); last != nullptr && *last != '\0') {
    detail = last;
  }
  if (jerr != 0) detail += fmt::format(" (JetStream error {})", static_cast<int>(jerr));
  return make_error(ErrorCode::kUnavailable, fmt::format("nats: {}: {}", what, detail));
}

bool is_sha256(std::string_view s) {
  return s.size() == 64 &&
         s.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

}  // namespace

struct PackageStore::Connection {
  natsOptions* opts = nullptr;
  natsConnection* conn = nullptr;
  jsCtx* js = nullptr;
  ~Connection() {
    if (js != nullptr) jsCtx_Destroy(js);
    if (conn != nullptr) natsConnection_Destroy(conn);
    if (opts != nullptr) natsOptions_Destroy(opts);
  }
};

PackageStore::PackageStore(PackageStoreOptions options)
    : options_(std::move(options)), nats_(std::make_unique<Connection>()) {}

PackageStore::~PackageStore() = default;

Result<std::unique_ptr<PackageStore>> PackageStore::open(const PackageStoreOptions& options) {
  std::unique_ptr<PackageStore> store(new PackageStore(options));
  Connection& c = *store->nats_;
  natsStatus st = natsOptions_Create(&c.opts);
  if (st == NATS_OK) st = natsOptions_SetURL(c.opts, options.url.c_str());
  if (st == NATS_OK) st = natsOptions_SetName(c.opts, "kumo packages");
  if (st == NATS_OK) st = natsOptions_SetTimeout(c.opts, 5000);
  if (st == NATS_OK) st = natsConnection_Connect(&c.conn, c.opts);
  if (st == NATS_OK) st = natsConnection_JetStream(&c.js, c.conn, nullptr);
  if (st != NATS_OK) return nats_error("connect to " + options.url, st);

  jsErrCode jerr = jsErrCode(0);
  jsStreamInfo* info = nullptr;
  st = js_GetStreamInfo(&info, c.js, options.stream.c_str(), nullptr, &jerr);
  jsStreamInfo_Destroy(info);
  if (st == NATS_NOT_FOUND) {
    jsStreamConfig cfg;
    jsStreamConfig_Init(&cfg);
    cfg.Name = options.stream.c_str();
    const char* subjects[] = {"kumo.packages.>"};
    cfg.Subjects = subjects;
    cfg.SubjectsLen = 1;
    cfg.Storage = js_FileStorage;
    cfg.Replicas = options.replicas;
    cfg.MaxMsgsPerSubject = 1;
    cfg.MaxMsgSize = static_cast<int32_t>(kChunkBytes + 4096);
    jerr = jsErrCode(0);
    st = js_AddStream(nullptr, c.js, &cfg, nullptr, &jerr);
  }
  if (st != NATS_OK) return nats_error("stream " + options.stream, st, jerr);
  return store;
}

Result<void> PackageStore::publish(const std::string& subject, std::string_view data) {
  jsErrCode jerr = jsErrCode(0);
  natsStatus st = js_Publish(nullptr, nats_->js, subject.c_str(), data.data(),
                             static_cast<int>(data.size()), nullptr, &jerr);
  if (st != NATS_OK) return nats_error("publish " + subject, st, jerr);
  return {};
}

Result<std::optional<std::string>> PackageStore::last(const std::string& subject) {
  natsMsg* msg = nullptr;
  jsErrCode jerr = jsErrCode(0);
  natsStatus st =
      js_GetLastMsg(&msg, nats_->js, options_.stream.c_str(), subject.c_str(), nullptr, &jerr);
  if (st == NATS_NOT_FOUND || jerr == JSNoMessageFoundErr) return std::optional<std::string>();
  if (st != NATS_OK) return nats_error("read " + subject, st, jerr);
  std::string data(natsMsg_GetData(msg), static_cast<size_t>(natsMsg_GetDataLength(msg)));
  natsMsg_Destroy(msg);
  return std::optional<std::string>(std::move(data));
}

Result<std::string> PackageStore::put(std::string_view bytes) {
  if (bytes.size() > options_.max_package_bytes) {
    return make_error(ErrorCode::kTooLarge,
                      fmt::format("a package of {} bytes is over the {} byte limit",
                                  bytes.size(), options_.max_package_bytes));
  }
  std::string sha = sha256_hex(bytes);
  std::string base = "kumo.packages." + sha + ".";
  auto meta = last(base + "meta");
  if (!meta) return meta.error();
  if (*meta) return sha;  // stored before, whole: the meta is written last
  size_t chunks = 0;
  for (size_t at = 0; at < bytes.size() || chunks == 0; at += kChunkBytes, ++chunks) {
    auto done = publish(base + std::to_string(chunks), bytes.substr(at, kChunkBytes));
    if (!done) return done.error();
  }
  nlohmann::json m = {{"sha256", sha}, {"size", bytes.size()}, {"chunks", chunks}};
  if (auto done = publish(base + "meta", m.dump()); !done) return done.error();
  return sha;
}

Result<std::string> PackageStore::get(const std::string& sha256) {
  if (!is_sha256(sha256)) {
    return make_error(ErrorCode::kInvalidArgument, "a package is named by its lower-case sha256");
  }
  std::string base = "kumo.packages." + sha256 + ".";
  auto meta = last(base + "meta");
  if (!meta) return meta.error();
  if (!*meta) return make_error(ErrorCode::kNotFound, "no package " + sha256 + " in the cluster");
  auto m = parse_json(**meta);
  if (!m || !m->is_object() || !(*m)["chunks"].is_number_unsigned() ||
      !(*m)["size"].is_number_unsigned() ||
      (*m)["size"].get<uint64_t>() > options_.max_package_bytes) {
    return make_error(ErrorCode::kInternal, "package " + sha256 + ": its meta is damaged");
  }
  std::string out;
  out.reserve((*m)["size"].get<size_t>());
  for (uint64_t i = 0, n = (*m)["chunks"].get<uint64_t>(); i < n; ++i) {
    auto chunk = last(base + std::to_string(i));
    if (!chunk) return chunk.error();
    if (!*chunk || out.size() + (*chunk)->size() > options_.max_package_bytes) {
      return make_error(ErrorCode::kInternal, "package " + sha256 + ": a chunk is missing");
    }
    out += **chunk;
  }
  if (sha256_hex(out) != sha256) {
    return make_error(ErrorCode::kInternal,
                      "package " + sha256 + ": what is stored does not hash to its name");
  }
  return out;
}

}  // namespace kumo::cluster
