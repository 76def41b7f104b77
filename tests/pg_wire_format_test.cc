// Tests of the column decoders: pgvector and real[] in binary and text, uuid, text, integers.
// Inputs are built with the test-side byte writer or printed with snprintf, never with the code
// under test.
#include "src/pg/wire_format.h"

#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>

#include "tests/support/pg_test_bytes.h"

namespace vecmirror::pg {
namespace {

using testing::Bytes;
using testing::Float4ArrayBinary;
using testing::FromHex;
using testing::PgvectorBinary;

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

std::vector<float> RandomVector(size_t dim, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> v(dim);
  for (float& x : v) x = normal(rng);
  return v;
}

// Bitwise equality, so NaN payloads and -0 count too.
void ExpectSameBits(const std::vector<float>& expected, const std::vector<float>& actual) {
  ASSERT_EQ(expected.size(), actual.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    uint32_t a, b;
    std::memcpy(&a, &expected[i], 4);
    std::memcpy(&b, &actual[i], 4);
    ASSERT_EQ(a, b) << "element " << i << ": " << expected[i] << " vs " << actual[i];
  }
}

// Prints like "{x,y}" / "[x,y]" with 9 significant digits, which round-trips every float.
std::string PrintVector(const std::vector<float>& v, char open, char close) {
  std::string s(1, open);
  char buf[32];
  for (size_t i = 0; i < v.size(); ++i) {
    std::snprintf(buf, sizeof buf, "%.9g", v[i]);
    if (i) s += ',';
    s += buf;
  }
  s += close;
  return s;
}

void ExpectCorruption(const Status& s, const std::string& fragment) {
  EXPECT_EQ(s.code(), Status::Code::kCorruption) << s.ToString();
  EXPECT_NE(s.message().find(fragment), std::string::npos)
      << "message \"" << s.message() << "\" lacks \"" << fragment << "\"";
}

// ---- pgvector binary ----------------------------------------------------------------------

TEST(PgvectorBinary, DecodesHandWrittenBytes) {
  // dim 3, unused 0, 1.0f, 2.5f, -3.0f in IEEE 754 big-endian.
  const std::string bytes = FromHex("00030000" "3f800000" "40200000" "c0400000");
  std::vector<float> out;
  ASSERT_TRUE(DecodePgvectorBinary(bytes, &out).ok());
  EXPECT_EQ(out, (std::vector<float>{1.0f, 2.5f, -3.0f}));
}

TEST(PgvectorBinary, RoundTripsLargeVectors) {
  for (size_t dim : {1u, 384u, 1536u, 3072u}) {
    const std::vector<float> v = RandomVector(dim, static_cast<uint32_t>(dim));
    std::vector<float> out;
    ASSERT_TRUE(DecodePgvectorBinary(PgvectorBinary(v), &out).ok()) << dim;
    ExpectSameBits(v, out);
  }
}

TEST(PgvectorBinary, KeepsNonFiniteAndSignedValues) {
  const std::vector<float> v = {-1.5f, kNaN, kInf, -kInf, -0.0f, FLT_MIN / 4, FLT_MAX};
  std::vector<float> out;
  ASSERT_TRUE(DecodePgvectorBinary(PgvectorBinary(v), &out).ok());
  ExpectSameBits(v, out);
  EXPECT_TRUE(std::isnan(out[1]));
  EXPECT_TRUE(std::signbit(out[4]));
}

TEST(PgvectorBinary, ZeroDimensionsIsAnEmptyVector) {
  std::vector<float> out = {1.0f};
  ASSERT_TRUE(DecodePgvectorBinary(FromHex("00000000"), &out).ok());
  EXPECT_TRUE(out.empty());
}

TEST(PgvectorBinary, RejectsShortPayload) {
  std::string bytes = PgvectorBinary(RandomVector(1536, 1));
  bytes.resize(4 + 100);
  std::vector<float> out;
  ExpectCorruption(DecodePgvectorBinary(bytes, &out),
                   "header says 1536 dimensions but 100 bytes follow");
  EXPECT_TRUE(out.empty());
}

TEST(PgvectorBinary, RejectsTrailingBytes) {
  std::string bytes = PgvectorBinary({1, 2, 3});
  bytes += std::string(4, '\0');
  std::vector<float> out;
  ExpectCorruption(DecodePgvectorBinary(bytes, &out), "header says 3 dimensions but 16 bytes");
}

TEST(PgvectorBinary, RejectsBadHeaders) {
  std::vector<float> out;
  ExpectCorruption(DecodePgvectorBinary("", &out), "shorter than the 4-byte header");
  ExpectCorruption(DecodePgvectorBinary(FromHex("000300"), &out), "shorter than the 4-byte header");
  ExpectCorruption(DecodePgvectorBinary(Bytes().I16(-1).I16(0).F32(1), &out), "negative dimension");
  ExpectCorruption(DecodePgvectorBinary(Bytes().I16(1).I16(7).F32(1), &out),
                   "unused field is 7, expected 0");
  // Every strict prefix of a valid value is an error.
  const std::string valid = PgvectorBinary({1, 2, 3});
  for (size_t n = 0; n < valid.size(); ++n) {
    EXPECT_FALSE(DecodePgvectorBinary(valid.substr(0, n), &out).ok()) << n;
  }
}

// ---- pgvector text ------------------------------------------------------------------------

TEST(PgvectorText, DecodesPlainAndSpacedForms) {
  std::vector<float> out;
  ASSERT_TRUE(DecodePgvectorText("[1,2.5,-3]", &out).ok());
  EXPECT_EQ(out, (std::vector<float>{1.0f, 2.5f, -3.0f}));
  ASSERT_TRUE(DecodePgvectorText("  [ 1 ,\t2.5 ,\n-3 ]  ", &out).ok());
  EXPECT_EQ(out, (std::vector<float>{1.0f, 2.5f, -3.0f}));
  ASSERT_TRUE(DecodePgvectorText("[+4,.5,-0.25]", &out).ok());
  EXPECT_EQ(out, (std::vector<float>{4.0f, 0.5f, -0.25f}));
}

TEST(PgvectorText, DecodesScientificNotation) {
  std::vector<float> out;
  ASSERT_TRUE(DecodePgvectorText("[1e-3,-2.5E+2,3E0,1.17549435e-38]", &out).ok());
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0], 1e-3f);
  EXPECT_EQ(out[1], -250.0f);
  EXPECT_EQ(out[2], 3.0f);
  EXPECT_EQ(out[3], FLT_MIN);
}

