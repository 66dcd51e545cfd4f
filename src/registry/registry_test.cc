#include "registry/registry.h"

#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "common/check.h"
#include "registry/test_util.h"

namespace kumo::registry {
namespace {

namespace fs = std::filesystem;
using testing::file;
using testing::make_targz;
using testing::read_file;
using testing::TempDir;

std::string package(const std::string& name, const std::string& code, int memory = 128) {
  std::string yaml = "name: " + name +
                     "\nruntime: python3\nhandler: main.handle\nmemory: " + std::to_string(memory) +
                     "\n";
  return make_targz({file("kumo.yaml", yaml), file("main.py", code)});
}

struct Fixture {
  TempDir dir;
  std::unique_ptr<store::Database> db;
  std::unique_ptr<Registry> reg;

  Fixture() { reopen(); }
  void reopen(RegistryOptions options = {}) {
    reg.reset();
    db.reset();
    db = std::move(*store::Database::open((dir.path() / "kumo.db").string()));
    auto r = Registry::open(*db, (dir.path() / "data").string(), options);
    KUMO_CHECK(r.has_value());
    reg = std::move(*r);
  }
};

TEST(Registry, DeployStoresPackageAndUnpacksCode) {
  Fixture f;
  std::string targz = package("resize", "def handle(e, c): return 1\n", 256);
  auto v = f.reg->deploy(targz);
  ASSERT_TRUE(v.has_value()) << v.error().message;
  EXPECT_EQ(v->spec.name, "resize");
  EXPECT_EQ(v->spec.memory_mb, 256);
  EXPECT_EQ(v->version, 1);
  EXPECT_EQ(v->sha256, sha256_hex(targz));
  EXPECT_EQ(v->sha256.size(), 64u);
  EXPECT_EQ(v->package_bytes, targz.size());
  EXPECT_GT(v->created_at_us, 0);
  EXPECT_EQ(read_file(fs::path(v->code_dir) / "main.py"), "def handle(e, c): return 1\n");
  fs::path stored = f.dir.path() / "data" / "packages" / (v->sha256 + ".tar.gz");
  EXPECT_EQ(read_file(stored), targz);
}

TEST(Registry, ANumbererGivesTheVersionNumberOrRefusesTheDeploy) {
  Fixture f;
  int next = 7;
  std::vector<std::string> asked;
  f.reg->set_numberer([&](const FunctionSpec& spec, const std::string& sha, std::string_view) {
    asked.push_back(spec.name + " " + sha.substr(0, 8));
    return Result<int>(next);
  });
  std::string one = package("resize", "def handle(e, c): return 1\n");
  EXPECT_EQ(f.reg->deploy(one)->version, 7);
  EXPECT_TRUE(f.reg->deploy(one)->unchanged);  // not new: the numberer is not asked
  EXPECT_EQ(asked.size(), 1u);
  next = 3;  // not above the latest (7): the registry's own next
  EXPECT_EQ(f.reg->deploy(package("resize", "def handle(e, c): return 2\n"))->version, 8);
  f.reg->set_numberer([](const FunctionSpec&, const std::string&, std::string_view) {
    return Result<int>(make_error(ErrorCode::kUnavailable, "the catalogue is down"));
  });
  auto refused = f.reg->deploy(package("resize", "def handle(e, c): return 3\n"));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().message, "the catalogue is down");
  EXPECT_EQ(f.reg->get("resize")->version, 8);  // nothing recorded
  f.reg->set_numberer(nullptr);
  EXPECT_EQ(f.reg->deploy(package("resize", "def handle(e, c): return 3\n"))->version, 9);
}

TEST(Registry, AModelPackageMustHoldItsModelFile) {
  Fixture f;
  std::string yaml = "name: m\nruntime: model\nhandler: models/net.onnx\n";
  auto missing = f.reg->deploy(make_targz({file("kumo.yaml", yaml)}));
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(missing.error().message.find("models/net.onnx"), std::string::npos);
  std::string outside = "name: m\nruntime: model\nhandler: ../../kumo.db\n";
  EXPECT_FALSE(f.reg->deploy(make_targz({file("kumo.yaml", outside)})).has_value());
  auto ok = f.reg->deploy(make_targz({file("kumo.yaml", yaml), file("models/net.onnx", "x")}));
  ASSERT_TRUE(ok.has_value()) << ok.error().message;
}

TEST(Registry, KnownDigest) {
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Registry, EachDeployIsTheNextVersion) {
  Fixture f;
  ASSERT_EQ(f.reg->deploy(package("resize", "v1"))->version, 1);
  ASSERT_EQ(f.reg->deploy(package("resize", "v2"))->version, 2);
  // An older package again: a new version sharing the stored code.
  auto again = f.reg->deploy(package("resize", "v1"));
  ASSERT_TRUE(again.has_value()) << again.error().message;
  EXPECT_EQ(again->version, 3);
  EXPECT_FALSE(again->unchanged);
  EXPECT_EQ(read_file(fs::path(again->code_dir) / "main.py"), "v1");
  ASSERT_EQ(f.reg->deploy(package("other", "x"))->version, 1);

  auto latest = f.reg->get("resize");
  ASSERT_TRUE(latest.has_value());
  EXPECT_EQ(latest->version, 3);
  auto all = f.reg->versions("resize");
  ASSERT_TRUE(all.has_value());
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0].version, 1);
  EXPECT_EQ((*all)[0].code_dir, again->code_dir);
  EXPECT_EQ(f.reg->get_version("resize", 2)->version, 2);
  EXPECT_EQ(f.reg->get_version("resize", 9).error().code, ErrorCode::kNotFound);
}

