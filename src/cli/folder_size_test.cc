#include "cli/folder_size.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace kumo::cli {
namespace {

namespace fs = std::filesystem;

void write(const fs::path& path, size_t bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << std::string(bytes, 'x');
}

TEST(FolderBytes, SumsTheFilesAPackageWouldHold) {
  fs::path dir = fs::path(testing::TempDir()) / "cli-folder-bytes";
  fs::remove_all(dir);
  write(dir / "kumo.yaml", 10);
  write(dir / "lib" / "model.bin", 1000);
  write(dir / ".git" / "objects" / "pack", 5000);
  write(dir / "node_modules" / "x" / "index.js", 7000);
  write(dir / "lib" / "__pycache__" / "m.pyc", 3000);
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
}  // namespace kumo::cli