TEST(PgvectorText, ParsesNonFiniteWordsForTheCallerToReject) {
  std::vector<float> out;
  ASSERT_TRUE(DecodePgvectorText("[NaN,Infinity,-Infinity,inf,-nan]", &out).ok());
  ASSERT_EQ(out.size(), 5u);
  EXPECT_TRUE(std::isnan(out[0]));
  EXPECT_EQ(out[1], kInf);
  EXPECT_EQ(out[2], -kInf);
  EXPECT_EQ(out[3], kInf);
  EXPECT_TRUE(std::isnan(out[4]));
}

TEST(PgvectorText, UnderflowRoundsTowardZeroLikeStrtof) {
  std::vector<float> out;
  ASSERT_TRUE(DecodePgvectorText("[1e-40,-1e-60]", &out).ok());
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0], static_cast<float>(1e-40));
  EXPECT_EQ(out[1], 0.0f);
}

TEST(PgvectorText, RoundTripsLargeVectors) {
  for (size_t dim : {1536u, 3072u}) {
    const std::vector<float> v = RandomVector(dim, 100 + static_cast<uint32_t>(dim));
    std::vector<float> out;
    ASSERT_TRUE(DecodePgvectorText(PrintVector(v, '[', ']'), &out).ok());
    ExpectSameBits(v, out);
  }
}

TEST(PgvectorText, EmptyBracketsIsAnEmptyVector) {
  std::vector<float> out = {1.0f};
  ASSERT_TRUE(DecodePgvectorText("[ ]", &out).ok());
  EXPECT_TRUE(out.empty());
}

TEST(PgvectorText, RejectsMalformedText) {
  struct Case {
    const char* text;
    const char* fragment;
  } cases[] = {
      {"", "expected '['"},
      {"   ", "expected '['"},
      {"1,2,3", "expected '['"},
      {"{1,2}", "expected '['"},
      {"[1,2", "missing closing ']'"},
      {"[1,2,", "expected a number"},
      {"[1,,2]", "expected a number"},
      {"[,]", "expected a number"},
      {"[abc]", "expected a number"},
      {"[1 2]", "expected ',' or ']'"},
      {"[1;2]", "expected ',' or ']'"},
      {"[1,2]x", "unexpected characters after"},
      {"[1,2][3]", "unexpected characters after"},
      {"[1e50]", "out of float4 range"},
      {"[+-1]", "malformed number"},
      {"[0x10]", "expected ',' or ']'"},
  };
  for (const Case& c : cases) {
    std::vector<float> out = {9.0f};
    Status s = DecodePgvectorText(c.text, &out);
    ExpectCorruption(s, c.fragment);
    EXPECT_TRUE(out.empty()) << c.text;
    EXPECT_NE(s.message().find("vector text"), std::string::npos) << s.message();
  }
}

