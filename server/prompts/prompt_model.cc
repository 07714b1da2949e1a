#include "server/prompts/prompt_model.h"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "server/backbone/tensor_io.h"
#include "server/common/files.h"
#include "server/common/status_macros.h"
#include "server/common/torch_call.h"
#include "server/device/device_copy.h"
#include "server/prompts/case_embeddings.h"
#include "server/prompts/json_fields.h"
#include "server/prompts/prompt_module.h"
#include "server/prompts/prompt_template.h"
#include "server/safetensors/safetensors.h"
#include "server/text/word_case.h"

namespace ptune::prompts {
namespace {

using nlohmann::json;

constexpr char kFormat[] = "ptune.prompt.v1";
constexpr char kTensorsFile[] = "prompt.safetensors";
constexpr char kMetadataFile[] = "prompt.json";
// Token ids below this are [PAD], [unusedN] and specials in BERT vocabularies:
// their embeddings carry no meaning, so vocab init skips them.
constexpr int64_t kFirstWordId = 1000;

PromptShape ShapeFor(const backbone::Backbone& backbone, const PromptSpec& spec,
                     int64_t num_labels) {
  return {spec.kind, spec.length, backbone.config().hidden_size,
          backbone.config().num_hidden_layers, num_labels, spec.case_embeddings};
}

// The served prompt's shape: [m, H] (shallow) or [L, 2, m, H] (deep).
std::vector<int64_t> ServedPromptShape(const PromptShape& shape) {
  return shape.kind == PromptKind::kDeep
             ? std::vector<int64_t>{shape.layers, 2, shape.length, shape.hidden}
             : std::vector<int64_t>{shape.length, shape.hidden};
}

// INVALID_ARGUMENT unless `tensor` is defined with shape `expected`.
absl::Status CheckShape(const at::Tensor& tensor, absl::string_view name,
                        const std::vector<int64_t>& expected) {
  if (tensor.defined() && tensor.sizes().vec() == expected) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat(
      name, " has shape [",
      tensor.defined() ? absl::StrJoin(tensor.sizes(), ", ") : "undefined",
      "], expected [", absl::StrJoin(expected, ", "), "]"));
}

// Embeddings of `text`'s tokens (no [CLS]/[SEP]) repeated or cut to m rows.
absl::StatusOr<at::Tensor> TextEmbeddings(const backbone::Backbone& backbone,
                                          const std::string& text, int64_t m) {
  ASSIGN_OR_RETURN(text::Encoding enc,
                   backbone.tokenizer().Encode(text, 0, /*add_special_tokens=*/false));
  if (enc.ids.empty()) {
    return absl::InvalidArgumentError("init_text has no tokens");
  }
  std::vector<int64_t> ids;
  for (int64_t i = 0; i < m; ++i) ids.push_back(enc.ids[i % enc.ids.size()]);
  return backbone.word_embeddings().index_select(0, torch::tensor(ids))
      .to(at::kCPU, at::kFloat);
}

// Fills every parameter of `module` (still on the CPU) from `generator`
// alone: never from LibTorch's global generators, which training jobs of
// several tenants (and CUDA kernels) share.
absl::Status Initialize(const backbone::Backbone& backbone, const PromptSpec& spec,
                        PromptModuleImpl& module, at::Generator generator) {
  torch::NoGradGuard no_grad;
  // An MLP reparameterization's layers as torch.nn.Linear initializes them
  // (kaiming_uniform_(a = sqrt(5)) = U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
  // the bias likewise), but from the job's generator.
  for (torch::nn::Linear* layer : module.mlp_layers()) {
    const double bound = 1.0 / std::sqrt(static_cast<double>((*layer)->weight.size(1)));
    (*layer)->weight.uniform_(-bound, bound, generator);
    (*layer)->bias.uniform_(-bound, bound, generator);
  }
  const PromptShape& shape = module.shape();
  const at::Tensor& words = backbone.word_embeddings();
  // The tensor the init fills: the prompt itself, or Z under an MLP (Z then
  // starts from the same vectors, as PEFT's P-tuning does).
  at::Tensor target = module.reparameterized() ? module.z : module.prompt;
  switch (spec.init) {
    case PromptInit::kRandom:
      if (shape.kind == PromptKind::kShallow || module.reparameterized()) {
        // Same scale as real token embeddings.
        target.normal_(0, words.std().item<double>(), generator);
      } else {
        target.normal_(0, 1, generator);  // PEFT / P-tuning v2 prefix embedding init
      }
      break;
    case PromptInit::kVocab: {
      const at::Tensor ids = at::randint(kFirstWordId, backbone.config().vocab_size,
                                         {shape.length}, generator, at::kLong);
      target.copy_(words.index_select(0, ids.to(words.device())));
      break;
    }
    case PromptInit::kText: {
      ASSIGN_OR_RETURN(const at::Tensor rows,
                       TextEmbeddings(backbone, spec.init_text, shape.length));
      target.copy_(rows);
      break;
    }
    case PromptInit::kPrompt: {
      ASSIGN_OR_RETURN(auto source, PromptModel::Load(backbone, spec.init_prompt));
      const at::Tensor p = source->PromptTensor();
      if (source->spec().kind != spec.kind) {
        return absl::InvalidArgumentError(absl::StrCat(
            "init_prompt ", spec.init_prompt, " is a ",
            source->spec().kind == PromptKind::kDeep ? "deep" : "shallow",
            " prompt; this spec asks for the other kind"));
      }
      if (module.reparameterized()) {
        return absl::InvalidArgumentError(
            "init prompt cannot be combined with reparam mlp (the MLP would "
            "not reproduce the source vectors)");
      }
      if (p.sizes() != target.sizes()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "init_prompt ", spec.init_prompt, " has ", source->spec().length,
            " vectors; this spec asks for ", spec.length));
      }
      target.copy_(p);
      // The case table transfers too when both prompts have one.
      if (shape.case_embeddings && source->spec().case_embeddings) {
        module.case_embeddings.copy_(source->CaseEmbeddings());
      }
      break;
    }
  }
  // Heads start as Hugging Face initializes classifiers, or, with a
  // verbalizer, each label's row from its label word's embedding.
  module.head->weight.normal_(0, 0.02, generator);
  module.head->bias.zero_();
  if (!spec.verbalizer.empty()) {
    if (static_cast<int64_t>(spec.verbalizer.size()) != shape.num_labels) {
      return absl::InvalidArgumentError(absl::StrCat(
          "verbalizer has ", spec.verbalizer.size(), " words for ",
          shape.num_labels, " labels"));
    }
    for (size_t i = 0; i < spec.verbalizer.size(); ++i) {
      ASSIGN_OR_RETURN(text::Encoding enc, backbone.tokenizer().Encode(
                                               spec.verbalizer[i], 0, false));
      if (enc.ids.empty()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "verbalizer word \"", spec.verbalizer[i], "\" has no tokens"));
      }
      std::vector<int64_t> ids(enc.ids.begin(), enc.ids.end());
      module.head->weight[i].copy_(
          words.index_select(0, torch::tensor(ids).to(words.device())).mean(0));
    }
  }
  return absl::OkStatus();
}

}  // namespace

