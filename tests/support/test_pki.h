// TestPki: a throwaway CA with server and client certificates, made at test time by
// tests/support/make-test-certs.sh (its header lists the files) in a fresh temporary
// directory, which the destructor removes. The script's path comes from the compile
// definition VECMIRROR_MAKE_TEST_CERTS.
//
// Thread-safety: one test thread.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace vecmirror::testing {

class TestPki {
 public:
  TestPki() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "vecmirror-pki-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) {
      ADD_FAILURE() << "mkdtemp failed";
      return;
    }
    dir_ = pattern;
    const std::string command =
        std::string("bash '") + VECMIRROR_MAKE_TEST_CERTS + "' '" + dir_ + "'";
    ok_ = std::system(command.c_str()) == 0;
    if (!ok_) ADD_FAILURE() << "failed: " << command;
  }
  ~TestPki() {
    std::error_code ignored;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ignored);
  }
  TestPki(const TestPki&) = delete;
  TestPki& operator=(const TestPki&) = delete;

  bool ok() const { return ok_; }
  const std::string& dir() const { return dir_; }
  // The path of one of the script's files, e.g. "server.pem".
  std::string Path(const std::string& name) const { return dir_ + "/" + name; }
  // The text of one of the script's files.
  std::string Read(const std::string& name) const {
    std::ifstream in(Path(name));
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

 private:
  std::string dir_;
  bool ok_ = false;
};

}  // namespace vecmirror::testing