TEST(Registry, RedeployOfTheLatestPackageIsUnchanged) {
  Fixture f;
  auto first = f.reg->deploy(package("resize", "v1"));
  ASSERT_TRUE(first.has_value()) << first.error().message;
  EXPECT_FALSE(first->unchanged);
  auto same = f.reg->deploy(package("resize", "v1"));
  ASSERT_TRUE(same.has_value()) << same.error().message;
  EXPECT_TRUE(same->unchanged);
  EXPECT_EQ(same->version, 1);
  EXPECT_EQ(same->sha256, first->sha256);
  EXPECT_EQ(same->created_at_us, first->created_at_us);
  EXPECT_EQ(f.reg->versions("resize")->size(), 1u);

  f.reopen();  // as after a server restart
  auto after_restart = f.reg->deploy(package("resize", "v1"));
  ASSERT_TRUE(after_restart.has_value());
  EXPECT_TRUE(after_restart->unchanged);
  EXPECT_EQ(after_restart->version, 1);
  EXPECT_EQ(f.reg->versions("resize")->size(), 1u);
}

TEST(Registry, RedeployAfterRemoveIsANewVersion) {
  Fixture f;
  ASSERT_TRUE(f.reg->deploy(package("resize", "v1")).has_value());
  ASSERT_TRUE(f.reg->remove("resize").has_value());
  auto back = f.reg->deploy(package("resize", "v1"));
  ASSERT_TRUE(back.has_value()) << back.error().message;
  EXPECT_FALSE(back->unchanged);
  EXPECT_EQ(back->version, 2);
}

TEST(Registry, ListShowsLatestOfEachSortedByName) {
  Fixture f;
  ASSERT_TRUE(f.reg->deploy(package("zeta", "1")).has_value());
  ASSERT_TRUE(f.reg->deploy(package("alpha", "1")).has_value());
  ASSERT_TRUE(f.reg->deploy(package("alpha", "2")).has_value());
  auto all = f.reg->list();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].spec.name, "alpha");
  EXPECT_EQ(all[0].version, 2);
  EXPECT_EQ(all[1].spec.name, "zeta");
}

TEST(Registry, UnknownFunctionIsNotFound) {
  Fixture f;
  auto r = f.reg->get("resize");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(r.error().message, "function 'resize' not found; `kumo ls` lists the deployed ones");
  EXPECT_EQ(f.reg->versions("resize").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(f.reg->remove("resize").error().code, ErrorCode::kNotFound);
}

TEST(Registry, RemoveHidesFunctionAndVersionsNeverRepeat) {
  Fixture f;
  ASSERT_TRUE(f.reg->deploy(package("resize", "1")).has_value());
  ASSERT_TRUE(f.reg->deploy(package("resize", "2")).has_value());
  ASSERT_TRUE(f.reg->remove("resize").has_value());
  EXPECT_EQ(f.reg->get("resize").error().code, ErrorCode::kNotFound);
  EXPECT_TRUE(f.reg->list().empty());
  EXPECT_EQ(f.reg->remove("resize").error().code, ErrorCode::kNotFound);
  auto back = f.reg->deploy(package("resize", "3"));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->version, 3);
  EXPECT_EQ(f.reg->get("resize")->version, 3);
}

