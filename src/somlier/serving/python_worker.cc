#include "somlier/serving/python_worker.h"

#include <fmt/core.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <nlohmann/json.hpp>
#include <thread>

#include "somlier/core/json_parse.h"

namespace somlier::serving {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

// Reads exactly `size` bytes; false on EOF, error, or when `deadline` passes.
bool ReadExactly(int fd, char* data, size_t size, Clock::time_point deadline,
                 const std::function<bool()>& cancelled) {
  while (size > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0 || (cancelled && cancelled())) return false;
    pollfd p{fd, POLLIN, 0};
    int r = poll(&p, 1, static_cast<int>(std::min<int64_t>(left.count(), 1000)));
    if (r < 0 && errno != EINTR) return false;
    if (r <= 0) continue;
    ssize_t n = read(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

// The largest frame a worker may send (a batch's predictions); beyond it, the stream is
// garbage (e.g. a library printed to the protocol's fd before the worker took it over).
constexpr uint32_t kMaxFrame = 1u << 30;

bool ReadFrame(int fd, std::string& frame, Clock::time_point deadline,
               const std::function<bool()>& cancelled = nullptr) {
  uint32_t size = 0;
  if (!ReadExactly(fd, reinterpret_cast<char*>(&size), sizeof size, deadline, cancelled)) {
    return false;
  }
  if (size > kMaxFrame) return false;
  frame.resize(size);
  return size == 0 || ReadExactly(fd, frame.data(), size, deadline, cancelled);
}

bool WriteAll(int fd, iovec* vec, int count) {
  while (count > 0) {
    ssize_t n = writev(fd, vec, count);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    auto left = static_cast<size_t>(n);
    while (count > 0 && left >= vec->iov_len) {
      left -= vec->iov_len;
      ++vec;
      --count;
    }
    if (count > 0) {
      vec->iov_base = static_cast<char*>(vec->iov_base) + left;
      vec->iov_len -= left;
    }
  }
  return true;
}

}  // namespace

Result<std::unique_ptr<PythonWorker>> PythonWorker::Start(const WorkerOptions& options) {
  SpawnOptions spawn;
  spawn.argv = {options.python, "-u", "-m", "somlier._worker", options.model_dir};
  spawn.env = options.env;
  spawn.pipe_stdin = true;
  spawn.capture_stdout = true;
  spawn.capture_stderr = false;  // the model's own output goes to the server's log
  SOMLIER_ASSIGN_OR_RETURN(auto process, Subprocess::Spawn(spawn));
  const int in = process->TakeStdin();
  const int out = process->TakeStdout();
  auto worker = std::unique_ptr<PythonWorker>(new PythonWorker(std::move(process), in, out));
  std::string frame;
  if (!ReadFrame(out, frame, Clock::now() + options.load_timeout, options.cancelled)) {
    if (options.cancelled && options.cancelled()) {
      return Unavailable("stopped while the model was loading");
    }
    return worker->Died(fmt::format("loading the model at {}", options.model_dir));
  }
  json hello = ParseJsonOrNull(frame);
  if (!hello.is_object() || !hello.contains("ok") || !hello["ok"].is_boolean()) {
    return worker->Died("starting (it answered garbage)");
  }
  auto text = [&hello](const char* key) {
    auto it = hello.find(key);
    return it != hello.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  if (!hello["ok"].get<bool>()) {
    return FailedPrecondition(
        fmt::format("the model at {} cannot be loaded: {}", options.model_dir, text("error")));
  }
  worker->info_.flavor = text("flavor");
  if (auto n = hello.find("n_features"); n != hello.end() && n->is_number_integer()) {
    worker->info_.schema.n_features = n->get<int64_t>();
  }
  if (auto names = hello.find("feature_names"); names != hello.end() && names->is_array()) {
    for (const json& name : *names) {
      if (name.is_string()) worker->info_.schema.feature_names.push_back(name.get<std::string>());
    }
  }
  if (auto inputs = hello.find("signature"); inputs != hello.end()) {
    auto signature = ParseSignature(*inputs);
    if (!signature.ok()) {
      return FailedPrecondition(fmt::format("the model at {} cannot be served: its MLmodel {}",
                                            options.model_dir, signature.status().message()));
    }
    worker->info_.schema.signature = std::move(*signature);
  }
  return worker;
}

PythonWorker::~PythonWorker() {
  if (in_ >= 0) close(in_);  // end of input: the worker returns
  for (int i = 0; i < 40 && !process_->HasExited(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  // The worker itself if it hangs, and what it started (its group outlives a reaped leader;
  // the group id cannot be reused while the group has members).
  kill(-process_->pid(), SIGKILL);
  process_->Signal(SIGKILL);
  (void)process_->Wait();
  if (out_ >= 0) close(out_);
}

Status PythonWorker::Died(const std::string& doing) {
  std::string how = "stopped answering";
  for (int i = 0; i < 10 && !process_->HasExited(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (process_->HasExited()) {
    kill(-process_->pid(), SIGKILL);  // what it started, before reaping it frees the pid
    auto code = process_->TryWait();
    int c = code.value_or(-1);
    how = c > 128 ? fmt::format("was killed by signal {} ({})", c - 128, strsignal(c - 128))
                  : fmt::format("exited with code {}", c);
  }
  return Unavailable(
      fmt::format("the model worker (pid {}) {} while {}", process_->pid(), how, doing));
}

Result<BatchOutput> PythonWorker::Predict(const BatchInput& batch,
                                          std::chrono::milliseconds timeout) {
  const ModelInput& input = batch.input;
  // Column names come from requests: replacing invalid UTF-8 cannot throw, whatever they are.
  auto text = [](const auto& value) {
    return json(value).dump(-1, ' ', false, json::error_handler_t::replace);
  };
  std::string header = fmt::format(R"({{"rows":{},"segments":[{}],"bytes":{})", input.rows,
                                   fmt::join(batch.segments, ","), input.bytes());
  if (input.tensor) {
    header += fmt::format(R"(,"tensor":{{"type":"{}","dtype":{},"shape":[{}]}})",
                          TypeName(input.columns.front().type), text(input.dtype),
                          fmt::join(input.row_shape, ","));
    if (!input.names.empty()) header += ",\"columns\":" + text(input.names);
  } else {
    header += ",\"frame\":[";
    for (size_t c = 0; c < input.columns.size(); ++c) {
      const TypedColumn& column = input.columns[c];
      header += fmt::format(R"({}{{"name":{},"type":"{}","bytes":{},"nulls":{}}})", c ? "," : "",
                            text(column.name), TypeName(column.type), column.data.size(),
                            column.nullable ? "true" : "false");
    }
    header += "]";
  }
  header += "}";
  uint32_t size = static_cast<uint32_t>(header.size());
  std::vector<iovec> vec = {{&size, sizeof size}, {header.data(), header.size()}};
  for (const TypedColumn& column : input.columns) {
    vec.push_back({const_cast<char*>(column.data.data()), column.data.size()});
    if (column.nullable)
      vec.push_back({const_cast<char*>(column.nulls.data()), column.nulls.size()});
  }
  for (size_t start = 0; start < vec.size(); start += 512) {  // writev takes at most IOV_MAX
    if (!WriteAll(in_, vec.data() + start,
                  static_cast<int>(std::min<size_t>(512, vec.size() - start)))) {
      return Died("receiving a batch");
    }
  }
  std::string answer_frame;
  BatchOutput output;
  const auto deadline = Clock::now() + timeout;
  if (!ReadFrame(out_, answer_frame, deadline) || !ReadFrame(out_, output.body, deadline)) {
    return Died(fmt::format("predicting a batch of {} rows", input.rows));
  }
  json answer = ParseJsonOrNull(answer_frame);
  if (!answer.is_object() || !answer.contains("ok") || answer["ok"] != true) {
    return Died("answering (garbage)");
  }
  if (auto type = answer.find("datatype"); type != answer.end() && type->is_string()) {
    output.datatype = type->get<std::string>();
  } else {
    output.datatype = "FP64";
  }
  if (auto columns = answer.find("columns"); columns != answer.end() && columns->is_array()) {
    for (const json& c : *columns) {
      if (!c.is_string()) return Died("answering (bad columns)");
      output.columns.push_back(c.get<std::string>());
    }
  }
  if (auto shape = answer.find("row_shape"); shape != answer.end() && shape->is_array()) {
    for (const json& d : *shape) {
      if (!d.is_number_integer()) return Died("answering (bad row_shape)");
      output.row_shape.push_back(d.get<int64_t>());
    }
  }
  size_t failed_rows = 0;
  if (auto failed = answer.find("failed"); failed != answer.end() && failed->is_object()) {
    for (const auto& item : failed->items()) {
      size_t index = 0;
      const std::string& key = item.key();
      auto [end, ec] = std::from_chars(key.data(), key.data() + key.size(), index);
      if (ec != std::errc() || end != key.data() + key.size() || index >= batch.segments.size() ||
          !item.value().is_string()) {
        return Died("answering (bad segment)");
      }
      output.failed[index] = item.value().get<std::string>();
      failed_rows += batch.segments[index];
    }
  }
  const std::string& body = output.body;
  output.row_spans.reserve(input.rows - failed_rows);
  for (size_t start = 0; start < body.size();) {
    size_t end = body.find('\n', start);
    if (end == std::string::npos) end = body.size();
    output.row_spans.emplace_back(start, end - start);
    start = end + 1;
  }
  if (output.row_count() != input.rows - failed_rows) {
    return Died(fmt::format("answering ({} predictions for {} rows)", output.row_count(),
                            input.rows - failed_rows));
  }
  return output;
}

}  // namespace somlier::serving
