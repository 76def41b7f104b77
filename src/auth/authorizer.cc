#include "src/auth/authorizer.h"

#include <algorithm>
#include <optional>
#include <string>
#include <utility>

#include <spdlog/spdlog.h>

namespace vecmirror::auth {
namespace {

constexpr std::string_view kAuthorizationKey = "authorization";
constexpr std::string_view kBearer = "bearer";

std::string_view View(const grpc::string_ref& ref) { return {ref.data(), ref.size()}; }

bool StartsWithIgnoringCase(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  return std::equal(prefix.begin(), prefix.end(), text.begin(), [](char p, char t) {
    return p == (t >= 'A' && t <= 'Z' ? static_cast<char>(t - 'A' + 'a') : t);
  });
}

// The token of "Bearer <token>" (scheme in any case, RFC 6750), or nullopt.
std::optional<std::string_view> BearerToken(std::string_view value) {
  if (!StartsWithIgnoringCase(value, kBearer)) return std::nullopt;
  value.remove_prefix(kBearer.size());
  if (value.empty() || value.front() != ' ') return std::nullopt;
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
  if (value.empty()) return std::nullopt;
  return value;
}

// A request's tenant_id as a message may show it: the canonical UUID, never the raw text.
std::string TenantText(std::string_view tenant_id, const std::optional<Uuid>& tenant) {
  if (tenant) return tenant->ToString();
  return tenant_id.empty() ? "(empty)" : "(not a UUID)";
}

// Logs the refusal with the caller's address and returns it. `status` names the token only
// by its name or fingerprint.
Status Refused(const grpc::ServerContextBase& context, Status status) {
  spdlog::warn("auth: refused a call from {}: {}", context.peer(), status.message());
  return status;
}

Status CheckRole(const grpc::ServerContextBase& context, const TokenGrant& grant, Role role) {
  if (grant.HasRole(role)) return Status::Ok();
  return Refused(context,
                 Status::PermissionDenied("token " + grant.name + " has the " +
                                          RoleName(grant.role) + " role; this call needs " +
                                          RoleName(role)));
}

// A tenant_id that is not a UUID is covered only by a token for every tenant: the handler
// then rejects it as malformed, as it would without authentication.
Status CheckTenant(const grpc::ServerContextBase& context, const TokenGrant& grant,
                   std::string_view tenant_id, const std::string& field) {
  if (grant.all_tenants) return Status::Ok();
  const std::optional<Uuid> tenant = Uuid::Parse(tenant_id);
  if (tenant && grant.Covers(*tenant)) return Status::Ok();
  return Refused(context, Status::PermissionDenied("token " + grant.name + " does not cover " +
                                                   field + " " + TenantText(tenant_id, tenant)));
}

}  // namespace

bool TenantScope::Covers(const Uuid& tenant) const {
  return all || std::binary_search(tenants.begin(), tenants.end(), tenant);
}

Authorizer::Authorizer() : shared_(std::make_shared<Shared>()) {}

Authorizer::Authorizer(std::shared_ptr<const TokenStore> store) : Authorizer() {
  Replace(std::move(store));
}

void Authorizer::Replace(std::shared_ptr<const TokenStore> store) {
  std::lock_guard<std::mutex> lock(shared_->mu);
  shared_->store = std::move(store);
}

std::shared_ptr<const TokenStore> Authorizer::store() const {
  std::lock_guard<std::mutex> lock(shared_->mu);
  return shared_->store;
}

bool Authorizer::enabled() const { return store() != nullptr; }

Status Authorizer::Authenticate(const grpc::ServerContextBase& context, const TokenStore& store,
                                const TokenGrant** grant) const {
  const auto& metadata = context.client_metadata();
  const auto [first, last] = metadata.equal_range(grpc::string_ref(kAuthorizationKey.data(),
                                                                   kAuthorizationKey.size()));
  if (first == last) {
    return Refused(context, Status::Unauthenticated(
                                "no token: send the metadata \"authorization: Bearer <token>\""));
  }
  if (std::next(first) != last) {
    return Refused(context, Status::Unauthenticated("more than one authorization value"));
  }
  const std::optional<std::string_view> token = BearerToken(View(first->second));
  if (!token) {
    return Refused(context,
                   Status::Unauthenticated("the authorization value is not \"Bearer <token>\""));
  }
  *grant = store.Find(*token);
  if (*grant == nullptr) {
    spdlog::warn("auth: refused a call from {}: unknown token {}", context.peer(),
                 Fingerprint(HashToken(*token)));
    return Status::Unauthenticated("the token is not valid");
  }
  return Status::Ok();
}

Status Authorizer::Check(const grpc::ServerContextBase& context, std::string_view tenant_id,
                         Role role) const {
  return CheckTenants(context, {tenant_id}, role);
}

Status Authorizer::CheckTenants(const grpc::ServerContextBase& context,
                                const std::vector<std::string_view>& tenant_ids,
                                Role role) const {
  const std::shared_ptr<const TokenStore> tokens = store();
  if (!tokens) return Status::Ok();
  const TokenGrant* grant = nullptr;
  if (Status s = Authenticate(context, *tokens, &grant); !s.ok()) return s;
  if (Status s = CheckRole(context, *grant, role); !s.ok()) return s;
  for (size_t i = 0; i < tenant_ids.size(); ++i) {
    const std::string field =
        tenant_ids.size() == 1 ? "tenant_id" : "requests[" + std::to_string(i) + "].tenant_id";
    if (Status s = CheckTenant(context, *grant, tenant_ids[i], field); !s.ok()) return s;
  }
  return Status::Ok();
}

Status Authorizer::CheckEveryTenant(const grpc::ServerContextBase& context, Role role) const {
  const std::shared_ptr<const TokenStore> tokens = store();
  if (!tokens) return Status::Ok();
  const TokenGrant* grant = nullptr;
  if (Status s = Authenticate(context, *tokens, &grant); !s.ok()) return s;
  if (Status s = CheckRole(context, *grant, role); !s.ok()) return s;
  if (grant->all_tenants) return Status::Ok();
  return Refused(context,
                 Status::PermissionDenied("token " + grant->name +
                                          " covers only some tenants; this call reports on every "
                                          "tenant and needs a token for tenants *"));
}

Status Authorizer::CheckListing(const grpc::ServerContextBase& context,
                                std::string_view tenant_filter, TenantScope* visible) const {
  *visible = TenantScope{};
  const std::shared_ptr<const TokenStore> tokens = store();
  if (!tokens) return Status::Ok();
  const TokenGrant* grant = nullptr;
  if (Status s = Authenticate(context, *tokens, &grant); !s.ok()) return s;
  if (!tenant_filter.empty()) {
    if (Status s = CheckTenant(context, *grant, tenant_filter, "tenant_id"); !s.ok()) return s;
  }
  visible->all = grant->all_tenants;
  visible->tenants = grant->tenants;
  return Status::Ok();
}

}  // namespace vecmirror::auth
