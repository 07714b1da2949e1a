#include "server/datasets/bio_tags.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/datasets/text_util.h"

namespace ptune::datasets {
namespace {

constexpr size_t kMaxTypeBytes = 64;

// seqeval's split of a tag into prefix character and type (non-suffix mode):
// tag = chunk[0]; type = chunk[1:].split('-', maxsplit=1)[-1] or '_'.
void SplitLikeSeqeval(absl::string_view chunk, char* prefix,
                      absl::string_view* type) {
  if (chunk.empty()) {
    *prefix = 'O';
    *type = "_";
    return;
  }
  *prefix = chunk[0];
  absl::string_view rest = chunk.substr(1);
  const size_t dash = rest.find('-');
  if (dash != absl::string_view::npos) rest = rest.substr(dash + 1);
  *type = rest.empty() ? absl::string_view("_") : rest;
}

// seqeval end_of_chunk.
bool EndOfChunk(char prev_tag, char tag, absl::string_view prev_type,
                absl::string_view type) {
  if (prev_tag == 'E' || prev_tag == 'S') return true;
  if ((prev_tag == 'B' || prev_tag == 'I') &&
      (tag == 'B' || tag == 'S' || tag == 'O')) {
    return true;
  }
  return prev_tag != 'O' && prev_tag != '.' && prev_type != type;
}

// seqeval start_of_chunk.
bool StartOfChunk(char prev_tag, char tag, absl::string_view prev_type,
                  absl::string_view type) {
  if (tag == 'B' || tag == 'S') return true;
  if ((prev_tag == 'E' || prev_tag == 'S' || prev_tag == 'O') &&
      (tag == 'E' || tag == 'I')) {
    return true;
  }
  return tag != 'O' && tag != '.' && prev_type != type;
}

}  // namespace

absl::Status ValidateEntityType(absl::string_view type) {
  if (type.empty()) return absl::InvalidArgumentError("empty entity type");
  if (type.size() > kMaxTypeBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("entity type longer than ", kMaxTypeBytes, " bytes"));
  }
  for (const char c : type) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7F) {
      return absl::InvalidArgumentError(
          absl::StrCat("entity type ", QuoteForMessage(type),
                       " contains whitespace or a control character"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<BioTag> ParseBioTag(absl::string_view tag) {
  if (tag == "O") return BioTag{};
  const std::string shown = QuoteForMessage(tag);
  if (tag.empty()) return absl::InvalidArgumentError("empty tag");
  if (tag.size() < 2 || tag[1] != '-' || (tag[0] != 'B' && tag[0] != 'I')) {
    return absl::InvalidArgumentError(absl::StrCat(
        "malformed tag ", shown, ": expected O, B-<type> or I-<type>"));
  }
  BioTag parsed;
  parsed.prefix = tag[0];
  parsed.type = std::string(tag.substr(2));
  if (parsed.type.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("malformed tag ", shown, ": missing entity type"));
  }
  const absl::Status type_ok = ValidateEntityType(parsed.type);
  if (!type_ok.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("malformed tag ", shown, ": ", type_ok.message()));
  }
  return parsed;
}

bool IsValidBioTag(absl::string_view tag) { return ParseBioTag(tag).ok(); }

std::vector<TagChunk> ChunkTags(const std::vector<std::string>& tags) {
  std::vector<TagChunk> chunks;
  char prev_tag = 'O';
  absl::string_view prev_type;  // seqeval starts with prev_type = ''.
  int begin = 0;
  const int n = static_cast<int>(tags.size());
  for (int i = 0; i <= n; ++i) {  // i == n is the 'O' seqeval appends.
    char tag;
    absl::string_view type;
    SplitLikeSeqeval(i < n ? absl::string_view(tags[i]) : "O", &tag, &type);
    if (EndOfChunk(prev_tag, tag, prev_type, type)) {
      chunks.push_back({std::string(prev_type), begin, i});
    }
    if (StartOfChunk(prev_tag, tag, prev_type, type)) begin = i;
    prev_tag = tag;
    prev_type = type;
  }
  return chunks;
}

std::vector<std::string> ToIob2(const std::vector<std::string>& tags) {
  std::vector<std::string> out(tags.size(), "O");
  for (const TagChunk& chunk : ChunkTags(tags)) {
    for (int i = chunk.begin; i < chunk.end; ++i) {
      out[i] = absl::StrCat(i == chunk.begin ? "B-" : "I-", chunk.type);
    }
  }
  return out;
}

std::vector<Span> ChunksToSpans(const std::vector<Span>& words,
                                const std::vector<TagChunk>& chunks) {
  std::vector<Span> spans;
  const int n = static_cast<int>(words.size());
  for (const TagChunk& chunk : chunks) {
    const int end = std::min(chunk.end, n);
    if (chunk.begin >= end) continue;
    spans.push_back({words[chunk.begin].begin, words[end - 1].end, chunk.type});
  }
  return spans;
}

std::vector<std::string> SpansToWordTags(const std::vector<Span>& words,
                                         const std::vector<Span>& entities) {
  std::vector<const Span*> sorted;
  sorted.reserve(entities.size());
  for (const Span& e : entities) sorted.push_back(&e);
  std::stable_sort(
      sorted.begin(), sorted.end(),
      [](const Span* a, const Span* b) { return a->begin < b->begin; });
  std::vector<std::string> tags(words.size(), "O");
  std::vector<const Span*> owner(words.size(), nullptr);
  for (const Span* e : sorted) {
    bool first = true;
    for (size_t w = 0; w < words.size(); ++w) {
      if (words[w].end <= e->begin || words[w].begin >= e->end) continue;
      if (owner[w] != nullptr) {
        // Taken by an earlier entity; a later word of this entity starts it.
        continue;
      }
      owner[w] = e;
      tags[w] = absl::StrCat(first ? "B-" : "I-", e->type);
      first = false;
    }
  }
  return tags;
}

}  // namespace ptune::datasets
