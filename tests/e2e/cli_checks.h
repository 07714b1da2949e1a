// What the end-to-end tests check in the `ptune --json` output and the
// /metrics scrape: the shapes of classify and tag answers, equal scores,
// request counters. Failures are reported as gtest failures (EXPECT), so a
// test goes on to report every difference.
#ifndef PTUNE_TESTS_E2E_CLI_CHECKS_H_
#define PTUNE_TESTS_E2E_CLI_CHECKS_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/e2e/harness.h"
#include "tests/e2e/prometheus_text.h"
#include "tests/e2e/subprocess.h"

namespace ptune::e2e {

// client/cli.h ExitCode.
inline constexpr int kExitInvalidArgument = 2;
inline constexpr int kExitAuth = 3;
inline constexpr int kExitNotFound = 4;
inline constexpr int kExitPrecondition = 6;
inline constexpr int kExitJobNotSucceeded = 7;

// client/examples/<name> in the source tree.
std::string Example(const std::string& name);

// The binaries under test (PTUNE_SERVER_BIN, PTUNE_CLI_BIN) and the test
// backbone.
HarnessOptions DefaultHarnessOptions(std::vector<std::string> server_flags = {});

// Code points in the UTF-8 bytes `text`.
int CodePoints(const std::string& text);

// The one JSON object a command printed; the command must have exited 0.
nlohmann::json Parsed(const CommandResult& result);

// proto3 JSON prints int64 as strings and int32 as numbers.
int64_t Int(const nlohmann::json& value);

// Each text's per-label scores from `ptune classify --json`.
std::vector<std::map<std::string, double>> Scores(const nlohmann::json& response);

// The two classify answers have the same scores (1e-5).
void ExpectSameScores(const nlohmann::json& a, const nlohmann::json& b,
                      const std::string& what);

// One result per text, a probability per label summing to 1, the label is
// the argmax and its score the maximum.
void ExpectValidClassifications(const nlohmann::json& response, size_t texts,
                                const std::vector<std::string>& labels);

// Entities inside their text (code point and byte offsets agree, `text` is
// the substring, no overlaps), of one of `types`, scores in (0, 1]. Returns
// how many entities there were.
int ExpectValidEntities(const nlohmann::json& response,
                        const std::vector<std::string>& texts,
                        const std::set<std::string>& types);

// The entity types of a tag prompt (its labels are BIO tags).
std::set<std::string> EntityTypes(const nlohmann::json& prompt);

// A prompt's labels.
std::vector<std::string> Labels(const nlohmann::json& prompt);

// The last message of a `--wait --json` / `jobs watch --json` run.
nlohmann::json LastJob(const CommandResult& result);

// GET /metrics on the loopback port: the body, and the parsed samples.
std::string Metrics(int port);
std::vector<Sample> ParsedMetrics(int port);

// ptune_requests_total{method, code} (0 when absent).
double RequestCount(const std::vector<Sample>& samples, const std::string& method,
                    const std::string& code);

}  // namespace ptune::e2e

#endif  // PTUNE_TESTS_E2E_CLI_CHECKS_H_
