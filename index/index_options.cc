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
  switch (storage) {
    case VectorStorage::kFp32:
      return "fp32";
    case VectorStorage::kFp16:
      return "fp16";
    case VectorStorage::kSq8:
      return "sq8";
  }
  return "unknown";
}

Status ParseIndexKind(std::string_view text, IndexKind* kind) {
  for (IndexKind k : {IndexKind::kFlat, IndexKind::kHnsw, IndexKind::kIvf}) {
    if (text == IndexKindName(k)) {
      *kind = k;
      return Status::Ok();
    }
  }
  return Status::InvalidArgument("index kind \"" + std::string(text) + "\"; expected flat, hnsw or ivf");
}

Status ParseVectorStorage(std::string_view text, VectorStorage* storage) {
  for (VectorStorage s : {VectorStorage::kFp32, VectorStorage::kFp16, VectorStorage::kSq8}) {
    if (text == VectorStorageName(s)) {
      *storage = s;
      return Status::Ok();
    }
  }
  return Status::InvalidArgument("vector storage \"" + std::string(text) +
                                 "\"; expected fp32, fp16 or sq8");
}

VectorStorage StorageOf(const IndexOptions& options, const std::string& model) {
  const auto it = options.storage_by_model.find(model);
  return it == options.storage_by_model.end() ? options.storage : it->second;
}

size_t BytesPerComponent(VectorStorage storage) {
  switch (storage) {
    case VectorStorage::kFp32:
      return 4;
    case VectorStorage::kFp16:
      return 2;
    case VectorStorage::kSq8:
      return 1;
  }
  return 4;
}

}  // namespace vecmirror
