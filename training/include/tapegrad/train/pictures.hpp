#pragma once
// The run's pictures: learned filters, originals above reconstructions, loss curves. Each
// function returns the path it wrote; drawing failures throw (the caller reports them as
// warnings: a run's numbers matter more than its pictures).
#include "tapegrad/train/history.hpp"

#include <tapegrad/tensor.hpp>

#include <string>
#include <vector>

namespace tg::train {

// One tile per row of `filters` (each image_rows x image_cols, rescaled to its own range),
// at most `max_tiles` of them.
std::string draw_filters(const std::string& dir, const tg::Matrix<float>& filters, std::size_t image_rows,
                         std::size_t image_cols, std::size_t max_tiles = 256);

// One picture row per matrix (originals first, then e.g. reconstructions), all with the same
// number of images, in pixel units (clamped to [0, 1]).
std::string draw_reconstructions(const std::string& dir, const std::vector<tg::Matrix<float>>& rows,
                                 std::size_t image_rows, std::size_t image_cols);

// `images` (one per row, in pixel units, clamped to [0, 1]) as a grid of `per_row` tiles, into
// dir/name (a generative model's samples.png and latent-grid.png).
std::string draw_image_grid(const std::string& dir, const char* name, const tg::Matrix<float>& images,
                            std::size_t image_rows, std::size_t image_cols, std::size_t per_row);

// Train and test MSE of the evaluated epochs (others have none: TrainerOptions::eval_every),
// and the training objective of every epoch. `train_rows`: the training set's size, to say
// whether the train MSE is over a subset of it.
std::string draw_loss_curves(const std::string& dir, const std::vector<EpochRecord>& history, const std::string& title,
                             std::size_t train_rows);

}  // namespace tg::train
