#include "tapegrad/train/progress.hpp"

#include <fmt/core.h>

#include <cmath>
#include <cstdio>

#include <unistd.h>

namespace tg::train {

ProgressMode parse_progress_mode(const std::string& name) {
    if (name == "bar") return ProgressMode::bar;
    if (name == "lines") return ProgressMode::lines;
    if (name == "none") return ProgressMode::none;
    return ::isatty(::fileno(stdout)) ? ProgressMode::bar : ProgressMode::lines;
}

std::string format_duration(double s) {
    if (!std::isfinite(s) || s < 0) return "?";
    if (s < 10) return fmt::format("{:.2f}s", s);
    if (s < 60) return fmt::format("{:.1f}s", s);
    const long total = std::lround(s);
    if (total < 3600) return fmt::format("{}:{:02}", total / 60, total % 60);
    return fmt::format("{}:{:02}:{:02}", total / 3600, total / 60 % 60, total % 60);
}

Progress::Progress(ProgressMode mode, int epoch, int epochs, std::size_t steps, std::size_t first_step)
    : mode_(mode), epoch_(epoch), epochs_(epochs), steps_(steps), first_step_(first_step),
      start_(Clock::now()), last_draw_(start_) {}

void Progress::update(std::size_t done, double mean_loss) {
    if (mode_ == ProgressMode::none) return;
    const auto now = Clock::now();
    const double since = std::chrono::duration<double>(now - last_draw_).count();
    if (mode_ == ProgressMode::bar && (since >= 0.1 || done == steps_)) {
        draw(done, mean_loss, false);
        last_draw_ = now;
    } else if (mode_ == ProgressMode::lines && since >= 10 && done < steps_) {
        draw(done, mean_loss, true);
        last_draw_ = now;
    }
}

void Progress::draw(std::size_t done, double mean_loss, bool as_line) {
    const double elapsed = std::chrono::duration<double>(Clock::now() - start_).count();
    // The ETA extrapolates this session's pace (steps skipped by a resume took no time).
    const std::size_t run = done > first_step_ ? done - first_step_ : 0;
    const double eta = run ? elapsed / double(run) * double(steps_ - done) : NAN;
    const std::string counter = fmt::format("epoch {}/{}", epoch_, epochs_);
    if (as_line) {
        fmt::print("{}  step {}/{}  loss {:.5f}  eta {}\n", counter, done, steps_, mean_loss, format_duration(eta));
    } else {
        constexpr int width = 30;
        const int filled = steps_ ? int(double(width) * double(done) / double(steps_)) : width;
        fmt::print("\r{}  [{}{}] {:>3}%  loss {:.5f}  eta {:<8}", counter, std::string(std::size_t(filled), '='),
                   std::string(std::size_t(width - filled), ' '), steps_ ? done * 100 / steps_ : 100, mean_loss,
                   format_duration(eta));
        drawn_ = true;
    }
    std::fflush(stdout);
}

void Progress::finish() {
    if (drawn_) {
        fmt::print("\r{:<100}\r", "");
        std::fflush(stdout);
        drawn_ = false;
    }
}

}  // namespace tg::train
