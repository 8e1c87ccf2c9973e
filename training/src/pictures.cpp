#include "tapegrad/train/pictures.hpp"

#include <tapegrad/io/plot.hpp>
#include <tapegrad/io/png.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>

namespace tg::train {
namespace {

// Nearest-neighbour enlargement: a 28x28 tile is too small to judge on a screen.
tg::Matrix<float> enlarge(const tg::Matrix<float>& m, std::size_t f) {
    tg::Matrix<float> out = tg::make_matrix<float>(m.shape()[0] * f, m.shape()[1] * f);
    for (std::size_t i = 0; i < out.shape()[0]; ++i)
        for (std::size_t j = 0; j < out.shape()[1]; ++j) out(i, j) = m(i / f, j / f);
    return out;
}

std::string in_dir(const std::string& dir, const char* name) { return (std::filesystem::path(dir) / name).string(); }

}  // namespace

std::string draw_filters(const std::string& dir, const tg::Matrix<float>& filters, std::size_t image_rows,
                         std::size_t image_cols, std::size_t max_tiles) {
    const std::size_t n = std::min(filters.shape()[0], max_tiles);
    tg::Matrix<float> shown = tg::make_matrix<float>(n, filters.shape()[1]);
    std::copy(filters.data(), filters.data() + shown.size(), shown.data());
    const auto grid = static_cast<std::size_t>(std::ceil(std::sqrt(double(n))));
    const std::string path = in_dir(dir, "filters.png");
    // Small tiles (a convolution's 3x3 kernels) are enlarged until they are about 48 pixels high.
    const std::size_t factor = std::max<std::size_t>(2, 48 / std::max<std::size_t>(image_rows, 1));
    tg::io::write_png_gray(path, enlarge(tg::io::tile_grid(shown, image_rows, image_cols, grid, true, 1, 0.5f), factor));
    return path;
}

std::string draw_reconstructions(const std::string& dir, const std::vector<tg::Matrix<float>>& rows,
                                 std::size_t image_rows, std::size_t image_cols) {
    const std::size_t n = rows.front().shape()[0], d = rows.front().shape()[1];
    tg::Matrix<float> all = tg::make_matrix<float>(rows.size() * n, d);
    for (std::size_t r = 0; r < rows.size(); ++r) std::copy(rows[r].begin(), rows[r].end(), all.begin() + std::ptrdiff_t(r * n * d));
    const std::string path = in_dir(dir, "reconstructions.png");
    tg::io::write_png_gray(path, enlarge(tg::io::tile_grid(all, image_rows, image_cols, n, false, 2, 1.0f), 3));
    return path;
}

std::string draw_image_grid(const std::string& dir, const char* name, const tg::Matrix<float>& images,
                            std::size_t image_rows, std::size_t image_cols, std::size_t per_row) {
    const std::string path = in_dir(dir, name);
    tg::io::write_png_gray(path, enlarge(tg::io::tile_grid(images, image_rows, image_cols, per_row, false, 2, 1.0f), 3));
    return path;
}

std::string draw_loss_curves(const std::string& dir, const std::vector<EpochRecord>& history, const std::string& title,
                             std::size_t train_rows) {
    // Labelled with the last evaluation's rows (a resumed run may change them: the history has each epoch's).
    const EpochRecord* last = last_evaluated(history);
    tg::io::Series train{train_mse_label(last ? last->train_mse_rows : 0, train_rows), {}, {}, tg::io::Style::LinesPoints};
    tg::io::Series test{"test MSE", {}, {}, tg::io::Style::LinesPoints};
    tg::io::Series objective{"training objective (mean over the epoch)", {}, {}, tg::io::Style::LinesPoints};
    for (const EpochRecord& r : history) {
        objective.x.push_back(r.epoch);
        objective.y.push_back(r.train_loss);
        if (!r.evaluated()) continue;  // a point only where there is a measurement; the lines join them
        train.x.push_back(r.epoch);
        train.y.push_back(*r.train_mse);
        test.x.push_back(r.epoch);
        test.y.push_back(*r.test_mse);
    }
    const std::vector<tg::io::Panel> panels{
        {title + ": reconstruction MSE per pixel" + (train.x.size() < history.size() ? " (the evaluated epochs)" : ""),
         "epoch", "MSE", {train, test}, false, false},
        {"training objective (loss + penalties)", "epoch", "loss", {objective}, false, false},
    };
    const std::string path = in_dir(dir, "loss.png");
    tg::io::plot_panels(path, panels, 2, 640, 420);
    return path;
}

}  // namespace tg::train