// ---- real[] binary ------------------------------------------------------------------------

TEST(Float4ArrayBinary, DecodesHandWrittenBytes) {
  const std::string bytes = FromHex(
      "00000001" "00000000" "000002bc"  // ndim 1, no nulls, element oid 700
      "00000002" "00000001"              // 2 elements, lower bound 1
      "00000004" "3f800000"              // 1.0
      "00000004" "c0200000");            // -2.5
  std::vector<float> out;
  ASSERT_TRUE(DecodeFloat4ArrayBinary(bytes, &out).ok());
  EXPECT_EQ(out, (std::vector<float>{1.0f, -2.5f}));
}

TEST(Float4ArrayBinary, RoundTripsWithAnyLowerBound) {
  for (size_t dim : {1536u, 3072u}) {
    for (int32_t lower_bound : {1, 0, -5}) {
      const std::vector<float> v = RandomVector(dim, 7 + static_cast<uint32_t>(dim));
      std::vector<float> out;
      ASSERT_TRUE(DecodeFloat4ArrayBinary(Float4ArrayBinary(v, lower_bound), &out).ok());
      ExpectSameBits(v, out);
    }
  }
}

TEST(Float4ArrayBinary, KeepsNonFiniteValues) {
  const std::vector<float> v = {kNaN, -kInf, kInf, -7.0f};
  std::vector<float> out;
  ASSERT_TRUE(DecodeFloat4ArrayBinary(Float4ArrayBinary(v), &out).ok());
  ExpectSameBits(v, out);
}

TEST(Float4ArrayBinary, EmptyArrayIsAnEmptyVector) {
  std::vector<float> out = {1.0f};
  ASSERT_TRUE(DecodeFloat4ArrayBinary(Bytes().I32(0).I32(0).U32(700), &out).ok());
  EXPECT_TRUE(out.empty());
  ExpectCorruption(DecodeFloat4ArrayBinary(Bytes().I32(0).I32(0).U32(700).I32(0), &out),
                   "trailing");
}

TEST(Float4ArrayBinary, HasNullsFlagWithoutNullElementsIsAccepted) {
  std::vector<float> out;
  const std::string bytes = Bytes().I32(1).I32(1).U32(700).I32(2).I32(1)
                                .I32(4).F32(1.0f).I32(4).F32(2.0f).str();
  ASSERT_TRUE(DecodeFloat4ArrayBinary(bytes, &out).ok());
  EXPECT_EQ(out, (std::vector<float>{1.0f, 2.0f}));
}

TEST(Float4ArrayBinary, RejectsMalformedArrays) {
  std::vector<float> out;
  // A NULL element (has_nulls 1, length -1).
  ExpectCorruption(DecodeFloat4ArrayBinary(Bytes().I32(1).I32(1).U32(700).I32(3).I32(1)
                                               .I32(4).F32(1).I32(-1).I32(4).F32(3), &out),
                   "element 1 is NULL");
  EXPECT_TRUE(out.empty());
  // Two dimensions: {{1,2},{3,4}}.
  ExpectCorruption(DecodeFloat4ArrayBinary(Bytes().I32(2).I32(0).U32(700).I32(2).I32(1).I32(2)
                                               .I32(1).I32(4).F32(1).I32(4).F32(2).I32(4)
                                               .F32(3).I32(4).F32(4), &out),
                   "2 dimensions");
  // float8[] (oid 701) with 8-byte elements.
  ExpectCorruption(DecodeFloat4ArrayBinary(Bytes().I32(1).I32(0).U32(701).I32(1).I32(1)
                                               .I32(8).U64(0x3FF0000000000000ULL), &out),
                   "element type oid 701, expected 700");
  // Right oid, wrong element length (same total size as a 2-element array).
  ExpectCorruption(DecodeFloat4ArrayBinary(Bytes().I32(1).I32(0).U32(700).I32(2).I32(1)
                                               .I32(8).U64(0).I32(0), &out),
                   "element 0 has length 8, expected 4");
  ExpectCorruption(DecodeFloat4ArrayBinary(Bytes().I32(-1).I32(0).U32(700), &out), "negative ndim");
  ExpectCorruption(DecodeFloat4ArrayBinary(Bytes().I32(1).I32(2).U32(700).I32(0).I32(1), &out),
                   "has_nulls flag is 2");
  ExpectCorruption(DecodeFloat4ArrayBinary(Bytes().I32(1).I32(0).U32(700).I32(-3).I32(1), &out),
                   "negative dimension size");
  // A huge announced size with little data must fail before allocating.
  ExpectCorruption(DecodeFloat4ArrayBinary(Bytes().I32(1).I32(0).U32(700).I32(0x7FFFFFFF)
                                               .I32(1).I32(4).F32(1), &out),
                   "header says 2147483647 elements but only 8 bytes follow");
  // Fewer elements than announced.
  ExpectCorruption(DecodeFloat4ArrayBinary(Bytes().I32(1).I32(0).U32(700).I32(3).I32(1)
                                               .I32(4).F32(1).I32(4).F32(2), &out),
                   "truncated at element length");
  std::string trailing = Float4ArrayBinary({1, 2});
  trailing += "x";
  ExpectCorruption(DecodeFloat4ArrayBinary(trailing, &out), "1 unexpected trailing bytes");
  EXPECT_TRUE(out.empty());
  const std::string valid = Float4ArrayBinary({1, 2, 3});
  for (size_t n = 0; n < valid.size(); ++n) {
    EXPECT_FALSE(DecodeFloat4ArrayBinary(valid.substr(0, n), &out).ok()) << n;
  }
}

