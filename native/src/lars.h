// The LARS trust-ratio step of qy_lars_step (quarry.h), shared by cpu/lars.cpp and cuda/lars.cu so that both turn
// the same float64 sums of squares into the same float32 step size.
#ifndef QUARRY_LARS_H
#define QUARRY_LARS_H

#include <cmath>

#include "philox.h"  // QY_HD

namespace qy {

// lr * trust from ||param||^2 and ||grad||^2: trust = eta ||w|| / (||g|| + wd ||w||), 1 when either norm is 0.
QY_HD float lars_scale(double ww, double gg, float lr, float weight_decay, float eta) {
    const double wn = sqrt(ww), gn = sqrt(gg);
    const double trust = wn > 0.0 && gn > 0.0 ? (double)eta * wn / (gn + (double)weight_decay * wn) : 1.0;
    return (float)((double)lr * trust);
}

}  // namespace qy

#endif
