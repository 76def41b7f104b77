#include "index/index_options.h"

namespace vecmirror {

const char* IndexKindName(IndexKind kind) {
  switch (kind) {
    case IndexKind::kFlat:
      return "flat";
    case IndexKind::kHnsw:
      return "hnsw";
    case IndexKind::kIvf:
      return "ivf";
  }
  return "unknown";
}

const char* VectorStorageName(VectorStorage storage) {
  return storage == VectorStorage::kFp16 ? "fp16" : "fp32";
}

VectorStorage StorageOf(const IndexOptions& options, const std::string& model) {
  const auto it = options.storage_by_model.find(model);
  return it == options.storage_by_model.end() ? options.storage : it->second;
}

size_t BytesPerComponent(VectorStorage storage) {
  return storage == VectorStorage::kFp16 ? 2 : 4;
}

}  // namespace vecmirror
