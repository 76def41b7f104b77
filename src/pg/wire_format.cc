#include "src/pg/wire_format.h"

#include <cfloat>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <system_error>

#include "src/pg/byte_reader.h"

namespace vecmirror::pg {
namespace {

constexpr uint32_t kFloat4Oid = 700;

float FloatFromBigEndian(const char* p) {
  const uint32_t bits = LoadBigEndian32(p);
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

// Quotes (a prefix of) the input for an error message.
std::string Excerpt(std::string_view text) {
  constexpr size_t kMax = 40;
  std::string out = "\"";
  out.append(text.substr(0, kMax));
  out += text.size() > kMax ? "...\"" : "\"";
  return out;
}

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

// A cursor over a text value: the vector and array text parsers share it.
class TextCursor {
 public:
  TextCursor(std::string_view text, const char* context) : text_(text), context_(context) {}

  void SkipSpace() {
    while (pos_ < text_.size() && IsSpace(text_[pos_])) ++pos_;
  }
  bool AtEnd() const { return pos_ >= text_.size(); }
  char Peek() const { return AtEnd() ? '\0' : text_[pos_]; }
  bool Consume(char c) {
    if (Peek() != c || AtEnd()) return false;
    ++pos_;
    return true;
  }
  size_t pos() const { return pos_; }
  void Advance(size_t n) { pos_ += n; }
  std::string_view Rest() const { return text_.substr(pos_); }

  Status Error(const std::string& what) const {
    return Status::Corruption(std::string(context_) + ": " + what + " at offset " +
                              std::to_string(pos_) + " in " + Excerpt(text_));
  }

  // A float4 as float4in/strtof would read it: decimal or scientific notation, an optional
  // sign, "NaN", "Infinity", "inf" (any case). Independent of the C locale.
  Status ParseFloat(float* out) {
    std::string_view rest = Rest();
    size_t sign_len = 0;
    // from_chars accepts '-' but not '+', which strtof accepts.
    if (!rest.empty() && rest[0] == '+') {
      sign_len = 1;
      rest.remove_prefix(1);
      if (!rest.empty() && (rest[0] == '-' || rest[0] == '+')) return Error("malformed number");
    }
    const char* begin = rest.data();
    const char* end = rest.data() + rest.size();
    auto [ptr, ec] = std::from_chars(begin, end, *out, std::chars_format::general);
    if (ec == std::errc::result_out_of_range) {
      // Underflow rounds toward zero as strtof does; overflow is not a float4.
      double wide = 0;
      auto wide_result = std::from_chars(begin, end, wide, std::chars_format::general);
      ptr = wide_result.ptr;
      if (wide_result.ec != std::errc() || std::fabs(wide) > FLT_MAX) {
        return Error("number out of float4 range");
      }
      *out = static_cast<float>(wide);
    } else if (ec != std::errc()) {
      return Error("expected a number");
    }
    Advance(sign_len + static_cast<size_t>(ptr - begin));
    return Status::Ok();
  }

 private:
  std::string_view text_;
  const char* context_;
  size_t pos_ = 0;
};

// Reads "elem, elem, ..." up to and including `close` (the opening bracket is already consumed).
// `read_element` parses one element at the cursor.
template <typename ReadElement>
Status ParseList(TextCursor* in, char close, std::vector<float>* out, ReadElement read_element) {
  in->SkipSpace();
  if (in->Consume(close)) return Status::Ok();
  for (;;) {
    in->SkipSpace();
    float value = 0;
    Status s = read_element(in, &value);
    if (!s.ok()) return s;
    out->push_back(value);
    in->SkipSpace();
    if (in->Consume(close)) return Status::Ok();
    if (!in->Consume(',')) {
      return in->Error(in->AtEnd() ? std::string("missing closing '") + close + "'"
                                   : std::string("expected ',' or '") + close + "'");
    }
  }
}

Status ExpectEnd(TextCursor* in) {
  in->SkipSpace();
  return in->AtEnd() ? Status::Ok() : in->Error("unexpected characters after the closing bracket");
}

// True if the element at the cursor is the unquoted word NULL (array_in's NULL element).
bool AtNullElement(const TextCursor& in) {
  std::string_view rest = in.Rest();
  if (rest.size() < 4) return false;
  for (size_t i = 0; i < 4; ++i) {
    if ((rest[i] | 0x20) != "null"[i]) return false;
  }
  return rest.size() == 4 || rest[4] == ',' || rest[4] == '}' || IsSpace(rest[4]);
}

// One element of a real[] text value: a number, optionally double-quoted as array_in allows.
Status ReadArrayElement(TextCursor* in, float* value) {
  if (AtNullElement(*in)) return in->Error("NULL element (a vector cannot hold NULL)");
  if (in->Consume('{')) return in->Error("nested braces: more than one dimension");
  if (!in->Consume('"')) return in->ParseFloat(value);
  Status s = in->ParseFloat(value);
  if (!s.ok()) return s;
  return in->Consume('"') ? Status::Ok() : in->Error("unterminated quoted element");
}

// array_out writes "[lb:ub]=" before the braces when the lower bound is not 1. Sets *count to
// the element count it announces, or to -1 when there is no such prefix.
Status ParseArrayBounds(TextCursor* in, int64_t* count) {
  *count = -1;
  if (!in->Consume('[')) return Status::Ok();
  int64_t bounds[2] = {0, 0};
  for (int i = 0; i < 2; ++i) {
    in->SkipSpace();
    std::string_view rest = in->Rest();
    auto [ptr, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), bounds[i]);
    if (ec != std::errc()) return in->Error("malformed array bounds");
    in->Advance(static_cast<size_t>(ptr - rest.data()));
    in->SkipSpace();
    if (!in->Consume(i == 0 ? ':' : ']')) return in->Error("malformed array bounds");
  }
  if (in->Consume('[')) return in->Error("bounds for more than one dimension");
  in->SkipSpace();
  if (!in->Consume('=')) return in->Error("expected '=' after array bounds");
  if (bounds[1] < bounds[0] - 1) return in->Error("array upper bound below lower bound");
  *count = bounds[1] - bounds[0] + 1;
  return Status::Ok();
}

}  // namespace

Status DecodePgvectorBinary(std::string_view bytes, std::vector<float>* out) {
  out->clear();
  if (bytes.size() < 4) {
    return Status::Corruption("vector binary: " + std::to_string(bytes.size()) +
                              " bytes, shorter than the 4-byte header");
  }
  const int16_t dim = static_cast<int16_t>(LoadBigEndian16(bytes.data()));
  const int16_t unused = static_cast<int16_t>(LoadBigEndian16(bytes.data() + 2));
  if (dim < 0) {
    return Status::Corruption("vector binary: negative dimension count " + std::to_string(dim));
  }
  if (unused != 0) {
    return Status::Corruption("vector binary: header's unused field is " +
                              std::to_string(unused) + ", expected 0");
  }
  const size_t payload = bytes.size() - 4;
  if (payload != size_t{4} * static_cast<size_t>(dim)) {
    return Status::Corruption("vector binary: header says " + std::to_string(dim) +
                              " dimensions but " + std::to_string(payload) + " bytes follow");
  }
  out->resize(static_cast<size_t>(dim));
  for (size_t i = 0; i < out->size(); ++i) (*out)[i] = FloatFromBigEndian(bytes.data() + 4 + 4 * i);
  return Status::Ok();
}

Status DecodePgvectorText(std::string_view text, std::vector<float>* out) {
  out->clear();
  TextCursor in(text, "vector text");
  in.SkipSpace();
  if (!in.Consume('[')) return in.Error("expected '['");
  Status s = ParseList(&in, ']', out, [](TextCursor* c, float* v) { return c->ParseFloat(v); });
  if (s.ok()) s = ExpectEnd(&in);
  if (!s.ok()) out->clear();
  return s;
}

Status DecodeFloat4ArrayBinary(std::string_view bytes, std::vector<float>* out) {
  out->clear();
  ByteReader in(bytes, "real[] binary");
  const int32_t ndim = in.I32("ndim");
  const int32_t has_nulls = in.I32("has_nulls flag");
  const uint32_t element_oid = in.U32("element type oid");
  if (!in.ok()) return in.status();
  if (ndim < 0) return Status::Corruption("real[] binary: negative ndim " + std::to_string(ndim));
  if (ndim > 1) {
    return Status::Corruption("real[] binary: " + std::to_string(ndim) +
                              " dimensions; a vector must be a one-dimensional array");
  }
  if (has_nulls != 0 && has_nulls != 1) {
    return Status::Corruption("real[] binary: has_nulls flag is " + std::to_string(has_nulls) +
                              ", expected 0 or 1");
  }
  if (element_oid != kFloat4Oid) {
    return Status::Corruption("real[] binary: element type oid " + std::to_string(element_oid) +
                              ", expected 700 (float4)");
  }
  if (ndim == 0) return in.Finish();  // array_send's empty array: '{}'

  const int32_t count = in.I32("dimension size");
  in.I32("lower bound");  // any lower bound: the elements are what matter
  if (!in.ok()) return in.status();
  if (count < 0) {
    return Status::Corruption("real[] binary: negative dimension size " + std::to_string(count));
  }
  // Each element takes at least its int32 length (a NULL takes only that): check before
  // allocating anything.
  if (in.remaining() < size_t{4} * static_cast<size_t>(count)) {
    return Status::Corruption("real[] binary: header says " + std::to_string(count) +
                              " elements but only " + std::to_string(in.remaining()) +
                              " bytes follow");
  }
  out->reserve(static_cast<size_t>(count));
  for (int32_t i = 0; i < count; ++i) {
    const int32_t length = in.I32("element length");
    if (in.ok() && length == -1) {
      in.Fail("element " + std::to_string(i) + " is NULL (a vector cannot hold NULL)");
    }
    if (in.ok() && length != 4) {
      in.Fail("element " + std::to_string(i) + " has length " + std::to_string(length) +
              ", expected 4");
    }
    const std::string_view element = in.Bytes(4, "element value");
    if (!in.ok()) {
      out->clear();
      return in.status();
    }
    out->push_back(FloatFromBigEndian(element.data()));
  }
  Status s = in.Finish();
  if (!s.ok()) out->clear();
  return s;
}

Status DecodeFloat4ArrayText(std::string_view text, std::vector<float>* out) {
  out->clear();
  TextCursor in(text, "real[] text");
  in.SkipSpace();
  int64_t announced = -1;
  Status s = ParseArrayBounds(&in, &announced);
  if (!s.ok()) return s;
  in.SkipSpace();
  if (!in.Consume('{')) return in.Error("expected '{'");
  s = ParseList(&in, '}', out, ReadArrayElement);
  if (s.ok()) s = ExpectEnd(&in);
  if (s.ok() && announced >= 0 && static_cast<uint64_t>(announced) != out->size()) {
    s = in.Error("bounds announce " + std::to_string(announced) + " elements but " +
                 std::to_string(out->size()) + " follow");
  }
  if (!s.ok()) out->clear();
  return s;
}

Status DecodeVector(const ColumnValue& value, VectorType type, std::vector<float>* out) {
  switch (value.kind) {
    case ColumnValue::Kind::kText:
      return type == VectorType::kPgvector ? DecodePgvectorText(value.bytes, out)
                                           : DecodeFloat4ArrayText(value.bytes, out);
    case ColumnValue::Kind::kBinary:
      return type == VectorType::kPgvector ? DecodePgvectorBinary(value.bytes, out)
                                           : DecodeFloat4ArrayBinary(value.bytes, out);
    case ColumnValue::Kind::kNull:
      return Status::InvalidArgument("vector: value is NULL");
    case ColumnValue::Kind::kUnchanged:
      return Status::InvalidArgument("vector: value is an unchanged TOAST value (not sent)");
  }
  return Status::InvalidArgument("vector: unknown column kind");
}

namespace {

Status RequirePresent(const ColumnValue& value, const char* what) {
  if (value.kind == ColumnValue::Kind::kNull) {
    return Status::InvalidArgument(std::string(what) + ": value is NULL");
  }
  if (value.kind == ColumnValue::Kind::kUnchanged) {
    return Status::InvalidArgument(std::string(what) +
                                   ": value is an unchanged TOAST value (not sent)");
  }
  return Status::Ok();
}

}  // namespace

Status DecodeUuid(const ColumnValue& value, Uuid* out) {
  Status s = RequirePresent(value, "uuid");
  if (!s.ok()) return s;
  if (value.kind == ColumnValue::Kind::kBinary) {
    if (value.bytes.size() != out->bytes.size()) {
      return Status::Corruption("uuid binary: " + std::to_string(value.bytes.size()) +
                                " bytes, expected 16");
    }
    std::memcpy(out->bytes.data(), value.bytes.data(), out->bytes.size());
    return Status::Ok();
  }
  std::optional<Uuid> parsed = Uuid::Parse(value.bytes);
  if (!parsed) return Status::Corruption("uuid text: malformed uuid " + Excerpt(value.bytes));
  *out = *parsed;
  return Status::Ok();
}

Status DecodeText(const ColumnValue& value, std::string* out) {
  Status s = RequirePresent(value, "text");
  if (!s.ok()) return s;
  out->assign(value.bytes);
  return Status::Ok();
}

Status DecodeInteger(const ColumnValue& value, int64_t* out) {
  Status s = RequirePresent(value, "integer");
  if (!s.ok()) return s;
  const std::string_view b = value.bytes;
  if (value.kind == ColumnValue::Kind::kBinary) {
    switch (b.size()) {
      case 8: *out = static_cast<int64_t>(LoadBigEndian64(b.data())); return Status::Ok();
      case 4: *out = static_cast<int32_t>(LoadBigEndian32(b.data())); return Status::Ok();
      case 2: *out = static_cast<int16_t>(LoadBigEndian16(b.data())); return Status::Ok();
      default:
        return Status::Corruption("integer binary: " + std::to_string(b.size()) +
                                  " bytes, expected 2, 4 or 8");
    }
  }
  // int8in accepts surrounding whitespace and a leading '+'.
  size_t begin = 0, end = b.size();
  while (begin < end && IsSpace(b[begin])) ++begin;
  while (end > begin && IsSpace(b[end - 1])) --end;
  if (begin < end && b[begin] == '+' && end - begin > 1 && b[begin + 1] != '-') ++begin;
  auto [ptr, ec] = std::from_chars(b.data() + begin, b.data() + end, *out);
  if (ec == std::errc::result_out_of_range) {
    return Status::Corruption("integer text: out of int64 range " + Excerpt(b));
  }
  if (ec != std::errc() || ptr != b.data() + end) {
    return Status::Corruption("integer text: not an integer " + Excerpt(b));
  }
  return Status::Ok();
}

}  // namespace vecmirror::pg
