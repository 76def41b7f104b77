#include "src/auth/server_security.h"

#include <spdlog/spdlog.h>

#include <vector>

#include "src/auth/listen_policy.h"
#include "src/auth/local_file.h"

namespace vecmirror::auth {
namespace {

bool StartsWith(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

// "password" as a key at the start of `text` or after a blank, '?' or '&', then '='
// (blanks allowed around it in the key=value form).
bool HasPasswordKey(std::string_view text) {
  constexpr std::string_view kKey = "password";
  for (size_t at = text.find(kKey); at != std::string_view::npos; at = text.find(kKey, at + 1)) {
    const bool starts_key = at == 0 || text[at - 1] == ' ' || text[at - 1] == '\t' ||
                            text[at - 1] == '?' || text[at - 1] == '&';
    size_t after = at + kKey.size();
    while (after < text.size() && (text[after] == ' ' || text[after] == '\t')) ++after;
    if (starts_key && after < text.size() && text[after] == '=') return true;
  }
  return false;
}

std::string Describe(const SecurityOptions& options, const Authorizer& authorizer,
                     size_t tokens) {
  std::string text = "plaintext";
  if (options.tls.enabled()) {
    text = options.tls.requires_client_certificates() ? "TLS, client certificates required"
                                                      : "TLS";
  }
  if (!authorizer.enabled()) return text + ", no authentication";
  return text + ", " + std::to_string(tokens) + " tokens from " + options.tokens_file;
}

}  // namespace

bool ConninfoHasPassword(std::string_view conninfo) {
  if (StartsWith(conninfo, "postgresql://") || StartsWith(conninfo, "postgres://")) {
    const std::string_view rest = conninfo.substr(conninfo.find("//") + 2);
    const std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
    const size_t at = authority.rfind('@');
    if (at != std::string_view::npos &&
        authority.substr(0, at).find(':') != std::string_view::npos) {
      return true;
    }
    const size_t query = rest.find('?');
    return query != std::string_view::npos && HasPasswordKey(rest.substr(query));
  }
  return HasPasswordKey(conninfo);
}

Status LoadTokens(const SecurityOptions& options, std::shared_ptr<const TokenStore>* out) {
  LocalFile file;
  if (Status s = ReadLocalFile(options.tokens_file, &file); !s.ok()) {
    return Status::InvalidArgument("--tokens-file: " + s.message());
  }
  auto store = std::make_shared<TokenStore>();
  if (Status s = TokenStore::Parse(file.text, options.tokens_file, store.get()); !s.ok()) {
    return s;
  }
  if (store->plaintext_count() > 0) {
    spdlog::warn("{}: {} tokens are written as themselves; sha256:<hex> keeps them out of the file",
                 options.tokens_file, store->plaintext_count());
    if (file.readable_by_others) {
      spdlog::warn("{} holds tokens and can be read by other users; chmod 600 it",
                   options.tokens_file);
    }
  }
  *out = std::move(store);
  return Status::Ok();
}

Status ReloadTokens(const SecurityOptions& options, Authorizer* authorizer) {
  if (options.tokens_file.empty()) return Status::Ok();
  std::shared_ptr<const TokenStore> store;
  if (Status s = LoadTokens(options, &store); !s.ok()) return s;
  authorizer->Replace(store);
  spdlog::info("reloaded {}: {} tokens in force", options.tokens_file, store->grants().size());
  return Status::Ok();
}

Status LoadServerSecurity(const SecurityOptions& options, const std::string& listen,
                          ServerSecurity* out) {
  std::vector<std::string> warnings;
  if (Status s = BuildServerCredentials(options.tls, &out->credentials, &warnings); !s.ok()) {
    return s;
  }
  size_t tokens = 0;
  if (!options.tokens_file.empty()) {
    std::shared_ptr<const TokenStore> store;
    if (Status s = LoadTokens(options, &store); !s.ok()) return s;
    tokens = store->grants().size();
    out->authorizer.Replace(std::move(store));
  }
  ListenSecurity listen_security;
  listen_security.listen = listen;
  listen_security.tls = options.tls.enabled();
  listen_security.client_certificates = options.tls.requires_client_certificates();
  listen_security.tokens = out->authorizer.enabled();
  listen_security.allow_insecure = options.allow_insecure;
  if (Status s = CheckListenSecurity(listen_security, &warnings); !s.ok()) return s;
  if (options.database_password_in_argv) {
    warnings.push_back(
        "--database-url holds a password, which every local user can read in the process "
        "list; put it in a PGPASSFILE, or pass the URL in DATABASE_URL");
  }
  for (const std::string& warning : warnings) spdlog::warn("{}", warning);
  spdlog::info("security: {}", Describe(options, out->authorizer, tokens));
  return Status::Ok();
}

}  // namespace vecmirror::auth
