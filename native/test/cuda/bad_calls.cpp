// test_cuda: bad calls of every entry point (non-finite values, zero rows under
// cosine, shapes, k, null buffers, scale) and the status code each must return.
#include "cuda_harness.h"

namespace jobbert::cudatest {
namespace {

// ---------------------------------------------------------------- bad calls

void badCallChecks(std::mt19937_64& rng) {
  Group g("bad calls (status codes)");
  // topK
  {
    const int64_t q = 20, n = cu::kMaxTopK + 10, d = 33;
    const std::vector<float> qs = randomFloats(rng, q * d), cs = randomFloats(rng, n * d);
    auto topk = [&](const std::vector<float>& qv, const std::vector<float>& cv, int64_t qRows, int64_t nRows,
                    int64_t cCols, int64_t k, Metric metric, bool nullIdx = false, bool nullScores = false) {
      std::vector<int32_t> idx(std::max<int64_t>(qRows * k, 1));
      std::vector<float> sc(std::max<int64_t>(qRows * k, 1));
      cu::TopKParams p;
      p.queries = H(qv, qRows, d), p.corpus = H(cv, nRows, cCols);
      p.k = k, p.metric = metric;
      p.indices = nullIdx ? nullptr : idx.data(), p.scores = nullScores ? nullptr : sc.data();
      return cu::topK(p);
    };
    for (Metric metric : {Metric::kCosine, Metric::kDot}) {
      const std::string m = std::string("topK ") + metricName(metric) + " ";
      std::vector<float> bad = qs;
      bad[5 * d + 2] = kNaN;
      expectCode(g, m + "NaN in queries", topk(bad, cs, q, n, d, 5, metric), StatusCode::kRangeError, "queries");
      bad = qs, bad[19 * d + 32] = -kInf;
      expectCode(g, m + "-Infinity in queries", topk(bad, cs, q, n, d, 5, metric), StatusCode::kRangeError, "queries");
      bad = cs, bad[(n - 3) * d + 1] = kInf;
      expectCode(g, m + "Infinity in corpus", topk(qs, bad, q, n, d, 5, metric), StatusCode::kRangeError, "corpus");
      bad = cs, bad[3] = kNaN;
      expectCode(g, m + "NaN in corpus", topk(qs, bad, q, n, d, 5, metric), StatusCode::kRangeError, "corpus");
      expectCode(g, m + "corpus columns != queries columns", topk(qs, cs, q, n - 100, d - 1, 5, metric),
                 StatusCode::kRangeError, "corpus");
      expectCode(g, m + "no queries", topk(qs, cs, 0, n, d, 5, metric), StatusCode::kRangeError, "queries");
      expectCode(g, m + "k = 0", topk(qs, cs, q, n, d, 0, metric), StatusCode::kRangeError, "k");
      expectCode(g, m + "k > N", topk(qs, cs, q, 100, d, 101, metric), StatusCode::kRangeError, "k");
      expectCode(g, m + "k > kMaxTopK", topk(qs, cs, q, n, d, cu::kMaxTopK + 1, metric), StatusCode::kRangeError, "k");
      expectCode(g, m + "k < 0", topk(qs, cs, q, n, d, -3, metric), StatusCode::kRangeError, "k");
      expectCode(g, m + "null indices", topk(qs, cs, q, n, d, 5, metric, true, false), StatusCode::kTypeError);
      expectCode(g, m + "null scores", topk(qs, cs, q, n, d, 5, metric, false, true), StatusCode::kTypeError);
      std::vector<float> zc = cs, zq = qs;
      std::fill(zc.begin() + 100 * d, zc.begin() + 101 * d, 0.0f);
      std::fill(zq.begin(), zq.begin() + d, 0.0f);
      if (metric == Metric::kCosine) {
        expectCode(g, m + "zero corpus row", topk(qs, zc, q, n, d, 5, metric), StatusCode::kRangeError, "corpus");
        expectCode(g, m + "zero query", topk(zq, cs, q, n, d, 5, metric), StatusCode::kRangeError, "queries");
        std::shared_ptr<cu::DeviceMatrix> dz;
        if (g.ok(cu::DeviceMatrix::upload({zc.data(), n, d}, "corpus", &dz), "upload with a zero row (allowed)")) {
          TopKOut out;
          expectCode(g, m + "resident corpus with a zero row",
                     runTopK(H(qs, q, d), D(dz), 5, metric, Precision::kFp32, out), StatusCode::kRangeError);
        }
      } else {
        TopKOut out;
        g.ok(runTopK(H(zq, q, d), H(zc, n, d), 5, metric, Precision::kFp32, out), m + "zero vectors under dot");
      }
    }
    // Host operand with rows but no data.
    TopKOut out;
    cu::Operand none;
    none.host = {nullptr, q, d};
    expectCode(g, "topK queries without data", runTopK(none, H(cs, n, d), 5, Metric::kDot, Precision::kFp32, out),
               StatusCode::kTypeError, "queries");
  }
  // dense
  {
    const int64_t m = 3, in = 5, out = 4;
    const std::vector<float> x = randomFloats(rng, m * in), w = randomFloats(rng, out * in), b = randomFloats(rng, out);
    const std::vector<float> y = randomFloats(rng, m * out, -0.9f, 0.9f), gy = randomFloats(rng, m * out);
    std::vector<float> yo(m * out);
    auto fwd = [&](const std::vector<float>& xv, const std::vector<float>& wv, const float* bias, int64_t xRows,
                   int64_t wCols, float* yp) {
      cu::DenseParams p;
      p.x = H(xv, xRows, in), p.weight = H(wv, out, wCols), p.bias = bias, p.activation = Activation::kTanh;
      p.y = yp;
      return cu::denseForward(p);
    };
    g.ok(fwd(x, w, b.data(), m, in, yo.data()), "dense clean call");
    std::vector<float> bad = x;
    bad[m * in - 1] = kNaN;
    expectCode(g, "dense NaN in x", fwd(bad, w, b.data(), m, in, yo.data()), StatusCode::kRangeError, "x");
    bad = w, bad[0] = kInf;
    expectCode(g, "dense Infinity in weight", fwd(x, bad, b.data(), m, in, yo.data()), StatusCode::kRangeError,
               "weight");
    bad = b, bad[out - 1] = -kInf;
    expectCode(g, "dense -Infinity in bias", fwd(x, w, bad.data(), m, in, yo.data()), StatusCode::kRangeError, "bias");
    expectCode(g, "dense weight columns != x columns", fwd(x, w, b.data(), m, in - 1, yo.data()),
               StatusCode::kRangeError, "weight");
    expectCode(g, "dense no rows", fwd(x, w, b.data(), 0, in, yo.data()), StatusCode::kRangeError, "x");
    expectCode(g, "dense null y", fwd(x, w, b.data(), m, in, nullptr), StatusCode::kTypeError);

    DenseGrads gr;
    auto bwd = [&](const std::vector<float>& gyv, int64_t gyCols, bool nullGradX) {
      gr.gx.assign(m * in, 0.0f), gr.gw.assign(out * in, 0.0f), gr.gb.assign(out, 0.0f);
      cu::DenseBackwardParams p;
      p.x = H(x, m, in), p.weight = H(w, out, in), p.y = H(y, m, out), p.gradY = H(gyv, m, gyCols);
      p.activation = Activation::kTanh;
      p.gradX = nullGradX ? nullptr : gr.gx.data(), p.gradWeight = gr.gw.data(), p.gradBias = gr.gb.data();
      return cu::denseBackward(p);
    };
    g.ok(bwd(gy, out, false), "denseBackward clean call");
    expectCode(g, "denseBackward gradY shape", bwd(gy, out - 1, false), StatusCode::kRangeError, "gradY");
    bad = gy, bad[2] = kNaN;
    expectCode(g, "denseBackward NaN in gradY", bwd(bad, out, false), StatusCode::kRangeError, "gradY");
    expectCode(g, "denseBackward null gradX", bwd(gy, out, true), StatusCode::kTypeError);
  }
  // infoNCE
  {
    const int64_t B = 9, N = 4, d = 20;
    const std::vector<float> a = randomLengthRows(rng, B, d), pos = randomLengthRows(rng, B, d),
                             neg = randomLengthRows(rng, N, d);
    NceOut o;
    auto call = [&](const std::function<void(cu::InfoNCEParams&)>& edit) {
      o.ga.assign(B * d, 0.0f), o.gp.assign(B * d, 0.0f), o.gn.assign(N * d, 0.0f);
      cu::InfoNCEParams p;
      p.anchors = H(a, B, d), p.positives = H(pos, B, d), p.negatives = H(neg, N, d);
      p.loss = &o.loss, p.gradAnchors = o.ga.data(), p.gradPositives = o.gp.data(), p.gradNegatives = o.gn.data();
      edit(p);
      return cu::infoNCE(p);
    };
    g.ok(call([](cu::InfoNCEParams&) {}), "infoNCE clean call");
    const char* names[] = {"anchors", "positives", "negatives"};
    const std::vector<float>* inputs[] = {&a, &pos, &neg};
    for (int which = 0; which < 3; ++which)
      for (float v : {kNaN, kInf, 0.0f}) {
        std::vector<float> bad = *inputs[which];
        const int64_t row = (which == 2 ? N : B) / 2;
        if (v == 0.0f) std::fill(bad.begin() + row * d, bad.begin() + (row + 1) * d, 0.0f);
        else bad[row * d + 7] = v;
        const Status s = call([&](cu::InfoNCEParams& p) {
          cu::Operand* ops[] = {&p.anchors, &p.positives, &p.negatives};
          ops[which]->host.data = bad.data();
        });
        expectCode(g, std::string("infoNCE ") + names[which] + (v == 0.0f ? " zero row" : " non-finite"), s,
                   StatusCode::kRangeError, names[which]);
      }
    expectCode(g, "infoNCE positives rows", call([&](cu::InfoNCEParams& p) { p.positives.host.rows = B - 1; }),
               StatusCode::kRangeError, "positives");
    expectCode(g, "infoNCE negatives columns", call([&](cu::InfoNCEParams& p) {
                 p.negatives.host = {neg.data(), N * 2, d / 2};
               }),
               StatusCode::kRangeError, "negatives");
    for (float scale : {0.0f, -1.0f, kNaN, kInf})
      expectCode(g, fmt("infoNCE scale %g", scale), call([&](cu::InfoNCEParams& p) { p.scale = scale; }),
                 StatusCode::kRangeError, "scale");
    expectCode(g, "infoNCE null loss", call([](cu::InfoNCEParams& p) { p.loss = nullptr; }), StatusCode::kTypeError,
               "loss");
    expectCode(g, "infoNCE null gradAnchors", call([](cu::InfoNCEParams& p) { p.gradAnchors = nullptr; }),
               StatusCode::kTypeError, "gradAnchors");
    expectCode(g, "infoNCE null gradNegatives", call([](cu::InfoNCEParams& p) { p.gradNegatives = nullptr; }),
               StatusCode::kTypeError, "gradNegatives");
    const Status s = call([](cu::InfoNCEParams& p) {
      p.negatives = cu::Operand{};
      p.gradNegatives = nullptr;
    });
    g.expect(s.ok() && std::isfinite(o.loss), "infoNCE without negatives, null buffers: " + describe(s));
  }
  // DeviceMatrix::upload
  {
    const int64_t r = 6, c = 5;
    std::vector<float> v = randomFloats(rng, r * c);
    for (float bad : {kNaN, kInf, -kInf}) {
      std::vector<float> b = v;
      b[4 * c + 2] = bad;
      std::shared_ptr<cu::DeviceMatrix> m;
      Status s = cu::DeviceMatrix::upload({b.data(), r, c}, "myMatrix", &m);
      expectCode(g, fmt("upload with %g", bad), s, StatusCode::kRangeError, "myMatrix");
      g.expect(!m, "a failed upload leaves no matrix");
    }
  }
  g.done();
}

}  // namespace

JOBBERT_CUDA_CHECK(10, badCallChecks);

}  // namespace jobbert::cudatest
