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
// Fills invNorm[r] = 1/‖row r‖ (accumulated in double); Range error for a zero
// (or non-finite) row. Doubles as the finite check for cosine inputs.
Status inverseRowNorms(const ConstMatrix& m, const char* name, float* invNorm);

}  // namespace jobbert
