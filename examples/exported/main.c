/* An application that links a model compiled ahead of time by `latent export`:
   no LLVM and no compiler at run time, only the object, its header and the
   runtime kernels. Build: see README.md in this folder. Prints the log density
   and gradient at the unconstrained point given on the command line (all
   zeros when none is given). */
#include "model.h"

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char** argv) {
  double theta[MODEL_NUM_PARAMS] = {0};
  for (int i = 1; i < argc && i <= MODEL_NUM_PARAMS; ++i) theta[i - 1] = atof(argv[i]);
  double grad[MODEL_NUM_PARAMS];
  double* workspace = malloc(sizeof(double) * MODEL_WORKSPACE_SIZE);
  double lp = model_log_prob_grad(theta, grad, workspace);
  printf("log_density %.17g\n", lp);
  for (int i = 0; i < MODEL_NUM_PARAMS; ++i) printf("gradient %d %.17g\n", i, grad[i]);
  free(workspace);
  return 0;
}
