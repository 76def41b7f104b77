// Read-your-writes at the WAL page edge, against the real server and PostgreSQL.
//
// When a commit ends exactly on an 8 KB WAL page boundary, pg_current_wal_insert_lsn() reports
// the position after the next page's header (boundary + 24), while the end LSN of the commit the
// mirror applies is the boundary itself. A search that waits for the reported LSN must still be
// answered at once: nothing the stream sends reaches the header's end until later WAL arrives.
// The test forces commits to end on page boundaries by padding each transaction with a logical
// message (which pgoutput does not send) sized so that the commit record fills the page.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "base/lsn.h"
#include "tests/support/live_mirror.h"
#include "tests/support/mirror_check.h"

namespace vecmirror::testing {
namespace {

constexpr char kModel[] = "all-MiniLM-L6-v2";
constexpr uint32_t kDim = 384;
// A transactional logical message of at least this many bytes has the same record overhead
// as any longer one (the data length no longer fits the short block-data header).
constexpr uint64_t kMinPadBytes = 300;

class ReadYourWritesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(mirror_.Create("ryw").ok());
    ASSERT_TRUE(mirror_.StartServer().ok()) << mirror_.LogTail();
    sql_ = std::make_unique<SqlSession>(mirror_.conninfo());
    ASSERT_TRUE(sql_->connected());
    Status s;
    tenant_ = sql_->Value("INSERT INTO tenant (name) VALUES ('ryw') RETURNING id::text", &s);
    ASSERT_TRUE(s.ok()) << s.ToString();
    entity_ = sql_->Value("SELECT gen_random_uuid()::text");
    ASSERT_TRUE(sql_->Exec("INSERT INTO entity (id, tenant_id, entity_type) VALUES (" + Quote(entity_) +
                           ", " + Quote(tenant_) + ", 'context');"
                           "INSERT INTO embedding (entity_id, model, vector, status) VALUES (" +
                           Quote(entity_) + ", " + Quote(kModel) + ", " + VectorSql(NextVector()) +
                           ", 'completed')")
                    .ok());
  }

  void TearDown() override {
    if (HasFailure()) std::cerr << "server log (tail):\n" << mirror_.LogTail() << "\n";
  }

  std::vector<float> NextVector() { return RandomVector(rng_, kDim); }

  uint64_t InsertLsn() {
    return ParseLsn(sql_->Value("SELECT pg_current_wal_insert_lsn()::text")).value_or(0);
  }

  uint64_t WalSegmentBytes() {
    return std::stoull(sql_->Value("SELECT setting FROM pg_settings WHERE name = 'wal_segment_size'"));
  }

  // Updates the vector in one transaction padded so that, if `tail_guess` (the WAL bytes of the
  // padding message's overhead plus the commit record) is right, the commit record ends on a
  // page boundary. Returns the insert LSN read after the commit and how far the commit ended
  // from that boundary, so the caller can correct its guess.
  struct Round {
    uint64_t lsn_after = 0;
    int64_t miss = 0;  // bytes past the boundary (negative: short of it)
    std::vector<float> vector;
  };
  Round WriteRound(uint64_t tail_guess) {
    Round round;
    round.vector = NextVector();
    EXPECT_TRUE(sql_->Exec("BEGIN; UPDATE embedding SET vector = " + VectorSql(round.vector) +
                           " WHERE entity_id = " + Quote(entity_))
                    .ok());
    uint64_t at = InsertLsn();
    uint64_t to_boundary = kWalPageBytes - at % kWalPageBytes;
    if (to_boundary < tail_guess + kMinPadBytes) {
      // Too close to pad exactly: cross into the next page first.
      Pad(to_boundary + 64);
      at = InsertLsn();
      to_boundary = kWalPageBytes - at % kWalPageBytes;
    }
    const uint64_t boundary = at + to_boundary;
    Pad(to_boundary - tail_guess);
    EXPECT_TRUE(sql_->Exec("COMMIT").ok());
    round.lsn_after = InsertLsn();
    // Past the boundary the insert LSN also counts the next page's header.
    const uint64_t header =
        boundary % wal_segment_bytes_ == 0 ? kWalLongHeaderBytes : kWalShortHeaderBytes;
    const uint64_t end = round.lsn_after >= boundary + header ? round.lsn_after - header : round.lsn_after;
    round.miss = static_cast<int64_t>(end) - static_cast<int64_t>(boundary);
    return round;
  }

