#include "registry/package.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "registry/test_util.h"

namespace kumo::registry {
namespace {

namespace fs = std::filesystem;
using testing::dir;
using testing::file;
using testing::hardlink;
using testing::make_targz;
using testing::read_file;
using testing::special;
using testing::symlink;
using testing::TempDir;
using testing::TestEntry;
using testing::write_file;

const std::string kYaml = "name: demo\nruntime: python3\nhandler: main.handle\n";

// Every path under `root`, relative, so a test can show that nothing was left behind.
std::vector<std::string> tree(const fs::path& root) {
  std::vector<std::string> out;
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator();
       ++it) {
    out.push_back(it->path().lexically_relative(root).string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Unpacks `targz` into a nested dest inside a fresh folder and expects it to be refused with
// `code`, leaving the whole folder empty (no dest, no temporary, nothing escaped).
void expect_rejected(const std::string& targz, ErrorCode code, const std::string& needle,
                     UnpackLimits limits = {}) {
  TempDir base;
  fs::path dest = base.path() / "a" / "b" / "out";
  fs::create_directories(dest.parent_path());
  auto r = unpack(targz, dest.string(), limits);
  ASSERT_FALSE(r.has_value()) << "accepted a package that should be refused: " << needle;
  EXPECT_EQ(r.error().code, code) << r.error().message;
  EXPECT_NE(r.error().message.find(needle), std::string::npos) << r.error().message;
  EXPECT_EQ(tree(base.path()), (std::vector<std::string>{"a", "a/b"}));
}

TEST(Unpack, RejectsDotDotTraversal) {
  expect_rejected(make_targz({file("kumo.yaml", kYaml), file("../../etc/passwd", "x")}),
                  ErrorCode::kInvalidArgument, "'../../etc/passwd'");
  expect_rejected(make_targz({file("ok/../../escaped", "x")}), ErrorCode::kInvalidArgument, "'..'");
}

TEST(Unpack, RejectsAbsolutePath) {
  expect_rejected(make_targz({file("/tmp/kumo_absolute_escape", "x")}), ErrorCode::kInvalidArgument,
                  "absolute");
  EXPECT_FALSE(fs::exists("/tmp/kumo_absolute_escape"));
}

TEST(Unpack, RejectsSymlinkPointingOut) {
  expect_rejected(make_targz({dir("lib"), symlink("lib/evil", "../../outside")}),
                  ErrorCode::kInvalidArgument, "'lib/evil'");
}

TEST(Unpack, RejectsSymlinkToAbsolutePath) {
  expect_rejected(make_targz({symlink("etc", "/etc")}), ErrorCode::kInvalidArgument,
                  "absolute path '/etc'");
}

TEST(Unpack, RejectsChainOfLinksThatEscapes) {
  // Each link looks harmless alone; followed on disk, x -> d/l1/.. -> (root)/.. leaves the tree.
  expect_rejected(make_targz({dir("d"), symlink("d/l1", ".."), symlink("x", "d/l1/..")}),
                  ErrorCode::kInvalidArgument, "'x'");
}

TEST(Unpack, RejectsWritingThroughASymlink) {
  auto r = make_targz({dir("sub"), symlink("s", "sub"), file("s/f.txt", "x")});
  expect_rejected(r, ErrorCode::kInvalidArgument, "'s'");
}

TEST(Unpack, RejectsHardLinks) {
  expect_rejected(make_targz({file("a.txt", "x"), hardlink("b.txt", "a.txt")}),
                  ErrorCode::kInvalidArgument, "hard link");
}

TEST(Unpack, RejectsDevicesAndFifos) {
  expect_rejected(make_targz({special("fifo", AE_IFIFO)}), ErrorCode::kInvalidArgument, "'fifo'");
  expect_rejected(make_targz({special("null", AE_IFCHR)}), ErrorCode::kInvalidArgument, "devices");
}

TEST(Unpack, RejectsTooManyEntries) {
  std::vector<TestEntry> entries;
  for (int i = 0; i < 6; ++i) entries.push_back(file("f" + std::to_string(i), "x"));
  expect_rejected(make_targz(entries), ErrorCode::kTooLarge, "more than 5 entries",
                  UnpackLimits{1 << 20, 5});
}

TEST(Unpack, RejectsTooManyBytes) {
  UnpackLimits limits{1 << 20, 100};
  std::string half(600 << 10, 'z');  // compresses to almost nothing: a small zip bomb
  expect_rejected(make_targz({file("a", half), file("b", half)}), ErrorCode::kTooLarge,
                  "more than 1 MiB", limits);
}

TEST(Unpack, RejectsBytesThatAreNotGzip) {
  expect_rejected("this is not a tarball at all", ErrorCode::kInvalidArgument, "not a tar.gz");
  std::string noise(100000, '\0');
  uint32_t x = 12345;
  for (char& c : noise) c = static_cast<char>((x = x * 1103515245 + 12345) >> 24);
  std::string good = make_targz({file("kumo.yaml", noise)});
  expect_rejected(good.substr(0, good.size() / 2), ErrorCode::kInvalidArgument, "");
}

TEST(Unpack, AcceptsNestedFoldersAndInternalSymlinks) {
  TempDir base;
  fs::path dest = base.path() / "code" / "abc";
  auto targz = make_targz({
      dir("./"),
      file("./kumo.yaml", kYaml),
      dir("app/lib/deep"),
      file("app/lib/deep/util.py", "def f(): pass\n"),
      symlink("app/current", "lib/deep"),
      symlink("app/lib/spec", "../../kumo.yaml"),
      file("run.sh", "#!/bin/sh\n", 0755),
  });
  auto r = unpack(targz, dest.string());
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(read_file(dest / "kumo.yaml"), kYaml);
  EXPECT_EQ(read_file(dest / "app/current/util.py"), "def f(): pass\n");
  EXPECT_EQ(read_file(dest / "app/lib/spec"), kYaml);
  EXPECT_EQ(fs::read_symlink(dest / "app/current"), "lib/deep");
  auto perms = fs::status(dest / "run.sh").permissions();
  EXPECT_NE(perms & fs::perms::owner_exec, fs::perms::none);
  // Only the final folder is left: no temporary sibling.
  EXPECT_EQ(tree(base.path() / "code"),
            (std::vector<std::string>{"abc", "abc/app", "abc/app/current", "abc/app/lib",
                                      "abc/app/lib/deep", "abc/app/lib/deep/util.py",
                                      "abc/app/lib/spec", "abc/kumo.yaml", "abc/run.sh"}));
}

TEST(Unpack, RefusesExistingDestination) {
  TempDir base;
  auto r = unpack(make_targz({file("kumo.yaml", kYaml)}), base.path().string());
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kConflict);
}

TEST(ReadSpec, FindsKumoYamlAtTheRoot) {
  auto plain = read_spec_from_package(make_targz({file("main.py", "x"), file("kumo.yaml", kYaml)}));
  ASSERT_TRUE(plain.has_value()) << plain.error().message;
  EXPECT_EQ(*plain, kYaml);
  auto dotted = read_spec_from_package(make_targz({file("./kumo.yaml", kYaml)}));
  ASSERT_TRUE(dotted.has_value());
  EXPECT_EQ(*dotted, kYaml);
}

TEST(ReadSpec, ReportsMissingOrOversizedSpec) {
  auto missing = read_spec_from_package(make_targz({file("sub/kumo.yaml", kYaml)}));
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(missing.error().message.find("no kumo.yaml"), std::string::npos);
  auto big = read_spec_from_package(make_targz({file("kumo.yaml", std::string(200, '#'))}), 100);
  ASSERT_FALSE(big.has_value());
  EXPECT_EQ(big.error().code, ErrorCode::kTooLarge);
  EXPECT_FALSE(read_spec_from_package("garbage").has_value());
}

TEST(Pack, RoundTripsAFunctionFolder) {
  TempDir src;
  write_file(src.path() / "kumo.yaml", kYaml);
  write_file(src.path() / "main.py", "def handle(e, c): return e\n");
  write_file(src.path() / "pkg/helper.py", "X = 1\n");
  write_file(src.path() / ".git/config", "[core]\n");
  write_file(src.path() / "__pycache__/main.cpython-311.pyc", "junk");
  write_file(src.path() / "pkg/__pycache__/helper.pyc", "junk");
  write_file(src.path() / "node_modules/left-pad/index.js", "junk");
  write_file(src.path() / ".kumo/state.db", "junk");
  fs::create_symlink("pkg/helper.py", src.path() / "helper.py");

  auto targz = pack_directory(src.path().string());
  ASSERT_TRUE(targz.has_value()) << targz.error().message;
  auto again = pack_directory(src.path().string());
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(*targz, *again) << "packing the same folder twice should give the same bytes";
  EXPECT_EQ(*read_spec_from_package(*targz), kYaml);

  TempDir out;
  ASSERT_TRUE(unpack(*targz, (out.path() / "code").string()).has_value());
  EXPECT_EQ(
      tree(out.path() / "code"),
      (std::vector<std::string>{"helper.py", "kumo.yaml", "main.py", "pkg", "pkg/helper.py"}));
  EXPECT_EQ(read_file(out.path() / "code/helper.py"), "X = 1\n");
}

TEST(Pack, RequiresKumoYaml) {
  TempDir src;
  write_file(src.path() / "main.py", "x");
  auto r = pack_directory(src.path().string());
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(r.error().message.find("no kumo.yaml"), std::string::npos);
  EXPECT_FALSE(pack_directory((src.path() / "missing").string()).has_value());
}

void write_bytes(const fs::path& path, size_t bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << std::string(bytes, 'x');
}

TEST(FolderBytes, SumsTheFilesAPackageWouldHold) {
  fs::path dir = fs::path(::testing::TempDir()) / "registry-folder-bytes";
  fs::remove_all(dir);
  write_bytes(dir / "kumo.yaml", 10);
  write_bytes(dir / "lib" / "model.bin", 1000);
  write_bytes(dir / ".git" / "objects" / "pack", 5000);
  write_bytes(dir / "node_modules" / "x" / "index.js", 7000);
  write_bytes(dir / "lib" / "__pycache__" / "m.pyc", 3000);
  fs::create_symlink(dir / "lib" / "model.bin", dir / "link.bin");
  auto bytes = folder_bytes(dir.string());
  ASSERT_TRUE(bytes.has_value()) << bytes.error().message;
  EXPECT_EQ(*bytes, 1010u);
  fs::remove_all(dir);
}

TEST(FolderBytes, AMissingFolderIsAnError) {
  auto bytes = folder_bytes("/nonexistent/folder");
  ASSERT_FALSE(bytes.has_value());
  EXPECT_EQ(bytes.error().code, ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace kumo::registry
