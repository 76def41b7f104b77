// src/auth/ on its own, without a server: token digests, the tokens file format and lookup,
// the listen policy, the password check of a conninfo, the bounded file reader, and the TLS
// credentials builder over a PKI made at test time (tests/support/make-test-certs.sh).
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "src/auth/listen_policy.h"
#include "src/auth/local_file.h"
#include "src/auth/server_security.h"
#include "src/auth/tls_credentials.h"
#include "src/auth/token_hash.h"
#include "src/auth/token_store.h"
#include "tests/support/test_pki.h"

namespace vecmirror::auth {
namespace {

using ::vecmirror::testing::TestPki;

const Uuid kTenantA = *Uuid::Parse("11111111-1111-4111-8111-111111111111");
const Uuid kTenantB = *Uuid::Parse("22222222-2222-4222-8222-222222222222");
const Uuid kTenantC = *Uuid::Parse("33333333-3333-4333-8333-333333333333");

// ---- token digests ---------------------------------------------------------------------------

// FIPS 180-2's example: SHA-256("abc").
constexpr char kAbcDigest[] = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

TEST(TokenHashTest, DigestIsSha256AsSha256sumPrintsIt) {
  EXPECT_EQ(DigestHex(HashToken("abc")), kAbcDigest);
  EXPECT_EQ(Fingerprint(HashToken("abc")), "sha256:ba7816bf");
  EXPECT_EQ(DigestHex(HashToken("")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(TokenHashTest, ParsesExactly64HexDigitsInEitherCase) {
  std::string upper = kAbcDigest;
  for (char& c : upper) c = static_cast<char>(std::toupper(c));
  ASSERT_TRUE(ParseDigestHex(upper).has_value());
  EXPECT_TRUE(DigestsEqual(*ParseDigestHex(upper), HashToken("abc")));
  EXPECT_FALSE(ParseDigestHex(std::string(kAbcDigest).substr(0, 63)).has_value());
  EXPECT_FALSE(ParseDigestHex(std::string(kAbcDigest) + "0").has_value());
  std::string bad = kAbcDigest;
  bad[10] = 'g';
  EXPECT_FALSE(ParseDigestHex(bad).has_value());
}

TEST(TokenHashTest, DigestsEqualComparesEveryByte) {
  const TokenDigest a = HashToken("abc");
  TokenDigest first = a, last = a;
  first[0] ^= 1;
  last[31] ^= 0x80;
  EXPECT_TRUE(DigestsEqual(a, HashToken("abc")));
  EXPECT_FALSE(DigestsEqual(a, first));
  EXPECT_FALSE(DigestsEqual(a, last));
}

// ---- the tokens file ---------------------------------------------------------------------------

constexpr char kAdminToken[] = "admin-token-0123456789abcdef";
constexpr char kSearchToken[] = "search-token-fedcba9876543210";

std::string Hashed(const std::string& token) { return "sha256:" + DigestHex(HashToken(token)); }

TEST(TokenStoreTest, ParsesBothFormsAndFindsEachToken) {
  const std::string text =
      "# vecmirror tokens\n"
      "\n"
      "   # an indented comment\n" +
      std::string(kAdminToken) + " admin * ops\n" +
      Hashed(kSearchToken) + "\tsearch\t" + kTenantB.ToString() + "," + kTenantA.ToString() +
      "," + kTenantB.ToString() + "\r\n";
  TokenStore store;
  const Status s = TokenStore::Parse(text, "tokens.txt", &store);
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(store.grants().size(), 2u);
  EXPECT_EQ(store.plaintext_count(), 1u);

  const TokenGrant* admin = store.Find(kAdminToken);
  ASSERT_NE(admin, nullptr);
  EXPECT_EQ(admin->name, "ops");
  EXPECT_EQ(admin->role, Role::kAdmin);
  EXPECT_TRUE(admin->all_tenants);
  EXPECT_TRUE(admin->plaintext);
  EXPECT_TRUE(admin->Covers(kTenantC));
  EXPECT_TRUE(admin->HasRole(Role::kSearch));
  EXPECT_TRUE(admin->HasRole(Role::kAdmin));

  const TokenGrant* search = store.Find(kSearchToken);
  ASSERT_NE(search, nullptr);
  EXPECT_EQ(search->name, Fingerprint(HashToken(kSearchToken)));  // no name given
  EXPECT_EQ(search->role, Role::kSearch);
  EXPECT_FALSE(search->plaintext);
  EXPECT_EQ(search->tenants, (std::vector<Uuid>{kTenantA, kTenantB}));  // sorted, no repeats
  EXPECT_TRUE(search->Covers(kTenantA));
  EXPECT_TRUE(search->Covers(kTenantB));
  EXPECT_FALSE(search->Covers(kTenantC));
  EXPECT_TRUE(search->HasRole(Role::kSearch));
  EXPECT_FALSE(search->HasRole(Role::kAdmin));

  EXPECT_EQ(store.Find("search-token-fedcba987654321"), nullptr);   // one character short
  EXPECT_EQ(store.Find("search-token-fedcba98765432100"), nullptr); // one character more
  EXPECT_EQ(store.Find(""), nullptr);
  // The file's digest is not itself a token.
  EXPECT_EQ(store.Find(Hashed(kSearchToken)), nullptr);
  EXPECT_EQ(store.Find(DigestHex(HashToken(kSearchToken))), nullptr);
}

TEST(TokenStoreTest, FindsTheMatchWhereverItIsInTheFile) {
  std::string text;
  for (int i = 0; i < 50; ++i) text += "token-number-" + std::to_string(1000 + i) + " search *\n";
  TokenStore store;
  ASSERT_TRUE(TokenStore::Parse(text, "f", &store).ok());
  for (int i : {0, 1, 25, 48, 49}) {
    const TokenGrant* grant = store.Find("token-number-" + std::to_string(1000 + i));
    ASSERT_NE(grant, nullptr) << i;
    EXPECT_EQ(grant, &store.grants()[i]);
  }
}

TEST(TokenStoreTest, ATokenWrittenAsItselfNeedsSixteenPrintableCharacters) {
  TokenStore store;
  ASSERT_TRUE(TokenStore::Parse("0123456789abcdef search *", "f", &store).ok());
  EXPECT_NE(store.Find("0123456789abcdef"), nullptr);
  const Status short_token = TokenStore::Parse("\n0123456789abcde search *", "f", &store);
  EXPECT_EQ(short_token.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(short_token.message().find("f:2: token:"), std::string::npos) << short_token.message();
  EXPECT_NE(short_token.message().find("at least 16"), std::string::npos);
  // Not ASCII (UTF-8 ö), and a control character: neither can travel after "Bearer ".
  EXPECT_FALSE(TokenStore::Parse("t\xc3\xb6ken-0123456789abc search *", "f", &store).ok());
  EXPECT_FALSE(TokenStore::Parse("token\x01-0123456789abc search *", "f", &store).ok());
}

TEST(TokenStoreTest, NamesAreShortAndPlain) {
  TokenStore store;
  const std::string name64(64, 'n');
  ASSERT_TRUE(TokenStore::Parse(std::string(kAdminToken) + " admin * " + name64, "f", &store).ok());
  EXPECT_EQ(store.grants()[0].name, name64);
  EXPECT_TRUE(TokenStore::Parse(std::string(kAdminToken) + " admin * ci.search-1@team:eu", "f",
                                &store).ok());
  EXPECT_FALSE(TokenStore::Parse(std::string(kAdminToken) + " admin * " + name64 + "n", "f",
                                 &store).ok());
  EXPECT_FALSE(TokenStore::Parse(std::string(kAdminToken) + " admin * name$(x)", "f", &store).ok());
}

// A malformed line is reported by origin, line and field, and its text is never repeated:
// the token must not reach a log even when the fields are out of order.
TEST(TokenStoreTest, ErrorsNameTheLineAndNeverTheToken) {
  const std::string secret = "Sup3rSecret-token-value-4242";
  const std::vector<std::pair<std::string, std::string>> lines = {
      {secret + " reader *", "role:"},
      {secret + " search " + kTenantA.ToString() + ",not-a-uuid", "tenants: item 2"},
      {secret + " search " + kTenantA.ToString() + ",", "tenants: item 2"},
      {secret + " search", "expected <token> <role> <tenants> [name], found 2 fields"},
      {secret + " search * name extra", "expected <token> <role> <tenants> [name], found 5 fields"},
      {"search * " + secret, "token:"},  // fields out of order: the token lands in `name`
      {"sha256:" + secret + " search *", "token: sha256:"},
      {secret + " search * bad/name", "name:"},
  };
  for (const auto& [line, field] : lines) {
    TokenStore store;
    const Status s = TokenStore::Parse("# header\n" + line + "\n", "/etc/vecmirror/tokens", &store);
    EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << line;
    EXPECT_NE(s.message().find("/etc/vecmirror/tokens:2: " + field), std::string::npos)
        << s.message();
    EXPECT_EQ(s.message().find(secret), std::string::npos) << s.message();
  }
}

TEST(TokenStoreTest, ATokenOrANameGivenTwiceIsAnError) {
  TokenStore store;
  const Status same_token = TokenStore::Parse(
      std::string(kAdminToken) + " admin * a\n# x\n" + Hashed(kAdminToken) + " search * b\n", "f",
      &store);
  EXPECT_EQ(same_token.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(same_token.message().find("f:3: the same token as line 1"), std::string::npos)
      << same_token.message();
  const Status same_name = TokenStore::Parse(
      std::string(kAdminToken) + " admin * a\n" + kSearchToken + " search * a\n", "f", &store);
  EXPECT_NE(same_name.message().find("f:2: name a is also on line 1"), std::string::npos)
      << same_name.message();
}

TEST(TokenStoreTest, AFileWithoutTokensIsAnErrorAndLeavesTheStoreAlone) {
  TokenStore store;
  ASSERT_TRUE(TokenStore::Parse(std::string(kAdminToken) + " admin *", "f", &store).ok());
  const Status s = TokenStore::Parse("# nothing yet\n\n", "f", &store);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(s.message().find("no tokens"), std::string::npos);
  EXPECT_NE(store.Find(kAdminToken), nullptr);  // the failed parse changed nothing
}

// ---- the listen policy -------------------------------------------------------------------------

TEST(ListenPolicyTest, LoopbackAddresses) {
  for (const char* local : {"127.0.0.1:50051", "127.1.2.3:1", "localhost:50051", "[::1]:50051",
                            "ipv4:127.0.0.1:1", "ipv6:[::1]:1", "unix:/run/vecmirror.sock",
                            "unix-abstract:vecmirror"}) {
    EXPECT_TRUE(IsLoopbackListen(local)) << local;
  }
  for (const char* remote : {"0.0.0.0:50051", "[::]:50051", ":50051", "10.0.0.7:50051",
                             "128.0.0.1:1", "126.255.255.255:1", "db.internal:50051",
                             "[::ffff:127.0.0.1]:1", "[2001:db8::1]:1", "ipv4:0.0.0.0:1"}) {
    EXPECT_FALSE(IsLoopbackListen(remote)) << remote;
  }
}

TEST(ListenPolicyTest, PlaintextBeyondLoopbackNeedsAllowInsecure) {
  std::vector<std::string> warnings;
  ListenSecurity local{"127.0.0.1:50051"};
  EXPECT_TRUE(CheckListenSecurity(local, &warnings).ok());
  EXPECT_TRUE(warnings.empty());  // plaintext without tokens is the loopback default

  ListenSecurity open{"0.0.0.0:50051"};
  const Status refused = CheckListenSecurity(open, &warnings);
  EXPECT_EQ(refused.code(), Status::Code::kFailedPrecondition);
  EXPECT_NE(refused.message().find("--tls-cert"), std::string::npos) << refused.message();
  EXPECT_NE(refused.message().find("--allow-insecure"), std::string::npos);
  EXPECT_TRUE(warnings.empty());

  open.allow_insecure = true;
  EXPECT_TRUE(CheckListenSecurity(open, &warnings).ok());
  ASSERT_EQ(warnings.size(), 2u);  // plaintext, and no authentication
  EXPECT_NE(warnings[0].find("plaintext"), std::string::npos);
  EXPECT_NE(warnings[1].find("anyone"), std::string::npos);

  warnings.clear();
  open.tokens = true;
  EXPECT_TRUE(CheckListenSecurity(open, &warnings).ok());
  EXPECT_EQ(warnings.size(), 1u);
}

TEST(ListenPolicyTest, TlsBeyondLoopbackWarnsOnlyWithoutAnyClientAuthentication) {
  std::vector<std::string> warnings;
  ListenSecurity tls{"0.0.0.0:50051", /*tls=*/true};
  EXPECT_TRUE(CheckListenSecurity(tls, &warnings).ok());
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("no --tokens-file"), std::string::npos);
  for (auto [mtls, tokens] : {std::pair{true, false}, {false, true}, {true, true}}) {
    warnings.clear();
    tls.client_certificates = mtls;
    tls.tokens = tokens;
    EXPECT_TRUE(CheckListenSecurity(tls, &warnings).ok());
    EXPECT_TRUE(warnings.empty()) << warnings.front();
  }
}

TEST(ConninfoTest, FindsAPasswordInEitherForm) {
  for (const char* with : {"postgresql://app:s3cret@db/app", "postgres://app:@db/app",
                           "postgresql://db/app?password=s3cret",
                           "postgresql://app@db/app?sslmode=require&password=x",
                           "host=db password=s3cret", "host=db password = s3cret",
                           "password=s3cret"}) {
    EXPECT_TRUE(ConninfoHasPassword(with)) << with;
  }
  for (const char* without : {"", "postgresql://app@db/app", "postgresql://db:5432/app",
                              "postgresql://app@[::1]:5432/app",
                              "postgresql://db/app?sslmode=require",
                              "postgresql://db/app?passwordx=1", "host=db user=password",
                              "host=db passfile=/etc/pgpass"}) {
    EXPECT_FALSE(ConninfoHasPassword(without)) << without;
  }
}

// ---- files -----------------------------------------------------------------------------------

class LocalFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "vecmirror-file-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Path(const std::string& name) const { return dir_ + "/" + name; }
  std::string Write(const std::string& name, const std::string& text, mode_t mode) {
    const std::string path = Path(name);
    std::ofstream(path, std::ios::binary) << text;
    chmod(path.c_str(), mode);
    return path;
  }
  std::string dir_;
};

TEST_F(LocalFileTest, ReadsUpToTheLimitAndNoMore) {
  LocalFile file;
  const std::string at_limit = Write("at", std::string(kMaxLocalFileBytes, 'x'), 0600);
  ASSERT_TRUE(ReadLocalFile(at_limit, &file).ok());
  EXPECT_EQ(file.text.size(), kMaxLocalFileBytes);
  EXPECT_FALSE(file.readable_by_others);
  const std::string past = Write("past", std::string(kMaxLocalFileBytes + 1, 'x'), 0600);
  const Status s = ReadLocalFile(past, &file);
  EXPECT_EQ(s.code(), Status::Code::kIOError);
  EXPECT_NE(s.message().find(std::to_string(kMaxLocalFileBytes + 1) + " bytes"),
            std::string::npos) << s.message();
}

TEST_F(LocalFileTest, SaysWhoElseMayReadIt) {
  LocalFile file;
  ASSERT_TRUE(ReadLocalFile(Write("group", "x", 0640), &file).ok());
  EXPECT_TRUE(file.readable_by_others);
  ASSERT_TRUE(ReadLocalFile(Write("world", "x", 0604), &file).ok());
  EXPECT_TRUE(file.readable_by_others);
  ASSERT_TRUE(ReadLocalFile(Write("owner", "x", 0600), &file).ok());
  EXPECT_FALSE(file.readable_by_others);
}

TEST_F(LocalFileTest, ADirectoryOrAMissingFileIsAnError) {
  LocalFile file;
  const Status dir = ReadLocalFile(dir_, &file);
  EXPECT_NE(dir.message().find("not a regular file"), std::string::npos) << dir.message();
  const Status missing = ReadLocalFile(Path("missing"), &file);
  EXPECT_NE(missing.message().find("cannot open " + Path("missing")), std::string::npos)
      << missing.message();
}

// ---- TLS credentials ---------------------------------------------------------------------------

// One PKI for the suite: making one takes about half a second.
class TlsCredentialsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { shared_pki_ = new TestPki(); }
  static void TearDownTestSuite() {
    delete shared_pki_;
    shared_pki_ = nullptr;
  }
  void SetUp() override { ASSERT_TRUE(pki_.ok()); }

  Status Build(const TlsFiles& files) {
    warnings_.clear();
    credentials_.reset();
    return BuildServerCredentials(files, &credentials_, &warnings_);
  }
  TlsFiles Server() const { return {pki_.Path("server.pem"), pki_.Path("server.key"), ""}; }

  static TestPki* shared_pki_;
  const TestPki& pki_ = *shared_pki_;
  std::shared_ptr<grpc::ServerCredentials> credentials_;
  std::vector<std::string> warnings_;
};

TestPki* TlsCredentialsTest::shared_pki_ = nullptr;

TEST_F(TlsCredentialsTest, NoFilesMeansPlaintext) {
  ASSERT_TRUE(Build({}).ok());
  EXPECT_NE(credentials_, nullptr);
  EXPECT_TRUE(warnings_.empty());
}

TEST_F(TlsCredentialsTest, AValidPairAndCaBuildWithoutWarnings) {
  ASSERT_TRUE(Build(Server()).ok());
  EXPECT_NE(credentials_, nullptr);
  TlsFiles mtls = Server();
  mtls.client_ca_file = pki_.Path("ca.pem");
  const Status s = Build(mtls);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_NE(credentials_, nullptr);
  EXPECT_TRUE(warnings_.empty());
}

TEST_F(TlsCredentialsTest, EachFlagNeedsItsPartners) {
  const TlsFiles files = Server();
  EXPECT_EQ(Build({files.cert_file, "", ""}).message(), "--tls-cert needs --tls-key");
  EXPECT_EQ(Build({"", files.key_file, ""}).message(), "--tls-key needs --tls-cert");
  EXPECT_EQ(Build({"", "", pki_.Path("ca.pem")}).message(),
            "--tls-client-ca needs --tls-cert and --tls-key");
  EXPECT_EQ(credentials_, nullptr);
}

TEST_F(TlsCredentialsTest, AKeyOfAnotherCertificateIsRefused) {
  TlsFiles files = Server();
  files.key_file = pki_.Path("client.key");
  const Status s = Build(files);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(s.message().find("does not belong to the certificate"), std::string::npos)
      << s.message();
}

TEST_F(TlsCredentialsTest, AnExpiredCertificateIsRefused) {
  const Status s = Build({pki_.Path("expired.pem"), pki_.Path("expired.key"), ""});
  EXPECT_NE(s.message().find("has expired"), std::string::npos) << s.message();
}

TEST_F(TlsCredentialsTest, FilesThatAreNotWhatTheFlagNeedsAreNamed) {
  TlsFiles files = Server();
  files.cert_file = pki_.Path("server.key");
  EXPECT_NE(
      Build(files).message().find("--tls-cert: " + files.cert_file + " holds no PEM certificate"),
      std::string::npos);
  files = Server();
  files.key_file = pki_.Path("server.pem");
  EXPECT_NE(Build(files).message().find("holds no unencrypted PEM private key"), std::string::npos);
  files = Server();
  files.client_ca_file = pki_.Path("server.key");
  EXPECT_NE(Build(files).message().find("--tls-client-ca: "), std::string::npos);
  files = Server();
  files.key_file = pki_.Path("no-such.key");
  EXPECT_NE(Build(files).message().find("--tls-key: cannot open " + files.key_file),
            std::string::npos);
}

// An encrypted key is refused at once, never by a passphrase prompt on the terminal.
TEST_F(TlsCredentialsTest, AnEncryptedKeyIsRefusedWithoutAPrompt) {
  const std::string encrypted = pki_.Path("encrypted.key");
  const std::string command = "openssl pkey -in '" + pki_.Path("server.key") +
                              "' -aes256 -passout pass:secret -out '" + encrypted + "' </dev/null";
  ASSERT_EQ(std::system(command.c_str()), 0);
  TlsFiles files = Server();
  files.key_file = encrypted;
  EXPECT_NE(Build(files).message().find("holds no unencrypted PEM private key"), std::string::npos);
}

TEST_F(TlsCredentialsTest, AKeyOthersMayReadIsAWarning) {
  chmod(pki_.Path("server.key").c_str(), 0644);
  const Status s = Build(Server());
  chmod(pki_.Path("server.key").c_str(), 0600);
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(warnings_.size(), 1u);
  EXPECT_NE(warnings_[0].find("chmod 600"), std::string::npos) << warnings_[0];
}

}  // namespace
}  // namespace vecmirror::auth
