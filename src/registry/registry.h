// Registry: the deployed functions, their numbered versions and their code.
//
// deploy() takes a package (tar.gz with kumo.yaml at its root), stores it content-addressed
// under data_dir/packages/<sha256>.tar.gz, unpacks it once to data_dir/code/<sha256>/ and
// records version N+1 of the function in SQLite. Versions never repeat for a name, even after
// remove() and a new deploy. Metadata lives in the Database (tables registry_functions and
// registry_versions), code in plain files; reopening on the same files gives the same state.
//
// Code is collected (collect_garbage(), also run by deploy() and remove()): a package and
// its unpacked folder go once no version references them and no live instance runs from
// them. Every version of a deployed function stays invocable by number, so each keeps its
// code until the function is removed; remove() forgets the function's versions (a new
// deploy of the name starts from the next number, with only its own versions).
//
// Ownership: the Registry borrows the Database, which must outlive it. Thread-safety: every
// method is safe to call from any thread (one mutex guards the database and the folders).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/digest.h"
#include "common/result.h"
#include "registry/package.h"
#include "registry/spec.h"
#include "store/sqlite.h"

namespace kumo::registry {

struct FunctionVersion {
  FunctionSpec spec;
  int version = 0;            // 1, 2, ... per function name
  std::string sha256;         // of the package bytes, lower-case hex
  std::string code_dir;       // absolute path of the unpacked code; read-only by convention
  int64_t created_at_us = 0;  // wall clock, microseconds since the Unix epoch
  size_t package_bytes = 0;   // size of the tar.gz
  bool unchanged = false;     // deploy() only: this was already the latest version
};

struct RegistryOptions {
  size_t max_package_bytes = size_t{256} << 20;  // over this, deploy() is kTooLarge
  UnpackLimits unpack;
};

class Registry {
 public:
  // Creates the tables and data_dir/{packages,code} when missing.
  static Result<std::unique_ptr<Registry>> open(store::Database& db, std::string data_dir,
                                                RegistryOptions options = {});

  // Deploys a package as the next version of the function its kumo.yaml names. A package
  // with the same sha256 and spec as the latest version records nothing: that version comes
  // back with `unchanged` set. kInvalidArgument for a bad package or spec, kTooLarge over
  // the limits.
  // `admit` (optional) sees the parsed spec first and may refuse it (the caller's access or
  // a registry::SpecValidator, through functions::Functions) or rewrite its names (the
  // caller's tenant); its error fails the deploy before anything is stored.
  using SpecAdmit = std::function<Result<void>(FunctionSpec&)>;
  Result<FunctionVersion> deploy(std::string_view targz, const SpecAdmit& admit = nullptr);

  // Where a new version's number comes from besides this registry (cluster mode's
  // catalogue): called by deploy() once the version is known to be new, before anything is
  // recorded, with the spec as admitted, its sha256 and the package. It returns the number
  // to record, or an error that fails the deploy. A number not above this registry's latest
  // for the function is not used (the registry's next is, with a warning). None: the
  // registry counts alone. Thread-safe to set at any time.
  using Numberer = std::function<Result<int>(const FunctionSpec& spec, const std::string& sha,
                                             std::string_view targz)>;
  void set_numberer(Numberer numberer);

  // The latest version of a deployed function; kNotFound if unknown or removed.
  Result<FunctionVersion> get(const std::string& name);
  // One specific version; kNotFound if the function or that version is unknown.
  Result<FunctionVersion> get_version(const std::string& name, int version);
  // Every version of a deployed function, oldest first; kNotFound if unknown or removed.
  Result<std::vector<FunctionVersion>> versions(const std::string& name);
  // The latest version of every deployed function, sorted by name.
  std::vector<FunctionVersion> list();
  // Marks the function removed and forgets its versions; works on a full disk (the store's
  // freeing()). Then collects the code nothing else uses.
  Result<void> remove(const std::string& name);

  // Tells collect_garbage() which code folders (FunctionVersion::code_dir) live instances
  // run from; without it, none. Set it before serving.
  using CodeInUse = std::function<bool(const std::string& code_dir)>;
  void set_code_in_use(CodeInUse in_use) { code_in_use_ = std::move(in_use); }
  // Deletes every stored package and unpacked folder that no version references and no
  // live instance uses; returns how many packages went.
  Result<int> collect_garbage();

 private:
  Registry(store::Database& db, std::string data_dir, RegistryOptions options)
      : db_(db), data_dir_(std::move(data_dir)), options_(options) {}

  Result<std::optional<FunctionVersion>> unchanged_version(const FunctionSpec& spec,
                                                           const std::string& sha);
  Result<void> store_code(std::string_view targz, const std::string& sha);
  Result<void> check_model_file(const FunctionSpec& spec, const std::string& sha) const;
  // `given`: the numberer's number, 0 for none.
  Result<FunctionVersion> record_version(const FunctionSpec& spec, const std::string& sha,
                                         size_t bytes, int given);
  Result<std::vector<FunctionVersion>> query(std::string_view sql, const std::string& name,
                                             int version);
  Result<bool> is_deployed(const std::string& name);
  Result<int> collect_garbage_locked();

  std::mutex mu_;
  store::Database& db_;  // Guarded by mu_.
  const std::string data_dir_;
  const RegistryOptions options_;
  CodeInUse code_in_use_;
  Numberer numberer_;  // guarded by mu_
};

using kumo::sha256_hex;  // common/digest.h: packages' content addresses

}  // namespace kumo::registry
