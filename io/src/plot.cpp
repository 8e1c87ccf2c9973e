#include "tapegrad/io/plot.hpp"

#include "tapegrad/io/atomic_file.hpp"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>

#include <sys/wait.h>
#include <unistd.h>

namespace tg::io {
namespace {

bool gnuplot_on_path() {
    const char* env = std::getenv("PATH");
    std::stringstream dirs(env != nullptr ? env : "/usr/bin:/bin");
    for (std::string dir; std::getline(dirs, dir, ':');) {
        const std::string exe = (dir.empty() ? "." : dir) + "/gnuplot";
        if (::access(exe.c_str(), X_OK) == 0) return true;
    }
    return false;
}

// A gnuplot single-quoted string: only the quote itself needs escaping (doubled). Control
// characters would end the command, so they become spaces.
std::string quote(const std::string& s) {
    std::string out = "'";
    for (char c : s) {
        if (c == '\'') out += "''";
        else if (static_cast<unsigned char>(c) < 0x20) out += ' ';
        else out += c;
    }
    return out + "'";
}

std::string shell_quote(const std::string& s) {
    std::string out = "'";
    for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

bool plottable(double x, double y, const Panel& p) {
    return std::isfinite(x) && std::isfinite(y) && (!p.log_y || y > 0) && (!p.log_x || x > 0);
}

std::string make_script(const std::vector<Panel>& panels, std::size_t columns, std::size_t width,
                        std::size_t height, const std::string& output) {
    std::ostringstream s;
    s.precision(17);
    const std::size_t rows = (panels.size() + columns - 1) / columns;
    const std::string size = std::to_string(columns * width) + "," + std::to_string(rows * height);
    // pngcairo draws anti-aliased lines; plain png (libgd) is the fallback some builds have.
    s << "set encoding utf8\n"
      << "if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {\n"
      << "  set terminal pngcairo size " << size << " noenhanced font ',10'\n"
      << "} else {\n"
      << "  set terminal png size " << size << " noenhanced\n"
      << "}\n"
      << "set output " << quote(output) << "\n";
    for (std::size_t p = 0; p < panels.size(); ++p) {
        for (std::size_t k = 0; k < panels[p].series.size(); ++k) {
            const Series& se = panels[p].series[k];
            s << "$d" << p << "_" << k << " << EOD\n";
            for (std::size_t i = 0; i < se.x.size(); ++i) {
                // gnuplot treats NaN as undefined and leaves a gap.
                if (std::isfinite(se.x[i]) && std::isfinite(se.y[i])) s << se.x[i] << ' ' << se.y[i] << '\n';
                else s << "NaN NaN\n";
            }
            s << "EOD\n";
        }
    }
    s << "set multiplot layout " << rows << "," << columns << "\n";
    for (std::size_t p = 0; p < panels.size(); ++p) {
        const Panel& pn = panels[p];
        s << "set title " << quote(pn.title) << "\nset xlabel " << quote(pn.xlabel) << "\nset ylabel "
          << quote(pn.ylabel) << "\n"
          << (pn.log_y ? "set logscale y\n" : "unset logscale y\n")
          << (pn.log_x ? "set logscale x\n" : "unset logscale x\n")
          << "set grid\nset key top right\nplot ";
        bool first = true;
        for (std::size_t k = 0; k < pn.series.size(); ++k) {
            const Series& se = pn.series[k];
            if (se.x.empty()) continue;  // gnuplot rejects an empty data block
            s << (first ? "" : ", ") << "$d" << p << "_" << k << " using 1:2 with "
              << (se.style == Style::Lines ? "lines lw 2"
                  : se.style == Style::Points ? "points pt 7 ps 0.6"
                                              : "linespoints lw 2 pt 7 ps 0.6")
              << " " << (se.label.empty() ? "notitle" : "title " + quote(se.label));
            first = false;
        }
        s << "\n";
    }
    s << "unset multiplot\nunset output\n";
    return s.str();
}

// Removes the scratch directory however plot_panels exits.
struct ScratchDir {
    std::filesystem::path path;
    ~ScratchDir() {
        std::error_code ec;
        if (!path.empty()) std::filesystem::remove_all(path, ec);
    }
};

}  // namespace

void plot_panels(const std::string& path, const std::vector<Panel>& panels, std::size_t columns,
                 std::size_t panel_width, std::size_t panel_height) {
    if (panels.empty()) throw std::invalid_argument("plot_panels: " + path + ": no panels");
    if (panel_width == 0 || panel_height == 0) throw std::invalid_argument("plot_panels: zero panel size");
    if (columns == 0 || columns > panels.size()) columns = panels.size();
    for (const Panel& p : panels) {
        std::size_t points = 0;
        for (const Series& se : p.series) {
            if (se.x.size() != se.y.size()) {
                throw std::invalid_argument("plot_panels: " + path + ": series '" + se.label + "' has " +
                                            std::to_string(se.x.size()) + " x values but " +
                                            std::to_string(se.y.size()) + " y values");
            }
            for (std::size_t i = 0; i < se.x.size(); ++i) points += plottable(se.x[i], se.y[i], p) ? 1 : 0;
        }
        if (points == 0) {
            throw std::invalid_argument("plot_panels: " + path + ": panel '" + p.title + "' has no plottable points");
        }
    }
    if (!gnuplot_on_path()) {
        throw IoError(path + ": gnuplot is not installed (needed for plots): apt-get install gnuplot-nox");
    }

    ScratchDir scratch;
    std::string tmpl = (std::filesystem::temp_directory_path() / "tapegrad-plot-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) throw IoError(tmpl + ": cannot create a scratch directory: " + std::strerror(errno));
    scratch.path = tmpl;
    const std::string script_path = (scratch.path / "plot.gp").string();
    const std::string png_path = (scratch.path / "plot.png").string();
    {
        std::ofstream script(script_path, std::ios::binary);
        script << make_script(panels, columns, panel_width, panel_height, png_path);
        if (!script.flush()) throw IoError(script_path + ": cannot write the gnuplot script");
    }

    const std::string command = "gnuplot " + shell_quote(script_path) + " 2>&1";
    FILE* pipe = ::popen(command.c_str(), "r");
    if (pipe == nullptr) throw IoError(path + ": cannot run gnuplot: " + std::strerror(errno));
    std::string output;
    char buf[4096];
    for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, pipe)) > 0;) {
        if (output.size() < 8192) output.append(buf, n);
    }
    const int status = ::pclose(pipe);
    if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        throw IoError(path + ": gnuplot failed (status " + std::to_string(status) + "): " + output);
    }

    std::ifstream png(png_path, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(png)), std::istreambuf_iterator<char>());
    if (bytes.size() < 8 || bytes.compare(1, 3, "PNG") != 0) {
        throw IoError(path + ": gnuplot produced no PNG; its output: " + output);
    }
    write_file_atomically(path, [&](std::ostream& os) { os.write(bytes.data(), static_cast<std::streamsize>(bytes.size())); });
}

void plot_lines(const std::string& path, const std::string& title, const std::string& xlabel,
                const std::string& ylabel, const std::vector<Series>& series, bool log_y) {
    plot_panels(path, {Panel{title, xlabel, ylabel, series, log_y}}, 1);
}

}  // namespace tg::io
