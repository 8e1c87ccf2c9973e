#pragma once
// Convolutions on images stored as rows. A batch of images is a B x (H·W·C) matrix, one image
// per row, channels last: channel c of pixel (y, x) sits at column (y·W + x)·C + c. The
// geometry travels with each op (an ImageShape and a ConvWindow, stored as the node's
// attributes), not in the value, so every value stays rank 2, a flat row *is* the image, and
// convolutional and dense layers mix with no reshape op: `affine` reads a feature map as it is.
//
// Channels last makes the lowering to one GEMM free of transposes: im2col writes one row per
// output pixel, holding its kh x kw x C window, and (B·Ho·Wo) x (kh·kw·C) columns times the
// (kh·kw·C) x O kernel *is* the B x (Ho·Wo·O) output, in the same layout. A kernel is a
// Parameter of that shape: row (ky·kw + kx)·C + c, column o.
//
// conv_transpose2d is the adjoint of conv2d with the same kernel and window (the map it takes
// is conv2d's output geometry): a tied convolutional decoder reads the encoder's kernel through
// it, and the kernel's gradient is the sum of both contributions, as for W and W^T.
#include "tapegrad/ops/conv_geometry.hpp"

namespace tg {

namespace detail {

template <class T>
Var<T> record_conv(const char* op, Var<T> x, Var<T> kernel, const Var<T>* bias, Shape shape, const ConvAttributes& g,
                   void (*forward)(Node<T>&), typename Node<T>::Backward backward, typename Node<T>::Rule rule) {
    auto run = [forward](Node<T>& n) { forward(n); };
    return bias ? x.tape->record(op, shape, {x, kernel, *bias}, run, backward, rule, g)
                : x.tape->record(op, shape, {x, kernel}, run, backward, rule, g);
}

// A convolution node's geometry and the GEMM sizes it implies: `pixels` = B·Ho·Wo rows of the
// columns matrix, R = kh·kw·C_image columns, O map channels.
struct ConvSizes {
    const ConvAttributes& g;
    std::size_t batch, pixels, O, R;
    template <class T>
    explicit ConvSizes(const Node<T>& n)
        : g(n.template attributes<ConvAttributes>()), batch(n.shape[0]), pixels(batch * g.map.height * g.map.width),
          O(g.map.channels), R(g.window.kernel_h * g.window.kernel_w * g.image.channels) {}
};

// Y = im2col(X) K + b: one gemm over all B·Ho·Wo output pixels, on top of the broadcast bias.
template <class T>
void conv2d_forward(Node<T>& y) {
    const ConvSizes z(y);
    const auto& [g, batch, pixels, O, R] = z;
    ensure_shape(y.saved, Shape{pixels, R});
    im2col(y.in(0).value->data(), batch, g, y.saved.data());
    if (y.input_count == 3) broadcast_rows(y.in(2).value->data(), pixels, O, y.result.data());
    blas::gemm(false, false, pixels, O, R, T(1), y.saved.data(), R, y.in(1).value->data(), O,
               T(y.input_count == 3 ? 1 : 0), y.result.data(), O);
}

// dK = im2col(X)^T dY,  db = sum of dY over pixels,  dX = col2im(dY K^T)
template <class T>
void conv2d_backward(Node<T>& y) {
    const ConvSizes z(y);
    const auto& [g, batch, pixels, O, R] = z;
    const T* dy = y.grad->data();
    Node<T>& x = y.in(0);
    Node<T>& kernel = y.in(1);
    if (kernel.requires_grad)
        blas::gemm(true, false, R, O, pixels, T(1), y.saved.data(), R, dy, O, gemm_beta(kernel), kernel.grad->data(), O);
    if (y.input_count == 3) add_column_sums(y.in(2), dy, pixels, O);
    if (x.requires_grad) {
        ensure_shape(y.scratch, Shape{pixels, R});
        blas::gemm(false, true, pixels, R, O, T(1), dy, O, kernel.value->data(), O, T(0), y.scratch.data(), R);
        add_col2im_grad(x, y.scratch.data(), batch, g);
    }
}

// X = col2im(Y K^T) + b: the adjoint of conv2d's linear part, plus a bias per image channel.
template <class T>
void conv_transpose2d_forward(Node<T>& x) {
    const ConvSizes z(x);
    const auto& [g, batch, pixels, O, R] = z;
    ensure_shape(x.scratch, Shape{pixels, R});
    blas::gemm(false, true, pixels, R, O, T(1), x.in(0).value->data(), O, x.in(1).value->data(), O, T(0),
               x.scratch.data(), R);
    if (x.input_count == 3)
        broadcast_rows(x.in(2).value->data(), batch * g.image.height * g.image.width, g.image.channels, x.result.data());
    else
        std::fill(x.result.begin(), x.result.end(), T(0));
    col2im_add(x.scratch.data(), batch, g, x.result.data());
}

// dY = im2col(dX) K,  dK = im2col(dX)^T Y,  db = sum of dX over pixels
template <class T>
void conv_transpose2d_backward(Node<T>& x) {
    const ConvSizes z(x);
    const auto& [g, batch, pixels, O, R] = z;
    Node<T>& y = x.in(0);
    Node<T>& kernel = x.in(1);
    ensure_shape(x.scratch, Shape{pixels, R});
    im2col(x.grad->data(), batch, g, x.scratch.data());
    if (y.requires_grad)
        blas::gemm(false, false, pixels, O, R, T(1), x.scratch.data(), R, kernel.value->data(), O, gemm_beta(y),
                   y.grad->data(), O);
    if (kernel.requires_grad)
        blas::gemm(true, false, R, O, pixels, T(1), x.scratch.data(), R, y.value->data(), O, gemm_beta(kernel),
                   kernel.grad->data(), O);
    if (x.input_count == 3)
        add_column_sums(x.in(2), x.grad->data(), batch * g.image.height * g.image.width, g.image.channels);
}

// The gradient rules, in ops. The convolutions' geometry is taken as recorded (the adjoint of a
// conv2d is the conv_transpose2d of the same attributes, whatever output padding that implies).

// A bias's gradient: dY summed over the batch and the pixels, one entry per channel.
template <class T>
Var<T> channel_sums(Var<T> dy, const ImageShape& s) {
    return sum(reshape(dy, dy.rows() * s.height * s.width, s.channels), 0);
}

template <class T> Var<T> conv2d_with(Var<T> x, Var<T> kernel, const ConvAttributes& g);
template <class T> Var<T> conv_transpose2d_with(Var<T> y, Var<T> kernel, const ConvAttributes& g);
template <class T> Var<T> conv_kernel_gradient(Var<T> images, Var<T> maps, const ConvAttributes& g);

// conv2d: dX = conv^T(dY, K),  dK = kernel_gradient(X, dY),  db = channel sums of dY
template <class T>
void conv2d_rule(RuleContext<T>& c) {
    const ConvAttributes& g = c.template attributes<ConvAttributes>();
    if (c.needs[0]) c.dx[0] = conv_transpose2d_with(c.dy, c.x[1], g);
    if (c.needs[1]) c.dx[1] = conv_kernel_gradient(c.x[0], c.dy, g);
    if (c.node.input_count == 3 && c.needs[2]) c.dx[2] = channel_sums(c.dy, g.map);
}

// conv_transpose2d: dY = conv(dX, K),  dK = kernel_gradient(dX, Y),  db = channel sums of dX
template <class T>
void conv_transpose2d_rule(RuleContext<T>& c) {
    const ConvAttributes& g = c.template attributes<ConvAttributes>();
    if (c.needs[0]) c.dx[0] = conv2d_with(c.dy, c.x[1], g);
    if (c.needs[1]) c.dx[1] = conv_kernel_gradient(c.dy, c.x[0], g);
    if (c.node.input_count == 3 && c.needs[2]) c.dx[2] = channel_sums(c.dy, g.image);
}

template <class T>
Var<T> conv2d_with(Var<T> x, Var<T> kernel, const ConvAttributes& g) {
    return record_conv("conv2d", x, kernel, static_cast<const Var<T>*>(nullptr), Shape{x.rows(), g.map.size()}, g,
                       &conv2d_forward<T>, &conv2d_backward<T>, &conv2d_rule<T>);
}

template <class T>
Var<T> conv_transpose2d_with(Var<T> y, Var<T> kernel, const ConvAttributes& g) {
    return record_conv("conv_transpose2d", y, kernel, static_cast<const Var<T>*>(nullptr), Shape{y.rows(), g.image.size()},
                       g, &conv_transpose2d_forward<T>, &conv_transpose2d_backward<T>, &conv_transpose2d_rule<T>);
}

// G = im2col(X)^T D for images X and maps D of the geometry g: the kernel gradient of a
// convolution as an op of its own (conv2d's rule needs it; it is bilinear in X and D).
//   dX = col2im(D dG^T) = conv^T(D, dG),  dD = im2col(X) dG = conv(X, dG)
template <class T>
void kernel_gradient_forward(Node<T>& n) {
    const ConvAttributes& g = n.template attributes<ConvAttributes>();
    const std::size_t batch = n.in(0).shape[0], pixels = batch * g.map.height * g.map.width;
    const std::size_t R = n.shape[0], O = n.shape[1];
    ensure_shape(n.saved, Shape{pixels, R});
    im2col(n.in(0).value->data(), batch, g, n.saved.data());
    blas::gemm(true, false, R, O, pixels, T(1), n.saved.data(), R, n.in(1).value->data(), O, T(0), n.result.data(), O);
}

template <class T>
void kernel_gradient_backward(Node<T>& n) {
    const ConvAttributes& g = n.template attributes<ConvAttributes>();
    const std::size_t batch = n.in(0).shape[0], pixels = batch * g.map.height * g.map.width;
    const std::size_t R = n.shape[0], O = n.shape[1];
    const T* dg = n.grad->data();
    Node<T>& images = n.in(0);
    Node<T>& maps = n.in(1);
    if (maps.requires_grad)
        blas::gemm(false, false, pixels, O, R, T(1), n.saved.data(), R, dg, O, gemm_beta(maps), maps.grad->data(), O);
    if (images.requires_grad) {
        ensure_shape(n.scratch, Shape{pixels, R});
        blas::gemm(false, true, pixels, R, O, T(1), maps.value->data(), O, dg, O, T(0), n.scratch.data(), R);
        add_col2im_grad(images, n.scratch.data(), batch, g);
    }
}

template <class T>
Var<T> conv_kernel_gradient(Var<T> images, Var<T> maps, const ConvAttributes& g) {
    const std::size_t R = g.window.kernel_h * g.window.kernel_w * g.image.channels;
    if (images.cols() != g.image.size() || maps.cols() != g.map.size() || images.rows() != maps.rows())
        throw ShapeError("conv_kernel_gradient: images " + to_string(images.shape()) + " and maps " + to_string(maps.shape()) +
                         " do not fit the geometry " + to_string(g.image) + " -> " + to_string(g.map));
    return images.tape->record(
        "conv_kernel_gradient", Shape{R, g.map.channels}, {images, maps}, [](Node<T>& n) { kernel_gradient_forward(n); },
        &kernel_gradient_backward<T>,
        [](RuleContext<T>& c) {
            const ConvAttributes& g = c.template attributes<ConvAttributes>();
            if (c.needs[0]) c.dx[0] = conv_transpose2d_with(c.x[1], c.dy, g);
            if (c.needs[1]) c.dx[1] = conv2d_with(c.x[0], c.dy, g);
        },
        g);
}

template <class T>
Var<T> conv2d_impl(Var<T> x, ImageShape image, Var<T> kernel, const Var<T>* bias, ConvWindow window) {
    ConvAttributes g{image, conv2d_output_shape("conv2d", image, window, kernel.cols()), window};
    const ConvSite where{"conv2d", "image", image, window};
    check_image_rows(where, "input", x, image);
    check_kernel_and_bias(where, kernel, bias, g, g.map.channels);
    return record_conv("conv2d", x, kernel, bias, Shape{x.rows(), g.map.size()}, g, &conv2d_forward<T>,
                       &conv2d_backward<T>, &conv2d_rule<T>);
}

template <class T>
Var<T> conv_transpose2d_impl(Var<T> y, ImageShape map, Var<T> kernel, const Var<T>* bias, ConvWindow window,
                             std::size_t output_padding) {
    const ConvSite where{"conv_transpose2d", "map", map, window, output_padding};
    check_image_rows(where, "input", y, map);
    const std::size_t taps = window.kernel_h * window.kernel_w;
    if (kernel.cols() != map.channels || taps == 0 || kernel.rows() % taps != 0)
        throw ShapeError(where.str() + ": the kernel has shape " + to_string(kernel.shape()) + " but needs one column per map channel (" +
                         std::to_string(map.channels) + ") and kh·kw·C_image rows (a multiple of " + std::to_string(taps) + ")");
    ConvAttributes g{conv_transpose2d_output_shape("conv_transpose2d", map, window, kernel.rows() / taps, output_padding),
                     map, window};
    check_kernel_and_bias(where, kernel, bias, g, g.image.channels);
    return record_conv("conv_transpose2d", y, kernel, bias, Shape{y.rows(), g.image.size()}, g,
                       &conv_transpose2d_forward<T>, &conv_transpose2d_backward<T>, &conv_transpose2d_rule<T>);
}

}  // namespace detail

/// Y = conv(X, K) + b: images X (B x H·W·C, geometry `image`) through kernel K ((kh·kw·C) x O)
/// and bias b (1 x O) give maps Y (B x Ho·Wo·O, geometry conv2d_output_shape(...)).
///   dK = im2col(X)^T dY,  db = sum of dY over pixels,  dX = col2im(dY K^T)
template <class T>
Var<T> conv2d(Var<T> x, ImageShape image, Var<T> kernel, Var<T> bias, ConvWindow window) {
    return detail::conv2d_impl(x, image, kernel, &bias, window);
}
/// conv2d without a bias.
template <class T>
Var<T> conv2d(Var<T> x, ImageShape image, Var<T> kernel, ConvWindow window) {
    return detail::conv2d_impl<T>(x, image, kernel, nullptr, window);
}

/// X = conv^T(Y, K) + b: maps Y (B x Ho·Wo·O, geometry `map`) through the adjoint of conv2d
/// with kernel K ((kh·kw·C) x O) and bias b (1 x C) give images X (B x H·W·C, geometry
/// conv_transpose2d_output_shape(...)): <conv2d(X, K), Y> = <X, conv_transpose2d(Y, K)>.
///   dY = im2col(dX) K,  dK = im2col(dX)^T Y,  db = sum of dX over pixels
template <class T>
Var<T> conv_transpose2d(Var<T> y, ImageShape map, Var<T> kernel, Var<T> bias, ConvWindow window,
                        std::size_t output_padding = 0) {
    return detail::conv_transpose2d_impl(y, map, kernel, &bias, window, output_padding);
}
/// conv_transpose2d without a bias.
template <class T>
Var<T> conv_transpose2d(Var<T> y, ImageShape map, Var<T> kernel, ConvWindow window, std::size_t output_padding = 0) {
    return detail::conv_transpose2d_impl<T>(y, map, kernel, nullptr, window, output_padding);
}

// Compiled once per precision in framework/src/ops_float.cpp and ops_double.cpp; every other
// translation unit only declares them (instantiated in each, they made most of the build time).
#define TG_CONV_OPS(PREFIX, T) \
    PREFIX template Var<T> conv2d<T>(Var<T>, ImageShape, Var<T>, Var<T>, ConvWindow); \
    PREFIX template Var<T> conv2d<T>(Var<T>, ImageShape, Var<T>, ConvWindow); \
    PREFIX template Var<T> conv_transpose2d<T>(Var<T>, ImageShape, Var<T>, Var<T>, ConvWindow, std::size_t); \
    PREFIX template Var<T> conv_transpose2d<T>(Var<T>, ImageShape, Var<T>, ConvWindow, std::size_t); \
    PREFIX template Var<T> detail::conv_kernel_gradient<T>(Var<T>, Var<T>, const ConvAttributes&);
TG_CONV_OPS(extern, float)
TG_CONV_OPS(extern, double)

}  // namespace tg
