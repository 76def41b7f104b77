#include "tools/datagen/generator.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <limits>
#include <memory>
#include <numeric>
#include <random>


namespace vecmirror::datagen {
namespace {

// Independent random streams of one seed.
enum Stream : uint64_t {
  kCommonStream = 1,
  kCentreStream,
  kDataStream,
  kQueryStream,
  kClusterStream,
  kTenantIdStream,
  kEntityStream,
  kEntityIdStream,
  kStatusStream,
  kVectorKeyStream,
  kModelSpaceStream,
};

// 2024-01-01T00:00:00Z: every generated timestamp counts from here, so data is reproducible.
constexpr int64_t kEpoch = 1704067200;
constexpr int64_t kDay = 86400;
// COPY data is sent to the server in chunks of about this many bytes.
constexpr size_t kCopyChunkBytes = 1 << 20;

uint64_t SplitMix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

uint64_t Mix(uint64_t a, uint64_t b) { return SplitMix64(a ^ SplitMix64(b)); }
uint64_t Mix(uint64_t a, uint64_t b, uint64_t c) { return Mix(Mix(a, b), c); }

// Fills `out` with a random unit vector (a standard normal per component, normalized).
void RandomUnitVector(uint64_t seed, uint32_t dim, float* out) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  double norm2 = 0;
  std::vector<double> v(dim);
  for (auto& x : v) {
    x = normal(rng);
    norm2 += x * x;
  }
  const double inv = 1.0 / std::sqrt(norm2);
  for (uint32_t i = 0; i < dim; ++i) out[i] = static_cast<float>(v[i] * inv);
}

// A version-4 UUID whose random bits come from `key`.
std::string UuidFromKey(uint64_t key) {
  uint8_t b[16];
  const uint64_t hi = SplitMix64(key), lo = SplitMix64(hi ^ 0xA5A5A5A5A5A5A5A5ULL);
  for (int i = 0; i < 8; ++i) {
    b[i] = static_cast<uint8_t>(hi >> (56 - 8 * i));
    b[8 + i] = static_cast<uint8_t>(lo >> (56 - 8 * i));
  }
  b[6] = (b[6] & 0x0F) | 0x40;
  b[8] = (b[8] & 0x3F) | 0x80;
  static const char kHex[] = "0123456789abcdef";
  std::string s;
  s.reserve(36);
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) s.push_back('-');
    s.push_back(kHex[b[i] >> 4]);
    s.push_back(kHex[b[i] & 0xF]);
  }
  return s;
}

std::string Timestamp(int64_t unix_seconds) {
  const time_t t = static_cast<time_t>(unix_seconds);
  struct tm tm {};
  gmtime_r(&t, &tm);
  char buf[32];
  strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S+00", &tm);
  return buf;
}

// Shuffled 0..n-1.
std::vector<uint32_t> Permutation(uint32_t n, std::mt19937_64& rng) {
  std::vector<uint32_t> p(n);
  std::iota(p.begin(), p.end(), 0);
  std::shuffle(p.begin(), p.end(), rng);
  return p;
}

// Entity types for n entities, in the proportions of `mix` (largest remainder), shuffled.
std::vector<std::string> AssignTypes(const std::vector<std::pair<std::string, double>>& mix,
                                     uint32_t n, std::mt19937_64& rng) {
  double total = 0;
  for (const auto& [name, share] : mix) total += share;
  std::vector<uint32_t> counts(mix.size());
  std::vector<std::pair<double, size_t>> remainders;
  uint32_t assigned = 0;
  for (size_t i = 0; i < mix.size(); ++i) {
    const double exact = total > 0 ? mix[i].second / total * n : 0;
    counts[i] = static_cast<uint32_t>(std::floor(exact));
    assigned += counts[i];
    remainders.push_back({exact - counts[i], i});
  }
  std::sort(remainders.begin(), remainders.end(),
            [](const auto& a, const auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); });
  for (size_t r = 0; assigned < n && r < remainders.size(); ++r, ++assigned) {
    ++counts[remainders[r].second];
  }
  std::vector<std::string> types;
  types.reserve(n);
  for (size_t i = 0; i < mix.size(); ++i) types.insert(types.end(), counts[i], mix[i].first);
  types.resize(n, mix.empty() ? std::string("context") : mix[0].first);
  std::shuffle(types.begin(), types.end(), rng);
  return types;
}