// ---- real[] text --------------------------------------------------------------------------

TEST(Float4ArrayText, DecodesArrayOutForms) {
  std::vector<float> out;
  ASSERT_TRUE(DecodeFloat4ArrayText("{1,2.5,-3}", &out).ok());
  EXPECT_EQ(out, (std::vector<float>{1.0f, 2.5f, -3.0f}));
  ASSERT_TRUE(DecodeFloat4ArrayText(" { 1 , 2.5e0 ,-3 } ", &out).ok());
  EXPECT_EQ(out, (std::vector<float>{1.0f, 2.5f, -3.0f}));
  ASSERT_TRUE(DecodeFloat4ArrayText("{\"1\", \"-2\"}", &out).ok());
  EXPECT_EQ(out, (std::vector<float>{1.0f, -2.0f}));
  // array_out prefixes the bounds when the lower bound is not 1.
  ASSERT_TRUE(DecodeFloat4ArrayText("[0:2]={7,8,9}", &out).ok());
  EXPECT_EQ(out, (std::vector<float>{7.0f, 8.0f, 9.0f}));
  ASSERT_TRUE(DecodeFloat4ArrayText("{}", &out).ok());
  EXPECT_TRUE(out.empty());
}

TEST(Float4ArrayText, ParsesNonFiniteWords) {
  std::vector<float> out;
  ASSERT_TRUE(DecodeFloat4ArrayText("{NaN,Infinity,-Infinity}", &out).ok());
  ASSERT_EQ(out.size(), 3u);
  EXPECT_TRUE(std::isnan(out[0]));
  EXPECT_EQ(out[1], kInf);
  EXPECT_EQ(out[2], -kInf);
}

TEST(Float4ArrayText, RoundTripsLargeVectors) {
  for (size_t dim : {1536u, 3072u}) {
    const std::vector<float> v = RandomVector(dim, 200 + static_cast<uint32_t>(dim));
    std::vector<float> out;
    ASSERT_TRUE(DecodeFloat4ArrayText(PrintVector(v, '{', '}'), &out).ok());
    ExpectSameBits(v, out);
  }
}

TEST(Float4ArrayText, RejectsMalformedText) {
  struct Case {
    const char* text;
    const char* fragment;
  } cases[] = {
      {"", "expected '{'"},
      {"1,2", "expected '{'"},
      {"[1,2]", "malformed array bounds"},
      {"{1,NULL,3}", "NULL element"},
      {"{null}", "NULL element"},
      {"{{1,2},{3,4}}", "more than one dimension"},
      {"[1:2][1:2]={{1,2},{3,4}}", "more than one dimension"},
      {"{1,2", "missing closing '}'"},
      {"{1,2}}", "unexpected characters after"},
      {"{a}", "expected a number"},
      {"{NULLx}", "expected a number"},
      {"{\"1}", "unterminated quoted element"},
      {"[0:3]={1,2,3}", "bounds announce 4 elements but 3 follow"},
      {"[0:2]{1,2,3}", "expected '=' after array bounds"},
      {"[3:1]={}", "upper bound below lower bound"},
  };
  for (const Case& c : cases) {
    std::vector<float> out = {9.0f};
    Status s = DecodeFloat4ArrayText(c.text, &out);
    ExpectCorruption(s, c.fragment);
    EXPECT_TRUE(out.empty()) << c.text;
  }
}

