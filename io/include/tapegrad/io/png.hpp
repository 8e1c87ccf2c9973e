#pragma once
// 8-bit PNG output (libpng), written atomically: `path` is replaced whole or left untouched.
// Errors throw tg::io::IoError (file system, libpng) or std::invalid_argument (bad sizes).
#include "tapegrad/io/errors.hpp"
#include "tapegrad/tensor.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace tg::io {

// A grayscale image, height x width = image.shape(). Values are clamped to [0, 1] (NaN
// becomes 0) and rounded to 0..255.
void write_png_gray(const std::string& path, const Matrix<float>& image);

// rgb holds height rows of width pixels, 3 bytes each (R, G, B), top row first.
void write_png_rgb(const std::string& path, std::size_t width, std::size_t height,
                   const std::vector<std::uint8_t>& rgb);

// Lays out the rows of `rows_of_images` (each a flattened tile_rows x tile_cols image,
// row-major) as tiles, left to right then top to bottom, grid_cols tiles per grid row.
// Tiles are separated from each other and from the border by `padding` pixels of
// `background`; unused cells of the last grid row are background too. The result is
// (g*(tile_rows+padding)+padding) x (c*(tile_cols+padding)+padding) with
// c = min(grid_cols, n), g = ceil(n / grid_cols). With normalize_each, each tile is rescaled
// so its own minimum maps to 0 and its maximum to 1 (for learned filters, whose range is
// arbitrary); a constant tile becomes 0.5. Throws std::invalid_argument when there are no
// rows, a zero tile size or grid_cols, or rows_of_images has not tile_rows*tile_cols columns.
Matrix<float> tile_grid(const Matrix<float>& rows_of_images, std::size_t tile_rows, std::size_t tile_cols,
                        std::size_t grid_cols, bool normalize_each, std::size_t padding = 1,
                        float background = 0.5f);

}  // namespace tg::io
