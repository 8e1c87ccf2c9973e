#include "tapegrad/io/png.hpp"

#include "tapegrad/io/atomic_file.hpp"

#include <png.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>

namespace tg::io {
namespace {

// libpng's simplified API reports errors through image.message instead of longjmp, which
// would skip C++ destructors. Encoding to memory lets the bytes go through the atomic writer.
void write_png(const std::string& path, std::size_t width, std::size_t height, bool rgb, const std::uint8_t* pixels) {
    const std::size_t channels = rgb ? 3 : 1;
    // The PNG limit is 2^31-1 per side; row_stride is a png_int_32 too.
    constexpr std::size_t kMax = static_cast<std::size_t>(std::numeric_limits<png_int_32>::max());
    if (width == 0 || height == 0) throw std::invalid_argument(path + ": cannot write an empty PNG image");
    if (width > kMax / channels || height > kMax) throw std::invalid_argument(path + ": image too large for PNG");

    png_image image;
    std::memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    image.width = static_cast<png_uint_32>(width);
    image.height = static_cast<png_uint_32>(height);
    image.format = rgb ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
    const auto stride = static_cast<png_int_32>(width * channels);

    png_alloc_size_t size = 0;
    if (!png_image_write_get_memory_size(image, size, 0, pixels, stride, nullptr)) {
        const std::string msg = image.message;
        png_image_free(&image);
        throw IoError(path + ": libpng: " + msg);
    }
    std::vector<std::uint8_t> encoded(size);
    if (!png_image_write_to_memory(&image, encoded.data(), &size, 0, pixels, stride, nullptr)) {
        const std::string msg = image.message;
        png_image_free(&image);
        throw IoError(path + ": libpng: " + msg);
    }
    write_file_atomically(path, [&](std::ostream& os) {
        os.write(reinterpret_cast<const char*>(encoded.data()), static_cast<std::streamsize>(size));
    });
}

}  // namespace

void write_png_gray(const std::string& path, const Matrix<float>& image) {
    const std::size_t h = image.shape()[0], w = image.shape()[1];
    std::vector<std::uint8_t> pixels(h * w);
    const float* src = image.data();
    for (std::size_t i = 0; i < pixels.size(); ++i) {
        const float v = std::isnan(src[i]) ? 0.0f : std::clamp(src[i], 0.0f, 1.0f);
        pixels[i] = static_cast<std::uint8_t>(std::lround(v * 255.0f));
    }
    write_png(path, w, h, false, pixels.data());
}

void write_png_rgb(const std::string& path, std::size_t width, std::size_t height, const std::vector<std::uint8_t>& rgb) {
    if (width != 0 && height > std::numeric_limits<std::size_t>::max() / 3 / width) {
        throw std::invalid_argument(path + ": image too large");
    }
    if (rgb.size() != width * height * 3) {
        throw std::invalid_argument(path + ": write_png_rgb: " + std::to_string(width) + " x " + std::to_string(height) +
                                    " RGB needs " + std::to_string(width * height * 3) + " bytes, got " +
                                    std::to_string(rgb.size()));
    }
    write_png(path, width, height, true, rgb.data());
}

Matrix<float> tile_grid(const Matrix<float>& rows_of_images, std::size_t tile_rows, std::size_t tile_cols,
                        std::size_t grid_cols, bool normalize_each, std::size_t padding, float background) {
    const std::size_t n = rows_of_images.shape()[0];
    const std::size_t tile_size = tile_rows * tile_cols;
    if (n == 0 || tile_rows == 0 || tile_cols == 0 || grid_cols == 0) {
        throw std::invalid_argument("tile_grid: need at least one image, a non-empty tile and grid_cols > 0");
    }
    if (rows_of_images.shape()[1] != tile_size) {
        throw std::invalid_argument("tile_grid: rows have " + std::to_string(rows_of_images.shape()[1]) +
                                    " values, a " + std::to_string(tile_rows) + " x " + std::to_string(tile_cols) +
                                    " tile needs " + std::to_string(tile_size));
    }
    const std::size_t cols_used = std::min(grid_cols, n);
    const std::size_t grid_rows = (n + grid_cols - 1) / grid_cols;
    const std::size_t out_h = grid_rows * (tile_rows + padding) + padding;
    const std::size_t out_w = cols_used * (tile_cols + padding) + padding;
    Matrix<float> out = make_matrix<float>(out_h, out_w);
    std::fill(out.begin(), out.end(), background);

    for (std::size_t t = 0; t < n; ++t) {
        const float* src = rows_of_images.data() + t * tile_size;
        float lo = 0.0f, scale = 1.0f, constant = 0.0f;
        bool flat = false;
        if (normalize_each) {
            const auto [mn, mx] = std::minmax_element(src, src + tile_size);
            lo = *mn;
            flat = !(*mx > *mn);  // also true when NaNs make the comparison fail
            scale = flat ? 0.0f : 1.0f / (*mx - *mn);
            constant = 0.5f;
        }
        const std::size_t top = padding + (t / grid_cols) * (tile_rows + padding);
        const std::size_t left = padding + (t % grid_cols) * (tile_cols + padding);
        for (std::size_t r = 0; r < tile_rows; ++r) {
            float* dst = out.data() + (top + r) * out_w + left;
            for (std::size_t c = 0; c < tile_cols; ++c) {
                const float v = src[r * tile_cols + c];
                dst[c] = !normalize_each ? v : flat ? constant : (v - lo) * scale;
            }
        }
    }
    return out;
}

}  // namespace tg::io