std::string Capitalized(std::string s) {
  if (!s.empty()) s[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(s[0])));
  return s;
}

void PlanEntities(const DatasetSpec& spec, uint32_t tenant, DatasetPlan* plan) {
  const uint32_t n = spec.entities_per_tenant;
  std::mt19937_64 rng(Mix(spec.seed, kEntityStream, tenant));
  const std::vector<std::string> types = AssignTypes(spec.type_mix, n, rng);

  std::vector<uint32_t> versions(n, 1);
  const std::vector<uint32_t> by_versioning = Permutation(n, rng);
  const uint32_t max_versions = std::max<uint32_t>(spec.max_versions, 2);
  std::uniform_int_distribution<uint32_t> extra_versions(2, max_versions);
  for (uint32_t k = 0; k < ShareOf(spec.versioned_share, n); ++k) {
    versions[by_versioning[k]] = extra_versions(rng);
  }
  std::vector<bool> deleted(n, false);
  const std::vector<uint32_t> by_deletion = Permutation(n, rng);
  for (uint32_t k = 0; k < ShareOf(spec.deleted_share, n); ++k) deleted[by_deletion[k]] = true;

  for (uint32_t i = 0; i < n; ++i) {
    PlannedEntity entity;
    entity.tenant = tenant;
    entity.type = types[i];
    const uint64_t entity_key = Mix(spec.seed, kEntityIdStream, Mix(tenant, i));
    const int64_t created = kEpoch + static_cast<int64_t>(i) * 60;
    for (uint32_t v = 1; v <= versions[i]; ++v) {
      PlannedVersion version;
      version.version = v;
      version.id = spec.id_layout == IdLayout::kStableId ? UuidFromKey(entity_key)
                                                         : UuidFromKey(Mix(entity_key, v));
      if (spec.id_layout == IdLayout::kIdPerVersion && v > 1) {
        version.previous_version_id = entity.versions.back().id;
      }
      version.valid_from = created + (v - 1) * kDay;
      if (v < versions[i]) version.valid_to = created + v * kDay;
      entity.versions.push_back(std::move(version));
    }
    if (deleted[i]) entity.deleted_at = entity.versions.back().valid_from + 3600;
    plan->entities.push_back(std::move(entity));
  }
}

// Bad kinds in the order they are handed out.
std::vector<BadRowReason> BadKinds(bool allow_non_finite) {
  if (allow_non_finite) {
    // Non-finite twice: a NaN row, then an Infinity row.
    return {BadRowReason::kNullVector, BadRowReason::kNonFinite, BadRowReason::kNonFinite,
            BadRowReason::kZeroVector, BadRowReason::kDimensionMismatch};
  }
  return {BadRowReason::kNullVector, BadRowReason::kZeroVector, BadRowReason::kDimensionMismatch};
}

