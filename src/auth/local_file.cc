#include "src/auth/local_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace vecmirror::auth {

Status ReadLocalFile(const std::string& path, LocalFile* out) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::IOError("cannot open " + path + ": " + std::strerror(errno));
  struct stat info {};
  Status status;
  if (::fstat(fd, &info) != 0) {
    status = Status::IOError("cannot stat " + path + ": " + std::strerror(errno));
  } else if (!S_ISREG(info.st_mode)) {
    status = Status::IOError(path + " is not a regular file");
  } else if (static_cast<size_t>(info.st_size) > kMaxLocalFileBytes) {
    status = Status::IOError(path + " has " + std::to_string(info.st_size) +
                             " bytes; expected at most " + std::to_string(kMaxLocalFileBytes));
  }
  std::string text;
  while (status.ok()) {
    char buffer[8192];
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) status = Status::IOError("cannot read " + path + ": " + std::strerror(errno));
    if (n <= 0) break;
    text.append(buffer, static_cast<size_t>(n));
    if (text.size() > kMaxLocalFileBytes) {
      status = Status::IOError(path + " grew past " + std::to_string(kMaxLocalFileBytes) +
                               " bytes while it was read");
    }
  }
  ::close(fd);
  if (!status.ok()) return status;
  out->text = std::move(text);
  out->readable_by_others = (info.st_mode & (S_IRGRP | S_IROTH)) != 0;
  return Status::Ok();
}

}  // namespace vecmirror::auth
