// train: trains any model of the registry (or fits the PCA baseline) and draws what it learned.
// A thin command line over the training library: it parses, builds the run's configuration
// (from a checkpoint when resuming), and hands model, optimizer and data to tg::train::Trainer.
// Errors are reported as one message and an exit code (see --help), never a stack trace.
#include "cli.hpp"
#include "parallel.hpp"

#include <tapegrad/blas.hpp>
#include <tapegrad/threads.hpp>
#include <tapegrad/io/errors.hpp>
#include <tapegrad/train/checkpoint.hpp>
#include <tapegrad/train/data.hpp>
#include <tapegrad/train/matrix_utils.hpp>
#include <tapegrad/train/pca_baseline.hpp>
#include <tapegrad/train/probe.hpp>
#include <tapegrad/train/stop_signal.hpp>
#include <tapegrad/train/trainer.hpp>

#include <fmt/core.h>

#include <csignal>
#include <cstdio>
#include <filesystem>

namespace {

using namespace train_tool;
namespace tt = tg::train;

// Under mpirun an error ends the whole job (MPI_Abort): a rank that returned alone would leave
// the others waiting in a collective.
int fail(Processes& processes, int code, const std::string& message) {
    std::fflush(stdout);
    if (!processes.parallel()) {
        fmt::print(stderr, "error: {}\n", message);
        return code;
    }
    fmt::print(stderr, "error: rank {}: {}\n", processes.world().rank(), message);
    processes.world().abort(code);
    return code;  // not reached: abort ends the job
}

int exit_code(const tt::TrainResult& r) {
    switch (r.status) {
        case tt::TrainResult::Status::completed: return kExitOk;
        case tt::TrainResult::Status::stopped: return 128 + r.signal;
        case tt::TrainResult::Status::diverged: return kExitDiverged;
    }
    return kExitFailure;
}

tt::ProbeOptions probe_options(const RunOptions& run) {
    tt::ProbeOptions o;
    o.epochs = run.probe_epochs;
    return o;
}

template <class T>
int train_as(Processes& processes, const tt::RunConfig& config, const RunOptions& run, tt::Data& data,
             const nlohmann::json* resume) {
    check_ranks_agree(processes.world(), config, data);
    const tg::Matrix<T> train = tt::take_as<T>(std::move(data.train)), test = tt::take_as<T>(std::move(data.test));
    auto model = tt::make_model<T>(config.model_kind(), config.model_options, train.shape()[1], config.training.seed("seed"));
    auto optimizer = tt::make_optimizer<T>(config.optimizer_kind(), config.optimizer_options, model->parameters());
    tt::TrainerOptions o = tt::trainer_options(config);
    o.out = run.out;
    o.checkpoint_every = run.checkpoint_every;
    o.anomaly = run.anomaly;
    o.progress = tt::parse_progress_mode(run.progress);
    o.pictures = run.pictures;
    o.image_rows = data.image_rows;
    o.image_cols = data.image_cols;
    if (run.stop_after_steps > 0)  // testing stop and resume: a signal mid-epoch, as from outside
        o.after_step = [n = run.stop_after_steps](std::size_t steps) { if (steps == n) std::raise(SIGINT); };
    o.command_line = run.command_line;
    o.communicator = &processes.world();
    tt::Trainer<T> trainer(*model, *optimizer, train, test, o);
    if (resume) trainer.restore(*resume, run.resume);
    const tt::TrainResult result = trainer.fit();
    if (!processes.leader()) return exit_code(result);  // rank 0 reports, probes and writes
    if (result.status == tt::TrainResult::Status::stopped) fmt::print("resume with: train --resume {}\n", run.out);
    if (result.status == tt::TrainResult::Status::diverged)
        fmt::print(stderr, "try a smaller --lr or --clip-grad-norm{}\n",
                   run.anomaly ? "" : "; --anomaly names the first op that produces NaN or Inf");
    if (result.status == tt::TrainResult::Status::completed && (run.probe || run.export_codes)) {
        const tg::Matrix<T> train_codes = tt::codes_of(*model, train), test_codes = tt::codes_of(*model, test);
        if (run.export_codes) {
            const tg::Matrix<T> reconstructions = tt::reconstructions_of(*model, test);
            tt::export_codes(run.out, train_codes, test_codes, &reconstructions);
        }
        if (run.probe) tt::probe_and_report(train_codes, test_codes, data, "the model's code", run.out, probe_options(run));
    }
    return exit_code(result);
}

template <class T>
int pca_as(const tt::RunConfig& config, const RunOptions& run, tt::Data& data) {
    tt::PcaBaselineOptions o;
    o.code = config.model_options.integer("code");
    o.method = config.model_options.text("pca_method") == "svd" ? tg::PcaMethod::svd : tg::PcaMethod::covariance_eigh;
    o.out = run.out;
    o.pictures = run.pictures;
    o.config = tt::to_json(config);
    o.command_line = run.command_line;
    o.probe = run.probe;
    o.probe_options = probe_options(run);
    o.export_codes = run.export_codes;
    return exit_code(tt::run_pca_baseline<T>(data, o));
}

}  // namespace

