// Tests of the pgoutput v1 decoder and the replication framing, on messages built by hand from
// the documented layouts (protocol.sgml, "Logical Replication Message Formats").
#include "src/pg/pgoutput.h"

#include <gtest/gtest.h>

#include <ctime>
#include <deque>
#include <random>

#include "tests/support/pg_test_bytes.h"

namespace vecmirror::pg {
namespace {

using testing::Bytes;

// ---- builders -----------------------------------------------------------------------------

// One TupleData column as the test describes it.
struct Col {
  char kind;  // 'n', 'u', 't', 'b'
  std::string bytes;
};

Bytes& AppendTuple(Bytes& b, const std::vector<Col>& cols) {
  b.I16(static_cast<int16_t>(cols.size()));
  for (const Col& c : cols) {
    b.Char(c.kind);
    if (c.kind == 't' || c.kind == 'b') b.I32(static_cast<int32_t>(c.bytes.size())).Raw(c.bytes);
  }
  return b;
}

std::string BeginMsg(uint64_t final_lsn, int64_t ts, uint32_t xid) {
  return Bytes().Char('B').U64(final_lsn).I64(ts).U32(xid).str();
}

std::string CommitMsg(uint64_t commit_lsn, uint64_t end_lsn, int64_t ts) {
  return Bytes().Char('C').U8(0).U64(commit_lsn).U64(end_lsn).I64(ts).str();
}

struct ColDef {
  uint8_t flags;
  std::string name;
  uint32_t type_oid;
  int32_t typmod;
};

std::string RelationMsg(uint32_t oid, const std::string& ns, const std::string& rel, char ident,
                        const std::vector<ColDef>& cols) {
  Bytes b;
  b.Char('R').U32(oid).Str(ns).Str(rel).Char(ident).I16(static_cast<int16_t>(cols.size()));
  for (const ColDef& c : cols) b.U8(c.flags).Str(c.name).U32(c.type_oid).I32(c.typmod);
  return b.str();
}

std::string InsertMsg(uint32_t rel, const std::vector<Col>& cols) {
  Bytes b;
  b.Char('I').U32(rel).Char('N');
  return AppendTuple(b, cols).str();
}

std::string UpdateMsg(uint32_t rel, char old_kind, const std::vector<Col>& old_cols,
                      const std::vector<Col>& new_cols) {
  Bytes b;
  b.Char('U').U32(rel);
  if (old_kind) AppendTuple(b.Char(old_kind), old_cols);
  return AppendTuple(b.Char('N'), new_cols).str();
}

std::string DeleteMsg(uint32_t rel, char old_kind, const std::vector<Col>& cols) {
  Bytes b;
  b.Char('D').U32(rel).Char(old_kind);
  return AppendTuple(b, cols).str();
}

std::string TruncateMsg(uint8_t options, const std::vector<uint32_t>& rels) {
  Bytes b;
  b.Char('T').I32(static_cast<int32_t>(rels.size())).U8(options);
  for (uint32_t r : rels) b.U32(r);
  return b.str();
}

std::string TypeMsg(uint32_t oid, const std::string& ns, const std::string& name) {
  return Bytes().Char('Y').U32(oid).Str(ns).Str(name).str();
}

std::string OriginMsg(uint64_t lsn, const std::string& name) {
  return Bytes().Char('O').U64(lsn).Str(name).str();
}

std::string MessageMsg(uint8_t flags, uint64_t lsn, const std::string& prefix,
                       const std::string& content) {
  return Bytes().Char('M').U8(flags).U64(lsn).Str(prefix)
      .I32(static_cast<int32_t>(content.size())).Raw(content).str();
}

// Decoded messages borrow from their payload, so the payloads the tests decode live until the
// end of the test program (a deque never moves its elements).
const std::string& KeepAlive(std::string payload) {
  static std::deque<std::string> payloads;
  payloads.push_back(std::move(payload));
  return payloads.back();
}

template <typename T>
T DecodeAs(std::string message) {
  const std::string& payload = KeepAlive(std::move(message));
  PgOutputMessage m;
  Status s = DecodePgOutput(payload, &m);
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_TRUE(std::holds_alternative<T>(m)) << "variant index " << m.index();
  return std::holds_alternative<T>(m) ? std::get<T>(m) : T{};
}

void ExpectTuple(const Tuple& t, const std::vector<Col>& expected) {
  ASSERT_EQ(t.size(), expected.size());
  for (size_t i = 0; i < t.size(); ++i) {
    const Col& e = expected[i];
    const ColumnValue::Kind kind = e.kind == 'n'   ? ColumnValue::Kind::kNull
                                   : e.kind == 'u' ? ColumnValue::Kind::kUnchanged
                                   : e.kind == 't' ? ColumnValue::Kind::kText
                                                   : ColumnValue::Kind::kBinary;
    EXPECT_EQ(t[i].kind, kind) << "column " << i;
    EXPECT_EQ(t[i].bytes, e.bytes) << "column " << i;
  }
}

void ExpectCorruption(const Status& s, const std::string& fragment) {
  EXPECT_EQ(s.code(), Status::Code::kCorruption) << s.ToString();
  EXPECT_NE(s.message().find(fragment), std::string::npos)
      << "message \"" << s.message() << "\" lacks \"" << fragment << "\"";
}

const std::vector<Col> kEveryKind = {
    {'b', Bytes().I64(7).str()}, {'t', "completed"}, {'n', ""}, {'u', ""}, {'t', ""},
    {'b', std::string("\0\x01\0", 3)}};

// ---- messages -----------------------------------------------------------------------------

TEST(PgOutput, Begin) {
  const Begin m = DecodeAs<Begin>(BeginMsg(0x16B374D848ULL, 774000000123456LL, 4242));
  EXPECT_EQ(m.final_lsn, 0x16B374D848ULL);
  EXPECT_EQ(m.commit_time_us, 774000000123456LL);
  EXPECT_EQ(m.xid, 4242u);
}

TEST(PgOutput, Commit) {
  const Commit m = DecodeAs<Commit>(CommitMsg(0x100, 0x1A8, -5));
  EXPECT_EQ(m.flags, 0);
  EXPECT_EQ(m.commit_lsn, 0x100u);
  EXPECT_EQ(m.end_lsn, 0x1A8u);
  EXPECT_EQ(m.commit_time_us, -5);
}

TEST(PgOutput, Origin) {
  const std::string payload = OriginMsg(0xABCDEF0123ULL, "pg_16390");
  const Origin m = DecodeAs<Origin>(payload);
  EXPECT_EQ(m.commit_lsn, 0xABCDEF0123ULL);
  EXPECT_EQ(m.name, "pg_16390");
}

TEST(PgOutput, RelationWithSeveralColumns) {
  const std::string payload = RelationMsg(16385, "public", "embedding", 'd',
                                          {{1, "id", 20, -1},
                                           {0, "entity_id", 2950, -1},
                                           {0, "model", 25, -1},
                                           {0, "vector", 1021, -1},
                                           {0, "status", 1043, 24}});
  const Relation m = DecodeAs<Relation>(payload);
  EXPECT_EQ(m.oid, 16385u);
  EXPECT_EQ(m.nspname, "public");
  EXPECT_EQ(m.relname, "embedding");
  EXPECT_EQ(m.replica_identity, 'd');
  ASSERT_EQ(m.columns.size(), 5u);
  EXPECT_TRUE(m.columns[0].is_key);
  EXPECT_EQ(m.columns[0].name, "id");
  EXPECT_EQ(m.columns[0].type_oid, 20u);
  EXPECT_EQ(m.columns[0].type_modifier, -1);
  for (size_t i = 1; i < 5; ++i) EXPECT_FALSE(m.columns[i].is_key) << i;
  EXPECT_EQ(m.columns[3].name, "vector");
  EXPECT_EQ(m.columns[3].type_oid, 1021u);
  EXPECT_EQ(m.columns[4].type_modifier, 24);
}

TEST(PgOutput, RelationReplicaIdentities) {
  for (char ident : {'d', 'n', 'f', 'i'}) {
    const Relation m = DecodeAs<Relation>(
        RelationMsg(1, "", "t", ident, {{1, "a", 23, -1}, {1, "b", 23, -1}}));
    EXPECT_EQ(m.replica_identity, ident);
    EXPECT_EQ(m.nspname, "");  // pg_catalog
    EXPECT_EQ(m.columns.size(), 2u);
  }
  const Relation none = DecodeAs<Relation>(RelationMsg(2, "s", "empty", 'd', {}));
  EXPECT_TRUE(none.columns.empty());
  PgOutputMessage out;
  ExpectCorruption(DecodePgOutput(RelationMsg(1, "", "t", 'x', {}), &out),
                   "unknown replica identity 'x'");
}

TEST(PgOutput, Type) {
  const Type m = DecodeAs<Type>(TypeMsg(16390, "public", "vector"));
  EXPECT_EQ(m.oid, 16390u);
  EXPECT_EQ(m.nspname, "public");
  EXPECT_EQ(m.name, "vector");
}

TEST(PgOutput, InsertWithEveryColumnKind) {
  const Insert m = DecodeAs<Insert>(InsertMsg(16385, kEveryKind));
  EXPECT_EQ(m.relation_oid, 16385u);
  ExpectTuple(m.new_tuple, kEveryKind);
}

TEST(PgOutput, InsertWithNoColumns) {
  const Insert m = DecodeAs<Insert>(InsertMsg(9, {}));
  EXPECT_TRUE(m.new_tuple.empty());
}

TEST(PgOutput, UpdateWithoutOldTuple) {
  const std::vector<Col> cols = {{'b', "k"}, {'u', ""}, {'t', "completed"}};
  const Update m = DecodeAs<Update>(UpdateMsg(5, 0, {}, cols));
  EXPECT_EQ(m.relation_oid, 5u);
  EXPECT_EQ(m.old_kind, 0);
  EXPECT_TRUE(m.old_tuple.empty());
  ExpectTuple(m.new_tuple, cols);
}

TEST(PgOutput, UpdateWithOldKey) {
  const std::vector<Col> old_cols = {{'b', "old"}, {'n', ""}, {'n', ""}};
  const std::vector<Col> new_cols = {{'b', "new"}, {'t', "x"}, {'u', ""}};
  const Update m = DecodeAs<Update>(UpdateMsg(5, 'K', old_cols, new_cols));
  EXPECT_EQ(m.old_kind, 'K');
  ExpectTuple(m.old_tuple, old_cols);
  ExpectTuple(m.new_tuple, new_cols);
}

TEST(PgOutput, UpdateWithOldFullRow) {
  const std::vector<Col> old_cols = {{'b', "id"}, {'b', std::string(6148, '\x42')}, {'t', "pending"}};
  const std::vector<Col> new_cols = {{'b', "id"}, {'u', ""}, {'t', "completed"}};
  const Update m = DecodeAs<Update>(UpdateMsg(5, 'O', old_cols, new_cols));
  EXPECT_EQ(m.old_kind, 'O');
  ExpectTuple(m.old_tuple, old_cols);
  ExpectTuple(m.new_tuple, new_cols);
}

TEST(PgOutput, DeleteWithKeyAndWithFullRow) {
  const std::vector<Col> key = {{'b', "id"}, {'n', ""}, {'n', ""}};
  const Delete k = DecodeAs<Delete>(DeleteMsg(77, 'K', key));
  EXPECT_EQ(k.relation_oid, 77u);
  EXPECT_EQ(k.old_kind, 'K');
  ExpectTuple(k.old_tuple, key);

  const std::vector<Col> full = {{'b', "id"}, {'t', "v"}, {'n', ""}};
  const Delete o = DecodeAs<Delete>(DeleteMsg(77, 'O', full));
  EXPECT_EQ(o.old_kind, 'O');
  ExpectTuple(o.old_tuple, full);
}

TEST(PgOutput, TruncateSeveralRelations) {
  const Truncate m = DecodeAs<Truncate>(TruncateMsg(3, {16385, 16390, 4000000000u}));
  EXPECT_EQ(m.options, 3);
  EXPECT_EQ(m.relation_oids, (std::vector<uint32_t>{16385, 16390, 4000000000u}));
  EXPECT_TRUE(DecodeAs<Truncate>(TruncateMsg(0, {})).relation_oids.empty());
}

TEST(PgOutput, LogicalMessages) {
  const std::string content("12345\0tail", 10);
  const LogicalMessage t = DecodeAs<LogicalMessage>(MessageMsg(1, 0x55, "vecmirror.hb", content));
  EXPECT_TRUE(t.transactional);
  EXPECT_EQ(t.lsn, 0x55u);
  EXPECT_EQ(t.prefix, "vecmirror.hb");
  EXPECT_EQ(t.content, content);
  const LogicalMessage n = DecodeAs<LogicalMessage>(MessageMsg(0, 0x56, "p", ""));
  EXPECT_FALSE(n.transactional);
  EXPECT_EQ(n.content, "");
}

// The decoded views borrow from the payload, not from a copy.
TEST(PgOutput, ViewsPointIntoThePayload) {
  const std::string payload = InsertMsg(1, {{'t', "hello"}});
  PgOutputMessage out;
  ASSERT_TRUE(DecodePgOutput(payload, &out).ok());
  const std::string_view v = std::get<Insert>(out).new_tuple[0].bytes;
  EXPECT_EQ(v.data(), payload.data() + payload.size() - 5);
}

// ---- malformed input ----------------------------------------------------------------------

std::vector<std::string> OneValidMessageOfEachType() {
  return {
      BeginMsg(1, 2, 3),
      CommitMsg(4, 5, 6),
      OriginMsg(7, "origin"),
      RelationMsg(8, "public", "entity", 'f', {{1, "id", 2950, -1}, {1, "type", 25, -1}}),
      TypeMsg(9, "public", "vector"),
      InsertMsg(10, kEveryKind),
      UpdateMsg(11, 0, {}, kEveryKind),
      UpdateMsg(11, 'K', {{'b', "k"}, {'n', ""}}, {{'b', "k2"}, {'t', "x"}}),
      UpdateMsg(11, 'O', kEveryKind, kEveryKind),
      DeleteMsg(12, 'K', {{'b', "k"}, {'n', ""}}),
      DeleteMsg(12, 'O', kEveryKind),
      TruncateMsg(1, {13, 14}),
      MessageMsg(1, 15, "prefix", "content"),
  };
}

TEST(PgOutputMalformed, EveryStrictPrefixIsAnError) {
  for (const std::string& valid : OneValidMessageOfEachType()) {
    PgOutputMessage out;
    ASSERT_TRUE(DecodePgOutput(valid, &out).ok()) << valid[0];
    for (size_t n = 0; n < valid.size(); ++n) {
      Status s = DecodePgOutput(std::string_view(valid).substr(0, n), &out);
      EXPECT_EQ(s.code(), Status::Code::kCorruption) << valid[0] << " prefix " << n;
      EXPECT_EQ(s.message().rfind("pgoutput", 0), 0u) << s.message();
    }
  }
}

TEST(PgOutputMalformed, TrailingBytesAreAnError) {
  for (std::string valid : OneValidMessageOfEachType()) {
    valid += '\0';
    PgOutputMessage out;
    ExpectCorruption(DecodePgOutput(valid, &out), "1 unexpected trailing bytes");
  }
}

TEST(PgOutputMalformed, NamesTheUnknownByte) {
  PgOutputMessage out;
  ExpectCorruption(DecodePgOutput("", &out), "empty message");
  ExpectCorruption(DecodePgOutput("Z123", &out), "unknown message type 'Z'");
  ExpectCorruption(DecodePgOutput(std::string(1, '\x01'), &out), "unknown message type 0x01");
  ExpectCorruption(DecodePgOutput(Bytes().Char('S').U32(1).U8(1).str(), &out), "Stream Start");
  ExpectCorruption(DecodePgOutput("b", &out), "Begin Prepare");

  std::string bad_kind = InsertMsg(1, {{'t', "a"}, {'t', "b"}});
  bad_kind[bad_kind.size() - 6] = 'x';  // the second column's kind byte
  ExpectCorruption(DecodePgOutput(bad_kind, &out), "unknown column kind 'x'");
  ExpectCorruption(DecodePgOutput(bad_kind, &out), "new tuple, column 1 of 2");
}

TEST(PgOutputMalformed, WrongTupleMarkers) {
  PgOutputMessage out;
  ExpectCorruption(DecodePgOutput(Bytes().Char('I').U32(1).Char('K').I16(0).str(), &out),
                   "expected tuple marker 'N', got 'K'");
  ExpectCorruption(DecodePgOutput(Bytes().Char('D').U32(1).Char('N').I16(0).str(), &out),
                   "expected tuple marker 'K' or 'O', got 'N'");
  // An old tuple must be followed by the new one.
  ExpectCorruption(
      DecodePgOutput(Bytes().Char('U').U32(1).Char('K').I16(0).Char('O').I16(0).str(), &out),
      "expected tuple marker 'N', got 'O'");
  ExpectCorruption(DecodePgOutput(Bytes().Char('U').U32(1).Char('X').I16(0).str(), &out),
                   "got 'X'");
}

TEST(PgOutputMalformed, NegativeAndOversizedCounts) {
  PgOutputMessage out;
  ExpectCorruption(DecodePgOutput(Bytes().Char('I').U32(1).Char('N').I16(-1).str(), &out),
                   "negative column count");
  ExpectCorruption(DecodePgOutput(Bytes().Char('I').U32(1).Char('N').I16(1).Char('t').I32(-7).str(), &out),
                   "negative length -7");
  ExpectCorruption(DecodePgOutput(Bytes().Char('I').U32(1).Char('N').I16(1).Char('b')
                                      .I32(0x7FFFFFFF).Raw("abc").str(), &out),
                   "truncated at column value");
  // 32767 announced columns, none present: fails without reading past the end.
  ExpectCorruption(DecodePgOutput(Bytes().Char('I').U32(1).Char('N').I16(32767).str(), &out),
                   "column 0 of 32767");
  ExpectCorruption(DecodePgOutput(Bytes().Char('T').I32(-1).U8(0).str(), &out),
                   "negative relation count");
  ExpectCorruption(DecodePgOutput(Bytes().Char('T').I32(0x7FFFFFFF).U8(0).U32(1).str(), &out),
                   "relation count 2147483647");
  ExpectCorruption(DecodePgOutput(Bytes().Char('R').U32(1).Str("").Str("t").Char('d').I16(-2).str(), &out),
                   "negative column count");
  ExpectCorruption(DecodePgOutput(Bytes().Char('M').U8(0).U64(1).Str("p").I32(-1).str(), &out),
                   "negative content length");
}

TEST(PgOutputMalformed, MissingNul) {
  PgOutputMessage out;
  ExpectCorruption(DecodePgOutput(Bytes().Char('Y').U32(1).Str("public").Raw("vector").str(), &out),
                   "type name has no terminating NUL");
  ExpectCorruption(DecodePgOutput(Bytes().Char('O').U64(1).Raw("name").str(), &out),
                   "origin name has no terminating NUL");
}

// Every string_view a decoded message holds must lie inside the payload.
class ViewChecker {
 public:
  explicit ViewChecker(std::string_view payload) : payload_(payload) {}
  void Check(std::string_view v) const {
    if (v.empty()) return;
    EXPECT_GE(v.data(), payload_.data());
    EXPECT_LE(v.data() + v.size(), payload_.data() + payload_.size());
  }
  void Check(const Tuple& t) const {
    for (const ColumnValue& c : t) Check(c.bytes);
  }
  void operator()(const Begin&) const {}
  void operator()(const Commit&) const {}
  void operator()(const Origin& m) const { Check(m.name); }
  void operator()(const Relation& m) const {
    Check(m.nspname);
    Check(m.relname);
    for (const RelationColumn& c : m.columns) Check(c.name);
  }
  void operator()(const Type& m) const {
    Check(m.nspname);
    Check(m.name);
  }
  void operator()(const Insert& m) const { Check(m.new_tuple); }
  void operator()(const Update& m) const {
    Check(m.old_tuple);
    Check(m.new_tuple);
  }
  void operator()(const Delete& m) const { Check(m.old_tuple); }
  void operator()(const Truncate&) const {}
  void operator()(const LogicalMessage& m) const {
    Check(m.prefix);
    Check(m.content);
  }

