// Checks the hand-coded convolutional autoencoder (conv_handcoded.hpp) against central finite
// differences of its own loss, every entry of every parameter, in float64, for a geometry with
// and without output padding, with and without the dense code. A negative control (one
// gradient entry off by 1 %) must be caught. Exit status 1 if any check fails.
//   gradcheck_conv_handcoded
#include <tapegrad/baseline/conv_handcoded.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>

namespace {

using tg::handcoded::ConvAutoencoder;
using tg::handcoded::ConvConfig;
using Matrix = xt::xtensor<double, 2>;

// The largest error over every entry, relative to max(|analytic|, |numeric|, 1e-3).
double worst_error(ConvAutoencoder<double>& model, const Matrix& x, const std::vector<Matrix>& analytic, std::string& where) {
    const double h = 1e-6;
    double worst = 0;
    std::vector<Matrix*> params = model.parameters();
    const std::vector<std::string> names = model.parameter_names();
    for (std::size_t k = 0; k < params.size(); ++k)
        for (std::size_t i = 0; i < params[k]->size(); ++i) {
            double& v = params[k]->data()[i];
            const double saved = v;
            v = saved + h;
            const double up = model.loss_and_gradients(x);
            v = saved - h;
            const double down = model.loss_and_gradients(x);
            v = saved;
            const double numeric = (up - down) / (2 * h), exact = analytic[k].data()[i];
            const double error = std::abs(numeric - exact) / std::max({std::abs(numeric), std::abs(exact), 1e-3});
            if (error > worst) {
                worst = error;
                where = names[k] + "[" + std::to_string(i) + "]";
            }
        }
    return worst;
}

}  // namespace

int main() {
    int failures = 0;
    // 7x7 -> 4x4 (no output padding) -> 2x2 (output padding 1), 3x3 kernels, stride 2; and a
    // stride-1 layer on two input channels.
    const std::vector<ConvConfig> configs{
        {.height = 7, .width = 7, .image_channels = 1, .batch = 3, .channels = {2, 3}, .code = 4},
        {.height = 7, .width = 7, .image_channels = 1, .batch = 3, .channels = {2, 3}, .code = 0},
        {.height = 4, .width = 5, .image_channels = 2, .batch = 2, .channels = {3}, .kernel = 2, .stride = 1, .padding = 0, .code = 3},
    };
    for (std::size_t c = 0; c < configs.size(); ++c) {
        ConvAutoencoder<double> model(configs[c], 11 + c);
        std::mt19937_64 rng(5 + c);
        std::uniform_real_distribution<double> u(0, 1), nudge(-0.1, 0.1);
        Matrix x = Matrix::from_shape({configs[c].batch, configs[c].height * configs[c].width * configs[c].image_channels});
        for (double& v : x) v = u(rng);
        for (Matrix* p : model.parameters())  // biases start at zero: move everything off it
            for (double& v : *p) v += nudge(rng);
        model.loss_and_gradients(x);
        std::vector<Matrix> analytic;
        for (Matrix* g : model.gradients()) analytic.push_back(*g);
        std::string where;
        const double error = worst_error(model, x, analytic, where);
        const bool ok = error < 1e-6;
        failures += !ok;
        std::printf("%s config %zu: worst relative error %.2e at %s\n", ok ? "ok  " : "FAIL", c, error, where.c_str());
        if (c == 0) {  // the negative control: the largest entry of the last kernel's gradient off by 1 %
            Matrix& dK = analytic[configs[c].channels.size() - 1];
            *std::max_element(dK.begin(), dK.end(), [](double a, double b) { return std::abs(a) < std::abs(b); }) *= 1.01;
            const double control = worst_error(model, x, analytic, where);
            const bool caught = control > 1e-3;
            failures += !caught;
            std::printf("%s negative control (one entry off by 1 %%): worst relative error %.2e at %s\n",
                        caught ? "ok  " : "FAIL", control, where.c_str());
        }
    }
    return failures ? 1 : 0;
}
