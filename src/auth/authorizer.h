// Authorizer: decides whether a gRPC call may do what it asks, for the tenant it names, from
// the bearer token in its `authorization` metadata ("Bearer <token>") and the TokenStore in
// force. Each handler makes one call to it before it looks at its request.
//
// Outcomes: no authorization metadata, one that is not "Bearer <token>", or a token that is
// not in the store: Unauthenticated. A known token without the role or the tenant:
// PermissionDenied, with a message that names the token (by its name) and what it lacks. A
// tenant_id that is not a UUID is covered only by a token for every tenant; the handler then
// rejects it as it would without authentication.
//
// Without a TokenStore (no --tokens-file) authentication is off: every check passes and every
// scope is every tenant.
//
// Logs: each refusal is logged (warn) with the caller's address and the token's name, or for
// an unknown token its fingerprint; never the token.
//
// Thread-safety: the const methods may run concurrently with each other and with Replace.
// Copies share one store, so Replace on any copy (a SIGHUP reload) is seen by all; a check
// in flight finishes with the store it started with.
#pragma once

#include <memory>
#include <mutex>
#include <string_view>
#include <vector>

#include <grpcpp/server_context.h>

#include "base/status.h"
#include "base/uuid.h"
#include "src/auth/token_store.h"

namespace vecmirror::auth {

// The tenants a caller may see: every tenant, or a list.
struct TenantScope {
  bool all = true;
  std::vector<Uuid> tenants;  // sorted; read only when !all

  bool Covers(const Uuid& tenant) const;
};

class Authorizer {
 public:
  // Authentication off.
  Authorizer();
  // Authentication on, with `store` (not null).
  explicit Authorizer(std::shared_ptr<const TokenStore> store);

  // Puts `store` in force for this authorizer and every copy of it.
  void Replace(std::shared_ptr<const TokenStore> store);
  bool enabled() const;

  // The call's token has `role` and covers `tenant_id`.
  Status Check(const grpc::ServerContextBase& context, std::string_view tenant_id,
               Role role) const;

  // The call's token has `role` and covers the tenant_id() of every element of `requests`
  // (a batch). The first one not covered refuses the whole call, its index named.
  template <typename Requests>
  Status CheckEach(const grpc::ServerContextBase& context, const Requests& requests,
                   Role role) const {
    std::vector<std::string_view> tenant_ids;
    for (const auto& request : requests) tenant_ids.push_back(request.tenant_id());
    return CheckTenants(context, tenant_ids, role);
  }

  // The call's token has `role` for every tenant (tenants "*"): for state that spans tenants,
  // such as the mirror's status.
  Status CheckEveryTenant(const grpc::ServerContextBase& context, Role role) const;

  // A listing: the call's token has the search role, covers `tenant_filter` when it is not
  // empty, and *visible is the set of tenants the listing may show.
  Status CheckListing(const grpc::ServerContextBase& context, std::string_view tenant_filter,
                      TenantScope* visible) const;

 private:
  struct Shared {
    mutable std::mutex mu;
    std::shared_ptr<const TokenStore> store;  // null: authentication off
  };

  std::shared_ptr<const TokenStore> store() const;
  // Finds the call's token in `store`. Sets *grant, which `store` keeps alive.
  Status Authenticate(const grpc::ServerContextBase& context, const TokenStore& store,
                      const TokenGrant** grant) const;
  Status CheckTenants(const grpc::ServerContextBase& context,
                      const std::vector<std::string_view>& tenant_ids, Role role) const;

  std::shared_ptr<Shared> shared_;
};

}  // namespace vecmirror::auth