void PlanEmbeddings(const DatasetSpec& spec, uint32_t tenant, uint32_t model,
                    size_t first_entity, bool allow_non_finite, DatasetPlan* plan) {
  const uint32_t n = spec.entities_per_tenant;
  std::mt19937_64 rng(Mix(spec.seed, kStatusStream, Mix(tenant, model)));
  const std::vector<uint32_t> order = Permutation(n, rng);
  const uint32_t pending = std::min(ShareOf(spec.pending_share, n), n);
  const uint32_t failed = std::min(ShareOf(spec.failed_share, n), n - pending);
  const uint32_t bad = std::min(ShareOf(spec.bad_share, n), n - pending - failed);
  const std::vector<BadRowReason> kinds = BadKinds(allow_non_finite);

  // The fate of each entity's current row, by its rank in `order`.
  std::vector<uint32_t> rank(n);
  for (uint32_t k = 0; k < n; ++k) rank[order[k]] = k;

  for (uint32_t i = 0; i < n; ++i) {
    const size_t entity_index = first_entity + i;
    const PlannedEntity& entity = plan->entities[entity_index];
    const uint32_t current = static_cast<uint32_t>(entity.versions.size() - 1);
    // One row per version whose id differs; with stable ids, one row for the entity.
    const uint32_t first_version = spec.id_layout == IdLayout::kIdPerVersion ? 0 : current;
    for (uint32_t v = first_version; v <= current; ++v) {
      PlannedEmbedding row;
      row.entity = static_cast<uint32_t>(entity_index);
      row.version = v;
      row.model = model;
      row.vector_key = Mix(spec.seed, kVectorKeyStream, Mix(Mix(tenant, i), v));
      row.status = "completed";
      row.has_vector = true;
      if (v == current) {
        const uint32_t k = rank[i];
        if (k < pending) {
          row.status = "pending";
          row.has_vector = k % 2 == 0;
        } else if (k < pending + failed) {
          row.status = "failed";
          row.has_vector = false;
        } else if (k < pending + failed + bad) {
          const size_t turn = (k - pending - failed) % kinds.size();
          row.bad = kinds[turn];
          row.bad_is_infinity = turn > 0 && kinds[turn - 1] == BadRowReason::kNonFinite;
          row.has_vector = row.bad != BadRowReason::kNullVector;
        }
      }
      row.searchable = v == current && entity.deleted_at == 0 && row.status == "completed" &&
                       !row.bad;
      plan->embeddings.push_back(std::move(row));
    }
  }
}

std::string ErrorOf(PGconn* conn, const PGresult* result) {
  std::string message = result ? PQresultErrorMessage(result) : PQerrorMessage(conn);
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  const char* sqlstate = result ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  if (sqlstate) message = std::string("SQLSTATE ") + sqlstate + ": " + message;
  return message;
}

using ResultPtr = std::unique_ptr<PGresult, decltype(&PQclear)>;

ResultPtr Run(PGconn* conn, const std::string& sql) { return ResultPtr(PQexec(conn, sql.c_str()), &PQclear); }

Status Exec(PGconn* conn, const std::string& sql) {
  ResultPtr result = Run(conn, sql);
  const ExecStatusType status = PQresultStatus(result.get());
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return Status::Ok();
  return Status::IOError(sql.substr(0, 60) + ": " + ErrorOf(conn, result.get()));
}

Status Query(PGconn* conn, const std::string& sql, ResultPtr* out) {
  ResultPtr result = Run(conn, sql);
  if (PQresultStatus(result.get()) != PGRES_TUPLES_OK) {
    return Status::IOError(sql.substr(0, 60) + ": " + ErrorOf(conn, result.get()));
  }
  *out = std::move(result);
  return Status::Ok();
}

// One COPY ... FROM STDIN in text format, fed in chunks.
class CopyIn {
 public:
  explicit CopyIn(PGconn* conn) : conn_(conn) {}

  Status Begin(const std::string& sql) {
    ResultPtr result = Run(conn_, sql);
    if (PQresultStatus(result.get()) != PGRES_COPY_IN) {
      return Status::IOError(sql + ": " + ErrorOf(conn_, result.get()));
    }
    return Status::Ok();
  }

  std::string& buffer() { return buffer_; }

  Status MaybeFlush() { return buffer_.size() >= kCopyChunkBytes ? Flush() : Status::Ok(); }

  Status End() {
    if (Status s = Flush(); !s.ok()) return s;
    if (PQputCopyEnd(conn_, nullptr) != 1) return Status::IOError("COPY end: " + ErrorOf(conn_, nullptr));
    Status status;
    while (PGresult* raw = PQgetResult(conn_)) {
      ResultPtr result(raw, &PQclear);
      if (PQresultStatus(raw) != PGRES_COMMAND_OK && status.ok()) {
        status = Status::IOError("COPY: " + ErrorOf(conn_, raw));
      }
    }
    return status;
  }

 private:
  Status Flush() {
    if (buffer_.empty()) return Status::Ok();
    if (PQputCopyData(conn_, buffer_.data(), static_cast<int>(buffer_.size())) != 1) {
      return Status::IOError("COPY data: " + ErrorOf(conn_, nullptr));
    }
    buffer_.clear();
    return Status::Ok();
  }

  PGconn* conn_;
  std::string buffer_;
};

void AppendField(std::string_view value, std::string* out) {
  out->append(value);
  out->push_back('\t');
}

