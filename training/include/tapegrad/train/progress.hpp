#pragma once
// Progress within an epoch. On a terminal: one bar redrawn in place with \r (at most 10 times a
// second, so drawing never costs training time). Otherwise (a log file, a pipe): a plain line
// at most every 10 seconds, so short epochs print only their summary line.
#include <chrono>
#include <cstddef>
#include <string>

namespace tg::train {

enum class ProgressMode { bar, lines, none };

// "auto" picks bar when stdout is a terminal, lines otherwise.
ProgressMode parse_progress_mode(const std::string& name);

class Progress {
public:
    Progress(ProgressMode mode, int epoch, int epochs, std::size_t steps, std::size_t first_step);
    // After step `done` (1-based count of steps finished this epoch) with the running mean loss.
    void update(std::size_t done, double mean_loss);
    // Clears the bar (the caller prints the epoch's summary line next).
    void finish();

private:
    using Clock = std::chrono::steady_clock;
    void draw(std::size_t done, double mean_loss, bool as_line);

    ProgressMode mode_;
    int epoch_, epochs_;
    std::size_t steps_, first_step_;
    Clock::time_point start_, last_draw_;
    bool drawn_ = false;
};

// "1:05" / "12.3s" style durations for ETAs and summaries.
std::string format_duration(double seconds);

}  // namespace tg::train