PromptModel::~PromptModel() = default;

absl::StatusOr<std::unique_ptr<PromptModel>> PromptModel::Create(
    const backbone::Backbone& backbone, datasets::Task task,
    std::vector<std::string> labels, const PromptSpec& spec, uint64_t seed) {
  RETURN_IF_ERROR(ValidatePromptSpec(spec, backbone.config()));
  if (labels.size() < (task == datasets::Task::kClassify ? 2u : 1u)) {
    return absl::InvalidArgumentError(
        absl::StrCat("a task needs at least 2 labels, got ", labels.size()));
  }
  std::unique_ptr<PromptModel> model(new PromptModel());
  model->task_ = task;
  model->backbone_identity_ = {{"name", backbone.name()},
                               {"checksum", backbone.weights_checksum()},
                               {"hidden_size", backbone.config().hidden_size},
                               {"num_layers", backbone.config().num_hidden_layers}};
  model->spec_ = spec;
  model->labels_ = std::move(labels);
  RETURN_IF_ERROR(common::TorchCall("creating a prompt", [&]() -> absl::Status {
    // The model's own generator: creating a prompt never reseeds LibTorch's
    // global (CPU or CUDA) generators, so jobs of several tenants created at
    // once each get their seed's values without a lock.
    model->module_ = std::make_shared<PromptModuleImpl>(
        ShapeFor(backbone, spec, model->labels_.size()), spec.reparam,
        spec.mlp_hidden);
    RETURN_IF_ERROR(Initialize(backbone, spec, *model->module_,
                               at::make_generator<at::CPUGeneratorImpl>(seed)));
    model->module_->to(backbone.device());
    return absl::OkStatus();
  }));
  return model;
}