  void Pad(uint64_t bytes) {
    EXPECT_TRUE(sql_->Exec("SELECT pg_logical_emit_message(true, 'vmtest-pad', repeat('x', " +
                           std::to_string(bytes) + "))")
                    .ok());
  }

  // Searches with min_lsn and a 10 s deadline; returns how long the answer took. The answer
  // must show the round's vector (similarity 1 to itself).
  std::chrono::duration<double> SearchAfter(const Round& round) {
    const auto start = std::chrono::steady_clock::now();
    v1::SearchResponse response;
    const grpc::Status s = ExactSearch(mirror_.stub(), tenant_, kModel, round.vector, 1,
                                       round.lsn_after, std::chrono::seconds(10), &response);
    const auto took = std::chrono::steady_clock::now() - start;
    EXPECT_TRUE(s.ok()) << "min_lsn " << FormatLsn(round.lsn_after) << ": " << GrpcText(s);
    if (s.ok()) {
      EXPECT_EQ(response.results_size(), 1);
      if (response.results_size() == 1) {
        EXPECT_EQ(response.results(0).entity_id(), entity_);
        EXPECT_NEAR(response.results(0).similarity(), 1.0, 1e-5) << "the write is not visible";
      }
    }
    return took;
  }

  LiveMirror mirror_;
  std::unique_ptr<SqlSession> sql_;
  std::mt19937_64 rng_{20261125};
  std::string tenant_;
  std::string entity_;
  uint64_t wal_segment_bytes_ = 16u << 20;
};

// Commits forced onto page boundaries, each searched at once with the LSN the README tells
// callers to read. Every wait ends well under a second: the maximum, not a percentile.
TEST_F(ReadYourWritesTest, ACommitEndingOnAPageBoundaryIsSeenAtOnce) {
  wal_segment_bytes_ = WalSegmentBytes();
  ASSERT_EQ(wal_segment_bytes_ % kWalPageBytes, 0u);
  // The guess is corrected by each round's miss, so one round perturbed by WAL from elsewhere
  // (a running-xacts record, a checkpoint) costs a round or two, not the test.
  uint64_t tail_guess = 128;
  constexpr int kWantedBoundaryRounds = 25;
  constexpr int kMaxAttempts = 200;
  int boundary_rounds = 0;
  std::chrono::duration<double> slowest{0};
  for (int attempt = 0; attempt < kMaxAttempts && boundary_rounds < kWantedBoundaryRounds; ++attempt) {
    const Round round = WriteRound(tail_guess);
    if (std::abs(round.miss) < 256) tail_guess += round.miss;
    const bool on_boundary = round.lsn_after % kWalPageBytes == kWalShortHeaderBytes ||
                             round.lsn_after % kWalPageBytes == kWalLongHeaderBytes;
    const auto took = SearchAfter(round);
    if (HasFailure()) return;
    slowest = std::max(slowest, took);
    if (on_boundary) ++boundary_rounds;
  }
  EXPECT_GE(boundary_rounds, kWantedBoundaryRounds)
      << "the padding did not land commits on page boundaries often enough to test the edge";
  EXPECT_LT(slowest.count(), 1.0) << "a min_lsn wait took " << slowest.count() << " s";
}

// Whatever the position, the LSN read after a commit is covered by what the stream applies:
// plain sequential rounds, bounded, each answered well under a second.
TEST_F(ReadYourWritesTest, SequentialWritesAreEachSeenAtOnce) {
  std::chrono::duration<double> slowest{0};
  for (int i = 0; i < 200; ++i) {
    Round round;
    round.vector = NextVector();
    ASSERT_TRUE(sql_->Exec("UPDATE embedding SET vector = " + VectorSql(round.vector) +
                           " WHERE entity_id = " + Quote(entity_))
                    .ok());
    round.lsn_after = InsertLsn();
    slowest = std::max(slowest, SearchAfter(round));
    if (HasFailure()) return;
  }
  EXPECT_LT(slowest.count(), 1.0);
}

}  // namespace
}  // namespace vecmirror::testing
