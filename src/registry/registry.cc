#include "registry/registry.h"

#include <fmt/format.h>
#include <openssl/evp.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "common/clock.h"
#include "common/ids.h"
#include "common/log.h"

namespace kumo::registry {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kSchema = R"sql(
CREATE TABLE IF NOT EXISTS registry_functions (
  name TEXT PRIMARY KEY,
  latest_version INTEGER NOT NULL,
  deleted INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS registry_versions (
  name TEXT NOT NULL,
  version INTEGER NOT NULL,
  spec_json TEXT NOT NULL,
  sha256 TEXT NOT NULL,
  package_bytes INTEGER NOT NULL,
  created_at_us INTEGER NOT NULL,
  PRIMARY KEY (name, version)
);
)sql";

// Columns every read selects, in the order row_to_version expects.
constexpr std::string_view kSelect =
    "SELECT v.version, v.spec_json, v.sha256, v.package_bytes, v.created_at_us "
    "FROM registry_versions v JOIN registry_functions f ON f.name = v.name "
    "WHERE f.deleted = 0 ";

Error not_found(const std::string& name) {
  return make_error(
      ErrorCode::kNotFound,
      fmt::format("function '{}' not found; `kumo ls` lists the deployed ones", name));
}

// Temporary files and folders left by a crash mid-deploy; nothing refers to them.
void remove_stale_temporaries(const fs::path& dir) {
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (name.starts_with('.') && name.find(".tmp-") != std::string::npos) {
      std::error_code ignored;
      fs::remove_all(it->path(), ignored);
    }
  }
}

Result<void> write_file_atomically(const fs::path& path, std::string_view bytes) {
  fs::path tmp =
      path.parent_path() / fmt::format(".{}.tmp-{}", path.filename().string(), new_short_id());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.flush();
    if (!out) {
      std::error_code ec;
      fs::remove(tmp, ec);
      return make_error(ErrorCode::kInternal, fmt::format("cannot write {}", tmp.string()));
    }
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) {
    fs::remove(tmp, ec);
    return make_error(ErrorCode::kInternal, fmt::format("cannot write {}", path.string()));
  }
  return {};
}

}  // namespace

Result<std::unique_ptr<Registry>> Registry::open(store::Database& db, std::string data_dir,
                                                 RegistryOptions options) {
  std::error_code ec;
  fs::path root = fs::absolute(data_dir, ec);
  if (!ec) fs::create_directories(root / "packages", ec);
  if (!ec) fs::create_directories(root / "code", ec);
  if (ec) {
    return make_error(
        ErrorCode::kInternal,
        fmt::format("cannot create the registry folders in '{}': {}", data_dir, ec.message()));
  }
  if (auto r = db.exec(kSchema); !r) return r.error();
  remove_stale_temporaries(root / "packages");
  remove_stale_temporaries(root / "code");
  return std::unique_ptr<Registry>(new Registry(db, root.string(), options));
}

Result<FunctionVersion> Registry::deploy(std::string_view targz, const SpecAdmit& admit) {
  if (targz.size() > options_.max_package_bytes) {
    return make_error(ErrorCode::kTooLarge,
                      fmt::format("package is {} MiB; the limit is {} MiB", targz.size() >> 20,
                                  options_.max_package_bytes >> 20));
  }
  auto text = read_spec_from_package(targz);
  if (!text) return text.error();
  auto spec = parse_spec(*text);
  if (!spec) return spec.error();
  if (admit) {
    if (auto admitted = admit(*spec); !admitted) return admitted.error();
  }
  std::string sha = sha256_hex(targz);

  std::lock_guard lock(mu_);
  auto same = unchanged_version(*spec, sha);
  if (!same) return same.error();
  if (*same) return std::move(**same);
  if (auto r = store_code(targz, sha); !r) return r.error();
  if (auto r = check_model_file(*spec, sha); !r) return r.error();
  int given = 0;
  if (numberer_) {
    auto numbered = numberer_(*spec, sha, targz);
    if (!numbered) return numbered.error();
    given = *numbered;
  }
  auto v = record_version(*spec, sha, targz.size(), given);
  if (v) {
    spdlog::info("deploy function={} version={} sha256={} bytes={}", v->spec.name, v->version,
                 sha.substr(0, 12), targz.size());
  }
  // What an earlier remove() left to its draining instances, or a refused deploy stored.
  if (auto collected = collect_garbage_locked(); !collected) {
    spdlog::warn("registry: collecting unused code failed: {}", collected.error().message);
  }
  return v;
}

// The latest version when it holds the same package and spec (a redeploy of an unchanged
// folder), marked unchanged; nullopt when a new version is due.
Result<std::optional<FunctionVersion>> Registry::unchanged_version(const FunctionSpec& spec,
                                                                   const std::string& sha) {
  auto rows = query("AND f.name = ? AND v.version = f.latest_version", spec.name, 0);
  if (!rows) return rows.error();
  if (rows->empty()) return std::nullopt;
  FunctionVersion& latest = rows->front();
  if (latest.sha256 != sha || spec_to_json(latest.spec) != spec_to_json(spec)) {
    return std::nullopt;
  }
  latest.unchanged = true;
  return std::move(latest);
}

