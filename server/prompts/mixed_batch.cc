#include "server/prompts/mixed_batch.h"

#include <algorithm>
#include <unordered_map>

#include <ATen/ATen.h>

#include "absl/strings/str_cat.h"
#include "server/backbone/pooling.h"
#include "server/common/status_macros.h"
#include "server/common/torch_call.h"
#include "server/device/device_copy.h"
#include "server/prompts/case_embeddings.h"
#include "server/prompts/prompt_template.h"
#include "server/text/word_case.h"

namespace ptune::prompts {
namespace {

// Pads dimension `dim` of `t` with zeros up to `size` (differentiable).
at::Tensor PadTo(const at::Tensor& t, int64_t dim, int64_t size) {
  if (t.size(dim) == size) return t;
  std::vector<int64_t> shape = t.sizes().vec();
  shape[dim] = size - t.size(dim);
  return at::cat({t, at::zeros(shape, t.options())}, dim);
}

}  // namespace

absl::StatusOr<std::vector<MixedRow>> MakeMixedRows(
    const backbone::Backbone& backbone, const PromptModel& model,
    const std::vector<std::string>& texts, int max_tokens) {
  const int limit = std::min(max_tokens > 0 ? max_tokens : 1 << 30,
                             model.MaxTextTokens(backbone));
  std::vector<MixedRow> rows;
  rows.reserve(texts.size());
  if (model.spec().template_text.empty()) {
    ASSIGN_OR_RETURN(std::vector<text::Encoding> encodings,
                     backbone.tokenizer().EncodeBatch(texts, limit));
    for (text::Encoding& encoding : encodings) {
      rows.push_back({.model = &model, .encoding = std::move(encoding)});
    }
    return rows;
  }
  ASSIGN_OR_RETURN(const PromptTemplate tmpl,
                   ParsePromptTemplate(model.spec().template_text));
  for (const std::string& text : texts) {
    ASSIGN_OR_RETURN(TemplatedText row,
                     ApplyTemplate(tmpl, backbone.tokenizer(), text, limit));
    rows.push_back({.model = &model,
                    .encoding = std::move(row.encoding),
                    .template_segments = std::move(row.segments),
                    .slot_position = row.mask_position});
  }
  return rows;
}

std::vector<MixedRow> MixedRowsFromTokens(const PromptModel& model,
                                          const backbone::TokenBatch& batch) {
  std::vector<MixedRow> rows;
  rows.reserve(batch.encodings.size());
  for (size_t r = 0; r < batch.encodings.size(); ++r) {
    MixedRow row{.model = &model, .encoding = batch.encodings[r]};
    if (r < batch.segments.size()) row.template_segments = batch.segments[r];
    if (r < batch.slot_positions.size()) row.slot_position = batch.slot_positions[r];
    rows.push_back(std::move(row));
  }
  return rows;
}

absl::StatusOr<MixedBatch> MakeMixedBatch(const backbone::Backbone& backbone,
                                          std::vector<MixedRow> rows,
                                          bool training) {
  if (rows.empty()) return absl::InvalidArgumentError("a mixed batch needs rows");
  MixedBatch batch;
  batch.rows = static_cast<int64_t>(rows.size());
  // Distinct prompts in order of first appearance; each row points at one.
  std::vector<at::Tensor> prompts;
  std::vector<const PromptModel*> prompt_models;
  std::vector<int64_t> row_prompt(rows.size());
  std::unordered_map<const void*, int64_t> index;  // tensor impl or model
  std::vector<text::Encoding> encodings;
  encodings.reserve(rows.size());
  for (size_t r = 0; r < rows.size(); ++r) {
    MixedRow& row = rows[r];
    if (row.model == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("row ", r, " has no prompt"));
    }
    const void* key = row.prompt.defined()
                          ? static_cast<const void*>(row.prompt.unsafeGetTensorImpl())
                          : static_cast<const void*>(row.model);
    auto [it, inserted] = index.emplace(key, static_cast<int64_t>(prompts.size()));
    if (inserted) {
      prompts.push_back(row.prompt);  // maybe undefined: computed below
      prompt_models.push_back(row.model);
    }
    row_prompt[r] = it->second;
    batch.models.push_back(row.model);
    batch.text_lengths.push_back(static_cast<int32_t>(row.encoding.ids.size()));
    batch.slot_positions.push_back(row.slot_position);
    batch.real_tokens += static_cast<int64_t>(row.encoding.ids.size());
    batch.prompt_tokens += row.model->spec().length;
    encodings.push_back(std::move(row.encoding));
  }
  ASSIGN_OR_RETURN(backbone::TokenBatch tokens, backbone.Collate(std::move(encodings)));
  batch.padded_tokens = tokens.input_ids.numel();
  batch.input.input_ids = tokens.input_ids;
  batch.input.attention_mask = tokens.attention_mask;
  batch.input.row_lengths = tokens.row_lengths;

