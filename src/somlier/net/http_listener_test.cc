#include "somlier/net/http_listener.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "somlier/net/browser_guard.h"
#include "somlier/net/http_routes.h"

namespace somlier {
namespace {

using std::chrono::milliseconds;

// A raw client socket to the listener, for what an HTTP library would not send.
class RawClient {
 public:
  explicit RawClient(int port, const char* source = "127.0.0.1") {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in from{};
    from.sin_family = AF_INET;
    inet_pton(AF_INET, source, &from.sin_addr);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&from), sizeof from);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&to), sizeof to) == 0;
  }
  ~RawClient() { ::close(fd_); }
  bool connected() const { return connected_; }
  void Send(std::string_view bytes) {
    ASSERT_EQ(::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(bytes.size()));
  }
  // Everything until the peer closes or `timeout` passes without a byte.
  std::string ReadAll(milliseconds timeout = milliseconds(3000)) {
    std::string out;
    char buffer[65536];
    while (true) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) break;
      const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
      if (n <= 0) break;
      out.append(buffer, static_cast<size_t>(n));
    }
    return out;
  }
  // Reads until `count` answers (by "HTTP/1.1 " status lines) have arrived.
  std::string ReadAnswers(size_t count, milliseconds timeout = milliseconds(3000)) {
    std::string out;
    char buffer[65536];
    auto seen = [&out] {
      size_t n = 0;
      for (size_t pos = out.find("HTTP/1.1 "); pos != std::string::npos;
           pos = out.find("HTTP/1.1 ", pos + 1)) {
        if (out.compare(pos, 12, "HTTP/1.1 100") != 0) ++n;
      }
      return n;
    };
    while (seen() < count || out.find("\r\n\r\n", out.rfind("HTTP/1.1 ")) == std::string::npos) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) break;
      const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
      if (n <= 0) break;
      out.append(buffer, static_cast<size_t>(n));
    }
    // Let a body that follows the last head arrive.
    std::this_thread::sleep_for(milliseconds(50));
    while (true) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 0) <= 0) break;
      const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
      if (n <= 0) break;
      out.append(buffer, static_cast<size_t>(n));
    }
    return out;
  }
  // Reads until `needle` has arrived (or the peer closes, or `timeout` passes).
  std::string ReadUntil(std::string_view needle, milliseconds timeout = milliseconds(3000)) {
    std::string out;
    char buffer[4096];
    while (out.find(needle) == std::string::npos) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) break;
      const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
      if (n <= 0) break;
      out.append(buffer, static_cast<size_t>(n));
    }
    return out;
  }
  void HalfClose() { ::shutdown(fd_, SHUT_WR); }
  // Whether the server closed the connection within `timeout`.
  bool ClosedWithin(milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    char buffer[4096];
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) > 0) {
        const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
        if (n <= 0) return true;
      }
    }
    return false;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

class HttpListenerTest : public ::testing::Test {
 protected:
  void Start(HttpListenerOptions options = {}) {
    routes_.Post("/echo", [](const httplib::Request& request, httplib::Response& response) {
      response.set_content(request.body, "text/plain");
    });
    routes_.Get("/hello", [](const httplib::Request& request, httplib::Response& response) {
      response.set_content("hello from " + request.remote_addr, "text/plain");
    });
    routes_.Put("/upload", [this](const httplib::Request&, httplib::Response& response,
                                  const httplib::ContentReader& read) {
      std::string got;
      read([&](const char* data, size_t size) {
        got.append(data, size);
        return true;
      });
      uploaded_ = got.size();
      response.set_content(std::to_string(got.size()), "text/plain");
    });
    if (!options.body_policy) {
      options.body_policy = [](std::string_view method, std::string_view) {
        return BodyPolicy{method == "PUT" ? size_t{64} << 20 : size_t{1000}, method == "PUT"};
      };
    }
    listener_ = std::make_unique<HttpListener>(routes_, std::move(options));
    ASSERT_TRUE(listener_->Bind("127.0.0.1", 0).ok());
    ASSERT_TRUE(listener_->Start().ok());
  }
  void TearDown() override {
    if (listener_) listener_->Stop();
  }
  int port() const { return listener_->port(); }