void AppendNull(std::string* out) { out->append("\\N\t"); }

void EndRow(std::string* out) { out->back() = '\n'; }

Status CopyTenants(PGconn* conn, const DatasetPlan& plan) {
  CopyIn copy(conn);
  if (Status s = copy.Begin("COPY tenant (id, name, created_at) FROM STDIN"); !s.ok()) return s;
  for (size_t t = 0; t < plan.tenant_ids.size(); ++t) {
    std::string& out = copy.buffer();
    AppendField(plan.tenant_ids[t], &out);
    AppendField("Tenant " + std::to_string(t + 1), &out);
    AppendField(Timestamp(kEpoch - kDay), &out);
    EndRow(&out);
  }
  return copy.End();
}

Status CopyEntities(PGconn* conn, const DatasetPlan& plan) {
  CopyIn copy(conn);
  Status s = copy.Begin(
      "COPY entity (id, tenant_id, entity_type, name, content, version, previous_version_id, "
      "valid_from, valid_to, deleted_at) FROM STDIN");
  if (!s.ok()) return s;
  for (size_t i = 0; i < plan.entities.size(); ++i) {
    const PlannedEntity& entity = plan.entities[i];
    for (size_t v = 0; v < entity.versions.size(); ++v) {
      const PlannedVersion& version = entity.versions[v];
      const bool current = v + 1 == entity.versions.size();
      std::string& out = copy.buffer();
      AppendField(version.id, &out);
      AppendField(plan.tenant_ids[entity.tenant], &out);
      AppendField(entity.type, &out);
      AppendField(Capitalized(entity.type) + " " + std::to_string(i) + " v" + std::to_string(version.version), &out);
      AppendField("Synthetic " + entity.type + " " + std::to_string(i) + ", version " +
                      std::to_string(version.version) + ".",
                  &out);
      AppendField(std::to_string(version.version), &out);
      version.previous_version_id.empty() ? AppendNull(&out) : AppendField(version.previous_version_id, &out);
      AppendField(Timestamp(version.valid_from), &out);
      version.valid_to == 0 ? AppendNull(&out) : AppendField(Timestamp(version.valid_to), &out);
      current && entity.deleted_at != 0 ? AppendField(Timestamp(entity.deleted_at), &out) : AppendNull(&out);
      EndRow(&out);
      if (Status f = copy.MaybeFlush(); !f.ok()) return f;
    }
  }
  return copy.End();
}

Status CopyEmbeddings(PGconn* conn, const DatasetPlan& plan, VectorColumn column,
                      const LoadOptions& options, LoadStats* stats) {
  const DatasetSpec& spec = plan.spec;
  std::vector<std::unique_ptr<ClusteredVectors>> spaces;
  for (const ModelDimension& model : spec.models) {
    spaces.push_back(std::make_unique<ClusteredVectors>(
        model.dim, spec.clusters, ModelSpaceSeed(spec.seed, model.name), spec.shape));
  }
  CopyIn copy(conn);
  Status s = copy.Begin(
      "COPY embedding (entity_id, model, vector, status, error, created_at, updated_at) FROM STDIN");
  if (!s.ok()) return s;

  size_t group_start = 0;
  for (size_t r = 0; r < plan.embeddings.size(); ++r) {
    const PlannedEmbedding& row = plan.embeddings[r];
    const PlannedEntity& entity = plan.entities[row.entity];
    const ModelDimension& model = spec.models[row.model];
    const PlannedVersion& version = entity.versions[row.version];
    std::string& out = copy.buffer();
    AppendField(version.id, &out);
    AppendField(model.name, &out);
    const std::vector<float> v = PlannedVector(plan, *spaces[row.model], row);
    if (v.empty()) {
      AppendNull(&out);
    } else {
      AppendVectorText(v.data(), v.size(), column, &out);
      out.push_back('\t');
    }
    AppendField(row.status, &out);
    row.status == "failed" ? AppendField("model endpoint returned HTTP 500 (synthetic)", &out) : AppendNull(&out);
    AppendField(Timestamp(version.valid_from + 60), &out);
    AppendField(Timestamp(version.valid_from + (row.status == "pending" ? 60 : 120)), &out);
    EndRow(&out);
    if (Status f = copy.MaybeFlush(); !f.ok()) return f;

    ++stats->embedding_rows;
    ++stats->embeddings_by_status[row.status];
    if (row.bad) ++stats->bad_rows[*row.bad];
    if (row.searchable) ++stats->searchable[{plan.tenant_ids[entity.tenant], model.name}];

    const bool group_ends = r + 1 == plan.embeddings.size() ||
                            plan.embeddings[r + 1].model != row.model ||
                            plan.entities[plan.embeddings[r + 1].entity].tenant != entity.tenant;
    if (group_ends && options.progress) {
      options.progress("embeddings: tenant " + std::to_string(entity.tenant + 1) + "/" +
                       std::to_string(plan.tenant_ids.size()) + ", " + model.name + " (" +
                       std::to_string(model.dim) + "-d): " + std::to_string(r + 1 - group_start) +
                       " rows");
    }
    if (group_ends) group_start = r + 1;
  }
  return copy.End();
}