absl::StatusOr<std::unique_ptr<PromptModel>> PromptModel::Load(
    const backbone::Backbone& backbone, const std::string& dir) {
  PromptArtifact artifact;
  ASSIGN_OR_RETURN(artifact.metadata_json,
                   common::ReadFile(dir + "/" + kMetadataFile));
  ASSIGN_OR_RETURN(artifact.tensors, common::ReadFile(dir + "/" + kTensorsFile));
  return Deserialize(backbone, std::move(artifact), dir);
}

absl::StatusOr<std::unique_ptr<PromptModel>> PromptModel::Deserialize(
    const backbone::Backbone& backbone, PromptArtifact artifact,
    const std::string& source) {
  const std::string& dir = source;  // names the artifact in messages
  json meta = json::parse(artifact.metadata_json, nullptr, /*allow_exceptions=*/false);
  if (meta.is_discarded() || !meta.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(dir, ": ", kMetadataFile, " is not a JSON object"));
  }
  if (StringField(meta, "format") != kFormat) {
    return absl::InvalidArgumentError(absl::StrCat(
        dir, ": not a ptune prompt artifact (format ", kFormat, ")"));
  }
  const json& identity = meta["backbone"];
  if (StringField(identity, "checksum") != backbone.weights_checksum()) {
    return absl::FailedPreconditionError(absl::StrCat(
        dir, ": this prompt was trained for backbone \"",
        StringField(identity, "name", "?"), "\" (",
        StringField(identity, "checksum", "?"),
        "), not the loaded \"", backbone.name(), "\" (",
        backbone.weights_checksum(), ")"));
  }
  const std::string task = StringField(meta, "task");
  if (task != "classify" && task != "tag") {
    return absl::InvalidArgumentError(absl::StrCat(dir, ": unknown task"));
  }
  ASSIGN_OR_RETURN(const PromptSpec spec, PromptSpecFromJson(meta["spec"]));
  RETURN_IF_ERROR(ValidatePromptSpec(spec, backbone.config()));
  if (!meta["labels"].is_array() || meta["labels"].empty()) {
    return absl::InvalidArgumentError(absl::StrCat(dir, ": no labels"));
  }
  std::vector<std::string> labels;
  for (const json& label : meta["labels"]) {
    if (!label.is_string()) {
      return absl::InvalidArgumentError(absl::StrCat(dir, ": labels must be strings"));
    }
    labels.push_back(label.get<std::string>());
  }
  ASSIGN_OR_RETURN(auto file, safetensors::SafetensorsFile::FromBuffer(
                                  std::move(artifact.tensors),
                                  absl::StrCat(dir, "/", kTensorsFile)));
  const PromptShape shape = ShapeFor(backbone, spec, labels.size());
  ASSIGN_OR_RETURN(
      at::Tensor prompt,
      backbone::ReadTensor(*file, "prompt", ServedPromptShape(shape)));
  ASSIGN_OR_RETURN(at::Tensor weight,
                   backbone::ReadTensor(*file, "head.weight",
                                        {shape.num_labels, shape.hidden}));
  ASSIGN_OR_RETURN(at::Tensor bias, backbone::ReadTensor(*file, "head.bias",
                                                         {shape.num_labels}));
  at::Tensor case_embeddings;
  if (spec.case_embeddings) {
    ASSIGN_OR_RETURN(case_embeddings,
                     backbone::ReadTensor(*file, "case_embeddings",
                                          {text::kNumWordCases, shape.hidden}));
  }
  const datasets::Task task_kind =
      task == "tag" ? datasets::Task::kTag : datasets::Task::kClassify;
  ASSIGN_OR_RETURN(std::unique_ptr<PromptModel> model,
                   FromTensors(backbone, task_kind, std::move(labels), spec,
                               prompt, weight, bias, case_embeddings));
  model->metadata_ = meta;
  model->backbone_identity_ = identity;
  if (meta.contains("max_tokens")) {
    const json& max_tokens = meta["max_tokens"];
    if (!max_tokens.is_number_integer() || max_tokens.get<int64_t>() < 3 ||
        max_tokens.get<int64_t>() > backbone.config().max_position_embeddings) {
      return absl::InvalidArgumentError(
          absl::StrCat(dir, ": max_tokens must be an integer in 3..",
                       backbone.config().max_position_embeddings));
    }
    model->max_tokens_ = max_tokens.get<int>();
  }
  return model;
}

