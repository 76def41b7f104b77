// The base library: LSN text, the model list, bad-row reasons.
#include <gtest/gtest.h>

#include <limits>
#include <random>
#include <set>

#include "base/bad_row.h"
#include "base/echo.h"
#include "base/lsn.h"
#include "base/model_list.h"

namespace vecmirror {
namespace {

TEST(Lsn, FormatsLikePostgres) {
  EXPECT_EQ(FormatLsn(0x16B374D848ULL), "16/B374D848");
  EXPECT_EQ(FormatLsn(0), "0/0");
  EXPECT_EQ(FormatLsn(0x1000000ULL), "0/1000000");
  EXPECT_EQ(FormatLsn(~0ULL), "FFFFFFFF/FFFFFFFF");
}

TEST(Lsn, ParsesWhatPgLsnInAccepts) {
  EXPECT_EQ(ParseLsn("16/B374D848"), 0x16B374D848ULL);
  EXPECT_EQ(ParseLsn("16/b374d848"), 0x16B374D848ULL);
  EXPECT_EQ(ParseLsn("0/0"), 0u);
  EXPECT_EQ(ParseLsn("FFFFFFFF/FFFFFFFF"), ~0ULL);
  EXPECT_EQ(ParseLsn("00000001/00000002"), 0x100000002ULL);
  for (const char* bad : {"", "/", "1/", "/1", "123456789/0", "0/123456789", "1/2/3", "g/0",
                          " 1/0", "1/0 ", "1-0", "+1/0", "0x1/0", "97500000000"}) {
    EXPECT_FALSE(ParseLsn(bad)) << bad;
  }
}

TEST(Lsn, RoundTrips) {
  std::mt19937_64 rng(5);
  for (int i = 0; i < 1000; ++i) {
    const Lsn lsn = rng() >> (rng() % 64);
    EXPECT_EQ(ParseLsn(FormatLsn(lsn)), lsn);
  }
}

TEST(Lsn, APositionInsideAPageHeaderIsCoveredByThePageStart) {
  const Lsn page = 0x16B3740000ULL + 5 * kWalPageBytes;  // not the first page of a segment
  EXPECT_EQ(CoveringLsn(page), page);
  EXPECT_EQ(CoveringLsn(page + 1), page);
  EXPECT_EQ(CoveringLsn(page + 24), page) << "pg_current_wal_insert_lsn() after a page boundary";
  EXPECT_EQ(CoveringLsn(page + 25), page + 25) << "a record may end right after the header";
  EXPECT_EQ(CoveringLsn(page + 40), page + 40);
  EXPECT_EQ(CoveringLsn(page - 1), page - 1);
  EXPECT_EQ(CoveringLsn(page + kWalPageBytes - 1), page + kWalPageBytes - 1);
}

TEST(Lsn, TheFirstPageOfASegmentHasTheLongHeader) {
  const Lsn segment = 7 * kDefaultWalSegmentBytes;
  EXPECT_EQ(CoveringLsn(segment + 40), segment);
  EXPECT_EQ(CoveringLsn(segment + 41), segment + 41);
  EXPECT_EQ(CoveringLsn(0x1000000ULL + 40, 1 << 20), 0x1000000ULL) << "1 MiB segments";
  // With 64 MiB segments, a 16 MiB boundary is an ordinary page: short header.
  const uint64_t big_segments = 64ULL << 20;
  EXPECT_EQ(CoveringLsn(16 * 1024 * 1024 + 40, big_segments), 16 * 1024 * 1024 + 40);
  EXPECT_EQ(CoveringLsn(16 * 1024 * 1024 + 24, big_segments), 16 * 1024 * 1024);
}

TEST(Echo, QuotesAndKeepsShortValues) {
  EXPECT_EQ(QuoteForEcho("text-embedding-3-small"), "\"text-embedding-3-small\"");
  EXPECT_EQ(QuoteForEcho(""), "\"\"");
  EXPECT_EQ(QuoteForEcho("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"), "\"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80\"");
}

TEST(Echo, EscapesWhatCouldForgeALine) {
  EXPECT_EQ(QuoteForEcho("a\nb\r\tc"), "\"a\\nb\\r\\tc\"");
  EXPECT_EQ(QuoteForEcho(std::string("a\0b\x1b[31m\x7F", 9)), "\"a\\x00b\\x1B[31m\\x7F\"");
  EXPECT_EQ(QuoteForEcho("say \"hi\" \\ bye"), "\"say \\\"hi\\\" \\\\ bye\"");
  EXPECT_EQ(QuoteForEcho("\xC2\x85"), "\"\\xC2\\x85\"") << "C1 control NEL";
}

TEST(Echo, EscapesBytesThatAreNotUtf8) {
  EXPECT_EQ(QuoteForEcho("\xFF\xFE"), "\"\\xFF\\xFE\"");
  EXPECT_EQ(QuoteForEcho("\xC3"), "\"\\xC3\"") << "a truncated sequence";
  EXPECT_EQ(QuoteForEcho("\xC0\xAF"), "\"\\xC0\\xAF\"") << "an overlong slash";
  EXPECT_EQ(QuoteForEcho("\xED\xA0\x80"), "\"\\xED\\xA0\\x80\"") << "a surrogate";
}

TEST(Echo, ClipsOnACharacterBoundaryAndSaysHowLong) {
  const std::string euros = [] {
    std::string s;
    for (int i = 0; i < 100; ++i) s += "\xE2\x82\xAC";
    return s;
  }();
  const std::string quoted = QuoteForEcho(euros, 5);
  EXPECT_EQ(quoted, "\"\xE2\x82\xAC\xE2\x82\xAC\xE2\x82\xAC\xE2\x82\xAC\xE2\x82\xAC...\" (300 bytes)");
  EXPECT_EQ(QuoteForEcho(std::string(65, 'x')).size(), 1 + 64 + 3 + 1 + std::string(" (65 bytes)").size());
  EXPECT_EQ(QuoteForEcho(std::string(64, 'x')), "\"" + std::string(64, 'x') + "\"") << "64 is not clipped";
  const std::string megabyte(1 << 20, '\n');
  EXPECT_LT(QuoteForEcho(megabyte).size(), 200u);
  EXPECT_EQ(QuoteForEcho(megabyte).find('\n'), std::string::npos);
}

TEST(ModelList, AddsNamedDimensionsInOrder) {
  std::vector<ModelDimension> models;
  ASSERT_TRUE(ParseModelList("a:8,,my.model:v2:64", &models).ok());
  EXPECT_EQ(models, (std::vector<ModelDimension>{{"a", 8}, {"my.model:v2", 64}}));
}

TEST(ModelList, ANameAloneTakesItsDefaultDimension) {
  std::vector<ModelDimension> models;
  ASSERT_TRUE(ParseModelList("all-MiniLM-L6-v2,text-embedding-3-large", &models).ok());
  EXPECT_EQ(models, (std::vector<ModelDimension>{{"all-MiniLM-L6-v2", 384},
                                                 {"text-embedding-3-large", 3072}}));
  const Status unknown = ParseModelList("my-model", &models);
  EXPECT_FALSE(unknown.ok());
  EXPECT_NE(unknown.message().find("my-model"), std::string::npos) << unknown.message();
}

TEST(ModelList, ALaterMentionReplacesTheDimension) {
  std::vector<ModelDimension> models = DefaultModels();
  ASSERT_TRUE(ParseModelList("text-embedding-3-small:512", &models).ok());
  ASSERT_EQ(models.size(), DefaultModels().size());
  EXPECT_EQ(models[1], (ModelDimension{"text-embedding-3-small", 512}));
}

TEST(ModelList, RejectsBadItemsNamingThem) {
  for (const char* bad : {"m:0", "m:x", ":8", "m:8x", "m:-1", "m:16001", "m:"}) {
    std::vector<ModelDimension> models;
    const Status s = ParseModelList(bad, &models);
    EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << bad;
    EXPECT_NE(s.message().find(bad), std::string::npos) << s.message();
  }
  std::vector<ModelDimension> models;
  EXPECT_TRUE(ParseModelList("m:16000", &models).ok());
}

TEST(BadRow, ClassifiesVectors) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(ClassifyVector(std::vector<float>{1, 0, 0}), std::nullopt);
  EXPECT_EQ(ClassifyVector(std::vector<float>{0, 0, 0}), BadRowReason::kZeroVector);
  EXPECT_EQ(ClassifyVector(std::vector<float>{}), BadRowReason::kZeroVector);
  EXPECT_EQ(ClassifyVector(std::vector<float>{1, nan}), BadRowReason::kNonFinite);
  EXPECT_EQ(ClassifyVector(std::vector<float>{0, -inf}), BadRowReason::kNonFinite);
}

TEST(BadRow, CountsPerReasonAndNamesEach) {
  BadRowCounts counts;
  counts[BadRowReason::kNullVector] += 2;
  counts[BadRowReason::kMalformed] += 1;
  EXPECT_EQ(counts.total(), 3u);
  EXPECT_EQ(counts[BadRowReason::kNullVector], 2u);
  std::set<std::string> names;
  for (size_t i = 0; i < kBadRowReasonCount; ++i) {
    names.insert(BadRowReasonName(static_cast<BadRowReason>(i)));
  }
  EXPECT_EQ(names.size(), kBadRowReasonCount) << "every reason has its own counter name";
  EXPECT_STREQ(BadRowReasonName(BadRowReason::kNonFinite), "non_finite");
}

}  // namespace
}  // namespace vecmirror
