// ModelCatalog: model name -> vector dimension. Starts from the configured models; a model
// first seen in the data is accepted with the dimension of its first valid row, and every
// later row must agree.
//
// Thread-safety: safe for concurrent use.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include "base/model_list.h"

namespace vecmirror {

class ModelCatalog {
 public:
  explicit ModelCatalog(const std::vector<ModelDimension>& models = DefaultModels()) {
    for (const auto& [name, dim] : models) dims_[name] = dim;
  }

  std::optional<uint32_t> DimensionOf(const std::string& model) const {
    std::shared_lock lock(mu_);
    auto it = dims_.find(model);
    if (it == dims_.end()) return std::nullopt;
    return it->second;
  }

  // True if a row of `model` with `dim` components is acceptable. Learns unknown models.
  bool Accept(const std::string& model, uint32_t dim) {
    if (auto known = DimensionOf(model)) return *known == dim;
    std::unique_lock lock(mu_);
    auto [it, inserted] = dims_.emplace(model, dim);
    return it->second == dim;
  }

  std::map<std::string, uint32_t> All() const {
    std::shared_lock lock(mu_);
    return dims_;
  }

 private:
  mutable std::shared_mutex mu_;
  std::map<std::string, uint32_t> dims_;
};

}  // namespace vecmirror