TEST(RegistryGarbage, RemoveCollectsTheCodeOfEveryVersionNothingElseUses) {
  Fixture f;
  auto v1 = f.reg->deploy(package("resize", "1"));
  auto v2 = f.reg->deploy(package("resize", "2"));
  auto other = f.reg->deploy(package("thumb", "1"));
  ASSERT_TRUE(v1 && v2 && other);
  fs::path packages = f.dir.path() / "data" / "packages";

  ASSERT_TRUE(f.reg->remove("resize").has_value());

  EXPECT_FALSE(fs::exists(v1->code_dir));
  EXPECT_FALSE(fs::exists(v2->code_dir));
  EXPECT_FALSE(fs::exists(packages / (v1->sha256 + ".tar.gz")));
  EXPECT_FALSE(fs::exists(packages / (v2->sha256 + ".tar.gz")));
  EXPECT_TRUE(fs::exists(fs::path(other->code_dir) / "main.py"));
  EXPECT_TRUE(fs::exists(packages / (other->sha256 + ".tar.gz")));
}

TEST(RegistryGarbage, EveryVersionOfADeployedFunctionKeepsItsCode) {
  Fixture f;
  auto v1 = f.reg->deploy(package("resize", "1"));
  auto v2 = f.reg->deploy(package("resize", "2"));
  ASSERT_TRUE(v1 && v2);
  EXPECT_EQ(*f.reg->collect_garbage(), 0);
  EXPECT_EQ(read_file(fs::path(f.reg->get_version("resize", 1)->code_dir) / "main.py"), "1");
}

TEST(RegistryGarbage, CodeALiveInstanceRunsFromStaysUntilItEnds) {
  Fixture f;
  auto v1 = f.reg->deploy(package("resize", "1"));
  ASSERT_TRUE(v1);
  bool running = true;
  f.reg->set_code_in_use([&](const std::string& dir) { return running && dir == v1->code_dir; });
  ASSERT_TRUE(f.reg->remove("resize").has_value());
  EXPECT_TRUE(fs::exists(v1->code_dir));
  running = false;
  EXPECT_EQ(*f.reg->collect_garbage(), 1);
  EXPECT_FALSE(fs::exists(v1->code_dir));
}

TEST(RegistryGarbage, ARedeployAfterRemoveShowsOnlyItsOwnVersions) {
  Fixture f;
  ASSERT_TRUE(f.reg->deploy(package("resize", "1")));
  ASSERT_TRUE(f.reg->remove("resize").has_value());
  auto back = f.reg->deploy(package("resize", "2"));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->version, 2);
  auto versions = f.reg->versions("resize");
  ASSERT_TRUE(versions);
  ASSERT_EQ(versions->size(), 1u);
  EXPECT_EQ(f.reg->get_version("resize", 1).error().code, ErrorCode::kNotFound);
}

TEST(Registry, StatePersistsAcrossReopen) {
  Fixture f;
  ASSERT_TRUE(f.reg->deploy(package("resize", "1", 512)).has_value());
  ASSERT_TRUE(f.reg->deploy(package("resize", "2", 1024)).has_value());
  ASSERT_TRUE(f.reg->deploy(package("gone", "1")).has_value());
  ASSERT_TRUE(f.reg->remove("gone").has_value());
  auto before = f.reg->get("resize");
  ASSERT_TRUE(before.has_value());

  f.reopen();
  auto after = f.reg->get("resize");
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(after->version, 2);
  EXPECT_EQ(after->spec.memory_mb, 1024);
  EXPECT_EQ(after->sha256, before->sha256);
  EXPECT_EQ(after->code_dir, before->code_dir);
  EXPECT_EQ(after->created_at_us, before->created_at_us);
  EXPECT_EQ(spec_to_json(after->spec), spec_to_json(before->spec));
  EXPECT_EQ(f.reg->versions("resize")->size(), 2u);
  EXPECT_EQ(f.reg->get("gone").error().code, ErrorCode::kNotFound);
  ASSERT_EQ(f.reg->list().size(), 1u);
  EXPECT_EQ(f.reg->deploy(package("gone", "again"))->version, 2);
}