Status LoadInTransaction(PGconn* conn, const DatasetSpec& spec, const LoadOptions& options,
                         LoadStats* stats) {
  if (options.truncate) {
    if (Status s = Exec(conn, "TRUNCATE embedding, entity, tenant RESTART IDENTITY"); !s.ok()) return s;
    if (options.progress) options.progress("emptied tenant, entity and embedding");
  }
  const DatasetPlan plan = PlanDataset(spec, stats->column == VectorColumn::kFloat4Array);
  if (Status s = CopyTenants(conn, plan); !s.ok()) return s;
  stats->tenants = plan.tenant_ids.size();
  if (options.progress) options.progress("tenants: " + std::to_string(stats->tenants) + " rows");

  if (Status s = CopyEntities(conn, plan); !s.ok()) return s;
  for (const PlannedEntity& entity : plan.entities) stats->entity_rows += entity.versions.size();
  if (options.progress) options.progress("entities: " + std::to_string(stats->entity_rows) + " rows");

  return CopyEmbeddings(conn, plan, stats->column, options, stats);
}

}  // namespace

ClusteredVectors::ClusteredVectors(uint32_t dim, uint32_t clusters, uint64_t seed, VectorShape shape)
    : dim_(dim), clusters_(std::max<uint32_t>(clusters, 1)), seed_(seed), shape_(shape) {
  common_.resize(dim_);
  RandomUnitVector(Mix(seed_, kCommonStream), dim_, common_.data());
  centres_.resize(static_cast<size_t>(clusters_) * dim_);
  for (uint32_t k = 0; k < clusters_; ++k) {
    RandomUnitVector(Mix(seed_, kCentreStream, k), dim_, centres_.data() + static_cast<size_t>(k) * dim_);
  }
}

uint32_t ClusteredVectors::ClusterOf(uint64_t key) const {
  return static_cast<uint32_t>(Mix(seed_, kClusterStream, Mix(kDataStream, key)) % clusters_);
}

std::vector<float> ClusteredVectors::Vector(uint64_t key) const {
  std::vector<float> v(dim_);
  Vector(key, v.data());
  return v;
}

void ClusteredVectors::Vector(uint64_t key, float* out) const { Draw(kDataStream, key, out); }

std::vector<float> ClusteredVectors::Query(uint64_t n) const {
  std::vector<float> v(dim_);
  Draw(kQueryStream, n, v.data());
  return v;
}

void ClusteredVectors::Draw(uint64_t stream, uint64_t key, float* out) const {
  const uint32_t cluster =
      static_cast<uint32_t>(Mix(seed_, kClusterStream, Mix(stream, key)) % clusters_);
  const float* centre = centres_.data() + static_cast<size_t>(cluster) * dim_;
  // Noise components are N(0, 1/dim), so the noise vector's norm is about 1 like the others'.
  const double common = std::sqrt(std::max(shape_.common, 0.0));
  const double spread = std::sqrt(std::max(shape_.cluster, 0.0));
  const double noise = std::sqrt(std::max(shape_.noise, 0.0) / std::max<uint32_t>(dim_, 1));
  std::mt19937_64 rng(Mix(seed_, stream, key));
  std::normal_distribution<double> normal(0.0, 1.0);
  std::vector<double> v(dim_);
  double norm2 = 0;
  for (uint32_t i = 0; i < dim_; ++i) {
    v[i] = common * common_[i] + spread * centre[i] + noise * normal(rng);
    norm2 += v[i] * v[i];
  }
  if (norm2 == 0) {  // only with an all-zero shape
    v.assign(dim_, 0.0);
    if (dim_ > 0) v[0] = norm2 = 1.0;
  }
  const double inv = 1.0 / std::sqrt(norm2);
  for (uint32_t i = 0; i < dim_; ++i) out[i] = static_cast<float>(v[i] * inv);
}

