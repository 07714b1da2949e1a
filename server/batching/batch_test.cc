#include "server/batching/batch.h"

#include <memory>

#include "gtest/gtest.h"
#include "server/batching/task.h"

namespace ptune::batching {
namespace {

TEST(BatchTest, PaddingRatioIsPaddedOverRealMinusOne) {
  Batch<Task> batch;
  EXPECT_EQ(batch.padding_ratio(), 0.0);
  batch.Add(std::make_unique<Task>("a", 10));
  EXPECT_EQ(batch.padding_ratio(), 0.0);
  batch.Add(std::make_unique<Task>("b", 30));
  EXPECT_EQ(batch.max_tokens(), 30);
  EXPECT_EQ(batch.real_tokens(), 40);
  EXPECT_EQ(batch.padded_tokens(), 60);
  EXPECT_DOUBLE_EQ(batch.padding_ratio(), 0.5);
}

TEST(TaskTest, FailRunsTheHookOnceAndCancelledPolls) {
  Task task("a", 5);
  EXPECT_FALSE(task.cancelled());
  bool cancelled = false;
  task.set_is_cancelled([&] { return cancelled; });
  cancelled = true;
  EXPECT_TRUE(task.cancelled());
  int calls = 0;
  task.set_on_failed([&](absl::Status status) {
    ++calls;
    EXPECT_EQ(status.code(), absl::StatusCode::kCancelled);
  });
  task.Fail(absl::CancelledError("gone"));
  task.Fail(absl::CancelledError("again"));
  EXPECT_EQ(calls, 1);
}

}  // namespace
}  // namespace ptune::batching
