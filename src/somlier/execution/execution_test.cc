#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "somlier/execution/line_pump.h"
#include "somlier/execution/run_command.h"
#include "somlier/execution/subprocess.h"

namespace somlier {
namespace {

struct Captured {
  std::vector<std::string> out;
  std::vector<std::string> err;
};

Result<int> RunAndCapture(SpawnOptions options, Captured* captured, size_t max_line = 65536) {
  SOMLIER_ASSIGN_OR_RETURN(auto child, Subprocess::Spawn(options));
  SOMLIER_RETURN_IF_ERROR(PumpLines(
      child->stdout_fd(), child->stderr_fd(),
      [&](OutputStream s, std::string_view line) {
        (s == OutputStream::kStdout ? captured->out : captured->err).emplace_back(line);
      },
      max_line));
  return child->Wait();
}

TEST(Subprocess, CapturesLinesAndExitCode) {
  Captured c;
  SpawnOptions o;
  o.argv = {"sh", "-c", "echo one; echo two >&2; printf three; exit 3"};
  auto code = RunAndCapture(o, &c);
  ASSERT_TRUE(code.ok()) << code.status().ToString();
  EXPECT_EQ(*code, 3);
  EXPECT_EQ(c.out, (std::vector<std::string>{"one\n", "three"}));
  EXPECT_EQ(c.err, (std::vector<std::string>{"two\n"}));
}

TEST(Subprocess, ChildrenInheritOnlyTheStandardStreams) {
  // A descriptor without close-on-exec, as cpp-httplib's sockets are.
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  ASSERT_EQ(dup2(fds[1], 57), 57);
  Captured c;
  SpawnOptions o;
  o.argv = {"sh", "-c", "if [ -e /proc/$$/fd/57 ]; then echo inherited; else echo closed; fi"};
  auto code = RunAndCapture(o, &c);
  close(57);
  close(fds[0]);
  close(fds[1]);
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(c.out, (std::vector<std::string>{"closed\n"}));
}

TEST(Subprocess, ArgvIsNotInterpretedByAShell) {
  Captured c;
  SpawnOptions o;
  o.argv = {"printf", "%s|", "$(echo hi)", "a b", ";", "*"};
  ASSERT_EQ(*RunAndCapture(o, &c), 0);
  EXPECT_EQ(c.out, (std::vector<std::string>{"$(echo hi)|a b|;|*|"}));
}

TEST(Subprocess, EnvironmentAndWorkingDirectory) {
  Captured c;
  SpawnOptions o;
  o.argv = {"/bin/sh", "-c", "pwd; echo \"$ONLY\"; echo \"${HOME:-unset}\""};
  o.env = std::map<std::string, std::string>{{"ONLY", "this"}};
  o.working_dir = "/tmp";
  ASSERT_EQ(*RunAndCapture(o, &c), 0);
  EXPECT_EQ(c.out, (std::vector<std::string>{"/tmp\n", "this\n", "unset\n"}));
}

TEST(Subprocess, LongLinesArriveInPieces) {
  Captured c;
  SpawnOptions o;
  o.argv = {"sh", "-c", "head -c 2500 /dev/zero | tr '\\0' x"};
  ASSERT_EQ(*RunAndCapture(o, &c, 1000), 0);
  ASSERT_EQ(c.out.size(), 3u);
  EXPECT_EQ(c.out[0].size(), 1000u);
  EXPECT_EQ(c.out[2].size(), 500u);
}

TEST(Subprocess, MissingProgramIsNotFound) {
  SpawnOptions o;
  o.argv = {"definitely-not-a-program-here"};
  auto child = Subprocess::Spawn(o);
  EXPECT_EQ(child.status().code(), StatusCode::kNotFound);
  EXPECT_NE(child.status().message().find("definitely-not-a-program-here"), std::string::npos);
  o.argv = {};
  EXPECT_EQ(Subprocess::Spawn(o).status().code(), StatusCode::kInvalidArgument);
}

TEST(Subprocess, SignalReachesTheWholeProcessGroup) {
  SpawnOptions o;
  // The shell starts a grandchild; killing the group must end both.
  o.argv = {"sh", "-c", "sleep 60 & echo started; wait"};
  auto child = Subprocess::Spawn(o);
  ASSERT_TRUE(child.ok());
  char buffer[64];
  ASSERT_GT(read((*child)->stdout_fd(), buffer, sizeof buffer), 0);
  (*child)->Signal(SIGTERM);
  EXPECT_EQ(*(*child)->Wait(), 128 + SIGTERM);
  // The grandchild closed its copy of the pipe when it died: EOF arrives promptly.
  Captured c;
  auto started = std::chrono::steady_clock::now();
  ASSERT_TRUE(PumpLines((*child)->stdout_fd(), -1, [&](OutputStream, std::string_view) {}).ok());
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
}

TEST(Subprocess, DestructorKillsAndReaps) {
  SpawnOptions o;
  o.argv = {"sleep", "60"};
  pid_t pid;
  {
    auto child = Subprocess::Spawn(o);
    ASSERT_TRUE(child.ok());
    pid = (*child)->pid();
    EXPECT_FALSE((*child)->TryWait().has_value());
  }
  EXPECT_EQ(kill(pid, 0), -1) << "the child was reaped";
}

TEST(RunCommand, WritesInputToStdinBesideTheOutput) {
  signal(SIGPIPE, SIG_IGN);  // as the CLI does: a child that stops reading must not kill us
  CommandOptions options;
  options.input = std::string(1 << 20, 'x') + "\nend\n";  // more than a pipe holds
  auto echoed = RunCommand({"tail", "-n", "1"}, options);
  ASSERT_TRUE(echoed.ok()) << echoed.status().message();
  EXPECT_EQ(echoed->stdout_text, "end\n");
  // A child that exits without reading it all neither hangs nor fails the call.
  auto early = RunCommand({"head", "-c", "3"}, options);
  ASSERT_TRUE(early.ok()) << early.status().message();
  EXPECT_EQ(early->stdout_text, "xxx");
  EXPECT_EQ(early->exit_code, 0);
}

TEST(FindExecutable, SearchesPath) {
  EXPECT_EQ(FindExecutable("sh", "/nonexistent:/bin"), "/bin/sh");
  EXPECT_FALSE(FindExecutable("sh", "/nonexistent").has_value());
  EXPECT_EQ(FindExecutable("/bin/sh", ""), "/bin/sh");
}

}  // namespace
}  // namespace somlier
