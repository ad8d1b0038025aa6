// ListenSocket: the socket-level set-up of SoMLier's HTTP servers — opening a non-blocking
// listening socket on an address, naming socket addresses, raising the process's
// descriptor limit, and recognising loopback names. Pure functions over the OS; thread-safe.
#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <string>

#include "somlier/core/result.h"

namespace somlier {

struct ListenSocket {
  int fd = -1;
  int port = 0;  // the bound port (useful when 0 was asked for)
};

// A non-blocking, close-on-exec socket listening on `host` (an IP address, or localhost)
// and `port` (0: any free port), with a backlog of 1024. Errors: InvalidArgument for a port
// out of range or a host that is not an address; Unavailable when it cannot be bound.
Result<ListenSocket> OpenListenSocket(const std::string& host, int port);

// The address and port of `address` as text ("127.0.0.1", "::1").
void AddressOf(const sockaddr_storage& address, std::string& ip, int& port);

// Raises RLIMIT_NOFILE's soft limit to its hard limit (at most 2^20); returns how many
// descriptors connections may use, some being kept free for files, workers and logs.
size_t RaiseFileLimit();

// Whether `host` names this machine's loopback interface (127.0.0.0/8, ::1, localhost).
bool IsLoopbackHost(const std::string& host);

}  // namespace somlier
