#include "src/auth/tls_credentials.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <grpcpp/security/server_credentials.h>

#include "src/auth/local_file.h"

namespace vecmirror::auth {
namespace {

struct BioFree { void operator()(BIO* b) const { BIO_free(b); } };
struct X509Free { void operator()(X509* x) const { X509_free(x); } };
struct KeyFree { void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); } };
using BioPtr = std::unique_ptr<BIO, BioFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;
using KeyPtr = std::unique_ptr<EVP_PKEY, KeyFree>;

BioPtr MemoryBio(const std::string& text) {
  return BioPtr(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
}

// Never prompt on a terminal for a passphrase: an encrypted key is an error here.
int NoPassphrase(char*, int, int, void*) { return -1; }

// The certificates of a PEM text, in order; empty when there is none.
std::vector<X509Ptr> ReadCertificates(const std::string& pem) {
  std::vector<X509Ptr> certificates;
  BioPtr bio = MemoryBio(pem);
  while (bio) {
    X509Ptr certificate(PEM_read_bio_X509(bio.get(), nullptr, NoPassphrase, nullptr));
    if (!certificate) break;
    certificates.push_back(std::move(certificate));
  }
  ERR_clear_error();  // the read that ends the loop leaves "no start line" behind
  return certificates;
}

Status ReadPem(const std::string& flag, const std::string& path, LocalFile* file) {
  if (Status s = ReadLocalFile(path, file); !s.ok()) {
    return Status::InvalidArgument(flag + ": " + s.message());
  }
  return Status::Ok();
}

Status CheckLeaf(const std::string& cert_file, const X509Ptr& leaf) {
  if (X509_cmp_current_time(X509_get0_notAfter(leaf.get())) < 0) {
    return Status::InvalidArgument("--tls-cert: the certificate in " + cert_file +
                                   " has expired");
  }
  return Status::Ok();
}

}  // namespace

Status BuildServerCredentials(const TlsFiles& files,
                              std::shared_ptr<grpc::ServerCredentials>* out,
                              std::vector<std::string>* warnings) {
  if (files.cert_file.empty() && files.key_file.empty() && files.client_ca_file.empty()) {
    *out = grpc::InsecureServerCredentials();
    return Status::Ok();
  }
  if (files.cert_file.empty() || files.key_file.empty()) {
    return Status::InvalidArgument(
        files.cert_file.empty()
            ? std::string(files.key_file.empty() ? "--tls-client-ca needs --tls-cert and --tls-key"
                                                 : "--tls-key needs --tls-cert")
            : "--tls-cert needs --tls-key");
  }

  LocalFile cert, key;
  if (Status s = ReadPem("--tls-cert", files.cert_file, &cert); !s.ok()) return s;
  if (Status s = ReadPem("--tls-key", files.key_file, &key); !s.ok()) return s;
  const std::vector<X509Ptr> chain = ReadCertificates(cert.text);
  if (chain.empty()) {
    return Status::InvalidArgument("--tls-cert: " + files.cert_file +
                                   " holds no PEM certificate");
  }
  if (Status s = CheckLeaf(files.cert_file, chain.front()); !s.ok()) return s;

  BioPtr key_bio = MemoryBio(key.text);
  KeyPtr private_key(
      key_bio ? PEM_read_bio_PrivateKey(key_bio.get(), nullptr, NoPassphrase, nullptr) : nullptr);
  ERR_clear_error();
  if (!private_key) {
    return Status::InvalidArgument("--tls-key: " + files.key_file +
                                   " holds no unencrypted PEM private key");
  }
  if (X509_check_private_key(chain.front().get(), private_key.get()) != 1) {
    ERR_clear_error();
    return Status::InvalidArgument("--tls-key: the key in " + files.key_file +
                                   " does not belong to the certificate in " + files.cert_file);
  }
  if (key.readable_by_others) {
    warnings->push_back("--tls-key: " + files.key_file +
                        " can be read by other users; chmod 600 it");
  }

  grpc::SslServerCredentialsOptions options(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  if (files.requires_client_certificates()) {
    LocalFile ca;
    if (Status s = ReadPem("--tls-client-ca", files.client_ca_file, &ca); !s.ok()) return s;
    if (ReadCertificates(ca.text).empty()) {
      return Status::InvalidArgument("--tls-client-ca: " + files.client_ca_file +
                                     " holds no PEM certificate");
    }
    options.client_certificate_request = GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
    options.pem_root_certs = ca.text;
  }
  options.pem_key_cert_pairs.push_back({key.text, cert.text});
  *out = grpc::SslServerCredentials(options);
  return Status::Ok();
}

}  // namespace vecmirror::auth