uint64_t ModelSpaceSeed(uint64_t dataset_seed, std::string_view model) {
  uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a
  for (unsigned char c : model) h = (h ^ c) * 0x100000001b3ULL;
  return Mix(dataset_seed, kModelSpaceStream, h);
}

uint32_t ShareOf(double share, uint32_t n) {
  if (!(share > 0)) return 0;
  return static_cast<uint32_t>(std::min<long long>(std::llround(share * n), n));
}

DatasetPlan PlanDataset(const DatasetSpec& spec, bool allow_non_finite) {
  DatasetPlan plan;
  plan.spec = spec;
  for (uint32_t t = 0; t < spec.tenants; ++t) {
    plan.tenant_ids.push_back(UuidFromKey(Mix(spec.seed, kTenantIdStream, t)));
  }
  for (uint32_t t = 0; t < spec.tenants; ++t) {
    const size_t first_entity = plan.entities.size();
    PlanEntities(spec, t, &plan);
    for (uint32_t m = 0; m < spec.models.size(); ++m) {
      PlanEmbeddings(spec, t, m, first_entity, allow_non_finite, &plan);
    }
  }
  return plan;
}

std::vector<float> PlannedVector(const DatasetPlan& plan, const ClusteredVectors& space,
                                 const PlannedEmbedding& row) {
  if (!row.has_vector) return {};
  std::vector<float> v = space.Vector(row.vector_key);
  if (!row.bad) return v;
  switch (*row.bad) {
    case BadRowReason::kNonFinite:
      v[v.size() / 2] = row.bad_is_infinity ? std::numeric_limits<float>::infinity()
                                            : std::numeric_limits<float>::quiet_NaN();
      break;
    case BadRowReason::kZeroVector:
      std::fill(v.begin(), v.end(), 0.0f);
      break;
    case BadRowReason::kDimensionMismatch:
      v.resize(std::max<size_t>(v.size() / 2, 1));
      break;
    case BadRowReason::kNullVector:
    case BadRowReason::kMalformed:
    case BadRowReason::kUnknownModel:
    case BadRowReason::kEntityTypeLimit:
      break;
  }
  return v;
}

Status DetectVectorColumn(PGconn* conn, VectorColumn* out) {
  ResultPtr result(nullptr, &PQclear);
  Status s = Query(conn,
                   "SELECT t.typname FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
                   "WHERE a.attrelid = to_regclass('embedding') AND a.attname = 'vector' "
                   "AND NOT a.attisdropped",
                   &result);
  if (!s.ok()) return s;
  if (PQntuples(result.get()) != 1) {
    return Status::FailedPrecondition("no column embedding.vector; load sql/schema.sql first");
  }
  const std::string type = PQgetvalue(result.get(), 0, 0);
  if (type == "vector") {
    *out = VectorColumn::kPgvector;
  } else if (type == "_float4") {
    *out = VectorColumn::kFloat4Array;
  } else {
    return Status::InvalidArgument("embedding.vector has type " + type + "; expected vector or real[]");
  }
  return Status::Ok();
}

void AppendVectorText(const float* v, size_t n, VectorColumn column, std::string* out) {
  out->push_back(column == VectorColumn::kPgvector ? '[' : '{');
  char buf[32];
  for (size_t i = 0; i < n; ++i) {
    if (i > 0) out->push_back(',');
    if (std::isnan(v[i])) {
      out->append("NaN");
    } else if (std::isinf(v[i])) {
      out->append(v[i] > 0 ? "Infinity" : "-Infinity");
    } else {
      const auto result = std::to_chars(buf, buf + sizeof buf, v[i]);
      out->append(buf, result.ptr);
    }
  }
  out->push_back(column == VectorColumn::kPgvector ? ']' : '}');
}