TEST(Registry, TwoTenantsFunctionsOfOneNameAreKeptApartAcrossReopen) {
  Fixture f;
  auto to_tenant = [](std::string tenant) {
    return [tenant](FunctionSpec& spec) -> Result<void> {
      spec.name = tenant + "~" + spec.name;
      return {};
    };
  };
  ASSERT_TRUE(f.reg->deploy(package("resize", "def handle(e, c): return 1\n")).has_value());
  auto acme = f.reg->deploy(package("resize", "def handle(e, c): return 2\n"), to_tenant("acme"));
  ASSERT_TRUE(acme.has_value()) << acme.error().message;
  EXPECT_EQ(acme->spec.name, "acme~resize");
  EXPECT_EQ(acme->version, 1);
  f.reopen();
  auto got = f.reg->get("acme~resize");
  ASSERT_TRUE(got.has_value()) << got.error().message;
  EXPECT_EQ(read_file(fs::path(got->code_dir) / "main.py"), "def handle(e, c): return 2\n");
  std::vector<std::string> names;
  for (const auto& fv : f.reg->list()) names.push_back(fv.spec.name);
  EXPECT_EQ(names, (std::vector<std::string>{"acme~resize", "resize"}));
}

TEST(Registry, RejectsBadPackagesWithoutRecordingAnything) {
  Fixture f;
  auto bad_spec = f.reg->deploy(package("resize", "x", 64));
  ASSERT_FALSE(bad_spec.has_value());
  EXPECT_EQ(bad_spec.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(bad_spec.error().message, "memory: must be 128..10240 MB, got 64");
  auto hostile = f.reg->deploy(make_targz(
      {file("kumo.yaml", "name: evil\nruntime: exec\nhandler: x\n"), file("../../escape", "x")}));
  ASSERT_FALSE(hostile.has_value());
  EXPECT_EQ(hostile.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(f.reg->deploy("not a package").error().code, ErrorCode::kInvalidArgument);
  EXPECT_TRUE(f.reg->list().empty());
  EXPECT_TRUE(fs::is_empty(f.dir.path() / "data" / "code"));
  EXPECT_TRUE(fs::is_empty(f.dir.path() / "data" / "packages"));
}

TEST(Registry, RejectsOversizedPackage) {
  Fixture f;
  RegistryOptions small;
  small.max_package_bytes = 100;
  f.reopen(small);
  auto r = f.reg->deploy(package("resize", std::string(1000, 'x')) + std::string(200, '\0'));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kTooLarge);
}

TEST(Registry, DeploysAPackedFolder) {
  Fixture f;
  TempDir src;
  testing::write_file(src.path() / "kumo.yaml", "name: hello\nruntime: exec\nhandler: ./serve\n");
  testing::write_file(src.path() / "serve", "#!/bin/sh\n");
  auto targz = pack_directory(src.path().string());
  ASSERT_TRUE(targz.has_value()) << targz.error().message;
  auto v = f.reg->deploy(*targz);
  ASSERT_TRUE(v.has_value()) << v.error().message;
  EXPECT_EQ(v->spec.runtime, Runtime::kExec);
  EXPECT_EQ(read_file(fs::path(v->code_dir) / "serve"), "#!/bin/sh\n");
}

TEST(Registry, ConcurrentDeploysGetDistinctVersions) {
  Fixture f;
  constexpr int kThreads = 4;
  constexpr int kEach = 5;
  std::vector<std::thread> threads;
  std::vector<std::vector<int>> seen(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        auto v = f.reg->deploy(package("busy", std::to_string(t * 100 + i)));
        if (v) seen[t].push_back(v->version);
      }
    });
  }
  for (auto& th : threads) th.join();
  std::set<int> versions;
  for (const auto& s : seen) versions.insert(s.begin(), s.end());
  EXPECT_EQ(versions.size(), size_t{kThreads * kEach});
  EXPECT_EQ(*versions.begin(), 1);
  EXPECT_EQ(*versions.rbegin(), kThreads * kEach);
  EXPECT_EQ(f.reg->get("busy")->version, kThreads * kEach);
}

}  // namespace
}  // namespace kumo::registry
