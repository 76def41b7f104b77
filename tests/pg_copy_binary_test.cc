// Tests of the incremental binary COPY parser: streams built by hand from the documented
// framing (copy.sgml), fed whole, byte by byte and split at random points.
#include "src/pg/copy_binary.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <random>

#include "src/pg/wire_format.h"
#include "tests/support/pg_test_bytes.h"

namespace vecmirror::pg {
namespace {

using testing::Bytes;
using testing::PgvectorBinary;

// A row as the test expects it: NULL or the field's bytes.
using Row = std::vector<std::optional<std::string>>;

const std::string kSignature("PGCOPY\n\377\r\n\0", 11);

std::string Header(uint32_t flags = 0, std::string_view extension = {}) {
  return Bytes().Raw(kSignature).U32(flags).I32(static_cast<int32_t>(extension.size()))
      .Raw(extension).str();
}

std::string Tuple(const Row& row) {
  Bytes b;
  b.I16(static_cast<int16_t>(row.size()));
  for (const auto& field : row) {
    if (!field) {
      b.I32(-1);
    } else {
      b.I32(static_cast<int32_t>(field->size())).Raw(*field);
    }
  }
  return b.str();
}

std::string Trailer() { return Bytes().I16(-1).str(); }

std::string Stream(const std::vector<Row>& rows) {
  std::string s = Header();
  for (const Row& r : rows) s += Tuple(r);
  return s + Trailer();
}

// Rows like the initial load reads: id int8, entity uuid, status text, vector (pgvector binary).
std::vector<Row> SampleRows(size_t count, size_t dim, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::vector<Row> rows;
  for (size_t i = 0; i < count; ++i) {
    std::vector<float> v(dim);
    for (float& x : v) x = uniform(rng);
    std::string uuid(16, '\0');
    for (char& c : uuid) c = static_cast<char>(rng());
    Row row = {Bytes().I64(static_cast<int64_t>(1000 + i)).str(), uuid,
               std::string(i % 3 == 0 ? "pending" : "completed"), PgvectorBinary(v)};
    if (i % 4 == 1) row[3] = std::nullopt;  // a NULL vector
    if (i % 5 == 2) row[2] = std::string();   // an empty, non-NULL text
    rows.push_back(std::move(row));
  }
  return rows;
}

// Collects tuples, copying the borrowed bytes.
struct Collector {
  std::vector<Row> rows;
  CopyBinaryParser::TupleFn Fn() {
    return [this](const pg::Tuple& t) {
      Row row;
      for (const ColumnValue& v : t) {
        EXPECT_TRUE(v.kind == ColumnValue::Kind::kNull || v.kind == ColumnValue::Kind::kBinary);
        if (v.kind == ColumnValue::Kind::kNull) {
          EXPECT_TRUE(v.bytes.empty());
          row.push_back(std::nullopt);
        } else {
          row.push_back(std::string(v.bytes));
        }
      }
      rows.push_back(std::move(row));
      return Status::Ok();
    };
  }
};

// Feeds `stream` in pieces cut at `cuts` (sorted offsets).
Status FeedSplit(CopyBinaryParser* parser, std::string_view stream, std::vector<size_t> cuts) {
  size_t start = 0;
  cuts.push_back(stream.size());
  for (size_t cut : cuts) {
    Status s = parser->Feed(stream.substr(start, cut - start));
    if (!s.ok()) return s;
    start = cut;
  }
  return parser->Finish();
}

TEST(CopyBinary, ParsesAWholeStream) {
  const std::vector<Row> rows = SampleRows(12, 8, 1);
  const std::string stream = Stream(rows);
  Collector c;
  CopyBinaryParser parser(c.Fn());
  ASSERT_TRUE(parser.Feed(stream).ok());
  ASSERT_TRUE(parser.Finish().ok());
  EXPECT_EQ(c.rows, rows);
  EXPECT_EQ(parser.tuples(), rows.size());
  EXPECT_EQ(parser.bytes(), stream.size());
}

TEST(CopyBinary, FieldsDecodeWithTheColumnDecoders) {
  const std::vector<float> v = {0.25f, -1.0f, 3.5f};
  const std::string stream = Stream({{Bytes().I64(42).str(), PgvectorBinary(v)}});
  std::vector<float> decoded;
  int64_t id = 0;
  CopyBinaryParser parser([&](const pg::Tuple& t) {
    EXPECT_EQ(t.size(), 2u);
    Status s = DecodeInteger(t[0], &id);
    return s.ok() ? DecodeVector(t[1], VectorType::kPgvector, &decoded) : s;
  });
  ASSERT_TRUE(parser.Feed(stream).ok());
  ASSERT_TRUE(parser.Finish().ok());
  EXPECT_EQ(id, 42);
  EXPECT_EQ(decoded, v);
}

TEST(CopyBinary, ParsesOneByteAtATime) {
  const std::vector<Row> rows = SampleRows(7, 16, 2);
  const std::string stream = Stream(rows);
  Collector c;
  CopyBinaryParser parser(c.Fn());
  for (char byte : stream) ASSERT_TRUE(parser.Feed(std::string_view(&byte, 1)).ok());
  ASSERT_TRUE(parser.Finish().ok());
  EXPECT_EQ(c.rows, rows);
}

// 1536-d rows fed a byte at a time: a parser that re-scanned or re-copied its buffer on every
// chunk would take minutes here.
TEST(CopyBinary, ByteAtATimeStaysLinear) {
  const std::vector<Row> rows = SampleRows(40, 1536, 3);
  const std::string stream = Stream(rows);
  Collector c;
  CopyBinaryParser parser(c.Fn());
  for (char byte : stream) ASSERT_TRUE(parser.Feed(std::string_view(&byte, 1)).ok());
  ASSERT_TRUE(parser.Finish().ok());
  EXPECT_EQ(c.rows, rows);
}

TEST(CopyBinary, ParsesRandomSplits) {
  const std::vector<Row> rows = SampleRows(30, 64, 4);
  const std::string stream = Stream(rows);
  std::mt19937 rng(99);
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<size_t> cuts;
    const size_t ncuts = rng() % 40;
    for (size_t i = 0; i < ncuts; ++i) cuts.push_back(rng() % (stream.size() + 1));
    // Small cuts near the start land inside the header and the first length words.
    if (trial % 2) cuts.push_back(rng() % 24);
    std::sort(cuts.begin(), cuts.end());
    Collector c;
    CopyBinaryParser parser(c.Fn());
    ASSERT_TRUE(FeedSplit(&parser, stream, cuts).ok()) << "trial " << trial;
    ASSERT_EQ(c.rows, rows) << "trial " << trial;
  }
}

TEST(CopyBinary, SkipsHeaderExtensionAndNonCriticalFlags) {
  const std::vector<Row> rows = SampleRows(3, 4, 5);
  std::string stream = Header(/*flags=*/1u << 20, "ext!!");
  for (const Row& r : rows) stream += Tuple(r);
  stream += Trailer();
  for (size_t step : {size_t{1}, size_t{3}, stream.size()}) {
    Collector c;
    CopyBinaryParser parser(c.Fn());
    for (size_t i = 0; i < stream.size(); i += step) {
      ASSERT_TRUE(parser.Feed(std::string_view(stream).substr(i, step)).ok());
    }
    ASSERT_TRUE(parser.Finish().ok());
    EXPECT_EQ(c.rows, rows);
  }
}

TEST(CopyBinary, EmptyResultHasOnlyHeaderAndTrailer) {
  Collector c;
  CopyBinaryParser parser(c.Fn());
  ASSERT_TRUE(parser.Feed(Header() + Trailer()).ok());
  ASSERT_TRUE(parser.Finish().ok());
  EXPECT_TRUE(c.rows.empty());
  EXPECT_EQ(parser.tuples(), 0u);
}

TEST(CopyBinary, EveryTruncationFailsAtFinish) {
  const std::string stream = Stream(SampleRows(3, 4, 6));
  for (size_t n = 0; n < stream.size(); ++n) {
    Collector c;
    CopyBinaryParser parser(c.Fn());
    ASSERT_TRUE(parser.Feed(std::string_view(stream).substr(0, n)).ok()) << n;
    Status s = parser.Finish();
    EXPECT_EQ(s.code(), Status::Code::kCorruption) << n;
    EXPECT_NE(s.message().find("stream ended"), std::string::npos) << s.message();
  }
}

TEST(CopyBinary, RejectsBadSignatureEarly) {
  Collector c;
  CopyBinaryParser parser(c.Fn());
  // Text COPY output is not binary COPY: caught from the first bytes.
  Status s = parser.Feed("1\tabc\n");
  EXPECT_EQ(s.code(), Status::Code::kCorruption);
  EXPECT_NE(s.message().find("bad signature"), std::string::npos) << s.message();
  // The error is sticky.
  EXPECT_FALSE(parser.Feed(Stream({})).ok());
  EXPECT_FALSE(parser.Finish().ok());

  std::string bad = Stream({});
  bad[7] = '\n';  // the \377 byte
  CopyBinaryParser second(c.Fn());
  EXPECT_FALSE(second.Feed(bad).ok());
}

TEST(CopyBinary, RejectsCriticalFlagsAndNegativeExtension) {
  Collector c;
  CopyBinaryParser oids(c.Fn());
  Status s = oids.Feed(Header(/*flags=*/1u << 16) + Trailer());
  EXPECT_EQ(s.code(), Status::Code::kCorruption);
  EXPECT_NE(s.message().find("0x00010000"), std::string::npos) << s.message();

  CopyBinaryParser low_bit(c.Fn());
  EXPECT_FALSE(low_bit.Feed(Header(/*flags=*/1) + Trailer()).ok());

  CopyBinaryParser ext(c.Fn());
  s = ext.Feed(Bytes().Raw(kSignature).U32(0).I32(-4).str());
  EXPECT_NE(s.message().find("negative header extension"), std::string::npos) << s.message();
}

TEST(CopyBinary, RejectsFieldCountChange) {
  const std::string stream = Header() + Tuple({std::string("a"), std::string("b")}) +
                             Tuple({std::string("c")}) + Trailer();
  Collector c;
  CopyBinaryParser parser(c.Fn());
  Status s = parser.Feed(stream);
  EXPECT_EQ(s.code(), Status::Code::kCorruption);
  EXPECT_NE(s.message().find("tuple 1 has 1 fields, the first tuple had 2"), std::string::npos)
      << s.message();
  EXPECT_EQ(c.rows.size(), 1u);
}

TEST(CopyBinary, RejectsBadLengthsAndCounts) {
  Collector c;
  CopyBinaryParser negative_length(c.Fn());
  Status s = negative_length.Feed(Header() + Bytes().I16(1).I32(-2).str());
  EXPECT_NE(s.message().find("field 0 has length -2"), std::string::npos) << s.message();

  CopyBinaryParser negative_count(c.Fn());
  s = negative_count.Feed(Header() + Bytes().I16(-5).str());
  EXPECT_NE(s.message().find("field count -5"), std::string::npos) << s.message();
}

TEST(CopyBinary, RejectsBytesAfterTrailer) {
  Collector c;
  CopyBinaryParser same_chunk(c.Fn());
  Status s = same_chunk.Feed(Stream({}) + "x");
  EXPECT_NE(s.message().find("1 bytes after the trailer"), std::string::npos) << s.message();

  CopyBinaryParser later_chunk(c.Fn());
  ASSERT_TRUE(later_chunk.Feed(Stream({})).ok());
  ASSERT_TRUE(later_chunk.Finish().ok());
  EXPECT_FALSE(later_chunk.Feed("yz").ok());
  EXPECT_FALSE(later_chunk.Finish().ok());
}

TEST(CopyBinary, CallbackErrorStopsTheStream) {
  const std::vector<Row> rows = SampleRows(5, 4, 7);
  int calls = 0;
  CopyBinaryParser parser([&](const pg::Tuple&) {
    return ++calls == 3 ? Status::IOError("index full") : Status::Ok();
  });
  Status s = parser.Feed(Stream(rows));
  EXPECT_EQ(s.code(), Status::Code::kIOError);
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(parser.tuples(), 2u);
  EXPECT_EQ(parser.Feed(Trailer()).code(), Status::Code::kIOError);
  EXPECT_EQ(calls, 3);
}

// Random chunks after a valid header must never crash; they either wait for more or fail.
TEST(CopyBinary, RandomBytesNeverCrash) {
  std::mt19937 rng(2024);
  for (int trial = 0; trial < 2000; ++trial) {
    std::string junk(rng() % 64, '\0');
    for (char& c : junk) c = static_cast<char>(rng() % 4 == 0 ? 0 : rng());
    // A field can never be longer than the bytes fed.
    CopyBinaryParser parser([&junk](const pg::Tuple& t) {
      for (const ColumnValue& v : t) EXPECT_LE(v.bytes.size(), junk.size());
      return Status::Ok();
    });
    Status s = parser.Feed(Header());
    ASSERT_TRUE(s.ok());
    for (size_t i = 0; i < junk.size() && s.ok();) {
      const size_t len = 1 + rng() % 8;
      s = parser.Feed(std::string_view(junk).substr(i, len));
      i += len;
    }
    if (!s.ok()) {
      EXPECT_EQ(parser.Finish().code(), s.code());
    }
  }
}

}  // namespace
}  // namespace vecmirror::pg