// ---- dispatch and scalars -----------------------------------------------------------------

TEST(DecodeVector, DispatchesOnKindAndType) {
  const std::vector<float> v = {0.5f, -1.0f};
  const std::string pgvector_bin = PgvectorBinary(v);
  const std::string array_bin = Float4ArrayBinary(v);
  std::vector<float> out;
  ASSERT_TRUE(DecodeVector({ColumnValue::Kind::kBinary, pgvector_bin}, VectorType::kPgvector, &out).ok());
  EXPECT_EQ(out, v);
  ASSERT_TRUE(DecodeVector({ColumnValue::Kind::kBinary, array_bin}, VectorType::kFloat4Array, &out).ok());
  EXPECT_EQ(out, v);
  ASSERT_TRUE(DecodeVector({ColumnValue::Kind::kText, "[0.5,-1]"}, VectorType::kPgvector, &out).ok());
  EXPECT_EQ(out, v);
  ASSERT_TRUE(DecodeVector({ColumnValue::Kind::kText, "{0.5,-1}"}, VectorType::kFloat4Array, &out).ok());
  EXPECT_EQ(out, v);
  // The wrong type for the bytes is an error, not a silent misread.
  EXPECT_FALSE(DecodeVector({ColumnValue::Kind::kBinary, array_bin}, VectorType::kPgvector, &out).ok());
  EXPECT_FALSE(DecodeVector({ColumnValue::Kind::kText, "[0.5,-1]"}, VectorType::kFloat4Array, &out).ok());
  EXPECT_EQ(DecodeVector({ColumnValue::Kind::kNull, {}}, VectorType::kPgvector, &out).code(),
            Status::Code::kInvalidArgument);
  EXPECT_EQ(DecodeVector({ColumnValue::Kind::kUnchanged, {}}, VectorType::kFloat4Array, &out).code(),
            Status::Code::kInvalidArgument);
}

