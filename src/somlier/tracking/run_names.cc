#include "somlier/tracking/run_names.h"

#include <fmt/core.h>

#include <array>
#include <mutex>
#include <random>
#include <string_view>

namespace somlier {
namespace {

constexpr std::array<std::string_view, 32> kAdjectives = {
    "amber",  "brave",  "calm",   "clever", "crisp",  "daring", "eager", "fancy",
    "gentle", "glad",   "golden", "hardy",  "honest", "jolly",  "keen",  "lively",
    "lucky",  "mellow", "merry",  "nimble", "noble",  "plucky", "proud", "quiet",
    "rapid",  "silver", "steady", "sunny",  "swift",  "tidy",   "vivid", "witty"};

constexpr std::array<std::string_view, 32> kNouns = {
    "badger", "beaver", "bison",  "crane", "dolphin", "eagle", "falcon", "ferret",
    "finch",  "fox",    "gecko",  "heron", "ibis",    "koala", "lark",   "lemur",
    "lynx",   "marten", "moose",  "newt",  "otter",   "owl",   "panda",  "puffin",
    "quail",  "raven",  "salmon", "seal",  "swan",    "tapir", "walrus", "wren"};

}  // namespace

std::string NewRunName() {
  static std::mutex mu;
  static std::mt19937 engine{std::random_device{}()};
  std::lock_guard<std::mutex> lock(mu);
  const auto adjective = kAdjectives[engine() % kAdjectives.size()];
  const auto noun = kNouns[engine() % kNouns.size()];
  return fmt::format("{}-{}-{}", adjective, noun, engine() % 1000);
}

}  // namespace somlier
