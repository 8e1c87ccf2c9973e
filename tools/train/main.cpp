// train: trains any model of the zoo (or fits the PCA baseline) and draws what it learned.
// Errors are reported as one message and an exit code (see --help), never a stack trace.
#include "checkpoint.hpp"
#include "cli.hpp"
#include "data.hpp"
#include "stop_signal.hpp"
#include "trainer.hpp"

#include <tapegrad/blas.hpp>
#include <tapegrad/io/errors.hpp>

#include <fmt/core.h>

#include <cstdio>
#include <filesystem>

namespace {

int fail(int code, const std::string& message) {
    std::fflush(stdout);
    fmt::print(stderr, "error: {}\n", message);
    return code;
}

}  // namespace

int main(int argc, char** argv) {
    using namespace train;
    CommandLine cl;
    if (const int code = parse_command_line(argc, argv, cl); code >= 0) return code;
    try {
        nlohmann::json resume;
        if (!cl.run.resume.empty()) {
            try {
                resume = read_checkpoint(cl.run.resume);
            } catch (const tg::io::IoError& e) {
                return fail(kExitCorruptData, e.what());
            }
            TrainConfig saved;
            try {
                saved = resume.at("config").get<TrainConfig>();
            } catch (const std::exception& e) {
                throw tg::io::FormatError(cl.run.resume + "/" + kCheckpointFile + ": bad \"config\": " + e.what());
            }
            apply_resumed_config(cl, saved);
        }
        resolve_defaults(cl.config);
        if (const std::string problem = validate(cl.config); !problem.empty()) throw UsageError(problem);
        if (cl.config.model == "pca" && !cl.run.resume.empty()) throw UsageError("a pca run has nothing to resume");

        std::error_code ec;
        std::filesystem::create_directories(cl.run.out, ec);
        if (ec || !std::filesystem::is_directory(cl.run.out))
            throw UsageError("--out " + cl.run.out + ": cannot create the directory (" + ec.message() + ")");
        tg::blas::set_num_threads(cl.run.threads);

        Data data;
        try {
            data = load_data(cl.config);
        } catch (const tg::io::IoError& e) {
            return fail(kExitCorruptData, e.what());  // the file exists (checked) but cannot be read
        }
        install_stop_handlers();
        return cl.config.model == "pca" ? run_pca(cl.config, cl.run, data)
                                        : run_training(cl.config, cl.run, data, cl.run.resume.empty() ? nullptr : &resume);
    } catch (const UsageError& e) {
        return fail(kExitUsage, std::string(e.what()) + "\nrun with --help for the options");
    } catch (const tg::io::FormatError& e) {
        return fail(kExitCorruptData, e.what());
    } catch (const std::exception& e) {
        return fail(kExitFailure, e.what());
    }
}