// A model function's handler names its model file; a package without it could never serve.
Result<void> Registry::check_model_file(const FunctionSpec& spec, const std::string& sha) const {
  if (spec.runtime != Runtime::kModel) return {};
  fs::path code = fs::path(data_dir_) / "code" / sha;
  fs::path model = (code / spec.handler).lexically_normal();
  std::error_code ec;
  bool inside = model.string().starts_with(code.string() + "/");
  if (inside && fs::is_regular_file(model, ec)) return {};
  return make_error(ErrorCode::kInvalidArgument,
                    fmt::format("handler: the package has no model file '{}'; name the .onnx "
                                "file's path inside the package",
                                spec.handler));
}

// Content-addressed: a package already stored or unpacked is not written again. Unpacking
// comes first so that a package refused as unsafe leaves no file behind.
Result<void> Registry::store_code(std::string_view targz, const std::string& sha) {
  std::error_code ec;
  fs::path code = fs::path(data_dir_) / "code" / sha;
  if (!fs::exists(code, ec)) {
    if (auto r = unpack(targz, code.string(), options_.unpack); !r) return r;
  }
  fs::path package = fs::path(data_dir_) / "packages" / (sha + ".tar.gz");
  if (fs::exists(package, ec)) return {};
  return write_file_atomically(package, targz);
}

void Registry::set_numberer(Numberer numberer) {
  std::lock_guard lock(mu_);
  numberer_ = std::move(numberer);
}

Result<FunctionVersion> Registry::record_version(const FunctionSpec& spec, const std::string& sha,
                                                 size_t bytes, int given) {
  FunctionVersion v{spec,          0,    sha, (fs::path(data_dir_) / "code" / sha).string(),
                    wall_micros(), bytes};
  if (auto r = db_.exec("BEGIN IMMEDIATE"); !r) return r.error();
  auto body = [&]() -> Result<void> {
    // remove() forgets the versions but not the last number, which never repeats.
    auto max = db_.prepare(
        "SELECT MAX(COALESCE((SELECT MAX(version) FROM registry_versions WHERE name = ?1), 0), "
        "COALESCE((SELECT latest_version FROM registry_functions WHERE name = ?1), 0))");
    if (!max) return max.error();
    max->bind(1, std::string_view(spec.name));
    if (auto row = max->step(); !row) return row.error();
    v.version = static_cast<int>(max->int64(0)) + 1;
    if (given >= v.version) {
      v.version = given;
    } else if (given > 0) {
      spdlog::warn("registry: {} is given version {}, not above this registry's {}; "
                   "recording {}", spec.name, given, v.version - 1, v.version);
    }
    auto ins = db_.prepare(
        "INSERT INTO registry_versions (name, version, spec_json, sha256, package_bytes, "
        "created_at_us) VALUES (?, ?, ?, ?, ?, ?)");
    if (!ins) return ins.error();
    std::string json = spec_to_json(spec).dump();
    ins->bind(1, std::string_view(spec.name)).bind(2, int64_t{v.version});
    ins->bind(3, std::string_view(json)).bind(4, std::string_view(sha));
    ins->bind(5, static_cast<int64_t>(bytes)).bind(6, v.created_at_us);
    if (auto r = ins->run(); !r) return r;
    auto up = db_.prepare(
        "INSERT INTO registry_functions (name, latest_version, deleted) VALUES (?, ?, 0) "
        "ON CONFLICT(name) DO UPDATE SET latest_version = excluded.latest_version, deleted = 0");
    if (!up) return up.error();
    up->bind(1, std::string_view(spec.name)).bind(2, int64_t{v.version});
    return up->run();
  };
  if (auto r = body(); !r) {
    (void)db_.exec("ROLLBACK");
    return r.error();
  }
  if (auto r = db_.exec("COMMIT"); !r) {
    (void)db_.exec("ROLLBACK");
    return r.error();
  }
  return v;
}

// Runs a kSelect-based query with `name` bound first and, when version > 0, `version` second.
Result<std::vector<FunctionVersion>> Registry::query(std::string_view where,
                                                     const std::string& name, int version) {
  auto st = db_.prepare(std::string(kSelect) + std::string(where));
  if (!st) return st.error();
  if (!name.empty()) st->bind(1, std::string_view(name));
  if (version > 0) st->bind(2, int64_t{version});
  std::vector<FunctionVersion> out;
  for (;;) {
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) break;
    auto json = nlohmann::json::parse(st->text(1), nullptr, /*allow_exceptions=*/false);
    auto spec = spec_from_json(json);
    if (!spec) {
      return make_error(ErrorCode::kInternal,
                        fmt::format("stored spec of a version of '{}' is corrupt: {}", name,
                                    spec.error().message));
    }
    std::string sha = st->text(2);
    FunctionVersion v{std::move(*spec),
                      static_cast<int>(st->int64(0)),
                      sha,
                      (fs::path(data_dir_) / "code" / sha).string(),
                      st->int64(4),
                      static_cast<size_t>(st->int64(3))};
    out.push_back(std::move(v));
  }
  return out;
}