int main(int argc, char** argv) {
    Processes processes(argc, argv);  // MPI's world under mpirun, else this process alone
    CommandLine cl;
    if (const int code = parse_command_line(argc, argv, cl); code >= 0) {
        // The message is printed; under mpirun the other ranks must not wait for this one.
        if (code != kExitOk && processes.parallel()) processes.world().abort(code);
        return code;
    }
    try {
        nlohmann::json resume;
        tt::RunConfig config;
        if (!cl.run.resume.empty()) {
            try {
                resume = tt::read_checkpoint(cl.run.resume);
            } catch (const tg::io::IoError& e) {
                return fail(processes, kExitCorruptData, e.what());
            }
            const tt::RunConfig saved = tt::config_from_checkpoint(resume, cl.run.resume);
            if (!saved.model_kind().trainable()) throw tt::UsageError("a " + saved.model + " run has nothing to resume");
            config = make_config(cl, &saved);
        } else {
            config = make_config(cl, nullptr);
        }

        std::error_code ec;
        std::filesystem::create_directories(cl.run.out, ec);
        if (ec || !std::filesystem::is_directory(cl.run.out))
            throw tt::UsageError("--out " + cl.run.out + ": cannot create the directory (" + ec.message() + ")");
        tg::set_num_threads(cl.run.threads);

        const tt::DataSource source = tt::data_source(config);
        tt::Data data;
        try {
            data = tt::load_data(source);
        } catch (const tg::io::IoError& e) {
            return fail(processes, kExitCorruptData, e.what());  // the file exists (checked) but cannot be read
        }
        tt::install_stop_handlers();
        const bool float64 = config.float64();
        if (processes.leader())
            for (const std::string& note : data.notes) fmt::print("note       {}\n", note);
        if (cl.run.probe && data.classes == 0)  // say so before training, not after
            throw tt::UsageError("--probe needs class labels: Fashion-MNIST has them; with --train-npy, give "
                                 "--train-labels-npy and --test-labels-npy");
        // The closed-form and probe-only kinds train nothing in parallel: rank 0 does them.
        if (processes.parallel() && !processes.leader() && (config.model == "pixels" || !config.model_kind().trainable()))
            return kExitOk;
        if (config.model == "pixels") {  // the probe's baseline: the raw input is the code
            if (!cl.run.probe) throw tt::UsageError("--model pixels has nothing to train; it serves --probe");
            tt::probe_and_report(data.train, data.test, data, "raw pixels", cl.run.out, probe_options(cl.run));
            return kExitOk;
        }
        if (!config.model_kind().trainable())
            return float64 ? pca_as<double>(config, cl.run, data) : pca_as<float>(config, cl.run, data);
        const nlohmann::json* from = cl.run.resume.empty() ? nullptr : &resume;
        return float64 ? train_as<double>(processes, config, cl.run, data, from)
                       : train_as<float>(processes, config, cl.run, data, from);
    } catch (const tt::UsageError& e) {
        return fail(processes, kExitUsage, tt::with_flags(e.what()) + "\nrun with --help for the options");
    } catch (const tg::io::FormatError& e) {
        return fail(processes, kExitCorruptData, e.what());
    } catch (const nlohmann::json::exception& e) {
        return fail(processes, kExitCorruptData, cl.run.resume + ": " + e.what());
    } catch (const std::exception& e) {
        return fail(processes, kExitFailure, e.what());
    }
}