Status LoadDataset(PGconn* conn, const DatasetSpec& spec, const LoadOptions& options,
                   LoadStats* stats) {
  *stats = LoadStats();
  for (const ModelDimension& model : spec.models) {
    if (model.dim == 0) return Status::InvalidArgument("model " + model.name + " has dimension 0");
  }
  if (Status s = DetectVectorColumn(conn, &stats->column); !s.ok()) return s;
  if (Status s = Exec(conn, "BEGIN"); !s.ok()) return s;
  Status status = LoadInTransaction(conn, spec, options, stats);
  if (status.ok()) status = Exec(conn, "COMMIT");
  if (!status.ok()) {
    Exec(conn, "ROLLBACK");
    return status;
  }
  return Status::Ok();
}

Status SummarizeDatabase(PGconn* conn, const std::vector<ModelDimension>& models, DatabaseSummary* out) {
  *out = DatabaseSummary();
  ResultPtr result(nullptr, &PQclear);
  Status s = Query(conn,
                   "SELECT 'tenant', count(*) FROM tenant UNION ALL "
                   "SELECT 'entity', count(*) FROM entity UNION ALL "
                   "SELECT 'embedding', count(*) FROM embedding",
                   &result);
  if (!s.ok()) return s;
  for (int r = 0; r < PQntuples(result.get()); ++r) {
    out->rows_per_table[PQgetvalue(result.get(), r, 0)] = std::stoull(PQgetvalue(result.get(), r, 1));
  }
  s = Query(conn, "SELECT status, count(*) FROM embedding GROUP BY status ORDER BY status", &result);
  if (!s.ok()) return s;
  for (int r = 0; r < PQntuples(result.get()); ++r) {
    out->embeddings_by_status[PQgetvalue(result.get(), r, 0)] = std::stoull(PQgetvalue(result.get(), r, 1));
  }
  if (models.empty()) return Status::Ok();

  std::string values;
  for (const ModelDimension& model : models) {
    char* literal = PQescapeLiteral(conn, model.name.data(), model.name.size());
    if (!literal) return Status::IOError("escaping a model name: " + ErrorOf(conn, nullptr));
    values += (values.empty() ? "(" : ", (") + std::string(literal) + ", " + std::to_string(model.dim) + ")";
    PQfreemem(literal);
  }
  s = Query(conn,
            "WITH models (model, dim) AS (VALUES " + values + ") "
            "SELECT e.tenant_id::text, emb.model, count(*) "
            "FROM embedding emb "
            "JOIN entity e ON e.id = emb.entity_id AND e.valid_to IS NULL AND e.deleted_at IS NULL "
            "JOIN models m ON m.model = emb.model "
            "CROSS JOIN LATERAL (SELECT emb.vector::real[] AS v) c "
            "WHERE emb.status = 'completed' AND c.v IS NOT NULL AND cardinality(c.v) = m.dim "
            "  AND (SELECT bool_and(x NOT IN ('NaN', 'Infinity', '-Infinity')) AND bool_or(x <> 0) "
            "       FROM unnest(c.v) AS x) "
            "GROUP BY 1, 2 ORDER BY 1, 2",
            &result);
  if (!s.ok()) return s;
  for (int r = 0; r < PQntuples(result.get()); ++r) {
    out->searchable[{PQgetvalue(result.get(), r, 0), PQgetvalue(result.get(), r, 1)}] =
        std::stoull(PQgetvalue(result.get(), r, 2));
  }
  return Status::Ok();
}

Status WriteVectorFile(const std::string& path, const std::vector<float>& v) {
  std::ofstream file(path, std::ios::trunc);
  if (!file) return Status::IOError("cannot open " + path + " for writing");
  char buf[32];
  for (float x : v) {
    const auto result = std::to_chars(buf, buf + sizeof buf, x);
    file.write(buf, result.ptr - buf);
    file.put('\n');
  }
  file.close();
  if (!file) return Status::IOError("writing " + path + " failed");
  return Status::Ok();
}

}  // namespace vecmirror::datagen
