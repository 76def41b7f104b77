// Token hashing: the SHA-256 digest under which a bearer token is stored and compared, its hex
// form, the short fingerprint that logs show instead of a token, and a comparison whose time
// does not depend on where two digests differ.
//
// Thread-safety: pure functions; safe to call from any thread.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace vecmirror::auth {

using TokenDigest = std::array<uint8_t, 32>;

// SHA-256 of the token's bytes, as `printf %s TOKEN | sha256sum` computes it.
TokenDigest HashToken(std::string_view token);

// Lower-case hex, 64 characters.
std::string DigestHex(const TokenDigest& digest);

// Parses 64 hex digits, either case; nullopt on anything else.
std::optional<TokenDigest> ParseDigestHex(std::string_view hex);

// What logs show for a token: "sha256:" and the first 8 hex digits of its digest. Enough to
// tell tokens apart in a log, never enough to use one.
std::string Fingerprint(const TokenDigest& digest);

// True when a == b. Every byte is compared whatever the first difference, so the time taken
// says nothing about how much of a guessed digest was right.
bool DigestsEqual(const TokenDigest& a, const TokenDigest& b);

}  // namespace vecmirror::auth