TEST(DecodeUuid, BinaryAndText) {
  const std::string raw = FromHex("a0eebc999c0b4ef8bb6d6bb9bd380a11");
  Uuid u;
  ASSERT_TRUE(DecodeUuid({ColumnValue::Kind::kBinary, raw}, &u).ok());
  EXPECT_EQ(u.ToString(), "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
  Uuid t;
  ASSERT_TRUE(DecodeUuid({ColumnValue::Kind::kText, "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11"}, &t).ok());
  EXPECT_EQ(t, u);
  ExpectCorruption(DecodeUuid({ColumnValue::Kind::kBinary, raw.substr(0, 15)}, &u), "15 bytes");
  ExpectCorruption(DecodeUuid({ColumnValue::Kind::kText, "not-a-uuid"}, &u), "malformed uuid");
  EXPECT_EQ(DecodeUuid({ColumnValue::Kind::kNull, {}}, &u).code(), Status::Code::kInvalidArgument);
}

TEST(DecodeText, ReturnsRawBytesInBothFormats) {
  std::string out;
  ASSERT_TRUE(DecodeText({ColumnValue::Kind::kBinary, std::string_view("a\0b", 3)}, &out).ok());
  EXPECT_EQ(out, std::string("a\0b", 3));
  ASSERT_TRUE(DecodeText({ColumnValue::Kind::kText, "completed"}, &out).ok());
  EXPECT_EQ(out, "completed");
  ASSERT_TRUE(DecodeText({ColumnValue::Kind::kText, ""}, &out).ok());
  EXPECT_EQ(out, "");
  EXPECT_EQ(DecodeText({ColumnValue::Kind::kUnchanged, {}}, &out).code(),
            Status::Code::kInvalidArgument);
}

TEST(DecodeInteger, BinaryWidths) {
  int64_t v = 0;
  const std::string i8 = Bytes().I64(-1234567890123LL).str();
  ASSERT_TRUE(DecodeInteger({ColumnValue::Kind::kBinary, i8}, &v).ok());
  EXPECT_EQ(v, -1234567890123LL);
  const std::string i4 = Bytes().I32(-70000).str();
  ASSERT_TRUE(DecodeInteger({ColumnValue::Kind::kBinary, i4}, &v).ok());
  EXPECT_EQ(v, -70000);
  const std::string i2 = Bytes().I16(-300).str();
  ASSERT_TRUE(DecodeInteger({ColumnValue::Kind::kBinary, i2}, &v).ok());
  EXPECT_EQ(v, -300);
  const std::string max8 = Bytes().I64(INT64_MAX).str();
  ASSERT_TRUE(DecodeInteger({ColumnValue::Kind::kBinary, max8}, &v).ok());
  EXPECT_EQ(v, INT64_MAX);
  ExpectCorruption(DecodeInteger({ColumnValue::Kind::kBinary, "abc"}, &v), "3 bytes");
}

TEST(DecodeInteger, Text) {
  int64_t v = 0;
  ASSERT_TRUE(DecodeInteger({ColumnValue::Kind::kText, "-42"}, &v).ok());
  EXPECT_EQ(v, -42);
  ASSERT_TRUE(DecodeInteger({ColumnValue::Kind::kText, " +7 "}, &v).ok());
  EXPECT_EQ(v, 7);
  ASSERT_TRUE(DecodeInteger({ColumnValue::Kind::kText, "9223372036854775807"}, &v).ok());
  EXPECT_EQ(v, INT64_MAX);
  ASSERT_TRUE(DecodeInteger({ColumnValue::Kind::kText, "-9223372036854775808"}, &v).ok());
  EXPECT_EQ(v, INT64_MIN);
  ExpectCorruption(DecodeInteger({ColumnValue::Kind::kText, "9223372036854775808"}, &v),
                   "out of int64 range");
  for (const char* bad : {"", " ", "12a", "1 2", "+", "+-1", "0x10", "1.5"}) {
    ExpectCorruption(DecodeInteger({ColumnValue::Kind::kText, bad}, &v), "not an integer");
  }
  EXPECT_EQ(DecodeInteger({ColumnValue::Kind::kNull, {}}, &v).code(),
            Status::Code::kInvalidArgument);
}

// ---- random input -------------------------------------------------------------------------

// Random bytes must never crash or over-read; a success must be consistent with the input size.
TEST(WireFormatGarbage, RandomBytesNeverCrash) {
  std::mt19937 rng(12345);
  std::vector<float> out;
  int binary_ok = 0;
  for (int iter = 0; iter < 20000; ++iter) {
    std::string bytes(rng() % 48, '\0');
    for (char& c : bytes) c = static_cast<char>(rng());
    // Plant plausible headers half the time so the decoders get past their first checks.
    if (iter % 2 == 0 && bytes.size() >= 4) {
      bytes[0] = 0;
      bytes[1] = static_cast<char>((bytes.size() - 4) / 4);
      bytes[2] = bytes[3] = 0;
    }
    if (DecodePgvectorBinary(bytes, &out).ok()) {
      ++binary_ok;
      EXPECT_EQ(bytes.size(), 4 + 4 * out.size());
    }
    if (DecodeFloat4ArrayBinary(bytes, &out).ok()) {
      EXPECT_EQ(bytes.size() % 4, 0u);
    }
    DecodePgvectorText(bytes, &out);
    DecodeFloat4ArrayText(bytes, &out);
    Uuid u;
    int64_t v;
    DecodeUuid({ColumnValue::Kind::kText, bytes}, &u);
    DecodeInteger({ColumnValue::Kind::kText, bytes}, &v);
  }
  EXPECT_GT(binary_ok, 0);  // the planted headers did reach the success path
}

// Random text built from the characters the text formats use. Whatever parses must be
// bracketed as its format requires.
TEST(WireFormatGarbage, RandomVectorishTextNeverCrashes) {
  std::mt19937 rng(777);
  const std::string alphabet = "[]{},.-+eE0123456789 \"NaInfity:=";
  std::vector<float> out;
  auto trimmed = [](const std::string& t) {
    const size_t b = t.find_first_not_of(' ');
    return b == std::string::npos ? std::string() : t.substr(b, t.find_last_not_of(' ') - b + 1);
  };
  for (int iter = 0; iter < 20000; ++iter) {
    std::string text(rng() % 24, ' ');
    for (char& c : text) c = alphabet[rng() % alphabet.size()];
    const std::string t = trimmed(text);
    if (DecodePgvectorText(text, &out).ok()) {
      EXPECT_TRUE(t.front() == '[' && t.back() == ']') << text;
    }
    if (DecodeFloat4ArrayText(text, &out).ok()) {
      EXPECT_EQ(t.back(), '}') << text;
    }
  }
}

}  // namespace
}  // namespace vecmirror::pg
