// Reading a tokenizer folder as Hugging Face saves it: tokenizer.json (the
// `tokenizers` format), or vocab.txt + tokenizer_config.json (the
// `transformers` slow BertTokenizer format), plus config.json for the
// maximum sequence length. Stateless; thread-safe.
#ifndef PTUNE_SERVER_TEXT_TOKENIZER_FILES_H_
#define PTUNE_SERVER_TEXT_TOKENIZER_FILES_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/text/tokenizer_spec.h"

namespace ptune::text {

// Reads the tokenizer in `dir`. NOT_FOUND if `dir` or both tokenizer.json
// and vocab.txt are missing; INVALID_ARGUMENT naming the file when a file is
// unreadable, not valid JSON/UTF-8, or describes something other than a
// BertNormalizer + BertPreTokenizer + WordPiece + [CLS] A [SEP] tokenizer.
absl::StatusOr<TokenizerSpec> LoadTokenizerSpec(const std::string& dir);

// Parses the contents of a tokenizer.json; `source` names it in errors.
// Leaves config fields that tokenizer.json does not carry at their values
// in `spec` on entry.
absl::Status ParseTokenizerJson(absl::string_view text,
                                absl::string_view source, TokenizerSpec* spec);

}  // namespace ptune::text

#endif  // PTUNE_SERVER_TEXT_TOKENIZER_FILES_H_
