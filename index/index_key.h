// IndexKey: which index a vector belongs to, (tenant, model, dimension). A value type.
#pragma once

#include <cstdint>
#include <string>

#include "base/uuid.h"

namespace vecmirror {

struct IndexKey {
  Uuid tenant_id;
  std::string model;
  uint32_t dim = 0;

  auto operator<=>(const IndexKey&) const = default;
  bool operator==(const IndexKey&) const = default;

  // "tenant/model/dim", for logs and file names.
  std::string ToString() const {
    return tenant_id.ToString() + "/" + model + "/" + std::to_string(dim);
  }
};

struct IndexKeyHash {
  size_t operator()(const IndexKey& k) const {
    return UuidHash()(k.tenant_id) ^ (std::hash<std::string>()(k.model) * 31) ^ k.dim;
  }
};

}  // namespace vecmirror