absl::StatusOr<std::unique_ptr<PromptModel>> PromptModel::FromTensors(
    const backbone::Backbone& backbone, datasets::Task task,
    std::vector<std::string> labels, PromptSpec spec, const at::Tensor& prompt,
    const at::Tensor& head_weight, const at::Tensor& head_bias,
    const at::Tensor& case_embeddings) {
  RETURN_IF_ERROR(ValidatePromptSpec(spec, backbone.config()));
  spec.reparam = Reparam::kNone;  // the tensors are the served prompt
  if (labels.empty()) return absl::InvalidArgumentError("a task needs labels");
  const PromptShape shape = ShapeFor(backbone, spec, labels.size());
  RETURN_IF_ERROR(CheckShape(prompt, "prompt", ServedPromptShape(shape)));
  RETURN_IF_ERROR(CheckShape(head_weight, "head weight",
                             {shape.num_labels, shape.hidden}));
  RETURN_IF_ERROR(CheckShape(head_bias, "head bias", {shape.num_labels}));
  if (spec.case_embeddings) {
    RETURN_IF_ERROR(CheckShape(case_embeddings, "case embeddings",
                               {text::kNumWordCases, shape.hidden}));
  } else if (case_embeddings.defined()) {
    return absl::InvalidArgumentError(
        "case embeddings given for a spec without case_embeddings");
  }
  for (const auto& named :
       {std::pair<const char*, const at::Tensor*>{"prompt", &prompt},
        {"head weight", &head_weight},
        {"head bias", &head_bias},
        {"case embeddings", &case_embeddings}}) {
    const at::Tensor& tensor = *named.second;
    if (!tensor.defined()) continue;
    ASSIGN_OR_RETURN(const bool finite, common::TorchCall("checking values", [&] {
                       return at::isfinite(tensor).all().item<bool>();
                     }));
    if (!finite) {
      return absl::InvalidArgumentError(
          absl::StrCat("the ", named.first, " tensor holds NaN or Inf values"));
    }
  }
  std::unique_ptr<PromptModel> model(new PromptModel());
  model->task_ = task;
  model->backbone_identity_ = {
      {"name", backbone.name()},
      {"checksum", backbone.weights_checksum()},
      {"hidden_size", backbone.config().hidden_size},
      {"num_layers", backbone.config().num_hidden_layers}};
  model->spec_ = spec;
  model->labels_ = std::move(labels);
  RETURN_IF_ERROR(common::TorchCall("building a prompt", [&] {
    torch::NoGradGuard no_grad;
    model->module_ = std::make_shared<PromptModuleImpl>(shape, Reparam::kNone, 0);
    model->module_->prompt.copy_(prompt);
    model->module_->head->weight.copy_(head_weight);
    model->module_->head->bias.copy_(head_bias);
    if (spec.case_embeddings) model->module_->case_embeddings.copy_(case_embeddings);
    model->module_->to(backbone.device());
  }));
  return model;
}

