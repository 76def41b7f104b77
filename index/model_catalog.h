// ModelCatalog: model name -> vector dimension. It holds the configured models; a row of any
// other model is not indexed, unless learning is on, which accepts a new model at the dimension
// of its first valid row when that dimension is allowed and fewer than max_models were learned.
// Every later row of a model must agree on its dimension. (DESIGN.md, "Index key".)
//
// Thread-safety: safe for concurrent use.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <utility>
#include <vector>

#include "base/model_list.h"

namespace vecmirror {

struct ModelLearning {
  // Learn models that are not configured. Default: off, so a row cannot invent an index.
  bool enabled = false;
  // Dimensions a learned model may have. Default: 384, 1536 and 3072.
  std::vector<uint32_t> allowed_dims = {384, 1536, 3072};
  // Most models learned. Default: 16.
  size_t max_models = 16;
};

enum class ModelCheck : uint8_t {
  kAccepted,           // the model is known (or was learned now) with this dimension
  kUnknownModel,       // not configured, and not learned
  kDimensionMismatch,  // known with another dimension
};

class ModelCatalog {
 public:
  explicit ModelCatalog(const std::vector<ModelDimension>& models = DefaultModels(),
                        ModelLearning learning = {})
      : learning_(std::move(learning)) {
    for (const auto& [name, dim] : models) dims_[name] = dim;
    configured_ = dims_;
  }

  const std::map<std::string, uint32_t>& configured() const { return configured_; }
  // The models learned from rows, not configured.
  std::map<std::string, uint32_t> Learned() const {
    std::shared_lock lock(mu_);
    std::map<std::string, uint32_t> learned;
    for (const auto& [name, dim] : dims_) {
      if (!configured_.contains(name)) learned.emplace(name, dim);
    }
    return learned;
  }
  // Takes the models a snapshot had learned. False, changing nothing, if learning is off, one
  // of them is configured now, or there are more than max_models.
  bool RestoreLearned(const std::map<std::string, uint32_t>& learned) {
    if (learned.empty()) return true;
    if (!learning_.enabled || learned.size() > learning_.max_models) return false;
    std::unique_lock lock(mu_);
    for (const auto& [name, dim] : learned) {
      if (configured_.contains(name)) return false;
    }
    for (const auto& [name, dim] : learned) dims_[name] = dim;
    learned_ = learned.size();
    return true;
  }

  std::optional<uint32_t> DimensionOf(const std::string& model) const {
    std::shared_lock lock(mu_);
    auto it = dims_.find(model);
    if (it == dims_.end()) return std::nullopt;
    return it->second;
  }

  // Whether a row of `model` with `dim` components may be indexed; learns the model when the
  // learning options allow it.
  ModelCheck Check(const std::string& model, uint32_t dim) {
    if (auto known = DimensionOf(model)) {
      return *known == dim ? ModelCheck::kAccepted : ModelCheck::kDimensionMismatch;
    }
    if (!learning_.enabled) return ModelCheck::kUnknownModel;
    const auto& allowed = learning_.allowed_dims;
    if (std::find(allowed.begin(), allowed.end(), dim) == allowed.end()) {
      return ModelCheck::kUnknownModel;
    }
    std::unique_lock lock(mu_);
    if (auto it = dims_.find(model); it != dims_.end()) {  // learned meanwhile
      return it->second == dim ? ModelCheck::kAccepted : ModelCheck::kDimensionMismatch;
    }
    if (learned_ >= learning_.max_models) return ModelCheck::kUnknownModel;
    dims_.emplace(model, dim);
    ++learned_;
    return ModelCheck::kAccepted;
  }

  std::map<std::string, uint32_t> All() const {
    std::shared_lock lock(mu_);
    return dims_;
  }

 private:
  const ModelLearning learning_;
  mutable std::shared_mutex mu_;
  std::map<std::string, uint32_t> dims_;
  std::map<std::string, uint32_t> configured_;
  size_t learned_ = 0;
};

}  // namespace vecmirror
