// vecmirror_mirror_state_bench: the heap bytes per row of the Mirror's own bookkeeping (entity
// versions, embedding rows, what each entity has in which index), apart from the indexes.
//
// It fills a Mirror through an initial load of --n entities, each with one completed embedding
// of --model, with keys shaped as the decoder builds them for the production schema (a bigint
// primary key: a 4-byte length and 8 bytes). After FinishLoad every vector lives in its index
// and the mirror keeps none. The mirror's share is the heap in use (mallinfo2, every arena)
// just before the Mirror is destroyed minus just after: the Registry and its index stay. Then
// the state the mirror encoded (a snapshot's part) is restored into a new Mirror, as a restart
// does, and measured the same way.
//
// It also times the load: the mirror's calls for the rows (the vectors' generation left out), and
// FinishLoad, which hands the vectors to the index; and it reports the heap that is free but not
// given back after the load (mallinfo2 fordblks): the holes a load leaves between the records.
//
// Usage: vecmirror_mirror_state_bench [--n 100000] [--dim 1536] [--types 4]
#include <malloc.h>

#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>
#include <random>
#include <string>

#include "bench/machine.h"
#include "src/mirror.h"

namespace vecmirror {
namespace {

// Bytes in use: small blocks from the arenas, plus large ones that malloc mmaps on their own
// (a big map's bucket array is one of these).
size_t HeapInUse() {
  const struct mallinfo2 m = mallinfo2();
  return m.uordblks + m.hblkhd;
}

// The key of a row whose primary key is one bigint, as RowDecoder::DecodeKey builds it.
std::string BigintKey(int64_t value) {
  std::string key;
  const uint32_t len = 8;
  key.append(reinterpret_cast<const char*>(&len), sizeof len);
  for (int shift = 56; shift >= 0; shift -= 8) key.push_back(static_cast<char>(value >> shift));
  return key;
}

// CPU seconds of this thread.
double ThreadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

Uuid RandomUuid(std::mt19937_64& rng) {
  Uuid u;
  const uint64_t a = rng(), b = rng();
  std::memcpy(u.bytes.data(), &a, 8);
  std::memcpy(u.bytes.data() + 8, &b, 8);
  return u;
}

}  // namespace
}  // namespace vecmirror

int main(int argc, char** argv) {
  using namespace vecmirror;
  CLI::App app{"heap bytes per row of the Mirror's bookkeeping"};
  size_t n = 100000;
  uint32_t dim = 1536;
  int types = 4;
  std::string model = "text-embedding-3-small";
  app.add_option("--n", n, "rows (entities, each with one completed embedding)")
      ->capture_default_str();
  app.add_option("--dim", dim, "vector dimension")->capture_default_str();
  app.add_option("--types", types, "distinct entity types")->capture_default_str();
  app.add_option("--model", model, "the embeddings' model")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  Registry registry;
  ModelCatalog models({{model, dim}});
  MirrorStatusBoard board;
  const size_t heap_at_start = HeapInUse();
  auto mirror = std::make_unique<Mirror>(registry, models, board);

  std::mt19937_64 rng(42);
  std::normal_distribution<float> normal;
  const Uuid tenant = RandomUuid(rng);
  mirror->BeginLoad();
  EmbeddingRow embedding;
  embedding.model = model;
  embedding.status = EmbeddingStatus::kCompleted;
  embedding.vector_state = EmbeddingRow::VectorState::kValue;
  embedding.vector.resize(dim);
  double upsert_cpu_s = 0;  // in the mirror's calls only
  for (size_t i = 0; i < n; ++i) {
    EntityRow entity{BigintKey(static_cast<int64_t>(i + 1)), RandomUuid(rng), tenant,
                     "type-" + std::to_string(i % types), true};
    double cpu = ThreadCpuSeconds();
    mirror->UpsertEntity(entity);
    upsert_cpu_s += ThreadCpuSeconds() - cpu;
    embedding.key = BigintKey(static_cast<int64_t>(i + 1));
    embedding.entity_id = entity.id;
    for (auto& x : embedding.vector) x = normal(rng);
    cpu = ThreadCpuSeconds();
    mirror->UpsertEmbedding(embedding);
    upsert_cpu_s += ThreadCpuSeconds() - cpu;
  }
  const double finish_cpu_start = ThreadCpuSeconds();
  const auto finish_start = std::chrono::steady_clock::now();
  mirror->FinishLoad(1);
  const double finish_cpu_s = ThreadCpuSeconds() - finish_cpu_start;
  const double finish_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - finish_start).count();
  embedding = {};
  const size_t free_after_load = mallinfo2().fordblks;
  // The encoded state (a snapshot's part) is made first, so that it is in every figure below.
  std::string state = mirror->EncodeState();
  const size_t heap_loaded = HeapInUse();
  mirror.reset();
  const size_t heap_without_mirror = HeapInUse();

  // The same state restored, as a restart from a snapshot does (the indexes are still there).
  mirror = std::make_unique<Mirror>(registry, models, board);
  if (Status s = mirror->RestoreState(state); !s.ok()) {
    std::fprintf(stderr, "restore failed: %s\n", s.message().c_str());
    return 1;
  }
  const size_t heap_restored = HeapInUse();
  const size_t state_bytes = state.size();
  mirror.reset();
  std::string().swap(state);  // frees it (assigning a short string would keep the buffer)
  const size_t heap_at_end = HeapInUse();

  const double rows = static_cast<double>(n);
  const double mirror_bytes = static_cast<double>(heap_loaded - heap_without_mirror);
  const double rest_bytes = static_cast<double>(heap_at_end - heap_at_start);
  std::printf("cpu: %s, load average: %s\n", bench::CpuModel().c_str(),
              bench::LoadAverage().c_str());
  std::printf("rows %zu, dim %u, model %s, %d entity types\n", n, dim, model.c_str(), types);
  std::printf("mirror bookkeeping: %.0f bytes in all, %.1f bytes per row\n", mirror_bytes,
              mirror_bytes / rows);
  std::printf("mirror restored from its encoded state (%.1f bytes per row): %.1f bytes per row\n",
              static_cast<double>(state_bytes) / rows,
              static_cast<double>(heap_restored - heap_without_mirror) / rows);
  std::printf("registry and indexes: %.1f bytes per row (%.3fx the raw %zu bytes)\n",
              rest_bytes / rows, rest_bytes / rows / (dim * sizeof(float)), dim * sizeof(float));
  std::printf("load: %.3f s CPU in the mirror's calls (%.0f rows/s); FinishLoad %.3f s (%.3f s "
              "CPU); heap free but kept after the load: %.1f bytes per row\n",
              upsert_cpu_s, rows / upsert_cpu_s, finish_s, finish_cpu_s,
              static_cast<double>(free_after_load) / rows);
  return 0;
}
