// Argument checks shared by the CPU kernels. They run inside the native pass
// (in parallel, on the pool) so callers never need a separate scan in JS.
#pragma once

#include <cstdint>
#include <string>

#include "jobbert/kernels.h"

namespace jobbert {

// Range error unless m has data, rows >= minRows, cols >= 1 and both are sane.
Status checkShape(const ConstMatrix& m, const char* name, int64_t minRows = 1);
// Range error naming the first non-finite element (row, column) of m.
Status checkFinite(const ConstMatrix& m, const char* name);
// Range error for a non-finite element of a plain vector.
Status checkFiniteVector(const float* v, int64_t n, const char* name);
// Σx² below which a row counts as zero under cosine: a norm under 1e-15 is too
// small to score in float32 (the products of two such rows' elements fall to
// subnormals or zero, so a cosine of 0.13 scored 0; under 1e-30 1/‖x‖ overflows
// and it scored NaN or Infinity).
constexpr double kMinSquaredNorm = 1e-30;
// What a row under kMinSquaredNorm is called in errors.
constexpr const char* kZeroVector =
    " is a zero vector (or its norm is below 1e-15); cosine similarity is undefined for it";

// Fills invNorm[r] = 1/‖row r‖ (accumulated in double); Range error for a zero
// (or non-finite) row, or one under kMinSquaredNorm. Doubles as the finite
// check for cosine inputs.
Status inverseRowNorms(const ConstMatrix& m, const char* name, float* invNorm);

}  // namespace jobbert