  RETURN_IF_ERROR(common::TorchCall("mixing prompts", [&] {
    bool any_case = false;
    for (const PromptModel* model : prompt_models) {
      any_case = any_case || model->spec().case_embeddings;
    }
    if (any_case) {
      // One case table per distinct prompt, zeros for prompts without.
      std::vector<at::Tensor> tables;
      at::Tensor zeros;
      at::TensorOptions table_options;
      for (const PromptModel* model : prompt_models) {
        if (model->spec().case_embeddings) table_options = model->CaseEmbeddings().options();
      }
      for (const PromptModel* model : prompt_models) {
        if (model->spec().case_embeddings) {
          tables.push_back(model->CaseEmbeddings());
          continue;
        }
        if (!zeros.defined()) {
          zeros = at::zeros({text::kNumWordCases, backbone.hidden_size()}, table_options);
        }
        tables.push_back(zeros);
      }
      batch.input.added_embeddings =
          GatherCaseEmbeddings(at::stack(tables, 0), tokens.encodings, row_prompt,
                               tokens.input_ids.size(1));
    }
    int64_t shallow_m = 0, deep_m = 0;
    bool any_shallow = false, any_deep = false;
    for (size_t u = 0; u < prompts.size(); ++u) {
      if (!prompts[u].defined()) prompts[u] = prompt_models[u]->Prompt(training);
      const bool deep = prompt_models[u]->spec().kind == PromptKind::kDeep;
      (deep ? any_deep : any_shallow) = true;
      int64_t& longest = deep ? deep_m : shallow_m;
      longest = std::max(longest, prompts[u].size(deep ? 2 : 0));
    }
    const int64_t b = batch.rows;
    const auto gather_index = [&](bool deep) {
      // Row r takes slot row_prompt[r] of its kind, or the zero slot (the
      // last one) when its prompt is of the other kind.
      std::vector<int64_t> slot(b);
      for (int64_t r = 0; r < b; ++r) {
        const bool row_deep =
            prompt_models[row_prompt[r]]->spec().kind == PromptKind::kDeep;
        slot[r] = row_deep == deep ? row_prompt[r]
                                   : static_cast<int64_t>(prompts.size());
      }
      return device::ToDevice(slot, prompts.front().device());
    };
    if (any_shallow) {
      // [U + 1, M, H]: every distinct prompt (other kinds as zeros) + zeros.
      std::vector<at::Tensor> padded;
      const at::Tensor& any = prompts.front();
      const int64_t h = backbone.hidden_size();
      for (size_t u = 0; u <= prompts.size(); ++u) {
        const bool usable = u < prompts.size() &&
                            prompt_models[u]->spec().kind == PromptKind::kShallow;
        padded.push_back(usable ? PadTo(prompts[u], 0, shallow_m)
                                : at::zeros({shallow_m, h}, any.options()));
      }
      batch.input.shallow.embeddings =
          at::stack(padded, 0).index_select(0, gather_index(false));
      batch.input.shallow.segments.resize(b);
      for (int64_t r = 0; r < b; ++r) {
        const PromptModel& model = *batch.models[r];
        if (model.spec().kind != PromptKind::kShallow) continue;
        batch.input.shallow.segments[r] =
            rows[r].template_segments.empty() ? PlacementSegments(model.spec())
                                              : rows[r].template_segments;
      }
    }
    if (any_deep) {
      // [L, 2, U + 1, M, H], then one slot per row along dimension 2.
      std::vector<at::Tensor> padded;
      const at::Tensor* shape = nullptr;
      for (size_t u = 0; u < prompts.size(); ++u) {
        if (prompt_models[u]->spec().kind == PromptKind::kDeep) shape = &prompts[u];
      }
      const at::Tensor zeros = at::zeros(
          {shape->size(0), 2, deep_m, shape->size(3)}, shape->options());
      for (size_t u = 0; u <= prompts.size(); ++u) {
        const bool usable = u < prompts.size() &&
                            prompt_models[u]->spec().kind == PromptKind::kDeep;
        padded.push_back(usable ? PadTo(prompts[u], 2, deep_m) : zeros);
      }
      batch.input.deep.key_values =
          at::stack(padded, 2).index_select(2, gather_index(true));
      batch.input.deep.lengths.resize(b);
      for (int64_t r = 0; r < b; ++r) {
        const PromptModel& model = *batch.models[r];
        batch.input.deep.lengths[r] =
            model.spec().kind == PromptKind::kDeep ? model.spec().length : 0;
      }
    }
  }));
  return batch;
}

