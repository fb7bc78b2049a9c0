// Opening the files the kernels read and write. A path may name a FIFO, a
// device or a socket: open() of a FIFO blocks a pool thread until a writer
// comes (the process could not even exit), and /dev/zero reads as a file of
// any length. Only regular files are taken.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "guard.h"

namespace jobbert {

// Opens `path` with `flags` (O_RDONLY or O_WRONLY) into *fd, refusing anything
// but a regular file; `purpose` words the error (" for reading"). On failure
// *fd is -1 and nothing stays open.
inline Status openRegular(const std::string& path, int flags, const char* purpose, int* fd) {
  *fd = ::open(path.c_str(), flags | O_NONBLOCK | O_CLOEXEC);  // never waits on a FIFO
  if (*fd < 0) return Status::Io(sysError("cannot open", path, errno, purpose));
  auto fail = [&](Status s) {
    ::close(*fd);
    *fd = -1;
    return s;
  };
  struct stat st;
  if (::fstat(*fd, &st) != 0) return fail(Status::Io(sysError("cannot stat", path, errno)));
  if (!S_ISREG(st.st_mode))
    return fail(Status::Io("'" + path + "' is not a regular file (" +
                           (S_ISDIR(st.st_mode)    ? "a directory"
                            : S_ISFIFO(st.st_mode) ? "a FIFO"
                                                   : "a device or socket") +
                           ")"));
  if (::fcntl(*fd, F_SETFL, flags) != 0) return fail(Status::Io(sysError("cannot open", path, errno, purpose)));
  return Status::Ok();
}

}  // namespace jobbert
