// How many threads tapegrad may use. OpenBLAS runs the matrix products; everything else is
// single-threaded today, so this is where any threads of our own will be set too.
#pragma once

namespace tg {

// Sets the number of threads of OpenBLAS (and of tapegrad). The default is 1: on the small matrices
// of the examples a second thread rarely pays for its synchronisation.
void set_num_threads(int n);
int num_threads();

}  // namespace tg
