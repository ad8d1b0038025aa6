#include "somlier/net/http_listener.h"

#include <arpa/inet.h>
#include <fmt/core.h>
#include <sys/socket.h>

#include <httplib.h>

#include "somlier/core/log.h"

namespace somlier {

HttpListener::HttpListener(httplib::Server& server, int threads) : server_(server) {
  const auto count = static_cast<size_t>(std::max(threads, 1));
  server.new_task_queue = [count] { return new httplib::ThreadPool(count); };
  server.set_tcp_nodelay(true);
  server.set_keep_alive_max_count(100000);
  server.set_keep_alive_timeout(5);  // also bounds how long a stop waits for idle connections
  server.set_read_timeout(60, 0);
  server.set_write_timeout(60, 0);
  server.set_socket_options([this](int fd) {
    int yes = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    listen_fd_ = fd;
  });
}

Status HttpListener::Bind(const std::string& host, int port) {
  if (port < 0 || port > 65535) {
    return InvalidArgument(fmt::format("port {} is not between 0 and 65535", port));
  }
  host_ = host;
  if (port == 0) {
    port_ = server_.bind_to_any_port(host);
    if (port_ <= 0) return Unavailable(fmt::format("cannot listen on {}: no free port", host));
  } else {
    if (!server_.bind_to_port(host, port)) {
      return Unavailable(fmt::format("cannot listen on {}:{} (in use, or not an address here)",
                                     host, port));
    }
    port_ = port;
  }
  if (listen_fd_ >= 0) ::listen(listen_fd_, 1024);
  return OkStatus();
}

std::thread HttpListener::ServeInBackground() {
  std::thread thread([this] {
    if (!server_.listen_after_bind()) LogError("the HTTP server on {} stopped with an error", url());
  });
  for (int i = 0; i < 2000 && !server_.is_running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return thread;
}

std::string HttpListener::url() const {
  const bool v6 = host_.find(':') != std::string::npos;
  return fmt::format("http://{}{}{}:{}", v6 ? "[" : "", host_, v6 ? "]" : "", port_);
}

bool IsLoopbackHost(const std::string& host) {
  if (host == "localhost" || host == "::1" || host == "[::1]") return true;
  in_addr address{};
  if (inet_pton(AF_INET, host.c_str(), &address) == 1) {
    return (ntohl(address.s_addr) >> 24) == 127;
  }
  return false;
}

}  // namespace somlier