  HttpRoutes routes_;
  std::unique_ptr<HttpListener> listener_;
  size_t uploaded_ = 0;
};

TEST_F(HttpListenerTest, KeepAliveAndPipelinedRequestsAreAnsweredInOrder) {
  Start();
  RawClient c(port());
  c.Send(
      "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nfirst"
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n\r\nsecond");
  const std::string answers = c.ReadAnswers(3);
  const size_t hello = answers.find("hello from 127.0.0.1");
  const size_t first = answers.find("first");
  const size_t second = answers.find("second");
  ASSERT_NE(hello, std::string::npos) << answers;
  ASSERT_NE(first, std::string::npos) << answers;
  ASSERT_NE(second, std::string::npos) << answers;
  EXPECT_LT(hello, first);
  EXPECT_LT(first, second);
}

TEST_F(HttpListenerTest, ChunkedBodiesAreDecodedInAnySpellingAndSplitAnywhere) {
  Start();
  RawClient c(port());
  const std::string request =
      "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: ChUnKeD\r\n\r\n"
      "5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nTrailer: t\r\n\r\n";
  for (char ch : request) {  // one byte at a time: every boundary falls inside a read
    c.Send(std::string(1, ch));
  }
  const std::string answer = c.ReadAnswers(1);
  EXPECT_NE(answer.find("200 OK"), std::string::npos) << answer;
  EXPECT_NE(answer.find("hello, world"), std::string::npos) << answer;
}

TEST_F(HttpListenerTest, OversizedBodiesGetA413TheClientCanRead) {
  Start();
  {
    RawClient c(port());
    c.Send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n" +
           std::string(5000, 'x'));
    const std::string answer = c.ReadAll();
    EXPECT_NE(answer.find("413"), std::string::npos) << answer;
    EXPECT_NE(answer.find("limited to 1000 bytes; this one has 5000"), std::string::npos);
  }
  {
    RawClient c(port());
    c.Send("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (int i = 0; i < 3; ++i) c.Send("1f4\r\n" + std::string(500, 'y') + "\r\n");
    const std::string answer = c.ReadAll();
    EXPECT_NE(answer.find("413"), std::string::npos) << answer;
  }
}

TEST_F(HttpListenerTest, MalformedFramingIsRefused) {
  Start();
  const std::pair<std::string, std::string> cases[] = {
      {"POST /echo HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", "400"},
      {"POST /echo HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", "400"},
      {"POST /echo HTTP/1.1\r\nContent-Length: -1\r\n\r\n", "400"},
      {"POST /echo HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", "501"},
      {"POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "400"},
      {"GET /hello HTTP/2.0\r\n\r\n", "400"},
      {"GET  /hello HTTP/1.1\r\n\r\n", "400"},
      {"GET /hello HTTP/1.1\r\n folded: header\r\n\r\n", "400"},
      {"GET /hello HTTP/1.1\r\nExpect: something\r\n\r\n", "417"},
      {"GET /hello HTTP/1.1\r\nX: " + std::string(70000, 'a') + "\r\n\r\n", "431"},
  };
  for (const auto& [request, status] : cases) {
    RawClient c(port());
    c.Send(request);
    const std::string answer = c.ReadAll(milliseconds(2000));
    EXPECT_EQ(answer.substr(0, 12), "HTTP/1.1 " + status) << request.substr(0, 80);
  }
}

TEST_F(HttpListenerTest, ExpectContinueIsAnsweredOnceTheBodyIsAccepted) {
  Start();
  RawClient c(port());
  c.Send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
  const std::string interim = c.ReadAll(milliseconds(500));
  EXPECT_EQ(interim, "HTTP/1.1 100 Continue\r\n\r\n");
  c.Send("data");
  EXPECT_NE(c.ReadAnswers(1).find("data"), std::string::npos);
}

TEST_F(HttpListenerTest, StreamedUploadsReachTheHandlerAndLargeBodiesSpool) {
  HttpListenerOptions options;
  options.memory_body_bytes = 100;  // the 900-byte POST goes through a spool file
  Start(options);
  RawClient c(port());
  const std::string big(900, 'z');
  c.Send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 900\r\n\r\n" + big);
  EXPECT_NE(c.ReadAnswers(1).find(big), std::string::npos);
  const std::string upload(3 << 20, 'u');
  c.Send("PUT /upload HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(upload.size()) +
         "\r\n\r\n" + upload);
  EXPECT_NE(c.ReadAnswers(1).find(std::to_string(upload.size())), std::string::npos);
  EXPECT_EQ(uploaded_, upload.size());
}

TEST_F(HttpListenerTest, SlowHeadsAndIdleConnectionsAreClosed) {
  HttpListenerOptions options;
  options.head_timeout = milliseconds(600);
  options.idle_timeout = milliseconds(600);
  Start(options);
  RawClient slow(port());
  RawClient idle(port());
  idle.Send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_NE(idle.ReadAnswers(1).find("hello"), std::string::npos);
  // One byte every 100 ms: each read is recent, but the head as a whole is late.
  const std::string head = "GET /hello HTTP/1.1\r\nHost: x\r\nX-Pad: aaaaaaaaaaaaaaaaaaaa\r\n\r\n";
  bool closed = false;
  for (size_t i = 0; i < 30 && !closed; ++i) {
    slow.Send(head.substr(i, 1));
    closed = slow.ClosedWithin(milliseconds(100));
  }
  EXPECT_TRUE(closed);
  EXPECT_TRUE(idle.ClosedWithin(milliseconds(2000)));
}

TEST_F(HttpListenerTest, AtTheConnectionCapIdleConnectionsMakeRoom) {
  HttpListenerOptions options;
  options.max_connections = 4;
  options.max_connections_per_address = 2;
  Start(options);
  // Two from 127.0.0.2 are all that address may have; a third is closed at once.
  RawClient a1(port(), "127.0.0.2"), a2(port(), "127.0.0.2"), a3(port(), "127.0.0.2");
  EXPECT_TRUE(a3.ClosedWithin(milliseconds(1000)));
  RawClient b1(port(), "127.0.0.3"), b2(port(), "127.0.0.3");
  std::this_thread::sleep_for(milliseconds(100));
  // The cap is reached; a new client still gets in, in place of the longest-idle one.
  RawClient fresh(port());
  fresh.Send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_NE(fresh.ReadAnswers(1).find("hello"), std::string::npos);
  EXPECT_TRUE(a1.ClosedWithin(milliseconds(1000)));
}

TEST_F(HttpListenerTest, ClientsThatLeaveRightAfterTheirAnswerNeverUpsetTheServer) {
  HttpListenerOptions options;
  options.threads = 4;
  Start(options);
  // Workers give keep-alive connections back to the epoll set while their clients close
  // them and new ones take their descriptors: every client must still be answered, and
  // nothing may be used after close (an event of a closed connection finds nothing).
  std::vector<std::thread> clients;
  std::atomic<int> answered{0};
  for (int t = 0; t < 6; ++t) {
    clients.emplace_back([&] {
      for (int i = 0; i < 150; ++i) {
        RawClient c(port());
        c.Send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nok");
        if (c.ReadUntil("\r\n\r\nok").ends_with("\r\n\r\nok")) ++answered;
        if (i % 2 == 0) {  // sometimes a second request on the same connection first
          c.Send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
          c.ReadUntil("127.0.0.1");
        }
      }
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(answered.load(), 6 * 150);
  RawClient last(port());
  last.Send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_NE(last.ReadAnswers(1).find("hello"), std::string::npos);
}

TEST_F(HttpListenerTest, AClientThatHalfClosesAfterItsRequestIsStillAnswered) {
  Start();
  RawClient c(port());
  c.Send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nbye!");
  c.HalfClose();
  const std::string answer = c.ReadAll();
  EXPECT_NE(answer.find("\r\n\r\nbye!"), std::string::npos) << answer;
}

TEST_F(HttpListenerTest, WhileEveryWorkerIsBusyTimeoutsStillHoldAndConnectionsQueue) {
  std::atomic<bool> release{false};
  routes_.Get("/busy", [&](const httplib::Request&, httplib::Response& response) {
    for (int i = 0; i < 300 && !release.load(); ++i) std::this_thread::sleep_for(milliseconds(10));
    response.set_content("was busy", "text/plain");
  });
  HttpListenerOptions options;
  options.threads = 1;
  options.idle_timeout = milliseconds(300);
  Start(options);
  RawClient busy(port());
  busy.Send("GET /busy HTTP/1.1\r\nHost: x\r\n\r\n");
  std::this_thread::sleep_for(milliseconds(100));  // the only worker now runs /busy
  // The timeouts are not the workers' job: a connection that sends nothing is cut off
  // meanwhile (one that sends a slow head is too, once a worker has seen its first byte).
  RawClient silent(port());
  EXPECT_TRUE(silent.ClosedWithin(milliseconds(1500)));
  // A new client is accepted and answered as soon as the worker is free.
  RawClient next(port());
  next.Send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
  release.store(true);
  EXPECT_NE(busy.ReadAnswers(1).find("was busy"), std::string::npos);
  EXPECT_NE(next.ReadAnswers(1).find("hello from 127.0.0.1"), std::string::npos);
}

TEST_F(HttpListenerTest, OneClientsPipelinedRequestsDoNotHoldAWorkerFromOthers) {
  std::mutex mutex;
  std::vector<std::string> order;  // who was served, in order
  std::atomic<bool> first_started{false};
  routes_.Get("/work", [&](const httplib::Request& request, httplib::Response& response) {
    {
      std::lock_guard lock(mutex);
      order.push_back(request.get_param_value("who"));
    }
    first_started = true;
    std::this_thread::sleep_for(milliseconds(5));
    response.set_content("done", "text/plain");
  });
  HttpListenerOptions options;
  options.threads = 1;
  Start(options);
  RawClient greedy(port()), other(port());
  std::string burst;
  for (int i = 0; i < 100; ++i) burst += "GET /work?who=greedy HTTP/1.1\r\nHost: x\r\n\r\n";
  greedy.Send(burst);
  for (int i = 0; i < 200 && !first_started; ++i) std::this_thread::sleep_for(milliseconds(5));
  other.Send("GET /work?who=other HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_NE(other.ReadAnswers(1).find("done"), std::string::npos);
  const std::string answers = greedy.ReadAnswers(100, milliseconds(5000));
  std::lock_guard lock(mutex);
  ASSERT_EQ(order.size(), 101u);
  const auto at = std::find(order.begin(), order.end(), "other") - order.begin();
  // The one worker yields after a turn's worth of pipelined requests (16), so the other
  // client's request runs long before the greedy burst is over.
  EXPECT_LT(at, 40) << "the other client waited for " << at << " pipelined requests";
}

TEST_F(HttpListenerTest, RequestsOnDifferentConnectionsRunInParallel) {
  std::atomic<int> inside{0}, most{0};
  routes_.Get("/wait", [&](const httplib::Request&, httplib::Response& response) {
    const int now = ++inside;
    for (int seen = most.load(); now > seen && !most.compare_exchange_weak(seen, now);) {
    }
    std::this_thread::sleep_for(milliseconds(200));
    --inside;
    response.set_content("ok", "text/plain");
  });
  HttpListenerOptions options;
  options.threads = 4;
  Start(options);
  std::vector<std::unique_ptr<RawClient>> clients;
  for (int i = 0; i < 4; ++i) {
    clients.push_back(std::make_unique<RawClient>(port()));
    clients.back()->Send("GET /wait HTTP/1.1\r\nHost: x\r\n\r\n");
  }
  for (auto& c : clients) EXPECT_NE(c->ReadAnswers(1).find("200 OK"), std::string::npos);
  EXPECT_EQ(most.load(), 4);
}

TEST_F(HttpListenerTest, StopAnswersTheRequestInFlight) {
  routes_.Get("/slow", [](const httplib::Request&, httplib::Response& response) {
    std::this_thread::sleep_for(milliseconds(300));
    response.set_content("done", "text/plain");
  });
  Start();
  RawClient c(port());
  c.Send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
  std::this_thread::sleep_for(milliseconds(100));
  listener_->Stop();
  const std::string answer = c.ReadAll();
  EXPECT_NE(answer.find("done"), std::string::npos) << answer;
  EXPECT_TRUE(c.ClosedWithin(milliseconds(1000)));
}

// ---- BrowserGuard ----

httplib::Request MakeRequest(std::string method, httplib::Headers headers) {
  httplib::Request r;
  r.method = std::move(method);
  r.headers = std::move(headers);
  return r;
}

TEST(BrowserGuardTest, SplitsHostsAndPorts) {
  EXPECT_EQ(SplitHostPort("LocalHost:5000"),
            std::make_pair(std::string("localhost"), std::string("5000")));
  EXPECT_EQ(SplitHostPort("[::1]:80"), std::make_pair(std::string("::1"), std::string("80")));
  EXPECT_EQ(SplitHostPort("example.com"),
            std::make_pair(std::string("example.com"), std::string()));
  EXPECT_EQ(SplitHostPort("a:b").first, "");
  EXPECT_EQ(SplitHostPort("[::1").first, "");
}

TEST(BrowserGuardTest, TheRulesOfHostOriginAndContentType) {
  const BrowserGuardOptions open{false, {"ml.internal", "[fe80::1]:5000"}};
  const BrowserGuardOptions token{true, {}};
  auto check = [](const BrowserGuardOptions& o, std::string method, httplib::Headers h,
                  bool raw = false) {
    auto refusal = CheckBrowserRequest(MakeRequest(std::move(method), std::move(h)), o, raw);
    return refusal ? refusal->http_status : 0;
  };
  const httplib::Headers json = {{"Content-Type", "application/json; charset=utf-8"}};
  auto with = [&json](httplib::Headers extra) {
    extra.insert(json.begin(), json.end());
    return extra;
  };
  EXPECT_EQ(check(open, "POST", with({{"Host", "127.0.0.1:5000"}})), 0);
  EXPECT_EQ(check(open, "POST", with({{"Host", "127.9.9.9"}})), 0);
  EXPECT_EQ(check(open, "POST", with({{"Host", "ML.internal:1234"}})), 0);
  EXPECT_EQ(check(open, "POST", with({{"Host", "evil.example"}})), 403);
  EXPECT_EQ(check(open, "POST", with({{"Host", "[fe80::1]:5000"}})), 0);
  EXPECT_EQ(check(open, "POST", with({{"Host", "[fe80::1]:5001"}})), 403);
  EXPECT_EQ(check(open, "GET", {{"Host", "evil.example"}}), 403);
  EXPECT_EQ(check(open, "POST", with({})), 403);  // no Host at all
  // Origins: the server's own, or an allowed host; never another page.
  EXPECT_EQ(
      check(open, "POST", with({{"Host", "localhost:5000"}, {"Origin", "http://localhost:5000"}})),
      0);
  EXPECT_EQ(
      check(open, "POST", with({{"Host", "localhost:5000"}, {"Origin", "http://localhost:3000"}})),
      403);
  EXPECT_EQ(
      check(open, "POST", with({{"Host", "localhost:5000"}, {"Origin", "https://ml.internal"}})),
      0);
  EXPECT_EQ(check(open, "POST", with({{"Host", "localhost:5000"}, {"Origin", "null"}})), 403);
  // Content types that HTML forms and simple cross-site requests can send.
  for (const char* type :
       {"text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", ""}) {
    EXPECT_EQ(check(open, "POST", {{"Host", "localhost"}, {"Content-Type", type}}), 415) << type;
  }
  EXPECT_EQ(check(open, "PUT", {{"Host", "localhost"}, {"Content-Length", "3"}}, true), 0);
  EXPECT_EQ(check(open, "DELETE", {{"Host", "localhost"}}), 0);
  EXPECT_EQ(check(open, "DELETE", {{"Host", "localhost"}, {"Content-Length", "2"}}), 415);
  // With a token, clients without Origin may use any name; pages may not.
  EXPECT_EQ(check(token, "POST", with({{"Host", "somlier.somlier.svc:5000"}})), 0);
  EXPECT_EQ(
      check(token, "POST", with({{"Host", "evil.example"}, {"Origin", "http://evil.example"}})),
      403);
}

}  // namespace
}  // namespace somlier