Result<FunctionVersion> Registry::get(const std::string& name) {
  std::lock_guard lock(mu_);
  auto rows = query("AND f.name = ? AND v.version = f.latest_version", name, 0);
  if (!rows) return rows.error();
  if (rows->empty()) return not_found(name);
  return std::move(rows->front());
}

Result<FunctionVersion> Registry::get_version(const std::string& name, int version) {
  std::lock_guard lock(mu_);
  auto rows = query("AND f.name = ? AND v.version = ?", name, version);
  if (!rows) return rows.error();
  if (rows->empty()) {
    auto deployed = is_deployed(name);
    if (!deployed) return deployed.error();
    if (!*deployed) return not_found(name);
    return make_error(ErrorCode::kNotFound,
                      fmt::format("function '{}' has no version {}; `kumo describe {}` lists its "
                                  "versions",
                                  name, version, name));
  }
  return std::move(rows->front());
}

Result<std::vector<FunctionVersion>> Registry::versions(const std::string& name) {
  std::lock_guard lock(mu_);
  auto rows = query("AND f.name = ? ORDER BY v.version", name, 0);
  if (!rows) return rows.error();
  if (rows->empty()) return not_found(name);
  return rows;
}

std::vector<FunctionVersion> Registry::list() {
  std::lock_guard lock(mu_);
  auto rows = query("AND v.version = f.latest_version ORDER BY f.name", "", 0);
  if (!rows) {
    spdlog::error("registry list failed: {}", rows.error().message);
    return {};
  }
  return std::move(*rows);
}

Result<bool> Registry::is_deployed(const std::string& name) {
  auto st = db_.prepare("SELECT 1 FROM registry_functions WHERE name = ? AND deleted = 0");
  if (!st) return st.error();
  st->bind(1, std::string_view(name));
  return st->step();
}

Result<void> Registry::remove(const std::string& name) {
  std::lock_guard lock(mu_);
  // Checked first rather than through changes(): the connection may be shared with other parts.
  auto deployed = is_deployed(name);
  if (!deployed) return deployed.error();
  if (!*deployed) return not_found(name);
  auto forget = [&]() -> Result<void> {
    if (auto r = db_.exec("BEGIN IMMEDIATE"); !r) return r;
    Result<void> r;
    for (const char* sql : {"UPDATE registry_functions SET deleted = 1 WHERE name = ?",
                            "DELETE FROM registry_versions WHERE name = ?"}) {
      auto st = db_.prepare(sql);
      if (!st) {
        r = st.error();
        break;
      }
      st->bind(1, std::string_view(name));
      if (r = st->run(); !r) break;
    }
    if (r) r = db_.exec("COMMIT");
    if (!r) (void)db_.exec("ROLLBACK");
    return r;
  };
  if (auto r = db_.freeing(forget); !r) return r;
  spdlog::info("remove function={}", name);
  if (auto collected = collect_garbage_locked(); !collected) {
    spdlog::warn("registry: collecting unused code failed: {}", collected.error().message);
  }
  return {};
}

Result<int> Registry::collect_garbage() {
  std::lock_guard lock(mu_);
  return collect_garbage_locked();
}

Result<int> Registry::collect_garbage_locked() {
  std::set<std::string> referenced;
  auto st = db_.prepare("SELECT DISTINCT sha256 FROM registry_versions");
  if (!st) return st.error();
  for (;;) {
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) break;
    referenced.insert(st->text(0));
  }
  fs::path packages = fs::path(data_dir_) / "packages";
  fs::path code = fs::path(data_dir_) / "code";
  std::set<std::string> stored;
  std::error_code ec;
  for (const fs::path& dir : {packages, code}) {
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      std::string name = it->path().filename().string();
      if (name.starts_with(".")) continue;  // a deploy's temporaries
      if (name.ends_with(".tar.gz")) name.resize(name.size() - 7);
      stored.insert(name);
    }
  }
  int collected = 0;
  for (const std::string& sha : stored) {
    if (referenced.contains(sha)) continue;
    if (code_in_use_ && code_in_use_((code / sha).string())) continue;
    fs::remove_all(code / sha, ec);
    fs::remove(packages / (sha + ".tar.gz"), ec);
    ++collected;
    spdlog::info("registry: collected the unused package {}", sha.substr(0, 12));
  }
  return collected;
}

}  // namespace kumo::registry
