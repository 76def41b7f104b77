// ServerSecurity: what start-up builds from the security flags: the gRPC server credentials
// (plaintext or TLS, optionally mutual), the Authorizer with the tokens file in force, and
// the listen policy's verdict. Also the SIGHUP reload of the tokens file, and the check that
// the database password is not on the command line.
//
// Thread-safety: LoadServerSecurity runs once at start-up. ReloadTokens may run at any time
// from one thread (the signal loop) while handlers use copies of the Authorizer.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <grpcpp/security/server_credentials.h>

#include "base/status.h"
#include "src/auth/authorizer.h"
#include "src/auth/tls_credentials.h"

namespace vecmirror::auth {

struct SecurityOptions {
  // Server certificate, key and optional client CA. Default: none, plaintext.
  TlsFiles tls;
  // The tokens file (format in src/auth/token_store.h). Default: none, authentication off:
  // every caller may search and rebuild every tenant. Reloaded on SIGHUP.
  std::string tokens_file;
  // Serve plaintext on an address beyond loopback. Default: false, the server refuses to.
  bool allow_insecure = false;
  // The database conninfo came from --database-url and holds a password, which every local
  // user can read in the process list. Default: false. Start-up warns when set.
  bool database_password_in_argv = false;
};

struct ServerSecurity {
  std::shared_ptr<grpc::ServerCredentials> credentials;  // never null after a successful load
  Authorizer authorizer;                                  // off without a tokens file
};

// Builds the credentials, loads the tokens file and applies the listen policy for `listen`.
// Logs each warning, and one line that says what is in force. Fails, with a message that
// names the flag or the file, on anything the server must not start with.
Status LoadServerSecurity(const SecurityOptions& options, const std::string& listen,
                          ServerSecurity* out);

// Reads and parses `options.tokens_file` into a store, logging the warnings it raises.
Status LoadTokens(const SecurityOptions& options, std::shared_ptr<const TokenStore>* out);

// Loads the tokens file again and puts it in force in `authorizer` and its copies. On an
// error the tokens in force stay and the error is returned. Nothing to do (Ok) without a
// tokens file.
Status ReloadTokens(const SecurityOptions& options, Authorizer* authorizer);

// Whether a libpq conninfo, URI (postgresql://user:secret@host/db, ?password=) or key=value
// (password=secret), carries a password.
bool ConninfoHasPassword(std::string_view conninfo);

}  // namespace vecmirror::auth
