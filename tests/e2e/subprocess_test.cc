#include "tests/e2e/subprocess.h"

#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ptune::e2e {
namespace {

std::string ScratchDir() { return std::filesystem::temp_directory_path().string(); }

TEST(RunCommandTest, CapturesStdoutStderrAndExitCode) {
  const CommandResult result = RunCommand(
      {"/bin/sh", "-c", "echo out; echo err >&2; exit 3"}, ScratchDir(),
      absl::Seconds(30));
  EXPECT_FALSE(result.timed_out);
  EXPECT_EQ(result.exit_code(), 3);
  EXPECT_EQ(result.out, "out\n");
  EXPECT_EQ(result.err, "err\n");
}

TEST(RunCommandTest, KillsACommandThatOverrunsItsTimeout) {
  const CommandResult result = RunCommand({"/bin/sleep", "30"}, ScratchDir(),
                                          absl::Milliseconds(200));
  EXPECT_TRUE(result.timed_out);
  EXPECT_EQ(result.exit_code(), -1);
  EXPECT_EQ(result.status.signal, SIGKILL);
}

TEST(RunCommandTest, AMissingBinaryIsReportedNotRun) {
  const CommandResult result =
      RunCommand({"/nonexistent/ptune"}, ScratchDir(), absl::Seconds(5));
  EXPECT_EQ(result.exit_code(), -1);
  EXPECT_THAT(result.err, ::testing::HasSubstr("not executable"));
}

TEST(SubprocessTest, SignalEndsTheChildAndWaitReportsTheSignal) {
  const std::string base = ScratchDir() + "/subprocess-test-" + std::to_string(getpid());
  auto child = Subprocess::Start({"/bin/sleep", "30"}, base + ".out", base + ".err");
  ASSERT_TRUE(child.ok()) << child.status();
  EXPECT_TRUE((*child)->Running());
  EXPECT_FALSE((*child)->Wait(absl::Milliseconds(50)).has_value());
  (*child)->Signal(SIGTERM);
  const std::optional<ExitStatus> status = (*child)->Wait(absl::Seconds(10));
  ASSERT_TRUE(status.has_value());
  EXPECT_FALSE(status->exited);
  EXPECT_EQ(status->signal, SIGTERM);
  EXPECT_FALSE((*child)->Running());
  std::filesystem::remove(base + ".out");
  std::filesystem::remove(base + ".err");
}

}  // namespace
}  // namespace ptune::e2e
