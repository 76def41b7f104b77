// libFuzzer target for the PostgreSQL decoders in src/pg/: the pgoutput decoder and its
// replication framing, the column decoders and the binary COPY parser. The first input byte
// picks the decoder; the rest is its input. Built only with clang (see tests/pg.cmake).
//
// Properties checked besides "no crash, no over-read": every view a decoder returns lies inside
// its input, and a decoded binary vector has exactly the size its input announces.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <variant>
#include <vector>

#include "src/pg/copy_binary.h"
#include "src/pg/pgoutput.h"
#include "src/pg/wire_format.h"

namespace vecmirror::pg {
namespace {

void Require(bool condition) {
  if (!condition) std::abort();
}

struct Bounds {
  std::string_view input;
  void Check(std::string_view v) const {
    Require(v.empty() ||
            (v.data() >= input.data() && v.data() + v.size() <= input.data() + input.size()));
  }
  void Check(const Tuple& t) const {
    for (const ColumnValue& c : t) Check(c.bytes);
  }
  void operator()(const Begin&) const {}
  void operator()(const Commit&) const {}
  void operator()(const Truncate&) const {}
  void operator()(const Origin& m) const { Check(m.name); }
  void operator()(const Type& m) const { Check(m.nspname), Check(m.name); }
  void operator()(const Relation& m) const {
    Check(m.nspname);
    Check(m.relname);
    for (const RelationColumn& c : m.columns) Check(c.name);
  }
  void operator()(const Insert& m) const { Check(m.new_tuple); }
  void operator()(const Update& m) const { Check(m.old_tuple), Check(m.new_tuple); }
  void operator()(const Delete& m) const { Check(m.old_tuple); }
  void operator()(const LogicalMessage& m) const { Check(m.prefix), Check(m.content); }
};

void FuzzPgOutput(std::string_view in) {
  PgOutputMessage m;
  if (DecodePgOutput(in, &m).ok()) std::visit(Bounds{in}, m);
}

void FuzzReplication(std::string_view in) {
  ReplicationMessage r;
  if (!ParseReplicationMessage(in, &r).ok()) return;
  if (const auto* w = std::get_if<XLogData>(&r)) {
    Bounds{in}.Check(w->payload);
    FuzzPgOutput(w->payload);
  }
}

void FuzzColumns(std::string_view in) {
  std::vector<float> v;
  if (DecodePgvectorBinary(in, &v).ok()) Require(in.size() == 4 + 4 * v.size());
  if (DecodeFloat4ArrayBinary(in, &v).ok()) Require(in.size() >= 12);
  DecodePgvectorText(in, &v);
  DecodeFloat4ArrayText(in, &v);
  Uuid u;
  int64_t i;
  std::string s;
  for (auto kind : {ColumnValue::Kind::kText, ColumnValue::Kind::kBinary}) {
    DecodeUuid({kind, in}, &u);
    DecodeInteger({kind, in}, &i);
    DecodeText({kind, in}, &s);
  }
}

// The first byte of `in` sets the chunk size, so splits land everywhere.
void FuzzCopy(std::string_view in) {
  if (in.empty()) return;
  const size_t chunk = 1 + static_cast<uint8_t>(in[0]) % 32;
  in.remove_prefix(1);
  size_t fed = 0;
  CopyBinaryParser parser([&](const Tuple& t) {
    for (const ColumnValue& c : t) Require(c.bytes.size() <= fed);
    return Status::Ok();
  });
  for (size_t pos = 0; pos < in.size(); pos += chunk) {
    const std::string_view piece = in.substr(pos, chunk);
    fed += piece.size();
    if (!parser.Feed(piece).ok()) break;
  }
  parser.Finish();
}

}  // namespace
}  // namespace vecmirror::pg

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 4) {
    case 0: vecmirror::pg::FuzzPgOutput(in); break;
    case 1: vecmirror::pg::FuzzReplication(in); break;
    case 2: vecmirror::pg::FuzzColumns(in); break;
    default: vecmirror::pg::FuzzCopy(in); break;
  }
  return 0;
}
