// The listen policy: what start-up allows on which address. Plaintext is fine on loopback,
// where only local users can connect; beyond it a token or a search result would cross the
// network readable by anyone on the path, so the server refuses to start unless the operator
// says --allow-insecure (a trusted network, or TLS ended by a proxy in front). Without tokens
// or client certificates beyond loopback, anyone who can reach the port can search every
// tenant: that starts, with a warning.
//
// Thread-safety: pure functions; safe from any thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace vecmirror::auth {

// True when `listen` can be reached only from this machine: a host of 127.0.0.0/8, ::1 or
// localhost (host:port, [host]:port), or a Unix socket (unix:..., unix-abstract:...). Any other
// host, 0.0.0.0 and [::] included, is reachable from beyond the machine.
bool IsLoopbackListen(std::string_view listen);

struct ListenSecurity {
  std::string listen;                 // the gRPC listen address
  bool tls = false;                   // --tls-cert given
  bool client_certificates = false;   // --tls-client-ca given (mTLS)
  bool tokens = false;                // --tokens-file given
  bool allow_insecure = false;        // --allow-insecure given
};

// FailedPrecondition, with the flags to add, for plaintext beyond loopback without
// allow_insecure. Appends to *warnings what start-up should log otherwise.
Status CheckListenSecurity(const ListenSecurity& security, std::vector<std::string>* warnings);

}  // namespace vecmirror::auth
