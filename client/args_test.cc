#include "client/args.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ptune::client {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

const std::vector<FlagSpec>& Specs() {
  static const auto* specs = new std::vector<FlagSpec>{
      {"name", "N", "The name."}, {"epochs", "N", "Epochs."},
      {"lr", "X", "Rate."},       {"lengths", "A,B", "Lengths."},
      {"wait", "", "Wait."},      {"json", "", "JSON."}};
  return *specs;
}

TEST(ArgsTest, ValuesInBothFormsAndPositionalsAnywhere) {
  absl::StatusOr<ParsedArgs> args = ParseArgs(
      {"first", "--name", "sent", "--epochs=3", "second", "--wait"}, Specs());
  ASSERT_TRUE(args.ok()) << args.status();
  EXPECT_EQ(args->GetString("name"), "sent");
  EXPECT_EQ(*args->GetInt("epochs", 0), 3);
  EXPECT_TRUE(args->GetBool("wait"));
  EXPECT_FALSE(args->GetBool("json"));
  EXPECT_THAT(args->positional, ElementsAre("first", "second"));
  EXPECT_FALSE(args->help);
}

TEST(ArgsTest, DefaultsWhenAbsent) {
  absl::StatusOr<ParsedArgs> args = ParseArgs({}, Specs());
  ASSERT_TRUE(args.ok());
  EXPECT_EQ(args->GetString("name", "dflt"), "dflt");
  EXPECT_EQ(*args->GetInt("epochs", 7), 7);
  EXPECT_DOUBLE_EQ(*args->GetDouble("lr", 0.5), 0.5);
  EXPECT_TRUE(args->GetList("lengths").empty());
}

TEST(ArgsTest, DoubleDashEndsFlagsAndDashTextsArePositional) {
  absl::StatusOr<ParsedArgs> args =
      ParseArgs({"-5 degrees", "--", "--name", "-h"}, Specs());
  ASSERT_TRUE(args.ok()) << args.status();
  EXPECT_THAT(args->positional, ElementsAre("-5 degrees", "--name", "-h"));
  EXPECT_FALSE(args->Has("name"));
  EXPECT_FALSE(args->help);
}

TEST(ArgsTest, Help) {
  EXPECT_TRUE(ParseArgs({"--help"}, Specs())->help);
  EXPECT_TRUE(ParseArgs({"-h"}, Specs())->help);
}

TEST(ArgsTest, Lists) {
  absl::StatusOr<ParsedArgs> args =
      ParseArgs({"--lengths", " 8, 16,,32 "}, Specs());
  ASSERT_TRUE(args.ok());
  EXPECT_THAT(args->GetList("lengths"), ElementsAre("8", "16", "32"));
  EXPECT_THAT(*args->GetIntList("lengths"), ElementsAre(8, 16, 32));
  args = ParseArgs({"--lengths", "8,x"}, Specs());
  EXPECT_THAT(args->GetIntList("lengths").status().message(),
              HasSubstr("\"x\" is not an integer"));
}

TEST(ArgsTest, BoolValues) {
  EXPECT_FALSE(ParseArgs({"--wait=false"}, Specs())->GetBool("wait"));
  EXPECT_TRUE(ParseArgs({"--wait=1"}, Specs())->GetBool("wait"));
  EXPECT_EQ(ParseArgs({"--wait=maybe"}, Specs()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ArgsTest, Errors) {
  absl::StatusOr<ParsedArgs> unknown = ParseArgs({"--nmae", "x"}, Specs());
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(unknown.status().message(), HasSubstr("unknown flag --nmae"));
  absl::StatusOr<ParsedArgs> missing = ParseArgs({"--name"}, Specs());
  EXPECT_THAT(missing.status().message(), HasSubstr("--name needs a value"));
  absl::StatusOr<ParsedArgs> twice =
      ParseArgs({"--name", "a", "--name=b"}, Specs());
  EXPECT_THAT(twice.status().message(), HasSubstr("more than once"));
  absl::StatusOr<ParsedArgs> bad_int = ParseArgs({"--epochs", "3x"}, Specs());
  ASSERT_TRUE(bad_int.ok());
  EXPECT_THAT(bad_int->GetInt("epochs", 0).status().message(),
              HasSubstr("--epochs: \"3x\" is not an integer"));
  absl::StatusOr<ParsedArgs> bad_double = ParseArgs({"--lr", "fast"}, Specs());
  EXPECT_THAT(bad_double->GetDouble("lr", 0).status().message(),
              HasSubstr("is not a number"));
}

TEST(ArgsTest, HelpListsEveryFlagAligned) {
  EXPECT_EQ(FlagsHelp({{"name", "N", "The name."}, {"wait", "", "Wait."}}),
            "  --name N  The name.\n"
            "  --wait    Wait.\n");
}

}  // namespace
}  // namespace ptune::client
