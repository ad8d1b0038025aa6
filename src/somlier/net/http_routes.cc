#include "somlier/net/http_routes.h"

namespace somlier {

HttpRoutes& HttpRoutes::Get(const std::string& pattern, Handler handler) {
  Record("GET", pattern);
  httplib::Server::Get(pattern, std::move(handler));
  return *this;
}

HttpRoutes& HttpRoutes::Post(const std::string& pattern, Handler handler) {
  Record("POST", pattern);
  httplib::Server::Post(pattern, std::move(handler));
  return *this;
}

HttpRoutes& HttpRoutes::Post(const std::string& pattern, HandlerWithContentReader handler) {
  Record("POST", pattern);
  httplib::Server::Post(pattern, std::move(handler));
  return *this;
}

HttpRoutes& HttpRoutes::Put(const std::string& pattern, Handler handler) {
  Record("PUT", pattern);
  httplib::Server::Put(pattern, std::move(handler));
  return *this;
}

HttpRoutes& HttpRoutes::Put(const std::string& pattern, HandlerWithContentReader handler) {
  Record("PUT", pattern);
  httplib::Server::Put(pattern, std::move(handler));
  return *this;
}

HttpRoutes& HttpRoutes::Patch(const std::string& pattern, Handler handler) {
  Record("PATCH", pattern);
  httplib::Server::Patch(pattern, std::move(handler));
  return *this;
}

HttpRoutes& HttpRoutes::Delete(const std::string& pattern, Handler handler) {
  Record("DELETE", pattern);
  httplib::Server::Delete(pattern, std::move(handler));
  return *this;
}

void HttpRoutes::NoteRoute(std::string method, std::string path) {
  routes_.push_back({std::move(method), path, path});
}

void HttpRoutes::Record(std::string method, const std::string& pattern) {
  routes_.push_back({std::move(method), ExamplePath(pattern), pattern});
}

std::string ExamplePath(std::string_view pattern) {
  std::string out;
  for (size_t i = 0; i < pattern.size();) {
    const std::string_view rest = pattern.substr(i);
    if (rest.starts_with("(?:")) {  // an optional group: left out, with its '?'
      int depth = 0;
      size_t j = i;
      for (; j < pattern.size(); ++j) {
        if (pattern[j] == '\\') {
          ++j;
        } else if (pattern[j] == '(') {
          ++depth;
        } else if (pattern[j] == ')' && --depth == 0) {
          break;
        }
      }
      if (j + 1 < pattern.size() && pattern[j + 1] == '?') {
        i = j + 2;
        continue;
      }
      return std::string(pattern);
    }
    if (rest.starts_with("([^/]+)")) {
      out += "x";
      i += 7;
    } else if (rest.starts_with("(.+)")) {
      out += "0/x";
      i += 4;
    } else if (rest.starts_with("\\.")) {
      out += '.';
      i += 2;
    } else if (std::string_view("()[]*+?|\\^$").find(pattern[i]) != std::string_view::npos) {
      return std::string(pattern);
    } else {
      out += pattern[i++];
    }
  }
  return out;
}

}  // namespace somlier
