#include "base/model_list.h"

#include <algorithm>
#include <charconv>

namespace vecmirror {
namespace {

Status ParseModelItem(std::string_view item, ModelDimension* out) {
  const size_t colon = item.rfind(':');
  if (colon == std::string_view::npos) {
    out->name = std::string(item);
    for (const ModelDimension& known : DefaultModels()) {
      if (known.name == out->name) out->dim = known.dim;
    }
    if (out->dim == 0) {
      return Status::InvalidArgument("model \"" + out->name +
                                     "\" has no default dimension; write it as name:dimension");
    }
    return Status::Ok();
  }
  out->name = std::string(item.substr(0, colon));
  const std::string_view digits = item.substr(colon + 1);
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), out->dim);
  if (out->name.empty() || ec != std::errc() || end != digits.data() + digits.size() ||
      out->dim == 0 || out->dim > kMaxModelDimension) {
    return Status::InvalidArgument("model \"" + std::string(item) +
                                   "\"; expected name:dimension with a dimension of 1 to " +
                                   std::to_string(kMaxModelDimension));
  }
  return Status::Ok();
}

}  // namespace

const std::vector<ModelDimension>& DefaultModels() {
  static const std::vector<ModelDimension> kDefaults = {{"text-embedding-ada-002", 1536},
                                                        {"text-embedding-3-small", 1536},
                                                        {"text-embedding-3-large", 3072},
                                                        {"all-MiniLM-L6-v2", 384}};
  return kDefaults;
}

Status ParseModelList(std::string_view text, std::vector<ModelDimension>* out) {
  while (!text.empty()) {
    const size_t comma = text.find(',');
    const std::string_view item = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    if (item.empty()) continue;
    ModelDimension model;
    if (Status s = ParseModelItem(item, &model); !s.ok()) return s;
    auto same_name = std::find_if(out->begin(), out->end(),
                                  [&](const ModelDimension& m) { return m.name == model.name; });
    if (same_name != out->end()) {
      same_name->dim = model.dim;
    } else {
      out->push_back(std::move(model));
    }
  }
  return Status::Ok();
}

}  // namespace vecmirror
