// The README's inference example: a trained run loaded with one call (no optimizer, no training
// state), its codes for new data written as .npy for numpy or PyTorch. Run by the test suite,
// which compares its output with the codes `train --export-codes` wrote for the same rows.
//   encode_example RUN_DIR INPUT.npy CODES.npy
#include <tapegrad/io/npy.hpp>
#include <tapegrad/train/probe.hpp>
#include <tapegrad/train/trained_model.hpp>

#include <exception>
#include <iostream>

int main(int argc, char** argv) {
    if (argc != 4) {
        std::cerr << "usage: encode_example RUN_DIR INPUT.npy CODES.npy\n";
        return 2;
    }
    try {
        const tg::Matrix<float> x = tg::io::load_npy_as<float>(argv[2]);  // float32 or float64, C or Fortran order
        tg::train::TrainedModel<float> run = tg::train::load_trained_model<float>(argv[1], x.shape()[1]);
        const tg::Matrix<float> codes = tg::train::codes_of(*run.model, x);
        tg::io::save_npy(argv[3], codes);  // atomically
        std::cout << run.model->describe() << ": " << codes.shape()[0] << " codes of " << codes.shape()[1] << " -> "
                  << argv[3] << "\n";
        return 0;
    } catch (const std::exception& e) {  // a missing run, a malformed file, a width that does not fit
        std::cerr << "error: " << e.what() << "\n";
        return 1;
    }
}
