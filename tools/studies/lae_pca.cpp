// lae_pca: a linear autoencoder with the "sum" L2 penalty learns the principal directions
// (Kunin et al. 2019): trains it with the framework, takes the SVD of its D x k decoder and
// compares with PCA from LAPACK on the full data (principal angles, |cosine| per direction,
// decoder singular values against the closed form), the same without the penalty, and the
// time of each route. Data: a synthetic set with a chosen spectrum, and Fashion-MNIST.
#include <tapegrad/studies/lae.hpp>

#include <tapegrad/io/idx.hpp>
#include <tapegrad/io/png.hpp>

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <filesystem>

namespace {
using namespace tg;
using Clock = std::chrono::steady_clock;

double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// The first k components of a fit (components are sorted, so this is the rank-k PCA).
Pca truncated(const Pca& p, std::size_t k) {
    Pca out = p;
    out.components = make_matrix<double>(k, p.components.shape()[1]);
    std::copy(p.components.data(), p.components.data() + out.components.size(), out.components.data());
    out.singular_values.resize(k);
    out.explained_variance.resize(k);
    return out;
}

struct Settings {
    studies::LaeTrainOptions train;
    double lambda_rel = 0.5;  // lambda D / mu_k: the weakest kept direction gets sigma_k = sqrt(1 - this)
    std::size_t tiles = 16;
    std::string out_dir;
    bool per_direction = false;
};

struct Milestones {
    double cos99 = NAN, cos999 = NAN, angle1 = NAN;  // training seconds when first reached
};

Matrix<float> upscale(const Matrix<float>& m, std::size_t f) {
    Matrix<float> out = make_matrix<float>(m.shape()[0] * f, m.shape()[1] * f);
    for (std::size_t i = 0; i < out.shape()[0]; ++i)
        for (std::size_t j = 0; j < out.shape()[1]; ++j) out(i, j) = m(i / f, j / f);
    return out;
}

// Rows: PCA, regularized LAE, unregularized LAE; the first `count` directions of each.
void draw_tiles(const std::string& path, const Pca& pca, const studies::Comparison& reg,
                const studies::Comparison& unreg, std::size_t count) {
    const std::size_t D = pca.components.shape()[1];
    Matrix<float> rows = make_matrix<float>(3 * count, D);
    for (std::size_t i = 0; i < count; ++i)
        for (std::size_t d = 0; d < D; ++d) {
            rows(i, d) = float(pca.components(i, d));
            rows(count + i, d) = float(reg.directions(i, d));
            rows(2 * count + i, d) = float(unreg.directions(i, d));
        }
    io::write_png_gray(path, upscale(io::tile_grid(rows, 28, 28, count, true, 2, 1.0f), 3));
}

void study(const std::string& name, const Matrix<double>& X, const std::vector<std::size_t>& ks, const Settings& s,
           bool timing) {
    const std::size_t N = X.shape()[0], D = X.shape()[1];
    const std::size_t kmax = *std::max_element(ks.begin(), ks.end());
    fmt::print("\n=== {}: N = {}, D = {} ===\n", name, N, D);
    auto t = Clock::now();
    const Pca full = fit_pca(X, kmax, PcaMethod::svd);
    const double svd_seconds = since(t);
    const Matrix<float> Xf = studies::cast<float>(X);

    struct Row { std::size_t k; double eigh_s, eigh_angle, lae_s, svd_small_s; studies::Comparison reg, unreg; Milestones m; };
    std::vector<Row> rows;
    for (std::size_t k : ks) {
        const Pca pca = truncated(full, k);
        Row row{k, NAN, NAN, 0, 0, {}, {}, {}};
        if (timing) {
            t = Clock::now();
            const Pca eig = fit_pca(X, k, PcaMethod::covariance_eigh);
            row.eigh_s = since(t);
            Matrix<float> c = make_matrix<float>(D, k);  // eigh's components as a "decoder"
            for (std::size_t i = 0; i < k; ++i)
                for (std::size_t d = 0; d < D; ++d) c(d, i) = float(eig.components(i, d));
            row.eigh_angle = studies::compare_decoder(c, pca, 0.0).max_angle_deg;
        }
        const double mu_k = pca.singular_values[k - 1] * pca.singular_values[k - 1] / double(N);
        const double lambda = s.lambda_rel * mu_k / double(D);
        fmt::print("\n-- k = {}: lambda = {:.4g} (lambda D / mu_k = {}), Adam lr {} -> {}, {} steps, batch {} --\n", k,
                   lambda, s.lambda_rel, s.train.lr, s.train.lr_final, s.train.steps,
                   s.train.batch ? std::to_string(s.train.batch) : "full");
        fmt::print("{:>7} {:>9} {:>11} {:>10} {:>12} {:>12}\n", "step", "train s", "max angle", "min |cos|",
                   "median |cos|", "max |dsigma|");
        models::LinearAutoencoder<float> lae({.input = D, .code = k, .lambda = lambda, .seed = 1});
        row.lae_s = studies::train_lae(lae, Xf, s.train, [&](long step, double sec) {
            const studies::Comparison c = studies::compare_decoder(lae.W2.value, pca, lambda);
            fmt::print("{:>7} {:>9.2f} {:>10.3g}° {:>10.6f} {:>12.6f} {:>12.2e}\n", step, sec, c.max_angle_deg,
                       c.min_abs_cos, c.median_abs_cos, c.max_sigma_error);
            std::fflush(stdout);
            if (std::isnan(row.m.cos99) && c.min_abs_cos >= 0.99) row.m.cos99 = sec;
            if (std::isnan(row.m.cos999) && c.min_abs_cos >= 0.999) row.m.cos999 = sec;
            if (std::isnan(row.m.angle1) && c.max_angle_deg <= 1.0) row.m.angle1 = sec;
        });
        t = Clock::now();
        row.reg = studies::compare_decoder(lae.W2.value, pca, lambda);  // the decoder's SVD is in here
        row.svd_small_s = since(t);

        models::LinearAutoencoder<float> plain({.input = D, .code = k, .lambda = 0.0, .seed = 1});
        studies::train_lae(plain, Xf, s.train);
        row.unreg = studies::compare_decoder(plain.W2.value, pca, 0.0);

        if (s.per_direction || k <= 8) {
            fmt::print("\n{:>4} {:>11} {:>14} {:>10} {:>12} {:>16}\n", "i", "s_i", "|cos| (sum L2)", "sigma_i",
                       "closed form", "|cos| (no L2)");
            for (std::size_t i = 0; i < k; ++i)
                fmt::print("{:>4} {:>11.4g} {:>14.6f} {:>10.6f} {:>12.6f} {:>16.6f}\n", i + 1, pca.singular_values[i],
                           row.reg.abs_cos[i], row.reg.sigma[i], row.reg.sigma_expected[i], row.unreg.abs_cos[i]);
        }
        if (!s.out_dir.empty() && D == 784) {
            std::filesystem::create_directories(s.out_dir);
            const std::string png = fmt::format("{}/lae_{}_k{}.png", s.out_dir, name, k);
            draw_tiles(png, pca, row.reg, row.unreg, std::min(k, s.tiles));
            fmt::print("tiles (rows: PCA, LAE with sum L2, LAE without): {}\n", png);
        }
        rows.push_back(std::move(row));
    }

    fmt::print("\n{} summary: subspace and directions after training (against PCA by SVD)\n", name);
    fmt::print("{:>4} {:>14} {:>16} {:>16} {:>14} {:>16} {:>16}\n", "k", "L2: max angle", "L2: min |cos|",
               "L2: max |dsigma|", "no L2: angle", "no L2: min |cos|", "no L2: med |cos|");
    for (const Row& r : rows)
        fmt::print("{:>4} {:>13.3g}° {:>16.6f} {:>16.2e} {:>13.3g}° {:>16.6f} {:>16.6f}\n", r.k, r.reg.max_angle_deg,
                   r.reg.min_abs_cos, r.reg.max_sigma_error, r.unreg.max_angle_deg, r.unreg.min_abs_cos,
                   r.unreg.median_abs_cos);
    if (!timing) return;
    fmt::print("\n{} timing (seconds, {} BLAS thread(s)); LAE = training + SVD of the D x k decoder\n", name,
               blas::num_threads());
    fmt::print("{:>4} {:>10} {:>12} {:>12} {:>14} {:>14} {:>13} {:>10}\n", "k", "full SVD", "cov. eigh", "eigh angle",
               "LAE (all)", "LAE |cos|.99", "LAE |cos|.999", "LAE <1°");
    for (const Row& r : rows)
        fmt::print("{:>4} {:>10.2f} {:>12.2f} {:>11.1e}° {:>14.2f} {:>14.2f} {:>13.2f} {:>10.2f}\n", r.k, svd_seconds,
                   r.eigh_s, r.eigh_angle, r.lae_s + r.svd_small_s, r.m.cos99, r.m.cos999, r.m.angle1);
}
}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"A regularized linear autoencoder recovers the principal directions: LAE + decoder SVD vs LAPACK PCA."};
    std::string data = "all";
    std::vector<std::size_t> ks_fashion{8, 32, 64}, ks_synthetic{8};
    std::size_t syn_n = 10000, syn_d = 64, fashion_n = 60000;
    double syn_ratio = 0.8;
    int threads = 1;
    long syn_steps = 1500;
    Settings s;
    // Minibatch Adam: 20,000 updates of 256 rows (85 epochs). Full-batch steps cost 235x more
    // each and made far less progress per second in our runs (docs/studies.md).
    s.train.steps = 20000;
    s.train.batch = 256;
    s.train.lr = 3e-3;
    s.train.lr_final = 1e-5;
    s.train.eval_every = 1000;
    s.out_dir = "lae_pca_out";
    app.add_option("--data", data, "which data set(s)")
        ->check(CLI::IsMember({"synthetic", "fashion", "all"}))
        ->capture_default_str();
    app.add_option("--k", ks_fashion, "code sizes for Fashion-MNIST")->capture_default_str();
    app.add_option("--k-synthetic", ks_synthetic, "code sizes for the synthetic set")->capture_default_str();
    app.add_option("--steps", s.train.steps, "Adam updates on Fashion-MNIST")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    app.add_option("--steps-synthetic", syn_steps, "Adam updates on the synthetic set")
        ->check(CLI::Range(6L, 100000000L))
        ->capture_default_str();
    app.add_option("--batch", s.train.batch, "rows per update (0: full batch)")->capture_default_str();
    app.add_option("--lr", s.train.lr, "initial Adam learning rate")->capture_default_str();
    app.add_option("--lr-final", s.train.lr_final, "learning rate at the last step (geometric decay)")
        ->capture_default_str();
    app.add_option("--lambda-rel", s.lambda_rel, "lambda D / mu_k, in (0, 1)")
        ->check(CLI::Range(0.0, 1.0))
        ->capture_default_str();
    app.add_option("--eval-every", s.train.eval_every, "evaluate the decoder every this many steps")
        ->capture_default_str();
    app.add_option("--samples", fashion_n, "Fashion-MNIST training images to use")->capture_default_str();
    app.add_option("--synthetic-n", syn_n, "synthetic samples")->capture_default_str();
    app.add_option("--synthetic-d", syn_d, "synthetic dimension")->capture_default_str();
    app.add_option("--synthetic-ratio", syn_ratio, "synthetic variances ratio^i")->capture_default_str();
    app.add_option("--tiles", s.tiles, "directions drawn per row")->capture_default_str();
    app.add_option("--threads", threads, "worker threads for training (tg::set_num_threads; OpenBLAS and its LAPACK stay on one thread)")->capture_default_str();
    app.add_option("--out", s.out_dir, "directory for the tile pictures (empty: none)")->capture_default_str();
    app.add_flag("--per-direction", s.per_direction, "print the per-direction table for every k");
    CLI11_PARSE(app, argc, argv);
    blas::set_num_threads(threads);

    try {
        if (data == "synthetic" || data == "all") {
            Settings syn = s;
            syn.train.steps = syn_steps;
            syn.train.batch = 0;  // small enough for full-batch steps
            syn.train.lr = 1e-2;
            syn.train.lr_final = 1e-4;
            syn.train.eval_every = syn_steps / 6;
            study("synthetic", studies::synthetic_data(syn_n, syn_d, syn_ratio, 7), ks_synthetic, syn, false);
        }
        if (data == "fashion" || data == "all") {
            const io::Dataset d = io::load_fashion_mnist("train");
            const std::size_t n = std::min(fashion_n, d.images.shape()[0]), D = d.images.shape()[1];
            Matrix<double> X = make_matrix<double>(n, D);
            std::copy(d.images.data(), d.images.data() + n * D, X.data());
            study("fashion", studies::centre(X), ks_fashion, s, true);
        }
    } catch (const std::exception& e) {  // bad k for the data, missing data set, LAPACK failure
        fmt::print(stderr, "lae_pca: {}\n", e.what());
        return 1;
    }
}
