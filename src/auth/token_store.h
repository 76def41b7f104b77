// TokenStore: the bearer tokens the server accepts, parsed from a tokens file, each bound to a
// role and to a set of tenants (or to every tenant), and the lookup of a presented token.
//
// The file format, one token per line; blank lines and lines whose first non-blank character
// is '#' are ignored; fields are separated by spaces or tabs:
//
//   <token> <role> <tenants> [name]
//
//   token    sha256:<64 hex digits>, the SHA-256 of the token (`printf %s "$TOKEN" |
//            sha256sum`): the file then holds no secret, and this is the recommended form.
//            Or the token itself: at least 16 printable ASCII characters, no blanks, not
//            starting with '#' or "sha256:".
//   role     search: SearchSimilarEntities, BatchSearchSimilarEntities and ListIndexes for the
//            token's tenants. admin: all of that, RebuildIndex for its tenants, and, with
//            tenants *, GetMirrorStatus.
//   tenants  * for every tenant, or tenant UUIDs separated by commas (no blanks).
//   name     what logs and error messages call the token: letters, digits and . _ - @ :, at
//            most 64. Default: the token's fingerprint, "sha256:" and 8 hex digits.
//
// A parse error names the origin, the line and the field, never the field's text: a line
// with its fields out of order must not put a token in a log.
//
// Thread-safety: a TokenStore is not changed after Parse; its const methods may be called
// from any number of threads.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "base/uuid.h"
#include "src/auth/token_hash.h"

namespace vecmirror::auth {

enum class Role {
  kSearch,  // search and list indexes of its tenants
  kAdmin,   // everything kSearch may, and rebuild indexes and read the mirror's status
};

// "search" or "admin".
const char* RoleName(Role role);

struct TokenGrant {
  std::string name;            // what logs call the token
  TokenDigest digest{};        // SHA-256 of the token
  Role role = Role::kSearch;
  bool all_tenants = false;    // tenants was "*"
  std::vector<Uuid> tenants;   // sorted, without repeats; empty when all_tenants
  bool plaintext = false;      // the file held the token itself rather than its digest

  bool Covers(const Uuid& tenant) const;
  // Admin holds every right that search holds.
  bool HasRole(Role needed) const;
};

class TokenStore {
 public:
  // Parses the text of a tokens file into *out. `origin` (a path) prefixes error messages.
  // Fails with InvalidArgument on a malformed line, a token or a name given twice, or a file
  // without tokens.
  static Status Parse(std::string_view text, std::string_view origin, TokenStore* out);

  // The grant of `token`, or null when no entry matches. The token is hashed and its digest
  // compared with every entry, each in constant time, and the loop never stops early: the
  // time taken says nothing of which entry matched or how close a guess came.
  const TokenGrant* Find(std::string_view token) const;

  const std::vector<TokenGrant>& grants() const { return grants_; }
  size_t plaintext_count() const;

 private:
  std::vector<TokenGrant> grants_;
};

}  // namespace vecmirror::auth
