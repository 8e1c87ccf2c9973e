// The README's example, compiled with the project so it cannot rot.
#include <tapegrad/tapegrad.hpp>
#include <iostream>
#include <random>

int main() {
    using namespace tg;
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> u(0, 1);
    Matrix<float> X = make_matrix<float>(64, 784);                   // a batch: 64 rows of 784 inputs
    for (float& v : X) v = u(rng);
    Matrix<float> W0 = make_matrix<float>(32, 784);
    for (float& v : W0) v = (u(rng) - 0.5f) * 0.1f;
    Parameter<float> W("W", W0), b1("b1", xt::zeros<float>({1, 32})), b2("b2", xt::zeros<float>({1, 784}));
    SGD<float> sgd({&W, &b1, &b2}, /*learning rate*/ 0.1);
    Tape<float> tape;
    float first = 0, last = 0;
    for (int step = 0; step < 100; ++step) {
        tape.clear();                                                  // reuse last step's buffers
        sgd.zero_grad();
        Var<float> h = sigmoid(affine(tape.constant(X), tape.parameter(W), tape.parameter(b1)));  // X W^T + b1
        Var<float> r = affine(h, tape.parameter(W), tape.parameter(b2), Trans::N);                // h W + b2: W tied
        Var<float> loss = mse(r, X);
        tape.backward(loss);                                           // dL/dW = encoder part + decoder part
        sgd.step();
        if (step % 20 == 0) std::cout << "step " << step << "  loss " << loss.value()(0, 0) << "\n";
        (step == 0 ? first : last) = loss.value()(0, 0);
    }
    return last < first ? 0 : 1;  // the suite runs it: it must learn
}