absl::Status PromptModel::CheckFinite() const {
  for (const auto& named : NamedParameters()) {
    const at::Tensor& tensor = named.second;
    ASSIGN_OR_RETURN(const bool finite, common::TorchCall("checking values", [&] {
                       return at::isfinite(tensor.detach()).all().item<bool>();
                     }));
    if (!finite) {
      return absl::InvalidArgumentError(
          absl::StrCat("parameter ", named.first, " holds NaN or Inf values"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<PromptArtifact> PromptModel::Serialize(const json& metadata) {
  Collapse();
  safetensors::SafetensorsWriter writer;
  writer.SetMetadata("format", kFormat);
  RETURN_IF_ERROR(backbone::AddTensor(writer, "prompt", module_->prompt));
  RETURN_IF_ERROR(backbone::AddTensor(writer, "head.weight", module_->head->weight));
  RETURN_IF_ERROR(backbone::AddTensor(writer, "head.bias", module_->head->bias));
  if (spec_.case_embeddings) {
    RETURN_IF_ERROR(
        backbone::AddTensor(writer, "case_embeddings", module_->case_embeddings));
  }

  json meta = metadata.is_object() ? metadata : json::object();
  meta["format"] = kFormat;
  meta["task"] = task_ == datasets::Task::kTag ? "tag" : "classify";
  meta["labels"] = labels_;
  meta["spec"] = PromptSpecToJson(spec_);
  meta["backbone"] = backbone_identity_;
  if (max_tokens_ > 0) meta["max_tokens"] = max_tokens_;
  meta["created_at"] = absl::FormatTime(absl::RFC3339_sec, absl::Now(), absl::UTCTimeZone());
  metadata_ = meta;
  return PromptArtifact{.tensors = writer.Serialize(),
                        .metadata_json = meta.dump(2) + "\n"};
}

absl::Status PromptModel::Save(const std::string& dir, const json& metadata) {
  ASSIGN_OR_RETURN(PromptArtifact artifact, Serialize(metadata));
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) {
    return absl::InternalError(absl::StrCat("cannot create ", dir, ": ", error.message()));
  }
  RETURN_IF_ERROR(common::WriteFileAtomically(dir + "/" + kTensorsFile, artifact.tensors));
  return common::WriteFileAtomically(dir + "/" + kMetadataFile, artifact.metadata_json);
}

absl::StatusOr<backbone::TokenBatch> PromptModel::Tokenize(
    const backbone::Backbone& backbone, const std::vector<std::string>& texts,
    int max_tokens) const {
  const int limit =
      std::min(max_tokens > 0 ? max_tokens : 1 << 30, MaxTextTokens(backbone));
  if (spec_.template_text.empty()) return backbone.Tokenize(texts, limit);
  ASSIGN_OR_RETURN(const PromptTemplate tmpl, ParsePromptTemplate(spec_.template_text));
  std::vector<text::Encoding> rows;
  std::vector<std::vector<backbone::PromptSegment>> segments;
  std::vector<int32_t> slots;
  for (const std::string& text : texts) {
    ASSIGN_OR_RETURN(TemplatedText row,
                     ApplyTemplate(tmpl, backbone.tokenizer(), text, limit));
    rows.push_back(std::move(row.encoding));
    segments.push_back(std::move(row.segments));
    slots.push_back(row.mask_position);
  }
  ASSIGN_OR_RETURN(backbone::TokenBatch batch, backbone.Collate(std::move(rows)));
  batch.segments = std::move(segments);
  batch.slot_positions = std::move(slots);
  return batch;
}

backbone::EncoderInput PromptModel::MakeInput(const backbone::TokenBatch& batch,
                                              bool training) const {
  backbone::EncoderInput in{.input_ids = batch.input_ids,
                            .attention_mask = batch.attention_mask,
                            .row_lengths = batch.row_lengths};
  const int64_t b = batch.input_ids.size(0);
  if (spec_.case_embeddings) {
    in.added_embeddings = GatherCaseEmbeddings(
        module_->case_embeddings.unsqueeze(0), batch.encodings,
        std::vector<int64_t>(b, 0), batch.input_ids.size(1));
  }
  const at::Tensor p = module_->Prompt(training, spec_.dropout);
  const int32_t m = spec_.length;
  if (spec_.kind == PromptKind::kDeep) {
    in.deep.key_values = p.unsqueeze(2).expand({p.size(0), 2, b, m, p.size(3)});
    in.deep.lengths.assign(b, m);
    return in;
  }
  in.shallow.embeddings = p.unsqueeze(0).expand({b, m, p.size(1)});
  if (!batch.segments.empty()) {  // laid out by the template
    in.shallow.segments = batch.segments;
    return in;
  }
  in.shallow.segments.assign(b, PlacementSegments(spec_));
  return in;
}

std::vector<backbone::PromptSegment> PlacementSegments(const PromptSpec& spec) {
  const int32_t m = spec.length;
  switch (spec.placement) {
    case Placement::kPrefix:
      return {{0, 0, m}};
    case Placement::kInfix:
      return {{spec.infix_position, 0, m}};
    case Placement::kPrefixInfix:
      return {{0, 0, m / 2}, {spec.infix_position, m / 2, m - m / 2}};
  }
  return {};
}

absl::StatusOr<at::Tensor> PromptModel::Logits(const backbone::Backbone& backbone,
                                               const backbone::TokenBatch& batch,
                                               bool training) const {
  ASSIGN_OR_RETURN(backbone::EncoderOutput out,
                   backbone.Forward(MakeInput(batch, training)));
  return common::TorchCall("prompt head", [&] {
    const at::Tensor states = out.TextStates();
    if (task_ == datasets::Task::kTag) return Head(states);
    if (spec_.pooling == HeadPooling::kMask) {
      const at::Tensor slots = device::ToDevice(
          std::vector<int64_t>(batch.slot_positions.begin(), batch.slot_positions.end()),
          states.device());
      return Head(states.index({at::arange(states.size(0), slots.options()), slots}));
    }
    const at::Tensor pooled = backbone::Pool(
        states, out.text_mask,
        spec_.pooling == HeadPooling::kMean ? backbone::PoolingMode::kMean
                                            : backbone::PoolingMode::kCls);
    return Head(pooled);
  });
}

at::Tensor PromptModel::Prompt(bool training, at::Generator* generator) const {
  if (generator == nullptr || !training || spec_.dropout <= 0) {
    return module_->Prompt(training, spec_.dropout);
  }
  const at::Tensor p = module_->Prompt(/*training=*/false, 0);
  const double keep = 1.0 - spec_.dropout;
  const at::Tensor mask =
      at::empty(p.sizes(), at::TensorOptions().dtype(at::kFloat))
          .bernoulli_(keep, *generator)
          .div_(keep)
          .to(p.device(), p.scalar_type());
  return p * mask;
}

at::Tensor PromptModel::Head(const at::Tensor& states) const {
  // States of a half-precision backbone meet float32 training weights here
  // (a no-op once the model was cast for serving).
  return module_->head->forward(states.to(module_->head->weight.scalar_type()));
}

const at::Tensor& PromptModel::HeadWeight() const { return module_->head->weight; }
const at::Tensor& PromptModel::HeadBias() const { return module_->head->bias; }

absl::Status PromptModel::CastForServing(at::ScalarType dtype) {
  return common::TorchCall("cast prompt", [&] { module_->to(dtype); });
}

at::Tensor PromptModel::CaseEmbeddings() const {
  return module_->case_embeddings;
}

at::Tensor PromptModel::Penalty() const {
  if (spec_.l2 <= 0) return torch::zeros({}, module_->head->weight.options());
  return module_->Prompt(/*training=*/false, 0).pow(2).sum() * spec_.l2;
}

at::Tensor PromptModel::PromptTensor() const {
  torch::NoGradGuard no_grad;
  return module_->Prompt(/*training=*/false, 0).detach().contiguous();
}

void PromptModel::Collapse() {
  if (!module_->reparameterized()) return;
  torch::NoGradGuard no_grad;
  auto plain = std::make_shared<PromptModuleImpl>(module_->shape(),
                                                  Reparam::kNone, 0);
  plain->to(module_->head->weight.device());
  plain->prompt.copy_(module_->Prompt(false, 0));
  plain->head->weight.copy_(module_->head->weight);
  plain->head->bias.copy_(module_->head->bias);
  if (spec_.case_embeddings) plain->case_embeddings.copy_(module_->case_embeddings);
  module_ = plain;
  spec_.reparam = Reparam::kNone;
}

std::vector<at::Tensor> PromptModel::Parameters() const {
  return module_->parameters();
}

namespace {

// The groups of ParameterGroups and HeadParameterGroups: an MLP
// reparameterization (Z and its layers) at
// `reparam_scale`, then the prompt and head at the job's rate (only the
// head without `with_prompt`), then the case table at a 20th of it.
std::vector<PromptModel::ParameterGroup> Groups(const PromptModuleImpl& module,
                                                bool with_prompt, double reparam_scale) {
  constexpr double kCaseLearningRateScale = 0.05;
  PromptModel::ParameterGroup reparam{{}, reparam_scale}, main, cases{{}, kCaseLearningRateScale};
  for (const auto& item : module.named_parameters()) {
    const std::string& name = item.key();
    if (name == "case_embeddings") {
      cases.parameters.push_back(item.value());
    } else if (absl::StartsWith(name, "head.")) {
      main.parameters.push_back(item.value());
    } else if (!with_prompt) {
      continue;
    } else if (name == "prompt") {
      main.parameters.push_back(item.value());
    } else {  // z, mlp_in.*, mlp_out.*
      reparam.parameters.push_back(item.value());
    }
  }
  std::vector<PromptModel::ParameterGroup> groups;
  for (PromptModel::ParameterGroup* group : {&reparam, &main, &cases}) {
    if (!group->parameters.empty()) groups.push_back(std::move(*group));
  }
  return groups;
}

}  // namespace

std::vector<PromptModel::ParameterGroup> PromptModel::ParameterGroups(
    double reparam_scale) const {
  return Groups(*module_, /*with_prompt=*/true, reparam_scale);
}

std::vector<PromptModel::ParameterGroup> PromptModel::HeadParameterGroups() const {
  return Groups(*module_, /*with_prompt=*/false, 1.0);
}

std::vector<std::pair<std::string, at::Tensor>> PromptModel::NamedParameters() const {
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (const auto& item : module_->named_parameters()) {
    out.emplace_back(item.key(), item.value());
  }
  return out;
}

int PromptModel::MaxTextTokens(const backbone::Backbone& backbone) const {
  return static_cast<int>(backbone.config().max_position_embeddings) -
         spec_.length;
}

}  // namespace ptune::prompts
