// TLS for the gRPC server: the certificate chain and key it presents, and optionally the CA
// bundle that client certificates must chain to (mutual TLS). Built once at start-up;
// rotating a certificate means restarting the server.
//
// Thread-safety: pure functions; safe from any thread.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <grpcpp/security/server_credentials.h>

#include "base/status.h"

namespace vecmirror::auth {

struct TlsFiles {
  // PEM certificate chain the server presents, leaf first. Default: none, plaintext.
  std::string cert_file;
  // PEM private key of the leaf certificate, unencrypted (protect it with its file mode).
  // Required with cert_file.
  std::string key_file;
  // PEM CA certificates. Default: none, clients present no certificate. When set, every
  // client must present a certificate that chains to one of them, or its handshake fails
  // (mutual TLS). Requires cert_file.
  std::string client_ca_file;

  bool enabled() const { return !cert_file.empty(); }
  bool requires_client_certificates() const { return !client_ca_file.empty(); }
};

// Reads and checks the files, then builds the server credentials: plaintext when no file is
// named, else TLS. Fails with InvalidArgument, naming the flag or the file, when a key comes
// without a certificate or the reverse, a CA without a certificate, a file is not PEM, the
// key is encrypted or does not belong to the certificate, or the certificate has expired.
// Appends to *warnings what start-up should log (a private key other users may read).
Status BuildServerCredentials(const TlsFiles& files,
                              std::shared_ptr<grpc::ServerCredentials>* out,
                              std::vector<std::string>* warnings);

}  // namespace vecmirror::auth
