// LinePump: turns a child's stdout and stderr pipes into whole lines as they arrive.
//
// PumpLines() reads both descriptors until both reach end of file, calling `on_line` for
// each line as soon as its newline arrives (the line includes its '\n'), and once more for
// a last line without one. A line longer than `max_line` bytes is delivered in pieces of
// that size, so a child that never writes a newline cannot exhaust memory. `tick`, when
// given, is called at least every 100 ms (to enforce deadlines or act on a stop request);
// when it returns false, pumping stops at once (what is still unread is left unread).
// Runs on the calling thread; the callbacks are called from it.
#pragma once

#include <cstddef>
#include <functional>
#include <string_view>

#include "somlier/core/status.h"

namespace somlier {

enum class OutputStream { kStdout, kStderr };

using LineCallback = std::function<void(OutputStream, std::string_view line)>;

// Either descriptor may be -1 (not captured). Does not close the descriptors.
Status PumpLines(int stdout_fd, int stderr_fd, const LineCallback& on_line,
                 size_t max_line = 64 * 1024, const std::function<bool()>& tick = nullptr);

}  // namespace somlier
