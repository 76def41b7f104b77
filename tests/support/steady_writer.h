// SteadyWriter: commits small random transactions against the live-mirror schema on its own
// thread, a few milliseconds apart: new entities, new versions, vectors replaced, status-only
// updates whose 1536-d vector arrives as unchanged TOAST, soft deletes, deleted embeddings.
// Every transaction is safe to run twice: when a commit fails (the server went away, perhaps
// after committing), the writer reconnects and runs the same text again until it succeeds.
//
// Thread-safety: Start/Pause/Resume/Stop from the test thread; the counters from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "tests/support/live_mirror.h"

namespace vecmirror::testing {

inline std::string RandomUuid(std::mt19937_64& rng) {
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < 32; ++i) {
    if (i == 8 || i == 12 || i == 16 || i == 20) out.push_back('-');
    out.push_back(hex[rng() % 16]);
  }
  return out;
}

class SteadyWriter {
  using milliseconds = std::chrono::milliseconds;
  static constexpr const char* kMiniLm = "all-MiniLM-L6-v2";
  static constexpr const char* kSmall = "text-embedding-3-small";
  static constexpr const char* kTypes[] = {"context", "template", "workflow"};

 public:
  SteadyWriter(std::string conninfo, std::vector<std::pair<std::string, std::string>> entities,
               uint64_t seed)
      : conninfo_(std::move(conninfo)), entities_(std::move(entities)), rng_(seed) {}
  ~SteadyWriter() { Stop(); }

  void Start() {
    thread_ = std::thread([this] { Run(); });
  }
  // Returns once no transaction is in flight; the writer then waits for Resume().
  void Pause() {
    pause_ = true;
    while (!paused_ && thread_.joinable() && !finished_) std::this_thread::sleep_for(milliseconds(2));
  }
  void Resume() {
    pause_ = false;
    while (paused_) std::this_thread::sleep_for(milliseconds(2));
  }
  void Stop() {
    stop_ = true;
    pause_ = false;
    if (thread_.joinable()) thread_.join();
  }

  int committed() const { return committed_; }
  int failed_attempts() const { return failed_attempts_; }
  std::string last_error() const {
    std::lock_guard lock(mu_);
    return last_error_;
  }

 private:
  void Run() {
    SqlSession sql(conninfo_);
    while (!stop_) {
      if (pause_) {
        paused_ = true;
        while (pause_ && !stop_) std::this_thread::sleep_for(milliseconds(2));
        paused_ = false;
        continue;
      }
      std::string new_entity;
      const std::string body = RandomTransaction(&new_entity);
      // Until it commits, or the test ends.
      while (!stop_) {
        const Status s = sql.Exec("BEGIN;" + body + "COMMIT;");
        if (s.ok()) {
          ++committed_;
          if (!new_entity.empty()) entities_.emplace_back(new_entity, tenant_of_new_);
          break;
        }
        ++failed_attempts_;
        {
          std::lock_guard lock(mu_);
          last_error_ = s.ToString();
        }
        std::this_thread::sleep_for(milliseconds(100));
        if (!sql.connected()) sql.Reconnect();
      }
      std::this_thread::sleep_for(milliseconds(3));
    }
    finished_ = true;
  }

  std::string RandomTransaction(std::string* new_entity) {
    const auto& [id, tenant] = entities_[rng_() % entities_.size()];
    const std::string qid = Quote(id);
    switch (rng_() % 7) {
      case 0: {  // a new entity with two embeddings; NOT EXISTS keeps a retry from duplicating it
        *new_entity = RandomUuid(rng_);
        tenant_of_new_ = tenant;
        const std::string nid = Quote(*new_entity);
        return "INSERT INTO entity (id, tenant_id, entity_type) SELECT " + nid + ", " + Quote(tenant) + ", " +
               Quote(kTypes[rng_() % 3]) + " WHERE NOT EXISTS (SELECT 1 FROM entity WHERE id = " + nid + ");" +
               Upsert(*new_entity, kMiniLm, 384, "completed") + Upsert(*new_entity, kSmall, 1536, "pending");
      }
      case 1:  // a new version, maybe of another type
        return "WITH closed AS (UPDATE entity SET valid_to = clock_timestamp() WHERE id = " + qid +
               " AND valid_to IS NULL RETURNING tenant_id, version) INSERT INTO entity (id, tenant_id, "
               "entity_type, version) SELECT " + qid + ", tenant_id, " + Quote(kTypes[rng_() % 3]) +
               ", version + 1 FROM closed;";
      case 2:
        return Upsert(id, kMiniLm, 384, "completed");
      case 3:  // status only: the 1536-d vector is TOASTed and arrives as "unchanged"
        return "UPDATE embedding SET status = " + Quote(rng_() % 3 ? "completed" : "pending") +
               " WHERE entity_id = " + qid + " AND model = " + Quote(kSmall) + ";";
      case 4:
        return Upsert(id, kSmall, 1536, "completed");
      case 5:
        return "UPDATE entity SET deleted_at = CASE WHEN deleted_at IS NULL THEN now() END WHERE id = " + qid +
               " AND valid_to IS NULL;";
      default:
        return "DELETE FROM embedding WHERE entity_id = " + qid + " AND model = " + Quote(kMiniLm) + ";";
    }
  }

  std::string Upsert(const std::string& entity_id, const char* model, uint32_t dim, const char* status) {
    return "INSERT INTO embedding (entity_id, model, vector, status) VALUES (" + Quote(entity_id) + ", " +
           Quote(model) + ", " + VectorSql(RandomVector(rng_, dim)) + ", " + Quote(status) +
           ") ON CONFLICT (entity_id, model) DO UPDATE SET vector = EXCLUDED.vector, status = EXCLUDED.status;";
  }

  const std::string conninfo_;
  std::vector<std::pair<std::string, std::string>> entities_;  // (id, tenant); writer thread only
  std::string tenant_of_new_;
  std::mt19937_64 rng_;
  std::thread thread_;
  std::atomic<bool> stop_{false}, pause_{false}, paused_{false}, finished_{false};
  std::atomic<int> committed_{0}, failed_attempts_{0};
  mutable std::mutex mu_;
  std::string last_error_;
};

}  // namespace vecmirror::testing
