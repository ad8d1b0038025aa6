#include "somlier/execution/subprocess.h"

#include <fcntl.h>
#include <fmt/core.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

extern char** environ;

namespace somlier {
namespace {

// Closes the fds it holds unless released; keeps error paths of Spawn() leak-free.
struct FdCloser {
  int fds[6] = {-1, -1, -1, -1, -1, -1};
  ~FdCloser() {
    for (int fd : fds) {
      if (fd >= 0) close(fd);
    }
  }
};

}  // namespace

int ExitCodeFromWaitStatus(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return 1;
}

Result<std::unique_ptr<Subprocess>> Subprocess::Spawn(const SpawnOptions& options) {
  if (options.argv.empty() || options.argv[0].empty()) {
    return InvalidArgument("cannot start a process without a command");
  }
  // [0,1]: stdout read/write, [2,3]: stderr read/write, [4,5]: stdin read/write
  FdCloser pipes;
  const bool to_file = !options.output_file.empty();
  const bool capture_stdout = options.capture_stdout && !to_file;
  const bool capture_stderr = options.capture_stderr && !to_file;
  if (capture_stdout && pipe2(&pipes.fds[0], O_CLOEXEC) != 0) {
    return Internal(fmt::format("pipe: {}", std::strerror(errno)));
  }
  if (capture_stderr && pipe2(&pipes.fds[2], O_CLOEXEC) != 0) {
    return Internal(fmt::format("pipe: {}", std::strerror(errno)));
  }
  if (options.pipe_stdin && pipe2(&pipes.fds[4], O_CLOEXEC) != 0) {
    return Internal(fmt::format("pipe: {}", std::strerror(errno)));
  }

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  struct Cleanup {
    posix_spawn_file_actions_t* a;
    posix_spawnattr_t* b;
    ~Cleanup() {
      posix_spawn_file_actions_destroy(a);
      posix_spawnattr_destroy(b);
    }
  } cleanup{&actions, &attr};

  if (options.pipe_stdin) {
    posix_spawn_file_actions_adddup2(&actions, pipes.fds[4], STDIN_FILENO);
  } else if (options.stdin_null) {
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  }
  if (capture_stdout) posix_spawn_file_actions_adddup2(&actions, pipes.fds[1], STDOUT_FILENO);
  if (capture_stderr) posix_spawn_file_actions_adddup2(&actions, pipes.fds[3], STDERR_FILENO);
  if (to_file) {
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, options.output_file.c_str(),
                                     O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  }
  // Nothing else crosses over: without this, a child would inherit every descriptor that
  // lacks close-on-exec — cpp-httplib's listening and client sockets among them — and keep
  // a server's port (or its clients' connections) open after the server is gone.
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  if (!options.working_dir.empty()) {
    posix_spawn_file_actions_addchdir_np(&actions, options.working_dir.c_str());
  }

  short flags = POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK;
  if (options.new_session) {
    flags |= POSIX_SPAWN_SETSID;
  } else if (options.new_process_group) {
    flags |= POSIX_SPAWN_SETPGROUP;
    posix_spawnattr_setpgroup(&attr, 0);
  }
  posix_spawnattr_setflags(&attr, flags);
  sigset_t all;
  sigfillset(&all);
  posix_spawnattr_setsigdefault(&attr, &all);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);