absl::StatusOr<std::vector<at::Tensor>> MixedLogits(
    const backbone::Backbone& backbone, const MixedBatch& batch, bool training) {
  (void)training;  // differentiability follows the caller's grad mode
  ASSIGN_OR_RETURN(backbone::EncoderOutput out, backbone.Forward(batch.input));
  return common::TorchCall("mixed heads", [&]() -> std::vector<at::Tensor> {
    const at::Tensor states = out.TextStates();  // [B, T, H]
    const int64_t b = batch.rows;
    const auto device = states.device();
    const auto on_device = [&](const std::vector<int64_t>& v) {
      return device::ToDevice(v, device);
    };
    // Every head of the batch in one batched product per task, so a batch
    // spread over many prompts costs a constant number of kernels: the
    // distinct prompts' head weights stacked (padded to the most classes),
    // gathered per row, one baddbmm.
    std::vector<const PromptModel*> order;
    std::unordered_map<const PromptModel*, int64_t> model_index;
    std::vector<int64_t> row_model(b);
    for (int64_t r = 0; r < b; ++r) {
      auto [it, inserted] = model_index.try_emplace(batch.models[r], order.size());
      if (inserted) order.push_back(batch.models[r]);
      row_model[r] = it->second;
    }
    std::vector<int64_t> classify_rows, tag_rows;
    for (int64_t r = 0; r < b; ++r) {
      (batch.models[r]->task() == datasets::Task::kTag ? tag_rows : classify_rows).push_back(r);
    }
    // Per row: [n, C_max, H] weights and [n, C_max] biases of `rows`' heads.
    const auto gathered_heads = [&](const std::vector<int64_t>& rows) {
      std::vector<int64_t> models;  // indexes into `order` used by these rows
      std::unordered_map<int64_t, int64_t> slot;
      std::vector<int64_t> row_slot;
      for (int64_t r : rows) {
        auto [it, inserted] = slot.try_emplace(row_model[r], models.size());
        if (inserted) models.push_back(row_model[r]);
        row_slot.push_back(it->second);
      }
      int64_t classes = 0;
      for (int64_t m : models) classes = std::max(classes, order[m]->HeadWeight().size(0));
      const at::ScalarType dtype = order[models.front()]->HeadWeight().scalar_type();
      std::vector<at::Tensor> weights, biases;
      for (int64_t m : models) {
        weights.push_back(PadTo(order[m]->HeadWeight().to(dtype), 0, classes));
        biases.push_back(PadTo(order[m]->HeadBias().to(dtype), 0, classes));
      }
      at::Tensor w = at::stack(weights), bias = at::stack(biases);
      const int64_t n = static_cast<int64_t>(rows.size());
      if (models.size() == 1) {  // one prompt: a view, no copy
        return std::make_pair(w.expand({n, -1, -1}), bias.expand({n, -1}));
      }
      const at::Tensor index = on_device(row_slot);
      return std::make_pair(w.index_select(0, index), bias.index_select(0, index));
    };
    const auto subset = [&](const at::Tensor& t, const std::vector<int64_t>& rows) {
      return static_cast<int64_t>(rows.size()) == b ? t : t.index_select(0, on_device(rows));
    };

    std::vector<at::Tensor> logits(b);
    if (!tag_rows.empty()) {
      const auto [w, bias] = gathered_heads(tag_rows);
      const at::Tensor own = subset(states, tag_rows).to(w.scalar_type());  // [n, T, H]
      // [n, T, C_max] = bias + states @ w^T
      const at::Tensor all = at::baddbmm(bias.unsqueeze(1), own, w.transpose(1, 2));
      const std::vector<at::Tensor> per_row = all.unbind(0);
      for (size_t i = 0; i < tag_rows.size(); ++i) {
        const int64_t r = tag_rows[i];
        logits[r] = per_row[i]
                        .narrow(0, 0, batch.text_lengths[r])
                        .narrow(1, 0, batch.models[r]->HeadWeight().size(0));
      }
    }
    if (!classify_rows.empty()) {
      const int64_t n = static_cast<int64_t>(classify_rows.size());
      const at::Tensor own = subset(states, classify_rows);  // [n, T, H]
      // Each row's pooling: [CLS], the [MASK] slot, or the text mean.
      std::vector<int64_t> mean_rows, slot_rows, slots;
      for (int64_t i = 0; i < n; ++i) {
        const int64_t r = classify_rows[i];
        switch (batch.models[r]->spec().pooling) {
          case HeadPooling::kCls:
            break;
          case HeadPooling::kMask:
            slot_rows.push_back(i);
            slots.push_back(batch.slot_positions[r]);
            break;
          case HeadPooling::kMean:
            mean_rows.push_back(i);
            break;
        }
      }
      at::Tensor pooled = own.select(1, 0);
      if (!mean_rows.empty() || !slot_rows.empty()) pooled = pooled.clone();
      if (!mean_rows.empty()) {
        const at::Tensor index = on_device(mean_rows);
        const at::Tensor mask = subset(out.text_mask, classify_rows).index_select(0, index);
        pooled = pooled.index_copy(
            0, index,
            backbone::Pool(own.index_select(0, index), mask, backbone::PoolingMode::kMean));
      }
      if (!slot_rows.empty()) {
        const at::Tensor index = on_device(slot_rows);
        pooled = pooled.index_copy(0, index, own.index({index, on_device(slots)}));
      }
      const auto [w, bias] = gathered_heads(classify_rows);
      // [n, C_max] = bias + w @ pooled
      const at::Tensor all =
          at::baddbmm(bias.unsqueeze(2), w, pooled.to(w.scalar_type()).unsqueeze(2)).squeeze(2);
      const std::vector<at::Tensor> per_row = all.unbind(0);
      for (int64_t i = 0; i < n; ++i) {
        const int64_t r = classify_rows[i];
        logits[r] = per_row[i].narrow(0, 0, batch.models[r]->HeadWeight().size(0));
      }
    }
    return logits;
  });
}

}  // namespace ptune::prompts
