// Precision parity for the engine tests (CPU bfloat16 in engine_test, GPU
// bfloat16 / float16 in tests/cuda): the prompts of every serving path, and
// a check that an engine over a half-precision backbone answers as one over
// float32 does. Test-only.
#ifndef PTUNE_SERVER_ENGINE_TEST_PARITY_H_
#define PTUNE_SERVER_ENGINE_TEST_PARITY_H_

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "server/engine/engine.h"
#include "server/engine/test_loader.h"
#include "server/training/bio.h"

namespace ptune::engine::testing {

// The prompts of every serving path: cls / mean / [MASK]-template pooling,
// shallow prefix / infix / prefix+infix, deep, case embeddings, tagging
// (shallow, deep, cased). Adds them to `loader` under tenant "parity".
struct ParityPrompts {
  std::vector<PromptKey> classify;
  std::vector<PromptKey> tag;
};
inline ParityPrompts AddParityPrompts(TestLoader& loader) {
  const auto key = [](const std::string& name) { return PromptKey{"parity", name, 1}; };
  const std::vector<std::string> bio = training::BioLabelSet({"LOC", "ORG", "PER"});
  prompts::PromptSpec infix = Shallow(12);
  infix.placement = prompts::Placement::kInfix;
  prompts::PromptSpec prefix_infix = Shallow(6);
  prefix_infix.placement = prompts::Placement::kPrefixInfix;
  prefix_infix.pooling = prompts::HeadPooling::kMean;
  prompts::PromptSpec mask = Shallow(6);
  mask.init = prompts::PromptInit::kVocab;
  mask.template_text = "<soft:2> {text} It was <soft:4> [MASK] .";
  mask.pooling = prompts::HeadPooling::kMask;
  prompts::PromptSpec cased = Deep(4);
  cased.case_embeddings = true;
  ParityPrompts p;
  const std::vector<std::pair<std::string, Recipe>> classify = {
      {"cls_s4", Recipe{.spec = Shallow(4), .seed = 1}},
      {"cls_infix", Recipe{.spec = infix, .seed = 2}},
      {"cls_d8", Recipe{.labels = {"a", "b", "c"}, .spec = Deep(8), .seed = 3}},
      {"cls_mean", Recipe{.spec = prefix_infix, .seed = 4}},
      {"cls_mask", Recipe{.spec = mask, .seed = 7}},
      {"cls_cased", Recipe{.spec = cased, .seed = 8}},
  };
  for (const auto& [name, recipe] : classify) {
    loader.Add(key(name), recipe);
    p.classify.push_back(key(name));
  }
  const std::vector<std::pair<std::string, Recipe>> tag = {
      {"tag_s5", Recipe{.task = datasets::Task::kTag, .labels = bio, .spec = Shallow(5), .seed = 5}},
      {"tag_d6", Recipe{.task = datasets::Task::kTag, .labels = bio, .spec = Deep(6), .seed = 6}},
      {"tag_cased", Recipe{.task = datasets::Task::kTag, .labels = bio, .spec = cased, .seed = 9}},
  };
  for (const auto& [name, recipe] : tag) {
    loader.Add(key(name), recipe);
    p.tag.push_back(key(name));
  }
  return p;
}

// Real sentences for both tasks.
inline std::vector<std::string> ParityTexts() {
  return {"the acting was superb and the story moving",
          "a dull , lifeless film that never finds its feet",
          "Angela Merkel met Emmanuel Macron in Paris on Monday",
          "Shares of Siemens rose after the announcement in Berlin"};
}

struct ParityReport {
  double worst = 0;         // largest probability difference
  int compared_labels = 0;  // texts whose reference margin allowed a label check
  int entities = 0;         // reference entities
  int same_entities = 0;    // of them, found identically by `other`
};

// Every call in flight at once on each engine (so that batches mix every
// prompt), then per classify text: each probability within `tolerance`, and
// the same label wherever the reference's margin exceeds 2 x tolerance; per
// tag text: the reference's entities (type and span) found by `other`.
inline ParityReport CompareAnswers(Engine& reference, Engine& other,
                                   const ParityPrompts& prompts,
                                   const std::vector<std::string>& texts,
                                   double tolerance) {
  struct Pending {
    absl::Notification done;
    absl::StatusOr<ClassifyResponse> classify = absl::UnknownError("not answered");
    absl::StatusOr<TagResponse> tag = absl::UnknownError("not answered");
  };
  const auto run = [&](Engine& engine) {
    std::vector<std::unique_ptr<Pending>> calls;
    for (const PromptKey& key : prompts.classify) {
      calls.push_back(std::make_unique<Pending>());
      Pending* call = calls.back().get();
      engine.Classify({.key = key, .texts = texts}, [call](auto r) {
        call->classify = std::move(r);
        call->done.Notify();
      });
    }
    for (const PromptKey& key : prompts.tag) {
      calls.push_back(std::make_unique<Pending>());
      Pending* call = calls.back().get();
      engine.TagEntities({.key = key, .texts = texts}, [call](auto r) {
        call->tag = std::move(r);
        call->done.Notify();
      });
    }
    for (auto& call : calls) call->done.WaitForNotification();
    return calls;
  };
  const auto want = run(reference);
  const auto got = run(other);
  ParityReport report;
  for (size_t p = 0; p < prompts.classify.size(); ++p) {
    const std::string name = prompts.classify[p].DebugString();
    const auto& f = want[p]->classify;
    const auto& h = got[p]->classify;
    EXPECT_TRUE(f.ok()) << name << ": " << f.status();
    EXPECT_TRUE(h.ok()) << name << ": " << h.status();
    if (!f.ok() || !h.ok()) continue;
    for (size_t i = 0; i < texts.size(); ++i) {
      const ClassifyResult& a = f->results[i];
      const ClassifyResult& b = h->results[i];
      EXPECT_EQ(a.probabilities.size(), b.probabilities.size());
      double best = 0, second = 0;
      for (size_t c = 0; c < std::min(a.probabilities.size(), b.probabilities.size()); ++c) {
        const double d = std::abs(a.probabilities[c].second - b.probabilities[c].second);
        report.worst = std::max(report.worst, d);
        EXPECT_LE(d, tolerance) << name << " text " << i;
        const double q = a.probabilities[c].second;
        if (q > best) {
          second = best;
          best = q;
        } else {
          second = std::max(second, q);
        }
      }
      if (best - second > 2 * tolerance) {
        ++report.compared_labels;
        EXPECT_EQ(a.label, b.label) << name << " text " << i;
      }
    }
  }
  for (size_t p = 0; p < prompts.tag.size(); ++p) {
    const size_t call = prompts.classify.size() + p;
    const std::string name = prompts.tag[p].DebugString();
    const auto& f = want[call]->tag;
    const auto& h = got[call]->tag;
    EXPECT_TRUE(f.ok()) << name << ": " << f.status();
    EXPECT_TRUE(h.ok()) << name << ": " << h.status();
    if (!f.ok() || !h.ok()) continue;
    for (size_t i = 0; i < texts.size(); ++i) {
      for (const Entity& e : f->results[i].entities) {
        ++report.entities;
        for (const Entity& g : h->results[i].entities) {
          if (g.type == e.type && g.start == e.start && g.end == e.end) {
            ++report.same_entities;
            break;
          }
        }
      }
    }
  }
  return report;
}

}  // namespace ptune::engine::testing

#endif  // PTUNE_SERVER_ENGINE_TEST_PARITY_H_