 private:
  std::string_view payload_;
};

TEST(PgOutputGarbage, RandomAndMutatedMessagesNeverCrash) {
  std::mt19937 rng(4321);
  const std::vector<std::string> valid = OneValidMessageOfEachType();
  const std::string types = "BCORYIUDTMSEcAbPKrpZ";
  int decoded = 0;
  for (int iter = 0; iter < 30000; ++iter) {
    std::string payload;
    if (iter % 2 == 0) {
      // Random bytes behind a plausible type byte; small values make counts and lengths fit.
      payload.resize(1 + rng() % 40);
      for (char& c : payload) c = static_cast<char>(rng() % 3 == 0 ? rng() : rng() % 4);
      payload[0] = types[rng() % types.size()];
    } else {
      // A valid message with a few bytes flipped, truncated or extended.
      payload = valid[rng() % valid.size()];
      for (int flips = 1 + rng() % 3; flips > 0; --flips) {
        payload[rng() % payload.size()] = static_cast<char>(rng());
      }
      if (rng() % 4 == 0) payload.resize(rng() % (payload.size() + 1));
    }
    PgOutputMessage out;
    if (DecodePgOutput(payload, &out).ok()) {
      ++decoded;
      std::visit(ViewChecker(payload), out);
    }
  }
  EXPECT_GT(decoded, 0);  // some mutations stay valid, so the success path was checked too
}

// ---- replication framing ------------------------------------------------------------------

TEST(ReplicationMessage, XLogData) {
  const std::string inner = BeginMsg(1, 2, 3);
  const std::string frame =
      Bytes().Char('w').U64(0x16B374D848ULL).U64(0x16B374D900ULL).I64(123456789).Raw(inner).str();
  ReplicationMessage out;
  ASSERT_TRUE(ParseReplicationMessage(frame, &out).ok());
  ASSERT_TRUE(std::holds_alternative<XLogData>(out));
  const XLogData& w = std::get<XLogData>(out);
  EXPECT_EQ(w.data_start, 0x16B374D848ULL);
  EXPECT_EQ(w.wal_end, 0x16B374D900ULL);
  EXPECT_EQ(w.send_time_us, 123456789);
  EXPECT_EQ(w.payload, inner);
  EXPECT_EQ(w.payload.data(), frame.data() + 25);
  for (size_t n = 0; n < 25; ++n) {
    EXPECT_EQ(ParseReplicationMessage(std::string_view(frame).substr(0, n), &out).code(),
              Status::Code::kCorruption)
        << n;
  }
}

TEST(ReplicationMessage, PrimaryKeepalive) {
  for (uint8_t reply : {0, 1}) {
    const std::string frame = Bytes().Char('k').U64(0xAB00000001ULL).I64(-77).U8(reply).str();
    ASSERT_EQ(frame.size(), 18u);
    ReplicationMessage out;
    ASSERT_TRUE(ParseReplicationMessage(frame, &out).ok());
    ASSERT_TRUE(std::holds_alternative<PrimaryKeepalive>(out));
    const PrimaryKeepalive& k = std::get<PrimaryKeepalive>(out);
    EXPECT_EQ(k.wal_end, 0xAB00000001ULL);
    EXPECT_EQ(k.send_time_us, -77);
    EXPECT_EQ(k.reply_requested, reply == 1);
    for (size_t n = 0; n < frame.size(); ++n) {
      EXPECT_FALSE(ParseReplicationMessage(std::string_view(frame).substr(0, n), &out).ok()) << n;
    }
  }
}

TEST(ReplicationMessage, UnknownTypeIsNamed) {
  ReplicationMessage out;
  ExpectCorruption(ParseReplicationMessage("", &out), "empty");
  ExpectCorruption(ParseReplicationMessage("h123", &out), "unknown type 'h'");
}

TEST(StandbyStatus, Encodes34Bytes) {
  const std::string m = EncodeStandbyStatus(0x0102030405060708ULL, 0x1112131415161718ULL,
                                            0x2122232425262728ULL, -2, true);
  const std::string expected = Bytes().Char('r').U64(0x0102030405060708ULL)
      .U64(0x1112131415161718ULL).U64(0x2122232425262728ULL).I64(-2).U8(1).str();
  EXPECT_EQ(m, expected);
  EXPECT_EQ(m.size(), 34u);
  EXPECT_EQ(EncodeStandbyStatus(0, 0, 0, 0, false).back(), '\0');
}

// Brackets the call with the precise wall clock: time() reads the coarse clock, which may lag
// behind it by a tick, so bracketing with time() fails now and then.
TEST(PgEpoch, MatchesTheWallClock) {
  constexpr int64_t kJan2000UnixMicros = int64_t{946684800} * 1000000;
  const auto unix_micros = [] {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    return int64_t{ts.tv_sec} * 1000000 + ts.tv_nsec / 1000;
  };
  const int64_t before = unix_micros() - kJan2000UnixMicros;
  const int64_t now = PgEpochMicrosNow();
  const int64_t after = unix_micros() - kJan2000UnixMicros;
  EXPECT_GE(now, before);
  EXPECT_LE(now, after);
}

}  // namespace
}  // namespace vecmirror::pg
