#include "src/auth/listen_policy.h"

#include <arpa/inet.h>

namespace vecmirror::auth {
namespace {

// The host of host:port or [host]:port; the whole text when there is no port.
std::string_view HostOf(std::string_view listen) {
  if (!listen.empty() && listen.front() == '[') {
    const size_t close = listen.find(']');
    return close == std::string_view::npos ? listen : listen.substr(1, close - 1);
  }
  const size_t colon = listen.rfind(':');
  return colon == std::string_view::npos ? listen : listen.substr(0, colon);
}

bool StartsWith(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

}  // namespace

bool IsLoopbackListen(std::string_view listen) {
  if (StartsWith(listen, "unix:") || StartsWith(listen, "unix-abstract:")) return true;
  // gRPC also takes a scheme: ipv4:127.0.0.1:50051, ipv6:[::1]:50051.
  if (StartsWith(listen, "ipv4:") || StartsWith(listen, "ipv6:")) listen.remove_prefix(5);
  const std::string host(HostOf(listen));
  if (host == "localhost") return true;
  in_addr v4{};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) return IN6_IS_ADDR_LOOPBACK(&v6);
  return false;
}

Status CheckListenSecurity(const ListenSecurity& security, std::vector<std::string>* warnings) {
  if (IsLoopbackListen(security.listen)) return Status::Ok();
  if (!security.tls && !security.allow_insecure) {
    return Status::FailedPrecondition(
        "--listen " + security.listen +
        " is reachable beyond this machine, and without TLS, tokens and search results would "
        "cross the network in plaintext: give --tls-cert and --tls-key, or listen on "
        "127.0.0.1, or add --allow-insecure if the network is trusted (or a proxy in front "
        "ends TLS)");
  }
  if (!security.tls) {
    warnings->push_back("serving plaintext on " + security.listen +
                        " (--allow-insecure): tokens and results are readable on the network");
  }
  if (!security.tokens && !security.client_certificates) {
    warnings->push_back("no --tokens-file and no --tls-client-ca: anyone who can reach " +
                        security.listen + " can search and rebuild every tenant's indexes");
  }
  return Status::Ok();
}

}  // namespace vecmirror::auth