  std::vector<char*> argv;
  for (const auto& a : options.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<std::string> env_storage;
  std::vector<char*> envp;
  char** env = environ;
  if (options.env) {
    for (const auto& [k, v] : *options.env) env_storage.push_back(k + "=" + v);
    for (auto& e : env_storage) envp.push_back(e.data());
    envp.push_back(nullptr);
    env = envp.data();
  }

  // posix_spawnp() would search this process's PATH; the child's is the one that counts.
  std::string program = options.argv[0];
  if (options.env && program.find('/') == std::string::npos) {
    auto path = options.env->find("PATH");
    auto found = FindExecutable(
        program, path == options.env->end() ? "/usr/bin:/bin" : path->second, options.working_dir);
    if (!found) {
      return NotFound(fmt::format("command '{}' not found on the PATH it runs with", program));
    }
    program = *found;
  }

  pid_t pid = -1;
  int rc = posix_spawnp(&pid, program.c_str(), &actions, &attr, argv.data(), env);
  if (rc != 0) {
    if (rc == ENOENT || rc == EACCES || rc == ENOTDIR) {
      if (!options.working_dir.empty() && access(options.working_dir.c_str(), X_OK) != 0) {
        return NotFound(fmt::format("working directory '{}' does not exist", options.working_dir));
      }
      return NotFound(fmt::format("command '{}' not found or not executable ({})", options.argv[0],
                                  std::strerror(rc)));
    }
    return Internal(fmt::format("cannot start '{}': {}", options.argv[0], std::strerror(rc)));
  }
  // The child holds the write ends now; the parent keeps only the read ends.
  int out = pipes.fds[0];
  int err = pipes.fds[2];
  int in = pipes.fds[5];
  pipes.fds[0] = pipes.fds[2] = pipes.fds[5] = -1;
  return std::unique_ptr<Subprocess>(
      new Subprocess(pid, options.new_process_group || options.new_session, in, out, err));
}

Subprocess::~Subprocess() {
  if (stdin_fd_ >= 0) close(stdin_fd_);
  if (stdout_fd_ >= 0) close(stdout_fd_);
  if (stderr_fd_ >= 0) close(stderr_fd_);
  if (!exit_code_) {
    Signal(SIGKILL);
    (void)Wait();
  }
}

int Subprocess::TakeStdout() {
  int fd = stdout_fd_;
  stdout_fd_ = -1;
  return fd;
}

int Subprocess::TakeStdin() {
  int fd = stdin_fd_;
  stdin_fd_ = -1;
  return fd;
}

void Subprocess::Detach() {
  if (exit_code_) return;
  exit_code_ = 0;  // from now on nothing here signals or waits for the child
  std::thread([pid = pid_] {
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
  }).detach();
}

int Subprocess::TakeStderr() {
  int fd = stderr_fd_;
  stderr_fd_ = -1;
  return fd;
}

void Subprocess::Signal(int signal) {
  if (exit_code_) return;
  if (own_group_) {
    // The group outlives its leader only briefly; fall back to the pid if it is gone.
    if (kill(-pid_, signal) == 0) return;
  }
  kill(pid_, signal);
}

Result<int> Subprocess::Wait() {
  if (exit_code_) return *exit_code_;
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0) {
    if (errno != EINTR) return Internal(fmt::format("waitpid: {}", std::strerror(errno)));
  }
  exit_code_ = ExitCodeFromWaitStatus(status);
  return *exit_code_;
}

std::optional<int> Subprocess::TryWait() {
  if (exit_code_) return exit_code_;
  int status = 0;
  pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == pid_) exit_code_ = ExitCodeFromWaitStatus(status);
  return exit_code_;
}

bool Subprocess::HasExited() {
  if (exit_code_) return true;
  siginfo_t info{};
  if (waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT) != 0) return false;
  return info.si_pid == pid_;
}

}  // namespace somlier

namespace somlier {

std::optional<std::string> FindExecutable(const std::string& program,
                                          const std::string& path_variable,
                                          const std::string& base_dir) {
  if (program.empty()) return std::nullopt;
  auto executable = [](const std::string& path) {
    struct stat st {};
    return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && access(path.c_str(), X_OK) == 0;
  };
  auto in_base = [&](const std::string& path) {
    return path.front() == '/' || base_dir.empty() ? path : base_dir + "/" + path;
  };
  if (program.find('/') != std::string::npos) {
    return executable(in_base(program)) ? std::optional<std::string>(program) : std::nullopt;
  }
  size_t start = 0;
  while (start <= path_variable.size()) {
    size_t end = path_variable.find(':', start);
    if (end == std::string::npos) end = path_variable.size();
    std::string dir = path_variable.substr(start, end - start);
    if (dir.empty()) dir = ".";
    std::string candidate = in_base(dir + "/" + program);
    if (executable(candidate)) return candidate;
    start = end + 1;
  }
  return std::nullopt;
}

}  // namespace somlier
