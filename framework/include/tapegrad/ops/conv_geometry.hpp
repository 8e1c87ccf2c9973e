#pragma once
// The geometry of convolutions on images stored as rows (conv.hpp): image shapes, windows, the
// checks that name a misfit, and the im2col / col2im moves between images and window rows.
#include "tapegrad/ops/linear.hpp"

#include <algorithm>
#include <cstddef>
#include <string>

namespace tg {

/// The geometry of the images in a matrix's rows: height x width x channels, channels last.
struct ImageShape {
    std::size_t height = 0, width = 0, channels = 0;
    std::size_t size() const { return height * width * channels; }  ///< columns of a flat row
    bool operator==(const ImageShape&) const = default;
};

/// "28x28x1 (HxWxC)".
inline std::string to_string(const ImageShape& s) {
    return std::to_string(s.height) + "x" + std::to_string(s.width) + "x" + std::to_string(s.channels) + " (HxWxC)";
}

/// A convolution's window: kernel size, stride and zero padding (the same on all four sides).
struct ConvWindow {
    std::size_t kernel_h = 3, kernel_w = 3, stride = 1, padding = 0;
};

/// A convolution's attributes: the high-resolution side (conv2d's input, conv_transpose2d's
/// output), the low-resolution side (conv2d's output map) and the window between them.
struct ConvAttributes {
    ImageShape image, map;
    ConvWindow window;
};

namespace detail {

inline std::string describe(const ConvWindow& w) {
    return std::to_string(w.kernel_h) + "x" + std::to_string(w.kernel_w) + " kernel, stride " +
           std::to_string(w.stride) + ", padding " + std::to_string(w.padding);
}

// Where a convolution is being recorded, for error messages: rendered only when one is thrown
// (a string built at every record would allocate at every step).
struct ConvSite {
    const char* op;
    const char* side;  // "image" (conv2d's input) or "map" (conv_transpose2d's)
    ImageShape shape;
    ConvWindow window;
    std::size_t output_padding = 0;
    std::string str() const {
        return std::string(op) + " (" + side + " " + to_string(shape) + ", " + describe(window) +
               (std::string(side) == "map" ? ", output padding " + std::to_string(output_padding) : "") + ")";
    }
};

// Output extent along one dimension of `extent` pixels; throws for a window that does not fit
// or a stride that would drop real pixels (a remainder inside the padding drops only zeros).
inline std::size_t conv_extent(const ConvSite& where, const char* dim, std::size_t extent, std::size_t kernel,
                               const ConvWindow& w) {
    const std::size_t padded = extent + 2 * w.padding;
    if (kernel > padded)
        throw ShapeError(where.str() + ": the " + dim + " " + std::to_string(kernel) + " of the kernel exceeds the padded input " +
                         dim + " " + std::to_string(padded) + " (" + std::to_string(extent) + " + 2·" +
                         std::to_string(w.padding) + ")");
    const std::size_t remainder = (padded - kernel) % w.stride;
    if (remainder > w.padding)
        throw ShapeError(where.str() + ": stride " + std::to_string(w.stride) + " does not divide the padded input " + dim +
                         " minus the kernel (" + std::to_string(padded) + " - " + std::to_string(kernel) +
                         "): the last " + std::to_string(remainder - w.padding) +
                         " input pixel(s) would be ignored; change the padding, kernel or stride");
    return (padded - kernel) / w.stride + 1;
}

inline void check_window(const ConvSite& where, const ConvWindow& w) {
    if (w.kernel_h == 0 || w.kernel_w == 0 || w.stride == 0)
        throw ShapeError(where.str() + ": kernel sizes and stride must be positive");
    if (w.padding >= w.kernel_h || w.padding >= w.kernel_w)
        throw ShapeError(where.str() + ": padding " + std::to_string(w.padding) +
                         " must be smaller than the kernel (else border outputs see only padding)");
}

}  // namespace detail

/// conv2d's output geometry for `image` under `window` with `out_channels` kernels. Throws a
/// ShapeError naming `op`, the image and the window when they do not fit together.
inline ImageShape conv2d_output_shape(const char* op, ImageShape image, ConvWindow window, std::size_t out_channels) {
    const detail::ConvSite where{op, "image", image, window};
    detail::check_window(where, window);
    if (image.size() == 0) throw ShapeError(where.str() + ": the image has no pixels or no channels");
    return {detail::conv_extent(where, "height", image.height, window.kernel_h, window),
            detail::conv_extent(where, "width", image.width, window.kernel_w, window), out_channels};
}

/// conv_transpose2d's output geometry: the image whose conv2d under `window` is `map`, made
/// `output_padding` pixels taller and wider where a stride leaves a choice (PyTorch's rule:
/// (n - 1)·stride - 2·padding + kernel + output_padding). Throws a ShapeError naming `op`.
inline ImageShape conv_transpose2d_output_shape(const char* op, ImageShape map, ConvWindow window,
                                                std::size_t out_channels, std::size_t output_padding) {
    const detail::ConvSite where{op, "map", map, window, output_padding};
    detail::check_window(where, window);
    if (map.size() == 0 || out_channels == 0) throw ShapeError(where.str() + ": the map has no pixels or no channels");
    if (output_padding >= window.stride || output_padding > window.padding)
        throw ShapeError(where.str() + ": output padding must be smaller than the stride and at most the padding");
    auto extent = [&](std::size_t n, std::size_t kernel) -> std::size_t {
        const std::size_t grown = (n - 1) * window.stride + kernel + output_padding;
        if (grown <= 2 * window.padding) throw ShapeError(where.str() + ": the padding leaves no output pixels");
        return grown - 2 * window.padding;
    };
    return {extent(map.height, window.kernel_h), extent(map.width, window.kernel_w), out_channels};
}

namespace detail {

// Checks that a B x cols operand holds images of `shape`.
template <class T>
void check_image_rows(const ConvSite& where, const char* what, const Var<T>& x, const ImageShape& shape) {
    if (x.cols() != shape.size())
        throw ShapeError(where.str() + ": the " + what + " has shape " + to_string(x.shape()) + " but a " + to_string(shape) +
                         " image is a row of H·W·C = " + std::to_string(shape.size()) + " columns");
}

// Checks kernel (kh·kw·C) x O and bias 1 x n against the geometry.
template <class T>
void check_kernel_and_bias(const ConvSite& where, const Var<T>& kernel, const Var<T>* bias, const ConvAttributes& g,
                           std::size_t bias_size) {
    const ConvWindow& w = g.window;
    const std::size_t rows = w.kernel_h * w.kernel_w * g.image.channels;
    if (kernel.shape() != Shape{rows, g.map.channels})
        throw ShapeError(where.str() + ": the kernel has shape " + to_string(kernel.shape()) + " but a " +
                         std::to_string(w.kernel_h) + "x" + std::to_string(w.kernel_w) + " window from " +
                         std::to_string(g.image.channels) + " image channel(s) to " + std::to_string(g.map.channels) +
                         " map channel(s) needs (kh·kw·C_image x C_map) = " + to_string(Shape{rows, g.map.channels}));
    if (bias && bias->shape() != Shape{1, bias_size})
        throw ShapeError(where.str() + ": the bias has shape " + to_string(bias->shape()) + "; expected one entry per output channel " +
                         to_string(Shape{1, bias_size}));
}

// for_each_window's work for images [first, last); `cols` points at image first's rows.
template <class T, class Move>
void for_each_window_of(std::size_t first, std::size_t last, const ConvAttributes& g, T* images, T* cols, Move move) {
    const auto [H, W, C] = g.image;
    const std::size_t Ho = g.map.height, Wo = g.map.width;
    const ConvWindow& w = g.window;
    const std::size_t span = w.kernel_w * C, row_length = w.kernel_h * span;
    const auto s = std::ptrdiff_t(w.stride), p = std::ptrdiff_t(w.padding);
    for (std::size_t b = first; b < last; ++b) {
        T* image = images + b * H * W * C;
        for (std::size_t oy = 0; oy < Ho; ++oy)
            for (std::size_t ox = 0; ox < Wo; ++ox, cols += row_length) {
                const std::ptrdiff_t x0 = std::ptrdiff_t(ox) * s - p;
                const auto kx_begin = std::size_t(std::max<std::ptrdiff_t>(0, -x0));
                const auto kx_end = std::size_t(std::min<std::ptrdiff_t>(std::ptrdiff_t(w.kernel_w), std::ptrdiff_t(W) - x0));
                for (std::size_t ky = 0; ky < w.kernel_h; ++ky) {
                    const std::ptrdiff_t iy = std::ptrdiff_t(oy) * s - p + std::ptrdiff_t(ky);
                    T* window_row = cols + ky * span;
                    const bool inside = iy >= 0 && iy < std::ptrdiff_t(H) && kx_begin < kx_end;
                    move(inside ? image + (std::size_t(iy) * W + std::size_t(x0 + std::ptrdiff_t(kx_begin))) * C : nullptr,
                         window_row, kx_begin * C, inside ? (kx_end - kx_begin) * C : 0, span);
                }
            }
    }
}

// For each output pixel (one row of `cols`), the kh x kw x C window of `images` it sees, zeros
// outside the image. Channels last: the in-range part of a window row is one contiguous run.
// copy(dst, src, n) moves n values from a window row to the image or back: im2col copies,
// col2im adds (the adjoint, so overlapping windows sum). Split over the threads by images: an
// image's windows touch only that image's pixels and its own rows of `cols`, so every value is
// moved the same way whatever the threads.
template <class T, class Move>
void for_each_window(std::size_t batch, const ConvAttributes& g, T* images, T* cols, Move move) {
    const std::size_t cols_per_image =
        g.map.height * g.map.width * g.window.kernel_h * g.window.kernel_w * g.image.channels;
    const std::size_t min_images = (parallel::min_elements_per_part + cols_per_image) / std::max<std::size_t>(1, cols_per_image);
    parallel::for_range(batch, min_images, [&](std::size_t lo, std::size_t hi) {
        for_each_window_of(lo, hi, g, images, cols + lo * cols_per_image, move);
    }, 1);
}

// cols = im2col(images): window rows copied, the rest zero.
template <class T>
void im2col(const T* images, std::size_t batch, const ConvAttributes& g, T* cols) {
    for_each_window(batch, g, const_cast<T*>(images), cols,
                    [](T* pixels, T* row, std::size_t begin, std::size_t n, std::size_t span) {
                        std::fill(row, row + begin, T(0));
                        if (n) std::copy(pixels, pixels + n, row + begin);
                        std::fill(row + begin + n, row + span, T(0));
                    });
}

// images += col2im(cols): every window entry added back onto the pixel it came from.
template <class T>
void col2im_add(const T* cols, std::size_t batch, const ConvAttributes& g, T* images) {
    for_each_window(batch, g, images, const_cast<T*>(cols),
                    [](T* pixels, T* row, std::size_t begin, std::size_t n, std::size_t) {
                        for (std::size_t i = 0; i < n; ++i) pixels[i] += row[begin + i];
                    });
}

// grad(x) (+)= col2im(cols), for an image operand x.
template <class T>
void add_col2im_grad(Node<T>& x, const T* cols, std::size_t batch, const ConvAttributes& g) {
    if (!accumulate_into(x)) std::fill(x.grad->begin(), x.grad->end(), T(0));
    col2im_add(cols, batch, g, x.grad->data());
}

}  // namespace detail

}  // namespace tg
