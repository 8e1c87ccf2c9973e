#pragma once
// Line and scatter plots to PNG, drawn by gnuplot (run as a child process; the data goes
// inline in a generated script). The PNG replaces `path` atomically. If gnuplot is not
// installed, tg::io::IoError says so and how to install it; gnuplot errors are reported with
// its output. Non-finite values are written as gaps; with a log axis gnuplot skips values <= 0.
#include "tapegrad/io/errors.hpp"

#include <cstddef>
#include <string>
#include <vector>

namespace tg::io {

enum class Style { Lines, Points, LinesPoints };

struct Series {
    std::string label;          // empty: no key entry
    std::vector<double> x, y;   // same length
    Style style = Style::Lines;
};

struct Panel {
    std::string title, xlabel, ylabel;
    std::vector<Series> series;
    bool log_y = false;
    bool log_x = false;
};

// One panel. Throws std::invalid_argument if x and y differ in length or nothing is plottable.
void plot_lines(const std::string& path, const std::string& title, const std::string& xlabel,
                const std::string& ylabel, const std::vector<Series>& series, bool log_y = false);

// Several panels in a grid of `columns` panels per row (0: all in one row), each
// panel_width x panel_height pixels.
void plot_panels(const std::string& path, const std::vector<Panel>& panels, std::size_t columns = 0,
                 std::size_t panel_width = 640, std::size_t panel_height = 480);

}  // namespace tg::io
