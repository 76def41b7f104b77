#include "tools/cli/health_check.h"

#include <cstdint>
#include <future>
#include <vector>

#include <grpcpp/generic/generic_stub.h>

namespace vecmirror::cli {
namespace {

constexpr char kCheckMethod[] = "/grpc.health.v1.Health/Check";

void PutVarint(uint64_t v, std::string* out) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

bool GetVarint(const std::string& in, size_t* pos, uint64_t* v) {
  *v = 0;
  for (int shift = 0; shift < 64 && *pos < in.size(); shift += 7) {
    const auto byte = static_cast<uint8_t>(in[(*pos)++]);
    *v |= static_cast<uint64_t>(byte & 0x7F) << shift;
    if ((byte & 0x80) == 0) return true;
  }
  return false;
}

// Skips one field of wire type `wire_type`; false if it runs past the end or is unknown.
bool SkipField(const std::string& in, size_t* pos, uint64_t wire_type) {
  uint64_t len = 0;
  switch (wire_type) {
    case 0: return GetVarint(in, pos, &len);
    case 1: len = 8; break;
    case 2:
      if (!GetVarint(in, pos, &len)) return false;
      break;
    case 5: len = 4; break;
    default: return false;
  }
  if (len > in.size() - *pos) return false;
  *pos += len;
  return true;
}

grpc::ByteBuffer ToByteBuffer(const std::string& bytes) {
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

std::string FromByteBuffer(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  std::string out;
  if (!buffer.Dump(&slices).ok()) return out;
  for (const grpc::Slice& s : slices) out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  return out;
}

}  // namespace

const char* ServingStatusName(ServingStatus status) {
  switch (status) {
    case ServingStatus::kUnknown: return "UNKNOWN";
    case ServingStatus::kServing: return "SERVING";
    case ServingStatus::kNotServing: return "NOT_SERVING";
    case ServingStatus::kServiceUnknown: return "SERVICE_UNKNOWN";
  }
  return "UNKNOWN";
}

std::string EncodeHealthRequest(const std::string& service) {
  std::string out;
  if (service.empty()) return out;  // proto3 leaves a default field off the wire
  out.push_back(0x0A);              // field 1, length-delimited
  PutVarint(service.size(), &out);
  out += service;
  return out;
}

bool DecodeHealthResponse(const std::string& bytes, ServingStatus* out) {
  uint64_t status = 0;  // absent = UNKNOWN (0)
  size_t pos = 0;
  while (pos < bytes.size()) {
    uint64_t tag = 0;
    if (!GetVarint(bytes, &pos, &tag)) return false;
    if (tag == 0x08) {  // field 1, varint
      if (!GetVarint(bytes, &pos, &status)) return false;
    } else if (!SkipField(bytes, &pos, tag & 7)) {
      return false;
    }
  }
  *out = status <= 3 ? static_cast<ServingStatus>(status) : ServingStatus::kUnknown;
  return true;
}

grpc::Status CheckHealth(const std::shared_ptr<grpc::Channel>& channel, const std::string& service,
                         std::chrono::milliseconds timeout, ServingStatus* out) {
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + timeout);
  const grpc::ByteBuffer request = ToByteBuffer(EncodeHealthRequest(service));
  grpc::ByteBuffer response;
  std::promise<grpc::Status> done;
  stub.UnaryCall(&context, kCheckMethod, grpc::StubOptions(), &request, &response,
                 [&done](grpc::Status s) { done.set_value(std::move(s)); });
  grpc::Status status = done.get_future().get();
  if (!status.ok()) return status;
  if (!DecodeHealthResponse(FromByteBuffer(response), out)) {
    return grpc::Status(grpc::StatusCode::INTERNAL, "malformed HealthCheckResponse");
  }
  return grpc::Status::OK;
}

}  // namespace vecmirror::cli
