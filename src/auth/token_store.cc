#include "src/auth/token_store.h"

#include <algorithm>
#include <optional>

namespace vecmirror::auth {
namespace {

constexpr std::string_view kDigestPrefix = "sha256:";
constexpr size_t kMinTokenChars = 16;
constexpr size_t kMaxNameChars = 64;

bool IsBlank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

std::vector<std::string_view> SplitFields(std::string_view line) {
  std::vector<std::string_view> fields;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && IsBlank(line[i])) ++i;
    const size_t start = i;
    while (i < line.size() && !IsBlank(line[i])) ++i;
    if (i > start) fields.push_back(line.substr(start, i - start));
  }
  return fields;
}

// Printable ASCII without the space: what a gRPC metadata value can carry after "Bearer ".
bool IsTokenChar(char c) { return c > ' ' && c < 0x7F; }

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '.' || c == '_' || c == '-' || c == '@' || c == ':';
}

// Reads one line's fields into *grant; the error text is what follows "origin:line N: ".
std::optional<std::string> ParseLine(const std::vector<std::string_view>& fields,
                                     TokenGrant* grant) {
  if (fields.size() < 3 || fields.size() > 4) {
    return "expected <token> <role> <tenants> [name], found " + std::to_string(fields.size()) +
           " fields";
  }
  const std::string_view token = fields[0];
  if (token.substr(0, kDigestPrefix.size()) == kDigestPrefix) {
    std::optional<TokenDigest> digest = ParseDigestHex(token.substr(kDigestPrefix.size()));
    if (!digest) return std::string("token: sha256: must be followed by 64 hex digits");
    grant->digest = *digest;
  } else {
    if (token.size() < kMinTokenChars) {
      return "token: a token written as itself needs at least " + std::to_string(kMinTokenChars) +
             " characters (or write sha256:<hex digest>)";
    }
    if (!std::all_of(token.begin(), token.end(), IsTokenChar)) {
      return std::string("token: only printable ASCII characters may appear in a token");
    }
    grant->digest = HashToken(token);
    grant->plaintext = true;
  }

  if (fields[1] == "search") {
    grant->role = Role::kSearch;
  } else if (fields[1] == "admin") {
    grant->role = Role::kAdmin;
  } else {
    return std::string("role: expected search or admin");
  }

  const std::string_view tenants = fields[2];
  if (tenants == "*") {
    grant->all_tenants = true;
  } else {
    size_t start = 0;
    for (int n = 1;; ++n) {
      const size_t comma = tenants.find(',', start);
      const std::string_view item = tenants.substr(start, comma - start);
      std::optional<Uuid> tenant = Uuid::Parse(item);
      if (!tenant) {
        return "tenants: item " + std::to_string(n) +
               " is not a tenant UUID; expected * or UUIDs separated by commas";
      }
      grant->tenants.push_back(*tenant);
      if (comma == std::string_view::npos) break;
      start = comma + 1;
    }
    std::sort(grant->tenants.begin(), grant->tenants.end());
    grant->tenants.erase(std::unique(grant->tenants.begin(), grant->tenants.end()),
                         grant->tenants.end());
  }

  if (fields.size() == 4) {
    const std::string_view name = fields[3];
    if (name.size() > kMaxNameChars || !std::all_of(name.begin(), name.end(), IsNameChar)) {
      return "name: expected at most " + std::to_string(kMaxNameChars) +
             " letters, digits, '.', '_', '-', '@' or ':'";
    }
    grant->name = std::string(name);
  } else {
    grant->name = Fingerprint(grant->digest);
  }
  return std::nullopt;
}

}  // namespace

const char* RoleName(Role role) { return role == Role::kAdmin ? "admin" : "search"; }

bool TokenGrant::Covers(const Uuid& tenant) const {
  return all_tenants || std::binary_search(tenants.begin(), tenants.end(), tenant);
}

bool TokenGrant::HasRole(Role needed) const {
  return role == Role::kAdmin || needed == Role::kSearch;
}

Status TokenStore::Parse(std::string_view text, std::string_view origin, TokenStore* out) {
  std::vector<TokenGrant> grants;
  std::vector<int> lines;  // the line of each grant, for "the same token as line N"
  int line_number = 0;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t end = std::min(text.find('\n', start), text.size());
    const std::string_view line = text.substr(start, end - start);
    start = end + 1;
    ++line_number;
    const std::vector<std::string_view> fields = SplitFields(line);
    if (fields.empty() || fields[0].front() == '#') continue;

    const std::string where = std::string(origin) + ":" + std::to_string(line_number) + ": ";
    TokenGrant grant;
    if (std::optional<std::string> error = ParseLine(fields, &grant)) {
      return Status::InvalidArgument(where + *error);
    }
    for (size_t i = 0; i < grants.size(); ++i) {
      if (DigestsEqual(grants[i].digest, grant.digest)) {
        return Status::InvalidArgument(where + "the same token as line " +
                                       std::to_string(lines[i]));
      }
      if (grants[i].name == grant.name) {
        return Status::InvalidArgument(where + "name " + grant.name + " is also on line " +
                                       std::to_string(lines[i]));
      }
    }
    grants.push_back(std::move(grant));
    lines.push_back(line_number);
  }
  if (grants.empty()) {
    return Status::InvalidArgument(std::string(origin) +
                                   ": no tokens (every call would be refused; to serve without "
                                   "authentication, leave --tokens-file out)");
  }
  out->grants_ = std::move(grants);
  return Status::Ok();
}

const TokenGrant* TokenStore::Find(std::string_view token) const {
  const TokenDigest digest = HashToken(token);
  const TokenGrant* found = nullptr;
  for (const TokenGrant& grant : grants_) {
    const bool equal = DigestsEqual(grant.digest, digest);
    found = equal ? &grant : found;
  }
  return found;
}

size_t TokenStore::plaintext_count() const {
  return static_cast<size_t>(std::count_if(grants_.begin(), grants_.end(),
                                           [](const TokenGrant& g) { return g.plaintext; }));
}

}  // namespace vecmirror::auth
